import ArgumentParser
import Foundation
import Logging
import WarrantGateCore
import WarrantGateServer
import WarrantGateStore

/// `forward`: sends the decision log to other systems.
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward", abstract: "Send the decision log to other systems.", subcommands: [Syslog.self]
    )

    struct Syslog: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send every log entry, in order, to a SIEM as RFC 5424 syslog over RELP, resuming where it stopped.",
            discussion: """
                Reads the durable log by sequence number and keeps, in the --state file, the last entry the receiver
                acknowledged. After a restart, or while the receiver is away, it resumes after that entry: nothing is
                dropped and nothing is buffered but a window of 128 entries. Entries around an outage may arrive twice;
                each carries seq="N" in its structured data, by which the receiver drops duplicates. The receiver is
                rsyslog's imrelp (or anything that speaks RELP); see docs/operations.md.

                Runs until SIGTERM or Ctrl-C (exit 0, cursor saved); with --once, until everything in the log when it
                started is acknowledged.

                Examples: warrant-gate forward syslog --db /var/lib/warrant-gate/warrant-gate.sqlite --to siem.county.example:2514 --tls --ca /etc/warrant-gate/siem-ca.pem
                          warrant-gate forward syslog --to 127.0.0.1:2514 --once

                To a receiver not at a loopback address, --tls is required unless --plaintext says otherwise.
                """
        )
        @OptionGroup var admin: AdminOptions
        @Option(help: "The receiver, HOST:PORT (IPv6 as [ADDRESS]:PORT).") var to: String
        @Flag(help: "Use TLS (the receiver's certificate must name HOST and chain to --ca or the system's trust store).") var tls = false
        @Flag(help: "Send in the clear to a receiver not at a loopback address: entries, which name inmates, cross the network readable, and anyone on the path can acknowledge them in the receiver's place.")
        var plaintext = false
        @Option(help: "With --tls: the CA that signed the receiver's certificate.") var ca: String?
        @Option(help: "With --tls: this forwarder's certificate, for a receiver that asks for one.") var cert: String?
        @Option(help: "With --tls and --cert: its private key.") var key: String?
        @Option(help: "The cursor file (default: forward-HOST-PORT.cursor in the files directory, beside a SQLite database).") var state: String?
        @Option(help: "Without a cursor file: `beginning`, `end`, or the first sequence number to send.") var startAt: String = "beginning"
        @Flag(help: "Stop once every entry in the log at start is acknowledged.") var once = false
        @Option(help: "The host name in each message's header (default: this machine's).") var hostname: String?
        @Option(help: "Operational logs: `json` (JSON Lines on standard output) or `text` (standard error).") var logFormat: LogFormat = .json

        func run() async throws {
            OperationalLogging.bootstrap(logFormat)
            let logger = Logger(label: "warrant-gate.forward")
            guard tls || (ca == nil && cert == nil && key == nil) else { throw CLIError(.usage, "--ca, --cert and --key need --tls") }
            let files = try tls ? SyslogTLSFiles(ca: Self.read(ca, "--ca"), certificate: Self.read(cert, "--cert"), key: Self.read(key, "--key")) : nil
            let destination: SyslogDestination
            do {
                destination = try SyslogDestination(parsing: to, tls: files)
            } catch {
                throw CLIError(.usage, "\(error)")
            }
            guard !(tls && plaintext) else { throw CLIError(.usage, "--tls and --plaintext contradict each other") }
            if !tls && !destination.isLoopbackAddress {
                guard plaintext else {
                    throw CLIError(.usage, "\(destination.name) is not a loopback address: give --tls (and --ca), or --plaintext to send the log in the clear")
                }
                logger.warning("forwarding to \(destination.name) in the clear (--plaintext): the entries can be read on the way, and acknowledged by anyone on the path")
            }
            if tls && ca == nil {
                logger.warning("--tls without --ca: any certificate authority this machine trusts can vouch for \(destination.host); give --ca the CA that issued the receiver's certificate")
            }
            let location = try admin.location()
            var options = try admin.database.options(for: location)
            // A SQLite log is read only, unless an operator runs this through sudo: the log then records the run.
            options.readonly = location.sqlitePath != nil && SudoInvocation.current == nil
            let store = try await BlockingWork.run { [options] in try storeCall { try Store.open(location, options: options) } }
            defer { store.close() }
            let last = try await BlockingWork.run { try storeCall { try store.lastSeq() } }
            let start: Int64
            switch startAt {
            case "beginning": start = 0
            case "end": start = last
            default:
                guard let first = Int64(startAt), first >= 1 else { throw CLIError(.usage, "--start-at takes beginning, end or a sequence number ≥ 1") }
                start = first - 1
                guard start <= last else { throw CLIError(.usage, "--start-at \(first) is past the log's end (its last entry is seq \(last))") }
            }
            let cursorPath = state ?? "\(location.filesDirectory)/forward-\(destination.host)-\(destination.port).cursor"
            if let sudo = SudoInvocation.current, let state {
                // The cursor is replaced by a rename as the service account: through a directory the operator could swap
                // for a link, or by a name of their choosing, it would land on the store's database or the signing key.
                guard URL(fileURLWithPath: state).lastPathComponent.hasSuffix(".cursor") else {
                    throw CLIError(.refused, "run through sudo, --state must name a file ending in .cursor")
                }
                try sudo.checkTrustedPath(state, what: "--state")
                // An existing cursor must be the service's own and no other file's name as well (a hard link).
                var status = stat()
                if lstat(state, &status) == 0, (status.st_uid != geteuid() && status.st_uid != 0) || status.st_nlink != 1 {
                    throw CLIError(.refused, "run through sudo, --state may not name a file another account owns, or one with another name (a hard link)")
                }
            }
            let settings = SyslogForwarderSettings(hostname: hostname ?? ProcessInfo.processInfo.hostName)
            if SudoInvocation.current != nil {
                // An operator, not the service's forwarder, sends the log to a receiver of their choosing: the log
                // says who sent it where before anything is sent, as it says who exported it.
                let (operatorName, name) = (admin.operatorName, destination.name)
                try await BlockingWork.run {
                    try storeCall {
                        try store.registry(timeZone: .gmt).recordAdminAction(
                            "log.forward", target: "log", details: ["to": name, "start-at": startAt, "cursor": cursorPath], operator: operatorName
                        )
                    }
                }
            }
            let forwarder = SyslogForwarder(store: store, destination: destination, cursorPath: cursorPath, settings: settings, logger: logger)
            do {
                let cursor = try await forwarder.runUntilSignalled(start: start, through: once ? last : nil)
                logger.notice("stopped; \(destination.name) has acknowledged every entry through seq \(cursor.seq) (cursor \(cursorPath))")
            } catch let error as ForwardingError {
                throw CLIError(.failure, error.description)
            } catch let error as StoreError {
                throw CLIError(.failure, error.description)
            }
        }

        /// A TLS file's contents, read once, for NIOSSL to load from memory: under sudo from the very file checked
        /// (``SudoInvocation/readInput(_:what:limit:read:)``), so that the service's own key is not lent to a
        /// connection of the operator's.
        private static func read(_ path: String?, _ what: String) throws -> [UInt8]? {
            try path.map { path in
                [UInt8](try SudoInvocation.readInput(path, what: what, limit: YAMLNode.maximumFileSize) { path in
                    do { return Data(try YAMLNode.readText(path: path, what: "TLS file").utf8) } catch {
                        throw CLIError(.usage, "cannot load the TLS files: \(error)")
                    }
                })
            }
        }
    }
}
