import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateStore
import X509

extension AgencyCategory: ExpressibleByArgument {}

/// `agency …`: agencies and their certificates, managed from the CLI on top of `agencies.yaml`.
struct AgencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agency",
        abstract: "List agencies, add one pinned to a certificate (a second operator approves it), revoke a certificate.",
        subcommands: [List.self, Add.self, Approve.self, Withdraw.self, RevokeCert.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the agencies of agencies.yaml and of the registry, and revoked certificates.",
            discussion: "Example: warrant-gate agency list --agencies policies/agencies.yaml"
        )
        @OptionGroup var admin: AdminOptions
        @Option(help: "The reviewed agency directory (its subject matchers are listed without checking their authority).") var agencies: String = "policies/agencies.yaml"
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() throws {
            // A file that does not parse lists nothing; one the operator may not read is refused.
            let listing: [Agency]?
            do { listing = try agencyListing(agencies) } catch let error as CLIError { throw error } catch { listing = nil }
            let file = listing ?? []
            if listing == nil { warn("no agency directory read at \(agencies): only the registry's agencies are listed, none marked inert (give --agencies)") }
            let registry = try admin.registry()
            let added = try storeCall { try registry.agencies() }
            let extensions = try storeCall { try registry.agencyExtensions() }
            let revoked = try storeCall { try registry.certificateRevocations() }
            let pending = try storeCall { try registry.pendingAgencyRequests() }
            let alone = try storeCall { try registry.keysPinnedByOneOperator() }
            // As the gateway reads them: an agency the file lists keeps its name and category, with the registry's pins
            // added; JSON gives each pin whole, the table its first 16 digits.
            struct Row: Encodable { let id, name, category, source: String; let certificates: [String] }
            func pins(_ agency: Agency) -> [String] { agency.spkiPins.sorted().map { "spki:" + $0 } }
            var rows: [Row] = file.map { agency in
                let registered = added.first { $0.id == agency.id }
                let matchers = agency.subjectMatchers.map { matcher in
                    matcher.authority + ":" + matcher.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                }
                return Row(id: agency.id, name: agency.name, category: agency.category.rawValue, source: registered == nil ? "file" : "file+registry",
                           certificates: pins(agency) + (registered.map(pins) ?? []) + matchers)
            }
            // Certificates added to an agency the file no longer lists identify no one.
            for agency in added where !file.contains(where: { $0.id == agency.id }) {
                let source = listing != nil && extensions.contains(agency.id) ? "registry (inert: extends an unlisted agency)" : "registry"
                rows.append(Row(id: agency.id, name: agency.name, category: agency.category.rawValue, source: source, certificates: pins(agency)))
            }
            rows.sort { $0.id < $1.id }
            if json {
                struct Listing: Encodable {
                    let agencies: [Row]; let revokedCertificates: [CertificateRevocation]; let pendingRequests: [AgencyRequest]; let keysPinnedByOneOperator: [PinnedKey]
                }
                return try printJSON(Listing(agencies: rows, revokedCertificates: revoked, pendingRequests: pending, keysPinnedByOneOperator: alone))
            }
            let shortened = { (row: Row) in row.certificates.map { $0.hasPrefix("spki:") ? $0.prefix(21) + "…" : $0 }.joined(separator: " ") }
            print(Table.render(header: ["ID", "CATEGORY", "SOURCE", "CERTIFICATES", "NAME"], rows: rows.map { [$0.id, $0.category, $0.source, shortened($0), $0.name] }))
            if !pending.isEmpty {
                print("\nrequests waiting for a second operator (warrant-gate agency approve N):")
                print(Table.render(header: ["N", "AGENCY", "CATEGORY", "CERTIFICATES", "REQUESTED", "BY"], rows: pending.map {
                    [String($0.number), $0.agency, $0.category, $0.spkiPins.map { "spki:" + $0 }.joined(separator: " "), $0.requestedAt, $0.requestedBy]
                }))
            }
            if !alone.isEmpty {
                print("\nkeys one operator pinned alone (the two-person rule off, or before it covered agencies): have a second operator")
                print("confirm each (agency add with the same certificate, then agency approve), or revoke it:")
                print(Table.render(header: ["AGENCY", "CERTIFICATE"], rows: alone.map { [$0.agency, "spki:" + $0.spki] }))
            }
            if !revoked.isEmpty {
                print("\nrevoked certificates:")
                print(Table.render(header: ["AGENCY", "CERTIFICATE", "REVOKED", "BY", "REASON"], rows: revoked.map {
                    [$0.agency, $0.spki.map { "spki:" + $0 } ?? "serial:" + ($0.serial ?? ""), $0.revokedAt, $0.revokedBy, $0.reason]
                }))
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an agency (or a certificate to one), pinned to the certificate's SPKI SHA-256.",
            discussion: "Example: warrant-gate agency add aurora-pd --name \"Aurora Police\" --category local-law-enforcement --cert aurora-pd.pem"
        )
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The agency id.") var id: String
        @Option(help: "local-law-enforcement, federal-immigration, defense-counsel, court, consulate, jail-staff, or one declared under categories: in agencies.yaml.") var category: AgencyCategory
        @Option(help: "The agency's client certificate (PEM).") var cert: String
        @Option(help: "The agency's display name (default: the id).", transform: FreeText.composed) var name: String?
        @Option(help: "The agency directory the gateway reads (default: policies/agencies.yaml, or the installed one under sudo): an agency it lists keeps its category there.")
        var agencies: String?
        static let defaultAgencies = "policies/agencies.yaml"

        func run() throws {
            let certificate = try clientCertificate(at: cert)
            let pin = certificate.spkiSHA256
            let directory = try ReviewedDirectory(agencies, fallback: Self.defaultAgencies)
            if let directory {
                // A category the directory file does not declare is a misspelling the policy's rules would not see.
                let declared = try AgencyDirectoryFile.declaredCategories(YAMLNode.load(path: directory.path))
                guard declared.contains(category) else {
                    throw CLIError(.refused, "category \(category.rawValue) is neither built in nor declared in \(directory.path) (declared: \(declared.map(\.rawValue).joined(separator: ", ")))")
                }
                try directory.checkSubject(of: certificate, named: cert, for: id)
            } else {
                warn("""
                    no agency directory at \(agencies ?? Self.defaultAgencies): the category was not checked against the one the gateway reads, \
                    nor whether it lists \(id), so that the entry would end with its listing (give --agencies)
                    """)
            }
            let registry = try admin.registry(create: true)
            let request = try storeCall {
                try registry.addAgency(
                    id: id, name: name ?? id, category: category, spkiPins: [pin], operator: admin.operatorName,
                    listed: directory?.agencies ?? []
                )
            }
            guard let request else { return print("agency \(id) (\(category.rawValue)) now identified by spki:\(pin) (the two-person rule is off)") }
            print("""
                request \(request): agency \(id) (\(category.rawValue)) identified by spki:\(pin), pending: whoever holds that key would be \
                \(id), with its warrants and its category's access. A second operator checks the certificate with the agency, then runs:
                  warrant-gate agency approve \(request)
                """)
        }
    }

    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a pending agency request (the two-person rule): the agency, or its new certificate, takes effect.",
            discussion: "Example: warrant-gate agency approve 3"
        )
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The request's number, as `agency add` and `agency list` print it.") var request: Int64
        @Option(help: "The agency directory the gateway reads (default: policies/agencies.yaml, or the installed one under sudo).")
        var agencies: String?

        func run() throws {
            let registry = try admin.registry()
            guard let pending = try storeCall({ try registry.pendingAgencyRequests() }).first(where: { $0.number == request }) else {
                throw CLIError(.notFound, "no pending agency request \(request) (see warrant-gate agency list)")
            }
            // Checked again against the directory the gateway reads, whatever file the request was checked against.
            let directory = try ReviewedDirectory(agencies, fallback: Add.defaultAgencies)
            if directory == nil {
                warn("no agency directory at \(agencies ?? Add.defaultAgencies): whether the file the gateway reads lists \(pending.agency) was not checked (give --agencies)")
            }
            try storeCall { try registry.approveAgencyRequest(request, operator: admin.operatorName, listed: directory?.agencies ?? []) }
            let revoked = Set(try storeCall { try registry.certificateRevocations() }.compactMap(\.spki))
            let pins = pending.spkiPins.map { "spki:" + $0 + (revoked.contains($0) ? " (revoked: still refused)" : "") }
            if let directory, !directory.agencies.contains(where: { $0.id == pending.agency }),
               try storeCall({ try registry.agencyExtensions() }).contains(pending.agency) {
                return print("""
                    approved request \(request): \(pins.joined(separator: ", ")) added to agency \(pending.agency), which \(directory.path) no \
                    longer lists: they identify no one unless it lists \(pending.agency) again
                    """)
            }
            print("approved request \(request): agency \(pending.agency) (\(pending.category)) now identified by \(pins.joined(separator: ", "))")
        }
    }

    struct Withdraw: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Withdraw a pending agency request (a wrong certificate or category): it can no longer be approved.",
            discussion: "Example: warrant-gate agency withdraw 3 --reason \"wrong certificate file\""
        )
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The request's number.") var request: Int64
        @Option(help: "Why (recorded in the log).", transform: FreeText.composed) var reason: String

        func run() throws {
            let registry = try admin.registry()
            try storeCall { try registry.withdrawAgencyRequest(request, reason: reason, operator: admin.operatorName) }
            print("withdrew agency request \(request)")
        }
    }

    struct RevokeCert: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-cert",
            abstract: "Revoke an agency certificate; the gateway refuses it from its next request on.",
            discussion: "Example: warrant-gate agency revoke-cert ice-ero --cert lost-laptop.pem --reason \"device reported stolen\""
        )
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The agency id.") var id: String
        @Option(help: "The certificate (PEM).") var cert: String?
        @Option(help: "The certificate's SPKI SHA-256, in hex.") var spki: String?
        @Option(help: "Why it is revoked (recorded in the log).", transform: FreeText.composed) var reason: String

        func run() throws {
            let pin: String
            switch (cert, spki) {
            case (let path?, nil): pin = try clientCertificate(at: path).spkiSHA256
            case (nil, let hex?):
                guard let bytes = Hex.decode(hex), bytes.count == 32 else { throw CLIError(.usage, "--spki must be 64 hexadecimal digits") }
                pin = Hex.encode(bytes)
            default: throw CLIError(.usage, "give exactly one of --cert FILE or --spki HEX")
            }
            let registry = try admin.registry(create: true)
            try storeCall { try registry.revokeCertificate(agency: id, spki: pin, serial: nil, reason: reason, operator: admin.operatorName) }
            print("revoked spki:\(pin) of \(id); the gateway refuses it from its next request on")
        }
    }
}

/// The agency directory file the gateway reads, as an agency change is checked against it: `--agencies`, else the
/// installed one under sudo (which only root may change), else `fallback`; nil if there is none.
struct ReviewedDirectory {
    let path: String
    let agencies: [Agency]

    init?(_ given: String?, fallback: String) throws {
        let sudo = SudoInvocation.current
        var path = try agencyDirectoryPath(given, fallback: sudo != nil ? SudoInvocation.installedPolicies + "/agencies.yaml" : fallback)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        if let sudo { path = try sudo.checkTrustList(path, what: "--agencies") }
        self.path = path
        agencies = try AgencyDirectoryFile.listing(path: path)
    }

    /// Refuses a certificate (read from `file`) whose subject another agency's matcher in the file names: the file's
    /// agency keeps it (the gateway identifies it so), and the pin would lie unused until that matcher changed. The
    /// category and the keys are the store's to check (``Registry/addAgency(id:name:category:spkiPins:operator:at:listed:)``).
    func checkSubject(of certificate: ClientCertificate, named file: String, for id: String) throws {
        for agency in agencies where agency.id != id {
            let named = agency.subjectMatchers.contains { matcher in matcher.attributes.allSatisfy { certificate.attributes[$0.key] == [$0.value] } }
            if named { throw CLIError(.refused, "\(file)'s subject is \(agency.id)'s in \(path): one certificate identifies one agency") }
        }
    }
}

/// The client certificate at `path`, read as the operator may read it.
func clientCertificate(at path: String) throws -> ClientCertificate {
    let pem = try SudoInvocation.readInput(path, what: "--cert", limit: YAMLNode.maximumFileSize) { path in
        guard let pem = try? YAMLNode.readText(path: path) else { throw CLIError(.notFound, "cannot read certificate file \(path)") }
        return Data(pem.utf8)
    }
    do {
        return try ClientCertificate(certificate: Certificate(pemEncoded: String(decoding: pem, as: UTF8.self)))
    } catch {
        throw CLIError(.usage, "\(path) is not a PEM certificate")
    }
}

/// `settings two-person-rule on|off`.
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "settings", abstract: "Registry settings.", subcommands: [TwoPersonRule.self])

    struct TwoPersonRule: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "two-person-rule",
            abstract: "Turn the two-person rule on (the default) or off, for a one-person office. The change is logged.",
            discussion: """
                Turning it off takes two people once the store holds a document, agency or agency request: the first asks, \
                the second asks the same within 24 hours. A one-person office turns it off alone while setting up.

                Example: warrant-gate settings two-person-rule off --reason "single clerk on night shift, approved by Undersheriff"
                """
        )
        enum Value: String, ExpressibleByArgument { case on, off }
        @OptionGroup var admin: AdminOptions
        @Argument(help: "on or off.") var value: Value
        @Option(help: "Why (recorded in the log).", transform: FreeText.composed) var reason: String

        func run() throws {
            let registry = try admin.registry(create: true)
            switch try storeCall({ try registry.setTwoPersonRule(value == .on, reason: reason, operator: admin.operatorName) }) {
            case .set: print("two-person rule is \(value.rawValue)")
            case .requested: print("asked to turn the two-person rule off: it stays on until a second operator asks the same within 24 hours")
            }
        }
    }
}
