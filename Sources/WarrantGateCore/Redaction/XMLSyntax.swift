/// Namespace URIs that XML itself reserves, and those the redactor treats specially.
enum XMLNamespaces {
    static let xml = "http://www.w3.org/XML/1998/namespace"
    static let xmlns = "http://www.w3.org/2000/xmlns/"

    /// WS-Addressing's namespaces: the W3C recommendation's and the submissions' (2003/03 is WSE 1 and 2's and
    /// early WebLogic's).
    static let addressing: Set<String> = [
        "http://www.w3.org/2005/08/addressing", "http://schemas.xmlsoap.org/ws/2004/08/addressing",
        "http://schemas.xmlsoap.org/ws/2004/03/addressing", "http://schemas.xmlsoap.org/ws/2003/03/addressing",
    ]
    private static let security: Set<String> = [
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
        "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd",
    ]
    private static let schemaInstance = "http://www.w3.org/2001/XMLSchema-instance"

    enum Role: Equatable {
        case plain, soap11Envelope, soap12Envelope, signature, xinclude, addressing, security, schemaInstance, xml

        /// Whether `local` is a name the protocol of this namespace defines: a message's frame, which a field name
        /// (matched by local name in any namespace) leaves alone. Any other name there is data that inherited the
        /// namespace, such as a payload under a SOAP envelope's default namespace, or a record in a signature's
        /// `Object`.
        func frames(_ local: UnsafeRawBufferPointer) -> Bool {
            let names: Set<String>
            switch self {
            case .plain: return false
            case .signature: names = XMLNamespaces.signatureNames
            case .xinclude: names = XMLNamespaces.xincludeNames
            case .xml: names = XMLNamespaces.xmlNames
            case .soap11Envelope: names = XMLNamespaces.soap11Names
            case .soap12Envelope: names = XMLNamespaces.soap12Names
            case .addressing: names = XMLNamespaces.addressingNames
            case .security: names = XMLNamespaces.securityNames
            case .schemaInstance: names = XMLNamespaces.schemaInstanceNames
            }
            return names.contains(String(decoding: local, as: UTF8.self))
        }
    }

    private static let soap11Names: Set<String> = ["Envelope", "Header", "Body", "Fault", "encodingStyle", "mustUnderstand", "actor"]
    private static let soap12Names: Set<String> = [
        "Envelope", "Header", "Body", "Fault", "Code", "Subcode", "Value", "Reason", "Text", "Node", "Role", "Detail", "NotUnderstood",
        "Upgrade", "SupportedEnvelope", "encodingStyle", "mustUnderstand", "relay", "role", "qname",
    ]
    private static let addressingNames: Set<String> = [
        "EndpointReference", "Address", "ReferenceParameters", "ReferenceProperties", "Metadata", "PortType", "ServiceName",
        "PortName", "To", "From", "ReplyTo", "FaultTo", "Action", "MessageID", "RelatesTo", "RelationshipType",
        "IsReferenceParameter", "RetryAfter", "ProblemHeader", "ProblemHeaderQName", "ProblemIRI", "ProblemAction", "SoapAction",
    ]
    private static let securityNames: Set<String> = [
        "Security", "UsernameToken", "Username", "Password", "Nonce", "BinarySecurityToken", "SecurityTokenReference", "Reference",
        "KeyIdentifier", "Embedded", "TransformationParameters", "EncryptedHeader", "SignatureConfirmation", "Iteration", "Salt",
        "Timestamp", "Created", "Expires", "Id", "Type", "EncodingType", "ValueType", "URI", "Usage", "TokenType", "Value",
    ]
    private static let schemaInstanceNames: Set<String> = ["type", "nil", "schemaLocation", "noNamespaceSchemaLocation"]
    /// XML Signature 1.0's elements and attributes.
    private static let signatureNames: Set<String> = [
        "Signature", "SignedInfo", "CanonicalizationMethod", "SignatureMethod", "Reference", "Transforms", "Transform", "XPath",
        "DigestMethod", "DigestValue", "SignatureValue", "HMACOutputLength", "KeyInfo", "KeyName", "KeyValue", "DSAKeyValue",
        "RSAKeyValue", "Modulus", "Exponent", "P", "Q", "G", "Y", "J", "Seed", "PgenCounter", "RetrievalMethod", "X509Data",
        "X509IssuerSerial", "X509IssuerName", "X509SerialNumber", "X509SKI", "X509SubjectName", "X509Certificate", "X509CRL",
        "PGPData", "PGPKeyID", "PGPKeyPacket", "SPKIData", "SPKISexp", "MgmtData", "Object", "Manifest", "SignatureProperties",
        "SignatureProperty", "Id", "URI", "Type", "Algorithm", "Target", "MimeType", "Encoding",
    ]
    private static let xincludeNames: Set<String> = ["include", "fallback"]
    /// The attributes XML and its recommendations define under `xml:`.
    private static let xmlNames: Set<String> = ["lang", "space", "base", "id"]

    static func role(of uri: String) -> Role {
        switch uri {
        case "http://schemas.xmlsoap.org/soap/envelope/": .soap11Envelope
        case "http://www.w3.org/2003/05/soap-envelope": .soap12Envelope
        case "http://www.w3.org/2000/09/xmldsig#": .signature
        case "http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude": .xinclude
        case xml: .xml
        case schemaInstance: .schemaInstance
        case _ where addressing.contains(uri): .addressing
        case _ where security.contains(uri): .security
        default: .plain
        }
    }
}

/// XML names, as bytes. Any byte from 0x80 up counts as a name character: the text is already known to be valid
/// UTF-8, and a name XML would refuse for its non-ASCII letters fails in the consumer, never in the redactor's favour.
enum XMLName {
    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d }

    /// Whether `byte` may stand in a name: ASCII letters, digits, `-`, `.`, `_` and `:`, and every byte from 0x80 up.
    @inline(__always)
    static func isNameByte(_ byte: UInt8) -> Bool {
        // One bit a byte, for bytes 0 to 63 and 64 to 127.
        let low: UInt64 = 1 << 0x2d | 1 << 0x2e | 0x7ff << 0x30
        let high: UInt64 = 0x3ff_ffff << 1 | 1 << 0x1f | 0x3ff_ffff << 0x21
        return byte >= 0x80 || (byte < 0x40 ? low : high) >> UInt64(byte & 0x3f) & 1 != 0
    }

    /// Whether `byte` may begin a name without a colon: an ASCII letter, `_`, or any byte from 0x80 up.
    static func isStart(_ byte: UInt8) -> Bool {
        byte >= 0x80 || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7a) || byte == 0x5f
    }

    /// Where the name that starts at `start` ends: the first byte that cannot be in a name.
    static func end(of bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        while index < bytes.count, isNameByte(bytes[index]) { index += 1 }
        return index
    }

    /// A name without a colon (a prefix, a local name, a processing instruction's target).
    static func isNCName<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Bool {
        guard let first = bytes.first, isStart(first) else { return false }
        return bytes.allSatisfy { isNameByte($0) && $0 != UInt8(ascii: ":") }
    }

    /// Reads the name that starts at `start` (up to the first byte that cannot be in a name), eight bytes at a time.
    /// Returns where it ends and the offset of its colon from `start` (-1 for none); nil if it is not a qualified
    /// name (`local` or `prefix:local`, each part a valid name without a colon).
    static func qualifiedName(in bytes: UnsafeRawBufferPointer, from start: Int) -> (end: Int, colon: Int)? {
        var index = start, colon = -1
        var ended = false
        // Every word is read whole within `bytes` (`index + 8 <= bytes.count`).
        while !ended, index + 8 <= bytes.count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let stops = NameWord.nonNameBytes(word)
            let length = stops == 0 ? 8 : stops.trailingZeroBitCount / 8
            var colons = NameWord.colons(word)
            if length < 8 { colons &= (1 << UInt64(8 * length)) - 1 }
            if colons != 0 {
                guard colon < 0, colons & (colons - 1) == 0 else { return nil }
                colon = index + colons.trailingZeroBitCount / 8 - start
            }
            index += length
            ended = length < 8
        }
        while !ended, index < bytes.count {
            let byte = bytes[index]
            guard isNameByte(byte) else { break }
            if byte == UInt8(ascii: ":") {
                guard colon < 0 else { return nil }
                colon = index - start
            }
            index += 1
        }
        guard index > start, isStart(bytes[start]) else { return nil }
        if colon >= 0 {
            guard colon > 0, start + colon + 1 < index, isStart(bytes[start + colon + 1]) else { return nil }
        }
        return (index, colon)
    }

    /// Name bytes classified eight at a time (a little-endian word), exactly: no byte's result depends on another's.
    private enum NameWord {
        static let ones: UInt64 = 0x0101_0101_0101_0101
        static let highs: UInt64 = 0x8080_8080_8080_8080

        /// Bit 7 of each byte set where the byte cannot be in a name (see `isNameByte`).
        @inline(__always)
        static func nonNameBytes(_ word: UInt64) -> UInt64 {
            // Each byte's low seven bits: sums of them with a constant below 0x80 stay within their byte.
            let low = word & ~highs
            let name = word | within(low | ones &* 0x20, 0x61, 0x7a) | within(low, 0x30, 0x3a) | within(low, 0x2d, 0x2e)
                | equal(low, 0x5f)
            return ~name & highs
        }

        /// Bit 7 of each byte set where the byte is `:`.
        @inline(__always)
        static func colons(_ word: UInt64) -> UInt64 { equal(word & ~highs, 0x3a) & ~word }

        /// Bit 7 set in each byte (of seven bits) from `first` through `last`.
        @inline(__always)
        private static func within(_ low: UInt64, _ first: UInt64, _ last: UInt64) -> UInt64 {
            (low &+ ones &* (0x80 - first)) & ~(low &+ ones &* (0x7f - last)) & highs
        }

        /// Bit 7 set in each byte (of seven bits) equal to `value`.
        @inline(__always)
        private static func equal(_ low: UInt64, _ value: UInt64) -> UInt64 {
            ~((low ^ ones &* value) &+ ones &* 0x7f) & highs
        }
    }
}

/// Checks every byte of a document as it streams: valid UTF-8 (no overlong forms, no surrogates), and only the
/// characters XML 1.0 allows (no C0 controls but tab, newline and carriage return; no U+FFFE or U+FFFF).
struct XMLCharacterCheck {
    /// Set by an XML declaration of US-ASCII: every byte must then be below 0x80.
    var asciiOnly = false
    private var needed = 0
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xbf
    private var scalar: UInt32 = 0

    var isComplete: Bool { needed == 0 }

    /// Whether the eight bytes of `word` are all ASCII characters XML allows: none from 0x80 up, and no control but
    /// tab, newline and carriage return.
    @inline(__always)
    private static func isAllowedASCII(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs = ones &* 0x80
        guard word & highs == 0 else { return false }
        // Each byte is below 0x80 here, so none of these sums carries into the next byte.
        let controls = ~(word &+ ones &* 0x60) & highs
        guard controls != 0 else { return true }
        func equal(_ value: UInt64) -> UInt64 { ~((word ^ ones &* value) &+ ones &* 0x7f) & highs }
        return controls & ~(equal(0x09) | equal(0x0a) | equal(0x0d)) == 0
    }

    /// Returns the index of the first byte that breaks the rules, or nil.
    mutating func check(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        let count = bytes.count
        while index < count {
            if needed == 0 {
                // Eight ASCII bytes at a time.
                while index + 8 <= count, Self.isAllowedASCII(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                    index += 8
                }
                guard index < count else { return nil }
            }
            let byte = bytes[index]
            if needed > 0 {
                guard byte >= lower, byte <= upper else { return index }
                scalar = scalar << 6 | UInt32(byte & 0x3f)
                needed -= 1
                lower = 0x80
                upper = 0xbf
                if needed == 0, scalar == 0xfffe || scalar == 0xffff { return index }
            } else if byte < 0x80 {
                if byte < 0x20, byte != 0x09, byte != 0x0a, byte != 0x0d { return index }
            } else {
                if asciiOnly { return index }
                switch byte {
                case 0xc2...0xdf: needed = 1; scalar = UInt32(byte & 0x1f)
                case 0xe0: needed = 2; scalar = 0; lower = 0xa0
                case 0xe1...0xec, 0xee, 0xef: needed = 2; scalar = UInt32(byte & 0x0f)
                case 0xed: needed = 2; scalar = 0x0d; upper = 0x9f
                case 0xf0: needed = 3; scalar = 0; lower = 0x90
                case 0xf1...0xf3: needed = 3; scalar = UInt32(byte & 0x07)
                case 0xf4: needed = 3; scalar = 4; upper = 0x8f
                default: return index
                }
            }
            index += 1
        }
        return nil
    }
}

/// Entity and character references: only the five predefined entities, and characters XML allows.
enum XMLReference {
    /// The longest reference name accepted between `&` and `;`.
    static let maximumLength = 32

    /// Why the reference named `name` (the bytes between `&` and `;`) is refused, or nil if it is accepted.
    static func problem<Bytes: Collection<UInt8>>(_ name: Bytes) -> (kind: RedactionError.Kind, detail: String)? {
        let text = String(decoding: name, as: UTF8.self)
        switch text {
        case "lt", "gt", "amp", "apos", "quot": return nil
        default: break
        }
        if let scalar = scalar(text) {
            return isCharacter(scalar) ? nil : (.malformed, "a character reference to a character XML forbids")
        }
        if XMLName.isNCName(name) { return (.refused, "a reference to an undefined entity") }
        return (.malformed, "a malformed reference")
    }

    /// The character an accepted reference named `name` stands for: a predefined entity's, or a character
    /// reference's.
    static func character<Bytes: Collection<UInt8>>(_ name: Bytes) -> Unicode.Scalar? {
        let text = String(decoding: name, as: UTF8.self)
        switch text {
        case "lt": return "<"
        case "gt": return ">"
        case "amp": return "&"
        case "apos": return "'"
        case "quot": return "\""
        default: return scalar(text).flatMap(Unicode.Scalar.init)
        }
    }

    /// Gives `body` each piece of `value` (an attribute's value, well-formed) in order: a reference as the character
    /// it stands for and its UTF-8 (nil and the byte 0x80, which is no UTF-8, for one that stands for none), any other
    /// byte as itself, read as a Latin-1 character.
    static func forEachCharacter<Failure: Error>(
        in value: UnsafeRawBufferPointer, _ body: (Unicode.Scalar?, [UInt8]) throws(Failure) -> Void
    ) throws(Failure) {
        var index = 0
        while index < value.count {
            if value[index] == UInt8(ascii: "&"), let end = value[index...].firstIndex(of: UInt8(ascii: ";")) {
                let referenced = character(value[(index + 1)..<end])
                try body(referenced, referenced.map { Array(String($0).utf8) } ?? [0x80])
                index = end + 1
            } else {
                try body(Unicode.Scalar(value[index]), [value[index]])
                index += 1
            }
        }
    }

    /// `value` (an attribute's value, well-formed) with each reference read as its character, U+FFFD for one that
    /// stands for none.
    static func resolved(_ value: UnsafeRawBufferPointer) -> String {
        var bytes: [UInt8] = []
        forEachCharacter(in: value) { _, utf8 in bytes.append(contentsOf: utf8) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The scalar of `#123` or `#x7B`, or nil.
    static func scalar(_ text: String) -> UInt32? {
        guard text.hasPrefix("#") else { return nil }
        let digits = text.dropFirst()
        if digits.hasPrefix("x") {
            let hex = digits.dropFirst()
            guard !hex.isEmpty, hex.allSatisfy(\.isHexDigit) else { return nil }
            return UInt32(hex, radix: 16)
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt32(digits)
    }

    static func isCharacter(_ scalar: UInt32) -> Bool {
        switch scalar {
        case 0x9, 0xa, 0xd, 0x20...0xd7ff, 0xe000...0xfffd, 0x10000...0x10ffff: true
        default: false
        }
    }

    /// Validates the references in an attribute value (the bytes between its quotes).
    static func checkAttributeValue(_ value: UnsafeRawBufferPointer, at offset: Int) throws(RedactionError) {
        var index = 0
        while let ampersand = value[index...].firstIndex(of: UInt8(ascii: "&")) {
            guard let semicolon = value[ampersand...].prefix(maximumLength + 2).firstIndex(of: UInt8(ascii: ";")) else {
                throw RedactionError(.malformed, "a reference that is not terminated", offset: offset)
            }
            if let problem = problem(value[(ampersand + 1)..<semicolon]) { throw RedactionError(problem.kind, problem.detail, offset: offset) }
            index = semicolon + 1
        }
    }

    /// An attribute value as XML reads it: references replaced, and line ends and tabs turned into spaces (XML 1.0
    /// §2.11 and §3.3.3). The value was checked by `checkAttributeValue`.
    static func normalizedAttributeValue(_ value: UnsafeRawBufferPointer) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(value.count)
        var index = 0
        while index < value.count {
            let byte = value[index]
            switch byte {
            case UInt8(ascii: "&"):
                let semicolon = value[index...].firstIndex(of: UInt8(ascii: ";")) ?? value.count - 1
                let text = String(decoding: value[(index + 1)..<semicolon], as: UTF8.self)
                switch text {
                case "lt": output.append(UInt8(ascii: "<"))
                case "gt": output.append(UInt8(ascii: ">"))
                case "amp": output.append(UInt8(ascii: "&"))
                case "apos": output.append(UInt8(ascii: "'"))
                case "quot": output.append(UInt8(ascii: "\""))
                default:
                    if let scalar = scalar(text), let character = Unicode.Scalar(scalar) { output.append(contentsOf: String(character).utf8) }
                }
                index = semicolon + 1
                continue
            case 0x0d:
                output.append(0x20)
                if index + 1 < value.count, value[index + 1] == 0x0a { index += 1 }
            case 0x09, 0x0a:
                output.append(0x20)
            default:
                output.append(byte)
            }
            index += 1
        }
        return output
    }
}

/// The XML declaration: version 1.0, and an encoding of UTF-8 or US-ASCII (or none, which means UTF-8).
struct XMLDeclaration {
    let asciiOnly: Bool

    /// - Parameter text: what follows the `xml` target, up to the closing `?>`.
    init(_ text: UnsafeRawBufferPointer, at offset: Int) throws(RedactionError) {
        var pairs: [(String, String)] = []
        var index = 0
        func fail(_ detail: String) -> RedactionError { RedactionError(.malformed, "an XML declaration with \(detail)", offset: offset) }
        while true {
            let spaceStart = index
            while index < text.count, XMLName.isSpace(text[index]) { index += 1 }
            if index == text.count { break }
            guard index > spaceStart else { throw fail("no space between its parts") }
            let nameStart = index
            while index < text.count, text[index] | 0x20 >= 0x61, text[index] | 0x20 <= 0x7a { index += 1 }
            let name = String(decoding: text[nameStart..<index], as: UTF8.self)
            while index < text.count, XMLName.isSpace(text[index]) { index += 1 }
            guard index < text.count, text[index] == UInt8(ascii: "=") else { throw fail("a part without '='") }
            index += 1
            while index < text.count, XMLName.isSpace(text[index]) { index += 1 }
            guard index < text.count, text[index] == UInt8(ascii: "\"") || text[index] == UInt8(ascii: "'") else { throw fail("an unquoted value") }
            let quote = text[index]
            index += 1
            guard let close = text[index...].firstIndex(of: quote) else { throw fail("an unterminated value") }
            pairs.append((name, String(decoding: text[index..<close], as: UTF8.self)))
            index = close + 1
        }
        let names = pairs.map(\.0)
        guard names == ["version"] || names == ["version", "encoding"] || names == ["version", "standalone"]
            || names == ["version", "encoding", "standalone"]
        else { throw fail("parts other than version, encoding and standalone, in that order") }
        guard pairs[0].1 == "1.0" else { throw RedactionError(.refused, "an XML version other than 1.0", offset: offset) }
        if let standalone = pairs.first(where: { $0.0 == "standalone" }), !["yes", "no"].contains(standalone.1) { throw fail("a standalone other than yes or no") }
        switch pairs.first(where: { $0.0 == "encoding" })?.1.lowercased() {
        case nil, "utf-8", "utf8": asciiOnly = false
        case "us-ascii", "ascii": asciiOnly = true
        case _?: throw RedactionError(.refused, "an encoding other than UTF-8 and US-ASCII, which alone are passed", offset: offset)
        }
    }
}

/// A start tag, read whole: its qualified name and its attributes, each checked for form.
struct XMLStartTag {
    struct Attribute {
        let name: Range<Int>
        let value: Range<Int>
        /// The attribute with the white space before it, through its closing quote.
        let span: Range<Int>

        func name(in token: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: token[name]) }
    }

    /// The element's name is `token[1 ..< 1 + nameLength]`.
    let nameLength: Int
    /// The offset of the colon in the name, or -1.
    private let colon: Int
    private(set) var attributes: [Attribute] = []
    private(set) var isEmpty = false

    /// - Parameter token: the tag from `<` to `>`.
    init(_ token: UnsafeRawBufferPointer, at offset: Int) throws(RedactionError) {
        func fail(_ detail: String) -> RedactionError { RedactionError(.malformed, detail, offset: offset) }
        let end = token.count - 1
        guard let (nameEnd, colon) = XMLName.qualifiedName(in: token, from: 1) else { throw fail("an invalid element name") }
        // The name stops at the '>' at the latest, which is no name byte.
        self.nameLength = nameEnd - 1
        self.colon = colon
        var index = nameEnd
        while true {
            let spaceStart = index
            while index < end, XMLName.isSpace(token[index]) { index += 1 }
            if index == end { break }
            if token[index] == UInt8(ascii: "/") {
                guard index + 1 == end else { throw fail("'/' inside a start tag") }
                isEmpty = true
                break
            }
            guard index > spaceStart else { throw fail("attributes not separated by white space") }
            let nameStart = index
            guard let (nameEnd, _) = XMLName.qualifiedName(in: token, from: index) else { throw fail("an invalid attribute name") }
            index = nameEnd
            let name = nameStart..<index
            while index < end, XMLName.isSpace(token[index]) { index += 1 }
            guard index < end, token[index] == UInt8(ascii: "=") else { throw fail("an attribute without '='") }
            index += 1
            while index < end, XMLName.isSpace(token[index]) { index += 1 }
            guard index < end, token[index] == UInt8(ascii: "\"") || token[index] == UInt8(ascii: "'") else {
                throw fail("an unquoted attribute value")
            }
            let quote = token[index]
            index += 1
            let valueStart = index
            while index < end, token[index] != quote { index += 1 }
            guard index < end else { throw fail("an unterminated attribute value") }
            try XMLReference.checkAttributeValue(UnsafeRawBufferPointer(rebasing: token[valueStart..<index]), at: offset)
            attributes.append(Attribute(name: name, value: valueStart..<index, span: spaceStart..<(index + 1)))
            index += 1
        }
    }

    func name(in token: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: token[1..<(1 + nameLength)]) }

    /// The name's prefix (nil without one) and local part.
    func nameParts(in token: UnsafeRawBufferPointer) -> (prefix: UnsafeRawBufferPointer?, local: UnsafeRawBufferPointer) {
        guard colon >= 0 else { return (nil, name(in: token)) }
        return (UnsafeRawBufferPointer(rebasing: token[1..<(1 + colon)]), UnsafeRawBufferPointer(rebasing: token[(2 + colon)..<(1 + nameLength)]))
    }

    /// The attribute's value as XML reads it.
    func value(of attribute: Attribute, in token: UnsafeRawBufferPointer) -> [UInt8] {
        XMLReference.normalizedAttributeValue(UnsafeRawBufferPointer(rebasing: token[attribute.value]))
    }

    /// Refuses an attribute given twice, by name or by namespace and local name, and a prefix not declared.
    /// `namespaceOf` returns the namespace a prefix is bound to, as a number that is the same for the same URI, or
    /// nil if it is not declared.
    ///
    /// A few attributes are compared pairwise; more are sorted first, so that a tag of thousands (a hostile request
    /// body's) costs n log n comparisons, not n².
    func checkAttributes(
        in token: UnsafeRawBufferPointer, at offset: Int, namespaceOf: (UnsafeRawBufferPointer) -> Int?
    ) throws(RedactionError) {
        guard !attributes.isEmpty else { return }
        let pairwise = attributes.count <= Self.pairwiseAttributes
        if pairwise {
            for (position, attribute) in attributes.enumerated() {
                let name = attribute.name(in: token)
                for earlier in attributes[..<position] where earlier.name(in: token).elementsEqual(name) {
                    throw RedactionError(.malformed, "an attribute given twice", offset: offset)
                }
            }
        } else if Self.hasRepeat(attributes.map { $0.name(in: token) }, by: Self.precedes) {
            throw RedactionError(.malformed, "an attribute given twice", offset: offset)
        }
        var expanded: [ExpandedName] = []
        for attribute in attributes {
            let name = attribute.name(in: token)
            guard let colon = name.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let prefix = UnsafeRawBufferPointer(rebasing: name[..<colon])
            if prefix.elementsEqual("xmlns".utf8) { continue }
            guard let uri = namespaceOf(prefix) else { throw RedactionError(.malformed, "an attribute prefix that is not declared", offset: offset) }
            let local = UnsafeRawBufferPointer(rebasing: name[(colon + 1)...])
            if pairwise && expanded.contains(where: { $0.namespace == uri && $0.local.elementsEqual(local) }) {
                throw RedactionError(.malformed, "an attribute given twice under two prefixes", offset: offset)
            }
            expanded.append(ExpandedName(namespace: uri, local: local))
        }
        if !pairwise && Self.hasRepeat(expanded, by: ExpandedName.precedes) {
            throw RedactionError(.malformed, "an attribute given twice under two prefixes", offset: offset)
        }
    }

    /// Tags with at most this many attributes are checked pairwise, without sorting.
    static let pairwiseAttributes = 16

    private struct ExpandedName {
        let namespace: Int
        let local: UnsafeRawBufferPointer

        static func precedes(_ a: ExpandedName, _ b: ExpandedName) -> Bool {
            a.namespace != b.namespace ? a.namespace < b.namespace : a.local.lexicographicallyPrecedes(b.local)
        }
    }

    private static func precedes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool { a.lexicographicallyPrecedes(b) }

    /// Whether two of `items` are equal under the strict order `precedes` (neither precedes the other).
    private static func hasRepeat<Item>(_ items: [Item], by precedes: (Item, Item) -> Bool) -> Bool {
        let sorted = items.sorted(by: precedes)
        return zip(sorted, sorted.dropFirst()).contains { !precedes($0, $1) }
    }
}
