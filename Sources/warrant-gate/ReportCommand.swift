import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateStore

extension ReportTemplate: ExpressibleByArgument {}

/// `report`: public transparency reports from the log.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Count immigration-enforcement requests and forms by kind, outcome, reason and month, for the public and oversight bodies.",
        discussion: """
            Templates follow real reporting duties: denver-council (the quarterly count to the city council),
            illinois-ag (every request with its date and handling, no names), oregon-cjc (documented declines).
            The whole log is verified first, as `log verify` does, and a log that does not verify gets no report.
            The report states the signed checkpoint it was computed from (a new one is signed first when the key is at
            hand), so that anyone holding the log can reproduce it with --at-checkpoint. Without the key, entries after the latest checkpoint
            are left out, and a warning says how many; a SQLite file without its key (a copy, such as an auditor's) is
            only read, never migrated or written, and the report is not recorded in it. A request is counted in the month its request opened.
            A period that may hold archived entries (`log archive`), which the database no longer has, is counted
            from the archive files given with --archive (every archive of the log, oldest first; they must match the
            log's tree), or refused unless --allow-archived; the report then says which entries it could not count.
            HTML is one self-contained file with inline SVG charts.

            Example: warrant-gate report --period 2026-Q4 --format html --template denver-council --out q4.html
            """
    )

    enum Format: String, ExpressibleByArgument { case html, md, csv }

    @OptionGroup var admin: AdminOptions
    @Option(help: "A year (2026), a quarter (2026-Q4) or a month (2026-11).") var period: String
    @Option(help: "html, md or csv.") var format: Format = .md
    @Option(help: "denver-council, illinois-ag, oregon-cjc, nyc-detainers or california-truth.") var template: ReportTemplate?
    @Option(help: "The reporting body's name for the heading.", transform: FreeText.composed) var jurisdiction: String = "County jail"
    @Option(help: "Write to this file (mode 0600; never an existing file or link) instead of standard output.") var out: String?
    @Flag(help: "Report a period that may hold archived entries, saying in the report that they are not counted.") var allowArchived = false
    @Option(help: "An archive file of the log (repeatable): give every one, oldest first, to count archived entries.") var archive: [String] = []
    @Option(help: "A checkpoint held off the machine (one published earlier): the log must hold it.") var against: String?
    @Option(help: "The verifier key (.pub) to trust (default: the one beside the database, which whoever made a copy chose).") var key: String?
    @Option(name: .customLong("time-zone"), help: "The zone whose midnights bound the periods (default: the one the store records).") var zone: String?
    @Option(help: "Compute the report at the signed checkpoint of this many entries, as a published report states it, to reproduce that report (nothing is signed first).")
    var atCheckpoint: UInt64?

    func run() throws {
        // The heading is printed in every format: nothing in it may drive a terminal or start a Markdown line.
        if let problem = FreeText.problem(jurisdiction, field: "--jurisdiction") { throw CLIError(.usage, problem) }
        if jurisdiction.allSatisfy(\.isWhitespace) { throw CLIError(.usage, "--jurisdiction must name the reporting body") }
        for path in archive { try SudoInvocation.checkOperatorMayRead(path, what: "--archive") }
        let external = try against.map(readInputText)
        let trusted = try key.map { path -> LogVerifierKey in
            do { return try LogVerifierKey(encoded: try readInputText(path)) } catch let error as CLIError { throw error } catch { throw CLIError(.usage, "\(path): \(error)") }
        }
        try SudoInvocation.checkOutput(out)
        if let out { try storeCall { try PrivateFile.checkTarget(out, existing: .refuse) } }
        let keyFiles = LogKeyFiles(filesDirectory: try admin.location().filesDirectory)
        let (store, copy) = try LogCommand.openForReading(admin, keyFiles: keyFiles)
        guard ReportPeriod(period, timeZone: .gmt) != nil else {
            throw CLIError(.usage, "--period must be a year (2026), a quarter (2026-Q4) or a month (2026-11); got '\(period)'")
        }
        let givenZone = try zone.map(LogCommand.timeZone(named:))
        if !archive.isEmpty && allowArchived { throw CLIError(.usage, "give either --archive or --allow-archived, not both") }
        if copy && trusted == nil {
            warn("\(admin.db) is read as a copy (its signing key is not beside it): its checkpoints are checked with the verifier key beside it, which whoever made the copy chose; give the key you hold with --key")
        }
        let verifiedWith = try verify(store, keyFiles: keyFiles, trusting: trusted, against: external)
        let head: TreeHead
        var signed = true
        if let atCheckpoint {
            guard let found = try storeCall({ try store.treeHead(signedAt: atCheckpoint) }) else {
                throw CLIError(.notFound, "no signed checkpoint of \(atCheckpoint) entries in \(admin.db): give the size a report states")
            }
            head = found
        } else {
            signed = try LogCommand.signCheckpointIfPossible(store, keyFiles: keyFiles)
            head = try storeCall { try store.treeHead() }
        }
        let timeZone = try LogCommand.dayZone(given: givenZone, store, copy: copy, db: admin.db, through: atCheckpoint.map { _ in head.size })
        let reportPeriod = ReportPeriod(period, timeZone: timeZone)!
        // A report computed again at a published one's checkpoint is that report's, in its zone.
        if atCheckpoint == nil { warnOfAnotherZone(than: timeZone, store: store) }
        let allArchived = try storeCall { try store.archivedEntries() }
        // Archived since the checkpoint or not, the figures count entries through it only.
        let countedArchivedThrough = archive.isEmpty ? nil : allArchived.map { min($0.throughSeq, head.size) }
        let archived = archive.isEmpty ? allArchived.flatMap { $0.mayInclude(reportPeriod) ? $0 : nil } : nil
        if let archived {
            guard allowArchived else {
                throw CLIError(.refused, """
                    \(archived.summary) in a \(reportPeriod.label) report: the database no longer holds them, so requests of the period
                    among them would be missing from its figures. Give --allow-archived to write the report anyway; it will say so.
                    """)
            }
            warn("\(archived.summary) in this \(reportPeriod.label) report: requests of the period among them are missing from its figures")
        }
        let entries: ReportEntries
        if let (key, lastSigned) = verifiedWith {
            // Verified again, and counted in the same read: what is counted is what verified, though rows were changed
            // after the check above (and put back since), or a read of the report's would see others.
            let (report, counted) = try storeCall {
                try store.verifiedReportEntries(
                    key: key, archives: archive, against: external, lastSigned: lastSigned, period: reportPeriod, timeZone: timeZone, treeSize: head.size
                )
            }
            guard report.ok else {
                report.writeProblems()
                throw CLIError(.refused, "the log does NOT verify as its figures are counted (\(report.problemCount) problems): no report was written. See `warrant-gate log verify`.")
            }
            entries = counted
        } else {
            entries = try storeCall { try store.reportEntries(period: reportPeriod, timeZone: timeZone, treeSize: head.size, archives: archive) }
        }
        if !signed {
            let size = try storeCall { try store.logSize() }
            if size > head.size {
                warn("""
                    no log signing key at \(keyFiles.privatePath): the report is computed from the latest signed checkpoint, of \(head.size) \
                    entries, and leaves out the \(size - head.size) entries after it (seq \(head.size + 1)…\(size)). Run it where the key is to count them.
                    """)
            }
        }
        let data = ReportData(
            period: reportPeriod, jurisdiction: jurisdiction, timeZone: timeZone, requests: entries.requests, unattributedRequests: entries.unattributed,
            forms: entries.forms,
            checkpointSize: head.size, checkpointRoot: Data(head.root).base64EncodedString(), checkpointOrigin: head.origin, archived: archived,
            countedArchivedThrough: countedArchivedThrough,
            // As of its checkpoint, which a report computed again, or one without the key, may have signed long before.
            computedAt: head.signed ?? Date()
        )
        let renderer = ReportRenderer(data: data, template: template)
        let text = switch format {
        case .html: renderer.html()
        case .md: renderer.markdown()
        case .csv: renderer.csv()
        }
        if let out {
            try storeCall { try PrivateFile.write(Data(text.utf8), to: out, existing: .refuse, keepingFree: .copies) }
            print("wrote the \(reportPeriod.label) report (\(entries.requests.count) requests, \(entries.forms.count) forms, checkpoint size \(head.size)) to \(out)")
        } else {
            print(text, terminator: "")
            try flushStandardOutput()  // a report lost on the way is not recorded as generated
        }
        guard !copy else { return }
        try storeCall {
            try store.registry(timeZone: timeZone).recordAdminAction(
                "report.generate", target: "log",
                details: [
                    "period": period, "format": format.rawValue, "template": template?.rawValue ?? "none", "treeSize": String(head.size),
                    // The zone the store's own records gave, for a report of a copy to read; one given is not one.
                    givenZone == nil ? "timeZone" : "timeZoneGiven": timeZone.identifier,
                    "archivedThrough": archived.map { String($0.throughSeq) } ?? "none",
                    "countedArchivedThrough": countedArchivedThrough.map(String.init) ?? "none",
                    // A report computed again at a published one's checkpoint, not a new publication.
                    "atCheckpoint": atCheckpoint.map(String.init) ?? "none",
                ],
                operator: admin.operatorName
            )
        }
    }
}

extension ReportCommand {
    /// Warns when the log's latest report was computed in another zone than `timeZone`: the hours between the two
    /// zones' midnights where the two reports' periods meet are then counted in both, or in neither.
    private func warnOfAnotherZone(than timeZone: TimeZone, store: Store) {
        guard let last = (try? store.registry(timeZone: timeZone).history(target: "log"))?.last(where: { $0.action == "report.generate" }),
              let zone = last.details["timeZone"] ?? last.details["timeZoneGiven"], zone != timeZone.identifier
        else { return }
        warn("""
            the log's latest report (\(TerminalText.escaped(last.details["period"] ?? "?"))) was computed in \(TerminalText.escaped(zone)), this one in \
            \(timeZone.identifier): where their periods meet, the hours between the two zones' midnights are counted in both reports or in neither
            """)
    }

    /// Verifies the whole log (and the archives given) before anything is counted or signed, as `log verify` does:
    /// the figures must come from entries the signed tree vouches for, and a checkpoint must never be signed over a
    /// log whose older entries were altered. The checkpoints in the database, the one `external` gives (published
    /// earlier) and the key's own record of the last it signed are each checked: a log cut back below any of them gets
    /// no report. With none of them, signing the first checkpoint, with the key at hand, checks every entry against
    /// its hash, though nothing outside the database vouches for them, and it warns; without the key, or without a
    /// verifier key to check the checkpoints with, nothing vouches for the entries (whoever could edit them could edit
    /// their hashes too) and no report is written. Returns the key and the signing key's record the log was verified
    /// with, nil when it was not verified here.
    private func verify(
        _ store: Store, keyFiles: LogKeyFiles, trusting trusted: LogVerifierKey?, against external: String?
    ) throws -> (key: LogVerifierKey, lastSigned: String?)? {
        let lastSigned = try storeCall { try keyFiles.lastSigned.recordedNote() }
        guard try storeCall({ try store.latestCheckpoint() }) != nil || external != nil || lastSigned != nil else {
            guard keyFiles.exists else {
                throw CLIError(.refused, """
                    no checkpoint is signed yet, and the log signing key is not at \(keyFiles.privatePath): nothing vouches for the \
                    log's entries, so no report was written. Run it where the key is (signing the first checkpoint checks every entry).
                    """)
            }
            warn("""
                no checkpoint was signed before, in the database or in the key's record of the last it signed: the first is \
                signed now, over the log as it stands (give --against a checkpoint published earlier to check the log against it)
                """)
            return nil
        }
        guard trusted != nil || keyFiles.exists || FileManager.default.fileExists(atPath: keyFiles.publicPath) else {
            throw CLIError(.refused, """
                no log key at \(keyFiles.privatePath) or its verifier key at \(keyFiles.publicPath): the log's checkpoints cannot be \
                checked, so no report was written. Give the store's files directory (--files-dir) that holds them.
                """)
        }
        // A key file that is there but does not read is an error, never a reason to count unverified.
        let key = try trusted ?? storeCall { try keyFiles.verifierKey() }
        let report = try storeCall { try store.verify(key: key, archives: archive, against: external, lastSigned: lastSigned) }
        guard report.ok else {
            report.writeProblems()
            let archives = archive.isEmpty ? "" : " (with --archive, give every archive of the log, oldest first)"
            throw CLIError(.refused, """
                the log does NOT verify\(archives) (\(report.problemCount) problems), so its figures may count altered entries: \
                no report was written. See `warrant-gate log verify`.
                """)
        }
        return (key, lastSigned)
    }
}

