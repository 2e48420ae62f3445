/// One complete event of an I/O trace: a call to `name` in category `cat`,
/// by process `pid` and thread `tid`, starting at `ts` and lasting `dur`
/// (microseconds), on file `file`, moving `bytes` bytes.
///
/// Trace files are JSON lines in the Chrome trace-event shape the seed's
/// tools (DFTracer) write:
///
/// ```text
/// {"id":7,"name":"read","cat":"POSIX","pid":1001,"tid":1003,"ts":1700000000123,"dur":153,"ph":"X","args":{"fname":"/scratch/data_07.h5","size":4096}}
/// ```
///
/// `name`, `cat`, `ts` and `dur` are required; `pid`, `tid`, `args.fname`
/// and `args.size` default to 0 / "" / 0. Numbers may be integers or
/// decimals (rounded to the nearest integer).
public struct TraceEvent: Sendable, Equatable {
    public var name: String
    public var category: String
    public var pid: Int64
    public var tid: Int64
    public var timestamp: Int64
    public var duration: Int64
    public var file: String
    public var bytes: Int64

    public init(name: String, category: String, pid: Int64 = 0, tid: Int64 = 0, timestamp: Int64,
                duration: Int64, file: String = "", bytes: Int64 = 0) {
        self.name = name
        self.category = category
        self.pid = pid
        self.tid = tid
        self.timestamp = timestamp
        self.duration = duration
        self.file = file
        self.bytes = bytes
    }
}

/// What one line of a trace file holds.
public enum TraceLine: Sendable, Equatable {
    /// A complete event (`"ph":"X"`, or no `ph`).
    case event(TraceEvent)
    /// A blank line, the `[` / `]` of an array-wrapped trace, or an event of
    /// another phase (`"ph":"M"` metadata and the like): not analysed, not an error.
    case skipped
    /// A line that is not a valid event; the reason says why.
    case malformed(String)
}

/// Parses one line of a trace file (without its newline). Pure and
/// thread-safe; the same function serves the parallel and the sequential
/// analysis, so both see exactly the same events.
public func parseTraceLine(_ line: UnsafeBufferPointer<UInt8>) -> TraceLine {
    var scanner = JSONLineScanner(line)
    return scanner.parseLine()
}

/// Convenience for tests and small inputs.
public func parseTraceLine(_ line: String) -> TraceLine {
    var copy = Array(line.utf8)
    return copy.withUnsafeMutableBufferPointer { parseTraceLine(UnsafeBufferPointer($0)) }
}

/// A small, strict JSON scanner for one flat event object with nested
/// values (only `args.fname` and `args.size` are read from nested objects;
/// any other value is validated and skipped).
struct JSONLineScanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private struct Malformed: Error {
        let reason: String
    }

    private enum Value {
        case string(String)
        case number(Int64)
        case other
    }

    mutating func parseLine() -> TraceLine {
        var end = bytes.count
        while end > 0, Self.isSpace(bytes[end - 1]) { end -= 1 }
        skipSpace()
        if index >= end { return .skipped }
        // An array-wrapped trace: "[" and "]" lines, and a comma after each event.
        if end - index == 1, bytes[index] == UInt8(ascii: "[") || bytes[index] == UInt8(ascii: "]") { return .skipped }
        if bytes[end - 1] == UInt8(ascii: ",") { end -= 1 }
        do {
            let line = try parseEvent(end: end)
            return line
        } catch {
            return .malformed(error.reason)
        }
    }

    private static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D
    }

    private mutating func skipSpace() {
        while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
    }

    private func column() -> Int { index + 1 }

    private mutating func expect(_ char: UInt8, _ what: String) throws(Malformed) {
        skipSpace()
        guard index < bytes.count else { throw Malformed(reason: "truncated: expected \(what)") }
        guard bytes[index] == char else {
            throw Malformed(reason: "expected \(what) at column \(column()), found \(Self.describe(bytes[index]))")
        }
        index += 1
    }

    private static func describe(_ b: UInt8) -> String {
        if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16))"
    }

    private mutating func parseEvent(end: Int) throws(Malformed) -> TraceLine {
        guard bytes[index] == UInt8(ascii: "{") else {
            throw Malformed(reason: "not a JSON object (starts with \(Self.describe(bytes[index])))")
        }
        index += 1
        var name: String?, category: String?, phase: String?
        var pid: Int64 = 0, tid: Int64 = 0
        var timestamp: Int64?, duration: Int64?
        var file = "", size: Int64 = 0
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipSpace()
                let key = try parseKeyRange()
                try expect(UInt8(ascii: ":"), "':'")
                skipSpace()
                switch keyID(key) {
                case .name: name = try requireString(parseValue(), "name")
                case .cat: category = try requireString(parseValue(), "cat")
                case .ph: phase = try requireString(parseValue(), "ph")
                case .pid: pid = try requireNumber(parseValue(), "pid")
                case .tid: tid = try requireNumber(parseValue(), "tid")
                case .ts: timestamp = try requireNumber(parseValue(), "ts")
                case .dur: duration = try requireNumber(parseValue(), "dur")
                case .args: try parseArgs(file: &file, size: &size)
                case .other: _ = try parseValue()
                }
                skipSpace()
                guard index < bytes.count else { throw Malformed(reason: "truncated: object not closed") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; break }
                throw Malformed(reason: "expected ',' or '}' at column \(column()), found \(Self.describe(bytes[index]))")
            }
        }
        skipSpace()
        if index < end { throw Malformed(reason: "trailing data at column \(column())") }
        if let phase, phase != "X" { return .skipped }
        guard let name else { throw Malformed(reason: "missing field 'name'") }
        guard let category else { throw Malformed(reason: "missing field 'cat'") }
        guard let timestamp else { throw Malformed(reason: "missing field 'ts'") }
        guard let duration else { throw Malformed(reason: "missing field 'dur'") }
        guard duration >= 0 else { throw Malformed(reason: "negative 'dur' \(duration)") }
        return .event(TraceEvent(name: name, category: category, pid: pid, tid: tid, timestamp: timestamp,
                                 duration: duration, file: file, bytes: size))
    }

    private mutating func parseArgs(file: inout String, size: inout Int64) throws(Malformed) {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else {
            _ = try parseValue()        // args that are not an object carry nothing we read
            return
        }
        index += 1
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return }
        while true {
            skipSpace()
            let key = try parseKeyRange()
            try expect(UInt8(ascii: ":"), "':'")
            skipSpace()
            switch argKeyID(key) {
            case .fname: file = try requireString(parseValue(), "args.fname")
            case .size: size = try requireNumber(parseValue(), "args.size")
            case .other: _ = try parseValue()
            }
            skipSpace()
            guard index < bytes.count else { throw Malformed(reason: "truncated: args not closed") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return }
            throw Malformed(reason: "expected ',' or '}' at column \(column()), found \(Self.describe(bytes[index]))")
        }
    }

    private func requireString(_ value: Value, _ field: String) throws(Malformed) -> String {
        if case let .string(s) = value { return s }
        throw Malformed(reason: "field '\(field)' is not a string")
    }

    private func requireNumber(_ value: Value, _ field: String) throws(Malformed) -> Int64 {
        if case let .number(n) = value { return n }
        throw Malformed(reason: "field '\(field)' is not a number")
    }

    private enum Key { case name, cat, ph, pid, tid, ts, dur, args, other }
    private enum ArgKey { case fname, size, other }

    private func matches(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let p = literal.utf8Start
        for i in 0..<range.count where bytes[range.lowerBound + i] != p[i] { return false }
        return true
    }

    private func keyID(_ key: Range<Int>) -> Key {
        switch key.count {
        case 2:
            if matches(key, "ts") { return .ts }
            if matches(key, "ph") { return .ph }
        case 3:
            if matches(key, "cat") { return .cat }
            if matches(key, "dur") { return .dur }
            if matches(key, "pid") { return .pid }
            if matches(key, "tid") { return .tid }
        case 4:
            if matches(key, "name") { return .name }
            if matches(key, "args") { return .args }
        default: break
        }
        return .other
    }

    private func argKeyID(_ key: Range<Int>) -> ArgKey {
        if matches(key, "fname") { return .fname }
        if matches(key, "size") { return .size }
        return .other
    }

    /// A key without escapes (keys we read never need them); returns its byte range.
    private mutating func parseKeyRange() throws(Malformed) -> Range<Int> {
        guard index < bytes.count else { throw Malformed(reason: "truncated: expected a key") }
        guard bytes[index] == UInt8(ascii: "\"") else {
            throw Malformed(reason: "expected a key at column \(column()), found \(Self.describe(bytes[index]))")
        }
        index += 1
        let start = index
        var escaped = false
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                let range = start..<index
                index += 1
                return escaped ? index..<index : range     // an escaped key matches nothing we read
            }
            if b == UInt8(ascii: "\\") { escaped = true; index += 2; continue }
            if b < 0x20 { throw Malformed(reason: "control character in a key at column \(column())") }
            index += 1
        }
        throw Malformed(reason: "truncated: key not closed")
    }

    private mutating func parseValue() throws(Malformed) -> Value {
        guard index < bytes.count else { throw Malformed(reason: "truncated: expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case UInt8(ascii: "{"): try skipContainer(open: UInt8(ascii: "{"), close: UInt8(ascii: "}")); return .other
        case UInt8(ascii: "["): try skipContainer(open: UInt8(ascii: "["), close: UInt8(ascii: "]")); return .other
        case UInt8(ascii: "t"): try literal("true"); return .other
        case UInt8(ascii: "f"): try literal("false"); return .other
        case UInt8(ascii: "n"): try literal("null"); return .other
        default:
            throw Malformed(reason: "unexpected \(Self.describe(bytes[index])) at column \(column())")
        }
    }

    private mutating func literal(_ word: StaticString) throws(Malformed) {
        let n = word.utf8CodeUnitCount
        guard index + n <= bytes.count, matches(index..<(index + n), word) else {
            throw Malformed(reason: "bad literal at column \(column())")
        }
        index += n
    }

    /// Skips a nested object or array, validating its strings and nesting.
    private mutating func skipContainer(open: UInt8, close: UInt8) throws(Malformed) {
        var stack: [UInt8] = []
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") { _ = try parseString(); continue }
            if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                stack.append(b == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]"))
            } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                guard stack.last == b else { throw Malformed(reason: "mismatched \(Self.describe(b)) at column \(column())") }
                stack.removeLast()
                if stack.isEmpty { index += 1; return }
            }
            index += 1
        }
        throw Malformed(reason: "truncated: nested value not closed")
    }

    private mutating func parseString() throws(Malformed) -> String {
        index += 1                                  // the opening quote
        let start = index
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return s
            }
            if b == UInt8(ascii: "\\") { return try parseEscapedString(from: start) }
            if b < 0x20 { throw Malformed(reason: "control character in a string at column \(column())") }
            index += 1
        }
        throw Malformed(reason: "truncated: string not closed")
    }

    private mutating func parseEscapedString(from start: Int) throws(Malformed) -> String {
        var out = Array(bytes[start..<index])
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw Malformed(reason: "control character in a string at column \(column())") }
            guard b == UInt8(ascii: "\\") else { out.append(b); index += 1; continue }
            guard index + 1 < bytes.count else { break }
            let e = bytes[index + 1]
            index += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard index + 4 <= bytes.count, let code = UInt32(String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<(index + 4)]), as: UTF8.self), radix: 16) else {
                    throw Malformed(reason: "bad \\u escape at column \(column())")
                }
                index += 4
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"     // lone surrogates become U+FFFD
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw Malformed(reason: "bad escape \\\(Self.describe(e)) at column \(column() - 2)")
            }
        }
        throw Malformed(reason: "truncated: string not closed")
    }

    private mutating func parseNumber() throws(Malformed) -> Int64 {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        var value: Int64 = 0
        var digits = 0
        var overflow = false
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(bytes[index] - UInt8(ascii: "0")))
            overflow = overflow || o1 || o2
            value = a
            digits += 1
            index += 1
        }
        guard digits > 0 else { throw Malformed(reason: "bad number at column \(start + 1)") }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            let before = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            guard index > before else { throw Malformed(reason: "bad number at column \(start + 1)") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            let before = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            guard index > before else { throw Malformed(reason: "bad number at column \(start + 1)") }
        }
        if index < bytes.count {
            let b = bytes[index]
            let isDelimiter = b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]") || Self.isSpace(b)
            guard isDelimiter else { throw Malformed(reason: "bad number at column \(start + 1)") }
        }
        if isInteger && !overflow { return negative ? -value : value }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let d = Double(text), d.isFinite, abs(d) < 9.0e18 else {
            throw Malformed(reason: "number out of range at column \(start + 1)")
        }
        return Int64(d.rounded())
    }
}
