import FlowTraceAnalysis
import Testing

@Suite("Trace line parser")
struct TraceParserTests {
    @Test func completeEvent() {
        let line = #"{"id":7,"name":"read","cat":"POSIX","pid":1001,"tid":10013,"ts":1700000000123,"dur":153,"ph":"X","args":{"fname":"/scratch/a.h5","size":4096}}"#
        #expect(parseTraceLine(line) == .event(TraceEvent(name: "read", category: "POSIX", pid: 1001, tid: 10013,
                                                          timestamp: 1_700_000_000_123, duration: 153,
                                                          file: "/scratch/a.h5", bytes: 4096)))
    }

    @Test func optionalFieldsDefaultAndOrderDoesNotMatter() {
        let line = #"  {"dur": 2.6, "ts": 1e3, "cat": "H5", "name": "H5Fopen", "extra": [1, {"x": null}, true, "s"]} "#
        #expect(parseTraceLine(line) == .event(TraceEvent(name: "H5Fopen", category: "H5", timestamp: 1000, duration: 3)))
    }

    @Test func escapesAreDecoded() {
        let line = #"{"name":"w\"rite\u00e9","cat":"PO\\SIX","ts":1,"dur":2,"args":{"fname":"a\/b\tc"}}"#
        #expect(parseTraceLine(line) == .event(TraceEvent(name: "w\"riteé", category: "PO\\SIX", timestamp: 1, duration: 2,
                                                          file: "a/b\tc")))
    }

    @Test func arrayWrappedTracesAndOtherPhasesAreSkipped() {
        #expect(parseTraceLine("") == .skipped)
        #expect(parseTraceLine("   ") == .skipped)
        #expect(parseTraceLine("[") == .skipped)
        #expect(parseTraceLine("]") == .skipped)
        #expect(parseTraceLine(#"{"name":"PR","cat":"dftracer","ph":"M","pid":1,"args":{"name":"host"}}"#) == .skipped)
        // An event followed by the comma of an array-wrapped trace, and a CR.
        let line = "{\"name\":\"read\",\"cat\":\"POSIX\",\"ts\":5,\"dur\":6},\r"
        #expect(parseTraceLine(line) == .event(TraceEvent(name: "read", category: "POSIX", timestamp: 5, duration: 6)))
    }

    @Test(arguments: [
        (#"{"name":"read","cat":"POSIX","ts":5,"dur":6"#, "truncated: object not closed"),
        (#"{"name":"read","cat":"POSIX","ts":5"#, "truncated: object not closed"),
        (#"{"name":"re"#, "truncated: string not closed"),
        ("\u{1}\u{2}garbage", "not a JSON object (starts with byte 0x1)"),
        (#"{"name":"read","cat":"POSIX","ts":5}"#, "missing field 'dur'"),
        (#"{"name":"read","ts":5,"dur":1}"#, "missing field 'cat'"),
        (#"{"name":"read","cat":"POSIX","ts":5,"dur":"12"}"#, "field 'dur' is not a number"),
        (#"{"name":7,"cat":"POSIX","ts":5,"dur":12}"#, "field 'name' is not a string"),
        (#"{"name":"read","cat":"POSIX","ts":5,"dur":12x}"#, "bad number at column 43"),
        (#"{"name":"read","cat":"POSIX","ts":5,"dur":-3}"#, "negative 'dur' -3"),
        (#"{"name":"read","cat":"POSIX","ts":5,"dur":3}}"#, "trailing data at column 45"),
        (#"{"name":"r\qd","cat":"POSIX","ts":5,"dur":3}"#, "bad escape \\'q' at column 11"),
        (#"{"name":"read" "cat":"POSIX"}"#, "expected ',' or '}' at column 16, found '\"'"),
        (#"{"name":"read","args":{"fname":[1,2},"cat":"POSIX","ts":5,"dur":3}"#, "mismatched '}' at column 36"),
    ])
    func malformedLinesSayWhy(line: String, reason: String) {
        #expect(parseTraceLine(line) == .malformed(reason))
    }
}
