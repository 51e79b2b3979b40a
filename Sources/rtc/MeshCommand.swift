import ArgumentParser
import Mesh
import ToolSupport
import Signaling
import WebRTC

extension MeshMode: ExpressibleByArgument {}

/// `rtc mesh`: a node of the mesh overlay (docs/mesh.md).
struct MeshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "Join a mesh overlay through `rtc signal`; stdin lines are broadcast to every node.",
        discussion: """
            Enters through the signaling server, links to up to two nodes there, and from then on \
            links to further nodes through its neighbours (docs/mesh.md). Each line of stdin is \
            broadcast; '/to NODE TEXT' sends a direct message; '/view' prints the neighbours; \
            '/drop NODE' closes the link to a neighbour; '/leave-signaling' closes the server connection. End of input leaves the overlay. \
            Prints one JSON object per event.
            """
    )

    @Option(help: "The signaling server's WebSocket URL, such as ws://127.0.0.1:8080/ws.")
    var signal: String

    @Option(help: "The room the overlay's nodes meet in.")
    var room: String

    @Option(help: "This node's id (default: a random one).")
    var id: String?

    @Option(help: "The admission token, when the server requires one.")
    var token: String?

    @Option(help: "full: link to every node; partial: a view near log2(N) + 1.")
    var mode: MeshMode = .partial

    @Option(help: "auto: every non-loopback interface that is up, or loopback if there is none; loopback: only loopback.")
    var addresses: PeerCommand.Addresses = .auto

    func validate() throws {
        if let id, !SignalingHub.isValidName(id) { throw ValidationError("--id: 1 to 64 characters of A-Z a-z 0-9 . _ -") }
    }

    func run() async throws {
        ignoreBrokenPipes()
        var connection = PeerConnectionConfiguration()
        connection.hostAddresses = addresses == .loopback ? .loopback : defaultHostAddresses()
        let node: MeshNode
        do {
            node = try await MeshNode.join(
                url: signal, room: room, id: id, token: token, configuration: MeshConfiguration(mode: mode),
                connection: connection)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        let output = LineWriter()
        output.write(.object(["event": .string("joined"), "id": .string(node.id), "mode": .string(mode.rawValue)]))
        let reporting = Task {
            for await event in node.events { output.write(event.json) }
        }
        for await line in standardInputLines() {
            await command(line, node: node, output: output)
        }
        await node.close()
        await reporting.value
        output.write(.object(["event": .string("left")]))
    }

    private func command(_ line: String, node: MeshNode, output: LineWriter) async {
        let words = line.split(separator: " ", maxSplits: 2).map(String.init)
        switch words.first {
        case "/to":
            guard words.count == 3 else { return output.write(.object(["error": .string("usage: /to NODE TEXT")])) }
            let id = await node.send(.string(words[2]), to: words[1])
            output.write(.object(["event": .string("sent"), "to": .string(words[1]), "id": .string(id)]))
        case "/view":
            let snapshot = node.snapshot
            output.write(
                .object([
                    "event": .string("view"),
                    "neighbours": .object(snapshot.neighbours.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value.rawValue)) }),
                    "known": .integer(Int64(snapshot.knownCount)),
                    "signaling": .bool(snapshot.signalingOpen),
                ]))
        case "/drop":
            guard words.count == 2 else { return output.write(.object(["error": .string("usage: /drop NODE")])) }
            await node.disconnect(from: words[1])
            output.write(.object(["event": .string("dropped"), "id": .string(words[1])]))
        case "/leave-signaling":
            await node.leaveSignaling()
            output.write(.object(["event": .string("signaling-closed")]))
        default:
            let id = await node.broadcast(.string(line))
            output.write(.object(["event": .string("broadcast-sent"), "id": .string(id)]))
        }
    }
}

extension MeshEvent {
    /// One line of `rtc mesh` output.
    fileprivate var json: JSON {
        switch self {
        case .neighbourUp(let id, let direction, let brokered):
            .object([
                "event": .string("neighbour-up"), "id": .string(id), "direction": .string(direction.rawValue),
                "signaling": .string(brokered ? "overlay" : "server"),
            ])
        case .neighbourDown(let id):
            .object(["event": .string("neighbour-down"), "id": .string(id)])
        case .broadcast(let from, let id, let data):
            .object(["event": .string("broadcast"), "from": .string(from), "id": .string(id), "data": JSON(data)])
        case .direct(let from, let id, let data):
            .object(["event": .string("direct"), "from": .string(from), "id": .string(id), "data": JSON(data)])
        }
    }
}

extension JSON {
    /// A payload of the overlay, for printing.
    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .number(let number): self = Int64(exactly: number).map(JSON.integer) ?? .double(number)
        case .string(let text): self = .string(text)
        case .array(let values): self = .array(values.map(JSON.init))
        case .object(let members): self = .object(members.sorted { $0.key < $1.key }.map { ($0.key, JSON($0.value)) })
        }
    }
}
