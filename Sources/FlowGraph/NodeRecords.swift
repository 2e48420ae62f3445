// The records a TaskGraph keeps per node, shared with GraphPlan.

/// Per-node facts, one append per node.
struct NodeInfo {
    var predEnd: Int32      // data inputs: preds[previous predEnd ..< predEnd]
    var inDegree: Int32     // data inputs + order-only predecessors
    var outDegree: Int32    // data readers + order-only successors
    var readers: Int32      // data readers (each `after:` mention counts)
    var destroyer: Int32    // index in `destroyers`, -1 for trivial outputs
    var flags: UInt8
    var offset: Int         // of the output slot in a run's slot buffer

    static let isAsync: UInt8 = 1, needsSubmit: UInt8 = 2, hasTimeout: UInt8 = 4
}

struct OrderEdge {
    let from: Int32
    let to: Int32
}

enum NodeName {
    case anonymous
    case named(String)
    case indexed(group: Int32, Int32)

    static func display(_ name: NodeName, index: Int, groups: [String]) -> String {
        switch name {
        case .anonymous: "#\(index)"
        case .named(let text): text
        case .indexed(let group, let i): "\(groups[Int(group)])[\(i)]"
        }
    }
}

typealias SyncBody = @Sendable (GraphExecution) throws -> Void
typealias AsyncBody = @Sendable (GraphExecution) async throws -> Void

/// A node's body with its inputs and output erased: it reads its inputs
/// from the run's slots and writes its output to its own.
enum NodeBody: Sendable {
    case sync(SyncBody)
    case async(AsyncBody)
}

/// Destroys a value of one type in an output slot.
struct Destroyer: Sendable {
    let type: ObjectIdentifier
    let destroy: @Sendable (UnsafeMutableRawPointer) -> Void

    init(type: ObjectIdentifier, _ destroy: @escaping @Sendable (UnsafeMutableRawPointer) -> Void) {
        self.type = type
        self.destroy = destroy
    }
}
