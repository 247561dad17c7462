import Foundation

/// The SOAP operation a route carries. A SOAP service usually answers every operation at one URL and dispatches on
/// the element its envelope's Body holds, or on an action named outside the Body: SOAP 1.1's `SOAPAction` header,
/// SOAP 1.2's `action` media-type parameter, or a WS-Addressing `Action` header in the envelope. The gateway reads the
/// Body's element and checks that every action the request names is this one, so that what the policy decided is
/// what the service does.
public struct SOAPOperation: Sendable, Equatable {
    /// The one element the Body holds, by namespace URI and local name.
    public let element: QualifiedName
    /// The action a request may name; with none declared, a request may name none (or SOAP 1.1's empty `""`).
    public let action: String?

    public init(element: QualifiedName, action: String?) {
        self.element = element
        self.action = action
    }
}

/// What a SOAP request says of itself, read from its envelope as the XML redactor reads a document (so refusing what
/// it refuses: a DOCTYPE, XInclude, anything not well-formed).
///
/// Only an envelope that every SOAP stack reads alike is accepted: an Envelope holding an optional Header, then one
/// Body and nothing after it, no other element named Envelope, Header or Body, no text (nor a reference or CDATA)
/// directly inside them, no processing instruction anywhere, exactly one element (the operation) in the Body, and of
/// WS-Addressing only `Action`, `MessageID`, `To` (checked by ``checkDestination(path:)``), and `ReplyTo`, `FaultTo`
/// or `From` addressed to the anonymous or none endpoint, as direct children of the Header. Any other WS-Addressing
/// header could have the service answer elsewhere than to the gateway, which redacts the answer.
public struct SOAPRequest: Sendable {
    /// The one element the Body holds.
    public let operation: QualifiedName
    /// The text of each WS-Addressing `Action` header (nil for one that is not plain text).
    public let addressingActions: [String?]
    /// The text of each WS-Addressing `To` header (nil for one that is not plain text).
    public let destinations: [String?]
    /// For each watched local name, every element of that name in the envelope, in document order.
    public let values: [String: [SOAPValue]]
    /// The text of every other element inside the operation (references read, white space trimmed at either end and
    /// each run within read as one space), in document order.
    public let otherTexts: [String]

    /// Nesting and markup limits for a request's envelope.
    private static let limits = XMLRedaction.Limits(maxDepth: 64, maxMarkupBytes: 16 * 1024)

    /// Reads `body` as a SOAP 1.1 or 1.2 envelope, collecting the elements named in `watching`. Throws a sentence
    /// saying what is wrong.
    public static func read(_ body: [UInt8], watching: Set<String>) throws(SOAPRequestError) -> SOAPRequest {
        let outline = SOAPEnvelopeOutline(watching: watching)
        do {
            try XMLRedaction.read(body, telling: outline, limits: limits)
        } catch {
            throw SOAPRequestError("the envelope is not read: \(error)")
        }
        guard outline.isEnvelope else { throw SOAPRequestError("the body is not a SOAP envelope") }
        if let problem = outline.problem { throw SOAPRequestError(problem) }
        guard outline.hasBody else { throw SOAPRequestError("the envelope has no Body") }
        guard outline.operations.count == 1 else {
            throw SOAPRequestError("the envelope's Body must hold exactly one element, the operation")
        }
        for address in outline.endpointAddresses {
            guard let address, SOAPEnvelopeOutline.anonymousAddresses.contains(address) else {
                throw SOAPRequestError("a WS-Addressing ReplyTo, FaultTo or From names an endpoint: the answer must come back to the gateway")
            }
        }
        return SOAPRequest(
            operation: outline.operations[0], addressingActions: outline.addressingActions, destinations: outline.destinations, values: outline.values,
            otherTexts: outline.otherTexts
        )
    }

    /// Checks the WS-Addressing `To` header, if any, against `path`, the canonical path the request was decided on: a
    /// service that dispatches on `To` (Axis2 does) must reach the endpoint the policy matched. At most one `To` may be
    /// given: the anonymous address, or an `http` or `https` URL whose path is exactly `path`, with no query or fragment.
    public func checkDestination(path: String) throws(SOAPRequestError) {
        guard destinations.count <= 1 else { throw SOAPRequestError("the WS-Addressing To header is given more than once") }
        guard let first = destinations.first else { return }
        guard let text = first else { throw SOAPRequestError("the WS-Addressing To header must hold plain text") }
        // An xs:anyURI's value is read with its surrounding XML white space (space, tab, CR, LF) collapsed.
        let bytes = Array(text.utf8)
        let start = bytes.firstIndex { !XMLName.isSpace($0) } ?? bytes.endIndex
        let end = bytes.lastIndex { !XMLName.isSpace($0) }.map { $0 + 1 } ?? start
        let destination = String(decoding: bytes[start..<end], as: UTF8.self)
        if SOAPEnvelopeOutline.anonymousAddresses.contains(destination) { return }
        let refusal = SOAPRequestError("the WS-Addressing To header names another endpoint than the request's URL")
        guard let separator = destination.range(of: "://"), ["http", "https"].contains(destination[..<separator.lowerBound].lowercased()) else {
            throw refusal
        }
        let afterScheme = destination[separator.upperBound...]
        // The authority ends at the first '/', '?' or '#'; the path must come next.
        guard let slash = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }), afterScheme[slash] == "/" else { throw refusal }
        // Byte for byte: a stack that dispatches on the path reads it as written (dot segments, escapes and all). No
        // query or fragment, which a stack could dispatch on as the request's URL may not (`?op=DeleteBooking`).
        guard afterScheme[slash...].utf8.elementsEqual(path.utf8) else { throw refusal }
    }
}

/// An element read as a request's subject: its text, or why it cannot stand for one.
public enum SOAPValue: Sendable, Equatable {
    case text(String)
    /// Holds more than text, carries attributes (such as `xsi:nil` or SOAP encoding's `href`), or stands outside the
    /// operation element.
    case unusable(String)
}

/// Why a SOAP request's envelope or actions were not accepted.
public struct SOAPRequestError: Error, Sendable {
    public let detail: String
    init(_ detail: String) { self.detail = detail }
}

/// The structure of a SOAP envelope, as the XML reader tells it element by element (see ``SOAPRequest`` for the shape
/// it accepts). A class, so that the reader, which redacts responses too, holds one reference rather than this state.
final class SOAPEnvelopeOutline {
    /// The addresses that send an answer back on the request's own connection (or nowhere).
    static let anonymousAddresses: Set<String> = [
        "http://www.w3.org/2005/08/addressing/anonymous", "http://www.w3.org/2005/08/addressing/none",
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous", "http://schemas.xmlsoap.org/ws/2004/03/addressing/role/anonymous",
    ]
    private static let endpointHeaders: Set<String> = ["ReplyTo", "FaultTo", "From"]
    private static let envelopeNames: Set<String> = ["Envelope", "Header", "Body"]

    /// Each watched path (`BookingNumber`, or `request/BookingNumber` below a request object), by its last step's
    /// local name.
    private let watched: [String: [(path: String, steps: [String])]]
    /// The watched paths by their last step's ``FieldNameKey``: an element of that key, but not that name, is what a
    /// binder that matches names loosely would read, for each of them.
    private let watchedKeys: [String: [String]]
    /// The elements open below the operation, outermost first: whether each is its parent's first element child, and
    /// whether it may stand as a step of a path (without attributes, and in the operation's namespace or none if it is
    /// the operation's child).
    private var belowOperation: [(local: String, isFirst: Bool, isPlainStep: Bool)] = []
    /// The local names of the element children each of the operation and the elements open below it has had so far.
    private var childNames: [Set<String>] = [[]]
    /// The root's namespace, if the root is a SOAP Envelope.
    private var envelopeNamespace: String?
    /// The first way the envelope departs from the accepted shape.
    private(set) var problem: String?
    private(set) var hasBody = false
    private var hasHeader = false
    private(set) var operations: [QualifiedName] = []
    private(set) var addressingActions: [String?] = []
    private(set) var destinations: [String?] = []
    /// The `Address` of each `ReplyTo`, `FaultTo` or `From` header (nil for one that is not plain text).
    private(set) var endpointAddresses: [String?] = []
    private(set) var values: [String: [SOAPValue]] = [:]
    /// The text inside the operation that is not collected: each element's whole text (its children's too, as a
    /// binder reading its string value sees it) and each attribute's value, as ``TextWindow`` keeps them; a
    /// whole text longer than ``TextWindow/limit`` bytes is left out, as no booking number is that long.
    private(set) var otherTexts: [String] = []
    /// The whole text so far of each element open inside the operation, outermost first.
    private var openTexts: [TextWindow] = []

    /// An element's whole text as it arrives, white space at either end left out and each run within kept as one space,
    /// up to ``limit`` bytes: a text copied into every ancestor must not cost the envelope's size for each.
    struct TextWindow {
        static let limit = 256
        private(set) var bytes: [UInt8] = []
        /// Whether it began, or so far ends, with white space.
        private(set) var leadingSpace = false
        private var pendingSpace = false
        private(set) var overflowed = false

        mutating func append(_ text: some Sequence<UInt8>) {
            for byte in text {
                if XMLName.isSpace(byte) {
                    if bytes.isEmpty { leadingSpace = true } else { pendingSpace = true }
                    continue
                }
                if pendingSpace { add(UInt8(ascii: " ")) }
                pendingSpace = false
                add(byte)
            }
        }

        /// A child's whole text, with the white space around it.
        mutating func append(_ child: TextWindow) {
            if child.overflowed { overflowed = true }
            guard !overflowed else { return }
            if child.leadingSpace { append([UInt8(ascii: " ")]) }
            append(child.bytes)
            if child.pendingSpace { append([UInt8(ascii: " ")]) }
        }

        private mutating func add(_ byte: UInt8) {
            guard !overflowed else { return }
            guard bytes.count < Self.limit else {
                overflowed = true
                bytes = []
                return
            }
            bytes.append(byte)
        }

        var text: String? { overflowed || bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
    }
    /// Which of the Envelope's children is open, and whether the operation element or an endpoint header is.
    private var inHeader = false
    private var inBody = false
    private var inOperation = false
    private var inEndpoint = false
    private var capture: Capture?

    /// An element whose text is being collected.
    private struct Capture {
        enum Kind { case watched(String), addressingAction, destination, endpointAddress }
        let kind: Kind
        let depth: Int
        var text: [UInt8] = []
        var isPlain = true
    }

    /// - Parameter watching: paths of local names from the operation down, joined with `/`.
    init(watching: Set<String>) {
        var watched: [String: [(path: String, steps: [String])]] = [:]
        for path in watching.sorted() {
            let steps = path.split(separator: "/").map(String.init)
            if let leaf = steps.last { watched[leaf, default: []].append((path, steps)) }
        }
        self.watched = watched
        watchedKeys = Dictionary(grouping: watched.flatMap { leaf, paths in paths.map { (key: FieldNameKey.of(leaf), path: $0.path) } }, by: \.key)
            .mapValues { $0.map(\.path) }
    }

    var isEnvelope: Bool { envelopeNamespace != nil }

    private func refuse(_ problem: String) {
        if self.problem == nil { self.problem = problem }
    }

    /// An attribute of an element, other than a namespace declaration.
    struct Attribute {
        let local: String
        /// In XML Schema's instance namespace (`xsi:type`, `xsi:nil`).
        let isSchemaInstance: Bool
        /// Its value, references read.
        let value: String
    }

    /// An element opens at `depth` (1 for the root), in `namespace` ("" for none), with `attributes`.
    func started(namespace: String, local: String, depth: Int, attributes: [Attribute]) {
        if depth >= 3, inOperation || (depth == 3 && inBody) {
            openTexts.append(TextWindow())
            for attribute in attributes {
                var value = TextWindow()
                value.append(attribute.value.utf8)
                if let text = value.text { otherTexts.append(text) }
            }
        }
        let hasAttributes = !attributes.isEmpty
        if depth > 2, Self.envelopeNames.contains(local) { refuse("the envelope holds an element named \(local) inside its \(inBody ? "Body" : "Header")") }
        let isAddressing = XMLNamespaces.addressing.contains(namespace)
        var captured: Capture.Kind?
        switch depth {
        case 1:
            let role = XMLNamespaces.role(of: namespace)
            if local == "Envelope", role == .soap11Envelope || role == .soap12Envelope { envelopeNamespace = namespace }
        case 2:
            inHeader = envelopeNamespace == namespace && local == "Header" && !hasHeader && !hasBody
            inBody = envelopeNamespace == namespace && local == "Body" && !hasBody
            if !inHeader && !inBody { refuse("the Envelope must hold an optional Header, then one Body, and nothing else") }
            hasHeader = hasHeader || inHeader
            hasBody = hasBody || inBody
        case 3 where inBody:
            // A type or nil on the operation has a binder read it otherwise (a string type: its whole text).
            if attributes.contains(where: \.isSchemaInstance) { refuse("the operation carries an XML Schema instance attribute, which changes how it reads") }
            operations.append(QualifiedName(namespace: namespace, local: local))
            inOperation = true
            belowOperation = []
            childNames = [[]]
        case 3 where inHeader && isAddressing:
            switch local {
            case "Action": captured = .addressingAction
            case "MessageID": break
            case "To": captured = .destination
            case _ where Self.endpointHeaders.contains(local): inEndpoint = true
            default: refuse("the Header holds WS-Addressing's \(local), which could send the request or its answer elsewhere")
            }
        case 3 where inHeader:
            // Any other entry is one the gateway does not read, on which a stack may dispatch or bind (WS-Routing's
            // `path` carried WSE 1's action; a custom context may name an inmate).
            if XMLNamespaces.role(of: namespace) != .security {
                refuse("the Header holds an entry neither WS-Addressing's nor WS-Security's, which the gateway does not read")
            }
        case 4 where inEndpoint && isAddressing:
            switch local {
            case "Address": captured = .endpointAddress
            case "ReferenceParameters", "Metadata": break
            default: refuse("a WS-Addressing endpoint holds \(local)")
            }
        default:
            if isAddressing { refuse("WS-Addressing's \(local) stands where no SOAP stack should read it") }
        }
        if inOperation, depth >= 4 {
            let level = depth - 4
            while childNames.count <= level { childNames.append([]) }
            let isFirst = childNames[level].isEmpty
            let isRepeated = !childNames[level].insert(local).inserted
            childNames.removeSubrange((level + 1)...)
            childNames.append([])
            belowOperation.removeSubrange(min(level, belowOperation.count)...)
            // A step of a watched path given twice: a binder that keeps the last (JAXB, Jackson) reads the other.
            if isRepeated {
                let open = belowOperation.map(\.local)
                for paths in watched.values {
                    for (path, steps) in paths where steps.count > level + 1 && steps[level] == local && Array(steps.prefix(level)) == open {
                        values[path, default: []].append(.unusable("stands in a \(local) given more than once, which a binder may read instead"))
                    }
                }
            }
            let isPlainStep = !hasAttributes && (level > 0 || namespace.isEmpty || namespace == operations.last?.namespace)
            belowOperation.append((local, isFirst, isPlainStep))
        }
        // Anywhere below the Envelope's children (the Header's entries too), a name that differs from a watched one
        // only in letter case or separators is what a binder that matches names loosely may read; and a binder that
        // reads attributes as members (Jackson's XML module does, by name) may read an attribute of that name.
        if depth >= 3, watched[local] == nil {
            for path in watchedKeys[FieldNameKey.of(local)] ?? [] {
                values[path, default: []].append(.unusable("has a twin whose name differs from it only in letter case or separators"))
            }
        }
        if depth >= 3 {
            for attribute in attributes {
                for path in watchedKeys[FieldNameKey.of(attribute.local)] ?? [] {
                    values[path, default: []].append(.unusable("has a twin in an attribute named \(attribute.local), which a binder may read as a member"))
                }
            }
        }
        for (path, steps) in watched[local] ?? [] {
            if capture != nil {
                values[path, default: []].append(.unusable("stands inside another element read"))
            } else if !inOperation || depth < 4 {
                values[path, default: []].append(.unusable("stands outside the operation element"))
            } else if belowOperation.map(\.local) != steps {
                // A service that binds the operation's parameters by position, or matches names loosely, would read
                // one of its own children, or the element the route names, instead.
                values[path, default: []].append(.unusable(steps.count == 1 ? "stands below the operation's own children" : "stands elsewhere than \(path)"))
            } else if depth == 4, !namespace.isEmpty, namespace != operations.last?.namespace {
                values[path, default: []].append(.unusable("is in another namespace than the operation's"))
            } else if !belowOperation[0].isFirst {
                // A service that binds parameters by position reads the first child as the first parameter. Below it,
                // a request object's members are bound by name (WCF orders a DataContract's alphabetically).
                values[path, default: []].append(.unusable(steps.count == 1 ? "is not the operation's first child" : "does not stand in the operation's first child"))
            } else if !belowOperation.dropLast().allSatisfy(\.isPlainStep) {
                values[path, default: []].append(.unusable("stands in an element of another namespace or with attributes, which may change how it reads"))
            } else if hasAttributes {
                values[path, default: []].append(.unusable("carries attributes, which may change how it reads"))
            } else {
                captured = captured ?? .watched(path)
            }
        }
        guard capture == nil else {
            // Inside a collected element: it holds more than text.
            capture!.isPlain = false
            if case .addressingAction? = captured { addressingActions.append(nil) }
            if case .destination? = captured { destinations.append(nil) }
            if case .endpointAddress? = captured { endpointAddresses.append(nil) }
            return
        }
        if let captured { capture = Capture(kind: captured, depth: depth) }
    }

    /// Text inside an element open at `depth`.
    func text(_ bytes: UnsafeRawBufferPointer, depth: Int) {
        if depth <= 2, bytes.contains(where: { !XMLName.isSpace($0) }) { refuse("the envelope holds text outside its Header entries and operation") }
        // A binder that reads the operation's own text (its string value) would read this before any parameter.
        if depth == 3, inOperation, bytes.contains(where: { !XMLName.isSpace($0) }) { refuse("the operation holds text beside its parameters") }
        if depth >= 4, inOperation, capture == nil, bytes.contains(where: { !XMLName.isSpace($0) }) { textInStep(depth: depth) }
        if depth >= 4, inOperation, capture == nil, !openTexts.isEmpty { openTexts[openTexts.count - 1].append(bytes) }
        capture?.text.append(contentsOf: bytes)
    }

    /// A reference in text inside an element open at `depth` stood for `character` (nil: none XML allows). Outside a
    /// collected element, inside the operation, it is read into the element's text (`&#50;019-000999` is a booking
    /// number); a collected element holds more than text (``otherContent(_:depth:)``).
    func referenced(_ character: Unicode.Scalar?, depth: Int) {
        guard depth >= 4, inOperation, capture == nil, !openTexts.isEmpty else { return }
        openTexts[openTexts.count - 1].append(character.map { Array(String($0).utf8) } ?? [0xEF, 0xBF, 0xBD])
    }

    /// Ends the whole text of the innermost element open inside the operation: kept, if any, and added to its
    /// parent's.
    private func finishOpenText() {
        guard let window = openTexts.popLast() else { return }
        if !openTexts.isEmpty { openTexts[openTexts.count - 1].append(window) }
        if let text = window.text { otherTexts.append(text) }
    }

    /// Text directly in the element open at `depth` below the operation: if that element is a step of a watched path
    /// (a request object), the path's subject is unusable, as a binder may read the object's string value.
    private func textInStep(depth: Int) {
        let open = belowOperation.prefix(depth - 3).map(\.local)
        for paths in watched.values {
            for (path, steps) in paths where steps.count > open.count && Array(steps.prefix(open.count)) == open {
                values[path, default: []].append(.unusable("stands in an element that holds text beside its members"))
            }
        }
    }

    /// Content other than plain text and elements.
    enum OtherContent {
        case reference, cdata, comment, instruction
    }

    /// `content` inside an element open at `depth` (0 before the root). A reference or CDATA section is text, refused
    /// where text is; a processing instruction is refused anywhere, as SOAP forbids them (SOAP 1.2 part 1 §5, WS-I
    /// Basic Profile R1009).
    func otherContent(_ content: OtherContent, depth: Int) {
        switch content {
        case .reference, .cdata:
            if depth <= 2 { refuse("the envelope holds text outside its Header entries and operation") }
            if depth == 3, inOperation { refuse("the operation holds text beside its parameters") }
            if depth >= 4, inOperation, capture == nil { textInStep(depth: depth) }
            // A CDATA section's text is not read here: one inside the operation could hide another inmate's number.
            if content == .cdata, depth >= 4, inOperation, capture == nil {
                refuse("the operation holds a CDATA section, whose text is not read: write its text escaped")
            }
        case .instruction:
            refuse("the envelope holds a processing instruction, which SOAP forbids")
        case .comment:
            break
        }
        capture?.isPlain = false
    }

    /// The element open at `depth` closes.
    func ended(depth: Int) {
        if depth >= 3, depth - 3 < openTexts.count { finishOpenText() }
        if let done = capture, done.depth == depth {
            let text = done.isPlain ? String(decoding: done.text, as: UTF8.self) : nil
            switch done.kind {
            case .watched(let local): values[local, default: []].append(text.map(SOAPValue.text) ?? .unusable("holds more than text"))
            case .addressingAction: addressingActions.append(text)
            case .destination: destinations.append(text)
            case .endpointAddress: endpointAddresses.append(text)
            }
            capture = nil
        }
        switch depth {
        case 2:
            inHeader = false
            inBody = false
        case 3:
            inOperation = false
            inEndpoint = false
        default:
            break
        }
    }
}

/// The actions a request names outside its envelope: each `SOAPAction` header (SOAP 1.1, its quotes removed) and the
/// `action` parameter of its `Content-Type` (SOAP 1.2), and whether that type is SOAP 1.2's `application/soap+xml`.
public struct SOAPActionClaims: Sendable, Equatable {
    public let headerActions: [String]
    public let mediaTypeActions: [String]
    public let isSOAP12MediaType: Bool
    /// Whether the `Content-Type` has a parameter other than `charset` and `action`, or says `action=` outside its
    /// `action` parameter: some SOAP stacks find the action by searching the header's text for `action=`.
    public let hasStrayMediaTypeText: Bool

    public static let none = SOAPActionClaims(headerActions: [], mediaTypeActions: [], isSOAP12MediaType: false, hasStrayMediaTypeText: false)

    public init(headerActions: [String], mediaTypeActions: [String], isSOAP12MediaType: Bool, hasStrayMediaTypeText: Bool) {
        self.headerActions = headerActions
        self.mediaTypeActions = mediaTypeActions
        self.isSOAP12MediaType = isSOAP12MediaType
        self.hasStrayMediaTypeText = hasStrayMediaTypeText
    }

    /// The claims in a request's headers; `header` gives a lower-case name's values in order.
    public init(header: (String) -> [String]) {
        headerActions = header("soapaction").map(Self.unquoted)
        var actions: [String] = [], soap12 = false, stray = false
        for contentType in header("content-type") {
            let parts = contentType.split(separator: ";", omittingEmptySubsequences: false)
            soap12 = soap12 || parts[0].trimmingCharacters(in: .whitespacesAndNewlines).lowercased() == "application/soap+xml"
            var named = 0
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                switch pair[0].trimmingCharacters(in: .whitespacesAndNewlines).lowercased() {
                case "action":
                    named += 1
                    actions.append(pair.count == 2 ? Self.unquoted(pair[1].trimmingCharacters(in: .whitespacesAndNewlines)) : "")
                case "charset": break
                default: stray = true
                }
            }
            stray = stray || contentType.lowercased().components(separatedBy: "action=").count - 1 != named
        }
        mediaTypeActions = actions
        isSOAP12MediaType = soap12
        hasStrayMediaTypeText = stray
    }

    /// Whether the request names any SOAP action, or is sent as SOAP 1.2.
    var isEmpty: Bool { headerActions.isEmpty && mediaTypeActions.isEmpty && !isSOAP12MediaType }

    /// A value without the double quotes around it. Backslash escapes are not undone: a value with one cannot equal a
    /// declared action, which holds none.
    private static func unquoted(_ value: some StringProtocol) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count >= 2, trimmed.hasPrefix("\""), trimmed.hasSuffix("\"") else { return trimmed }
        return String(trimmed.dropFirst().dropLast())
    }

    /// Checks every action named, in the headers and in the envelope, against `operation`'s: each must be the declared
    /// action, or, with none declared, SOAP 1.1's empty one. At most one of each kind may be named.
    func check(against operation: SOAPOperation, addressingActions: [String?]) throws(SOAPRequestError) {
        if hasStrayMediaTypeText {
            throw SOAPRequestError("the Content-Type may carry only charset and action, and action= only in its action parameter")
        }
        let named: [(source: String, values: [String?])] = [
            ("the SOAPAction header", headerActions), ("the Content-Type's action", mediaTypeActions),
            ("the WS-Addressing Action header", addressingActions),
        ]
        for (source, values) in named where !values.isEmpty {
            guard values.count == 1 else { throw SOAPRequestError("\(source) is given more than once") }
            guard let value = values[0] else { throw SOAPRequestError("\(source) must hold plain text") }
            if let declared = operation.action {
                guard value == declared || value.isEmpty && source == "the SOAPAction header" else {
                    throw SOAPRequestError("\(source) names an action other than \(declared), this route's")
                }
            } else {
                guard value.isEmpty, source == "the SOAPAction header" else {
                    throw SOAPRequestError("\(source) names an action, and this route declares none")
                }
            }
        }
    }
}
