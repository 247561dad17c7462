import Foundation
import Glibc

/// Why a file was not read or written. `kind` decides the CLI's exit code; `message` names the path and the reason.
public struct PrivateFileError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// The path does not exist.
        case notFound
        /// The path is not acceptable: a symbolic link, not a regular file, on a pseudo filesystem, too large, or
        /// already there when a new file is required.
        case refused
        /// The system failed (permissions, disk full, …).
        case failed
    }

    public let kind: Kind
    public let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Files that hold private data (documents, keys, exports, bundles, archives, proofs, reports). Linux only.
///
/// - Reading opens the path once, without following a symbolic link and without blocking, and reads from that
///   descriptor only after checking it: a regular file, not on a pseudo filesystem such as /proc or /sys, within a size.
/// - Writing goes to a new temporary file beside the target (`O_CREAT|O_EXCL|O_NOFOLLOW`, exactly `mode`), which is
///   fsynced and then renamed (or linked) into place, so the target is complete or absent and is never followed.
/// - Links are refused in the last path component only; the directories leading to it are the operator's choice.
public enum PrivateFile {
    /// What a write does when something is already at the target path.
    public enum Existing: Sendable {
        /// Refuse anything there, even a dangling symbolic link: the command creates a new file (a key, an archive).
        case refuse
        /// Replace a regular file (a command's own earlier output); refuse a symbolic link or anything else.
        case replaceRegularFile
    }

    /// Reads a whole regular file of at most `limit` bytes from one descriptor. Throws ``PrivateFileError`` for a
    /// symbolic link, anything but a regular file (a FIFO does not block), a file on /proc, /sys or a similar pseudo
    /// filesystem, or a file larger than `limit`.
    public static func read(_ path: String, limit: Int) throws -> Data {
        let (descriptor, size) = try openRegularFile(path)
        defer { close(descriptor) }
        let tooLarge = PrivateFileError(.refused, "\(path) is larger than \(describeSize(limit))")
        guard size <= limit else { throw tooLarge }
        // Read to the end, not to st_size, and stop one byte past the limit: the file may be growing.
        var data = Data(count: min(size, limit) + 1)
        var count = 0
        while true {
            if count == data.count {
                guard count <= limit else { throw tooLarge }
                data.count = min(data.count * 2, limit + 1)
            }
            let read = data.withUnsafeMutableBytes { buffer in
                Glibc.read(descriptor, buffer.baseAddress! + count, buffer.count - count)
            }
            if read < 0 {
                if errno == EINTR { continue }
                throw PrivateFileError(.failed, "cannot read \(path): \(describe(errno))")
            }
            if read == 0 { break }
            count += read
        }
        data.count = count
        return data
    }

    /// Opens `path` for reading once, without following a symbolic link and without blocking, and checks that
    /// descriptor: a regular file (a FIFO does not block), not on /proc, /sys or a similar pseudo filesystem. Returns
    /// it, which the caller closes, and the file's size when opened.
    static func openRegularFile(_ path: String) throws -> (descriptor: Int32, size: Int) {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            let error = errno
            switch error {
            case ELOOP: throw PrivateFileError(.refused, "\(path) is a symbolic link; give the file itself")
            case ENOENT: throw PrivateFileError(.notFound, "\(path) does not exist")
            case ENXIO: throw PrivateFileError(.refused, "\(path) is not a regular file")
            default: throw PrivateFileError(.failed, "cannot read \(path): \(describe(error))")
            }
        }
        do {
            var status = Glibc.stat()
            guard fstat(descriptor, &status) == 0 else { throw PrivateFileError(.failed, "cannot read \(path): \(describe(errno))") }
            guard status.st_mode & S_IFMT == S_IFREG else { throw PrivateFileError(.refused, "\(path) is not a regular file") }
            guard let type = filesystemType(descriptor) else { throw PrivateFileError(.failed, "cannot read \(path): \(describe(errno))") }
            if pseudoFilesystems.contains(type) {
                throw PrivateFileError(.refused, "\(path) is on /proc or /sys (a pseudo filesystem), not a document")
            }
            return (descriptor, Int(status.st_size))
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// Writes `data` to `path` atomically with exactly `mode` (see ``Output``).
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o600, existing: Existing, keepingFree floor: FreeSpaceFloor? = nil) throws {
        let output = try Output(path: path, mode: mode, existing: existing, keepingFree: floor)
        try output.write(data)
        try output.commit()
    }

    /// Throws what a write to `path` would be refused for now. Commands call it before the work the file is for.
    public static func checkTarget(_ path: String, existing: Existing) throws {
        if path.isEmpty || path.hasSuffix("/") { throw PrivateFileError(.refused, "'\(path)' is not a file name") }
        var status = Glibc.stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return }
            throw PrivateFileError(.failed, "cannot write \(path): \(describe(errno))")
        }
        switch (status.st_mode & S_IFMT, existing) {
        case (S_IFLNK, _): throw PrivateFileError(.refused, "\(path) is a symbolic link; give the file itself")
        case (_, .refuse): throw PrivateFileError(.refused, "\(path) already exists; it is not overwritten (give a new file name)")
        case (S_IFREG, .replaceRegularFile): return
        default: throw PrivateFileError(.refused, "\(path) is not a regular file")
        }
    }

    /// Creates the directory `path`, and any missing parent, with mode 0700. An existing directory is left as it is,
    /// unless `tighten`: then a symbolic link or a non-directory there is refused and group and other access removed.
    /// Refuses the directory that holds `path` if another user could put or replace files in it while a whole store
    /// is written there (a backup, a restore): one owned by a user other than the caller or root, or writable by its
    /// group or others.
    public static func checkOwnDirectory(holding path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var status = Glibc.stat()
        guard stat(directory, &status) == 0 else { throw PrivateFileError(.failed, "cannot read directory \(directory): \(describe(errno))") }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw PrivateFileError(.refused, "\(directory) is not a directory") }
        guard status.st_uid == geteuid() || status.st_uid == 0 else {
            throw PrivateFileError(.refused, "\(directory) belongs to uid \(status.st_uid), not to this user (uid \(geteuid())) or root: its owner could replace what is written there; use a directory of your own")
        }
        guard status.st_mode & 0o022 == 0 else {
            throw PrivateFileError(.refused, "\(directory) is writable by its group or others (mode \(String(status.st_mode & 0o7777, radix: 8))): another user could replace what is written there; use a directory only its owner can write (chmod go-w)")
        }
    }

    public static func makeDirectory(_ path: String, tighten: Bool = false) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if mkdir(prefix, 0o700) == 0 {
                chmod(prefix, 0o700)  // exactly, whatever the umask
            } else if errno != EEXIST {
                throw PrivateFileError(.failed, "cannot create directory \(prefix): \(describe(errno))")
            }
        }
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | (tighten ? O_NOFOLLOW : 0) | O_CLOEXEC)
        guard descriptor >= 0 else {
            let error = errno
            switch error {
            case ELOOP: throw PrivateFileError(.refused, "\(path) is a symbolic link; give the directory itself")
            case ENOTDIR: throw PrivateFileError(.refused, "\(path) is not a directory")
            default: throw PrivateFileError(.failed, "cannot open directory \(path): \(describe(error))")
            }
        }
        defer { close(descriptor) }
        var status = Glibc.stat()
        guard tighten, fstat(descriptor, &status) == 0, status.st_mode & 0o077 != 0 else { return }
        guard fchmod(descriptor, 0o700) == 0 else {
            throw PrivateFileError(.failed, "cannot restrict \(path) to its owner (mode 0700): \(describe(errno))")
        }
    }

    /// The free space a copy the CLI writes (an export, a report, a backup, an archive) leaves on its filesystem: the
    /// larger of a share of the filesystem and a number of bytes. The gateway runs as the service account, with no
    /// share of the root reserve, and denies every request it cannot log: a copy of the log that filled the disk the
    /// log is on would stop the jail's agencies, whoever ran it.
    public struct FreeSpaceFloor: Sendable {
        public let share: Double
        public let minimumBytes: UInt64

        public init(share: Double, minimumBytes: UInt64) {
            self.share = share
            self.minimumBytes = minimumBytes
        }

        /// 5 % of the filesystem, and at least 256 MiB.
        public static let copies = FreeSpaceFloor(share: 0.05, minimumBytes: 256 << 20)

        func bytes(ofFilesystem total: UInt64) -> UInt64 {
            max(minimumBytes, UInt64(min(Double(total) * share, Double(UInt64.max >> 1))))
        }
    }

    /// A file being written: a new temporary file beside `path`, put in place by ``commit()`` and removed if the
    /// output is discarded or released uncommitted. With a ``FreeSpaceFloor``, writing stops (and the file is removed)
    /// before the filesystem's free space falls more than ``freeSpaceCheckBytes`` below the floor. Not for concurrent
    /// use.
    public final class Output {
        /// How much is written between two checks of the free space.
        static let freeSpaceCheckBytes = 1 << 20

        public let path: String
        /// The temporary file, for a writer that writes it by path rather than through ``write(_:)`` (SQLite, in
        /// ``Store/backup(to:at:)`` and ``StoreBackup/restore(from:to:key:options:at:progress:)``).
        let temporaryPath: String
        private let existing: Existing
        private let floor: FreeSpaceFloor?
        private var descriptor: Int32
        private var finished = false
        /// Bytes written since the free space was last checked; the first write checks it.
        private var unchecked = freeSpaceCheckBytes

        /// Checks the target (``checkTarget(_:existing:)``) and creates the temporary file with exactly `mode`.
        public init(path: String, mode: mode_t = 0o600, existing: Existing, keepingFree floor: FreeSpaceFloor? = nil) throws {
            try PrivateFile.checkTarget(path, existing: existing)
            self.path = path
            self.existing = existing
            self.floor = floor
            let (directory, name) = PrivateFile.split(path)
            temporaryPath = directory + ".\(name).\(String(UInt64.random(in: .min ... .max), radix: 16)).tmp"
            descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            guard descriptor >= 0 else {
                finished = true  // nothing of ours to remove
                throw PrivateFileError(.failed, "cannot write \(path): \(describe(errno))")
            }
            guard fchmod(descriptor, mode) == 0 else {
                let error = errno
                discard()
                throw PrivateFileError(.failed, "cannot write \(path): \(describe(error))")
            }
        }

        deinit { discard() }

        public func write(_ data: Data) throws {
            guard !finished else { throw PrivateFileError(.failed, "cannot write \(path): already closed") }
            unchecked += data.count
            if unchecked >= Self.freeSpaceCheckBytes {
                try checkFreeSpace(needing: UInt64(data.count))
                unchecked = 0
            }
            try data.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw PrivateFileError(.failed, "cannot write \(path): \(describe(errno))")
                    }
                    offset += written
                }
            }
        }

        /// Refuses, removing the file, if writing `bytes` more would leave less free space than the floor (none
        /// without one). For a writer that writes by path: before it starts, with what it will write, and after.
        public func checkFreeSpace(needing bytes: UInt64 = 0) throws {
            guard let floor else { return }
            var space = statvfs()
            guard fstatvfs(descriptor, &space) == 0 else {
                let error = errno
                discard()
                throw PrivateFileError(.failed, "cannot write \(path): cannot read its filesystem's free space: \(describe(error))")
            }
            let unit = UInt64(space.f_frsize)
            let (free, total) = (UInt64(space.f_bavail).multipliedReportingOverflow(by: unit), UInt64(space.f_blocks).multipliedReportingOverflow(by: unit))
            let kept = floor.bytes(ofFilesystem: total.overflow ? .max : total.partialValue)
            let left = free.overflow ? UInt64.max : free.partialValue
            guard left >= bytes, left - bytes >= kept else {
                discard()
                throw PrivateFileError(.refused, """
                    not writing \(path): it would leave less than \(Self.mebibytes(kept)) MiB free on its filesystem \
                    (\(Self.mebibytes(left)) MiB free). A copy of the log must not fill the disk the log may be on: the \
                    gateway denies every request it cannot log. Write it to a filesystem with room
                    """)
            }
        }

        private static func mebibytes(_ bytes: UInt64) -> UInt64 { bytes >> 20 }

        /// Syncs the file and puts it at `path`: renamed over a regular file (`.replaceRegularFile`) or linked where
        /// nothing is (`.refuse`). Refuses, removing the temporary file, if the target has become unacceptable or the
        /// file has left less free space than the floor.
        public func commit() throws {
            guard !finished else { throw PrivateFileError(.failed, "cannot write \(path): already closed") }
            try checkFreeSpace()
            defer { discard() }
            guard fsync(descriptor) == 0 else { throw PrivateFileError(.failed, "cannot write \(path): \(describe(errno))") }
            try PrivateFile.checkTarget(path, existing: existing)
            switch existing {
            case .replaceRegularFile:
                // rename(2) replaces the name itself: it never writes through a link that appeared since the check.
                guard rename(temporaryPath, path) == 0 else { throw PrivateFileError(.failed, "cannot write \(path): \(describe(errno))") }
            case .refuse:
                if link(temporaryPath, path) != 0 {
                    let error = errno
                    if error == EEXIST {
                        throw PrivateFileError(.refused, "\(path) already exists; it is not overwritten (give a new file name)")
                    }
                    // A filesystem without hard links: the check above found nothing there.
                    guard error == EPERM || error == EOPNOTSUPP, rename(temporaryPath, path) == 0 else {
                        throw PrivateFileError(.failed, "cannot write \(path): \(describe(error))")
                    }
                }
            }
            PrivateFile.syncDirectory(of: path)
        }

        /// Closes and removes the temporary file; the target is untouched. Does nothing once committed or discarded.
        public func discard() {
            guard !finished else { return }
            finished = true
            close(descriptor)
            unlink(temporaryPath)
        }
    }

    // MARK: - Helpers

    /// Filesystems whose files are kernel state, not documents: proc, sysfs, debugfs, securityfs, cgroup, cgroup2,
    /// tracefs, configfs, pstore, efivarfs, bpf, selinuxfs, smackfs, binfmt_misc, fusectl.
    static let pseudoFilesystems: Set<Int> = [
        0x9fa0, 0x6265_6572, 0x6462_6720, 0x7363_6673, 0x27e0eb, 0x6367_7270,
        0x7472_6163, 0x6265_6570, 0x6165_676c, 0xde5e_81e4, 0xcafe_4a11, 0xf97c_ff8c, 0x4341_5d53, 0x4249_4e4d, 0x6573_5543,
    ]

    /// `fstatfs(2)`, which the Glibc module does not import, looked up in the C library.
    private typealias FstatfsFunction = @convention(c) (Int32, UnsafeMutableRawPointer?) -> Int32
    private static let fstatfsFunction: FstatfsFunction? = dlsym(dlopen(nil, RTLD_NOW), "fstatfs")
        .map { unsafeBitCast($0, to: FstatfsFunction.self) }

    /// The descriptor's filesystem magic number (`f_type`, the first field of `struct statfs`, a C `long`), or nil.
    static func filesystemType(_ descriptor: Int32) -> Int? {
        guard let fstatfs = fstatfsFunction else { errno = ENOSYS; return nil }
        // struct statfs is 120 bytes on 64-bit Linux, 64 or 84 on 32-bit; room to spare.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
        defer { buffer.deallocate() }
        guard fstatfs(descriptor, buffer) == 0 else { return nil }
        return buffer.load(as: Int.self)
    }

    /// `path` split at its last `/`: the directory with its slash (empty for a bare name), and the name. Written out
    /// rather than through NSString, whose `deletingLastPathComponent` traps on a one-character name on Linux.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[...slash]), String(path[path.index(after: slash)...]))
    }

    /// Best effort: makes a rename in the directory durable.
    static func syncDirectory(of path: String) {
        let directory = split(path).directory
        let descriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    static func describe(_ error: Int32) -> String {
        String(cString: strerror(error))
    }

    static func describeSize(_ bytes: Int) -> String {
        bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}
