#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sanitizer the tests run under, as scripts/sanitize.sh announces it in `RTC_SANITIZER`
/// (`thread` or `address`); `nil` in a normal run.
///
/// Only for the few tests whose time limit cannot hold under a sanitizer's slowdown: they run a
/// smaller case or skip, and say why (docs/reliability.md, "Sanitizers").
public enum Sanitizer {
    public static var active: String? {
        getenv("RTC_SANITIZER").map { String(cString: $0) }
    }

    /// ThreadSanitizer, the slower of the two: the whole suite takes about three times as long
    /// as under AddressSanitizer (docs/reliability.md, "Sanitizers").
    public static var isThread: Bool { active == "thread" }
}
