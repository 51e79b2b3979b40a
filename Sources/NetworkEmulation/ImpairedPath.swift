import RTCCollections

/// How a path mistreats datagrams, as the kernel's `netem` would (which these machines lack).
public struct Impairment: Sendable, Hashable {
    /// The probability that a datagram is lost (0 to 1).
    public var loss: Double
    /// The one-way delay every datagram gets.
    public var delay: Duration
    /// A uniform extra delay in −jitter...+jitter per datagram (never below zero in total);
    /// datagrams closer together than the jitter arrive reordered.
    public var jitter: Duration
    /// The probability that a datagram arrives twice (0 to 1).
    public var duplication: Double
    /// The path's rate in bytes per second; `nil` for no limit. Datagrams queue behind each other.
    public var bytesPerSecond: Int?
    /// The longest a datagram may wait in the rate queue before it is dropped (a drop-tail buffer).
    public var queueLimit: Duration
    /// Datagrams larger than this are dropped; `nil` for no limit.
    public var mtu: Int?

    /// A path that delivers everything at once.
    public init(
        loss: Double = 0, delay: Duration = .zero, jitter: Duration = .zero, duplication: Double = 0,
        bytesPerSecond: Int? = nil, queueLimit: Duration = .milliseconds(200), mtu: Int? = nil
    ) {
        self.loss = loss
        self.delay = delay
        self.jitter = jitter
        self.duplication = duplication
        self.bytesPerSecond = bytesPerSecond
        self.queueLimit = queueLimit
        self.mtu = mtu
    }
}

/// What an ``ImpairedPath`` did.
public struct ImpairmentCounters: Sendable, Hashable {
    public var sent = 0
    public var lost = 0
    public var duplicated = 0
    /// Dropped for exceeding the MTU or the rate queue.
    public var dropped = 0
    public var delivered = 0
    /// Delivered before a datagram sent earlier.
    public var reordered = 0

    public init() {}
}

/// One direction of an emulated network path, sans-IO: datagrams and time in, datagrams out
/// when they are due. Seeded, so a test's impairment repeats exactly.
public struct ImpairedPath: Sendable {
    private struct Pending: Sendable {
        var due: ContinuousClock.Instant
        /// Sending order, to break ties and to count reordering.
        var sequence: Int
        var datagram: [UInt8]
    }

    public let impairment: Impairment
    public private(set) var counters = ImpairmentCounters()
    private var pending = MinHeap<Pending> { ($0.due, $0.sequence) < ($1.due, $1.sequence) }
    private var random: SplitMix64
    private var nextSequence = 0
    private var highestDelivered = -1
    /// When the rate limiter's queue drains (serialisation of what it holds).
    private var queueFreeAt: ContinuousClock.Instant?

    public init(_ impairment: Impairment, seed: UInt64) {
        self.impairment = impairment
        random = SplitMix64(seed: seed)
    }

    /// A datagram enters the path at `now`.
    public mutating func send(_ datagram: [UInt8], now: ContinuousClock.Instant) {
        counters.sent += 1
        if let mtu = impairment.mtu, datagram.count > mtu {
            counters.dropped += 1
            return
        }
        guard !random.chance(impairment.loss) else {
            counters.lost += 1
            return
        }
        guard let departure = serialise(datagram.count, now: now) else {
            counters.dropped += 1
            return
        }
        schedule(datagram, departure: departure)
        if random.chance(impairment.duplication) {
            counters.duplicated += 1
            schedule(datagram, departure: departure)
        }
    }

    /// When the next datagram is due, if any is on its way.
    public var nextDelivery: ContinuousClock.Instant? { pending.first?.due }

    /// The next datagram due by `now`, if any.
    public mutating func receive(now: ContinuousClock.Instant) -> [UInt8]? {
        guard let next = pending.first, next.due <= now, let item = pending.popFirst() else { return nil }
        counters.delivered += 1
        if item.sequence < highestDelivered { counters.reordered += 1 }
        highestDelivered = max(highestDelivered, item.sequence)
        return item.datagram
    }

    /// When the datagram leaves the rate limiter, or nil when its queue is over its limit.
    private mutating func serialise(_ size: Int, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard let rate = impairment.bytesPerSecond, rate > 0 else { return now }
        let start = max(now, queueFreeAt ?? now)
        guard now.duration(to: start) <= impairment.queueLimit else { return nil }
        let departure = start + .nanoseconds(Int64(size) * 1_000_000_000 / Int64(rate))
        queueFreeAt = departure
        return departure
    }

    private mutating func schedule(_ datagram: [UInt8], departure: ContinuousClock.Instant) {
        var due = departure + impairment.delay
        if impairment.jitter > .zero {
            let span = impairment.jitter.nanoseconds
            let offset = Int64.random(in: -span...span, using: &random)
            due = max(departure, due + .nanoseconds(offset))
        }
        pending.insert(Pending(due: due, sequence: nextSequence, datagram: datagram))
        nextSequence += 1
    }

}

extension Duration {
    /// Whole nanoseconds (saturating).
    fileprivate var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : scaled &+ attoseconds / 1_000_000_000
    }
}

/// A binary min-heap ordered by `less`.
struct MinHeap<Element: Sendable>: Sendable {
    private var elements: [Element] = []
    private let less: @Sendable (Element, Element) -> Bool

    init(less: @escaping @Sendable (Element, Element) -> Bool) {
        self.less = less
    }

    var first: Element? { elements.first }
    var count: Int { elements.count }

    mutating func insert(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(elements[child], elements[parent]) else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popFirst() -> Element? {
        guard !elements.isEmpty else { return nil }
        elements.swapAt(0, elements.count - 1)
        let top = elements.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < elements.count, less(elements[left], elements[smallest]) { smallest = left }
            if right < elements.count, less(elements[right], elements[smallest]) { smallest = right }
            guard smallest != parent else { return top }
            elements.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
