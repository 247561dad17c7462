import Glibc

/// A descriptor on one of the database's files (its write-ahead log, or the database file itself), opened at its
/// first sync, that syncs the file with `fdatasync`. The file must stay the same one: SQLite keeps its files while a
/// connection is open, so a different file at the path means it was deleted or replaced.
struct SyncedFile {
    let path: String
    /// How errors name the file, such as "the write-ahead log".
    let role: String
    private var descriptor: Int32 = -1
    private var identity: FileIdentity?

    init(path: String, role: String) {
        self.path = path
        self.role = role
    }

    mutating func sync() throws {
        guard let current = FileIdentity.at(path) else {
            throw StoreError("\(role) \(path) is missing: committed decisions cannot be made durable")
        }
        if let identity {
            guard identity == current else {
                throw StoreError("\(role) \(path) was replaced: committed decisions cannot be made durable")
            }
        } else {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw StoreError("cannot open \(path): \(String(cString: strerror(errno)))") }
            guard FileIdentity.of(descriptor: descriptor) == current else {
                throw StoreError("\(role) \(path) changed while it was opened")
            }
            identity = current
        }
        guard fdatasync(descriptor) == 0 else { throw StoreError("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }

    mutating func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }
}
