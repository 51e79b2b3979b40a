@testable import ICE
import SDP
import STUN
import Testing
import TestSupport

/// Hostile input against an agent that knows its peer's credentials but has no pair yet.
@Suite struct SecurityTests {
    let localCredentials = ICECredentials(ufrag: "LOCL", password: "localpasswordlocalpassword")
    let remoteCredentials = ICECredentials(ufrag: "RMTE", password: "remotepasswordremotepassword")
    let attacker = Addresses.at("10.0.0.66", 4444)

    private func makeAgent(role: ICERole = .controlled) throws -> ICEAgent {
        let start = ContinuousClock.now
        var agent = ICEAgent(configuration: ICEConfiguration(role: role), credentials: localCredentials, now: start, seed: 5)
        try agent.addHostCandidate(base: Addresses.a4, now: start)
        agent.finishGathering(now: start)
        agent.setRemoteCredentials(remoteCredentials, now: start)
        while agent.pollEvent() != nil {}
        return agent
    }

    private func request(
        username: String? = "LOCL:RMTE", password: String? = "localpasswordlocalpassword", fingerprint: Bool = true,
        role: STUNAttribute = .iceControlling(tieBreaker: 42), extra: [STUNAttribute] = [], id: STUNTransactionID = .random()
    ) throws -> [UInt8] {
        var writer = STUNMessageWriter(type: STUNMessageType(method: .binding, messageClass: .request), transactionID: id)
        if let username {
            try writer.append(.username(username))
        }
        try writer.append(.priority(1_862_270_975))
        try writer.append(role)
        for attribute in extra {
            try writer.append(attribute)
        }
        return try writer.finish(integrity: password.map { STUNIntegrityKey.shortTerm(password: $0) }, fingerprint: fingerprint)
    }

    /// Everything but counters.
    private struct Snapshot: Equatable {
        var connection: ICEConnectionState
        var role: ICERole
        var pairs: [TransportAddress]
        var remoteCandidates: Int
        var selected: ICESelectedPair?
    }

    private func snapshot(_ agent: ICEAgent) -> Snapshot {
        Snapshot(
            connection: agent.connectionState, role: agent.role, pairs: agent.statistics.pairs.map(\.remote),
            remoteCandidates: agent.statistics.remoteCandidateCount, selected: agent.selectedPair)
    }

    private func feed(_ agent: inout ICEAgent, _ bytes: [UInt8], from source: TransportAddress? = nil) {
        bytes.withUnsafeBytes { agent.handleSTUN($0, from: source ?? attacker, to: Addresses.a4, now: ContinuousClock.now) }
    }

    /// The error code of the only queued response, if any.
    private func errorResponse(_ agent: inout ICEAgent) -> (code: UInt16, unknown: [UInt16]?)? {
        guard let transmit = agent.pollTransmit() else { return nil }
        #expect(agent.pollTransmit() == nil)
        return try? STUNMessageView.withParsed(transmit.payload) { view in
            guard let code = try view.errorCode else { return nil }
            return (code.code, try view.unknownAttributes)
        }
    }

    @Test("wrong password, wrong USERNAME, missing integrity or fingerprint: answered 401/400 or dropped, no state change")
    func rejectedRequests() throws {
        var agent = try makeAgent()
        let before = snapshot(agent)
        feed(&agent, try request(password: "wrongpasswordwrongpassword"))
        #expect(errorResponse(&agent)?.code == 401)
        feed(&agent, try request(username: "NOPE:RMTE"))
        #expect(errorResponse(&agent)?.code == 401)
        feed(&agent, try request(username: "LOCL:WRONG"))
        #expect(errorResponse(&agent)?.code == 401)
        feed(&agent, try request(username: "LOCLRMTE"))
        #expect(errorResponse(&agent)?.code == 401)
        feed(&agent, try request(password: nil))
        #expect(errorResponse(&agent)?.code == 400)
        feed(&agent, try request(username: nil))
        #expect(errorResponse(&agent)?.code == 400)
        feed(&agent, try request(fingerprint: false))
        #expect(agent.pollTransmit() == nil)
        #expect(snapshot(agent) == before)
        let dropped = agent.statistics.dropped
        #expect(dropped.unauthenticatedRequests == 4)
        #expect(dropped.badRequests == 2)
        #expect(dropped.badFingerprint == 1)
    }

    @Test("role conflict (RFC 8445 §7.3.1.1): the larger tie-breaker wins, 487 or role switch", arguments: [ICERole.controlling, .controlled])
    func roleConflict(role: ICERole) throws {
        var agent = try makeAgent(role: role)
        let ours = agent.tieBreaker
        func claim(_ tieBreaker: UInt64) -> STUNAttribute {
            role == .controlling ? .iceControlling(tieBreaker: tieBreaker) : .iceControlled(tieBreaker: tieBreaker)
        }
        // The peer loses: a controlling agent answers 487, a controlled one takes the controlling role.
        feed(&agent, try request(role: claim(ours == 0 ? 0 : ours - 1)))
        if role == .controlling {
            #expect(errorResponse(&agent)?.code == 487)
            #expect(agent.role == .controlling)
            #expect(agent.statistics.remoteCandidateCount == 0, "a 487 request is not processed further")
        } else {
            #expect(agent.role == .controlling)
            #expect(agent.pollEvent() == .roleChanged(.controlling))
        }
        // The peer wins against a fresh agent: the controlling agent yields, the controlled one answers 487.
        var fresh = try makeAgent(role: role)
        feed(&fresh, try request(role: claim(.max)))
        if role == .controlling {
            #expect(fresh.role == .controlled)
            #expect(fresh.pollEvent() == .roleChanged(.controlled))
        } else {
            #expect(errorResponse(&fresh)?.code == 487)
            #expect(fresh.role == .controlled)
        }
    }

    @Test("unknown comprehension-required attribute: 420 with UNKNOWN-ATTRIBUTES, no state change")
    func unknownAttribute() throws {
        var agent = try makeAgent()
        let before = snapshot(agent)
        feed(&agent, try request(extra: [.other(type: 0x0777, value: [1, 2, 3, 4])]))
        let response = errorResponse(&agent)
        #expect(response?.code == 420)
        #expect(response?.unknown == [0x0777])
        #expect(snapshot(agent) == before)
        #expect(agent.statistics.dropped.unknownAttributeRequests == 1)
    }

    @Test("random bytes, truncated and bit-flipped messages: no crash, no state change")
    func garbage() throws {
        var agent = try makeAgent()
        let before = snapshot(agent)
        var random = SplitMix64(seed: 99)
        for round in 0..<3000 {
            var bytes = (0..<Int(random.next() % 120)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if round % 2 == 0, bytes.count >= 20 {
                // Make it look like STUN so that it gets past the first checks.
                bytes[0] = bytes[0] & 0x01
                bytes.replaceSubrange(4..<8, with: [0x21, 0x12, 0xA4, 0x42])
                let length = bytes.count - 20
                bytes[2] = UInt8(truncatingIfNeeded: length >> 8)
                bytes[3] = UInt8(truncatingIfNeeded: length)
            }
            feed(&agent, bytes)
        }
        let valid = try request(password: "wrongpasswordwrongpassword")
        for length in 0..<valid.count {
            feed(&agent, Array(valid.prefix(length)))
        }
        for index in valid.indices {
            var flipped = valid
            flipped[index] ^= 0x5A
            feed(&agent, flipped)
        }
        while agent.pollTransmit() != nil {}
        #expect(snapshot(agent) == before)
        #expect(agent.statistics.dropped.malformed > 1000)
    }

    @Test("forged responses: wrong integrity or unknown transaction are dropped and counted")
    func forgedResponses() throws {
        var agent = try makeAgent()
        try agent.addRemoteCandidate(ICECandidate(foundation: "9", priority: 2_130_706_431, address: "10.0.0.2", port: 6000, kind: .host), now: .now)
        let transmit = agent.pollTransmit()
        let check = try #require(transmit)
        let id = try STUNMessageView.withParsed(check.payload) { $0.transactionID }
        for (transactionID, password) in [(id, "wrongpasswordwrongpassword"), (STUNTransactionID.random(), remoteCredentials.password)] {
            var writer = STUNMessageWriter(type: STUNMessageType(method: .binding, messageClass: .successResponse), transactionID: transactionID)
            try writer.append(.xorMappedAddress(Addresses.a4))
            feed(&agent, try writer.finish(integrity: .shortTerm(password: password), fingerprint: true), from: Addresses.b4)
        }
        #expect(agent.statistics.pairs.map(\.state) == [.inProgress])
        #expect(agent.statistics.dropped.unauthenticatedResponses == 1)
        #expect(agent.statistics.dropped.unmatchedResponses == 1)
        #expect(agent.selectedPair == nil)
    }

    @Test("flood of 10 000 requests from distinct ports: bounded candidates, pairs and queue; counted")
    func flood() throws {
        var agent = try makeAgent()
        let before = snapshot(agent)
        for index in 0..<10_000 {
            let source = Addresses.at("10.0.0.66", UInt16(10_000 + index))
            feed(&agent, try request(password: "wrongpasswordwrongpassword"), from: source)
        }
        #expect(snapshot(agent) == before, "unauthenticated: nothing learned")
        #expect(agent.statistics.queuedTransmits == ICELimits.default.maximumQueuedTransmits)
        #expect(agent.statistics.dropped.transmitQueueFull == 10_000 - ICELimits.default.maximumQueuedTransmits)
        while agent.pollTransmit() != nil {}

        // Authenticated flood (a misbehaving peer): peer-reflexive candidates and pairs stay bounded.
        for index in 0..<10_000 {
            let source = Addresses.at("10.0.0.66", UInt16(20_000 + index))
            feed(&agent, try request(), from: source)
        }
        let statistics = agent.statistics
        #expect(statistics.peerReflexiveCandidateCount == ICELimits.default.maximumPeerReflexiveCandidates)
        #expect(statistics.pairs.count <= ICELimits.default.maximumCandidatePairs)
        #expect(statistics.queuedTransmits <= ICELimits.default.maximumQueuedTransmits)
        #expect(statistics.outstandingTransactions <= ICEAgent.maximumOutstandingTransactions)
        #expect(statistics.dropped.peerReflexiveLimit == 10_000 - ICELimits.default.maximumPeerReflexiveCandidates)
        #expect(agent.selectedPair == nil)
    }

    /// Found by the `ice` fuzz target (Vectors/ice/regression-signalled-prflx.bin): signalled
    /// candidates of type `prflx` (RFC 8839 §5.1 allows the type in signalling) were counted as
    /// peer-reflexive, so they escaped ``ICELimits/maximumRemoteCandidates`` and a peer could make
    /// the agent store any number of them.
    @Test("signalled prflx candidates count against maximumRemoteCandidates, not as learned ones")
    func signalledPeerReflexiveCandidatesAreBounded() throws {
        let limits = ICELimits(
            maximumRemoteCandidates: 3, maximumLocalCandidates: 3, maximumCandidatePairs: 4,
            maximumPeerReflexiveCandidates: 2, maximumQueuedTransmits: 6)
        let start = ContinuousClock.now
        var agent = ICEAgent(
            configuration: ICEConfiguration(role: .controlled, limits: limits), credentials: localCredentials, now: start, seed: 5)
        try agent.addHostCandidate(base: Addresses.a4, now: start)
        agent.finishGathering(now: start)
        agent.setRemoteCredentials(remoteCredentials, now: start)
        // As in the fuzzer's input: mDNS names (unresolved), then addresses.
        let addresses = ["peer.local", "other.local", "third.local"] + (1...20).map { "10.0.1.\($0)" }
        var refused = 0
        for (index, address) in addresses.enumerated() {
            let candidate = ICECandidate(
                foundation: String(index), priority: 8_421_504, address: address, port: 6_002, kind: .peerReflexive)
            do {
                try agent.addRemoteCandidate(candidate, now: start)
            } catch {
                #expect(error.reason == .tooManyCandidates)
                refused += 1
            }
        }
        let statistics = agent.statistics
        #expect(statistics.remoteCandidateCount == limits.maximumRemoteCandidates)
        #expect(statistics.peerReflexiveCandidateCount == 0)
        #expect(refused == addresses.count - limits.maximumRemoteCandidates)
        #expect(statistics.pairs.count <= limits.maximumCandidatePairs)
    }
}
