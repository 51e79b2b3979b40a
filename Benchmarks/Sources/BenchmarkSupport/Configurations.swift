import Benchmark

/// How far a metric's p90 may move from the p90 stored in `Thresholds/*.json` before
/// `swift package benchmark thresholds check` reports it.
///
/// This machine class has 2 shared cores and its speed drifts by 2× within an hour, so the
/// tolerances follow how deterministic each metric is:
///
/// - allocations are (almost) exact: they guard regressions tightly;
/// - instructions would be nearly as exact where the CPU exposes a counter (this VM has none:
///   the metric is then absent from the results and from the stored thresholds);
/// - wall time catches only gross regressions (3× slower), never noise; rates, next to
///   nothing (see ``ratePercent``).
enum Tolerance {
    /// Mallocs a sample of one operation may gain: none. Its p90 is an exact count (for a packet,
    /// that of the packets that also make a SACK), so any new allocation on the path fails.
    static let mallocsPerSingleOperationSample = 0
    /// Mallocs a sample of 1000 operations may gain: 0.1 per operation, so one extra allocation
    /// per operation (+1000) fails while a rare one (a queue growing) does not.
    static let mallocsPerThousandOperationSample = 100
    /// Relative slack for the allocations of whole transfers. They follow how often SCTP
    /// acknowledges and how the timers fall, which move with the machine's speed, yet repeat to
    /// 0.1% here; one more allocation per packet would add about 5%.
    static let transferMallocsPercent = 2.0
    /// Wall time may grow by 200% (to 3×): the time guard.
    static let wallClockPercent = 200.0
    /// Rates (throughput, MB/s) are the same samples as wall time, seen inverted, and benchmark
    /// 1.38.1 stores their fast tail (its raw 90th percentile) but checks the slow one (the 10th),
    /// so the two differ by the run's whole spread before anything regressed. Only a collapse to
    /// a tenth of the stored rate fails; wall time catches the 3× regressions.
    static let ratePercent = 90.0
    /// Instructions are near-deterministic; 10% leaves room for toolchain and library updates.
    static let instructionsPercent = 10.0
}

extension BenchmarkMetric {
    /// A rate in MB/s (10^6 bytes per second) that a benchmark measures and reports itself.
    public static var megabytesPerSecond: BenchmarkMetric {
        .custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)
    }
}

extension Benchmark.Configuration {
    /// For benchmarks that run `scalingFactor` operations per sample, so that every figure is
    /// per operation: `.kilo` for fast operations (the harness's own cost per sample vanishes in
    /// the division), `.one` where each sample needs unmeasured preparation (a packet to receive).
    ///
    /// One-operation samples do without instructions: to count them the harness also samples
    /// `/proc` at the edges of the measured window, and those reads allocate 16 times inside it,
    /// which would bury a packet's own handful of allocations.
    public static func perOperation(
        scalingFactor: BenchmarkScalingFactor, maxDuration: Duration = .seconds(2), maxIterations: Int = 100_000
    ) -> Self {
        let single = scalingFactor == .one
        var thresholds: [BenchmarkMetric: BenchmarkThresholds] = [
            .wallClock: .init(relative: [.p90: Tolerance.wallClockPercent]),
            .throughput: .init(relative: [.p90: Tolerance.ratePercent]),
            .mallocCountTotal: .init(absolute: [
                .p90: single ? Tolerance.mallocsPerSingleOperationSample : Tolerance.mallocsPerThousandOperationSample
            ]),
        ]
        if !single {
            thresholds[.instructions] = .init(relative: [.p90: Tolerance.instructionsPercent])
        }
        return .init(
            // Every metric measured has its tolerance: one without would be checked exactly.
            metrics: Array(thresholds.keys),
            scalingFactor: scalingFactor,
            maxDuration: maxDuration,
            maxIterations: maxIterations,
            thresholds: thresholds
        )
    }

    /// For benchmarks whose sample is one whole transfer, which reports its rate as
    /// ``Benchmark/BenchmarkMetric/megabytesPerSecond``.
    public static func perTransfer(samples: Int, maxDuration: Duration = .seconds(60)) -> Self {
        .init(
            metrics: [.wallClock, .throughput, .megabytesPerSecond, .mallocCountTotal, .instructions],
            warmupIterations: 1,
            scalingFactor: .one,
            maxDuration: maxDuration,
            maxIterations: samples,
            thresholds: [
                .wallClock: .init(relative: [.p90: Tolerance.wallClockPercent]),
                .throughput: .init(relative: [.p90: Tolerance.ratePercent]),
                .megabytesPerSecond: .init(relative: [.p90: Tolerance.ratePercent]),
                .mallocCountTotal: .init(relative: [.p90: Tolerance.transferMallocsPercent]),
                .instructions: .init(relative: [.p90: Tolerance.instructionsPercent]),
            ]
        )
    }
}
