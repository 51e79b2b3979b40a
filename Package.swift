// swift-tools-version: 6.2
import PackageDescription

/// Settings every Swift target of ours shares: Swift 6 mode (from the tools
/// version) and no warnings tolerated.
let strict: [SwiftSetting] = [
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "swift-webrtc",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SDP", targets: ["SDP"]),
        .library(name: "STUN", targets: ["STUN"]),
        .library(name: "ICE", targets: ["ICE"]),
        .library(name: "ICETransport", targets: ["ICETransport"]),
        .library(name: "DTLS", targets: ["DTLS"]),
        .library(name: "SCTP", targets: ["SCTP"]),
        .library(name: "DataChannel", targets: ["DataChannel"]),
        .library(name: "WebRTC", targets: ["WebRTC"]),
        .library(name: "Signaling", targets: ["Signaling"]),
        .library(name: "SignalingServer", targets: ["SignalingServer"]),
        .library(name: "SignalingClient", targets: ["SignalingClient"]),
        .library(name: "Mesh", targets: ["Mesh"]),
        .executable(name: "rtc", targets: ["rtc"]),
        .executable(name: "rtc-interop", targets: ["rtc-interop"]),
    ],
    dependencies: [
        // The core's only Swift dependencies: SwiftNIO for the I/O drivers, swift-log for logging.
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // The command-line tool only; never a dependency of a protocol module.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The signaling server only (HTTP, WebSocket upgrade, static files); without the
        // default traits, which pull swift-configuration.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        // MARK: System libraries
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        .systemLibrary(
            name: "CUsrsctp",
            pkgConfig: "usrsctp",
            providers: [.apt(["libusrsctp-dev"]), .brew(["libusrsctp"])]
        ),
        // OpenSSL 3.0 macros and variadic functions, as real C functions.
        .target(name: "COpenSSLShim", dependencies: ["COpenSSL"]),

        // MARK: Shared building blocks (pure Swift)
        .target(name: "RTCCollections", swiftSettings: strict),
        // Network impairment (loss, delay, jitter, duplication, rate, MTU) as a sans-IO path, for
        // tests and `rtc netem`.
        .target(name: "NetworkEmulation", dependencies: ["RTCCollections"], swiftSettings: strict),

        // MARK: Wire codecs (pure Swift, no I/O)
        .target(name: "SDP", swiftSettings: strict),
        .target(name: "STUN", swiftSettings: strict),

        // MARK: Protocol state machines (sans-IO: bytes and time in, bytes, events and deadlines out)
        .target(name: "ICE", dependencies: ["STUN", "SDP", "RTCCollections"], swiftSettings: strict),
        .target(name: "DTLS", dependencies: ["COpenSSL", "COpenSSLShim", "SDP", "RTCCollections"], swiftSettings: strict),
        .target(name: "SCTP", dependencies: ["CUsrsctp", "RTCCollections"], swiftSettings: strict),
        .target(name: "DataChannel", dependencies: ["RTCCollections"], swiftSettings: strict),

        // MARK: I/O drivers (SwiftNIO)
        .target(
            name: "ICETransport",
            dependencies: [
                "ICE", "STUN", "SDP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // MARK: The umbrella: the layers composed over the I/O drivers
        .target(
            name: "WebRTC",
            dependencies: [
                "SDP", "STUN", "ICE", "ICETransport", "DTLS", "SCTP", "DataChannel", "RTCCollections",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // MARK: Signaling (above the core; the core never depends on it)
        // The protocol of docs/signaling.md: messages and the room hub state machine (no I/O).
        .target(name: "Signaling", dependencies: ["COpenSSL"], swiftSettings: strict),
        // The WebSocket server and the browser page it serves.
        .target(
            name: "SignalingServer",
            dependencies: [
                "Signaling",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Web")],
            swiftSettings: strict
        ),
        // The client apps use: a WebSocket client on SwiftNIO and the glue to PeerConnection.
        .target(
            name: "SignalingClient",
            dependencies: [
                "Signaling", "WebRTC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // The mesh overlay of docs/mesh.md: nodes relay signaling for their neighbours.
        .target(
            name: "Mesh",
            dependencies: [
                "Signaling", "SignalingClient", "WebRTC", "DTLS", "RTCCollections",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // MARK: Tools
        // What the command-line tools share: two peer processes cross-piped (docs/rtc-peer.md)
        // and SHA-256 for checking transfers.
        .target(name: "ToolSupport", dependencies: ["COpenSSL"], swiftSettings: strict),
        .executableTarget(
            name: "rtc",
            dependencies: [
                "SDP", "STUN", "ICETransport", "DataChannel", "SCTP", "WebRTC", "COpenSSL", "RTCCollections", "NetworkEmulation",
                "Signaling", "SignalingServer", "SignalingClient", "Mesh", "ToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // The interop suite (`make interop`): our stack against headless Chromium and aiortc.
        .executableTarget(
            name: "rtc-interop",
            dependencies: [
                "WebRTC", "DataChannel", "Signaling", "SignalingServer", "SignalingClient", "ToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // MARK: Tests
        // What several test targets share (a seeded generator); never a dependency of a product.
        .target(name: "TestSupport", dependencies: ["RTCCollections"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "SDPTests", dependencies: ["TestSupport", "SDP"], swiftSettings: strict),
        .testTarget(name: "STUNTests", dependencies: ["TestSupport", "STUN", "COpenSSL"], swiftSettings: strict),
        .testTarget(name: "ICETests", dependencies: ["TestSupport", "ICE"], swiftSettings: strict),
        .testTarget(name: "DTLSTests", dependencies: ["TestSupport", "DTLS", "SDP"], swiftSettings: strict),
        .testTarget(name: "SCTPTests", dependencies: ["TestSupport", "SCTP"], swiftSettings: strict),
        .testTarget(name: "RTCCollectionsTests", dependencies: ["RTCCollections"], swiftSettings: strict),
        .testTarget(name: "NetworkEmulationTests", dependencies: ["NetworkEmulation"], swiftSettings: strict),
        .testTarget(name: "DataChannelTests", dependencies: ["TestSupport", "DataChannel"], swiftSettings: strict),
        .testTarget(
            name: "ICETransportTests",
            dependencies: [
                "TestSupport", "ICETransport", "ICE", "STUN", "SDP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WebRTCTests",
            dependencies: [
                "TestSupport", "WebRTC", "ICE", "ICETransport", "DTLS", "SCTP", "DataChannel", "SDP", "STUN", "NetworkEmulation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SignalingTests",
            dependencies: [
                "TestSupport", "Signaling", "SignalingServer", "SignalingClient", "WebRTC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MeshTests",
            dependencies: ["TestSupport", "Mesh", "Signaling", "SignalingServer", "WebRTC"],
            swiftSettings: strict
        ),
        .testTarget(name: "RTCToolTests", dependencies: ["TestSupport", "rtc", "ToolSupport", "SDP", "STUN"], swiftSettings: strict),
        .testTarget(
            name: "SystemLibrariesTests",
            dependencies: ["COpenSSL", "COpenSSLShim", "CUsrsctp"],
            swiftSettings: strict
        ),
    ]
)
