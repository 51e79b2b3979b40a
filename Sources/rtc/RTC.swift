import ArgumentParser

/// The `rtc` command-line tool: the stack's codecs and, later, its peers, from a shell.
@main
struct RTC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtc",
        abstract: "A WebRTC data-channel stack in Swift: codecs, peers and tools.",
        subcommands: [
            DemoCommand.self, BenchCommand.self, PeerCommand.self, SignalCommand.self, SignalTokenCommand.self, JoinCommand.self,
            MeshCommand.self, MeshSimCommand.self, NetemCommand.self, SoakCommand.self,
            SDPCommand.self, STUNCommand.self, STUNServerCommand.self,
        ]
    )
}
