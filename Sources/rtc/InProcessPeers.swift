import DataChannel
import NIOConcurrencyHelpers
import WebRTC

/// Two peer connections on loopback in this process with the signaling between them passed in
/// memory (trickled candidates included): what `rtc demo` and `rtc bench` run on.
struct InProcessPeers {
    let offerer: PeerConnection
    let answerer: PeerConnection
    /// The channels the offerer opens, as the answerer receives them.
    let incoming: AsyncStream<DataChannel>
    /// When the offerer's ICE and then its whole connection (DTLS) first reported connected.
    let milestones = Milestones()
    private let signaling: Task<Void, Never>

    init() throws {
        var configuration = PeerConnectionConfiguration()
        configuration.hostAddresses = .loopback
        let offerer = try PeerConnection(configuration: configuration)
        let answerer = try PeerConnection(configuration: configuration)
        let (incoming, incomingContinuation) = AsyncStream.makeStream(of: DataChannel.self)
        let milestones = milestones
        signaling = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await forward(offerer, to: answerer, channels: nil, milestones: milestones) }
                group.addTask { await forward(answerer, to: offerer, channels: incomingContinuation, milestones: nil) }
            }
        }
        self.offerer = offerer
        self.answerer = answerer
        self.incoming = incoming
    }

    /// Offer, answer, and both descriptions applied; ICE, DTLS and SCTP then come up.
    func negotiate() async throws {
        try await offerer.setLocalDescription()
        guard let offer = await offerer.localDescription else { throw ToolFailure("the offerer made no offer") }
        try await answerer.setRemoteDescription(offer)
        try await answerer.setLocalDescription()
        guard let answer = await answerer.localDescription else { throw ToolFailure("the answerer made no answer") }
        try await offerer.setRemoteDescription(answer)
    }

    func close() async {
        signaling.cancel()
        await offerer.close()
        await answerer.close()
    }
}

/// Forwards `from`'s local candidates to `to`, hands incoming channels to `channels` and notes
/// `from`'s milestones.
private func forward(
    _ from: PeerConnection, to: PeerConnection, channels: AsyncStream<DataChannel>.Continuation?, milestones: Milestones?
) async {
    for await event in from.events {
        switch event {
        case .iceCandidate(let candidate): try? await to.addIceCandidate(candidate)
        case .endOfCandidates: try? await to.addIceCandidate(nil)
        case .dataChannel(let channel): channels?.yield(channel)
        case .iceConnectionStateChanged(let state) where state == .connected || state == .completed:
            milestones?.note(\.iceConnected)
        case .connectionStateChanged(let state) where state == .connected: milestones?.note(\.connected)
        default: break
        }
    }
    channels?.finish()
}

/// When setup milestones were first reached, for `rtc bench`'s breakdown of setup time.
final class Milestones: Sendable {
    struct Times: Sendable {
        var iceConnected: ContinuousClock.Instant?
        var connected: ContinuousClock.Instant?
    }

    private let times = NIOLockedValueBox(Times())

    func note(_ milestone: WritableKeyPath<Times, ContinuousClock.Instant?> & Sendable) {
        times.withLockedValue { if $0[keyPath: milestone] == nil { $0[keyPath: milestone] = .now } }
    }

    var current: Times { times.withLockedValue { $0 } }
}

/// Returns once `channel` is open; throws if it closes first.
func waitUntilOpen(_ channel: DataChannel) async throws {
    var events = channel.events.makeAsyncIterator()
    while channel.readyState != .open {
        guard let event = await events.next(), event != .closed else {
            throw ToolFailure("the channel '\(channel.label)' closed before opening")
        }
    }
}

/// A failure of a tool command, with its one-line reason.
struct ToolFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
