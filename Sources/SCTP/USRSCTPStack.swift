import CUsrsctp

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain pthread mutex (`Synchronization.Mutex` needs macOS 15; the package supports macOS 14).
final class PthreadLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<Result, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// One piece handed over by the socket's receive callback: data (`MSG_EOR` marks a message's end) or a
/// notification (`MSG_NOTIFICATION`).
struct InboundPiece {
    var bytes: [UInt8]
    var stream: UInt16
    var ppid: UInt32
    var isEndOfRecord: Bool
    var isNotification: Bool
}

/// What usrsctp's callbacks left for one association since its owner last looked.
struct Mailbox {
    var packets: [[UInt8]] = []
    var pieces: [InboundPiece] = []
    /// The latest free send-buffer space reported by the send callback (after a SACK).
    var sendBufferFree: UInt32?
    var onPendingOutput: (@Sendable () -> Void)?
}

/// Association id → mailbox, the only state usrsctp's callbacks touch.
///
/// usrsctp knows an association only by an integer id (the AF_CONN address and the socket's `ulp_info` are that
/// integer cast to a pointer, never a pointer to Swift state). A callback locks this registry, finds the id and
/// appends; an id that is not (or no longer) registered is counted in ``unknownCallbacks`` and ignored. Ids are
/// never reused (a 64-bit counter), so a late callback can never reach a newer association.
final class Registry: @unchecked Sendable {
    static let shared = Registry()

    private let lock = PthreadLock()
    private var mailboxes: [UInt: Mailbox] = [:]
    private var touched: Set<UInt> = []
    private var unknown = 0
    /// Live associations (connecting or later), any of which can tick usrsctp's timers.
    private var ticking: Set<UInt> = []
    /// The one association whose owner ticks usrsctp's process-wide timers every `timerTick`;
    /// the others are woken through their hooks when a tick leaves them output. One wake-up
    /// per tick for the process, instead of one per association (a thousand idle connections
    /// would otherwise wake a hundred thousand times a second).
    private var timerOwner: UInt?

    func add(_ id: UInt) {
        lock.withLock { mailboxes[id] = Mailbox() }
    }

    /// The association is live: it may tick, and ticks if nobody does.
    func startTicking(_ id: UInt) {
        lock.withLock {
            ticking.insert(id)
            if timerOwner == nil { timerOwner = id }
        }
    }

    func isTimerOwner(_ id: UInt) -> Bool {
        lock.withLock { timerOwner == id }
    }

    /// Forgets `id`; when it owned the timers, another live association takes them over and is
    /// marked touched, so the next round of foreign hooks wakes its owner to re-arm.
    func remove(_ id: UInt) {
        lock.withLock {
            mailboxes[id] = nil
            touched.remove(id)
            ticking.remove(id)
            guard timerOwner == id else { return }
            timerOwner = ticking.first
            if let successor = timerOwner { touched.insert(successor) }
        }
    }

    var count: Int { lock.withLock { mailboxes.count } }
    var unknownCallbacks: Int { lock.withLock { unknown } }

    func setHook(_ id: UInt, _ hook: (@Sendable () -> Void)?) {
        lock.withLock { mailboxes[id]?.onPendingOutput = hook }
    }

    /// From `conn_output`: the packet is already copied out of usrsctp's buffer.
    func deliverPacket(_ id: UInt, _ packet: [UInt8]) {
        deliver(to: id) { $0.packets.append(packet) }
    }

    /// From the receive callback.
    func deliverPiece(_ id: UInt, _ piece: InboundPiece) {
        deliver(to: id) { $0.pieces.append(piece) }
    }

    /// From the send callback.
    func deliverSendSpace(_ id: UInt, _ free: UInt32) {
        deliver(to: id) { $0.sendBufferFree = free }
    }

    /// Puts something in `id`'s mailbox; a callback for an id that is gone (a socket being
    /// closed) is only counted.
    private func deliver(to id: UInt, _ put: (inout Mailbox) -> Void) {
        lock.withLock {
            guard mailboxes[id] != nil else {
                unknown += 1
                return
            }
            // In place (the default is never used: the mailbox exists).
            put(&mailboxes[id, default: Mailbox()])
            touched.insert(id)
        }
    }

    /// Takes everything queued for `id` by swapping arrays: `packets` and `pieces` must come in
    /// empty and return holding the queued items, while the mailbox keeps their capacity for the
    /// next callbacks, so steady traffic appends without allocating. Also takes the latest free
    /// send-buffer space reported (the hook stays). `found` is `false` for an unknown id (the
    /// arrays are untouched).
    func take(
        _ id: UInt, packets: inout [[UInt8]], pieces: inout [InboundPiece]
    ) -> (found: Bool, sendBufferFree: UInt32?) {
        lock.withLock {
            guard let index = mailboxes.index(forKey: id) else { return (false, nil) }
            swap(&mailboxes.values[index].packets, &packets)
            swap(&mailboxes.values[index].pieces, &pieces)
            defer { mailboxes.values[index].sendBufferFree = nil }
            return (true, mailboxes.values[index].sendBufferFree)
        }
    }

    /// Hooks of other associations that received something since the last call (called outside the global lock).
    func foreignHooks(excluding id: UInt) -> [@Sendable () -> Void] {
        lock.withLock {
            var hooks: [@Sendable () -> Void] = []
            for other in touched where other != id {
                if let hook = mailboxes[other]?.onPendingOutput { hooks.append(hook) }
            }
            touched.removeAll(keepingCapacity: true)
            return hooks
        }
    }
}

// MARK: - usrsctp callbacks (C function pointers: they capture nothing and reach only the registry)

/// `conn_output`: usrsctp has an SCTP packet for the association whose AF_CONN address is `address`.
/// In no-threads mode this runs synchronously inside our usrsctp calls (under the global lock), or rarely on
/// usrsctp's iterator thread. It copies the packet and never calls back into usrsctp.
private func sctpConnOutput(
    _ address: UnsafeMutableRawPointer?, _ buffer: UnsafeMutableRawPointer?, _ length: Int, _ tos: UInt8, _ setDF: UInt8
) -> Int32 {
    let id = UInt(bitPattern: address)
    guard let buffer, length > 0 else { return 0 }
    let packet = [UInt8](UnsafeRawBufferPointer(start: buffer, count: length))
    Registry.shared.deliverPacket(id, packet)
    return 0
}

/// The socket's receive callback: `data` was `malloc`ed by usrsctp and ownership passes to us — it must be
/// released with `free()` (usrsctp's user guide, "receive_cb"). `data == NULL` signals end-of-file, ignored here
/// (the association change notification carries the state).
func sctpReceive(
    _ socket: OpaquePointer?, _ address: sctp_sockstore, _ data: UnsafeMutableRawPointer?, _ length: Int,
    _ info: sctp_rcvinfo, _ flags: Int32, _ ulpInfo: UnsafeMutableRawPointer?
) -> Int32 {
    defer { free(data) }
    guard let data, length > 0 else { return 1 }
    let id = UInt(bitPattern: ulpInfo)
    let piece = InboundPiece(
        bytes: [UInt8](UnsafeRawBufferPointer(start: data, count: length)),
        stream: info.rcv_sid,
        // usrsctp hands the PPID over as it is on the wire (network byte order), RFC 6458 §5.3.2.
        ppid: UInt32(bigEndian: info.rcv_ppid),
        isEndOfRecord: flags & Int32(MSG_EOR) != 0,
        isNotification: flags & Int32(MSG_NOTIFICATION) != 0)
    Registry.shared.deliverPiece(id, piece)
    return 1
}

/// The socket's send callback: called after each SACK with the free send-buffer space (threshold 0).
func sctpSendSpace(_ socket: OpaquePointer?, _ free: UInt32, _ ulpInfo: UnsafeMutableRawPointer?) -> Int32 {
    Registry.shared.deliverSendSpace(UInt(bitPattern: ulpInfo), free)
    return 0
}

// MARK: - The process-wide stack

/// The one usrsctp instance of the process: initialised once in no-threads mode and never finished.
///
/// `usrsctp_finish()` fails while any socket is open and would have to be retried in a loop, so the stack lives
/// as long as the process. All usrsctp calls of every association are serialised under ``lock``; the callbacks
/// never take it (they run inside those calls) — they take only the registry's lock.
final class USRSCTPStack: @unchecked Sendable {
    static let shared = USRSCTPStack()

    /// Serialises every usrsctp call in the process.
    let lock = PthreadLock()
    /// Guarded by `lock`.
    private var lastTimerAdvance: ContinuousClock.Instant?
    /// How far back a `now` must be to count as another clock rather than reordering.
    static let clockResynchronizationThreshold: Duration = .seconds(1)
    /// Guarded by `lock`. Starts at 1: the id is an AF_CONN address and must not be NULL.
    private var nextID: UInt = 1

    private init() {
        // Port 0: no UDP encapsulation socket (RFC 6951 is not used; packets travel inside DTLS, RFC 8261).
        // No-threads mode: usrsctp's timer thread is not started; we advance timers from handleTimeout(now:).
        usrsctp_init_nothreads(0, sctpConnOutput, nil)
        // The sysctls are process-wide and reset by init, so they are set right after it, before any socket.
        Self.applySysctls()
    }

    /// Process-wide usrsctp tunables, each chosen for SCTP over DTLS over ICE/UDP (RFC 8261, RFC 8831).
    private static func applySysctls() {
        // ECN off: usrsctp cannot see or set IP ECN bits through DTLS/UDP, so advertising ECN capability
        // (RFC 4960 Appendix A) would be a lie; browsers turn it off too.
        usrsctp_sysctl_set_sctp_ecn_enable(0)
        // SCTP-AUTH off: DTLS already authenticates and protects every packet (RFC 8261 §6.2); ASCONF needs
        // AUTH and is meaningless with one AF_CONN address, so it is off too.
        usrsctp_sysctl_set_sctp_auth_enable(0)
        usrsctp_sysctl_set_sctp_asconf_enable(0)
        // PR-SCTP on: maxRetransmits / maxPacketLifeTime channels need RFC 3758 (RFC 8831 §6.1).
        usrsctp_sysctl_set_sctp_pr_enable(1)
        // Stream reconfiguration on: closing a data channel resets its streams (RFC 6525, RFC 8831 §6.7).
        usrsctp_sysctl_set_sctp_reconfig_enable(1)
        // NR-SACK and packet-drop reports off: non-standard extensions that browsers do not speak.
        usrsctp_sysctl_set_sctp_nrsack_enable(0)
        usrsctp_sysctl_set_sctp_pktdrop_enable(0)
        // Blackhole 1: an INIT that finds no endpoint (it raced the peer's connect) is dropped silently instead
        // of answered with ABORT, so the sender just retransmits it; other out-of-the-blue packets still get the
        // RFC 4960 §8.4 answers (e.g. SHUTDOWN COMPLETE for a stray SHUTDOWN ACK). Input comes only through an
        // authenticated DTLS session, so these answers cannot be abused for reflection.
        usrsctp_sysctl_set_sctp_blackhole(1)
        // Default socket buffers 1 MiB (sockets override them from SCTPConfiguration): the 256 KiB defaults
        // cap throughput at buffer/RTT.
        usrsctp_sysctl_set_sctp_sendspace(1 << 20)
        usrsctp_sysctl_set_sctp_recvspace(1 << 20)
        // Up to 10 240 chunks queued per association (default 512): every small message is at least one
        // chunk, and 512 would refuse sends long before a multi-MiB send buffer is full.
        usrsctp_sysctl_set_sctp_max_chunks_on_queue(10_240)
        // Delayed SACK 20 ms (default 200 ms, RFC 4960 §6.2 allows up to 500): a sender with a full window waits
        // for this timer on the last packet of a burst; 20 ms is what browsers use.
        usrsctp_sysctl_set_sctp_delayed_sack_time_default(20)
        // RTO: initial 1 s (RFC 6298 §2.1, instead of RFC 4960's 3 s — interactive apps notice the difference),
        // minimum 200 ms (RFC 4960's 1 s is tuned for 1990s WANs; ICE paths have RTTs of tens of ms), maximum
        // 10 s (RFC 4960's 60 s would leave a recovered path idle for up to a minute).
        usrsctp_sysctl_set_sctp_rto_initial_default(1000)
        usrsctp_sysctl_set_sctp_rto_min_default(200)
        usrsctp_sysctl_set_sctp_rto_max_default(10_000)
        // INIT retransmissions back off to at most 10 s (default 60 s): DTLS is already up when INIT is sent,
        // so a lost INIT is plain loss, not a peer that is still starting.
        usrsctp_sysctl_set_sctp_init_rto_max_default(10_000)
        // Heartbeat every 30 s (the default): ICE consent freshness (RFC 7675) already probes every ~5 s;
        // heartbeats only keep the RTO estimate fresh on an idle association.
        usrsctp_sysctl_set_sctp_heartbeat_interval_default(30_000)
        // Association failure after 10 consecutive retransmission timeouts (RFC 4960 §15 default
        // Association.Max.Retrans); with the RTOs above that is about a minute of silence.
        usrsctp_sysctl_set_sctp_assoc_rtx_max_default(10)
        usrsctp_sysctl_set_sctp_path_rtx_max_default(5)
        usrsctp_sysctl_set_sctp_init_rtx_max_default(8)
    }

    /// A fresh association id (never reused). Caller holds ``lock``.
    func allocateIDLocked() -> UInt {
        defer { nextID += 1 }
        return nextID
    }

    /// Advances usrsctp's process-wide timer wheel to `now`. Caller holds ``lock``.
    ///
    /// `now` values come from the callers' monotonic clock; one that is not later than the last advance is
    /// ignored, and sub-millisecond remainders are carried over.
    func advanceTimersLocked(now: ContinuousClock.Instant) {
        guard let last = lastTimerAdvance else {
            lastTimerAdvance = now
            return
        }
        guard now >= last else {
            // Threads read the clock a little out of order: ignore that. A `now` far before the
            // last advance comes from another clock (a test's virtual clock ran ahead of the real
            // one): take it as the new reference instead of freezing every association's timers
            // until the earlier clock catches up.
            if now.duration(to: last) > Self.clockResynchronizationThreshold { lastTimerAdvance = now }
            return
        }
        let elapsed = last.duration(to: now)
        let (seconds, attoseconds) = elapsed.components
        let milliseconds = seconds.multipliedReportingOverflow(by: 1000)
        let total = milliseconds.overflow ? Int64.max : milliseconds.partialValue &+ attoseconds / 1_000_000_000_000_000
        guard total >= 1 else { return }
        let step = UInt32(clamping: total)
        lastTimerAdvance = last.advanced(by: .milliseconds(Int64(step)))
        usrsctp_handle_timers(step)
    }
}
