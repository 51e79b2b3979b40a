import ArgumentParser
import Foundation

/// `rtc-interop`: our stack against the peers people use (headless Chromium, aiortc, libdatachannel), and
/// Chromium's own figures for the side-by-side benchmarks. Both run inside a loopback-only
/// network namespace.
@main
struct Interop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtc-interop",
        abstract: "Interop suite and Chromium benchmarks (inside a loopback-only namespace).",
        subcommands: [InteropSuite.self, ChromiumBench.self, ReliabilitySuite.self],
        defaultSubcommand: InteropSuite.self
    )
}

/// `rtc-interop run`, the default subcommand: the interop suite against headless Chromium,
/// aiortc and libdatachannel, and a browser mesh through `rtc signal`. `make interop` runs it inside a
/// loopback-only network namespace; it prints a table and `N passed, N failed`, and fails on
/// any failure.
struct InteropSuite: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the interop suite against headless Chromium, aiortc and libdatachannel (inside a loopback-only namespace)."
    )

    enum Section: String, ExpressibleByArgument, CaseIterable {
        case chromium, aiortc, libdatachannel, mesh, overlay
    }

    @Option(help: "The rtc binary to test (rtc peer, rtc join).")
    var rtc = ".build/release/rtc"

    @Option(help: "The Chromium binary.")
    var chromium = "/usr/lib/chromium/chromium"

    @Option(help: "The python3 that has aiortc.")
    var python = "python3"

    @Option(help: "The Python 3.12 that has aiolibdatachannel (default: $RTC_PYTHON312 or python3.12).")
    var python312 = ProcessInfo.processInfo.environment["RTC_PYTHON312"] ?? "python3.12"

    @Option(help: "The repository root (for Tests/interop).")
    var repository = "."

    @Option(help: "Bytes of each large transfer to and from the browser.")
    var bigBytes = 64 << 20

    @Option(parsing: .upToNextOption, help: "Sections to run (default: all).")
    var only: [Section] = Section.allCases

    @Option(help: "Also write the table to this file.")
    var tableFile: String?

    func run() async throws {
        let report = Report()
        let root = URL(fileURLWithPath: repository)
        let rtcBinary = URL(fileURLWithPath: rtc)
        guard ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1" else {
            for section in only {
                report.skip(
                    peer: section.rawValue, role: "-", "all cases",
                    because: "not inside a loopback-only network namespace (run through make interop as root)")
            }
            try finish(report)
            return
        }
        guard FileManager.default.isExecutableFile(atPath: rtcBinary.path) else {
            throw ValidationError("--rtc: \(rtc) is not an executable (build it: swift build -c release --product rtc)")
        }
        for section in only {
            switch section {
            case .chromium:
                await ChromiumCases(chromium: chromium, pages: root.appendingPathComponent("Tests/interop/chromium"), bigBytes: bigBytes)
                    .run(into: report)
            case .aiortc:
                await ProtocolPeerCases(
                    peer: "aiortc", module: "aiortc", rtc: rtcBinary, python: python,
                    script: root.appendingPathComponent("Tests/interop/aiortc_peer.py")
                ).run(into: report)
            case .libdatachannel:
                await ProtocolPeerCases(
                    peer: "libdatachannel", module: "aiolibdatachannel", rtc: rtcBinary, python: python312,
                    script: root.appendingPathComponent("Benchmarks/peers/libdatachannel_peer.py")
                ).run(into: report)
            case .mesh:
                await MeshCase(chromium: chromium, rtc: rtcBinary).run(into: report)
            case .overlay:
                await OverlayCase(chromium: chromium, rtc: rtcBinary, repository: root).run(into: report)
            }
        }
        try finish(report)
    }

    private func finish(_ report: Report) throws {
        let table = report.table()
        print(table)
        if let tableFile {
            try table.write(toFile: tableFile, atomically: true, encoding: .utf8)
        }
        if report.failed > 0 { throw ExitCode(1) }
    }
}
