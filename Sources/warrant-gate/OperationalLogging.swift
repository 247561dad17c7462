import ArgumentParser
import Logging
import WarrantGateServer

/// How a long-running command writes its operational logs (not the decision log).
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    /// JSON Lines on standard output, for journald and log shippers.
    case json
    /// swift-log's plain lines on standard error, for a person at a terminal, control characters escaped.
    case text
}

enum OperationalLogging {
    /// Sends every logger of the process to `format`'s output. Call once, before the first logger is made.
    static func bootstrap(_ format: LogFormat) {
        switch format {
        case .json: LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
        case .text: LoggingSystem.bootstrap { label in TerminalLogHandler(label: label) }
        }
    }
}
