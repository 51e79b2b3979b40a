@testable import Mesh
import Signaling
import Testing

@Suite("Mesh overlay rules (sans-IO, virtual network)")
struct OverlayTests {
    private static func node(_ index: Int) -> String { "node-\(index)" }

    /// Nodes enter one after the other, each finding all earlier ones in the room.
    private static func overlay(nodes count: Int, mode: MeshMode) -> VirtualOverlay {
        var overlay = VirtualOverlay()
        for index in 0..<count {
            overlay.add(node(index), configuration: MeshConfiguration(mode: mode), entrance: (0..<index).map(node))
        }
        return overlay
    }

    @Test func aFullMeshFormsThroughNeighboursAlone() {
        var overlay = Self.overlay(nodes: 30, mode: .full)
        overlay.run(for: .seconds(30))
        for id in overlay.ids {
            #expect(overlay.view(of: id).count == 29, "\(id) has \(overlay.view(of: id).count) neighbours")
        }
    }

    @Test func partialViewsStayBoundedAndConnectedAt100Nodes() {
        var overlay = Self.overlay(nodes: 100, mode: .partial)
        overlay.run(for: .seconds(30))
        #expect(overlay.isConnected)
        let sizes = overlay.ids.map { overlay.view(of: $0).count }
        // log2(N) + 1 is 8 at most for N ≤ 128, and a node accepts up to twice its target.
        #expect(sizes.allSatisfy { (3...16).contains($0) }, "view sizes \(sizes.min() ?? 0)...\(sizes.max() ?? 0)")
        let links = sizes.reduce(0, +) / 2
        #expect(links < 100 * 99 / 2 / 4, "\(links) links is no partial view")
    }

    @Test func aBroadcastReachesEveryNodeExactlyOnce() {
        var overlay = Self.overlay(nodes: 100, mode: .partial)
        overlay.run(for: .seconds(20))
        let id = overlay.broadcast(from: "node-42", "hello")
        let receivers = overlay.receivers(of: id)
        #expect(Set(receivers) == Set(overlay.ids).subtracting(["node-42"]))
        #expect(receivers.count == 99)  // no node delivered it twice
        for (_, events) in overlay.delivered {
            #expect(events.filter { if case .broadcast(_, id, _) = $0 { true } else { false } }.count <= 1)
        }
    }

    @Test func aDirectMessageReachesANodeThatIsNotANeighbour() throws {
        var overlay = Self.overlay(nodes: 60, mode: .partial)
        overlay.run(for: .seconds(20))
        let sender = "node-0"
        let target = try #require(overlay.ids.first { $0 != sender && !overlay.view(of: sender).contains($0) })
        let id = overlay.send(.object(["n": .number(1)]), from: sender, to: target)
        #expect(overlay.receivers(of: id) == [target])
    }

    @Test(arguments: [MeshMode.full, .partial])
    func theOverlayHealsAfter30PercentFail(mode: MeshMode) {
        var overlay = Self.overlay(nodes: 30, mode: mode)
        overlay.run(for: .seconds(30))
        var random = SystemRandomNumberGenerator()
        for victim in overlay.ids.shuffled(using: &random).prefix(9) { overlay.kill(victim) }
        overlay.run(for: .seconds(30))
        #expect(overlay.isConnected)
        for id in overlay.ids { #expect(overlay.view(of: id).count >= 3) }
        let origin = overlay.ids[0]
        let id = overlay.broadcast(from: origin, "after")
        #expect(Set(overlay.receivers(of: id)) == Set(overlay.ids).subtracting([origin]))
    }

    @Test func twoNodesOfferingToEachOtherEndWithOneLink() {
        // B and C both know each other through A and both fall below their target at once.
        var overlay = VirtualOverlay()
        let configuration = MeshConfiguration(mode: .partial)
        overlay.add("a", configuration: configuration)
        overlay.add("b", configuration: configuration, entrance: ["a"])
        overlay.add("c", configuration: configuration, entrance: ["a"])
        overlay.run(for: .seconds(10))
        #expect(overlay.view(of: "b") == ["a", "c"])
        #expect(overlay.view(of: "c") == ["a", "b"])
        #expect(overlay.links.count == 3)
    }

    @Test(arguments: [
        "not json", "[]", #"{"t":1}"#, #"{"t":"hello","v":1,"id":"x y","mode":"full"}"#,
        #"{"t":"peers","ids":["ok",7]}"#, #"{"t":"bcast","id":"1","from":"a","ttl":0,"data":1}"#,
        #"{"t":"bcast","id":"1","from":"a","ttl":65,"data":1}"#, #"{"t":"direct","id":"1","from":"a","ttl":3,"data":1}"#,
        #"{"t":"signal","id":"1","from":"a","to":"b","ttl":3,"conn":"c","kind":"dance"}"#,
        #"{"t":"signal","id":"1","from":"a","to":"b","ttl":3,"conn":"c","kind":"candidate","candidate":"x","sdpMLineIndex":-1}"#,
    ])
    func malformedMessagesAreCountedAndDropped(text: String) {
        var overlay = Self.overlay(nodes: 2, mode: .full)
        overlay.inject(text, to: "node-0", from: "node-1")
        #expect(overlay.nodes["node-0"]?.counters.malformed == 1)
        #expect(overlay.view(of: "node-0") == ["node-1"])  // the link survives
    }

    @Test func unknownTypesAreCountedApart() {
        var overlay = Self.overlay(nodes: 2, mode: .full)
        overlay.inject(#"{"t":"future","x":1}"#, to: "node-0", from: "node-1")
        #expect(overlay.nodes["node-0"]?.counters.unknown == 1)
        #expect(overlay.nodes["node-0"]?.counters.malformed == 0)
    }

    @Test func aSecondHelloClosesTheLink() {
        var overlay = Self.overlay(nodes: 2, mode: .full)
        overlay.inject(#"{"t":"hello","v":1,"id":"node-1","mode":"full"}"#, to: "node-0", from: "node-1")
        #expect(overlay.view(of: "node-0").isEmpty)
        #expect(overlay.view(of: "node-1").isEmpty)
    }

    @Test func relayedSignalingIsRateLimitedPerNeighbour() {
        var overlay = Self.overlay(nodes: 3, mode: .full)
        overlay.run(for: .seconds(5))
        for index in 0..<400 {
            overlay.inject(
                #"{"t":"signal","id":"s\#(index)","from":"node-1","to":"node-9","ttl":4,"conn":"c","kind":"end"}"#,
                to: "node-0", from: "node-1")
        }
        let counters = overlay.nodes["node-0"]?.counters
        #expect(counters?.relayedSignals == 256)  // the burst
        #expect(counters?.droppedSignals == 144)
    }

    @Test func duplicatesAreSuppressedAndTheIDCacheIsBounded() {
        var recent = RecentIDs(capacity: 3)
        let firstTimes = ["a", "b", "c"].map { recent.insert($0) }
        let again = recent.insert("a")
        let fourth = recent.insert("d")  // forgets "a"
        let forgotten = recent.insert("a")
        #expect(firstTimes == [true, true, true] && !again && fourth && forgotten)

        var map = BoundedMap<Int>(capacity: 2)
        map.set("x", 1)
        map.set("y", 2)
        map.set("x", 3)  // now the newest
        map.set("z", 4)  // forgets "y"
        #expect(map["y"] == nil && map["x"] == 3 && map["z"] == 4 && map.count == 2)
        #expect(map.newestFirst == ["z", "x"])
    }

    @Test func messagesSurviveTheirOwnEncoding() throws {
        let header = RoutedHeader(id: "00ff00ff00ff00ff", from: "a", to: "b", ttl: 16)
        let messages: [MeshMessage] = [
            .hello(version: 1, id: "a", mode: .partial), .peers(["b", "c"]), .bye,
            .signal(header, conn: "0123456789abcdef", .offer(sdp: "v=0\r\n")),
            .signal(header, conn: "0123456789abcdef", .candidate("candidate:1 1 udp 1 127.0.0.1 9 typ host", sdpMid: "0", sdpMLineIndex: 0)),
            .signal(header, conn: "0123456789abcdef", .candidate("", sdpMid: nil, sdpMLineIndex: nil)),
            .signal(header, conn: "0123456789abcdef", .refuse(reason: "full")),
            .broadcast(id: "1", from: "a", ttl: 3, data: .object(["k": .array([.number(1), "x", .null, .bool(true)])])),
            .direct(header, data: "text"),
        ]
        for message in messages {
            #expect(try MeshMessage(parsing: message.text) == message)
        }
    }
}
