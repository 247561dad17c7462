import Foundation

/// The operating-system account this process runs as, recorded in every admin record beside the operator's own
/// name: `warrant-gate (uid 998)`, with `as root (uid 0)` when the effective user differs, and `, through sudo by
/// alice (uid 1001)` when sudo started it.
///
/// The user ids come from the kernel. The sudo part comes from `SUDO_UID`, which sudo sets and a user running a
/// command through sudo cannot change; a user who runs the CLI directly could set it, but not the uid beside it.
/// Names come from the password database, and a uid without an entry is written as its number alone.
enum ProcessAccount {
    static let current: String = describe(environment: ProcessInfo.processInfo.environment)

    static func describe(environment: [String: String]) -> String {
        let (real, effective) = (getuid(), geteuid())
        var text = named(real)
        if effective != real { text += " as \(named(effective))" }
        if let sudo = environment["SUDO_UID"].flatMap({ uid_t($0) }) { text += ", through sudo by \(named(sudo))" }
        return text
    }

    /// `name (uid N)`, or `uid N` for a uid the password database does not list.
    static func named(_ uid: uid_t) -> String {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &found) == 0, found != nil, let name = entry.pw_name else { return "uid \(uid)" }
        return "\(String(cString: name)) (uid \(uid))"
    }
}
