// swift-tools-version: 6.1
import PackageDescription

// Flow's benchmarks: each comparison runs the Flow variant ("<name>:flow")
// and its baseline ("<name>:baseline") in one process; `make bench` prints
// `ratio <name>: <baseline p50 / flow p50>` for every pair.
let benchmarkDeps: [Target.Dependency] = [
    .product(name: "Benchmark", package: "benchmark"),
    "BenchmarkSupport",
]
let plugins: [Target.PluginUsage] = [.plugin(name: "BenchmarkPlugin", package: "benchmark")]

let package = Package(
    name: "FlowBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Flow", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-async-algorithms", exact: "1.1.4"),
    ],
    targets: [
        .target(
            name: "BenchmarkSupport",
            dependencies: [.product(name: "FlowAtomics", package: "Flow")],
            path: "Sources/BenchmarkSupport"),
        .executableTarget(
            name: "AtomicsBenchmarks",
            dependencies: benchmarkDeps + [.product(name: "FlowAtomics", package: "Flow")],
            path: "Benchmarks/AtomicsBenchmarks",
            plugins: plugins),
        .executableTarget(
            name: "ExecutorBenchmarks",
            dependencies: benchmarkDeps + [.product(name: "FlowExecutor", package: "Flow")],
            path: "Benchmarks/ExecutorBenchmarks",
            plugins: plugins),
        .executableTarget(
            name: "WatchdogBenchmarks",
            dependencies: benchmarkDeps + [.product(name: "FlowWatchdog", package: "Flow")],
            path: "Benchmarks/WatchdogBenchmarks",
            plugins: plugins),
        .executableTarget(
            name: "ChannelBenchmarks",
            dependencies: benchmarkDeps + [
                .product(name: "FlowChannels", package: "Flow"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ],
            path: "Benchmarks/ChannelBenchmarks",
            plugins: plugins),
        .executableTarget(
            name: "GraphBenchmarks",
            dependencies: benchmarkDeps + [.product(name: "FlowGraph", package: "Flow")],
            path: "Benchmarks/GraphBenchmarks",
            plugins: plugins),
        .executableTarget(
            name: "PipelineBenchmarks",
            dependencies: benchmarkDeps + [
                .product(name: "FlowPipeline", package: "Flow"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ],
            path: "Benchmarks/PipelineBenchmarks",
            plugins: plugins),
    ]
)
