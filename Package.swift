// swift-tools-version: 6.0
import PackageDescription

// Flow: layered parallel data processing for one machine.
// Each library target depends only on the layer directly below it
// (../shared/DESIGN.md, "Layers"); `make test` runs check-layers to keep it so.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Flow",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "FlowAtomics", targets: ["FlowAtomics"]),
        .library(name: "FlowExecutor", targets: ["FlowExecutor"]),
        .library(name: "FlowWatchdog", targets: ["FlowWatchdog"]),
        .library(name: "FlowChannels", targets: ["FlowChannels"]),
        .library(name: "FlowGraph", targets: ["FlowGraph"]),
        .library(name: "FlowPipeline", targets: ["FlowPipeline"]),
        .executable(name: "flow-demo", targets: ["FlowDemo"]),
    ],
    targets: [
        .target(name: "FlowAtomics", swiftSettings: strict),
        .target(name: "FlowExecutor", dependencies: ["FlowAtomics"], swiftSettings: strict),
        .target(name: "FlowWatchdog", dependencies: ["FlowAtomics"], swiftSettings: strict),
        .target(name: "FlowChannels", dependencies: ["FlowExecutor", "FlowWatchdog"], swiftSettings: strict),
        .target(name: "FlowGraph", dependencies: ["FlowChannels"], swiftSettings: strict),
        .target(name: "FlowPipeline", dependencies: ["FlowGraph"], swiftSettings: strict),

        // The main job: trace analysis on every layer (the library behind flow-demo).
        .target(name: "FlowTraceAnalysis", dependencies: ["FlowPipeline"], swiftSettings: strict),
        .executableTarget(name: "FlowDemo", dependencies: ["FlowTraceAnalysis"], swiftSettings: strict),

        .target(name: "FlowTestSupport", dependencies: ["FlowAtomics"], path: "Tests/FlowTestSupport", swiftSettings: strict),

        .testTarget(name: "FlowTestSupportTests", dependencies: ["FlowTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlowAtomicsTests", dependencies: ["FlowAtomics", "FlowTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlowExecutorTests", dependencies: ["FlowExecutor", "FlowTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlowChannelsTests", dependencies: ["FlowChannels", "FlowTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlowGraphTests", dependencies: ["FlowGraph", "FlowTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlowPipelineTests", dependencies: ["FlowPipeline", "FlowTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlowTraceAnalysisTests", dependencies: ["FlowTraceAnalysis", "FlowPipeline", "FlowTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlowWatchdogTests", dependencies: ["FlowWatchdog", "FlowTestSupport"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
