#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The buffer `SSL_read` decrypts application records into, one per thread rather than one per
/// session.
///
/// A session lends the plaintext to its caller only for the duration of one callback, so the
/// buffer is needed only while a thread is inside a session's read loop; a thread runs one such
/// loop at a time unless a callback feeds another session synchronously, and then that nested
/// read gets a buffer of its own for the call. With one buffer per session, its 18 KiB were
/// an idle connection's largest allocation in the DTLS module.
final class RecordBuffer {
    /// The largest plaintext of one record: 2^14 bytes (RFC 5246 §6.2.1) plus the 2048-byte
    /// expansion bound (RFC 5246 §6.2.3).
    static let size = DTLSRecords.maximumFragmentLength

    private let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    /// A read loop on this thread is using ``bytes``.
    private var isLent = false

    private init() {}

    deinit {
        bytes.deallocate()
    }

    /// Runs `body` with a buffer of ``size`` bytes: the calling thread's, or a temporary one when
    /// that is already lent out further up the stack (or the thread cannot have one).
    static func withBuffer<Result>(_ body: (UnsafeMutableRawBufferPointer) -> Result) -> Result {
        guard let shared = current, !shared.isLent else {
            let temporary = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
            defer { temporary.deallocate() }
            return body(temporary)
        }
        shared.isLent = true
        defer { shared.isLent = false }
        return body(shared.bytes)
    }

    /// This thread's buffer, created on first use and released when the thread exits; `nil` if
    /// no thread-specific key could be created.
    private static var current: RecordBuffer? {
        guard let threadKey else { return nil }
        if let stored = pthread_getspecific(threadKey) {
            return Unmanaged<RecordBuffer>.fromOpaque(stored).takeUnretainedValue()
        }
        let buffer = RecordBuffer()
        guard pthread_setspecific(threadKey, Unmanaged.passRetained(buffer).toOpaque()) == 0 else {
            Unmanaged.passUnretained(buffer).release()
            return nil
        }
        return buffer
    }
}

/// The thread-specific slot of ``RecordBuffer`` (its destructor releases a thread's buffer), or
/// `nil` when the process ran out of keys (`PTHREAD_KEYS_MAX`).
private let threadKey: pthread_key_t? = {
    var key = pthread_key_t()
    let created = pthread_key_create(&key) { stored in
        #if canImport(Darwin)
        Unmanaged<RecordBuffer>.fromOpaque(stored).release()
        #else
        if let stored { Unmanaged<RecordBuffer>.fromOpaque(stored).release() }
        #endif
    }
    return created == 0 ? key : nil
}()
