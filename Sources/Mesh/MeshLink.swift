import Signaling
import WebRTC

/// How a link's offer, answer and candidates travel.
enum SignalPath: Sendable, Hashable {
    /// Through the signaling server (the entrance).
    case server
    /// Through the overlay, as attempt `conn`.
    case overlay(conn: String)
}

/// What a link reports to its node's loop; `serial` tells a link from an older one to the same node.
enum LinkReport: Sendable {
    case channelOpen
    case text(String)
    case down
    case localDescription(RTCSessionDescription)
    /// A trickled candidate; `nil` is the end of candidates.
    case localCandidate(RTCIceCandidate?)
}

/// One link's peer connection and `mesh` channel (docs/mesh.md, "Nodes and links"), driven by
/// two tasks: one runs the negotiation steps in order, one writes the queued texts.
final class MeshLink: Sendable {
    /// A negotiation step, run in the order queued.
    enum Step: Sendable {
        case offer
        case answer(offer: String)
        case remoteAnswer(String)
        case remoteCandidate(RTCIceCandidate?)

        /// Whether the step sets our local description.
        var describesLocally: Bool {
            switch self {
            case .offer, .answer: true
            case .remoteAnswer, .remoteCandidate: false
            }
        }
    }

    /// Texts waiting for the channel; a neighbour that reads this much slower than we send loses messages.
    static let outboxLimit = 4_096

    let remote: String
    let serial: Int
    let path: SignalPath
    let connection: PeerConnection
    private let steps: AsyncStream<Step>.Continuation
    private let outbox: AsyncStream<String>.Continuation

    init(
        remote: String, serial: Int, path: SignalPath, connection: PeerConnection,
        report: @escaping @Sendable (LinkReport) -> Void
    ) {
        self.remote = remote
        self.serial = serial
        self.path = path
        self.connection = connection
        let (steps, stepSink) = AsyncStream.makeStream(of: Step.self)
        let (texts, outboxSink) = AsyncStream.makeStream(
            of: String.self, bufferingPolicy: .bufferingOldest(Self.outboxLimit))
        self.steps = stepSink
        self.outbox = outboxSink
        Task {
            await Self.run(connection: connection, steps: steps, texts: texts, report: report)
        }
    }

    /// Queues a negotiation step.
    func perform(_ step: Step) {
        steps.yield(step)
    }

    /// Queues `text` for the channel; false when the queue is full and the text was dropped.
    func send(_ text: String) -> Bool {
        if case .dropped = outbox.yield(text) { return false }
        return true
    }

    /// Closes the connection; the link's tasks then end.
    func close() async {
        steps.finish()
        outbox.finish()
        await connection.close()
    }

    private static func run(
        connection: PeerConnection, steps: AsyncStream<Step>, texts: AsyncStream<String>,
        report: @escaping @Sendable (LinkReport) -> Void
    ) async {
        // docs/mesh.md: one negotiated channel, id 0, created by both sides before any description.
        let channel: DataChannel
        do {
            channel = try await connection.createDataChannel("mesh", options: DataChannelOptions(negotiated: true, id: 0))
        } catch {
            report(.down)
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in channel.events {
                    if event == .open { report(.channelOpen) }
                }
                report(.down)
            }
            group.addTask {
                for await message in channel.messages {
                    if case .text(let text) = message { report(.text(text)) }
                }
            }
            group.addTask {
                for await text in texts {
                    do { try await channel.send(text) } catch { break }
                }
            }
            group.addTask {
                await negotiate(connection: connection, steps: steps, report: report)
            }
        }
    }

    /// Runs the steps; once our description is out, passes on candidates and failure (never
    /// a candidate ahead of its description).
    private static func negotiate(
        connection: PeerConnection, steps: AsyncStream<Step>, report: @escaping @Sendable (LinkReport) -> Void
    ) async {
        var forwarding: Task<Void, Never>?
        defer { forwarding?.cancel() }
        for await step in steps {
            do throws(PeerConnectionError) {
                switch step {
                case .offer:
                    let offer = try await connection.createOffer()
                    try await connection.setLocalDescription(offer)
                    report(.localDescription(offer))
                case .answer(let sdp):
                    try await connection.setRemoteDescription(RTCSessionDescription(type: .offer, sdp: sdp))
                    let answer = try await connection.createAnswer()
                    try await connection.setLocalDescription(answer)
                    report(.localDescription(answer))
                case .remoteAnswer(let sdp):
                    try await connection.setRemoteDescription(RTCSessionDescription(type: .answer, sdp: sdp))
                case .remoteCandidate(let candidate):
                    // A candidate we cannot use is not fatal (RFC 8838 §4: it is simply not paired).
                    try? await connection.addIceCandidate(candidate)
                }
            } catch {
                report(.down)
                return
            }
            if forwarding == nil, step.describesLocally {
                forwarding = Task { await forwardEvents(of: connection, report: report) }
            }
        }
    }

    private static func forwardEvents(of connection: PeerConnection, report: @escaping @Sendable (LinkReport) -> Void) async {
        for await event in connection.events {
            switch event {
            case .iceCandidate(let candidate): report(.localCandidate(candidate))
            case .endOfCandidates: report(.localCandidate(nil))
            case .connectionStateChanged(.failed), .connectionStateChanged(.closed): report(.down)
            default: break
            }
        }
    }
}
