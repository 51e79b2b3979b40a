import COpenSSL
import COpenSSLShim
import SDP

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A self-signed ECDSA P-256 certificate and its private key, the
/// counterpart of the W3C `RTCCertificate`: generate one, advertise its
/// ``fingerprint(_:)`` in SDP (`a=fingerprint`, RFC 8122 §5), and reuse it for
/// any number of sessions.
///
/// Generating costs a few milliseconds (key generation and signing), so
/// reuse it. Copies share one OpenSSL key, certificate and `SSL_CTX`; two
/// values are equal when their certificates have the same SHA-256 digest.
public struct DTLSCertificate: Sendable, Hashable {
    /// The longest validity ``generate(validity:)`` accepts: ten years.
    public static let maximumValidity: Duration = .seconds(10 * 365 * 24 * 3600)
    /// How far `notBefore` lies in the past, so that a peer whose clock runs
    /// slow still accepts the certificate: one day.
    public static let notBeforeBackdating: Duration = .seconds(24 * 3600)
    /// The subject and issuer common name.
    public static let commonName = "WebRTC"

    let storage: CertificateStorage

    /// Generates an ECDSA P-256 key and a self-signed X.509 v3 certificate
    /// (random positive 63-bit serial, RFC 5280 §4.1.2.2; CN ``commonName``;
    /// valid from now − ``notBeforeBackdating`` until now + `validity`;
    /// signed with ECDSA-SHA256), and prepares the OpenSSL context every
    /// session made with it shares.
    ///
    /// Reads the wall clock for the validity period.
    /// - Parameter validity: from 1 second to ``maximumValidity``; 30 days by default.
    /// - Throws: ``DTLSError/Reason/invalidConfiguration(_:)`` for a validity
    ///   out of range, ``DTLSError/Reason/certificateGeneration`` when OpenSSL fails.
    public static func generate(validity: Duration = .seconds(30 * 24 * 3600)) throws(DTLSError) -> DTLSCertificate {
        let seconds = validity.components.seconds
        guard seconds >= 1, validity <= maximumValidity else {
            throw DTLSError(.invalidConfiguration("certificate validity must be 1 s ... 10 years"))
        }
        return DTLSCertificate(storage: try CertificateStorage(validitySeconds: Int(seconds)))
    }

    /// The end of the validity period, in seconds since the Unix epoch.
    public var notAfter: Int64 { storage.notAfter }

    /// The certificate's fingerprint for SDP `a=fingerprint` (RFC 8122 §5).
    ///
    /// sha-1, sha-224, sha-256, sha-384 and sha-512 are computed as asked.
    /// Any other function (md5, md2, unknown names) is not offered: the
    /// result is then the sha-256 fingerprint, which every WebRTC peer
    /// verifies; check the returned ``Fingerprint/algorithm``.
    public func fingerprint(_ function: HashFunction = .sha256) -> Fingerprint {
        if let digest = CertificateDigest.compute(storage.certificate, function) {
            return Fingerprint(algorithm: function, bytes: digest)
        }
        return Fingerprint(algorithm: .sha256, bytes: storage.sha256)
    }

    /// Equal when the certificates have the same SHA-256 digest.
    public static func == (lhs: DTLSCertificate, rhs: DTLSCertificate) -> Bool {
        lhs.storage.sha256 == rhs.storage.sha256
    }

    /// Hashes the SHA-256 digest.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.sha256)
    }
}

/// The certificate digests that fingerprints may use (RFC 8122 §5 names).
enum CertificateDigest {
    /// The OpenSSL digest for `function`, or `nil` when this module does not
    /// verify it (md5 and md2 are obsolete, RFC 8122 §5; others unknown).
    static func messageDigest(_ function: HashFunction) -> OpaquePointer? {
        switch function {
        case .sha1: EVP_sha1()
        case .sha224: EVP_sha224()
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        case .sha512: EVP_sha512()
        case .md5, .md2, .other: nil
        }
    }

    /// `X509_digest` of the DER certificate, or `nil` for an unsupported function.
    static func compute(_ certificate: OpaquePointer, _ function: HashFunction) -> [UInt8]? {
        guard let digestType = messageDigest(function) else { return nil }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(certificate, digestType, &digest, &length) == 1 else { return nil }
        return Array(digest.prefix(Int(length)))
    }
}

/// Owns the OpenSSL objects behind a ``DTLSCertificate``: the key, the
/// certificate and the `SSL_CTX` configured with them; freed in `deinit`.
///
/// `@unchecked Sendable` is sound because nothing mutates these objects after
/// `init`: OpenSSL keys and certificates are immutable once built, and an
/// `SSL_CTX` is safe to share across threads for `SSL_new` once configured
/// (its reference count is atomic; the session cache, its only mutable
/// part, is switched off).
final class CertificateStorage: @unchecked Sendable {
    let key: OpaquePointer
    let certificate: OpaquePointer
    let context: OpaquePointer
    let notAfter: Int64
    let sha256: [UInt8]

    init(validitySeconds: Int) throws(DTLSError) {
        guard let key = rtc_generate_p256_key() else {
            ERR_clear_error()
            throw DTLSError(.certificateGeneration)
        }
        var now = time(nil)
        guard let certificate = Self.selfSigned(key: key, validitySeconds: validitySeconds, now: &now),
              let sha256 = CertificateDigest.compute(certificate, .sha256)
        else {
            EVP_PKEY_free(key)
            ERR_clear_error()
            throw DTLSError(.certificateGeneration)
        }
        let context: OpaquePointer
        do {
            context = try SessionContext.make(certificate: certificate, key: key)
        } catch {
            X509_free(certificate)
            EVP_PKEY_free(key)
            throw error
        }
        self.key = key
        self.certificate = certificate
        self.context = context
        self.notAfter = Int64(now) + Int64(validitySeconds)
        self.sha256 = sha256
    }

    deinit {
        SSL_CTX_free(context)
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    /// Builds and signs the certificate, or returns `nil` (freeing it) on failure.
    private static func selfSigned(key: OpaquePointer, validitySeconds: Int, now: inout time_t) -> OpaquePointer? {
        guard let certificate = X509_new() else { return nil }
        let commonName = Array(DTLSCertificate.commonName.utf8)
        let backdating = Int(DTLSCertificate.notBeforeBackdating.components.seconds)
        guard X509_set_version(certificate, Int(X509_VERSION_3)) == 1,
              ASN1_INTEGER_set_uint64(X509_get_serialNumber(certificate), UInt64.random(in: 1...UInt64(Int64.max))) == 1,
              X509_time_adj_ex(X509_getm_notBefore(certificate), 0, -backdating, &now) != nil,
              X509_time_adj_ex(X509_getm_notAfter(certificate), 0, validitySeconds, &now) != nil,
              let name = X509_get_subject_name(certificate),
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, Int32(commonName.count), -1, 0) == 1,
              X509_set_issuer_name(certificate, name) == 1,
              X509_set_pubkey(certificate, key) == 1,
              X509_sign(certificate, key, EVP_sha256()) > 0
        else {
            X509_free(certificate)
            return nil
        }
        return certificate
    }
}
