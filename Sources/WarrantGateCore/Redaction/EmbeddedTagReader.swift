/// Which names a markup reader counts (by their local part): the redacted fields' names, as a document compares them.
protocol EmbeddedNames {
    func redacts(_ name: [UInt8]) -> Bool
}

/// Markup in a string read every way a client may parse it (``EmbeddedTagReader``): as the string holds it and as a
/// second parse of it reads it, each as XML, as Python's HTML parser (also as it reads a string left open at its
/// end), and as WHATWG's (browsers') read it (also with all of the text foreign content, and with none).
struct EmbeddedMarkup {
    /// One reader for each reading, as written and decoded twice: a copy of ``freshReaders``, which is copied reader by
    /// reader only once a string's characters are read into them.
    private var readers = Self.freshReaders
    private static let freshReaders: [EmbeddedTagReader] = [false, true].flatMap { decodes in
        [EmbeddedTagReader.Reading.xml, .python, .pythonAtClose, .whatwg, .whatwgForeign, .whatwgNeverForeign].map {
            EmbeddedTagReader(decodesEscapes: decodes, reading: $0)
        }
    }
    /// Whether anything was read since the string or text last ended.
    private var fed = false

    /// Whether any reader is past a `<` or within an escape: the characters after it cannot be skipped. Kept as each
    /// read leaves it, since scans read it for every run of text.
    private(set) var isReading = false

    /// Whether any reader awaits the character that decides on what it read (``EmbeddedTagReader/awaitsVerdict``).
    var awaitsVerdict: Bool { readers.contains { $0.awaitsVerdict } }

    /// The string or text ended: what either reader holds of it is forgotten (a tag no `>` closed is no tag). Inlined:
    /// scans call it at every string's or tag's end, and nearly always it has nothing to do.
    @inline(__always)
    mutating func end() {
        guard fed else { return }
        fed = false
        isReading = false
        for index in readers.indices { readers[index].reset() }
    }

    /// Reads `characters` of a string (or text, as `place` names it), the first at `offset`, and refuses the document
    /// at a tag there that names a field `redacted` holds, or a declaration that could define any: a client that
    /// parses it reads them. The error's offset is the character's that showed it.
    mutating func read(
        _ characters: some Sequence<UInt8>, in place: String, at start: Int, redacted: some EmbeddedNames
    ) throws(RedactionError) {
        fed = true
        defer { isReading = readers.contains { $0.isReading } }
        var offset = start
        for byte in characters {
            defer { offset += 1 }
            // Most characters inside a comment, a CDATA section, a quoted value or text change nothing.
            if readers.allSatisfy({ $0.passesOver(byte) }) { continue }
            // What one reader shows refuses the document: the others, not fed past it, are not read again.
            var found: EmbeddedTagReader.Found?
            for index in readers.indices {
                found = readers[index].feed(byte, redacted: redacted)
                if found != nil { break }
            }
            switch found {
            case nil: continue
            case .name:
                throw RedactionError(.refused, "\(place) holds markup naming a redacted field, which a client would parse", offset: offset)
            case .overlongName:
                throw RedactionError(.refused, "\(place) holds markup with a name too long to read, which a client would parse", offset: offset)
            case .definition:
                throw RedactionError(.refused, "\(place) holds an XML declaration that defines elements, attributes or entities", offset: offset)
            }
        }
    }
}

/// Reads the markup in a JSON string that a client would parse as XML (`{"d":"<nc:PersonCitizenshipText>MX</…>"}`):
/// each start tag's element name, its attributes' names, and declarations that define elements, attributes or
/// entities, which the redactor cannot see into. Fed a kept string value's characters as a JSON parser reads them
/// (`\u003c` as `<`, `\"` as `"`), one at a time, across the pieces the document arrives in. One reader reads them as
/// they are; another (``decodesEscapes``) as a second parse of the text reads them, for markup serialized twice
/// (`\\u003c` read as `\u003c`, then as `<`).
///
/// It reads as XML does, so that prose is not taken for markup: a start tag begins at `<` and a name's first character
/// (a letter, `_` or `:`), its element name ends at white space, `/` or `>`, an attribute's value is skipped whole,
/// comments, CDATA sections and processing instructions are skipped to their ends, and a tag counts only once its `>`
/// closes it (`<immigration@county.example>` and `x<y, immigration = none` are no tags). A name is read by its local
/// part (after its last `:`).
///
/// Read as HTML (``Reading/python``, ``Reading/whatwg``), a tag begins at `<` and an ASCII letter, and its names run
/// to white space, `/` or `>` (an attribute's also to `=`), its unquoted values to white space or `>`, whatever else
/// they hold (`<p=x`, `<p@x`, `"x"`, `a=M<X`); a comment also ends at `<!-->`, `<!--->` and `--!>`; a processing
/// instruction, a CDATA section, a DOCTYPE or another `<!` declaration is a bogus comment, which the first `>` ends (as
/// a DOCTYPE does in a quoted identifier too; an internal subset is XML's, and its reading refuses it); a `/` inside a
/// start tag that `>` does not follow goes on to an attribute; a form feed is white space; and the text of a raw-text
/// element is no markup up to its end tag. The two HTML readings differ where those parsers do: to Python's
/// (`html.parser`), only `script` and `style` hold raw text (not after `<style/>`), a comment also ends at `--`, white
/// space and `>`, raw text at `</ style>`, and any character `str.isspace` accepts separates attributes; to WHATWG's
/// (browsers, html5lib), `title`, `textarea`, `xmp`, `iframe`, `noembed`, `noframes`, `noscript` and `plaintext`
/// hold raw text too, except in foreign content (from `svg` or `math` to its end tag, a breakout tag such as `<p>`,
/// or an integration point such as `foreignObject`), where no element does. Python's is read twice more: as its
/// `close()` reads a quote or comment left open at the string's end, from its first `>` on. Each way reads some text
/// as markup that another does not, so all are read.
struct EmbeddedTagReader {
    /// What the markup showed: a start tag's element or attribute name (by its local part), a name too long to read,
    /// or a declaration that defines elements, attributes or entities (`<!ENTITY`, `<!ATTLIST`, `<!ELEMENT`, a
    /// `<!DOCTYPE` with an internal subset), through which a parser would expand any name.
    enum Found: Equatable {
        case name([UInt8])
        case overlongName
        case definition
    }

    /// The longest local name read; a longer one is ``Found/overlongName``.
    static let maxName = 256

    private enum State {
        case text
        /// After `<`; after `<!`; after `<!-`.
        case opened
        case bang
        case commentOpening
        /// Within a comment, after `dashes` `-` (and, with `bang`, a `!` after two or more, to HTML); `fresh` while
        /// nothing but dashes has followed `<!--`, when `>` ends it to HTML.
        case comment(dashes: Int, bang: Bool = false, fresh: Bool = false)
        /// After `<!` and the first `matched` bytes of `[CDATA[`; within the section, after `brackets` `]`.
        case cdataOpening(matched: Int)
        case cdata(brackets: Int)
        case processingInstruction(afterQuestion: Bool)
        /// To HTML: a bogus comment (`<?…`, `<![CDATA[…`, `<!x…`), which the first `>` ends.
        case bogusComment
        case declarationName
        case doctype(quote: UInt8?)
        case elementName
        /// After `</`: the end tag's name, and what follows it up to `>`.
        case endTagName
        case endTagRest
        /// Within a start tag: between attributes, in one's name, after it (white space), after its `=`, in its
        /// value, and after a `/`, which only `>` may follow.
        case attributes
        case attributeName
        case afterAttributeName
        case beforeValue
        case quotedValue(UInt8)
        case unquotedValue
        case slash
        /// To HTML, the text of a raw-text element, after `matched` bytes of its end tag's `</name`.
        case rawText(matched: Int)
    }

    /// How a reader reads the markup: as an XML parser, as Python's HTML parser, or as WHATWG's (browsers').
    enum Reading {
        case xml, python, whatwg
        /// Python's, as its `close()` reads a construct the string left open: from the first `>` after it on, as text
        /// and markup again (`<p a='x><citizenship>`). Read from every `>` in a quoted value or a comment, which may be
        /// the one.
        case pythonAtClose
        /// WHATWG's, as if all of the text were foreign content (no element holds raw text), and as if none were (raw
        /// text wherever an HTML element holds it). Where a parser's tree (foster parenting, `select`, `template`,
        /// end tags that close `svg`, namespaced integration points) puts the text is approximated by ``whatwg``;
        /// these two bound it on either side.
        case whatwgForeign, whatwgNeverForeign
    }

    /// The elements whose text Python's HTML parser reads as no markup, up to their end tag.
    private static let pythonRawTextElements = ["script", "style"].map { Array($0.utf8) }
    /// The elements whose text WHATWG's parser reads as no markup (raw text, escapable or not), up to their end tag.
    private static let whatwgRawTextElements =
        ["script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext"].map { Array($0.utf8) }
    /// HTML's elements whose content is foreign (SVG, MathML): there, to WHATWG, no element holds raw text.
    private static let foreignElements = ["svg", "math"].map { Array($0.utf8) }
    /// HTML's start tags that end foreign content (WHATWG's "breakout" tags; `font` whatever its attributes).
    private static let breakoutElements = Set([
        "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em", "embed", "h1", "h2", "h3", "h4",
        "h5", "h6", "head", "hr", "i", "img", "li", "listing", "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small",
        "span", "strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var", "font",
    ].map { Array($0.utf8) })
    /// The elements of foreign content whose content is HTML again (WHATWG's integration points).
    private static let integrationPoints = Set(
        ["foreignobject", "desc", "title", "mi", "mo", "mn", "ms", "mtext", "annotation-xml"].map { Array($0.utf8) }
    )
    /// To WHATWG, how many `svg` or `math` elements are open around the text read (foreign content, where no element
    /// holds raw text), and whether an integration point inside them holds it.
    private var foreignDepth = 0
    private var integration = false
    /// The start tag's element name, lower-cased, for its `>`.
    private var tagName: [UInt8] = []

    /// Whether the text is read as a second parse reads it: a backslash escape (`\u003c`, `\"`) of the text decoded.
    let decodesEscapes: Bool
    /// Whether it is read as an HTML parser reads it (Python's or WHATWG's), else as an XML parser does.
    let html: Bool
    /// Whether it is read as Python's HTML parser reads it (at its end too, with ``closesLeniently``).
    let python: Bool
    /// Whether every `>` in a quoted value or a comment is also read as ending it (``Reading/pythonAtClose``).
    let closesLeniently: Bool
    /// Whether, to WHATWG, all of the text is read as foreign content, or none of it (``Reading/whatwgForeign``,
    /// ``Reading/whatwgNeverForeign``); else `svg` and `math` are followed as a parser would.
    let foreignAlways: Bool
    let foreignNever: Bool
    /// To HTML, the raw-text element (lower-cased) the start tag being read opens, if it opens one; then the one whose
    /// text is being read.
    private var rawTextElement: [UInt8] = []
    private var state = State.text
    private var name: [UInt8] = []
    private var overlong = false
    /// What the tag being read showed, until its `>` shows it is one.
    private var pending: Found?
    /// Whether the tag being read has a word with no value (`<IMMIGRATION HOLD>`), and whether it has a value.
    private var hasBareWord = false
    private var hasValue = false
    /// The tag's element name, when it is redacted.
    private var redactedElement: [UInt8]?
    /// The redacted element names (lower-cased) of tags that read as prose (words, no value) or as no XML at all,
    /// until an end tag of one of them, in any case, shows it was an element to a lenient (HTML) parser:
    /// `<nationality hidden>MX</Nationality >`. At most ``maxSuspects``; past them (``suspectsOverflowed``), an end tag
    /// of any redacted name counts.
    private var suspects: [[UInt8]] = []
    private var suspectsOverflowed = false
    static let maxSuspects = 16

    /// A backslash escape of the text being read, with ``decodesEscapes``: its backslash, `u` and digits so far.
    private var escape: [UInt8] = []
    /// The bytes of a non-ASCII character read so far: XML 1.1's line ends (U+0085, U+2028) are white space to a parser
    /// of that version.
    private var character: [UInt8] = []

    init(decodesEscapes: Bool, reading: Reading) {
        self.decodesEscapes = decodesEscapes
        html = reading != .xml
        python = reading == .python || reading == .pythonAtClose
        closesLeniently = reading == .pythonAtClose
        foreignAlways = reading == .whatwgForeign
        foreignNever = reading == .whatwgNeverForeign
    }

    /// Whether the reader is past a `<`, within an escape, or holds tags an end tag may show to be elements: the
    /// characters after it cannot be skipped. Kept as each feed leaves it, since scans read it for every run of text.
    private(set) var isReading = false

    /// Whether what was read may yet refuse the document at a later character, so that the text since may hold a
    /// redacted field's value: a tag that named a redacted field (or a name too long to read) awaits its `>`, or a
    /// remembered element its end tag.
    var awaitsVerdict: Bool { pending != nil || redactedElement != nil || !suspects.isEmpty }

    mutating func reset() {
        isReading = false
        escape.removeAll(keepingCapacity: true)
        restart()
    }

    /// Forgets what was read since the last text: no tag or declaration is open.
    private mutating func restart() {
        state = .text
        (foreignDepth, integration) = (0, false)
        tagName.removeAll(keepingCapacity: true)
        clearName()
        pending = nil
        redactedElement = nil
        suspects.removeAll()
        suspectsOverflowed = false
        character.removeAll(keepingCapacity: true)
    }

    /// Whether reading `byte` would leave the reader exactly as it is, showing nothing: no state, name, escape or
    /// character begun or ended. Such a byte may go unread.
    @inline(__always)
    func passesOver(_ byte: UInt8) -> Bool {
        guard byte < 0x80, character.isEmpty else { return false }
        // To a second parse, a quote ends the string and a backslash begins an escape.
        if decodesEscapes, !escape.isEmpty || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
        switch state {
        case .text: return byte != UInt8(ascii: "<")
        case .comment(dashes: 0, bang: false, fresh: false): return byte != UInt8(ascii: "-") && !(closesLeniently && byte == UInt8(ascii: ">"))
        case .cdata(brackets: 0): return byte != UInt8(ascii: "]")
        case .processingInstruction(afterQuestion: false): return byte != UInt8(ascii: "?")
        case .bogusComment: return byte != UInt8(ascii: ">")
        case .rawText(matched: 0): return byte != UInt8(ascii: "<")
        case .quotedValue(let quote): return byte != quote && !(closesLeniently && byte == UInt8(ascii: ">"))
        case .doctype(quote: let quote?): return byte != quote
        case .doctype(quote: nil): return !"\"'[>".utf8.contains(byte)
        case .endTagRest: return byte != UInt8(ascii: ">") && byte != UInt8(ascii: "<")
        default: return false
        }
    }

    /// One character's byte. Returns what a tag, or a declaration, showed once it is known to be one; `redacted` holds
    /// which names count.
    mutating func feed(_ byte: UInt8, redacted: some EmbeddedNames) -> Found? {
        defer {
            if case .text = state { isReading = !escape.isEmpty || !suspects.isEmpty } else { isReading = true }
        }
        return decode(byte, redacted)
    }

    /// Reads `byte`, with ``decodesEscapes`` as part of an escape of the text.
    private mutating func decode(_ byte: UInt8, _ redacted: some EmbeddedNames) -> Found? {
        if decodesEscapes, escape.isEmpty, byte == UInt8(ascii: "\"") {
            // A quote of the text itself ends a string to a second parse, which reads each string on its own.
            restart()
            return nil
        }
        guard decodesEscapes, !escape.isEmpty || byte == UInt8(ascii: "\\") else { return read(byte, redacted) }
        escape.append(byte)
        guard escape.count >= 2 else { return nil }
        if escape[1] != UInt8(ascii: "u") {
            // `\"`, `\\`, `\/` are their character; `\n` and the others white space.
            let character = "nrtbf".utf8.contains(escape[1]) ? 0x20 : escape[1]
            escape.removeAll(keepingCapacity: true)
            return read(character, redacted)
        }
        if escape.count > 2, ASCIIHex.value(byte) == nil {
            // No escape after all: its characters as they are.
            let characters = escape
            escape.removeAll(keepingCapacity: true)
            return read(characters, redacted)
        }
        guard escape.count == 6 else { return nil }
        let value = escape[2...].reduce(UInt32(0)) { $0 << 4 | UInt32(ASCIIHex.value($1)!) }
        escape.removeAll(keepingCapacity: true)
        return read(Unicode.Scalar(value).map { Array(String($0).utf8) } ?? [0x80], redacted)
    }

    /// Reads several characters' bytes; what the first tag or declaration among them showed.
    private mutating func read(_ bytes: [UInt8], _ redacted: some EmbeddedNames) -> Found? {
        var shown: Found?
        for byte in bytes {
            if let found = read(byte, redacted), shown == nil { shown = found }
        }
        return shown
    }

    /// Reads one byte of a character: a non-ASCII character once its last byte is in.
    private mutating func read(_ byte: UInt8, _ redacted: some EmbeddedNames) -> Found? {
        guard byte >= 0x80 || !character.isEmpty else {
            // Python's parser splits attributes at any character `str.isspace` accepts, these controls among them.
            return step(python && (inAttributes || inRawText) && (byte == 0x0b || (0x1c...0x1f).contains(byte)) ? 0x20 : byte, redacted)
        }
        character.append(byte)
        let lead = character[0]
        let length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1
        guard character.count >= length || byte < 0x80 else { return nil }
        let bytes = character
        character.removeAll(keepingCapacity: true)
        // XML 1.1's line ends are white space to a parser of that version; to Python's HTML parser, any character
        // `str.isspace` accepts separates attributes.
        let lineEnd = bytes == [0xc2, 0x85] || bytes == [0xe2, 0x80, 0xa8]
        if (!html && lineEnd) || (python && (inAttributes || inRawText) && (lineEnd || Self.unicodeSpaces.contains(bytes))) { return step(0x20, redacted) }
        var shown: Found?
        for byte in bytes {
            if let found = step(byte, redacted), shown == nil { shown = found }
        }
        return shown
    }

    private mutating func step(_ byte: UInt8, _ redacted: some EmbeddedNames) -> Found? {
        switch state {
        case .text:
            if byte == UInt8(ascii: "<") { state = .opened }
        case .opened:
            if byte == UInt8(ascii: "!") {
                state = .bang
            } else if byte == UInt8(ascii: "?") {
                state = html ? .bogusComment : .processingInstruction(afterQuestion: false)
            } else if byte == UInt8(ascii: "/") {
                clearName()
                state = .endTagName
            } else if isTagStart(byte) {
                clearName()
                (hasBareWord, hasValue, redactedElement) = (false, false, nil)
                append(byte)
                state = .elementName
            } else {
                abandon(at: byte)
            }
        case .bang:
            if byte == UInt8(ascii: "-") {
                state = .commentOpening
            } else if !html, byte == Self.cdataOpening[0] {
                state = .cdataOpening(matched: 1)
            } else if isTagStart(byte) {
                clearName()
                append(byte)
                state = .declarationName
            } else {
                // `<![CDATA[`, among others, is a bogus comment to HTML.
                notDeclaration(byte)
            }
        case .commentOpening:
            if byte == UInt8(ascii: "-") { state = .comment(dashes: 0, fresh: html) } else { notDeclaration(byte) }
        case .comment(let dashes, let bang, let fresh):
            if byte == UInt8(ascii: "-") {
                state = .comment(dashes: bang ? 1 : dashes + 1, fresh: fresh)
            } else if python, dashes >= 2, !bang, isSpace(byte) {
                // Python's parser (3.11) also ends a comment at `--`, white space and `>`.
                state = .comment(dashes: dashes, fresh: fresh)
            } else if byte == UInt8(ascii: ">") {
                state = dashes >= 2 || bang || fresh || closesLeniently ? .text : .comment(dashes: 0)
            } else {
                state = html && byte == UInt8(ascii: "!") && dashes >= 2 && !bang ? .comment(dashes: dashes, bang: true) : .comment(dashes: 0)
            }
        case .cdataOpening(let matched):
            guard byte == Self.cdataOpening[matched] else { return abandon(at: byte) }
            state = matched + 1 == Self.cdataOpening.count ? .cdata(brackets: 0) : .cdataOpening(matched: matched + 1)
        case .cdata(let brackets):
            if byte == UInt8(ascii: "]") {
                state = .cdata(brackets: brackets + 1)
            } else {
                state = byte == UInt8(ascii: ">") && brackets >= 2 ? .text : .cdata(brackets: 0)
            }
        case .processingInstruction(let afterQuestion):
            state = byte == UInt8(ascii: ">") && afterQuestion ? .text : .processingInstruction(afterQuestion: byte == UInt8(ascii: "?"))
        case .bogusComment:
            if byte == UInt8(ascii: ">") { state = .text }
        case .rawText(let matched):
            let now = rawTextEndMatched(after: matched, byte)
            if now == rawTextElement.count + 3 {
                // `</name` and white space, `/` or `>`: the element's end tag.
                clearName()
                state = byte == UInt8(ascii: ">") ? .text : .endTagRest
            } else {
                state = .rawText(matched: now)
            }
        case .declarationName:
            if XMLName.isNameByte(byte) {
                append(byte)
            } else if ["ENTITY", "ATTLIST", "ELEMENT"].contains(where: { name.elementsEqual($0.utf8) }) {
                state = .text
                return .definition
            } else if !html, name.elementsEqual("DOCTYPE".utf8) {
                state = .doctype(quote: nil)
                return step(byte, redacted)
            } else {
                notDeclaration(byte)
            }
        case .doctype(let quote):
            if let quote {
                if byte == quote { state = .doctype(quote: nil) }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                state = .doctype(quote: byte)
            } else if byte == UInt8(ascii: "[") {
                // An internal subset: it may define any entity or attribute.
                state = .text
                return .definition
            } else if byte == UInt8(ascii: ">") {
                state = .text
            }
        case .elementName:
            // To HTML a tag's name runs to white space, `/` or `>`: `<p=x` is an element `p=x`.
            if XMLName.isNameByte(byte) || htmlNameByte(byte) || (html && byte == UInt8(ascii: "=")) {
                append(byte)
                return nil
            }
            guard !name.isEmpty || overlong, isSpace(byte) || byte == UInt8(ascii: "/") || byte == UInt8(ascii: ">") else {
                return abandon(at: byte)
            }
            if python {
                rawTextElement = Self.pythonRawTextElements.first { ASCIICase.equals(name, $0) } ?? []
            } else if html {
                tagName = name.map(ASCIICase.lowercased)
            }
            check(redacted)
            if case .name(let element)? = pending { redactedElement = element }
            return afterName(byte)
        case .endTagName:
            if XMLName.isNameByte(byte) || htmlNameByte(byte) || (html && byte == UInt8(ascii: "=")) {
                append(byte)
                return nil
            }
            if byte == UInt8(ascii: ">") { return endTagClosed(redacted) }
            if isSpace(byte) || byte == UInt8(ascii: "/") { state = .endTagRest } else { abandon(at: byte) }
        case .endTagRest:
            if byte == UInt8(ascii: ">") { return endTagClosed(redacted) }
            if byte == UInt8(ascii: "<") { abandon(at: byte) }
        case .attributes:
            // To HTML, anything but white space, `/` and `>` begins an attribute's name (`"x"`, `=`, `<` too).
            if Self.isNameStart(byte) || (htmlNameByte(byte) || (html && byte == UInt8(ascii: "="))) {
                clearName()
                append(byte)
                state = .attributeName
            } else if !isSpace(byte) {
                return afterName(byte)
            }
        case .attributeName, .afterAttributeName:
            if XMLName.isNameByte(byte) || htmlNameByte(byte) {
                // A word with no value before this one: no XML, though a lenient (HTML) parser reads it.
                if case .afterAttributeName = state {
                    hasBareWord = true
                    clearName()
                }
                append(byte)
                state = .attributeName
            } else if byte == UInt8(ascii: "=") {
                hasValue = true
                check(redacted)
                state = .beforeValue
            } else if isSpace(byte) {
                state = .afterAttributeName
            } else {
                hasBareWord = true
                return afterName(byte)
            }
        case .beforeValue:
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                state = .quotedValue(byte)
            } else if byte == UInt8(ascii: ">") || (!html && byte == UInt8(ascii: "<")) {
                return afterName(byte)
            } else if !isSpace(byte) {
                state = .unquotedValue
            }
        case .quotedValue(let quote):
            if byte == quote {
                state = .attributes
            } else if closesLeniently, byte == UInt8(ascii: ">") {
                abandon(at: byte)
            }
        case .unquotedValue:
            // To HTML, only white space or `>` ends an unquoted value (`<`, quotes and `=` are in it).
            if isSpace(byte) {
                state = .attributes
            } else if byte == UInt8(ascii: ">") || (!html && byte == UInt8(ascii: "<")) {
                return afterName(byte)
            }
        case .slash:
            if byte == UInt8(ascii: ">") {
                // To Python's parser, `<style/>` holds no text.
                if python { rawTextElement = [] }
                return closed(selfClosing: true)
            }
            // HTML reads on after a `/` that `>` does not follow, as before an attribute's name.
            guard html else { return abandon(at: byte) }
            state = .attributes
            return step(byte, redacted)
        }
        return nil
    }

    /// Whether the reader is within a start tag, past its element's name: where attributes are read.
    private var inAttributes: Bool {
        switch state {
        case .attributes, .attributeName, .afterAttributeName, .beforeValue, .unquotedValue: true
        default: false
        }
    }

    /// Whether the reader is within a raw-text element's text or its end tag: where Python's parser reads `</ style >`
    /// with any `str.isspace` character.
    private var inRawText: Bool {
        if case .rawText = state { true } else { false }
    }

    /// Whether, to HTML, `byte` goes on a tag's or an attribute's name: anything but white space, `/`, `>` and (ending
    /// an attribute's name) `=`, as WHATWG's tokenizer reads names (`<p@x`, `x@`, `"x"` are names to it).
    private func htmlNameByte(_ byte: UInt8) -> Bool {
        html && !isSpace(byte) && byte != UInt8(ascii: "/") && byte != UInt8(ascii: ">") && byte != UInt8(ascii: "=")
    }

    /// In a start tag, after a name or a value: white space goes on to the next attribute, `/` must close it, `>`
    /// closes it, and anything else shows it was no tag.
    private mutating func afterName(_ byte: UInt8) -> Found? {
        if isSpace(byte) {
            state = .attributes
        } else if byte == UInt8(ascii: "/") {
            state = .slash
        } else if byte == UInt8(ascii: ">") {
            return closed()
        } else {
            return abandon(at: byte)
        }
        return nil
    }

    /// The tag's `>`: what it showed counts, unless it read as prose, words with no value (`<IMMIGRATION HOLD>` in an
    /// officer's note); then its element's end tag makes it count.
    private mutating func closed(selfClosing: Bool = false) -> Found? {
        defer { pending = nil }
        if html, !python { enterWHATWGElement(selfClosing: selfClosing) }
        state = rawTextElement.isEmpty ? .text : .rawText(matched: 0)
        guard hasBareWord, !hasValue else { return pending }
        rememberElement()
        return nil
    }

    /// To WHATWG, a start tag's `>`: whether its element holds raw text (not in foreign content, which a breakout tag
    /// ends), and whether it opens foreign content (`svg`, `math`, not self-closing) or an integration point in it.
    private mutating func enterWHATWGElement(selfClosing: Bool) {
        if foreignDepth > 0, !integration, Self.breakoutElements.contains(tagName) { (foreignDepth, integration) = (0, false) }
        let inForeign = foreignAlways || (!foreignNever && foreignDepth > 0 && !integration)
        rawTextElement = inForeign ? [] : Self.whatwgRawTextElements.first { $0 == tagName } ?? []
        guard !selfClosing else { return }
        if Self.foreignElements.contains(tagName) {
            (foreignDepth, integration) = (foreignDepth + 1, false)
        } else if inForeign, Self.integrationPoints.contains(tagName) {
            integration = true
        }
    }

    /// What was read since `<` was no tag: it counts for nothing, and a `<` begins another; a redacted element name
    /// it began with is remembered, for its end tag.
    @discardableResult
    private mutating func abandon(at byte: UInt8) -> Found? {
        rememberElement()
        pending = nil
        state = byte == UInt8(ascii: "<") ? .opened : .text
        return nil
    }

    private mutating func rememberElement() {
        guard let element = redactedElement.map({ $0.map(ASCIICase.lowercased) }) else { return }
        redactedElement = nil
        guard !suspects.contains(element) else { return }
        guard suspects.count < Self.maxSuspects else { return suspectsOverflowed = true }
        suspects.append(element)
    }

    /// An end tag's `>`: a remembered element's name, in any case, makes that element count; past ``maxSuspects``,
    /// any redacted one does.
    private mutating func endTagClosed(_ redacted: some EmbeddedNames) -> Found? {
        state = .text
        if html, !python {
            let ended = name.map(ASCIICase.lowercased)
            if foreignDepth > 0, Self.foreignElements.contains(ended) { foreignDepth -= 1 }
            if Self.integrationPoints.contains(ended) { integration = false }
        }
        guard !overlong else { return nil }
        guard suspects.contains(name.map(ASCIICase.lowercased)) || (suspectsOverflowed && redacted.redacts(name)) else { return nil }
        return .name(name)
    }

    /// Notes the name just read, if it is redacted (the tag's first such name is the one named).
    private mutating func check(_ redacted: some EmbeddedNames) {
        let found = overlong ? Found.overlongName : .name(name)
        if pending == nil, overlong || redacted.redacts(name) { pending = found }
    }

    /// A name's character: only its local part is kept, and only its first ``maxName`` bytes.
    private mutating func append(_ byte: UInt8) {
        if byte == UInt8(ascii: ":") {
            clearName()
        } else if name.count < Self.maxName {
            name.append(byte)
        } else {
            overlong = true
        }
    }

    private mutating func clearName() {
        name.removeAll(keepingCapacity: true)
        overlong = false
    }

    private static let cdataOpening = Array("[CDATA[".utf8)

    /// A `<!` that begins no comment, section or declaration read: no markup to XML, a bogus comment to HTML.
    private mutating func notDeclaration(_ byte: UInt8) {
        guard html else {
            abandon(at: byte)
            return
        }
        state = byte == UInt8(ascii: ">") ? .text : .bogusComment
    }

    /// How much of the raw-text element's end tag (`</name` and a delimiter) has been read after `byte`, from `matched`.
    private func rawTextEndMatched(after matched: Int, _ byte: UInt8) -> Int {
        let restart = byte == UInt8(ascii: "<") ? 1 : 0
        switch matched {
        case 0: return restart
        case 1: return byte == UInt8(ascii: "/") ? 2 : restart
        // Python's parser (3.11) also reads `</ style>` as the end tag.
        case 2 where python && isSpace(byte): return 2
        case 2 + rawTextElement.count: return isSpace(byte) || byte == UInt8(ascii: "/") || byte == UInt8(ascii: ">") ? matched + 1 : restart
        default: return ASCIICase.lowercased(byte) == rawTextElement[matched - 2] ? matched + 1 : restart
        }
    }

    /// The characters besides U+0085 and U+2028 that Python's `str.isspace` accepts, which its HTML parser splits
    /// attributes at, by their UTF-8 bytes.
    private static let unicodeSpaces: Set<[UInt8]> = Set(
        [0xa0, 0x1680, 0x2029, 0x202f, 0x205f, 0x3000].map { Array(String(Unicode.Scalar(UInt32($0))!).utf8) }
            + (0x2000...0x200a).map { Array(String(Unicode.Scalar(UInt32($0))!).utf8) }
    )

    /// White space: XML's, and to HTML the form feed too.
    private func isSpace(_ byte: UInt8) -> Bool { XMLName.isSpace(byte) || (html && byte == 0x0c) }

    /// A character a tag's or a declaration's name begins with: to HTML an ASCII letter; to XML ``XMLName``'s, or the
    /// `:` a qualified name may begin with to a parser.
    private func isTagStart(_ byte: UInt8) -> Bool {
        html ? (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") : Self.isNameStart(byte)
    }

    /// A name's first character as bytes (``XMLName``'s, or the `:` a qualified name may begin with to a parser).
    private static func isNameStart(_ byte: UInt8) -> Bool { XMLName.isStart(byte) || byte == UInt8(ascii: ":") }
}
