import Foundation
import Glibc

/// The device and inode of a file. A file deleted or replaced under an open connection or descriptor has another
/// identity at its path, or none.
public struct FileIdentity: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64

    /// The file at `path` now, not following a final symbolic link; nil if nothing is there.
    static func at(_ path: String) -> FileIdentity? {
        var info = Glibc.stat()
        guard lstat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The file at `path` now, following symbolic links as the kernel does; nil if nothing is there.
    static func following(_ path: String) -> FileIdentity? {
        var info = Glibc.stat()
        guard stat(path, &info) == 0 else { return nil }
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

/// Where a path leads, as the kernel resolves it (links followed, up to its limit, not Foundation's): the file there,
/// or for a file not there yet its directory and its name; the path as written when neither can be read.
public enum FilePlace: Equatable, Sendable {
    case file(FileIdentity)
    case entry(directory: FileIdentity, name: String)
    case unresolved(String)

    public init(_ path: String) {
        let url = URL(fileURLWithPath: path)
        if let file = FileIdentity.following(path) {
            self = .file(file)
        } else if let directory = FileIdentity.following(url.deletingLastPathComponent().path) {
            self = .entry(directory: directory, name: url.lastPathComponent)
        } else {
            self = .unresolved(url.standardizedFileURL.path)
        }
    }
}
