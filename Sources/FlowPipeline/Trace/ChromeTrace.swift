#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A trace in Chrome's trace-event format (JSON), loadable in Perfetto
/// (ui.perfetto.dev) and chrome://tracing: named tracks (threads) holding
/// complete events ("ph": "X") with microsecond start and duration.
struct ChromeTrace {
    struct Event {
        let name: String
        let category: String
        let track: Int
        /// Nanoseconds on the monotonic clock.
        let start: UInt64
        let duration: UInt64
        let args: [(String, String)]
    }

    private(set) var tracks: [(id: Int, name: String)] = []
    private(set) var events: [Event] = []

    mutating func addTrack(_ id: Int, name: String) { tracks.append((id, name)) }
    mutating func add(_ event: Event) { events.append(event) }

    /// The JSON text; times are relative to the earliest event.
    func json(process: String) -> String {
        let origin = events.map(\.start).min() ?? 0
        var out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n"
        out += "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\(quote(process))}}"
        for track in tracks {
            out += ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":\(track.id),\"args\":{\"name\":\(quote(track.name))}}"
            out += ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":\(track.id),\"args\":{\"sort_index\":\(track.id)}}"
        }
        for e in events {
            out += ",\n{\"name\":\(quote(e.name)),\"cat\":\(quote(e.category)),\"ph\":\"X\",\"pid\":1,\"tid\":\(e.track)"
            out += ",\"ts\":\(micros(e.start &- origin)),\"dur\":\(micros(e.duration))"
            out += ",\"args\":{" + e.args.map { "\(quote($0.0)):\(quote($0.1))" }.joined(separator: ",") + "}}"
        }
        out += "\n]}\n"
        return out
    }

    /// Writes `text` to `path` (created or truncated); the errno on failure.
    static func write(_ text: String, to path: String) -> Int32? {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var utf8 = Array(text.utf8)
        var offset = 0
        while offset < utf8.count {
            let n = utf8.withUnsafeMutableBytes { systemWrite(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return errno }
            offset += n
        }
        return nil
    }

    private func micros(_ nanoseconds: UInt64) -> String {
        let whole = nanoseconds / 1_000, fraction = nanoseconds % 1_000
        let digits = String(fraction)
        return "\(whole)." + String(repeating: "0", count: 3 - digits.count) + digits
    }

    private func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// `write(2)`, named apart from `ChromeTrace.write`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
