import Testing
@testable import STUN
import TestSupport

@Suite struct CryptoTests {
    static let shaMessage448 = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)

    @Test func sha1KnownAnswers() {
        // FIPS 180-2 Appendix A / RFC 3174 §7.3.
        #expect(hexString(libraryHash(SHA1Core.self, [])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hexString(libraryHash(SHA1Core.self, Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hexString(libraryHash(SHA1Core.self, Self.shaMessage448)) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(hexString(libraryHash(SHA1Core.self, [UInt8](repeating: 0x61, count: 1_000_000))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func sha256KnownAnswers() {
        // FIPS 180-2 Appendix B.
        #expect(hexString(libraryHash(SHA256Core.self, [])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hexString(libraryHash(SHA256Core.self, Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hexString(libraryHash(SHA256Core.self, Self.shaMessage448)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hexString(libraryHash(SHA256Core.self, [UInt8](repeating: 0x61, count: 1_000_000))) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test(arguments: [
        // RFC 1321 §A.5 test suite.
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
        (String(repeating: "1234567890", count: 8), "57edf4a22be3c955ac49da2e2107b67a"),
    ])
    func md5KnownAnswers(message: String, digest: String) {
        #expect(hexString(libraryHash(MD5Core.self, Array(message.utf8))) == digest)
    }

    static let hmacCases: [(key: [UInt8], data: [UInt8], sha1: String, sha256: String)] = [
        // RFC 2202 §3 and RFC 4231 §4 share their first test inputs.
        ([UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8),
         "b617318655057264e28bc0b6fb378c8ef146be00", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
         "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xAA, count: 20), [UInt8](repeating: 0xDD, count: 50),
         "125d7342b9ac11cd91a39af48aa17b4f63f175d3", "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (Array(1...25), [UInt8](repeating: 0xCD, count: 50),
         "4c9007f4026250c6bc8414f9bf50c86c2d7235da", "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        ([UInt8](repeating: 0x0C, count: 20), Array("Test With Truncation".utf8),
         "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04", "a3b6167473100ee06e0c796c2955552b"),
    ]

    @Test func hmacSHA1RFC2202() {
        for testCase in Self.hmacCases {
            #expect(hexString(libraryHMAC(SHA1Core.self, key: testCase.key, testCase.data)) == testCase.sha1)
        }
        // RFC 2202 cases 6 and 7: 80-byte keys are hashed first.
        let longKey = [UInt8](repeating: 0xAA, count: 80)
        #expect(hexString(libraryHMAC(SHA1Core.self, key: longKey, Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
            == "aa4ae5e15272d00e95705637ce8a3b55ed402112")
        #expect(hexString(libraryHMAC(SHA1Core.self, key: longKey, Array("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data".utf8)))
            == "e8e99d0f45237d786d6bbaa7965c7808bbff1a91")
    }

    @Test func hmacSHA256RFC4231() {
        for testCase in Self.hmacCases {
            // RFC 4231 case 5 gives only the leading 128 bits.
            #expect(hexString(libraryHMAC(SHA256Core.self, key: testCase.key, testCase.data)).hasPrefix(testCase.sha256))
        }
        let longKey = [UInt8](repeating: 0xAA, count: 131)
        #expect(hexString(libraryHMAC(SHA256Core.self, key: longKey, Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        let longData = "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."
        #expect(hexString(libraryHMAC(SHA256Core.self, key: longKey, Array(longData.utf8)))
            == "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")
    }

    @Test func crc32KnownAnswers() {
        #expect(libraryCRC32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(libraryCRC32([]) == 0)
    }

    @Test func hashesMatchOpenSSLOnRandomInputs() {
        var rng = SplitMix64(seed: 1)
        // Every length around the 55/56/64-byte padding boundaries, then random larger ones.
        let lengths = Array(0...200) + (0..<40).map { _ in Int.random(in: 201...2000, using: &rng) }
        for length in lengths {
            let data = rng.bytes(length)
            #expect(libraryHash(SHA1Core.self, data) == openSSLDigest(.sha1, data), "SHA-1 length \(length)")
            #expect(libraryHash(SHA256Core.self, data) == openSSLDigest(.sha256, data), "SHA-256 length \(length)")
            #expect(libraryHash(MD5Core.self, data) == openSSLDigest(.md5, data), "MD5 length \(length)")
            #expect(libraryCRC32(data) == referenceCRC32(data), "CRC-32 length \(length)")
        }
    }

    @Test func hmacsMatchOpenSSLOnRandomInputs() {
        var rng = SplitMix64(seed: 2)
        for _ in 0..<300 {
            let key = rng.bytes(Int.random(in: 1...150, using: &rng))
            let data = rng.bytes(Int.random(in: 0...300, using: &rng))
            #expect(libraryHMAC(SHA1Core.self, key: key, data) == openSSLHMAC(.sha1, key: key, data))
            #expect(libraryHMAC(SHA256Core.self, key: key, data) == openSSLHMAC(.sha256, key: key, data))
        }
    }

    @Test func streamingInChunksEqualsOneShot() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<100 {
            let data = rng.bytes(Int.random(in: 0...500, using: &rng))
            var sha1 = BlockHasher<SHA1Core>()
            var sha256 = BlockHasher<SHA256Core>()
            var crc = CRC32()
            var start = 0
            while start < data.count {
                let end = min(data.count, start + Int.random(in: 0...70, using: &rng))
                data[start..<end].withUnsafeBytes { chunk in
                    sha1.update(chunk)
                    sha256.update(chunk)
                    crc.update(chunk)
                }
                start = end
            }
            #expect(sha1.finalize().bytes == openSSLDigest(.sha1, data))
            #expect(sha256.finalize().bytes == openSSLDigest(.sha256, data))
            #expect(crc.value == referenceCRC32(data))
        }
    }

    @Test func constantTimeComparison() {
        let a: [UInt8] = [1, 2, 3], b: [UInt8] = [1, 2, 4], c: [UInt8] = [1, 2]
        a.withUnsafeBytes { ra in
            #expect(constantTimeEqual(ra, ra))
            b.withUnsafeBytes { #expect(!constantTimeEqual(ra, $0)) }
            c.withUnsafeBytes { #expect(!constantTimeEqual(ra, $0)) }
        }
    }
}
