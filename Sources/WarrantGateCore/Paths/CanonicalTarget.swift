/// Why a request target was refused as ambiguous.
public struct AmbiguousTarget: Error, Sendable, Equatable, CustomStringConvertible {
    public let detail: String
    public var description: String { detail }
}

/// A request target in its one canonical form.
///
/// The gateway canonicalises the target exactly once. The policy matches ``path`` and ``query``, and the
/// upstream receives ``target``, built from the same values, so the two can never disagree.
///
/// Rules (documented in the README's security section):
/// - only printable ASCII is accepted; spaces, controls, DEL, NUL and raw non-ASCII bytes are refused;
/// - a fragment (`#`) is refused;
/// - in the path, percent-encodings are decoded only when they encode an unreserved character other than `.`
///   (letters, digits, `-`, `_`, `~`); any other encoding (`%2F`, `%5C`, `%2E`, `%3B`, `%25`, `%00`, non-ASCII
///   such as overlong UTF-8) is refused, as are raw `;` and `\`;
/// - duplicate slashes are merged, `.` segments removed, `..` segments resolved; a `..` that would climb above
///   the root is refused; a trailing slash is dropped;
/// - the query is split on `&` into `name=value` pairs, each percent-decoded once; decoded text must be valid UTF-8
///   without control characters or `%` (double encoding); the canonical query re-encodes every byte outside the
///   unreserved set, so `+` reaches the upstream as `%2B`, never as a space;
/// - a query parameter that frameworks read as a method override (`_method`, in any spelling they read) is refused.
public struct CanonicalTarget: Sendable, Equatable {
    public static let maximumLength = 8192
    public static let maximumSegments = 64

    /// The canonical path segments, decoded.
    public let segments: [String]
    /// The canonical path, starting with `/`.
    public let path: String
    /// Query parameters in request order, decoded.
    public let query: [(name: String, value: String)]

    /// The canonical request target that the upstream receives.
    public var target: String {
        query.isEmpty ? path : path + "?" + query.map { Self.encode($0.name) + "=" + Self.encode($0.value) }.joined(separator: "&")
    }

    public static func == (lhs: CanonicalTarget, rhs: CanonicalTarget) -> Bool {
        lhs.target == rhs.target
    }

    /// Values of a query parameter; more than one means the request is ambiguous for that parameter. A parameter
    /// counts under every name some upstream framework reads it as (``ParameterName/queryNameMatches(_:_:)``: any
    /// letter case, PHP's and Rack's readings of ` booking` or `booking[]`), so such a variant is another value.
    public func queryValues(_ name: String) -> [String] {
        query.filter { ParameterName.queryNameMatches($0.name, name) }.map(\.value)
    }

    /// Canonicalises a raw origin-form request target such as `/records/inmates/2017-000123?x=1`.
    public init(raw: String) throws(AmbiguousTarget) {
        let bytes = Array(raw.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maximumLength else {
            throw AmbiguousTarget(detail: "request target is empty or longer than \(Self.maximumLength) bytes")
        }
        guard bytes[0] == UInt8(ascii: "/") else { throw AmbiguousTarget(detail: "request target must start with '/'") }
        for byte in bytes {
            guard byte > 0x20, byte < 0x7f else {
                throw AmbiguousTarget(detail: "request target contains a space, control or non-ASCII byte")
            }
            guard byte != UInt8(ascii: "#") else { throw AmbiguousTarget(detail: "request target contains a fragment") }
        }
        let queryStart = bytes.firstIndex(of: UInt8(ascii: "?"))
        let pathBytes = bytes[..<(queryStart ?? bytes.endIndex)]
        var segments: [String] = []
        segments.reserveCapacity(8)
        // The segments between slashes, empty ones skipped (duplicate slashes merge).
        var start = pathBytes.startIndex
        while start < pathBytes.endIndex {
            let end = pathBytes[start...].firstIndex(of: UInt8(ascii: "/")) ?? pathBytes.endIndex
            defer { start = end + 1 }
            guard end > start else { continue }
            let segment = try Self.decodePathSegment(pathBytes[start..<end])
            switch segment {
            case ".": continue
            case "..":
                guard !segments.isEmpty else { throw AmbiguousTarget(detail: "'..' climbs above the root") }
                segments.removeLast()
            default:
                segments.append(segment)
            }
            guard segments.count <= Self.maximumSegments else { throw AmbiguousTarget(detail: "too many path segments") }
        }
        self.segments = segments
        var path = "/"
        path.reserveCapacity(segments.reduce(0) { $0 + $1.utf8.count + 1 })
        for (index, segment) in segments.enumerated() {
            if index > 0 { path.append("/") }
            path.append(segment)
        }
        self.path = path
        if let queryStart {
            self.query = try Self.decodeQuery(bytes[(queryStart + 1)...])
        } else {
            self.query = []
        }
        if let override = query.first(where: { parameter in
            Self.mentionsMethod(parameter.name) && Self.methodOverrides.contains { ParameterName.queryNameMatches(parameter.name, $0) }
        }) {
            throw AmbiguousTarget(detail: "query parameter '\(override.name)' would override the request's method upstream")
        }
    }

    /// Query parameters that upstream frameworks read as the request's method: Laravel and Symfony (parameter
    /// override on), and Express's `method-override`, take `_method` from the query; the `X-` names are the override
    /// headers, which the gateway strips, as some libraries also read them from the query.
    static let methodOverrides = ["_method", "x-http-method-override", "x-http-method", "x-method-override"]

    /// Whether `name` holds `method` in ASCII letters of any case: the cheap test before the full one. The frameworks
    /// that read an override from the query compare its name exactly or ignoring ASCII case, after PHP's or Rack's
    /// reading, so every name they take for one holds it.
    static func mentionsMethod(_ name: String) -> Bool {
        let bytes = name.utf8
        var start = bytes.startIndex
        while start != bytes.endIndex {
            if bytes[start...].starts(with: "method".utf8, by: { ASCIICase.lowercased($0) == $1 }) { return true }
            bytes.formIndex(after: &start)
        }
        return false
    }

    private static func decodePathSegment(_ raw: ArraySlice<UInt8>) throws(AmbiguousTarget) -> String {
        guard raw.contains(UInt8(ascii: "%")) else {
            for byte in raw { try checkPathByte(byte) }
            return String(decoding: raw, as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var index = raw.startIndex
        while index < raw.endIndex {
            let byte = raw[index]
            if byte == UInt8(ascii: "%") {
                let decoded = try decodePercent(raw, at: index)
                guard isUnreserved(decoded), decoded != UInt8(ascii: ".") else {
                    throw AmbiguousTarget(detail: "path contains an encoded reserved or non-ASCII character")
                }
                out.append(decoded)
                index += 3
                continue
            }
            try checkPathByte(byte)
            out.append(byte)
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Refuses a byte that may not stand unencoded in a path segment.
    private static func checkPathByte(_ byte: UInt8) throws(AmbiguousTarget) {
        guard isUnreserved(byte) || isPathSubDelimiter(byte) else {
            throw AmbiguousTarget(detail: "path contains '\(Character(Unicode.Scalar(byte)))'")
        }
    }

    private static func decodeQuery(_ raw: ArraySlice<UInt8>) throws(AmbiguousTarget) -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        for part in raw.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = part.firstIndex(of: UInt8(ascii: "="))
            let name = try decodeQueryComponent(part[..<(equals ?? part.endIndex)])
            var value = ""
            if let equals { value = try decodeQueryComponent(part[(equals + 1)...]) }
            guard !name.isEmpty else { throw AmbiguousTarget(detail: "query has a parameter without a name") }
            pairs.append((name, value))
        }
        return pairs
    }

    private static func decodeQueryComponent(_ raw: ArraySlice<UInt8>) throws(AmbiguousTarget) -> String {
        var out: [UInt8] = []
        var index = raw.startIndex
        while index < raw.endIndex {
            if raw[index] == UInt8(ascii: "%") {
                let decoded = try decodePercent(raw, at: index)
                guard decoded >= 0x20, decoded != 0x7f, decoded != UInt8(ascii: "%") else {
                    throw AmbiguousTarget(detail: "query contains an encoded control character or double encoding")
                }
                out.append(decoded)
                index += 3
            } else {
                out.append(raw[index])
                index += 1
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw AmbiguousTarget(detail: "query is not valid UTF-8 once decoded")
        }
        return text
    }

    private static func decodePercent(_ raw: ArraySlice<UInt8>, at index: Int) throws(AmbiguousTarget) -> UInt8 {
        guard index + 2 < raw.endIndex,
              let high = ASCIIHex.value(raw[index + 1]), let low = ASCIIHex.value(raw[index + 2])
        else { throw AmbiguousTarget(detail: "malformed percent-encoding") }
        return high << 4 | low
    }

    /// Percent-encodes every byte outside the unreserved set (and `.`).
    public static func encode(_ text: String) -> String {
        var out: [UInt8] = []
        for byte in text.utf8 {
            if isUnreserved(byte) || byte == UInt8(ascii: ".") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xf)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// RFC 3986 unreserved characters: letters, digits, `-`, `.`, `_`, `~`.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// Sub-delimiters allowed raw in a path segment. `;` is not among them: it starts path parameters on some servers.
    private static func isPathSubDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "@"):
            true
        default:
            false
        }
    }
}
