/// Why a DTLS operation or session failed.
///
/// Sessions report failures through ``DTLSEvent/failed(_:)``; calls that can
/// fail synchronously (``DTLSCertificate/generate(validity:)``,
/// ``OpenSSLDTLSSession/init(role:certificate:remoteFingerprints:configuration:now:)``,
/// ``DTLSSession/send(_:)``) throw it.
public struct DTLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of DTLS failure.
    public enum Reason: Sendable, Hashable {
        /// The peer's certificate matches none of the remote SDP fingerprints
        /// (RFC 8122 §5, RFC 8842 §5). The session sent a fatal
        /// `bad_certificate` alert (RFC 5246 §7.2.2).
        case fingerprintMismatch
        /// Verification had to decide, but the remote fingerprints hold no
        /// hash function this module can compute (sha-1/224/256/384/512), or
        /// the handshake reached certificate verification through a path that
        /// did not wait for them. Fails closed.
        case noRemoteFingerprint
        /// The handshake did not finish within
        /// ``DTLSConfiguration/handshakeTimeout``.
        case handshakeTimeout
        /// The peer sent an alert (RFC 5246 §7.2), such as `bad certificate`;
        /// `description` is OpenSSL's long name for it.
        case alertReceived(description: String, fatal: Bool)
        /// Making the key or the self-signed certificate failed.
        case certificateGeneration
        /// ``DTLSSession/send(_:)`` before the handshake finished.
        case notConnected
        /// The session is closed or failed.
        case closed
        /// The data does not fit in one record of one datagram
        /// (``OpenSSLDTLSSession/maximumPlaintextSize``).
        case messageTooLarge
        /// A configuration value is outside its supported range.
        case invalidConfiguration(String)
        /// OpenSSL reported an error; the text comes from its error queue
        /// (`ERR_error_string_n`).
        case openSSL(String)
    }

    /// Why it failed.
    public var reason: Reason

    /// Creates an error.
    public init(_ reason: Reason) {
        self.reason = reason
    }

    /// A short English description, including OpenSSL's text when present.
    public var description: String {
        switch reason {
        case .fingerprintMismatch: "DTLS: the peer certificate matches no remote fingerprint"
        case .noRemoteFingerprint: "DTLS: no usable remote fingerprint to verify the peer certificate"
        case .handshakeTimeout: "DTLS: handshake timed out"
        case .alertReceived(let description, let fatal): "DTLS: received \(fatal ? "fatal" : "warning") alert \(description)"
        case .certificateGeneration: "DTLS: certificate generation failed"
        case .notConnected: "DTLS: not connected"
        case .closed: "DTLS: session closed"
        case .messageTooLarge: "DTLS: message does not fit in one datagram"
        case .invalidConfiguration(let text): "DTLS: invalid configuration: \(text)"
        case .openSSL(let text): "DTLS: OpenSSL: \(text)"
        }
    }
}
