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

    /// Why a request's `Content-Type` must be refused, whatever its route: a parameter other than the charset and
    /// SOAP 1.2's `action` (which a SOAP route checks against its envelope), such as a version some frameworks route
    /// by (`v=2.0`), which no stage read. Nil if there is none.
    public static func requestContentTypeProblem(_ contentType: String) -> String? {
        var contentType = contentType
        return contentType.withUTF8 { MediaTypeBytes.namesOnly(["charset", "action"], in: $0) }
            ? nil : "Content-Type may name a charset (and SOAP 1.2's action), and no other parameter"
    }

    /// Why a request's `Accept` must be refused, or nil: a media range with a parameter other than `q` or `charset`
    /// (`application/json; v=2.0`), one in a vendor's or a person's tree but JSON:API's (`application/vnd.jail.v2+json`),
    /// or a quoted string. Either is the client's word to the upstream, such as a version some frameworks choose a
    /// handler by (ASP.NET's media-type version reader, Spring's media-type versioning), which no stage read.
    public static func acceptProblem(_ accept: String) -> String? {
        var accept = accept
        return accept.withUTF8 { bytes -> String? in
            guard !bytes.contains(UInt8(ascii: "\"")) else { return "Accept may not hold a quoted string" }
            var start = 0
            while start <= bytes.count {
                let end = bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.count
                let range = UnsafeBufferPointer(rebasing: bytes[start..<end])
                if let essence = MediaTypeBytes.essence(range) {
                    let subtype = range[essence.subtype]
                    let vendor = ["vnd.", "prs.", "x."].contains { ASCIICase.hasPrefix(subtype, $0.utf8) }
                    if vendor && !ASCIICase.equals(subtype, "vnd.api+json") {
                        return "Accept may not name a vendor's media type (a service may choose its handler by one)"
                    }
                }
                if !MediaTypeBytes.namesOnly(["q", "charset"], in: range) {
                    return "Accept may weigh a media range (q) and name a charset, and give no other parameter"
                }
                start = end + 1
            }
            return nil
        }
    }

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
