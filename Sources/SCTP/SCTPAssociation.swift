// # SCTP over usrsctp: the driving model
//
// One process-wide usrsctp instance (`USRSCTPStack`) is initialised once with `usrsctp_init_nothreads(0,
// conn_output, nil)` and never finished: `usrsctp_finish()` fails while any socket is open and would have to be
// retried in a loop. No-threads mode means usrsctp starts no timer thread, so no usrsctp callback runs on a
// foreign thread except, rarely, on usrsctp's iterator thread; every callback we care about runs synchronously
// inside our own usrsctp calls. The process-wide sysctls are set once right after init (each value is explained
// in `USRSCTPStack.applySysctls`); the CRC32c offload is never enabled (it would switch checksums off for every
// association in the process).
//
// Locks. Every usrsctp call of every association is serialised under one global lock (usrsctp itself is
// thread-safe, but its no-threads timer wheel is process-wide and serialising makes callbacks predictable).
// usrsctp's callbacks never take that lock (they run inside calls that hold it); they take only the registry
// lock. Lock order: global → registry, never the reverse.
//
// Identity. usrsctp knows an association only by an integer id: the AF_CONN address (`usrsctp_register_address`)
// and the socket's `ulp_info` are that integer cast to a pointer — never a pointer to Swift state. The callbacks
// (`conn_output`, the socket's receive and send callbacks) look the id up in a registry (its own lock) and append
// to that association's mailbox: packets, received pieces/notifications, free send-buffer space. They copy what
// usrsctp lends them, free what it hands over (`free()` on received data), and never call back into usrsctp (so
// `usrsctp_conninput` is never re-entered). Ids are never reused; an unknown id is counted and ignored.
// After each usrsctp call, the association drains its mailbox into its own queues and events and makes any
// follow-up usrsctp calls (pushing a kept tail, answering a stream reset) while still holding the global lock.
//
// Receive. The socket's receive callback (rather than polling `usrsctp_recvv`) is used: it delivers data and
// notifications for an association even when they were produced by another association's call (timers), needs
// no second syscall-like call per packet, and costs the same copies (usrsctp's buffer → our `[UInt8]`). The
// partial-delivery point is `maximumMessageSize`, so messages up to that size arrive in one piece; larger ones
// are reassembled until `MSG_EOR` with a bound of `maximumMessageSize` (beyond it: dropped and counted).
//
// Timers. `usrsctp_handle_timers(elapsed ms)` is process-wide. Whichever association gets `handleTimeout(now:)`
// advances it by the wall milliseconds elapsed since the last advance, computed from the `now` values passed in
// (monotonic; we never read a clock; a `now` earlier than the last advance comes from another clock, such as a test's virtual one, and becomes the new reference). Output produced for
// other associations lands in their mailboxes; they find it on their next call. usrsctp exposes no next-timer
// deadline, so one live association in the process (the timer owner, handed over when it goes) has
// `nextTimeout` = `lastNow + timerTick`; the others wait `untickedInterval`. The `onPendingOutput` hook is called
// (outside all locks) when another association's call left something in this one's mailbox, so its owner reacts
// at once: an owner that sets the hook sees no added latency, one that does not sees up to `untickedInterval`.
//
// Teardown. `close(now:)` is a graceful SHUTDOWN (RFC 4960 §9.2): any kept tail is pushed first, then
// `usrsctp_shutdown(SHUT_WR)`; the socket is released when usrsctp reports SHUTDOWN_COMPLETE (or COMM_LOST), and
// `.closed` is emitted. Nothing blocks: if no answer arrives within `shutdownTimeout`, the association aborts.
// Releasing removes the id from the registry, deregisters the AF_CONN address, then closes the socket (the
// usrsctp association is already gone by then, so nothing is sent and no callback follows). The abortive path
// (timeout, close before established, deinit) sets SO_LINGER {1, 0} and closes first so the ABORT chunk lands in
// our queue, then removes the id and deregisters; any later callback finds no id and is ignored.
//
// Sends. SCTP_EXPLICIT_EOR is on, so a non-blocking `usrsctp_sendv` may accept only a prefix of a message. The
// association never exposes that: it keeps the unsent tail (at most one message, bounded by
// `maximumMessageSize`) and pushes it before anything else, with SCTP_EOR on the last piece. While a tail is
// pending, `send` throws `.wouldBlock` (no hidden queue); `.writable` follows once the tail is in and the send
// buffer is at least a quarter free. Stream resets that would touch the tail's stream wait until it is in.
//
// Stream resets. When the peer resets a stream (its outgoing side), this layer answers at once by resetting our
// outgoing side of it (RFC 8831 §6.7: "the other side ... also resets its corresponding outgoing stream"), unless
// we already asked for that, and reports `.incomingStreamsReset`. A reset requested for a stream already being
// reset is not sent twice, so the DataChannel layer may also ask without causing a reset ping-pong.
// A stream's reset bookkeeping ends when both directions have been reset, so the id can be reused.

import CUsrsctp
import RTCCollections

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One SCTP association (RFC 4960) over usrsctp in AF_CONN mode, driven sans-IO: feed packets with
/// ``handlePacket(_:now:)``, drain ``pollTransmit()`` and ``pollEvent()``, call ``handleTimeout(now:)`` at
/// ``nextTimeout``. Single owner, not `Sendable`.
public final class SCTPAssociation {
    /// Packets received before ``connect(now:)`` that are kept and fed after it (the peer's INIT may race our
    /// connect); further early packets are dropped and counted.
    public static let earlyPacketLimit = 16
    /// The largest packet accepted by ``handlePacket(_:now:)``: one DTLS record's plaintext (RFC 6347 §4.1).
    public static let maximumInboundPacketSize = 16_384
    /// How long a graceful ``close(now:)`` may take before the association aborts.
    public static let shutdownTimeout: Duration = .seconds(10)
    /// Bound on mailbox drain rounds per call (each round may trigger follow-up usrsctp calls).
    static let maximumDrainRounds = 16

    /// Diagnostics: associations currently registered with the process-wide stack.
    public static var liveAssociationCount: Int { Registry.shared.count }
    /// Diagnostics: usrsctp callbacks that named an association id not (or no longer) registered.
    public static var unknownCallbackCount: Int { Registry.shared.unknownCallbacks }

    /// The configuration this association was created with.
    public let configuration: SCTPConfiguration

    /// Called, outside all locks and possibly on another association's thread, when another association's call
    /// produced output or events for this one (a process-wide timer step). Poll soon after it fires.
    public var onPendingOutput: (@Sendable () -> Void)? {
        didSet { Registry.shared.setHook(id, onPendingOutput) }
    }

    private enum Phase { case idle, connecting, connected, shuttingDown, closed }

    private struct PendingTail {
        var bytes: [UInt8]
        var offset: Int
        var info: sctp_sendv_spa
        var stream: UInt16 { info.sendv_sndinfo.snd_sid }
    }

    private struct Reassembly {
        var bytes: [UInt8]
        var ppid: UInt32
        var oversize: Bool
    }

    let id: UInt
    private let stack = USRSCTPStack.shared
    private var socket: OpaquePointer?
    private var addressRegistered = false
    private var phase: Phase = .idle
    private var lastNow: ContinuousClock.Instant
    private var closeDeadline: ContinuousClock.Instant?
    private var shutdownIssued = false
    private var closedEmitted = false

    private var events = FIFO<SCTPEvent>()
    private var transmitQueue = FIFO<[UInt8]>()
    /// What the last drain took from the mailbox; empty between drains, their capacity traded
    /// back and forth with the mailbox's (`Registry.take`).
    private var drainedPackets: [[UInt8]] = []
    private var drainedPieces: [InboundPiece] = []
    private var earlyPackets: [[UInt8]] = []

    private var tail: PendingTail?
    private var wantsWritable = false
    private var usrsctpBuffered = 0
    private var outboundStreams: UInt16 = 0
    private var reassembly: [UInt16: Reassembly] = [:]

    private var resetRequested: Set<UInt16> = []
    private var resetIncomingSeen: Set<UInt16> = []
    private var resetOutgoingDone: Set<UInt16> = []
    private var deferredResets: [UInt16] = []

    private var counters = SCTPStatistics()
    private var highestTSNSent: UInt32?

    /// Creates the usrsctp socket (AF_CONN, one-to-one, non-blocking) with every option applied; nothing is sent
    /// until ``connect(now:)``.
    public init(configuration: SCTPConfiguration, now: ContinuousClock.Instant) throws(SCTPError) {
        try Self.validate(configuration)
        self.configuration = configuration
        self.lastNow = now
        let stack = USRSCTPStack.shared
        self.id = stack.lock.withLock { stack.allocateIDLocked() }
        Registry.shared.add(id)
        do {
            try stack.lock.withLock { () throws(SCTPError) in try openSocketLocked() }
        } catch {
            stack.lock.withLock { abortLocked(emitClosed: false) }
            throw error
        }
    }

    deinit {
        stack.lock.withLock { abortLocked(emitClosed: false) }
    }

    // MARK: Public driving API

    /// Starts the association (sends INIT). Both sides call it: SCTP resolves the INIT collision
    /// (RFC 4960 §5.2.1), as browsers expect.
    public func connect(now: ContinuousClock.Instant) {
        lastNow = now
        stack.lock.withLock {
            guard phase == .idle, let socket else { return }
            phase = .connecting
            Registry.shared.startTicking(id)
            var address = connAddress(port: configuration.remotePort)
            let result = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    usrsctp_connect(socket, $0, socklen_t(MemoryLayout<sockaddr_conn>.size))
                }
            }
            if result != 0, errno != EINPROGRESS {
                abortLocked(emitClosed: true)
                return
            }
            let early = earlyPackets
            earlyPackets = []
            pumpLocked()
            for packet in early {
                feedLocked(packet)
            }
        }
        runForeignHooks()
    }

    /// One received SCTP packet (DTLS application data). Malformed or unexpected packets are dropped by usrsctp
    /// (or here, if they cannot be an SCTP packet at all) and counted.
    public func handlePacket(_ packet: UnsafeRawBufferPointer, now: ContinuousClock.Instant) {
        lastNow = now
        // RFC 4960 §3.1: at least the 12-byte common header.
        guard packet.count >= MemoryLayout<sctp_common_header>.size, packet.count <= Self.maximumInboundPacketSize
        else {
            counters.packetsDropped += 1
            return
        }
        switch phase {
        case .closed:
            counters.packetsDropped += 1
        case .idle:
            if earlyPackets.count < Self.earlyPacketLimit {
                earlyPackets.append([UInt8](packet))
            } else {
                counters.packetsDropped += 1
            }
        case .connecting, .connected, .shuttingDown:
            stack.lock.withLock { feedLocked(packet) }
            runForeignHooks()
        }
    }

    /// Advances usrsctp's process-wide timers to `now` and collects what they produced.
    public func handleTimeout(now: ContinuousClock.Instant) {
        lastNow = now
        stack.lock.withLock {
            stack.advanceTimersLocked(now: now)
            if phase == .shuttingDown, let closeDeadline, now >= closeDeadline {
                abortLocked(emitClosed: true)
            }
            pumpLocked()
        }
        runForeignHooks()
    }

    /// Queues one whole message or throws; never a partial acceptance visible to the caller: with
    /// SCTP_EXPLICIT_EOR the unsent tail is kept inside and sent before anything else, SCTP_EOR on the last
    /// piece. `ppid` is in host byte order.
    public func send(
        _ message: UnsafeRawBufferPointer, stream: UInt16, ppid: UInt32, ordered: Bool, reliability: SCTPReliability
    ) throws(SCTPError) {
        switch phase {
        case .idle, .connecting: throw SCTPError(.notConnected)
        case .shuttingDown, .closed: throw SCTPError(.closed)
        case .connected: break
        }
        guard message.count > 0, let base = message.baseAddress else { throw SCTPError(.emptyMessage) }
        guard message.count <= configuration.maximumMessageSize else { throw SCTPError(.messageTooLarge) }
        guard stream < outboundStreams else { throw SCTPError(.invalidStream) }
        var info = sctp_sendv_spa()
        info.sendv_flags = UInt32(SCTP_SEND_SNDINFO_VALID)
        info.sendv_sndinfo.snd_sid = stream
        // SCTP_EOR: this call carries the end of the message (explicit-EOR mode); SCTP_UNORDERED: RFC 4960 §6.6.
        info.sendv_sndinfo.snd_flags = UInt16(SCTP_EOR) | (ordered ? 0 : UInt16(SCTP_UNORDERED))
        // usrsctp puts snd_ppid on the wire as is: it must be in network byte order (RFC 6458 §5.3.2).
        info.sendv_sndinfo.snd_ppid = ppid.bigEndian
        switch reliability {
        case .reliable:
            break
        case .maxRetransmits(let count):
            info.sendv_flags |= UInt32(SCTP_SEND_PRINFO_VALID)
            info.sendv_prinfo.pr_policy = UInt16(SCTP_PR_SCTP_RTX)
            info.sendv_prinfo.pr_value = UInt32(count)
        case .maxPacketLifeTime(let milliseconds):
            info.sendv_flags |= UInt32(SCTP_SEND_PRINFO_VALID)
            info.sendv_prinfo.pr_policy = UInt16(SCTP_PR_SCTP_TTL)
            info.sendv_prinfo.pr_value = milliseconds
        }
        let outcome: SCTPError? = stack.lock.withLock {
            defer { pumpLocked() }
            pushTailLocked()
            guard tail == nil, let socket else {
                wantsWritable = true
                return SCTPError(.wouldBlock)
            }
            let accepted = usrsctp_sendv(
                socket, base, message.count, nil, 0, &info, socklen_t(MemoryLayout<sctp_sendv_spa>.size),
                UInt32(SCTP_SENDV_SPA), 0)
            let error = errno
            guard accepted > 0 else {
                return sendError(accepted == 0 ? EWOULDBLOCK : error)
            }
            counters.messagesSent += 1
            usrsctpBuffered += accepted
            if accepted < message.count {
                tail = PendingTail(
                    bytes: [UInt8](UnsafeRawBufferPointer(rebasing: message[accepted...])), offset: 0, info: info)
            }
            return nil
        }
        runForeignHooks()
        if let outcome { throw outcome }
    }

    /// Resets our outgoing side of `streams` (RFC 6525 §5.1.2). Streams already being reset are skipped. The
    /// request is sent once the streams' queued data is out; completion is reported as
    /// ``SCTPEvent/outgoingStreamsReset(_:)``.
    public func resetStreams(_ streams: [UInt16]) throws(SCTPError) {
        switch phase {
        case .idle, .connecting: throw SCTPError(.notConnected)
        case .shuttingDown, .closed: throw SCTPError(.closed)
        case .connected: break
        }
        guard streams.allSatisfy({ $0 < outboundStreams }) else { throw SCTPError(.invalidStream) }
        let outcome: SCTPError? = stack.lock.withLock {
            defer { pumpLocked() }
            var fresh: [UInt16] = []
            for stream in streams where !resetRequested.contains(stream) {
                resetRequested.insert(stream)
                fresh.append(stream)
            }
            return requestResetLocked(fresh)
        }
        runForeignHooks()
        if let outcome { throw outcome }
    }

    /// Graceful SHUTDOWN (RFC 4960 §9.2). Never blocks: `.closed` follows when the peer completes the shutdown,
    /// or after ``shutdownTimeout`` (then the association aborts). Keep driving it until `.closed`.
    public func close(now: ContinuousClock.Instant) {
        lastNow = now
        stack.lock.withLock {
            switch phase {
            case .idle, .connecting:
                abortLocked(emitClosed: true)
            case .connected:
                phase = .shuttingDown
                closeDeadline = now.advanced(by: Self.shutdownTimeout)
                pumpLocked()
            case .shuttingDown, .closed:
                break
            }
        }
        runForeignHooks()
    }

    /// The next SCTP packet for DTLS to seal.
    public func pollTransmit() -> [UInt8]? {
        transmitQueue.popFirst()
    }

    /// The next event.
    public func pollEvent() -> SCTPEvent? {
        events.popFirst()
    }

    /// When to call ``handleTimeout(now:)``, `nil` before ``connect(now:)`` and after it is closed. One live
    /// association in the process ticks usrsctp's timers every `timerTick`; the others are called back through
    /// ``onPendingOutput`` when a tick leaves them something, and otherwise only every ``untickedInterval``
    /// (a safety net for owners without a hook, and the shutdown deadline's granularity).
    public var nextTimeout: ContinuousClock.Instant? {
        switch phase {
        case .idle, .closed: nil
        case .connecting, .connected, .shuttingDown:
            lastNow.advanced(by: Registry.shared.isTimerOwner(id) ? configuration.timerTick : Self.untickedInterval)
        }
    }

    /// How often an association that does not tick usrsctp's timers still wants ``handleTimeout(now:)``.
    public static let untickedInterval: Duration = .seconds(1)

    /// Bytes accepted but not yet acknowledged: usrsctp's send queue (as of its last report after a SACK, plus
    /// what was accepted since) and the kept tail.
    public var bufferedAmount: Int {
        usrsctpBuffered + (tail.map { $0.bytes.count - $0.offset } ?? 0)
    }

    /// Counters; `abandonedMessages` is read from usrsctp.
    public var statistics: SCTPStatistics {
        stack.lock.withLock { refreshAbandonedLocked() }
        return counters
    }

    // MARK: Setup

    private static func validate(_ configuration: SCTPConfiguration) throws(SCTPError) {
        func fail(_ what: String) -> SCTPError { SCTPError(.invalidConfiguration(what)) }
        guard configuration.pathMTU >= SCTPConfiguration.minimumPathMTU,
            configuration.pathMTU <= SCTPConfiguration.maximumPathMTU
        else { throw fail("pathMTU") }
        let buffers = SCTPConfiguration.minimumBufferSize...SCTPConfiguration.maximumBufferSize
        guard buffers.contains(configuration.sendBufferSize) else { throw fail("sendBufferSize") }
        guard buffers.contains(configuration.receiveBufferSize) else { throw fail("receiveBufferSize") }
        guard configuration.maximumStreams >= 1 else { throw fail("maximumStreams") }
        guard configuration.maximumMessageSize >= 1, configuration.maximumMessageSize <= Int(Int32.max)
        else { throw fail("maximumMessageSize") }
        guard configuration.timerTick >= SCTPConfiguration.minimumTimerTick else { throw fail("timerTick") }
    }

    private var addressPointer: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: id) }

    private func connAddress(port: UInt16) -> sockaddr_conn {
        var address = sockaddr_conn()
        #if canImport(Darwin)
        address.sconn_len = UInt8(MemoryLayout<sockaddr_conn>.size)
        address.sconn_family = UInt8(AF_CONN)
        #else
        address.sconn_family = UInt16(AF_CONN)
        #endif
        address.sconn_port = port.bigEndian
        address.sconn_addr = addressPointer
        return address
    }

    private func openSocketLocked() throws(SCTPError) {
        usrsctp_register_address(addressPointer)
        addressRegistered = true
        #if canImport(Darwin)
        let streamType = SOCK_STREAM
        #else
        let streamType = Int32(SOCK_STREAM.rawValue)
        #endif
        // SOCK_STREAM: one-to-one style (RFC 6458 §4), one association per socket. Send threshold 0: the send
        // callback reports free space after every SACK (our bufferedAmount and .writable source).
        guard
            let socket = usrsctp_socket(
                AF_CONN, streamType, Int32(IPPROTO_SCTP), sctpReceive, sctpSendSpace, 0, addressPointer)
        else { throw SCTPError(.usrsctp(errno: errno, call: "usrsctp_socket")) }
        self.socket = socket
        // Non-blocking: no usrsctp call may ever wait (sans-IO).
        guard usrsctp_set_non_blocking(socket, 1) == 0 else {
            throw SCTPError(.usrsctp(errno: errno, call: "usrsctp_set_non_blocking"))
        }
        let sctp = Int32(IPPROTO_SCTP)
        // Buffers before connect: SO_RCVBUF sizes the advertised window in INIT (RFC 4960 §3.3.2 a_rwnd).
        try setOption(SOL_SOCKET, SO_SNDBUF, Int32(configuration.sendBufferSize), "SO_SNDBUF")
        try setOption(SOL_SOCKET, SO_RCVBUF, Int32(configuration.receiveBufferSize), "SO_RCVBUF")
        // Explicit EOR: large messages are accepted piecewise instead of failing with EMSGSIZE above SO_SNDBUF
        // or all-or-nothing; the tail logic in `send` keeps boundaries intact.
        try setOption(sctp, SCTP_EXPLICIT_EOR, Int32(1), "SCTP_EXPLICIT_EOR")
        // No Nagle (RFC 4960 §6.1 note): data-channel messages are sent at once, latency matters more.
        try setOption(sctp, SCTP_NODELAY, Int32(1), "SCTP_NODELAY")
        // Fill sctp_rcvinfo (stream, PPID) for every received piece.
        try setOption(sctp, SCTP_RECVRCVINFO, Int32(1), "SCTP_RECVRCVINFO")
        // Deliver whole messages up to maximumMessageSize in one piece (default point is 64 KiB).
        try setOption(
            sctp, SCTP_PARTIAL_DELIVERY_POINT, UInt32(configuration.maximumMessageSize), "SCTP_PARTIAL_DELIVERY_POINT")
        // Streams in both directions (RFC 4960 §5.1.1 OS / MIS); attempts and INIT timeout from the sysctls.
        var initMessage = sctp_initmsg()
        initMessage.sinit_num_ostreams = configuration.maximumStreams
        initMessage.sinit_max_instreams = configuration.maximumStreams
        try setOption(sctp, SCTP_INITMSG, initMessage, "SCTP_INITMSG")
        // RFC 6525: allow outgoing stream resets (data-channel close) and stream additions.
        var resetValue = sctp_assoc_value()
        resetValue.assoc_id = sctp_assoc_t(SCTP_FUTURE_ASSOC)
        resetValue.assoc_value = UInt32(SCTP_ENABLE_RESET_STREAM_REQ | SCTP_ENABLE_CHANGE_ASSOC_REQ)
        try setOption(sctp, SCTP_ENABLE_STREAM_RESET, resetValue, "SCTP_ENABLE_STREAM_RESET")
        // Fixed path MTU, discovery off: the DTLS/ICE layers own the datagram size; usrsctp's MTU excludes the
        // 12-byte common header (1188 → 1200-byte packets).
        var peerParameters = sctp_paddrparams()
        peerParameters.spp_assoc_id = sctp_assoc_t(SCTP_FUTURE_ASSOC)
        peerParameters.spp_flags = UInt32(SPP_PMTUD_DISABLE)
        peerParameters.spp_pathmtu = configuration.pathMTU
        try setOption(sctp, SCTP_PEER_ADDR_PARAMS, peerParameters, "SCTP_PEER_ADDR_PARAMS")
        // Notifications we act on (RFC 6458 §6.2.1).
        for type in [SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT, SCTP_SENDER_DRY_EVENT, SCTP_PARTIAL_DELIVERY_EVENT] {
            var event = sctp_event()
            event.se_assoc_id = sctp_assoc_t(SCTP_FUTURE_ASSOC)
            event.se_type = UInt16(type)
            event.se_on = 1
            try setOption(sctp, SCTP_EVENT, event, "SCTP_EVENT")
        }
        // No SCTP_DEFAULT_SNDINFO: every send passes its own sctp_sndinfo. SO_LINGER stays off: close is a
        // graceful SHUTDOWN we drive ourselves; the abortive path sets {1, 0} just before closing.
        var address = connAddress(port: configuration.localPort)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                usrsctp_bind(socket, $0, socklen_t(MemoryLayout<sockaddr_conn>.size))
            }
        }
        guard bound == 0 else { throw SCTPError(.usrsctp(errno: errno, call: "usrsctp_bind")) }
    }

    private func setOption<Value>(_ level: Int32, _ name: Int32, _ value: Value, _ label: String) throws(SCTPError) {
        var value = value
        let result = withUnsafePointer(to: &value) {
            usrsctp_setsockopt(socket, level, name, $0, socklen_t(MemoryLayout<Value>.size))
        }
        guard result == 0 else { throw SCTPError(.usrsctp(errno: errno, call: "setsockopt(\(label))")) }
    }

    // MARK: Driving (all `…Locked` methods run under the global usrsctp lock)

    private func feedLocked(_ packet: UnsafeRawBufferPointer) {
        guard let base = packet.baseAddress else { return }
        counters.packetsReceived += 1
        counters.bytesReceived += packet.count
        usrsctp_conninput(addressPointer, base, packet.count, 0)
        pumpLocked()
    }

    private func feedLocked(_ packet: [UInt8]) {
        packet.withUnsafeBytes { feedLocked($0) }
    }

    /// Drains the mailbox, then makes the follow-up calls (tail, deferred resets, shutdown), repeating while they
    /// produce more; finally releases the socket if usrsctp reported the association gone.
    private func pumpLocked() {
        var rounds = 0
        while rounds < Self.maximumDrainRounds {
            rounds += 1
            let hadMail = drainMailboxLocked()
            guard socket != nil, phase != .closed else { break }
            pushTailLocked()
            if tail == nil, !deferredResets.isEmpty {
                let streams = deferredResets
                deferredResets = []
                _ = requestResetLocked(streams)
            }
            if phase == .shuttingDown, !shutdownIssued, tail == nil, let socket {
                shutdownIssued = true
                // Sends SHUTDOWN once everything queued is acknowledged (RFC 4960 §9.2).
                _ = usrsctp_shutdown(socket, Int32(SHUT_WR))
                continue
            }
            if !hadMail { break }
        }
        if wantsWritable, tail == nil, phase == .connected,
            configuration.sendBufferSize - usrsctpBuffered >= configuration.sendBufferSize / 4
        {
            wantsWritable = false
            events.append(.writable)
        }
        if phase == .closed, socket != nil {
            releaseLocked()
        }
    }

    /// Moves everything from the mailbox into our queues; `true` if there was anything.
    /// Never re-entered: nothing it calls drains the mailbox, so the arrays are empty on entry.
    private func drainMailboxLocked() -> Bool {
        let (found, sendBufferFree) = Registry.shared.take(id, packets: &drainedPackets, pieces: &drainedPieces)
        guard found else { return false }
        defer {
            drainedPackets.removeAll(keepingCapacity: true)
            drainedPieces.removeAll(keepingCapacity: true)
        }
        for packet in drainedPackets {
            inspectOutbound(packet)
            counters.packetsSent += 1
            counters.bytesSent += packet.count
            transmitQueue.append(packet)
        }
        if let free = sendBufferFree {
            // sb_free is computed unsigned inside usrsctp and wraps when the queue exceeds SO_SNDBUF.
            let space = Int(free) <= configuration.sendBufferSize ? Int(free) : 0
            usrsctpBuffered = configuration.sendBufferSize - space
        }
        for piece in drainedPieces {
            if piece.isNotification {
                handleNotificationLocked(piece.bytes)
            } else {
                handleDataLocked(piece)
            }
        }
        return !drainedPackets.isEmpty || !drainedPieces.isEmpty || sendBufferFree != nil
    }

    private func handleDataLocked(_ piece: InboundPiece) {
        let limit = configuration.maximumMessageSize
        if var partial = reassembly.removeValue(forKey: piece.stream) {
            if !partial.oversize, partial.bytes.count + piece.bytes.count <= limit {
                partial.bytes.append(contentsOf: piece.bytes)
            } else {
                partial.oversize = true
                partial.bytes = []
            }
            if piece.isEndOfRecord {
                deliver(stream: piece.stream, ppid: partial.ppid, bytes: partial.bytes, oversize: partial.oversize)
            } else {
                reassembly[piece.stream] = partial
            }
        } else if piece.isEndOfRecord {
            deliver(stream: piece.stream, ppid: piece.ppid, bytes: piece.bytes, oversize: piece.bytes.count > limit)
        } else {
            let oversize = piece.bytes.count > limit
            reassembly[piece.stream] = Reassembly(
                bytes: oversize ? [] : piece.bytes, ppid: piece.ppid, oversize: oversize)
        }
    }

    private func deliver(stream: UInt16, ppid: UInt32, bytes: [UInt8], oversize: Bool) {
        if oversize {
            counters.messagesDroppedOversize += 1
            return
        }
        counters.messagesReceived += 1
        events.append(.message(SCTPReceivedMessage(stream: stream, ppid: ppid, data: bytes)))
    }

    private func handleNotificationLocked(_ bytes: [UInt8]) {
        guard let notification = SCTPNotification(bytes) else { return }
        switch notification {
        case .associationChange(let state, let outbound, _):
            switch Int32(state) {
            case SCTP_COMM_UP:
                guard phase == .connecting else { return }
                phase = .connected
                outboundStreams = outbound
                events.append(.connected)
            case SCTP_COMM_LOST, SCTP_SHUTDOWN_COMP, SCTP_CANT_STR_ASSOC:
                markClosedLocked()
            default:
                // SCTP_RESTART: the peer restarted (RFC 4960 §5.2.4.1); the association continues.
                break
            }
        case .streamReset(let flags, let streams):
            handleStreamResetLocked(flags: Int32(flags), streams: streams)
        case .senderDry:
            usrsctpBuffered = 0
        case .partialDeliveryAborted(let stream):
            // The peer abandoned a message we were reassembling (PR-SCTP, RFC 3758): forget its pieces.
            reassembly[stream] = nil
        case .other:
            break
        }
    }

    private func handleStreamResetLocked(flags: Int32, streams: [UInt16]) {
        if flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED) != 0 {
            counters.streamResetFailures += 1
            if flags & SCTP_STREAM_RESET_OUTGOING_SSN != 0 {
                for stream in streams { resetRequested.remove(stream) }
            }
            return
        }
        if flags & SCTP_STREAM_RESET_INCOMING_SSN != 0 {
            // The peer reset its outgoing side: drop any half-received message, answer with our own outgoing
            // reset (RFC 8831 §6.7) unless we asked for it already.
            var answer: [UInt16] = []
            for stream in streams {
                reassembly[stream] = nil
                resetIncomingSeen.insert(stream)
                if !resetRequested.contains(stream), stream < outboundStreams {
                    resetRequested.insert(stream)
                    answer.append(stream)
                }
            }
            events.append(.incomingStreamsReset(streams))
            if phase == .connected, !answer.isEmpty { _ = requestResetLocked(answer) }
            for stream in streams { finishResetIfComplete(stream) }
        }
        if flags & SCTP_STREAM_RESET_OUTGOING_SSN != 0 {
            for stream in streams { resetOutgoingDone.insert(stream) }
            events.append(.outgoingStreamsReset(streams))
            for stream in streams { finishResetIfComplete(stream) }
        }
    }

    private func finishResetIfComplete(_ stream: UInt16) {
        guard resetIncomingSeen.contains(stream), resetOutgoingDone.contains(stream) else { return }
        resetIncomingSeen.remove(stream)
        resetOutgoingDone.remove(stream)
        resetRequested.remove(stream)
    }

    /// SCTP_RESET_STREAMS for our outgoing side (`struct sctp_reset_streams` with its flexible stream list).
    /// Deferred while a kept tail is pending, so the reset never overtakes the tail.
    private func requestResetLocked(_ streams: [UInt16]) -> SCTPError? {
        guard !streams.isEmpty, let socket else { return nil }
        if tail != nil {
            deferredResets.append(contentsOf: streams)
            return nil
        }
        let header = MemoryLayout<sctp_reset_streams>.size
        let size = header + streams.count * MemoryLayout<UInt16>.stride
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: size, alignment: MemoryLayout<sctp_reset_streams>.alignment)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        var request = sctp_reset_streams()
        request.srs_assoc_id = sctp_assoc_t(SCTP_FUTURE_ASSOC)
        request.srs_flags = UInt16(SCTP_STREAM_RESET_OUTGOING)
        request.srs_number_streams = UInt16(streams.count)
        buffer.storeBytes(of: request, toByteOffset: 0, as: sctp_reset_streams.self)
        for (index, stream) in streams.enumerated() {
            buffer.storeBytes(of: stream, toByteOffset: header + index * 2, as: UInt16.self)
        }
        let result = usrsctp_setsockopt(socket, Int32(IPPROTO_SCTP), SCTP_RESET_STREAMS, buffer.baseAddress, socklen_t(size))
        guard result == 0 else {
            let error = errno
            for stream in streams { resetRequested.remove(stream) }
            return SCTPError(.usrsctp(errno: error, call: "setsockopt(SCTP_RESET_STREAMS)"))
        }
        return nil
    }

    /// Pushes the kept tail of a partially accepted message, SCTP_EOR on its last piece.
    private func pushTailLocked() {
        guard var pending = tail, let socket else { return }
        while pending.offset < pending.bytes.count {
            let accepted = pending.bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return usrsctp_sendv(
                    socket, base + pending.offset, raw.count - pending.offset, nil, 0, &pending.info,
                    socklen_t(MemoryLayout<sctp_sendv_spa>.size), UInt32(SCTP_SENDV_SPA), 0)
            }
            if accepted > 0 {
                pending.offset += accepted
                usrsctpBuffered += accepted
                continue
            }
            let error = errno
            if accepted < 0, error != EWOULDBLOCK, error != EAGAIN {
                // The association is going away (e.g. the peer shut down): the tail cannot be delivered.
                tail = nil
                return
            }
            break
        }
        tail = pending.offset < pending.bytes.count ? pending : nil
    }

    private func sendError(_ error: Int32) -> SCTPError {
        switch error {
        case EWOULDBLOCK, EAGAIN:
            wantsWritable = true
            return SCTPError(.wouldBlock)
        case EMSGSIZE: return SCTPError(.messageTooLarge)
        case ENOTCONN, EPIPE, ECONNRESET, ESHUTDOWN: return SCTPError(.closed)
        default: return SCTPError(.usrsctp(errno: error, call: "usrsctp_sendv"))
        }
    }

    /// Counts DATA chunks whose TSN is not above the highest TSN already sent (RFC 4960 §3.3.1; serial number
    /// arithmetic, RFC 1982). Walks chunk headers only, bounded by the packet length.
    private func inspectOutbound(_ packet: [UInt8]) {
        var offset = MemoryLayout<sctp_common_header>.size
        let count = packet.count
        while offset + 4 <= count {
            let type = packet[offset]
            let length = Int(packet[offset + 2]) << 8 | Int(packet[offset + 3])
            guard length >= 4 else { return }
            if type == UInt8(SCTP_DATA), length >= 16, offset + 8 <= count {
                let tsn =
                    UInt32(packet[offset + 4]) << 24 | UInt32(packet[offset + 5]) << 16
                    | UInt32(packet[offset + 6]) << 8 | UInt32(packet[offset + 7])
                if let highest = highestTSNSent, tsn == highest || (tsn &- highest) >= 1 << 31 {
                    counters.retransmittedChunks += 1
                } else {
                    highestTSNSent = tsn
                }
            }
            offset += (length + 3) & ~3
        }
    }

    private func refreshAbandonedLocked() {
        guard let socket else { return }
        var status = sctp_prstatus()
        status.sprstat_assoc_id = sctp_assoc_t(SCTP_FUTURE_ASSOC)
        // SCTP_PR_SCTP_ALL (0x000f, usrsctp's netinet/sctp_uio.h; not exported by usrsctp.h 0.9.5): totals.
        status.sprstat_policy = 0x000F
        var length = socklen_t(MemoryLayout<sctp_prstatus>.size)
        guard usrsctp_getsockopt(socket, Int32(IPPROTO_SCTP), SCTP_PR_ASSOC_STATUS, &status, &length) == 0 else {
            return
        }
        counters.abandonedMessages = Int(clamping: status.sprstat_abandoned_sent &+ status.sprstat_abandoned_unsent)
    }

    private func markClosedLocked() {
        phase = .closed
        closeDeadline = nil
        tail = nil
        deferredResets = []
        if !closedEmitted {
            closedEmitted = true
            events.append(.closed)
        }
    }

    /// Graceful release after usrsctp reported the association gone: registry, address, then socket.
    private func releaseLocked() {
        refreshAbandonedLocked()
        _ = drainMailboxLocked()
        Registry.shared.remove(id)
        if addressRegistered {
            usrsctp_deregister_address(addressPointer)
            addressRegistered = false
        }
        if let socket {
            self.socket = nil
            usrsctp_close(socket)
        }
    }

    /// Abortive release: SO_LINGER {1, 0} makes `usrsctp_close` send ABORT (RFC 4960 §9.1) at once; it is closed
    /// while still registered so the ABORT lands in our transmit queue; then the id and address go away.
    private func abortLocked(emitClosed: Bool) {
        if let socket {
            refreshAbandonedLocked()
            var linger = linger(l_onoff: 1, l_linger: 0)
            _ = withUnsafePointer(to: &linger) {
                usrsctp_setsockopt(socket, SOL_SOCKET, SO_LINGER, $0, socklen_t(MemoryLayout<linger>.size))
            }
            self.socket = nil
            usrsctp_close(socket)
            _ = drainMailboxLocked()
        }
        Registry.shared.remove(id)
        if addressRegistered {
            usrsctp_deregister_address(addressPointer)
            addressRegistered = false
        }
        if emitClosed {
            markClosedLocked()
        } else {
            phase = .closed
        }
    }

    private func runForeignHooks() {
        for hook in Registry.shared.foreignHooks(excluding: id) { hook() }
    }
}
