/// Why the signaling server could not start.
public enum SignalingServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A directory of static files could not be read.
    case staticDirectory(String, String)
    /// The listening socket could not be bound.
    case bindFailed(String)

    public var description: String {
        switch self {
        case .staticDirectory(let path, let reason): "cannot read static files in \(path): \(reason)"
        case .bindFailed(let reason): "cannot listen: \(reason)"
        }
    }
}
