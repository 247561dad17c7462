import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateServer

/// The process entry point. Swift Concurrency's tasks are moved onto the server's NIO event loops before any task
/// starts, so a request handler runs on the thread that does its I/O instead of hopping to a second thread pool.
@main
enum WarrantGateMain {
    static func main() {
        WarrantGateCommand.report {
            try ProcessInspection.forbid()
            try checkArguments()
            try SudoInvocation.checkEnvironment()
        }
        // The admin commands are synchronous: they run here, on the main thread, which no event loop runs, so that
        // their store calls may wait for a PostgreSQL server.
        if let command = try? WarrantGateCommand.parseAsRoot(), !(command is any AsyncParsableCommand) {
            WarrantGateCommand.report {
                var command = command
                try command.run()
                try flushStandardOutput()
            }
            return
        }
        EventLoopExecutor.install()
        let finished = DispatchSemaphore(value: 0)
        // Detached: the entry point is main-actor code, and the main thread only waits here.
        Task.detached {
            await WarrantGateCommand.execute()
            finished.signal()
        }
        finished.wait()
    }
}

/// `warrant-gate`: the gateway, its demo, and the admin CLI for the legal unit and auditors.
struct WarrantGateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warrant-gate",
        abstract: "A warrant-gated, mutual-TLS access-control gateway for county jails.",
        discussion: """
            Exit codes: 0 success, 1 failure, 2 usage error, 3 refused (a rule forbids it), 4 not found.

            Start here: `warrant-gate demo`, then follow the curl commands it prints.
            """,
        subcommands: [
            DemoCommand.self, ServeCommand.self, WarrantCommand.self, AdvisementCommand.self, ConsentCommand.self, AuthorizationCommand.self,
            SubjectCommand.self, AgencyCommand.self, SettingsCommand.self, LogCommand.self, ReportCommand.self, PolicyCommand.self, StoreCommand.self,
            ForwardCommand.self, BackupCommand.self, RestoreCommand.self,
        ]
    )

    /// Runs the command and maps errors to the documented exit codes.
    static func execute() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            try flushStandardOutput()
        } catch {
            fail(error)
        }
    }

    /// Runs a synchronous command and maps errors to the documented exit codes.
    static func report(_ body: () throws -> Void) {
        do { try body() } catch { fail(error) }
    }

    /// Prints the error and exits with its code.
    private static func fail(_ error: any Error) -> Never {
        switch error {
        case let error as CLIError:
            // What the command printed comes first, and ends its line, before the error.
            fflush(nil)
            // A message may quote a file, a database or a policy: none of it may drive the terminal.
            FileHandle.standardError.write(Data("error: \(TerminalText.escapedLines(error.message))\n".utf8))
            Foundation.exit(error.code.rawValue)
        default:
            fflush(nil)
            let code = exitCode(for: error)
            // Help and version requests print as ArgumentParser prints them; any other error may quote a file
            // (a policy's or agency directory's parse error), so it is escaped as a CLIError's message is.
            guard code != .success else { exit(withError: error) }
            let message = fullMessage(for: error)
            if !message.isEmpty { FileHandle.standardError.write(Data((TerminalText.escapedLines(message) + "\n").utf8)) }
            Foundation.exit(code == .validationFailure ? CLIError.Code.usage.rawValue : code.rawValue)
        }
    }
}
