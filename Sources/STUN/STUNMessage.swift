/// An owned STUN message: header fields plus typed attributes. For building messages and for tools;
/// the receive hot path should use ``STUNMessageView`` directly.
public struct STUNMessage: Sendable, Hashable {
    /// The method.
    public var method: STUNMethod
    /// The class.
    public var messageClass: STUNMessageClass
    /// The transaction ID.
    public var transactionID: STUNTransactionID
    /// The attributes in order. After decoding: the visible attributes (see ``STUNMessageView``),
    /// including MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT with their received values. When encoding,
    /// those three are skipped and recomputed from the arguments of ``encoded(integrity:integritySHA256:fingerprint:)``.
    public var attributes: [STUNAttribute]

    /// Creates a message.
    public init(
        method: STUNMethod,
        messageClass: STUNMessageClass,
        transactionID: STUNTransactionID = .random(),
        attributes: [STUNAttribute] = []
    ) {
        self.method = method
        self.messageClass = messageClass
        self.transactionID = transactionID
        self.attributes = attributes
    }

    /// Copies a view into an owned message, decoding every visible attribute; throws
    /// ``STUNDecodeError/invalidAttribute(type:reason:)`` for the first malformed one. Unknown
    /// attributes become ``STUNAttribute/other(type:value:)``.
    public init(_ view: STUNMessageView) throws(STUNDecodeError) {
        var attributes: [STUNAttribute] = []
        for raw in view.attributes {
            attributes.append(try STUNAttribute(decoding: raw, transactionID: view.transactionID))
        }
        self.init(method: view.method, messageClass: view.messageClass, transactionID: view.transactionID, attributes: attributes)
    }

    /// Decodes `bytes` through ``STUNMessageView`` (the single decoder) and copies the result.
    public init(decoding bytes: [UInt8]) throws(STUNDecodeError) {
        // `Array.withUnsafeBytes` rethrows untyped errors; carry the typed one out in a Result.
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(STUNDecodeError) -> STUNMessage in try STUNMessage(STUNMessageView(raw)) }
        }
        self = try result.get()
    }

    /// The message type.
    public var messageType: STUNMessageType {
        STUNMessageType(method: method, messageClass: messageClass)
    }

    /// Encodes into a new array. See ``encode(into:integrity:integritySHA256:fingerprint:)``.
    public func encoded(
        integrity: STUNIntegrityKey? = nil,
        integritySHA256: STUNIntegrityKey? = nil,
        fingerprint: Bool = false
    ) throws(STUNEncodeError) -> [UInt8] {
        var buffer: [UInt8] = []
        try encode(into: &buffer, integrity: integrity, integritySHA256: integritySHA256, fingerprint: fingerprint)
        return buffer
    }

    /// Encodes into `buffer`, replacing its contents and reusing its capacity (no allocation when it
    /// suffices). Appends MESSAGE-INTEGRITY under `integrity`, MESSAGE-INTEGRITY-SHA256 under
    /// `integritySHA256` and FINGERPRINT if `fingerprint`; MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256
    /// and FINGERPRINT entries in ``attributes`` are not copied. On error `buffer` is left empty.
    public func encode(
        into buffer: inout [UInt8],
        integrity: STUNIntegrityKey? = nil,
        integritySHA256: STUNIntegrityKey? = nil,
        fingerprint: Bool = false
    ) throws(STUNEncodeError) {
        var writer = STUNMessageWriter(type: messageType, transactionID: transactionID, reusing: &buffer)
        for attribute in attributes {
            try writer.append(attribute)
        }
        buffer = try writer.finish(integrity: integrity, integritySHA256: integritySHA256, fingerprint: fingerprint)
    }
}
