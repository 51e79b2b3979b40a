/// DTLS record-layer parsing (RFC 6347 §4.1): just enough to validate
/// incoming datagrams, split OpenSSL's output into datagrams, and notice a
/// peer Certificate message. Every read is bounds-checked.
enum DTLSRecords {
    /// Record header: type(1) version(2) epoch(2) sequence_number(6) length(2).
    static let headerLength = 13
    /// Handshake header (RFC 6347 §4.2.2): msg_type(1) length(3)
    /// message_seq(2) fragment_offset(3) fragment_length(3).
    static let handshakeHeaderLength = 12
    /// RFC 5246 §6.2.1: a record carries at most 2^14 bytes of plaintext.
    static let maximumPlaintextLength = 16_384
    /// RFC 5246 §6.2.3: a record's fragment is at most 2^14 + 2048 bytes.
    static let maximumFragmentLength = maximumPlaintextLength + 2_048
    /// DTLS versions carry major byte 0xFE (RFC 6347 §4.1: 1.0 = FEFF, 1.2 = FEFD).
    static let versionMajor: UInt8 = 0xFE
    /// ContentType values DTLS 1.2 defines (RFC 5246 §6.2.1).
    static let changeCipherSpec: UInt8 = 20, alert: UInt8 = 21, handshake: UInt8 = 22, applicationData: UInt8 = 23
    /// HandshakeType certificate (RFC 5246 §7.4).
    static let certificateMessage: UInt8 = 11

    /// One record inside a buffer.
    struct Record {
        var contentType: UInt8
        var epoch: UInt16
        /// The whole record, header included.
        var bytes: Range<Int>
        /// The fragment after the header.
        var body: Range<Int>
    }

    /// Calls `body` for each record; returns `false` (after the records
    /// before it) at the first invalid or truncated header.
    static func forEachRecord(in buffer: UnsafeRawBufferPointer, _ body: (Record) -> Void) -> Bool {
        var offset = 0
        while offset < buffer.count {
            guard buffer.count - offset >= headerLength else { return false }
            let type = buffer[offset]
            let length = Int(buffer[offset + 11]) << 8 | Int(buffer[offset + 12])
            guard (changeCipherSpec...applicationData).contains(type),
                  buffer[offset + 1] == versionMajor,
                  length <= maximumFragmentLength,
                  buffer.count - offset - headerLength >= length
            else { return false }
            let epoch = UInt16(buffer[offset + 3]) << 8 | UInt16(buffer[offset + 4])
            let end = offset + headerLength + length
            body(Record(contentType: type, epoch: epoch, bytes: offset..<end, body: (offset + headerLength)..<end))
            offset = end
        }
        return true
    }

    /// Whether `datagram` is non-empty and made only of well-formed records.
    static func isWellFormed(_ datagram: UnsafeRawBufferPointer) -> Bool {
        !datagram.isEmpty && forEachRecord(in: datagram) { _ in }
    }

    /// Whether a plaintext (epoch 0) handshake record of `datagram` carries
    /// a fragment of a Certificate message. A record may hold several
    /// handshake fragments (RFC 6347 §4.2.3); all are inspected.
    static func containsCertificate(_ datagram: UnsafeRawBufferPointer) -> Bool {
        var found = false
        _ = forEachRecord(in: datagram) { record in
            guard record.contentType == handshake, record.epoch == 0 else { return }
            var offset = record.body.lowerBound
            while record.body.upperBound - offset >= handshakeHeaderLength {
                if datagram[offset] == certificateMessage { found = true }
                let fragmentLength = Int(datagram[offset + 9]) << 16 | Int(datagram[offset + 10]) << 8 | Int(datagram[offset + 11])
                offset += handshakeHeaderLength + fragmentLength
            }
        }
        return found
    }

    /// Splits OpenSSL's concatenated output into datagrams: each
    /// application-data record alone in its datagram; other records
    /// (handshake, ChangeCipherSpec, alerts) packed in order while the
    /// datagram stays within `maximumDatagramSize`. OpenSSL sized each record
    /// to fit the MTU, so no datagram exceeds it. A malformed tail (which
    /// OpenSSL never writes) goes out as one last datagram.
    static func datagrams(from output: UnsafeRawBufferPointer, maximumDatagramSize: Int, _ emit: ([UInt8]) -> Void) {
        var pending = 0..<0
        func flush() {
            if !pending.isEmpty { emit(Array(output[pending])) }
            pending = pending.upperBound..<pending.upperBound
        }
        let complete = forEachRecord(in: output) { record in
            if record.contentType == applicationData || pending.count + record.bytes.count > maximumDatagramSize {
                flush()
            }
            pending = pending.lowerBound..<record.bytes.upperBound
            if record.contentType == applicationData { flush() }
        }
        if !complete { pending = pending.lowerBound..<output.count }
        flush()
    }
}
