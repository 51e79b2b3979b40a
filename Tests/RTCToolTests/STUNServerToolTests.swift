import Foundation
import STUN
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `rtc stun-server` as a user runs it: a real process answering a real UDP
/// binding request on 127.0.0.1, then stopping cleanly on SIGTERM.
@Suite("rtc stun-server")
struct STUNServerToolTests {
    static let inNamespace = ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1"

    @Test(
        "answers a binding request with the client's address and exits 0 on SIGTERM",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func answersAndStops() throws {
        let process = Process()
        process.executableURL = try RTC.binary()
        process.arguments = ["stun-server", "--listen", "127.0.0.1:0"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // The first line names the bound address: "listening on [IPv4]127.0.0.1/127.0.0.1:PORT" or similar.
        let line = try #require(Self.readLine(from: output.fileHandleForReading))
        let port = try #require(line.split(separator: ":").last.flatMap { UInt16($0) }, "unexpected line: \(line)")

        let client = try UDPClient()
        defer { client.close() }
        let transactionID = STUNTransactionID.random()
        let request = try STUNMessage(
            method: .binding, messageClass: .request, transactionID: transactionID, attributes: []
        ).encoded(fingerprint: true)
        let response = try #require(try client.exchange(request, port: port))
        let message = try STUNMessage(decoding: response)
        #expect(message.messageClass == .successResponse)
        #expect(message.transactionID == transactionID)
        #expect(message.attributes.contains(.xorMappedAddress(try client.localAddress())))

        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    /// Reads one line, waiting at most 10 seconds.
    private static func readLine(from handle: FileHandle) -> String? {
        var bytes: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(10)
        var descriptor = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
        while ContinuousClock.now < deadline {
            guard poll(&descriptor, 1, 100) > 0 else { continue }
            var byte: UInt8 = 0
            guard read(handle.fileDescriptor, &byte, 1) == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return nil
    }
}

/// A blocking UDP socket on 127.0.0.1 with a receive timeout.
private struct UDPClient {
    let descriptor: Int32

    struct SocketError: Error { let call: String; let code: Int32 }

    init() throws {
        #if canImport(Glibc)
        descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        #else
        descriptor = socket(AF_INET, SOCK_DGRAM, 0)
        #endif
        guard descriptor >= 0 else { throw SocketError(call: "socket", code: errno) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw SocketError(call: "bind", code: errno) }
    }

    static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    func localAddress() throws -> TransportAddress {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { throw SocketError(call: "getsockname", code: errno) }
        return TransportAddress(ip: .v4(IPv4Address(127, 0, 0, 1)), port: UInt16(bigEndian: address.sin_port))
    }

    /// Sends `request` to 127.0.0.1:`port` and returns the reply, or nil after the timeout.
    func exchange(_ request: [UInt8], port: UInt16) throws -> [UInt8]? {
        var destination = Self.loopback(port: port)
        let sent = withUnsafePointer(to: &destination) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, request, request.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sent == request.count else { throw SocketError(call: "sendto", code: errno) }
        var reply = [UInt8](repeating: 0, count: 2048)
        let received = recv(descriptor, &reply, reply.count, 0)
        guard received > 0 else { return nil }
        return Array(reply[0..<received])
    }

    func close() {
        #if canImport(Glibc)
        _ = Glibc.close(descriptor)
        #else
        _ = Darwin.close(descriptor)
        #endif
    }
}
