import ArgumentParser
import Foundation
import WarrantGateStore

extension ExportFormat: ExpressibleByArgument {}

/// `log …`: the decision log, for auditors.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "Export the decision log and read shadow-mode disagreements.", subcommands: [Export.self, ShadowDiff.self]
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

extension LogCommand {
    struct ShadowDiff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "shadow-diff",
            abstract: "Summarise where the shadow (candidate) policy decided differently from the live one.",
            discussion: "Run it before switching policy versions. Example: warrant-gate log shadow-diff --db /var/lib/warrant-gate/warrant-gate.sqlite"
        )
        @OptionGroup var admin: AdminOptions
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() throws {
            let records = try storeCall { try LogExporter(reader: admin.open()).shadowRecords() }
            struct Group: Encodable {
                let live: String
                let shadow: String
                let count: Int
                let agencies: [String]
                let actions: [String]
                let examples: [String]
            }
            let grouped = Dictionary(grouping: records) { "\($0.liveEffect.rawValue) (\($0.liveReason))\u{0}\($0.shadowEffect.rawValue) (\($0.shadowReason))" }
            let groups = grouped.map { key, members in
                let parts = key.split(separator: "\u{0}").map(String.init)
                return Group(
                    live: parts[0], shadow: parts[1], count: members.count, agencies: Array(Set(members.map(\.agency))).sorted(),
                    actions: Array(Set(members.map(\.action))).sorted(), examples: members.prefix(3).map(\.decisionId)
                )
            }.sorted { $0.count > $1.count }
            if json { return try printJSON(groups) }
            guard let first = records.first else { return print("no disagreements: the shadow policy decided every logged request as the live one did") }
            let loosens = records.filter { $0.liveEffect == .deny && $0.shadowEffect == .allow }.count
            let tightens = records.filter { $0.liveEffect == .allow && $0.shadowEffect == .deny }.count
            print("\(records.count) disagreements with shadow policy \(first.shadowPolicy) (digest \(first.shadowDigest.prefix(16))): \(loosens) would newly allow, \(tightens) would newly deny")
            print(Table.render(
                header: ["COUNT", "LIVE", "SHADOW", "AGENCIES", "ACTIONS", "EXAMPLE DECISIONS"],
                rows: groups.map { [String($0.count), $0.live, $0.shadow, $0.agencies.joined(separator: ","), $0.actions.joined(separator: ","), $0.examples.joined(separator: " ")] }
            ))
        }
    }
}
