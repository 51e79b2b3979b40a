import SDP
import STUN

/// Which credentials an authenticated request was made with.
private enum RequestContext {
    /// The current generation: full processing (RFC 8445 §7.3.1). `remoteUfrag` is the second
    /// half of USERNAME.
    case current(remoteUfrag: String)
    /// The selected pair's older generation, kept across a restart: answered, counts as
    /// consent liveness, nothing else.
    case selectedPath
}

/// ICE attributes of an authenticated request.
private struct RequestAttributes {
    var priority: UInt32
    var controlling: UInt64?
    var controlled: UInt64?
    var useCandidate: Bool
}

extension ICEAgent {
    /// A datagram the driver classified as STUN (RFC 7983), received on the socket `localBase`
    /// from `source`. Anything invalid, unauthenticated or unexpected is dropped and counted
    /// without changing any other state.
    public mutating func handleSTUN(
        _ packet: UnsafeRawBufferPointer, from source: TransportAddress, to localBase: TransportAddress,
        now: ContinuousClock.Instant
    ) {
        guard connectionState != .closed else { return }
        let view: STUNMessageView
        do {
            view = try STUNMessageView(packet)
        } catch {
            dropped.malformed += 1
            return
        }
        guard view.method == .binding else {
            dropped.unsupportedMessage += 1
            return
        }
        switch view.messageClass {
        case .request:
            handleRequest(view, from: source, to: localBase, now: now)
        case .successResponse, .errorResponse:
            handleResponse(view, from: source, to: localBase, now: now)
        case .indication:
            // RFC 8445 §11: Binding indications are keepalives; nothing to do.
            dropped.unsupportedMessage += 1
        }
        run(now: now)
    }

    // MARK: Requests

    /// RFC 8445 §7.3 and RFC 8489 §6.3, §9.1.3. Rejections are answered 400 or 401 (unsigned) as
    /// RFC 8489 §9.1.3 requires, through the bounded transmit queue, and change nothing else.
    private mutating func handleRequest(
        _ view: STUNMessageView, from source: TransportAddress, to localBase: TransportAddress, now: ContinuousClock.Instant
    ) {
        // RFC 8445 §7.2.2 / RFC 8489 §7.3: ICE messages carry FINGERPRINT; a bad one is not ICE.
        guard view.hasFingerprint, view.verifyFingerprint() else {
            dropped.badFingerprint += 1
            return
        }
        // RFC 8489 §9.1.3: USERNAME and MESSAGE-INTEGRITY are both required, else 400.
        guard view.hasMessageIntegrity, let usernameBytes = (try? view.usernameBytes) ?? nil else {
            dropped.badRequests += 1
            reject(view, code: STUNErrorCode.badRequest, reason: "Bad Request", from: source, to: localBase)
            return
        }
        // RFC 8445 §7.3: USERNAME is "localUfrag:remoteUfrag"; RFC 8489 §9.1.3: unknown → 401,
        // wrong MESSAGE-INTEGRITY → 401.
        guard let (context, credential) = authenticate(view, username: usernameBytes) else {
            dropped.unauthenticatedRequests += 1
            reject(view, code: STUNErrorCode.unauthenticated, reason: "Unauthenticated", from: source, to: localBase)
            return
        }
        // RFC 8489 §6.3.1.1: unknown comprehension-required attributes → 420 with UNKNOWN-ATTRIBUTES.
        if view.hasUnknownComprehensionRequiredAttributes {
            dropped.unknownAttributeRequests += 1
            reject(
                view, code: STUNErrorCode.unknownAttribute, reason: "Unknown Attribute", unknown: view.unknownComprehensionRequired,
                key: credential.key, from: source, to: localBase)
            return
        }
        // RFC 8445 §7.1.1: PRIORITY is mandatory in a check; malformed ICE attributes → 400.
        guard let attributes = Self.iceAttributes(view) else {
            dropped.badRequests += 1
            reject(view, code: STUNErrorCode.badRequest, reason: "Bad Request", key: credential.key, from: source, to: localBase)
            return
        }
        if case .current = context, !resolveRoleConflict(view, attributes, key: credential.key, from: source, to: localBase, now: now) {
            return
        }
        respondSuccess(view, key: credential.key, from: source, to: localBase)
        // RFC 7675 §5.1 consent is refreshed by responses; an authenticated request arriving on
        // the selected pair proves liveness as well.
        if isSelectedPath(base: localBase, remote: source) {
            selected?.pair.statistics.requestsReceived += 1
            refreshConsent(now: now)
        }
        guard case .current(let remoteUfrag) = context else { return }
        learnFromCheck(attributes, remoteUfrag: remoteUfrag, from: source, to: localBase, now: now)
    }

    /// RFC 8445 §7.3.1.1: with both agents claiming the same role, the larger tie-breaker wins;
    /// the loser switches role, or the winner answers 487 (Role Conflict). Returns `false` when
    /// the request was answered with 487 and must not be processed further.
    private mutating func resolveRoleConflict(
        _ view: STUNMessageView, _ attributes: RequestAttributes, key: STUNIntegrityKey, from source: TransportAddress,
        to localBase: TransportAddress, now: ContinuousClock.Instant
    ) -> Bool {
        let theirs = role == .controlling ? attributes.controlling : attributes.controlled
        guard let theirs else { return true }
        // Controlling with the larger tie-breaker: 487. Controlled with the larger: become controlling.
        // Otherwise yield: controlling becomes controlled, controlled answers 487.
        let weWin = tieBreaker >= theirs
        if (role == .controlling) == weWin {
            reject(view, code: STUNErrorCode.roleConflict, reason: "Role Conflict", key: key, from: source, to: localBase)
            return false
        }
        switchRole(to: role.opposite, now: now)
        return true
    }

    /// Matches USERNAME and verifies MESSAGE-INTEGRITY against the current credentials, then
    /// against the selected pair's generation. Before the remote credentials are known (the
    /// peer's check can precede the answer, RFC 8445 §7.3.1.3, RFC 8838) only our half is checked.
    private func authenticate(_ view: STUNMessageView, username: UnsafeRawBufferPointer) -> (RequestContext, Credential)? {
        guard let colon = username.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let localPart = username[..<colon]
        let remotePart = username[(colon + 1)...]
        let currentRemote = awaitingRemoteRestart ? nil : remote
        if localPart.elementsEqual(local.ufrag.utf8),
           currentRemote.map({ remotePart.elementsEqual($0.ufrag.utf8) }) ?? true,
           view.verifyMessageIntegrity(key: local.key) {
            return (.current(remoteUfrag: String(decoding: remotePart, as: UTF8.self)), local)
        }
        if let path = selected, localPart.elementsEqual(path.local.ufrag.utf8), remotePart.elementsEqual(path.remote.ufrag.utf8),
           view.verifyMessageIntegrity(key: path.local.key) {
            return (.selectedPath, path.local)
        }
        return nil
    }

    private static func iceAttributes(_ view: STUNMessageView) -> RequestAttributes? {
        do throws(STUNDecodeError) {
            guard let priority = try view.priority else { return nil }
            return RequestAttributes(
                priority: priority, controlling: try view.iceControlling, controlled: try view.iceControlled,
                useCandidate: try view.useCandidate)
        } catch {
            return nil
        }
    }

    /// RFC 8445 §7.3.1.3–§7.3.1.5: learn a peer-reflexive candidate, trigger a check, and (as
    /// controlled) note the nomination.
    private mutating func learnFromCheck(
        _ attributes: RequestAttributes, remoteUfrag: String, from source: TransportAddress, to localBase: TransportAddress,
        now: ContinuousClock.Instant
    ) {
        guard let localCandidate = localCandidates.first(where: { $0.base == localBase && $0.candidate.kind == .host }) else { return }
        // RFC 8445 §7.3.1.3: an unknown source is a peer-reflexive candidate with the request's PRIORITY.
        var remoteCandidate = remoteCandidates.first { $0.address == source }
        if remoteCandidate == nil {
            guard peerReflexiveCount < limits.maximumPeerReflexiveCandidates else {
                dropped.peerReflexiveLimit += 1
                return
            }
            peerReflexiveFoundationCounter += 1
            let learned = RemoteCandidate(
                candidate: ICECandidate(
                    foundation: "prflx" + String(peerReflexiveFoundationCounter), priority: attributes.priority,
                    address: source.ip.description, port: source.port, kind: .peerReflexive),
                address: source, ufrag: remoteUfrag, isPeerReflexive: true)
            remoteCandidates.append(learned)
            remoteCandidate = learned
        }
        guard let remoteCandidate, let index = addPair(local: localCandidate, remote: remoteCandidate, remoteAddress: source) else { return }
        checklist[index].statistics.requestsReceived += 1
        checklist[index].statistics.responsesSent += 1
        // RFC 8445 §7.3.1.5: USE-CANDIDATE received by the controlled agent.
        let nominate = role == .controlled && attributes.useCandidate
        if checklist[index].state == .succeeded {
            // RFC 8445 §7.3.1.4: no triggered check on a succeeded pair; §7.3.1.5: nominated now.
            if nominate {
                checklist[index].nominated = true
                select(pairAt: index, now: now)
            }
            return
        }
        if nominate {
            checklist[index].useCandidateReceived = true
        }
        // RFC 8445 §7.3.1.4: triggered check. Deviations, both to bound retries when responses are
        // lost in one direction (otherwise each agent's checks re-trigger the other's forever):
        // an In-Progress transaction keeps running instead of being cancelled and restarted, and a
        // Failed pair is revived at most ``CandidatePair/maximumRevivals`` times.
        switch checklist[index].state {
        case .inProgress, .succeeded:
            return
        case .failed:
            guard checklist[index].revivals < CandidatePair.maximumRevivals else { return }
            checklist[index].revivals += 1
        case .waiting, .frozen:
            break
        }
        checklist[index].state = .waiting
        checklist.enqueueTriggered(ScheduledCheck(pairID: checklist[index].id, useCandidate: false))
    }

    private mutating func respondSuccess(
        _ view: STUNMessageView, key: STUNIntegrityKey, from source: TransportAddress, to localBase: TransportAddress
    ) {
        guard let payload = Messages.success(id: view.transactionID, mapped: source, key: key) else { return }
        send(payload, from: localBase, to: source)
    }

    private mutating func reject(
        _ view: STUNMessageView, code: UInt16, reason: String, unknown: [UInt16] = [], key: STUNIntegrityKey? = nil,
        from source: TransportAddress, to localBase: TransportAddress
    ) {
        guard let payload = Messages.error(id: view.transactionID, code: code, reason: reason, unknown: unknown, key: key) else { return }
        send(payload, from: localBase, to: source)
    }

    // MARK: Responses

    /// RFC 8445 §7.2.5: responses must match an outstanding transaction and carry MESSAGE-INTEGRITY
    /// with the remote password; anything else is dropped and counted.
    private mutating func handleResponse(
        _ view: STUNMessageView, from source: TransportAddress, to localBase: TransportAddress, now: ContinuousClock.Instant
    ) {
        let id = view.transactionID
        guard let transaction = transactions[id], transaction.source == localBase else {
            dropped.unmatchedResponses += 1
            return
        }
        guard let key = transaction.responseKey else {
            handleServerResponse(view, transaction: transaction, id: id, from: source)
            return
        }
        guard view.hasFingerprint, view.verifyFingerprint() else {
            dropped.badFingerprint += 1
            return
        }
        // RFC 8489 §6.3.3/§6.3.4: unknown comprehension-required attributes in a response → discard.
        guard view.verifyMessageIntegrity(key: key), !view.hasUnknownComprehensionRequiredAttributes else {
            dropped.unauthenticatedResponses += 1
            return
        }
        transactions.remove(id)
        switch transaction.purpose {
        case .consent:
            guard view.messageClass == .successResponse, source == transaction.destination,
                  isSelectedPath(base: localBase, remote: source) else { return }
            selected?.pair.statistics.responsesReceived += 1
            selected?.pair.statistics.recordRoundTrip(now - transaction.lastSent)
            refreshConsent(now: now)
        case .check(let pairID, let useCandidate, let sentRole):
            guard let index = checklist.index(of: pairID) else { return }
            checklist[index].statistics.responsesReceived += 1
            // RFC 8445 §7.2.5.2.1: the response must come from where the request went.
            guard source == transaction.destination else {
                failPair(at: index)
                return
            }
            if view.messageClass == .errorResponse {
                handleCheckError(view, pairIndex: index, sentRole: sentRole, now: now)
            } else {
                checklist[index].statistics.recordRoundTrip(now - transaction.lastSent)
                handleCheckSuccess(view, pairIndex: index, useCandidate: useCandidate, now: now)
            }
        case .gathering:
            return
        }
    }

    /// RFC 8445 §7.2.5.1: 487 → switch to the opposite of the role claimed and retry the check;
    /// §7.2.5.2.4: any other error fails the pair.
    private mutating func handleCheckError(_ view: STUNMessageView, pairIndex index: Int, sentRole: ICERole, now: ContinuousClock.Instant) {
        guard let code = (try? view.errorCode) ?? nil, code.code == STUNErrorCode.roleConflict else {
            failPair(at: index)
            return
        }
        if sentRole == role {
            switchRole(to: sentRole.opposite, now: now)
        }
        let pairID = checklist[index].id
        if checklist[index].state != .succeeded {
            checklist[index].state = .waiting
        }
        if pairID == nominatingPairID {
            nominatingPairID = nil
        }
        checklist.enqueueTriggered(ScheduledCheck(pairID: pairID, useCandidate: false))
    }

    /// RFC 8445 §7.2.5.3: the pair succeeds; a mapped address that is no local candidate is a
    /// local peer-reflexive candidate (§7.2.5.3.1) and the valid pair uses it (§7.2.5.3.2);
    /// nomination follows (§7.2.5.3.4, §8).
    private mutating func handleCheckSuccess(_ view: STUNMessageView, pairIndex index: Int, useCandidate: Bool, now: ContinuousClock.Instant) {
        let pair = checklist[index]
        if let mapped = (try? view.xorMappedAddress) ?? nil, mapped != pair.local.address {
            if let known = localCandidates.first(where: { $0.address == mapped && $0.base == pair.local.base }) {
                checklist[index].local = known
            } else if localCandidates.count < limits.maximumLocalCandidates {
                // RFC 8445 §7.2.5.3.1: priority = the PRIORITY sent in the request; not signalled.
                let learned = makeLocalCandidate(
                    kind: .peerReflexive, base: pair.local.base, address: mapped, localPreference: pair.local.localPreference,
                    foundation: foundations.foundation(kind: .peerReflexive, baseIP: pair.local.base.ip))
                localCandidates.append(learned)
                checklist[index].local = learned
            }
            // RFC 8445 §6.1.2.3 / §7.2.5.3.2: the valid pair's priority uses its local candidate.
            checklist[index].priority = Priority.pair(
                local: checklist[index].local.candidate.priority, remote: pair.remote.candidate.priority, role: role)
        }
        checklist[index].state = .succeeded
        // RFC 8445 §7.2.5.3.3: unfreeze the pairs of the same foundation.
        checklist.unfreeze(foundation: pair.foundation)
        switch role {
        case .controlling where useCandidate:
            // RFC 8445 §7.2.5.3.4: our USE-CANDIDATE check succeeded: nominated.
            checklist[index].nominated = true
            nominatingPairID = nil
            select(pairAt: index, now: now)
        case .controlled where pair.useCandidateReceived:
            // RFC 8445 §7.3.1.5: nominated by the peer while our check was pending.
            checklist[index].nominated = true
            select(pairAt: index, now: now)
        case .controlling:
            scheduleNomination(now: now)
        case .controlled:
            break
        }
        updateConnectedState()
    }
}
