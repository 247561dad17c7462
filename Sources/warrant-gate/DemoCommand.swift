import ArgumentParser
import Foundation
import Logging
import WarrantGateCore
import WarrantGateDemo
import WarrantGateDevPKI
import WarrantGateServer
import WarrantGateStore

/// `demo`: the whole gateway on embedded defaults, with a dev PKI, simulated upstreams and seeded documents.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the gateway on loopback with a dev PKI, simulated jail systems and Denver's policy.",
        discussion: """
            Creates (or reuses) <data-dir>/certs with a CA, a server certificate and one client certificate per demo
            agency, starts simulated records, visitation and custody systems, seeds a judicial warrant (JW-2026-0001)
            and an ICE I-200 (I200-2026-0001), and prints curl commands to try. Ctrl-C drains and exits 0.

            With --database postgres://user@host:port/database, the log and the registry live in that PostgreSQL
            database instead of <data-dir>/warrant-gate.sqlite: its tables are created if missing (owned by that user,
            with no separate gateway role: a demo, not a deployment; see docs/postgresql.md). Run a second demo with
            other ports and the same --database to see two gateways share one log.

            Example: warrant-gate demo --port 8443
            """
    )

    static let agencies = ["ice-ero", "denver-pd", "public-defender", "consulate-mx", "unregistered"]

    @Option(help: "The gateway's port on 127.0.0.1.") var port: Int = 8443
    @Option(help: "The admin listener's port on 127.0.0.1 (health and metrics).") var adminPort: Int = 9090
    @Option(help: "Where the demo keeps its certificates and database.") var dataDir: String = ".warrant-gate/demo"
    @Option(help: "The directory of policy files.") var policies: String = "policies"
    @Option(help: "A PostgreSQL database to keep the log and registry in, postgres://user@host:port/database (default: a SQLite file in the data directory).")
    var database: String?
    @Option(help: "For --database: a file whose first line is the password (else $PGPASSWORD).") var dbPasswordFile: String?

    func run() async throws {
        try SudoInvocation.refuseGateway("warrant-gate demo")
        OperationalLogging.bootstrap(.text)
        let logger = { () -> Logger in
            var logger = Logger(label: "warrant-gate")
            logger.logLevel = .notice
            return logger
        }()
        let dataDirectory = URL(fileURLWithPath: dataDir)
        let pki = DevPKIDirectory(directory: dataDirectory.appendingPathComponent("certs"))
        let created: [String]
        do {
            // Owner-only directories (if new) before any key is written into them.
            try PrivateFile.makeDirectory(dataDirectory.path)
            try PrivateFile.makeDirectory(pki.directory.path)
            created = try pki.ensure(clients: Self.agencies)
        } catch {
            throw CLIError(.failure, "cannot create the demo PKI in \(pki.directory.path): \(error)")
        }
        guard FileManager.default.fileExists(atPath: "\(policies)/denver.yaml") else {
            throw CLIError(.notFound, "no \(policies)/denver.yaml: run the demo from the repository's root, or pass --policies")
        }

        let location: StoreLocation
        do {
            location = try StoreLocation(database ?? dataDirectory.appendingPathComponent("warrant-gate.sqlite").path, filesDirectory: dataDirectory.path)
        } catch {
            throw CLIError(.usage, error.message)
        }
        if location.sqlitePath == nil {
            let dbPasswordFile = dbPasswordFile
            try await BlockingWork.run { try Self.createTablesIfMissing(location, passwordFile: dbPasswordFile) }
        }
        let keyFiles = LogKeyFiles(filesDirectory: location.filesDirectory)
        if !keyFiles.exists {
            do { try keyFiles.create(name: "warrant-gate.demo/log") } catch { throw CLIError(.failure, "cannot create the log signing key: \(error)") }
        }
        let upstreams = try await DemoUpstreams.start(logger: logger)
        var configuration = GatewayConfiguration(
            serverCertificatePath: pki.serverCertificatePath, serverKeyPath: pki.serverKeyPath, clientCAPath: pki.caPath,
            upstreams: upstreams.urls.mapValues { UpstreamSettings(url: $0) }, policyPath: "\(policies)/denver.yaml", agenciesPath: "\(policies)/agencies.yaml",
            database: location
        )
        configuration.databasePasswordFile = dbPasswordFile
        configuration.port = port
        configuration.adminPort = adminPort
        configuration.authorities = ["demo-ca": pki.caPath]

        let gateway: Gateway
        do {
            let instructions = Self.instructions(dataDir: dataDir, location: location, pkiCreated: created)
                .replacingOccurrences(of: "{ADMIN}", with: String(adminPort))
            gateway = try await Gateway.load(configuration: configuration, logger: logger, onListening: { bound in
                // Written unbuffered, so the instructions show at once even when output is piped.
                FileHandle.standardOutput.write(Data((instructions.replacingOccurrences(of: "{PORT}", with: String(bound)) + "\n").utf8))
            })
            let (registry, dataDir) = (gateway.registry, dataDir)
            try await BlockingWork.run { try Self.seed(registry, dataDir: dataDir, filesDirectory: location.filesDirectory) }
        } catch let error as CLIError {
            await upstreams.stop()
            throw error
        } catch {
            await upstreams.stop()
            throw CLIError(.failure, "cannot start: \(error)")
        }
        do {
            try await gateway.run()
        } catch {
            await upstreams.stop()
            throw CLIError(.failure, "the gateway stopped: \(error)")
        }
        await upstreams.stop()
        FileHandle.standardOutput.write(Data("\ndemo stopped; its log is in \(location)\n".utf8))
    }

    /// Seeds the demo's documents once: registered by the demo's legal unit and approved by a second operator, as
    /// the two-person rule requires. The judicial warrant's "scan" is a text stand-in kept in the document store.
    private static func seed(_ registry: Registry, dataDir: String, filesDirectory: String) throws {
        let expires = LocalDate(date: Date().addingTimeInterval(180 * 86400), timeZone: registry.timeZone).description
        let scan = URL(fileURLWithPath: dataDir).appendingPathComponent("JW-2026-0001.txt")
        if !FileManager.default.fileExists(atPath: scan.path) {
            try PrivateFile.write(Data("""
                UNITED STATES DISTRICT COURT FOR THE DISTRICT OF COLORADO
                Case No. 1:26-mj-00417 — SEARCH AND SEIZURE WARRANT (demo stand-in, not a real document)
                To any authorized law enforcement officer: records of booking 2017-000123 and an interview by arrangement.
                Signed: Hon. M. Rivera, U.S. Magistrate Judge
                """.utf8), to: scan.path, existing: .refuse)
        }
        let digest = try DocumentStore(filesDirectory: filesDirectory).store(DocumentStore.read(path: scan.path))
        let seeds = [
            DocumentRegistration(
                reference: "JW-2026-0001", kind: .judicialWarrant, agency: "ice-ero", subjects: ["2017-000123"],
                scope: ["records.read", "visitation.schedule"], expires: expires,
                court: "U.S. District Court for the District of Colorado", judge: "Hon. M. Rivera, U.S. Magistrate Judge",
                caseNumber: "1:26-mj-00417", documentSHA256: digest
            ),
            DocumentRegistration(
                reference: "I200-2026-0001", kind: .administrativeWarrant, agency: "ice-ero", subjects: ["2017-000456"],
                scope: ["records.read"], expires: expires
            ),
        ]
        for seed in seeds where try registry.entry(reference: seed.reference) == nil {
            let document = try registry.register(seed, operator: "demo-legal-unit")
            if document.status == .pending { try registry.approve(reference: seed.reference, operator: "demo-supervisor") }
        }
    }

    /// Creates the PostgreSQL store's tables, owned by the demo's user, unless they are there already.
    private static func createTablesIfMissing(_ location: StoreLocation, passwordFile: String?) throws {
        let options = StoreOptions(passwordFile: passwordFile)
        do {
            try Store.open(location, options: options).close()
        } catch {
            do {
                try Store.initialize(location, roles: PostgresRoles(gateway: nil), options: options)
            } catch {
                throw CLIError(.failure, "\(error)")
            }
        }
    }

    /// The commands to try. The admin commands name the demo's database unless it is the CLI's default (which a host
    /// with an installed gateway refuses to take for granted).
    private static func instructions(dataDir: String, location: StoreLocation, pkiCreated: [String]) -> String {
        let c = "\(dataDir)/certs"
        let db: String
        if let path = location.sqlitePath {
            let isDefault = URL(fileURLWithPath: path).standardizedFileURL == URL(fileURLWithPath: AdminOptions.demoDatabase).standardizedFileURL
            db = isDefault && !SudoInvocation.hostHasInstalledGateway ? "" : " --db \(path)"
        } else {
            db = " --db \(location) --files-dir \(dataDir)"
        }
        func curl(_ agency: String, _ rest: String) -> String {
            "curl -s --cacert \(c)/ca.pem --cert \(c)/\(agency).pem --key \(c)/\(agency).key \(rest)"
        }
        let base = "https://localhost:{PORT}"
        return """

            WarrantGate demo — Denver policy, gateway on \(base) (admin: http://127.0.0.1:{ADMIN}/metrics)
            \(pkiCreated.isEmpty ? "Reusing the dev PKI in \(c)." : "Created the dev PKI in \(c) (\(pkiCreated.joined(separator: ", "))).")
            Seeded: JW-2026-0001 (judicial warrant: ice-ero, 2017-000123, records.read + visitation.schedule)
                    I200-2026-0001 (ICE I-200 administrative warrant: ice-ero, 2017-000456)

            Try these from another terminal, in this directory:

            # 1. ICE without a warrant: refused (403 warrant_missing)
            \(curl("ice-ero", "\(base)/records/inmates/2017-000123"))

            # 2. ICE with the registered judicial warrant: allowed, immigration fields stripped
            \(curl("ice-ero", "-H 'Warrant-Reference: JW-2026-0001' \(base)/records/inmates/2017-000123"))

            # 3. ICE with an I-200: refused as not judicial (403 warrant_not_judicial)
            \(curl("ice-ero", "-H 'Warrant-Reference: I200-2026-0001' \(base)/records/inmates/2017-000456"))

            # 4. Denver police get their records (still without immigration fields)
            \(curl("denver-pd", "\(base)/records/inmates/2017-000456"))

            # 4b. The same records as NIEM 4.0 XML, gzip on the way from the records system, and over SOAP 1.1:
            #     the NIEM immigration elements are gone, matched by namespace, whatever the prefix
            \(curl("ice-ero", "-H 'Warrant-Reference: JW-2026-0001' -H 'Accept: application/xml' \(base)/records/inmates/2017-000123"))
            \(curl("denver-pd", "-H 'Accept: application/xml' -H 'Accept-Encoding: gzip' \(base)/records/inmates/2017-000456"))
            #     SOAP's operation and inmate come from the envelope, and its SOAPAction must name that operation
            \(curl("denver-pd", "-H 'Content-Type: text/xml' -H 'SOAPAction: \"urn:example:jail:records/GetBooking\"' -d '<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><GetBooking xmlns=\"urn:example:jail:records\"><BookingNumber>2017-000456</BookingNumber></GetBooking></s:Body></s:Envelope>' \(base)/records/soap"))

            # 4c. ICE asks the custody system to hold an inmate past release on its I-200: refused (403
            #     criminal_warrant_required); holds, transfers, arrests in the jail, secure areas and interviews need a
            #     judge's criminal warrant for that inmate, and every such request is counted for the council
            \(curl("ice-ero", "-H 'Warrant-Reference: I200-2026-0001' -H 'Content-Type: application/json' -d '{\"bookingNumber\":\"2017-000456\",\"documentReference\":\"I200-2026-0001\",\"requestedBy\":\"ice-ero\",\"holdUntil\":\"2026-12-20T17:00:00Z\"}' \(base)/custody/holds"))

            # 5. A certificate from the right CA that names no agency: 403 unknown_agency
            \(curl("unregistered", "\(base)/records/inmates/2017-000123"))

            # 6. No client certificate at all: the TLS handshake fails
            curl -s --cacert \(c)/ca.pem \(base)/records/inmates/2017-000123

            # 7. Release date to ICE: refused until the inmate is advised of their rights, then allowed
            \(curl("ice-ero", "\(base)/records/inmates/2017-000789/release"))
            swift run warrant-gate advisement record\(db) --subject 2017-000789 --language es --by "Dep. L. Ortiz"
            \(curl("ice-ero", "\(base)/records/inmates/2017-000789/release"))

            # 8. Every decision, with its outcome; and the tamper-evident log checked against its signed checkpoints:
            swift run warrant-gate log export\(db) --format csv
            swift run warrant-gate log verify\(db)

            Ctrl-C stops the demo.
            """
    }
}
