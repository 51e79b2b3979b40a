import DataChannel

/// Drives the DCEP parser (RFC 8832 §5) and the sans-IO `DataChannelManager` with a hostile peer.
///
/// The first byte configures the manager (DTLS role, stream count, and whether the driver completes
/// our stream resets at once, as the SCTP association would); the rest is a sequence of operations:
/// peer DCEP messages (raw, or a well-formed OPEN / ACK built from the input so the fuzzer reaches the
/// channel logic), peer user messages with any PPID, application calls (open, send, close), stream
/// resets in both directions and transport changes. After every operation the queued commands and
/// events are drained and checked: no trap, every DCEP message we send parses, stream ids stay below
/// the stream count, the channel table stays bounded, and events agree with the manager's state.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDCEP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // The whole input as one DCEP message, too: the parser alone.
    checkRoundTrip(bytes)
    var input = Input(bytes)
    let config = input.byte()
    let streamCounts: [UInt16] = [4, 16, 256, 65_535]
    var harness = Harness(
        manager: DataChannelManager(
            isDTLSClient: config & 1 != 0, maximumStreams: streamCounts[Int(config >> 1) & 3]),
        completeResets: config & 8 != 0)
    // Bounded work per input, whatever its length.
    var steps = 0
    while !input.isEmpty, steps < 512 {
        steps += 1
        harness.step(&input)
    }
    return 0
}

/// A parsed DCEP message must re-encode to the same bytes, except the reliability parameter of a
/// reliable channel, which RFC 8832 §5.1 says is ignored (we send 0); and it must parse again equal.
private func checkRoundTrip(_ bytes: UnsafeRawBufferPointer) {
    guard let message = try? DCEPMessage(parsing: bytes) else { return }
    let encoded = message.serialized()
    var expected = Array(bytes)
    if case .open(let open) = message, open.reliability == .reliable {
        expected.replaceSubrange(4..<8, with: [0, 0, 0, 0])
    }
    guard encoded == expected else { fatalError("DCEP re-encoding differs: \(expected) → \(encoded)") }
    let again = encoded.withUnsafeBytes { try? DCEPMessage(parsing: $0) }
    guard again == message else { fatalError("re-encoded DCEP message does not parse back equal") }
}

/// Reads operands from the fuzz input; past the end every read gives zeros.
struct Input {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isEmpty: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> UInt16 {
        UInt16(byte()) << 8 | UInt16(byte())
    }

    /// A stream id: one byte, or 0xFF followed by a 16-bit id, so both small and large ids are cheap.
    mutating func stream() -> UInt16 {
        let first = byte()
        return first == 0xFF ? uint16() : UInt16(first)
    }

    /// A length byte and that many bytes (fewer at the end of the input).
    mutating func blob() -> [UInt8] {
        let count = Int(byte())
        let end = min(bytes.count, offset + count)
        defer { offset = max(offset, end) }
        return offset < end ? Array(bytes[offset..<end]) : []
    }
}

struct Harness {
    var manager: DataChannelManager
    /// Complete each of our stream resets at once, as the association does when the peer agrees.
    let completeResets: Bool
    /// Messages the manager accepted from `send` and delivered as events, to check its counters.
    var sent = 0
    var received = 0

    mutating func step(_ input: inout Input) {
        let channelsBefore = manager.channelIDs.count
        var listLength = 0
        let opcode = input.byte()
        switch opcode % 12 {
        case 0:
            // Arbitrary bytes with PPID 50.
            let stream = input.stream()
            let payload = input.blob()
            payload.withUnsafeBytes { checkRoundTrip($0) }
            manager.handleMessage(stream: stream, ppid: 50, data: payload)
        case 1:
            // A well-formed OPEN (RFC 8832 §5.1) built from the input.
            let stream = input.stream()
            let channelType = [0x00, 0x01, 0x02, 0x80, 0x81, 0x82, 0x03, 0x7F][Int(input.byte() & 7)]
            let priority = input.uint16()
            let parameter = UInt32(input.uint16()) << 8 | UInt32(input.byte())
            let label = input.blob(), subprotocol = input.blob()
            var open: [UInt8] = [0x03, UInt8(channelType), UInt8(priority >> 8), UInt8(priority & 0xFF)]
            open += [UInt8(parameter >> 24), UInt8((parameter >> 16) & 0xFF), UInt8((parameter >> 8) & 0xFF)]
            open += [UInt8(parameter & 0xFF), 0, UInt8(label.count), 0, UInt8(subprotocol.count)]
            open += label + subprotocol
            open.withUnsafeBytes { checkRoundTrip($0) }
            manager.handleMessage(stream: stream, ppid: 50, data: open)
        case 2:
            manager.handleMessage(stream: input.stream(), ppid: 50, data: [0x02])
        case 3:
            // A user message with any PPID (RFC 8831 §8), or a raw 32-bit one.
            let stream = input.stream()
            let selector = input.byte()
            let ppids: [UInt32] = [51, 53, 56, 57, 52, 54, 50, 0]
            let ppid = selector < 0xF8 ? ppids[Int(selector) % ppids.count] : UInt32(input.uint16())
            manager.handleMessage(stream: stream, ppid: ppid, data: input.blob())
        case 4:
            let flags = input.byte()
            let id = input.stream()
            let label = String(decoding: input.blob(), as: UTF8.self)
            let parameters = DataChannelParameters(
                label: label, ordered: flags & 1 == 0,
                maxRetransmits: flags & 2 != 0 ? UInt16(flags >> 4) : nil,
                maxPacketLifeTime: flags & 4 != 0 ? UInt32(flags >> 4) : nil,
                negotiated: flags & 8 != 0, id: flags & 8 != 0 ? id : nil)
            if let opened = try? manager.open(parameters) {
                guard opened < manager.maximumStreams, manager.state(of: opened) != nil else {
                    fatalError("open returned \(opened) with no channel")
                }
                if parameters.negotiated, opened != id { fatalError("negotiated channel got id \(opened), not \(id)") }
                if !parameters.negotiated, (opened % 2 == 0) != manager.isDTLSClient {
                    fatalError("allocated id \(opened) has the peer's parity (RFC 8832 §6)")
                }
            }
        case 5:
            let id = input.stream()
            let kind = input.byte()
            let payload = input.blob()
            let message = kind & 1 == 0
                ? DataChannelMessage.binary(payload) : .text(String(decoding: payload, as: UTF8.self))
            do {
                try manager.send(message, on: id)
                sent += 1
            } catch {
                if manager.state(of: id) == .open, manager.maximumMessageSize == nil {
                    fatalError("send on open channel \(id) without a size limit failed: \(error)")
                }
            }
        case 6:
            manager.close(input.stream())
        case 7:
            manager.transportConnected()
        case 8, 9:
            let count = Int(input.byte() % 8)
            var streams: [UInt16] = []
            for _ in 0..<count { streams.append(input.stream()) }
            listLength = count
            if opcode % 12 == 8 {
                manager.handleIncomingStreamReset(streams)
            } else {
                manager.handleOutgoingStreamReset(streams)
            }
        case 10:
            manager.transportClosed()
            guard manager.channelIDs.isEmpty else { fatalError("channels left after transportClosed") }
        default:
            let choice = input.byte()
            manager.setRemoteMaximumMessageSize(choice == 0 ? nil : UInt64(choice - 1) * 16)
        }
        drain(channelsBefore: channelsBefore, listLength: listLength)
    }

    /// Drains and checks everything the step produced.
    mutating func drain(channelsBefore: Int, listLength: Int) {
        let limit = manager.maximumStreams
        var commands = 0
        var resets: [UInt16] = []
        while let command = manager.pollCommand() {
            commands += 1
            switch command {
            case .send(let stream, let ppid, let data, _, _):
                guard stream < limit, !data.isEmpty else { fatalError("bad send on \(stream): \(data.count) bytes") }
                if ppid == .dcep {
                    let parsed = data.withUnsafeBytes { try? DCEPMessage(parsing: $0) }
                    switch parsed {
                    case nil: fatalError("we sent malformed DCEP \(data) on \(stream)")
                    case .ack?:
                        guard manager.state(of: stream) != nil else { fatalError("ACK on stream \(stream) without channel") }
                    case .open?:
                        guard manager.state(of: stream) != nil else { fatalError("OPEN on stream \(stream) without channel") }
                    }
                }
            case .resetStream(let stream):
                guard stream < limit else { fatalError("reset of stream \(stream), not below \(limit)") }
                resets.append(stream)
            }
        }
        // Each input queues a constant number of commands per channel or per listed stream.
        guard commands <= channelsBefore + listLength + 2 else {
            fatalError("\(commands) commands from one input with \(channelsBefore) channels")
        }
        var events = 0
        while let event = manager.pollEvent() {
            events += 1
            switch event {
            case .opened(let id):
                guard id < limit, manager.state(of: id) == .open else { fatalError("opened \(id) is not open") }
            case .remoteOpened(let id, let parameters):
                guard id < limit, parameters.id == id, (id % 2 == 0) != manager.isDTLSClient else {
                    fatalError("remote open on \(id) accepted against RFC 8832 §6")
                }
            case .message(let id, _):
                guard id < limit, manager.state(of: id) == .open else { fatalError("message on \(id), not open") }
                received += 1
            case .closing(let id):
                guard id < limit else { fatalError("closing \(id) out of range") }
            case .closed(let id):
                guard id < limit, manager.state(of: id) == nil else { fatalError("closed \(id) still known") }
            }
        }
        guard events <= 2 * (channelsBefore + listLength + 2) else { fatalError("\(events) events from one input") }
        let ids = manager.channelIDs
        guard ids.count <= Int(limit) else { fatalError("\(ids.count) channels with \(limit) streams") }
        for id in ids {
            guard id < limit, manager.state(of: id) != nil, manager.parameters(of: id)?.id == id else {
                fatalError("channel \(id) inconsistent")
            }
        }
        let total = manager.statistics.total
        guard total.messagesSent == sent, total.messagesReceived == received else {
            fatalError("counters \(total) disagree with \(sent) sent, \(received) received")
        }
        if completeResets, !resets.isEmpty {
            // The association reports our reset done; that input must be checked too.
            let before = manager.channelIDs.count
            manager.handleOutgoingStreamReset(resets)
            drain(channelsBefore: before, listLength: resets.count)
        }
    }
}
