/// Puts a peer's application-data records back in sending order before they are decrypted, when
/// the path reorders them.
///
/// Why: SCTP (RFC 9260 §7.2.4) takes a TSN reported missing in three SACKs as lost, retransmits
/// it and halves its congestion window. A path that reorders (per-packet jitter, parallel links)
/// does exactly that to packets that are only late, so usrsctp, which has no reordering
/// detection of its own, collapses to a fraction of the path's capacity; OpenSSL's replay window
/// (64 records) also drops records that arrive further behind. DTLS numbers every record
/// (RFC 6347 §4.1: epoch and 48-bit sequence number, in clear), so the receiver can see
/// reordering before SCTP does. This buffer holds a record that arrives ahead of a gap for up to
/// ``window``, hoping that the gap fills, as RACK (RFC 8985 §6.2) holds off loss detection for
/// a reordering window on the sender.
///
/// The window adapts, like RACK's: a quarter more than the longest delay seen between a record
/// being overtaken and its arrival (at most ``Configuration/maximumWindow``), starting from
/// ``Configuration/initialWindow``, and zero once no reordering was seen for
/// ``Configuration/memory``: then every record passes at once, at the cost of one comparison. A
/// path that loses but does not reorder delays its gaps only in its first seconds.
///
/// Records are not authenticated here: the order the buffer releases in only advances through
/// ``authenticated(_:arrivedAt:)``, which the owner calls when DTLS accepted a record, so forged
/// records can delay genuine ones by at most the window and never make them count as old. Work
/// and memory are bounded: at most ``Configuration/maximumHeld`` records are held (beyond that,
/// records pass at once), and reordering is measured over the last 1 024 sequence numbers.
///
/// Sans-IO: datagrams and time in (``admit(_:now:)``), datagrams out (``nextRelease(now:)``),
/// a deadline for the owner's timer (``nextTimeout``).
public struct RecordReorderBuffer {
    /// Limits of the buffer.
    public struct Configuration: Sendable, Hashable {
        /// The longest a record waits for the gap before it to fill. 60 ms covers the ±20 ms jitter
        /// of a typical wide-area path with margin; a gap that has not filled by then is loss, and
        /// SCTP should hear of it.
        public var maximumWindow: Duration = .milliseconds(60)
        /// Records held at most (about 1.2 KiB each); more pass at once, reordered.
        public var maximumHeld = 2_048
        /// The window before any reordering was measured. Not zero: the first reordering of a
        /// connection would otherwise reach SCTP while its congestion window is a few packets,
        /// and the fast retransmit would leave its slow-start threshold at two packets, for a
        /// linear climb (one packet per round trip) that takes minutes on a long path.
        public var initialWindow: Duration = .milliseconds(30)
        /// How long the window persists after the last reordering seen (or, for the initial
        /// window, after the first record).
        public var memory: Duration = .seconds(10)

        /// The defaults.
        public init() {}
    }

    /// A record's place in the sender's order (RFC 6347 §4.1).
    public struct RecordNumber: Sendable, Hashable, Comparable {
        /// The epoch: which keys protect it.
        public var epoch: UInt16
        /// The 48-bit sequence number within the epoch.
        public var sequence: UInt64

        public static func < (lhs: Self, rhs: Self) -> Bool {
            (lhs.epoch, lhs.sequence) < (rhs.epoch, rhs.sequence)
        }
    }

    /// What to do with an admitted datagram.
    public enum Admission: Sendable, Hashable {
        /// Hand it to DTLS now; `record` is its first application-data record, if it is one.
        case process(record: RecordNumber?)
        /// The buffer keeps it (copied) until ``nextRelease(now:)`` returns it.
        case held
    }

    /// A held datagram, released.
    public struct Release {
        /// The datagram as it arrived.
        public var datagram: [UInt8]
        /// Its first record.
        public var record: RecordNumber
        /// When it arrived.
        public var arrivedAt: ContinuousClock.Instant
    }

    /// Counters, for statistics.
    public struct Counters: Sendable, Hashable {
        /// Records seen arriving after a record with a higher number.
        public var reordered = 0
        /// Datagrams held for a gap to fill.
        public var held = 0
        /// Held datagrams released because their gap did not fill within the window.
        public var releasedOnTimeout = 0
        /// Datagrams that passed unheld because ``Configuration/maximumHeld`` were held already.
        public var overflowed = 0
    }

    /// The limits.
    public let configuration: Configuration
    /// How long a record that arrives ahead of a gap is held now (zero: not at all).
    public private(set) var window: Duration
    /// What the buffer did so far.
    public private(set) var counters = Counters()

    /// The epoch whose order is followed: that of the last authenticated record.
    private var epoch: UInt16?
    /// The lowest sequence number not yet authenticated in order (of ``epoch``).
    private var next: UInt64?
    /// Held datagrams, by ascending sequence number.
    private var held: [Release] = []
    /// The highest sequence number that arrived (authenticated or not; it only feeds the
    /// reordering measurement).
    private var highestArrived: UInt64?
    /// When each of the last ``overtakenSlots`` sequence numbers was first passed by a higher
    /// one, indexed by number modulo the count; allocated at the first gap.
    private var overtakenAt: [Overtaken] = []
    private var lastReordering: ContinuousClock.Instant?
    private var firstArrival: ContinuousClock.Instant?

    private struct Overtaken {
        var sequence: UInt64
        var at: ContinuousClock.Instant
    }

    private static let overtakenSlots: UInt64 = 1_024
    /// Application data (RFC 5246 §6.2.1); other content types pass through unordered.
    private static let applicationData: UInt8 = 23

    /// An empty buffer.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        window = configuration.initialWindow
    }

    /// When ``nextRelease(now:)`` has a datagram whose wait is over, or `nil` while nothing is held.
    public var nextTimeout: ContinuousClock.Instant? {
        held.first.map { $0.arrivedAt + window }
    }

    /// One datagram from the network, before DTLS sees it.
    public mutating func admit(_ datagram: UnsafeRawBufferPointer, now: ContinuousClock.Instant) -> Admission {
        guard let record = Self.firstApplicationRecord(of: datagram) else { return .process(record: nil) }
        guard record.epoch == epoch else { return .process(record: record) }
        measure(record.sequence, now: now)
        if let last = lastReordering ?? firstArrival, last + configuration.memory <= now { window = .zero }
        guard window > .zero, let next, record.sequence > next else { return .process(record: record) }
        guard held.count < configuration.maximumHeld else {
            counters.overflowed += 1
            return .process(record: record)
        }
        let index = held.partitioningIndex { $0.record.sequence >= record.sequence }
        // A duplicate of a held record: DTLS would drop it as a replay (RFC 6347 §4.1.2.6) anyway.
        guard index == held.endIndex || held[index].record != record else { return .held }
        held.insert(Release(datagram: Array(datagram), record: record, arrivedAt: now), at: index)
        counters.held += 1
        return .held
    }

    /// Tells the buffer that DTLS authenticated `record`, which arrived at `arrivedAt`: the order
    /// advances past it.
    public mutating func authenticated(_ record: RecordNumber, arrivedAt: ContinuousClock.Instant) {
        guard record.epoch == epoch, let next else {
            // The first record, or the peer's keys changed (a later epoch): follow the new order.
            if epoch.map({ record.epoch > $0 }) ?? true {
                epoch = record.epoch
                next = record.sequence &+ 1
                highestArrived = record.sequence
                firstArrival = firstArrival ?? arrivedAt
                held.removeAll()
            }
            return
        }
        self.next = max(next, record.sequence &+ 1)
    }

    /// The next held datagram to hand to DTLS: the one that continues the order, or the lowest
    /// once it waited the window (the gap before it is then taken as loss).
    public mutating func nextRelease(now: ContinuousClock.Instant) -> Release? {
        guard let first = held.first else { return nil }
        if let next, first.record.sequence <= next {
            return held.removeFirst()
        }
        guard first.arrivedAt + window <= now else { return nil }
        counters.releasedOnTimeout += 1
        return held.removeFirst()
    }

    // MARK: Measuring reordering

    /// Notes that `sequence` arrived: a number above the highest so far marks the ones it skipped
    /// as overtaken now; one below it was overtaken, and how long ago sizes the window.
    private mutating func measure(_ sequence: UInt64, now: ContinuousClock.Instant) {
        guard let highest = highestArrived else {
            highestArrived = sequence
            firstArrival = now
            return
        }
        if sequence > highest {
            highestArrived = sequence
            let skipped = sequence - highest - 1
            guard skipped > 0, skipped < Self.overtakenSlots else { return }
            if overtakenAt.isEmpty {
                overtakenAt = Array(repeating: Overtaken(sequence: .max, at: now), count: Int(Self.overtakenSlots))
            }
            for missing in (highest + 1)..<sequence {
                overtakenAt[Int(missing % Self.overtakenSlots)] = Overtaken(sequence: missing, at: now)
            }
        } else if sequence < highest, !overtakenAt.isEmpty {
            let slot = overtakenAt[Int(sequence % Self.overtakenSlots)]
            guard slot.sequence == sequence else { return }
            counters.reordered += 1
            lastReordering = now
            let late = slot.at.duration(to: now)
            window = min(max(window, late + late / 4 + .milliseconds(1)), configuration.maximumWindow)
        }
    }

    /// The epoch and sequence number of the datagram's first record when it is application data
    /// (RFC 6347 §4.1: type(1) version(2) epoch(2) sequence_number(6) length(2)).
    static func firstApplicationRecord(of datagram: UnsafeRawBufferPointer) -> RecordNumber? {
        guard datagram.count >= 13, datagram[0] == applicationData else { return nil }
        let epoch = UInt16(datagram[3]) << 8 | UInt16(datagram[4])
        var sequence: UInt64 = 0
        for index in 5..<11 { sequence = sequence << 8 | UInt64(datagram[index]) }
        return RecordNumber(epoch: epoch, sequence: sequence)
    }
}

extension Array {
    /// The first index whose element satisfies `belongs`, for a predicate that is false and then
    /// true along the array (binary search).
    fileprivate func partitioningIndex(where belongs: (Element) -> Bool) -> Int {
        var low = startIndex
        var high = endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
