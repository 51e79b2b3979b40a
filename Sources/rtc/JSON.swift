/// A JSON value whose object keys keep the order they were built in, so the
/// tool's output reads in protocol order (v=, o=, s=, then media) and is stable
/// across runs.
enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case unsigned(UInt64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(key: String, value: JSON)])

    static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case let (.bool(a), .bool(b)): a == b
        case let (.integer(a), .integer(b)): a == b
        case let (.unsigned(a), .unsigned(b)): a == b
        case let (.double(a), .double(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.object(a), .object(b)): a.elementsEqual(b) { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// Builds an object, leaving out members whose value is nil.
    static func object(_ members: KeyValuePairs<String, JSON?>) -> JSON {
        .object(members.compactMap { key, value in value.map { (key, $0) } })
    }

    /// The value rendered with two-space indentation.
    func rendered() -> String {
        var output = ""
        write(to: &output, indent: 0)
        return output
    }

    /// The value on one line (JSON lines).
    func compact() -> String {
        var output = ""
        write(to: &output, indent: nil)
        return output
    }

    /// `indent` nil writes everything on one line.
    private func write(to output: inout String, indent: Int?) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .integer(let value): output += String(value)
        case .unsigned(let value): output += String(value)
        // JSON has no NaN or infinity.
        case .double(let value): output += value.isFinite ? String(value) : "null"
        case .string(let value): JSON.writeQuoted(value, to: &output)
        case .array(let elements):
            writeContainer(elements, open: "[", close: "]", to: &output, indent: indent) { element, output in
                element.write(to: &output, indent: indent.map { $0 + 2 })
            }
        case .object(let members):
            writeContainer(members, open: "{", close: "}", to: &output, indent: indent) { member, output in
                JSON.writeQuoted(member.key, to: &output)
                output += indent == nil ? ":" : ": "
                member.value.write(to: &output, indent: indent.map { $0 + 2 })
            }
        }
    }

    private func writeContainer<Element>(
        _ elements: [Element], open: String, close: String, to output: inout String, indent: Int?,
        writeElement: (Element, inout String) -> Void
    ) {
        guard !elements.isEmpty else {
            output += open + close
            return
        }
        guard let indent else {
            output += open
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                writeElement(element, &output)
            }
            output += close
            return
        }
        let inner = String(repeating: " ", count: indent + 2)
        output += open + "\n"
        for (index, element) in elements.enumerated() {
            output += inner
            writeElement(element, &output)
            output += index == elements.count - 1 ? "\n" : ",\n"
        }
        output += String(repeating: " ", count: indent) + close
    }

    // RFC 8259 §7: quote, backslash and control characters must be escaped.
    private static func writeQuoted(_ string: String, to output: inout String) {
        output += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
