import Testing
@testable import WarrantGateCore

@Suite("XML redaction")
struct XMLRedactionTests {
    static let nc = "urn:example:nc"
    static let person = "http://example.org/ns/person"
    static let soap11 = "http://schemas.xmlsoap.org/soap/envelope/"
    static let soap12 = "http://www.w3.org/2003/05/soap-envelope"
    static let dsig = "http://www.w3.org/2000/09/xmldsig#"
    static let names = ["{\(nc)}Citizenship", "{\(nc)}BirthCountry", "{\(person)}Passport", "immigrationStatus"]

    /// What one way of feeding a document gave.
    private enum Outcome: Equatable, CustomStringConvertible {
        case kept([UInt8], removed: Int)
        case refused(RedactionError.Kind)

        var description: String {
            switch self {
            case .kept(let output, let removed): "kept \(String(decoding: output, as: UTF8.self).debugDescription), \(removed) removed"
            case .refused(let kind): "refused (\(kind))"
            }
        }
    }

    /// Feeds `document` in the pieces that end at `cuts`, each piece from its own buffer.
    private static func outcome(_ document: [UInt8], cuts: [Int], names: RedactedNames, limits: XMLRedaction.Limits) -> (Outcome, RedactionError?) {
        let redaction = XMLRedaction(names: names, limits: limits)
        var output: [UInt8] = []
        var start = 0
        do {
            for end in cuts + [document.count] where end >= start {
                let piece = Array(document[start..<end])
                try piece.withUnsafeBytes { piece in try redaction.feed(piece) { output.append(contentsOf: $0) } }
                start = end
            }
            try redaction.finish { output.append(contentsOf: $0) }
        } catch let error as RedactionError {
            return (.refused(error.kind), error)
        } catch {
            Issue.record("unexpected error \(error)")
            return (.refused(.malformed), nil)
        }
        return (.kept(output, removed: redaction.removed), nil)
    }

    /// Redacts `document` whole, cut in two at every position, and a byte at a time: every way must give the same
    /// output and count, or be refused the same way. Returns the output, or throws the refusal.
    @discardableResult
    /// `lifted`: field names a permit lifted, so that a qualified name of that local name matches only exactly.
    private func redact(
        _ document: [UInt8], names: [String] = Self.names, lifted: [String] = [], limits: XMLRedaction.Limits = .init(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (output: String, removed: Int) {
        let names = RedactedNames(names, lifted: lifted)
        let (whole, error) = Self.outcome(document, cuts: [], names: names, limits: limits)
        var splits = (1..<max(document.count, 1)).map { [$0] }
        splits.append(Array(0..<document.count))
        for cuts in splits {
            let (split, _) = Self.outcome(document, cuts: cuts, names: names, limits: limits)
            guard split == whole else {
                Issue.record("cut at \(cuts.count == 1 ? "\(cuts[0])" : "every byte"): \(split), but whole: \(whole) \(error.map { "\($0)" } ?? "")", sourceLocation: sourceLocation)
                break
            }
        }
        if let error { throw error }
        guard case .kept(let output, let removed) = whole else { throw RedactionError(.malformed, "no error", offset: 0) }
        return (String(decoding: output, as: UTF8.self), removed)
    }

    @discardableResult
    private func redact(
        _ document: String, names: [String] = Self.names, lifted: [String] = [], limits: XMLRedaction.Limits = .init(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (output: String, removed: Int) {
        try redact(Array(document.utf8), names: names, lifted: lifted, limits: limits, sourceLocation: sourceLocation)
    }

    /// The refusal of `document` (fed every way, each refused alike), or nil if it was redacted.
    private func refusal(
        _ document: [UInt8], names: [String] = Self.names, limits: XMLRedaction.Limits = .init(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> RedactionError.Kind? {
        do {
            let (output, _) = try redact(document, names: names, limits: limits, sourceLocation: sourceLocation)
            Issue.record("not refused; gave \(output)", sourceLocation: sourceLocation)
            return nil
        } catch let error as RedactionError {
            return error.kind
        } catch {
            return nil
        }
    }

    private func refusal(
        _ document: String, names: [String] = Self.names, limits: XMLRedaction.Limits = .init(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> RedactionError.Kind? {
        refusal(Array(document.utf8), names: names, limits: limits, sourceLocation: sourceLocation)
    }

    // MARK: Removing

    @Test("removes matched elements with their descendants, and counts them")
    func removesWithDescendants() throws {
        let (output, removed) = try redact("""
            <?xml version="1.0" encoding="UTF-8"?>
            <nc:Person xmlns:nc="\(Self.nc)"><nc:Name>Ana</nc:Name>
              <nc:Citizenship code="X"><nc:Country>Y<nc:Citizenship/></nc:Country>text</nc:Citizenship>
              <nc:BirthCountry/><nc:Age>3</nc:Age><nc:BirthCountry >Z</nc:BirthCountry ></nc:Person>
            """)
        #expect(output == """
            <?xml version="1.0" encoding="UTF-8"?>
            <nc:Person xmlns:nc="\(Self.nc)"><nc:Name>Ana</nc:Name><nc:Age>3</nc:Age></nc:Person>
            """)
        #expect(removed == 3)
        // A redacted root would leave no document.
        #expect(refusal("<nc:Citizenship xmlns:nc='\(Self.nc)'>x</nc:Citizenship>") == .refused)
        #expect(refusal("\n<immigrationStatus/>\n") == .refused)
    }

    /// An attacker's pass: an element named as a flattened path (`inmate.citizenship`) folded to `inmatecitizenship`
    /// and was kept; its parts are names, as in JSON keys.
    @Test("an element or attribute named as a flattened path is removed by its parts")
    func flattenedPathNames() throws {
        let (output, removed) = try redact("""
            <r><inmate.citizenship>MX</inmate.citizenship><a inmate.immigration_status="Y" b="1"/><inmate.name>Ana</inmate.name></r>
            """)
        #expect(output == "<r><a b=\"1\"/><inmate.name>Ana</inmate.name></r>")
        #expect(removed == 2)
    }

    /// A blank line where an element was would tell that the record had one (a records system may write an
    /// immigration element only for the inmates it applies to): the whitespace alone before a removed element goes
    /// with it, so an indented record reads as if it never had the element, wherever it stood.
    @Test("an indented record shows no trace of a removed element", arguments: [
        ("<r>\n  <a>1</a>\n  <immigrationStatus>x</immigrationStatus>\n  <b>2</b>\n</r>", "<r>\n  <a>1</a>\n  <b>2</b>\n</r>"),
        ("<r>\n  <immigrationStatus>x</immigrationStatus>\n  <a>1</a>\n</r>", "<r>\n  <a>1</a>\n</r>"),
        ("<r>\n  <a>1</a>\n  <immigrationStatus/>\n</r>", "<r>\n  <a>1</a>\n</r>"),
        ("<r>\r\n\t<a>1</a>\r\n\t<immigrationStatus/>\r\n\t<immigrationStatus/>\r\n</r>", "<r>\r\n\t<a>1</a>\r\n</r>"),
        ("<r>\n  <!-- c -->\n  <immigrationStatus/>\n</r>", "<r>\n  <!-- c -->\n</r>"),
        // Text that is more than whitespace is the record's, and stays.
        ("<r>note: <immigrationStatus/> end</r>", "<r>note:  end</r>"),
        ("<r>&#32;<immigrationStatus/></r>", "<r>&#32;</r>"),
    ])
    func noTraceOfRemoval(document: String, expected: String) throws {
        #expect(try redact(document).output == expected)
    }

    @Test("removes matched attributes from kept tags, with the space before them; never a namespace declaration")
    func removesAttributes() throws {
        let (output, removed) = try redact("""
            <r xmlns:n="\(Self.nc)" xmlns:o="urn:other"><p id="1" citizenship="GT"\n n:Citizenship='GT' o:Citizenship="kept" \
            Name="x"/><q xmlns:citizenship="urn:c" citizenship:a="1"/></r>
            """, names: Self.names + ["citizenship"])
        // The field name takes the attribute in any namespace; a prefix of that name is no match.
        #expect(output == """
            <r xmlns:n="\(Self.nc)" xmlns:o="urn:other"><p id="1" \
            Name="x"/><q xmlns:citizenship="urn:c" citizenship:a="1"/></r>
            """)
        #expect(removed == 3)
        // In a SOAP header a redacted attribute withholds the envelope, as an element would.
        #expect(refusal(#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h citizenship="GT"/></s:Header><s:Body/></s:Envelope>"#, names: ["citizenship"]) == .refused)
    }

    @Test("passes a document with nothing to remove byte for byte")
    func nothingToRemove() throws {
        let documents = [
            "<a/>",
            "\u{FEFF}<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\r\n<!-- c -->\n<?app x=\"1\"?>\n<r a=\"1 &amp; &#65;&#x42; &lt;&gt;&quot;&apos;\" b='\"'>\t"
                + "text é ü 😀 &amp; ] ]] > <![CDATA[<nc:Citizenship>]]]]><e\n/><?p?></r\t>\n<!---->\n",
            "<?xml version=\"1.0\" encoding=\"US-ASCII\"?><r>&#xE9;</r>",
            "<nc:Person xmlns:nc='\(Self.nc)'><nc:Name>&lt;nc:Citizenship/&gt;</nc:Name><nc:citizenship/><Citizenship/></nc:Person>",
        ]
        for document in documents {
            #expect(try redact(document, lifted: ["citizenship"]) == (document, 0))
        }
    }

    @Test("a ']' run in text is ended by ordinary text: ']x]>' is not ']]>'")
    func bracketsInText() throws {
        for document in ["<a>]x]></a>", "<a>]]x></a>", "<a>]] ]></a>", "<a>x]&amp;]></a>", "<a>]]]<b/>></a>"] {
            #expect(try redact(document) == (document, 0))
        }
    }

    // MARK: Namespaces

    @Test("matches by namespace URI, under any prefix or as the default namespace")
    func prefixes() throws {
        #expect(try redact("<x:R xmlns:x='\(Self.nc)'><x:Citizenship/><x:Keep/></x:R>") == ("<x:R xmlns:x='\(Self.nc)'><x:Keep/></x:R>", 1))
        #expect(try redact("<R xmlns='\(Self.nc)'><Citizenship>1</Citizenship><Keep/></R>") == ("<R xmlns='\(Self.nc)'><Keep/></R>", 1))
        #expect(try redact("<a><Citizenship xmlns='\(Self.nc)'/></a>") == ("<a></a>", 1))
        // The element's own declaration binds its name.
        #expect(try redact("<a><p:BirthCountry xmlns:p=\"\(Self.nc)\" p:x='1'/><b/></a>") == ("<a><b/></a>", 1))
    }

    /// With `citizenship` lifted, `{nc}Citizenship` matches only in its own namespace: where the prefix points counts.
    @Test("follows a prefix rebound to another URI in an inner scope, and back")
    func rebinding() throws {
        let (output, removed) = try redact("""
            <p:R xmlns:p="\(Self.nc)"><p:Wrap xmlns:p="urn:other"><p:Citizenship/><q:Citizenship xmlns:q="\(Self.nc)"/></p:Wrap>\
            <p:Citizenship/><p:Wrap xmlns:p="urn:other"/><p:BirthCountry/></p:R>
            """, lifted: ["citizenship"])
        #expect(output == #"<p:R xmlns:p="\#(Self.nc)"><p:Wrap xmlns:p="urn:other"><p:Citizenship/></p:Wrap><p:Wrap xmlns:p="urn:other"/></p:R>"#)
        #expect(removed == 3)
        // The default namespace rebound, then in force again.
        let (second, count) = try redact("<R xmlns='\(Self.nc)'><W xmlns='urn:other'><Citizenship/></W><Citizenship/></R>", lifted: ["citizenship"])
        #expect(second == "<R xmlns='\(Self.nc)'><W xmlns='urn:other'><Citizenship/></W></R>")
        #expect(count == 1)
    }

    @Test("xmlns=\"\" undeclares the default namespace: its elements are in no namespace, where qualified names miss")
    func undeclaringDefault() throws {
        let (output, removed) = try redact("""
            <R xmlns="\(Self.nc)"><I xmlns=""><Citizenship/><IMMIGRATIONSTATUS/></I><Citizenship/><Keep/></R>
            """, lifted: ["citizenship"])
        #expect(output == #"<R xmlns="\#(Self.nc)"><I xmlns=""><Citizenship/></I><Keep/></R>"#)
        #expect(removed == 2)
    }

    /// An attacker's pass: NIEM's `PersonCitizenshipText` in no namespace, or in a county's own, passed in XML while
    /// the same name was removed from JSON.
    @Test("a qualified name's local name is a field name: removed in a foreign namespace or none, in any letter case, unless lifted")
    func foreignNamespace() throws {
        let document = """
            <r xmlns:o="urn:other" xmlns:nc="\(Self.nc)"><o:Citizenship/><nc:citizenship/>\
            <nc:Passport/><r Citizenship="x" o:Citizenship="y" nc:citizenship="z"/><Keep/></r>
            """
        #expect(try redact(document) == (#"<r xmlns:o="urn:other" xmlns:nc="\#(Self.nc)"><r/><Keep/></r>"#, 6))
        // Lifted by a permit, the local name is no field name: only the exact qualified name is removed.
        #expect(try redact(document, lifted: ["citizenship", "passport"]) == (document, 0))
    }

    @Test("matches a namespace URI written with character references")
    func escapedNamespace() throws {
        let (output, removed) = try redact("""
            <r xmlns:q="http:&#x2F;&#x2F;example.org&#47;ns/person"><q:Passport>1</q:Passport><Passport xmlns="http://example.org&#x2f;ns&#x2F;person"/>\
            <n:Citizenship xmlns:n="urn&#x3A;example&#58;nc"/><q:Keep/></r>
            """)
        #expect(output == #"<r xmlns:q="http:&#x2F;&#x2F;example.org&#47;ns/person"><q:Keep/></r>"#)
        #expect(removed == 3)
    }

    @Test("field names match elements and attributes by local name, in any namespace or none, in any letter case")
    func fieldNames() throws {
        let (output, removed) = try redact("""
            <r xmlns:o="urn:other"><immigrationStatus/><ImmigrationStatus>x</ImmigrationStatus><IMMIGRATIONSTATUS a="1"/>\
            <o:immigrationStatus/><immigrationStatusX/><s xmlns="urn:other" o:ImmigrationStatus="y"><immigrationStatus/></s></r>
            """)
        #expect(output == #"<r xmlns:o="urn:other"><immigrationStatusX/><s xmlns="urn:other"></s></r>"#)
        #expect(removed == 6)
        // What a .NET DataContractSerializer writes when a client asks for XML instead of JSON.
        let contract = #"<InmateRecord xmlns="http://schemas.datacontract.org/2004/07/Jail"><Name>A</Name><ImmigrationStatus>x</ImmigrationStatus></InmateRecord>"#
        #expect(try redact(contract) == (#"<InmateRecord xmlns="http://schemas.datacontract.org/2004/07/Jail"><Name>A</Name></InmateRecord>"#, 1))
        // Not in the protocols' own namespaces, which frame a message rather than carry its data: a SOAP 1.2 fault's
        // Code and Reason, WS-Addressing's Address in a Header, XML Schema's type attribute.
        let framed = """
            <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing" \
            xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><s:Header><a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/none\
            </a:Address></a:ReplyTo></s:Header><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code>\
            <s:Reason><s:Text xml:lang="en">no</s:Text></s:Reason><s:Detail><d i:type="x"><Address>1 Main St</Address></d></s:Detail>\
            </s:Fault></s:Body></s:Envelope>
            """
        let names = Self.names + ["address", "code", "reason", "value", "text", "type", "lang"]
        #expect(try redact(framed, names: names) == (framed.replacingOccurrences(of: "<Address>1 Main St</Address>", with: ""), 1))
        // Data that inherits a protocol's namespace is data all the same; `xml:` attributes are XML's own.
        let inherited = """
            <Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><Resp xml:id="r1"><alienNumber>A1</alienNumber>\
            <Name>A</Name></Resp></Body></Envelope>
            """
        #expect(try redact(inherited, names: ["alienNumber", "id"]) == (inherited.replacingOccurrences(of: "<alienNumber>A1</alienNumber>", with: ""), 1))
        // XML Signature's and XML's own names are framing; any other name in their namespaces is data.
        let dsig = "http://www.w3.org/2000/09/xmldsig#"
        #expect(try redact("<r><immigrationStatus xmlns='\(dsig)'>x</immigrationStatus><k xmlns:ds='\(dsig)' ds:immigrationStatus='y' xml:immigrationStatus='z'/></r>")
            == ("<r><k xmlns:ds='\(dsig)'/></r>", 3))
        let keyInfo = "<r xmlns:ds='\(dsig)'><ds:KeyInfo><ds:KeyName>k</ds:KeyName></ds:KeyInfo></r>"
        #expect(try redact(keyInfo, names: Self.names + ["keyInfo", "keyName"]) == (keyInfo, 0))
        // A qualified name's local name matches an element in no namespace, unless lifted.
        #expect(try redact("<r><Citizenship/></r>").removed == 1)
        #expect(try redact("<r><Citizenship/></r>", lifted: ["citizenship"]).removed == 0)
    }

    @Test("field names match elements and attributes whatever separates their words")
    func separatedFieldNames() throws {
        let (output, removed) = try redact("""
            <r><immigration_status>x</immigration_status><Immigration-Status/><IMMIGRATION.STATUS/>\
            <p immigration_status="y" immigration_stat="z"/><immigration_stat/></r>
            """)
        #expect(output == #"<r><p immigration_stat="z"/><immigration_stat/></r>"#)
        #expect(removed == 4)
        #expect(try redact(#"<r><country_of_birth>X</country_of_birth></r>"#, names: ["countryOfBirth"]) == ("<r></r>", 1))
        #expect(try redact("<r><ımmigrationStatus/><p ımmıgratıon-status='x'/></r>") == ("<r><p/></r>", 2))
    }

    // MARK: Comments, processing instructions, CDATA

    @Test("keeps comments, processing instructions and CDATA outside removed elements, and removes them inside")
    func commentsAndCDATA() throws {
        let (output, removed) = try redact("""
            <!--a--><?p a?><r xmlns:nc="\(Self.nc)"><!--b--><?q b?><![CDATA[c]]><nc:Citizenship><!--x--><?x x?><![CDATA[x]]>\
            <nc:Citizenship/></nc:Citizenship><!--d--></r><!--e--><?r e?>
            """)
        #expect(output == #"<!--a--><?p a?><r xmlns:nc="\#(Self.nc)"><!--b--><?q b?><![CDATA[c]]><!--d--></r><!--e--><?r e?>"#)
        #expect(removed == 1)
    }

    /// (Escaped markup naming a redacted field, in text or in an attribute's value, is refused: see
    /// ``escapedMarkupRefused(document:)``.)
    @Test("a redacted name inside a comment, a processing instruction or an attribute value is text, not an element")
    func namesAsText() throws {
        let document = """
            <r xmlns:nc="\(Self.nc)"><![CDATA[<nc:Keep>]]><!-- <nc:Citizenship/> -->\
            <?p <immigrationStatus/>?>&lt;keep/&gt;&lt; immigrationStatus<a b="immigration status of" c="&lt;keep/&gt;"/></r>
            """
        #expect(try redact(document) == (document, 0))
    }

    /// An attacker's pass: a records system that keeps fields as data (.NET's serialized dictionaries, Java's
    /// properties, custom fields) handed the field on under names of its own: `<Key>Citizenship</Key><Value>MX</Value>`.
    /// Kept text since the last tag, or a kept attribute's value, that spells a redacted name of six bytes or more
    /// refuses the document, however it is written; inside a removed element it goes with it.
    @Test("an element's text or an attribute's value that spells a redacted field's name refuses the document", arguments: [
        "<r><KeyValueOfstringstring><Key>Citizenship</Key><Value>MX</Value></KeyValueOfstringstring></r>",
        #"<r><entry key="ImmigrationStatus">removable</entry></r>"#, "<r><field name='immigration_status' value='x'/></r>",
        "<r><Key>\n  Immigration Status\n</Key></r>", "<r><Key>&#73;mmigrationStatus</Key></r>", "<r><Key><![CDATA[citizenship]]></Key></r>",
        "<r><Key>citi<!-- -->zenship</Key></r>", "<r><Key>citizen<?p?>ship</Key></r>", "<r><Key>inmate.citizenship</Key></r>",
        "<r><Key><b/>Citizenship</Key></r>", #"<r><a k="&#x63;itizenship"/></r>"#,
        // A review's pass: text before a child element, a name joined by the removal between its halves, padding,
        // a path with an index, and character references padded with zeros.
        "<r><Key>Citizenship<x/></Key><Value>MX</Value></r>", "<r><Key>Citi<immigrationStatus/>zenship</Key></r>",
        "<r><Key>Citizenship\(String(repeating: " ", count: 2000))</Key></r>", "<r><Key>/inmates/2017-000123/citizenship</Key></r>",
        #"<r><a k="\#(String(repeating: "&#x0000000000000000000063;", count: 1))itizenship"/></r>"#,
    ])
    func namesAsValues(document: String) {
        #expect(refusal(document) == .refused)
    }

    @Test("a short name, a longer word, or a name inside a removed element is no record of names and values")
    func namesAsValuesKept() throws {
        for document in ["<r><Key>pob</Key></r>", "<r><Key>citizenships</Key><Key>the citizenship</Key></r>",
                         "<r><Key>Status: citizenship pending</Key></r>",
                         #"<r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://x/citizenship/1.0/r.xsd"/>"#,
                         "<r><immigrationStatus>citizenship</immigrationStatus></r>", #"<r><immigrationStatus k="citizenship"/></r>"#] {
            #expect(throws: Never.self, "\(document)") { try redact(document, names: Self.names + ["pob"]) }
        }
    }

    /// An attacker's pass: a record returned as an escaped XML string (`GetBookingResult` of a legacy .NET service), or
    /// in a CDATA section, passed with citizenship in it; the client parses that string too.
    @Test("text or CDATA holding markup that names a redacted field is refused; inside a removed element it goes with it", arguments: [
        "<r>&lt;citizenship&gt;MX&lt;/citizenship&gt;</r>", "<r>x &#60;nc:Citizenship>MX</r>", "<r>&#x3c;/immigrationStatus&gt;</r>",
        "<r><![CDATA[<Person><citizenship>MX</citizenship></Person>]]></r>", "<r><![CDATA[a<p:IMMIGRATION_STATUS/>]]></r>",
        // A re-pass: other spellings of the `<`, and a name spelled with character references.
        "<r>&#0060;citizenship&gt;MX</r>", "<r>&lt;&#99;itizenship&gt;MX</r>", "<r>&lt;&#x43;itizenship&#x3E;MX</r>", "<r>&lt;citizenship x='1'/&gt;</r>",
        // A hostile upstream's pass: the name split by a comment, a processing instruction or a CDATA section, which a
        // client reading the element's text reads across.
        "<r><d>&lt;citi<!-- -->zenship&gt;MX</d></r>", "<r><d>&lt;citi<![CDATA[zenship>MX]]></d></r>", "<r><d>&lt;citi<?x?>zenship>MX</d></r>",
        // A re-pass: the name starting in, or passing through, a CDATA section.
        "<r><d>&lt;citi<![CDATA[zen]]>ship&gt;MX</d></r>", "<r><d><![CDATA[<citi]]>zenship&gt;MX</d></r>",
        "<r><d><![CDATA[<citi]]><![CDATA[zenship>MX]]></d></r>",
        // A third re-pass: in a kept attribute's value, as markup or as a serialized JSON document.
        #"<r><d v="&lt;citizenship&gt;MX"/></r>"#, #"<r><d v="&#60;citizenship&#62;MX"/></r>"#, #"<r><d v='{"citizenship":"MX"}'/></r>"#,
        #"<r><d v="{&quot;citizenship&quot;:&quot;MX&quot;}"/></r>"#,
        // A fuzzing pass: markup escaped as JSON in text, a CDATA section or a value, which a client reads by parsing
        // the text as JSON, then as XML; and after a reference, refused whole but not when cut after it.
        #"<r><note>{"d":"\u003ccitizenship\u003eMX"}</note></r>"#, #"<r><![CDATA[{"d":"\u003ccitizenship\u003eMX"}]]></r>"#,
        #"<r a="\u003ccitizenship\u003e"/>"#, #"<r>&lt;p;\u003ccitizenship\u003e</r>"#, #"<r>&#92;u003ccitizenship&#92;u003e</r>"#,
        // …and escaped markup read as HTML reads it: an empty comment, a bogus comment, a `/` inside a tag.
        #"<r><n>&lt;!--&gt;&lt;a citizenship="MX"&gt;</n></r>"#, #"<r><n>&lt;?x&gt;&lt;a citizenship="MX"&gt;</n></r>"#,
        #"<r><n>&lt;![CDATA[&gt;&lt;a citizenship="MX"&gt;</n></r>"#, #"<r><n>&lt;a/citizenship=MX&gt;</n></r>"#,
        #"<r><n>&lt;!DOCTYPE x '&gt;&lt;p citizenship="MX"/&gt;</n></r>"#,
        #"<r><n>{"d":"\u003c!DOCTYPE x \"\u003e\u003ccitizenship\u003eMX\u003c/citizenship\u003e"}</n></r>"#,
    ])
    func escapedMarkupRefused(document: String) {
        #expect(refusal(Array(document.utf8), names: Self.names + ["citizenship"]) == .refused, "\(document)")
    }

    /// A re-pass: a quote before the first backslash of a piece was not read, so a tag of words remembered before it
    /// outlived it only when the body was cut there.
    @Test("text escaped as JSON is read alike however the body is cut")
    func escapedTextReadAlikeInPieces() throws {
        _ = try? redact(#"<n>\u003ccitizenship x\u003eMX" \u003c/citizenship\u003e</n>"#, names: Self.names + ["citizenship"])
    }

    /// A re-pass: an address in angle brackets withheld the whole record.
    @Test("a < before a name that does not end as a tag's does (an address, a stray bracket) is no markup", arguments: [
        "<r>ICE ERO Liaison &lt;immigration@denvergov.org&gt;</r>", "<r><![CDATA[x <nationality@county.example> y]]></r>",
        "<r>&lt;citizenship</r>", "<r>&lt;citizenship&lt;b&gt;</r>", "<r>a &lt; citizenship &gt; b</r>",
        "<r><![CDATA[<citizenship]]]>x</r>", "<r>price &lt; 5<![CDATA[ ok ]]></r>",
        #"<r><d v="a &lt; citizenship &gt; b" w='"quoted" text'/></r>"#,
    ])
    func bracketsThatAreNoMarkup(document: String) throws {
        #expect(try redact(document, names: Self.names + ["citizenship", "nationality"]) == (document, 0))
    }

    @Test("escaped markup inside a removed element goes with it")
    func escapedMarkupRemoved() throws {
        let (output, removed) = try redact("<r><immigrationStatus>&lt;citizenship&gt;<![CDATA[<citizenship>]]></immigrationStatus>kept</r>")
        #expect(output == "<r>kept</r>" && removed == 1)
    }

    @Test("markup-like text inside a removed element does not end it early")
    func fakeEndTags() throws {
        let (output, removed) = try redact("""
            <r xmlns:nc="\(Self.nc)"><nc:Citizenship>a<!-- </nc:Citizenship> -->b<![CDATA[</nc:Citizenship>]]>c\
            <?p </nc:Citizenship>?>&lt;/nc:Citizenship&gt;<x a="&lt;/nc:Citizenship>"/></nc:Citizenship>kept</r>
            """)
        #expect(output == #"<r xmlns:nc="\#(Self.nc)">kept</r>"#)
        #expect(removed == 1)
    }

    // MARK: SOAP

    @Test("redacts a SOAP 1.1 or 1.2 body, passes an unredacted header, and refuses a redacted element in the header",
          arguments: [XMLRedactionTests.soap11, XMLRedactionTests.soap12])
    func soap(envelope: String) throws {
        let body = "<s:Body><nc:Person xmlns:nc='\(Self.nc)'><nc:Citizenship/><nc:Name/></nc:Person></s:Body>"
        let header = "<s:Header><h:Trace xmlns:h='urn:trace' s:mustUnderstand='1'>t</h:Trace></s:Header>"
        let (output, removed) = try redact("<s:Envelope xmlns:s='\(envelope)'>\(header)\(body)</s:Envelope>")
        #expect(output == "<s:Envelope xmlns:s='\(envelope)'>\(header)<s:Body><nc:Person xmlns:nc='\(Self.nc)'><nc:Name/></nc:Person></s:Body></s:Envelope>")
        #expect(removed == 1)
        // Without a header, and the body in the default namespace.
        #expect(try redact("<Envelope xmlns='\(envelope)'><Body><immigrationStatus xmlns=''/></Body></Envelope>")
            == ("<Envelope xmlns='\(envelope)'><Body></Body></Envelope>", 1))
        // Redacted elements in the header, or in another child of the envelope.
        #expect(refusal("<s:Envelope xmlns:s='\(envelope)'><s:Header><immigrationStatus/></s:Header>\(body)</s:Envelope>") == .refused)
        #expect(refusal("<s:Envelope xmlns:s='\(envelope)'><s:Header><w><nc:Citizenship xmlns:nc='\(Self.nc)'/></w></s:Header><s:Body/></s:Envelope>") == .refused)
        #expect(refusal("<s:Envelope xmlns:s='\(envelope)'><x><immigrationStatus/></x><s:Body/></s:Envelope>") == .refused)
        // A Body of the other SOAP version is not this envelope's body.
        let other = envelope == Self.soap11 ? Self.soap12 : Self.soap11
        #expect(refusal("<s:Envelope xmlns:s='\(envelope)'><o:Body xmlns:o='\(other)'><immigrationStatus/></o:Body></s:Envelope>") == .refused)
    }

    // MARK: XML-DSig

    @Test("refuses a signed document with something to remove, whether the signature comes before or after it")
    func signed() throws {
        let signature = "<ds:Signature xmlns:ds='\(Self.dsig)'><ds:SignedInfo/><ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>"
        #expect(refusal("<r>\(signature)<immigrationStatus/></r>") == .signed)
        #expect(refusal("<r><immigrationStatus/>\(signature)</r>") == .signed)
        #expect(refusal("<r><immigrationStatus>\(signature)</immigrationStatus></r>") == .signed)
        #expect(refusal("<Signature xmlns='\(Self.dsig)'><x xmlns=''><immigrationStatus/></x></Signature>") == .signed)
        let wsSecurity = """
            <s:Envelope xmlns:s="\(Self.soap11)"><s:Header><wsse:Security xmlns:wsse="urn:wsse">\(signature)</wsse:Security></s:Header>\
            <s:Body><nc:Citizenship xmlns:nc="\(Self.nc)"/></s:Body></s:Envelope>
            """
        #expect(refusal(wsSecurity) == .signed)
        // Signed, with nothing to remove: passed unchanged.
        let untouched = wsSecurity.replacingOccurrences(of: "Citizenship", with: "Name")
        #expect(try redact(untouched) == (untouched, 0))
        #expect(try redact("<r>\(signature)<keep/></r>") == ("<r>\(signature)<keep/></r>", 0))
        // A Signature in another namespace is no signature.
        #expect(try redact("<r><Signature/><immigrationStatus/></r>") == ("<r><Signature/></r>", 1))
    }

    // MARK: Hostile input

    @Test("refuses DTDs: a DOCTYPE, billion laughs, an external entity")
    func doctype() {
        #expect(refusal("<!DOCTYPE r><r/>") == .refused)
        #expect(refusal("<?xml version=\"1.0\"?>\n<!DOCTYPE r SYSTEM \"http://example.org/r.dtd\"><r/>") == .refused)
        let laughs = """
            <?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\
            <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>
            """
        #expect(refusal(laughs) == .refused)
        #expect(refusal(#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#) == .refused)
        #expect(refusal("<r/><!DOCTYPE r>") == .refused)
        #expect(refusal("<!ENTITY e 'x'><r/>") == .malformed)
        #expect(refusal("<r><!ELEMENT r ANY></r>") == .malformed)
    }

    @Test("refuses XInclude and undefined entities")
    func xincludeAndEntities() {
        #expect(refusal(#"<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd" parse="text"/></r>"#) == .refused)
        #expect(refusal(#"<r><include xmlns="http://www.w3.org/2003/XInclude" href="x"/></r>"#) == .refused)
        #expect(refusal("<r>&foo;</r>") == .refused)
        #expect(refusal("<r a='&foo;'/>") == .refused)
        #expect(refusal("<r>&amp</r>") == .malformed)
        #expect(refusal("<r>& amp;</r>") == .malformed)
        #expect(refusal("<r>&#xZ;</r>") == .malformed)
        #expect(refusal("<r>&#X41;</r>") == .malformed)
        #expect(refusal("<r a='&'/>") == .malformed)
    }

    @Test("refuses nesting deeper than the limit")
    func depth() throws {
        let limits = XMLRedaction.Limits(maxDepth: 4, maxMarkupBytes: 1024)
        #expect(try redact("<a><a><a><a/></a></a></a>", limits: limits).output == "<a><a><a><a/></a></a></a>")
        #expect(refusal("<a><a><a><a><a/></a></a></a></a>", limits: limits) == .malformed)
        #expect(refusal("<a><a><a><immigrationStatus><a/></immigrationStatus></a></a></a>", limits: limits) == .malformed)
    }

    @Test("refuses more namespace declarations in scope than the limit, counted across nested elements")
    func namespaceBindingLimit() throws {
        let limits = XMLRedaction.Limits(maxNamespaceBindings: 4)
        func declarations(_ range: Range<Int>) -> String { range.map { " xmlns:p\($0)='u:\($0)'" }.joined() }
        let four = "<r\(declarations(0..<2))><s\(declarations(2..<4))/></r>"
        #expect(try redact(four, limits: limits).output == four)
        #expect(refusal("<r\(declarations(0..<2))><s\(declarations(2..<5))/></r>", limits: limits) == .malformed)
        #expect(refusal("<r xmlns='u:d'\(declarations(0..<4))/>", limits: limits) == .malformed)
        // Declarations leave scope with their element.
        let siblings = "<r\(declarations(0..<2))><s\(declarations(2..<4))/><t\(declarations(4..<6))/></r>"
        #expect(try redact(siblings, limits: limits).output == siblings)
    }

    @Test("refuses a markup token longer than the limit; comments, CDATA and text are not markup tokens")
    func markupLimit() throws {
        let limits = XMLRedaction.Limits(maxDepth: 8, maxMarkupBytes: 32)
        let tag = "<r a='" + String(repeating: "x", count: 32 - 8) + "'>" // 32 bytes
        #expect(try redact(tag + "</r>", limits: limits).output == tag + "</r>")
        #expect(refusal("<r a='" + String(repeating: "x", count: 32 - 7) + "'></r>", limits: limits) == .malformed)
        #expect(refusal("<r><?p " + String(repeating: "x", count: 40) + "?></r>", limits: limits) == .malformed)
        #expect(refusal("<r></r" + String(repeating: " ", count: 40) + ">", limits: limits) == .malformed)
        #expect(refusal("<r" + String(repeating: " ", count: 40), limits: limits) == .malformed)
        let long = String(repeating: "y", count: 200)
        let document = "<r><!--\(long)--><![CDATA[\(long)]]>\(long)</r>"
        #expect(try redact(document, limits: limits).output == document)
    }

    @Test("refuses encodings other than UTF-8 and US-ASCII, and bytes outside US-ASCII where it is declared")
    func encodings() {
        #expect(refusal("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>") == .refused)
        #expect(refusal("<?xml version=\"1.0\" encoding=\"UTF-16\"?><r/>") == .refused)
        #expect(refusal("<?xml version=\"1.1\"?><r/>") == .refused)
        #expect(refusal([0xff, 0xfe] + Array("<\0r\0/\0>\0".utf8)) == .malformed)
        #expect(refusal("<?xml version=\"1.0\" encoding=\"US-ASCII\"?><r>é</r>") == .malformed)
        #expect(refusal("<?xml version=\"1.0\" encoding=\"US-ASCII\"?><r><!-- é --></r>") == .malformed)
        #expect(refusal(" <?xml version=\"1.0\"?><r/>") == .malformed)
        #expect(refusal("<r/><?xml version=\"1.0\"?>") == .malformed)
        #expect(refusal("<?xml encoding=\"UTF-8\" version=\"1.0\"?><r/>") == .malformed)
    }

    @Test("refuses invalid UTF-8 and characters XML forbids")
    func invalidCharacters() {
        let sequences: [[UInt8]] = [
            [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xf0, 0x80, 0x80, 0xaf], // overlong
            [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], // surrogates
            [0x80], [0xbf], [0xc2], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xe2, 0x82, 0x41], // stray or cut short
            [0xf5, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xfe], [0xff], // beyond U+10FFFF
            [0xef, 0xbf, 0xbe], [0xef, 0xbf, 0xbf], // U+FFFE, U+FFFF
            [0x00], [0x01], [0x08], [0x0b], [0x0c], [0x1f], // C0 controls
        ]
        for bytes in sequences {
            #expect(refusal(Array("<r>".utf8) + bytes + Array("</r>".utf8)) == .malformed, "\(bytes)")
            #expect(refusal(Array("<r a='".utf8) + bytes + Array("'/>".utf8)) == .malformed, "\(bytes)")
            #expect(refusal(Array("<r><!--".utf8) + bytes + Array("--></r>".utf8)) == .malformed, "\(bytes)")
            #expect(refusal(Array("<r/>".utf8) + bytes) == .malformed, "\(bytes)")
        }
        for reference in ["&#0;", "&#1;", "&#x1F;", "&#xD800;", "&#xFFFE;", "&#x110000;", "&#99999999999;"] {
            #expect(refusal("<r>\(reference)</r>") == .malformed, "\(reference)")
            #expect(refusal("<r a='\(reference)'/>") == .malformed, "\(reference)")
        }
    }

    @Test("reads names, end tags and text eight bytes at a time: every byte at every place of a word")
    func wordBoundaries() throws {
        let letters = Array("abcdefghijklmnopq".utf8)
        for position in 0...letters.count {
            func name(inserting bytes: [UInt8]) -> [UInt8] { Array(letters[..<position]) + bytes + Array(letters[position...]) }
            // Name characters anywhere (a colon after the first letter); anything else ends the name too early.
            for bytes in [[UInt8(ascii: "-")], [UInt8(ascii: ".")], [UInt8(ascii: "_")], [UInt8(ascii: "9")], [UInt8(ascii: "Z")], [0xc3, 0xa9]] {
                let element = [UInt8(ascii: "x")] + name(inserting: bytes)
                let document = Array("<r><".utf8) + element + Array(" a='1'>t</".utf8) + element + Array("></r>".utf8)
                #expect(try redact(document).removed == 0, "\(bytes) at \(position)")
            }
            for byte in Array("!/@[`{~;,\u{7f}".utf8) where position > 0 {
                #expect(refusal(Array("<r><".utf8) + name(inserting: [byte]) + Array("/></r>".utf8)) == .malformed, "\(byte) at \(position)")
            }
            if position > 0, position < letters.count {
                let prefixed = name(inserting: [UInt8(ascii: ":")])
                let declared = Array("<r xmlns:\(String(decoding: letters[..<position], as: UTF8.self))='\(Self.nc)'><".utf8)
                #expect(try redact(declared + prefixed + Array("/></r>".utf8)).output.utf8.count > 0)
                #expect(refusal(Array("<r><a:".utf8) + prefixed + Array(" xmlns:a='urn:u'/></r>".utf8)) == .malformed, "two colons, \(position)")
            }
            // An end tag must repeat the name exactly: one byte changed, added or missing is refused.
            let start = Array("<r><".utf8) + letters + Array(">t</".utf8)
            var changed = letters
            if position < letters.count {
                changed[position] = UInt8(ascii: "Z")
                #expect(refusal(start + changed + Array("></r>".utf8)) == .malformed, "changed at \(position)")
                changed.remove(at: position)
                #expect(refusal(start + changed + Array("></r>".utf8)) == .malformed, "shortened at \(position)")
            }
            #expect(refusal(start + name(inserting: [UInt8(ascii: "a")]) + Array("></r>".utf8)) == .malformed, "lengthened at \(position)")
            // Text: a forbidden control anywhere is refused; tab, newline and carriage return pass.
            for byte: UInt8 in [0x00, 0x08, 0x0b, 0x1f] {
                #expect(refusal(Array("<r>".utf8) + name(inserting: [byte]) + Array("</r>".utf8)) == .malformed, "\(byte) at \(position)")
            }
            let spaced = Array("<r>".utf8) + name(inserting: [0x09, 0x0a, 0x0d]) + Array("</r>".utf8)
            #expect(try redact(spaced).output == String(decoding: spaced, as: UTF8.self))
        }
    }

    @Test("tells apart prefixes alike in their first eight bytes, and local names of every length around a word")
    func prefixesAndNameLengths() throws {
        let document = """
            <r xmlns:abcdefgh='\(Self.nc)' xmlns:abcdefgi='urn:other' xmlns:abcdefgh1='urn:other' xmlns:abcdefgh2='\(Self.nc)'>\
            <abcdefgh:Citizenship/><abcdefgi:Citizenship/><abcdefgh1:Citizenship/><abcdefgh2:Citizenship/></r>
            """
        #expect(try redact(document, lifted: ["citizenship"]) == ("""
            <r xmlns:abcdefgh='\(Self.nc)' xmlns:abcdefgi='urn:other' xmlns:abcdefgh1='urn:other' xmlns:abcdefgh2='\(Self.nc)'>\
            <abcdefgi:Citizenship/><abcdefgh1:Citizenship/></r>
            """, 2))
        let locals = (1...17).map { String("abcdefghijklmnopq".prefix($0)) }
        let names = locals.map { "{\(Self.nc)}\($0)" }
        for local in locals {
            let changed = local.dropLast() + "Z"
            let (output, removed) = try redact("<r xmlns:n='\(Self.nc)'><n:\(local)>x</n:\(local)><n:\(changed)/></r>", names: names)
            #expect(output == "<r xmlns:n='\(Self.nc)'><n:\(changed)/></r>" && removed == 1, "\(local)")
        }
    }

    @Test("refuses every strict prefix of a document")
    func truncated() throws {
        let document = """
            \u{FEFF}<?xml version="1.0"?><!--c--><r xmlns:nc="\(Self.nc)" a="&amp;"><nc:Citizenship>x</nc:Citizenship>\
            é<![CDATA[d]]>&#65;<?p q?><e/></r>
            """
        let bytes = Array(document.utf8)
        #expect(try redact(bytes).removed == 1)
        for end in 0..<bytes.count {
            #expect(refusal(Array(bytes[..<end])) == .malformed, "cut at \(end)")
        }
    }

    @Test("refuses what is not well-formed", arguments: [
        "", " ", "<r>", "<r></s>", "<r><s></r></s>", "<r/></r>", "<r/><s/>", "<r></r><r></r>", "x<r/>", "<r/>x", "<r/>&amp;",
        "<r>]]></r>", "<r>]]]></r>", "<r><!-- a -- b --></r>", "<r><!-- a ---></r>", "<r><!-></r>", "<r><![CDATA[x]></r>",
        "<![CDATA[x]]><r/>", "<r a='1' a='2'/>", "<r xmlns:p='urn:u' xmlns:q='urn:u' p:a='1' q:a='2'/>", "<p:r/>",
        "<r p:a='1'/>", "<r xmlns:p='urn:u'></r><p:s/>", "<r><p:s xmlns:p='urn:u'></p:s><p:t/></r>",
        "<p:r xmlns:p='urn:u' xmlns:q='urn:u'></q:r>", "<r a=1/>", "<r a='1'b='2'/>", "<r a='<'/>", "<1r/>", "<r:/>", "<:r/>",
        "<a:b:c xmlns:a='urn:u'/>", "<r / >", "<r></r >x", "< r/>", "<r xmlns:p=''/>", "<r xmlns:xmlns='urn:u'/>",
        "<r xmlns:xml='urn:u'/>", "<r xmlns='http://www.w3.org/XML/1998/namespace'/>", "<xmlns:r/>", "<?xml?><r/>",
        "<r><?xml version='1.0'?></r>", "<r><?x:y?></r>", "<r><??></r>", "<r><?p?x?></r>", "<r><!x></r>", "<r>&#;</r>",
        "\u{FEFF}\u{FEFF}<r/>",
    ])
    func refusesMalformed(document: String) {
        #expect(refusal(document) != nil)
    }

    @Test("checks a tag of many attributes for repeats (sorted, past a few) as it checks a few, by name and by namespace")
    func manyAttributes() throws {
        let distinct = (0..<150).map { " a\($0)=''" }.joined()
        let declared = " xmlns:p='urn:u' xmlns:q='urn:u'"
        let document = "<r\(declared)\(distinct) p:x='1' q:y='2'/>"
        #expect(try redact(document) == (document, 0))
        #expect(refusal("<r\(declared)\(distinct) a123=''/>") == .malformed)
        #expect(refusal("<r\(declared) a123=''\(distinct)/>") == .malformed)
        #expect(refusal("<r\(declared) p:a149=''\(distinct) q:a149=''/>") == .malformed)
        #expect(refusal("<r\(declared)\(distinct) z:a=''/>") == .malformed)
        // Redacted names among them go, as among a few.
        #expect(try redact("<r\(distinct) immigrationStatus='x'/>") == ("<r\(distinct)/>", 1))
    }

    @Test("hands on nothing it has not checked up to the refusal, and nothing of a removed element")
    func keptRunsBeforeRefusal() throws {
        let redaction = XMLRedaction(names: RedactedNames(Self.names))
        var output: [UInt8] = []
        #expect(throws: RedactionError.self) {
            try Array("<r><immigrationStatus>secret</immigrationStatus><x/>&foo;".utf8).withUnsafeBytes { bytes in
                try redaction.feed(bytes) { output.append(contentsOf: $0) }
            }
        }
        #expect(!String(decoding: output, as: UTF8.self).contains("secret"))
        // What was handed on is the checked, kept part, or less of it.
        #expect("<r><x/>".hasPrefix(String(decoding: output, as: UTF8.self)))
    }
}
