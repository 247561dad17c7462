import Testing
@testable import WarrantGateCore

/// SOAP routes: the operation and the inmate read from the envelope, the actions named outside the Body checked
/// against that operation, and the policy language that declares them.
@Suite("SOAP requests")
struct SOAPRequestTests {
    static let records = "urn:example:jail:records"
    static let soap11 = "http://schemas.xmlsoap.org/soap/envelope/"
    static let getBooking = QualifiedName(namespace: records, local: "GetBooking")

    /// A SOAP 1.1 envelope around `body`, with `header` as its Header's content if given.
    static func envelope(_ body: String, header: String? = nil, namespace: String = soap11) -> String {
        #"<s:Envelope xmlns:s="\#(namespace)">"# + (header.map { "<s:Header>\($0)</s:Header>" } ?? "") + "<s:Body>\(body)</s:Body></s:Envelope>"
    }

    static func getBooking(_ inner: String = "<BookingNumber>2017-000123</BookingNumber>") -> String {
        envelope(#"<GetBooking xmlns="urn:example:jail:records">"# + inner + "</GetBooking>")
    }

    static func read(_ document: String) throws(SOAPRequestError) -> SOAPRequest {
        try SOAPRequest.read(Array(document.utf8), watching: ["BookingNumber"])
    }

    @Test("the operation is the Body's one element, by namespace whatever the prefix, in SOAP 1.1 and 1.2")
    func operation() throws {
        #expect(try Self.read(Self.getBooking()).operation == Self.getBooking)
        let prefixed = Self.envelope(#"<r:GetBooking xmlns:r="urn:example:jail:records"><r:BookingNumber>2017-000123</r:BookingNumber></r:GetBooking>"#)
        #expect(try Self.read(prefixed).operation == Self.getBooking)
        #expect(try Self.read(prefixed).values["BookingNumber"] == [.text("2017-000123")])
        let soap12 = Self.envelope(#"<GetBooking xmlns="urn:example:jail:records"/>"#, namespace: "http://www.w3.org/2003/05/soap-envelope")
        #expect(try Self.read(soap12).operation == Self.getBooking)
        // Declared on the Envelope, bound through the whole document.
        let declaredAbove = #"<s:Envelope xmlns:s="\#(Self.soap11)" xmlns:r="urn:example:jail:records"><s:Body><r:GetBooking/></s:Body></s:Envelope>"#
        #expect(try Self.read(declaredAbove).operation == Self.getBooking)
    }

    @Test("refused: not an envelope, Bodies or operations other than one, and what the XML redactor refuses", arguments: [
        #"<GetBooking xmlns="urn:example:jail:records"/>"#,
        #"<s:Envelope xmlns:s="urn:not-soap"><s:Body><GetBooking/></s:Body></s:Envelope>"#,
        envelope(""),
        envelope("<a/><b/>"),
        #"<s:Envelope xmlns:s="\#(soap11)"><s:Body><a/></s:Body><s:Body><b/></s:Body></s:Envelope>"#,
        #"<s:Envelope xmlns:s="\#(soap11)"><s:Header/></s:Envelope>"#,
        // Shapes a lenient service might read differently: a Header after the Body, anything beside them, a Body of
        // another SOAP version or namespace, Envelope, Header or Body names inside, text beside the operation.
        #"<s:Envelope xmlns:s="\#(soap11)"><s:Body><a/></s:Body><s:Header/></s:Envelope>"#,
        #"<s:Envelope xmlns:s="\#(soap11)"><s:Body><a/></s:Body><s:Trailer/></s:Envelope>"#,
        #"<s:Envelope xmlns:s="\#(soap11)"><t:Body xmlns:t="http://www.w3.org/2003/05/soap-envelope"><b/></t:Body><s:Body><a/></s:Body></s:Envelope>"#,
        #"<s:Envelope xmlns:s="\#(soap11)"><s:Body><a/></s:Body><x:Body xmlns:x="urn:x"><b/></x:Body></s:Envelope>"#,
        envelope("<a><Body><b/></Body></a>"),
        envelope("<a/>", header: "<h><Envelope/></h>"),
        envelope("text<a/>"),
        #"<s:Envelope xmlns:s="\#(soap11)">text<s:Body><a/></s:Body></s:Envelope>"#,
        // Two Headers; text written as a reference or CDATA beside them or the operation; a processing instruction
        // anywhere, which SOAP forbids.
        #"<s:Envelope xmlns:s="\#(soap11)"><s:Header/><s:Header/><s:Body><a/></s:Body></s:Envelope>"#,
        envelope("&#65;<a/>"),
        envelope("<![CDATA[x]]><a/>"),
        envelope("<a/>", header: "&#65;<h/>"),
        #"<s:Envelope xmlns:s="\#(soap11)">&#65;<s:Body><a/></s:Body></s:Envelope>"#,
        #"<?p x?>"# + getBooking(),
        envelope("<?p x?><a/>"),
        getBooking("<BookingNumber>2017-000123</BookingNumber><?p x?>"),
        // WS-Addressing that could send the request or its answer elsewhere, or stands where no stack reads it.
        envelope("<a/>", header: #"<w:ReplyTo xmlns:w="http://www.w3.org/2005/08/addressing"><w:Address>http://evil.example/</w:Address></w:ReplyTo>"#),
        envelope("<a/>", header: #"<w:FaultTo xmlns:w="http://www.w3.org/2005/08/addressing"><w:Address>http://www.w3.org/2005/08/addressing/&#97;nonymous</w:Address></w:FaultTo>"#),
        envelope("<a/>", header: #"<w:RelatesTo xmlns:w="http://www.w3.org/2005/08/addressing">x</w:RelatesTo>"#),
        envelope("<a/>", header: #"<h><w:Action xmlns:w="http://www.w3.org/2005/08/addressing">x</w:Action></h>"#),
        envelope(#"<a><w:Action xmlns:w="http://www.w3.org/2005/08/addressing">x</w:Action></a>"#),
        envelope("<a/>", header: #"<w:ReplyTo xmlns:w="http://schemas.xmlsoap.org/ws/2003/03/addressing"><w:Address>http://evil.example/</w:Address></w:ReplyTo>"#),
        #"<!DOCTYPE s:Envelope [<!ENTITY b "2017-000456">]>"# + getBooking("<BookingNumber>&b;</BookingNumber>"),
        envelope(#"<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>"#),
        getBooking("<BookingNumber>2017-000123</Booking>"),
        String(getBooking().dropLast()),
        getBooking("<BookingNumber>2017-000123</BookingNumber>") + "<trailing/>",
    ])
    func refused(document: String) {
        #expect(throws: SOAPRequestError.self, "\(document)") { try Self.read(document) }
    }

    @Test("WS-Addressing's MessageID and To, and ReplyTo or FaultTo to the anonymous endpoint, are accepted")
    func addressingAccepted() throws {
        let header = #"<w:MessageID xmlns:w="http://www.w3.org/2005/08/addressing">urn:uuid:1</w:MessageID>"#
            + #"<w:To xmlns:w="http://www.w3.org/2005/08/addressing">https://jail.example/records/soap</w:To>"#
            + #"<w:ReplyTo xmlns:w="http://www.w3.org/2005/08/addressing"><w:Address>http://www.w3.org/2005/08/addressing/anonymous</w:Address></w:ReplyTo>"#
        #expect(try Self.read(Self.envelope(#"<GetBooking xmlns="urn:example:jail:records"/>"#, header: header)).operation == Self.getBooking)
    }

    @Test("a watched element's text counts only as text alone, without attributes, a child of the operation in its namespace or none; every occurrence counts")
    func values() throws {
        let notText = SOAPValue.unusable("holds more than text")
        #expect(try Self.read(Self.getBooking()).values["BookingNumber"] == [.text("2017-000123")])
        for inner in [
            "<BookingNumber>2017&#45;000123</BookingNumber>", "<BookingNumber><![CDATA[2017-000123]]></BookingNumber>",
            "<BookingNumber>2017-<!-- -->000123</BookingNumber>",
            "<BookingNumber><n>2017-000123</n></BookingNumber>",
        ] {
            #expect(try Self.read(Self.getBooking(inner)).values["BookingNumber"] == [notText], "\(inner)")
        }
        let nested = Self.getBooking("<BookingNumber>2017-000123<BookingNumber>2017-000456</BookingNumber></BookingNumber>")
        #expect(try Self.read(nested).values["BookingNumber"] == [.unusable("stands inside another element read"), notText])
        let twice = Self.getBooking("<BookingNumber>2017-000123</BookingNumber><BookingNumber>2017-000456</BookingNumber>")
        #expect(try Self.read(twice).values["BookingNumber"] == [.text("2017-000123"), .unusable("is not the operation's first child")])
        // An attacker's pass: the one watched element nested below another parameter, or in another namespace, was
        // the subject, while a service binding parameters by position read the operation's first child.
        let below = SOAPValue.unusable("stands below the operation's own children")
        let nestedAlone = Self.getBooking(#"<in0>2017-000456</in0><Audit><BookingNumber xmlns="urn:unrelated">2017-000123</BookingNumber></Audit>"#)
        #expect(try Self.read(nestedAlone).values["BookingNumber"] == [below])
        let deeper = Self.getBooking("<BookingNumber>2017-000123</BookingNumber><Other><BookingNumber>2017-000456</BookingNumber></Other>")
        #expect(try Self.read(deeper).values["BookingNumber"] == [.text("2017-000123"), below])
        // A re-pass: another parameter before it (what a positional binder reads first), or beside it under a name
        // that differs only in letter case (what a loose binder may read), makes it unusable.
        let second = Self.getBooking("<in0>2017-000456</in0><BookingNumber>2017-000123</BookingNumber>")
        #expect(try Self.read(second).values["BookingNumber"] == [.unusable("is not the operation's first child")])
        let cased = Self.getBooking("<BookingNumber>2017-000123</BookingNumber><booking_number>2017-000456</booking_number>")
        #expect(try Self.read(cased).values["BookingNumber"] == [
            .text("2017-000123"), .unusable("has a twin whose name differs from it only in letter case or separators"),
        ])
        // A second re-pass: the twin deeper down, or in the Header, and text before the parameters.
        let deepTwin = Self.getBooking("<BookingNumber>2017-000123</BookingNumber><x><bookingnumber>2017-000456</bookingnumber></x>")
        #expect(try Self.read(deepTwin).values["BookingNumber"]?.contains(.unusable("has a twin whose name differs from it only in letter case or separators")) == true)
        let headerTwin = Self.envelope(
            #"<GetBooking xmlns="urn:example:jail:records"><BookingNumber>2017-000123</BookingNumber></GetBooking>"#,
            header: #"<w:Security xmlns:w="\#(Self.wsSecurity)"><h:bookingNumber xmlns:h="urn:h">2017-000456</h:bookingNumber></w:Security>"#
        )
        #expect(try Self.read(headerTwin).values["BookingNumber"]?.contains(.unusable("has a twin whose name differs from it only in letter case or separators")) == true)
        // An attacker's pass: a Header entry of its own (a context naming another inmate, WS-Routing's `path` that WSE 1
        // dispatched on) went to the upstream unread. Only WS-Addressing's and WS-Security's are taken.
        for entry in [
            #"<c:InmateContext xmlns:c="urn:c"><c:InmateId>2017-000456</c:InmateId></c:InmateContext>"#,
            #"<rp:path xmlns:rp="http://schemas.xmlsoap.org/rp/"><rp:action>urn:example:jail:records/SetHousingUnit</rp:action></rp:path>"#,
            #"<Action xmlns="http://schemas.microsoft.com/ws/2005/05/addressing/none">urn:example:jail:records/SetHousingUnit</Action>"#,
        ] {
            let document = Self.envelope(#"<GetBooking xmlns="urn:example:jail:records"><BookingNumber>2017-000123</BookingNumber></GetBooking>"#, header: entry)
            #expect(throws: SOAPRequestError.self, "\(entry)") { try Self.read(document) }
        }
        #expect(throws: SOAPRequestError.self) { try Self.read(Self.getBooking("2017-000456<BookingNumber>2017-000123</BookingNumber>")) }
        #expect(throws: SOAPRequestError.self) { try Self.read(Self.getBooking("<![CDATA[2017-000456]]><BookingNumber>2017-000123</BookingNumber>")) }
        // First, with other parameters after it, it is read.
        let first = Self.getBooking("<BookingNumber>2017-000123</BookingNumber><IncludeCharges>true</IncludeCharges>")
        #expect(try Self.read(first).values["BookingNumber"] == [.text("2017-000123")])
        // xsi:nil makes it null to XmlSerializer and JAXB; SOAP encoding's href points at another element.
        for attributes in [#"xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true""#, ##"href="#b""##] {
            let document = Self.getBooking("<BookingNumber \(attributes)>2017-000123</BookingNumber>")
            #expect(try Self.read(document).values["BookingNumber"] == [.unusable("carries attributes, which may change how it reads")])
        }
        #expect(try Self.read(Self.getBooking(#"<BookingNumber xmlns="urn:x">2017-000123</BookingNumber>"#)).values["BookingNumber"] == [
            .unusable("is in another namespace than the operation's")
        ])
        // Qualified in the operation's namespace, or unqualified (elementFormDefault="unqualified"), it is read.
        let unqualified = Self.envelope(#"<r:GetBooking xmlns:r="urn:example:jail:records"><BookingNumber>2017-000123</BookingNumber></r:GetBooking>"#)
        #expect(try Self.read(unqualified).values["BookingNumber"] == [.text("2017-000123")])
        // One in the Header, or the operation itself, is no subject, and counts against the one that is.
        let inHeader = Self.envelope(
            #"<GetBooking xmlns="urn:example:jail:records"><BookingNumber>2017-000123</BookingNumber></GetBooking>"#,
            header: #"<w:Security xmlns:w="\#(Self.wsSecurity)"><BookingNumber>2017-000456</BookingNumber></w:Security>"#
        )
        let outside = SOAPValue.unusable("stands outside the operation element")
        #expect(try Self.read(inHeader).values["BookingNumber"] == [outside, .text("2017-000123")])
        #expect(try Self.read(Self.envelope("<BookingNumber/>")).values["BookingNumber"] == [outside])
        // An operation that holds text is refused whole: a binder may read its string value.
        #expect(throws: SOAPRequestError.self) { try Self.read(Self.envelope("<BookingNumber>2017-000123</BookingNumber>")) }
        // An attribute of the subject's name, or a twin of it, on the operation or anywhere below the Envelope's
        // children: Jackson's XML module binds attributes as members by name.
        let attributeTwin = SOAPValue.unusable("has a twin in an attribute named BookingNumber, which a binder may read as a member")
        let onOperation = Self.envelope(
            #"<GetBooking xmlns="urn:example:jail:records" BookingNumber="2017-000456"><BookingNumber>2017-000123</BookingNumber></GetBooking>"#
        )
        #expect(try Self.read(onOperation).values["BookingNumber"] == [attributeTwin, .text("2017-000123")])
        let prefixedTwin = Self.getBooking(#"<BookingNumber>2017-000123</BookingNumber><Audit xmlns:a="urn:a" a:booking_number="2017-000456"/>"#)
        #expect(try Self.read(prefixedTwin).values["BookingNumber"]?.contains(
            .unusable("has a twin in an attribute named booking_number, which a binder may read as a member")
        ) == true)
        // rpc/encoded clients (Axis 1, PHP's SoapClient) type every parameter: xsd:string reads as the text; any
        // other type, or a prefix bound elsewhere, may not.
        let schemas = #"xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance""#
        let typed = { (type: String) in Self.getBooking("<BookingNumber \(schemas) xmlns:o=\"urn:other\" xsi:type=\"\(type)\">2017-000123</BookingNumber>") }
        #expect(try Self.read(typed("xsd:string")).values["BookingNumber"] == [.text("2017-000123")])
        let encodingString = Self.getBooking(#"<BookingNumber \#(schemas) xmlns:enc="http://schemas.xmlsoap.org/soap/encoding/" xsi:type="enc:string">2017-000123</BookingNumber>"#)
        #expect(try Self.read(encodingString).values["BookingNumber"] == [.text("2017-000123")], "SOAP encoding's string, as Axis 1 writes it")
        for type in ["xsd:int", "o:string", "string", "xsd:string ", "xsd:&#115;tring"] {
            #expect(try Self.read(typed(type)).values["BookingNumber"] == [.unusable("carries attributes, which may change how it reads")], "\(type)")
        }
        // On the operation, a type has a binder read it otherwise (a string type: its whole text): refused.
        for type in ["xsd:string", "xsd:int"] {
            let operation = Self.envelope(#"<GetBooking xmlns="urn:example:jail:records" \#(schemas) xsi:type="\#(type)"><BookingNumber>2017-000123</BookingNumber></GetBooking>"#)
            #expect(throws: SOAPRequestError.self, "\(type)") { try Self.read(operation) }
        }
        // Axis's rpc/encoded operations carry SOAP's encodingStyle: no subject, so read as before.
        let encoded = Self.envelope(
            #"<r:GetBooking xmlns:r="urn:example:jail:records" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><BookingNumber>2017-000123</BookingNumber></r:GetBooking>"#
        )
        #expect(try Self.read(encoded).values["BookingNumber"] == [.text("2017-000123")])
    }

    static let wsSecurity = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

    @Test("WS-Addressing Action headers are read, whatever their prefix")
    func addressingAction() throws {
        let header = #"<a:Action xmlns:a="http://www.w3.org/2005/08/addressing">urn:example:jail:records/GetBooking</a:Action>"#
        let document = Self.envelope(#"<GetBooking xmlns="urn:example:jail:records"/>"#, header: header)
        #expect(try Self.read(document).addressingActions == ["urn:example:jail:records/GetBooking"])
        // An Action in another namespace is no WS-Addressing action, and a Header entry the gateway does not read.
        let unrelated = Self.envelope(#"<GetBooking xmlns="urn:example:jail:records"/>"#, header: #"<Action xmlns="urn:other">x</Action>"#)
        #expect(throws: SOAPRequestError.self) { try Self.read(unrelated) }
    }

    // MARK: Classification

    static let policy = """
        policy: soap
        time-zone: America/Denver
        subject-format: "####-######"
        routes:
          - id: get-booking
            method: POST
            path: /records/soap
            soap: { operation: "{urn:example:jail:records}GetBooking", action: "urn:example:jail:records/GetBooking" }
            action: records.read
            subject: { xml: BookingNumber }
            upstream: records
          - id: get-release-date
            method: POST
            path: /records/soap
            soap: { operation: "{urn:example:jail:records}GetReleaseDate" }
            action: records.release-date
            subject: { xml: InmateId }
            upstream: records
          - id: get-booking-by-request
            method: POST
            path: /records/soap
            soap: { operation: "{urn:example:jail:records}GetBookingByRequest" }
            action: records.read
            subject: { xml: request/BookingNumber }
            upstream: records
          - id: get-custody-status
            method: POST
            path: /records/soap
            soap: { operation: "{}GetCustodyStatus" }
            action: records.custody-status
            subject: { xml: InmateId }
            upstream: records
          - id: record
            method: GET
            path: /records/inmates/{booking}
            action: records.read
            subject: { path: booking }
            upstream: records
          - id: record-note
            method: POST
            path: /records/notes
            action: records.note
            upstream: records
          - id: visit
            method: POST
            path: /visitation/visits
            action: visitation.schedule
            subject: { body: bookingNumber }
            upstream: visitation
          - id: visit-note
            method: POST
            path: /visitation/notes
            action: visitation.note
            upstream: visitation
        rules:
          - id: police
            effect: permit
            when: { category: local-law-enforcement }

        """

    static func classify(
        _ method: String = "POST", _ path: String = "/records/soap", body: String?, headers: [String: [String]] = [:]
    ) throws(StageRefusal) -> Classification {
        let stages = RequestStages(policy: try! PolicyParser.parse(policy, file: "soap.yaml"))
        let bytes = body.map { Array($0.utf8) }
        let request = PolicyRequest(
            agency: Agency(id: "pd", name: "PD", category: .localLawEnforcement), method: method, target: path, body: bytes,
            warrantReference: nil, headers: PolicyRequest.labelling(bytes, in: headers), time: Timestamp.parse("2026-12-03T12:00:00Z")!
        )
        return try stages.classify(request).input.classification
    }

    /// An attacker's pass (helper 244): an operation naming a second inmate in an element of its own (`Booking`), which
    /// an upstream binding that name reads instead, was classified as the first.
    @Test("an operation that names another booking number in any element is refused; the same one, or other text, is not")
    func secondInmateInEnvelope() throws {
        for inner in [
            "<BookingNumber>2017-000123</BookingNumber><Booking>2019-000999</Booking>",
            "<BookingNumber>2017-000123</BookingNumber><Visitor><Ref> 2019-000999 </Ref></Visitor>",
            "<BookingNumber>2017-000123</BookingNumber><Booking>&#50;019-000999</Booking>",
            "<BookingNumber>2017-000123</BookingNumber><Booking>&#x32;&#x30;19-000999</Booking>",
            // A review's pass (helper 245): in an attribute, and split across elements a binder reads as one text.
            #"<BookingNumber>2017-000123</BookingNumber><Visitor booking="&#50;019-000999"/>"#,
            "<BookingNumber>2017-000123</BookingNumber><Booking><a>2019-</a><b>000999</b></Booking>",
            "<BookingNumber>2017-000123</BookingNumber><Booking>2019-<x/>000999</Booking>",
            // White space around a number is no cover, however much of it.
            "<BookingNumber>2017-000123</BookingNumber><Booking>" + String(repeating: " ", count: 5000) + "<a>2019-000999</a>" + String(repeating: "\n", count: 5000) + "</Booking>",
            #"<BookingNumber>2017-000123</BookingNumber><Visitor booking="   2019-000999   "/>"#,
        ] {
            do {
                _ = try Self.classify(body: Self.getBooking(inner))
                Issue.record("accepted: \(inner)")
            } catch {
                #expect("\(error)".contains("another booking number"), "\(inner): \(error)")
            }
        }
        do {
            _ = try Self.classify(body: Self.envelope(#"<GetBooking xmlns="urn:example:jail:records" inmateId="2019-000999"><BookingNumber>2017-000123</BookingNumber></GetBooking>"#))
            Issue.record("an attribute of the operation naming another inmate was accepted")
        } catch {
            #expect("\(error)".contains("another booking number"), "\(error)")
        }
        // Text far longer than any booking number is kept out of the check, nested however deep.
        let deep = String(repeating: "<a>", count: 40) + String(repeating: "x", count: 20_000) + String(repeating: "</a>", count: 40)
        #expect(try Self.classify(body: Self.getBooking("<BookingNumber>2017-000123</BookingNumber>" + deep)).subject == "2017-000123")
        // A CDATA section inside the operation is not read, so it is refused.
        #expect(throws: StageRefusal.self) {
            try Self.classify(body: Self.getBooking("<BookingNumber>2017-000123</BookingNumber><Note><![CDATA[2019-000999]]></Note>"))
        }
        let same = "<BookingNumber>2017-000123</BookingNumber><Regarding>2017-000123</Regarding><Note>Tom &amp; Jerry, 2019-00099</Note>"
        #expect(try Self.classify(body: Self.getBooking(same)).subject == "2017-000123")
    }

    @Test("the envelope's operation chooses the route, and its subject element gives the inmate")
    func routeByOperation() throws {
        let booking = try Self.classify(body: Self.getBooking())
        #expect(booking.route.id == "get-booking")
        #expect(booking.subject == "2017-000123")
        let release = try Self.classify(body: Self.envelope(#"<GetReleaseDate xmlns="urn:example:jail:records"><InmateId>2017-000456</InmateId></GetReleaseDate>"#))
        #expect(release.route.id == "get-release-date")
        #expect(release.action == "records.release-date")
        #expect(release.subject == "2017-000456")
        // An operation in no namespace, as a legacy RPC service sends it, is routed only by a route that says so.
        let custody = try Self.classify(body: Self.envelope(#"<GetCustodyStatus><InmateId>2017-000456</InmateId></GetCustodyStatus>"#))
        #expect(custody.route.id == "get-custody-status")
        #expect(custody.subject == "2017-000456")
        let undeclared = try Self.classify(body: Self.envelope(#"<GetCustodyStatus xmlns=""><InmateId>2017-000456</InmateId></GetCustodyStatus>"#))
        #expect(undeclared.route.id == "get-custody-status")
    }

    @Test("a WS-Addressing To must name the URL the request was decided on, or the anonymous address, once")
    func destination() throws {
        func to(_ values: String...) -> String {
            let headers = values.map { #"<w:To xmlns:w="http://www.w3.org/2005/08/addressing">\#($0)</w:To>"# }.joined()
            return Self.envelope(#"<GetBooking xmlns="urn:example:jail:records"><BookingNumber>2017-000123</BookingNumber></GetBooking>"#, header: headers)
        }
        for accepted in [
            "https://gateway.county.example/records/soap", "http://10.0.0.5:8443/records/soap", "HTTPS://gateway/records/soap",
            "http://www.w3.org/2005/08/addressing/anonymous", "\n  https://gateway/records/soap\n",
        ] {
            #expect(try Self.classify(body: to(accepted)).route.id == "get-booking", "\(accepted)")
        }
        for refused in [
            to("https://gateway.county.example/axis2/services/CustodyService"), to("https://gateway/records/soap/../admin"),
            to("urn:example:records"), to("/records/soap"), to("https://gateway"), to("https://gateway/records/soap", "https://gateway/records/soap"),
            to("https://gateway/records/<!-- -->soap"), to("http://gateway?/records/soap"), to("http://gateway#/records/soap"),
            to("https://gateway/records/%73oap"), to("https://gateway/records/soap/op/.."), to("\u{A0}https://gateway/records/soap"),
            // A helper's pass: a stack could dispatch on a query or fragment the request's own URL may not carry.
            to("http://gateway/records/soap?op=DeleteBooking"), to("http://gateway/records/soap#DeleteBooking"),
        ] {
            #expect(throws: StageRefusal.self, "\(refused)") { try Self.classify(body: refused) }
        }
    }

    /// A re-pass: requiring the subject as the operation's child refused every request of a WCF service that takes a
    /// request object (a DataContract, in a namespace of its own); the route now names the path to it.
    @Test("a subject declared as a path is read at its end, the first child at each step; anywhere else it is unusable")
    func subjectPath() throws {
        let contract = "http://schemas.datacontract.org/2004/07/Jail.Records"
        func byRequest(_ inner: String) -> String {
            Self.envelope(#"<GetBookingByRequest xmlns="urn:example:jail:records">"# + inner + "</GetBookingByRequest>")
        }
        let wcf = byRequest(#"<request xmlns:a="\#(contract)"><a:BookingNumber>2017-000123</a:BookingNumber><a:Verbose>true</a:Verbose></request>"#)
        #expect(try Self.classify(body: wcf).subject == "2017-000123")
        let path = "request/BookingNumber"
        // A DataContract's members come in alphabetical order: below the first step, the subject is found by name.
        let alphabetical = byRequest(#"<request xmlns:a="\#(contract)"><a:AgencyCode>ICE</a:AgencyCode><a:BookingNumber>2017-000123</a:BookingNumber></request>"#)
        #expect(try SOAPRequest.read(Array(alphabetical.utf8), watching: [path]).values[path] == [.text("2017-000123")])
        let elsewhere = byRequest(#"<other><BookingNumber>2017-000123</BookingNumber></other>"#)
        #expect(try SOAPRequest.read(Array(elsewhere.utf8), watching: [path]).values[path] == [.unusable("stands elsewhere than \(path)")])
        let requestSecond = byRequest(#"<in0>2017-000456</in0><request><BookingNumber>2017-000123</BookingNumber></request>"#)
        #expect(try SOAPRequest.read(Array(requestSecond.utf8), watching: [path]).values[path] == [.unusable("does not stand in the operation's first child")])
        // A re-pass of this stop: the first step given twice (JAXB and Jackson keep the last), or the subject in an
        // attribute of a second one.
        let repeated = SOAPValue.unusable("stands in a request given more than once, which a binder may read instead")
        for second in ["<request><Other/></request>", #"<request BookingNumber="2017-000456"/>"#] {
            let twice = byRequest("<request><BookingNumber>2017-000123</BookingNumber></request>" + second)
            #expect(try SOAPRequest.read(Array(twice.utf8), watching: [path]).values[path]?.contains(repeated) == true, "\(second)")
        }
        // A third re-pass: the request object in another namespace, with attributes, or holding text; and a twin of the
        // subject when another route's subject ends in the same name.
        let unusableStep = SOAPValue.unusable("stands in an element of another namespace or with attributes, which may change how it reads")
        for object in [#"<x:request xmlns:x="urn:other"><BookingNumber>2017-000123</BookingNumber></x:request>"#,
                       #"<request xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"><BookingNumber>2017-000123</BookingNumber></request>"#] {
            #expect(try SOAPRequest.read(Array(byRequest(object).utf8), watching: [path]).values[path] == [unusableStep], "\(object)")
        }
        let withText = byRequest("<request>2017-000456<BookingNumber>2017-000123</BookingNumber></request>")
        #expect(try SOAPRequest.read(Array(withText.utf8), watching: [path]).values[path]?.contains(.unusable("stands in an element that holds text beside its members")) == true)
        let twin = byRequest("<request><BookingNumber>2017-000123</BookingNumber><bookingNumber>2017-000456</bookingNumber></request>")
        let both = try SOAPRequest.read(Array(twin.utf8), watching: [path, "BookingNumber"]).values
        #expect(both[path]?.contains(.unusable("has a twin whose name differs from it only in letter case or separators")) == true, "\(both)")
        for bad in ["request//BookingNumber", "a/b/c/d/e", "request/Booking Number", "/BookingNumber"] {
            let policy = Self.policy.replacingOccurrences(of: "subject: { xml: request/BookingNumber }", with: "subject: { xml: \"\(bad)\" }")
            #expect(throws: (any Error).self, "\(bad)") { try PolicyParser.parse(policy, file: "soap.yaml") }
        }
    }

    @Test("refused: an operation no route carries, a subject missing, twice or not text alone, a malformed envelope")
    func refusals() {
        let cases: [(String, GatewayReason)] = [
            (Self.envelope(#"<SetHousingUnit xmlns="urn:example:jail:records"/>"#), .noRoute),
            (Self.envelope(#"<GetBooking xmlns="urn:other"><BookingNumber>2017-000123</BookingNumber></GetBooking>"#), .noRoute),
            (Self.envelope(#"<GetBooking><BookingNumber>2017-000123</BookingNumber></GetBooking>"#), .noRoute),
            (Self.envelope(#"<GetCustodyStatus xmlns="urn:example:jail:records"><InmateId>2017-000456</InmateId></GetCustodyStatus>"#), .noRoute),
            (Self.getBooking(""), .subjectMissing),
            (Self.getBooking("<BookingNumber>2017-000123</BookingNumber><BookingNumber>2017-000456</BookingNumber>"), .subjectMissing),
            (Self.getBooking("<BookingNumber>2017&#45;000456</BookingNumber>"), .bodyInvalid),
            (Self.getBooking("<BookingNumber> 2017-000123</BookingNumber>"), .subjectInvalid),
            // Spelt otherwise than the route declares, alone: a binder that matches names exactly reads no subject.
            (Self.getBooking("<bookingNumber>2017-000123</bookingNumber>"), .bodyInvalid),
            (Self.getBooking("<Booking_Number>2017-000123</Booking_Number>"), .bodyInvalid),
            ("<notSOAP/>", .bodyInvalid),
            (#"{"bookingNumber":"2017-000123"}"#, .bodyInvalid),
        ]
        // An attacker's pass: a stack that dispatches on the query (`?op=DeleteBooking`) would act on it.
        let queried = Result { () throws(StageRefusal) in try Self.classify("POST", "/records/soap?op=DeleteBooking", body: Self.getBooking()) }
        if case .failure(let refusal) = queried { #expect(refusal.reason == .bodyInvalid, "\(refusal)") } else { Issue.record("a query passed") }
        for (body, reason) in cases {
            // Each is sent as XML: it is the envelope's reading that refuses it.
            let result = Result { () throws(StageRefusal) in try Self.classify(body: body, headers: ["content-type": ["text/xml"]]) }
            guard case .failure(let refusal) = result else {
                Issue.record("\(body) passed")
                continue
            }
            #expect(refusal.reason == reason, "\(body): \(refusal)")
        }
    }

    @Test("every action named outside the Body must be the route's; with none declared, only SOAP 1.1's empty one", arguments: [
        ([:], true),
        (["soapaction": [#""urn:example:jail:records/GetBooking""#]], true),
        (["soapaction": ["urn:example:jail:records/GetBooking"]], true),
        (["soapaction": [#""""#]], true),
        (["soapaction": [#""urn:example:jail:records/SetHousingUnit""#]], false),
        (["soapaction": [#""urn:example:jail:records/GetBooking""#, #""urn:example:jail:records/GetBooking""#]], false),
        (["content-type": [#"application/soap+xml; charset=utf-8; action="urn:example:jail:records/GetBooking""#]], true),
        (["content-type": [#"application/soap+xml; action="urn:example:jail:records/SetHousingUnit""#]], false),
        (["content-type": ["application/soap+xml; action"]], false),
        // Stacks that search the header's text for action= must find only the declared one.
        (["content-type": [#"application/soap+xml; xaction="urn:example:jail:records/SetHousingUnit""#]], false),
        (["content-type": [#"text/xml; x="y action=urn:example:jail:records/SetHousingUnit""#]], false),
        (["content-type": [#"text/xml; charset=utf-8; boundary=x"#]], false),
    ] as [([String: [String]], Bool)])
    func actions(headers: [String: [String]], passes: Bool) {
        let result = Result { () throws(StageRefusal) in try Self.classify(body: Self.getBooking(), headers: headers) }
        #expect(((try? result.get()) != nil) == passes, "\(headers)")
        // A malformed media type is refused as a header before the envelope is read.
        if case .failure(let refusal) = result { #expect([.bodyInvalid, .badHeader].contains(refusal.reason)) }
    }

    @Test("a WS-Addressing Action in the envelope is held to the same rule")
    func addressingActionChecked() throws {
        func body(_ action: String) -> String {
            Self.envelope(
                #"<GetBooking xmlns="urn:example:jail:records"><BookingNumber>2017-000123</BookingNumber></GetBooking>"#,
                header: #"<a:Action xmlns:a="http://www.w3.org/2005/08/addressing">\#(action)</a:Action>"#
            )
        }
        #expect(try Self.classify(body: body("urn:example:jail:records/GetBooking")).route.id == "get-booking")
        #expect(throws: StageRefusal.self) { try Self.classify(body: body("urn:example:jail:records/SetHousingUnit")) }
        // The operation without a declared action takes no named action at all.
        let release = #"<GetReleaseDate xmlns="urn:example:jail:records"><InmateId>2017-000456</InmateId></GetReleaseDate>"#
        #expect(throws: StageRefusal.self) { try Self.classify(body: Self.envelope(release), headers: ["soapaction": ["urn:x"]]) }
        #expect(try Self.classify(body: Self.envelope(release), headers: ["soapaction": [#""""#]]).route.id == "get-release-date")
    }

    @Test("a SOAP action on a route that carries no SOAP operation is refused as a bad header")
    func actionOnPlainRoute() {
        for headers in [["soapaction": ["urn:x"]], ["soapaction": [""]], ["content-type": ["application/soap+xml"]]] {
            let result = Result { () throws(StageRefusal) in try Self.classify("GET", "/records/inmates/2017-000123", body: nil, headers: headers) }
            guard case .failure(let refusal) = result else {
                Issue.record("\(headers) passed")
                continue
            }
            #expect(refusal.reason == .badHeader)
        }
        #expect(throws: Never.self) { try Self.classify("GET", "/records/inmates/2017-000123", body: nil) }
    }

    @Test("a body must be of the type it is read as; one forwarded unread, no form, and no XML to a SOAP service", arguments: [
        ("/records/soap", "text/xml; charset=utf-8", true), ("/records/soap", #"application/soap+xml; action="urn:a""#, true),
        ("/records/soap", "application/json", false), ("/records/soap", "text/xml; charset=utf-16", false), ("/records/soap", nil, false),
        ("/visitation/visits", "application/json", true), ("/visitation/visits", "application/json; charset=utf-8", true),
        ("/visitation/visits", "application/ld+json", false), ("/visitation/visits", "text/xml", false), ("/visitation/visits", nil, false),
        ("/visitation/visits", "application/json; charset=utf-16", false), ("/visitation/visits", "application/x-www-form-urlencoded", false),
        ("/visitation/notes", "text/xml", true), ("/visitation/notes", "application/soap+xml", true), ("/visitation/notes", nil, true),
        ("/visitation/notes", "application/x-www-form-urlencoded", false), ("/visitation/notes", " Multipart/Form-Data ; boundary=x", false),
        // The records system serves SOAP: XML reaches it only through a route that names the operation.
        ("/records/notes", "text/plain", true), ("/records/notes", "text/xml; charset=utf-16", false), ("/records/notes", "application/xml", false),
        ("/records/notes", "Multipart/Related; type=\"application/xop+xml\"", false),
        // A red-team pass: types that Undertow and .NET (by their beginning) or PHP (cut at a space) read as a form,
        // or a charset given in RFC 2231's extended form, which was not checked.
        ("/visitation/visits", "application/x-www-form-urlencoded+json", false), ("/visitation/visits", "application/x-www-form-urlencoded +json", false),
        ("/visitation/visits", "Application/X-WWW-Form-Urlencoded+JSON; charset=utf-8", false), ("/visitation/visits", "multipart/form-data+json", false),
        ("/visitation/visits", "application/json; charset*=utf-16''x", false), ("/visitation/visits", "application/json; charset*0=utf-16", false),
        // An attacker's pass (helper 244): a vendor's type on a route whose body is read, which some frameworks
        // choose a versioned handler by, and SOAP routes' types alike.
        ("/visitation/visits", "application/vnd.x-www-form-urlencoded+json", false), ("/visitation/visits", "application/vnd.jail.v2+json", false),
        ("/records/soap", "application/vnd.jail.v2+xml", false), ("/records/soap", "application/xml", false),
        ("/records/soap", "application/x-www-form-urlencoded+xml", false), ("/records/soap", "text/xml; charset*=utf-16''x", false),
        ("/visitation/notes", "application/x-www-form-urlencoded+x", false), ("/visitation/notes", "application/x-www-form-urlencoded x", false),
        ("/visitation/notes", "multipart/form-data+x; boundary=b", false), ("/visitation/notes", "multipart/form-data x; boundary=b", false),
        ("/visitation/notes", "multipart/mixed; boundary=b", false), ("/visitation/notes", "text/plain, multipart/form-data", false),
        ("/visitation/notes", "text/plain x", false), ("/visitation/notes", "text/plain ; charset=utf-8", true),
        ("/visitation/notes", "application/octet-stream", true),
        // A body forwarded unread: a comma after the parameters makes the field a list, whose last type a server may
        // take; one inside a quoted value does not.
        ("/visitation/notes", "application/pdf; a=b, multipart/form-data; boundary=x", false), ("/visitation/notes", "text/plain;,", false),
        ("/visitation/notes", "application/pdf; name=\"a, b.pdf\"", true),
    ] as [(String, String?, Bool)])
    func bodyType(path: String, contentType: String?, passes: Bool) throws {
        let classifier = try PolicyParser.parse(Self.policy, file: "soap.yaml").classifier
        let route = try classifier.match(method: "POST", target: CanonicalTarget(raw: path)).route
        let violation = classifier.bodyTypeViolation(route: route, contentType: contentType)
        #expect((violation == nil) == passes, "\(path), \(contentType ?? "none"): \(violation ?? "passes")")
    }

    // MARK: The policy language

    @Test("routes that cannot be told apart, or a SOAP declaration out of place, do not load", arguments: [
        // A SOAP route is sent with POST.
        ("  - { id: x, method: GET, path: /s, soap: { operation: \"{urn:a}Op\" }, action: a.b, upstream: records }\n", "POST"),
        // The operation is {namespace}Local.
        ("  - { id: x, method: POST, path: /s, soap: { operation: \"Op\" }, action: a.b, upstream: records }\n", "{namespace}Local"),
        ("  - { id: x, method: POST, path: /s, soap: { operation: \"{urn:a}a:b\" }, action: a.b, upstream: records }\n", "{namespace}Local"),
        ("  - { id: x, method: POST, path: /s, soap: { operation: \"{}\" }, action: a.b, upstream: records }\n", "{}Local"),
        ("  - { id: x, method: POST, path: /s, soap: { operation: \"{}{urn:a}Op\" }, action: a.b, upstream: records }\n", "{}Local"),
        ("  - { id: x, method: POST, path: /s, soap: { operation: \"{urn:a}Op\", action: \"a b\" }, action: a.b, upstream: records }\n", "spaces"),
        ("  - { id: x, method: POST, path: /s, soap: { operation: \"{urn:a}Op\", extra: 1 }, action: a.b, upstream: records }\n", "extra"),
        // An XML subject needs a SOAP operation; a SOAP route's subject is not a JSON field.
        ("  - { id: x, method: POST, path: /s, action: a.b, subject: { xml: BookingNumber }, upstream: records }\n", "soap operation"),
        ("  - { id: x, method: POST, path: /s, soap: { operation: \"{urn:a}Op\" }, action: a.b, subject: { body: b }, upstream: records }\n", "xml"),
        ("  - { id: x, method: POST, path: /s, soap: { operation: \"{urn:a}Op\" }, action: a.b, subject: { xml: \"a:b\" }, upstream: records }\n", "local name"),
        ("  - { id: x, method: POST, path: \"/s/{b}\", soap: { operation: \"{urn:a}Op\" }, action: a.b, subject: { path: b }, upstream: records }\n", "xml"),
        ("  - { id: x, method: POST, path: /s, soap: { operation: \"{urn:a}Op\" }, action: a.b, subject: { query: b }, upstream: records }\n", "xml"),
        // The same operation twice at one path, and SOAP and plain routes that may take the same paths.
        ("  - { id: x, method: POST, path: /s, soap: { operation: \"{urn:a}Op\" }, action: a.b, upstream: records }\n"
            + "  - { id: y, method: POST, path: /s, soap: { operation: \"{urn:a}Op\" }, action: a.c, upstream: records }\n", "repeats"),
        ("  - { id: x, method: POST, path: \"/s/{id}\", action: a.b, upstream: records }\n"
            + "  - { id: y, method: POST, path: /s/soap, soap: { operation: \"{urn:a}Op\" }, action: a.c, upstream: records }\n", "only one carries"),
        // A service may answer a longer path at the same endpoint, and take SOAP over PUT.
        ("  - { id: x, method: POST, path: /s, soap: { operation: \"{urn:a}Op\" }, action: a.b, upstream: records }\n"
            + "  - { id: y, method: PUT, path: \"/s/inmates/{b}\", action: a.c, subject: { path: b }, upstream: records }\n", "only one carries"),
    ] as [(String, String)])
    func declarations(routes: String, error: String) {
        let policy = "policy: t\ntime-zone: UTC\nsubject-format: \"####\"\nroutes:\n" + routes
            + "rules:\n  - { id: r, effect: permit, when: { category: local-law-enforcement } }\n"
        #expect {
            _ = try PolicyParser.parse(policy, file: "t.yaml")
        } throws: { thrown in
            "\(thrown)".contains(error)
        }
    }

    @Test("several operations at one path, and SOAP routes at different paths, load")
    func declarationsThatLoad() throws {
        let policy = try PolicyParser.parse(Self.policy, file: "soap.yaml")
        #expect(policy.classifier.routes.compactMap(\.soap).map(\.element.clark) == [
            "{urn:example:jail:records}GetBooking", "{urn:example:jail:records}GetReleaseDate", "{urn:example:jail:records}GetBookingByRequest",
            "{}GetCustodyStatus",
        ])
    }
}

/// The SOAP request reader checked against libxml2 (through FoundationXML's `XMLParser`): on generated envelopes, and
/// on each changed a byte or a snippet at a time, whatever the reader accepts libxml2 accepts too, and libxml2 finds
/// the same operation in the Body and the same text in the one `BookingNumber` within it.
@Suite("SOAP requests against libxml2", .serialized)
struct SOAPDifferentialTests {
    static let namespaces = [#"urn:example:jail:records"#, #"urn:example:jail&#x3A;records"#, #"urn:other"#]
    static let operations = ["GetBooking", "SetHousingUnit", "Body"]
    static let bookings = ["2017-000123", "2017&#45;000456", "<![CDATA[2017-000789]]>", "2017-<!--x-->000123", " 2017-000123", ""]

    /// A generated envelope: prefixes or default namespaces, escaped URIs, headers, comments, whitespace, one or two
    /// bookings, attributes.
    static func envelope(using random: inout SplitMix64) -> String {
        func pick<T>(_ values: [T]) -> T { values[random.next(below: values.count)] }
        let envelopeURI = pick(["http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"])
        let operation = pick(operations), namespace = pick(namespaces)
        let prefix = pick(["", "r:", "soap:"])
        let declaration = prefix.isEmpty ? #"xmlns="\#(namespace)""# : #"xmlns:\#(prefix.dropLast())="\#(namespace)""#
        var inner = ""
        for _ in 0..<(1 + random.next(below: 2)) {
            let attribute = random.next(below: 5) == 0 ? #" xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true""# : ""
            let element = "\(pick(["", prefix]))BookingNumber"
            inner += pick(["", " ", "\n  "]) + "<\(element)\(attribute)>\(pick(bookings))</\(element)>"
        }
        if random.next(below: 3) == 0 { inner += "<Visitor>A. Lawyer</Visitor>" }
        let header = pick(["", "<e:Header/>", "<e:Header><t:Security xmlns:t=\"\(SOAPRequestTests.wsSecurity)\">1</t:Security></e:Header>", "<e:Header><!-- h --></e:Header>"])
        return pick(["", #"<?xml version="1.0" encoding="UTF-8"?>"#]) + #"<e:Envelope xmlns:e="\#(envelopeURI)">"# + header
            + pick(["", "\n"]) + "<e:Body>" + pick(["", " ", "<!-- c -->"])
            + "<\(prefix)\(operation) \(declaration)>\(inner)</\(prefix)\(operation)>" + "</e:Body></e:Envelope>"
    }

    /// What libxml2 reads: the Body's first element, and the text of each `BookingNumber` inside it (nil if it holds
    /// anything but text or carries an attribute).
    static func libxml2View(_ events: [XMLEvent]) -> (operation: QualifiedName?, bookings: [String?]) {
        var depth = 0, inBody = false, operation: QualifiedName?, bookings: [String?] = []
        var booking: (depth: Int, text: String, plain: Bool)?
        for event in events {
            switch event {
            case .start(let uri, let local, let attributes):
                depth += 1
                if depth == 2 { inBody = local == "Body" }
                if depth == 3, inBody, operation == nil { operation = QualifiedName(namespace: uri, local: local) }
                if booking != nil { booking!.plain = false }
                if depth >= 4, inBody, local == "BookingNumber", booking == nil {
                    booking = (depth, "", attributes.isEmpty)
                }
            case .end:
                if let done = booking, done.depth == depth {
                    bookings.append(done.plain ? done.text : nil)
                    booking = nil
                }
                depth -= 1
            case .text(let text): booking?.text += text
            case .cdata, .comment, .instruction: booking?.plain = false
            }
        }
        return (operation, bookings)
    }

    @Test("what the reader accepts, libxml2 reads alike: the operation and the inmate")
    func agreesWithLibxml2() throws {
        var random = SplitMix64(seed: 0x534f_4150)
        var compared = 0, withSubject = 0
        for round in 0..<800 {
            let original = Array(Self.envelope(using: &random).utf8)
            for variant in 0..<4 {
                let document = variant == 0 ? original : RandomXML.mutate(original, using: &random)
                guard let ours = try? SOAPRequest.read(document, watching: ["BookingNumber"]) else { continue }
                let theirs = XMLEvents(parsing: document)
                guard theirs.readable else { continue }
                let shown = String(decoding: document, as: UTF8.self).debugDescription
                #expect(theirs.accepted, "round \(round): libxml2 refuses what the reader accepts: \(shown) \(theirs.errors)")
                let view = Self.libxml2View(theirs.events)
                #expect(view.operation == ours.operation, "round \(round): \(shown)")
                let ourBookings = ours.values["BookingNumber"] ?? []
                if ourBookings.count == 1, case .text(let subject) = ourBookings[0] {
                    #expect(view.bookings == [subject], "round \(round): \(shown)")
                    withSubject += 1
                }
                compared += 1
            }
        }
        #expect(compared > 500)
        #expect(withSubject > 100)
    }
}
