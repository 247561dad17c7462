import Foundation

/// What a request is: the action it performs, on which inmate, served by which upstream.
public struct Classification: Sendable {
    public let route: Route
    public let subject: String?
    /// The document the body names the request as resting on (``Route/documentMember``), if it names one.
    public let citedDocument: String?
    /// When what the request asks for ends or takes place, as its body states it (``Route/untilMember``).
    public let until: Date?
    /// The agency the body says the request is made for (``Route/agencyMember``).
    public let statedAgency: String?
    public var action: String { route.action }

    public init(route: Route, subject: String?, citedDocument: String? = nil, until: Date? = nil, statedAgency: String? = nil) {
        self.route = route
        self.subject = subject
        self.citedDocument = citedDocument
        self.until = until
        self.statedAgency = statedAgency
    }
}

/// Why a request could not be classified. Each maps to a reason code in the log.
public enum ClassificationFailure: Error, Sendable, Equatable {
    /// No route matches the method and canonical path.
    case noRoute
    /// The route needs a subject that the request does not give exactly once.
    case subjectMissing(String)
    /// The subject is present but not a well-formed booking number.
    case subjectInvalid(String)
    /// The body that names the subject is not a JSON object with a unique string field, or a SOAP route's body is
    /// not an envelope holding one operation, or names an action other than its operation's.
    case bodyInvalid(String)
    /// A SOAP route's path matched, but no route carries the envelope's operation.
    case noOperationRoute(QualifiedName)
    /// The request names a SOAP action (or is sent as SOAP 1.2) on a route that carries no SOAP operation.
    case soapActionUnexpected
    /// The query holds a parameter the route does not take, or one it takes more than once.
    case queryUndeclared(String)

    public var reason: GatewayReason {
        switch self {
        case .noRoute, .noOperationRoute: .noRoute
        case .soapActionUnexpected: .badHeader
        case .queryUndeclared: .ambiguousPath
        case .subjectMissing: .subjectMissing
        case .subjectInvalid: .subjectInvalid
        case .bodyInvalid: .bodyInvalid
        }
    }

    public var detail: String {
        switch self {
        case .noRoute: "no route matches this method and path"
        case .noOperationRoute(let operation): "no route at this method and path carries the SOAP operation \(operation)"
        case .soapActionUnexpected: "a SOAP action is named on a route that carries no SOAP operation"
        case .subjectMissing(let detail), .subjectInvalid(let detail), .bodyInvalid(let detail), .queryUndeclared(let detail): detail
        }
    }
}

/// Classifies canonical requests against a policy's routes.
public struct Classifier: Sendable {
    public let routes: [Route]
    public let subjectFormat: SubjectFormat
    /// The element names SOAP routes read their subjects from: an envelope's are all collected in one reading, before
    /// its operation tells which route applies.
    private let subjectElements: Set<String>
    /// The upstreams that serve a SOAP route: XML goes to them only on a route that names its SOAP operation.
    private let soapUpstreams: Set<String>
    /// The body members the policy's request facts read (``RequestFact/Source/bodyMember(_:)``), on the routes that
    /// read a JSON body.
    private let factMembers: [String]

    public init(routes: [Route], subjectFormat: SubjectFormat, factMembers: [String]) {
        self.routes = routes
        self.subjectFormat = subjectFormat
        self.factMembers = factMembers
        subjectElements = Set(routes.compactMap { if case .xmlElement(let name) = $0.subject { name } else { nil } })
        soapUpstreams = Set(routes.filter { $0.soap != nil }.map(\.upstream))
    }

    /// Why a request body's `Content-Type` is refused on `route`, or nil. A type that is given must begin with a
    /// ``MediaTypeEssence``, which every server reads alike, and not a form's (``MediaTypeEssence/isForm``), from which
    /// an upstream framework may take a method override (`_method`) or parameters that no stage saw. A body the gateway
    /// reads (for the inmate it names, or a SOAP route's operation) must be of the type it is read as, in UTF-8, or the
    /// upstream could read another inmate or operation from it. A body forwarded unread may be of any other type, but
    /// not XML to an upstream that serves SOAP, which would dispatch on an envelope no stage read.
    public func bodyTypeViolation(route: Route, contentType: String?) -> String? {
        let essence = contentType.flatMap(MediaTypeEssence.init)
        if contentType != nil && essence == nil {
            return "the Content-Type must be one type/subtype, each an RFC 9110 token, and its parameters, with no comma outside quotes, such as application/json"
        }
        if essence?.isForm == true {
            return "a form body is not forwarded: a Content-Type that begins application/x-www-form-urlencoded or multipart/ is read as one"
        }
        let type = RedactableMediaType(contentType: contentType)
        // The types themselves: a vendor's (`application/vnd.jail.v2+json`) is the client's word to the upstream, which
        // some frameworks route by.
        if route.soap != nil {
            return type == .xml && ["text/xml", "application/soap+xml"].contains(essence?.text)
                ? nil : "this route's body is read as a SOAP envelope: its Content-Type must be text/xml or application/soap+xml"
        }
        if Self.readsJSONBody(route) {
            guard type == .json, essence?.text == "application/json", let contentType else {
                return "this route's body is read as JSON: its Content-Type must be application/json"
            }
            // A parameter other than the charset is the client's word to the upstream, which no stage read: ASP.NET's
            // API versioning, say, picks a controller (and its field names) by `v=2.0`.
            return RedactableMediaType.namesOnlyCharset(contentType)
                ? nil : "this route's body is read as JSON: its Content-Type may name a charset, and no other parameter"
        }
        if let essence, soapUpstreams.contains(route.upstream), type == .xml || essence.text.hasSuffix("xml") {
            return "the \(route.upstream) system serves SOAP: an XML body goes to it only on a route that names its SOAP operation"
        }
        return nil
    }

    /// The first route, in file order, that matches the method and path, with its bound parameters.
    public func match(method: String, target: CanonicalTarget) throws(ClassificationFailure) -> (route: Route, parameters: [String: String]) {
        for route in routes where route.method == method {
            if let parameters = route.bind(target.segments) { return (route, parameters) }
        }
        throw .noRoute
    }

    /// Whether the matched route needs the request body: to find its subject, or to read its SOAP operation.
    public static func needsBody(_ route: Route) -> Bool {
        route.soap != nil || readsJSONBody(route)
    }

    /// Whether the route reads its body as JSON (its subject is a body field).
    public static func readsJSONBody(_ route: Route) -> Bool {
        if case .bodyField = route.subject { true } else { false }
    }

    /// Completes classification. `body` must be given when ``needsBody(_:)`` is true, and whenever the request has one
    /// (a body forwarded unread is still checked when it may be read as JSON: ``checkForwardedBody(_:contentType:route:subject:)``),
    /// with its `contentType`. A SOAP route's envelope chooses the route: the first, in file order, for this method and
    /// path that carries its operation.
    public func classify(
        route: Route, parameters: [String: String], target: CanonicalTarget, body: [UInt8]?, contentType: String?,
        soapActions: SOAPActionClaims = .none
    ) throws(ClassificationFailure) -> Classification {
        var route = route, parameters = parameters
        var envelope: SOAPRequest?
        if route.soap != nil {
            let read: SOAPRequest
            do {
                read = try SOAPRequest.read(body ?? [], watching: subjectElements)
            } catch {
                throw .bodyInvalid(error.detail)
            }
            let method = route.method
            guard let carrier = routes.lazy.compactMap({ candidate -> (Route, [String: String])? in
                guard candidate.method == method, candidate.soap?.element == read.operation, let bound = candidate.bind(target.segments) else { return nil }
                return (candidate, bound)
            }).first else {
                throw .noOperationRoute(read.operation)
            }
            (route, parameters) = carrier
            do {
                try soapActions.check(against: route.soap!, addressingActions: read.addressingActions)
                try read.checkDestination(path: target.path)
            } catch {
                throw .bodyInvalid(error.detail)
            }
            // Some stacks dispatch on the query too (`?op=DeleteBooking`): the envelope alone says what is done.
            if !target.query.isEmpty { throw .bodyInvalid("a SOAP request carries no query: the envelope names its operation") }
            envelope = read
        } else if !soapActions.isEmpty {
            throw .soapActionUnexpected
        }
        // A subject read from the path or the body is the request's only one: the same name in the query, alone or
        // nested in a structure, or with other separators, could be what the upstream reads (PHP behind a rewrite that
        // appends the query, Rails params under a wrapper key or mapped to snake_case), and would go to it unchecked.
        // The same for every other body member read for the decision: the document, the time, the agency and the
        // request facts (a query `documentReference` that the upstream merges into its input would file the request
        // under another document, and `attorney_present=false` state what the body does not).
        switch route.subject {
        case .pathParameter(let name), .bodyField(let name), .xmlElement(let name):
            if target.query.contains(where: { ParameterName.mayCarry($0.name, name) }) {
                throw .subjectMissing("the subject's name '\(name)' must not also stand in the query")
            }
            for member in route.otherBodyMembers + (Self.readsJSONBody(route) ? factMembers : [])
            where target.query.contains(where: { ParameterName.mayCarry($0.name, member) }) {
                throw .bodyInvalid("the body member '\(member)' must not also stand in the query")
            }
        case .queryParameter(let name):
            // The subject's own parameter is read below, in every spelling an upstream reads as it; another that may
            // still carry it (`book_ing`, `visit[booking]`) would go to the upstream unread.
            if target.query.contains(where: { ParameterName.mayCarry($0.name, name) && !ParameterName.queryNameMatches($0.name, name) }) {
                throw .subjectMissing("another query parameter may be read as the subject's '\(name)': give the subject once, as '\(name)'")
            }
        case .none:
            break
        }
        // The rest of the query: only what the route declares, once each. (The parameter's name is the client's:
        // not quoted back.)
        var declared: Set<String> = []
        for parameter in target.query {
            if case .queryParameter(let name) = route.subject, ParameterName.queryNameMatches(parameter.name, name) { continue }
            guard route.query.contains(parameter.name) else {
                let taken = route.query.sorted().joined(separator: ", ")
                throw .queryUndeclared("the query holds a parameter this route does not take" + (taken.isEmpty ? "" : " (it takes \(taken))"))
            }
            guard declared.insert(parameter.name).inserted else { throw .queryUndeclared("query parameter '\(parameter.name)' is given more than once") }
        }
        let subject: String?
        var citedDocument: String?, until: Date?, statedAgency: String?
        switch route.subject {
        case .none:
            subject = nil
        case .pathParameter(let name):
            subject = parameters[name]
        case .queryParameter(let name):
            let values = target.queryValues(name)
            guard values.count == 1 else {
                throw .subjectMissing(values.isEmpty ? "query parameter '\(name)' is required" : "query parameter '\(name)' is given more than once")
            }
            subject = values[0]
        case .bodyField(let name):
            let members: [String: JSONFields.Scalar]
            // The body's other keys and values: one that reads as another booking number is what an upstream that
            // binds another member (an alias, a fallback, its own name for the inmate, a map keyed by inmate) may act on.
            var otherValues: [String] = []
            do {
                members = try JSONFields.decidedMembers([name] + route.otherBodyMembers, in: body ?? []) { other in
                    otherValues.append(other.text)
                }
            } catch {
                throw .bodyInvalid("body field '\(name)': \(error.detail)")
            }
            guard let found = members[name] else { throw .bodyInvalid("body field '\(name)': '\(name)' is missing") }
            guard found.isString else { throw .bodyInvalid("body field '\(name)': '\(name)' is not a string") }
            subject = found.text
            if let other = subjectFormat.anotherBookingNumber(among: otherValues, than: found.text) {
                throw .bodyInvalid("the body names another booking number ('\(other)') beside '\(name)', which an upstream may read instead")
            }
            if let member = route.documentMember, let cited = members[member] {
                // Compared byte for byte with the Warrant-Reference and the registry's references, which are ASCII: a
                // Kelvin sign is a K to Swift's String equality, not to the upstream that files it.
                guard cited.isString, !cited.text.isEmpty, cited.text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                    throw .bodyInvalid("body field '\(member)' must be a document's reference, in printable ASCII")
                }
                citedDocument = cited.text
            }
            if let member = route.untilMember {
                guard let stated = members[member], stated.isString, let time = Self.statedTime(stated.text) else {
                    throw .bodyInvalid("body field '\(member)' must give an RFC 3339 time with its offset, such as 2026-12-31T17:00:00Z")
                }
                until = time
            }
            if let member = route.agencyMember {
                guard let stated = members[member], stated.isString else {
                    throw .bodyInvalid("body field '\(member)' must name the agency the request is made for")
                }
                statedAgency = stated.text
            }
        case .xmlElement(let name):
            let values = envelope?.values[name] ?? []
            guard values.count == 1 else {
                throw .subjectMissing(values.isEmpty ? "the envelope must hold an element '\(name)'" : "the envelope holds more than one element '\(name)'")
            }
            switch values[0] {
            case .text(let value): subject = value
            case .unusable(let why): throw .bodyInvalid("the element '\(name)' \(why)")
            }
            // As in a JSON body: another element that reads as a booking number may be what the upstream binds.
            if let subject, let other = subjectFormat.anotherBookingNumber(among: envelope?.otherTexts ?? [], than: subject) {
                throw .bodyInvalid("the envelope names another booking number ('\(other)') beside '\(name)', which an upstream may read instead")
            }
        }
        if let subject, !subjectFormat.accepts(subject) {
            throw .subjectInvalid("'\(String(subject.prefix(64)))' is not a booking number of the form \(subjectFormat.pattern)")
        }
        if let subject, let body, !body.isEmpty { try checkForwardedBody(body, contentType: contentType, route: route, subject: subject) }
        // A path parameter that is not the subject (`{visit}`) but reads as another booking number is one an upstream
        // may act on instead (`DELETE /visitation/visits/2019-000999?booking=2017-000123`).
        for (name, value) in parameters where route.subject != .pathParameter(name) {
            if let subject, let other = subjectFormat.anotherBookingNumber(among: [value], than: subject) {
                throw .subjectInvalid("path parameter '\(name)' ('\(other)') reads as another booking number than the subject")
            }
        }
        return Classification(route: route, subject: subject, citedDocument: citedDocument, until: until, statedAgency: statedAgency)
    }
}

extension Classifier {
    /// Refuses a body that a route whose subject the target gives forwards unread, when the body may be read as JSON
    /// (its type names JSON, or it opens as a JSON object or array) and holds a member that may be read as the
    /// subject's parameter, or a key or scalar that reads as another booking number: an upstream that merges a JSON
    /// body's members with the path's and the query's parameters (Rails, Laravel, Spring's data binding) may take the
    /// inmate from the body instead. A body of a type that names JSON must be JSON, in UTF-8. (Not called for an empty
    /// body, which is none, whatever its type.)
    func checkForwardedBody(_ body: [UInt8], contentType: String?, route: Route, subject: String) throws(ClassificationFailure) {
        let name: String
        switch route.subject {
        case .pathParameter(let parameter), .queryParameter(let parameter): name = parameter
        case .none, .bodyField, .xmlElement: return
        }
        guard Self.mayBeReadAsJSON(body, contentType: contentType) else { return }
        var named: [String] = []
        do {
            try JSONFields.checkForwardedBody(body, besides: name) { named.append($0.text) }
        } catch {
            throw .bodyInvalid("the body, which an upstream may read as JSON beside the subject's '\(name)': \(error.detail)")
        }
        if let other = subjectFormat.anotherBookingNumber(among: named, than: subject) {
            throw .bodyInvalid("the body names another booking number ('\(other)') than the subject's '\(name)', which an upstream may read instead")
        }
    }

    /// Whether some upstream may read `body` as JSON: its type's essence names JSON (`application/json`, `text/json`,
    /// `application/*+json`, anything else that holds `json`), or its first byte other than white space (and a UTF-8
    /// byte order mark) opens an object or an array, which a framework that reads every body as JSON accepts.
    static func mayBeReadAsJSON(_ body: [UInt8], contentType: String?) -> Bool {
        if let essence = contentType.flatMap(MediaTypeEssence.init), essence.text.contains("json") { return true }
        var bytes = body[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        let first = bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        return first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
    }

    /// A time a request body states: RFC 3339 as ``Timestamp/parse(_:)`` reads it, with `T` and `Z` in capitals and an
    /// offset that some place on Earth keeps (−12:00 to +14:00), so that a parser that reads the wall time alone, or
    /// only the canonical form, is not hours away from the instant the gateway checked.
    static func statedTime(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count > 19, bytes[10] == UInt8(ascii: "T"), let time = Timestamp.parse(text) else { return nil }
        if bytes.last == UInt8(ascii: "Z") { return time }
        let offset = bytes.suffix(6)
        guard offset.count == 6, let sign = offset.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
        let digits = offset.dropFirst().filter { $0 != UInt8(ascii: ":") }.map { Int($0) - 0x30 }
        let minutes = (digits[0] * 10 + digits[1]) * 60 + digits[2] * 10 + digits[3]
        return (sign == UInt8(ascii: "+") ? minutes <= 14 * 60 : minutes <= 12 * 60) ? time : nil
    }
}

/// The shape of a booking number, written as a pattern that counsel can read: `#` is a digit, `A` a capital
/// letter, `a` a lower-case letter, and every other character stands for itself. `####-######` matches `2017-000123`.
public struct SubjectFormat: Sendable, Equatable {
    public let pattern: String
    private let pattern8: [UInt8]

    public init(pattern: String) {
        self.pattern = pattern
        self.pattern8 = Array(pattern.utf8)
    }

    public func accepts(_ subject: String) -> Bool {
        let bytes = Array(subject.utf8)
        guard bytes.count == pattern8.count else { return false }
        for (byte, expected) in zip(bytes, pattern8) {
            switch expected {
            case UInt8(ascii: "#"): guard byte >= 0x30 && byte <= 0x39 else { return false }
            case UInt8(ascii: "A"): guard byte >= 0x41 && byte <= 0x5a else { return false }
            case UInt8(ascii: "a"): guard byte >= 0x61 && byte <= 0x7a else { return false }
            default: guard byte == expected else { return false }
            }
        }
        return true
    }

    /// Whether `value`, found in a request beside its subject, may be read by an upstream as a booking number other
    /// than `subject`: as written, or as a lenient reader reads it (compatibility characters as what they show, any
    /// script's decimal digits as ASCII ones, invisible and combining characters dropped; controls and white space at
    /// either end dropped, as Java's `trim` does; either letter case, as most database collations compare), or, for a
    /// format of digits alone, by the number it begins with, as integer binders read it (`2.019000999e9`,
    /// `02019000999`, `2_019_000_999`, `2019000999abc`) when that number has about as many digits as `subject`'s, so
    /// that a count or a page size is no booking number. A value far longer than the format is none: it is dismissed
    /// before it is read further.
    public func namesAnother(_ value: String, than subject: String) -> Bool {
        let digitsOnly = pattern8.allSatisfy { $0 == UInt8(ascii: "#") }
        guard let text = Self.leniently(value, within: 4 * pattern8.count + 64, zerosFirst: digitsOnly) else { return false }
        for reading in [text, text.uppercased(), text.lowercased()] where accepts(reading) {
            if reading != subject { return true }
        }
        guard digitsOnly, let digits = Self.leadingInteger(text) else { return false }
        let significant = digits.drop { $0 == "0" }, subjectDigits = subject.drop { $0 == "0" }
        guard significant.count >= subjectDigits.count - 1, significant.count <= pattern8.count else { return false }
        return significant != subjectDigits
    }

    /// The first of `values` that ``namesAnother(_:than:)`` `subject`, as an error message may show it (its first 64
    /// characters, controls written out), or nil.
    public func anotherBookingNumber(among values: some Sequence<String>, than subject: String) -> String? {
        values.first { namesAnother($0, than: subject) }.map { TerminalText.escaped(String($0.prefix(64))) }
    }

    /// `value` as a lenient reader reads it (``namesAnother(_:than:)``), or nil when its significant part is longer
    /// than `limit` characters. With `zerosFirst`, leading zeros (after an optional `+`) are no part of it: an integer
    /// binder reads past any number of them.
    private static func leniently(_ value: String, within limit: Int, zerosFirst: Bool) -> String? {
        func isPadding(_ scalar: Unicode.Scalar) -> Bool { scalar.value <= 0x20 || scalar.value == 0x7f || scalar.properties.isWhitespace }
        let scalars = value.unicodeScalars
        guard var first = scalars.firstIndex(where: { !isPadding($0) }) else { return nil }
        let last = scalars.lastIndex(where: { !isPadding($0) })!
        if zerosFirst {
            if first < last, scalars[first] == "+" { first = scalars.index(after: first) }
            while first < last, scalars[first] == "0", scalars[scalars.index(after: first)] != "." { first = scalars.index(after: first) }
        }
        // A value padded beyond the limit is dismissed by its length without a copy of the padding.
        guard scalars.distance(from: first, to: last) < 4 * limit else { return nil }
        let trimmed = String(scalars[first...last])
        if trimmed.utf8.count <= limit, trimmed.utf8.allSatisfy({ $0 < 0x80 }) { return trimmed }
        var read = String.UnicodeScalarView()
        for scalar in trimmed.precomposedStringWithCompatibilityMapping.unicodeScalars {
            let properties = scalar.properties
            if properties.isDefaultIgnorableCodePoint { continue }
            switch properties.generalCategory {
            case .nonspacingMark, .enclosingMark, .spacingMark: continue
            default: break
            }
            if properties.numericType == .decimal, let digit = properties.numericValue, digit >= 0, digit <= 9 {
                read.append(Unicode.Scalar(UInt8(0x30 + Int(digit))))
            } else {
                read.append(scalar)
            }
            if read.count > limit { return nil }
        }
        return String(read)
    }

    /// The digits of the integer `text` begins with, as lenient integer binders read it: an optional `+`, digits with
    /// `_` between them, and a fraction or a decimal exponent that may move digits before the point (truncated,
    /// never rounded); nil if it begins with none, or is negative.
    static func leadingInteger(_ text: String) -> String? {
        var bytes = Array(text.utf8)[...]
        if bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        var integer = "", fraction = ""
        while let byte = bytes.first, isDigit(byte) || (byte == UInt8(ascii: "_") && !integer.isEmpty && bytes.dropFirst().first.map(isDigit) == true) {
            if byte != UInt8(ascii: "_") { integer.append(Character(Unicode.Scalar(byte))) }
            bytes = bytes.dropFirst()
        }
        guard !integer.isEmpty else { return nil }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            while let byte = bytes.first, isDigit(byte) {
                fraction.append(Character(Unicode.Scalar(byte)))
                bytes = bytes.dropFirst()
            }
        }
        if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            var rest = bytes.dropFirst()
            if rest.first == UInt8(ascii: "+") { rest = rest.dropFirst() }
            let exponent = rest.prefix(while: isDigit)
            // Only a shift within the digits written, or a few zeros past them: a larger one is no booking number.
            if let shift = Int(String(decoding: exponent, as: UTF8.self)), shift <= fraction.count + 20 {
                let moved = String(fraction.prefix(shift))
                integer += moved + String(repeating: "0", count: shift - moved.count)
            }
        }
        return integer
    }
}
