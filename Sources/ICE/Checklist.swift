import SDP
import STUN

/// A local and a remote candidate to check (RFC 8445 §6.1.2).
struct CandidatePair: Sendable {
    /// Unique within the agent; transactions refer to pairs by it.
    let id: UInt64
    var local: LocalCandidate
    var remote: RemoteCandidate
    /// The remote candidate's resolved address.
    var remoteAddress: TransportAddress
    var state: ICEPairState
    /// RFC 8445 §6.1.2.3; recomputed when the role changes.
    var priority: UInt64
    /// RFC 8445 §8.1.1: nominated by the controlling agent (USE-CANDIDATE check succeeded /
    /// received on a succeeded pair).
    var nominated = false
    /// RFC 8445 §7.3.1.5: USE-CANDIDATE arrived while the pair had not succeeded yet; nominate it
    /// when its check succeeds.
    var useCandidateReceived = false
    /// Times an inbound request moved this pair from Failed back to Waiting (RFC 8445 §7.3.1.4).
    var revivals = 0
    var statistics: ICEPairStatistics

    /// A failed pair is re-checked on an inbound request at most this often: one retry covers a
    /// transient outage, and the bound stops two agents re-triggering each other forever when
    /// responses are lost in one direction.
    static let maximumRevivals = 1

    /// RFC 8445 §6.1.2.6: the pair foundation is the local and remote foundations together.
    var foundation: PairFoundation { PairFoundation(local: local.candidate.foundation, remote: remote.candidate.foundation) }

    var selectedPair: ICESelectedPair {
        ICESelectedPair(local: local.base, remote: remoteAddress, localCandidate: local.candidate, remoteCandidate: remote.candidate)
    }

    var snapshot: ICEPairStatistics {
        var statistics = statistics
        statistics.localCandidate = local.candidate
        statistics.remoteCandidate = remote.candidate
        statistics.state = state
        statistics.nominated = nominated
        statistics.priority = priority
        return statistics
    }
}

/// RFC 8445 §6.1.2.6: pairs with equal foundations are frozen behind one another.
struct PairFoundation: Hashable, Sendable {
    var local: String
    var remote: String
}

/// A check to run next: from the triggered-check queue or the ordinary schedule.
struct ScheduledCheck: Sendable, Hashable {
    var pairID: UInt64
    var useCandidate: Bool
}

/// The checklist of the single data stream (BUNDLE) and its triggered-check queue.
///
/// Scans are linear over at most ``ICELimits/maximumCandidatePairs`` pairs.
struct Checklist: Sendable {
    private(set) var pairs: [CandidatePair] = []
    private var triggered: [ScheduledCheck] = []
    private var nextPairID: UInt64 = 1

    func index(of id: UInt64) -> Int? {
        pairs.firstIndex { $0.id == id }
    }

    func index(base: TransportAddress, remote: TransportAddress) -> Int? {
        pairs.firstIndex { $0.local.base == base && $0.remoteAddress == remote }
    }

    subscript(index: Int) -> CandidatePair {
        get { pairs[index] }
        set { pairs[index] = newValue }
    }

    /// Adds a pair unless one with the same base and remote address exists (RFC 8445 §6.1.2.4:
    /// redundant pairs are pruned, keeping the higher priority). At the limit (§6.1.2.5) the
    /// lowest-priority pair that is not being checked or valid makes room for a higher-priority
    /// one. Returns the pair's index, or `nil` if it was not kept.
    mutating func add(
        local: LocalCandidate, remote: RemoteCandidate, remoteAddress: TransportAddress, role: ICERole, limit: Int
    ) -> Int? {
        let priority = Priority.pair(local: local.candidate.priority, remote: remote.candidate.priority, role: role)
        if let existing = index(base: local.base, remote: remoteAddress) {
            // RFC 8445 §6.1.2.4: keep the higher-priority of two redundant pairs.
            if priority > pairs[existing].priority {
                pairs[existing].local = local
                pairs[existing].priority = priority
            }
            return existing
        }
        if pairs.count >= limit {
            guard let victim = lowestReplaceablePair(), pairs[victim].priority < priority else { return nil }
            remove(at: victim)
        }
        let foundation = PairFoundation(local: local.candidate.foundation, remote: remote.candidate.foundation)
        // RFC 8445 §6.1.2.6: a new pair waits unless another pair of its foundation is already
        // waiting or in progress, in which case it is frozen behind it.
        let busy = pairs.contains { $0.foundation == foundation && ($0.state == .waiting || $0.state == .inProgress) }
        let initial: ICEPairState = busy ? .frozen : .waiting
        let pair = CandidatePair(
            id: nextPairID, local: local, remote: remote, remoteAddress: remoteAddress, state: initial, priority: priority,
            statistics: ICEPairStatistics(
                local: local.base, remote: remoteAddress, localCandidate: local.candidate, remoteCandidate: remote.candidate,
                state: initial, nominated: false, priority: priority))
        nextPairID += 1
        pairs.append(pair)
        return pairs.count - 1
    }

    private func lowestReplaceablePair() -> Int? {
        pairs.indices.filter { pairs[$0].state == .frozen || pairs[$0].state == .waiting || pairs[$0].state == .failed }
            .min { pairs[$0].priority < pairs[$1].priority }
    }

    private mutating func remove(at index: Int) {
        let id = pairs[index].id
        pairs.remove(at: index)
        triggered.removeAll { $0.pairID == id }
    }

    /// RFC 8445 §7.3.1.4: queue a triggered check (once per pair; a nomination request upgrades it).
    mutating func enqueueTriggered(_ check: ScheduledCheck) {
        if let existing = triggered.firstIndex(where: { $0.pairID == check.pairID }) {
            triggered[existing].useCandidate = triggered[existing].useCandidate || check.useCandidate
        } else {
            triggered.append(check)
        }
    }

    /// RFC 8445 §8.1.1: the nomination check goes ahead of other triggered checks.
    mutating func enqueueNomination(pairID: UInt64) {
        triggered.removeAll { $0.pairID == pairID }
        triggered.insert(ScheduledCheck(pairID: pairID, useCandidate: true), at: 0)
    }

    /// Whether ``nextCheck(ordinary:)`` would return something.
    func hasWork(ordinary: Bool) -> Bool {
        !triggered.isEmpty || (ordinary && pairs.contains { $0.state == .waiting || $0.state == .frozen })
    }

    /// RFC 8445 §6.1.4.2: the triggered-check queue first; otherwise the highest-priority Waiting
    /// pair; if none, unfreeze the highest-priority Frozen pair whose foundation has nothing
    /// Waiting or In-Progress. `ordinary` is false once a pair is selected (§8.1.2: no further
    /// ordinary checks).
    mutating func nextCheck(ordinary: Bool) -> ScheduledCheck? {
        while !triggered.isEmpty {
            let check = triggered.removeFirst()
            // A pair that succeeded meanwhile needs no triggered check, only a nomination.
            if let index = index(of: check.pairID), check.useCandidate || pairs[index].state != .succeeded { return check }
        }
        guard ordinary else { return nil }
        if let waiting = highestPriority(in: .waiting) {
            return ScheduledCheck(pairID: pairs[waiting].id, useCandidate: false)
        }
        let busy = Set(pairs.filter { $0.state == .waiting || $0.state == .inProgress }.map(\.foundation))
        let frozen = pairs.indices.filter { pairs[$0].state == .frozen && !busy.contains(pairs[$0].foundation) }
            .max { pairs[$0].priority < pairs[$1].priority }
        return frozen.map { ScheduledCheck(pairID: pairs[$0].id, useCandidate: false) }
    }

    private func highestPriority(in state: ICEPairState) -> Int? {
        pairs.indices.filter { pairs[$0].state == state }.max { pairs[$0].priority < pairs[$1].priority }
    }

    /// RFC 8445 §7.2.5.3.3: a success unfreezes the frozen pairs of the same foundation.
    mutating func unfreeze(foundation: PairFoundation) {
        for index in pairs.indices where pairs[index].state == .frozen && pairs[index].foundation == foundation {
            pairs[index].state = .waiting
        }
    }

    /// RFC 8445 §7.3.1.1: pair priorities depend on the role.
    mutating func recomputePriorities(role: ICERole) {
        for index in pairs.indices {
            pairs[index].priority = Priority.pair(
                local: pairs[index].local.candidate.priority, remote: pairs[index].remote.candidate.priority, role: role)
        }
    }

    /// Number of Waiting and In-Progress pairs, for the RTO of RFC 8445 §14.3.
    var activeCount: Int {
        pairs.reduce(0) { $0 + ($1.state == .waiting || $1.state == .inProgress ? 1 : 0) }
    }

    /// RFC 8445 §7.2.5.3.4 / §8.1.1: the valid pair the controlling agent nominates — the
    /// highest-priority succeeded pair.
    var bestValidPair: Int? { highestPriority(in: .succeeded) }

    /// Whether no pair with a higher priority than `index` can still succeed.
    func isBestPossible(_ index: Int) -> Bool {
        !pairs.contains { $0.priority > pairs[index].priority && $0.state != .failed && $0.state != .succeeded }
    }

    /// RFC 8445 §6.1.2.6 / RFC 8838 §8: every pair failed (vacuously true when empty).
    var allFailed: Bool {
        triggered.isEmpty && pairs.allSatisfy { $0.state == .failed }
    }

    mutating func removeAll() {
        pairs.removeAll()
        triggered.removeAll()
    }
}

extension Checklist {
    /// A signalled candidate replaced the peer-reflexive one at `address` (RFC 8445 §7.3.1.3):
    /// pairs keep their state and take the new candidate and priority.
    mutating func replaceRemote(at address: TransportAddress, with remote: RemoteCandidate, role: ICERole) {
        for index in pairs.indices where pairs[index].remoteAddress == address {
            pairs[index].remote = remote
            pairs[index].priority = Priority.pair(local: pairs[index].local.candidate.priority, remote: remote.candidate.priority, role: role)
        }
    }
}
