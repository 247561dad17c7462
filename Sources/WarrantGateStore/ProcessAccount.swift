import Foundation
import WarrantGateCore

/// The operating-system account this process runs as, recorded in every admin record beside the operator's own
/// name, such as `warrant-gate (uid 998) on jail-admin-1, login alice (uid 1001), SUDO_UID alice (uid 1001)`.
///
/// - The first account is the real user id, from the kernel, with `as …` when the effective one differs, and the
///   host's name (any byte but a letter, digit, dot or hyphen written `%XX`). In a user namespace other than the
///   initial one, which an unprivileged user can create, the ids are the namespace's and its owner can mount a file
///   over `/proc/self/loginuid`: the account then says `in a user namespace`, and the rest counts for nothing.
/// - `login` is the kernel's audit login id (`/proc/self/loginuid`), which `pam_loginuid` sets when a person logs in
///   and which that person cannot change afterwards (not through sudo, su or a service account's shell, outside a
///   user namespace); absent where nothing set it (a service, a container).
/// - `SUDO_UID` is what the environment says: sudo sets it, but anyone who can run a command as the service account
///   directly can set it too, so it is written as the variable it is and counts only as far as `login` agrees.
///
/// Names come from the password database (a uid without an entry is written as its number alone), and every part is
/// escaped as free text is printed (``FreeText/escaped(_:)``). It is read once, before the store's first
/// transaction (``Store``'s open), never inside one.
public enum ProcessAccount {
    static let current: String = describe(environment: ProcessInfo.processInfo.environment, loginUID: loginUID())

    static func describe(environment: [String: String], loginUID: uid_t?) -> String {
        let (real, effective) = (getuid(), geteuid())
        var text = named(real)
        if effective != real { text += " as \(named(effective))" }
        if let host = hostName() { text += " on \(hostLabel(host))" }
        if !inInitialUserNamespace() {
            // Inside a user namespace the ids are the namespace's, the login id reads as unset when it is not mapped,
            // and its owner may mount anything over /proc: none of it says who ran the command.
            text += ", in a user namespace (ids and login as it shows them)"
        }
        if let loginUID { text += ", login \(named(loginUID))" }
        if let sudo = environment["SUDO_UID"].flatMap({ uid_t($0) }) { text += ", SUDO_UID \(named(sudo))" }
        return text
    }

    /// The person an account names (written by ``describe(environment:loginUID:)``): the audit login id and the host;
    /// unknowable in a user namespace, whose ids and login any user can make up; none where no login was set.
    static func loginIdentity(_ account: String) -> LoginIdentity {
        let parts = account.components(separatedBy: ", ")
        if parts.contains(where: { $0.hasPrefix("in a user namespace") }) { return .unknowable }
        guard let first = parts.first, let on = first.range(of: " on ", options: .backwards),
              let login = parts.first(where: { $0.hasPrefix("login ") }).map({ $0.dropFirst("login ".count) }),
              let uid = login.hasPrefix("uid ") ? uid_t(login.dropFirst("uid ".count))
                : login.hasSuffix(")") ? login.range(of: "(uid ", options: .backwards).flatMap({ uid_t(login[$0.upperBound...].dropLast()) }) : nil
        else { return .none }
        return .person(uid: uid, host: String(first[on.upperBound...]))
    }

    /// The audit login id, or nil where none was set (the kernel reads it as 4294967295, `(uid_t)-1`).
    public static func loginUID() -> uid_t? {
        guard let text = try? String(contentsOfFile: "/proc/self/loginuid", encoding: .utf8),
              let id = uid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), id != uid_t.max
        else { return nil }
        return id
    }

    /// `name (uid N)`, or `uid N` for a uid the password database does not list (or whose entry does not fit).
    public static func named(_ uid: uid_t) -> String {
        accountName(uid).map { "\(FreeText.escaped($0)) (uid \(uid))" } ?? "uid \(uid)"
    }

    /// The name the password database gives `uid`, or nil.
    public static func accountName(_ uid: uid_t) -> String? {
        passwordEntry(uid) { entry in entry.pw_name.map { String(cString: $0) } }
    }

    /// The primary group the password database gives `uid`, or nil.
    public static func primaryGroup(_ uid: uid_t) -> gid_t? {
        passwordEntry(uid) { $0.pw_gid }
    }

    /// `read` of `uid`'s password database entry (looked up with the reentrant `getpwuid_r`), or nil without one.
    private static func passwordEntry<T>(_ uid: uid_t, _ read: (passwd) -> T?) -> T? {
        var buffer = [CChar](repeating: 0, count: 16_384)
        return buffer.withUnsafeMutableBufferPointer { buffer in
            var entry = passwd()
            var found: UnsafeMutablePointer<passwd>?
            guard let base = buffer.baseAddress, getpwuid_r(uid, &entry, base, buffer.count, &found) == 0, found != nil else { return nil }
            return read(entry)
        }
    }

    /// Whether the process runs in the initial user namespace: its namespace file is the initial one's (the kernel
    /// numbers it `PROC_USER_INIT_INO`, and refuses to bind another namespace's file over a process's own), and its uid
    /// map is the identity over all ids. Both are read through `/proc`, which the owner of a user namespace with a
    /// mount namespace of its own can cover with files of its choosing where the kernel allows it: see
    /// docs/operations.md on the two-person rule.
    public static func inInitialUserNamespace() -> Bool {
        var info = stat()
        guard stat("/proc/self/ns/user", &info) == 0, info.st_ino == initialUserNamespaceInode,
              let map = try? String(contentsOfFile: "/proc/self/uid_map", encoding: .utf8) else { return false }
        return map.split(whereSeparator: \.isWhitespace) == ["0", "0", "4294967295"]
    }

    /// Linux's `PROC_USER_INIT_INO`: the inode number of the initial user namespace's file.
    private static let initialUserNamespaceInode: UInt = 0xEFFF_FFFD

    /// A host name as it is (letters, digits, dots and hyphens), or with every other byte written `%XX`: a name set
    /// to look like more of the account (`x, login alice (uid 1001)`) reads as the one name it is.
    static func hostLabel(_ name: String) -> String {
        var label = ""
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "-"):
                label.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                label += "%" + Hex.encode([byte]).uppercased()
            }
        }
        return label
    }

    private static func hostName() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return nil }
        buffer[buffer.count - 1] = 0
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }
}

/// Who ran a command, as far as the kernel says.
enum LoginIdentity: Equatable {
    /// A person logged in to a host: the kernel's audit login id there, which sudo, su and service accounts keep.
    case person(uid: uid_t, host: String)
    /// No login id was set (a service, a container): only the names typed tell people apart.
    case none
    /// Run in a user namespace, where any user can make up the ids and the login.
    case unknowable

    /// Whether the two may be one person, for the two-person rule: the same person, or one whose login is known
    /// beside one who could have hidden theirs.
    func mayBeSamePerson(as other: LoginIdentity) -> Bool {
        switch (self, other) {
        case (.person, .person): self == other
        case (.person, .unknowable), (.unknowable, .person), (.unknowable, .unknowable): true
        case (.none, _), (_, .none): false
        }
    }
}
