import Testing

@testable import DTLS

@Suite("Resequencing records before DTLS")
struct RecordReorderBufferTests {
    typealias Number = RecordReorderBuffer.RecordNumber
    let start = ContinuousClock.now

    /// A buffer whose window starts at zero, so that only measured reordering opens it.
    static func measuring() -> RecordReorderBuffer {
        var configuration = RecordReorderBuffer.Configuration()
        configuration.initialWindow = .zero
        return RecordReorderBuffer(configuration: configuration)
    }

    /// A datagram holding one application-data record header (RFC 6347 §4.1) and a body.
    static func datagram(_ sequence: UInt64, epoch: UInt16 = 1, type: UInt8 = 23) -> [UInt8] {
        var bytes: [UInt8] = [type, 0xFE, 0xFD, UInt8(epoch >> 8), UInt8(epoch & 0xFF)]
        for shift in stride(from: 40, through: 0, by: -8) { bytes.append(UInt8((sequence >> UInt64(shift)) & 0xFF)) }
        return bytes + [0, 4, 1, 2, 3, 4]
    }

    /// Admits `sequence` at `ms` after the start and, when it is processed, authenticates it as
    /// DTLS would; returns whether it was held.
    @discardableResult
    func arrive(_ sequence: UInt64, at ms: Int, in buffer: inout RecordReorderBuffer, authenticate: Bool = true) -> Bool {
        let now = start + .milliseconds(ms)
        let admission = Self.datagram(sequence).withUnsafeBytes { buffer.admit($0, now: now) }
        guard case .process(let record) = admission else { return true }
        #expect(record == Number(epoch: 1, sequence: sequence))
        if authenticate, let record { buffer.authenticated(record, arrivedAt: now) }
        return false
    }

    /// Releases what is due at `ms`, authenticating each; returns their sequence numbers.
    func release(at ms: Int, from buffer: inout RecordReorderBuffer) -> [UInt64] {
        var released: [UInt64] = []
        while let release = buffer.nextRelease(now: start + .milliseconds(ms)) {
            buffer.authenticated(release.record, arrivedAt: release.arrivedAt)
            released.append(release.record.sequence)
        }
        return released
    }

    @Test("records in order pass at once and open no window")
    func inOrder() {
        var buffer = Self.measuring()
        for sequence in 0..<100 as Range<UInt64> {
            #expect(!arrive(sequence, at: Int(sequence), in: &buffer))
        }
        #expect(buffer.window == .zero)
        #expect(buffer.nextTimeout == nil)
        #expect(buffer.counters == RecordReorderBuffer.Counters())
    }

    @Test("before any reordering is measured, a gap waits the initial window; after a quiet spell, nothing waits")
    func initialWindow() {
        var buffer = RecordReorderBuffer()
        #expect(buffer.window == .milliseconds(30))
        arrive(0, at: 0, in: &buffer)
        #expect(arrive(2, at: 1, in: &buffer))
        #expect(release(at: 30, from: &buffer).isEmpty)
        #expect(release(at: 31, from: &buffer) == [2])
        arrive(3, at: 10_001, in: &buffer)
        #expect(buffer.window == .zero)
        #expect(!arrive(5, at: 10_002, in: &buffer))
    }

    @Test("handshake records and other epochs pass untouched")
    func otherRecords() {
        var buffer = Self.measuring()
        let handshake = Self.datagram(0, epoch: 0, type: 22).withUnsafeBytes { buffer.admit($0, now: start) }
        #expect(handshake == .process(record: nil))
        let short: [UInt8] = [23, 0xFE, 0xFD]
        #expect(short.withUnsafeBytes { buffer.admit($0, now: start) } == .process(record: nil))
    }

    @Test("a late record sizes the window; then a record ahead of a gap waits for it to fill")
    func gapFills() {
        var buffer = Self.measuring()
        arrive(0, at: 0, in: &buffer)
        arrive(2, at: 1, in: &buffer)  // 1 is overtaken at 1 ms
        arrive(1, at: 9, in: &buffer)  // ... and arrives 8 ms later
        #expect(buffer.counters.reordered == 1)
        #expect(buffer.window == .milliseconds(11))  // 8 ms + a quarter + 1 ms
        #expect(arrive(4, at: 20, in: &buffer))  // 3 is missing: 4 waits
        #expect(buffer.nextTimeout == start + .milliseconds(31))
        #expect(release(at: 22, from: &buffer).isEmpty)
        #expect(!arrive(3, at: 25, in: &buffer))
        #expect(release(at: 25, from: &buffer) == [4])
        #expect(buffer.counters.releasedOnTimeout == 0)
        #expect(buffer.nextTimeout == nil)
    }

    @Test("a gap that does not fill within the window is loss: what waited goes on, in order")
    func gapTimesOut() {
        var buffer = Self.measuring()
        arrive(0, at: 0, in: &buffer)
        arrive(2, at: 1, in: &buffer)
        arrive(1, at: 9, in: &buffer)
        #expect(arrive(5, at: 20, in: &buffer))
        #expect(arrive(4, at: 21, in: &buffer))
        #expect(arrive(4, at: 22, in: &buffer))  // a duplicate of a held record is held once
        #expect(release(at: 30, from: &buffer).isEmpty)
        #expect(release(at: 32, from: &buffer) == [4, 5])  // 4 waited 11 ms; 5 follows it
        #expect(buffer.counters.releasedOnTimeout == 1)
        #expect(buffer.counters.held == 2)
        #expect(!arrive(3, at: 40, in: &buffer))  // the gap's record, late: passes at once
    }

    @Test("unauthenticated records never advance the order")
    func forgedRecords() {
        var buffer = Self.measuring()
        arrive(0, at: 0, in: &buffer)
        arrive(2, at: 1, in: &buffer)
        arrive(1, at: 9, in: &buffer)
        // A forged record far ahead waits, is released, and DTLS rejects it (not authenticated).
        #expect(arrive(1_000, at: 20, in: &buffer, authenticate: false))
        var released: [UInt64] = []
        while let release = buffer.nextRelease(now: start + .milliseconds(40)) { released.append(release.record.sequence) }
        #expect(released == [1_000])
        // The genuine order continues where it was.
        #expect(!arrive(3, at: 41, in: &buffer))
        #expect(arrive(5, at: 42, in: &buffer))
    }

    @Test("the window is capped, and forgotten after a quiet spell")
    func windowLimits() {
        var buffer = Self.measuring()
        arrive(0, at: 0, in: &buffer)
        arrive(2, at: 1, in: &buffer)
        arrive(1, at: 500, in: &buffer)
        #expect(buffer.window == buffer.configuration.maximumWindow)
        arrive(3, at: 11_000, in: &buffer)
        #expect(buffer.window == .zero)
    }

    @Test("at most maximumHeld records wait; more pass at once")
    func bounded() {
        var configuration = RecordReorderBuffer.Configuration()
        configuration.initialWindow = .zero
        configuration.maximumHeld = 4
        var buffer = RecordReorderBuffer(configuration: configuration)
        arrive(0, at: 0, in: &buffer)
        arrive(2, at: 1, in: &buffer)
        arrive(1, at: 9, in: &buffer)
        for sequence in 4..<8 as Range<UInt64> { #expect(arrive(sequence, at: 10, in: &buffer)) }
        #expect(!arrive(8, at: 10, in: &buffer))
        #expect(buffer.counters.overflowed == 1)
    }
}
