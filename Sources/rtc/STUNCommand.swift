import ArgumentParser
import STUN

/// `rtc stun`: decodes one STUN message and checks its FINGERPRINT and
/// MESSAGE-INTEGRITY.
struct STUNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stun",
        abstract: "Decode a STUN message to JSON and verify FINGERPRINT and MESSAGE-INTEGRITY.",
        discussion: """
            Exits with status 1 and the reason when the message is malformed, when its \
            FINGERPRINT is wrong, or when --password is given and its MESSAGE-INTEGRITY \
            does not match.
            """
    )

    @Argument(help: "A file holding one STUN message, or - for standard input.")
    var input: String

    @Flag(help: "The input is hexadecimal text (whitespace ignored) rather than binary.")
    var hex = false

    @Option(help: "Verify MESSAGE-INTEGRITY(-SHA256) with this password (short-term credentials, RFC 8489 §9.1).")
    var password: String?

    @Flag(help: "Use long-term credentials (RFC 8489 §9.2): the key is derived from the message's USERNAME and REALM and --password.")
    var longTerm = false

    func run() throws {
        // Hex text is two characters a byte plus whitespace; allow generously for the latter.
        let limit = hex ? STUNLimits.maximumMessageSize * 3 : STUNLimits.maximumMessageSize
        var bytes = try failing { () throws(InputError) in try readInput(input, limit: limit) }
        if hex {
            bytes = try failing { () throws(InputError) in try decodeHex(bytes) }
        }
        let report = try failing { () throws(InputError) in try inspect(bytes) }
        print(report.json.rendered())
        if let problem = report.problem {
            printError(problem)
            throw ExitCode(1)
        }
    }

    private struct Report {
        var json: JSON
        /// Why the message fails verification, if it does.
        var problem: String?
    }

    private func inspect(_ bytes: [UInt8]) throws(InputError) -> Report {
        let decoded = bytes.withUnsafeBytes { raw in
            Result { () throws(STUNDecodeError) -> Report in
                let view = try STUNMessageView(raw)
                return report(view, message: try STUNMessage(view))
            }
        }
        switch decoded {
        case .success(let report): return report
        case .failure(let error): throw InputError(description: "invalid STUN message: \(error)")
        }
    }

    private func report(_ view: STUNMessageView, message: STUNMessage) -> Report {
        let verification = verify(view)
        let json = JSON.object([
            "method": .string(message.method.description),
            "class": .string(String(describing: message.messageClass)),
            "transactionID": .string(message.transactionID.description),
            "length": .integer(Int64(view.bytes.count - STUNLimits.headerSize)),
            "attributes": .array(message.attributes.map(render)),
            "fingerprint": .string(verification.fingerprint),
            "messageIntegrity": .string(verification.integrity),
            "unknownComprehensionRequired": .array(
                view.unknownComprehensionRequired.map { .string(hexCode($0)) }),
        ])
        return Report(json: json, problem: verification.problem)
    }

    private struct Verification {
        var fingerprint: String
        var integrity: String
        var problem: String?
    }

    private func verify(_ view: STUNMessageView) -> Verification {
        var problems: [String] = []
        var fingerprint = "absent"
        if view.hasFingerprint {
            fingerprint = view.verifyFingerprint() ? "valid" : "invalid"
            if fingerprint == "invalid" { problems.append("FINGERPRINT does not match the message") }
        }
        var integrity = "absent"
        if view.hasMessageIntegrity || view.hasMessageIntegritySHA256 {
            if let key = integrityKey(for: view) {
                // RFC 8489 §9.1.3: when both are present, MESSAGE-INTEGRITY-SHA256 is the one checked.
                let valid = view.hasMessageIntegritySHA256
                    ? view.verifyMessageIntegritySHA256(key: key)
                    : view.verifyMessageIntegrity(key: key)
                integrity = valid ? "valid" : "invalid"
                if !valid { problems.append("MESSAGE-INTEGRITY does not match the password") }
            } else if password != nil {
                integrity = "not checked: long-term credentials need USERNAME and REALM in the message"
                problems.append(integrity)
            } else {
                integrity = "not checked (no --password)"
            }
        }
        return Verification(
            fingerprint: fingerprint, integrity: integrity,
            problem: problems.isEmpty ? nil : problems.joined(separator: "; "))
    }

    private func integrityKey(for view: STUNMessageView) -> STUNIntegrityKey? {
        guard let password else { return nil }
        guard longTerm else { return .shortTerm(password: password) }
        guard let username = try? view.username, let realm = try? view.realm else { return nil }
        return .longTerm(username: username, realm: realm, password: password)
    }

    private func render(_ attribute: STUNAttribute) -> JSON {
        let value: JSON = switch attribute {
        case .mappedAddress(let address), .xorMappedAddress(let address): .string(address.description)
        case .username(let text), .realm(let text), .nonce(let text), .software(let text): .string(text)
        case .messageIntegrity(let mac), .messageIntegritySHA256(let mac): .string(hexString(mac))
        case .fingerprint(let crc): .string(hexCode(crc))
        case .errorCode(let error): .object(["code": .integer(Int64(error.code)), "reason": .string(error.reason)])
        case .unknownAttributes(let types): .array(types.map { .string(hexCode($0)) })
        case .priority(let priority): .unsigned(UInt64(priority))
        case .useCandidate: .bool(true)
        case .iceControlled(let tieBreaker), .iceControlling(let tieBreaker): .unsigned(tieBreaker)
        case .other(_, let bytes): .string(hexString(bytes))
        }
        return .object([
            "type": .string(attributeName(attribute.type)),
            "code": .string(hexCode(attribute.type)),
            "value": value,
        ])
    }
}

/// The RFC name of an attribute type, or "UNKNOWN" with its comprehension class.
private func attributeName(_ type: UInt16) -> String {
    typealias T = STUNAttributeType
    switch type {
    case T.mappedAddress: return "MAPPED-ADDRESS"
    case T.xorMappedAddress: return "XOR-MAPPED-ADDRESS"
    case T.username: return "USERNAME"
    case T.messageIntegrity: return "MESSAGE-INTEGRITY"
    case T.messageIntegritySHA256: return "MESSAGE-INTEGRITY-SHA256"
    case T.fingerprint: return "FINGERPRINT"
    case T.errorCode: return "ERROR-CODE"
    case T.unknownAttributes: return "UNKNOWN-ATTRIBUTES"
    case T.realm: return "REALM"
    case T.nonce: return "NONCE"
    case T.software: return "SOFTWARE"
    case T.priority: return "PRIORITY"
    case T.useCandidate: return "USE-CANDIDATE"
    case T.iceControlled: return "ICE-CONTROLLED"
    case T.iceControlling: return "ICE-CONTROLLING"
    default:
        return T.isComprehensionRequired(type) ? "UNKNOWN (comprehension-required)" : "UNKNOWN (comprehension-optional)"
    }
}

private func hexCode(_ value: some FixedWidthInteger) -> String {
    let digits = String(value, radix: 16)
    let width = value.bitWidth / 4
    return "0x" + String(repeating: "0", count: max(0, width - digits.count)) + digits
}

private func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// Hex text to bytes; whitespace between digits is ignored.
private func decodeHex(_ text: [UInt8]) throws(InputError) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.count / 2)
    var high: UInt8?
    for (offset, character) in text.enumerated() {
        let nibble: UInt8
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = character - UInt8(ascii: "A") + 10
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): continue
        default: throw InputError(description: "invalid hex: unexpected byte \(character) at offset \(offset)")
        }
        if let pending = high {
            bytes.append(pending << 4 | nibble)
            high = nil
        } else {
            high = nibble
        }
    }
    guard high == nil else { throw InputError(description: "invalid hex: odd number of digits") }
    return bytes
}
