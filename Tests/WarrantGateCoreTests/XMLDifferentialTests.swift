import Foundation
import FoundationXML
import Synchronization
import Testing
@testable import WarrantGateCore

/// The XML redactor checked against libxml2 (through FoundationXML's `XMLParser`) on random documents: what libxml2
/// reads from the redacted output must be what it reads from the input, less the redacted subtrees; and what libxml2
/// refuses, the redactor refuses too.
@Suite("XML redaction against libxml2", .serialized)
struct XMLDifferentialTests {
    static let uris = ["urn:t:a", "urn:t:b", "http://example.org/c"]
    /// The same URIs written with character references, which attribute-value normalisation turns back into them.
    static let escapedURIs = ["urn&#x3A;t:a", "urn:t&#58;b", "http:&#x2F;&#x2F;example.org/c"]
    static let locals = ["item", "Item", "secret", "Secret", "SECRET", "note", "x"]
    static let names = ["{urn:t:a}secret", "{urn:t:b}item", "{http://example.org/c}Secret", "Secret"]
    static let redacted = RedactedNames(names)

    @Test("libxml2 reads the redacted output as the input less the redacted subtrees")
    func randomDocuments() throws {
        var random = SplitMix64(seed: 0x584d_4c31)
        var removedTotal = 0, refusedForText = 0
        for round in 0..<600 {
            let document = Array(RandomXML.document(using: &random).utf8)
            let input = XMLEvents(parsing: document)
            try #require(input.accepted, "libxml2 refuses generated document \(round): \(Self.show(document)) \(input.errors)")
            let expected = input.events.dropping(Self.isRedacted)
            if case .start(let uri, let local, _)? = input.events.first(where: { if case .start = $0 { true } else { false } }),
               Self.isRedacted(uri: uri, local: local) {
                // A redacted root would leave no document: refused.
                #expect(throws: RedactionError.self, "document \(round)") { try Self.redact(document, chunked: &random) }
                continue
            }
            if Self.holdsRedactedMarkup(expected.events) || Self.spellsRedactedName(input.events) {
                // Kept text that a client would parse into a redacted field: refused.
                #expect(throws: RedactionError.self, "document \(round): \(Self.show(document))") { try Self.redact(document, chunked: &random) }
                refusedForText += 1
                continue
            }

            let ours = try Self.redact(document, chunked: &random)
            let output = XMLEvents(parsing: ours.output)
            #expect(output.accepted, "document \(round): libxml2 refuses the output \(Self.show(ours.output)) \(output.errors)")
            #expect(output.events.merged == expected.events, "document \(round): \(Self.show(document)) gave \(Self.show(ours.output))")
            #expect(ours.removed == expected.dropped, "document \(round)")
            removedTotal += ours.removed
        }
        #expect(removedTotal > 100) // the generator does reach redacted names
        #expect(refusedForText > 10) // and markup written as text
    }

    /// Whether a kept element's text since the last kept tag (text and CDATA sections, across comments, processing
    /// instructions and removed elements), or a kept attribute's value outside XML Schema's instance namespace,
    /// spells a redacted field's name (``ValueNames``), as a record of names and values (`<Key>secret</Key>`) does.
    static func spellsRedactedName(_ events: [XMLEvent]) -> Bool {
        var depth = 0, removedDepth = 0, text = ""
        let spells = { (value: String) in Array(value.utf8).withUnsafeBytes { redacted.valueNames.isSpelled(byText: $0) } }
        for event in events {
            switch event {
            case .start(let uri, let local, let attributes):
                if removedDepth == 0, spells(text) { return true }
                depth += 1
                if removedDepth == 0, isRedacted(uri: uri, local: local) { removedDepth = depth }
                guard removedDepth == 0 else { continue }
                text = ""
                let checked = attributes.filter { !isRedacted(uri: $0.uri, local: $0.local) && $0.uri != "http://www.w3.org/2001/XMLSchema-instance" }
                if checked.contains(where: { spells($0.value) }) { return true }
            case .end:
                if removedDepth == 0 {
                    if spells(text) { return true }
                    text = ""
                }
                if removedDepth == depth { removedDepth = 0 }
                depth -= 1
            case .text(let value), .cdata(let value):
                if removedDepth == 0 { text += value }
            case .comment, .instruction:
                break
            }
        }
        return false
    }

    /// Whether kept text or a CDATA section holds a `<` (an optional `/`) and a name whose local part is redacted,
    /// ending as a tag's name does, as a client parsing the text as XML would read it.
    static func holdsRedactedMarkup(_ events: [XMLEvent]) -> Bool {
        for event in events {
            let bytes: [UInt8]
            switch event {
            case .text(let text), .cdata(let text): bytes = Array(text.utf8)
            default: continue
            }
            for start in bytes.indices where bytes[start] == UInt8(ascii: "<") {
                var end = start + 1
                if end < bytes.count, bytes[end] == UInt8(ascii: "/") { end += 1 }
                let nameStart = end
                while end < bytes.count, XMLName.isNameByte(bytes[end]) { end += 1 }
                // A name ends as a tag's does, or it is no tag (`<name@host>`).
                guard end < bytes.count, bytes[end] == UInt8(ascii: ">") || bytes[end] == UInt8(ascii: "/") || XMLName.isSpace(bytes[end]) else { continue }
                let name = bytes[nameStart..<end]
                let local = name.lastIndex(of: UInt8(ascii: ":")).map { name[($0 + 1)...] } ?? name
                if !local.isEmpty, isRedacted(uri: "", local: String(decoding: local, as: UTF8.self)) { return true }
            }
        }
        return false
    }

    @Test("refuses what libxml2 refuses, and libxml2 accepts what it outputs, when a byte is changed, added or dropped")
    func mutatedDocuments() throws {
        var random = SplitMix64(seed: 0x6d75_7461)
        var refusedByBoth = 0, unread = 0
        for round in 0..<400 {
            let original = Array(RandomXML.document(using: &random).utf8)
            for _ in 0..<4 {
                let document = RandomXML.mutate(original, using: &random)
                let input = XMLEvents(parsing: document)
                guard input.readable else {
                    unread += 1
                    continue
                }
                let ours = try? Self.redact(document, chunked: &random)
                guard let ours else {
                    if !input.accepted { refusedByBoth += 1 }
                    continue
                }
                #expect(input.accepted, "round \(round): libxml2 refuses \(Self.show(document)) \(input.errors), the redactor does not")
                let output = XMLEvents(parsing: ours.output)
                #expect(output.accepted, "round \(round): libxml2 refuses the output \(Self.show(ours.output)) of \(Self.show(document)) \(output.errors)")
                if input.accepted {
                    let expected = input.events.dropping(Self.isRedacted)
                    #expect(output.events.merged == expected.events, "round \(round): \(Self.show(document)) gave \(Self.show(ours.output))")
                    #expect(ours.removed == expected.dropped)
                }
            }
        }
        #expect(refusedByBoth > 200) // the mutations do break documents
        #expect(unread < 100)
    }

    static func isRedacted(uri: String, local: String) -> Bool {
        // A qualified name's local name is a field name too.
        if redacted.fields.contains(local.lowercased()) || redacted.qualified.contains(where: { $0.local.lowercased() == local.lowercased() }) { return true }
        return !uri.isEmpty && redacted.qualified.contains(QualifiedName(namespace: uri, local: local))
    }

    static func show(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self).debugDescription }

    /// Redacts `document` fed in random pieces, and checks that fed whole it gives the same.
    static func redact(_ document: [UInt8], chunked random: inout SplitMix64) throws -> (output: [UInt8], removed: Int) {
        var cuts: [Int] = []
        var position = 0
        while true {
            position += 1 + random.next(below: 24)
            guard position < document.count else { break }
            cuts.append(position)
        }
        let whole = Result { try redact(document, cuts: []) }
        let pieces = Result { try redact(document, cuts: cuts) }
        switch (whole, pieces) {
        case (.success(let whole), .success(let pieces)):
            #expect(whole.output == pieces.output && whole.removed == pieces.removed, "\(show(document)) cut at \(cuts)")
        case (.failure, .failure):
            break
        default:
            Issue.record("\(show(document)) fed whole: \(whole), cut at \(cuts): \(pieces)")
        }
        return try whole.get()
    }

    static func redact(_ document: [UInt8], cuts: [Int]) throws -> (output: [UInt8], removed: Int) {
        let redaction = XMLRedaction(names: redacted)
        var output: [UInt8] = []
        var start = 0
        for end in cuts + [document.count] {
            try Array(document[start..<end]).withUnsafeBytes { piece in try redaction.feed(piece) { output.append(contentsOf: $0) } }
            start = end
        }
        try redaction.finish { output.append(contentsOf: $0) }
        return (output, redaction.removed)
    }
}

// MARK: Reading with libxml2

/// What libxml2 reports of a document, with namespaces processed and no external entities.
enum XMLEvent: Equatable, CustomStringConvertible {
    case start(uri: String, local: String, attributes: [Attribute])
    case text(String)
    /// A CDATA section's content: text, but a token of its own to the redactor.
    case cdata(String)
    case end(uri: String, local: String)
    case comment(String)
    case instruction(target: String, data: String)

    struct Attribute: Equatable {
        let uri: String, local: String, value: String
    }

    var description: String {
        switch self {
        case .start(let uri, let local, let attributes):
            "<{\(uri)}\(local)" + attributes.map { " {\($0.uri)}\($0.local)=\($0.value.debugDescription)" }.joined() + ">"
        case .text(let text): text.debugDescription
        case .cdata(let text): "<![CDATA[\(text)]]>"
        case .end(let uri, let local): "</{\(uri)}\(local)>"
        case .comment(let text): "<!--\(text)-->"
        case .instruction(let target, let data): "<?\(target) \(data)?>"
        }
    }
}

extension [XMLEvent] {
    /// Adjacent text joined, as it reads once the comments between have gone, or the subtrees between.
    var merged: [XMLEvent] {
        var result: [XMLEvent] = []
        for event in self {
            if case .text(let text) = event, case .text(let before)? = result.last {
                result[result.count - 1] = .text(before + text)
            } else if case .text(let text) = event, text.isEmpty {
                continue
            } else {
                result.append(event)
            }
        }
        return result
    }

    /// The events without the subtrees of elements `isRedacted`, the whitespace alone between such a subtree and the
    /// event before it, and the attributes `isRedacted` of kept elements, merged; `dropped` counts the outermost
    /// elements and the attributes.
    func dropping(_ isRedacted: (_ uri: String, _ local: String) -> Bool) -> (events: [XMLEvent], dropped: Int) {
        var kept: [XMLEvent] = []
        var depth = 0, removedDepth = 0, dropped = 0
        // Where the text since the last other event starts in `kept`.
        var textStart = 0
        for event in self {
            switch event {
            case .start(let uri, let local, let attributes):
                depth += 1
                if removedDepth == 0, isRedacted(uri, local) {
                    removedDepth = depth
                    dropped += 1
                    let text = kept[textStart...].map { if case .text(let text) = $0 { text } else { "" } }.joined()
                    if text.unicodeScalars.allSatisfy({ " \t\n\r".unicodeScalars.contains($0) }) { kept.removeSubrange(textStart...) }
                }
                if removedDepth == 0 {
                    let keptAttributes = attributes.filter { !isRedacted($0.uri, $0.local) }
                    dropped += attributes.count - keptAttributes.count
                    kept.append(.start(uri: uri, local: local, attributes: keptAttributes))
                }
            case .end:
                if removedDepth == 0 { kept.append(event) }
                if removedDepth == depth { removedDepth = 0 }
                depth -= 1
            default:
                if removedDepth == 0 { kept.append(event) }
            }
            if case .text = event {} else { textStart = kept.count }
        }
        return (kept.merged, dropped)
    }
}

/// Parses a document with `XMLParser` and records its events. On Linux the parser recovers from some errors and
/// goes on (and `parse()` may even return true), so a document counts as accepted only if no error was reported. It
/// never tells libxml2 the input has ended, so it accepts some truncated documents ("<r>"): a leniency, in the safe
/// direction for these tests.
final class XMLEvents: NSObject, XMLParserDelegate {
    private(set) var events: [XMLEvent] = []
    private(set) var errors: [Int] = []
    private(set) var accepted = false
    /// False for a document FoundationXML would crash on, which is not parsed (see `init`).
    private(set) var readable = true
    /// Per prefix, the URIs it is bound to, innermost last ("" for the default namespace).
    private var bindings: [String: [String]] = ["xml": ["http://www.w3.org/XML/1998/namespace"]]

    /// libxml2's warnings that a namespace URI is not an absolute URI (XML_WAR_NS_URI, XML_WAR_NS_URI_RELATIVE):
    /// Namespaces in XML allows any URI reference, and the redactor compares URIs as strings, as libxml2 does. A
    /// mutated URI ("urn:t:a" turned into "urn:t a") draws the warning; it changes nothing in the structure.
    static let namespaceURIWarnings: Set<Int> = [99, 100]
    /// XML_ERR_RESERVED_XML_NAME.
    static let reservedName = 64

    /// FoundationXML sets libxml2's process-wide error handler for each parse: parsers alive at once, in suites
    /// running in parallel, corrupt memory. Every parser in the tests lives and dies in here, one at a time.
    private static let libxml2 = Mutex(())

    init(parsing document: [UInt8]) {
        super.init()
        // FoundationXML force-unwraps the strings libxml2 hands it: a comment or name that is not valid UTF-8 (libxml2
        // reports the error, then recovers and goes on) crashes it, and so does a processing instruction without data
        // ("<?pi?>", legal XML). Invalid UTF-8 is refused without parsing, as libxml2 refuses it; a document with a
        // processing instruction that may lack data is not read at all.
        guard String(validating: document, as: UTF8.self) != nil else {
            errors.append(XMLParser.ErrorCode.invalidCharacterError.rawValue)
            return
        }
        guard !Self.mayHaveInstructionWithoutData(document) else {
            readable = false
            return
        }
        let parsed = Self.libxml2.withLock { _ in
            let parser = XMLParser(data: Data(document))
            parser.shouldProcessNamespaces = true
            parser.shouldReportNamespacePrefixes = true
            parser.shouldResolveExternalEntities = false
            parser.delegate = self
            defer { parser.delegate = nil }
            return parser.parse()
        }
        // libxml2 reports a processing instruction target that starts with "xml" (reserved by XML, but allowed) with
        // the same code as the target "xml" itself where no XML declaration may stand (an error): only the latter counts.
        if !events.contains(where: { if case .instruction(let target, _) = $0 { target.lowercased() == "xml" } else { false } }) {
            errors.removeAll { $0 == Self.reservedName }
        }
        accepted = parsed && errors.isEmpty
    }

    /// Whether some "<?" is followed by "?>" with no white space between (in markup or not).
    static func mayHaveInstructionWithoutData(_ document: [UInt8]) -> Bool {
        var index = 0
        while index + 1 < document.count {
            defer { index += 1 }
            guard document[index] == UInt8(ascii: "<"), document[index + 1] == UInt8(ascii: "?") else { continue }
            var end = index + 2
            while end + 1 < document.count, !XMLName.isSpace(document[end]) {
                if document[end] == UInt8(ascii: "?"), document[end + 1] == UInt8(ascii: ">") { return true }
                end += 1
            }
        }
        return false
    }

    func parser(_ parser: XMLParser, didStartMappingPrefix prefix: String, toURI namespaceURI: String) {
        bindings[prefix, default: []].append(namespaceURI)
    }

    func parser(_ parser: XMLParser, didEndMappingPrefix prefix: String) {
        bindings[prefix]?.removeLast()
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        let resolved = attributes.map { name, value in
            guard let colon = name.firstIndex(of: ":") else { return XMLEvent.Attribute(uri: "", local: name, value: value) }
            let prefix = String(name[..<colon])
            return XMLEvent.Attribute(uri: bindings[prefix]?.last ?? "(unbound \(prefix))", local: String(name[name.index(after: colon)...]), value: value)
        }
        events.append(.start(uri: namespaceURI ?? "", local: elementName, attributes: resolved.sorted { ($0.uri, $0.local) < ($1.uri, $1.local) }))
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        events.append(.end(uri: namespaceURI ?? "", local: elementName))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { events.append(.text(string)) }
    func parser(_ parser: XMLParser, foundIgnorableWhitespace whitespaceString: String) { events.append(.text(whitespaceString)) }
    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) { events.append(.cdata(String(decoding: CDATABlock, as: UTF8.self))) }
    func parser(_ parser: XMLParser, foundComment comment: String) { events.append(.comment(comment)) }

    func parser(_ parser: XMLParser, foundProcessingInstructionWithTarget target: String, data: String?) {
        events.append(.instruction(target: target, data: data ?? ""))
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        let code = (parseError as NSError).code
        if !Self.namespaceURIWarnings.contains(code) { errors.append(code) }
    }

    func parser(_ parser: XMLParser, validationErrorOccurred validationError: any Error) {
        errors.append((validationError as NSError).code)
    }
}

// MARK: Generating

/// Random well-formed documents in a few namespaces, under varying prefixes.
///
/// Element and attribute names are ASCII: the redactor takes any byte from 0x80 up as a name character (see
/// `XMLName`), where libxml2 checks the letters XML allows, so libxml2 would refuse some names the redactor passes.
/// That difference is about names, never about structure, and the consumer refuses such a document anyway.
enum RandomXML {
    struct Scope {
        /// Bound prefixes, and the default namespace ("" for none).
        var prefixes: [String: String] = [:]
        var defaultURI = ""
    }

    static func document(using random: inout SplitMix64) -> String {
        var text = ""
        if random.next(below: 3) == 0 { text += "\u{FEFF}" }
        if random.next(below: 2) == 0 {
            text += ["<?xml version=\"1.0\"?>", "<?xml version='1.0' encoding='UTF-8'?>", "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\" ?>"][random.next(below: 3)]
        }
        text += miscellany(using: &random)
        text += element(depth: 0, scope: Scope(), using: &random)
        text += miscellany(using: &random)
        return text
    }

    static func miscellany(using random: inout SplitMix64) -> String {
        (0..<random.next(below: 3)).map { _ in
            [" ", "\n", "\r\n\t", comment(using: &random), instruction(using: &random)][random.next(below: 5)]
        }.joined()
    }

    static func element(depth: Int, scope outer: Scope, using random: inout SplitMix64) -> String {
        var scope = outer
        var attributes: [String] = []
        var expanded: Set<String> = []
        // Namespace declarations: rebinding a prefix, setting or undeclaring the default namespace.
        for _ in 0..<random.next(below: 3) {
            let prefix = ["", "p", "q", "ns1"][random.next(below: 4)]
            guard !attributes.contains(where: { $0.hasPrefix(prefix.isEmpty ? "xmlns=" : "xmlns:\(prefix)=") }) else { continue }
            let index = random.next(below: XMLDifferentialTests.uris.count)
            let written = random.next(below: 4) == 0 ? XMLDifferentialTests.escapedURIs[index] : XMLDifferentialTests.uris[index]
            if prefix.isEmpty, depth > 0, random.next(below: 3) == 0 {
                attributes.append("xmlns=\(quoted(""))")
                scope.defaultURI = ""
            } else if prefix.isEmpty {
                attributes.append("xmlns=\(quoted(written))")
                scope.defaultURI = XMLDifferentialTests.uris[index]
            } else {
                attributes.append("xmlns:\(prefix)=\(quoted(written))")
                scope.prefixes[prefix] = XMLDifferentialTests.uris[index]
            }
        }
        // A redacted root refuses the document; roots are mostly of other names, so that most documents are redacted.
        let local = depth == 0 && random.next(below: 4) != 0
            ? ["note", "x", "item"][random.next(below: 3)] : XMLDifferentialTests.locals[random.next(below: XMLDifferentialTests.locals.count)]
        let bound = scope.prefixes.keys.sorted()
        let name = bound.isEmpty || random.next(below: 2) == 0 ? local : "\(bound[random.next(below: bound.count)]):\(local)"
        // Ordinary attributes, never two with the same expanded name.
        for _ in 0..<random.next(below: 4) {
            let attributeLocal = ["id", "kind", "item", "secret", "lang"][random.next(below: 5)]
            var prefix = bound.isEmpty || random.next(below: 2) == 0 ? "" : bound[random.next(below: bound.count)]
            if attributeLocal == "lang", random.next(below: 2) == 0 { prefix = "xml" }
            let uri = prefix.isEmpty ? "" : prefix == "xml" ? "xml" : scope.prefixes[prefix]!
            guard expanded.insert("{\(uri)}\(attributeLocal)").inserted else { continue }
            attributes.append((prefix.isEmpty ? "" : "\(prefix):") + "\(attributeLocal)=\(quoted(value(using: &random)))")
        }
        for index in attributes.indices.reversed() { attributes.swapAt(index, random.next(below: index + 1)) }
        let spaces = [" ", " ", "\n  ", "\t"]
        let tag = name + attributes.map { spaces[random.next(below: spaces.count)] + $0 }.joined()
            + ["", "", " ", "\n"][random.next(below: 4)]
        if random.next(below: 4) == 0 || depth >= 5 { return "<\(tag)/>" }
        var content = ""
        for _ in 0..<random.next(below: depth == 0 ? 6 : 4) {
            switch random.next(below: 8) {
            case 0, 1, 2: content += element(depth: depth + 1, scope: scope, using: &random)
            case 3, 4: content += text(using: &random)
            case 5: content += comment(using: &random)
            case 6: content += instruction(using: &random)
            default: content += "<![CDATA[" + pieces(["a", "<secret/>", "]", "]]", "&amp;", " ", "é"], count: 4, avoiding: "]]>", using: &random) + "]]>"
            }
        }
        return "<\(tag)>\(content)</\(name)\(["", " ", "\n"][random.next(below: 3)])>"
    }

    static func quoted(_ value: String) -> String {
        value.contains("\"") ? "'\(value)'" : "\"\(value)\""
    }

    static func value(using random: inout SplitMix64) -> String {
        var value = pieces(["v", "1 2", "&amp;", "&#65;", "&#x42;", "&lt;", "&quot;", "'", ">", "\t", "é", "secret"], count: 3, avoiding: nil, using: &random)
        if value.contains("\""), value.contains("'") { value = value.replacingOccurrences(of: "'", with: "&apos;") }
        return value
    }

    /// Text never ends in ']', so that two runs of it side by side cannot make "]]>".
    static func text(using random: inout SplitMix64) -> String {
        pieces(["a", "b c", " ", "\n", "&amp;", "&#65;", "&#x42;", "&lt;secret/&gt;", ">", "]", "]]", "]>", "\"", "'", "é", "\r\n"], count: 5, avoiding: "]]>", using: &random, endingIn: "]")
    }

    static func comment(using random: inout SplitMix64) -> String {
        "<!--" + pieces(["c", " ", "<secret/>", "-", "x", "]]>", "&"], count: 4, avoiding: "--", using: &random, endingIn: "-") + "-->"
    }

    static func instruction(using random: inout SplitMix64) -> String {
        let target = ["pi", "app", "x-y"][random.next(below: 3)]
        // Never without data, which crashes FoundationXML (see `XMLEvents`).
        let data = "d" + pieces(["d", "=", "\"q\"", "<secret/>", "?", ">", "&amp;", " "], count: 3, avoiding: "?>", using: &random)
        return "<?\(target) \(data)?>"
    }

    /// Up to `count` pieces joined, without `avoiding` anywhere, and with an "x" added after a final `endingIn`.
    static func pieces(_ choices: [String], count: Int, avoiding: String?, using random: inout SplitMix64, endingIn: String? = nil) -> String {
        var text = ""
        for _ in 0..<random.next(below: count + 1) {
            let candidate = text + choices[random.next(below: choices.count)]
            if let avoiding, candidate.contains(avoiding) { continue }
            text = candidate
        }
        if let endingIn, text.hasSuffix(endingIn) { text += "x" }
        return text
    }

    /// The document with one byte changed, added or dropped; the bytes chosen lean to those that make markup.
    static let snippets = [
        "<!--", "-->", "<![CDATA[", "]]>", "</", "/>", "<?", "?>", " xmlns:p='urn:t:b'", " xmlns=''", " p:id='1'", " id='2'",
        "<secret>", "</secret>", "&#0;", "&#xD800;", "&foo;", "<!DOCTYPE r>", "<p:secret>", "</p:secret>", "<Secret/>",
        " xmlns:q='urn:t:b'", " q:id='3'", "&", "<", ">", "\"", "'", "\u{1}", "é", "<?xml version='1.0'?>",
    ]

    static func mutate(_ document: [UInt8], using random: inout SplitMix64) -> [UInt8] {
        let significant = Array("<>&;\"'/!?-[]=: \n#xX".utf8)
        func byte() -> UInt8 {
            random.next(below: 3) == 0 ? UInt8(random.next(below: 256)) : significant[random.next(below: significant.count)]
        }
        var bytes = document
        for _ in 0...random.next(below: 2) {
            let position = random.next(below: bytes.count)
            switch random.next(below: 4) {
            case 0: bytes[position] = byte()
            case 1: bytes.insert(byte(), at: position)
            case 2: bytes.remove(at: position)
            default: bytes.insert(contentsOf: snippets[random.next(below: snippets.count)].utf8, at: position)
            }
        }
        return bytes
    }
}
