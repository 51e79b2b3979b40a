import SDP
import Testing

@Test func temporaryBenchmark() throws {
    for name in ["chromium-audio-video-datachannel-offer.sdp", "chromium-datachannel-offer.sdp", "aiortc-datachannel-answer.sdp"] {
        let bytes = try Vectors.bytes(name)
        let text = String(decoding: bytes, as: UTF8.self)
        let clock = ContinuousClock()
        var sink = 0
        var best = Duration.seconds(1000)
        var bestSer = Duration.seconds(1000)
        let description = try SessionDescription(parsing: text)
        for _ in 0..<40 {
            let parse = clock.measure {
                for _ in 0..<300 { sink &+= (try? SessionDescription(parsing: text))?.media.count ?? 0 }
            }
            best = min(best, parse / 300)
            let ser = clock.measure {
                for _ in 0..<300 { sink &+= description.serialized().utf8.count }
            }
            bestSer = min(bestSer, ser / 300)
        }
        print("BENCH \(name) \(bytes.count) B: parse \(best), serialize \(bestSer) \(sink)")
    }
    let clock = ContinuousClock()
    for (label, text) in [("minimal", header + "t=0 0\r\n"), ("100 a=x", header + String(repeating: "a=x\r\n", count: 100)),
        ("100 a=extmap", header + String(repeating: "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n", count: 100)),
        ("100 t=", header + String(repeating: "t=0 0\r\n", count: 100)),
        ("100 cand", header + String(repeating: "a=candidate:3874903443 1 udp 2122260223 127.0.0.1 47312 typ host generation 0 network-id 1 network-cost 50\r\n", count: 100)),
        ("100 fp", header + String(repeating: "a=fingerprint:sha-256 22:15:C9:C4:0D:D8:C5:A1:C5:48:60:B3:51:5D:E9:FF:B1:09:AE:93:C2:D8:C3:72:47:CD:07:DE:04:45:7A:20\r\n", count: 100)),
        ("100 mid", header + String(repeating: "a=mid:0\r\n", count: 100)),
    ] {
        var best = Duration.seconds(1000)
        var sink = 0
        for _ in 0..<20 {
            let t = clock.measure { for _ in 0..<200 { sink &+= (try? SessionDescription(parsing: text))?.fields.count ?? 0 } }
            best = min(best, t / 200)
        }
        print("BENCH \(label): \(best) \(sink)")
    }
    #expect(Bool(true))
}
