#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing

/// Whether the tests run inside a private network namespace that holds only loopback.
///
/// `make test` runs `swift test` as root inside `unshare -n sh -c 'ip link set lo up; ...'` with
/// `RTC_LOOPBACK_NAMESPACE=1`; every test that opens real sockets is enabled only then, so no
/// test traffic can ever leave the machine.
enum LoopbackNamespace {
    static var isActive: Bool {
        getenv("RTC_LOOPBACK_NAMESPACE").map { String(cString: $0) == "1" } ?? false
    }
}

/// The parent of every suite that opens real sockets: enabled only in the loopback namespace,
/// and serialized, so that the descriptor count of the close test is not disturbed by siblings.
@Suite(
    "Real loopback sockets", .serialized,
    .enabled(if: LoopbackNamespace.isActive, "needs a loopback-only network namespace (run as root through make test)"))
struct LoopbackSocketTests {}
