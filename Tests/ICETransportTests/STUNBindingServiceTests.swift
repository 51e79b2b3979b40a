import ICETransport
import NIOCore
import STUN
import Testing

extension LoopbackSocketTests {
@Suite("STUN binding server on real sockets")
struct STUNBindingServiceTests {
    @Test("answers a Binding request with the client's address in XOR-MAPPED-ADDRESS", arguments: [false, true])
    func answersOverUDP(ipv6: Bool) async throws {
        let listen = ipv6 ? loopbackV6() : loopbackV4()
        let service = try await STUNBindingService.start(listeningOn: listen, group: testGroup, software: "under test")
        try await UDPTestClient.with(bindingTo: ipv6 ? loopbackV6() : loopbackV4()) { client in
            #expect(service.socket.localAddress.ip == listen.ip)
            #expect(service.socket.localAddress.port != 0)
            #expect(service.socket.receiveBufferSize > 0)

            // Garbage and an indication first: neither gets an answer, both are counted.
            try await client.send([0xFF, 0, 1], to: service.socket.localAddress)
            try await client.send(try STUNMessage(method: .binding, messageClass: .indication).encoded(), to: service.socket.localAddress)
            let request = STUNMessage(method: .binding, messageClass: .request)
            try await client.send(try request.encoded(fingerprint: true), to: service.socket.localAddress)

            let reply = try await client.receive()
            #expect(TransportAddress(reply.remoteAddress) == service.socket.localAddress)
            let response = try STUNMessage(decoding: reply.data.bytes)
            #expect(response.messageClass == .successResponse)
            #expect(response.transactionID == request.transactionID)
            #expect(response.attributes.contains(.xorMappedAddress(client.localAddress)))
        }
        let statistics = try await service.statistics()
        #expect(statistics.bindingRequestsAnswered == 1)
        #expect(statistics.ignoredMalformed == 1)
        #expect(statistics.ignoredNonRequests == 1)
        await service.close()
    }
}
}
