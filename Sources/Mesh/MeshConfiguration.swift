/// A node's settings; the defaults are docs/mesh.md's "Limits".
public struct MeshConfiguration: Sendable, Hashable {
    /// Full mesh or partial view.
    public var mode: MeshMode
    /// Links a node never exceeds, whatever the mode.
    public var maxNeighbours: Int
    /// Peers a newcomer links to through the signaling server.
    public var entranceNeighbours: Int
    /// How often a `peers` list goes to a random neighbour.
    public var gossipInterval: Duration
    /// How often the membership rules run (attempt timeouts, new attempts).
    public var maintenanceInterval: Duration
    /// How long a brokered offer may wait for its answer, and a link for coming up once answered
    /// (or, without a broker, at all), before the attempt is dropped and its target forgotten.
    public var answerTimeout: Duration
    public var attemptTimeout: Duration
    /// The hop limit of the messages this node originates.
    public var ttl: Int
    /// Relayed `signal` messages accepted from one neighbour per second, and at once.
    public var relayedSignalsPerSecond: Double
    public var relayedSignalBurst: Int
    /// Message ids remembered for duplicate suppression.
    public var messageIDCacheSize: Int
    /// Node ids remembered besides the neighbours.
    public var knownLimit: Int

    /// docs/mesh.md's defaults, in `mode`.
    public init(mode: MeshMode = .partial) {
        self.mode = mode
        maxNeighbours = 32
        entranceNeighbours = 2
        gossipInterval = .seconds(1)
        maintenanceInterval = .milliseconds(250)
        answerTimeout = .seconds(3)
        attemptTimeout = .seconds(10)
        ttl = 16
        relayedSignalsPerSecond = 50
        // A newcomer answering a full group at once, through one neighbour: up to 31 attempts of
        // an answer, a few candidates and an end each (about 7 signals) must pass.
        relayedSignalBurst = 256
        messageIDCacheSize = 8_192
        knownLimit = 1_024
    }

    /// Attempts under way at once (docs/mesh.md, "Membership").
    var attemptsAtOnce: Int { mode == .full ? 4 : 2 }
}
