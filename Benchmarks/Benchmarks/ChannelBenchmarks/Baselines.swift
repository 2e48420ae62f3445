#if canImport(Glibc)
import Glibc
#endif
import AsyncAlgorithms
import BenchmarkSupport

// The baselines: the same workloads with AsyncStream, AsyncChannel,
// MultiProducerSingleConsumerAsyncChannel, task groups and a mutex +
// condition-variable queue.

nonisolated func asyncStreamSPSC(_ n: Int) async -> Int {
    let (stream, continuation) = AsyncStream<Int>.makeStream()
    let producer = Task {
        for i in 0..<n { continuation.yield(i) }
        continuation.finish()
    }
    var sum = 0
    for await x in stream { sum &+= x }
    await producer.value
    return sum
}

nonisolated func asyncChannelSPSC(_ n: Int) async -> Int {
    let channel = AsyncChannel<Int>()
    let producer = Task {
        for i in 0..<n { await channel.send(i) }
        channel.finish()
    }
    var sum = 0
    for await x in channel { sum &+= x }
    await producer.value
    return sum
}

nonisolated func mpscChannelSPSC(_ n: Int) async -> Int {
    var channelAndSource = MultiProducerSingleConsumerAsyncChannel.makeChannel(
        of: Int.self, backpressureStrategy: .watermark(low: 512, high: 1024))
    let elements = channelAndSource.takeChannel().elements()
    var source = consume channelAndSource.source
    let consumer = Task {
        var sum = 0
        for await x in elements { sum &+= x }
        return sum
    }
    for i in 0..<n { try! await source.send(i) }
    source.finish()
    return await consumer.value
}

nonisolated func condvarSPSC(_ n: Int) -> Int {
    let queue = CondvarQueue(capacity: 1024)
    spawnThread {
        for i in 0..<n { queue.push(i) }
        queue.close()
    }
    var sum = 0
    while let x = queue.pop() { sum &+= x }
    return sum
}

nonisolated func asyncChannelMPMC(_ n: Int, producers: Int, consumers: Int) async -> Int {
    let channel = AsyncChannel<Int>()
    let perProducer = n / producers
    return await withTaskGroup(of: Int.self) { group in
        for _ in 0..<consumers {
            group.addTask {
                var sum = 0
                for await x in channel { sum &+= x }
                return sum
            }
        }
        // The producers in a group of their own, so that the channel is
        // finished once all of them are done.
        group.addTask {
            await withTaskGroup(of: Void.self) { producerGroup in
                for _ in 0..<producers {
                    producerGroup.addTask { for i in 0..<perProducer { await channel.send(i) } }
                }
            }
            channel.finish()
            return 0
        }
        var total = 0
        for await s in group { total &+= s }
        return total
    }
}

nonisolated func asyncStreamPipeline(_ n: Int) async -> Int {
    let (source, sourceIn) = AsyncStream<Int>.makeStream()
    let (mapped, mappedIn) = AsyncStream<Int>.makeStream()
    let (filtered, filteredIn) = AsyncStream<Int>.makeStream()
    let stages = [
        Task {
            for i in 0..<n { sourceIn.yield(i) }
            sourceIn.finish()
        },
        Task {
            for await x in source { mappedIn.yield(x &* 2) }
            mappedIn.finish()
        },
        Task {
            for await x in mapped where x % 3 == 0 { filteredIn.yield(x) }
            filteredIn.finish()
        },
    ]
    var sum = 0
    for await x in filtered { sum &+= x }
    for stage in stages { await stage.value }
    return sum
}

nonisolated func asyncChannelPipeline(_ n: Int) async -> Int {
    let source = AsyncChannel<Int>()
    let mapped = AsyncChannel<Int>()
    let filtered = AsyncChannel<Int>()
    let stages = [
        Task {
            for i in 0..<n { await source.send(i) }
            source.finish()
        },
        Task {
            for await x in source { await mapped.send(x &* 2) }
            mapped.finish()
        },
        Task {
            for await x in mapped where x % 3 == 0 { await filtered.send(x) }
            filtered.finish()
        },
    ]
    var sum = 0
    for await x in filtered { sum &+= x }
    for stage in stages { await stage.value }
    return sum
}

nonisolated func taskGroupSpawn(_ n: Int) async -> Int {
    let total = Counter()
    await withTaskGroup(of: Void.self) { group in
        for i in 0..<n { group.addTask { total.add(i) } }
    }
    return total.value
}

/// A bounded FIFO of Ints guarded by a pthread mutex and two condition
/// variables: the classic thread-to-thread queue.
final class CondvarQueue: @unchecked Sendable {
    // Safe: `buffer`, `head`, `count` and `closed` are only touched with
    // `mutex` held; the pthread objects live at stable heap addresses.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let notEmpty = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let notFull = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var buffer: [Int]
    private var head = 0
    private var count = 0
    private var closed = false

    init(capacity: Int) {
        buffer = [Int](repeating: 0, count: capacity)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(notEmpty, nil)
        pthread_cond_init(notFull, nil)
    }

    deinit {
        pthread_cond_destroy(notFull)
        pthread_cond_destroy(notEmpty)
        pthread_mutex_destroy(mutex)
        notFull.deallocate()
        notEmpty.deallocate()
        mutex.deallocate()
    }

    func push(_ x: Int) {
        pthread_mutex_lock(mutex)
        while count == buffer.count { pthread_cond_wait(notFull, mutex) }
        buffer[(head + count) % buffer.count] = x
        count += 1
        pthread_cond_signal(notEmpty)
        pthread_mutex_unlock(mutex)
    }

    func pop() -> Int? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while count == 0 {
            if closed { return nil }
            pthread_cond_wait(notEmpty, mutex)
        }
        let x = buffer[head]
        head = (head + 1) % buffer.count
        count -= 1
        pthread_cond_signal(notFull)
        return x
    }

    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(notEmpty)
        pthread_mutex_unlock(mutex)
    }
}
