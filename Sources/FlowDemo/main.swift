// flow-demo: the trace analysis of FlowTraceAnalysis, from the command line.
// `make demo` runs it; `make demo ARGS="--help"` lists the options.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FlowTraceAnalysis

// The pipeline's progress bar is redrawn in place on stderr; when both
// streams are the terminal, each output line first clears the bar's line.
let clearsBar = isatty(1) == 1 && isatty(2) == 1
let code = await DemoCommand.run(Array(CommandLine.arguments.dropFirst())) { line in
    print(clearsBar ? "\r\u{1B}[2K" + line : line)
}
exit(code)
