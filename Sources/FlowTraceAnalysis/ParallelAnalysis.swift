import FlowPipeline

/// How the parallel analysis runs.
public struct AnalysisSettings: Sendable {
    /// Compute threads (the parsers' workers); default: the usable CPUs.
    public var threads: Int = Executor.availableCPUs()
    /// Target chunk size in bytes.
    public var chunkSize: Int = 1 << 20
    /// Write the run's Chrome trace here.
    public var tracePath: String?
    /// Interval of the live constraint report (nil: no live report).
    public var reportInterval: Duration? = .milliseconds(250)
    /// Receives each live report line (and the final summary lines).
    public var reportHandler: (@Sendable (String) -> Void)?
    /// Draw the pipeline's progress bar on stderr when it is a terminal.
    public var progressBar = true

    public init() {}

    func validate() throws(FlowError) {
        if threads < 1 { throw .invalid("threads", threads, "must be at least 1") }
        if chunkSize < 4096 { throw .invalid("chunkSize", chunkSize, "must be at least 4096 bytes") }
        if let reportInterval, reportInterval <= .zero { throw .invalid("reportInterval", reportInterval, "must be positive") }
    }
}

/// What the parallel analysis returns besides the result: figures of the run.
public struct ParallelRun: Sendable {
    public var analysis: TraceAnalysis
    /// Time to index the files (the graph's `index` and `manifest` nodes).
    public var indexTime: Duration
    /// Time of the streaming phase (read → parse → aggregate → merge).
    public var streamTime: Duration
    /// Time to sort durations and build the table.
    public var finishTime: Duration
    /// Wall-clock time of the whole run.
    public var elapsed: Duration
    /// Chunks streamed.
    public var chunks: Int
    /// The stage the constraint reporter named most often during the stream
    /// (its cumulative verdict when no live sample named one; nil when no
    /// stage was ever saturated).
    public var bottleneck: String?
    /// Per stage: busy fraction of its workers over the stream, for the figures.
    public var stageUtilisation: [(stage: String, utilisation: Double)]
    /// Whether the watchdog saw the run responsive throughout, and what it reported.
    public var watchdogEvents: [String]
}

/// Runs the analysis on Flow: a `TaskGraph` indexes the files in parallel
/// and reduces their indexes to a manifest of chunks; an async node streams
/// the chunks through four stages (read → parse → aggregate → merge) on the
/// pipeline's executors; a last node sorts the durations into the table.
/// All of it inside one `Pipeline`, watchdog on.
public func analyseInParallel(files: [String], settings: AnalysisSettings = AnalysisSettings()) async throws -> ParallelRun {
    try settings.validate()
    var config = PipelineConfig()
        .name("trace-analysis")
        .computeThreads(settings.threads)
        .ioThreads(2)
        .watchdog(true)
        .globalTimeout(.seconds(3600))
        .timings(true)
        .progress(settings.progressBar ? .terminal : .off)
    if let path = settings.tracePath { config = config.trace(path) }
    let pipeline = try Pipeline(config)
    defer { pipeline.shutdown() }

    let clock = ContinuousClock()
    let start = clock.now
    let marks = Locked<[String: ContinuousClock.Instant]>([:])
    let streamFigures = Locked<StreamFigures?>(nil)

    let graph = TaskGraph("trace-analysis")
    let chunkSize = settings.chunkSize
    let indexes = graph.parallel(files.count, name: "index") { i in
        ChunkManifest(files: [try indexTraceFile(files[i], file: i, chunkSize: chunkSize)])
    }
    let manifest = graph.reduce(indexes, splitEvery: 8, name: "manifest") { ChunkManifest.merged($0) }
    let merged = graph.task("stream", after: manifest) { (manifest: ChunkManifest) async throws -> TraceMerger in
        marks.withLock { $0["stream"] = clock.now }
        let (merger, figures) = try await streamChunks(manifest, pipeline: pipeline, settings: settings)
        streamFigures.withLock { $0 = figures }
        marks.withLock { $0["finish"] = clock.now }
        return merger
    }
    let table = graph.task("table", after: merged, manifest) { (merger: TraceMerger, manifest: ChunkManifest) async throws in
        var merger = merger
        try await merger.sortDurations(on: pipeline.computeExecutor)
        return merger.finish(manifest: manifest)
    }
    let run = try await pipeline.run(graph)
    let end = clock.now
    guard let analysis = run[table], let figures = streamFigures.withLock({ $0 }) else {
        throw FlowError.rejected(operation: "trace analysis", reason: "the run ended without a result")
    }
    let (streamStart, finishStart) = marks.withLock { ($0["stream"] ?? start, $0["finish"] ?? end) }
    return ParallelRun(
        analysis: analysis,
        indexTime: streamStart - start,
        streamTime: finishStart - streamStart,
        finishTime: end - finishStart,
        elapsed: end - start,
        chunks: figures.chunks,
        bottleneck: figures.bottleneck,
        stageUtilisation: figures.utilisation,
        watchdogEvents: pipeline.events.map { "\($0)" })
}

struct StreamFigures: Sendable {
    var chunks: Int
    var bottleneck: String?
    var utilisation: [(stage: String, utilisation: Double)]
}

/// The streaming phase: read → parse → aggregate → merge, each a `Stage`
/// whose results feed the next (bounded buffers: a slow stage holds back
/// the ones before it).
func streamChunks(_ manifest: ChunkManifest, pipeline: Pipeline, settings: AnalysisSettings) async throws
    -> (TraceMerger, StreamFigures) {
    let compute = pipeline.computeExecutor
    let io = pipeline.ioExecutor ?? compute
    let handles = manifest.files.map(\.handle)
    let chunks = manifest.chunks
    let progress = pipeline.progressCounter("chunks")
    progress.addTotal(chunks.count)
    let clock = ContinuousClock()
    let streamStart = clock.now

    let read = try Stage<TraceChunk, ChunkBytes>(options: StageOptions(capacity: 4, workers: 2, executor: io)) { chunk in
        ChunkBytes(chunk: chunk, bytes: try handles[chunk.file].read(offset: chunk.offset, length: chunk.length))
    }
    let parse = try pipe(from: read.results, options: StageOptions(capacity: 2 * settings.threads, workers: settings.threads,
                                                                   outputCapacity: 2 * settings.threads, executor: compute)) {
        parseChunk($0)
    }
    let aggregate = try pipe(from: parse.results, options: StageOptions(capacity: 2, workers: settings.threads,
                                                                        executor: compute)) {
        aggregateChunk($0)
    }
    let state = Locked(TraceMerger(manifest: manifest))
    let merge = try pipe(from: aggregate.results, options: StageOptions(capacity: 2, workers: 1, executor: compute)) {
        (summary: ChunkSummary) in
        state.withLock { $0.merge(summary) }
        return summary.chunk.index
    }

    // The constraint analysis: the four stages as a topology, sampled every
    // interval by a reporter that never blocks them (it only reads stats).
    var topology = PipelineTopology()
    topology.addStage("read", read)
    topology.addStage("parse", parse)
    topology.addStage("aggregate", aggregate)
    topology.addStage("merge", merge)
    topology.addEdge(from: "read", to: "parse")
    topology.addEdge(from: "parse", to: "aggregate")
    topology.addEdge(from: "aggregate", to: "merge")
    let reporter = try ConstraintReporter(topology: try topology.freeze(), interval: settings.reportInterval ?? .seconds(1),
                                          handler: settings.reportHandler ?? { _ in })
    let reporting = settings.reportInterval.map { _ in Task { await reporter.run() } }

    let feeder = Task(executorPreference: io) {
        for chunk in chunks {
            do { try await read.submit(chunk) } catch { break }
        }
        read.closeInput()
    }
    var firstError: (any Error)?
    for await result in merge.results {
        progress.advance()
        if case let .failure(error) = result, firstError == nil {
            firstError = error
            read.cancel()
        }
    }
    await feeder.value
    reporting?.cancel()
    _ = await reporting?.value
    for cause in [await read.cause(), await parse.cause(), await aggregate.cause(), await merge.cause()] {
        if let error = cause.error, firstError == nil { firstError = error }
    }
    if let firstError { throw firstError }

    let elapsed = clock.now - streamStart
    if settings.reportInterval != nil { reporter.finish(elapsed: elapsed) }
    let stages: [(String, StageStats)] = [("read", read.stats), ("parse", parse.stats), ("aggregate", aggregate.stats),
                                          ("merge", merge.stats)]
    let utilisation = stages.map { name, stats in
        (stage: name, utilisation: stats.serviceTime / (elapsed * max(1, stats.targetWorkers)))
    }
    let merger = state.withLock { $0 }
    return (merger, StreamFigures(chunks: chunks.count, bottleneck: reporter.bottleneck, utilisation: utilisation))
}
