import COpenSSL
import COpenSSLShim

/// Builds the `SSL_CTX` shared by every session of one certificate.
///
/// One context per certificate (not per session): `SSL_CTX_new` is the
/// expensive part of OpenSSL 3.0 setup, and nothing in it depends on the
/// session. Per-session settings (MTU, callbacks, role) go on the `SSL`.
enum SessionContext {
    /// WebRTC cipher suites (RFC 8827 §6.5 requires
    /// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256; browsers offer these).
    /// ECDHE-RSA suites let us talk to a server with an RSA certificate.
    /// Forward-secret AEAD only; no SRTP profiles (data channels only).
    static let cipherList = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")
    /// Key-exchange groups, in preference order.
    static let groupList = "X25519:P-256"
    /// SRTP protection profiles offered and accepted in the use_srtp extension (RFC 5764
    /// §4.1.1). Data channels never use SRTP, but some peers refuse a DTLS handshake that
    /// negotiated no profile (aiortc 1.16: "no SRTP profile negotiated"), and browsers always
    /// offer it. Negotiating the extension costs nothing: no SRTP key is ever exported and no
    /// SRTP library is linked.
    static let srtpProfiles = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"

    static func make(certificate: OpaquePointer, key: OpaquePointer) throws(DTLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let context = SSL_CTX_new(DTLS_method()) else {
            throw DTLSError(.openSSL(OpenSSLErrorQueue.drain(fallback: "SSL_CTX_new failed")))
        }
        // OpenSSL 3.0 speaks DTLS 1.2 at most; pinning both ends keeps it so
        // with any library version. A DTLS 1.3 client (Chromium) offers 1.2
        // too and falls back.
        let version = Int32(DTLS1_2_VERSION)
        // RFC 6347 §4.1.1.1: we handle the path MTU ourselves (SSL_set_mtu
        // per session); OpenSSL must not query a socket it does not have.
        // No session tickets and no renegotiation: WebRTC never resumes or renegotiates.
        let options = UInt64(rtc_SSL_OP_NO_QUERY_MTU()) | rtc_SSL_OP_NO_TICKET() | rtc_SSL_OP_NO_RENEGOTIATION()
        // OpenSSL reads whole datagrams for DTLS; read-ahead keeps a datagram
        // holding several records in one read.
        guard rtc_SSL_CTX_set_min_proto_version(context, version) == 1,
              rtc_SSL_CTX_set_max_proto_version(context, version) == 1,
              SSL_CTX_set_cipher_list(context, cipherList) == 1,
              rtc_SSL_CTX_set1_groups_list(context, groupList) == 1,
              // Unlike its neighbours, this one returns 0 on success.
              SSL_CTX_set_tlsext_use_srtp(context, srtpProfiles) == 0,
              SSL_CTX_use_certificate(context, certificate) == 1,
              SSL_CTX_use_PrivateKey(context, key) == 1,
              SSL_CTX_check_private_key(context) == 1
        else {
            SSL_CTX_free(context)
            throw DTLSError(.openSSL(OpenSSLErrorQueue.drain(fallback: "SSL_CTX configuration failed")))
        }
        SSL_CTX_set_options(context, options)
        _ = rtc_SSL_CTX_set_read_ahead(context, 1)
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_SESS_CACHE_MODE, Int(SSL_SESS_CACHE_OFF), nil)
        // RFC 8827 §6.5 / RFC 8842 §5: both sides present a certificate; the
        // callback accepts it only when it matches a remote SDP fingerprint.
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) { preverified, store in
            OpenSSLDTLSSession.verifyCertificate(preverified: preverified, store: store)
        }
        return context
    }
}
