import SDP
import STUN

extension ICEAgent {
    /// Checks need the remote credentials of the current generation.
    var checksAllowed: Bool {
        remote != nil && !awaitingRemoteRestart && connectionState != .closed
    }

    /// RFC 8445 §8.1.2: once a pair of this generation is selected, no more ordinary checks
    /// (triggered checks are still answered and run).
    var ordinaryChecksAllowed: Bool {
        selected.map { $0.epoch != checklistEpoch } ?? true
    }

    /// Runs everything due at `now`.
    mutating func run(now: ContinuousClock.Instant) {
        guard connectionState != .closed else { return }
        processDueTransactions(now: now)
        updateGatheringCompletion()
        if let due = nominationDueAt, now >= due {
            nominationDueAt = nil
            nominate()
        }
        // RFC 8445 §6.1.4.2 / §14.2: at most one new check (triggered first) every Ta.
        if now >= nextCheckAt, checksAllowed, checklist.hasWork(ordinary: ordinaryChecksAllowed) {
            nextCheckAt = now + timing.pacing
            if transactions.count >= Self.maximumOutstandingTransactions {
                dropped.transactionLimit += 1
            } else if let check = checklist.nextCheck(ordinary: ordinaryChecksAllowed) {
                startCheck(check, now: now)
            }
        }
        processConsent(now: now)
        evaluateChecklistFailure()
    }

    /// RFC 8445 §7.2.4: sends a connectivity check on a pair.
    mutating func startCheck(_ check: ScheduledCheck, now: ContinuousClock.Instant) {
        guard let remote, let index = checklist.index(of: check.pairID) else { return }
        let pair = checklist[index]
        // One transaction per pair: a new check (nomination, role-conflict retry) supersedes an older one.
        transactions.removeAll { $0.pairID == pair.id }
        let id = STUNTransactionID.random(using: &random)
        let attributes = CheckAttributes(
            username: remote.ufrag + ":" + local.ufrag, priority: pair.local.peerReflexivePriority, role: role,
            tieBreaker: tieBreaker, useCandidate: check.useCandidate)
        guard let payload = Messages.request(id: id, check: attributes, key: remote.key) else {
            failPair(at: index)
            return
        }
        // RFC 8445 §14.3: RTO = MAX(500 ms, N × Ta × (Waiting + In-Progress pairs)), N = 1 here,
        // with the configured value as the floor.
        let rto = max(timing.initialRetransmissionTimeout, timing.pacing * checklist.activeCount)
        transactions.insert(
            Transaction(
                purpose: .check(pairID: pair.id, useCandidate: check.useCandidate, role: role), source: pair.local.base,
                destination: pair.remoteAddress, payload: payload, responseKey: remote.key, now: now, rto: rto),
            id: id)
        send(payload, from: pair.local.base, to: pair.remoteAddress)
        checklist[index].statistics.requestsSent += 1
        if pair.state != .succeeded {
            checklist[index].state = .inProgress
        }
        if connectionState == .new {
            setConnectionState(.checking)
        }
    }

    /// RFC 8489 §6.2.1: retransmits or times out every due transaction.
    mutating func processDueTransactions(now: ContinuousClock.Instant) {
        for id in transactions.ids(where: { $0.nextEvent <= now }) {
            guard var transaction = transactions[id] else { continue }
            if transaction.retransmit(now: now, maximumTransmissions: timing.maximumRetransmissions) {
                transactions[id] = transaction
                send(transaction.payload, from: transaction.source, to: transaction.destination)
                if let pairID = transaction.pairID, let index = checklist.index(of: pairID) {
                    checklist[index].statistics.requestsSent += 1
                }
                continue
            }
            transactions.remove(id)
            // RFC 8445 §7.2.5.2: a check that times out fails its pair.
            if let pairID = transaction.pairID, let index = checklist.index(of: pairID) {
                failPair(at: index)
            }
        }
    }

    mutating func failPair(at index: Int) {
        let pair = checklist[index]
        if pair.id == nominatingPairID {
            nominatingPairID = nil
        }
        // RFC 8445 §7.2.5.2: the pair fails — also a valid pair whose nomination check timed out,
        // so that another valid pair gets nominated instead.
        checklist[index].state = .failed
        leaveConnectedWithoutValidPair()
        if role == .controlling {
            scheduleNomination(now: nil)
        }
    }

    /// Before a selection, `connected` rests on a valid pair (``updateConnectedState()``): when
    /// the last one fails or the checklist starts over, the agent is back to `checking`.
    mutating func leaveConnectedWithoutValidPair() {
        if selected == nil, connectionState == .connected, checklist.bestValidPair == nil {
            setConnectionState(.checking)
        }
    }

    /// RFC 8445 §8.1.1: after a pair succeeds, the controlling agent nominates the best valid
    /// pair — at once if no higher-priority pair can still succeed, otherwise after
    /// ``ICETiming/nominationDelay``. `now == nil` nominates only if no wait is needed.
    mutating func scheduleNomination(now: ContinuousClock.Instant?) {
        guard role == .controlling, ordinaryChecksAllowed, nominatingPairID == nil, let best = checklist.bestValidPair else { return }
        if checklist.isBestPossible(best) || timing.nominationDelay == .zero {
            nominate()
        } else if nominationDueAt == nil, let now {
            nominationDueAt = now + timing.nominationDelay
        }
    }

    /// RFC 8445 §8.1.1: regular nomination — re-check the best valid pair with USE-CANDIDATE.
    mutating func nominate() {
        guard role == .controlling, ordinaryChecksAllowed, nominatingPairID == nil, let best = checklist.bestValidPair else { return }
        nominationDueAt = nil
        nominatingPairID = checklist[best].id
        checklist.enqueueNomination(pairID: checklist[best].id)
    }

    /// RFC 8445 §9: a restart keeps the pair data flows on until the new generation selects one.
    /// Before a nomination that is a valid pair (RFC 8445 §12.1, ``dataPair``): it is selected
    /// now, with the current credentials, so that data and consent go on over it. Call before
    /// the credentials change.
    mutating func keepDataPairAcrossRestart(now: ContinuousClock.Instant) {
        guard selected == nil, connectionState == .connected, let best = checklist.bestValidPair else { return }
        select(pairAt: best, now: now)
    }

    /// Makes a nominated pair the selected pair (RFC 8445 §8.1.1 controlling, §8.2 controlled).
    /// The controlled agent keeps the highest-priority nominated pair of a generation.
    mutating func select(pairAt index: Int, now: ContinuousClock.Instant) {
        guard let remote else { return }
        let pair = checklist[index]
        if let current = selected, current.epoch == checklistEpoch, current.pair.id == pair.id || current.pair.priority > pair.priority {
            return
        }
        // RFC 8445 §9: a new-generation pair replaces the old one; the old generation's credentials go with it.
        selected = SelectedPath(
            pair: pair, epoch: checklistEpoch, local: local, remote: remote,
            consent: Consent(lastLiveness: now, nextRequest: now + jitteredConsentInterval(stale: false)))
        nominationDueAt = nil
        transactions.removeAll { if case .consent = $0.purpose { true } else { false } }
        emit(.selectedPairChanged(pair.selectedPair))
        updateConnectedState()
    }

    /// RFC 8445 §7.3.1.1 / §7.2.5.1: switch role after a conflict; pair priorities follow.
    mutating func switchRole(to newRole: ICERole, now: ContinuousClock.Instant) {
        guard newRole != role else { return }
        role = newRole
        nominationDueAt = nil
        nominatingPairID = nil
        checklist.recomputePriorities(role: role)
        emit(.roleChanged(role))
        scheduleNomination(now: now)
    }

    /// RFC 8445 §6.1.2.6, RFC 8838 §8: the checklist fails when every pair failed, the peer
    /// signalled end-of-candidates and local gathering is complete — never merely because the
    /// trickled checklist is momentarily empty. Not while an older selected pair still works.
    mutating func evaluateChecklistFailure() {
        guard selected == nil, connectionState == .new || connectionState == .checking || connectionState == .connected,
              checksAllowed,
              remoteEndOfCandidates, gatheringState == .complete,
              !remoteCandidates.contains(where: { $0.address == nil }),
              checklist.allFailed, !transactions.contains(where: { $0.pairID != nil })
        else { return }
        setConnectionState(.failed)
    }
}
