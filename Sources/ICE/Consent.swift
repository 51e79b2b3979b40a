import STUN

/// Credentials with their precomputed integrity key (build the key once per credential).
struct Credential: Sendable {
    let credentials: ICECredentials
    let key: STUNIntegrityKey

    init(_ credentials: ICECredentials) {
        self.credentials = credentials
        key = .shortTerm(password: credentials.password)
    }

    var ufrag: String { credentials.ufrag }
}

/// The selected pair with the credentials of the generation it was selected in, so that it keeps
/// working (consent, answering the peer's consent checks) across an ICE restart until a pair of
/// the new generation replaces it (RFC 8445 §9).
struct SelectedPath: Sendable {
    var pair: CandidatePair
    /// The checklist epoch it was selected in (changes on restart).
    let epoch: UInt64
    let local: Credential
    let remote: Credential
    var consent: Consent
}

/// RFC 7675 §5.1 consent freshness of the selected pair.
struct Consent: Sendable {
    /// Last consent response with valid integrity, or authenticated request, on the pair.
    var lastLiveness: ContinuousClock.Instant
    var nextRequest: ContinuousClock.Instant
    /// No liveness for ``ICETiming/consentDisconnectedAfter``.
    var isStale = false
    /// No liveness for ``ICETiming/consentFailedAfter``: the pair must not be used any more.
    var expired = false

    func nextDeadline(_ timing: ICETiming) -> ContinuousClock.Instant? {
        guard !expired else { return nil }
        let next = lastLiveness + (isStale ? timing.consentFailedAfter : timing.consentDisconnectedAfter)
        return min(nextRequest, next)
    }
}

extension ICEAgent {
    /// RFC 7675 §5.1: "randomized interval between 4 and 6 seconds" — 0.8–1.2 × the interval.
    /// While consent is stale (`disconnected`) the pair is probed five times as often (every
    /// 0.8–1.2 s by default), as libwebrtc probes a weak connection: when the path comes back
    /// the connection is `connected` again within about a second instead of up to six, and the
    /// 30 s expiry (which a response must beat) is unchanged.
    mutating func jitteredConsentInterval(stale: Bool) -> Duration {
        (stale ? timing.consentInterval / 5 : timing.consentInterval) * Int(800 + random.next() % 401) / 1000
    }

    /// RFC 7675 §5.1: send consent requests, and expire consent when liveness stops.
    mutating func processConsent(now: ContinuousClock.Instant) {
        guard var path = selected, !path.consent.expired else { return }
        let silence = now - path.consent.lastLiveness
        if silence >= timing.consentFailedAfter {
            // RFC 7675 §5.1: consent expired — stop sending on the pair.
            path.consent.expired = true
            selected = path
            transactions.removeAll { if case .consent = $0.purpose { true } else { false } }
            setConnectionState(.failed)
            return
        }
        if silence >= timing.consentDisconnectedAfter, !path.consent.isStale {
            path.consent.isStale = true
            path.consent.nextRequest = min(path.consent.nextRequest, now + jitteredConsentInterval(stale: true))
            selected = path
            setConnectionState(.disconnected)
        }
        guard now >= path.consent.nextRequest else { return }
        path.consent.nextRequest = now + jitteredConsentInterval(stale: path.consent.isStale)
        selected = path
        let id = STUNTransactionID.random(using: &random)
        let check = CheckAttributes(
            username: path.remote.ufrag + ":" + path.local.ufrag, priority: path.pair.local.peerReflexivePriority,
            role: role, tieBreaker: tieBreaker, useCandidate: false)
        guard transactions.count < Self.maximumOutstandingTransactions,
              let payload = Messages.request(id: id, check: check, key: path.remote.key) else { return }
        // Consent requests are not retransmitted; each lives until liveness would go stale.
        transactions.insert(
            Transaction(
                purpose: .consent, source: path.pair.local.base, destination: path.pair.remoteAddress, payload: payload,
                responseKey: path.remote.key, now: now, rto: timing.consentDisconnectedAfter),
            id: id)
        if send(payload, from: path.pair.local.base, to: path.pair.remoteAddress) {
            selected?.pair.statistics.requestsSent += 1
        }
    }

    /// RFC 7675 §5.1 (and the authenticated-request rule): the pair is alive.
    mutating func refreshConsent(now: ContinuousClock.Instant) {
        guard var path = selected, !path.consent.expired else { return }
        path.consent.lastLiveness = now
        let recovered = path.consent.isStale
        path.consent.isStale = false
        selected = path
        if recovered {
            updateConnectedState()
        }
    }

    /// Whether `base` → `remote` is the selected pair.
    func isSelectedPath(base: TransportAddress, remote: TransportAddress) -> Bool {
        selected.map { $0.pair.local.base == base && $0.pair.remoteAddress == remote } ?? false
    }
}
