import ArgumentParser
import SDP

/// `rtc sdp`: parses a session description and prints it as JSON, or
/// re-serialized.
struct SDPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sdp",
        abstract: "Parse a session description and print it as JSON (or re-serialized with --roundtrip).",
        discussion: "Exits with status 1 and 'line N: reason' when the description is invalid."
    )

    @Argument(help: "A file holding one session description, or - for standard input.")
    var input: String

    @Flag(help: "Print the re-serialized description instead of JSON.")
    var roundtrip = false

    func run() throws {
        let bytes = try failing { () throws(InputError) in
            try readInput(input, limit: SDPLimits.maximumDescriptionSize)
        }
        let description = try failing { () throws(SDPParseError) in try SessionDescription(parsing: bytes) }
        if roundtrip {
            print(description.serialized(), terminator: "")
        } else {
            print(render(description).rendered())
        }
    }

    private func render(_ description: SessionDescription) -> JSON {
        let origin = description.origin
        return .object([
            "version": .integer(Int64(description.version)),
            "origin": .object([
                "username": .string(origin.username),
                "sessionID": .string(origin.sessionID),
                "sessionVersion": .string(origin.sessionVersion),
                "networkType": .string(origin.networkType),
                "addressType": .string(origin.addressType),
                "unicastAddress": .string(origin.unicastAddress),
            ]),
            "sessionName": .string(description.sessionName),
            "groups": .array(description.groups.map { group in
                .object([
                    "semantics": .string(group.semantics),
                    "mids": .array(group.identificationTags.map(JSON.string)),
                ])
            }),
            "ice": renderICE(description),
            "fingerprints": renderFingerprints(description),
            "setup": description.setup.map { .string($0.rawValue) },
            "fields": .array(description.fields.map(renderField)),
            "media": .array(description.media.map(renderMedia)),
        ])
    }

    private func renderMedia(_ media: MediaDescription) -> JSON {
        .object([
            "media": .string(media.media),
            "port": .integer(Int64(media.port)),
            "portCount": media.portCount.map { .integer(Int64($0)) },
            "proto": .string(media.proto),
            "formats": .array(media.formats.map(JSON.string)),
            "dataChannel": .bool(media.isDataChannel),
            "mid": media.mid.map(JSON.string),
            "ice": renderICE(media),
            "fingerprints": renderFingerprints(media),
            "setup": media.setup.map { .string($0.rawValue) },
            "sctpPort": media.dataChannelSCTPPort.map { .integer(Int64($0)) },
            "maxMessageSize": media.maxMessageSize.map { .unsigned($0) },
            "candidates": .array(media.candidates.map(renderCandidate)),
            "endOfCandidates": .bool(media.hasEndOfCandidates),
            "fields": .array(media.fields.map(renderField)),
        ])
    }

    private func renderICE(_ container: some SDPFieldContainer) -> JSON? {
        guard container.iceUfrag != nil || container.icePwd != nil || !container.iceOptions.isEmpty
            || container.isICELite
        else { return nil }
        return .object([
            "ufrag": container.iceUfrag.map(JSON.string),
            "pwd": container.icePwd.map(JSON.string),
            "options": .array(container.iceOptions.map(JSON.string)),
            "lite": .bool(container.isICELite),
        ])
    }

    private func renderFingerprints(_ container: some SDPFieldContainer) -> JSON? {
        let fingerprints = container.fingerprints
        guard !fingerprints.isEmpty else { return nil }
        return .array(fingerprints.map { fingerprint in
            .object([
                "algorithm": .string(fingerprint.algorithm.name),
                "digest": .string(fingerprint.hexDigest),
            ])
        })
    }

    private func renderCandidate(_ candidate: ICECandidate) -> JSON {
        .object([
            "foundation": .string(candidate.foundation),
            "component": .integer(Int64(candidate.componentID)),
            "transport": .string(candidate.transport.name),
            "priority": .unsigned(UInt64(candidate.priority)),
            "address": .string(candidate.address),
            "port": .integer(Int64(candidate.port)),
            "type": .string(candidate.kind.name),
            "relatedAddress": candidate.relatedAddress.map(JSON.string),
            "relatedPort": candidate.relatedPort.map { .integer(Int64($0)) },
            "tcpType": candidate.tcpType.map { .string($0.rawValue) },
            "mDNS": .bool(candidate.isMDNS),
            "extensions": .object(candidate.extensions.map { (key: $0.name, value: JSON.string($0.value)) }),
        ])
    }

    /// Every line in order, as `{"a": "mid:0"}`-style pairs of type and value.
    private func renderField(_ field: SDPField) -> JSON {
        let line = field.description
        let type = String(line.prefix(1))
        let value = String(line.dropFirst(2))
        return .object([(key: type, value: .string(value))])
    }
}
