// flow-demo: the trace analysis of FlowTraceAnalysis, from the command line.
// `make demo` runs it; `make demo ARGS="--help"` lists the options.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FlowTraceAnalysis

let code = await DemoCommand.run(Array(CommandLine.arguments.dropFirst())) { line in
    print(line)
}
exit(code)
