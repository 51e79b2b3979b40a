import COpenSSL
import COpenSSLShim
import CUsrsctp
import Foundation
import Testing

/// Proves that the system libraries and the C shim link and behave as the
/// later layers (DTLS, SCTP) assume.
@Suite("System libraries")
struct SystemLibrariesTests {
    @Test("OpenSSL 3 is linked and reports its version")
    func openSSLVersion() throws {
        let text = try #require(OpenSSL_version(OPENSSL_VERSION))
        #expect(String(cString: text).hasPrefix("OpenSSL 3."))
        // The headers the shim was compiled against agree with the library at run time.
        #expect(rtc_OPENSSL_VERSION_NUMBER() >> 28 == 3)
        #expect(OpenSSL_version_num() >> 28 == 3)
    }

    @Test("the shim generates an ECDSA P-256 key through EVP_PKEY_Q_keygen")
    func p256KeyGeneration() throws {
        let key = try #require(rtc_generate_p256_key())
        defer { EVP_PKEY_free(key) }
        #expect(EVP_PKEY_get_bits(key) == 256)
        #expect(EVP_PKEY_is_a(key, "EC") == 1)
    }

    @Test("the shim's DTLS macros act on a real DTLS 1.2 context")
    func dtlsMacros() throws {
        let context = try #require(SSL_CTX_new(DTLS_method()))
        defer { SSL_CTX_free(context) }
        #expect(rtc_SSL_CTX_set_min_proto_version(context, DTLS1_2_VERSION) == 1)
        let ssl = try #require(SSL_new(context))
        defer { SSL_free(ssl) }
        var seconds = -1
        var microseconds = -1
        // No handshake has started, so no retransmission timer runs.
        #expect(rtc_DTLSv1_get_timeout(ssl, &seconds, &microseconds) == 0)

        let bio = try #require(BIO_new(BIO_s_mem()))
        defer { BIO_free(bio) }
        #expect(rtc_BIO_pending(bio) == 0)
        _ = rtc_BIO_set_mem_eof_return(bio, -1)
        var byte: UInt8 = 0
        // An empty memory BIO now reads as "retry", not end-of-file.
        #expect(BIO_read(bio, &byte, 1) == -1)
        #expect(BIO_test_flags(bio, BIO_FLAGS_SHOULD_RETRY) != 0)
    }

    static let isolated = ProcessInfo.processInfo.environment["RTC_USRSCTP_ISOLATED"] == "1"

    /// usrsctp is one stack per process, which the SCTP tests running in parallel use: tearing it
    /// down here would pull it from under them. So the init-and-finish check runs in a process of
    /// its own: this test binary again, filtered to ``usrsctpInitAndFinishInIsolation()``.
    @Test(
        "usrsctp initialises and finishes in AF_CONN mode (in a separate process)",
        .enabled(if: !isolated && FileManager.default.fileExists(atPath: "/proc/self/exe"),
                 "re-runs this test binary through /proc/self/exe (Linux)"))
    func usrsctpInitAndFinish() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["--testing-library", "swift-testing", "--filter", "usrsctpInitAndFinishInIsolation"]
        process.environment = ProcessInfo.processInfo.environment.merging(["RTC_USRSCTP_ISOLATED": "1"]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("1 test"), "the isolated test did not run: \(text)")
    }

    @Test(
        "usrsctp init then finish (only in its own process)",
        .enabled(if: isolated, "runs only in the separate process that usrsctpInitAndFinish starts"))
    func usrsctpInitAndFinishInIsolation() {
        usrsctp_init_nothreads(0, nil, nil)
        // usrsctp_finish returns 0 once the stack is torn down (no sockets are open).
        #expect(usrsctp_finish() == 0)
    }
}
