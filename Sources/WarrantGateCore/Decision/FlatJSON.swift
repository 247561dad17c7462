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
        var scanner = try JSONScanner(bytes)
        scanner.skipWhitespace()
        guard scanner.current == UInt8(ascii: "{") else { throw scanner.fail("not an object") }
        scanner.index += 1
        var object: [String: FlatValue] = [:]
        try scanner.forEachMember { scanner, key throws(JSONError) in
            scanner.skipWhitespace()
            switch scanner.current {
            case UInt8(ascii: "\""):
                object[key.decoded] = .string(try scanner.scanString().decoded)
            case UInt8(ascii: "["):
                scanner.index += 1
                var list: [String] = []
                try scanner.forEachElement { scanner throws(JSONError) in
                    scanner.skipWhitespace()
                    list.append(try scanner.scanString().decoded)
                }
                object[key.decoded] = .strings(list)
            case UInt8(ascii: "{"):
                try scanner.skipValue(depth: 1)
            default:
                let range = try scanner.scanScalar()
                let text = String(decoding: scanner.bytes[range], as: UTF8.self)
                switch text {
                case "null": object[key.decoded] = .null
                case "true": object[key.decoded] = .bool(true)
                case "false": object[key.decoded] = .bool(false)
                default:
                    guard let value = Int(text) else { throw scanner.fail("expected an integer") }
                    object[key.decoded] = .int(value)
                }
            }
        }
        try scanner.finish()
        return object
    }
}

extension DecisionRecord {
    /// Reads a decision record from its canonical JSON.
    public init(canonical bytes: [UInt8]) throws(JSONError) {
        let object = try FlatJSON.parse(bytes)
        guard let id = object["decisionId"]?.string, let time = object["time"]?.string, let method = object["method"]?.string,
              let path = object["path"]?.string, let effect = object["effect"]?.string.flatMap(Effect.init(rawValue:)),
              let reason = object["reason"]?.string
        else { throw JSONError(detail: "not a decision record", offset: 0) }
        self.init(
            decisionId: id, time: time, component: object["component"]?.string ?? "gateway", certificateSPKI: object["certificateSPKI"]?.string,
            certificateSubject: object["certificateSubject"]?.string, agency: object["agency"]?.string, category: object["category"]?.string,
            method: method, path: path, action: object["action"]?.string, subject: object["subject"]?.string,
            warrantReference: object["warrantReference"]?.string, effect: effect, reason: reason, rules: object["rules"]?.strings ?? [],
            obligations: object["obligations"]?.strings ?? [], policy: object["policy"]?.string, policyDigest: object["policyDigest"]?.string,
            status: object["status"]?.int
        )
    }
}

extension OutcomeRecord {
    /// Reads an outcome record from its canonical JSON.
    public init(canonical bytes: [UInt8]) throws(JSONError) {
        let object = try FlatJSON.parse(bytes)
        guard let id = object["decisionId"]?.string, let time = object["time"]?.string, let status = object["status"]?.int else {
            throw JSONError(detail: "not an outcome record", offset: 0)
        }
        self.init(
            decisionId: id, time: time, upstreamStatus: object["upstreamStatus"]?.int, status: status, bytes: object["bytes"]?.int ?? 0,
            latencyMs: object["latencyMs"]?.int ?? 0, redactedFields: object["redactedFields"]?.int ?? 0, error: object["error"]?.string
        )
    }
}
