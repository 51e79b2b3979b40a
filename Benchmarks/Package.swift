// swift-tools-version: 6.1
// Benchmarks (ordo-one/benchmark). A separate package, so the main build and
// `swift test` never build it. Run with `swift package benchmark` here.
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
        .executableTarget(
            name: "Codecs",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SDP", package: "swift-webrtc"),
                .product(name: "STUN", package: "swift-webrtc"),
            ],
            path: "Benchmarks/Codecs",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
