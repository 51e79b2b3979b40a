import SDP
import STUN

extension ICEAgent {
    /// Adds a bound UDP socket: the agent makes its host candidate (priority per RFC 8445
    /// §5.1.2, foundation per §5.1.1.3), emits it, pairs it with known remote candidates and
    /// starts a server-reflexive request to every configured STUN server of the same family.
    /// Adding a base twice does nothing.
    public mutating func addHostCandidate(base: TransportAddress, now: ContinuousClock.Instant) throws(ICEError) {
        guard connectionState != .closed else { throw ICEError(.closed) }
        guard base.port != 0 else { throw ICEError(.invalidCandidate) }
        guard !bases.contains(base) else { return }
        guard bases.count < limits.maximumLocalCandidates, localCandidates.count < limits.maximumLocalCandidates else {
            throw ICEError(.tooManyCandidates)
        }
        bases.append(base)
        setGatheringState(.gathering)
        gather(base: base, now: now)
        run(now: now)
    }

    /// Every socket has been added: gathering completes once the server-reflexive requests have
    /// been answered or timed out (``ICETiming/gatheringTimeout``).
    public mutating func finishGathering(now: ContinuousClock.Instant) {
        guard connectionState != .closed else { return }
        gatheringFinishedByDriver = true
        run(now: now)
    }

    /// ICE restart (RFC 8445 §9; RFC 8839 §4.4.1.1.1): returns new local credentials to signal.
    ///
    /// The agent re-emits a ``ICEEvent/localCandidate(_:)`` for the host candidate of every base
    /// it knows, with the new `generation` and `ufrag`, and restarts server-reflexive gathering —
    /// the driver does not re-add its sockets. If the current remote credentials are those of the
    /// selected pair, they belong to the old generation: checks wait for the peer's new ones
    /// (``setRemoteCredentials(_:now:)``); if the peer already restarted, its new credentials and
    /// candidates are kept. The selected pair keeps carrying data, with consent, until a pair of
    /// the new generation is selected.
    public mutating func restart(now: ContinuousClock.Instant) -> ICECredentials {
        guard connectionState != .closed else { return local.credentials }
        keepDataPairAcrossRestart(now: now)
        local = Credential(.random())
        generation &+= 1
        startNewChecklist()
        if let selected, selected.consent.expired {
            self.selected = nil
        }
        if connectionState == .failed {
            setConnectionState(.new)
        }
        if let remote, selected?.remote.ufrag == remote.ufrag {
            awaitingRemoteRestart = true
            remoteCandidates.removeAll()
            requestedHostnames.removeAll()
            remoteEndOfCandidates = false
        }
        localCandidates.removeAll()
        transactions.removeAll { $0.isGathering }
        setGatheringState(.gathering)
        for base in bases {
            gather(base: base, now: now)
        }
        run(now: now)
        return local.credentials
    }

    /// Drops the checklist and its transactions (restart of either side); consent continues.
    mutating func startNewChecklist() {
        checklistEpoch += 1
        checklist.removeAll()
        transactions.removeAll { $0.pairID != nil }
        nominationDueAt = nil
        nominatingPairID = nil
        leaveConnectedWithoutValidPair()
    }

    /// Makes and emits the host candidate of `base`, pairs it and starts server-reflexive requests.
    private mutating func gather(base: TransportAddress, now: ContinuousClock.Instant) {
        let isIPv6 = base.ip.isIPv6
        let ordinal = bases.prefix { $0 != base }.reduce(0) { $0 + ($1.ip.isIPv6 == isIPv6 ? 1 : 0) }
        let localPreference = Priority.localPreference(isIPv6: isIPv6, ordinal: ordinal)
        let host = makeLocalCandidate(
            kind: .host, base: base, address: base, localPreference: localPreference,
            foundation: foundations.foundation(kind: .host, baseIP: base.ip))
        localCandidates.append(host)
        emit(.localCandidate(host.candidate))
        pairWithRemoteCandidates(host)
        // RFC 8445 §5.1.1.2: a Binding request from each base to each STUN server (same family).
        for server in configuration.stunServers where server.hasSameFamily(as: base) {
            let id = STUNTransactionID.random(using: &random)
            guard transactions.count < Self.maximumOutstandingTransactions,
                  let payload = Messages.request(id: id, check: nil, key: nil) else { continue }
            transactions.insert(
                Transaction(
                    purpose: .gathering(base: base), source: base, destination: server, payload: payload, responseKey: nil,
                    now: now, rto: timing.initialRetransmissionTimeout, deadline: now + timing.gatheringTimeout),
                id: id)
            send(payload, from: base, to: server)
        }
    }

    func makeLocalCandidate(
        kind: ICECandidate.Kind, base: TransportAddress, address: TransportAddress, localPreference: UInt16, foundation: String
    ) -> LocalCandidate {
        let related = kind == .host ? nil : base
        let candidate = ICECandidate(
            foundation: foundation, priority: Priority.candidate(kind: kind, localPreference: localPreference),
            address: address.ip.description, port: address.port, kind: kind, relatedAddress: related?.ip.description,
            relatedPort: related?.port,
            extensions: [.init(name: "generation", value: String(generation)), .init(name: "ufrag", value: local.ufrag)])
        return LocalCandidate(candidate: candidate, base: base, address: address, localPreference: localPreference)
    }

    /// RFC 8445 §5.1.1.2: a STUN server's answer gives a server-reflexive candidate with the base
    /// as related address; one equal to an existing local candidate is redundant (§5.1.3).
    mutating func handleServerResponse(
        _ view: STUNMessageView, transaction: Transaction, id: STUNTransactionID, from source: TransportAddress
    ) {
        guard case .gathering(let base) = transaction.purpose, source == transaction.destination else {
            dropped.unmatchedResponses += 1
            return
        }
        // RFC 8489 §7.3: FINGERPRINT is optional for a plain STUN server, but must be right if present.
        guard !view.hasFingerprint || view.verifyFingerprint() else {
            dropped.badFingerprint += 1
            return
        }
        transactions.remove(id)
        guard view.messageClass == .successResponse,
              let mapped = ((try? view.xorMappedAddress) ?? nil) ?? ((try? view.mappedAddress) ?? nil),
              mapped.hasSameFamily(as: base),
              !localCandidates.contains(where: { $0.address == mapped }),
              localCandidates.count < limits.maximumLocalCandidates,
              let host = localCandidates.first(where: { $0.base == base && $0.candidate.kind == .host })
        else { return }
        let candidate = makeLocalCandidate(
            kind: .serverReflexive, base: base, address: mapped, localPreference: host.localPreference,
            foundation: foundations.foundation(kind: .serverReflexive, baseIP: base.ip, serverIP: source.ip))
        // RFC 8445 §6.1.2.4: a server-reflexive candidate is paired through its base: not paired itself.
        localCandidates.append(candidate)
        emit(.localCandidate(candidate.candidate))
    }

    /// Gathering is complete once the driver finished adding sockets and no server-reflexive
    /// request is outstanding.
    mutating func updateGatheringCompletion() {
        guard gatheringFinishedByDriver, gatheringState != .complete, !transactions.contains(where: { $0.isGathering }) else { return }
        setGatheringState(.complete)
        updateConnectedState()
    }
}
