import FlowChannels
import FlowTestSupport
import Synchronization
import Testing

@Suite("Channel stress", .serialized, .timeLimit(.minutes(4)))
struct ChannelStressTests {
    /// 4 producers x 4 consumers per capacity; 10^6 items over the four
    /// capacities (scaled down under the sanitizer).
    @Test(arguments: [0, 1, 16, 1024])
    func mpmcConservationAndPerProducerFIFO(capacity: Int) async throws {
        let producers = 4, consumers = 4
        let perProducer = StressScale.scaled(250_000, minimum: 2_000)
        let channel = try Channel<Tagged>(capacity: capacity)
        let logs = Collector<[Tagged]>()
        try await withTimeLimit(.seconds(180), "mpmc capacity \(capacity)") {
            await withTaskGroup(of: Void.self) { group in
                for c in 0..<consumers {
                    group.addTask {
                        var log: [Tagged] = []
                        log.reserveCapacity(perProducer)
                        // Half the consumers iterate, half call receive().
                        if c.isMultiple(of: 2) {
                            for await item in channel { log.append(item) }
                        } else {
                            while let item = await channel.receive() { log.append(item) }
                        }
                        logs.append(log)
                    }
                }
                for p in 0..<producers {
                    let producer = channel.makeProducer()
                    group.addTask { [producer = consume producer] in
                        for i in 0..<perProducer { try! await producer.send(Tagged(producer: p, seq: i)) }
                    }
                }
                await group.waitForAll()
            }
        }
        let all = logs.values
        #expect(all.count == consumers)
        for log in all { #expect(fifoViolation(log) == nil) }
        let sent = (0..<producers).flatMap { p in (0..<perProducer).map { Tagged(producer: p, seq: $0) } }
        #expect(Stress.conservationViolation(sent: sent, received: all.joined()) == nil)
        let stats = channel.stats
        #expect(stats.sent == producers * perProducer && stats.received == stats.sent && stats.isClosed)
        #expect(statsViolation(stats) == nil)
        #expect(channel.invariantViolation() == nil)
    }

    /// Plain threads with the blocking endpoints, several capacities.
    @Test(arguments: [0, 4, 64])
    func blockingThreadsConserveItems(capacity: Int) throws {
        let perProducer = StressScale.scaled(20_000, minimum: 500) / (capacity == 0 ? 4 : 1)
        let channel = try Channel<Tagged>(capacity: capacity)
        let logs = Collector<[Tagged]>()
        let producersLeft = Counter(3)
        try Stress.run(threads: 6, timeout: .seconds(120)) { t in
            if t < 3 {
                for i in 0..<perProducer { try! channel.sendBlocking(Tagged(producer: t, seq: i)) }
                if producersLeft.add(-1) == 0 { channel.close() }
            } else {
                var log: [Tagged] = []
                while let x = channel.receiveBlocking() { log.append(x) }
                logs.append(log)
            }
        }
        for log in logs.values { #expect(fifoViolation(log) == nil) }
        let sent = (0..<3).flatMap { p in (0..<perProducer).map { Tagged(producer: p, seq: $0) } }
        #expect(Stress.conservationViolation(sent: sent, received: logs.values.joined()) == nil)
        #expect(statsViolation(channel.stats) == nil)
    }

    /// Senders wait on a full channel and receivers on an empty one; close
    /// wakes all of them, hands every waiting sender's element back, and the
    /// buffer is still drained.
    @Test(arguments: [0, 3])
    func closeWhileSuspended(capacity: Int) async throws {
        try await withTimeLimit(.seconds(60)) {
            let rounds = StressScale.scaled(50, minimum: 5)
            for _ in 0..<rounds {
                let full = try Channel<Int>(capacity: capacity)
                for i in 0..<capacity { try await full.send(i) }
                let empty = try Channel<Int>(capacity: capacity)
                let senders = 8, receivers = 8
                let handedBack = Collector<Int>()
                let nils = Counter()
                await withTaskGroup(of: Void.self) { group in
                    for s in 0..<senders {
                        group.addTask {
                            do throws(SendError<Int>) { try await full.send(100 + s) } catch {
                                #expect(error.reason == .closed)
                                handedBack.append(error.element)
                            }
                        }
                    }
                    for _ in 0..<receivers {
                        group.addTask {
                            if await empty.receive() == nil { nils.add() }
                        }
                    }
                    #expect(await eventually {
                        full.stats.suspendedSenders == senders && empty.stats.suspendedReceivers == receivers
                    })
                    full.close()
                    empty.close()
                    await group.waitForAll()
                }
                #expect(nils.current == receivers)
                #expect(handedBack.values.sorted() == Array(100..<(100 + senders)))
                var drained: [Int] = []
                for await x in full { drained.append(x) }
                #expect(drained == Array(0..<capacity))
                #expect(full.stats.suspendedSenders == 0 && empty.stats.suspendedReceivers == 0)
                #expect(statsViolation(full.stats) == nil)
            }
        }
    }

    /// Close races against live traffic: every item offered is received
    /// exactly once or handed back to its sender.
    @Test func closeRacingTrafficConserves() async throws {
        try await withTimeLimit(.seconds(120)) {
            let rounds = StressScale.scaled(40, minimum: 4)
            for round in 0..<rounds {
                let channel = try Channel<Tagged>(capacity: round % 3 == 0 ? 0 : 8)
                let offered = 2_000
                let received = Collector<Tagged>()
                let handedBack = Collector<Tagged>()
                await withTaskGroup(of: Void.self) { group in
                    for p in 0..<3 {
                        group.addTask {
                            for i in 0..<offered {
                                do throws(SendError<Tagged>) { try await channel.send(Tagged(producer: p, seq: i)) } catch {
                                    handedBack.append(error.element)
                                }
                            }
                        }
                    }
                    for _ in 0..<3 {
                        group.addTask {
                            var local: [Tagged] = []
                            for await x in channel { local.append(x) }
                            received.append(contentsOf: local)
                        }
                    }
                    group.addTask {
                        _ = await eventually { channel.stats.received >= 500 }
                        channel.close()
                    }
                    await group.waitForAll()
                }
                let sent = (0..<3).flatMap { p in (0..<offered).map { Tagged(producer: p, seq: $0) } }
                #expect(Stress.conservationViolation(sent: sent, received: received.values + handedBack.values) == nil)
                let stats = channel.stats
                #expect(stats.received == received.values.count && stats.depth == 0)
                #expect(statsViolation(stats) == nil)
            }
        }
    }

    /// Senders and receivers cancelled at random while they wait: every
    /// item is received exactly once, handed back, or still buffered.
    @Test(arguments: [0, 2, 32])
    func cancellationStorm(capacity: Int) async throws {
        try await withTimeLimit(.seconds(120)) {
            let channel = try Channel<Tagged>(capacity: capacity)
            let senders = 16, perSender = StressScale.scaled(400, minimum: 40)
            let received = Collector<Tagged>()
            let handedBack = Collector<Tagged>()
            var sendTasks: [Task<Void, Never>] = []
            var receiveTasks: [Task<Void, Never>] = []
            for p in 0..<senders {
                sendTasks.append(Task {
                    for i in 0..<perSender {
                        do throws(SendError<Tagged>) { try await channel.send(Tagged(producer: p, seq: i)) } catch {
                            #expect(error.reason == .cancelled)
                            handedBack.append(error.element)
                        }
                    }
                })
            }
            for _ in 0..<8 {
                receiveTasks.append(Task {
                    var local: [Tagged] = []
                    while let x = await channel.receive() { local.append(x) }
                    received.append(contentsOf: local)
                })
            }
            var rng = SystemRandomNumberGenerator()
            // Cancel half the senders and all but two receivers at random moments.
            var victims = Array(0..<senders).shuffled(using: &rng).prefix(senders / 2)
            var receiverVictims = Array(0..<8).shuffled(using: &rng).prefix(6)
            while !victims.isEmpty || !receiverVictims.isEmpty {
                _ = await eventually(.seconds(5)) { channel.stats.received > 0 }
                try? await Task.sleep(for: .microseconds(Int.random(in: 0...300)))
                if let v = victims.popFirst() { sendTasks[v].cancel() }
                if let r = receiverVictims.popFirst() { receiveTasks[r].cancel() }
            }
            for t in sendTasks { await t.value }
            // Every sender is done; the survivors drain what is left.
            channel.close()
            for t in receiveTasks { await t.value }
            var rest: [Tagged] = []
            while let x = channel.tryReceive() { rest.append(x) }
            let sent = (0..<senders).flatMap { p in (0..<perSender).map { Tagged(producer: p, seq: $0) } }
            #expect(Stress.conservationViolation(sent: sent, received: received.values + handedBack.values + rest) == nil)
            let stats = channel.stats
            #expect(stats.sent == received.values.count + rest.count)
            #expect(stats.suspendedSenders == 0 && stats.suspendedReceivers == 0)
            #expect(statsViolation(stats) == nil)
        }
    }

    /// Many producers made and finished concurrently, from a live root
    /// producer: the channel closes exactly once, only after the last one.
    @Test func producerTrackingRaces() throws {
        let rounds = StressScale.scaled(200, minimum: 20)
        for _ in 0..<rounds {
            let channel = try Channel<Int>(capacity: 1024)
            let root = channel.makeProducer()
            let threads = 4, perThread = 16
            try Stress.run(threads: threads, timeout: .seconds(30)) { t in
                for i in 0..<perThread {
                    let producer = channel.makeProducer()
                    let sibling = producer.makeSibling()
                    producer.trySend(t * 1000 + i)
                    producer.finish()
                    sibling.finish()
                }
            }
            #expect(!channel.isClosed)
            #expect(channel.stats.producers == 1)
            root.finish()
            #expect(channel.isClosed)
            #expect(channel.stats.producers == 0)
            #expect(!channel.close())   // already closed, exactly once
            var n = 0
            while channel.tryReceive() != nil { n += 1 }
            #expect(n == threads * perThread)
        }
    }

    /// A producer that ends before its sibling starts does not close the
    /// channel when both were made up front.
    @Test func earlyFinishingProducerDoesNotCloseEarly() async throws {
        try await withTimeLimit(.seconds(20)) {
            let channel = try Channel<Int>(capacity: 4)
            #expect(!channel.isClosed)   // never closed before the first producer
            let a = channel.makeProducer()
            let b = channel.makeProducer()
            try await a.send(1)
            a.finish()
            #expect(!channel.isClosed)
            try await b.send(2)
            b.finish()
            #expect(channel.isClosed)
            var got: [Int] = []
            for await x in channel { got.append(x) }
            #expect(got == [1, 2])
        }
    }
}

