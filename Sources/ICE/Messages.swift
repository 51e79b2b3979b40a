import STUN

/// The attributes of an ICE connectivity check (RFC 8445 §7.1).
struct CheckAttributes: Sendable {
    /// RFC 8445 §7.2.2: "remoteUfrag:localUfrag".
    var username: String
    /// RFC 8445 §7.1.1: the priority of a peer-reflexive candidate of the local base.
    var priority: UInt32
    /// RFC 8445 §7.1.3: ICE-CONTROLLING or ICE-CONTROLLED with the tie-breaker.
    var role: ICERole
    var tieBreaker: UInt64
    /// RFC 8445 §7.1.2.
    var useCandidate: Bool
}

/// STUN Binding messages the agent sends. Encoding fails only for oversized text (a signalled
/// ufrag longer than STUN allows), reported as `nil`.
enum Messages {
    static let bindingRequest = STUNMessageType(method: .binding, messageClass: .request)
    static let bindingSuccess = STUNMessageType(method: .binding, messageClass: .successResponse)
    static let bindingError = STUNMessageType(method: .binding, messageClass: .errorResponse)

    /// A Binding request: a check (signed with the remote password) or, without `check`, a plain
    /// request to a STUN server. FINGERPRINT always (RFC 8445 §7.2.2).
    static func request(id: STUNTransactionID, check: CheckAttributes?, key: STUNIntegrityKey?) -> [UInt8]? {
        try? encodeRequest(id: id, check: check, key: key)
    }

    private static func encodeRequest(id: STUNTransactionID, check: CheckAttributes?, key: STUNIntegrityKey?) throws(STUNEncodeError) -> [UInt8] {
        var writer = STUNMessageWriter(type: bindingRequest, transactionID: id)
        if let check {
            try writer.append(.username(check.username))
            try writer.append(.priority(check.priority))
            switch check.role {
            case .controlling: try writer.append(.iceControlling(tieBreaker: check.tieBreaker))
            case .controlled: try writer.append(.iceControlled(tieBreaker: check.tieBreaker))
            }
            if check.useCandidate {
                try writer.append(.useCandidate)
            }
        }
        return try writer.finish(integrity: key, fingerprint: true)
    }

    /// RFC 8445 §7.3.1.2 / RFC 8489 §6.3.1.1: success with XOR-MAPPED-ADDRESS = the request's
    /// source, signed with the local password, with FINGERPRINT.
    static func success(id: STUNTransactionID, mapped: TransportAddress, key: STUNIntegrityKey) -> [UInt8]? {
        try? encodeResponse(type: bindingSuccess, id: id, attributes: [.xorMappedAddress(mapped)], key: key)
    }

    /// An error response (RFC 8489 §6.3.1.1); signed only when the request was authenticated
    /// (RFC 8489 §9.1.3: 400 and 401 carry no MESSAGE-INTEGRITY).
    static func error(id: STUNTransactionID, code: UInt16, reason: String, unknown: [UInt16] = [], key: STUNIntegrityKey?) -> [UInt8]? {
        var attributes: [STUNAttribute] = [.errorCode(STUNErrorCode(code: code, reason: reason))]
        if !unknown.isEmpty {
            attributes.append(.unknownAttributes(unknown))
        }
        return try? encodeResponse(type: bindingError, id: id, attributes: attributes, key: key)
    }

    private static func encodeResponse(
        type: STUNMessageType, id: STUNTransactionID, attributes: [STUNAttribute], key: STUNIntegrityKey?
    ) throws(STUNEncodeError) -> [UInt8] {
        var writer = STUNMessageWriter(type: type, transactionID: id)
        for attribute in attributes {
            try writer.append(attribute)
        }
        return try writer.finish(integrity: key, fingerprint: true)
    }
}
