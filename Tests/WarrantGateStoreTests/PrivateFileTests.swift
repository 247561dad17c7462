import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import Testing
import WarrantGateCore
@testable import WarrantGateStore

@Suite("Private files: no links followed, owner-only, atomic")
struct PrivateFileTests {
    /// A fresh directory, removed at the end.
    final class Directory {
        let path: String
        init() throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("wg-files-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        func file(_ name: String) -> String { "\(path)/\(name)" }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    private static func mode(_ path: String) -> mode_t? {
        var status = Glibc.stat()
        guard lstat(path, &status) == 0 else { return nil }
        return status.st_mode & 0o7777
    }

    private static func refusal(_ body: () throws -> Void) -> PrivateFileError? {
        do { try body() } catch let error as PrivateFileError { return error } catch { return nil }
        return nil
    }

    @Test("read refuses a symbolic link, a FIFO, procfs and sysfs files and an oversized file, and reads a regular file whole")
    func read() throws {
        let directory = try Directory()
        let file = directory.file("scan.pdf")
        try Data("0123456789abcdef".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try PrivateFile.read(file, limit: 16) == Data("0123456789abcdef".utf8))

        let link = directory.file("link.pdf")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)
        #expect(Self.refusal { _ = try PrivateFile.read(link, limit: 16) }?.message == "\(link) is a symbolic link; give the file itself")

        let fifo = directory.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(Self.refusal { _ = try PrivateFile.read(fifo, limit: 16) }?.message == "\(fifo) is not a regular file")
        #expect(Self.refusal { _ = try PrivateFile.read(directory.path, limit: 16) }?.kind == .refused)

        for pseudo in ["/proc/self/environ", "/proc/self/status", "/sys/kernel/mm/transparent_hugepage/enabled"] where FileManager.default.isReadableFile(atPath: pseudo) {
            #expect(Self.refusal { _ = try PrivateFile.read(pseudo, limit: 1 << 20) }?.message == "\(pseudo) is on /proc or /sys (a pseudo filesystem), not a document")
        }
        #expect(Self.refusal { _ = try PrivateFile.read(file, limit: 15) }?.message == "\(file) is larger than 15 bytes")
        #expect(Self.refusal { _ = try PrivateFile.read(directory.file("missing"), limit: 15) }?.kind == .notFound)
    }

    @Test("the document store keeps 0600 files in a 0700 directory, tightens a looser one, and stores nothing for an uncommitted stage")
    func documentStore() throws {
        let directory = try Directory()
        let store = DocumentStore(filesDirectory: directory.path)
        let content = Data("%PDF-1.4 scan".utf8)
        let staged = try store.stage(content)
        #expect(staged.digest == DocumentStore.digest(of: content))
        staged.output.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory.path).isEmpty)

        let digest = try store.store(content)
        let path = try #require(store.path(digest: digest))
        #expect(Self.mode(store.directory.path) == 0o700)
        #expect(Self.mode(path) == 0o600)
        #expect(FileManager.default.contents(atPath: path) == content)

        #expect(chmod(store.directory.path, 0o755) == 0)
        #expect(try store.store(content) == digest)
        #expect(Self.mode(store.directory.path) == 0o700)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory.path) == [digest])

        // A documents/ that is a link elsewhere is refused rather than written through.
        let elsewhere = directory.file("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
        let linked = DocumentStore(filesDirectory: directory.file("linked"))
        try FileManager.default.createDirectory(atPath: directory.file("linked"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: directory.file("linked/documents"), withDestinationPath: elsewhere)
        #expect(Self.refusal { try linked.store(content) }?.kind == .refused)
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
    }

    @Test("a path splits at its last slash, a one-character bare name included (NSString traps on it on Linux)")
    func split() {
        #expect(PrivateFile.split("c") == ("", "c"))
        #expect(PrivateFile.split("/c") == ("/", "c"))
        #expect(PrivateFile.split("state/forward.cursor") == ("state/", "forward.cursor"))
    }

    @Test("writes are 0600 (or the mode asked), never through a link, and replace only a regular file; .refuse keeps an existing file")
    func write() throws {
        let directory = try Directory()
        let out = directory.file("export.csv")
        try PrivateFile.write(Data("one".utf8), to: out, existing: .replaceRegularFile)
        #expect(Self.mode(out) == 0o600)
        #expect(chmod(out, 0o644) == 0)
        try PrivateFile.write(Data("two".utf8), to: out, existing: .replaceRegularFile)
        #expect(FileManager.default.contents(atPath: out) == Data("two".utf8))
        #expect(Self.mode(out) == 0o600)

        let victim = directory.file("victim")
        try Data("keep".utf8).write(to: URL(fileURLWithPath: victim))
        let link = directory.file("link.csv")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        for existing in [PrivateFile.Existing.replaceRegularFile, .refuse] {
            #expect(Self.refusal { try PrivateFile.write(Data("x".utf8), to: link, existing: existing) }?.message == "\(link) is a symbolic link; give the file itself")
        }
        let dangling = directory.file("dangling.key")
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: directory.file("created-through-link"))
        #expect(Self.refusal { try PrivateFile.write(Data("x".utf8), to: dangling, existing: .refuse) }?.kind == .refused)
        #expect(!FileManager.default.fileExists(atPath: directory.file("created-through-link")))
        #expect(FileManager.default.contents(atPath: victim) == Data("keep".utf8))

        #expect(Self.refusal { try PrivateFile.write(Data("x".utf8), to: out, existing: .refuse) }?.message == "\(out) already exists; it is not overwritten (give a new file name)")
        #expect(FileManager.default.contents(atPath: out) == Data("two".utf8))
        let fifo = directory.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(Self.refusal { try PrivateFile.write(Data("x".utf8), to: fifo, existing: .replaceRegularFile) }?.message == "\(fifo) is not a regular file")

        let pub = directory.file("verifier.pub")
        try PrivateFile.write(Data("public".utf8), to: pub, mode: 0o644, existing: .refuse)
        #expect(Self.mode(pub) == 0o644)

        // A link placed while the output was being written is refused at commit, and the output is not left behind.
        let late = directory.file("late.csv")
        let output = try PrivateFile.Output(path: late, existing: .replaceRegularFile)
        try output.write(Data("rows".utf8))
        try FileManager.default.createSymbolicLink(atPath: late, withDestinationPath: victim)
        #expect(Self.refusal { try output.commit() }?.kind == .refused)
        #expect(FileManager.default.contents(atPath: victim) == Data("keep".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).allSatisfy { !$0.hasSuffix(".tmp") })
    }

    /// A copy of the log must not fill the disk the log is on: an output with a floor stops short of it, and leaves
    /// nothing behind. (A floor of the whole filesystem is never met; one of nothing always is.)
    @Test("an output with a free-space floor refuses the write that would pass it, and is removed")
    func freeSpaceFloor() throws {
        let directory = try Directory()
        let leftNothing = { try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty }

        let export = directory.file("export.csv")
        let full = try PrivateFile.Output(path: export, existing: .refuse, keepingFree: .init(share: 1, minimumBytes: 0))
        let refusal = Self.refusal { try full.write(Data("seq,time\n".utf8)) }
        #expect(refusal?.kind == .refused && refusal?.description.contains("MiB free") == true, "\(String(describing: refusal))")
        #expect(Self.refusal { try full.commit() } != nil, "a refused output is closed")
        #expect(try leftNothing())

        let backup = try PrivateFile.Output(path: directory.file("store.backup"), existing: .refuse, keepingFree: .init(share: 0, minimumBytes: 0))
        #expect(Self.refusal { try backup.checkFreeSpace(needing: .max) }?.kind == .refused, "a copy larger than the free space")
        #expect(try leftNothing())

        let report = directory.file("report.md")
        let room = try PrivateFile.Output(path: report, existing: .refuse, keepingFree: .init(share: 0, minimumBytes: 0))
        for _ in 0..<3 { try room.write(Data(repeating: 0x2e, count: PrivateFile.Output.freeSpaceCheckBytes)) }
        try room.commit()
        #expect(FileManager.default.contents(atPath: report)?.count == 3 * PrivateFile.Output.freeSpaceCheckBytes)
    }

    @Test("a new directory is created 0700 with its missing parents; an existing one is left as it is unless tightened")
    func directories() throws {
        let directory = try Directory()
        let nested = directory.file("a/b/c")
        try PrivateFile.makeDirectory(nested)
        for path in [directory.file("a"), directory.file("a/b"), nested] { #expect(Self.mode(path) == 0o700) }
        let shared = directory.file("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        try PrivateFile.makeDirectory(shared)
        #expect(Self.mode(shared) == 0o755)
        try PrivateFile.makeDirectory(shared, tighten: true)
        #expect(Self.mode(shared) == 0o700)
    }

    @Test("a database opened for the first time is created 0600, in a new directory of 0700")
    func database() throws {
        let directory = try Directory()
        let path = directory.file("data/log.sqlite")
        let pool = try StoreDatabase.openPool(path: path)
        try pool.close()
        #expect(Self.mode(directory.file("data")) == 0o700)
        #expect(Self.mode(path) == 0o600)
    }
}

@Suite("Archives and keys are new owner-only files")
struct PrivateArchiveTests {
    @Test("an archive is written 0600 and never over an existing file, which keeps its entries")
    func archiveFile() throws {
        let database = try TemporaryDatabase()
        let key = LogSigningKey(name: "test/log")
        let registry = Registry(database: SQLiteDatabase(pool: database.pool), timeZone: .gmt)
        for index in 0..<3 { try registry.recordAdminAction("test.before", target: "t\(index)", details: [:], operator: "test") }
        try Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name).sign()
        let cutoff = Date().addingTimeInterval(1)

        let existing = database.directory.appendingPathComponent("old.archive").path
        try Data("an earlier archive\n".utf8).write(to: URL(fileURLWithPath: existing))
        #expect(throws: PrivateFileError.self) {
            try LogArchive.archive(database: SQLiteDatabase(pool: database.pool), before: cutoff, key: key, path: existing, operator: "test")
        }
        #expect(FileManager.default.contents(atPath: existing) == Data("an earlier archive\n".utf8))
        #expect(try database.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM log") } == 3)

        let path = database.directory.appendingPathComponent("new.archive").path
        #expect(try LogArchive.archive(database: SQLiteDatabase(pool: database.pool), before: cutoff, key: key, path: path, operator: "test") == 3)
        var status = Glibc.stat()
        #expect(lstat(path, &status) == 0 && status.st_mode & 0o7777 == 0o600)
        #expect(try LogVerifier(key: key.verifier).verify(database: SQLiteDatabase(pool: database.pool), archives: [path], against: nil).ok)
    }

    @Test("init-key's files: the signing key 0600, the verifier key 0644, neither over an existing file or link")
    func keyFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = LogKeyFiles(privatePath: "\(directory)/keys/log-signing.key")
        try files.create(name: "test/log")
        var status = Glibc.stat()
        #expect(lstat(files.privatePath, &status) == 0 && status.st_mode & 0o7777 == 0o600)
        #expect(lstat(files.publicPath, &status) == 0 && status.st_mode & 0o7777 == 0o644)
        #expect(lstat("\(directory)/keys", &status) == 0 && status.st_mode & 0o7777 == 0o700)

        let other = LogKeyFiles(privatePath: "\(directory)/other.key")
        try FileManager.default.createSymbolicLink(atPath: other.publicPath, withDestinationPath: "\(directory)/through-link")
        #expect(throws: PrivateFileError.self) { try other.create(name: "test/other") }
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/through-link"))
        #expect(lstat(other.privatePath, &status) != 0)
    }
}
