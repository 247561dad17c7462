import Foundation
import X509

/// Reads `agencies.yaml`: the reviewed list of agencies and the authorities their subject matchers name.
///
/// ```yaml
/// categories:                      # beside the built-in ones (AgencyCategory.builtIn)
///   prosecutor: A district attorney's office
/// authorities:
///   - name: demo-ca
///     certificate: certs/ca.pem      # relative to the file, unless overridden by the caller
/// agencies:
///   - id: ice-ero
///     name: ICE Enforcement and Removal Operations
///     category: federal-immigration
///     certificates:
///       - spki-sha256: 3f1c…
///       - authority: demo-ca
///         subject: { O: WarrantGate Demo, OU: ice-ero }
/// ```
public enum AgencyDirectoryFile {
    /// Parses the directory. `authorityOverrides` maps authority names to PEM files, taking precedence over the file.
    public static func load(path: String, authorityOverrides: [String: String] = [:]) throws -> AgencyDirectory {
        try loadWithCategories(path: path, authorityOverrides: authorityOverrides).directory
    }

    /// ``load(path:authorityOverrides:)`` and the categories the file declares, from one reading of it.
    public static func loadWithCategories(
        path: String, authorityOverrides: [String: String] = [:]
    ) throws -> (directory: AgencyDirectory, declared: [AgencyCategory]) {
        let root = try YAMLNode.load(path: path)
        // Relative authority paths are beside the file itself, wherever a link to it is (as policies' includes).
        let base = URL(fileURLWithPath: PolicyRelativePath.realPath(path) ?? path).deletingLastPathComponent()
        return (try parse(root, base: base, authorityOverrides: authorityOverrides), try declaredCategories(root))
    }

    public static func parse(_ root: YAMLNode, base: URL, authorityOverrides: [String: String]) throws -> AgencyDirectory {
        try root.requireKeys(in: ["categories", "authorities", "agencies"], what: "agency directory")
        let categories = try declaredCategories(root)
        var authorities: [NamedAuthority] = []
        for entry in try root["authorities"]?.sequence("authorities") ?? [] {
            try entry.requireKeys(in: ["name", "certificate"], what: "authority")
            let name = try entry.required("name", in: "authority").string("authority name")
            guard !authorities.contains(where: { $0.name == name }) else { throw entry.error("authority '\(name)' is listed twice") }
            let path = try authorityOverrides[name]
                ?? entry.required("certificate", in: "authority '\(name)'").string("authority certificate")
            let resolved = path.hasPrefix("/") ? path : base.appendingPathComponent(path).path
            let pem: String
            do {
                pem = try YAMLNode.readText(path: resolved, what: "certificate", governing: true)
            } catch let error as FileError {
                throw entry.error("authority '\(name)': \(error.message) (\(resolved); a regular file of at most 1 MiB)")
            }
            do {
                authorities.append(NamedAuthority(name: name, certificate: try Certificate(pemEncoded: pem), path: resolved))
            } catch {
                let held = pem.components(separatedBy: "-----BEGIN CERTIFICATE-----").count - 1
                guard held > 1 else { throw entry.error("authority '\(name)': \(resolved) is not a PEM certificate") }
                throw entry.error(
                    "authority '\(name)': \(resolved) holds \(held) certificates; an authority is one CA, the one that issues its agencies' certificates: name a file holding it alone"
                )
            }
        }
        var agencies: [Agency] = []
        for entry in try root.required("agencies", in: "agency directory").sequence("agencies") {
            let agency = try parseAgency(entry, authorities: Set(authorities.map(\.name)), categories: categories)
            if agencies.contains(where: { $0.id == agency.id }) {
                throw entry.error("agency '\(agency.id)' is listed twice")
            }
            agencies.append(agency)
        }
        return AgencyDirectory(agencies: agencies, authorities: authorities)
    }

    /// The built-in categories and those the file declares under `categories:` (name to description).
    public static func declaredCategories(_ root: YAMLNode) throws -> [AgencyCategory] {
        var categories = AgencyCategory.builtIn
        for (name, description) in try root["categories"]?.mapping("categories") ?? [] {
            guard let category = AgencyCategory(rawValue: name) else {
                throw description.error("category '\(name)' must be lower-case letters, digits and '-'")
            }
            _ = try description.string("category description")
            guard !categories.contains(category) else { throw description.error("category '\(name)' is declared twice or is built in") }
            categories.append(category)
        }
        return categories
    }

    private static func parseAgency(_ entry: YAMLNode, authorities: Set<String>, categories: [AgencyCategory]) throws -> Agency {
        try entry.requireKeys(in: ["id", "name", "category", "certificates"], what: "agency")
        let id = try entry.required("id", in: "agency").string("agency id")
        guard Identifier.isValid(id) else {
            throw entry.error("agency id '\(id)' must be lower-case letters, digits and '-'")
        }
        let name = try entry["name"]?.string("agency name") ?? id
        let categoryNode = try entry.required("category", in: "agency '\(id)'")
        let categoryText = try categoryNode.string("category")
        guard let category = AgencyCategory(rawValue: categoryText), categories.contains(category) else {
            throw categoryNode.error(
                "agency '\(id)': unknown category '\(categoryText)' (expected one of: \(categories.map(\.rawValue).joined(separator: ", ")); declare others under categories:)"
            )
        }
        var pins = Set<String>()
        var matchers: [SubjectMatcher] = []
        for certificate in try entry["certificates"]?.sequence("certificates") ?? [] {
            try certificate.requireKeys(in: ["spki-sha256", "authority", "subject"], what: "certificate matcher")
            if let pin = certificate["spki-sha256"] {
                let text = try pin.string("spki-sha256")
                guard let bytes = Hex.decode(text), bytes.count == 32 else {
                    throw pin.error("spki-sha256 must be 64 hexadecimal digits")
                }
                pins.insert(Hex.encode(bytes))
            }
            if let authority = certificate["authority"] {
                let authorityName = try authority.string("authority")
                guard authorities.contains(authorityName) else {
                    throw authority.error("unknown authority '\(authorityName)'")
                }
                let subject = try certificate.required("subject", in: "certificate matcher")
                try subject.requireKeys(in: ["O", "OU", "CN"], what: "subject")
                let attributes = try Dictionary(uniqueKeysWithValues: subject.mapping("subject").map { ($0.key, try $0.value.string("subject attribute")) })
                guard !attributes.isEmpty else { throw subject.error("subject must name at least one attribute") }
                matchers.append(SubjectMatcher(authority: authorityName, attributes: attributes))
            } else if certificate["subject"] != nil {
                throw certificate.error("a subject matcher needs an authority")
            }
        }
        if pins.isEmpty && matchers.isEmpty {
            throw entry.error("agency '\(id)' has no certificates: it could never be identified")
        }
        return Agency(id: id, name: name, category: category, spkiPins: pins, subjectMatchers: matchers)
    }
}

extension AgencyDirectoryFile {
    /// The agencies a directory file lists, without loading its authorities' certificates (for listings); the file
    /// is opened by `open`.
    public static func listing(path: String, open: YAMLNode.Opener = YAMLNode.openForReading) throws -> [Agency] {
        let root = try YAMLNode.load(path: path, open: open)
        let authorities = try Set((root["authorities"]?.sequence("authorities") ?? []).map { try $0.required("name", in: "authority").string("authority name") })
        let categories = try declaredCategories(root)
        return try root.required("agencies", in: "agency directory").sequence("agencies").map {
            try parseAgency($0, authorities: authorities, categories: categories)
        }
    }
}
