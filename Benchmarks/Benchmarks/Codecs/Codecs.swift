import Benchmark
import BenchmarkSupport
import SDP
import STUN

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file of `Vectors/` (two levels above this package's root).
private func vector(_ path: String) -> [UInt8] {
    let root = #filePath.split(separator: "/").dropLast(4).joined(separator: "/")
    guard let file = fopen("/\(root)/Vectors/\(path)", "rb") else { fatalError("missing vector \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return bytes
}

/// The codecs on the hot path. Names have no spaces: benchmark 1.38.1 writes a threshold file
/// under the name with spaces replaced but looks it up under the name as it is.
let benchmarks: @Sendable () -> Void = {
    // 1000 operations per sample: per-operation figures are the sample's divided by 1000, and
    // the harness's own allocations per sample (see the baseline) vanish in the division.
    Benchmark.defaultConfiguration = .perOperation(scalingFactor: .kilo)

    Benchmark("Baseline-empty-loop") { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(index)
        }
    }

    // RFC 5769 §2.1: a binding request with USERNAME, PRIORITY, ICE-CONTROLLED,
    // MESSAGE-INTEGRITY and FINGERPRINT, exactly what an ICE agent receives.
    let request = vector("stun/rfc5769-request.bin")
    let key = STUNIntegrityKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt")
    Benchmark("STUN-decode-verify-binding-request") { benchmark in
        request.withUnsafeBytes { raw in
            for _ in benchmark.scaledIterations {
                guard let view = try? STUNMessageView(raw),
                    view.verifyFingerprint(), view.verifyMessageIntegrity(key: key)
                else { fatalError("vector does not verify") }
                blackHole(try? view.priority)
                blackHole((try? view.usernameBytes)?.count)
            }
        }
    }

    let responseType = STUNMessageType(method: .binding, messageClass: .successResponse)
    let mapped = TransportAddress(ip: .v4(IPv4Address(192, 0, 2, 1)), port: 32853)
    let transactionID = STUNTransactionID.random()
    // A binding success response with XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and FINGERPRINT,
    // written into a buffer that is reused, as the ICE agent does.
    Benchmark("STUN-encode-binding-response") { benchmark in
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1500)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var writer = STUNMessageWriter(type: responseType, transactionID: transactionID, reusing: &buffer)
            try writer.append(.xorMappedAddress(mapped))
            buffer = try writer.finish(integrity: key, fingerprint: true)
            blackHole(buffer.count)
        }
    }

    // A real 6.4 KB audio+video+data offer from Chromium.
    let offer = vector("sdp/chromium-audio-video-datachannel-offer.sdp")
    Benchmark("SDP-parse-Chromium-offer") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SessionDescription(parsing: offer))
        }
    }

    let parsedOffer = try? SessionDescription(parsing: offer)
    Benchmark("SDP-serialize-Chromium-offer") { benchmark in
        guard let parsedOffer else { fatalError("vector does not parse") }
        for _ in benchmark.scaledIterations {
            blackHole(parsedOffer.serialized())
        }
    }

    let candidate = "candidate:2483553322 1 udp 2122260223 127.0.0.1 34365 typ host generation 0 network-id 1 network-cost 50"
    Benchmark("ICE-candidate-parse") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try ICECandidate(parsing: candidate))
        }
    }
}
