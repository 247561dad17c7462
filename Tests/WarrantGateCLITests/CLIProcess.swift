import Foundation
import Synchronization

/// Runs the built `warrant-gate` executable as a separate process, as an operator would.
struct CLIProcess {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The executable that `swift build` put beside the test bundle.
    static var executable: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("warrant-gate")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return Repository.root.appendingPathComponent(".build/debug/warrant-gate")
    }

    /// Runs to the end; with `timeout`, a process still running after that many seconds is killed (and its status
    /// is then the signal's, never 0–4).
    static func run(
        _ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil, timeout: TimeInterval? = nil, output: FileHandle? = nil
    ) throws -> Result {
        try run(executable, arguments, environment: environment, in: directory, timeout: timeout, output: output)
    }

    /// `--terms` and the fingerprint `warrant show` prints for `reference`'s terms: what an approver who reviewed them
    /// gives `warrant approve`.
    static func terms(of reference: String, _ database: [String]) throws -> [String] {
        let shown = try run(["warrant", "show", reference] + database)
        let line = shown.stdout.split(separator: "\n").first { $0.hasPrefix("terms:") }
        guard let fingerprint = line?.split(separator: " ").dropFirst().first else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "no terms for \(reference): \(shown.stderr)"])
        }
        return ["--terms", String(fingerprint)]
    }

    /// Runs `program` to the end, reading its standard output and error at once, so that one that writes a lot to
    /// either never blocks on it. Given `output`, standard output goes there instead, and reads as empty.
    static func run(
        _ program: URL, _ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil, timeout: TimeInterval? = nil,
        output: FileHandle? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        // Not run through sudo unless a test says so: the CLI then works only on the installed gateway's store.
        let inherited = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SUDO_") }
        process.environment = inherited.merging(environment) { _, new in new }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = output ?? out
        process.standardError = err
        try process.run()
        if output != nil { try out.fileHandleForWriting.close() }
        if let timeout {
            let running = process
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { if running.isRunning { kill(running.processIdentifier, SIGKILL) } }
        }
        let stderr = Mutex(Data())
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            stderr.withLock { $0 = data }
            drained.signal()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr.withLock { $0 }, as: UTF8.self)
        )
    }
}

/// A long-running process's standard output and error, read as they come, so that a process that writes a lot never
/// blocks on a full pipe.
final class ProcessOutput: Sendable {
    private let pipe = Pipe()
    private let written = Mutex("")

    /// What the process has written so far.
    var text: String { written.withLock { $0 } }

    /// Sends `process`'s standard output and error here; call before running it.
    func collect(from process: Process) {
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let chunk = handle.availableData
            if chunk.isEmpty { handle.readabilityHandler = nil } else { written.withLock { $0 += String(decoding: chunk, as: UTF8.self) } }
        }
    }

    /// Waits, at most `seconds`, until everything the process wrote has been read (once it has exited).
    func waitUntilRead(within seconds: TimeInterval = 5) {
        let deadline = Date().addingTimeInterval(seconds)
        while pipe.fileHandleForReading.readabilityHandler != nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    }
}

enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// A fresh temporary directory, removed at the end.
final class Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("wg-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    var db: String { url.appendingPathComponent("log.sqlite").path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Runs curl to the end.
enum Curl {
    /// curl's exit status and what it wrote to standard output.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
