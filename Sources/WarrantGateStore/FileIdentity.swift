import Glibc

/// The device and inode of a file. A file deleted or replaced under an open connection or descriptor has another
/// identity at its path, or none.
struct FileIdentity: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64

    /// The file at `path` now, not following a final symbolic link; nil if nothing is there.
    static func at(_ path: String) -> FileIdentity? {
        var info = Glibc.stat()
        guard lstat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The file open as `descriptor`.
    static func of(descriptor: Int32) -> FileIdentity? {
        var info = Glibc.stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}

/// A database file and the identity it had when the log opened it, to notice when it is deleted or replaced.
struct DatabaseFileIdentity: Sendable {
    let path: String
    private let identity: FileIdentity

    init?(path: String) {
        guard let identity = FileIdentity.at(path) else { return nil }
        self.path = path
        self.identity = identity
    }

    func isUnchanged() -> Bool { FileIdentity.at(path) == identity }
}
