/// The kinds of body redaction can read.
public enum RedactableMediaType: String, Sendable {
    /// `application/json`, `application/ld+json` and `application/*+json`.
    case json
    /// `application/xml`, `text/xml` and `application/*+xml` (SOAP 1.2's `application/soap+xml` among them).
    case xml

    /// The kind of a `Content-Type` value, or nil for any other type, one without a ``MediaTypeEssence``, a charset
    /// other than UTF-8 or US-ASCII (or in another form than `charset=`), a parameter without a token for its name or
    /// without a value, a comma outside a quoted string, or a value with bytes outside ASCII.
    public init?(contentType: String?) {
        guard var contentType, let kind = contentType.withUTF8(MediaTypeBytes.kind) else { return nil }
        self = kind
    }

    /// The `Content-Type` to send on a redacted route: the upstream's `type/subtype`, lower-cased, if it is one of the
    /// registered types below, else the plain type of its kind (`application/vnd.county-citizenship-mx+json` is the
    /// upstream's words too), and `charset=utf-8` if it named a charset (a redacted body is UTF-8). Its other
    /// parameters are the upstream's words, which no one reviewed, so they are left out; nil, so that none is sent,
    /// when it has no ``MediaTypeEssence``.
    public static func redactedContentType(_ contentType: String) -> String? {
        guard var essence = MediaTypeEssence(contentType: contentType)?.text else { return nil }
        if !registeredTypes.contains(essence) {
            switch RedactableMediaType(contentType: essence) {
            case .json?: essence = "application/json"
            case .xml?: essence = "application/xml"
            case nil: return nil
            }
        }
        let parameters = contentType.split(separator: ";", omittingEmptySubsequences: false).dropFirst()
        let namesCharset = parameters.contains { $0.trimmingCharacters(in: .whitespaces).lowercased().hasPrefix("charset") }
        return namesCharset ? essence + "; charset=utf-8" : essence
    }

    /// Whether `contentType` has no parameter but its charset (`application/json; charset=utf-8`): any other is the
    /// client's word to the service, such as a version some frameworks route by (`v=2.0`).
    public static func namesOnlyCharset(_ contentType: String) -> Bool {
        var contentType = contentType
        return contentType.withUTF8 { MediaTypeBytes.namesOnly(["charset"], in: $0) }
    }

    /// Why the `Content-Type` of a request with a body must be refused, whatever its route, or nil: a parameter other
    /// than the charset (and SOAP 1.2's `action` with `application/soap+xml`, which a SOAP route checks against its
    /// envelope), or a structured suffix (`+json`, `+xml`) on a type not registered above. Either is the client's word
    /// to the service, such as a version some frameworks route by (`v=2.0`, `application/vnd.jail.v2+json`), which no
    /// stage read.
    public static func requestContentTypeProblem(_ contentType: String) -> String? {
        guard let essence = MediaTypeEssence(contentType: contentType)?.text else { return nil }
        if essence.contains("+"), !registeredTypes.contains(essence) {
            return "Content-Type may not name a type with a structured suffix (+json, +xml) that is not registered, such as a vendor's"
        }
        var contentType = contentType
        let names = essence == "application/soap+xml" ? ["charset", "action"] : ["charset"]
        return contentType.withUTF8 { MediaTypeBytes.namesOnly(names, in: $0) }
            ? nil : "Content-Type may name a charset (and application/soap+xml its action), and no other parameter"
    }

    /// The `Accept` to forward for the request's `Accept` fields, in order, or nil for none (anything is accepted).
    /// A media range is kept, lower-cased with its weight (`q`, 0 to 1 with up to three decimals) alone, if it is
    /// `*/*`, a type's `type/*`, or one of the types below, written as a type and subtype that are tokens (white space
    /// around the `/`, which some readers close up, makes none): any other (`application/vnd.jail.v2+json`,
    /// `application/jail-v2`) and any other parameter (`v=2.0`) is the client's word to the service, by which some
    /// frameworks choose a handler, and which no stage read. A field holding a quote is left out whole.
    public static func forwardableAccept(_ fields: [String]) -> String? {
        // What almost every client sends, kept as it is without reading it range by range.
        if fields.count == 1, acceptedTypes.contains(fields[0]) { return fields[0] }
        var kept: [String] = []
        for field in fields where !field.contains("\"") {
            for range in field.split(separator: ",") {
                let parts = range.split(separator: ";", omittingEmptySubsequences: false)
                let essence = parts[0].trimmingCharacters(in: .whitespaces).lowercased()
                let halves = essence.split(separator: "/", omittingEmptySubsequences: false)
                guard halves.count == 2, HTTPToken.isToken(halves[0].utf8), HTTPToken.isToken(halves[1].utf8),
                      halves[1] == "*" || acceptedTypes.contains(essence)
                else { continue }
                let weight = parts.dropFirst().map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.first(where: isWeight)
                kept.append(weight.map { "\(essence);\($0)" } ?? essence)
            }
        }
        return kept.isEmpty ? nil : kept.joined(separator: ", ")
    }

    /// Whether `parameter` (lower-case) is a weight as RFC 9110 §12.4.2 writes one: `q=0`, `q=1`, `q=0.5`, `q=1.000`.
    private static func isWeight(_ parameter: String) -> Bool {
        guard parameter.hasPrefix("q=") else { return false }
        let value = parameter.dropFirst(2)
        guard let first = value.first, first == "0" || first == "1" else { return false }
        let decimals = value.dropFirst()
        if decimals.isEmpty { return true }
        guard decimals.first == ".", decimals.count <= 4 else { return false }
        return decimals.dropFirst().allSatisfy { first == "0" ? $0.isASCII && $0.isNumber : $0 == "0" }
    }

    /// The media types an `Accept` may name besides `*/*` and `type/*`: the registered types below, JSON:API's, and
    /// those browsers and document clients ask for.
    private static let acceptedTypes: Set<String> = registeredTypes.union([
        "*/*", "application/vnd.api+json", "text/plain", "text/html", "text/csv", "application/pdf", "application/octet-stream",
        "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/apng", "image/svg+xml", "application/signed-exchange",
    ])

    /// The JSON and XML types passed on as the upstream names them.
    private static let registeredTypes: Set<String> = [
        "application/json", "application/ld+json", "application/problem+json", "application/hal+json", "application/geo+json",
        "application/vnd.api+json", "application/xml", "text/xml", "application/soap+xml", "application/problem+xml",
        "application/xhtml+xml", "application/atom+xml", "application/rss+xml",
    ]
}

/// The `type "/" subtype` that begins a `Content-Type` value (RFC 9110 §8.3.1): two tokens around one `/`, with
/// nothing but optional white space before them and after them, up to the first `;` (or the value's end), in a value
/// with no comma outside a quoted string. Nothing else is one: a space, comma or second `/` inside
/// (`application/x-www-form-urlencoded +json`, `text/plain, multipart/form-data`) has each server cut the type where it
/// chooses (PHP at the first space or comma), and a comma after the parameters (`application/pdf; a=b,
/// multipart/form-data`) makes the field a list, whose last type a server reading it as one may take.
struct MediaTypeEssence: Sendable {
    /// `type/subtype`, ASCII lower-cased.
    let text: String

    /// The essence of `contentType`, or nil if it does not begin with one.
    init?(contentType: String) {
        var contentType = contentType
        let text = contentType.withUTF8 { bytes in
            MediaTypeBytes.hasUnquotedComma(bytes) ? nil : MediaTypeBytes.essence(bytes).map { String(decoding: bytes[$0.type.lowerBound..<$0.subtype.upperBound].map(ASCIICase.lowercased), as: UTF8.self) }
        }
        guard let text else { return nil }
        self.text = text
    }

    /// Whether a server may read a request body of this type as a form, whose fields its framework takes as parameters
    /// that no stage saw (or as a method override, `_method`): Undertow (RESTEasy) and .NET's System.Web read any type
    /// that begins `application/x-www-form-urlencoded` or `multipart/form-data` as one, whatever follows
    /// (`application/x-www-form-urlencoded+json`), and every `multipart/` type is read part by part.
    var isForm: Bool { text.hasPrefix("application/x-www-form-urlencoded") || text.hasPrefix("multipart/") }
}

/// A `Content-Type` value read as RFC 9110 §8.3.1's `type "/" subtype *( OWS ";" OWS parameter )`, over its bytes
/// without copying them: this runs for every response.
private enum MediaTypeBytes {
    /// The kind of the media type `bytes` hold, or nil (see ``RedactableMediaType/init(contentType:)``).
    static func kind(_ bytes: UnsafeBufferPointer<UInt8>) -> RedactableMediaType? {
        guard bytes.allSatisfy({ $0 < 0x80 }), !hasUnquotedComma(bytes), let (type, subtype) = essence(bytes) else { return nil }
        var end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
        while end < bytes.count {
            let start = end + 1
            end = bytes[start...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
            guard acceptable(parameter: trimmed(bytes, start..<end), in: bytes) else { return nil }
        }
        if ASCIICase.equals(bytes[type], "application") {
            if ASCIICase.equals(bytes[subtype], "json") || ASCIICase.hasSuffix(bytes[subtype], "+json") { return .json }
            if ASCIICase.equals(bytes[subtype], "xml") || ASCIICase.hasSuffix(bytes[subtype], "+xml") { return .xml }
            return nil
        }
        return ASCIICase.equals(bytes[type], "text") && ASCIICase.equals(bytes[subtype], "xml") ? .xml : nil
    }

    /// Whether every parameter of the media type `bytes` hold is named `charset`, in any letter case.
    /// Whether every parameter of the media type in `bytes` has one of `names` (lower-case) for its name.
    static func namesOnly(_ names: [String], in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
        while end < bytes.count {
            let start = end + 1
            end = bytes[start...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
            let parameter = trimmed(bytes, start..<end)
            let name = trimmed(bytes, parameter.lowerBound..<(bytes[parameter].firstIndex(of: UInt8(ascii: "=")) ?? parameter.upperBound))
            guard names.contains(where: { ASCIICase.equals(bytes[name], $0.utf8) }) else { return false }
        }
        return true
    }

    /// The ranges of the type and the subtype of the ``MediaTypeEssence`` that `bytes` begin with, or nil.
    static func essence(_ bytes: UnsafeBufferPointer<UInt8>) -> (type: Range<Int>, subtype: Range<Int>)? {
        let essence = trimmed(bytes, 0..<(bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.count))
        guard let slash = bytes[essence].firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let type = essence.lowerBound..<slash, subtype = (slash + 1)..<essence.upperBound
        return HTTPToken.isToken(bytes[type]) && HTTPToken.isToken(bytes[subtype]) ? (type, subtype) : nil
    }

    /// Whether a parameter has a token for its name and a value, and is, if it is the charset, UTF-8 or US-ASCII. A
    /// charset in RFC 2231's and RFC 8187's other forms (`charset*=utf-16''x`, `charset*0=utf-16`) is not: a reader
    /// that knows them would read a charset that was not checked.
    private static func acceptable(parameter: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let sign = bytes[parameter].firstIndex(of: UInt8(ascii: "=")) else { return false }
        let name = trimmed(bytes, parameter.lowerBound..<sign)
        var value = trimmed(bytes, (sign + 1)..<parameter.upperBound)
        guard HTTPToken.isToken(bytes[name]), !value.isEmpty, !ASCIICase.hasPrefix(bytes[name], "charset*".utf8) else { return false }
        guard ASCIICase.equals(bytes[name], "charset") else { return true }
        if value.count >= 2 && bytes[value.lowerBound] == UInt8(ascii: "\"") && bytes[value.upperBound - 1] == UInt8(ascii: "\"") {
            value = (value.lowerBound + 1)..<(value.upperBound - 1)
        }
        return ASCIICase.equals(bytes[value], "utf-8") || ASCIICase.equals(bytes[value], "utf8") || ASCIICase.equals(bytes[value], "us-ascii")
    }

    /// Whether a comma stands outside a quoted string: it separates two types in one field, and a client may take
    /// either.
    static func hasUnquotedComma(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var quoted = false, escaped = false
        for byte in bytes {
            if escaped {
                escaped = false
            } else if quoted && byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                quoted.toggle()
            } else if !quoted && byte == UInt8(ascii: ",") {
                return true
            }
        }
        return false
    }

    /// The range without leading and trailing spaces and tabs (HTTP's optional white space).
    private static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        let isSpace = { (index: Int) in bytes[index] == 0x20 || bytes[index] == 0x09 }
        var lower = range.lowerBound, upper = range.upperBound
        while lower < upper && isSpace(lower) { lower += 1 }
        while upper > lower && isSpace(upper - 1) { upper -= 1 }
        return lower..<upper
    }
}
