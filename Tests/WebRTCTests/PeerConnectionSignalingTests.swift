import DTLS
import DataChannel
import Foundation
import ICE
import SDP
import Testing
@testable import WebRTC

/// JSEP behaviour that needs no socket: ICE starts only with a local description, so everything
/// here runs anywhere.
@Suite("PeerConnection signaling (no sockets)")
struct PeerConnectionSignalingTests {
    private func expectError(_ expected: PeerConnectionError.Reason, _ body: () async throws(PeerConnectionError) -> Void) async {
        do {
            try await body()
            Issue.record("expected \(expected)")
        } catch {
            #expect(error.reason == expected)
        }
    }

    private func reason(_ body: () async throws(PeerConnectionError) -> Void) async -> PeerConnectionError.Reason? {
        do {
            try await body()
            return nil
        } catch {
            return error.reason
        }
    }

    @Test("an offer parses with the SDP module and carries every attribute browsers need")
    func offerContents() async throws {
        let connection = try PeerConnection(configuration: PeerConnectionConfiguration(maxMessageSize: 100_000))
        let offer = try await connection.createOffer()
        #expect(offer.type == .offer)
        let session = try SessionDescription(parsing: offer.sdp)
        #expect(session.media.count == 1)
        let data = try #require(session.media.first)
        #expect(data.mediaLineValue == "application 9 UDP/DTLS/SCTP webrtc-datachannel")
        #expect(data.fields.contains(.line(type: .connection, value: "IN IP4 0.0.0.0")))
        #expect(session.bundleGroup == SDPGroup(semantics: "BUNDLE", identificationTags: ["0"]))
        #expect(data.mid == "0")
        #expect(data.iceUfrag?.count == 8 && data.icePwd?.count == 24)
        #expect(data.iceOptions == ["trickle"])
        #expect(data.fingerprints.first?.algorithm == .sha256)
        #expect(data.setup == .actpass)
        #expect(data.sctpPort == 5000)
        #expect(data.maxMessageSize == 100_000)
        #expect(session.origin.username == "-" && session.sessionName == "-")
        #expect(session.fields.first == .line(type: .timing, value: "0 0"))
        let sessionID = try #require(UInt64(session.origin.sessionID))
        #expect(sessionID <= UInt64(Int64.max))
        // The same offer again keeps the session version (RFC 9429 §5.2.2).
        let again = try SessionDescription(parsing: try await connection.createOffer().sdp)
        #expect(again.origin == session.origin)
        #expect(connection.signalingState == .stable)
        await connection.close()
    }

    @Test("the answer mirrors the offer: mid, active setup, rejected media sections, legacy sctpmap")
    func answerContents() async throws {
        let offerer = try PeerConnection()
        let answerer = try PeerConnection(configuration: PeerConnectionConfiguration(maxMessageSize: 65_536))
        // A browser offer with audio first and the data section second, mid "data", in the legacy form.
        var offer = try SessionDescription(parsing: try await offerer.createOffer().sdp)
        var data = offer.media[0]
        data.proto = "DTLS/SCTP"
        data.formats = ["5000"]
        data.fields = data.fields.map { field in
            switch field {
            case .attribute(.mid): .attribute(.mid("data"))
            case .attribute(.sctpPort): .attribute(.sctpmap(SCTPMap(port: 5000, streams: 1024)))
            default: field
            }
        }
        let audio = MediaDescription(
            media: "audio", port: 9, proto: "UDP/TLS/RTP/SAVPF", formats: ["111"],
            fields: [.line(type: .connection, value: "IN IP4 0.0.0.0"), .attribute(.mid("a"))])
        offer.media = [audio, data]
        try await answerer.setRemoteDescription(RTCSessionDescription(type: .offer, sdp: offer.serialized()))
        #expect(answerer.signalingState == .haveRemoteOffer)
        let answer = try SessionDescription(parsing: try await answerer.createAnswer().sdp)
        #expect(answer.media.count == 2)
        #expect(answer.media[0].port == 0 && answer.media[0].media == "audio" && answer.media[0].mid == "a")
        #expect(answer.media[1].mediaLineValue == "application 9 DTLS/SCTP 5000")
        #expect(answer.media[1].sctpmap?.port == 5000)
        #expect(answer.media[1].mid == "data")
        #expect(answer.media[1].setup == .active)
        #expect(answer.media[1].maxMessageSize == 65_536)
        #expect(answer.bundleGroup?.identificationTags == ["data"])
        // Candidates name the data section by its mid, or by its index when no mid is given.
        let candidate = "candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host"
        try await answerer.addIceCandidate(RTCIceCandidate(candidate: candidate, sdpMid: "data", sdpMLineIndex: nil))
        try await answerer.addIceCandidate(RTCIceCandidate(candidate: candidate, sdpMid: nil, sdpMLineIndex: 1))
        await expectError(.invalidCandidate("sdpMid/sdpMLineIndex do not name the data m-section")) { () async throws(PeerConnectionError) in
            try await answerer.addIceCandidate(RTCIceCandidate(candidate: candidate, sdpMid: "a"))
        }
        await offerer.close()
        await answerer.close()
    }

    @Test("libdatachannel's session-level ICE credentials, fingerprint and ice-options are accepted")
    func sessionLevelAttributes() async throws {
        let fingerprint = try DTLSCertificate.generate().fingerprint()
        let sdp = """
            v=0\r
            o=rtc 2906207254 0 IN IP4 127.0.0.1\r
            s=-\r
            t=0 0\r
            a=group:BUNDLE 0\r
            a=msid-semantic:WMS *\r
            a=setup:actpass\r
            a=ice-ufrag:Ab3d\r
            a=ice-pwd:abcdefghijklmnopqrstuv\r
            a=ice-options:ice2,trickle\r
            a=fingerprint:\(fingerprint.attributeValue)\r
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r
            c=IN IP4 0.0.0.0\r
            a=mid:0\r
            a=sendrecv\r
            a=sctp-port:5000\r
            a=max-message-size:262144\r

            """
        let answerer = try PeerConnection()
        try await answerer.setRemoteDescription(RTCSessionDescription(type: .offer, sdp: sdp))
        let answer = try SessionDescription(parsing: try await answerer.createAnswer().sdp)
        #expect(answer.media.first?.setup == .active)
        #expect(await answerer.remoteDescription?.sdp == sdp)
        await answerer.close()
    }

    @Test("calls in the wrong signaling state throw invalidState; rollback returns to stable")
    func signalingStateErrors() async throws {
        let a = try PeerConnection()
        let b = try PeerConnection()
        let offer = try await a.createOffer()
        await expectError(.invalidState(.stable)) { () async throws(PeerConnectionError) in _ = try await a.createAnswer() }
        await expectError(.invalidState(.stable)) { () async throws(PeerConnectionError) in
            try await a.setRemoteDescription(RTCSessionDescription(type: .answer, sdp: offer.sdp))
        }
        await expectError(.invalidState(.stable)) { () async throws(PeerConnectionError) in
            try await a.setLocalDescription(RTCSessionDescription(type: .answer, sdp: offer.sdp))
        }
        await expectError(.invalidState(.stable)) { () async throws(PeerConnectionError) in
            try await a.setLocalDescription(RTCSessionDescription(type: .rollback, sdp: ""))
        }
        await expectError(.invalidState(.stable)) { () async throws(PeerConnectionError) in
            try await a.setRemoteDescription(RTCSessionDescription(type: .pranswer, sdp: offer.sdp))
        }

        try await b.setRemoteDescription(offer)
        #expect(b.signalingState == .haveRemoteOffer)
        await expectError(.invalidState(.haveRemoteOffer)) { () async throws(PeerConnectionError) in _ = try await b.createOffer() }
        await expectError(.invalidState(.haveRemoteOffer)) { () async throws(PeerConnectionError) in
            try await b.setRemoteDescription(RTCSessionDescription(type: .answer, sdp: offer.sdp))
        }
        try await b.setRemoteDescription(RTCSessionDescription(type: .rollback, sdp: ""))
        #expect(b.signalingState == .stable)
        #expect(await b.remoteDescription == nil)
        // After the rollback b can offer itself.
        _ = try await b.createOffer()

        // A local description must be the one created (no munging).
        await expectError(.invalidDescription("not the last description created by createOffer (SDP munging is not supported)")) {
            () async throws(PeerConnectionError) in
            try await a.setLocalDescription(RTCSessionDescription(type: .offer, sdp: offer.sdp + "a=x\r\n"))
        }
        #expect(a.signalingState == .stable)
        await a.close()
        await b.close()
    }

    @Test("invalid remote descriptions and candidates are typed errors that change nothing")
    func invalidInput() async throws {
        let a = try PeerConnection()
        let b = try PeerConnection()
        let offer = try await a.createOffer().sdp

        func invalidDescription(_ sdp: String) async -> PeerConnectionError.Reason? {
            await reason { () async throws(PeerConnectionError) in
                try await b.setRemoteDescription(RTCSessionDescription(type: .offer, sdp: sdp))
            }
        }
        guard case .invalidDescription(let garbage)? = await invalidDescription("hello, world") else {
            Issue.record("garbage SDP accepted")
            return
        }
        #expect(garbage.hasPrefix("SDP does not parse"))
        let noFingerprint = offer.split(separator: "\r\n").filter { !$0.hasPrefix("a=fingerprint") }.joined(separator: "\r\n") + "\r\n"
        #expect(await invalidDescription(noFingerprint) == .invalidDescription("no a=fingerprint (RFC 8122 §5)"))
        let noCredentials = offer.split(separator: "\r\n").filter { !$0.hasPrefix("a=ice-pwd") }.joined(separator: "\r\n") + "\r\n"
        #expect(await invalidDescription(noCredentials) == .invalidDescription("no a=ice-ufrag / a=ice-pwd (RFC 8839 §5.4)"))
        let audioOnly = offer.replacingOccurrences(of: "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", with: "m=audio 9 UDP/TLS/RTP/SAVPF 111")
        guard case .invalidDescription(let missing)? = await invalidDescription(audioOnly) else {
            Issue.record("an offer without a data section was accepted")
            return
        }
        #expect(missing.hasPrefix("no data-channel m-section"))
        let holdconn = offer.replacingOccurrences(of: "a=setup:actpass", with: "a=setup:holdconn")
        #expect(await invalidDescription(holdconn) == .invalidDescription("a=setup:holdconn is not allowed in an offer (RFC 8842 §5)"))
        #expect(b.signalingState == .stable)

        // Candidates: malformed ones throw at once; good ones before any remote description are queued.
        guard case .invalidCandidate? = await reason({ () async throws(PeerConnectionError) in
            try await b.addIceCandidate(RTCIceCandidate(candidate: "candidate:garbage"))
        }) else {
            Issue.record("a malformed candidate was accepted")
            return
        }
        #expect(await reason { () async throws(PeerConnectionError) in
            try await b.addIceCandidate(RTCIceCandidate(candidate: "candidate:1 1 udp 1 192.0.2.1 1 typ host", sdpMid: nil, sdpMLineIndex: nil))
        } == .invalidCandidate("neither sdpMid nor sdpMLineIndex is given"))
        try await b.addIceCandidate(RTCIceCandidate(candidate: "candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host"))
        try await b.addIceCandidate(nil)
        await a.close()
        await b.close()
    }

    @Test("channels exist before negotiation: connecting, no id unless negotiated; bad options are typed errors")
    func channelsBeforeNegotiation() async throws {
        let connection = try PeerConnection()
        let inBand = try await connection.createDataChannel("chat", options: DataChannelOptions(ordered: false, id: 7))
        #expect(inBand.readyState == .connecting)
        #expect(inBand.id == nil)
        #expect(inBand.label == "chat" && !inBand.parameters.ordered)
        #expect(inBand.maxMessageSize == 262_144)
        let negotiated = try await connection.createDataChannel("n", options: DataChannelOptions(negotiated: true, id: 3))
        #expect(negotiated.id == 3)
        await #expect(throws: DataChannelSendError(.notOpen)) { try await inBand.send("too early") }
        #expect(await reason { () async throws(PeerConnectionError) in
            _ = try await connection.createDataChannel("x", options: DataChannelOptions(maxRetransmits: 1, maxPacketLifeTime: 1))
        } == .invalidParameters("maxRetransmits and maxPacketLifeTime are exclusive"))
        #expect(await reason { () async throws(PeerConnectionError) in
            _ = try await connection.createDataChannel("x", options: DataChannelOptions(negotiated: true))
        } == .invalidParameters("a negotiated channel needs an id (RFC 8831 §6.5)"))
        // A waiting channel closes at once.
        negotiated.close()
        for await event in negotiated.events where event == .closed { break }
        #expect(negotiated.readyState == .closed)
        let statistics = await connection.statistics()
        #expect(statistics.channels.map(\.label) == ["chat"])
        await connection.close()
        #expect(inBand.readyState == .closed)
    }

    @Test("after close every call throws closed, the state is closed and the event stream ends")
    func closed() async throws {
        let connection = try PeerConnection()
        await connection.close()
        await connection.close()
        #expect(connection.signalingState == .closed)
        #expect(connection.connectionState == .closed)
        #expect(await reason { () async throws(PeerConnectionError) in _ = try await connection.createOffer() } == .closed)
        #expect(await reason { () async throws(PeerConnectionError) in try await connection.setLocalDescription() } == .closed)
        #expect(await reason { () async throws(PeerConnectionError) in _ = try await connection.createDataChannel("x") } == .closed)
        #expect(await reason { () async throws(PeerConnectionError) in try await connection.addIceCandidate(nil) } == .closed)
        var count = 0
        for await _ in connection.events { count += 1 }
        #expect(count == 0)
    }

    @Test("connection state follows W3C from the ICE and DTLS states")
    func connectionStateDerivation() {
        #expect(JSEP.connectionState(closed: false, ice: .new, dtls: .new) == .new)
        #expect(JSEP.connectionState(closed: false, ice: .checking, dtls: .new) == .connecting)
        #expect(JSEP.connectionState(closed: false, ice: .connected, dtls: .connecting) == .connecting)
        #expect(JSEP.connectionState(closed: false, ice: .connected, dtls: .connected) == .connected)
        #expect(JSEP.connectionState(closed: false, ice: .completed, dtls: .connected) == .connected)
        #expect(JSEP.connectionState(closed: false, ice: .disconnected, dtls: .connected) == .disconnected)
        #expect(JSEP.connectionState(closed: false, ice: .connected, dtls: .failed) == .failed)
        #expect(JSEP.connectionState(closed: false, ice: .failed, dtls: .connected) == .failed)
        #expect(JSEP.connectionState(closed: true, ice: .connected, dtls: .connected) == .closed)
    }

    @Test("STUN URLs: IP literals and names with ports; TURN and STUNS are unsupported")
    func iceServerURLs() {
        #expect(ICEServerURL("stun:192.0.2.1") == .stun(host: "192.0.2.1", port: 3478))
        #expect(ICEServerURL("stun:192.0.2.1:19302") == .stun(host: "192.0.2.1", port: 19302))
        #expect(ICEServerURL("stun:[2001:db8::1]:5000") == .stun(host: "2001:db8::1", port: 5000))
        #expect(ICEServerURL("STUN:stun.example.org") == .stun(host: "stun.example.org", port: 3478))
        #expect(ICEServerURL("turn:192.0.2.1?transport=udp") == .unsupported("turn:192.0.2.1?transport=udp"))
        #expect(ICEServerURL("stuns:192.0.2.1") == .unsupported("stuns:192.0.2.1"))
        #expect(ICEServerURL("stun:192.0.2.1:0") == .unsupported("stun:192.0.2.1:0"))
        #expect(ICEServerURL("stun:") == .unsupported("stun:"))
    }
}
