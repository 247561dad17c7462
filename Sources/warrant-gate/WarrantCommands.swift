import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateStore

extension DocumentKind: ExpressibleByArgument {}
extension DocumentStatus: ExpressibleByArgument {}

/// `warrant …`: the registry of judicial warrants and of ICE forms kept on record.
struct WarrantCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warrant",
        abstract: "Register, approve, list, show, revoke and supersede warrants and other documents.",
        subcommands: [Register.self, Approve.self, List.self, Show.self, Revoke.self, Supersede.self, VerifyDocument.self]
    )

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a document; it stays pending until a second operator approves it.",
            discussion: """
                Only judicial kinds (judicial-warrant, court-order, judicial-subpoena) can authorise access; they need
                --court, --judge, --case, --expires and a scan (--document FILE, or --no-document REASON). ICE forms
                (administrative-warrant for an I-200/I-205, detainer for an I-247A, administrative-subpoena,
                immigration-judge-order) are kept on record but never authorise anything. A judicial kind whose --court,
                --judge or --case names an immigration authority (DHS, ICE, ERO, USCIS, CBP, EOIR, an immigration court,
                judge or officer, abbreviated or not) or an ICE form (I-200, I-205, I-247, I-862 and the officers' other
                orders and notices) is refused (exit 3): register it under its own kind.

                Example:
                  warrant-gate warrant register --reference JW-2026-0042 --kind judicial-warrant --agency ice-ero \\
                    --subject 2017-000123 --scope records.read --expires 2026-12-31 \\
                    --court "U.S. District Court, D. Colo." --judge "Hon. R. Jackson" --case 1:26-mj-01234 --document scan.pdf

                The document's digital signature (a PDF's embedded one, or --signature FILE.p7s over any document) is
                checked against --courts first: verified, unverified (with why) and unsigned register, and are recorded;
                an invalid signature (tampered, malformed, over another document) refuses the registration (exit 3).

                The expiry date ends in the time zone the gateway recorded from its policy. Before the gateway has
                started once with the store, give that zone with --time-zone (it is recorded, as the gateway would).
                """
        )

        @OptionGroup var admin: AdminOptions
        @Option(help: "The document's reference, as the agency will send it in Warrant-Reference.") var reference: String
        @Option(help: "judicial-warrant, court-order, judicial-subpoena, administrative-warrant, detainer, administrative-subpoena or immigration-judge-order.")
        var kind: DocumentKind
        @Option(help: "The agency the document was issued to (an agency id).") var agency: String
        @Option(help: "Booking numbers it names, comma-separated or the option repeated.") var subject: [String]
        @Option(help: "Actions it covers, comma-separated or the option repeated (records.read, visitation.schedule, …); action#field limits one action to that field (records.release-date#scheduledRelease).") var scope: [String]
        @Option(help: "Last day of validity, YYYY-MM-DD: in force to the end of that day in the policy's time zone.") var expires: String
        @Option(help: "The issuing court; for a scan verified as signed, the signing court's name in courts.yaml, which it defaults to.", transform: FreeText.composed)
        var court: String?
        @Option(help: "The judge or magistrate who signed it.", transform: FreeText.composed) var judge: String?
        @Option(name: .customLong("case"), help: "The court's case number.", transform: FreeText.composed) var caseNumber: String?
        @Option(help: "A scan of the signed document (a regular file of at most 64 MiB, not a link): its SHA-256 is recorded and the file kept, owner-only, in the document store.") var document: String?
        @Option(help: "Why there is no scan (recorded in the log).", transform: FreeText.composed) var noDocument: String?
        @Option(help: "A revoked, misfiled document (`warrant list` marks it) that this registers again as the paper says, with the same scan.")
        var corrects: String?
        @Option(help: "A detached CMS signature (.p7s, DER or PEM) over the --document file.") var signature: String?
        @Option(help: "The policy's time-zone (such as America/Denver), recorded if the gateway has not recorded one yet.") var timeZone: String?
        @Option(help: "The agency directory the gateway reads (default: policies/agencies.yaml, or the installed one under sudo): --agency must be in it, or in the registry.")
        var agencies: String?
        @OptionGroup var courts: CourtOptions

        func run() throws {
            if document != nil && noDocument != nil { throw CLIError(.usage, "give either --document or --no-document, not both") }
            if signature != nil && document == nil { throw CLIError(.usage, "--signature needs the --document it signs") }
            // Read once; the stored copy is the content whose digest is registered and whose signature is checked. It
            // is staged on disk first and put in place once registered: a refused registration stores nothing, and a
            // registered digest always has its document.
            let content = try document.map { path in try SudoInvocation.readDocument(path, what: "--document") }
            let checkedAt = Date()
            let signatureStatus = try content.map { try courts.check(document: $0, signaturePath: signature, at: checkedAt) } ?? .unsigned
            guard let recordedSignature = RecordedSignature(signatureStatus, checkedAt: checkedAt) else {
                throw CLIError(.refused, "\(document ?? "the document") is not registered: its signature is \(signatureStatus.description)")
            }
            let issuingCourt = try Self.issuingCourt(typed: court, signature: signatureStatus)
            let staged = try content.map { data in try storeCall { try DocumentStore(filesDirectory: admin.location().filesDirectory).stage(data) } }
            defer { staged?.output.discard() }
            let registration = DocumentRegistration(
                reference: reference, kind: kind, agency: agency, subjects: subject.flatMap(list), scope: scope.flatMap(list), expires: expires,
                court: issuingCourt, judge: judge, caseNumber: caseNumber, documentSHA256: staged?.digest,
                documentIdentity: content.map { DocumentIdentity.digest(of: [UInt8]($0)) }, noDocumentReason: noDocument, signature: recordedSignature,
                corrects: corrects
            )
            let (registry, recordsZone) = try registryInRecordedZone()
            try checkAgencyKnown(registry)
            // A scan registered before identities were recorded is read first, so that a copy of it is refused too.
            if staged != nil { try storeCall { try registry.identifyScans(in: DocumentStore(filesDirectory: admin.location().filesDirectory)) } }
            if let why = kind.whyNotJudicial {
                print("note: this \(kind.rawValue) is kept on record only and can never authorise access: \(why).")
            }
            let stored = try storeCall { try registry.register(registration, operator: admin.operatorName, recordingTimeZone: recordsZone) }
            if let staged { try storeCall { try staged.output.commit() } }
            print("registered \(stored.reference) (\(stored.kind.rawValue)) as \(stored.status.rawValue); it expires at the end of \(stored.expires) \(registry.timeZone.identifier)")
            if stored.expiresAt.timeIntervalSince(checkedAt) > 366 * 86400 {
                print("note: it is in force for more than a year: check \(stored.expires) against the document")
            }
            print(stored.signature.lines.map(FreeText.escaped).joined(separator: "\n"))
            if stored.status == .pending {
                print("next: a second operator approves it with `warrant-gate warrant approve \(stored.reference)`")
            }
        }

        /// Refuses an agency that neither the directory the gateway reads nor the registry knows (nor a pending request
        /// adds): a document issued to a misspelt id would never match a certificate, and pass for registered. The
        /// registry's certificates added to an agency the directory no longer lists make no agency known.
        private func checkAgencyKnown(_ registry: Registry) throws {
            guard let directory = try ReviewedDirectory(agencies, fallback: AgencyCommand.Add.defaultAgencies) else {
                return warn("no agency directory at \(agencies ?? AgencyCommand.Add.defaultAgencies): --agency \(agency) was not checked against the agencies the gateway knows (give --agencies)")
            }
            // As the gateway identifies by them (AgencyDirectory.amended).
            let registered = try storeCall { (try registry.agencies(), try registry.agencyExtensions()) }
            let amended = AgencyDirectory(agencies: directory.agencies, authorities: []).amended(agencies: registered.0, extending: registered.1, revocations: [:])
            let known = Set(amended.agencies.map(\.id)).union(try storeCall { try registry.pendingAgencyRequests().map(\.agency) })
            guard known.contains(agency) else {
                throw CLIError(.refused, """
                    no agency \(TerminalText.escaped(agency)) in \(directory.path) or the registry: a document issued to it would match no \
                    certificate (agencies: \(known.sorted().joined(separator: ", ")))
                    """)
            }
        }

        /// The court to record: the signing court's `courts.yaml` name for a scan verified as signed, which `typed`, if
        /// given, must be (letter case and spacing aside), since a policy's `courts:` patterns read the recorded court
        /// while its `signed:` test reads the signature; else `typed`.
        private static func issuingCourt(typed: String?, signature: DocumentSignatureStatus) throws -> String? {
            guard case .verified(let verified) = signature else { return typed }
            let signing = verified.court.name
            let words = { (name: String) in name.lowercased().split(whereSeparator: \.isWhitespace) }
            if let typed, words(typed) != words(signing) {
                throw CLIError(.refused, """
                    the scan is signed for \(FreeText.escaped(signing)) (courts.yaml: \(verified.court.id)), but --court says \
                    \(FreeText.escaped(typed)): give --court as the signing court's name, or leave it out
                    """)
            }
            return signing
        }

        /// The registry in the time zone the store records, or in `--time-zone` if none is recorded yet (which the
        /// registration then records: `recordsZone`); refused without either, or with a `--time-zone` other than the
        /// recorded one.
        private func registryInRecordedZone() throws -> (registry: Registry, recordsZone: Bool) {
            let store = try admin.open(create: true)
            let recorded = try storeCall { try store.recordedTimeZone() }
            let given = try timeZone.map { name in
                guard let zone = TimeZone(databaseName: name) else {
                    throw CLIError(.usage, "--time-zone '\(FreeText.escaped(name))' is not a time zone such as America/Denver")
                }
                return zone
            }
            switch (recorded, given) {
            case (let recorded?, let given?) where recorded.identifier != given.identifier:
                throw CLIError(.refused, "the gateway recorded its policy's time zone, \(recorded.identifier), in this store: --time-zone \(given.identifier) disagrees")
            case (let recorded?, _):
                return (store.registry(timeZone: recorded), false)
            case (nil, let given?):
                return (store.registry(timeZone: given), true)
            case (nil, nil):
                throw CLIError(.refused, """
                    no time zone is recorded in this store, so the expiry date cannot be placed: start the gateway once (it \
                    records its policy's time-zone), or give --time-zone with the policy's time-zone, such as America/Denver
                    """)
            }
        }
    }

    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a pending document (two-person rule: not by the operator who registered it).",
            discussion: """
                Prints the document's terms and their fingerprint. Compare the terms with the signed document; if they \
                are what it says, approve them by giving the fingerprint with --terms.

                Example: warrant-gate warrant approve JW-2026-0042 --terms 3f2a-9c1d-77b0-12ef --operator "Sgt. K. Lee"
                """
        )
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The document's reference.") var reference: String
        @Option(help: "The fingerprint of the terms reviewed, as this command and `warrant show` print it.") var terms: String?

        func run() throws {
            let registry = try admin.registry()
            guard let entry = try storeCall({ try registry.entry(reference: reference) }) else {
                throw CLIError(.notFound, "no document with reference \(reference)")
            }
            print("\(reference), registered by \(FreeText.escaped(entry.registeredBy)), would permit:")
            print(try termLines(entry, registry).map { "  " + FreeText.escaped($0) }.joined(separator: "\n"))
            print("(the signature is shown for review only: approval does not depend on it; a policy may require it with warrant: { signed: true })")
            let fingerprint = entry.document.termsFingerprint
            guard let terms else {
                throw CLIError(.refused, """
                    not approved: compare these terms with the signed document; if they are what it says, approve them with \
                    `warrant-gate warrant approve \(reference) --terms \(fingerprint)`
                    """)
            }
            try storeCall { try registry.approve(reference: reference, operator: admin.operatorName, terms: terms) }
            print("approved \(reference) (terms \(fingerprint)); it is active and the gateway honours it within a second")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List registered documents.",
            discussion: "Example: warrant-gate warrant list --agency ice-ero --expiring-within 7d"
        )
        @OptionGroup var admin: AdminOptions
        @Option(help: "pending, active, revoked, superseded or expired.") var status: DocumentStatus?
        @Option(help: "Only documents issued to this agency.") var agency: String?
        @Option(help: "Only documents naming this booking number.") var subject: String?
        @Option(help: "Only documents of this kind.") var kind: DocumentKind?
        @Option(help: "Only active or pending documents expiring within this time, such as 7d or 48h.") var expiringWithin: String?
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() throws {
            let registry = try admin.registry()
            let within = try expiringWithin.map(parseDuration)
            try storeCall { try registry.expireDue() }
            let entries = try storeCall {
                try registry.entries(DocumentFilter(status: status, agency: agency, subject: subject, kind: kind, expiringWithin: within))
            }
            if json { return try printJSON(entries) }
            if entries.isEmpty { return print("no documents match") }
            print(Table.render(
                header: ["REFERENCE", "KIND", "STATUS", "AGENCY", "SUBJECTS", "SCOPE", "EXPIRES", "SIGNATURE"],
                rows: entries.map { entry in
                    let document = entry.document
                    return [document.reference, document.kind.rawValue, document.status.rawValue + (document.isMisfiled ? " (misfiled)" : ""), document.agency,
                            document.subjects.joined(separator: ","), document.scope.joined(separator: ","), document.expires,
                            document.signature.status.rawValue]
                }
            ))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a document and its full history.", discussion: "Example: warrant-gate warrant show JW-2026-0001")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The document's reference.") var reference: String
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() throws {
            let registry = try admin.registry()
            try storeCall { try registry.expireDue() }
            guard let entry = try storeCall({ try registry.entry(reference: reference) }) else {
                throw CLIError(.notFound, "no document with reference \(reference)")
            }
            let history = try storeCall { try registry.history(target: reference) }
            if json {
                struct Shown: Encodable { let entry: DocumentEntry; let history: [AdminRecord] }
                return try printJSON(Shown(entry: entry, history: history))
            }
            var lines = [
                "reference:   \(entry.document.reference)",
                "status:      \(entry.document.status.rawValue)\(entry.statusReason.map { " (\($0))" } ?? "")",
            ]
            let document = entry.document
            let misfilings = document.misfilings
            if !misfilings.isEmpty { lines.append("misfiled:    authorises nothing: \(misfilings.joined(separator: "; ")); revoke it") }
            lines += try termLines(entry, registry)
            lines.append("terms:       \(entry.document.termsFingerprint) (what `warrant approve --terms` names)")
            lines.append("registered:  \(entry.registeredAt) by \(entry.registeredBy) (two-person rule \(entry.twoPersonRule ? "on" : "off"))")
            if let approvedBy = entry.approvedBy { lines.append("approved:    \(entry.approvedAt ?? "") by \(approvedBy)") }
            if let supersededBy = entry.supersededBy { lines.append("superseded:  by \(supersededBy)") }
            lines.append("history:")
            for record in history {
                let details = record.details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                let account = record.account.map { " [\($0)]" } ?? ""
                lines.append("  \(record.time)  \(record.action)  by \(record.operator)\(account)  \(details)")
            }
            // Each line is one line, whatever a row stored before free text was checked holds.
            print(lines.map(FreeText.escaped).joined(separator: "\n"))
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a document; it stops authorising within a second.",
            discussion: "Example: warrant-gate warrant revoke JW-2026-0001 --reason \"quashed by the court on 2026-11-20\""
        )
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The document's reference.") var reference: String
        @Option(help: "Why it is revoked (recorded in the log).", transform: FreeText.composed) var reason: String
        @Flag(help: "It is misfiled (`warrant list` marks it): revoked so, its paper may be registered again with --corrects.")
        var misfiled = false

        func run() throws {
            let registry = try admin.registry()
            try storeCall { try registry.revoke(reference: reference, reason: reason, operator: admin.operatorName, misfiled: misfiled) }
            print("revoked \(reference)\(misfiled ? " as misfiled: `warrant register --corrects \(reference)` registers the paper again" : "")")
        }
    }

    struct Supersede: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace an active document by a renewed one that is already approved.",
            discussion: "Example: warrant-gate warrant supersede JW-2026-0001 --by JW-2026-0107"
        )
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The document being replaced.") var reference: String
        @Option(help: "The renewed document.") var by: String

        func run() throws {
            let registry = try admin.registry()
            try storeCall { try registry.supersede(reference: reference, by: by, operator: admin.operatorName) }
            print("\(reference) is superseded by \(by)")
        }
    }

    struct VerifyDocument: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-document",
            abstract: "Check that a copy of a document is the one registered (exit 0 if it matches, 3 if not).",
            discussion: """
                It also prints the signature status recorded at registration and the copy's signature checked now
                against --courts (a court's CA may since have been added or removed).

                Example: warrant-gate warrant verify-document JW-2026-0001 ~/scans/jw-2026-0001.pdf
                """
        )
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The document's reference.") var reference: String
        @Argument(help: "The copy to check.") var file: String
        @Option(help: "The detached signature (.p7s) registered with it, to check it again.") var signature: String?
        @OptionGroup var courts: CourtOptions

        func run() throws {
            let registry = try admin.registry()
            guard let entry = try storeCall({ try registry.entry(reference: reference) }) else {
                throw CLIError(.notFound, "no document with reference \(reference)")
            }
            guard let registered = entry.document.documentSHA256 else {
                throw CLIError(.notFound, "\(reference) was registered without a document (\(entry.noDocumentReason ?? "no reason given"))")
            }
            let content = try SudoInvocation.readDocument(file, what: "the copy")
            let digest = DocumentStore.digest(of: content)
            let matches = digest == registered
            let current = try courts.check(document: content, signaturePath: signature)
            try storeCall {
                try registry.recordAdminAction(
                    "warrant.verify-document", target: reference,
                    details: ["sha256": digest, "matches": matches ? "yes" : "no", "signatureNow": current.description], operator: admin.operatorName
                )
            }
            print("signature recorded at registration: \(FreeText.escaped(entry.document.signature.description))")
            print("signature of \(FreeText.escaped(file)) checked now:  \(FreeText.escaped(current.description))")
            guard matches else {
                throw CLIError(.refused, "\(file) does NOT match \(reference): its SHA-256 is \(digest), the registered one is \(registered)")
            }
            let status = entry.document.status
            print("\(file) matches \(reference) (sha256:\(digest)), which is \(status.rawValue)\(entry.statusReason.map { " (\(FreeText.escaped($0)))" } ?? "")")
            if status != .active && status != .pending { print("note: \(reference) authorises nothing now") }
        }
    }
}

/// What a document permits and on what authority, a line each, as `warrant show` and `warrant approve` print them
/// (unescaped): with the document it corrects (`--corrects`) and how that one was revoked, since the approver must
/// know the scan was another's.
private func termLines(_ entry: DocumentEntry, _ registry: Registry) throws -> [String] {
    let document = entry.document
    var lines = [
        "kind:        \(document.kind.rawValue)\(document.kind.isJudicial ? " (judicial)" : " (not judicial: never authorises access)")",
        "agency:      \(document.agency)",
        "subjects:    \(document.subjects.joined(separator: ", "))",
        "scope:       \(document.scope.joined(separator: ", "))",
        "expires:     end of \(document.expires) (\(Timestamp.format(document.expiresAt)))",
    ]
    if let court = document.court { lines.append("court:       \(court)") }
    if let judge = document.judge { lines.append("judge:       \(judge)") }
    if let caseNumber = document.caseNumber { lines.append("case:        \(caseNumber)") }
    if let digest = document.documentSHA256 { lines.append("document:    sha256:\(digest)") }
    if let reason = entry.noDocumentReason { lines.append("document:    none (\(reason))") }
    if let correction = try storeCall({ try registry.correction(of: document.reference) }) {
        let revoked = correction.revocation.map { "revoked as misfiled by \($0.operator) at \($0.time): \($0.details["reason"] ?? "")" } ?? "not revoked"
        lines.append("corrects:    \(correction.corrects), with its scan (\(revoked))")
    }
    return lines + document.signature.lines
}

func list(_ text: String) -> [String] {
    text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// Parses `YYYY-MM-DD` (the start of that day in `timeZone`) or a full RFC 3339 instant (see `Timestamp.parse`).
func parseInstant(_ text: String, dayStartsIn timeZone: TimeZone) throws -> Date {
    if let date = LocalDate(text) { return date.start(in: timeZone) }
    if let instant = Timestamp.parse(text) { return instant }
    throw CLIError(.usage, "'\(FreeText.escaped(text))' is not a date: use YYYY-MM-DD or ISO 8601 such as 2026-11-25T14:30:00Z, \(dateRules)")
}

/// Parses the time a record was given: a full RFC 3339 instant only, since a date alone does not say when in the day
/// (and whether before or after another record about consent that day).
func parseRecordTime(_ text: String) throws -> Date {
    if let instant = Timestamp.parse(text) { return instant }
    if LocalDate(text) != nil {
        throw CLIError(.usage, "--at \(text) needs a time of day too, such as \(text)T14:30:00-07:00: the order of records decides")
    }
    throw CLIError(.usage, "--at '\(FreeText.escaped(text))' is not a time: use ISO 8601 such as 2026-11-25T14:30:00Z, \(dateRules)")
}

/// What `parseInstant` and `parseRecordTime` accept besides the form.
private let dateRules = "a date that exists, a time of 00:00:00 to 23:59:59, in \(LocalDate.years.lowerBound)–\(LocalDate.years.upperBound)"

/// Parses `7d`, `48h` or `30m`.
func parseDuration(_ text: String) throws -> TimeInterval {
    guard let unit = text.last, let value = Double(text.dropLast()), value > 0 else {
        throw CLIError(.usage, "'\(text)' is not a duration: use a number and d, h or m, such as 7d")
    }
    switch unit {
    case "d": return value * 86400
    case "h": return value * 3600
    case "m": return value * 60
    default: throw CLIError(.usage, "'\(text)' is not a duration: use a number and d, h or m, such as 7d")
    }
}
