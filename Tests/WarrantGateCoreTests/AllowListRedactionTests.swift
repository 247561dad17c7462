import Foundation
import Testing
@testable import WarrantGateCore

/// Allow-lists (`return-only:`) as the response redactor applies them: a record's top-level fields not named are
/// removed as redacted ones are, in JSON (the root object, or each object of a root array), XML (the root element's
/// children) and SOAP (the children of the Body's element). Every document is redacted whole and a byte at a time,
/// and both must agree.
@Suite("Allow-list redaction")
struct AllowListRedactionTests {
    enum Outcome: Equatable {
        case kept(String)
        case refused(RedactionError.Kind)

        var text: String? {
            if case .kept(let text) = self { return text }
            return nil
        }
    }

    static func run(_ redactor: ResponseRedactor, _ type: RedactableMediaType, _ input: [UInt8], pieceSize: Int?) -> Outcome {
        let redaction = redactor.redaction(for: type, limits: RedactionLimits())
        var output: [UInt8] = []
        do {
            if let pieceSize {
                var start = 0
                while start < input.count {
                    let piece = Array(input[start..<min(input.count, start + pieceSize)])
                    try piece.withUnsafeBytes { bytes in try redaction.feed(bytes) { output.append(contentsOf: $0) } }
                    start += pieceSize
                }
            } else {
                try input.withUnsafeBytes { bytes in try redaction.feed(bytes) { output.append(contentsOf: $0) } }
            }
            try redaction.finish { output.append(contentsOf: $0) }
        } catch let error as RedactionError {
            return .refused(error.kind)
        } catch {
            return .refused(.malformed)
        }
        return .kept(String(decoding: output, as: UTF8.self))
    }

    /// Redacts `document` whole and a byte at a time; records a disagreement, and returns the whole one's outcome.
    static func redact(_ document: String, names: [String] = [], keep: [String], type: RedactableMediaType = .json,
                       sourceLocation: SourceLocation = #_sourceLocation) -> Outcome {
        let redactor = ResponseRedactor(names: names, keepOnly: keep)
        let input = Array(document.utf8)
        let whole = run(redactor, type, input, pieceSize: nil)
        let bytewise = run(redactor, type, input, pieceSize: 1)
        #expect(whole == bytewise, "fed whole: \(whole); a byte at a time: \(bytewise)", sourceLocation: sourceLocation)
        let threes = run(redactor, type, input, pieceSize: 3)
        #expect(whole == threes, "fed whole: \(whole); three bytes at a time: \(threes)", sourceLocation: sourceLocation)
        if type == .json, let text = whole.text {
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil, "not JSON: \(text)",
                    sourceLocation: sourceLocation)
        }
        return whole
    }

    @Test("ResponseRedactor with an allow-list is never empty; without one and no names it is")
    func emptiness() {
        #expect(ResponseRedactor(names: [String]()).isEmpty)
        #expect(!ResponseRedactor(names: [String](), keepOnly: ["releaseDate"]).isEmpty)
        #expect(ResponseRedactor(names: [String](), keepOnly: ["ReleaseDate"]).keepOnly?.fields == ["releasedate"])
    }

    // MARK: JSON

    @Test("JSON root object: only the named members stay, in any letter case, the redact list still applies")
    func jsonRootObject() {
        let document = #"{"bookingNumber":"2017-000123","releaseDate":"2026-12-01","homeAddress":"1 Main St","immigrationStatus":"x"}"#
        #expect(Self.redact(document, names: ["immigrationStatus"], keep: ["releaseDate"]) == .kept(#"{"releaseDate":"2026-12-01"}"#))
        #expect(Self.redact(document, keep: ["releaseDate", "bookingNumber"]) == .kept(#"{"bookingNumber":"2017-000123","releaseDate":"2026-12-01"}"#))
        #expect(Self.redact(document, keep: ["RELEASEDATE"]) == .kept(#"{"releaseDate":"2026-12-01"}"#))
        // The redact list wins over the allow-list.
        #expect(Self.redact(document, names: ["releaseDate"], keep: ["releaseDate", "homeAddress"]) == .kept(#"{"homeAddress":"1 Main St"}"#))
        #expect(Self.redact(document, keep: ["nothing"]) == .kept("{}"))
        #expect(Self.redact(#" { "homeAddress" : "h" , "releaseDate" : "d" } "#, keep: ["releaseDate"]).text?.contains("h\"") == false)
    }

    /// Chicago lifts immigrationStatus for an inmate's written authorization, and its list also holds NIEM's status
    /// elements, whose local names are JSON field names too: the lift must reach those spellings in JSON.
    @Test("a lifted field name is no JSON field name by a qualified name's local name either; XML keeps its elements withheld")
    func liftedLocalNames() {
        let names = ["{urn:im}ImmigrationStatus", "{urn:im}PersonCitizenshipStatus", "citizenship"]
        let document = #"{"immigrationStatus":"x","ImmigrationStatus":"y","personCitizenshipStatus":"z","citizenship":"c","name":"n"}"#
        func json(_ redactor: ResponseRedactor) -> Outcome { Self.run(redactor, .json, Array(document.utf8), pieceSize: nil) }
        #expect(json(ResponseRedactor(names: names)) == .kept(#"{"name":"n"}"#))
        #expect(json(ResponseRedactor(names: names, lifted: ["immigrationStatus"])) == .kept(#"{"immigrationStatus":"x","ImmigrationStatus":"y","name":"n"}"#))
        let xml = #"<r xmlns:im="urn:im"><im:ImmigrationStatus>x</im:ImmigrationStatus><name>n</name></r>"#
        #expect(Self.run(ResponseRedactor(names: names, lifted: ["immigrationStatus"]), .xml, Array(xml.utf8), pieceSize: nil)
            == .kept(#"<r xmlns:im="urn:im"><name>n</name></r>"#))
    }

    @Test("JSON and XML allow-lists keep a field whatever separates its words; the redact list still wins")
    func separatedNames() {
        let document = #"{"booking_number":"2017-000123","release-date":"2026-12-01","home_address":"h","immigration_status":"x"}"#
        #expect(Self.redact(document, names: ["immigrationStatus"], keep: ["releaseDate", "bookingNumber", "immigrationStatus"])
            == .kept(#"{"booking_number":"2017-000123","release-date":"2026-12-01"}"#))
        #expect(Self.redact("<r><release_date>d</release_date><home_address>h</home_address></r>", keep: ["releaseDate"], type: .xml)
            == .kept("<r><release_date>d</release_date></r>"))
        // A name of separators only keeps nothing.
        #expect(Self.redact(#"{"_":{"citizenship":"x"},"a":1}"#, keep: ["_"]) == .kept("{}"))
    }

    /// An attacker's pass: a key was kept by the part after its last `:` (as a redacted one is removed), so an upstream
    /// could pass any field under a listed name's tail.
    @Test("JSON: a key is kept only written whole as a listed name, never by the last part of an IRI or compact IRI")
    func jsonKeptWhole() {
        for key in ["homeAddress:bookingNumber", "nc:bookingNumber", "http://jail.example/homeAddress#bookingNumber", "urn:x:bookingNumber"] {
            let document = #"{"bookingNumber":"1",""# + key + #"":"1 Main St"}"#
            #expect(Self.redact(document, keep: ["bookingNumber"]) == .kept(#"{"bookingNumber":"1"}"#), "\(key)")
            #expect(Self.redact(document, keep: ["{http://jail.example/}bookingNumber"]) == .kept(#"{"bookingNumber":"1"}"#), "\(key)")
        }
        // Removal still matches by the last part.
        #expect(Self.redact(#"{"nc:citizenship":"x","bookingNumber":"1"}"#, names: ["citizenship"], keep: ["bookingNumber", "citizenship"])
            == .kept(#"{"bookingNumber":"1"}"#))
    }

    @Test("JSON root array: each object in it is a record; scalars in the array stay")
    func jsonRootArray() {
        let document = #"[{"bookingNumber":"1","homeAddress":"a"},{"homeAddress":"b","bookingNumber":"2"},{}]"#
        #expect(Self.redact(document, keep: ["bookingNumber"]) == .kept(#"[{"bookingNumber":"1"},{"bookingNumber":"2"},{}]"#))
        #expect(Self.redact("[]", keep: ["bookingNumber"]) == .kept("[]"))
    }

    @Test("JSON nested objects are kept whole unless a redact name removes a member")
    func jsonNested() {
        let document = #"{"custody":{"facility":"A","immigrationStatus":"x","homeAddress":"h","nested":{"releaseDate":"d"}},"releaseDate":"d","extra":{"releaseDate":"e"}}"#
        #expect(Self.redact(document, names: ["immigrationStatus"], keep: ["custody", "releaseDate"])
            == .kept(#"{"custody":{"facility":"A","homeAddress":"h","nested":{"releaseDate":"d"}},"releaseDate":"d"}"#))
        let records = #"[{"custody":{"homeAddress":"h"},"x":1}]"#
        #expect(Self.redact(records, keep: ["custody"]) == .kept(#"[{"custody":{"homeAddress":"h"}}]"#))
    }

    @Test("JSON-LD: @context, @id and @type stay; a key is kept by its name as written, never by a context mapping it elsewhere")
    func jsonLDKeywords() {
        let document = #"{"@context":{"@vocab":"urn:jail#"},"@id":"urn:inmate:1","@type":"Inmate","releaseDate":"d","homeAddress":"h"}"#
        #expect(Self.redact(document, keep: ["releaseDate"]) == .kept(#"{"@context":{"@vocab":"urn:jail#"},"@id":"urn:inmate:1","@type":"Inmate","releaseDate":"d"}"#))
        // A term the context maps to a kept name is not kept: a plain JSON client reads "homeAddress", whatever the
        // upstream's context says it means.
        let aliased = #"{"@context":{"rd":"urn:jail#releaseDate","homeAddress":"urn:jail#bookingNumber"},"releaseDate":"d","rd":"d","homeAddress":"h"}"#
        #expect(Self.redact(aliased, keep: ["{urn:jail#}releaseDate", "bookingNumber"])
            == .kept(#"{"@context":{"rd":"urn:jail#releaseDate","homeAddress":"urn:jail#bookingNumber"},"releaseDate":"d"}"#))
        // A context in a record of a root array applies to that record.
        let array = #"[{"@context":{"@vocab":"urn:jail#"},"releaseDate":"d","homeAddress":"h"}]"#
        #expect(Self.redact(array, keep: ["{urn:jail#}releaseDate"]) == .kept(#"[{"@context":{"@vocab":"urn:jail#"},"releaseDate":"d"}]"#))
        // A @context after other members cannot be honoured while streaming: refused, as without an allow-list.
        #expect(Self.redact(#"{"releaseDate":"d","@context":{"@vocab":"urn:jail#"}}"#, keep: ["releaseDate"]) == .refused(.refused))
    }

    @Test("JSON-LD under an allow-list: every context term defines an IRI, so no unlisted name carries a value in @context")
    func allowListContextTerms() {
        #expect(Self.redact(#"{"@context":{"homeAddress":"1 Main St"},"bookingNumber":"1"}"#, keep: ["bookingNumber"]) == .refused(.refused))
        let iris = #"{"@context":{"j":"urn:jail:","homeAddress":"j:homeAddress","rd":"http://jail.example/releaseDate"},"bookingNumber":"1"}"#
        #expect(Self.redact(iris, keep: ["bookingNumber"]) == .kept(iris))
    }

    /// A hostile upstream's pass: a kept key aliased to @nest (or @graph, @included) carried an unlisted field that a
    /// JSON-LD processor reads as the record's own; a kept key mapped to another field's IRI was returned by its name.
    @Test("JSON-LD under an allow-list: a kept key aliased to a nesting keyword, or mapped onto an unlisted field, is refused")
    func allowListAliases() {
        for keyword in ["@nest", "@graph", "@included"] {
            let document = #"{"@context":{"bookingNumber":"\#(keyword)"},"bookingNumber":{"homeAddress":"1 Main St"}}"#
            #expect(Self.redact(document, keep: ["bookingNumber"]) == .refused(.refused), "\(keyword)")
            let expanded = #"{"@context":{"bookingNumber":{"@id":"\#(keyword)"}},"bookingNumber":{"homeAddress":"1 Main St"}}"#
            #expect(Self.redact(expanded, keep: ["bookingNumber"]) == .refused(.refused), "\(keyword), expanded")
        }
        #expect(Self.redact(#"{"@context":{"bookingNumber":"http://x/homeAddress"},"bookingNumber":"1 Main St"}"#, keep: ["bookingNumber"]) == .refused(.refused))
        // Mapped onto its own name in a vocabulary, it is the field it says.
        let own = #"{"@context":{"bookingNumber":"http://x/bookingNumber"},"bookingNumber":"1"}"#
        #expect(Self.redact(own, keep: ["bookingNumber"]) == .kept(own))
    }

    @Test("JSON-LD: members holding node data (@nest, @graph, @included) or merely starting with @ do not bypass the allow-list")
    func jsonLDDataKeywords() {
        let cases = [
            #"{"releaseDate":"d","@nest":{"homeAddress":"SECRET"}}"#,
            #"{"@graph":[{"releaseDate":"d","homeAddress":"SECRET"}]}"#,
            #"{"releaseDate":"d","@included":[{"@id":"urn:x","homeAddress":"SECRET"}]}"#,
            #"{"releaseDate":"d","@reverse":{"homeAddress":"SECRET"}}"#,
            #"{"releaseDate":"d","@homeAddress":"SECRET"}"#,
        ]
        for document in cases {
            let outcome = Self.redact(document, keep: ["releaseDate"])
            if let text = outcome.text {
                #expect(!text.contains("SECRET"), "\(document) → \(text)")
            }
        }
    }

    @Test("JSON escaped keys are compared decoded: \\u0062ookingNumber is bookingNumber, for the allow-list and the redact list")
    func jsonEscapedKeys() {
        let document = #"{"\u0062ookingNumber":"1","home\u0041ddress":"h","releaseDate":"d"}"#
        #expect(Self.redact(document, keep: ["bookingNumber"]) == .kept(#"{"\u0062ookingNumber":"1"}"#))
        #expect(Self.redact(document, names: ["bookingNumber"], keep: ["bookingNumber", "releaseDate"]) == .kept(#"{"releaseDate":"d"}"#))
        #expect(Self.redact(document, keep: ["homeAddress"]) == .kept(#"{"home\u0041ddress":"h"}"#))
        // An escaped @ is still a keyword to a JSON-LD processor; either way nothing not named leaks through it.
        let keyword = Self.redact(#"{"\u0040type":"Inmate","releaseDate":"d","homeAddress":"h"}"#, keep: ["releaseDate"])
        #expect(keyword.text?.contains("homeAddress") == false)
    }

    @Test("JSON: records nested in arrays of a root array are not returned unfiltered")
    func jsonArrayOfArrays() {
        let outcome = Self.redact(#"[[{"bookingNumber":"1","homeAddress":"SECRET"}]]"#, keep: ["bookingNumber"])
        if let text = outcome.text { #expect(!text.contains("SECRET"), "\(text)") }
    }

    // MARK: XML

    static func xml(_ document: String, names: [String] = [], keep: [String], sourceLocation: SourceLocation = #_sourceLocation) -> Outcome {
        redact(document, names: names, keep: keep, type: .xml, sourceLocation: sourceLocation)
    }

    @Test("XML: the root's children in no namespace, by local name in any letter case; grandchildren untouched but by redact names")
    func xmlRootChildren() {
        let document = "<inmate><bookingNumber>1</bookingNumber><releaseDate>d</releaseDate><homeAddress>h</homeAddress><custody><homeAddress>h2</homeAddress><immigrationStatus>x</immigrationStatus></custody></inmate>"
        #expect(Self.xml(document, keep: ["releaseDate"]) == .kept("<inmate><releaseDate>d</releaseDate></inmate>"))
        #expect(Self.xml(document, keep: ["ReleaseDate", "bookingnumber"]) == .kept("<inmate><bookingNumber>1</bookingNumber><releaseDate>d</releaseDate></inmate>"))
        #expect(Self.xml(document, names: ["immigrationStatus"], keep: ["custody"])
            == .kept("<inmate><custody><homeAddress>h2</homeAddress></custody></inmate>"))
        #expect(Self.xml("<?xml version=\"1.0\"?><inmate><homeAddress/></inmate>", keep: ["releaseDate"]) == .kept("<?xml version=\"1.0\"?><inmate></inmate>"))
        // Self-closing children and a record with nothing kept.
        #expect(Self.xml("<inmate><a/><releaseDate/><b>t</b></inmate>", keep: ["releaseDate"]) == .kept("<inmate><releaseDate/></inmate>"))
    }

    @Test("XML namespaces: kept by URI and local name, whatever the prefix, or by a plain name in any namespace")
    func xmlNamespaces() {
        let jail = "urn:jail"
        let document = """
            <j:inmate xmlns:j="\(jail)"><j:releaseDate>d</j:releaseDate><j:homeAddress>h</j:homeAddress>\
            <j:releaseDate xmlns:j="urn:other">other</j:releaseDate><k:releaseDate xmlns:k="\(jail)">k</k:releaseDate><releaseDate>plain</releaseDate></j:inmate>
            """
        let kept = Self.xml(document, keep: ["{\(jail)}releaseDate"])
        #expect(kept == .kept("<j:inmate xmlns:j=\"\(jail)\"><j:releaseDate>d</j:releaseDate><k:releaseDate xmlns:k=\"\(jail)\">k</k:releaseDate></j:inmate>"))
        // A plain name keeps the element by its local name in any namespace (a serializer may put every element in
        // one of its own), as it removes it.
        #expect(Self.xml(document, keep: ["releaseDate"]) == .kept("""
            <j:inmate xmlns:j="\(jail)"><j:releaseDate>d</j:releaseDate>\
            <j:releaseDate xmlns:j="urn:other">other</j:releaseDate><k:releaseDate xmlns:k="\(jail)">k</k:releaseDate><releaseDate>plain</releaseDate></j:inmate>
            """))
        // The local name is compared exactly in a namespace.
        #expect(Self.xml(document, keep: ["{\(jail)}ReleaseDate"]) == .kept("<j:inmate xmlns:j=\"\(jail)\"></j:inmate>"))

        let defaulted = "<inmate xmlns=\"\(jail)\"><releaseDate>d</releaseDate><homeAddress>h</homeAddress><releaseDate xmlns=\"\">none</releaseDate></inmate>"
        #expect(Self.xml(defaulted, keep: ["{\(jail)}releaseDate"]) == .kept("<inmate xmlns=\"\(jail)\"><releaseDate>d</releaseDate></inmate>"))
        #expect(Self.xml(defaulted, keep: ["releaseDate"]) == .kept("<inmate xmlns=\"\(jail)\"><releaseDate>d</releaseDate><releaseDate xmlns=\"\">none</releaseDate></inmate>"))
    }

    @Test("XML: the root element's attributes are top-level fields too, and an allow-list does not pass them unnamed")
    func xmlRootAttributes() {
        let outcome = Self.xml("<inmate alienNumber=\"A-SECRET\" bookingNumber=\"1\"><releaseDate>d</releaseDate></inmate>", keep: ["releaseDate"])
        if let text = outcome.text {
            #expect(!text.contains("A-SECRET"), "\(text)")
            #expect(text.contains("<releaseDate>d</releaseDate>"))
        }
    }

    static let soap11 = "http://schemas.xmlsoap.org/soap/envelope/"
    static let soap12 = "http://www.w3.org/2003/05/soap-envelope"

    static let addressing = #"<a:RelatesTo xmlns:a="http://www.w3.org/2005/08/addressing">urn:uuid:1</a:RelatesTo>"#

    @Test("SOAP 1.1 and 1.2: the Body element's children are the record; WS-Addressing's header entries pass untouched", arguments: [soap11, soap12])
    func soap(envelope: String) {
        let document = """
            <s:Envelope xmlns:s="\(envelope)"><s:Header>\(Self.addressing)</s:Header>\
            <s:Body><j:GetInmateResponse xmlns:j="urn:jail"><j:releaseDate>d</j:releaseDate><j:homeAddress>h</j:homeAddress>\
            <j:custody><j:homeAddress>nested</j:homeAddress></j:custody></j:GetInmateResponse></s:Body></s:Envelope>
            """
        let expected = """
            <s:Envelope xmlns:s="\(envelope)"><s:Header>\(Self.addressing)</s:Header>\
            <s:Body><j:GetInmateResponse xmlns:j="urn:jail"><j:releaseDate>d</j:releaseDate></j:GetInmateResponse></s:Body></s:Envelope>
            """
        #expect(Self.xml(document, keep: ["{urn:jail}releaseDate"]) == .kept(expected))
        let withCustody = Self.xml(document, keep: ["{urn:jail}releaseDate", "{urn:jail}custody"])
        #expect(withCustody.text?.contains("<j:custody><j:homeAddress>nested</j:homeAddress></j:custody>") == true)
        #expect(withCustody.text?.contains(">h<") == false)
        // The Body's own element is never removed by the allow-list.
        #expect(Self.xml(document, keep: ["nothing"]).text?.contains("<j:GetInmateResponse xmlns:j=\"urn:jail\"></j:GetInmateResponse>") == true)
    }

    @Test("SOAP under an allow-list: anything a client could read outside the Body's record is refused, not passed", arguments: [soap11, soap12])
    func soapOutsideTheBody(envelope: String) {
        let record = #"<j:GetInmateResponse xmlns:j="urn:jail"><j:releaseDate>d</j:releaseDate><j:homeAddress>h</j:homeAddress></j:GetInmateResponse>"#
        let other = envelope == Self.soap11 ? Self.soap12 : Self.soap11
        let trace = #"<h:Trace xmlns:h="urn:h"><h:homeAddress>header</h:homeAddress></h:Trace>"#
        for (label, inner) in [
            ("a header entry of the service's own", "<s:Header>\(trace)</s:Header><s:Body>\(record)</s:Body>"),
            ("an element after the Body", "<s:Body>\(record)</s:Body>\(trace)"),
            ("a Header after the Body", "<s:Body>\(record)</s:Body><s:Header/>"),
            ("two Headers", "<s:Header/><s:Header/><s:Body>\(record)</s:Body>"),
            ("two Bodies", "<s:Body>\(record)</s:Body><s:Body>\(record)</s:Body>"),
            ("a Body of the other SOAP version", #"<o:Body xmlns:o="\#(other)">\#(record)</o:Body>"#),
            ("a record with no Body", record),
            ("no Body at all", "<s:Header/>"),
            ("parts in the Body itself (document/literal bare)", "<s:Body xmlns:j=\"urn:jail\"><j:releaseDate>d</j:releaseDate><j:housingUnit>4B</j:housingUnit></s:Body>"),
            ("one bare part: text in the record", "<s:Body><j:housingUnit xmlns:j=\"urn:jail\">4B</j:housingUnit></s:Body>"),
            ("a second element beside the record", "<s:Body>\(record)\(trace)</s:Body>"),
            ("text in the Body", "<s:Body>Ana Morales \(record)</s:Body>"),
            ("text in the Header", "<s:Header>4B</s:Header><s:Body>\(record)</s:Body>"),
            ("text in the envelope", "Ana <s:Body>\(record)</s:Body>"),
            ("a comment in the Body", "<s:Body><!-- housing 4B -->\(record)</s:Body>"),
            ("a CDATA section in the record", #"<s:Body><j:R xmlns:j="urn:jail"><![CDATA[4B]]></j:R></s:Body>"#),
            ("a reference in the record", #"<s:Body><j:R xmlns:j="urn:jail">&#52;B</j:R></s:Body>"#),
            ("a processing instruction in the Body", "<s:Body><?note 4B?>\(record)</s:Body>"),
            ("an attribute on the Body", #"<s:Body h:unit="4B" xmlns:h="urn:h">\#(record)</s:Body>"#),
        ] {
            let document = #"<s:Envelope xmlns:s="\#(envelope)">\#(inner)</s:Envelope>"#
            #expect(Self.xml(document, keep: ["{urn:jail}releaseDate"]) == .refused(.refused), "\(label)")
            // Without an allow-list the service's own header entries are passed whole, as before.
            if label == "a header entry of the service's own" {
                #expect(Self.run(ResponseRedactor(names: ["immigrationStatus"]), .xml, Array(document.utf8), pieceSize: nil) == .kept(document))
            }
        }
        for (label, outside) in [("a comment", "<!-- 4B -->"), ("a processing instruction", "<?note 4B?>")] {
            let document = #"<s:Envelope xmlns:s="\#(envelope)"><s:Body>\#(record)</s:Body></s:Envelope>"# + outside
            #expect(Self.xml(document, keep: ["{urn:jail}releaseDate"]) == .refused(.refused), "\(label) after the envelope")
        }
        // SOAP's own attributes, white space and the XML declaration stay.
        let plain = #"<?xml version="1.0"?>\#n<s:Envelope xmlns:s="\#(envelope)" s:encodingStyle="urn:x">\#n  <s:Body>\#n    \#(record)\#n  </s:Body>\#n</s:Envelope>"#
        #expect(Self.xml(plain, keep: ["{urn:jail}releaseDate"]).text?.contains("<j:releaseDate>d</j:releaseDate></j:GetInmateResponse>") == true)
        let security = #"<w:Security xmlns:w="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><w:x/></w:Security>"#
        let secured = #"<s:Envelope xmlns:s="\#(envelope)"><s:Header>\#(security)\#(Self.addressing)</s:Header><s:Body>\#(record)</s:Body></s:Envelope>"#
        #expect(Self.xml(secured, keep: ["{urn:jail}releaseDate"]).text?.contains("<j:releaseDate>d</j:releaseDate></j:GetInmateResponse>") == true)
    }

    @Test("SOAP Faults under an allow-list keep their own parts, not their detail", arguments: [soap11, soap12])
    func soapFaults(envelope: String) {
        let fault = envelope == Self.soap11
            ? "<s:Fault><faultcode>s:Server</faultcode><faultstring>no such inmate</faultstring><detail><j:housingUnit xmlns:j=\"urn:jail\">4B</j:housingUnit></detail></s:Fault>"
            : "<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason><s:Text xml:lang=\"en\">no such inmate</s:Text></s:Reason><s:Detail><j:housingUnit xmlns:j=\"urn:jail\">4B</j:housingUnit></s:Detail></s:Fault>"
        let answer = Self.xml(#"<s:Envelope xmlns:s="\#(envelope)"><s:Body>\#(fault)</s:Body></s:Envelope>"#, keep: ["{urn:jail}releaseDate"])
        #expect(answer.text?.contains("no such inmate") == true, "\(answer)")
        #expect(answer.text?.contains("4B") == false, "\(answer)")
        // The parts hold their own structure and text; an element of the service's inside one is its data.
        let hidden = envelope == Self.soap11
            ? "<s:Fault><faultcode>s:Server<dob>1990</dob></faultcode><faultactor><dob>1990</dob></faultactor></s:Fault>"
            : "<s:Fault><s:Code><s:Value>s:Receiver</s:Value><dob>1990</dob><s:Subcode><s:Value>x</s:Value></s:Subcode></s:Code><s:Node><dob>1990</dob></s:Node></s:Fault>"
        let stripped = Self.xml(#"<s:Envelope xmlns:s="\#(envelope)"><s:Body>\#(hidden)</s:Body></s:Envelope>"#, keep: ["{urn:jail}releaseDate"])
        #expect(stripped.text?.contains("1990") == false, "\(stripped)")
        #expect(stripped.text?.contains(envelope == Self.soap11 ? "s:Server" : "<s:Subcode><s:Value>x</s:Value></s:Subcode>") == true, "\(stripped)")
    }

    @Test("JSON under an allow-list: an unlisted @id or @type keeps strings, never an object or nested array")
    func identifyingKeywordsHoldStrings() {
        #expect(Self.redact(#"{"@id":"urn:b:1","@type":["Booking","Inmate"],"releaseDate":"d","dob":"1990"}"#, keep: ["releaseDate"])
            == .kept(#"{"@id":"urn:b:1","@type":["Booking","Inmate"],"releaseDate":"d"}"#))
        for document in [#"{"bookingNumber":"1","@id":{"dateOfBirth":"1990"}}"#, #"{"@type":[{"dateOfBirth":"1990"}]}"#, #"{"@type":[["1990"]]}"#] {
            #expect(Self.redact(document, keep: ["bookingNumber"]) == .refused(.refused), "\(document)")
        }
    }

    @Test("plain XML under an allow-list: text, comments and instructions outside the fields are refused")
    func xmlOutsideTheFields() {
        for document in [
            "<j:housingUnit xmlns:j=\"urn:jail\">4B</j:housingUnit>", "<inmate>Ana<releaseDate>d</releaseDate></inmate>",
            "<inmate><!-- 4B --><releaseDate>d</releaseDate></inmate>", "<!-- 4B --><inmate><releaseDate>d</releaseDate></inmate>",
            "<inmate><releaseDate>d</releaseDate></inmate><?note 4B?>", "<inmate><![CDATA[4B]]><releaseDate>d</releaseDate></inmate>",
        ] {
            #expect(Self.xml(document, keep: ["releaseDate"]) == .refused(.refused), "\(document)")
        }
        // Inside a kept field they are the field's.
        #expect(Self.xml("<inmate>\n  <releaseDate><!-- c -->d</releaseDate>\n</inmate>", keep: ["releaseDate"]) == .kept("<inmate>\n  <releaseDate><!-- c -->d</releaseDate>\n</inmate>"))
    }

    @Test("XML and JSON streamed a byte at a time give the same output as one piece (larger documents)")
    func streamingLarger() {
        var json = "["
        var xml = "<inmates>"
        for index in 0..<40 {
            json += (index == 0 ? "" : ",") + #"{"bookingNumber":"2017-\#(index)","homeAddress":"addr \#(index)","releaseDate":"2026-12-\#(index % 28 + 1)","notes":{"x":[1,2,{"homeAddress":"n"}]}}"#
            xml += "<inmate><bookingNumber>\(index)</bookingNumber><homeAddress>a</homeAddress></inmate>"
        }
        json += "]"
        xml += "</inmates>"
        let jsonOut = Self.redact(json, names: ["homeAddress"], keep: ["bookingNumber", "notes"])
        #expect(jsonOut.text?.contains("addr") == false)
        #expect(jsonOut.text?.contains("releaseDate") == false)
        #expect(jsonOut.text?.contains(#""bookingNumber":"2017-39""#) == true)
        let xmlOut = Self.xml(xml, keep: ["inmate"])
        #expect(xmlOut == .kept(xml))
    }
}
