import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateStore

/// `log …`: the tamper-evident decision log, for auditors and courts.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Export, checkpoint, verify and prove the tamper-evident decision log.",
        subcommands: [Export.self, InitKey.self, CheckpointCommand.self, Verify.self, Prove.self, VerifyProof.self, Archive.self, VouchArchives.self, ShadowDiff.self]
    )

    /// Where the signing key is: `--key`, else `log-signing.key` in the store's files directory (beside a SQLite
    /// database).
    struct KeyOptions: ParsableArguments {
        @Option(help: "The log signing key (default: log-signing.key beside the database, or in --files-dir).") var key: String?

        func files(_ admin: AdminOptions) throws -> LogKeyFiles {
            if let key { try SudoInvocation.current?.checkTrustedPath(key, what: "--key") }
            return try key.map(LogKeyFiles.init(privatePath:)) ?? LogKeyFiles(filesDirectory: admin.location().filesDirectory)
        }
    }

    /// Signs a checkpoint of the log as it is, if it has grown and the signing key is at hand (exports, proofs, reports
    /// and backups do); returns whether the key was. Under sudo, only the installed gateway's store is signed.
    @discardableResult
    static func signCheckpointIfPossible(_ store: Store, keyFiles: LogKeyFiles) throws -> Bool {
        guard keyFiles.exists else { return false }
        try SudoInvocation.current?.checkSigning(store.location, with: keyFiles)
        let key = try storeCall { try keyFiles.signingKey() }
        try storeCall { try store.checkpointer(key: key, lastSigned: keyFiles.lastSigned).sign() }
        return true
    }

    /// Whether the store is a copy of a log (an auditor's evidence, a court's exhibit) rather than a gateway's own: a
    /// SQLite file that is not the installed gateway's store and whose signing key is neither beside it nor where
    /// `keyFiles` (a `--key` given) says. A copy is read as it is, never migrated, signed or written to, so that every
    /// reader of it reads the same bytes; a gateway's own store, whose key may be kept elsewhere or be named wrongly,
    /// is never taken for one, so that its exports and reports stay recorded.
    static func isEvidenceCopy(_ admin: AdminOptions, keyFiles: LogKeyFiles) throws -> Bool {
        let location = try admin.location()
        return location.sqlitePath != nil && !SudoInvocation.isInstalledStore(location) && !keyFiles.exists
            && !LogKeyFiles(filesDirectory: location.filesDirectory).exists
    }

    /// Opens the store for a command that reads the log: read-only if it is a copy (``isEvidenceCopy(_:keyFiles:)``).
    static func openForReading(_ admin: AdminOptions, keyFiles: LogKeyFiles) throws -> (store: Store, isCopy: Bool) {
        let copy = try isEvidenceCopy(admin, keyFiles: keyFiles)
        return (try admin.open(readonly: copy), copy)
    }

    /// The time zone `--time-zone` names.
    static func timeZone(named name: String) throws -> TimeZone {
        guard let zone = TimeZone(databaseName: name) else {
            throw CLIError(.usage, "--time-zone: '\(TerminalText.escaped(name))' is not a time zone, such as America/Denver")
        }
        return zone
    }

    /// The zone whose midnights begin days: `given` (`--time-zone`), with a warning when the log's signed record names
    /// another (consecutive reports in two zones would miss or repeat the hours between their midnights), else the
    /// jurisdiction's (``jurisdictionZone(_:copy:db:through:)``), both read from the log through entry `through` if
    /// given (a report computed again at its checkpoint).
    static func dayZone(given: TimeZone?, _ store: Store, copy: Bool, db: String, through: UInt64? = nil) throws -> TimeZone {
        guard let given else { return try jurisdictionZone(store, copy: copy, db: db, through: through) }
        if let logged = (try? store.loggedTimeZone(through: zoneRecordsThrough(store, copy: copy, given: through))) ?? nil,
           logged != given.identifier {
            warn("--time-zone \(given.identifier) is not the zone the log records (\(TerminalText.escaped(logged))): days begin at \(given.identifier)'s midnights, and periods computed in the two zones do not meet")
        }
        return given
    }

    /// The last entry whose record of a zone counts: `given`, else, in a copy, its latest checkpoint's (its records past
    /// it are whoever made it's), else every entry (a gateway's own store is held to all of its own).
    private static func zoneRecordsThrough(_ store: Store, copy: Bool, given: UInt64?) throws -> UInt64 {
        try given ?? (copy ? storeCall { try store.treeHead().size } : .max)
    }

    /// The jurisdiction's zone, whose midnights bound a report's periods and an export's days, without `--time-zone`:
    /// the one the store records, unless the log's latest record of a zone (a `settings.time-zone`, or a report's; in
    /// a copy, under its latest checkpoint; through entry `through` if given) names another, since the settings table
    /// is signed by nothing. A copy must have such a record: its settings are whoever made it's. Where nothing records
    /// one, UTC, with a warning; in a copy, refused.
    static func jurisdictionZone(_ store: Store, copy: Bool, db: String, through given: UInt64? = nil) throws -> TimeZone {
        let recorded = try storeCall { try store.recordedTimeZone() }
        let logged = try storeCall { try store.loggedTimeZone(through: zoneRecordsThrough(store, copy: copy, given: given)) }
        if let logged, recorded?.identifier != logged {
            throw CLIError(.refused, """
                the store records the time zone \(recorded?.identifier ?? "none"), but the log's latest record of it, under its signed \
                checkpoint, names \(TerminalText.escaped(logged)): give the jurisdiction's zone with --time-zone
                """)
        }
        if let recorded {
            guard logged != nil || !copy else {
                throw CLIError(.refused, """
                    \(db) is read as a copy, and its log holds no record of the time zone under its signed checkpoint: the settings \
                    table names \(recorded.identifier), which nothing signs; give the jurisdiction's zone with --time-zone
                    """)
            }
            return recorded
        }
        guard !copy else {
            throw CLIError(.refused, "\(db) is read as a copy and records no time zone: give the jurisdiction's zone with --time-zone")
        }
        warn("no time zone is recorded in this store (a gateway records its policy's when it starts): days begin at midnight UTC")
        return .gmt
    }

    enum Format: String, ExpressibleByArgument {
        case csv, jsonl, bundle
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export decisions (CSV, JSON Lines) or the whole log as an auditor bundle; streams in constant memory.",
            discussion: """
                CSV and JSON Lines hold one row per decision with its outcome joined, in log order. JSON keys: \(ExportFormat.jsonl.columns.joined(separator: ", ")). CSV columns: the same without seq.
                A bundle holds every entry, every signed checkpoint and the verifier key: check it with
                `log verify --bundle FILE --key PUB`, with the key the log's owner published. A checkpoint is signed first when the key is at hand. The export is itself
                recorded in the log; a SQLite file without its signing key beside it (a copy, such as an auditor's) is
                only read, never migrated or written. With --out on a terminal, a progress bar shows the row count and an ETA.

                Example: warrant-gate log export --format csv --from 2026-10-01 --until 2027-01-01 --category federal-immigration --out q4.csv
                """
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var keys: KeyOptions
        @Option(help: "csv, jsonl or bundle.") var format: Format = .jsonl
        @Option(help: "Write to this file (mode 0600; never an existing file or link) instead of standard output.") var out: String?
        @Option(help: """
            Only decisions whose request opened at or after this time, the time the row shows: an ISO 8601 instant, or a day \
            (YYYY-MM-DD) that starts at midnight in the jurisdiction's time zone, as a report's periods do.
            """) var from: String?
        @Option(help: "Only decisions before this time.") var until: String?
        @Option(name: .customLong("time-zone"), help: "The zone whose midnights begin --from and --until days (default: the one the log records, as for a report).") var zone: String?
        @Option(help: "Only this agency.") var agency: String?
        @Option(help: "Only this category.") var category: String?
        @Option(help: "Only this action (or family, such as records.*).") var action: String?
        @Option(help: "Only allow or deny.") var effect: Effect?
        @Option(help: "Only this reason code.") var reason: String?
        @Flag(help: "Export a range that may hold archived entries, which the database no longer has (they are left out, with a warning).")
        var allowArchived = false

        func run() throws {
            let bounds = [from, until].compactMap(\.self)
            for text in bounds { _ = try parseInstant(text, dayStartsIn: .gmt) }  // a usage error first
            let givenZone = try zone.map(LogCommand.timeZone(named:))
            let keyFiles = try keys.files(admin)
            let (store, copy) = try LogCommand.openForReading(admin, keyFiles: keyFiles)
            // A day is the jurisdiction's, taken as a report takes it, so that an export of a quarter holds what its
            // report counts; instants need no zone.
            let dayZone = bounds.allSatisfy { LocalDate($0) == nil } ? .gmt : try LogCommand.dayZone(given: givenZone, store, copy: copy, db: admin.db)
            let instant = { (text: String) in try parseInstant(text, dayStartsIn: dayZone) }
            let (fromTime, untilTime) = (try from.map(instant), try until.map(instant))  // before --out is made
            if let fromTime, let untilTime, fromTime >= untilTime {
                throw CLIError(.usage, "--from must be before --until: no decision could match")
            }
            // Archived entries are in their archive files, not in the database: a range that may hold some would be
            // exported short without a word.
            if let archived = try storeCall({ try store.archivedEntries() }),
               archived.latestTime.map({ latest in fromTime.map { latest >= $0 } ?? true }) ?? true {
                let missing = "\(archived.summary.replacingOccurrences(of: "and not counted", with: "and not in the database"))"
                guard allowArchived else {
                    // A range after them exists only when the archive says how late they go; a bundle takes no range.
                    let after = archived.latestTime != nil && format != .bundle ? ", export a range after them (--from)" : ""
                    throw CLIError(.refused, """
                        \(missing), so decisions of this range among them would be missing from the export: read them in the archive \
                        files (`log verify --archive` checks them)\(after), or give --allow-archived to export what the database holds
                        """)
                }
                warn("\(missing): decisions of this range among them are missing from the export")
            }
            try SudoInvocation.checkOutput(out)
            let sink = try Sink(path: out)  // refuses a bad --out before anything is signed or recorded
            try LogCommand.signCheckpointIfPossible(store, keyFiles: keyFiles)
            let progress = ProgressBar(enabled: out != nil && isatty(STDERR_FILENO) == 1, total: try storeCall { try store.exporter().decisionCount() })
            let count: Int
            if format == .bundle {
                if [from, until, agency, category, action, reason].contains(where: { $0 != nil }) || effect != nil {
                    throw CLIError(.usage, "a bundle holds the whole log (filters would break its proofs); filter CSV or JSON Lines instead")
                }
                let verifier = try storeCall { try keyFiles.verifierKey() }
                count = try storeCall { try store.writeBundle(verifierKey: verifier, write: sink.write) }
            } else {
                let filter = ExportFilter(
                    from: fromTime, until: untilTime, agency: agency, category: category,
                    action: action, effect: effect, reason: reason
                )
                count = try storeCall {
                    try store.exporter().export(format: format == .csv ? .csv : .jsonl, filter: filter, progress: progress.update, write: sink.write)
                }
            }
            try sink.close()
            progress.finish()
            if !copy {
                try storeCall {
                    try store.registry(timeZone: .gmt).recordAdminAction(
                        "log.export", target: "log", details: ["format": format.rawValue, "rows": String(count), "out": out ?? "stdout"], operator: admin.operatorName
                    )
                }
            }
            if let out { print("exported \(count) \(format == .bundle ? "entries" : "decisions") to \(out)") }
            if count == 0 && ([from, until, agency, category, action, reason].contains { $0 != nil } || effect != nil) {
                // An empty export is easily read as "no such requests": say that the filters matched nothing, and how
                // they match.
                warn("no decision matched the filters; they match exactly (agency ids and categories as the log states them, in lower case; an action family as records.*)")
            }
        }
    }

    struct InitKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init-key",
            abstract: "Create the Ed25519 key that signs checkpoints (owner-only), and its public verifier key (.pub).",
            discussion: "Give the .pub file to auditors. Example: warrant-gate log init-key --name denver-county-jail.example/warrant-gate"
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var keys: KeyOptions
        @Option(help: "The log's name: the checkpoints' origin line.") var name: String = "warrant-gate.local/log"

        func validate() throws {
            if let problem = LogSigningKey.nameProblem(name) { throw ValidationError(problem) }
        }

        func run() throws {
            let files = try keys.files(admin)
            try refuseRoot(in: URL(fileURLWithPath: files.privatePath).deletingLastPathComponent().path)
            let key = try storeCall { try files.create(name: name) }
            print("created \(files.privatePath) (mode 0600) and \(files.publicPath)")
            print("verifier key: \(key.verifier.encoded.trimmingCharacters(in: .newlines))")
        }
    }

    struct CheckpointCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint",
            abstract: "Print the latest signed checkpoint (signing a new one first if the log grew), to copy off the machine.",
            discussion: """
                The key records the last checkpoint it signed beside it (log-signing.key.last-signed) and refuses to sign
                while the log lacks it. After a deliberate restore of an older PostgreSQL backup (pg_restore, a base
                backup), --after-restore REASON records the restored log's latest checkpoint there instead, with the
                reason in the log; a SQLite store's `restore --allow-rollback` does this itself.

                Example: warrant-gate log checkpoint > /mnt/offsite/checkpoint-$(date +%F).txt
                """
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var keys: KeyOptions
        @Option(help: "The log was restored on purpose from an older backup, for this reason: sign on from its latest checkpoint.", transform: FreeText.composed)
        var afterRestore: String?

        func run() throws {
            let files = try keys.files(admin)
            let store = try LogCommand.openForReading(admin, keyFiles: files).store
            if let afterRestore { try recordRestored(store, files: files, reason: afterRestore) }
            let size = try storeCall { try store.logSize() }
            let canSign = try LogCommand.signCheckpointIfPossible(store, keyFiles: files)
            guard let latest = try storeCall({ try store.latestCheckpoint() }) else {
                throw CLIError(.notFound, "no checkpoint has been signed yet (is there a signing key at \(files.privatePath)?)")
            }
            // A row anyone who can write the database inserted would be useless, or worse, held off the machine.
            let verifier = try storeCall { try files.verifierKey() }
            guard (try? Checkpoint.verify(note: latest.note, key: verifier)) != nil else {
                throw CLIError(.refused, "the latest checkpoint row (size \(latest.size)) is not signed by the log's key: it was written outside the signer; `warrant-gate log verify` says more")
            }
            print(latest.note, terminator: "")
            // Whoever signed it, a checkpoint now must cover the log as it was before signing; one that does not is
            // stale, and whoever copies it off the machine should know.
            if canSign && latest.size < size {
                throw CLIError(.refused, """
                    the checkpoint above covers \(latest.size) of the log's \(size) entries: none could be signed now (another session \
                    holds the signer's lease and signs nothing, or the latest checkpoint row is not this key's: `warrant-gate log verify` says which)
                    """)
            }
        }

        /// Records the restored log's latest checkpoint as the key's last signed, and the reason in the log.
        private func recordRestored(_ store: Store, files: LogKeyFiles, reason: String) throws {
            guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw CLIError(.usage, "--after-restore needs a reason") }
            try SudoInvocation.current?.checkSigning(store.location, with: files)
            let key = try storeCall { try files.signingKey() }
            guard let latest = try storeCall({ try store.latestCheckpoint() }) else {
                throw CLIError(.notFound, "the restored log holds no checkpoint: nothing to sign on from")
            }
            do { _ = try Checkpoint.verify(note: latest.note, key: key.verifier) } catch {
                throw CLIError(.refused, "the restored log's latest checkpoint (\(latest.id)) is not this key's: \(error)")
            }
            let previous = (try? PrivateFile.read(files.lastSigned.path, limit: 1 << 16)).flatMap { try? Checkpoint.verify(note: String(decoding: $0, as: UTF8.self), key: key.verifier) }
            try storeCall { try files.lastSigned.record(latest.note, replacingLarger: true) }
            try storeCall {
                try store.registry(timeZone: .gmt).recordAdminAction(
                    "log.signer-restored", target: "log",
                    details: ["reason": reason, "checkpointSize": String(latest.size), "previousSignedSize": previous.map { String($0.size) } ?? "none"],
                    operator: admin.operatorName
                )
            }
            FileHandle.standardError.write(Data("""
                \(files.lastSigned.path) now records the restored log's checkpoint of \(latest.size) entries\(previous.map { " (it recorded \($0.size))" } ?? ""); \
                recorded in the log as log.signer-restored. Tell the auditors who hold later published checkpoints: the log forks from them.

                """.utf8))
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the Merkle tree from the entries and check it against every signed checkpoint.",
            discussion: """
                Trusts no stored hash. Checks each checkpoint's signature, that sizes only grow, that sequence numbers are
                contiguous, that each entry's time and decision id columns agree with the entry, and, with --against, a
                checkpoint held off the machine. The signing key's record of the last checkpoint it signed, beside the
                database, is one more (with --key, if that key signed it). Checkpoints over archived entries are checked against the stored tree.
                Names the first bad sequence number, and how many entries the latest matching checkpoint covers: the
                entries after it are vouched for by no signature. A database's short unsigned tail (until the next
                checkpoint) is reported; a bundle's fails unless --allow-unsigned-tail. Exit 0 when the log verifies, 3
                when it does not.

                Examples: warrant-gate log verify --against /mnt/offsite/checkpoint-2026-11-01.txt
                          warrant-gate log verify --bundle audit.bundle --key warrant-gate.pub
                """
        )
        @OptionGroup var admin: AdminOptions
        @Option(help: "A checkpoint held off the machine.") var against: String?
        @Option(help: "Verify an auditor bundle instead of the database.") var bundle: String?
        @Option(help: "An archive of older entries, oldest first (repeatable), to verify together with the database.") var archive: [String] = []
        @Option(help: "The verifier key (.pub) to trust (default: the one beside the database, or the bundle's own).") var key: String?
        @Flag(help: "Let a bundle's entries after its latest signed checkpoint pass (they are vouched for by no signature).") var allowUnsignedTail = false
        @Flag(help: "Check a bundle with the key it carries, which a forger can replace along with the log: its self-consistency only.")
        var trustBundleKey = false

        func validate() throws {
            if bundle != nil, key == nil, against == nil, !trustBundleKey {
                throw ValidationError(
                    "a bundle carries its own key, which a forger can replace along with the log: give the key the log's owner published (--key), or a checkpoint held elsewhere (--against); --trust-bundle-key checks it with its own key, for its self-consistency only"
                )
            }
            if trustBundleKey && (bundle == nil || key != nil) { throw ValidationError("--trust-bundle-key is for --bundle without --key") }
        }

        func run() throws {
            for path in [bundle].compactMap(\.self) + archive { try SudoInvocation.checkOperatorMayRead(path, what: "an input file") }
            let external = try against.map(readInputText)
            let verifier = try key.map { path -> LogVerifierKey in
                let text = try readInputText(path)
                do { return try LogVerifierKey(encoded: text) } catch { throw CLIError(.usage, "\(path): \(error)") }
            }
            var report: VerificationReport
            if let bundle {
                report = try storeCall { try AuditBundle.verify(path: bundle, key: verifier, against: external) }
                if !allowUnsignedTail { report.requireSigned("a bundle should end at a signed checkpoint (--allow-unsigned-tail lets them pass)") }
            } else {
                // Read only: verifying an evidence copy must not change it (no migration, no write).
                let store = try admin.open(readonly: true)
                let keyFiles = try LogKeyFiles(filesDirectory: admin.location().filesDirectory)
                let trusted = try verifier ?? storeCall { try keyFiles.verifierKey() }
                // The key beside the database recorded the last checkpoint it signed outside the database: a log cut
                // back below it, checkpoints and all, must not verify. With --key, the record counts if that key
                // signed it (another key's record says nothing of this log).
                let recorded = try storeCall { try keyFiles.lastSigned.recordedNote() }
                let lastSigned = verifier == nil ? recorded : recorded.flatMap { (try? Checkpoint.verify(note: $0, key: trusted)) != nil ? $0 : nil }
                report = try storeCall { try store.verify(key: trusted, archives: archive, against: external, lastSigned: lastSigned) }
            }
            guard report.ok else {
                report.writeProblems()
                let first = report.firstBadSeq.map { "; first bad sequence number: \($0)" } ?? ""
                throw CLIError(.refused, "the log does NOT verify (\(report.problemCount) problems\(first))")
            }
            print("ok: \(report.entries) entries, \(report.checkpoints) signed checkpoints, root \(Data(report.root).base64EncodedString())\(external != nil ? ", consistent with the checkpoint held elsewhere" : "")")
            print("  signed: entries 1…\(report.signedSize) are covered by a signed checkpoint that matches")
            if !report.rollbacks.isEmpty {
                let listed = report.rollbacks.map { "\($0.action) at seq \($0.seq)" }.joined(separator: ", ")
                print("  ROLLBACKS: the log records \(report.rollbacks.count) deliberate rollbacks (\(listed)): checkpoints published before each do not extend to the log after it")
            }
            if let backdated = report.backdated {
                print("  BACKDATED: \(backdated.count) entries state a time more than two days before an entry logged ahead of them (the first: seq \(backdated.first)): a gateway's clock was wrong, or they were backdated; retention judges each entry by its own time")
            }
            if report.archivedUnread > 0 {
                print("  archived: entries 1…\(report.archivedUnread) were checked as the stored tree's leaves only; give their archives (--archive) to read them")
            }
            if report.unsignedEntries > 0 {
                print("  UNSIGNED: entries \(report.signedSize + 1)…\(report.entries) are after the latest signed checkpoint: nothing signed vouches for them yet")
            }
            let source = key != nil ? "--key" : bundle != nil ? "the bundle's own key: compare it with the key the log's owner published" : "the key beside the database"
            print("  key: \(TerminalText.escaped(report.key)) (\(source))")
        }
    }

    struct Prove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write one decision, its inclusion proof and a signed checkpoint, for disclosure to a court.",
            discussion: "Reveals no other entry. Example: warrant-gate log prove 3813dcb8-5fa2-486f-a077-47042c72471a --out decision.proof.json"
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var keys: KeyOptions
        @Argument(help: "The decision id (the Decision-Id header of the answer).") var decisionId: String
        @Option(help: "The proof file to write (mode 0600; never an existing file or link).") var out: String

        func run() throws {
            try SudoInvocation.checkOutput(out)
            try storeCall { try PrivateFile.checkTarget(out, existing: .refuse) }
            let files = try keys.files(admin)
            let store = try LogCommand.openForReading(admin, keyFiles: files).store
            try LogCommand.signCheckpointIfPossible(store, keyFiles: files)
            let proof = try storeCall { try store.inclusionProof(decisionId: decisionId) }
            let verifier = try storeCall { try files.verifierKey() }
            do {
                _ = try proof.verify(key: verifier)
            } catch {
                throw CLIError(.refused, "the proof does not verify with the log's key (\(error)): the stored tree or checkpoint was altered; `warrant-gate log verify` says more")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let encoded = try storeCall { try encoder.encode(proof) }
            try storeCall { try PrivateFile.write(encoded, to: out, existing: .refuse, keepingFree: .copies) }
            print("wrote the proof of \(decisionId) (seq \(proof.seq) of \(proof.treeSize)) to \(out)")
        }
    }

    struct VerifyProof: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-proof",
            abstract: "Check a proof file with no database: the checkpoint's signature and the entry's inclusion.",
            discussion: "Exit 0 when it verifies, 3 when it does not. Example: warrant-gate log verify-proof decision.proof.json --key warrant-gate.pub"
        )
        @Argument(help: "The proof file.") var file: String
        @Option(help: "The log's verifier key (.pub).") var key: String

        /// Far above a proof's size: one entry, 64 hashes and a checkpoint.
        static let maximumBytes = 1 << 20

        func run() throws {
            let data = try SudoInvocation.readFile(file, what: "an input file", limit: Self.maximumBytes)
            let keyText = try readInputText(key)
            let verifier: LogVerifierKey
            do { verifier = try LogVerifierKey(encoded: keyText) } catch { throw CLIError(.usage, "\(key): \(error)") }
            let proof: InclusionProofFile
            do { proof = try UniqueKeyJSONDecoder().decode(InclusionProofFile.self, from: data) } catch { throw CLIError(.usage, "\(file) is not a proof file (\(error))") }
            do {
                let checkpoint = try proof.verify(key: verifier)
                print("ok: seq \(proof.seq) (\(TerminalText.escaped(proof.kind))) is in the log \(TerminalText.escaped(checkpoint.origin)) of \(checkpoint.size) entries, signed by \(TerminalText.escaped(verifier.name))")
                print(TerminalText.escaped(proof.entry))
            } catch {
                throw CLIError(.refused, "the proof does NOT verify: \(error)")
            }
        }
    }
}

extension LogCommand {
    struct Archive: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move entries older than a date into a verifiable archive file; the Merkle tree stays whole.",
            discussion: """
                Refuses entries younger than the retention period (default \(LogArchive.defaultRetentionDays) days), by this host's clock and
                by the gateways' latest entry (--log-idle: by the clock alone). A checkpoint is signed first. Verify across archives and the database with `log verify --archive FILE …`.

                Example: warrant-gate log archive --before 2025-01-01 --out /mnt/archive/warrant-gate-2024.archive
                """
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var keys: KeyOptions
        @Option(help: "Archive entries logged before this date (YYYY-MM-DD or ISO 8601, UTC).") var before: String
        @Option(help: "The archive file to create (mode 0600; never an existing file or link).") var out: String
        @Option(help: "The retention period in days that archiving must respect.") var retentionDays: Int = LogArchive.defaultRetentionDays
        @Flag(help: "No gateway has logged for longer than the entries' age (one taken out of service): judge the retention by this host's clock alone.")
        var logIdle = false

        func run() throws {
            guard retentionDays >= 1 else { throw CLIError(.usage, "--retention-days must be 1 or more (got \(retentionDays))") }
            if SudoInvocation.current != nil {
                // The archive is then the entries' only copy: in a directory the operator may change, one person could
                // delete a year of the log; with a shorter retention, every entry older than a day.
                guard retentionDays >= LogArchive.defaultRetentionDays else {
                    throw CLIError(.refused, """
                        run through sudo, --retention-days may not be below \(LogArchive.defaultRetentionDays): a shorter retention is for the \
                        service account itself to apply, from root's own login (runuser -u warrant-gate; a sudo -i shell stays the operator's)
                        """)
                }
                // Nor may one person set the gateways' entries aside and let a wrong clock judge the retention alone.
                guard !logIdle else {
                    throw CLIError(.refused, "run through sudo, --log-idle is refused: the service account applies it, from root's own login (runuser -u warrant-gate; a sudo -i shell stays the operator's)")
                }
            }
            try SudoInvocation.checkOutput(out)
            let cutoff = try parseInstant(before, dayStartsIn: .gmt)
            try storeCall { try PrivateFile.checkTarget(out, existing: .refuse) }
            let store = try admin.open()
            let retention = Double(retentionDays) * 86400
            let earliest = Date().addingTimeInterval(-retention)
            guard cutoff <= earliest else {
                throw CLIError(.refused, "entries are kept at least \(retentionDays) days: --before must be on or before \(Timestamp.format(earliest))")
            }
            // A host clock set ahead must not make a month's entries look a year old: ages are judged by the gateways'
            // latest entry too, unless the operator says no gateway has logged since (one taken out of service).
            if !logIdle, let latest = try storeCall({ try store.latestGatewayTime() }), cutoff > latest.addingTimeInterval(-retention) {
                throw CLIError(.refused, """
                    entries are kept at least \(retentionDays) days, and the gateways' latest entry is dated \(Timestamp.format(latest)): by it, \
                    --before must be on or before \(Timestamp.format(latest.addingTimeInterval(-retention))). Check this host's clock; if no \
                    gateway has logged since (one taken out of service), say so with --log-idle
                    """)
            }
            let files = try keys.files(admin)
            try SudoInvocation.current?.checkSigning(store.location, with: files)
            let key = try storeCall { try files.signingKey() }
            try storeCall { try store.checkpointer(key: key, lastSigned: files.lastSigned).sign() }
            let count = try storeCall {
                try store.archive(before: cutoff, key: key, path: out, operator: admin.operatorName)
            }
            print(count == 0 ? "nothing to archive before \(Timestamp.format(cutoff))" : "archived \(count) entries to \(out)")
            if count > 0 {
                FileHandle.standardError.write(Data("""
                    note: \(out) is now the only copy of these \(count) entries, and `backup` does not include it: keep it with the \
                    backups, off this machine, for as long as the records must be kept.

                    """.utf8))
            }
        }
    }
}

extension LogCommand {
    struct VouchArchives: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vouch-archives",
            abstract: "Sign the record of archived entries from their archive files, for a log archived before records were signed.",
            discussion: """
                `log verify` refuses entries marked archived by a log.archive record the log's key did not sign, as
                `log archive` has signed them since: whoever can write the database could otherwise delete entries behind a
                record of their own. For a log archived earlier, give every archive file, oldest first: the log must verify
                with them (each archived entry read and matched to the tree), and a record of what they hold is then
                appended, signed.

                Example: warrant-gate log vouch-archives --archive /mnt/archive/warrant-gate-2024.archive
                """
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var keys: KeyOptions
        @Option(help: "An archive file of the log (repeatable), oldest first: together, every archived entry.") var archive: [String] = []

        func run() throws {
            for path in archive { try SudoInvocation.checkOperatorMayRead(path, what: "--archive") }
            let store = try admin.open()
            let files = try keys.files(admin)
            try SudoInvocation.current?.checkSigning(store.location, with: files)
            let key = try storeCall { try files.signingKey() }
            let statement = try storeCall { try store.vouchForArchives(archive, key: key, operator: admin.operatorName) }
            print("signed the record of entries 1…\(statement.throughSeq), archived in \(archive.count) files (sha256 \(statement.archiveSHA256.prefix(16))…)")
        }
    }
}

extension Effect: ExpressibleByArgument {}

extension VerificationReport {
    /// Writes the problems listed to standard error, one a line, and how many more were found.
    func writeProblems() {
        for problem in problems { FileHandle.standardError.write(Data("  \(problem)\n".utf8)) }
        if unlistedProblems > 0 { FileHandle.standardError.write(Data("  … and \(unlistedProblems) more problems\n".utf8)) }
    }
}
