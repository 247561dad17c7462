import Foundation

/// A shipped list of names by concept, such as `policies/profiles/niem-immigration.yaml` (XML elements by namespace
/// URI and local name, across every release of a standard) or `policies/profiles/jail-fields.yaml` (the field names
/// records systems give a fact): each concept lists names as a policy's `redact:` entries are written, a qualified
/// name's prefix bound under the profile's own `namespaces:`.
public struct RedactionProfile: Sendable, Equatable {
    public let name: String
    public let title: String
    /// Each concept's names, as ``RedactionVocabulary/names(for:)`` gives them: plain lower-case field names and
    /// qualified names in Clark notation.
    public let concepts: [String: [String]]
    /// The file it was read from.
    public let source: String
    /// The file's bytes, which a policy that includes it adds to its digest.
    let bytes: [UInt8]

    static let keys: Set<String> = ["profile", "title", "namespaces", "concepts"]

    public static func load(path: String, open: YAMLNode.Opener = YAMLNode.openForReading) throws -> RedactionProfile {
        try parse(YAMLNode.readText(path: path, what: "profile file", governing: true, open: open), file: path)
    }

    public static func parse(_ text: String, file: String) throws -> RedactionProfile {
        let root = try YAMLNode.parse(text, file: file)
        try root.requireKeys(in: keys, what: "profile")
        let name = try root.required("profile", in: "profile").string("profile name")
        guard Identifier.isValid(name) else { throw root.error("profile name '\(name)' must be lower-case letters, digits and '-'") }
        let namespaces = try root["namespaces"].map(RedactionVocabulary.namespaces) ?? [:]
        let vocabulary = RedactionVocabulary(namespaces: namespaces, profiles: [:])
        var concepts: [String: [String]] = [:]
        for (concept, node) in try root.required("concepts", in: "profile").mapping("concepts") {
            guard Identifier.isValid(concept) else { throw node.error("concept '\(concept)' must be lower-case letters, digits and '-'") }
            var names: [String] = []
            // A plain name is compared as every plain name is (``FieldNameKey``): two that compare equal are one.
            var seen: Set<String> = []
            for entry in try node.strings("concept '\(concept)'") {
                for resolved in try vocabulary.resolve(entry, at: node, under: "concept '\(concept)'") {
                    let duplicate = !seen.insert(resolved.hasPrefix("{") ? resolved : FieldNameKey.of(resolved)).inserted
                    if duplicate { throw node.error("concept '\(concept)': '\(entry)' is listed twice") }
                    names.append(resolved)
                }
            }
            guard !names.isEmpty else { throw node.error("concept '\(concept)' lists no names") }
            concepts[concept] = names
        }
        return RedactionProfile(
            name: name, title: try root["title"]?.string("title") ?? name, concepts: concepts, source: file, bytes: Array(text.utf8)
        )
    }
}

/// How a policy's `redact:` entries are read:
///
/// - `citizenship`: a field name in ASCII (a JSON member, or an XML element or attribute by local name in any
///   namespace, but not a name a protocol defines in its own), in any letter case and whatever separates its words
///   (``FieldNameKey``);
/// - `nc:PersonCitizenship`: an XML element, or a JSON-LD key, by namespace URI and local name, the prefix bound under
///   the policy's `namespaces:`;
/// - `niem:citizenship`: every name of a concept of a profile the policy includes under `profiles:`;
/// - `field:Country Of Birth`: a field name the first form refuses (a space, `#`, `/`, a letter outside ASCII), taken
///   as written after the colon and matched as the first form is, but not mixing letters of two scripts (a
///   look-alike). `field` is reserved: no namespace or profile may take it.
///
/// A prefix bound in neither is an error, as is one bound in both. Entries come out as plain lower-case field names
/// and qualified names in Clark notation (``QualifiedName``).
public struct RedactionVocabulary: Sendable, Equatable {
    public let namespaces: [String: String]
    public let profiles: [String: RedactionProfile]

    public init(namespaces: [String: String], profiles: [String: RedactionProfile]) {
        self.namespaces = namespaces
        self.profiles = profiles
    }

    public static let empty = RedactionVocabulary(namespaces: [:], profiles: [:])

    /// Why an entry names nothing.
    public struct Unresolved: Error, Sendable {
        public let message: String
    }

    /// The names an entry stands for.
    public func names(for entry: String) throws(Unresolved) -> [String] {
        guard !entry.isEmpty, entry.count <= 128 else { throw Unresolved(message: "redact: names must be 1 to 128 characters") }
        guard let colon = entry.firstIndex(of: ":") else {
            guard Self.isFieldName(entry) else {
                if entry.unicodeScalars.allSatisfy(Self.isNameScalar) {
                    if let problem = Self.mixedScripts(entry) { throw Unresolved(message: "redact: '\(entry)' \(problem)") }
                    throw Unresolved(message: "redact: '\(entry)' has letters outside ASCII, which could pass for ASCII ones: write it out, field:\(entry)")
                }
                let hint = entry.contains(",") ? "; write a YAML list, one name to an entry"
                    : entry.unicodeScalars.contains(where: { $0.properties.generalCategory == .nonspacingMark })
                    ? "; it holds a combining mark: write its letters precomposed (NFC), as documents do"
                    : (try? Self.literalFieldName(entry)) != nil ? "; a name with other characters is written out: field:\(entry)" : ""
                throw Unresolved(message: "redact: '\(entry)' is not a field name (letters, digits, '_', '-', '.', '$', '@')\(hint)")
            }
            guard !FieldNameKey.of(entry).isEmpty else { throw Unresolved(message: "redact: '\(entry)' is only separators ('_', '-', '.'), which names are compared without") }
            return [entry.lowercased()]
        }
        let prefix = String(entry[..<colon]), local = String(entry[entry.index(after: colon)...])
        if prefix == Self.literalPrefix { return [try Self.literalFieldName(local)] }
        if let uri = namespaces[prefix] {
            guard XMLName.isNCName(local.utf8) else { throw Unresolved(message: "redact: '\(entry)' has an invalid local name") }
            return [QualifiedName(namespace: uri, local: local).clark]
        }
        if let profile = profiles[prefix] {
            guard let names = profile.concepts[local] else {
                throw Unresolved(message: "redact: profile '\(profile.name)' has no concept '\(local)' (it has \(profile.concepts.keys.sorted().joined(separator: ", ")))")
            }
            return names
        }
        throw Unresolved(message: "redact: the prefix '\(prefix)' in '\(entry)' is not bound (declare it under namespaces:, or include a profile under profiles:)")
    }

    /// Whether `entry` can be a plain field's name: ASCII letters, digits and `_ - . $ @`. A comma, a space or an
    /// invisible character would make it a name no document uses, and redact nothing; so would a look-alike letter
    /// (Cyrillic `с` for `c`), which is why other letters must be written out (`field:`).
    static func isFieldName(_ entry: String) -> Bool {
        entry.unicodeScalars.allSatisfy { $0.isASCII && isNameScalar($0) }
    }

    /// A letter, a decimal digit, or one of `_ - . $ @`.
    private static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isAlphabetic || scalar.properties.numericType == .decimal || "_-.$@".unicodeScalars.contains(scalar)
    }

    /// Why a name's letters are of two scripts, if they are: one letter passing for another's look-alike.
    private static func mixedScripts(_ name: String) -> String? {
        let scripts = Set(name.unicodeScalars.filter(\.properties.isAlphabetic).map(LookAlikeScript.init))
        guard scripts.count > 1 else { return nil }
        return "mixes letters of \(scripts.map(\.rawValue).sorted().joined(separator: " and ")) scripts, as a look-alike letter would: write it in one script"
    }

    /// The scripts whose letters pass for one another (Cyrillic `с`, Greek `ο`, Latin `c`, `o`), and every other as
    /// one; Latin takes in its accented letters (`é`).
    private enum LookAlikeScript: String {
        case latin = "Latin", greek = "Greek", cyrillic = "Cyrillic", other = "other"

        init(_ scalar: Unicode.Scalar) {
            switch scalar.value {
            case 0x41...0x5A, 0x61...0x7A, 0xAA, 0xBA, 0xC0...0x24F, 0x1E00...0x1EFF: self = .latin
            case 0x370...0x3FF, 0x1F00...0x1FFF: self = .greek
            case 0x400...0x52F, 0x1C80...0x1C8F, 0x2DE0...0x2DFF, 0xA640...0xA69F: self = .cyrillic
            default: self = .other
            }
        }
    }

    /// The prefix of a field name written out literally (`field:Country Of Birth`).
    static let literalPrefix = "field"

    /// A literal field name, lower-cased. Still refused, since each is far likelier a slip than a name a document
    /// uses: a space at either end, a control or invisible formatting character, a combining mark (documents are
    /// NFC), a comma (a list written as one string), a leading `{` (the form of a qualified name), and letters of two
    /// scripts (a look-alike: `сitizenship` with a Cyrillic `с`).
    static func literalFieldName(_ name: String) throws(Unresolved) -> String {
        let entry = literalPrefix + ":" + name
        guard let first = name.unicodeScalars.first, let last = name.unicodeScalars.last else {
            throw Unresolved(message: "redact: '\(entry)' names no field: write the name after the colon")
        }
        let problem: String? =
            first.properties.isWhitespace || last.properties.isWhitespace ? "begins or ends with a space"
            : name.unicodeScalars.contains(where: { [.control, .format].contains($0.properties.generalCategory) }) ? "holds a control or invisible character"
            : name.unicodeScalars.contains(where: { $0.properties.generalCategory == .nonspacingMark }) ? "holds a combining mark: write its letters precomposed (NFC), as documents do"
            : name.contains(",") ? "holds a comma: write a YAML list, one name to an entry"
            : first == "{" ? "begins with '{'"
            : FieldNameKey.of(name).isEmpty ? "is only separators ('_', '-', '.', ' '), which names are compared without" : mixedScripts(name)
        if let problem { throw Unresolved(message: "redact: '\(entry)' \(problem)") }
        return name.lowercased()
    }

    /// Names as a policy would write them: every profile concept whose names are all present becomes `alias:concept`,
    /// and the rest stay as they are; sorted.
    public func described(_ names: Set<String>) -> [String] {
        var rest = names
        var entries: [String] = []
        for alias in profiles.keys.sorted() {
            for (concept, members) in profiles[alias]!.concepts.sorted(by: { $0.key < $1.key }) {
                let all = Set(members)
                guard all.isSubset(of: names) else { continue }
                entries.append("\(alias):\(concept)")
                rest.subtract(all)
            }
        }
        return (entries + rest.map { $0.hasPrefix("{") || Self.isFieldName($0) ? $0 : Self.literalPrefix + ":" + $0 }).sorted()
    }

    /// ``names(for:)``, with errors pointing at `node` and naming the key the entry is under (`redact`, `lift`,
    /// `return-only`).
    func resolve(_ entry: String, at node: YAMLNode, under key: String = "redact") throws -> [String] {
        do {
            return try names(for: entry)
        } catch {
            throw node.error(key == "redact" ? error.message : key + error.message.dropFirst("redact".count))
        }
    }

    /// Reads a `namespaces:` map of prefix to namespace URI.
    static func namespaces(_ node: YAMLNode) throws -> [String: String] {
        var namespaces: [String: String] = [:]
        for (prefix, value) in try node.mapping("namespaces") {
            guard XMLName.isNCName(prefix.utf8), prefix.allSatisfy(\.isASCII) else {
                throw value.error("namespaces: '\(prefix)' is not a valid prefix (letters, digits, '.', '-', '_')")
            }
            guard prefix != literalPrefix else { throw value.error("namespaces: '\(literalPrefix)' is reserved for field names written out (field:Country Of Birth)") }
            let uri = try value.string("namespace URI")
            guard !uri.isEmpty, uri.utf8.count <= 2048, !uri.contains(where: { $0.isWhitespace || $0 == "{" || $0 == "}" }) else {
                throw value.error("namespaces: '\(prefix)' must be bound to a namespace URI without spaces or braces")
            }
            namespaces[prefix] = uri
        }
        return namespaces
    }

    /// Reads a policy's `namespaces:` and `profiles:`; profile paths are relative to the policy file's folder and
    /// may not leave it, and profiles are opened by `open`.
    static func read(namespaces namespacesNode: YAMLNode?, profiles profilesNode: YAMLNode?, policyFile: String, open: YAMLNode.Opener) throws -> RedactionVocabulary {
        let namespaces = try namespacesNode.map(Self.namespaces) ?? [:]
        var profiles: [String: RedactionProfile] = [:]
        for (alias, value) in try profilesNode?.mapping("profiles") ?? [] {
            guard Identifier.isValid(alias) else { throw value.error("profiles: '\(alias)' must be lower-case letters, digits and '-'") }
            if namespaces[alias] != nil { throw value.error("profiles: '\(alias)' is also a namespace prefix") }
            guard alias != literalPrefix else { throw value.error("profiles: '\(literalPrefix)' is reserved for field names written out (field:Country Of Birth)") }
            let path = try PolicyRelativePath.resolve(try value.string("profile path"), besides: policyFile, at: value, what: "profiles")
            profiles[alias] = try RedactionProfile.load(path: path, open: open)
        }
        return RedactionVocabulary(namespaces: namespaces, profiles: profiles)
    }
}

extension RedactionVocabulary {
    /// This vocabulary over an included policy's: both sets of bindings, which may not bind one name two ways.
    func merged(over base: RedactionVocabulary, at node: YAMLNode) throws -> RedactionVocabulary {
        var namespaces = base.namespaces
        for (prefix, uri) in self.namespaces {
            if let bound = namespaces[prefix], bound != uri { throw node.error("namespaces: '\(prefix)' is bound to \(bound) by the included policy") }
            namespaces[prefix] = uri
        }
        var profiles = base.profiles
        for (alias, profile) in self.profiles {
            if let bound = profiles[alias], bound != profile { throw node.error("profiles: '\(alias)' names another profile in the included policy") }
            profiles[alias] = profile
        }
        for alias in profiles.keys where namespaces[alias] != nil {
            throw node.error("profiles: '\(alias)' is also a namespace prefix")
        }
        return RedactionVocabulary(namespaces: namespaces, profiles: profiles)
    }
}
