import RTCCollections
import SDP
import STUN

/// A sans-IO ICE agent (RFC 8445) with trickle (RFC 8838) and consent freshness (RFC 7675), for
/// one BUNDLEd, RTCP-muxed data stream: a single component over UDP.
///
/// The agent never reads a clock, opens a socket or spawns a task. Its owner drives it:
///
/// 1. **Feed input** — sockets (``addHostCandidate(base:now:)``, then ``finishGathering(now:)``),
///    signalling (``setRemoteCredentials(_:now:)``, ``addRemoteCandidate(_:now:)``,
///    ``addRemoteEndOfCandidates(now:)``, ``resolveRemoteHostname(_:to:now:)``) and every datagram
///    the driver classified as STUN (``handleSTUN(_:from:to:now:)``).
/// 2. **Drain output** — ``pollTransmit()`` until `nil` (send each datagram from the socket bound to
///    its `source`), and ``pollEvent()`` until `nil` (signal candidates, resolve mDNS names, switch
///    the data path on ``ICEEvent/selectedPairChanged(_:)``).
/// 3. **Arm a timer** for ``nextTimeout``; when it fires call ``handleTimeout(now:)`` and go to 2.
///
/// Every input also runs whatever is due at `now`, so output may appear after any call.
/// Everything the network can make the agent store is bounded by ``ICELimits`` and
/// ``maximumOutstandingTransactions``; rejected input is counted in ``statistics``.
public struct ICEAgent: Sendable {
    /// Outstanding STUN transactions at most: one check per pair for the default 100 pairs, consent
    /// and gathering fit with room to spare; beyond it new checks wait a pacing slot, so a flood
    /// cannot grow the table or the per-timeout scan.
    public static let maximumOutstandingTransactions = 256

    let configuration: ICEConfiguration
    var random: AgentRandom
    /// The current role (RFC 8445 §6.1.1); changes only through a role conflict (§7.3.1.1).
    public internal(set) var role: ICERole
    /// RFC 8445 §7.1.3 tie-breaker, drawn once.
    let tieBreaker: UInt64
    var local: Credential
    var remote: Credential?
    /// After a local restart, the remote credentials are those of the old generation until the
    /// peer's new ones arrive (RFC 8445 §9): no checks until then.
    var awaitingRemoteRestart = false
    /// The candidate generation (incremented by ``restart(now:)``), signalled as `generation`.
    var generation: UInt32 = 0
    /// The sockets the driver added, in order.
    var bases: [TransportAddress] = []
    var localCandidates: [LocalCandidate] = []
    var remoteCandidates: [RemoteCandidate] = []
    /// Remote mDNS names already announced with ``ICEEvent/resolveHostname(_:)`` (one per name).
    var requestedHostnames: Set<String> = []
    var remoteEndOfCandidates = false
    var gatheringFinishedByDriver = false
    var foundations = FoundationTable()
    var peerReflexiveFoundationCounter = 0
    var checklist = Checklist()
    /// Incremented whenever the checklist starts over (local or remote restart).
    var checklistEpoch: UInt64 = 0
    var transactions = TransactionTable()
    /// RFC 8445 §6.1.4.2: the next new check may start at this time (pacing by Ta).
    var nextCheckAt: ContinuousClock.Instant
    /// Controlling: when to nominate if no better pair succeeded meanwhile (``ICETiming/nominationDelay``).
    var nominationDueAt: ContinuousClock.Instant?
    /// Controlling: the pair whose USE-CANDIDATE check is outstanding.
    var nominatingPairID: UInt64?
    var selected: SelectedPath?
    /// The connection state.
    public internal(set) var connectionState: ICEConnectionState = .new
    /// The gathering state.
    public internal(set) var gatheringState: ICEGatheringState = .new
    var transmits = FIFO<ICETransmit>()
    var events = FIFO<ICEEvent>()
    var dropped = ICEDropCounters()

    /// An agent with `credentials` as its local ufrag and password (random by default).
    public init(configuration: ICEConfiguration, credentials: ICECredentials = .random(), now: ContinuousClock.Instant) {
        self.init(configuration: configuration, credentials: credentials, now: now, seed: nil)
    }

    /// `seed` makes tie-breaker, transaction IDs and jitter reproducible — for tests only: a
    /// predictable transaction ID lets an off-path attacker forge responses.
    init(configuration: ICEConfiguration, credentials: ICECredentials, now: ContinuousClock.Instant, seed: UInt64?) {
        self.configuration = configuration
        random = AgentRandom(seed: seed)
        role = configuration.role
        tieBreaker = random.next()
        local = Credential(credentials)
        nextCheckAt = now
    }

    var timing: ICETiming { configuration.timing }
    var limits: ICELimits { configuration.limits }

    /// The local ufrag and password to signal (they change on ``restart(now:)``).
    public var localCredentials: ICECredentials { local.credentials }

    /// The pair data flows on, if any. It stays set across an ICE restart until a pair of the new
    /// generation replaces it.
    public var selectedPair: ICESelectedPair? { selected?.pair.selectedPair }

    /// The pair to send data on: the selected pair; before one is selected, the highest-priority
    /// valid pair (RFC 8445 §12.1: "An ICE agent MAY send data on any valid pair before selected
    /// pairs have been produced"). Data can flow from the first successful check instead of
    /// waiting one Ta or more for the nomination (docs/performance.md §6).
    public var dataPair: ICESelectedPair? {
        if let selected { return selected.pair.selectedPair }
        guard connectionState == .connected, let best = checklist.bestValidPair else { return nil }
        return checklist[best].selectedPair
    }

    /// Whether application data that arrived from `source` on the socket `base` is accepted: on
    /// the selected path, and from any candidate of the peer's current exchange (RFC 8445 §12.2:
    /// "prepared to receive data on any of the candidates provided in the most recent candidate
    /// exchange"; peer-reflexive candidates are learned only from authenticated checks). Before
    /// a pair is selected the two agents may send on different valid pairs.
    public func acceptsData(from source: TransportAddress, on base: TransportAddress) -> Bool {
        if isSelectedPath(base: base, remote: source) { return true }
        return bases.contains(base) && remoteCandidates.contains { $0.address == source }
    }

    // MARK: Timers and output

    /// Runs everything due at `now`: retransmissions, paced checks, nomination, consent.
    public mutating func handleTimeout(now: ContinuousClock.Instant) {
        run(now: now)
    }

    /// When ``handleTimeout(now:)`` must be called next; `nil` when nothing is scheduled.
    public var nextTimeout: ContinuousClock.Instant? {
        guard connectionState != .closed else { return nil }
        var next = transactions.nextTimeout
        func consider(_ instant: ContinuousClock.Instant?) {
            guard let instant else { return }
            next = next.map { min($0, instant) } ?? instant
        }
        consider(nominationDueAt)
        consider(selected?.consent.nextDeadline(timing))
        if checksAllowed, checklist.hasWork(ordinary: ordinaryChecksAllowed) {
            consider(nextCheckAt)
        }
        return next
    }

    /// The next datagram to send, oldest first.
    public mutating func pollTransmit() -> ICETransmit? {
        transmits.popFirst()
    }

    /// The next event, oldest first.
    public mutating func pollEvent() -> ICEEvent? {
        events.popFirst()
    }

    /// Counts application data on the data pair (statistics only: RFC 7675 §5.1 — non-STUN
    /// traffic does not refresh consent).
    public mutating func recordApplicationData(sent: Int, received: Int, now: ContinuousClock.Instant) {
        if selected != nil {
            selected?.pair.statistics.bytesSent += sent
            selected?.pair.statistics.bytesReceived += received
        } else if connectionState == .connected, let best = checklist.bestValidPair {
            // Before a selection the data pair is the best valid pair (``dataPair``); a later
            // selection of it takes these counters along.
            checklist[best].statistics.bytesSent += sent
            checklist[best].statistics.bytesReceived += received
        }
    }

    /// Stops everything: no more output, timers or state changes.
    public mutating func close(now: ContinuousClock.Instant) {
        guard connectionState != .closed else { return }
        transactions.removeAll { _ in true }
        checklist.removeAll()
        transmits.removeAll()
        selected = nil
        nominationDueAt = nil
        setConnectionState(.closed)
    }

    /// A snapshot of pairs and counters.
    public var statistics: ICEStatistics {
        var statistics = ICEStatistics()
        statistics.pairs = checklist.pairs.map(\.snapshot).sorted { $0.priority > $1.priority }
        statistics.selectedPair = selected?.pair.snapshot
        statistics.localCandidateCount = localCandidates.count
        statistics.remoteCandidateCount = remoteCandidates.count
        statistics.peerReflexiveCandidateCount = peerReflexiveCount
        statistics.outstandingTransactions = transactions.count
        statistics.queuedTransmits = transmits.count
        statistics.dropped = dropped
        return statistics
    }

    var peerReflexiveCount: Int {
        remoteCandidates.reduce(0) { $0 + ($1.isPeerReflexive ? 1 : 0) }
    }

    // MARK: Internal output helpers

    /// Queues a datagram unless ``ICELimits/maximumQueuedTransmits`` are waiting (counted).
    @discardableResult
    mutating func send(_ payload: [UInt8], from source: TransportAddress, to destination: TransportAddress) -> Bool {
        guard transmits.count < limits.maximumQueuedTransmits else {
            dropped.transmitQueueFull += 1
            return false
        }
        transmits.append(ICETransmit(source: source, destination: destination, payload: payload))
        return true
    }

    mutating func emit(_ event: ICEEvent) {
        events.append(event)
    }

    mutating func setConnectionState(_ state: ICEConnectionState) {
        guard state != connectionState, connectionState != .closed else { return }
        connectionState = state
        emit(.connectionStateChanged(state))
    }

    mutating func setGatheringState(_ state: ICEGatheringState) {
        guard state != gatheringState else { return }
        gatheringState = state
        emit(.gatheringStateChanged(state))
    }

    /// `connected`, or `completed` once the selected pair is nominated, the peer signalled
    /// end-of-candidates and local gathering is complete — unless consent is stale or expired.
    /// Before a pair is selected, a valid pair already makes the agent `connected` (the W3C
    /// state "found a usable connection", RFC 8445 §12.1: it can carry data).
    mutating func updateConnectedState() {
        guard let path = selected else {
            if connectionState == .checking, checklist.bestValidPair != nil {
                setConnectionState(.connected)
            }
            return
        }
        guard !path.consent.expired, !path.consent.isStale else { return }
        let complete = path.pair.nominated && path.epoch == checklistEpoch && remoteEndOfCandidates && gatheringState == .complete
        setConnectionState(complete ? .completed : .connected)
    }
}

/// The agent's source of randomness: the system's cryptographic generator, or SplitMix64 from a
/// seed in tests.
struct AgentRandom: RandomNumberGenerator, Sendable {
    private var seeded: SplitMix64?

    init(seed: UInt64?) {
        seeded = seed.map(SplitMix64.init(seed:))
    }

    mutating func next() -> UInt64 {
        guard var generator = seeded else {
            var system = SystemRandomNumberGenerator()
            return system.next()
        }
        defer { seeded = generator }
        return generator.next()
    }
}
