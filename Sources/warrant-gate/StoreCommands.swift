import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateStore

/// `store …`: setting up a shared PostgreSQL store, and moving a site onto one.
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Create a PostgreSQL store's tables, or move a site's SQLite store onto one.",
        subcommands: [Init.self, Migrate.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Create or upgrade a PostgreSQL store's tables and grant each role what it needs.",
            discussion: """
                Run it as the role that is to own the tables (not a superuser's everyday login, and never the gateways'
                role: an owner could disable the triggers that keep the log append-only). The roles must exist already
                (CREATE ROLE wg_gateway LOGIN). Running it again changes nothing, or upgrades the tables.

                Example: warrant-gate store init --db postgres://wg_owner@db.county.example:5432/warrant_gate \\
                    --gateway-role wg_gateway --admin-role wg_admin --archive-role wg_archive
                """
        )

        @Option(help: "The database, postgres://owner@host:port/database.") var db: String
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The role the gateways connect as: appends to the log, reads the registry.") var gatewayRole: String
        @Option(help: "The role the admin CLI connects as to change the registry (default: the gateways' role may).") var adminRole: String?
        @Option(help: "The role `log archive` connects as, the only one that may move entries out of the log.") var archiveRole: String?

        func run() throws {
            let location = try database.location(db)
            let roles: PostgresRoles
            do { roles = try PostgresRoles(gateway: gatewayRole, admin: adminRole, archive: archiveRole) } catch { throw CLIError(.usage, error.message) }
            try storeCall { try Store.initialize(location, roles: roles, options: try database.options(for: location)) }
            print("the store's tables are in \(location); granted to \(roles.gateway ?? "")\(adminRole.map { ", \($0)" } ?? "")\(archiveRole.map { ", \($0)" } ?? "")")
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Copy a site's log, checkpoints and registry into an empty store, and check the roots match.",
            discussion: """
                Stop the gateway first, so that the source does not grow meanwhile. The target must be empty (after
                `store init`); connect to it as the tables' owner. The source's log is verified first, with the log's
                key in its files directory and the key's record of the last checkpoint it signed, as `log verify` does:
                a log that does not verify is not copied. Afterwards, copy the files directory (the log signing key and
                documents/) to --files-dir on each gateway, and point the gateways at the target.

                Example: warrant-gate store migrate --from /var/lib/warrant-gate/warrant-gate.sqlite \\
                    --to postgres://wg_owner@db.county.example:5432/warrant_gate
                """
        )

        @Option(help: "The store to copy: a SQLite file (or a postgres:// URL).") var from: String
        @Option(help: "The empty store to copy into: a postgres:// URL (or a new SQLite file).") var to: String
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let source = try database.open(from)
            // What is copied is signed again by no one: behind the target's append-only triggers, a forged entry or
            // checkpoint would pass for the site's. The source must verify as `log verify` would have it.
            let keyFiles = LogKeyFiles(filesDirectory: source.location.filesDirectory)
            let key = try storeCall { try keyFiles.verifierKey() }
            let recorded = try storeCall { try keyFiles.lastSigned.recordedNote() }
            let check = try storeCall { try source.verify(key: key, against: nil, lastSigned: recorded) }
            guard check.ok else {
                throw CLIError(.refused, "the source's log does not verify, so it is not copied: " + check.problems.prefix(3).joined(separator: "; ") + " (`warrant-gate log verify` says more)")
            }
            let target = try database.open(to, create: true)
            if let sudo = SudoInvocation.current {
                // An operator copies the whole store to a database of their choosing: the source's log says who, and
                // where, before anything is copied (the copy holds the record too).
                try storeCall {
                    try source.registry(timeZone: .gmt).recordAdminAction(
                        "store.migrate", target: "store", details: ["to": "\(target.location)"], operator: sudo.operatorAccount
                    )
                }
            }
            let report = try storeCall {
                try StoreMigration.copy(from: source, to: target) { copied in
                    if copied % 100_000 == 0 { FileHandle.standardError.write(Data("copied \(copied) entries\n".utf8)) }
                }
            }
            print("""
                copied \(report.entries) entries, \(report.checkpoints) checkpoints and \(report.registryRows) registry rows into \(target.location)
                the Merkle root matches at every checkpoint; root now \(Hex.encode(report.root))
                next: copy \(source.location.filesDirectory)/log-signing.key, log-signing.key.pub and documents/ to each gateway's files directory
                """)
        }
    }
}
