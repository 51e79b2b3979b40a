import DataChannel
import Testing
import TestSupport

@Suite("DCEP codec (RFC 8832 §5)")
struct DCEPCodecTests {
    static let channelTypes: [(ordered: Bool, reliability: DataChannelReliability, type: UInt8)] = [
        (true, .reliable, 0x00), (false, .reliable, 0x80),
        (true, .partialReliableRexmit(7), 0x01), (false, .partialReliableRexmit(0), 0x81),
        (true, .partialReliableTimed(1500), 0x02), (false, .partialReliableTimed(UInt32.max), 0x82),
    ]

    @Test("every channel type round-trips", arguments: 0..<6)
    func channelTypeRoundTrip(index: Int) throws {
        let (ordered, reliability, type) = Self.channelTypes[index]
        let open = try DataChannelOpen(
            ordered: ordered, reliability: reliability, priority: 512, label: "chat", protocol: "json")
        #expect(open.channelType == type)
        let bytes = DCEPMessage.open(open).serialized()
        #expect(bytes[1] == type)
        #expect(try parseDCEP(bytes) == .open(open))
    }

    @Test func exactWireFormat() throws {
        let open = try DataChannelOpen(
            ordered: false, reliability: .partialReliableRexmit(0x0102_0304), priority: 0x0100, label: "a",
            protocol: "xy")
        #expect(DCEPMessage.open(open).serialized() == [
            0x03, 0x81, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x00, 0x01, 0x00, 0x02, 0x61, 0x78, 0x79,
        ])
        #expect(DCEPMessage.ack.serialized() == [0x02])
        #expect(try parseDCEP([0x02]) == .ack)
    }

    @Test func utf8AndEmptyStrings() throws {
        for (label, subprotocol) in [("", ""), ("日本語 🎉", "proto-é"), ("", "p"), (String(repeating: "x", count: 65_535), "")] {
            let open = try DataChannelOpen(
                ordered: true, reliability: .reliable, priority: 256, label: label, protocol: subprotocol)
            let bytes = DCEPMessage.open(open).serialized()
            #expect(bytes.count == 12 + label.utf8.count + subprotocol.utf8.count)
            #expect(try parseDCEP(bytes) == .open(open))
        }
    }

    @Test func reliableParameterIgnoredOnReceipt() throws {
        // RFC 8832 §5.1: for reliable channels the parameter MUST be ignored by the receiver.
        let message = try parseDCEP([0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00])
        guard case .open(let open) = message else { Issue.record("not an OPEN"); return }
        #expect(open.reliability == .reliable)
        #expect(DCEPMessage.open(open).serialized()[4..<8] == [0, 0, 0, 0])
    }

    @Test func oversizedLabelIsRefused() {
        let long = String(repeating: "é", count: 40_000) // 80 000 UTF-8 bytes
        #expect(throws: DataChannelError(.labelTooLong(80_000))) {
            try DataChannelOpen(ordered: true, reliability: .reliable, priority: 0, label: long, protocol: "")
        }
        #expect(throws: DataChannelError(.protocolTooLong(80_000))) {
            try DataChannelOpen(ordered: true, reliability: .reliable, priority: 0, label: "", protocol: long)
        }
    }

    static let validOpen: [UInt8] = [0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x00, 0x02, 0x00, 0x01, 0x68, 0x69, 0x70]

    @Test func malformedMessages() {
        #expect(throws: DCEPParseError.empty) { try parseDCEP([]) }
        #expect(throws: DCEPParseError.unknownMessageType(0x01)) { try parseDCEP([0x01]) }
        #expect(throws: DCEPParseError.unknownMessageType(0xFF)) { try parseDCEP([0xFF, 0, 0]) }
        #expect(throws: DCEPParseError.lengthMismatch(expected: 1, actual: 2)) { try parseDCEP([0x02, 0x00]) }
        #expect(throws: DCEPParseError.truncatedOpen(count: 6)) { try parseDCEP([0x03, 0, 0, 0, 0, 0]) }
        // Label length 0xFFFF in a 15-byte message.
        var absurd = Self.validOpen
        absurd[8] = 0xFF
        absurd[9] = 0xFF
        #expect(throws: DCEPParseError.lengthMismatch(expected: 12 + 0xFFFF + 1, actual: 15)) { try parseDCEP(absurd) }
        #expect(throws: DCEPParseError.lengthMismatch(expected: 15, actual: 16)) { try parseDCEP(Self.validOpen + [0]) }
        var badLabel = Self.validOpen
        badLabel[12] = 0xC3 // a lone lead byte
        #expect(throws: DCEPParseError.invalidLabel) { try parseDCEP(badLabel) }
        var badProtocol = Self.validOpen
        badProtocol[14] = 0xFF
        #expect(throws: DCEPParseError.invalidProtocol) { try parseDCEP(badProtocol) }
        for type: UInt8 in [0x03, 0x7F, 0x80 | 0x03, 0x40, 0xFF] {
            var unknown = Self.validOpen
            unknown[1] = type
            #expect(throws: DCEPParseError.unknownChannelType(type)) { try parseDCEP(unknown) }
        }
    }

    @Test func everyTruncationIsAnError() {
        for count in 0..<Self.validOpen.count {
            #expect(throws: DCEPParseError.self) { try parseDCEP(Array(Self.validOpen.prefix(count))) }
        }
        #expect(throws: Never.self) { try parseDCEP(Self.validOpen) }
    }

    @Test func randomBytesNeverTrap() {
        var random = SplitMix64(seed: 8832)
        var parsed = 0
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...40, using: &random)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            if !bytes.isEmpty, Bool.random(using: &random) { bytes[0] = 0x03 }
            if (try? parseDCEP(bytes)) != nil { parsed += 1 }
        }
        #expect(parsed < 20_000)
    }
}
