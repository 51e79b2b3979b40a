// swift-tools-version: 6.2
// libFuzzer targets for every parser. A separate package, so the main build
// and `swift test` never build it. Build and run through `make fuzz`.
import PackageDescription

let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "swift-webrtc-fuzz",
    dependencies: [.package(name: "swift-webrtc", path: "..")],
    targets: [
        .executableTarget(
            name: "fuzz-stun",
            dependencies: [.product(name: "STUN", package: "swift-webrtc")],
            path: "Sources/FuzzSTUN",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "fuzz-sdp",
            dependencies: [.product(name: "SDP", package: "swift-webrtc")],
            path: "Sources/FuzzSDP",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "fuzz-candidate",
            dependencies: [.product(name: "SDP", package: "swift-webrtc")],
            path: "Sources/FuzzCandidate",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "fuzz-signaling",
            dependencies: [.product(name: "Signaling", package: "swift-webrtc")],
            path: "Sources/FuzzSignaling",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "fuzz-dcep",
            dependencies: [.product(name: "DataChannel", package: "swift-webrtc")],
            path: "Sources/FuzzDCEP",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "fuzz-ice",
            dependencies: [
                .product(name: "ICE", package: "swift-webrtc"), .product(name: "STUN", package: "swift-webrtc"),
                .product(name: "SDP", package: "swift-webrtc"),
            ],
            path: "Sources/FuzzICE",
            swiftSettings: strict
        ),
    ]
)
