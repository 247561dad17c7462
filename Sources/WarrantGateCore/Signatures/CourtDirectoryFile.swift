import Foundation
import SwiftASN1
import X509

/// Reads `courts.yaml`: the courts and e-warrant platforms whose digital signatures count, beside `agencies.yaml`.
///
/// ```yaml
/// courts:
///   - id: denver-county-court
///     name: Denver County Court
///     certificates: courts/denver-county-ca.pem     # PEM, one or more CAs per file; relative to this file
///   - id: denver-county-court-docusign
///     name: Denver County Court (DocuSign)
///     kind: platform                                # signs for every customer: subjects are required
///     certificates: [courts/docusign-ca.pem]
///     subjects:
///       - { O: Denver County Court, OU: e-Warrants }
///     timestamp-authorities: [courts/docusign-tsa.pem]
/// ```
///
/// The file is hostile input: unknown keys are refused, counts and sizes are bounded, and every error names the file
/// and line.
public enum CourtDirectoryFile {
    public static let maximumCourts = 256
    public static let maximumFilesPerEntry = 16
    public static let maximumCertificatesPerFile = 64
    public static let maximumPatternsPerEntry = 64
    public static let maximumAttributeLength = 256
    public static let maximumNameLength = 256

    static let topLevelKeys: Set<String> = ["courts"]
    static let entryKeys: Set<String> = ["id", "name", "kind", "certificates", "subjects", "timestamp-authorities"]

    /// Reads and parses the file at `path`; certificate paths are relative to its directory.
    public static func load(path: String) throws -> CourtDirectory {
        let root = try YAMLNode.load(path: path)
        return try parse(root, base: URL(fileURLWithPath: path).deletingLastPathComponent())
    }

    /// The ids of the courts the file at `path` lists, read without their certificates: what a policy's `signed-by`
    /// may name.
    public static func ids(path: String) throws -> Set<String> {
        let root = try YAMLNode.load(path: path)
        let entries = try root.required("courts", in: "court directory").sequence("courts")
        guard entries.count <= maximumCourts else { throw root.error("courts: more than \(maximumCourts) entries") }
        return Set(try entries.map { try $0.required("id", in: "court").string("court id") })
    }

    public static func parse(_ root: YAMLNode, base: URL) throws -> CourtDirectory {
        try root.requireKeys(in: topLevelKeys, what: "court directory")
        let entries = try root.required("courts", in: "court directory").sequence("courts")
        guard entries.count <= maximumCourts else { throw root.error("courts: more than \(maximumCourts) entries") }
        var courts: [Court] = []
        for entry in entries {
            let court = try parseCourt(entry, base: base)
            guard !courts.contains(where: { $0.id == court.id }) else { throw entry.error("court '\(court.id)' is listed twice") }
            courts.append(court)
        }
        return CourtDirectory(courts: courts)
    }

    private static func parseCourt(_ entry: YAMLNode, base: URL) throws -> Court {
        try entry.requireKeys(in: entryKeys, what: "court")
        let idNode = try entry.required("id", in: "court")
        let id = try idNode.string("court id")
        guard Identifier.isValid(id) else { throw idNode.error("court id '\(id)' must be lower-case letters, digits and '-'") }
        let name = try entry["name"].map { try boundedText($0, what: "court '\(id)': name", limit: maximumNameLength) } ?? id
        let kind: CourtKind
        if let kindNode = entry["kind"] {
            let text = try kindNode.string("kind")
            guard let parsed = CourtKind(rawValue: text) else {
                throw kindNode.error("court '\(id)': kind must be one of: \(CourtKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            kind = parsed
        } else {
            kind = .court
        }
        let certificatesNode = try entry.required("certificates", in: "court '\(id)'")
        let authorities = try certificates(certificatesNode, what: "court '\(id)': certificates", base: base)
        guard !authorities.isEmpty else { throw certificatesNode.error("court '\(id)': certificates must name at least one PEM file") }

        var patterns: [SubjectPattern] = []
        if let subjectsNode = entry["subjects"] {
            let subjects = try subjectsNode.sequence("court '\(id)': subjects")
            guard !subjects.isEmpty else {
                throw subjectsNode.error("court '\(id)': subjects: [] would accept any signer; leave subjects out to mean that")
            }
            guard subjects.count <= maximumPatternsPerEntry else {
                throw subjectsNode.error("court '\(id)': more than \(maximumPatternsPerEntry) subject patterns")
            }
            for subject in subjects { patterns.append(try pattern(subject, court: id)) }
        }
        if kind == .platform && patterns.isEmpty {
            throw entry.error(
                "court '\(id)': a platform signs for every customer, so it needs subjects: patterns that identify the court"
            )
        }
        // A country, state, city or unit is shared by many customers, or chosen by them: only the organisation the
        // platform vouches for, or its registration number, tells the court from another customer.
        if kind == .platform, patterns.contains(where: { $0.attributes["O"] == nil && $0.attributes["serialNumber"] == nil }) {
            throw entry.error(
                "court '\(id)': a platform signs for every customer, and C, ST, L, OU, CN and the e-mail address are shared or chosen by them, so each pattern must name O or serialNumber (the court's, as the platform verified it)"
            )
        }
        let timestampAuthorities = try entry["timestamp-authorities"].map {
            try certificates($0, what: "court '\(id)': timestamp-authorities", base: base)
        } ?? []
        return Court(
            id: id, name: name, kind: kind, signingAuthorities: authorities, subjectPatterns: patterns, timestampAuthorities: timestampAuthorities
        )
    }

    private static func pattern(_ node: YAMLNode, court: String) throws -> SubjectPattern {
        let allowed = Set(SubjectPattern.attributeTypes.keys)
        try node.requireKeys(in: allowed, what: "court '\(court)': subject pattern")
        var attributes: [String: String] = [:]
        for (key, value) in try node.mapping("subject pattern") {
            attributes[key] = try boundedText(value, what: "court '\(court)': subject attribute \(key)", limit: maximumAttributeLength)
        }
        guard let pattern = SubjectPattern(attributes: attributes) else {
            throw node.error("court '\(court)': a subject pattern must name at least one attribute")
        }
        return pattern
    }

    /// The certificates of the PEM files `node` names (one path or a list of paths).
    private static func certificates(_ node: YAMLNode, what: String, base: URL) throws -> [Certificate] {
        let paths = try node.strings(what)
        guard paths.count <= maximumFilesPerEntry else { throw node.error("\(what): more than \(maximumFilesPerEntry) files") }
        var certificates: [Certificate] = []
        for path in paths {
            guard !path.isEmpty else { throw node.error("\(what): empty path") }
            let resolved = path.hasPrefix("/") ? path : base.appendingPathComponent(path).path
            let text: String
            do {
                text = try YAMLNode.readText(path: resolved, what: "certificate file", governing: true)
            } catch let error as FileError {
                throw node.error("\(what): \(error.message) (\(resolved))")
            }
            let documents: [PEMDocument]
            do {
                documents = try PEMDocument.parseMultiple(pemString: text)
            } catch {
                throw node.error("\(what): \(resolved) is not PEM")
            }
            guard !documents.isEmpty else { throw node.error("\(what): \(resolved) holds no certificate") }
            guard documents.count <= maximumCertificatesPerFile else {
                throw node.error("\(what): \(resolved) holds more than \(maximumCertificatesPerFile) certificates")
            }
            for document in documents {
                guard document.discriminator == "CERTIFICATE" else {
                    throw node.error("\(what): \(resolved) holds a \(document.discriminator), not only certificates")
                }
                do {
                    certificates.append(try Certificate(derEncoded: document.derBytes))
                } catch {
                    throw node.error("\(what): \(resolved) holds a certificate that cannot be parsed")
                }
            }
        }
        return certificates
    }

    private static func boundedText(_ node: YAMLNode, what: String, limit: Int) throws -> String {
        let text = try node.string(what)
        guard !text.isEmpty, text.utf8.count <= limit else { throw node.error("\(what) must be 1 to \(limit) bytes") }
        return text
    }
}
