import SDP
import STUN

extension ICEAgent {
    /// The peer's ufrag and password (any time: before or after its candidates and checks).
    ///
    /// A ufrag different from the known one is a remote ICE restart (RFC 8445 §9): the checklist
    /// starts over, remote candidates of the old generation are forgotten (peer-reflexive ones
    /// learned from checks already carrying the new ufrag are kept), and the selected pair keeps
    /// carrying data until a new-generation pair is selected.
    public mutating func setRemoteCredentials(_ credentials: ICECredentials, now: ContinuousClock.Instant) {
        guard connectionState != .closed else { return }
        if let remote, remote.ufrag != credentials.ufrag {
            keepDataPairAcrossRestart(now: now)
            startNewChecklist()
            // Candidates of unknown generation arrived after our own restart: they are the new one's.
            remoteCandidates.removeAll { $0.ufrag.map { $0 != credentials.ufrag } ?? false }
            requestedHostnames = Set(remoteCandidates.filter { $0.address == nil }.map(\.candidate.address))
            remoteEndOfCandidates = false
        }
        if remote?.credentials != credentials {
            remote = Credential(credentials)
        }
        awaitingRemoteRestart = false
        for candidate in remoteCandidates {
            pairWithLocalCandidates(candidate)
        }
        run(now: now)
    }

    /// A trickled or signalled remote candidate (RFC 8838 §4). TCP candidates, components other
    /// than 1 (RTCP-mux and BUNDLE leave one) and candidates of another generation (`ufrag`
    /// extension) are ignored and counted. An mDNS `.local` address emits one
    /// ``ICEEvent/resolveHostname(_:)`` per name and is paired once resolved.
    public mutating func addRemoteCandidate(_ candidate: ICECandidate, now: ContinuousClock.Instant) throws(ICEError) {
        guard connectionState != .closed else { throw ICEError(.closed) }
        guard candidate.transport == .udp, candidate.componentID == 1,
              candidate.ufrag.map({ ufrag in awaitingRemoteRestart || remote.map { $0.ufrag == ufrag } ?? true }) ?? true
        else {
            dropped.ignoredCandidates += 1
            return
        }
        guard candidate.port != 0 else { throw ICEError(.invalidCandidate) }
        let address: TransportAddress?
        if let ip = IPAddress(candidate.address) {
            address = TransportAddress(ip: ip, port: candidate.port)
        } else if candidate.isMDNS {
            address = nil
        } else {
            throw ICEError(.invalidCandidate)
        }
        guard remoteCandidates.count - peerReflexiveCount < limits.maximumRemoteCandidates else {
            throw ICEError(.tooManyCandidates)
        }
        // The generation: the `ufrag` extension, else the current remote ufrag (unknown while
        // waiting for the peer's restart).
        let generationUfrag = candidate.ufrag ?? (awaitingRemoteRestart ? nil : remote?.ufrag)
        let remoteCandidate = RemoteCandidate(candidate: candidate, address: address, ufrag: generationUfrag)
        if address != nil {
            addResolvedRemoteCandidate(remoteCandidate)
        } else if !remoteCandidates.contains(where: { $0.candidate == candidate }) {
            remoteCandidates.append(remoteCandidate)
            if requestedHostnames.insert(candidate.address).inserted {
                emit(.resolveHostname(candidate.address))
            }
        }
        run(now: now)
    }

    /// The answer to ``ICEEvent/resolveHostname(_:)``: pairs the candidates using `hostname`.
    public mutating func resolveRemoteHostname(_ hostname: String, to address: IPAddress, now: ContinuousClock.Instant) {
        guard connectionState != .closed else { return }
        let pending = remoteCandidates.filter { $0.address == nil && $0.candidate.address == hostname }
        remoteCandidates.removeAll { $0.address == nil && $0.candidate.address == hostname }
        for var candidate in pending {
            candidate.address = TransportAddress(ip: address, port: candidate.candidate.port)
            addResolvedRemoteCandidate(candidate)
        }
        run(now: now)
    }

    /// The peer signalled end-of-candidates (RFC 8838 §8.2).
    public mutating func addRemoteEndOfCandidates(now: ContinuousClock.Instant) {
        guard connectionState != .closed else { return }
        remoteEndOfCandidates = true
        updateConnectedState()
        run(now: now)
    }

    /// Stores a remote candidate with a known address and pairs it. RFC 8445 §6.1.2.4: a second
    /// candidate at the same address is redundant — the higher priority is kept, and a signalled
    /// candidate replaces a peer-reflexive one learned earlier (§7.3.1.3).
    private mutating func addResolvedRemoteCandidate(_ candidate: RemoteCandidate) {
        guard let address = candidate.address else { return }
        if let existing = remoteCandidates.firstIndex(where: { $0.address == address }) {
            let old = remoteCandidates[existing]
            guard old.isPeerReflexive || candidate.candidate.priority > old.candidate.priority else { return }
            remoteCandidates[existing] = candidate
            checklist.replaceRemote(at: address, with: candidate, role: role)
        } else {
            remoteCandidates.append(candidate)
        }
        pairWithLocalCandidates(candidate)
    }

    /// RFC 8445 §6.1.2.2: pairs a remote candidate with every local host candidate of its family
    /// (server-reflexive ones are represented by their base, §6.1.2.4).
    mutating func pairWithLocalCandidates(_ candidate: RemoteCandidate) {
        guard let address = candidate.address else { return }
        for local in localCandidates where local.candidate.kind == .host && local.base.hasSameFamily(as: address) {
            addPair(local: local, remote: candidate, remoteAddress: address)
        }
    }

    mutating func pairWithRemoteCandidates(_ local: LocalCandidate) {
        for candidate in remoteCandidates {
            guard let address = candidate.address, local.base.hasSameFamily(as: address) else { continue }
            addPair(local: local, remote: candidate, remoteAddress: address)
        }
    }

    /// Adds (or finds) a pair; one not kept, or a lower-priority one evicted for it, counts as a
    /// ``ICEDropCounters/pairLimit`` drop (RFC 8445 §6.1.2.5).
    @discardableResult
    mutating func addPair(local: LocalCandidate, remote: RemoteCandidate, remoteAddress: TransportAddress) -> Int? {
        let isNew = checklist.index(base: local.base, remote: remoteAddress) == nil
        let countBefore = checklist.pairs.count
        let index = checklist.add(
            local: local, remote: remote, remoteAddress: remoteAddress, role: role, limit: limits.maximumCandidatePairs)
        if index == nil || (isNew && checklist.pairs.count == countBefore) {
            dropped.pairLimit += 1
        }
        return index
    }
}
