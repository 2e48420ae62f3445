import FlowAtomics

/// Starts a stage fed from an upstream sequence of results.
///
/// A feeder task reads `upstream` to its end: each `.success` is admitted
/// to the workers (waiting at the WIP limit), each `.failure` goes straight
/// to the output without reaching `body` and without triggering fail-fast
/// (error passthrough: it may overtake queued successes). After fail-fast
/// or ``Stage/cancel()`` the feeder keeps reading the upstream to its end,
/// counting what it drops, so no upstream producer blocks forever.
///
/// The stage's input belongs to the feeder: ``Stage/submit(_:)`` is refused
/// and ``Stage/closeInput()`` does nothing. After ``Stage/wait()``:
/// `received == submitted + forwarded + dropped`.
@inlinable public func pipe<Input: Sendable, Output: Sendable>(
    from upstream: some AsyncSequence<Result<Input, any Error>, Never> & Sendable,
    options: StageOptions<Input> = StageOptions(),
    _ body: @escaping @Sendable (Input) async throws -> Output
) throws(FlowError) -> Stage<Input, Output> {
    let stage = try Stage<Input, Output>(options: options, piped: true, body)
    startTask(options.executor) { await stage.feed(from: upstream) }
    return stage
}

extension Stage {
    @inlinable func feed(from upstream: some AsyncSequence<Result<Input, any Error>, Never>) async {
        for await element in upstream {
            switch element {
            case let .success(item):
                do {
                    try await admit(item, fromFeeder: true)
                } catch {
                    state.withLock {
                        $0.stats.received += 1
                        $0.stats.dropped += 1
                    }
                }
            case let .failure(error):
                let stopped = state.withLock { $0.stopped }
                if stopped {
                    state.withLock {
                        $0.stats.received += 1
                        $0.stats.dropped += 1
                    }
                } else {
                    _ = await output.send(.failure(error))
                    state.withLock {
                        $0.stats.received += 1
                        $0.stats.forwarded += 1
                    }
                }
            }
        }
        var effects = StageEffects<Input>()
        state.withLock {
            $0.producers -= 1
            $0.closeInput(&effects)
            $0.maybeFinish(&effects)
        }
        perform(effects)
    }
}
