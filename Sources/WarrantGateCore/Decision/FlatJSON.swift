/// A value in one of the log's canonical records: a string, an integer, null, or a list of strings.
public enum FlatValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case null
    case bool(Bool)
    case strings([String])

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var int: Int? { if case .int(let value) = self { value } else { nil } }
    var strings: [String] { if case .strings(let value) = self { value } else { [] } }
}

/// Reads the log's canonical records (flat objects) several times faster than a general JSON decoder: exports read
/// a million of them.
public enum FlatJSON {
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> [String: FlatValue] {
        var object: [String: FlatValue] = [:]
        try forEachMember(bytes) { key, value in object[key] = value }
        return object
    }

    /// Calls `body` with each member of a flat object, in order, without building a dictionary. Nested objects are
    /// skipped.
    public static func forEachMember(_ bytes: [UInt8], _ body: (String, FlatValue) -> Void) throws(JSONError) {
        var scanner = try JSONScanner(bytes)
        scanner.skipWhitespace()
        guard scanner.current == UInt8(ascii: "{") else { throw scanner.fail("not an object") }
        scanner.index += 1
        try scanner.forEachMember { scanner, key throws(JSONError) in
            scanner.skipWhitespace()
            switch scanner.current {
            case UInt8(ascii: "\""):
                body(key.decoded, .string(try scanner.scanString().decoded))
            case UInt8(ascii: "["):
                scanner.index += 1
                var list: [String] = []
                try scanner.forEachElement { scanner throws(JSONError) in
                    scanner.skipWhitespace()
                    list.append(try scanner.scanString().decoded)
                }
                body(key.decoded, .strings(list))
            case UInt8(ascii: "{"):
                try scanner.skipValue(depth: 1)
            default:
                body(key.decoded, try scalar(scanner.bytes[try scanner.scanScalar()], scanner: scanner))
            }
        }
        try scanner.finish()
    }

    private static func scalar(_ text: ArraySlice<UInt8>, scanner: JSONScanner) throws(JSONError) -> FlatValue {
        if text.elementsEqual("null".utf8) { return .null }
        if text.elementsEqual("true".utf8) { return .bool(true) }
        if text.elementsEqual("false".utf8) { return .bool(false) }
        guard let value = Int(String(decoding: text, as: UTF8.self)) else { throw scanner.fail("expected an integer") }
        return .int(value)
    }
}

extension DecisionRecord {
    /// Reads a decision record from its canonical JSON.
    public init(canonical bytes: [UInt8]) throws(JSONError) {
        var id, time, method, path, effect, reason: String?
        var component = "gateway"
        var spki, subjectName, agency, category, action, subject, warrant, policy, digest: String?
        var rules: [String] = [], obligations: [String] = []
        var status: Int?
        try FlatJSON.forEachMember(bytes) { key, value in
            switch key {
            case "decisionId": id = value.string
            case "time": time = value.string
            case "component": component = value.string ?? component
            case "certificateSPKI": spki = value.string
            case "certificateSubject": subjectName = value.string
            case "agency": agency = value.string
            case "category": category = value.string
            case "method": method = value.string
            case "path": path = value.string
            case "action": action = value.string
            case "subject": subject = value.string
            case "warrantReference": warrant = value.string
            case "effect": effect = value.string
            case "reason": reason = value.string
            case "rules": rules = value.strings
            case "obligations": obligations = value.strings
            case "policy": policy = value.string
            case "policyDigest": digest = value.string
            case "status": status = value.int
            default: break
            }
        }
        guard let id, let time, let method, let path, let effect = effect.flatMap(Effect.init(rawValue:)), let reason else {
            throw JSONError(detail: "not a decision record", offset: 0)
        }
        self.init(
            decisionId: id, time: time, component: component, certificateSPKI: spki, certificateSubject: subjectName, agency: agency,
            category: category, method: method, path: path, action: action, subject: subject, warrantReference: warrant, effect: effect,
            reason: reason, rules: rules, obligations: obligations, policy: policy, policyDigest: digest, status: status
        )
    }
}

extension OutcomeRecord {
    /// Reads an outcome record from its canonical JSON.
    public init(canonical bytes: [UInt8]) throws(JSONError) {
        var id, time, error: String?
        var status, upstreamStatus: Int?
        var byteCount = 0, latency = 0, redacted = 0
        try FlatJSON.forEachMember(bytes) { key, value in
            switch key {
            case "decisionId": id = value.string
            case "time": time = value.string
            case "status": status = value.int
            case "upstreamStatus": upstreamStatus = value.int
            case "bytes": byteCount = value.int ?? 0
            case "latencyMs": latency = value.int ?? 0
            case "redactedFields": redacted = value.int ?? 0
            case "error": error = value.string
            default: break
            }
        }
        guard let id, let time, let status else { throw JSONError(detail: "not an outcome record", offset: 0) }
        self.init(
            decisionId: id, time: time, upstreamStatus: upstreamStatus, status: status, bytes: byteCount, latencyMs: latency,
            redactedFields: redacted, error: error
        )
    }
}
