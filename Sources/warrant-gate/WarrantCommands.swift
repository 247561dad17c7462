import ArgumentParser
import Crypto
import Foundation
import WarrantGateCore
import WarrantGateStore

extension DocumentKind: ExpressibleByArgument {}

/// `warrant …`: the registry of judicial warrants and of ICE forms kept on record.
struct WarrantCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warrant",
        abstract: "Register, list, show and revoke warrants and other documents.",
        subcommands: [Register.self, List.self, Show.self, Revoke.self]
    )

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a document.",
            discussion: """
                Only judicial kinds (judicial-warrant, court-order, judicial-subpoena) can authorise access; they need
                --court and --judge. ICE forms (administrative-warrant for an I-200/I-205, detainer for an I-247A,
                administrative-subpoena) are kept on record but never authorise anything.

                Example:
                  warrant-gate warrant register --reference JW-2026-0042 --kind judicial-warrant --agency ice-ero \\
                    --subject 2017-000123 --scope records.read --expires 2026-12-31 \\
                    --court "U.S. District Court, D. Colo." --judge "Hon. R. Jackson" --case 1:26-mj-01234 --document scan.pdf
                """
        )

        @OptionGroup var admin: AdminOptions
        @Option(help: "The document's reference, as the agency will send it in Warrant-Reference.") var reference: String
        @Option(help: "judicial-warrant, court-order, judicial-subpoena, administrative-warrant, detainer, administrative-subpoena or immigration-judge-order.")
        var kind: DocumentKind
        @Option(help: "The agency the document was issued to (an id from agencies.yaml).") var agency: String
        @Option(help: "Booking numbers it names, comma-separated.") var subject: String
        @Option(help: "Actions it covers, comma-separated (records.read, records.release-date, visitation.schedule, …).") var scope: String
        @Option(help: "Last day of validity, YYYY-MM-DD.") var expires: String
        @Option(help: "The issuing court.") var court: String?
        @Option(help: "The judge or magistrate who signed it.") var judge: String?
        @Option(name: .customLong("case"), help: "The case number.") var caseNumber: String?
        @Option(help: "A scan of the document: its SHA-256 is stored.") var document: String?

        func run() throws {
            var digest: String?
            if let document {
                guard let data = FileManager.default.contents(atPath: document) else {
                    throw CLIError(.notFound, "cannot read document file \(document)")
                }
                digest = Hex.encode(SHA256.hash(data: data))
            }
            let registration = DocumentRegistration(
                reference: reference, kind: kind, agency: agency, subjects: list(subject), scope: list(scope), expires: expires,
                court: court, judge: judge, caseNumber: caseNumber, documentSHA256: digest
            )
            let registry = try admin.registry(create: true)
            let stored = try storeCall { try registry.register(registration, operator: admin.operatorName) }
            print("registered \(stored.reference) (\(stored.kind.rawValue), \(stored.status.rawValue)), expires at the end of \(stored.expires) \(registry.timeZone.identifier)")
            if let why = stored.kind.whyNotJudicial {
                print("note: kept on record only; it can never authorise access: \(why).")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered documents.", discussion: "Example: warrant-gate warrant list --json")
        @OptionGroup var admin: AdminOptions
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() throws {
            let registry = try admin.registry()
            let entries = try storeCall { try registry.entries() }
            if json { return try printJSON(entries) }
            if entries.isEmpty { return print("no documents registered") }
            print(Table.render(
                header: ["REFERENCE", "KIND", "STATUS", "AGENCY", "SUBJECTS", "SCOPE", "EXPIRES"],
                rows: entries.map { entry in
                    let document = entry.document
                    return [document.reference, document.kind.rawValue, document.status.rawValue, document.agency,
                            document.subjects.joined(separator: ","), document.scope.joined(separator: ","), document.expires]
                }
            ))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a document and its history.", discussion: "Example: warrant-gate warrant show JW-2026-0001")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The document's reference.") var reference: String
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() throws {
            let registry = try admin.registry()
            guard let entry = try storeCall({ try registry.entry(reference: reference) }) else {
                throw CLIError(.notFound, "no document with reference \(reference)")
            }
            let history = try storeCall { try registry.history(target: reference) }
            if json {
                struct Shown: Encodable { let entry: DocumentEntry; let history: [AdminRecord] }
                return try printJSON(Shown(entry: entry, history: history))
            }
            let document = entry.document
            var lines = [
                "reference:   \(document.reference)",
                "kind:        \(document.kind.rawValue)\(document.kind.isJudicial ? " (judicial)" : " (not judicial: never authorises access)")",
                "status:      \(document.status.rawValue)\(entry.statusReason.map { " (\($0))" } ?? "")",
                "agency:      \(document.agency)",
                "subjects:    \(document.subjects.joined(separator: ", "))",
                "scope:       \(document.scope.joined(separator: ", "))",
                "expires:     end of \(document.expires) (\(Timestamp.format(document.expiresAt)))",
            ]
            if let court = document.court { lines.append("court:       \(court)") }
            if let judge = document.judge { lines.append("judge:       \(judge)") }
            if let caseNumber = document.caseNumber { lines.append("case:        \(caseNumber)") }
            if let digest = document.documentSHA256 { lines.append("document:    sha256:\(digest)") }
            lines.append("registered:  \(entry.registeredAt) by \(entry.registeredBy)")
            lines.append("history:")
            for record in history {
                let details = record.details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                lines.append("  \(record.time)  \(record.action)  by \(record.operator)  \(details)")
            }
            print(lines.joined(separator: "\n"))
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a document; it stops authorising within a second.",
            discussion: "Example: warrant-gate warrant revoke JW-2026-0001 --reason \"quashed by the court on 2026-11-20\""
        )
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The document's reference.") var reference: String
        @Option(help: "Why it is revoked (recorded in the log).") var reason: String

        func run() throws {
            let registry = try admin.registry()
            try storeCall { try registry.revoke(reference: reference, reason: reason, operator: admin.operatorName) }
            print("revoked \(reference)")
        }
    }
}

/// `advisement record`: the advisement of rights that lets a release date go to ICE under Denver's policy.
struct AdvisementCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advisement", abstract: "Record advisements of rights.", subcommands: [Record.self]
    )

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that an inmate was advised of their rights.",
            discussion: "Example: warrant-gate advisement record --subject 2017-000789 --language es --by \"Dep. L. Ortiz\""
        )
        @OptionGroup var admin: AdminOptions
        @Option(help: "The inmate's booking number.") var subject: String
        @Option(help: "The language the rights were given in.") var language: String
        @Option(help: "The staff member who gave them.") var by: String
        @Option(help: "When they were given: YYYY-MM-DD or full ISO 8601 (default: now).") var at: String?

        func run() throws {
            let givenAt = try at.map(parseInstant) ?? Date()
            let registry = try admin.registry(create: true)
            try storeCall {
                try registry.recordAdvisement(Advisement(subject: subject, language: language, givenBy: by, givenAt: givenAt), operator: admin.operatorName)
            }
            print("recorded advisement for \(subject) (\(language), by \(by), at \(Timestamp.format(givenAt)))")
        }
    }
}

func list(_ text: String) -> [String] {
    text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// Parses `YYYY-MM-DD` (start of the day, UTC) or a full ISO 8601 instant.
func parseInstant(_ text: String) throws -> Date {
    if let date = LocalDate(text) { return date.start(in: TimeZone(identifier: "UTC")!) }
    if let instant = Timestamp.parse(text) { return instant }
    throw CLIError(.usage, "'\(text)' is not a date: use YYYY-MM-DD or ISO 8601 such as 2026-11-25T14:30:00Z")
}
