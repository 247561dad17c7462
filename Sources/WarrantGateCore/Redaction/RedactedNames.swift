/// An XML element's expanded name: its namespace URI and its local name, never its prefix.
///
/// Decisions carry it in Clark notation, `{namespace}local`, beside plain field names.
public struct QualifiedName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let namespace: String
    public let local: String

    public init(namespace: String, local: String) {
        self.namespace = namespace
        self.local = local
    }

    /// Reads `{namespace}local`; nil for anything else.
    public init?(clark: String) {
        guard clark.hasPrefix("{"), let close = clark.firstIndex(of: "}") else { return nil }
        let namespace = String(clark[clark.index(after: clark.startIndex)..<close])
        let local = String(clark[clark.index(after: close)...])
        guard !namespace.isEmpty, !local.isEmpty, !local.contains(":") else { return nil }
        self.init(namespace: namespace, local: local)
    }

    public var clark: String { "{\(namespace)}\(local)" }
    public var description: String { clark }

    public static func < (lhs: QualifiedName, rhs: QualifiedName) -> Bool { (lhs.namespace, lhs.local) < (rhs.namespace, rhs.local) }
}

/// How plain field names compare: in any letter case, and whatever separates their words (`_`, `-`, `.` or a
/// space), so `immigrationStatus`, `immigration_status` and `Immigration-Status` are one name, as serializers of
/// different languages write it. Letter case is compared character by character, as Java's `equalsIgnoreCase` and
/// .NET's invariant case-insensitive binding do, so `citizenſhip` (a long s) and `alıenNumber` (a dotless ı) are the
/// names a client's binder reads them as. Qualified names are compared exactly, as XML compares them.
enum FieldNameKey {
    /// The form names are compared in: each character upper-cased then lower-cased (its first case-mapped character
    /// each time, as Java maps one character), without separators. A name that is not all ASCII is first read as it
    /// shows (``OperatorName/key(_:)``: compatibility characters as what they stand for, accents dropped, a letter of
    /// another script drawn like a Latin one as that letter, dashes as `-`), and the characters that show as nothing
    /// or as a mark between letters (``isHiddenSeparator(_:)``) count as separators: a document's key may hide its
    /// spelling from a comparison that its readers would not notice.
    static func of(_ name: some StringProtocol) -> String {
        let read = name.utf8.allSatisfy { $0 < 0x80 } ? String(name) : OperatorName.key(String(name))
        return folded(read)
    }

    /// The forms a document's name may be read in: ``of(_:)``, and for a name holding a character drawn as a plain
    /// vertical bar (a palochka, a dental click), which reads as `l` among small letters and as `I` among capitals,
    /// the form with `I` too.
    static func readings(_ name: String) -> [String] {
        let read = of(name)
        guard name.unicodeScalars.contains(where: verticalBars.contains) else { return [read] }
        return [read, of(String(String.UnicodeScalarView(name.unicodeScalars.map { verticalBars.contains($0) ? "I" : $0 })))]
    }

    private static let verticalBars: Set<Unicode.Scalar> = ["\u{1C0}", "\u{4C0}", "\u{4CF}"]

    private static func folded(_ read: String) -> String {
        var folded = String.UnicodeScalarView()
        for scalar in read.unicodeScalars {
            if scalar.isASCII {
                if !isSeparator(UInt8(scalar.value)) { folded.append(scalar.properties.lowercaseMapping.unicodeScalars.first!) }
                continue
            }
            if isHiddenSeparator(scalar) { continue }
            let upper = scalar.properties.uppercaseMapping.unicodeScalars.first ?? scalar
            folded.append(upper.properties.lowercaseMapping.unicodeScalars.first ?? upper)
        }
        return String(folded)
    }

    /// The parts of a name that flattens a path, as serializers and indexes write one member inside another
    /// (`inmate.citizenship`, `inmate/citizenship`, `inmate[citizenship]`, `citizenship[0]`, `x:inmate#citizenship`):
    /// split at each ``isPathMark(_:)``, without empty parts and array indexes; none for a name without a mark. A name
    /// that is not all ASCII is split both as written (its parts then read as ``readings(_:)`` reads a name) and as
    /// read as it shows (``OperatorName/key(_:)``), whose look-alikes of the marks split it too.
    static func pathParts(_ name: String) -> [String] {
        let ascii = name.utf8.allSatisfy { $0 < 0x80 }
        return ascii ? split(name) : split(name) + split(OperatorName.key(name))
    }

    private static func split(_ name: String) -> [String] {
        guard name.utf8.contains(where: isPathMark) else { return [] }
        return name.utf8.split(whereSeparator: isPathMark).compactMap { part in
            part.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } ? nil : String(decoding: part, as: UTF8.self)
        }
    }

    /// `.`, `/`, `[`, `]`, `:` and `#`: what separates the parts of a flattened path.
    @inline(__always)
    static func isPathMark(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "]")
            || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "#")
    }

    /// `_`, `-`, `.`, a space, and the ASCII controls and DEL, which a raw JSON string may hold (DEL) and which show
    /// as nothing.
    @inline(__always)
    static func isSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte <= 0x20 || byte == 0x7F
    }

    /// A non-ASCII character read as nothing between two words: a space, control, format or invisible character, a
    /// connector or dash punctuation, a symbol (a heavy minus, a box-drawing line), a mark (a combining accent left
    /// over, a spacing vowel sign), or a character drawn as a dash or a dot (a middle dot, the kana length mark, the
    /// ideograph for one).
    private static func isHiddenSeparator(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isWhitespace || properties.isDefaultIgnorableCodePoint || drawnAsSeparators.contains(scalar) { return true }
        switch properties.generalCategory {
        case .control, .format, .spaceSeparator, .lineSeparator, .paragraphSeparator, .connectorPunctuation, .dashPunctuation,
             .mathSymbol, .otherSymbol, .modifierSymbol, .nonspacingMark, .spacingMark, .enclosingMark:
            return true
        default:
            return false
        }
    }

    private static let drawnAsSeparators: Set<Unicode.Scalar> = [
        "\u{B7}", "\u{387}", "\u{2027}", "\u{2219}", "\u{22C5}", "\u{2E31}", "\u{30FB}", "\u{FF65}", "\u{2800}", "\u{30FC}", "\u{FF70}",
        "\u{4E00}", "\u{2F00}", "\u{3161}",
    ]
}

/// The names one redaction removes, compiled for matching without allocating.
///
/// - A **field name** (plain, compared as ``FieldNameKey`` says) matches a JSON member of that name, and an XML element or
///   attribute with that local name in any namespace, or none, but a name a protocol defines in its own namespace
///   (``XMLNamespaces/Role/frames(_:)``): a client that asks for XML instead of JSON gets the same fields removed,
///   whatever namespace the upstream's serializer puts them in.
/// - A **qualified name** matches an XML element by namespace URI and local name (exactly, as XML compares them), and
///   a JSON-LD key that expands to the namespace URI followed by the local name (see ``JSONRedaction``). Its local
///   name is a field name as well, in JSON and in XML: a client reads names as written, whatever a `@context` or a
///   namespace says, so `personCitizenshipText`, `nc:PersonCitizenshipText` or `<PersonCitizenshipText>` in no
///   namespace, or in a county's own, from a records system that borrows NIEM's names is NIEM's element. An
///   allow-list keeps by exact qualified names only in XML: keeping more than listed is what it must not do.
public struct RedactedNames: Sendable {
    /// Field names, as ``FieldNameKey`` compares them. A name of nothing but separators names no field.
    public let fields: Set<String>
    public let qualified: Set<QualifiedName>
    /// Each namespace URI that has redacted names, and its index into `localNames`.
    let namespaceIndex: [String: Int32]
    /// Per namespace, its redacted local names as UTF-8.
    let localNames: [[[UInt8]]]
    /// The names compiled for deciding JSON keys, once rather than per response: the field names and the qualified
    /// names' local names as field names, and the qualified names.
    let jsonKeys: JSONKeyNames
    /// The names compiled for keeping JSON keys under an allow-list: a key kept is one written whole as a field name
    /// or a qualified name's local name, never by the last part of an IRI or a compact IRI (`homeAddress:bookingNumber`
    /// is not `bookingNumber`), since keeping more than listed is what an allow-list must not do.
    let jsonKeptKeys: JSONKeyNames
    /// `jsonKeys`' field names as a kept value (a JSON string, an XML attribute's value or element's text) must not
    /// spell them.
    let valueNames: ValueNames
    /// The field names and the qualified names' local names (as `jsonKeys`), compiled for removing XML elements and
    /// attributes by local name.
    private let xmlFields: JSONFieldNames
    /// The field names alone, compiled for keeping XML elements and attributes by local name under an allow-list.
    private let xmlKeptFields: JSONFieldNames
    /// `localNames` compiled for matching XML elements and attributes, once rather than per response.
    private let xmlNames: XMLNameTable

    /// - Parameters:
    ///   - names: field names, and qualified names in Clark notation.
    ///   - lifted: field names a permit lifted from the policy's list: a qualified name's local name of the same
    ///     spelling is no JSON field name either, or the lift would lift nothing in JSON.
    public init(_ names: some Sequence<String>, lifted: some Sequence<String> = [String]()) {
        var fields: Set<String> = [], qualified: Set<QualifiedName> = []
        for name in names {
            if let name = QualifiedName(clark: name) {
                qualified.insert(name)
            } else if case let key = FieldNameKey.of(name), !key.isEmpty {
                fields.insert(key)
            }
        }
        self.fields = fields
        self.qualified = qualified
        var namespaceIndex: [String: Int32] = [:], localNames: [[[UInt8]]] = []
        for name in qualified.sorted() {
            let index = namespaceIndex[name.namespace] ?? {
                localNames.append([])
                namespaceIndex[name.namespace] = Int32(localNames.count - 1)
                return Int32(localNames.count - 1)
            }()
            localNames[Int(index)].append(Array(name.local.utf8))
        }
        self.namespaceIndex = namespaceIndex
        self.localNames = localNames
        xmlNames = XMLNameTable(localNames)
        let liftedKeys = Set(lifted.map { FieldNameKey.of($0) })
        let jsonFields = fields.union(qualified.map { FieldNameKey.of($0.local) }.filter { !liftedKeys.contains($0) })
        xmlFields = JSONFieldNames(jsonFields)
        xmlKeptFields = JSONFieldNames(fields)
        jsonKeys = JSONKeyNames(fields: JSONFieldNames(jsonFields), qualified: QualifiedIRIs(namespaceIndex: namespaceIndex, localNames: localNames))
        jsonKeptKeys = JSONKeyNames(fields: JSONFieldNames(jsonFields, byLastPart: false), qualified: nil)
        valueNames = ValueNames(jsonFields)
    }

    public var isEmpty: Bool { fields.isEmpty && qualified.isEmpty }

    /// Whether `local` is a redacted name of the namespace at `index` (from `namespaceIndex`).
    func contains(local: UnsafeRawBufferPointer, namespace index: Int32) -> Bool {
        xmlNames.contains(local, namespace: index)
    }

    /// Whether `local`, an element's or attribute's local name, is removed as a field name (a qualified name's local
    /// name is one): compared as JSON keys are (``JSONFieldNames``), an ASCII name without building a string.
    func containsField(local: UnsafeRawBufferPointer) -> Bool {
        guard !isEmpty else { return false }
        return Self.matches(local, xmlFields)
    }

    /// Whether `name` is removed as a field name wherever it stands as one, compared as ``containsField(local:)``.
    public func containsField(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { containsField(local: UnsafeRawBufferPointer($0)) }
    }

    /// Whether `text` begins with a name of six letters or more removed as a field name, compared as
    /// ``containsField(_:)`` compares (but never by a last part): a name run on into what follows it, such as
    /// `citizenshipmx`.
    public func beginsWithField(_ text: String) -> Bool {
        guard !isEmpty else { return false }
        return xmlFields.beginsWithName(text)
    }

    /// Whether `local` is kept by an allow-list as a field name: one of its plain field names, compared the same way.
    func containsKeptField(local: UnsafeRawBufferPointer) -> Bool {
        guard !fields.isEmpty else { return false }
        return Self.matches(local, xmlKeptFields)
    }

    private static func matches(_ local: UnsafeRawBufferPointer, _ names: JSONFieldNames) -> Bool {
        if local.allSatisfy({ $0 < 0x80 }) { return names.containsASCII(local, at: 0, length: local.count) }
        return names.contains(String(decoding: local, as: UTF8.self))
    }
}
