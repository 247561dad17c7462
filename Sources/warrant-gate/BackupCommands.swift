import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateStore

/// `backup`: one file holding a SQLite store and its document scans, made while the gateway serves.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the SQLite store and its document scans into one file, while the gateway serves.",
        discussion: """
            SQLite's online backup copies the database from one snapshot while the gateway goes on writing; the scans of
            the document store are added to the copy, each under its SHA-256. With the log signing key at hand, a
            checkpoint is signed first, and the backup is sealed: a checkpoint at its exact size that also commits to its
            registry and scans, which `restore` requires. Without the key the backup is written unsealed, with a warning,
            and `restore` refuses it unless told why (--allow-unsealed). The log signing key is NOT in the backup: back
            it up once, apart from the backups. Copy a
            checkpoint off the machine (`log checkpoint`) before each backup: `restore` checks the backup against it.
            The backup is recorded in the log. For a PostgreSQL store, use pg_dump or pg_basebackup (docs/postgresql.md).

            Example: warrant-gate backup --db /var/lib/warrant-gate/warrant-gate.sqlite --out /mnt/backup/warrant-gate-$(date +%F).backup
            """
    )
    @OptionGroup var admin: AdminOptions
    @OptionGroup var keys: LogCommand.KeyOptions
    @Option(help: "The backup file to create (mode 0600; never an existing file or link).") var out: String

    func run() throws {
        guard try admin.location().sqlitePath != nil else {
            throw CLIError(.refused, "`backup` copies a SQLite store; back up a PostgreSQL store with pg_dump or pg_basebackup, and its files directory (docs/postgresql.md#backups)")
        }
        try SudoInvocation.checkOutput(out)
        try storeCall { try PrivateFile.checkTarget(out, existing: .refuse) }
        let files = try keys.files(admin)
        let (store, copy) = try LogCommand.openForReading(admin, keyFiles: files)
        try LogCommand.signCheckpointIfPossible(store, keyFiles: files)
        let key = files.exists ? try storeCall { try files.signingKey() } : nil
        let report = try storeCall { try store.backup(to: out, sealingWith: key) }
        let checkpoint = report.latestCheckpointSize.map { "; the latest covers \($0)" } ?? ""
        print("""
            backed up \(store.location) to \(out) (mode 0600, \(Self.size(report.bytes))):
              the log: \(report.entries) entries in the database, tree size \(report.treeSize), \(report.checkpoints) signed checkpoints\(checkpoint)
              the registry, and \(report.documents) documents (\(Self.size(report.documentBytes)))
              \(key.map { "sealed with the log signing key \($0.name): its log and registry are vouched for" } ?? "NOT sealed")
              not included: the log signing key (keep it backed up apart, once)
            """)
        if key == nil {
            FileHandle.standardError.write(Data("""
                warning: no log signing key at \(files.privatePath), so the backup is NOT sealed: nothing signed vouches for its
                registry, and `restore` refuses it unless given --allow-unsealed REASON. Back up with --key LOG-SIGNING-KEY.

                """.utf8))
        }
        // A copy (an auditor's) is read, never written: the backup is recorded only in a gateway's own store.
        if !copy {
            try storeCall {
                try store.registry(timeZone: .gmt).recordAdminAction("store.backup", target: "log", details: [
                    "out": out, "treeSize": String(report.treeSize), "documents": String(report.documents),
                ], operator: admin.operatorName)
            }
        }
        let problems = report.skippedDocuments + report.missingDocuments.map { "\($0): the registry names it, the document store lacks it" }
        guard problems.isEmpty else {
            for problem in problems { FileHandle.standardError.write(Data("  \(TerminalText.escaped(problem))\n".utf8)) }
            throw CLIError(.failure, "the backup was written, but \(problems.count) documents are not in it (above): restore them from paper or an earlier backup")
        }
    }

    static func size(_ bytes: Int) -> String {
        bytes < 1 << 20 ? "\(bytes) bytes" : String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
    }
}

/// `restore`: a backup back into a SQLite store, checked against a checkpoint held off the machine.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup into a SQLite store, after checking it against a checkpoint held off the machine.",
        discussion: """
            Checks the file (SQLite's integrity check, a store's schema and nothing else, every document's SHA-256),
            checks its seal (a checkpoint at its exact size, signed when it was made, that commits to its registry and
            scans), recomputes the whole log and checks it against the seal, its own checkpoints and --against. An
            unsealed backup (made without the key, or by an older version) is refused unless --allow-unsealed gives the
            reason: its registry is then trusted unchecked (unsafe). A backup whose log is shorter than --against is a
            rollback: the restored log would fork the history that checkpoint published, and it is refused unless
            --allow-rollback gives the reason; the lost entries are what would show that the backup is a prefix of it,
            so only the checkpoint's signature is checked. A backup longer than --against that does not match it is
            always refused. Then the documents go into the files directory, the restore (and any rollback) is recorded in the
            restored log, and the database is put at --db. A database already there is replaced only with --replace,
            only when no process has it open (stop the gateway first), and is moved aside, not deleted.
            The verifier key is log-signing.key.pub beside --db (restore the key files first), or --key.
            Exit 0 restored, 3 refused, 4 no such file.

            Examples: warrant-gate restore /mnt/backup/warrant-gate-2026-12-01.backup --against /mnt/offsite/checkpoint-2026-12-01.txt \\
                          --db /tmp/drill/warrant-gate.sqlite --key /var/lib/warrant-gate/log-signing.key.pub
                      warrant-gate restore /mnt/backup/warrant-gate-2026-12-01.backup --against /mnt/offsite/checkpoint-latest.txt \\
                          --db /var/lib/warrant-gate/warrant-gate.sqlite --replace --allow-rollback "disk failure 2026-12-02; ticket 4411"
            """
    )
    @Argument(help: "The backup file (from `warrant-gate backup`).") var file: String
    @Option(help: "A checkpoint held off the machine (from `log checkpoint`): the latest one published.") var against: String?
    @Flag(help: "Restore without a checkpoint held off the machine; a rollback then goes unnoticed, but for one against the database --replace replaces.") var noOffsiteCheckpoint = false
    @Option(help: "Restore a backup older than --against or the key's last checkpoint, or not extending the database --replace replaces, for this reason (recorded in the log).", transform: FreeText.composed)
    var allowRollback: String?
    @Option(
        help: "UNSAFE: restore a backup without a seal, trusting its registry unchecked, for this reason (recorded in the log).",
        transform: FreeText.composed
    )
    var allowUnsealed: String?
    @Flag(help: "Replace the database at --db (moved aside, not deleted); it must not be in use.") var replace = false
    @Option(help: "The log's verifier key (.pub) (default: log-signing.key.pub beside --db, or in --files-dir).") var key: String?
    @OptionGroup var admin: AdminOptions

    func validate() throws {
        if (against == nil) == !noOffsiteCheckpoint {
            throw ValidationError("give --against CHECKPOINT (held off the machine), or --no-offsite-checkpoint to restore without one")
        }
        if let allowRollback, allowRollback.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ValidationError("--allow-rollback needs a reason")
        }
        if let allowUnsealed, allowUnsealed.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ValidationError("--allow-unsealed needs a reason")
        }
    }

    func run() throws {
        let location = try admin.location()
        guard location.sqlitePath != nil else {
            throw CLIError(.refused, "`restore` restores a SQLite store; restore a PostgreSQL store with pg_restore (docs/postgresql.md#backups)")
        }
        try SudoInvocation.checkOperatorMayRead(file, what: "an input file")
        // Read once: the bytes checked are the bytes used.
        let keyBytes = try key.map { path in try SudoInvocation.readFile(path, what: "an input file", limit: 1 << 16) }
        try SudoInvocation.current?.checkRestore(into: location, verifierKey: keyBytes, allowUnsealed: allowUnsealed != nil, offsite: against != nil)
        // The key's record of the last checkpoint it signed, beside it in the target's files directory, if it keeps one.
        let lastSignedRecord = LogKeyFiles(filesDirectory: location.filesDirectory).lastSigned
        let lastSignedFile = lastSignedRecord.path
        let lastSigned = try storeCall { try lastSignedRecord.recordedNote() }
        if allowRollback != nil && against == nil && !replace && lastSigned == nil {
            throw CLIError(.usage, """
                --allow-rollback needs something to measure a rollback against: --against CHECKPOINT, --replace, or the log signing \
                key's record of its last checkpoint (\(lastSignedFile))
                """)
        }
        let checkpoint = try against.map { path in String(decoding: try SudoInvocation.readFile(path, what: "an input file", limit: 1 << 16), as: UTF8.self) }
        let verifier = try verifierKey(location, given: keyBytes)
        if noOffsiteCheckpoint {
            FileHandle.standardError.write(Data("""
                warning: no checkpoint held off the machine. The backup is checked only against its own checkpoints, so an
                older backup, or one cut back to an earlier checkpoint, passes as the latest: a rollback goes unnoticed.

                """.utf8))
        }
        let options = RestoreOptions(
            offsiteCheckpoint: checkpoint, lastSignedCheckpoint: lastSigned, rollbackReason: allowRollback, unsealedReason: allowUnsealed,
            replace: replace, operator: admin.operatorName
        )
        let report = try storeCall {
            try StoreBackup.restore(from: file, to: location, key: verifier, options: options) { step in print("\(FreeText.escaped(step))…") }
        }
        let consistency = report.offsiteCheckpointSize.map { size in
            size > report.treeSize ? "NOT covering the checkpoint held off the machine (size \(size))" : "consistent with the checkpoint held off the machine (size \(size))"
        } ?? "checked against its own checkpoints only"
        print("""
            restored \(file)\(report.backupCreated.map { " (made \(TerminalText.escaped($0)))" } ?? "") to \(location)
              the log verifies: \(report.treeSize) entries, \(report.checkpoints) signed checkpoints, \(consistency)
              \(report.sealed ? "sealed: the key vouches for all \(report.treeSize) entries and the registry" : "NOT sealed: the registry and \(report.unsignedEntries) entries after the last signed checkpoint are unchecked")
              \(report.documents) documents restored into \(location.filesDirectory)/documents
              recorded in the restored log as \(report.action) by \(admin.operatorName)
            """)
        if let previous = report.previousDatabase { print("  the database that was there is now \(previous)") }
        for digest in report.missingDocuments {
            warn("the registry names the document \(TerminalText.escaped(digest)), which neither the backup nor the files directory holds")
        }
        if !report.sealed {
            FileHandle.standardError.write(Data("""
                WARNING: UNSEALED BACKUP. Nothing signed vouches for the restored registry (warrants, agencies, revocations,
                records about inmates, settings) or for the \(report.unsignedEntries) entries after the last signed checkpoint:
                check them against paper before the gateway serves. The record \(report.action) in the log says so.

                """.utf8))
        }
        if allowRollback != nil && report.isRollback { try recordRestoredCheckpoint(location) }
        if report.isRollback {
            let covered = [
                report.offsiteCheckpointSize.map { "the checkpoint held off the machine covers \($0)" },
                report.lastSignedSize.map { "the log signing key last signed \($0)\(report.lastSignedHeld == false ? ", a log this one does not hold," : "")" },
                report.replacedTreeSize.map {
                    "the database replaced held \($0)\(report.replacedLogExtended == false ? ", a log this one does not extend," : "") (kept in the file moved aside)"
                },
            ].compactMap { $0 }.joined(separator: "; ")
            FileHandle.standardError.write(Data("""
                WARNING: ROLLBACK. The restored log has \(report.treeSize) entries; \(covered).
                \(report.entriesLost > 0 ? "The \(report.entriesLost) entries after the backup are lost" : "The entries from where the two logs differ are lost"), and the log from here on forks the history that
                was there. Tell the auditors who hold published checkpoints. The record \(report.action)
                in the log names the sizes, the entries lost, the reason and who restored.

                """.utf8))
        }
    }

    /// After a deliberate rollback, the key's record of the last checkpoint it signed (``LastSignedCheckpoint``) is
    /// set to the restored log's latest, so that its signers sign on from there and not refuse a fork of it.
    private func recordRestoredCheckpoint(_ location: StoreLocation) throws {
        let keyFiles = LogKeyFiles(filesDirectory: location.filesDirectory)
        guard FileManager.default.fileExists(atPath: keyFiles.lastSigned.path) else { return }
        let store = try storeCall { try Store.open(location) }
        defer { store.close() }
        guard let latest = try storeCall({ try store.latestCheckpoint() }) else { return }
        try storeCall { try keyFiles.lastSigned.record(latest.note, replacingLarger: true) }
        print("  \(keyFiles.lastSigned.path) now records the restored log's checkpoint of \(latest.size) entries")
    }

    /// `--key`, else the verifier key in the target's files directory.
    /// `--key`'s bytes as read (`given`), else the verifier key in the target's files directory.
    private func verifierKey(_ location: StoreLocation, given: Data?) throws -> LogVerifierKey {
        if let given {
            do { return try LogVerifierKey(encoded: String(decoding: given, as: UTF8.self)) } catch { throw CLIError(.usage, "\(key ?? ""): \(error)") }
        }
        let files = LogKeyFiles(filesDirectory: location.filesDirectory)
        do { return try files.verifierKey() } catch {
            throw CLIError(.notFound, "no verifier key at \(files.publicPath): restore the key files (kept apart from the backups) there first, or give --key")
        }
    }
}
