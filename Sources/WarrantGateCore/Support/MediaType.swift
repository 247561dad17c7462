/// The kinds of body redaction can read.
public enum RedactableMediaType: String, Sendable {
    /// `application/json`, `application/ld+json` and `application/*+json`.
    case json
    /// `application/xml`, `text/xml` and `application/*+xml` (SOAP 1.2's `application/soap+xml` among them).
    case xml

    /// The kind of a `Content-Type` value, or nil for any other type, a charset other than UTF-8 or US-ASCII, a
    /// parameter without a name or a value, a comma outside a quoted string, or a value with bytes outside ASCII.
    public init?(contentType: String?) {
        guard var contentType, let kind = contentType.withUTF8(MediaTypeBytes.kind) else { return nil }
        self = kind
    }

    /// The `Content-Type` to send on a redacted route: the upstream's `type/subtype`, lower-cased, if it is one of the
    /// registered types below, else the plain type of its kind (`application/vnd.county-citizenship-mx+json` is the
    /// upstream's words too), and `charset=utf-8` if it named a charset (a redacted body is UTF-8). Its other
    /// parameters are the upstream's words, which no one reviewed, so they are left out; nil, so that none is sent,
    /// when it is not one `type/subtype` of tokens.
    public static func redactedContentType(_ contentType: String) -> String? {
        let parts = contentType.split(separator: ";", omittingEmptySubsequences: false)
        var essence = parts[0].trimmingCharacters(in: .whitespaces).lowercased()
        let halves = essence.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, halves.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isTokenByte) }) else { return nil }
        if !registeredTypes.contains(essence) {
            switch RedactableMediaType(contentType: essence) {
            case .json?: essence = "application/json"
            case .xml?: essence = "application/xml"
            case nil: return nil
            }
        }
        let namesCharset = parts.dropFirst().contains { $0.trimmingCharacters(in: .whitespaces).lowercased().hasPrefix("charset") }
        return namesCharset ? essence + "; charset=utf-8" : essence
    }

    /// The JSON and XML types passed on as the upstream names them.
    private static let registeredTypes: Set<String> = [
        "application/json", "application/ld+json", "application/problem+json", "application/hal+json", "application/geo+json",
        "application/vnd.api+json", "application/xml", "text/xml", "application/soap+xml", "application/problem+xml",
        "application/xhtml+xml", "application/atom+xml", "application/rss+xml",
    ]

    /// RFC 9110's `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// A `Content-Type` value read as RFC 9110 §8.3.1's `type "/" subtype *( OWS ";" OWS parameter )`, over its bytes
/// without copying them: this runs for every response.
private enum MediaTypeBytes {
    /// The kind of the media type `bytes` hold, or nil (see ``RedactableMediaType/init(contentType:)``).
    static func kind(_ bytes: UnsafeBufferPointer<UInt8>) -> RedactableMediaType? {
        guard bytes.allSatisfy({ $0 < 0x80 }), !hasUnquotedComma(bytes) else { return nil }
        var end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
        let essence = trimmed(bytes, 0..<end)
        while end < bytes.count {
            let start = end + 1
            end = bytes[start...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
            guard acceptable(parameter: trimmed(bytes, start..<end), in: bytes) else { return nil }
        }
        guard let slash = bytes[essence].firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let type = essence.lowerBound..<slash, subtype = (slash + 1)..<essence.upperBound
        guard !subtype.isEmpty, !bytes[subtype].contains(UInt8(ascii: "/")) else { return nil }
        if ASCIICase.equals(bytes[type], "application") {
            if ASCIICase.equals(bytes[subtype], "json") || ASCIICase.hasSuffix(bytes[subtype], "+json") { return .json }
            if ASCIICase.equals(bytes[subtype], "xml") || ASCIICase.hasSuffix(bytes[subtype], "+xml") { return .xml }
            return nil
        }
        return ASCIICase.equals(bytes[type], "text") && ASCIICase.equals(bytes[subtype], "xml") ? .xml : nil
    }

    /// Whether a parameter has a name and a value, and is, if it is the charset, UTF-8 or US-ASCII.
    private static func acceptable(parameter: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let sign = bytes[parameter].firstIndex(of: UInt8(ascii: "=")) else { return false }
        let name = trimmed(bytes, parameter.lowerBound..<sign)
        var value = trimmed(bytes, (sign + 1)..<parameter.upperBound)
        guard !name.isEmpty, !value.isEmpty else { return false }
        guard ASCIICase.equals(bytes[name], "charset") else { return true }
        if value.count >= 2 && bytes[value.lowerBound] == UInt8(ascii: "\"") && bytes[value.upperBound - 1] == UInt8(ascii: "\"") {
            value = (value.lowerBound + 1)..<(value.upperBound - 1)
        }
        return ASCIICase.equals(bytes[value], "utf-8") || ASCIICase.equals(bytes[value], "utf8") || ASCIICase.equals(bytes[value], "us-ascii")
    }

    /// Whether a comma stands outside a quoted string: it separates two types in one field, and a client may take
    /// either.
    private static func hasUnquotedComma(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
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
