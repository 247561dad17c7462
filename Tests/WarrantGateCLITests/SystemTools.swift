import Foundation
import Synchronization

/// The system programs the packaging tests run (systemd's, dpkg's), found on the PATH or in the usual directories.
///
/// A test that needs them runs when they are installed, and always under `CI=true`, so that CI fails rather than
/// skips when `.ci/run` did not install them (Debian's `systemd` and `dpkg-dev`).
enum SystemTool {
    static func path(_ name: String) -> String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether tests needing `names` should run: all are installed, or this is CI.
    static func enabled(_ names: String...) -> Bool {
        names.allSatisfy { path($0) != nil } || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    /// Runs `executable` (a path, or a name looked up with ``path(_:)``) to its end.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil
    ) throws -> CLIProcess.Result {
        guard let resolved = executable.hasPrefix("/") ? executable : path(executable) else {
            throw CocoaError(.executableNotLoadable, userInfo: [NSLocalizedDescriptionKey: "\(executable) is not installed"])
        }
        return try CLIProcess.run(URL(fileURLWithPath: resolved), arguments, environment: environment, in: directory)
    }
}

/// Now on `CLOCK_MONOTONIC`, in microseconds: the clock systemd reads `MONOTONIC_USEC` on.
func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
}

extension SystemTool {
    /// Runs `sql` on the SQLite file `db` with the append-only `triggers` dropped, then made again from their own text:
    /// an editor who leaves the schema as they found it, which a store's schema check does not catch.
    static func editBehindTriggers(_ db: String, _ triggers: [String], _ sql: String) throws -> CLIProcess.Result {
        let names = triggers.map { "'\($0)'" }.joined(separator: ", ")
        let definitions = try run("sqlite3", [db, "SELECT sql || ';' FROM sqlite_schema WHERE type = 'trigger' AND name IN (\(names))"])
        guard definitions.status == 0 else { return definitions }
        let drops = triggers.map { "DROP TRIGGER \($0);" }.joined(separator: "\n")
        return try run("sqlite3", [db, drops + "\n" + sql + "\n" + definitions.stdout])
    }
}
