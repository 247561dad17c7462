import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateStore

extension LogCommand {
    struct ShadowDiff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "shadow-diff",
            abstract: "Summarise where the shadow (candidate) policy decided differently from the live one.",
            discussion: "Run it before switching policy versions. Example: warrant-gate log shadow-diff --db /var/lib/warrant-gate/warrant-gate.sqlite"
        )
        @OptionGroup var admin: AdminOptions
        @Option(help: "The shadow policy to show, by the beginning of its digest (default: the one that disagreed last).") var digest: String?
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() throws {
            let store = try LogCommand.openForReading(admin, keyFiles: LogKeyFiles(filesDirectory: try admin.location().filesDirectory)).store
            let versions = ShadowPolicyVersion.versions(of: try storeCall { try store.exporter().shadowRecords() })
            let shown: ShadowPolicyVersion?
            if let digest {
                guard let found = ShadowPolicyVersion.version(in: versions, digestPrefix: digest) else {
                    throw ValidationError("--digest \(digest): no shadow policy, or more than one, with disagreements in the log has a digest that begins so")
                }
                shown = found
            } else {
                shown = versions.first
            }
            let records = shown?.records ?? []
            let groups = ShadowDisagreementGroup.groups(of: records)
            let others = versions.filter { $0.digest != shown?.digest }
            if json {
                return try printJSON(ShadowDiffSummary(
                    shadowPolicy: shown?.name, shadowDigest: shown?.digest, groups: groups,
                    otherPolicies: others.map { .init(name: $0.name, digest: $0.digest, disagreements: $0.records.count, last: $0.records.last!.time) }
                ))
            }
            guard let shown else { return print("no disagreements: every shadow policy decided every logged request as the live one did") }
            let loosens = records.filter(\.shadowReturnsMore).count
            let tightens = records.filter { $0.liveEffect == .allow && $0.shadowEffect == .deny }.count
            // The log's rows are printed as the database holds them, which whoever can write it may have chosen.
            print(TerminalText.escapedLines(
                "\(records.count) disagreements with shadow policy \(shown.name) (digest \(shown.digest.prefix(16))): "
                    + "\(loosens) would newly allow or return more, \(tightens) would newly deny"
            ))
            print(TerminalText.escapedLines(Table.render(
                header: ["COUNT", "LIVE", "SHADOW", "AGENCIES", "ACTIONS", "EXAMPLE DECISIONS"],
                rows: groups.map { [String($0.count), $0.live, $0.shadow, $0.agencies.joined(separator: ","), $0.actions.joined(separator: ","), $0.examples.joined(separator: " ")] }
            )))
            // Other candidates' disagreements are theirs, not this one's: named, not counted in.
            if !others.isEmpty {
                print("other shadow policies with disagreements in the log (--digest to show one):")
                for other in others {
                    print(TerminalText.escapedLines("  \(other.digest.prefix(16))  \(other.name): \(other.records.count), the last at \(other.records.last!.time)"))
                }
            }
        }
    }
}

/// What `shadow-diff --json` prints: the candidate shown (none when no disagreement is logged), its disagreements by
/// outcome, and the other candidates with disagreements in the log.
struct ShadowDiffSummary: Encodable {
    let shadowPolicy: String?
    let shadowDigest: String?
    let groups: [ShadowDisagreementGroup]
    let otherPolicies: [OtherPolicy]

    struct OtherPolicy: Encodable {
        let name: String
        let digest: String
        let disagreements: Int
        /// The time its latest disagreement states.
        let last: String
    }
}

/// The shadow policy's disagreements with the live one that share both outcomes (effect and reason, for two allows
/// what each returns, and the obligations each records where they differ), most frequent first, then by outcome.
struct ShadowDisagreementGroup: Encodable {
    /// The live outcome, such as `deny (warrant_missing)` or `allow (police-records); redacts citizenship`.
    let live: String
    /// The shadow policy's outcome.
    let shadow: String
    let count: Int
    let agencies: [String]
    let actions: [String]
    /// Up to three decision ids, in log order.
    let examples: [String]

    static func groups(of records: [ShadowRecord]) -> [ShadowDisagreementGroup] {
        struct Outcomes: Hashable {
            let live: String
            let shadow: String
        }
        let grouped = Dictionary(grouping: records) { record in
            let returns = { (returns: ShadowRecord.Returns?) in returns.map { "; " + $0.summary } ?? "" }
            let records = { (obligations: [String]?) in
                obligations.map { "; records " + ($0.isEmpty ? "no obligation" : $0.joined(separator: ", ")) } ?? ""
            }
            return Outcomes(
                live: "\(record.liveEffect.rawValue) (\(record.liveReason))" + returns(record.liveReturns) + records(record.liveObligations),
                shadow: "\(record.shadowEffect.rawValue) (\(record.shadowReason))" + returns(record.shadowReturns) + records(record.shadowObligations)
            )
        }
        return grouped.map { outcomes, members in
            ShadowDisagreementGroup(
                live: outcomes.live, shadow: outcomes.shadow, count: members.count, agencies: Array(Set(members.map(\.agency))).sorted(),
                actions: Array(Set(members.map(\.action))).sorted(), examples: members.prefix(3).map(\.decisionId)
            )
        }.sorted { $0.count != $1.count ? $0.count > $1.count : ($0.live, $0.shadow) < ($1.live, $1.shadow) }
    }
}
