import FlowChannels
import FlowTestSupport
import Testing

@Suite("Channel basics", .timeLimit(.minutes(1)))
struct ChannelTests {
    @Test func smoke() async throws {
        let channel = try Channel<Int>(capacity: 4)
        for i in 0..<4 { try await channel.send(i) }
        #expect(channel.stats.depth == 4)
        for i in 0..<4 { #expect(await channel.receive() == i) }
        #expect(channel.tryReceive() == nil)
        let stats = channel.stats
        #expect(stats.capacity == 4 && stats.sent == 4 && stats.received == 4 && stats.dropped == 0)
        #expect(stats.depth == 0 && stats.suspendedSenders == 0 && stats.suspendedReceivers == 0)
        #expect(stats.producers == 0 && !stats.isClosed)
    }

    @Test func negativeCapacityThrowsANamedError() {
        #expect(throws: FlowError.invalid("capacity", -1, "must be at least 0 (0 makes a rendezvous channel)")) {
            _ = try Channel<Int>(capacity: -1)
        }
    }

    @Test func trySendReportsFullAndClosed() throws {
        let channel = try Channel<String>(capacity: 1)
        guard case .sent = channel.trySend("a") else { Issue.record("first trySend should succeed"); return }
        guard case .full(let back) = channel.trySend("b") else { Issue.record("expected full"); return }
        #expect(back == "b")
        channel.close()
        guard case .closed(let back2) = channel.trySend("c") else { Issue.record("expected closed"); return }
        #expect(back2 == "c")
        #expect(channel.tryReceive() == "a")
        #expect(channel.tryReceive() == nil)
        #expect(statsViolation(channel.stats) == nil)
    }

    @Test func closeDrainsBufferThenEnds() async throws {
        let channel = try Channel<Int>(capacity: 8)
        for i in 0..<5 { try await channel.send(i) }
        #expect(channel.close())
        #expect(!channel.close())
        do {
            try await channel.send(99)
            Issue.record("send after close should throw")
        } catch {
            #expect(error.reason == .closed)
            #expect(error.element == 99)
        }
        var got: [Int] = []
        for await x in channel { got.append(x) }
        #expect(got == [0, 1, 2, 3, 4])
        #expect(await channel.receive() == nil)
    }

    @Test func rendezvousSenderWaitsForReceiver() async throws {
        try await withTimeLimit(.seconds(20)) {
            let channel = try Channel<Int>(capacity: 0)
            let done = Gate()
            let sender = Task {
                try await channel.send(7)
                done.open()
            }
            #expect(await eventually { channel.stats.suspendedSenders == 1 })
            #expect(!done.isOpen)
            #expect(channel.stats.depth == 0)
            #expect(await channel.receive() == 7)
            try await sender.value
            #expect(done.isOpen)
            #expect(channel.stats.sent == 1 && channel.stats.received == 1)
        }
    }

    @Test func rendezvousTrySendNeedsAWaitingReceiver() async throws {
        try await withTimeLimit(.seconds(20)) {
            let channel = try Channel<Int>(capacity: 0)
            guard case .full(1) = channel.trySend(1) else { Issue.record("expected full"); return }
            let receiver = Task { await channel.receive() }
            #expect(await eventually { channel.stats.suspendedReceivers == 1 })
            guard case .sent = channel.trySend(2) else { Issue.record("expected sent"); return }
            #expect(await receiver.value == 2)
        }
    }

    @Test func suspendedSendResumesWhenRoomAppears() async throws {
        try await withTimeLimit(.seconds(20)) {
            let channel = try Channel<Int>(capacity: 2)
            try await channel.send(0)
            try await channel.send(1)
            let sender = Task { try await channel.send(2) }
            #expect(await eventually { channel.stats.suspendedSenders == 1 })
            #expect(await channel.receive() == 0)
            try await sender.value
            #expect(channel.stats.depth == 2)
            #expect(await channel.receive() == 1)
            #expect(await channel.receive() == 2)
        }
    }

    @Test func dropNewestCountsDrops() async throws {
        let channel = try Channel<Int>(capacity: 2, overflow: .dropNewest)
        for i in 0..<5 { try await channel.send(i) }
        guard case .dropped = channel.trySend(5) else { Issue.record("expected dropped"); return }
        let stats = channel.stats
        #expect(stats.sent == 6 && stats.dropped == 4 && stats.depth == 2)
        #expect(channel.tryReceive() == 0)
        #expect(channel.tryReceive() == 1)
        #expect(statsViolation(channel.stats) == nil)
    }

    @Test func dropOldestKeepsTheNewest() async throws {
        let channel = try Channel<Int>(capacity: 3, overflow: .dropOldest)
        for i in 0..<10 { try await channel.send(i) }
        #expect(channel.stats.dropped == 7)
        #expect(channel.tryReceive() == 7)
        #expect(channel.tryReceive() == 8)
        #expect(channel.tryReceive() == 9)
        #expect(statsViolation(channel.stats) == nil)
    }

    @Test func dropOldestAtCapacityZeroDropsTheNewElement() async throws {
        let channel = try Channel<Int>(capacity: 0, overflow: .dropOldest)
        try await channel.send(1)
        #expect(channel.stats.dropped == 1 && channel.stats.sent == 1)
        #expect(channel.tryReceive() == nil)
    }

    @Test func failPolicyThrowsWithTheElement() async throws {
        let channel = try Channel<Int>(capacity: 1, overflow: .fail)
        try await channel.send(1)
        do {
            try await channel.send(2)
            Issue.record("expected full")
        } catch {
            #expect(error.reason == .full && error.element == 2)
        }
        #expect(channel.stats.sent == 1 && channel.stats.dropped == 0)
    }

    @Test func cancelledSenderGetsItsElementBack() async throws {
        try await withTimeLimit(.seconds(20)) {
            let channel = try Channel<Int>(capacity: 1)
            try await channel.send(1)
            let sender = Task { () -> SendError<Int>? in
                do throws(SendError<Int>) { try await channel.send(2); return nil } catch { return error }
            }
            #expect(await eventually { channel.stats.suspendedSenders == 1 })
            sender.cancel()
            let error = await sender.value
            #expect(error?.reason == .cancelled && error?.element == 2)
            #expect(channel.stats.suspendedSenders == 0)
            #expect(channel.stats.sent == 1 && channel.stats.depth == 1)
            #expect(channel.tryReceive() == 1)
            #expect(channel.tryReceive() == nil)
        }
    }

    @Test func cancelledReceiverTakesNothing() async throws {
        try await withTimeLimit(.seconds(20)) {
            let channel = try Channel<Int>(capacity: 1)
            let receiver = Task { await channel.receive() }
            #expect(await eventually { channel.stats.suspendedReceivers == 1 })
            receiver.cancel()
            #expect(await receiver.value == nil)
            #expect(channel.stats.suspendedReceivers == 0)
            try await channel.send(5)
            #expect(channel.tryReceive() == 5)
        }
    }

    @Test func alreadyCancelledTaskDoesNotSuspend() async throws {
        try await withTimeLimit(.seconds(20)) {
            let channel = try Channel<Int>(capacity: 0)
            let task = Task { () -> (SendError<Int>?, Int?) in
                withUnsafeCurrentTask { $0?.cancel() }
                var sendError: SendError<Int>? = nil
                do throws(SendError<Int>) { try await channel.send(1) } catch { sendError = error }
                return (sendError, await channel.receive())
            }
            let (error, received) = await task.value
            #expect(error?.reason == .cancelled && error?.element == 1)
            #expect(received == nil)
            #expect(channel.stats.sent == 0)
        }
    }

    @Test func blockingEndpointsOnPlainThreads() throws {
        let channel = try Channel<Int>(capacity: 4)
        let n = StressScale.scaled(20_000, minimum: 1_000)
        let received = Collector<Int>()
        let consumer = TestThread.spawn {
            var local: [Int] = []
            while let x = channel.receiveBlocking() { local.append(x) }
            received.append(contentsOf: local)
        }
        let producer = TestThread.spawn {
            for i in 0..<n { try! channel.sendBlocking(i) }
            channel.close()
        }
        producer.join()
        consumer.join()
        #expect(received.values == Array(0..<n))
        do {
            try channel.sendBlocking(1)
            Issue.record("sendBlocking after close should throw")
        } catch {
            #expect(error.reason == .closed)
        }
    }

    @Test func asyncSenderAndBlockingReceiverMeet() async throws {
        try await withTimeLimit(.seconds(20)) {
            let channel = try Channel<Int>(capacity: 0)
            let got = Collector<Int>()
            let done = Gate()
            TestThread.detached {
                while let x = channel.receiveBlocking() { got.append(x) }
                done.open()
            }
            for i in 0..<100 { try await channel.send(i) }
            channel.close()
            #expect(await done.waitAsync(timeout: .seconds(10)))
            #expect(got.values == Array(0..<100))
        }
    }
}

@Suite("Channel element lifetimes", .serialized, .timeLimit(.minutes(1)))
struct ChannelLifetimeTests {
    /// Every payload is released exactly once: delivered, dropped, handed
    /// back, or freed with the channel while still buffered.
    @Test func destructors() async throws {
        try await withTimeLimit(.seconds(30)) {
            let counter = DeinitCounter()
            do {
                let oldest = try Channel<Tracked>(capacity: 4, overflow: .dropOldest)
                let newest = try Channel<Tracked>(capacity: 4, overflow: .dropNewest)
                for i in 0..<100 {
                    try await oldest.send(Tracked(i, counter: counter))
                    try await newest.send(Tracked(i, counter: counter))
                }
                #expect(oldest.tryReceive()?.value == 96)
                #expect(newest.tryReceive()?.value == 0)
                oldest.close()
                do throws(SendError<Tracked>) { try await oldest.send(Tracked(-1, counter: counter)) } catch { #expect(error.element.value == -1) }
                #expect(oldest.stats.dropped == 96 && newest.stats.dropped == 96)
                // Both channels still buffer 3 payloads each; they go with the channels.
            }
            #expect(counter.liveCount == 0)
            #expect(counter.deinitCount == 201)
        }
    }
}
