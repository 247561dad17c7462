import NIOHTTP1
import WarrantGateCore

/// Which request and response headers pass the gateway, and which it sets itself.
enum HeaderRules {
    /// Header names listed in `Connection:` header values, lower-cased. The gateway drops these too, in both
    /// directions, but they can never remove a header the gateway adds, since those are added after filtering.
    /// Nil past ``maxConnectionOptions`` names: a list compared name by name stays short (a 16 KiB header of
    /// thousands of names cost the event loop seconds a request).
    static func connectionNominated(_ values: some Sequence<String>) -> [String]? {
        var names: [String] = []
        var given = 0
        for value in values {
            for token in value.utf8.split(separator: UInt8(ascii: ",")) {
                let name = asciiLowercased(trimmed(token))
                guard !name.isEmpty else { continue }
                given += 1
                guard given <= maxConnectionOptions else { return nil }
                if !names.contains(name) { names.append(name) }
            }
        }
        return names
    }

    /// The most names a request's `Connection` header may give: `close`, `keep-alive`, `TE` or `Upgrade` in practice.
    static let maxConnectionOptions = 16

    /// The bytes without leading and trailing spaces and tabs (HTTP's optional whitespace).
    static func trimmed(_ bytes: Substring.UTF8View) -> Substring.UTF8View {
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return bytes[bytes.endIndex...]
        }
        return bytes[first...last]
    }

    /// The bytes as a String with ASCII letters lower-cased (header names and tokens are ASCII).
    private static func asciiLowercased(_ bytes: Substring.UTF8View) -> String {
        String(unsafeUninitializedCapacity: bytes.count) { buffer in
            for (offset, byte) in bytes.enumerated() { buffer[offset] = ASCIICase.lowercased(byte) }
            return bytes.count
        }
    }

    /// The `Connection` header an HTTP/1 answer to `request` must carry, or nil (RFC 9112 §9.3): `close` when the
    /// request ends its connection (``endsConnection(_:)``) or when an HTTP/1.0 answer's length is unknown, so only
    /// the close can end it; `keep-alive` for an HTTP/1.0 request that asked for it.
    static func persistence(answering request: HTTPRequestHead, knownLength: Bool) -> String? {
        let http10 = request.version.minor == 0
        if endsConnection(request) || (http10 && !knownLength) { return "close" }
        return http10 ? "keep-alive" : nil
    }

    /// Whether no request may follow `request` on its HTTP/1 connection: it does not keep the connection alive
    /// (HTTP/1.0 without `Connection: keep-alive`, or `Connection: close`), or the parser reads nothing after it
    /// (``endsHTTP1Parsing(_:)``).
    static func endsConnection(_ request: HTTPRequestHead) -> Bool {
        !request.isKeepAlive || endsHTTP1Parsing(request)
    }

    /// Whether NIO's HTTP/1 parser (llhttp) reads nothing more on a connection after `request`: it takes a CONNECT,
    /// and a request with an `Upgrade` header that `Connection` nominates, for the start of another protocol, and
    /// keeps every later byte unparsed. The gateway switches to no other protocol, so such a connection must end with
    /// its answer, or those bytes pile up unread until the idle timeout. Any `Upgrade` header counts: never a narrower
    /// test than the parser's.
    static func endsHTTP1Parsing(_ request: HTTPRequestHead) -> Bool {
        request.method == .CONNECT || request.headers.contains(name: "upgrade")
    }

    /// Checks a request's headers, whose `Connection` header nominates `nominated` (``connectionNominated(_:)``, read
    /// once per request); returns a short reason when they must be refused.
    static func violation(in headers: HTTPHeaders, nominated: [String]) -> String? {
        var warrantCount = 0
        var hostCount = 0
        var hasContentLength = false
        var hasContentType = false
        var hasTransferEncoding = false
        var hasConnection = false
        for (name, value) in headers {
            if name.utf8.contains(UInt8(ascii: "_")) { return "header names with underscores are refused" }
            // RFC 9110 §5.5: a value holds no control but a tab. NIO's HTTP/1 encoder refuses the rest too, which would
            // fail an allowed request at the upstream, recorded as the upstream's fault.
            if value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7f }) { return "a header value contains a control character (CR, LF, NUL or another) or DEL" }
            if ASCIICase.equals(name.utf8, "warrant-reference") {
                warrantCount += 1
                if !value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) {
                    return "Warrant-Reference must be printable ASCII"
                }
            } else if ASCIICase.equals(name.utf8, "host") {
                hostCount += 1
            } else if ASCIICase.equals(name.utf8, "content-length") {
                if hasContentLength { return "Content-Length is given more than once" }
                hasContentLength = true
                // A length too large for an Int would read as no length at all, and so as no body.
                if value.isEmpty || !value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) || Int(value) == nil { return "Content-Length is malformed" }
            } else if ASCIICase.equals(name.utf8, "content-type") {
                // Frameworks disagree on which of two wins, and so on how the body reads.
                if hasContentType { return "Content-Type is given more than once" }
                hasContentType = true
            } else if ASCIICase.equals(name.utf8, "connection") {
                hasConnection = true
            } else if ASCIICase.equals(name.utf8, "transfer-encoding") {
                hasTransferEncoding = true
                if !ASCIICase.equals(trimmed(value[...].utf8), "chunked") { return "Transfer-Encoding must be chunked" }
            }
        }
        // The gateway decides on these and forwards them: nominated, they would be dropped on the way, and the
        // upstream would read the body without the type or action the decision was made on.
        if hasConnection, nominated.contains(where: { $0 == "content-type" || $0 == "soapaction" }) {
            return "Connection may not name Content-Type or SOAPAction"
        }
        if warrantCount > 1 { return "Warrant-Reference is given more than once" }
        // HTTP/2's :authority arrives as the Host field; a Host beside it that names another is refused before
        // (`HTTP2AuthorityCheck`), since the codec keeps that Host and drops :authority.
        if hostCount > 1 { return "Host is given more than once" }
        if hasContentLength && hasTransferEncoding { return "both Content-Length and Transfer-Encoding are present" }
        return nil
    }

    /// The client's request headers forwarded upstream, before the gateway adds its own: an allow-list, as for
    /// responses, of content negotiation, conditional requests, caching, the client's software, trace context and
    /// SOAP 1.1's action. Anything else is dropped, nominated in `Connection` or not: an upstream framework may take a
    /// method or a URL from a header (`X-HTTP-Method-Override`, `X-Original-URL`), a user (`Remote-User`) or
    /// credentials (`Authorization`, `Cookie`), and only the gateway says who asks, and for what.
    ///
    /// `nominated` is what the request's `Connection` header nominates, as ``violation(in:nominated:)`` checked it.
    static func forwardable(_ headers: HTTPHeaders, nominated: [String]) -> HTTPHeaders {
        var forwarded = HTTPHeaders()
        forwarded.reserveCapacity(headers.count + 6)
        for (name, value) in headers where isForwardable(name) {
            if nominated.contains(where: { ASCIICase.equals(name.utf8, $0.utf8) }) { continue }
            forwarded.add(name: name, value: value)
        }
        return forwarded
    }

    private static func isForwardable(_ name: String) -> Bool {
        let name = name.utf8
        // By length first: most names are then told apart without comparing bytes.
        switch name.count {
        case 4: return ASCIICase.equals(name, "date")
        case 5: return ASCIICase.equals(name, "range")
        case 6: return ASCIICase.equals(name, "accept") || ASCIICase.equals(name, "pragma")
        case 8: return ASCIICase.equals(name, "if-match") || ASCIICase.equals(name, "if-range")
        case 10: return ASCIICase.equals(name, "user-agent") || ASCIICase.equals(name, "soapaction") || ASCIICase.equals(name, "tracestate")
        case 11: return ASCIICase.equals(name, "traceparent")
        case 12: return ASCIICase.equals(name, "content-type")
        case 13: return ASCIICase.equals(name, "cache-control") || ASCIICase.equals(name, "if-none-match")
        case 14: return ASCIICase.equals(name, "accept-charset")
        case 15: return ASCIICase.equals(name, "accept-encoding") || ASCIICase.equals(name, "accept-language")
        case 17: return ASCIICase.equals(name, "if-modified-since")
        case 19: return ASCIICase.equals(name, "if-unmodified-since")
        default: return false
        }
    }

    /// The upstream's response headers that reach the client: an allow-list, so nothing the records system says
    /// in a header (immigration status in a custom header, say) passes by default. `Content-Encoding` passes only
    /// with a body passed on unmodified; the gateway sets `Content-Length` itself, from the body it sends. Nil when
    /// they hold more than ``maxReturnedHeaderBytes``: an HTTP/2 client refuses a head larger than its limit, and the
    /// stream would fail after its decision was logged as answered.
    static func returnable(_ headers: HTTPHeaders, bodyUnmodified: Bool) -> HTTPHeaders? {
        var returned = HTTPHeaders()
        var bytes = 0
        for (name, given) in headers where isReturnable(name, bodyUnmodified: bodyUnmodified) {
            guard let value = ReturnedHeaderValue.checked(name, given) else { continue }
            // As HTTP/2 counts a header list's size (RFC 9113 §6.5.2): each field's name and value, and 32 bytes.
            bytes += name.utf8.count + value.utf8.count + 32
            guard bytes <= maxReturnedHeaderBytes else { return nil }
            returned.add(name: name, value: value)
        }
        return returned
    }

    /// A status as the client gets it: a registered code as it is, with its own reason phrase, and another as its
    /// class's (`299 Citizenship MX` is `200 OK`), since an upstream's code is its words too.
    static func returnedStatus(_ status: HTTPResponseStatus) -> HTTPResponseStatus {
        guard case .custom(let code, _) = status else { return status }
        return HTTPResponseStatus(statusCode: Int(code) / 100 * 100)
    }

    /// An upstream's `Location` as the client may follow it: a target on the gateway, whose request is decided as any
    /// other. Nil unless it names the upstream itself (a path, or an absolute URL of the endpoint's origin) under the
    /// endpoint's base path, as a canonical target (``CanonicalTarget``) of at most ``maxLocationBytes``; it is sent
    /// in canonical form, without the base path. Where answers are redacted its words are the upstream's too: one
    /// with a query, or with a segment whose words begin with a field the redactor removes (``namesRedactedField(_:_:)``:
    /// `…/citizenship=MX`, `…/country+of+birth`, `…/citizenshipmx`), is not passed on, nor any where only chosen fields
    /// are kept.
    static func returnedLocation(_ value: String, from endpoint: UpstreamEndpoint, redactor: ResponseRedactor) -> String? {
        guard redactor.keepOnly == nil else { return nil }
        var given = Substring(trimmed(value[...].utf8))
        guard given.utf8.count <= maxLocationBytes + endpoint.origin.utf8.count + endpoint.pathPrefix.utf8.count else { return nil }
        if ASCIICase.hasPrefix(given.utf8, endpoint.origin.utf8) {
            given = Substring(given.utf8.dropFirst(endpoint.origin.utf8.count))
        }
        guard given.hasPrefix("/"), !given.hasPrefix("//"), given.hasPrefix(endpoint.pathPrefix) else { return nil }
        var onGateway = given.dropFirst(endpoint.pathPrefix.count)
        if onGateway.isEmpty || onGateway.hasPrefix("?") { onGateway = "/" + onGateway }
        guard onGateway.hasPrefix("/"), let target = try? CanonicalTarget(raw: String(onGateway)) else { return nil }
        if !redactor.isEmpty {
            guard target.query.isEmpty, !target.segments.contains(where: { namesRedactedField($0, redactor.names) }) else { return nil }
        }
        let location = target.target
        return location.utf8.count <= maxLocationBytes ? location : nil
    }

    /// The longest `Location` passed on: room for any target a jail system links to, within the head's budget.
    static let maxLocationBytes = 2048

    /// Whether a path segment's words, alone or up to four run together, are a field `names` removes, or begin with one
    /// of six letters or more (a name may run on into its value in one letter case): words split at every character
    /// but a letter or digit, between letters and digits, where a small letter meets a capital, and before the last
    /// capital of a run that a small letter follows, so `citizenship=MX`, `CitizenshipMX`, `citizenshipmx`,
    /// `CITIZENSHIPMX`, `USCitizenship`, `nationality2024`, `a-number:A201`, `country+of+birth`, `countryofbirthmexico`
    /// and `pob` do, and `residents`, `pod-a` or `pobox` do not.
    static func namesRedactedField(_ segment: String, _ names: RedactedNames) -> Bool {
        let characters = Array(segment)
        var words: [String] = [], word = ""
        for (index, character) in characters.enumerated() {
            guard character.isLetter || character.isNumber else {
                if !word.isEmpty { words.append(word) }
                word = ""
                continue
            }
            if let previous = word.last {
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                if previous.isLetter != character.isLetter || (previous.isLowercase && character.isUppercase)
                    || (previous.isUppercase && character.isUppercase && next?.isLowercase == true) {
                    words.append(word)
                    word = ""
                }
            }
            word.append(character)
        }
        if !word.isEmpty { words.append(word) }
        return words.indices.contains { start in
            let run = words[start..<min(start + 4, words.count)]
            return run.indices.contains { end in names.containsField(run[start...end].joined()) } || names.beginsWithField(run.joined())
        }
    }

    /// The largest header list, as HTTP/2 sizes one, passed on from an upstream's answer: far more than its few
    /// returnable headers take, far less than any client's limit.
    static let maxReturnedHeaderBytes = 8 * 1024

    private static func isReturnable(_ name: String, bodyUnmodified: Bool) -> Bool {
        let name = name.utf8
        return ASCIICase.equals(name, "content-type") || ASCIICase.equals(name, "cache-control") || ASCIICase.equals(name, "expires")
            || ASCIICase.equals(name, "date") || ASCIICase.equals(name, "vary") || ASCIICase.equals(name, "retry-after")
            || (bodyUnmodified && ASCIICase.equals(name, "content-encoding"))
    }

    /// A header value's token, trimmed and lower-cased.
    static func lowercasedToken(_ value: Substring) -> String { asciiLowercased(trimmed(value.utf8)) }

    /// The `Accept-Encoding` to send upstream on a redacted route: the client's, less any coding the gateway cannot
    /// decode; `identity` if nothing is left (an absent header would accept every coding).
    static func decodableAcceptEncoding(_ headers: HTTPHeaders) -> String {
        let kept = headers["accept-encoding"].flatMap { $0.split(separator: ",") }.filter { item in
            let coding = item.split(separator: ";", maxSplits: 1).first.map { lowercasedToken($0) } ?? ""
            return ResponseRedactionStream.Coding.acceptable.contains(coding)
        }
        return kept.isEmpty ? "identity" : kept.map { String(decoding: trimmed($0.utf8), as: UTF8.self) }.joined(separator: ", ")
    }
}

/// The values of the response headers the gateway passes on, read as their grammar says: an upstream's header is its
/// words too, and a date, a number of seconds or a list of known directives carries no record's field
/// (`Expires: citizenship=MX` does). What does not read so is dropped, or stated as the grammar means it.
enum ReturnedHeaderValue {
    private static let cacheDirectives: Set<String> = [
        "no-cache", "no-store", "no-transform", "must-revalidate", "proxy-revalidate", "must-understand", "private", "public", "immutable",
    ]
    private static let cacheDirectivesWithSeconds: Set<String> = ["max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"]
    private static let varyNames: Set<String> = ["*", "accept", "accept-encoding", "accept-language", "accept-charset", "origin"]
    private static let codings: Set<String> = ["gzip", "x-gzip", "deflate", "br", "zstd", "compress", "identity"]
    /// The three-letter day and month names of an IMF-fixdate, packed as ``packed3(_:)`` packs them.
    private static let days: Set<UInt32> = Set(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map { packed3(Array($0.utf8)[...]) })
    private static let months: Set<UInt32> = Set(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].map { packed3(Array($0.utf8)[...]) }
    )

    /// `value` as it may be passed on for the returnable header `name`, or nil to drop it. `Content-Type` is checked
    /// where the body is (``RedactableMediaType``). Runs for every answer: the usual `Date` is read without copies.
    static func checked(_ name: String, _ given: String) -> String? {
        let name = name.utf8
        // Surrounding white space is no part of a field's value (RFC 9110 §5.5).
        let value = given.first == " " || given.first == "\t" || given.last == " " || given.last == "\t"
            ? String(Substring(HeaderRules.trimmed(given[...].utf8))) : given
        if ASCIICase.equals(name, "date") { return isHTTPDate(value) ? value : nil }
        // An invalid Expires means already expired (RFC 9111 §5.3).
        if ASCIICase.equals(name, "expires") { return isHTTPDate(value) ? value : "0" }
        if ASCIICase.equals(name, "retry-after") { return isSeconds(value) || isHTTPDate(value) ? value : nil }
        if ASCIICase.equals(name, "cache-control") {
            // Past the items read, what was dropped might have been `no-store`: nothing is stored.
            guard value.utf8.lazy.filter({ $0 == UInt8(ascii: ",") }).count < maxListItems else { return "no-store" }
            return rebuiltList(value) { directive in
                let parts = directive.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2, cacheDirectivesWithSeconds.contains(parts[0]), isSeconds(parts[1]) { return "\(parts[0])=\(parts[1])" }
                // An argument naming fields (`private="Set-Cookie"`) is dropped: the directive then covers the whole answer.
                return cacheDirectives.contains(parts[0]) ? parts[0] : nil
            }
        }
        // A name dropped from Vary would have a cache reuse the answer for another variant: varying by all is safe.
        if ASCIICase.equals(name, "vary") { return rebuiltList(value, allOrNothing: true) { varyNames.contains($0) ? $0 : nil } ?? "*" }
        if ASCIICase.equals(name, "content-encoding") { return rebuiltList(value, allOrNothing: true) { codings.contains($0) ? $0 : nil } }
        return value
    }

    private static let gmt = packed3(Array("GMT".utf8))

    /// Three bytes as one number.
    private static func packed3(_ bytes: some Collection<UInt8>) -> UInt32 {
        bytes.prefix(3).reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The comma-separated items of `value`, lower-cased and trimmed, that `keep` keeps (as it rewrites them), joined;
    /// nil if none is kept, or, `allOrNothing`, if any is not. Only the first ``maxListItems`` items are read (all or
    /// nothing: more is nothing), so that each is compared with the few kept before it.
    private static func rebuiltList(_ value: String, allOrNothing: Bool = false, _ keep: (String) -> String?) -> String? {
        var kept: [String] = []
        var read = 0
        for item in value.split(separator: ",") {
            let token = HeaderRules.lowercasedToken(item)
            if token.isEmpty { continue }
            read += 1
            guard read <= maxListItems else {
                if allOrNothing { return nil }
                break
            }
            guard let rewritten = keep(token) else {
                if allOrNothing { return nil }
                continue
            }
            if !kept.contains(rewritten) { kept.append(rewritten) }
        }
        return kept.isEmpty ? nil : kept.joined(separator: ", ")
    }

    /// The most items of a returned header's list that are read: far more than a `Cache-Control`, `Vary` or
    /// `Content-Encoding` of any records system holds.
    static let maxListItems = 32

    /// A delta-seconds value: 1 to 10 digits.
    private static func isSeconds(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 10 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// An IMF-fixdate (RFC 9110 §5.6.7), the one form a sender may send: `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func isHTTPDate(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { bytes in
            guard bytes.count == 29 else { return false }
            func digits(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }
            return days.contains(packed3(bytes[0..<3])) && bytes[3] == UInt8(ascii: ",") && bytes[4] == 0x20 && digits(5..<7) && bytes[7] == 0x20
                && months.contains(packed3(bytes[8..<11])) && bytes[11] == 0x20 && digits(12..<16) && bytes[16] == 0x20 && digits(17..<19)
                && bytes[19] == UInt8(ascii: ":") && digits(20..<22) && bytes[22] == UInt8(ascii: ":") && digits(23..<25)
                && bytes[25] == 0x20 && packed3(bytes[26..<29]) == gmt
        }
    }
}
