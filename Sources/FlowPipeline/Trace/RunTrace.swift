/// Lays a finished graph run out as a Chrome trace: one track per worker,
/// one complete event per node that ran.
///
/// The run's timings give each node's start relative to the run's start
/// and its duration; the observer gives each worker's units of work in
/// absolute time. The run's start is known to lie in a short window
/// (`earliest...latest`, measured around `GraphPlan.run`), so each
/// synchronous node goes on the worker whose unit of work overlaps it most,
/// clamped inside that unit. A node longer than any unit that could hold
/// it ran `async` (its awaits are not work on a worker): it goes on an
/// "async" lane, one lane per overlapping node.
struct RunTrace {
    let pipeline: String
    let executor: String
    let run: GraphRun
    let slices: [[WorkSlice]]
    /// Bounds on the run's start (monotonic ns).
    let earliest: UInt64
    let latest: UInt64

    func build() -> ChromeTrace {
        var trace = ChromeTrace()
        for worker in slices.indices { trace.addTrack(worker + 1, name: "\(executor)-\(worker)") }
        let elapsed = UInt64(max(0, run.elapsed.nanosecondsClamped))
        let latestStart = max(earliest, latest >= elapsed ? latest - elapsed : earliest)
        let base = calibratedStart(earliest: earliest, latest: latestStart)
        var lanes: [UInt64] = []   // end of the last event on each async lane
        var occupied: [Int: [(UInt64, UInt64)]] = [:]   // nodes placed in each unit of work
        for node in run.nodes {
            guard let started = node.started, let duration = node.duration else { continue }
            let start = base &+ UInt64(max(0, started.nanosecondsClamped))
            let length = UInt64(max(0, duration.nanosecondsClamped))
            let args = [("state", node.state.description), ("index", String(node.index))]
            if let (worker, slice) = bestSlice(start: start, length: length, occupied: &occupied) {
                let placed = min(max(start, slice.start), slice.end &- min(length, slice.end &- slice.start))
                trace.add(.init(name: node.name, category: "task", track: worker + 1, start: placed,
                                duration: length, args: args))
            } else {
                let lane = lanes.firstIndex { $0 <= start } ?? lanes.count
                if lane == lanes.count {
                    lanes.append(0)
                    trace.addTrack(slices.count + 1 + lane, name: "async tasks \(lane)")
                }
                lanes[lane] = start &+ length
                trace.add(.init(name: node.name, category: "async task", track: slices.count + 1 + lane,
                                start: start, duration: length, args: args))
            }
        }
        return trace
    }

    /// The run's start within `earliest...latest`: the instant at which the
    /// most nodes fit inside a unit of work of some worker (each node fits
    /// for the starts in an interval per unit: a sweep over those
    /// intervals). The middle of the best range; the window's middle when
    /// nothing fits.
    private func calibratedStart(earliest: UInt64, latest: UInt64) -> UInt64 {
        var points: [(at: UInt64, delta: Int)] = []
        for node in run.nodes {
            guard let started = node.started, let duration = node.duration else { continue }
            let s = UInt64(max(0, started.nanosecondsClamped))
            let e = s &+ UInt64(max(0, duration.nanosecondsClamped))
            for list in slices {
                // the first unit ending after the earliest possible start (ends are ordered too)
                var lo = 0, hi = list.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if list[mid].end < earliest &+ s { lo = mid + 1 } else { hi = mid }
                }
                var i = lo
                while i < list.count, list[i].start <= latest &+ e {
                    let slice = list[i]
                    i += 1
                    guard slice.start >= s, slice.end >= e, slice.end &- slice.start >= e &- s else { continue }
                    let from = max(earliest, slice.start &- s), to = min(latest, slice.end &- e)
                    if from <= to {
                        points.append((from, 1))
                        points.append((to &+ 1, -1))
                    }
                }
            }
        }
        guard !points.isEmpty else { return earliest + (latest - earliest) / 2 }
        points.sort { $0.at != $1.at ? $0.at < $1.at : $0.delta < $1.delta }
        var count = 0, best = 0
        var bestFrom = earliest, bestTo = earliest
        for (k, point) in points.enumerated() {
            count += point.delta
            if count > best, k + 1 < points.count {
                best = count
                bestFrom = point.at
                bestTo = points[k + 1].at &- 1
            }
        }
        return bestFrom + (max(bestFrom, bestTo) - bestFrom) / 2
    }

    /// The unit of work for a node: among the units that contain it and
    /// hold no node overlapping it yet, the tightest (two workers running
    /// equal nodes in step both contain each other's); else the unit that
    /// overlaps it most. Nil when no unit is long enough to hold it.
    private func bestSlice(start: UInt64, length: UInt64, occupied: inout [Int: [(UInt64, UInt64)]]) -> (Int, WorkSlice)? {
        let end = start &+ length
        var fitting: (worker: Int, key: Int, slice: WorkSlice)?
        var overlapping: (worker: Int, key: Int, slice: WorkSlice, overlap: Int64)?
        for (worker, list) in slices.enumerated() {
            var lo = 0, hi = list.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if list[mid].start <= end { lo = mid + 1 } else { hi = mid }
            }
            for i in stride(from: lo - 1, through: max(0, lo - 3), by: -1) where i >= 0 {
                let slice = list[i]
                guard slice.end &- slice.start >= length else { continue }
                let key = worker << 40 | i
                if slice.start <= start && end <= slice.end,
                   !(occupied[key] ?? []).contains(where: { $0.0 < end && start < $0.1 }),
                   fitting == nil || slice.end &- slice.start < fitting!.slice.end &- fitting!.slice.start {
                    fitting = (worker, key, slice)
                }
                let overlap = Int64(bitPattern: min(end, slice.end) &- max(start, slice.start))
                if overlapping == nil || overlap > overlapping!.overlap { overlapping = (worker, key, slice, overlap) }
            }
        }
        if let fitting {
            occupied[fitting.key, default: []].append((start, end))
            return (fitting.worker, fitting.slice)
        }
        guard let overlapping, overlapping.overlap > 0 else { return nil }
        return (overlapping.worker, overlapping.slice)
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to Int64.
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (seconds < 0 ? .min : .max) : product &+ attoseconds / 1_000_000_000
    }
}
