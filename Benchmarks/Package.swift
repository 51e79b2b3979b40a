// swift-tools-version: 6.1
// Benchmarks (ordo-one/benchmark). A separate package, so the main build and
// `swift test` never build it. Run with `swift package benchmark` here;
// README.md beside this file lists the benchmarks and how thresholds guard them.
import PackageDescription

let package = Package(
    name: "swift-webrtc-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "swift-webrtc", path: ".."),
        // The default trait needs jemalloc, which is not available here; the
        // malloc interposer still counts allocations.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // What every benchmark target shares: metrics and regression tolerances.
        .target(
            name: "BenchmarkSupport",
            dependencies: [.product(name: "Benchmark", package: "benchmark")],
            path: "Sources/BenchmarkSupport"
        ),
        // Pure codecs: STUN, SDP, candidates.
        .executableTarget(
            name: "Codecs",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SDP", package: "swift-webrtc"),
                .product(name: "STUN", package: "swift-webrtc"),
            ],
            path: "Benchmarks/Codecs",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // DTLS, SCTP and data channels, driven in memory (no sockets).
        .executableTarget(
            name: "Transport",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "DTLS", package: "swift-webrtc"),
                .product(name: "SCTP", package: "swift-webrtc"),
                .product(name: "DataChannel", package: "swift-webrtc"),
                .product(name: "WebRTC", package: "swift-webrtc"),
            ],
            path: "Benchmarks/Transport",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
