import ArgumentParser
import Foundation
import WarrantGateStore

extension ExportFormat: ExpressibleByArgument {}

/// `log …`: the decision log, for auditors.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "Export the decision log.", subcommands: [Export.self]
    )

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export every decision, with its outcome joined, oldest first.",
            discussion: """
                CSV or JSON Lines. JSON keys: decisionId, time, agency, category, certificateSPKI, method, path, action,
                subject, warrantReference, effect, reason, rules, obligations, policyDigest, status, upstreamStatus,
                redactedFields, bytes, latencyMs, error. The export itself is recorded in the log.

                Example: warrant-gate log export --format jsonl --out decisions.jsonl
                """
        )
        @OptionGroup var admin: AdminOptions
        @Option(help: "csv or jsonl.") var format: ExportFormat = .jsonl
        @Option(help: "Write to this file instead of standard output.") var out: String?

        func run() throws {
            let pool = try admin.open()
            let registry = Registry(writer: pool, timeZone: .gmt)
            let sink: FileHandle
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: nil), let handle = FileHandle(forWritingAtPath: out) else {
                    throw CLIError(.failure, "cannot write \(out)")
                }
                sink = handle
            } else {
                sink = FileHandle.standardOutput
            }
            var buffer = Data()
            let count = try storeCall {
                let count = try LogExporter(reader: pool).export(format: format) { line in
                    buffer.append(contentsOf: line.utf8)
                    if buffer.count >= 1 << 16 {
                        sink.write(buffer)
                        buffer.removeAll(keepingCapacity: true)
                    }
                }
                sink.write(buffer)
                return count
            }
            try storeCall {
                try registry.recordAdminAction("log.export", target: "log", details: ["format": format.rawValue, "rows": String(count), "out": out ?? "stdout"], operator: admin.operatorName)
            }
            if let out {
                try sink.close()
                print("exported \(count) decisions to \(out)")
            }
        }
    }
}
