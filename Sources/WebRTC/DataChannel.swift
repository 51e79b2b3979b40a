import DataChannel
import NIOConcurrencyHelpers
import NIOCore

/// What happens to a ``DataChannel`` besides its messages, in order.
public enum DataChannelEvent: Sendable, Hashable {
    /// The channel is open: messages can be sent (the W3C `open` event).
    case open
    /// ``DataChannel/bufferedAmount`` fell to ``DataChannel/bufferedAmountLowThreshold`` or below.
    case bufferedAmountLow
    /// The channel is closing.
    case closing
    /// The channel is closed; ``DataChannel/messages`` and this stream finish.
    case closed
}

/// Why a ``DataChannel`` send failed.
public struct DataChannelSendError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The cause.
    public enum Reason: Sendable, Hashable {
        /// The channel is not open (still connecting, closing or closed).
        case notOpen
        /// The message is larger than the peer accepts (its `a=max-message-size`, RFC 8841 §6).
        case messageTooLarge
        /// A non-suspending send found the channel's bounded queue full.
        case bufferFull
        /// The connection under the channel is closed or failed.
        case connectionClosed
    }

    /// The cause.
    public var reason: Reason

    init(_ reason: Reason) {
        self.reason = reason
    }

    /// A one-line explanation.
    public var description: String {
        switch reason {
        case .notOpen: "the data channel is not open"
        case .messageTooLarge: "the message is larger than the peer's maximum message size"
        case .bufferFull: "the data channel's send queue is full"
        case .connectionClosed: "the connection is closed"
        }
    }
}

/// A data channel (W3C `RTCDataChannel`, RFC 8831): messages in order (or not, or not all,
/// as its parameters say) between two peers.
///
/// Thread safety: a `DataChannel` is `Sendable`; use it from any task. Sends hop onto the
/// connection's event loop, where all protocol state lives; ``readyState`` and
/// ``bufferedAmount`` are snapshots the event loop keeps current.
///
/// Backpressure: ``send(_:)-(DataChannelMessage)`` suspends while more than
/// ``highWaterMark`` bytes wait to be sent and resumes once the queue drained to
/// ``lowWaterMark``, so a fast producer runs at the network's pace with bounded memory.
/// ``trySend(_:)`` never suspends and throws ``DataChannelSendError/Reason/bufferFull``
/// instead when the bounded queue is full.
public final class DataChannel: Sendable {
    /// Queued bytes above which ``send(_:)-(DataChannelMessage)`` suspends: 1 MiB keeps a
    /// 1200-byte-packet path busy at tens of MB/s over a local round trip.
    public static let highWaterMark = 1 << 20
    /// Queued bytes at or below which suspended sends resume.
    public static let lowWaterMark = 256 << 10

    /// The label, protocol, ordering and reliability the channel was created with.
    private let createdParameters: DataChannelParameters
    /// Received messages, text and binary kept apart; finishes when the channel closes.
    /// Single consumer.
    public let messages: AsyncStream<DataChannelMessage>
    /// State changes and buffered-amount-low notifications; finishes when the channel closes.
    /// Single consumer.
    public let events: AsyncStream<DataChannelEvent>

    let engine: EngineHandle
    let snapshot: NIOLockedValueBox<Snapshot>

    struct Snapshot {
        var id: UInt16?
        var maxMessageSize: Int
        var readyState: DataChannelState = .connecting
        var bufferedAmount = 0
        var bufferedAmountLowThreshold = 0
    }

    init(
        parameters: DataChannelParameters, maxMessageSize: Int, engine: EngineHandle,
        messages: AsyncStream<DataChannelMessage>, events: AsyncStream<DataChannelEvent>
    ) {
        createdParameters = parameters
        self.engine = engine
        self.messages = messages
        self.events = events
        snapshot = NIOLockedValueBox(Snapshot(id: parameters.id, maxMessageSize: maxMessageSize))
    }

    /// The SCTP stream id (W3C `id`, RFC 8832 §6): `nil` for an in-band channel until the DTLS role
    /// is known (the DTLS client takes even ids, the server odd ones); a negotiated channel's id
    /// from the start.
    public var id: UInt16? { snapshot.withLockedValue { $0.id } }

    /// The label, protocol, ordering and reliability the channel was created with, and its
    /// ``id`` once known.
    public var parameters: DataChannelParameters {
        var parameters = createdParameters
        parameters.id = id
        return parameters
    }

    /// The label (W3C `label`).
    public var label: String { createdParameters.label }

    /// The largest message ``send(_:)-(DataChannelMessage)`` accepts, in bytes: the smaller of our
    /// `a=max-message-size` and the peer's (RFC 8841 §6; the W3C `RTCSctpTransport.maxMessageSize`).
    /// Before the peer's description is applied, ours.
    public var maxMessageSize: Int { snapshot.withLockedValue { $0.maxMessageSize } }

    /// `connecting`, `open`, `closing` or `closed` (W3C `readyState`).
    public var readyState: DataChannelState { snapshot.withLockedValue { $0.readyState } }

    /// Bytes of messages accepted by ``send(_:)-(DataChannelMessage)`` not yet handed to the
    /// network (W3C `bufferedAmount`).
    public var bufferedAmount: Int { snapshot.withLockedValue { $0.bufferedAmount } }

    /// ``DataChannelEvent/bufferedAmountLow`` fires when ``bufferedAmount`` falls to this or below
    /// (W3C `bufferedAmountLowThreshold`, 0 by default).
    public var bufferedAmountLowThreshold: Int {
        get { snapshot.withLockedValue { $0.bufferedAmountLowThreshold } }
        set {
            let threshold = max(0, newValue)
            snapshot.withLockedValue { $0.bufferedAmountLowThreshold = threshold }
            engine.execute { [self] engine in engine.setBufferedAmountLowThreshold(threshold, for: self) }
        }
    }

    /// Sends a message, suspending while the channel's queue is above ``highWaterMark``.
    public func send(_ message: DataChannelMessage) async throws(DataChannelSendError) {
        guard let id else { throw DataChannelSendError(.notOpen) }
        let result: Result<Void, DataChannelSendError> = await withCheckedContinuation { continuation in
            engine.execute { engine in
                engine.send(message, on: id, suspending: continuation)
            } ifClosed: {
                continuation.resume(returning: .failure(DataChannelSendError(.connectionClosed)))
            }
        }
        try result.get()
    }

    /// Sends a text message (PPID 51, or 56 when empty; RFC 8831 §8).
    public func send(_ text: String) async throws(DataChannelSendError) {
        try await send(.text(text))
    }

    /// Sends a binary message (PPID 53, or 57 when empty; RFC 8831 §8).
    public func send(_ bytes: [UInt8]) async throws(DataChannelSendError) {
        try await send(.binary(bytes))
    }

    /// Sends other byte sequences (`Data`, `ArraySlice<UInt8>`, …) as a binary message. Contiguous
    /// ones are copied in one go, not byte by byte (this generic is not specialized across modules).
    public func send(_ bytes: some Sequence<UInt8>) async throws(DataChannelSendError) {
        let array = bytes.withContiguousStorageIfAvailable { Array($0) } ?? Array(bytes)
        try await send(.binary(array))
    }

    /// Sends the readable bytes of `buffer` as a binary message.
    public func send(_ buffer: ByteBuffer) async throws(DataChannelSendError) {
        try await send(.binary(Array(buffer.readableBytesView)))
    }

    /// Sends without suspending: throws ``DataChannelSendError/Reason/bufferFull`` when the
    /// channel's bounded queue cannot take the message now.
    public func trySend(_ message: DataChannelMessage) async throws(DataChannelSendError) {
        guard let id else { throw DataChannelSendError(.notOpen) }
        let result: Result<Void, DataChannelSendError> = await withCheckedContinuation { continuation in
            engine.execute { engine in
                continuation.resume(returning: engine.trySend(message, on: id))
            } ifClosed: {
                continuation.resume(returning: .failure(DataChannelSendError(.connectionClosed)))
            }
        }
        try result.get()
    }

    /// Closes the channel (RFC 8831 §6.7); ``events`` reports `closing`, then `closed` (only
    /// `closed` for a channel that never reached the transport).
    public func close() {
        engine.execute { [self] engine in engine.closeChannel(self) }
    }
}
