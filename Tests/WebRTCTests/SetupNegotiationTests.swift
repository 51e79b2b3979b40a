import DTLS
import SDP
import Testing
import WebRTC

@Suite("a=setup negotiation (RFC 8842)")
struct SetupNegotiationTests {
    @Test("an actpass offer is answered active: the answerer is the DTLS client")
    func defaultExchange() throws {
        let answer = try SetupNegotiation.answerSetup(toOffer: SetupNegotiation.offerSetup)
        #expect(answer == .active)
        #expect(try SetupNegotiation.dtlsRole(local: .actpass, remote: answer, weOffered: true) == .server)
        #expect(try SetupNegotiation.dtlsRole(local: answer, remote: .actpass, weOffered: false) == .client)
    }

    @Test("offers that insist on a role are honoured", arguments: [(SetupRole.active, DTLSRole.client), (.passive, .server)])
    func offeredRoles(offered: SetupRole, offererRole: DTLSRole) throws {
        let answer = try SetupNegotiation.answerSetup(toOffer: offered)
        let offerer = try SetupNegotiation.dtlsRole(local: offered, remote: answer, weOffered: true)
        let answerer = try SetupNegotiation.dtlsRole(local: answer, remote: offered, weOffered: false)
        #expect(offerer == offererRole)
        #expect(offerer != answerer)
    }

    @Test("holdconn offers and actpass or holdconn answers are errors")
    func invalidValues() {
        #expect(throws: SetupNegotiationError.self) { try SetupNegotiation.answerSetup(toOffer: .holdconn) }
        #expect(throws: SetupNegotiationError.self) {
            try SetupNegotiation.dtlsRole(local: .actpass, remote: .actpass, weOffered: true)
        }
        #expect(throws: SetupNegotiationError.self) {
            try SetupNegotiation.dtlsRole(local: .holdconn, remote: .actpass, weOffered: false)
        }
    }
}
