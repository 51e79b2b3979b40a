import Foundation
import Signaling

/// The mesh overlay of docs/mesh.md between its two implementations: two headless Chromium
/// pages (mesh.js) and three `rtc mesh` processes (Swift) enter through `rtc signal`; once the
/// server is gone, links between a page and a Swift node are brokered through the overlay in
/// both directions and carry broadcasts and direct messages.
struct OverlayCase {
    let chromium: String
    let rtc: URL
    let repository: URL

    func run(into report: Report) async {
        let peer = "mesh overlay"
        await runNodeTest(into: report, peer: peer)
        let role = "2 Chromium pages + 3 rtc mesh"
        guard FileManager.default.isExecutableFile(atPath: chromium) else {
            report.skip(peer: peer, role: role, "all cases", because: "no Chromium at \(chromium)")
            return
        }
        let overlay = Overlay(rtc: rtc, chromium: chromium)
        await report.run(peer: peer, role: role, "5 nodes enter through rtc signal and form a full mesh") {
            try await overlay.enter()
        }
        if overlay.formed {
            await report.run(peer: peer, role: role, "server stopped: broadcasts from a page and a Swift node reach all") {
                try await overlay.broadcastsWithoutServer()
            }
            // Ids decide who offers (the smaller, docs/mesh.md "Membership"): a2 < b1 < c3.
            await report.run(peer: peer, role: role, "brokered without the server: Swift offers to a page") {
                try await overlay.relink(swift: "a2", page: "b1")
            }
            await report.run(peer: peer, role: role, "brokered without the server: a page offers to Swift") {
                try await overlay.relink(swift: "c3", page: "b2")
            }
        } else {
            report.skip(peer: peer, role: role, "the cases after entering", because: "the overlay did not form")
        }
        await overlay.close()
    }

    /// The JavaScript overlay core's own test (Tests/interop/mesh-core.test.mjs), under Node.
    private func runNodeTest(into report: Report, peer: String) async {
        let node = ["/usr/bin/node", "/usr/local/bin/node"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let node else {
            report.skip(peer: peer, role: "mesh.js core", "Node test", because: "no node binary (apt-get install nodejs)")
            return
        }
        await report.run(peer: peer, role: "mesh.js core", "Node test (virtual network)") {
            let test = try ChildProcess(
                URL(fileURLWithPath: node), [repository.appendingPathComponent("Tests/interop/mesh-core.test.mjs").path])
            try await waitUntil(120, "the Node test finished") { test.exitStatus != nil }
            let summary = test.lines.last { $0.hasPrefix("mesh-core:") } ?? "no summary"
            try require(test.exitStatus == 0 && summary.hasSuffix(" 0 failed"), "\(summary)\n\(test.lines.suffix(20).joined(separator: "\n"))")
        }
    }
}

private final class Overlay: @unchecked Sendable {
    // Used by one case at a time, in order.
    let rtc: URL
    let chromium: String
    var signal: ChildProcess?
    var nodes: [String: ChildProcess] = [:]
    var browser: ChromiumBrowser?
    var pages: [String: DevToolsPage] = [:]
    var formed = false

    static let swiftIDs = ["a1", "a2", "c3"]
    static let pageIDs = ["b1", "b2"]
    static var everyone: Set<String> { Set(swiftIDs + pageIDs) }

    init(rtc: URL, chromium: String) {
        self.rtc = rtc
        self.chromium = chromium
    }

    func enter() async throws {
        let (signal, port) = try await startSignalServer(rtc)
        self.signal = signal
        for id in Self.swiftIDs {
            let node = try ChildProcess(
                rtc,
                ["mesh", "--signal", "ws://127.0.0.1:\(port)/ws", "--room", "overlay", "--id", id, "--mode", "full",
                 "--addresses", "loopback"])
            nodes[id] = node
            try await waitUntil(10, "\(id) joined") { node.objects.contains { $0["event"] as? String == "joined" } }
        }
        let browser = try await ChromiumBrowser.launch(executable: chromium, timeout: .seconds(20))
        self.browser = browser
        for id in Self.pageIDs {
            let page = try await browser.openPage(url: "http://127.0.0.1:\(port)/?mesh=1&room=overlay&mode=full&id=\(id)")
            pages[id] = page
            try await waitUntil(10, "\(id) joined") { try await page.evaluate("mesh.signalingOpen()").boolValue == true }
        }
        try await waitUntil(60, "every node linked to the four others") { try await self.isFullMesh() }
        formed = true
    }

    func broadcastsWithoutServer() async throws {
        await signal?.stop(after: 0)
        for (id, page) in pages {
            try await waitUntil(15, "\(id) saw the server go") { try await page.evaluate("mesh.signalingOpen()").boolValue == false }
        }
        _ = try await pages["b1"]?.evaluate("mesh.broadcast('from b1')")
        nodes["a1"]?.writeLine("from a1")
        try await waitUntil(15, "both broadcasts everywhere") {
            let fromPage = try await self.everyoneHeard("from b1", origin: "b1")
            let fromSwift = try await self.everyoneHeard("from a1", origin: "a1")
            return fromPage && fromSwift
        }
    }

    /// The Swift node drops its link to the page; without a server, they can only link again
    /// through a broker. Then the new link carries a broadcast and a direct message.
    func relink(swift id: String, page pageID: String) async throws {
        guard let node = nodes[id], let page = pages[pageID] else { throw CaseFailure("the overlay is not up") }
        let mark = node.objects.count
        node.writeLine("/drop \(pageID)")
        try await waitUntil(15, "\(pageID) lost \(id)") {
            try await page.evaluate("mesh.neighbours().some(n => n.id === '\(id)')").boolValue == false
        }
        try await waitUntil(60, "\(id) and \(pageID) linked again through the overlay") {
            node.objects.dropFirst(mark).contains {
                $0["event"] as? String == "neighbour-up" && $0["id"] as? String == pageID
                    && $0["signaling"] as? String == "overlay"
            }
        }
        let expected = id < pageID ? "out" : "in"
        let up = node.objects.last { $0["event"] as? String == "neighbour-up" && $0["id"] as? String == pageID }
        try require(up?["direction"] as? String == expected, "\(id) should have direction \(expected): \(up ?? [:])")
        try await waitUntil(15, "\(pageID) lists \(id) again") {
            try await page.evaluate("mesh.neighbours().some(n => n.id === '\(id)')").boolValue == true
        }
        let text = "relinked \(pageID) \(id)"
        _ = try await page.evaluate("mesh.send('\(id)', '\(text) direct')")
        _ = try await page.evaluate("mesh.broadcast('\(text)')")
        try await waitUntil(15, "\(id) got the direct message and the broadcast from \(pageID)") {
            let heard = node.objects.filter { $0["from"] as? String == pageID }
            return heard.contains { $0["event"] as? String == "direct" && $0["data"] as? String == "\(text) direct" }
                && heard.contains { $0["event"] as? String == "broadcast" && $0["data"] as? String == text }
        }
    }

    func close() async {
        for node in nodes.values { node.closeInput() }
        for node in nodes.values { await node.stop(after: 10) }
        await browser?.close()
        await signal?.stop(after: 0)
    }

    // MARK: - Views

    private func isFullMesh() async throws -> Bool {
        for (id, page) in pages {
            let neighbours = try await page.evaluate("mesh.neighbours().map(n => n.id).sort().join(',')").stringValue ?? ""
            guard Set(neighbours.split(separator: ",").map(String.init)) == Self.everyone.subtracting([id]) else { return false }
        }
        for (id, node) in nodes where view(of: node) != Self.everyone.subtracting([id]) { return false }
        return true
    }

    /// A Swift node's neighbours, from its neighbour-up and neighbour-down events.
    private func view(of node: ChildProcess) -> Set<String> {
        var view: Set<String> = []
        for event in node.objects {
            guard let id = event["id"] as? String else { continue }
            switch event["event"] as? String {
            case "neighbour-up": view.insert(id)
            case "neighbour-down": view.remove(id)
            default: break
            }
        }
        return view
    }

    private func everyoneHeard(_ text: String, origin: String) async throws -> Bool {
        for (id, page) in pages where id != origin {
            let heard = try await page.evaluate("mesh.received.some(m => m.kind === 'bcast' && m.from === '\(origin)' && m.data === '\(text)')")
            guard heard.boolValue == true else { return false }
        }
        for (id, node) in nodes where id != origin {
            guard node.objects.contains(where: { $0["event"] as? String == "broadcast" && $0["data"] as? String == text }) else {
                return false
            }
        }
        return true
    }
}
