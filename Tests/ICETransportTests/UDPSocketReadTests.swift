import NIOCore
import NIOPosix
import STUN
import Testing

@testable import ICETransport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts the datagrams a socket delivers; confined to the socket's event loop.
private final class CountingReceiver: DatagramReceiver {
    var datagrams = 0
    func receive(_ datagram: AddressedEnvelope<ByteBuffer>, on channel: Channel, localAddress: TransportAddress) {
        datagrams += 1
    }
    func readComplete() {}
    func socketError(_ error: any Error) {}
}

extension LoopbackSocketTests {
@Suite("UDP socket reads")
struct UDPSocketReadTests {
    /// An idle socket reads one datagram at a time (no 64 KiB vector-read buffer); a burst
    /// switches it to `recvmmsg` reads, and every datagram still arrives.
    @Test func vectorReadsStartOnlyWithABurst() async throws {
        let loop = testGroup.next()
        let receiver = try await loop.submit { NIOLoopBound(CountingReceiver(), eventLoop: loop) }.get()
        let socket = try await UDPSocket.bind(
            to: try SocketAddress(ipAddress: "127.0.0.1", port: 0), on: loop, options: .default, receiver: receiver)
        defer { socket.channel.close(promise: nil) }
        let port = socket.info.localAddress.port

        try sendDatagrams(1, to: port)
        try await waitUntil(receiver, on: loop, received: 1)
        #expect(try await socket.channel.getOption(.datagramVectorReadMessageCount).get() == 0)

        let burst = 2_000
        try sendDatagrams(burst, to: port)
        try await waitUntil(receiver, on: loop, received: 1 + burst)
        #if os(Linux)
        #expect(try await socket.channel.getOption(.datagramVectorReadMessageCount).get() == 32)
        #endif
    }

    private func waitUntil(
        _ receiver: NIOLoopBound<CountingReceiver>, on loop: any EventLoop, received expected: Int
    ) async throws {
        for _ in 0..<500 {
            if try await loop.submit({ receiver.value.datagrams }).get() >= expected { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try await loop.submit { receiver.value.datagrams }.get() == expected)
    }

    /// Sends `count` 100-byte datagrams to 127.0.0.1:`port` as fast as the kernel takes them.
    private func sendDatagrams(_ count: Int, to port: UInt16) throws {
        #if os(Linux)
        let descriptor = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        #else
        let descriptor = Darwin.socket(AF_INET, SOCK_DGRAM, 0)
        #endif
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let payload = [UInt8](repeating: 0xFF, count: 100)
        for _ in 0..<count {
            let sent = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    payload.withUnsafeBytes {
                        sendto(descriptor, $0.baseAddress, $0.count, 0, socketAddress, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            try #require(sent == payload.count)
        }
    }
}
}
