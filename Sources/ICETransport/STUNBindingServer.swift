import STUN

/// A sans-IO STUN binding server (RFC 8489 §3, §6.3): bytes and their source address in, the
/// response bytes out. It answers Binding requests with XOR-MAPPED-ADDRESS, an optional SOFTWARE
/// and FINGERPRINT, and ignores everything else, counting why in ``statistics``.
///
/// It has no credentials (RFC 8489 §9 mechanisms are not used by a public binding server such as
/// the one ICE's server-reflexive gathering talks to, RFC 8445 §5.1.1.2), keeps no per-client
/// state, and never traps on any input. Run it over real sockets with ``STUNBindingService``.
public struct STUNBindingServer: Sendable {
    /// Why packets were answered or ignored.
    public struct Statistics: Sendable, Hashable {
        /// Binding requests answered with a success response.
        public var bindingRequestsAnswered = 0
        /// Binding requests answered with 420 (Unknown Attribute) because they carried
        /// comprehension-required attributes this server does not know (RFC 8489 §6.3.1).
        public var unknownAttributeErrorsSent = 0
        /// Packets that are not a well-formed STUN message (RFC 8489 §6.3: silently discarded).
        public var ignoredMalformed = 0
        /// Messages whose FINGERPRINT is wrong (RFC 8489 §7.3: discarded).
        public var ignoredBadFingerprint = 0
        /// Indications (including Binding keepalives, RFC 8489 §6.3.2) and responses (§6.3.3): a
        /// server with no transactions of its own answers neither.
        public var ignoredNonRequests = 0
        /// Requests of a method other than Binding.
        public var ignoredOtherMethods = 0

        /// Creates zeroed counters.
        public init() {}

        /// Every packet that got no answer.
        public var ignored: Int {
            ignoredMalformed + ignoredBadFingerprint + ignoredNonRequests + ignoredOtherMethods
        }
    }

    /// The SOFTWARE attribute value sent in every response (RFC 8489 §14.14), or `nil` for none.
    public let software: String?
    /// What the server has answered and ignored so far.
    public private(set) var statistics = Statistics()

    /// Creates a server. `software` is cut to fewer than 128 characters and 509 UTF-8 bytes,
    /// the limits RFC 8489 §14.14 sets for senders.
    public init(software: String? = "swift-webrtc") {
        self.software = software.map { text in
            var kept = Substring(text.prefix(127))
            while kept.utf8.count > 508 {
                kept = kept.dropLast()
            }
            return String(kept)
        }
    }

    /// The response to send back to `source` for `packet`, or `nil` if the packet gets none.
    public mutating func respond(to packet: UnsafeRawBufferPointer, from source: TransportAddress) -> [UInt8]? {
        guard let view = try? STUNMessageView(packet) else {
            statistics.ignoredMalformed += 1
            return nil
        }
        if view.hasFingerprint, !view.verifyFingerprint() {
            statistics.ignoredBadFingerprint += 1
            return nil
        }
        guard view.messageClass == .request else {
            statistics.ignoredNonRequests += 1
            return nil
        }
        guard view.method == .binding else {
            statistics.ignoredOtherMethods += 1
            return nil
        }
        // RFC 8489 §6.3.1: unknown comprehension-required attributes get a 420 error response
        // listing them in UNKNOWN-ATTRIBUTES; otherwise a success response carries the request's
        // source transport address in XOR-MAPPED-ADDRESS (§6.3.1.1, §14.2).
        let unknown = view.hasUnknownComprehensionRequiredAttributes ? view.unknownComprehensionRequired : []
        // The message holds at most one address, a SOFTWARE of at most 509 bytes and the unknown
        // types of one request (at most ``STUNLimits/maximumAttributeCount``), far below the size
        // limit, so encoding cannot fail.
        guard let response = try? encodeResponse(to: view.transactionID, source: source, unknownAttributes: unknown) else {
            return nil
        }
        if unknown.isEmpty {
            statistics.bindingRequestsAnswered += 1
        } else {
            statistics.unknownAttributeErrorsSent += 1
        }
        return response
    }

    private func encodeResponse(
        to transactionID: STUNTransactionID, source: TransportAddress, unknownAttributes: [UInt16]
    ) throws(STUNEncodeError) -> [UInt8] {
        let messageClass: STUNMessageClass = unknownAttributes.isEmpty ? .successResponse : .errorResponse
        var writer = STUNMessageWriter(
            type: STUNMessageType(method: .binding, messageClass: messageClass), transactionID: transactionID)
        if unknownAttributes.isEmpty {
            try writer.append(.xorMappedAddress(source))
        } else {
            try writer.append(.errorCode(STUNErrorCode(code: STUNErrorCode.unknownAttribute, reason: "Unknown Attribute")))
            try writer.append(.unknownAttributes(unknownAttributes))
        }
        if let software {
            try writer.append(.software(software))
        }
        // RFC 8489 §14.7: FINGERPRINT lets a client multiplexing STUN with other protocols
        // recognise the response.
        return try writer.finish(fingerprint: true)
    }
}
