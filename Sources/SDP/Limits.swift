/// Bounds that every parse enforces, so that no input can make the parser use
/// unbounded time or memory. Exceeding one is a typed ``SDPParseError`` (or
/// ``CandidateParseError``), never a trap.
///
/// The values leave ample headroom over what real stacks emit: a Chromium
/// offer with audio, video and a data channel is about 6 KiB, and the longest
/// lines real stacks emit (`a=candidate`, `a=fingerprint:sha-512`, `m=video`
/// with two dozen payload types, `a=ssrc`) stay under 250 bytes.
public enum SDPLimits {
    /// The largest description accepted, in bytes (256 KiB). Checked before
    /// anything else is done with the input, so oversized input is rejected
    /// in constant time.
    public static let maximumDescriptionSize = 256 * 1024

    /// The longest line accepted, in bytes, excluding its line terminator
    /// (4 KiB, over ten times the longest line real stacks emit). Also the
    /// longest trickled candidate string ``ICECandidate/init(parsing:)``
    /// accepts.
    public static let maximumLineLength = 4 * 1024

    /// The most lines a description may have (16 Ki). Bounds the number of
    /// values, and so allocations, one parse can create.
    public static let maximumLineCount = 16 * 1024

    /// The most `m=` sections a description may have. Large unified-plan
    /// conferences reach about a hundred.
    public static let maximumMediaSections = 256

    /// The most fields (lines after `s=`, or after an `m=` line) the session
    /// level or one media section may have.
    public static let maximumFieldsPerSection = 1024

    /// The most `a=candidate` lines the session level or one media section
    /// may have. A host with many interfaces gathering host, reflexive and
    /// relayed candidates over UDP and TCP stays well below it.
    public static let maximumCandidatesPerSection = 256

    /// The most extension pairs (such as `generation 0`) one candidate may
    /// carry. Chromium emits at most five.
    public static let maximumCandidateExtensions = 32
}
