import Foundation

/// One log entry as an RFC 5424 syslog message, for a county's SIEM.
///
/// `<PRI>1 TIMESTAMP HOSTNAME warrant-gate - KIND [warrantgate@32473 seq="…" …] ENTRY`:
/// - facility 13 (log audit); severity notice for a denial, a shadow disagreement or an admin action, else info;
/// - the timestamp is the entry's own (RFC 3339, UTC, milliseconds); MSGID is the entry's kind;
/// - one structured-data element carries `seq` and `kind` always, and the fields a SIEM searches on for that kind
///   (a decision's agency, action, subject, effect, reason, decision id …);
/// - MSG is the entry's canonical JSON exactly as the log holds it (and as its leaf hash covers), without a BOM.
///
/// 32473 is the private enterprise number that RFC 5612 reserves for documentation: WarrantGate has none of its own.
/// An entry that does not parse is still forwarded, with `seq`, `kind` and `malformed="true"`: nothing is dropped.
public struct SyslogRecord: Sendable, Equatable {
    public static let structuredDataID = "warrantgate@32473"
    public static let appName = "warrant-gate"

    public let seq: Int64
    public let kind: String
    public let time: String
    public let entry: [UInt8]

    public init(seq: Int64, kind: String, time: String, entry: [UInt8]) {
        self.seq = seq
        self.kind = kind
        self.time = time
        self.entry = entry
    }

    /// The SD parameters lifted out of each kind of entry, in the order they are written.
    static let searchedFields: [String: [String]] = [
        LogKind.decision.rawValue: [
            "decisionId", "agency", "category", "action", "subject", "warrantReference", "effect", "reason", "status", "method", "path",
        ],
        LogKind.outcome.rawValue: ["decisionId", "status", "upstreamStatus", "bytes", "latencyMs", "redactedFields", "error"],
        LogKind.shadow.rawValue: ["decisionId", "agency", "action", "liveEffect", "liveReason", "shadowEffect", "shadowReason"],
        LogKind.admin.rawValue: ["operator", "account", "action", "target"],
    ]

    /// The message's bytes, with `hostname` (the forwarder's host) in the header.
    public func message(hostname: String) -> [UInt8] {
        let fields = try? FlatJSON.parse(entry)
        var parameters: [(String, String)] = [("seq", String(seq)), ("kind", kind)]
        if let fields {
            for name in Self.searchedFields[kind] ?? [] {
                guard let value = fields[name].flatMap(Self.text) else { continue }
                parameters.append((name, value))
            }
        } else {
            parameters.append(("malformed", "true"))
        }
        let denial = fields?["effect"] == .string(Effect.deny.rawValue)
        let notice = denial || kind == LogKind.shadow.rawValue || kind == LogKind.admin.rawValue
        let priority = 13 * 8 + (notice ? 5 : 6)
        var header = "<\(priority)>1 \(Self.timestamp(time)) \(Self.headerField(hostname, limit: 255)) \(Self.appName) - "
        header += Self.headerField(kind, limit: 32) + " [" + Self.structuredDataID
        for (name, value) in parameters { header += " \(name)=\"\(Self.escaped(value))\"" }
        header += "] "
        return Array(header.utf8) + entry
    }

    /// A field's value as SD text: lists space-separated; absent for null.
    private static func text(_ value: FlatValue) -> String? {
        switch value {
        case .string(let text): text
        case .int(let number): String(number)
        case .bool(let flag): flag ? "true" : "false"
        case .strings(let list): list.joined(separator: " ")
        case .null: nil
        }
    }

    /// RFC 5424's PARAM-VALUE escapes (`"`, `\` and `]`); control characters (C0, DEL, C1) and the Unicode line and
    /// paragraph separators, which a receiver may mangle or split on, become U+FFFD. MSG still carries the exact value.
    static func escaped(_ value: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"", "\\", "]":
                result.append("\\")
                result.append(scalar)
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029:
                result.append("\u{FFFD}")
            default:
                result.append(scalar)
            }
        }
        return String(result)
    }

    /// A header field: printable US-ASCII without spaces, at most `limit` characters, else the NILVALUE `-`.
    static func headerField(_ value: String, limit: Int) -> String {
        let printable = value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
        return printable && !value.isEmpty && value.utf8.count <= limit ? value : "-"
    }

    /// The entry's time when it has the log's form (`2026-11-25T14:03:07.123Z`), else the NILVALUE `-`.
    static func timestamp(_ time: String) -> String {
        let bytes = Array(time.utf8)
        guard bytes.count == 24 else { return "-" }
        let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22]
        let separators: [(Int, UInt8)] = [(4, 0x2D), (7, 0x2D), (10, 0x54), (13, 0x3A), (16, 0x3A), (19, 0x2E), (23, 0x5A)]
        guard digits.allSatisfy({ bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }), separators.allSatisfy({ bytes[$0.0] == $0.1 }) else { return "-" }
        return time
    }
}
