import Foundation
import Signaling
import TestSupport
import Testing

/// A hub driven directly: connections are ids, time is a parameter, output is the action list.
struct HubHarness {
    var hub: SignalingHub
    var now = ContinuousClock.now
    var unixTime: Int64 = 1_800_000_000

    init(limits: SignalingLimits = SignalingLimits(), admission: Admission = .open, unixTime: Int64 = 1_800_000_000) {
        hub = SignalingHub(configuration: .init(limits: limits, admission: admission) { unixTime })
    }

    mutating func connect() -> SignalingHub.ConnectionID {
        hub.open(now: now)
    }

    /// Joins `room` as `peer`, checking the welcome.
    mutating func join(_ room: String, as peer: String) -> SignalingHub.ConnectionID {
        let id = connect()
        let actions = hub.receive(ClientMessage.join(room: room, peer: peer, token: nil).text, from: id, now: now)
        guard case .send(let text, let to)? = actions.first, to == id, case .welcome? = ServerMessage(text: text) else {
            Issue.record("no welcome for \(peer): \(actions)")
            return id
        }
        return id
    }

    mutating func send(_ text: String, from id: SignalingHub.ConnectionID) -> [SignalingHub.Action] {
        hub.receive(text, from: id, now: now)
    }
}

/// The server messages sent to `id` among `actions`.
func messages(to id: SignalingHub.ConnectionID, in actions: [SignalingHub.Action]) -> [ServerMessage] {
    actions.compactMap { action in
        guard case .send(let text, let to) = action, to == id else { return nil }
        return ServerMessage(text: text)
    }
}

/// The close code for `id` among `actions`, if it is closed.
func closeCode(of id: SignalingHub.ConnectionID, in actions: [SignalingHub.Action]) -> UInt16? {
    for case .close(let closed, let code) in actions where closed == id { return code }
    return nil
}

func errorCodes(to id: SignalingHub.ConnectionID, in actions: [SignalingHub.Action]) -> [SignalingErrorCode] {
    messages(to: id, in: actions).compactMap { if case .error(let code, _, _) = $0 { code } else { nil } }
}

@Suite("Signaling hub: rooms and relay")
struct HubRoomTests {
    @Test func aNewcomerLearnsThePeersPresentAndTheyLearnOfIt() {
        var harness = HubHarness()
        let alice = harness.join("room", as: "alice")
        let bob = harness.join("room", as: "bob")
        let carol = harness.connect()
        let actions = harness.send(#"{"type":"join","room":"room","peer":"carol"}"#, from: carol)
        #expect(messages(to: carol, in: actions) == [.welcome(room: "room", peer: "carol", peers: ["alice", "bob"])])
        #expect(messages(to: alice, in: actions) == [.peerJoined("carol")])
        #expect(messages(to: bob, in: actions) == [.peerJoined("carol")])
        #expect(harness.hub.peerCount == 3)
        #expect(harness.hub.roomCount == 1)
    }

    @Test func withoutARequestedIdTheServerAssignsAFreshOne() {
        var harness = HubHarness()
        let first = harness.connect()
        let second = harness.connect()
        let one = messages(to: first, in: harness.send(#"{"type":"join","room":"r"}"#, from: first))
        let two = messages(to: second, in: harness.send(#"{"type":"join","room":"r"}"#, from: second))
        guard case .welcome(_, let idOne, _)? = one.first, case .welcome(_, let idTwo, let present)? = two.first else {
            Issue.record("no welcome: \(one) \(two)")
            return
        }
        #expect(idOne != idTwo)
        #expect(present == [idOne])
        #expect(SignalingHub.isValidName(idOne))
    }

    @Test func relayedMessagesKeepEveryMemberAndCarryTheSendersId() {
        var harness = HubHarness()
        let alice = harness.join("room", as: "alice")
        let bob = harness.join("room", as: "bob")
        // The sender's own `from` is replaced; an unknown extra member survives.
        let actions = harness.send(
            #"{"type":"offer","to":"bob","sdp":"v=0\r\n","from":"mallory","extra":{"n":[1,2]}}"#, from: alice)
        #expect(actions.count == 1)
        guard case .send(let text, let to)? = actions.first else { return }
        #expect(to == bob)
        let object = JSONText.object(from: text)
        #expect(object?["from"] == .string("alice"))
        #expect(object?["to"] == nil)
        #expect(object?["sdp"] == .string("v=0\r\n"))
        #expect(object?["extra"] == .object(["n": .array([.number(1), .number(2)])]))
        #expect(ServerMessage(text: text) == .relayed(from: "alice", .offer(sdp: "v=0\r\n")))
    }

    @Test func everyRelayTypeReachesItsPeer() {
        var harness = HubHarness()
        let alice = harness.join("room", as: "alice")
        let bob = harness.join("room", as: "bob")
        let payloads: [RelayPayload] = [
            .offer(sdp: "o"), .answer(sdp: "a"),
            .candidate(candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", sdpMid: "0", sdpMLineIndex: 0),
            .candidate(candidate: "", sdpMid: nil, sdpMLineIndex: nil),
            .endOfCandidates, .message(.object(["chat": "hi"])), .bye,
        ]
        for payload in payloads {
            let actions = harness.send(ClientMessage.relay(to: "alice", payload).text, from: bob)
            #expect(messages(to: alice, in: actions) == [.relayed(from: "bob", payload)])
        }
    }

    @Test func roomsAreSeparate() {
        var harness = HubHarness()
        let alice = harness.join("one", as: "alice")
        _ = harness.join("two", as: "bob")
        let actions = harness.send(ClientMessage.relay(to: "bob", .bye).text, from: alice)
        #expect(errorCodes(to: alice, in: actions) == [.unknownPeer])
        #expect(actions.count == 1)
    }

    @Test func leavingAndDisconnectingTellTheOthers() {
        var harness = HubHarness()
        let alice = harness.join("room", as: "alice")
        let bob = harness.join("room", as: "bob")
        let carol = harness.join("room", as: "carol")
        let leave = harness.send(#"{"type":"leave"}"#, from: bob)
        #expect(closeCode(of: bob, in: leave) == 1000)
        #expect(messages(to: alice, in: leave) == [.peerLeft("bob")])
        #expect(messages(to: carol, in: leave) == [.peerLeft("bob")])
        let gone = harness.hub.closed(carol)
        #expect(messages(to: alice, in: gone) == [.peerLeft("carol")])
        // A connection closed twice, or a message from a closed one, is nothing.
        #expect(harness.hub.closed(carol).isEmpty)
        #expect(harness.send(#"{"type":"ping"}"#, from: carol).isEmpty)
        #expect(harness.hub.closed(alice).isEmpty)
        #expect(harness.hub.roomCount == 0)
        #expect(harness.hub.connectionCount == 0)
    }

    @Test func aLeftPeersIdCanBeTakenAgain() {
        var harness = HubHarness()
        let first = harness.join("room", as: "alice")
        let second = harness.connect()
        let taken = harness.send(#"{"type":"join","room":"room","peer":"alice"}"#, from: second)
        #expect(errorCodes(to: second, in: taken) == [.peerIDTaken])
        #expect(closeCode(of: second, in: taken) == nil)
        _ = harness.hub.closed(first)
        let retry = harness.send(#"{"type":"join","room":"room","peer":"alice"}"#, from: second)
        #expect(messages(to: second, in: retry) == [.welcome(room: "room", peer: "alice", peers: [])])
    }

    @Test func pingIsAnsweredBeforeAndAfterJoining() {
        var harness = HubHarness()
        let id = harness.connect()
        #expect(messages(to: id, in: harness.send(#"{"type":"ping"}"#, from: id)) == [.pong])
        _ = harness.send(#"{"type":"join","room":"r","peer":"x"}"#, from: id)
        #expect(messages(to: id, in: harness.send(#"{"type":"ping"}"#, from: id)) == [.pong])
    }
}

@Suite("Signaling hub: errors and limits")
struct HubLimitTests {
    @Test(arguments: [
        ("not json", SignalingErrorCode.badJSON),
        ("[1,2]", .badJSON),
        (#"{"type":7}"#, .badJSON),
        (#"{"type":"teleport"}"#, .unknownType),
        (#"{"type":"offer","to":"x","sdp":"v=0"}"#, .notJoined),
        (#"{"type":"join","room":"bad room"}"#, .invalidField),
        (#"{"type":"join","room":""}"#, .invalidField),
        (#"{"type":"join"}"#, .invalidField),
        (#"{"type":"join","room":"r","peer":"a/b"}"#, .invalidField),
        (#"{"type":"join","room":"r","peer":7}"#, .invalidField),
    ])
    func malformedMessagesGetAnErrorAndTheConnectionStays(text: String, code: SignalingErrorCode) {
        var harness = HubHarness()
        let id = harness.connect()
        let actions = harness.send(text, from: id)
        #expect(errorCodes(to: id, in: actions) == [code])
        #expect(closeCode(of: id, in: actions) == nil)
        #expect(harness.hub.connectionCount == 1)
    }

    @Test func relaysWithMissingOrWrongMembersAreRefused() {
        var harness = HubHarness()
        let alice = harness.join("room", as: "alice")
        _ = harness.join("room", as: "bob")
        for text in [
            #"{"type":"offer","to":"bob"}"#, #"{"type":"offer","to":"bob","sdp":5}"#,
            #"{"type":"candidate","to":"bob"}"#, #"{"type":"message","to":"bob"}"#, #"{"type":"bye"}"#,
            #"{"type":"bye","to":["bob"]}"#,
        ] {
            #expect(errorCodes(to: alice, in: harness.send(text, from: alice)) == [.invalidField], "\(text)")
        }
        #expect(errorCodes(to: alice, in: harness.send(#"{"type":"join","room":"room"}"#, from: alice)) == [.alreadyJoined])
    }

    @Test func aFullRoomRefusesAndClosesTheNewcomer() {
        var harness = HubHarness(limits: SignalingLimits(maxPeersPerRoom: 2))
        _ = harness.join("room", as: "a")
        _ = harness.join("room", as: "b")
        let third = harness.connect()
        let actions = harness.send(#"{"type":"join","room":"room","peer":"c"}"#, from: third)
        #expect(errorCodes(to: third, in: actions) == [.roomFull])
        #expect(closeCode(of: third, in: actions) == 1008)
        #expect(harness.hub.peerCount == 2)
    }

    @Test func theNumberOfRoomsIsBounded() {
        var harness = HubHarness(limits: SignalingLimits(maxRooms: 2))
        _ = harness.join("one", as: "a")
        _ = harness.join("two", as: "a")
        let third = harness.connect()
        let actions = harness.send(#"{"type":"join","room":"three","peer":"a"}"#, from: third)
        #expect(errorCodes(to: third, in: actions) == [.tooManyRooms])
        #expect(closeCode(of: third, in: actions) == 1008)
        // Joining an existing room is still fine.
        _ = harness.join("one", as: "b")
    }

    @Test func oversizedMessagesCloseWith1009() {
        var harness = HubHarness(limits: SignalingLimits(maxMessageBytes: 1_024))
        let alice = harness.join("room", as: "alice")
        let bob = harness.join("room", as: "bob")
        let big = ClientMessage.relay(to: "bob", .offer(sdp: String(repeating: "x", count: 2_000))).text
        let actions = harness.send(big, from: alice)
        #expect(errorCodes(to: alice, in: actions) == [.messageTooLarge])
        #expect(closeCode(of: alice, in: actions) == 1009)
        #expect(messages(to: bob, in: actions) == [.peerLeft("alice")])
    }

    @Test func binaryFramesAreRefused() {
        var harness = HubHarness()
        let id = harness.connect()
        #expect(errorCodes(to: id, in: harness.hub.receiveBinary(from: id, now: harness.now)) == [.binaryNotSupported])
    }

    @Test func aFloodIsDroppedWithOneErrorThenClosed() {
        let limits = SignalingLimits(messagesPerSecond: 10, burst: 5, maxConsecutiveDrops: 20)
        var harness = HubHarness(limits: limits)
        let id = harness.connect()
        var pongs = 0
        var errors: [SignalingErrorCode] = []
        var closed: UInt16?
        for _ in 0..<30 where closed == nil {
            let actions = harness.send(#"{"type":"ping"}"#, from: id)
            pongs += messages(to: id, in: actions).filter { $0 == .pong }.count
            errors += errorCodes(to: id, in: actions)
            closed = closeCode(of: id, in: actions)
        }
        #expect(pongs == 5)  // the burst
        #expect(errors == [.rateLimited, .rateLimited])  // the first drop, then the closing one
        #expect(closed == 1008)
    }

    @Test func theBucketRefillsWithTime() {
        var harness = HubHarness(limits: SignalingLimits(messagesPerSecond: 10, burst: 2))
        let id = harness.connect()
        for _ in 0..<2 { #expect(messages(to: id, in: harness.send(#"{"type":"ping"}"#, from: id)) == [.pong]) }
        #expect(errorCodes(to: id, in: harness.send(#"{"type":"ping"}"#, from: id)) == [.rateLimited])
        harness.now += .milliseconds(150)  // 1.5 tokens
        #expect(messages(to: id, in: harness.send(#"{"type":"ping"}"#, from: id)) == [.pong])
        #expect(errorCodes(to: id, in: harness.send(#"{"type":"ping"}"#, from: id)) == [.rateLimited])
    }

    @Test func silentConnectionsExpireAndTheirRoomIsTold() {
        var harness = HubHarness(limits: SignalingLimits(idleTimeout: .seconds(60)))
        let alice = harness.join("room", as: "alice")
        harness.now += .seconds(30)
        let bob = harness.join("room", as: "bob")
        #expect(harness.hub.nextDeadline == harness.now + .seconds(30))
        harness.now += .seconds(31)
        let actions = harness.hub.expireIdle(now: harness.now)
        #expect(errorCodes(to: alice, in: actions) == [.idleTimeout])
        #expect(closeCode(of: alice, in: actions) == 1001)
        #expect(messages(to: bob, in: actions) == [.peerLeft("alice")])
        #expect(closeCode(of: bob, in: actions) == nil)
    }

    @Test func shutdownClosesEveryone() {
        var harness = HubHarness()
        let alice = harness.join("room", as: "alice")
        let loner = harness.connect()
        let actions = harness.hub.shutdown()
        #expect(closeCode(of: alice, in: actions) == 1001)
        #expect(closeCode(of: loner, in: actions) == 1001)
        #expect(harness.hub.connectionCount == 0)
    }

    @Test func randomInputNeverTrapsAndLeavesTheHubConsistent() {
        var random = SplitMix64(seed: 0x5167)
        var harness = HubHarness(limits: SignalingLimits(messagesPerSecond: 1e9, burst: 1_000_000))
        let ids = (0..<4).map { harness.join("room", as: "p\($0)") }
        let fragments = [
            "{", "}", "[", "]", "\"type\"", ":", ",", "\"offer\"", "\"to\"", "\"p1\"", "\"sdp\"", "\"join\"", "null", "1e999",
            "\"\\u0000\"", "\"candidate\"", "\"message\"", "\"data\"", "true", "\"room\"",
        ]
        for _ in 0..<5_000 {
            let text: String
            if random.next() % 2 == 0 {
                text = String(decoding: random.bytes(Int(random.next() % 64)), as: UTF8.self)
            } else {
                text = (0..<Int(random.next() % 12)).map { _ in fragments[Int(random.next() % UInt64(fragments.count))] }.joined()
            }
            let actions = harness.send(text, from: ids[Int(random.next() % 4)])
            #expect(actions.count <= 4)
        }
        #expect(harness.hub.peerCount <= 4)
        #expect(harness.hub.connectionCount == harness.hub.peerCount)
    }
}

@Suite("Signaling hub: admission")
struct HubAdmissionTests {
    @Test func aSharedSecretMustMatch() {
        var harness = HubHarness(admission: .sharedSecret("s3cret"))
        let wrong = harness.connect()
        let refused = harness.send(ClientMessage.join(room: "r", peer: "a", token: "guess").text, from: wrong)
        #expect(errorCodes(to: wrong, in: refused) == [.unauthorized])
        #expect(closeCode(of: wrong, in: refused) == 1008)
        let missing = harness.connect()
        #expect(errorCodes(to: missing, in: harness.send(#"{"type":"join","room":"r"}"#, from: missing)) == [.unauthorized])
        let right = harness.connect()
        let admitted = harness.send(ClientMessage.join(room: "r", peer: "a", token: "s3cret").text, from: right)
        #expect(messages(to: right, in: admitted) == [.welcome(room: "r", peer: "a", peers: [])])
    }

    @Test func signedTokensAreBoundToTheirRoomAndExpire() {
        let now: Int64 = 1_800_000_000
        var harness = HubHarness(admission: .signedTokens(key: "k"), unixTime: now)
        let valid = SignedToken.make(room: "r", expiry: now + 60, key: "k")
        let cases: [(String, Bool)] = [
            (valid, true),
            (SignedToken.make(room: "other", expiry: now + 60, key: "k"), false),
            (SignedToken.make(room: "r", expiry: now - 1, key: "k"), false),
            (SignedToken.make(room: "r", expiry: now + 60, key: "wrong key"), false),
            (valid.replacingOccurrences(of: "\(now + 60)", with: "\(now + 6000)"), false),
            ("", false), (".", false), ("12.34.56", false),
        ]
        for (index, (token, admitted)) in cases.enumerated() {
            let id = harness.connect()
            let actions = harness.send(ClientMessage.join(room: "r", peer: "p\(index)", token: token).text, from: id)
            #expect((closeCode(of: id, in: actions) == nil) == admitted, "token \(token)")
        }
        #expect(SignedToken.verify(valid, room: "r", key: "k", now: now))
        #expect(valid.split(separator: ".").last?.count == 64)
    }
}
