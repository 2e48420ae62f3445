import FlowAtomics
import FlowTestSupport
import Testing

/// The examples of README.md (FlowAtomics) and docs/Atomics.md, compiled and
/// checked. `Scripts/check-doc-examples` keeps them identical to the docs.
@Suite("Atomics docs", .timeLimit(.minutes(1)))
struct AtomicsDocsTests {
    @Test func readmeExample() throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        let deque = try WorkStealingDeque<Int>()      // owner handle: push / pop (LIFO), one thread
        let stealer = deque.makeStealer()             // Sendable: steal (FIFO) from any thread
        deque.push(1); deque.push(2)
        let newest = deque.pop()                      // 2
        if case .success(let oldest) = stealer.steal() { print(oldest) }   // 1

        let queue = try MPMCQueue<String>(capacity: 1024)   // power of two, else FlowError naming it
        if case .full(let back) = queue.tryEnqueue("job") { print("full, got back \(back)") }
        let job = queue.tryDequeue()                  // "job"

        #expect(newest == 2)
        #expect(output.lines == ["1"])
        #expect(job == "job")
        let dequeEmpty = deque.isEmpty  // a ~Copyable owner handle cannot go into #expect
        #expect(dequeEmpty && queue.isEmpty)
        #expect(throws: FlowError.self) { try MPMCQueue<String>(capacity: 1000) }
    }

    @Test func stealLoop() throws {
        Box.events.removeAll()

        let deque = try WorkStealingDeque<Unmanaged<Box>>(initialCapacity: 64)
        let stealer = deque.makeStealer()      // hand this to other threads

        deque.push(Unmanaged.passRetained(Box()))      // owner thread
        // another thread:
        switch stealer.steal() {
        case .success(let box): box.takeRetainedValue().run()   // ownership is ours now
        case .retry: break                                       // lost a race: try again or elsewhere
        case .empty: break
        }

        // Nobody raced the thief: it won the box, ran it, and released it.
        #expect(Box.events.values == ["run", "deinit"])
        let dequeEmpty = deque.isEmpty
        #expect(dequeEmpty)
        #expect(stealer.stealRetrying() == nil)
    }
}

/// The unit of work of the docs/Atomics.md example.
final class Box {
    /// What happened to boxes, in order (only `stealLoop` makes boxes).
    static let events = Collector<String>()
    func run() { Box.events.append("run") }
    deinit { Box.events.append("deinit") }
}
