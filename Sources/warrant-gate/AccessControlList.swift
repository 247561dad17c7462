import CExtendedAttributes
import Glibc

/// A file's POSIX access control list (`system.posix_acl_access`), read as the kernel reads it, so that the CLI
/// decides what an operator may read as the kernel would for them: a named-user entry can refuse what the mode bits
/// grant, or grant what they refuse.
struct AccessControlList {
    private struct Entry {
        let tag: UInt16
        let permissions: mode_t
        let id: UInt32
    }

    private enum Tag {
        static let owner: UInt16 = 0x01, user: UInt16 = 0x02, owningGroup: UInt16 = 0x04, group: UInt16 = 0x08
        static let mask: UInt16 = 0x10, other: UInt16 = 0x20
    }

    private static let attribute = "system.posix_acl_access"
    private static let version: UInt32 = 2
    /// Far above any list a host keeps (the kernel caps one at 64 KiB of attribute).
    private static let maxBytes = 64 * 1024

    private let entries: [Entry]

    /// What reading a file's list found.
    enum Reading {
        /// It has none beyond its mode bits, or its file system keeps none.
        case none
        case list(AccessControlList)
        /// It could not be read, or is not a list this reads: the caller refuses.
        case unreadable
    }

    /// The list of the file open as `descriptor`.
    static func read(descriptor: Int32) -> Reading {
        read { wg_fgetxattr(descriptor, attribute, $0, $1) }
    }

    /// The list of the file at `path` (a directory on the way to a file, which is checked by path).
    static func read(path: String) -> Reading {
        read { wg_getxattr(path, attribute, $0, $1) }
    }

    private static func read(_ get: (UnsafeMutableRawPointer?, Int) -> Int) -> Reading {
        var bytes = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = bytes.withUnsafeMutableBytes { get($0.baseAddress, $0.count) }
            if count >= 0 { return parse(bytes.prefix(count)).map(Reading.list) ?? .unreadable }
            switch errno {
            case ENODATA, ENOTSUP: return .none
            case ERANGE where bytes.count < maxBytes: bytes = [UInt8](repeating: 0, count: maxBytes)
            default: return .unreadable
            }
        }
    }

    /// A list in the kernel's little-endian form: a version word, then 8-byte entries (tag, permissions, id).
    private static func parse(_ bytes: ArraySlice<UInt8>) -> AccessControlList? {
        func word(_ offset: Int, _ width: Int) -> UInt32 {
            (0..<width).reduce(0) { $0 | UInt32(bytes[bytes.startIndex + offset + $1]) << (8 * $1) }
        }
        guard bytes.count >= 4, (bytes.count - 4) % 8 == 0, word(0, 4) == version else { return nil }
        let entries = stride(from: 4, to: bytes.count, by: 8).map { offset in
            Entry(tag: UInt16(word(offset, 2)), permissions: mode_t(word(offset + 2, 2) & 0o7), id: word(offset + 4, 4))
        }
        return AccessControlList(entries: entries)
    }

    /// Whether an account `user` in `groups` holds `rights` (read 4, write 2, search 1) on a file of `owner` and
    /// `group` under this list: POSIX.1e's check, as Linux's `posix_acl_permission` makes it.
    func grants(_ rights: mode_t, user: uid_t, groups: Set<gid_t>, owner: uid_t, group: gid_t) -> Bool {
        let mask = entries.first { $0.tag == Tag.mask }?.permissions ?? 0o7
        var inAGroup = false
        for entry in entries {
            switch entry.tag {
            case Tag.owner where owner == user:
                return entry.permissions & rights == rights
            case Tag.user where entry.id == user:
                return entry.permissions & mask & rights == rights
            case Tag.owningGroup where groups.contains(group), Tag.group where groups.contains(gid_t(entry.id)):
                inAGroup = true
                if entry.permissions & mask & rights == rights { return true }
            case Tag.other:
                return !inAGroup && entry.permissions & rights == rights
            case Tag.owner, Tag.user, Tag.owningGroup, Tag.group, Tag.mask:
                continue
            default:
                return false
            }
        }
        return false
    }
}
