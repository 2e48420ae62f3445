@testable import FlowChannels
import FlowTestSupport
import Synchronization
import Testing

/// A payload that logs its id when it is released without having been
/// received: the elements a dropping policy discarded.
final class Ticket: Sendable {
    let id: Tagged
    let dropLog: Collector<Tagged>
    private let taken = Atomic<Bool>(false)

    init(_ id: Tagged, dropLog: Collector<Tagged>) {
        self.id = id
        self.dropLog = dropLog
    }

    /// Marks the ticket received (before the receiver lets it go).
    func take() { taken.store(true, ordering: .releasing) }

    deinit {
        if !taken.load(ordering: .acquiring) { dropLog.append(id) }
    }
}

/// The races of the lock-free fast path (`ChannelRing`): fast-path sends
/// and receives against parties about to wait or being woken, against
/// close, against cancellation, and `.dropOldest` under contention. A lost
/// wake-up shows as a hang, so everything runs under a time limit.
@Suite("Channel fast path stress", .serialized, .timeLimit(.minutes(6)))
struct ChannelFastPathStressTests {
    /// Async tasks and plain threads, mixing every send and receive
    /// endpoint, on small capacities, where the ring is full or empty (and
    /// somebody about to wait) all the time.
    @Test(arguments: [1, 2, 3, 7])
    func fastPathAgainstSuspension(capacity: Int) async throws {
        let perProducer = StressScale.scaled(40_000, minimum: 1_000)
        let channel = try Channel<Tagged>(capacity: capacity)
        let logs = Collector<[Tagged]>()
        try await withTimeLimit(.seconds(150), "fast path vs suspension, capacity \(capacity)") {
            // One producer and one consumer on plain threads (blocking endpoints).
            let threadsDone = Latch(count: 2)
            let producers = Counter(4)
            TestThread.detached {
                for i in 0..<perProducer {
                    let item = Tagged(producer: 3, seq: i)
                    if i.isMultiple(of: 3), case .sent = channel.trySend(item) { continue }
                    try! channel.sendBlocking(item)
                }
                if producers.add(-1) == 0 { channel.close() }
                threadsDone.countDown()
            }
            TestThread.detached {
                var log: [Tagged] = []
                while true {
                    if let x = channel.tryReceive() { log.append(x); continue }
                    guard let x = channel.receiveBlocking() else { break }
                    log.append(x)
                }
                logs.append(log)
                threadsDone.countDown()
            }
            await withTaskGroup(of: Void.self) { group in
                for p in 0..<3 {
                    group.addTask {
                        for i in 0..<perProducer {
                            let item = Tagged(producer: p, seq: i)
                            if i.isMultiple(of: 2), case .sent = channel.trySend(item) { continue }
                            try! await channel.send(item)
                        }
                        if producers.add(-1) == 0 { channel.close() }
                    }
                }
                for c in 0..<3 {
                    group.addTask {
                        var log: [Tagged] = []
                        while true {
                            if c == 0, let x = channel.tryReceive() { log.append(x); continue }
                            guard let x = await channel.receive() else { break }
                            log.append(x)
                        }
                        logs.append(log)
                    }
                }
                await group.waitForAll()
            }
            #expect(await threadsDone.waitAsync(timeout: .seconds(60)))
        }
        for log in logs.values { #expect(fifoViolation(log) == nil) }
        let sent = (0..<4).flatMap { p in (0..<perProducer).map { Tagged(producer: p, seq: $0) } }
        #expect(Stress.conservationViolation(sent: sent, received: logs.values.joined()) == nil)
        let stats = channel.stats
        #expect(stats.sent == 4 * perProducer && stats.received == stats.sent && stats.depth == 0)
        #expect(stats.suspendedSenders == 0 && stats.suspendedReceivers == 0)
        #expect(channel.invariantViolation() == nil)
    }

    /// Ping-pong: every element is the only thing its receiver waits for,
    /// and nothing closes the channels, so a single lost wake-up (a fast-path
    /// send missing a receiver that is about to wait) hangs a pair. Pairs of
    /// tasks and pairs of threads run at once.
    @Test(arguments: [1, 2, 64])
    func pingPongNeedsEveryWakeUp(capacity: Int) async throws {
        let rounds = StressScale.scaled(20_000, minimum: 1_000)
        try await withTimeLimit(.seconds(120), "ping-pong, capacity \(capacity)") {
            let threadPairs = Latch(count: 1)
            let ping = try Channel<Int>(capacity: capacity), pong = try Channel<Int>(capacity: capacity)
            let mismatches = Counter()
            TestThread.detached {
                for i in 0..<rounds {
                    try! ping.sendBlocking(i)
                    if pong.receiveBlocking() != i { mismatches.add() }
                }
                threadPairs.countDown()
            }
            TestThread.detached {
                for _ in 0..<rounds { try! pong.sendBlocking(ping.receiveBlocking()!) }
            }
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    let there = try! Channel<Int>(capacity: capacity), back = try! Channel<Int>(capacity: capacity)
                    group.addTask {
                        for i in 0..<rounds {
                            do { try await there.send(i) } catch { Issue.record("ping: \(error)"); return }
                            let answer = await back.receive()
                            #expect(answer == i)
                        }
                    }
                    group.addTask {
                        for _ in 0..<rounds {
                            guard let x = await there.receive() else { Issue.record("ping-pong channel ended"); return }
                            do { try await back.send(x) } catch { Issue.record("pong: \(error)"); return }
                        }
                    }
                }
                await group.waitForAll()
            }
            #expect(await threadPairs.waitAsync(timeout: .seconds(60)))
            #expect(mismatches.current == 0)
            #expect(ping.invariantViolation() == nil && pong.invariantViolation() == nil)
        }
    }

    /// The sender side of the hand-shake: a sender waits on a full channel
    /// and is admitted only by a receiver's fast-path pop (the receiver then
    /// waits for the sender's acknowledgement), so a lost refill hangs.
    @Test(arguments: [1, 3])
    func fullChannelNeedsEveryRefill(capacity: Int) async throws {
        let rounds = StressScale.scaled(10_000, minimum: 500)
        try await withTimeLimit(.seconds(120), "full-channel refill, capacity \(capacity)") {
            await withTaskGroup(of: Void.self) { group in
                for pair in 0..<3 {
                    let data = try! Channel<Int>(capacity: capacity), ack = try! Channel<Int>(capacity: 1)
                    let blocking = pair == 2   // one pair on plain threads
                    let threadDone = Gate()
                    if blocking {
                        TestThread.detached {
                            for i in 0..<capacity { try! data.sendBlocking(i) }
                            for r in 0..<rounds {
                                try! data.sendBlocking(capacity + r)   // waits: the channel is full
                                try! ack.sendBlocking(r)
                            }
                            threadDone.open()
                        }
                    } else {
                        group.addTask {
                            do {
                                for i in 0..<capacity { try await data.send(i) }
                                for r in 0..<rounds {
                                    try await data.send(capacity + r)
                                    try await ack.send(r)
                                }
                            } catch {
                                Issue.record("sender: \(error)")
                            }
                        }
                    }
                    group.addTask {
                        for r in 0..<rounds {
                            #expect(await data.receive() == r)   // frees the slot the sender waits for
                            #expect(await ack.receive() == r)
                        }
                        if blocking { #expect(await threadDone.waitAsync(timeout: .seconds(60))) }
                        var rest: [Int] = []
                        while let x = data.tryReceive() { rest.append(x) }
                        #expect(rest == Array(rounds..<(rounds + capacity)))
                        #expect(data.invariantViolation() == nil)
                    }
                }
                await group.waitForAll()
            }
        }
    }

    /// The capacity is exact under contention: threads racing `trySend`
    /// into a channel with no receiver get exactly `capacity` acceptances;
    /// with receivers freeing slots at the same time, the depth never ends
    /// above the capacity and the counters add up.
    @Test(arguments: [1, 3, 5])
    func exactCapacityUnderContention(capacity: Int) throws {
        let rounds = StressScale.scaled(300, minimum: 30)
        for _ in 0..<rounds {
            let channel = try Channel<Int>(capacity: capacity)
            let accepted = Counter()
            try Stress.run(threads: 4, timeout: .seconds(30)) { t in
                for i in 0..<4 where channel.trySend(t * 10 + i).isSent { accepted.add() }
            }
            #expect(accepted.current == capacity)
            #expect(channel.stats.depth == capacity)
            // Two receivers free two slots while two senders try twice each.
            let taken = Counter(), added = Counter()
            try Stress.run(threads: 4, timeout: .seconds(30)) { t in
                if t < 2 {
                    if channel.tryReceive() != nil { taken.add() }
                } else {
                    for i in 0..<2 where channel.trySend(100 + t * 10 + i).isSent { added.add() }
                }
            }
            #expect(taken.current >= min(2, capacity))   // a full channel: at least these succeed
            #expect(added.current <= taken.current)
            let stats = channel.stats
            #expect(stats.depth == capacity - taken.current + added.current)
            #expect(stats.depth <= capacity)
            #expect(statsViolation(stats) == nil)
            #expect(channel.invariantViolation() == nil)
        }
    }

    /// Close races against fast-path traffic: every offered item is
    /// received exactly once or handed back, and once the receivers have
    /// seen the end nothing is left behind (no push lands after the close).
    @Test(arguments: [1, 3, 64, ChannelRing<Int>.limit + 64])
    func fastPathAgainstClose(capacity: Int) async throws {
        let rounds = StressScale.scaled(30, minimum: 4)
        try await withTimeLimit(.seconds(150), "fast path vs close, capacity \(capacity)") {
            for round in 0..<rounds {
                let channel = try Channel<Tagged>(capacity: capacity)
                let offered = 3_000
                let received = Collector<Tagged>()
                let handedBack = Collector<Tagged>()
                let attempted = Collector<Tagged>()
                let threadDone = Gate()
                // A blocking producer thread beside the tasks.
                TestThread.detached {
                    var tried: [Tagged] = []
                    for i in 0..<offered {
                        let item = Tagged(producer: 9, seq: i)
                        tried.append(item)
                        do throws(SendError<Tagged>) { try channel.sendBlocking(item) } catch {
                            handedBack.append(error.element)
                            break
                        }
                    }
                    attempted.append(contentsOf: tried)
                    threadDone.open()
                }
                await withTaskGroup(of: Void.self) { group in
                    for p in 0..<3 {
                        group.addTask {
                            var tried: [Tagged] = []
                            for i in 0..<offered {
                                let item = Tagged(producer: p, seq: i)
                                tried.append(item)
                                if p == 0 {
                                    // trySend only: full items are retried, closed ones come back.
                                    var pending = item
                                    var closed = false
                                    while true {
                                        switch channel.trySend(pending) {
                                        case .sent, .dropped: break
                                        case .full(let back): pending = back; await Task.yield(); continue
                                        case .closed(let back): handedBack.append(back); closed = true
                                        }
                                        break
                                    }
                                    if closed { break }
                                } else {
                                    do throws(SendError<Tagged>) { try await channel.send(item) } catch {
                                        handedBack.append(error.element)
                                        break
                                    }
                                }
                            }
                            attempted.append(contentsOf: tried)
                        }
                    }
                    for c in 0..<3 {
                        group.addTask {
                            var local: [Tagged] = []
                            if c == 0 {
                                while true {
                                    if let x = channel.tryReceive() { local.append(x); continue }
                                    guard let x = await channel.receive() else { break }
                                    local.append(x)
                                }
                            } else {
                                for await x in channel { local.append(x) }
                            }
                            received.append(contentsOf: local)
                        }
                    }
                    group.addTask {
                        _ = await eventually { channel.stats.received >= 200 + (round % 5) * 300 }
                        channel.close()
                    }
                    await group.waitForAll()
                }
                #expect(await threadDone.waitAsync(timeout: .seconds(30)))
                // The receivers saw the end: nothing may be left (or arrive) after it.
                #expect(channel.tryReceive() == nil)
                let back = received.values + handedBack.values
                #expect(Stress.conservationViolation(sent: attempted.values, received: back) == nil)
                let stats = channel.stats
                #expect(stats.received == received.values.count && stats.depth == 0)
                #expect(stats.sent == stats.received)
                #expect(statsViolation(stats) == nil)
                #expect(channel.invariantViolation() == nil)
            }
        }
    }

    /// Receivers and senders cancelled while fast-path traffic goes on:
    /// a cancelled receiver takes nothing (its element is not lost), a
    /// cancelled sender gets its element back (it was not enqueued).
    @Test(arguments: [1, 4])
    func fastPathAgainstCancellation(capacity: Int) async throws {
        let rounds = StressScale.scaled(20, minimum: 3)
        try await withTimeLimit(.seconds(150), "fast path vs cancellation, capacity \(capacity)") {
            for _ in 0..<rounds {
                let channel = try Channel<Tagged>(capacity: capacity)
                let perSender = 1_500
                let received = Collector<Tagged>()
                let handedBack = Collector<Tagged>()
                var senders: [Task<Void, Never>] = []
                var receivers: [Task<Void, Never>] = []
                for p in 0..<6 {
                    senders.append(Task {
                        for i in 0..<perSender {
                            let item = Tagged(producer: p, seq: i)
                            if case .sent = channel.trySend(item) { continue }
                            do throws(SendError<Tagged>) { try await channel.send(item) } catch {
                                #expect(error.reason == .cancelled)
                                handedBack.append(error.element)
                            }
                        }
                    })
                }
                for _ in 0..<6 {
                    receivers.append(Task {
                        var local: [Tagged] = []
                        while let x = await channel.receive() { local.append(x) }
                        received.append(contentsOf: local)
                    })
                }
                // Cancel three senders and four receivers as the traffic goes on.
                var rng = SystemRandomNumberGenerator()
                let senderVictims = Array(0..<6).shuffled(using: &rng).prefix(3)
                let receiverVictims = Array(0..<6).shuffled(using: &rng).prefix(4)
                for (k, r) in receiverVictims.enumerated() {
                    _ = await eventually(.seconds(10)) { channel.stats.received >= (k + 1) * 400 }
                    receivers[r].cancel()
                    if k < senderVictims.count { senders[senderVictims[senderVictims.startIndex + k]].cancel() }
                }
                for t in senders { await t.value }
                channel.close()
                for t in receivers { await t.value }
                var rest: [Tagged] = []
                while let x = channel.tryReceive() { rest.append(x) }
                let sent = (0..<6).flatMap { p in (0..<perSender).map { Tagged(producer: p, seq: $0) } }
                #expect(Stress.conservationViolation(sent: sent, received: received.values + handedBack.values + rest) == nil)
                let stats = channel.stats
                #expect(stats.sent == received.values.count + rest.count && stats.depth == 0)
                #expect(stats.suspendedSenders == 0 && stats.suspendedReceivers == 0)
                #expect(statsViolation(stats) == nil)
                #expect(channel.invariantViolation() == nil)
            }
        }
    }

    /// `.dropOldest` and `.dropNewest` with producers (tasks and a thread)
    /// and consumers racing: every element is received exactly once or
    /// dropped exactly once (each dropped one is released once, and counted),
    /// and each producer's received elements keep their order.
    @Test(arguments: [OverflowPolicy.dropOldest, .dropNewest], [1, 3, 16])
    func droppingPoliciesUnderContention(policy: OverflowPolicy, capacity: Int) async throws {
        let perProducer = StressScale.scaled(20_000, minimum: 1_000)
        let dropLog = Collector<Tagged>()
        let logs = Collector<[Tagged]>()
        let stats = try await withTimeLimit(.seconds(120), "\(policy) capacity \(capacity)") {
            let channel = try Channel<Ticket>(capacity: capacity, overflow: policy)
            let producers = Counter(4)
            let threadDone = Gate()
            TestThread.detached {
                for i in 0..<perProducer {
                    try! channel.sendBlocking(Ticket(Tagged(producer: 3, seq: i), dropLog: dropLog))
                }
                if producers.add(-1) == 0 { channel.close() }
                threadDone.open()
            }
            await withTaskGroup(of: Void.self) { group in
                for p in 0..<3 {
                    group.addTask {
                        for i in 0..<perProducer {
                            let ticket = Ticket(Tagged(producer: p, seq: i), dropLog: dropLog)
                            if p == 0 { channel.trySend(ticket) } else { try! await channel.send(ticket) }
                        }
                        if producers.add(-1) == 0 { channel.close() }
                    }
                }
                for _ in 0..<2 {
                    group.addTask {
                        var log: [Tagged] = []
                        for await ticket in channel {
                            ticket.take()
                            log.append(ticket.id)
                        }
                        logs.append(log)
                    }
                }
                await group.waitForAll()
            }
            #expect(await threadDone.waitAsync(timeout: .seconds(30)))
            #expect(channel.invariantViolation() == nil)
            return channel.stats
        }
        // The channel is gone: every ticket has been released.
        for log in logs.values { #expect(fifoViolation(log) == nil) }
        let sent = (0..<4).flatMap { p in (0..<perProducer).map { Tagged(producer: p, seq: $0) } }
        let received = Array(logs.values.joined())
        #expect(Stress.conservationViolation(sent: sent, received: received + dropLog.values) == nil)
        #expect(stats.dropped == dropLog.values.count)
        #expect(stats.received == received.count && stats.sent == sent.count && stats.depth == 0)
        #expect(statsViolation(stats) == nil)
    }

    /// A capacity beyond the ring: the excess waits in the overflow list,
    /// in order, under MPMC traffic; the capacity stays exact.
    @Test func capacityBeyondTheRing() async throws {
        let capacity = ChannelRing<Int>.limit + 100
        let channel = try Channel<Tagged>(capacity: capacity)
        // Exactly `capacity` fit, in order.
        for i in 0..<capacity { #expect(channel.trySend(Tagged(producer: 0, seq: i)).isSent) }
        guard case .full = channel.trySend(Tagged(producer: 0, seq: capacity)) else {
            Issue.record("a full channel of capacity \(capacity) took one more"); return
        }
        #expect(channel.stats.depth == capacity)
        #expect(channel.invariantViolation() == nil)
        var drained: [Tagged] = []
        while let x = channel.tryReceive() { drained.append(x) }
        #expect(drained == (0..<capacity).map { Tagged(producer: 0, seq: $0) })

        let perProducer = StressScale.scaled(60_000, minimum: 3 * capacity / 2)
        let logs = Collector<[Tagged]>()
        try await withTimeLimit(.seconds(120), "capacity beyond the ring") {
            await withTaskGroup(of: Void.self) { group in
                let producers = Counter(3)
                for p in 1...3 {
                    group.addTask {
                        for i in 0..<perProducer {
                            let item = Tagged(producer: p, seq: i)
                            if case .sent = channel.trySend(item) { continue }
                            try! await channel.send(item)
                        }
                        if producers.add(-1) == 0 { channel.close() }
                    }
                }
                for _ in 0..<2 {
                    group.addTask {
                        var log: [Tagged] = []
                        // Let the buffer fill beyond the ring before draining.
                        _ = await eventually { channel.stats.depth > ChannelRing<Int>.limit || channel.isClosed }
                        for await x in channel { log.append(x) }
                        logs.append(log)
                    }
                }
                await group.waitForAll()
            }
        }
        for log in logs.values { #expect(fifoViolation(log) == nil) }
        let sent = (1...3).flatMap { p in (0..<perProducer).map { Tagged(producer: p, seq: $0) } }
        #expect(Stress.conservationViolation(sent: sent, received: logs.values.joined()) == nil)
        #expect(statsViolation(channel.stats) == nil)
        #expect(channel.invariantViolation() == nil)
    }

    /// Any capacity is accepted, up to `Int.max` (an effectively unbounded
    /// channel that allocates as it fills).
    @Test func hugeCapacity() throws {
        let channel = try Channel<Int>(capacity: .max)
        for i in 0..<10_000 { #expect(channel.trySend(i).isSent) }
        #expect(channel.stats.depth == 10_000 && channel.stats.capacity == .max)
        channel.close()
        var drained: [Int] = []
        while let x = channel.tryReceive() { drained.append(x) }
        #expect(drained == Array(0..<10_000))
        #expect(channel.invariantViolation() == nil)
    }
}

extension TrySendResult {
    var isSent: Bool {
        if case .sent = self { return true }
        return false
    }
}
