import BenchmarkSupport
import FlowChannels

// The Flow side of each comparison.

nonisolated func flowSPSC(_ n: Int) async -> Int {
    let channel = try! Channel<Int>(capacity: 1024)
    let producer = Task {
        for i in 0..<n { try! await channel.send(i) }
        channel.close()
    }
    var sum = 0
    for await x in channel { sum &+= x }
    await producer.value
    return sum
}

nonisolated func flowBlockingSPSC(_ n: Int) -> Int {
    let channel = try! Channel<Int>(capacity: 1024)
    spawnThread {
        for i in 0..<n { try! channel.sendBlocking(i) }
        channel.close()
    }
    var sum = 0
    while let x = channel.receiveBlocking() { sum &+= x }
    return sum
}

nonisolated func flowMPMC(_ n: Int, producers: Int, consumers: Int) async -> Int {
    let channel = try! Channel<Int>(capacity: 1024)
    let perProducer = n / producers
    return await withTaskGroup(of: Int.self) { group in
        for _ in 0..<consumers {
            group.addTask {
                var sum = 0
                for await x in channel { sum &+= x }
                return sum
            }
        }
        for _ in 0..<producers {
            let producer = channel.makeProducer()
            group.addTask { [producer = consume producer] in
                for i in 0..<perProducer { try! await producer.send(i) }
                return 0
            }
        }
        var total = 0
        for await s in group { total &+= s }
        return total
    }
}

nonisolated func flowPipeline(_ n: Int) async -> Int {
    let source = try! Channel<Int>(capacity: 1024)
    let mapped = try! Channel<Int>(capacity: 1024)
    let filtered = try! Channel<Int>(capacity: 1024)
    let stages = [
        Task {
            for i in 0..<n { try! await source.send(i) }
            source.close()
        },
        Task {
            for await x in source { try! await mapped.send(x &* 2) }
            mapped.close()
        },
        Task {
            for await x in mapped where x % 3 == 0 { try! await filtered.send(x) }
            filtered.close()
        },
    ]
    var sum = 0
    for await x in filtered { sum &+= x }
    for stage in stages { await stage.value }
    return sum
}

nonisolated func scopeSpawn(_ n: Int, on executor: Executor) async throws -> Int {
    try await withScope(on: executor) { scope in
        let total = Counter()
        for i in 0..<n { scope.spawn { total.add(i) } }
        await scope.join()
        return total.value
    }
}

nonisolated func flowSlowConsumer(_ n: Int, capacity: Int) async -> Int {
    let channel = try! Channel<[UInt8]>(capacity: capacity)
    let producer = Task {
        // 64-byte payloads: 640 MB in all if the channel did not hold back.
        for _ in 0..<n { try! await channel.send([UInt8](repeating: 1, count: 64)) }
        channel.close()
    }
    var sum = 0
    for await payload in channel {
        // The slow part: touch every byte.
        for b in payload { sum &+= Int(b) }
    }
    await producer.value
    return sum
}

/// A relaxed shared sum for the spawn benchmark.
final class Counter: Sendable {
    private let storage = PaddedAtomic(0)
    func add(_ x: Int) { storage.add(x) }
    var value: Int { storage.load() }
}
