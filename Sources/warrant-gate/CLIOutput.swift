import Foundation
import WarrantGateCore
import WarrantGateStore

/// Standard output, or a file written through ``PrivateFile/Output`` (0600, in place only once complete), in large
/// chunks.
final class Sink {
    private let output: PrivateFile.Output?
    private var buffer = Data()

    /// Refuses a path where anything exists: one mistyped --out must not replace the database, the signing key, an
    /// archive or a backup. A file stops short of its filesystem's ``PrivateFile/FreeSpaceFloor/copies``.
    init(path: String?) throws {
        output = try path.map { path in try storeCall { try PrivateFile.Output(path: path, existing: .refuse, keepingFree: .copies) } }
    }

    func write(_ line: String) throws {
        buffer.append(contentsOf: line.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    /// Flushes, and puts a file in place; a file never closed is not written at all.
    func close() throws {
        try flush()
        if let output { try storeCall { try output.commit() } }
    }

    private func flush() throws {
        if let output {
            try storeCall { try output.write(buffer) }
        } else {
            try flushStandardOutput()
            do {
                try FileHandle.standardOutput.write(contentsOf: buffer)
            } catch {
                throw CLIError(.failure, "cannot write standard output: \(error.localizedDescription)")
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// A one-line progress bar on standard error: rows done, total, rate and ETA. Silent when disabled.
final class ProgressBar {
    private let enabled: Bool
    private let total: Int
    private let started = Date()
    private var lastDrawn = Date.distantPast

    init(enabled: Bool, total: Int) {
        self.enabled = enabled
        self.total = total
    }

    func update(_ done: Int) {
        guard enabled, Date().timeIntervalSince(lastDrawn) > 0.1 || done == total else { return }
        lastDrawn = Date()
        let elapsed = max(Date().timeIntervalSince(started), 0.001)
        let rate = Double(done) / elapsed
        let eta = rate > 0 ? Double(max(total - done, 0)) / rate : 0
        let width = 30
        let filled = total > 0 ? min(width, width * done / total) : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        FileHandle.standardError.write(Data("\r\(bar) \(done)/\(total) rows  \(Int(rate))/s  ETA \(Int(eta.rounded()))s ".utf8))
    }

    func finish() {
        guard enabled else { return }
        update(total)
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

/// Writes a warning to standard error, each line escaped (``TerminalText``).
func warn(_ text: String) {
    FileHandle.standardError.write(Data("warning: \(TerminalText.escapedLines(text))\n".utf8))
}

/// The agency directory a command reads: `given`, which must exist, else `fallback` (`policies/agencies.yaml` beside
/// the working directory unless said), which may not (the command then says what it could not check).
func agencyDirectoryPath(_ given: String?, fallback: String = "policies/agencies.yaml") throws -> String {
    guard let given else { return fallback }
    guard FileManager.default.fileExists(atPath: given) else { throw CLIError(.notFound, "--agencies \(given) does not exist") }
    return given
}

/// The agencies the directory file at `path` lists (without its authorities), or nil if there is none. Under sudo it is
/// read as the operator may read it (``SudoInvocation/opener(what:)``), and is none only where opening it finds nothing.
func agencyListing(_ path: String) throws -> [Agency]? {
    guard SudoInvocation.current != nil else {
        return FileManager.default.fileExists(atPath: path) ? try AgencyDirectoryFile.listing(path: path) : nil
    }
    do {
        return try AgencyDirectoryFile.listing(path: path, open: SudoInvocation.opener(what: "--agencies"))
    } catch let error as CLIError where error.code == .notFound {
        return nil
    }
}
