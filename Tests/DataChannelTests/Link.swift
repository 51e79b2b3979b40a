import DataChannel

/// Which end of a ``Link``: the DTLS client (even ids) or server (odd ids).
enum Side: CaseIterable {
    case client, server

    var other: Side { self == .client ? .server : .client }
}

/// Two managers wired back to back through a tiny, deterministic fake SCTP association:
/// `.send` is delivered as `handleMessage` on the other side; `.resetStream` as an incoming reset
/// on the other side, then as a completed outgoing reset on the sender.
struct Link {
    var client: DataChannelManager
    var server: DataChannelManager
    /// Events collected from each side, oldest first (see ``takeEvents(_:)``).
    private var collected: [Side: [DataChannelManagerEvent]] = [:]
    /// Every command each side issued and the fake association executed.
    private(set) var executed: [Side: [DataChannelCommand]] = [:]

    init(maximumStreams: UInt16 = 1024) {
        client = DataChannelManager(isDTLSClient: true, maximumStreams: maximumStreams)
        server = DataChannelManager(isDTLSClient: false, maximumStreams: maximumStreams)
    }

    mutating func withManager<Result, Failure: Error>(
        _ side: Side, _ body: (inout DataChannelManager) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        switch side {
        case .client: try body(&client)
        case .server: try body(&server)
        }
    }

    func manager(_ side: Side) -> DataChannelManager {
        side == .client ? client : server
    }

    /// Both transports come up, then everything queued is exchanged.
    mutating func connect() {
        client.transportConnected()
        server.transportConnected()
        pump()
    }

    /// Drains `side`'s commands without executing them.
    mutating func commands(from side: Side) -> [DataChannelCommand] {
        var drained: [DataChannelCommand] = []
        while let command = withManager(side, { $0.pollCommand() }) { drained.append(command) }
        return drained
    }

    /// Executes one command issued by `side`.
    mutating func deliver(_ command: DataChannelCommand, from side: Side) {
        executed[side, default: []].append(command)
        switch command {
        case .send(let stream, let ppid, let data, _, _):
            withManager(side.other) { $0.handleMessage(stream: stream, ppid: ppid.rawValue, data: data) }
        case .resetStream(let stream):
            withManager(side.other) { $0.handleIncomingStreamReset([stream]) }
            withManager(side) { $0.handleOutgoingStreamReset([stream]) }
        }
        collectEvents()
    }

    /// Executes commands on both sides until neither has any.
    mutating func pump() {
        while true {
            let fromClient = commands(from: .client), fromServer = commands(from: .server)
            if fromClient.isEmpty, fromServer.isEmpty { break }
            for command in fromClient { deliver(command, from: .client) }
            for command in fromServer { deliver(command, from: .server) }
        }
        collectEvents()
    }

    /// The events `side` emitted since the last call.
    mutating func takeEvents(_ side: Side) -> [DataChannelManagerEvent] {
        collectEvents()
        defer { collected[side] = [] }
        return collected[side, default: []]
    }

    /// DCEP commands `side` issued so far.
    func dcepSends(from side: Side) -> [DataChannelCommand] {
        executed[side, default: []].filter {
            if case .send(_, .dcep, _, _, _) = $0 { true } else { false }
        }
    }

    private mutating func collectEvents() {
        for side in Side.allCases {
            while let event = withManager(side, { $0.pollEvent() }) { collected[side, default: []].append(event) }
        }
    }
}

/// Parses `bytes` as DCEP.
func parseDCEP(_ bytes: [UInt8]) throws(DCEPParseError) -> DCEPMessage {
    try bytes.withUnsafeBytes { buffer in
        Result { () throws(DCEPParseError) -> DCEPMessage in try DCEPMessage(parsing: buffer) }
    }.get()
}
