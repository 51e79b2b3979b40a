import STUN

/// An outstanding STUN request (RFC 8489 §6.2.1 client transaction).
struct Transaction: Sendable {
    enum Purpose: Sendable {
        /// A connectivity check (RFC 8445 §7.2.4) on a pair, with the role it claimed.
        case check(pairID: UInt64, useCandidate: Bool, role: ICERole)
        /// A consent-freshness request on the selected pair (RFC 7675 §5.1); never retransmitted.
        case consent
        /// A server-reflexive gathering request from `base` to a STUN server (RFC 8445 §5.1.1.2).
        case gathering(base: TransportAddress)
    }

    var purpose: Purpose
    /// The local base it was sent from.
    var source: TransportAddress
    var destination: TransportAddress
    var payload: [UInt8]
    /// The key a response must be signed with (the remote password); `nil` for STUN servers.
    var responseKey: STUNIntegrityKey?
    /// Creation order, so that simultaneous timeouts are handled deterministically.
    var sequence: UInt64 = 0
    var lastSent: ContinuousClock.Instant
    var transmissions = 1
    var initialRTO: Duration
    var rto: Duration
    var nextEvent: ContinuousClock.Instant
    /// A hard end (server-reflexive gathering timeout); retransmissions stop there.
    var deadline: ContinuousClock.Instant?

    /// RFC 8489 §6.2.1: Rm, the multiple of RTO to wait after the last transmission.
    static let finalWaitMultiplier = 16

    init(
        purpose: Purpose, source: TransportAddress, destination: TransportAddress, payload: [UInt8],
        responseKey: STUNIntegrityKey?, now: ContinuousClock.Instant, rto: Duration, deadline: ContinuousClock.Instant? = nil
    ) {
        self.purpose = purpose
        self.source = source
        self.destination = destination
        self.payload = payload
        self.responseKey = responseKey
        lastSent = now
        initialRTO = rto
        self.rto = rto
        self.deadline = deadline
        nextEvent = deadline.map { min(now + rto, $0) } ?? now + rto
    }

    var retransmits: Bool {
        if case .consent = purpose { false } else { true }
    }

    var pairID: UInt64? {
        if case .check(let pairID, _, _) = purpose { pairID } else { nil }
    }

    var isGathering: Bool {
        if case .gathering = purpose { true } else { false }
    }

    /// RFC 8489 §6.2.1: retransmit after RTO, doubling it each time, up to Rc transmissions;
    /// then wait Rm × the initial RTO. Returns `false` when the transaction has timed out instead.
    mutating func retransmit(now: ContinuousClock.Instant, maximumTransmissions: Int) -> Bool {
        guard retransmits, transmissions < maximumTransmissions, deadline.map({ now < $0 }) ?? true else { return false }
        transmissions += 1
        lastSent = now
        rto = rto * 2
        let wait = transmissions >= maximumTransmissions ? initialRTO * Self.finalWaitMultiplier : rto
        nextEvent = deadline.map { min(now + wait, $0) } ?? now + wait
        return true
    }
}

/// Outstanding transactions by ID; at most ``ICEAgent/maximumOutstandingTransactions``.
struct TransactionTable: Sendable {
    private var entries: [STUNTransactionID: Transaction] = [:]
    private var nextSequence: UInt64 = 0

    var count: Int { entries.count }

    subscript(id: STUNTransactionID) -> Transaction? {
        get { entries[id] }
        set { entries[id] = newValue }
    }

    mutating func insert(_ transaction: Transaction, id: STUNTransactionID) {
        var transaction = transaction
        transaction.sequence = nextSequence
        nextSequence += 1
        entries[id] = transaction
    }

    @discardableResult
    mutating func remove(_ id: STUNTransactionID) -> Transaction? {
        entries.removeValue(forKey: id)
    }

    mutating func removeAll(where predicate: (Transaction) -> Bool) {
        entries = entries.filter { !predicate($0.value) }
    }

    func contains(where predicate: (Transaction) -> Bool) -> Bool {
        entries.values.contains(where: predicate)
    }

    /// IDs of the transactions matching `predicate`, in creation order.
    func ids(where predicate: (Transaction) -> Bool) -> [STUNTransactionID] {
        entries.filter { predicate($0.value) }.sorted { $0.value.sequence < $1.value.sequence }.map(\.key)
    }

    var nextTimeout: ContinuousClock.Instant? {
        entries.values.lazy.map(\.nextEvent).min()
    }
}
