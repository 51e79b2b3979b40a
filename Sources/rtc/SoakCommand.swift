import ArgumentParser
import DataChannel
import Foundation
import NIOConcurrencyHelpers
import SCTP
import WebRTC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `rtc soak`: many open/close cycles of a peer connection pair in this process, and a check that
/// file descriptors, threads, SCTP associations and memory come back to where they started.
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Open and close connected peer connections many times in this process; fail if anything leaks.",
        discussion: """
            Each cycle creates two peer connections on loopback, connects them, opens a channel, \
            sends text and binary messages both ways (each checked byte for byte), closes the channel \
            and both connections, and waits until the connections, the channels and the SCTP \
            association are freed. After one warm-up cycle the open file descriptors, threads, live \
            SCTP associations and resident memory are the baseline; they are sampled every \
            --sample-every cycles (progress on standard error) and at the end. Standard output is one \
            JSON line. Exit status 1 when descriptors, associations or threads other than the Swift \
            runtime's worker pool stay above the baseline, when that pool grew by more than its width \
            (one worker per core), or when memory grew by more than --rss-limit-mib.
            """
    )

    @Option(help: "Open/close cycles after the warm-up cycle.")
    var cycles = 1_000

    @Option(help: "Sample the figures every this many cycles (0: only at the end).")
    var sampleEvery = 100

    /// Why 8 MiB: a clean run grows by about 2 MiB, nearly all of it in the first 100 cycles (pools
    /// and caches reaching their working size), then stays flat; one connection pair with an open
    /// channel costs ~320 KiB (`rtc bench --memory-connections`), so leaking 8 KiB a cycle (2.5 %
    /// of a pair) fails 1 000 cycles (docs/reliability.md, "Soak").
    @Option(help: "How far resident memory may grow over the run, in MiB.")
    var rssLimitMib = 8.0

    @Option(help: "Seconds one cycle may take (set-up, data, close and release).")
    var cycleTimeout = 30.0

    @Option(help: "Seconds the process may take to become idle, before the baseline and at the end.")
    var settleTimeout = 20.0

    func validate() throws {
        guard cycles > 0 else { throw ValidationError("--cycles must be positive") }
        guard sampleEvery >= 0 else { throw ValidationError("--sample-every must not be negative") }
        guard rssLimitMib > 0, cycleTimeout > 0, settleTimeout > 0 else {
            throw ValidationError("--rss-limit-mib, --cycle-timeout and --settle-timeout must be positive")
        }
    }

    func run() async throws {
        let watchdog = Watchdog(cycles: cycles)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await watchdog.watch() }
            defer { group.cancelAll() }
            try await soak(watchdog: watchdog)
        }
    }

    private func soak(watchdog: Watchdog) async throws {
        let started = ContinuousClock.now
        let associationsAtStart = SCTPAssociation.liveAssociationCount
        // The warm-up cycle creates what lives as long as the process and so belongs in the
        // baseline: the event loop threads, usrsctp's stack and iterator thread, OpenSSL's tables,
        // the Swift runtime's metadata caches.
        try await cycle(0, associationsAtStart: associationsAtStart, watchdog: watchdog)
        let baseline = try await settled { previous, current in previous?.threads == current.threads }
        // After busy cycles the runtime's worker pool may keep up to its width (one worker per
        // core) more idle workers than after the warm-up (ProcessFigures.workerThreads).
        let workerAllowance = ProcessInfo.processInfo.activeProcessorCount
        var samples: [(cycle: Int, figures: ProcessFigures)] = [(0, baseline)]
        printError("soak: baseline after the warm-up cycle: \(baseline); threads: \(ProcessFigures.threadNames().joined(separator: ", "))")

        let loopStarted = ContinuousClock.now
        for index in 1...cycles {
            try await cycle(index, associationsAtStart: associationsAtStart, watchdog: watchdog)
            if sampleEvery > 0, index % sampleEvery == 0, index < cycles {
                let figures = ProcessFigures.measure()
                samples.append((index, figures))
                printError("soak: after \(index) cycles: \(figures); threads: \(ProcessFigures.threadNames().joined(separator: ", "))")
            }
        }
        let perCycle = loopStarted.duration(to: .now).seconds / Double(cycles)

        // Descriptors and associations are released by the time `cycle` returns; threads may
        // take a moment to exit.
        let final = try await settled { _, current in current.isBack(to: baseline, workerAllowance: workerAllowance) }
        samples.append((cycles, final))
        let seconds = started.duration(to: .now).seconds
        printError("soak: after \(cycles) cycles: \(final); threads: \(ProcessFigures.threadNames().joined(separator: ", "))")

        let growth = final.resident - baseline.resident
        var failures: [String] = []
        if final.descriptors > baseline.descriptors { failures.append("file descriptors \(baseline.descriptors) → \(final.descriptors)") }
        if final.ownThreads > baseline.ownThreads || final.workerThreads > baseline.workerThreads + workerAllowance {
            failures.append(
                "threads \(baseline.threads) → \(final.threads), of which runtime workers \(baseline.workerThreads) → \(final.workerThreads) (\(ProcessFigures.threadNames().joined(separator: ", ")))")
        }
        if final.associations != baseline.associations { failures.append("SCTP associations \(baseline.associations) → \(final.associations)") }
        if Double(growth) > rssLimitMib * 1_048_576 {
            failures.append("RSS grew by \(fixed(Double(growth) / 1_048_576)) MiB (limit \(rssLimitMib) MiB)")
        }

        print(
            JSON.object([
                "mode": .string("soak"), "ok": .bool(failures.isEmpty), "cycles": .integer(Int64(cycles)),
                "seconds": .double((seconds * 10).rounded() / 10),
                "ms_per_cycle": .double((perCycle * 10_000).rounded() / 10),
                "before": baseline.json, "after": final.json,
                "rss_growth_kib": .integer(Int64(growth / 1024)),
                "rss_limit_mib": .double(rssLimitMib),
                "unknown_sctp_callbacks": .integer(Int64(SCTPAssociation.unknownCallbackCount)),
                "samples": .array(samples.map { sample in
                    .object([("cycle", .integer(Int64(sample.cycle)))] + (sample.figures.json.members))
                }),
                "failures": .array(failures.map(JSON.string)),
            ]).compact())
        if !failures.isEmpty {
            printError("soak: failed: " + failures.joined(separator: "; "))
            throw ExitCode(1)
        }
    }

    /// The figures once `done(previous, current)` holds, measured every `idleSample`, or after
    /// `--settle-timeout`.
    ///
    /// The baseline waits until the thread count holds still, so that threads started by the
    /// warm-up and about to end do not count.
    private func settled(until done: (ProcessFigures?, ProcessFigures) -> Bool) async throws -> ProcessFigures {
        let deadline = ContinuousClock.now + .milliseconds(Int64(settleTimeout * 1000))
        var previous: ProcessFigures?
        var current = ProcessFigures.measure()
        while !done(previous, current), ContinuousClock.now < deadline {
            try await Task.sleep(for: Self.idleSample)
            previous = current
            current = ProcessFigures.measure()
        }
        return current
    }

    static let idleSample: Duration = .seconds(1)

    /// One cycle, bounded by `--cycle-timeout`: connect, exchange, close, and wait until the
    /// connections and channels are freed and the association count is back to `associationsAtStart`.
    private func cycle(_ index: Int, associationsAtStart: Int, watchdog: Watchdog) async throws {
        watchdog.arm(cycle: index, limit: .milliseconds(Int64(cycleTimeout * 1000)))
        defer { watchdog.disarm() }
        let released = try await exchange(index)
        // Freed once the tasks that held them (signaling, event forwarding) have ended.
        while !released.isEmpty || SCTPAssociation.liveAssociationCount != associationsAtStart {
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Connects a pair, opens a channel, checks messages both ways, closes everything and hands
    /// back weak references to what must now be freed.
    private func exchange(_ index: Int) async throws -> WeakReferences {
        let peers = try InProcessPeers()
        let local = try await peers.offerer.createDataChannel("soak \(index)")
        try await peers.negotiate()
        var incoming = peers.incoming.makeAsyncIterator()
        guard let remote = await incoming.next() else { throw ToolFailure("cycle \(index): the answerer got no channel") }
        try await waitUntilOpen(local)
        try await waitUntilOpen(remote)

        async let forth: Void = Self.check(from: local, to: remote, cycle: index, direction: 0)
        async let back: Void = Self.check(from: remote, to: local, cycle: index, direction: 1)
        _ = try await (forth, back)

        // The channel closes by a stream reset (RFC 8831 §6.7) before the connections close.
        local.close()
        try await waitUntilClosed(local)
        try await waitUntilClosed(remote)
        await peers.close()
        return WeakReferences([peers.offerer, peers.answerer, local, remote])
    }

    /// A text message and binary ones of one byte, 1 200 bytes (two SCTP packets) and 70 000 bytes
    /// (past usrsctp's 64 KiB partial-delivery point) sent from `sender`, checked byte for byte at
    /// `receiver`.
    private static func check(from sender: DataChannel, to receiver: DataChannel, cycle: Int, direction: Int) async throws {
        let expected = messages(cycle: cycle, direction: direction)
        async let received: [DataChannelMessage] = {
            var received: [DataChannelMessage] = []
            for await message in receiver.messages {
                received.append(message)
                if received.count == expected.count { break }
            }
            return received
        }()
        for message in expected {
            try await sender.send(message)
        }
        guard await received == expected else {
            throw ToolFailure("cycle \(cycle): the messages on '\(sender.label)' (direction \(direction)) arrived changed or incomplete")
        }
    }

    /// Contents that differ by cycle and direction, so a message from another cycle or the other
    /// direction can never pass the check.
    private static func messages(cycle: Int, direction: Int) -> [DataChannelMessage] {
        let seed = UInt8(truncatingIfNeeded: cycle &* 2 &+ direction)
        func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed } }
        return [.text("soak cycle \(cycle) direction \(direction)"), .binary(pattern(1)), .binary(pattern(1_200)), .binary(pattern(70_000))]
    }
}

/// Bounds every cycle with one task for the whole run.
///
/// A timeout task per cycle that sleeps and is cancelled when the cycle ends would stay allocated,
/// with its dispatch timer, until its deadline passes: heaptrack found ~0.6 KiB a cycle held for
/// the 30 s of `--cycle-timeout`, which the soak then measured as a growth of RSS.
private final class Watchdog: Sendable {
    private let cycles: Int
    private let current = NIOLockedValueBox<(cycle: Int, deadline: ContinuousClock.Instant)?>(nil)

    init(cycles: Int) {
        self.cycles = cycles
    }

    func arm(cycle: Int, limit: Duration) {
        current.withLockedValue { $0 = (cycle, .now + limit) }
    }

    func disarm() {
        current.withLockedValue { $0 = nil }
    }

    /// Runs until cancelled. A cycle past its deadline ends the process with the soak's failure
    /// line: a stuck cycle need not heed cancellation, and waiting for it would be unbounded.
    func watch() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            guard let overdue = current.withLockedValue({ $0 }), ContinuousClock.now > overdue.deadline else { continue }
            let failure = "cycle \(overdue.cycle) did not connect, exchange, close and release in time (--cycle-timeout)"
            print(
                JSON.object([
                    "mode": .string("soak"), "ok": .bool(false), "cycles": .integer(Int64(cycles)),
                    "failures": .array([.string(failure)]),
                ]).compact())
            printError("soak: failed: \(failure)")
            exit(1)
        }
    }
}

/// Weak references to a cycle's connections and channels: empty once all are freed.
private struct WeakReferences: Sendable {
    private struct Reference: Sendable {
        weak var object: (AnyObject & Sendable)?
    }

    private let references: [Reference]

    init(_ objects: [AnyObject & Sendable]) {
        references = objects.map { Reference(object: $0) }
    }

    var isEmpty: Bool { references.allSatisfy { $0.object == nil } }
}

/// Returns once `channel` is closed (its events end with `.closed`).
private func waitUntilClosed(_ channel: DataChannel) async throws {
    var events = channel.events.makeAsyncIterator()
    while channel.readyState != .closed {
        guard await events.next() != nil else { break }
    }
    guard channel.readyState == .closed else { throw ToolFailure("the channel '\(channel.label)' did not close") }
}

/// What the soak compares with its baseline; Linux only (`/proc/self`), zero elsewhere.
struct ProcessFigures: CustomStringConvertible {
    /// Open file descriptors (entries of /proc/self/fd, the directory's own included every time).
    var descriptors: Int
    /// Threads (entries of /proc/self/task).
    var threads: Int
    /// Of ``threads``, libdispatch's root-queue workers, which run Swift tasks: libdispatch sizes
    /// that pool with the load (the cooperative width is one per core, and it adds workers while
    /// others block) and keeps idle workers around, so after a busy run it may hold a few more
    /// than after the warm-up without anything having leaked. It names them after their queue,
    /// `com.apple.root.<qos>-qos[.overcommit]` (the kernel keeps 15 characters of it).
    var workerThreads: Int
    /// The other threads: the event loops, usrsctp's iterator, the main thread, anything of ours.
    var ownThreads: Int { threads - workerThreads }
    /// SCTP associations registered with the process-wide usrsctp stack.
    var associations: Int
    /// Resident set size after giving freed heap back to the system.
    var resident: Int

    static func measure() -> ProcessFigures {
        // glibc keeps freed memory in its arenas (one per thread that allocated, up to eight per
        // core) instead of returning it: RSS would then count memory that is free and reusable,
        // and vary with which thread freed what. malloc_trim(0) returns the free pages of every
        // arena first, so what remains resident is memory in use plus unavoidable fragmentation.
        trimHeap()
        let names = threadNamesWithRepeats()
        return ProcessFigures(
            descriptors: entries(of: "/proc/self/fd"), threads: names.count,
            workerThreads: names.count { $0.contains("-qos") },
            associations: SCTPAssociation.liveAssociationCount, resident: residentBytes())
    }

    /// Whether descriptors, our threads and associations are back to (or below) `baseline`'s, and
    /// the runtime's workers within `workerAllowance` of it.
    func isBack(to baseline: ProcessFigures, workerAllowance: Int) -> Bool {
        descriptors <= baseline.descriptors && ownThreads <= baseline.ownThreads
            && workerThreads <= baseline.workerThreads + workerAllowance && associations == baseline.associations
    }

    var json: JSON {
        .object([
            "fds": .integer(Int64(descriptors)), "threads": .integer(Int64(threads)),
            "runtime_worker_threads": .integer(Int64(workerThreads)),
            "sctp_associations": .integer(Int64(associations)),
            "rss_mib": .double((Double(resident) / 1_048_576 * 100).rounded() / 100),
        ])
    }

    var description: String {
        "\(descriptors) fds, \(threads) threads (\(workerThreads) runtime workers), \(associations) SCTP associations, RSS \(fixed(Double(resident) / 1_048_576)) MiB"
    }

    /// The threads' names (`comm`), sorted with their counts, to tell which kind is left over.
    static func threadNames() -> [String] {
        var counts: [String: Int] = [:]
        for name in threadNamesWithRepeats() { counts[name, default: 0] += 1 }
        return counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
    }

    /// One name per thread.
    private static func threadNamesWithRepeats() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.map { task in
            let name = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? "?"
            return name.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    private static func entries(of directory: String) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: directory).count) ?? 0
    }

    /// `malloc_trim` is glibc's and not in Swift's Glibc module map: looked up at run time, and
    /// skipped where the C library has none.
    private static func trimHeap() {
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let handle = dlopen(nil, RTLD_NOW) else { return }
        defer { dlclose(handle) }
        guard let symbol = dlsym(handle, "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
    }
}

extension JSON {
    /// An object's members, for building one object out of others.
    var members: [(key: String, value: JSON)] {
        if case .object(let members) = self { return members }
        return []
    }
}
