/// Removes named elements, whole with their descendants, and named attributes from an XML document as it streams
/// (XML 1.0 with Namespaces in XML 1.0).
///
/// - Elements and attributes are matched by namespace URI and local name, or by local name alone for a field name
///   (``RedactedNames``); prefixes only lead to the URI, with default namespaces, rebinding and undeclaring followed
///   as the document declares them. An unprefixed attribute is in no namespace. Namespace declarations are never
///   removed.
/// - A SOAP 1.1 or 1.2 envelope is redacted inside its Body only; a redacted element or attribute in its Header, or in
///   any other child of the Envelope, refuses the document.
/// - A redacted root element refuses the document: removing it would leave no document.
/// - A document with an XML-DSig `Signature` anywhere (WS-Security carries it in the Header) is refused as soon as it
///   both is signed and has something to remove, whichever comes first.
/// - Refused outright: a DOCTYPE (and with it every entity declaration and external entity), XInclude, an undefined
///   entity reference, an encoding other than UTF-8 or US-ASCII, invalid UTF-8 or a character XML forbids, nesting
///   deeper than the limit, a markup token longer than the limit, and anything not well-formed.
/// - Comments, processing instructions and CDATA sections are kept byte for byte where their element is kept, and go
///   with an element that is removed. Their contents are text, never elements: a redacted name written inside a
///   comment is kept. But a response whose text or CDATA holds markup naming a redacted field (`&lt;citizenship&gt;`,
///   `<![CDATA[<nc:PersonCitizenshipText>`: a record returned as an escaped XML string, as legacy .NET services do)
///   is refused: a client parses that string too, and the redactor cannot remove what is inside it.
///
/// Kept bytes pass through unchanged, so a document with nothing to remove comes out identical. The one exception:
/// whitespace alone between a removed element and the markup before it goes with the element, so that an indented
/// document shows no blank line where something was removed (which would tell that the record had it). Memory is
/// bounded by the depth limit and the markup limit, whatever the document's size.
public final class XMLRedaction: BodyRedaction {
    public struct Limits: Sendable, Equatable {
        /// Deepest element nesting accepted.
        public var maxDepth: Int
        /// Longest start tag, end tag, processing instruction or reference accepted.
        public var maxMarkupBytes: Int
        /// Most namespace declarations in scope at once. Each declaration and each prefixed name is looked up among
        /// those in scope, so without a bound the work grows with their square: 100,000 declarations in 2.5 MB held
        /// an event loop for 9 s. A real document declares a few dozen.
        public var maxNamespaceBindings: Int

        public init(maxDepth: Int = 256, maxMarkupBytes: Int = 64 * 1024, maxNamespaceBindings: Int = 256) {
            self.maxDepth = maxDepth
            self.maxMarkupBytes = maxMarkupBytes
            self.maxNamespaceBindings = maxNamespaceBindings
        }
    }

    /// The state, kept in a struct so that the hot loops work on it without exclusivity checks.
    private var machine: XMLRedactionMachine

    /// - Parameter keepOnly: when given, a record's child element or attribute not among these names is removed too;
    ///   the record is the root element, or in a SOAP envelope the Body's element.
    public init(names: RedactedNames, keepOnly: RedactedNames? = nil, limits: Limits = Limits()) {
        machine = XMLRedactionMachine(names: names, keepOnly: keepOnly, limits: limits)
    }

    public var removed: Int { machine.removed }

    public var awaitsVerdict: Bool { machine.awaitsVerdict }

    public func feed(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) throws(RedactionError) {
        try machine.feed(bytes, emit: emit)
    }

    public func finish(emit: (UnsafeRawBufferPointer) -> Void) throws(RedactionError) {
        try machine.finish(emit: emit)
    }
}

extension XMLRedaction {
    /// Reads a whole document as the redactor reads one, refusing what it refuses, and tells `outline` its structure.
    static func read(_ document: [UInt8], telling outline: SOAPEnvelopeOutline, limits: Limits) throws(RedactionError) {
        var machine = XMLRedactionMachine(names: RedactedNames([String]()), keepOnly: nil, limits: limits)
        machine.outline = outline
        var failure: RedactionError?
        document.withUnsafeBytes { bytes in
            do throws(RedactionError) { try machine.feed(bytes) { _ in } } catch { failure = error }
        }
        if let failure { throw failure }
        try machine.finish { _ in }
    }
}

/// ``XMLRedaction``'s state and its work.
private struct XMLRedactionMachine {
    private(set) var removed = 0
    private let names: Names
    /// The names a kept value must not spell (``RedactedNames/valueNames``).
    private let valueNames: ValueNames
    /// The kept text read since the last kept tag, references decoded, while it is short enough to spell a field's
    /// name (``checkElementText(at:restarting:)``); nil once it is not.
    private var elementText: [UInt8]? = []
    /// Whether there is an allow-list.
    private let hasAllowList: Bool
    private let limits: XMLRedaction.Limits

    // Where the document is.
    /// Bytes fed before the current piece.
    private var consumed = 0
    private var characters = XMLCharacterCheck()
    private var mode = Mode.content
    /// The markup token being read, when it spans pieces (from its `<`).
    private var held: [UInt8] = []
    private var markup = MarkupScan()
    /// Inside a comment: trailing `-`s; inside a CDATA section or text: trailing `]`s.
    private var dashes = 0
    private var brackets = 0
    /// Inside a reference in text: its length so far, from the `&`.
    private var reference: [UInt8] = []
    /// After a `<` in a response's text (written as a reference) or CDATA section, outside a removed element: the name
    /// read after it so far, which ``checkEmbeddedName(at:)`` compares with the redacted names.
    private var embeddedName: [UInt8]?
    /// Markup written as text (`&lt;r citizenship='MX'/&gt;`) or in a CDATA section, read as a client that parses
    /// the text reads it, for what ``embeddedName`` does not read: attributes, and declarations that define names. Fed
    /// while it is reading, and at each `<` the text holds.
    private var escapedMarkup = EmbeddedMarkup()

    var awaitsVerdict: Bool { escapedMarkup.awaitsVerdict }

    /// The keys of a JSON document serialized into a response's kept text or CDATA (``EmbeddedKeyReader``), across
    /// pieces, references, comments, instructions and CDATA sections, until the next start or end tag.
    private var embeddedKeys = EmbeddedKeyReader()
    /// The last byte of kept text or CDATA other than white space, for a serialized document's first quote.
    private var lastTextByte: UInt8?
    /// Where the XML declaration may stand: 0, or 3 after a byte order mark.
    private var prologStart = 0
    private var rootSeen = false
    private var rootClosed = false

    // The open elements, innermost last.
    private var openNames = XMLByteStack()
    private var open: [OpenElement] = []
    /// The open elements from this index on were opened in the current piece, and their names are still read there:
    /// they are copied to `openNames` only if still open when the piece has been read (`keepOpenNames`).
    private var namesInPiece = 0
    private var bindings = Bindings()
    private var resolvedNames = ResolvedNames()
    /// The depth of the element being removed (its descendants go with it), or 0.
    private var removedDepth = 0
    /// Whether the text inside the root since the last markup token (outside any removed element) is whitespace
    /// alone, so far; and what of it earlier pieces held back, which the next token decides on.
    private var blankPending = false
    private var heldBlank: [UInt8] = []
    private var envelope = SOAPEnvelope.none
    /// Which of a SOAP envelope's Header and Body, and of the Body's record, have begun; whether the record is a SOAP
    /// Fault (under an allow-list its own parts stay: code, reason, node, role).
    private var headerSeen = false
    private var bodySeen = false
    private var recordSeen = false
    private var recordIsFault = false
    private var signed = false
    /// Told the document's structure as it is read: set when a request's envelope is read, nil when a response is
    /// redacted.
    var outline: SOAPEnvelopeOutline?

    init(names: RedactedNames, keepOnly: RedactedNames?, limits: XMLRedaction.Limits) {
        self.names = Names(redacted: names, keepOnly: keepOnly)
        valueNames = names.valueNames
        hasAllowList = keepOnly != nil
        self.limits = limits
        bind(prefix: Array("xml".utf8), uri: XMLNamespaces.xml)
    }

    private enum Mode {
        case content, reference, markup, comment, cdata
    }

    private struct OpenElement {
        /// Its qualified name's bytes in `openNames`, or in the current piece (see `namesInPiece`).
        var name: Range<Int>
        var bindingsBelow: Int
        var region: Region
    }

    /// Where an element stands in a SOAP envelope; every element of another document is in the body.
    private enum Region {
        case envelope, header, body
    }

    private enum SOAPEnvelope: Equatable {
        case none, soap11, soap12
    }

    /// The namespace bindings in scope, innermost last: each a prefix (empty for the default namespace) bound to a
    /// namespace, or to none (`xmlns=""`). Apart from the machine, so that looking a prefix up copies nothing.
    private struct Bindings {
        private struct Binding {
            /// The prefix's bytes in `prefixes`.
            var prefix: Range<Int>
            var namespace: Namespace?
            /// Its number among all bindings ever made, counting from 1.
            var serial: Int
        }

        private var bindings: [Binding] = []
        private var bindingsMade = 0
        /// Each binding's ``prefixKey(_:)``, compared before anything else.
        private var prefixKeys: [UInt64] = []
        private var prefixes = XMLByteStack()
        private var uris: [String] = []

        /// A prefix's first eight bytes (``XMLBytes/packed(_:)``), with the length of a shorter one in the top byte:
        /// two prefixes of up to eight bytes and of the same length are equal exactly when their keys are.
        private static func prefixKey(_ prefix: UnsafeRawBufferPointer) -> UInt64 {
            XMLBytes.packed(prefix) | (prefix.count < 8 ? UInt64(prefix.count) << 56 : 0)
        }

        var count: Int { bindings.count }

        /// The bindings in scope as one number: equal at two moments exactly when the same bindings are in scope (the
        /// innermost binding's serial stands for all those made before it that are still in scope).
        var version: Int { bindings.last?.serial ?? 0 }

        /// The key of a namespace bound to `uri` (see ``Namespace/key``).
        func key(of uri: String) -> Int { uris.firstIndex(of: uri) ?? bindings.count }

        /// The URI of a namespace in scope.
        func uri(of namespace: Namespace) -> String { uris[namespace.key] }

        mutating func append(prefix: UnsafeRawBufferPointer, uri: String, namespace: Namespace?) {
            let start = prefixes.push(prefix)
            bindingsMade += 1
            bindings.append(Binding(prefix: start..<(start + prefix.count), namespace: namespace, serial: bindingsMade))
            prefixKeys.append(Self.prefixKey(prefix))
            uris.append(uri)
        }

        /// Drops the bindings from the `count`th on.
        @inline(__always)
        mutating func removeAll(from count: Int) {
            if bindings.count > count { drop(from: count) }
        }

        private mutating func drop(from count: Int) {
            prefixes.pop(from: bindings[count].prefix.lowerBound)
            bindings.removeSubrange(count...)
            prefixKeys.removeSubrange(count...)
            uris.removeSubrange(count...)
        }

        /// The namespace `prefix` is bound to (the default namespace for an empty prefix), innermost binding first.
        func lookUp(_ prefix: UnsafeRawBufferPointer) -> Namespace?? {
            let key = Self.prefixKey(prefix)
            var index = prefixKeys.count
            while index > 0 {
                index -= 1
                guard prefixKeys[index] == key else { continue }
                let binding = bindings[index]
                guard binding.prefix.count == prefix.count else { continue }
                if prefix.count <= 8 || prefixes.withBytes(binding.prefix, { XMLBytes.equal($0, prefix) }) { return .some(binding.namespace) }
            }
            return prefix.isEmpty ? .some(nil) : nil
        }
    }

    /// Element names already resolved under the bindings then in scope, so that an attribute-less start tag
    /// (`<name>` or `<name/>`) of a name met before is decided without reading its name, looking its prefix up or
    /// matching it against the redacted names again. Four entries per set, the set chosen by the name's first and last
    /// eight bytes, its length and the bindings' version; a name is taken for an entry's only when the version and
    /// all its bytes are equal. About 30 KB, allocated at the first name kept; a document of many names, or of
    /// names made to share a set, only finds fewer of them.
    private struct ResolvedNames {
        /// What the redactor decides from an element's name under the bindings in scope.
        struct Resolution {
            /// Where the local name starts in the qualified name: 0, or just past the colon.
            var localStart: Int
            var namespace: Namespace?
            /// Whether the name is redacted (``Names/redact(_:_:)``), and whether an allow-list keeps it.
            var redact: Bool
            var keep: Bool
        }

        /// An entry's name, compared before its bytes are: the first and the last eight bytes (the same word for a
        /// shorter name, ``XMLBytes/packed(_:)``), and the bindings' version with the length.
        private struct Key: Equatable {
            var first: UInt64
            var last: UInt64
            var versionAndLength: UInt64

            init(_ name: UnsafeRawBufferPointer, version: Int) {
                first = XMLBytes.packed(name)
                last = name.count > 8 ? UInt64(littleEndian: name.loadUnaligned(fromByteOffset: name.count - 8, as: UInt64.self)) : first
                versionAndLength = UInt64(truncatingIfNeeded: version) << 8 | UInt64(name.count)
            }

            init() { (first, last, versionAndLength) = (0, 0, 0) }

            var set: Int {
                let hash = (first ^ (last << 29 | last >> 35) ^ versionAndLength) &* 0x9e37_79b9_7f4a_7c15
                return Int(truncatingIfNeeded: hash >> UInt64(64 - ResolvedNames.setBits))
            }
        }

        private static let setBits = 6
        private static let ways = 4
        /// The longest name kept, and the bytes of each entry in `names`.
        private static let entryBytes = 64

        /// Empty until the first name is kept; then `ways` per set. A key of length 0 is none.
        private var keys: [Key] = []
        private var resolutions: [Resolution] = []
        private var names: [UInt8] = []
        /// Per set, the entry the next name kept there replaces: each in turn.
        private var replaced: [UInt8] = []

        /// The resolution of `name` under the bindings of `version`, if kept.
        func find(_ name: UnsafeRawBufferPointer, version: Int) -> Resolution? {
            guard !keys.isEmpty, !name.isEmpty, name.count <= Self.entryBytes else { return nil }
            let key = Key(name, version: version)
            let set = key.set
            for entry in (Self.ways * set)..<(Self.ways * set + Self.ways) where keys[entry] == key {
                // The first and last eight bytes are equal: those between are compared.
                guard name.count > 16 else { return resolutions[entry] }
                let start = entry * Self.entryBytes
                let same = names.withUnsafeBytes {
                    XMLBytes.equal(UnsafeRawBufferPointer(rebasing: $0[(start + 8)..<(start + name.count - 8)]), UnsafeRawBufferPointer(rebasing: name[8..<(name.count - 8)]))
                }
                return same ? resolutions[entry] : nil
            }
            return nil
        }

        /// Keeps `resolution` for `name` (a valid qualified name) under the bindings of `version`, in place of one
        /// of its set's entries; a name longer than an entry is not kept.
        mutating func insert(_ name: UnsafeRawBufferPointer, version: Int, _ resolution: Resolution) {
            guard !name.isEmpty, name.count <= Self.entryBytes else { return }
            if keys.isEmpty {
                let count = Self.ways << Self.setBits
                keys = Array(repeating: Key(), count: count)
                resolutions = Array(repeating: resolution, count: count)
                names = Array(repeating: 0, count: count * Self.entryBytes)
                replaced = Array(repeating: 0, count: 1 << Self.setBits)
            }
            let key = Key(name, version: version)
            let set = key.set
            let entry = Self.ways * set + Int(replaced[set])
            replaced[set] = (replaced[set] + 1) % UInt8(Self.ways)
            names.withUnsafeMutableBytes { names in
                let start = entry * Self.entryBytes
                UnsafeMutableRawBufferPointer(rebasing: names[start..<(start + name.count)]).copyMemory(from: name)
            }
            keys[entry] = key
            resolutions[entry] = resolution
        }
    }

    /// A namespace in scope, with what the redactor needs to know of it.
    private struct Namespace {
        /// The same for all bindings in scope to the same URI: the index of the first of them.
        var key: Int
        var redactedIndex: Int32?
        /// Its index among the allow-list's names, if it has any there.
        var keptIndex: Int32?
        var role: XMLNamespaces.Role
    }

    /// Binds `prefix` to `uri` (none if empty) until the element being opened closes.
    private mutating func bind(prefix: [UInt8], uri: String) {
        var namespace: Namespace?
        if !uri.isEmpty {
            namespace = Namespace(
                key: bindings.key(of: uri), redactedIndex: names.redacted.namespaceIndex[uri],
                keptIndex: names.keepOnly?.namespaceIndex[uri], role: XMLNamespaces.role(of: uri)
            )
        }
        prefix.withUnsafeBytes { bindings.append(prefix: $0, uri: uri, namespace: namespace) }
    }

    // MARK: Feeding

    mutating func feed(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) throws(RedactionError) {
        if let bad = characters.check(bytes) {
            throw RedactionError(.malformed, characters.asciiOnly ? "a byte outside US-ASCII, which the document declares" : "invalid UTF-8, or a character XML forbids", offset: consumed + bad)
        }
        // Where the kept run of this piece starts: none while a token is held or inside a removed element.
        var run = mode == .markup || removedDepth > 0 ? -1 : 0
        // Where the whitespace since the last token starts in this piece, while the text since it is blank; else -1.
        var blank = blankPending && mode == .content ? 0 : -1
        var index = 0
        let count = bytes.count
        defer {
            consumed += count
            keepOpenNames(bytes)
        }
        while index < count {
            switch mode {
            case .content:
                if open.isEmpty {
                    index = try scanOutsideRoot(bytes, from: index)
                } else {
                    let textStart = index
                    index = try scanText(bytes, from: index)
                    if let outline, index > textStart { outline.text(UnsafeRawBufferPointer(rebasing: bytes[textStart..<index]), depth: open.count) }
                    if outline == nil, removedDepth == 0, index > textStart {
                        appendElementText(UnsafeRawBufferPointer(rebasing: bytes[textStart..<index]))
                        if let from = embeddedKeys.isActive ? textStart : bytes[textStart..<index].firstIndex(of: UInt8(ascii: "\"")) {
                            if !embeddedKeys.isActive { lastTextByte = bytes[textStart..<from].last { !XMLName.isSpace($0) } ?? lastTextByte }
                            try readEmbeddedKeys(bytes, from: from, to: index)
                        }
                        lastTextByte = bytes[textStart..<index].last { !XMLName.isSpace($0) } ?? lastTextByte
                    }
                    // Markup read from a `<` before, or escaped as JSON (`\u003c`), which a client that parses the text as
                    // JSON, then as XML, reads.
                    if index > textStart,
                       let from = escapedMarkup.isReading ? textStart : XMLBytes.firstBackslash(in: bytes, from: textStart, to: index) {
                        try readEscapedTags(UnsafeRawBufferPointer(rebasing: bytes[from..<index]), at: consumed + from)
                    }
                    if embeddedName != nil {
                        var next = textStart
                        while next < index, embeddedName != nil {
                            try readEmbeddedName(byte: bytes[next], at: consumed + next)
                            next += 1
                        }
                        // A tag right after a name makes no tag of it (one the next piece begins ends it in
                        // ``startTag``, ``endTag``); a reference may go on with the name, or end it, and a comment, a
                        // processing instruction or a CDATA section leaves it to go on after (a client reading the
                        // element's text reads across them).
                        if index + 1 < count, bytes[index] == UInt8(ascii: "<"), bytes[index + 1] != UInt8(ascii: "!"),
                           bytes[index + 1] != UInt8(ascii: "?") {
                            embeddedName = nil
                        }
                    }
                    if isAllowListContainer, !bytes[textStart..<index].allSatisfy(XMLName.isSpace) {
                        throw Self.outsideTheFields("text", at: consumed + textStart)
                    }
                    // Text other than whitespace, a reference among it, is no indentation.
                    if blank >= 0, !bytes[textStart..<index].allSatisfy(XMLName.isSpace) || (index < count && bytes[index] == UInt8(ascii: "&")) {
                        releaseBlank(emit)
                        blank = -1
                    }
                }
                if index < count, bytes[index] == UInt8(ascii: "<") {
                    // A start or end tag ends the text a serialized document stands in; a comment, a processing
                    // instruction or a CDATA section does not (a client reading the element's text reads across them).
                    if index + 1 < count, bytes[index + 1] != UInt8(ascii: "!"), bytes[index + 1] != UInt8(ascii: "?") {
                        embeddedKeys.reset()
                        lastTextByte = nil
                    }
                    // Most tags: read and decided here, in one go.
                    if index + 1 < count, bytes[index + 1] == UInt8(ascii: "/"), !open.isEmpty, let end = Self.closingTagEnd(
                        in: bytes, at: index, of: open[open.count - 1].name, inPiece: open.count > namesInPiece, openNames: openNames,
                        limit: limits.maxMarkupBytes
                    ) {
                        let disposition = removedDepth == 0 ? TokenDisposition.kept : .dropped
                        try checkElementText(at: consumed + index)
                        closeElement()
                        releaseBlank(emit)
                        Self.hand(disposition, bytes, index, end, removing: removedDepth > 0, run: &run, emit)
                        blank = afterToken(at: end)
                        index = end
                        continue
                    }
                    if let end = Self.plainStartTagEnd(in: bytes, at: index, limit: limits.maxMarkupBytes) {
                        let wasRemoving = removedDepth > 0
                        let disposition = try startTag(UnsafeRawBufferPointer(rebasing: bytes[index..<end]), at: consumed + index, in: bytes, from: index)
                        let keptUntil = settleBlank(before: disposition, wasRemoving: wasRemoving, blank: blank, start: index, emit)
                        Self.hand(disposition, bytes, index, end, keptUntil: keptUntil, removing: removedDepth > 0, run: &run, emit)
                        blank = afterToken(at: end)
                        index = end
                        continue
                    }
                    // The run goes on: a kept token read in place extends it (see `completeMarkup`).
                    mode = .markup
                    markup = MarkupScan(start: index)
                    index += 1
                    if index == count {
                        // The piece ends with the '<': carried over like the rest of an unfinished token.
                        holdBlank(bytes, from: blank, to: index - 1, run: run, emit)
                        run = -1
                        held.append(UInt8(ascii: "<"))
                        markup.start = 0
                    }
                } else if index < count, bytes[index] == UInt8(ascii: "&") {
                    if isAllowListContainer { throw Self.outsideTheFields("a reference", at: consumed + index) }
                    outline?.otherContent(.reference, depth: open.count)
                    mode = .reference
                    reference.removeAll(keepingCapacity: true)
                    index += 1
                }
            case .reference:
                index = try scanReference(bytes, from: index)
            case .comment:
                index = try scanComment(bytes, from: index)
                if mode == .content { blank = afterToken(at: index) }
            case .cdata:
                index = try scanCDATA(bytes, from: index)
                if mode == .content { blank = afterToken(at: index) }
            case .markup:
                guard let end = try scanMarkup(bytes, from: index) else {
                    if markup.length > limits.maxMarkupBytes {
                        throw RedactionError(.malformed, "a markup token longer than \(limits.maxMarkupBytes) bytes", offset: consumed + index)
                    }
                    // The token goes on in the next piece: what came before it is handed on now (or, if it began in an
                    // earlier piece, was then).
                    if held.isEmpty { holdBlank(bytes, from: blank, to: markup.start, run: run, emit) }
                    run = -1
                    held.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[markup.start..<count]))
                    markup.start = 0
                    index = count
                    continue
                }
                guard markup.length <= limits.maxMarkupBytes else {
                    throw RedactionError(.malformed, "a markup token longer than \(limits.maxMarkupBytes) bytes", offset: consumed + index)
                }
                let tokenOffset = consumed + end - markup.length
                let wasASCIIOnly = characters.asciiOnly
                let wasRemoving = removedDepth > 0
                if held.isEmpty {
                    let token = UnsafeRawBufferPointer(rebasing: bytes[markup.start..<end])
                    let disposition = try completeMarkup(token, at: tokenOffset, in: bytes, from: markup.start)
                    let keptUntil = settleBlank(before: disposition, wasRemoving: wasRemoving, blank: blank, start: markup.start, emit)
                    Self.hand(disposition, bytes, markup.start, end, keptUntil: keptUntil, removing: removedDepth > 0, run: &run, emit)
                } else {
                    held.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<end]))
                    let token = held
                    held.removeAll(keepingCapacity: true)
                    var failure: RedactionError?
                    token.withUnsafeBytes { token in
                        do throws(RedactionError) {
                            let disposition = try completeMarkup(token, at: tokenOffset, in: bytes, from: -1)
                            _ = settleBlank(before: disposition, wasRemoving: wasRemoving, blank: -1, start: 0, emit)
                            switch disposition {
                            case .kept: emit(token)
                            case .dropped: break
                            case .keptWithout(let spans): Self.emit(token, without: spans, emit)
                            }
                        } catch {
                            failure = error
                        }
                    }
                    if let failure { throw failure }
                    run = removedDepth == 0 ? end : -1
                }
                blank = mode == .content ? afterToken(at: end) : -1
                // An XML declaration of US-ASCII applies to the rest of this piece too, already checked as UTF-8.
                if characters.asciiOnly, !wasASCIIOnly, let high = bytes[end...].firstIndex(where: { $0 >= 0x80 }) {
                    throw RedactionError(.malformed, "a byte outside US-ASCII, which the document declares", offset: consumed + high)
                }
                index = end
            }
        }
        switch mode {
        case .content:
            holdBlank(bytes, from: blank, to: count, run: run, emit)
        case .markup:
            break  // What came before the token was handed on or held back when it began.
        case .reference, .comment, .cdata:
            Self.flush(bytes, run, count, emit)
        }
    }

    // MARK: Whitespace before a removed element

    /// Where whitespace after a token that ends at `end` would start: `end` inside the root and outside any removed
    /// element, else -1 (nothing to hold back).
    private func afterToken(at end: Int) -> Int {
        removedDepth == 0 && !open.isEmpty ? end : -1
    }

    /// Decides on the whitespace before a token whose `disposition` is known: dropped with the token when the token
    /// starts a removed element (the held part discarded, the part in this piece left out of the run: the returned
    /// end of what is kept before the token), handed on otherwise, or when it is longer than the markup limit.
    private mutating func settleBlank(
        before disposition: TokenDisposition, wasRemoving: Bool, blank: Int, start: Int, _ emit: (UnsafeRawBufferPointer) -> Void
    ) -> Int {
        let length = heldBlank.count + (blank >= 0 ? start - blank : 0)
        if case .dropped = disposition, !wasRemoving, blankPending || blank >= 0, length <= limits.maxMarkupBytes {
            heldBlank.removeAll(keepingCapacity: true)
            blankPending = false
            return blank >= 0 ? blank : start
        }
        releaseBlank(emit)
        return start
    }

    /// Hands on the whitespace held back from earlier pieces: what follows it is not a removed element.
    private mutating func releaseBlank(_ emit: (UnsafeRawBufferPointer) -> Void) {
        blankPending = false
        guard !heldBlank.isEmpty else { return }
        heldBlank.withUnsafeBytes { emit($0) }
        heldBlank.removeAll(keepingCapacity: true)
    }

    /// At the end of a piece (or before a token that goes on in the next one): hands on the run up to `end`, less the
    /// whitespace from `blank` on, which is held back for the next token to decide on, up to the markup limit.
    private mutating func holdBlank(_ bytes: UnsafeRawBufferPointer, from blank: Int, to end: Int, run: Int, _ emit: (UnsafeRawBufferPointer) -> Void) {
        guard blank >= 0, blank <= end else {
            Self.flush(bytes, run, end, emit)
            blankPending = false
            return
        }
        Self.flush(bytes, run, blank, emit)
        heldBlank.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[blank..<end]))
        blankPending = true
        // Whitespace beyond the limit is no indentation: it is handed on.
        if heldBlank.count > limits.maxMarkupBytes { releaseBlank(emit) }
    }

    /// What becomes of a markup token: handed on as it is, left out, or handed on without some of its bytes (the
    /// spans of its redacted attributes).
    private enum TokenDisposition {
        case kept, dropped
        case keptWithout([Range<Int>])
    }

    /// Hands on what is kept of the token `bytes[start..<end]`, read in place: a kept token stays in the run;
    /// anything else ends the run before it. `removing`: whether what follows the token is being removed.
    /// `keptUntil`: where what is kept before a dropped token ends (the whitespace before a removed element goes too).
    @inline(__always)
    private static func hand(
        _ disposition: TokenDisposition, _ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, keptUntil: Int? = nil, removing: Bool,
        run: inout Int, _ emit: (UnsafeRawBufferPointer) -> Void
    ) {
        switch disposition {
        case .kept:
            if run < 0 { run = start }
        case .dropped:
            flush(bytes, run, keptUntil ?? start, emit)
            run = removing ? -1 : end
        case .keptWithout(let spans):
            flush(bytes, run, start, emit)
            Self.emit(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), without: spans, emit)
            run = end
        }
    }

    private static func emit(_ token: UnsafeRawBufferPointer, without spans: [Range<Int>], _ emit: (UnsafeRawBufferPointer) -> Void) {
        var kept = 0
        for span in spans {
            emit(UnsafeRawBufferPointer(rebasing: token[kept..<span.lowerBound]))
            kept = span.upperBound
        }
        emit(UnsafeRawBufferPointer(rebasing: token[kept...]))
    }

    mutating func finish(emit: (UnsafeRawBufferPointer) -> Void) throws(RedactionError) {
        guard characters.isComplete else { throw RedactionError(.malformed, "the body ends inside a UTF-8 sequence", offset: consumed) }
        switch mode {
        case .content: break
        case .reference: throw RedactionError(.malformed, "the body ends inside a reference", offset: consumed)
        case .markup: throw RedactionError(.malformed, "the body ends inside markup", offset: consumed)
        case .comment: throw RedactionError(.malformed, "the body ends inside a comment", offset: consumed)
        case .cdata: throw RedactionError(.malformed, "the body ends inside a CDATA section", offset: consumed)
        }
        guard rootSeen else { throw RedactionError(.malformed, "no root element", offset: consumed) }
        guard rootClosed else { throw RedactionError(.malformed, "the body ends with \(open.count) element(s) still open", offset: consumed) }
        if hasAllowList, envelope != .none, !bodySeen {
            throw RedactionError(.refused, "under a field limit, a SOAP envelope without a Body", offset: consumed)
        }
    }

    /// Hands on the kept run `[run, end)` of the current piece; a run of -1 is none (inside a removed element, or
    /// while a token is held).
    private static func flush(_ bytes: UnsafeRawBufferPointer, _ run: Int, _ end: Int, _ emit: (UnsafeRawBufferPointer) -> Void) {
        guard run >= 0, end > run else { return }
        emit(UnsafeRawBufferPointer(rebasing: bytes[run..<end]))
    }

    // MARK: Text

    /// Outside the root element only whitespace may stand between markup (and a byte order mark at the very start).
    private mutating func scanOutsideRoot(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(RedactionError) -> Int {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            let position = consumed + index
            if position < 3, !rootSeen, position == prologStart, byte == Self.byteOrderMark[position] {
                // A byte order mark: accepted whole, at the document's start only.
                prologStart = position + 1 == 3 ? 3 : position + 1
                index += 1
                continue
            }
            if prologStart > 0, prologStart < 3 {
                throw RedactionError(.malformed, "a broken byte order mark", offset: position)
            }
            switch byte {
            case 0x20, 0x09, 0x0a, 0x0d: index += 1
            case UInt8(ascii: "<"): return index
            default:
                throw RedactionError(.malformed, rootClosed ? "content after the root element" : "text before the root element", offset: position)
            }
        }
        return index
    }

    private static let byteOrderMark: [UInt8] = [0xef, 0xbb, 0xbf]

    /// Text inside an element, up to the next `<` or `&`; refuses `]]>`.
    private mutating func scanText(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(RedactionError) -> Int {
        var index = start
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if brackets > 0 {
                if byte == UInt8(ascii: ">"), brackets >= 2 {
                    throw RedactionError(.malformed, "']]>' in text", offset: consumed + index)
                }
                if byte == UInt8(ascii: "]") {
                    brackets += 1
                    index += 1
                    continue
                }
                brackets = 0
            }
            switch byte {
            case UInt8(ascii: "<"), UInt8(ascii: "&"): return index
            case UInt8(ascii: "]"): brackets = 1
            default: break
            }
            index += 1
            // The common case: a run of ordinary text (which also ends a run of `]`s).
            if brackets == 0 { index = XMLBytes.firstSignificant(in: bytes, from: index) }
        }
        return index
    }

    /// A reference in text, kept as written once it is known to be one of the five predefined entities or a
    /// character reference to a character XML allows.
    private mutating func scanReference(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(RedactionError) -> Int {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: ";") {
                if let problem = XMLReference.problem(reference) { throw RedactionError(problem.kind, problem.detail, offset: consumed + index) }
                mode = .content
                let referenced = XMLReference.character(reference)
                outline?.referenced(referenced, depth: open.count)
                // The character as UTF-8; one XML does not allow as a byte that stands for a letter.
                let utf8 = referenced.map { Array(String($0).utf8) } ?? [0x80]
                if embeddedName != nil { try readEmbeddedName(referenced, at: consumed + index) }
                if referenced == "<" { startEmbeddedName() }
                if referenced == "<" || referenced == "\\" || escapedMarkup.isReading { try readEscapedTags(utf8, at: consumed + index) }
                if outline == nil, removedDepth == 0 {
                    appendElementText(utf8)
                    if referenced == "\"" {
                        embeddedKeys.quote(precededBy: lastTextByte)
                    } else if embeddedKeys.isActive {
                        try readEmbeddedKey(utf8, at: consumed + index)
                    }
                    // `&#123;` before a first quote is the `{` a key follows.
                    if let referenced, !(referenced.isASCII && XMLName.isSpace(UInt8(referenced.value))) { lastTextByte = String(referenced).utf8.first }
                }
                return index
            }
            reference.append(byte)
            if reference.count > XMLReference.maximumLength {
                throw RedactionError(.malformed, "a reference that is not terminated", offset: consumed + index)
            }
        }
        return index
    }

    /// A comment's body, up to and including `-->`; `--` may not appear inside.
    private mutating func scanComment(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(RedactionError) -> Int {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "-") {
                guard dashes < 2 else { throw RedactionError(.malformed, "'--' inside a comment", offset: consumed + index) }
                dashes += 1
            } else if dashes == 2 {
                guard byte == UInt8(ascii: ">") else { throw RedactionError(.malformed, "'--' inside a comment", offset: consumed + index) }
                mode = .content
                return index
            } else {
                dashes = 0
            }
        }
        return index
    }

    /// A CDATA section's body, up to and including `]]>`.
    private mutating func scanCDATA(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(RedactionError) -> Int {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            // A name written as text goes on across the section's end (`]]>` is no part of it): `]`s are read into it
            // once what follows shows they are content.
            if embeddedName != nil, byte != UInt8(ascii: "]") {
                let ends = byte == UInt8(ascii: ">") && brackets >= 2
                for _ in 0..<(ends ? brackets - 2 : brackets) where embeddedName != nil {
                    try readEmbeddedName(byte: UInt8(ascii: "]"), at: consumed + index - 1)
                }
                if !ends { try readEmbeddedName(byte: byte, at: consumed + index - 1) }
            }
            if byte == UInt8(ascii: "<") { startEmbeddedName() }
            if escapedMarkup.isReading || byte == UInt8(ascii: "<") || byte == UInt8(ascii: "\\"), byte != UInt8(ascii: "]") {
                // As for the name: `]`s are content unless `>` follows two of them, and read once that shows.
                let ends = byte == UInt8(ascii: ">") && brackets >= 2
                let content = ends ? brackets - 2 : brackets
                if content > 0 { try readEscapedTags(repeatElement(UInt8(ascii: "]"), count: content), at: consumed + index - 1) }
                if !ends { try readEscapedTags(CollectionOfOne(byte), at: consumed + index - 1) }
            }
            if outline == nil, removedDepth == 0, byte != UInt8(ascii: "]") {
                // `]`s are content unless `>` follows two of them: they are read once what follows shows which.
                let ends = byte == UInt8(ascii: ">") && brackets >= 2
                let content = ends ? brackets - 2 : brackets
                if elementText != nil {
                    if content > 0 { appendElementText([UInt8](repeating: UInt8(ascii: "]"), count: content)) }
                    if !ends { appendElementText([byte]) }
                }
                if content > 0, embeddedKeys.isActive { try readEmbeddedKey(repeatElement(UInt8(ascii: "]"), count: content), at: consumed + index - 1) }
                if byte == UInt8(ascii: "\"") {
                    embeddedKeys.quote(precededBy: lastTextByte)
                } else if !ends, embeddedKeys.isActive {
                    try readEmbeddedKey(CollectionOfOne(byte), at: consumed + index - 1)
                }
                if !ends, !XMLName.isSpace(byte) { lastTextByte = byte }
            }
            if byte == UInt8(ascii: "]") {
                brackets += 1
            } else if byte == UInt8(ascii: ">"), brackets >= 2 {
                brackets = 0
                mode = .content
                return index
            } else {
                brackets = 0
            }
        }
        return index
    }

    // MARK: Names written as values

    /// A tag: the text read since it is the next element's, or its parent's after a child.
    private mutating func restartElementText() {
        if elementText == nil { elementText = [] } else if !elementText!.isEmpty { elementText!.removeAll(keepingCapacity: true) }
    }

    /// Kept text, as characters (UTF-8), for ``elementText``: each run of white space as one space (white space
    /// separates words, and padding must neither hide a name nor grow the buffer); none once it is longer than a
    /// spelling of a name can be.
    private mutating func appendElementText(_ characters: UnsafeRawBufferPointer) {
        guard var text = elementText.take() else { return }
        if !characters.contains(where: XMLName.isSpace) {
            text.append(contentsOf: characters)
        } else {
            for byte in characters {
                let space = XMLName.isSpace(byte)
                if space, text.last == 0x20 { continue }
                text.append(space ? 0x20 : byte)
            }
        }
        if text.count <= valueNames.longestSpelling + 64 { elementText = text }
    }

    private mutating func appendElementText(_ characters: [UInt8]) {
        characters.withUnsafeBytes { appendElementText($0) }
    }

    /// Refuses the document when the kept text read since the last tag, which the tag at `offset` ends, spells the
    /// name of a redacted field (``ValueNames``): a record laid out as names and values (`<Key>Citizenship</Key>
    /// <Value>MX</Value>`) would hand on the field under names of its own. Comments and processing instructions do not
    /// divide the text, as a client reads across them, nor does a removed element (whose removal joins the text around
    /// it); a kept child element does. Inside a removed element nothing is read. Unless `restarting` is false, the
    /// next text is read anew.
    private mutating func checkElementText(at offset: Int, restarting: Bool = true) throws(RedactionError) {
        guard removedDepth == 0 else { return }
        defer { if restarting { restartElementText() } }
        guard let text = elementText, !text.isEmpty else { return }
        if text.withUnsafeBytes({ valueNames.isSpelled(byText: $0) }) {
            throw RedactionError(.refused, ValueNames.refusal, offset: offset)
        }
    }

    /// Refuses the document when a kept attribute's value, references decoded, spells the name of a redacted field,
    /// as `<entry key="CountryOfBirth">` does.
    private func checkSpelled(attributeValue value: UnsafeRawBufferPointer, at offset: Int) throws(RedactionError) {
        guard value.count >= ValueNames.shortestName else { return }
        let spelled = value.contains(UInt8(ascii: "&"))
            ? XMLReference.normalizedAttributeValue(value).withUnsafeBytes { valueNames.isSpelled(byText: $0) }
            : valueNames.isSpelled(byText: value)
        if spelled { throw RedactionError(.refused, ValueNames.refusal, offset: offset) }
    }

    // MARK: Markup written as text

    /// Reads the text from `start` to `end` for the keys of a serialized JSON document (``embeddedKeys``).
    private mutating func readEmbeddedKeys(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) throws(RedactionError) {
        var from = start
        while from < end {
            let quote = bytes[from..<end].firstIndex(of: UInt8(ascii: "\"")) ?? end
            if quote > from { try readEmbeddedKey(UnsafeRawBufferPointer(rebasing: bytes[from..<quote]), at: consumed + from) }
            if quote < end { embeddedKeys.quote(precededBy: lastTextByte) }
            from = quote + 1
        }
    }

    /// Feeds the serialized document's reader, and refuses the document at a key naming a redacted field: a client
    /// that parses the text reads the field.
    private mutating func readEmbeddedKey(_ characters: some Sequence<UInt8>, at offset: Int) throws(RedactionError) {
        guard let key = embeddedKeys.feed(characters) else { return }
        let redacted = key.withUnsafeBytes { names.redact(nil, $0) }
        if redacted {
            throw RedactionError(.refused, "text holds JSON with a redacted field, which a client would parse", offset: offset)
        }
    }

    /// The longest name read after a `<` written as text; a longer one is no tag a client would read.
    private static let maxEmbeddedName = 1024

    /// A `<` stands in a response's text or CDATA section: the name after it is read, unless it is inside an element
    /// being removed (which goes whole) or a request is being read.
    private mutating func startEmbeddedName() {
        embeddedName = outline == nil && removedDepth == 0 ? [] : nil
    }

    /// One more character after a `<` written as text, at `offset` (a byte of the text, or what a reference stands
    /// for: nil for a reference to no single character): part of the name (a `/` before it, for an end tag), its end
    /// as a tag's name ends (`>`, `/` or white space), or anything else, after which it is no tag (`<name@host>`).
    private mutating func readEmbeddedName(_ character: Unicode.Scalar?, at offset: Int) throws(RedactionError) {
        try readEmbeddedName(character, utf8: character.map { Array(String($0).utf8) } ?? [], at: offset)
    }

    /// A byte of text or CDATA, which is valid UTF-8: one from 0x80 up is part of a non-ASCII character, which a name
    /// may hold.
    private mutating func readEmbeddedName(byte: UInt8, at offset: Int) throws(RedactionError) {
        try readEmbeddedName(Unicode.Scalar(byte), utf8: CollectionOfOne(byte), at: offset)
    }

    private mutating func readEmbeddedName(_ character: Unicode.Scalar?, utf8: some Collection<UInt8>, at offset: Int) throws(RedactionError) {
        guard var name = embeddedName else { return }
        guard let character else { return embeddedName = nil }
        if character.value >= 0x80 || XMLName.isNameByte(UInt8(character.value)) || (character == "/" && name.isEmpty) {
            name.append(contentsOf: utf8)
            embeddedName = name.count > Self.maxEmbeddedName ? nil : name
        } else if character == ">" || character == "/" || XMLName.isSpace(UInt8(character.value)) {
            try checkEmbeddedName(at: offset)
        } else {
            embeddedName = nil
        }
    }

    /// Reads a kept attribute's value, its references decoded, as text is read for markup and serialized JSON keys
    /// naming a redacted field: a client that parses the value would read the field. The text's own reading around it
    /// is left as it was.
    private mutating func checkEmbedded(inAttributeValue value: UnsafeRawBufferPointer, at offset: Int) throws(RedactionError) {
        let (name, keys, markup, last) = (embeddedName, embeddedKeys, escapedMarkup, lastTextByte)
        (embeddedName, lastTextByte) = (nil, nil)
        embeddedKeys.reset()
        escapedMarkup = EmbeddedMarkup()
        defer { (embeddedName, embeddedKeys, escapedMarkup, lastTextByte) = (name, keys, markup, last) }
        try XMLReference.forEachCharacter(in: value) { (character, utf8) throws(RedactionError) in
            if embeddedName != nil {
                if utf8.count == 1, utf8[0] >= 0x80 { try readEmbeddedName(byte: utf8[0], at: offset) } else { try readEmbeddedName(character, at: offset) }
            }
            if character == "<" { startEmbeddedName() }
            if character == "<" || character == "\\" || escapedMarkup.isReading { try readEscapedTags(utf8, at: offset) }
            if character == "\"" {
                embeddedKeys.quote(precededBy: lastTextByte)
            } else if embeddedKeys.isActive {
                try readEmbeddedKey(utf8, at: offset)
            }
            if let first = utf8.first, !XMLName.isSpace(first) { lastTextByte = first }
        }
    }

    /// Feeds ``escapedMarkup`` characters of kept text, a CDATA section or an attribute's value; a tag there that names
    /// a redacted field refuses the document.
    private mutating func readEscapedTags(_ characters: some Sequence<UInt8>, at offset: Int) throws(RedactionError) {
        guard outline == nil, removedDepth == 0 else { return }
        try escapedMarkup.read(characters, in: "text", at: offset, redacted: names)
    }

    /// Refuses the document if the name read after a `<` written as text (its local part, after any prefix), which
    /// ends at `offset`, is a redacted field name: a client that parses the text as XML would read the field.
    private mutating func checkEmbeddedName(at offset: Int) throws(RedactionError) {
        guard let name = embeddedName else { return }
        embeddedName = nil
        let bare = name.first == UInt8(ascii: "/") ? name.dropFirst() : name[...]
        let local = bare.lastIndex(of: UInt8(ascii: ":")).map { bare[bare.index(after: $0)...] } ?? bare
        guard !local.isEmpty else { return }
        let redacted = Array(local).withUnsafeBytes { names.redact(nil, $0) }
        if redacted {
            throw RedactionError(.refused, "text holds markup naming a redacted field, which a client would parse", offset: offset)
        }
    }

    // MARK: Markup

    /// How far a markup token has been read: its kind once known, and whether a quote or `?` is open.
    private struct MarkupScan {
        enum Kind {
            case undecided, startTag, endTag, processingInstruction, bang, commentOpen, cdataOpen
        }

        /// Where the token starts in the current piece; 0 once it has been carried over.
        var start = 0
        var length = 0
        var kind = Kind.undecided
        var quote: UInt8 = 0
        var afterQuestionMark = false
    }

    private static let cdataOpening = Array("<![CDATA[".utf8)

    /// Reads the markup token on from `start`; returns the index just past its end, or nil if it goes on past the piece.
    private mutating func scanMarkup(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(RedactionError) -> Int? {
        var index = start
        if markup.length == 0 { markup.length = 1 } // its '<', counted when the scan began
        if markup.kind == .undecided, index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "/"): markup.kind = .endTag
            case UInt8(ascii: "?"): markup.kind = .processingInstruction
            case UInt8(ascii: "!"): markup.kind = .bang
            default: markup.kind = .startTag
            }
            index += 1
            markup.length += 1
        }
        if markup.kind == .startTag || markup.kind == .endTag {
            // Tags are most of the markup: their bytes are scanned in a tight loop for the few that matter.
            let isStart = markup.kind == .startTag
            var quote = markup.quote
            let scanned = index
            defer {
                markup.quote = quote
                markup.length += index - scanned
            }
            while index < bytes.count {
                index = XMLBytes.firstSignificant(in: bytes, from: index)
                guard index < bytes.count else { break }
                let byte = bytes[index]
                index += 1
                guard byte == UInt8(ascii: ">") || byte == UInt8(ascii: "<") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") else {
                    continue
                }
                if byte == UInt8(ascii: "<") { throw RedactionError(.malformed, "'<' inside a tag", offset: consumed + index - 1) }
                if quote != 0 {
                    if byte == quote { quote = 0 }
                } else if byte == UInt8(ascii: ">") {
                    return index
                } else if isStart {
                    quote = byte
                }
            }
            return nil
        }
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            markup.length += 1
            switch markup.kind {
            case .undecided:
                switch byte {
                case UInt8(ascii: "/"): markup.kind = .endTag
                case UInt8(ascii: "?"): markup.kind = .processingInstruction
                case UInt8(ascii: "!"): markup.kind = .bang
                default: markup.kind = .startTag
                }
            case .startTag:
                if markup.quote != 0 {
                    if byte == markup.quote { markup.quote = 0 }
                } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    markup.quote = byte
                } else if byte == UInt8(ascii: ">") {
                    return index
                }
                if byte == UInt8(ascii: "<") { throw RedactionError(.malformed, "'<' inside a tag", offset: consumed + index - 1) }
            case .endTag:
                if byte == UInt8(ascii: ">") { return index }
                if byte == UInt8(ascii: "<") { throw RedactionError(.malformed, "'<' inside a tag", offset: consumed + index - 1) }
            case .processingInstruction:
                if byte == UInt8(ascii: ">"), markup.afterQuestionMark { return index }
                markup.afterQuestionMark = byte == UInt8(ascii: "?")
            case .bang:
                // "<!" so far: a comment, a CDATA section, or something refused.
                switch byte {
                case UInt8(ascii: "-"): markup.kind = .commentOpen
                case UInt8(ascii: "["): markup.kind = .cdataOpen
                case UInt8(ascii: "D"): throw RedactionError(.refused, "a DOCTYPE (DTDs, entity declarations and external entities are refused)", offset: consumed + index - 3)
                default: throw RedactionError(.malformed, "a declaration other than a comment or CDATA section", offset: consumed + index - 3)
                }
            case .commentOpen:
                guard byte == UInt8(ascii: "-") else { throw RedactionError(.malformed, "'<!-' that does not open a comment", offset: consumed + index - 1) }
                return index
            case .cdataOpen:
                guard byte == Self.cdataOpening[markup.length - 1] else {
                    throw RedactionError(.malformed, "'<![' that does not open a CDATA section", offset: consumed + index - 1)
                }
                if markup.length == Self.cdataOpening.count { return index }
            }
        }
        return nil
    }

    /// A whole markup token has been read: acts on it, and hands it on if its element is kept.
    ///
    /// - Parameters:
    ///   - piece: the piece being read.
    ///   - start: where `token` starts in `piece`, or -1 if it was held over from earlier pieces.
    private mutating func completeMarkup(
        _ token: UnsafeRawBufferPointer, at offset: Int, in piece: UnsafeRawBufferPointer, from start: Int
    ) throws(RedactionError) -> TokenDisposition {
        switch markup.kind {
        case .startTag:
            mode = .content
            return try startTag(token, at: offset, in: piece, from: start)
        case .endTag:
            mode = .content
            return try endTag(token, at: offset, in: piece)
        case .processingInstruction:
            if try !processingInstruction(token, at: offset) {
                if isAllowListContainer { throw Self.outsideTheFields("a processing instruction", at: offset) }
                outline?.otherContent(.instruction, depth: open.count)
            }
            mode = .content
        case .commentOpen:
            if isAllowListContainer { throw Self.outsideTheFields("a comment", at: offset) }
            dashes = 0
            outline?.otherContent(.comment, depth: open.count)
            mode = .comment
        case .cdataOpen:
            guard !open.isEmpty else { throw RedactionError(.malformed, "a CDATA section outside the root element", offset: offset) }
            if isAllowListContainer { throw Self.outsideTheFields("a CDATA section", at: offset) }
            brackets = 0
            outline?.otherContent(.cdata, depth: open.count)
            mode = .cdata
        case .undecided, .bang:
            throw RedactionError(.malformed, "unfinished markup", offset: offset)
        }
        return removedDepth == 0 ? .kept : .dropped
    }

    /// Checks a processing instruction, or the XML declaration; returns whether it was the declaration.
    private mutating func processingInstruction(_ token: UnsafeRawBufferPointer, at offset: Int) throws(RedactionError) -> Bool {
        // "<?" target (S anything)? "?>"
        let body = UnsafeRawBufferPointer(rebasing: token[2..<(token.count - 2)])
        let targetEnd = XMLName.end(of: body, from: 0)
        let target = UnsafeRawBufferPointer(rebasing: body[0..<targetEnd])
        guard targetEnd > 0, XMLName.isNCName(target) else {
            throw RedactionError(.malformed, "a processing instruction without a valid target", offset: offset)
        }
        guard targetEnd == body.count || XMLName.isSpace(body[targetEnd]) else {
            throw RedactionError(.malformed, "a processing instruction target not followed by a space", offset: offset)
        }
        guard target.count == 3, String(decoding: target, as: UTF8.self).lowercased() == "xml" else { return false }
        guard offset == prologStart, !rootSeen, target.elementsEqual("xml".utf8) else {
            throw RedactionError(.malformed, "an XML declaration that is not at the start of the document", offset: offset)
        }
        let declaration = try XMLDeclaration(UnsafeRawBufferPointer(rebasing: body[targetEnd...]), at: offset)
        characters.asciiOnly = declaration.asciiOnly
        return true
    }

    /// - Parameters: as for `completeMarkup`.
    private mutating func startTag(
        _ token: UnsafeRawBufferPointer, at offset: Int, in piece: UnsafeRawBufferPointer, from start: Int
    ) throws(RedactionError) -> TokenDisposition {
        guard !rootClosed else { throw RedactionError(.malformed, "a second root element", offset: offset) }
        // The text before a child is checked as the parent's; a removed child's removal joins the text around it, a
        // kept one's text is read anew.
        try checkElementText(at: offset, restarting: false)
        var removes = false
        defer { if !removes, removedDepth == 0 { restartElementText() } }
        // A tag ends a name written as text (one in the same piece was ended where the text ended).
        embeddedName = nil
        escapedMarkup.end()
        let bindingsBelow = bindings.count
        let nameLength: Int, isEmpty: Bool, resolved: ResolvedNames.Resolution
        var tag: XMLStartTag?
        // `<name>` or `<name/>` of a name resolved before in these bindings: nothing to read or look up again. (A
        // start tag has at least three bytes: '<', the byte that made it one, and '>'.)
        let emptyTag = token[token.count - 2] == UInt8(ascii: "/")
        let bare = UnsafeRawBufferPointer(rebasing: token[1..<(token.count - (emptyTag ? 2 : 1))])
        if let known = resolvedNames.find(bare, version: bindings.version) {
            guard open.count < limits.maxDepth else { throw depthError(at: offset) }
            rootSeen = true
            (nameLength, isEmpty, resolved) = (bare.count, emptyTag, known)
        } else {
            let read = try XMLStartTag(token, at: offset)
            guard open.count < limits.maxDepth else { throw depthError(at: offset) }
            rootSeen = true
            // Namespace declarations first: they apply to the element's own name and its attributes.
            for attribute in read.attributes {
                let name = attribute.name(in: token)
                guard name.starts(with: "xmlns".utf8), name.count == 5 || name[5] == UInt8(ascii: ":") else { continue }
                let prefix = name.count == 5 ? [] : Array(name[6...])
                let uri = read.value(of: attribute, in: token)
                try declare(prefix: prefix, uri: uri, at: offset)
            }
            try read.checkAttributes(in: token, at: offset) { prefix in bindings.lookUp(prefix).map { $0?.key ?? -1 } }
            let (prefix, local) = read.nameParts(in: token)
            let namespace: Namespace?
            if let prefix {
                guard let bound = bindings.lookUp(prefix) else {
                    throw RedactionError(.malformed, "an element prefix that is not declared", offset: offset)
                }
                namespace = bound
            } else {
                namespace = bindings.lookUp(UnsafeRawBufferPointer(start: nil, count: 0)) ?? nil
            }
            resolved = ResolvedNames.Resolution(
                localStart: read.nameLength - local.count, namespace: namespace, redact: names.redact(namespace, local),
                keep: names.keep(namespace, local)
            )
            if read.attributes.isEmpty { resolvedNames.insert(read.name(in: token), version: bindings.version, resolved) }
            (nameLength, isEmpty, tag) = (read.nameLength, read.isEmpty, read)
        }
        let namespace = resolved.namespace
        let local = UnsafeRawBufferPointer(rebasing: token[(1 + resolved.localStart)..<(1 + nameLength)])

        let region: Region
        if open.isEmpty {
            if namespace?.role == .soap11Envelope || namespace?.role == .soap12Envelope, local.elementsEqual("Envelope".utf8) {
                envelope = namespace?.role == .soap11Envelope ? .soap11 : .soap12
                region = .envelope
            } else {
                region = .body
            }
        } else if open[open.count - 1].region == .envelope {
            let isBody = namespace?.role == (envelope == .soap11 ? .soap11Envelope : .soap12Envelope)
                && local.elementsEqual("Body".utf8)
            region = isBody ? .body : .header
        } else {
            region = open[open.count - 1].region
        }

        if hasAllowList, envelope != .none { try checkEnvelopeUnderAllowList(namespace: namespace, local: local, region: region, at: offset) }

        switch namespace?.role {
        case .xinclude?:
            throw RedactionError(.refused, "XInclude", offset: offset)
        case .signature? where local.elementsEqual("Signature".utf8):
            signed = true
            if removed > 0 { throw Self.signedError(at: offset) }
        default:
            break
        }

        // The name stays in the piece if the tag is read there, and is copied at once from a held tag.
        let name: Range<Int>
        if start >= 0 {
            name = (start + 1)..<(start + 1 + nameLength)
        } else {
            keepOpenNames(piece)
            let nameStart = openNames.push(UnsafeRawBufferPointer(rebasing: token[1..<(1 + nameLength)]))
            name = nameStart..<(nameStart + nameLength)
            namesInPiece = open.count + 1
        }
        open.append(OpenElement(name: name, bindingsBelow: bindingsBelow, region: region))
        if let outline {
            // A name resolved before (no `tag` read) was a tag without attributes. Neither namespace declarations nor,
            // on a parameter (below the operation), `xsi:type="xsd:string"` (which rpc/encoded clients put on every
            // one) change how a value reads; on the operation, a string type would have a binder read its whole text.
            let attributes = (tag?.attributes ?? []).compactMap { attribute -> SOAPEnvelopeOutline.Attribute? in
                let name = attribute.name(in: token)
                if name.starts(with: "xmlns".utf8) && (name.count == 5 || name[5] == UInt8(ascii: ":")) { return nil }
                let colon = name.firstIndex(of: UInt8(ascii: ":"))
                let local = colon.map { name[($0 + 1)...] } ?? name[...]
                let isSchemaInstance = colon.map { bindings.lookUp(UnsafeRawBufferPointer(rebasing: name[..<$0]))??.role == .schemaInstance } ?? false
                if open.count > 3, isSchemaInstance, local.elementsEqual("type".utf8), isSchemaString(UnsafeRawBufferPointer(rebasing: token[attribute.value])) {
                    return nil
                }
                return SOAPEnvelopeOutline.Attribute(
                    local: String(decoding: local, as: UTF8.self), isSchemaInstance: isSchemaInstance,
                    value: XMLReference.resolved(UnsafeRawBufferPointer(rebasing: token[attribute.value]))
                )
            }
            outline.started(
                namespace: namespace.map(bindings.uri(of:)) ?? "", local: String(decoding: local, as: UTF8.self), depth: open.count,
                attributes: attributes
            )
        }
        // An allow-list governs only a record's children (a Fault's own parts stay).
        if hasAllowList, envelope != .none, region == .body, open.count == recordDepth {
            recordIsFault = namespace?.role == (envelope == .soap11 ? .soap11Envelope : .soap12Envelope) && local.elementsEqual("Fault".utf8)
        }
        let recordChild = hasAllowList && region == .body
            && (open.count == recordDepth + 1 && !(recordIsFault && isFaultPart(namespace, local))
                || recordIsFault && open.count > recordDepth + 1 && !isFaultStructure(namespace, local))
        if removedDepth == 0, resolved.redact || recordChild && !resolved.keep {
            guard open.count > 1 else {
                throw RedactionError(.refused, "a redacted root element, which would leave no document", offset: offset)
            }
            guard region == .body else {
                throw RedactionError(.refused, "a redacted element in a SOAP header, which is passed whole or not at all", offset: offset)
            }
            if signed { throw Self.signedError(at: offset) }
            removed += 1
            removedDepth = open.count
            removes = true
        }
        var disposition = TokenDisposition.dropped
        if removedDepth == 0 {
            disposition = .kept
            // The tag without its redacted attributes, each with the white space before it.
            if let tag, !tag.attributes.isEmpty {
                let dropped = try redactedAttributes(of: tag, in: token, region: region, at: offset)
                if !dropped.isEmpty { disposition = .keptWithout(dropped) }
            }
        }
        if isEmpty { closeElement() }
        return disposition
    }

    /// An allow-list governs the record's children in the Body, so under one an envelope may hold nothing else that a
    /// client could read: its children are one Header (first, if any) and one Body, in its own namespace, and the
    /// Header's entries are WS-Addressing's and WS-Security's alone. `namespace` and `local` are those of the element
    /// starting, as yet unopened, in `region`.
    private mutating func checkEnvelopeUnderAllowList(namespace: Namespace?, local: UnsafeRawBufferPointer, region: Region, at offset: Int) throws(RedactionError) {
        switch (open.count, region) {
        case (1, .body):
            guard !bodySeen else { throw RedactionError(.refused, "a second SOAP Body", offset: offset) }
            bodySeen = true
        case (1, _):
            let inEnvelopeNamespace = namespace?.role == (envelope == .soap11 ? .soap11Envelope : .soap12Envelope)
            guard inEnvelopeNamespace, local.elementsEqual("Header".utf8), !headerSeen, !bodySeen else {
                throw RedactionError(.refused, "under a field limit, a SOAP envelope holds one Header and one Body, and nothing else", offset: offset)
            }
            headerSeen = true
        case (2, .body):
            guard !recordSeen else { throw RedactionError(.refused, "under a field limit, a SOAP Body holds one element, the record", offset: offset) }
            recordSeen = true
        case (2, .header):
            guard namespace?.role == .addressing || namespace?.role == .security else {
                throw RedactionError(.refused, "under a field limit, a SOAP header entry other than WS-Addressing's or WS-Security's", offset: offset)
            }
        default:
            break
        }
    }

    /// Whether content read now stands outside the fields an allow-list governs: directly in the root of a plain
    /// document, or around or in an envelope's Header (not in its entries), Body or record, or outside the root.
    private var isAllowListContainer: Bool {
        hasAllowList && removedDepth == 0 && open.count <= recordDepth && (open.isEmpty || open[open.count - 1].region != .header || open.count < 3)
    }

    private static func outsideTheFields(_ what: String, at offset: Int) -> RedactionError {
        RedactionError(.refused, "under a field limit, \(what) outside the fields returned", offset: offset)
    }

    /// A SOAP Fault's own parts: SOAP 1.1's unqualified `faultcode`, `faultstring` and `faultactor`, SOAP 1.2's `Code`,
    /// `Reason`, `Node` and `Role`; not its detail, which carries the service's own data.
    private func isFaultPart(_ namespace: Namespace?, _ local: UnsafeRawBufferPointer) -> Bool {
        if envelope == .soap11 {
            return namespace == nil && ["faultcode", "faultstring", "faultactor"].contains { local.elementsEqual($0.utf8) }
        }
        return namespace?.role == .soap12Envelope && ["Code", "Reason", "Node", "Role"].contains { local.elementsEqual($0.utf8) }
    }

    /// What a SOAP 1.2 Fault's parts may hold: `Code` a `Value` and a `Subcode` (which holds the same), `Reason` its
    /// `Text`s. SOAP 1.1's parts, and 1.2's `Node` and `Role`, hold text alone; any other element in them is the
    /// service's data, which an allow-list does not pass.
    private func isFaultStructure(_ namespace: Namespace?, _ local: UnsafeRawBufferPointer) -> Bool {
        envelope == .soap12 && namespace?.role == .soap12Envelope && ["Value", "Subcode", "Text"].contains { local.elementsEqual($0.utf8) }
    }

    private func depthError(at offset: Int) -> RedactionError {
        RedactionError(.malformed, "elements nested deeper than \(limits.maxDepth)", offset: offset)
    }

    /// The spans of a kept element's attributes that match a redacted name (an unprefixed attribute is in no
    /// namespace), in order. Namespace declarations are never redacted.
    private mutating func redactedAttributes(of tag: XMLStartTag, in token: UnsafeRawBufferPointer, region: Region, at offset: Int) throws(RedactionError) -> [Range<Int>] {
        var dropped: [Range<Int>] = []
        // An allow-list governs the record element's attributes as it governs its children; the envelope, its Header
        // and its Body may carry SOAP's own attributes alone.
        let onRecord = hasAllowList && region == .body && open.count == recordDepth
        let onEnvelopePart = hasAllowList && envelope != .none && open.count < recordDepth
        for attribute in tag.attributes {
            let name = attribute.name(in: token)
            if name.starts(with: "xmlns".utf8), name.count == 5 || name[5] == UInt8(ascii: ":") { continue }
            let namespace: Namespace?
            let local: UnsafeRawBufferPointer
            if let colon = name.firstIndex(of: UInt8(ascii: ":")) {
                namespace = bindings.lookUp(UnsafeRawBufferPointer(rebasing: name[..<colon])) ?? nil
                local = UnsafeRawBufferPointer(rebasing: name[(colon + 1)...])
            } else {
                namespace = nil
                local = name
            }
            if onEnvelopePart, namespace?.role != .soap11Envelope, namespace?.role != .soap12Envelope {
                throw Self.outsideTheFields("an attribute", at: offset)
            }
            guard names.redact(namespace, local) || onRecord && !names.keep(namespace, local) else {
                // Only a reference can write a `<` in a value, a quote needs one or the other quote around it, and an
                // escape of JSON's begins with a backslash.
                let value = UnsafeRawBufferPointer(rebasing: token[attribute.value])
                if outline == nil, value.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                    try checkEmbedded(inAttributeValue: value, at: offset)
                }
                // XML Schema's instance attributes name types and schema locations, not data.
                if outline == nil, namespace?.role != .schemaInstance { try checkSpelled(attributeValue: value, at: offset) }
                continue
            }
            guard region == .body else {
                throw RedactionError(.refused, "a redacted attribute in a SOAP header, which is passed whole or not at all", offset: offset)
            }
            if signed { throw Self.signedError(at: offset) }
            removed += 1
            dropped.append(attribute.span)
        }
        return dropped
    }

    private static func signedError(at offset: Int) -> RedactionError {
        RedactionError(.signed, "the document is signed (XML-DSig), and removing the redacted elements would break its signature", offset: offset)
    }

    private mutating func endTag(_ token: UnsafeRawBufferPointer, at offset: Int, in piece: UnsafeRawBufferPointer) throws(RedactionError) -> TokenDisposition {
        guard !open.isEmpty, closes(open.count - 1, token, piece) else { throw endTagError(token, at: offset) }
        let disposition = removedDepth == 0 ? TokenDisposition.kept : .dropped
        try checkElementText(at: offset)
        closeElement()
        return disposition
    }

    /// Where the end tag at `bytes[start]` ends, if it is exactly `</name>` for the innermost open element (whose name
    /// is `innermost`, in `bytes` if `inPiece`, else in `openNames`) and within the piece and the markup `limit`;
    /// otherwise nil, and it is read as any other markup is. Static, as the helpers below: a method would copy the
    /// whole machine.
    @inline(__always)
    private static func closingTagEnd(
        in bytes: UnsafeRawBufferPointer, at start: Int, of innermost: Range<Int>, inPiece: Bool, openNames: XMLByteStack, limit: Int
    ) -> Int? {
        let nameEnd = start + 2 + innermost.count
        guard nameEnd < bytes.count, bytes[nameEnd] == UInt8(ascii: ">"), innermost.count + 3 <= limit else { return nil }
        let name = UnsafeRawBufferPointer(rebasing: bytes[(start + 2)..<nameEnd])
        let sameName: Bool
        if inPiece {
            precondition(innermost.upperBound <= bytes.count, "an open element's name lies in the piece")
            sameName = XMLBytes.equal(UnsafeRawBufferPointer(rebasing: bytes[innermost]), name)
        } else {
            sameName = openNames.withBytes(innermost) { XMLBytes.equal($0, name) }
        }
        return sameName ? nameEnd + 1 : nil
    }

    /// Where the start tag at `bytes[start]` ends, if its first byte after the one following `<` that
    /// ``XMLBytes/firstSignificant(in:from:)`` stops at is its `>` (so it holds no quote and no `<`), within the piece
    /// and the markup `limit`; otherwise nil, and it is read as any other markup is. The tag is not checked for form.
    @inline(__always)
    private static func plainStartTagEnd(in bytes: UnsafeRawBufferPointer, at start: Int, limit: Int) -> Int? {
        guard start + 1 < bytes.count else { return nil }
        switch bytes[start + 1] {
        case UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "!"): return nil
        default: break
        }
        // The byte after '<' is taken for the kind of markup and never searched, as `scanMarkup` does.
        let close = XMLBytes.firstSignificant(in: bytes, from: start + 2)
        guard close < bytes.count, bytes[close] == UInt8(ascii: ">"), close + 1 - start <= limit else { return nil }
        return close + 1
    }

    /// Whether the end tag `token` ("</" QName S? ">") closes the open element at `depth`: its name, then white space
    /// only. `piece` is the piece being read. Inlined: a call would copy the whole machine.
    @inline(__always)
    private func closes(_ depth: Int, _ token: UnsafeRawBufferPointer, _ piece: UnsafeRawBufferPointer) -> Bool {
        let element = open[depth]
        let nameEnd = 2 + element.name.count
        guard nameEnd < token.count else { return false }
        let name = UnsafeRawBufferPointer(rebasing: token[2..<nameEnd])
        let sameName: Bool
        if depth >= namesInPiece {
            precondition(element.name.upperBound <= piece.count, "an open element's name lies in the piece")
            sameName = XMLBytes.equal(UnsafeRawBufferPointer(rebasing: piece[element.name]), name)
        } else {
            sameName = openNames.withBytes(element.name) { XMLBytes.equal($0, name) }
        }
        guard sameName else { return false }
        for index in nameEnd..<(token.count - 1) where !XMLName.isSpace(token[index]) { return false }
        return true
    }

    /// Why the end tag `token` does not close the innermost open element.
    private func endTagError(_ token: UnsafeRawBufferPointer, at offset: Int) -> RedactionError {
        var index = XMLName.end(of: token, from: 2)
        while index < token.count - 1, XMLName.isSpace(token[index]) { index += 1 }
        guard !open.isEmpty, index == token.count - 1 else {
            return RedactionError(.malformed, open.isEmpty ? "an end tag with no open element" : "a malformed end tag", offset: offset)
        }
        return RedactionError(.malformed, "an end tag that does not match its start tag", offset: offset)
    }

    /// Closes the innermost open element. Its end ends the text before it: a name written there (`&lt;name`) and the
    /// markup read in it are over.
    private mutating func closeElement() {
        embeddedName = nil
        escapedMarkup.end()
        outline?.ended(depth: open.count)
        let element = open.removeLast()
        if open.count < namesInPiece {
            openNames.pop(from: element.name.lowerBound)
            namesInPiece = open.count
        }
        bindings.removeAll(from: element.bindingsBelow)
        if removedDepth > open.count { removedDepth = 0 }
        if open.isEmpty { rootClosed = true }
    }

    /// Copies the names still read in `piece` (see `namesInPiece`) to `openNames`, before the piece goes.
    private mutating func keepOpenNames(_ piece: UnsafeRawBufferPointer) {
        while namesInPiece < open.count {
            let name = open[namesInPiece].name
            precondition(name.upperBound <= piece.count, "an open element's name lies in the piece")
            let start = openNames.push(UnsafeRawBufferPointer(rebasing: piece[name]))
            open[namesInPiece].name = start..<(start + name.count)
            namesInPiece += 1
        }
    }

    private mutating func declare(prefix: [UInt8], uri: [UInt8], at offset: Int) throws(RedactionError) {
        // The xml prefix's own binding, made at the start, is not the document's.
        guard bindings.count <= limits.maxNamespaceBindings else {
            throw RedactionError(.malformed, "more than \(limits.maxNamespaceBindings) namespace declarations in scope", offset: offset)
        }
        let uriText = String(decoding: uri, as: UTF8.self)
        if prefix.isEmpty {
            // xmlns="" undeclares the default namespace.
            guard uriText != XMLNamespaces.xml, uriText != XMLNamespaces.xmlns else {
                throw RedactionError(.malformed, "the default namespace bound to a reserved URI", offset: offset)
            }
            bind(prefix: [], uri: uriText)
            return
        }
        guard XMLName.isNCName(prefix) else { throw RedactionError(.malformed, "an invalid namespace prefix", offset: offset) }
        let isXML = prefix.elementsEqual("xml".utf8)
        guard !uri.isEmpty else { throw RedactionError(.malformed, "a namespace prefix bound to the empty URI", offset: offset) }
        guard !prefix.elementsEqual("xmlns".utf8), isXML == (uriText == XMLNamespaces.xml), uriText != XMLNamespaces.xmlns else {
            throw RedactionError(.malformed, "a reserved namespace prefix or URI misused", offset: offset)
        }
        bind(prefix: prefix, uri: uriText)
    }

    /// The depth of the record element whose children and attributes an allow-list governs: the root element, or in
    /// a SOAP envelope the Body's element.
    private var recordDepth: Int { envelope == .none ? 1 : 3 }

    /// The names matched, behind a reference so that matching one copies none of the machine.
    private final class Names: EmbeddedNames {
        let redacted: RedactedNames
        /// The allow-list, if any.
        let keepOnly: RedactedNames?

        /// A name read in markup inside text, by its local part, with no namespace.
        func redacts(_ name: [UInt8]) -> Bool {
            name.withUnsafeBytes { redact(nil, $0) }
        }

        init(redacted: RedactedNames, keepOnly: RedactedNames?) {
            self.redacted = redacted
            self.keepOnly = keepOnly
        }

        /// Whether an element or attribute is to be removed by name: a field name, or a qualified name's local name,
        /// matches its local name in any namespace or none, unless the namespace's protocol defines that name
        /// (``XMLNamespaces/Role/frames(_:)``); a qualified name matches its namespace and local name.
        func redact(_ namespace: Namespace?, _ local: UnsafeRawBufferPointer) -> Bool {
            if redacted.containsField(local: local), !(namespace?.role.frames(local) ?? false) { return true }
            guard let index = namespace?.redactedIndex else { return false }
            return redacted.contains(local: local, namespace: index)
        }

        /// Whether the allow-list, if any, names an element or attribute: by a plain field name, or by its exact
        /// qualified name.
        func keep(_ namespace: Namespace?, _ local: UnsafeRawBufferPointer) -> Bool {
            guard let keepOnly else { return true }
            if keepOnly.containsKeptField(local: local), !(namespace?.role.frames(local) ?? false) { return true }
            guard let index = namespace?.keptIndex else { return false }
            return keepOnly.contains(local: local, namespace: index)
        }
    }
}

extension XMLRedactionMachine {
    /// Whether an attribute's value is the QName `prefix:string` with `prefix` bound to XML Schema's namespace or SOAP
    /// 1.1 encoding's (whose `string` is XML Schema's), as written, with no reference or white space in it.
    fileprivate func isSchemaString(_ value: UnsafeRawBufferPointer) -> Bool {
        guard let colon = value.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              UnsafeRawBufferPointer(rebasing: value[(colon + 1)...]).elementsEqual("string".utf8),
              let namespace = bindings.lookUp(UnsafeRawBufferPointer(rebasing: value[..<colon])) ?? nil else { return false }
        return ["http://www.w3.org/2001/XMLSchema", "http://schemas.xmlsoap.org/soap/encoding/"].contains(bindings.uri(of: namespace))
    }
}
