import Foundation
import SDP
import Testing

@testable import DTLS

@Suite struct CertificateTests {
    @Test func fingerprintsHaveTheRightLengths() {
        let certificate = Certificates.a
        for function in [HashFunction.sha1, .sha224, .sha256, .sha384, .sha512] {
            let fingerprint = certificate.fingerprint(function)
            #expect(fingerprint.algorithm == function)
            #expect(fingerprint.bytes.count == function.digestLength)
        }
        #expect(certificate.fingerprint() == certificate.fingerprint(.sha256))
        #expect(certificate.fingerprint() != Certificates.b.fingerprint())
    }

    @Test func unsupportedFunctionsFallBackToSHA256() {
        #expect(Certificates.a.fingerprint(.md5) == Certificates.a.fingerprint(.sha256))
        #expect(Certificates.a.fingerprint(.other("sha3-256")) == Certificates.a.fingerprint(.sha256))
    }

    @Test func validityEndsWhenAsked() throws {
        let validity: Int64 = 7 * 24 * 3600
        let before = Int64(Date().timeIntervalSince1970)
        let certificate = try DTLSCertificate.generate(validity: .seconds(validity))
        let after = Int64(Date().timeIntervalSince1970)
        #expect((before + validity)...(after + validity) ~= certificate.notAfter)
        let defaultValidity = Certificates.a.notAfter - before
        #expect(abs(defaultValidity - 30 * 24 * 3600) < 600)
    }

    @Test func validityOutOfRangeThrows() {
        #expect(throws: DTLSError.self) { try DTLSCertificate.generate(validity: .zero) }
        #expect(throws: DTLSError.self) { try DTLSCertificate.generate(validity: .seconds(11 * 365 * 24 * 3600)) }
    }

    @Test func equalityFollowsTheCertificate() {
        let copy = Certificates.a
        #expect(copy == Certificates.a)
        #expect(Certificates.a != Certificates.b)
        #expect(Set([Certificates.a, copy, Certificates.b]).count == 2)
    }
}
