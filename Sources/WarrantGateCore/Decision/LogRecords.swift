import Foundation

/// The kinds of record in the append-only log.
public enum LogKind: String, Sendable, Codable {
    case decision
    case outcome
    case admin
    /// A disagreement between the live policy and the shadow (candidate) policy on one request.
    case shadow
}

/// One record to append to the log: its kind, time, the decision it belongs to, and its canonical bytes.
public struct LogEntry: Sendable {
    public let kind: LogKind
    public let time: Date
    public let decisionId: String?
    public let canonical: [UInt8]

    public init(kind: LogKind, time: Date, decisionId: String?, canonical: [UInt8]) {
        self.kind = kind
        self.time = time
        self.decisionId = decisionId
        self.canonical = canonical
    }
}

/// The record of one decision, written before anything is forwarded or refused.
///
/// It holds what CJIS 5.4.1.1.1 asks of an audit record: date and time, component, event type, the subject's
/// identity (certificate and agency) and the outcome.
public struct DecisionRecord: Sendable, Equatable, LogRecord {
    public var decisionId: String
    public var time: String
    public var component: String
    public var certificateSPKI: String?
    public var certificateSubject: String?
    public var agency: String?
    public var category: String?
    public var method: String
    public var path: String
    public var action: String?
    public var subject: String?
    public var warrantReference: String?
    /// The facts the request stated about itself (see ``RequestFact``), as `name=value`, sorted: the caller's claims,
    /// recorded verbatim.
    public var requestFacts: [String]
    public var effect: Effect
    public var reason: String
    public var rules: [String]
    public var obligations: [String]
    public var policy: String?
    public var policyDigest: String?
    /// The HTTP status sent when refused; nil when the request is forwarded.
    public var status: Int?

    public init(
        decisionId: String, time: String, component: String, certificateSPKI: String?, certificateSubject: String?, agency: String?,
        category: String?, method: String, path: String, action: String?, subject: String?, warrantReference: String?,
        requestFacts: [String] = [], effect: Effect, reason: String, rules: [String], obligations: [String], policy: String?,
        policyDigest: String?, status: Int?
    ) {
        self.decisionId = decisionId
        self.time = time
        self.component = component
        self.certificateSPKI = certificateSPKI
        self.certificateSubject = certificateSubject
        self.agency = agency
        self.category = category
        self.method = method
        self.path = path
        self.action = action
        self.subject = subject
        self.warrantReference = warrantReference
        self.requestFacts = requestFacts
        self.effect = effect
        self.reason = reason
        self.rules = rules
        self.obligations = obligations
        self.policy = policy
        self.policyDigest = policyDigest
        self.status = status
    }

    /// The fields in canonical order. Records written before `component` existed read as the gateway's; before
    /// `requestFacts`, as stating none.
    static func visitFields(_ visitor: inout some LogFieldVisitor<DecisionRecord>) {
        visitor.field("decisionId", \.decisionId)
        visitor.field("time", \.time)
        visitor.field("component", \.component, default: "gateway")
        visitor.field("certificateSPKI", \.certificateSPKI)
        visitor.field("certificateSubject", \.certificateSubject)
        visitor.field("agency", \.agency)
        visitor.field("category", \.category)
        visitor.field("method", \.method)
        visitor.field("path", \.path)
        visitor.field("action", \.action)
        visitor.field("subject", \.subject)
        visitor.field("warrantReference", \.warrantReference)
        visitor.field("effect", \.effect)
        visitor.field("reason", \.reason)
        visitor.field("rules", \.rules, default: [])
        visitor.field("obligations", \.obligations, default: [])
        visitor.field("policy", \.policy)
        visitor.field("policyDigest", \.policyDigest)
        visitor.field("status", \.status)
        visitor.field("requestFacts", \.requestFacts, default: [])
    }

    /// The list's names, and the record that decoding starts from.
    static let fields = LogFields(.decision, placeholder: DecisionRecord(
        decisionId: "", time: "", component: "", certificateSPKI: nil, certificateSubject: nil, agency: nil, category: nil, method: "",
        path: "", action: nil, subject: nil, warrantReference: nil, effect: .deny, reason: "", rules: [], obligations: [], policy: nil,
        policyDigest: nil, status: nil
    ))

    /// The canonical encoding: the fields in `visitFields` order.
    public var canonical: [UInt8] { Self.fields.encode(self) }

    /// Reads a decision record from its canonical JSON, as `LogFields.decode` describes.
    public init(canonical bytes: [UInt8]) throws(JSONError) {
        self = try Self.fields.decode(bytes)
    }

    /// The members' names, in canonical order.
    public static var fieldNames: [String] { fields.names }

    /// The fields' values, in the order of `fieldNames`.
    public var fieldValues: [FlatValue] { Self.fields.values(of: self) }
}

/// What happened after an allowed decision: appended once the response has been sent.
public struct OutcomeRecord: Sendable, Equatable, LogRecord {
    public var decisionId: String
    public var time: String
    /// The upstream's status, or nil if the upstream never answered.
    public var upstreamStatus: Int?
    /// The status the client received.
    public var status: Int
    /// Response body bytes sent to the client.
    public var bytes: Int
    public var latencyMs: Int
    /// How many fields redaction removed.
    public var redactedFields: Int
    /// Why the exchange failed, if it did (for example `upstream_unavailable`).
    public var error: String?

    public init(decisionId: String, time: String, upstreamStatus: Int?, status: Int, bytes: Int, latencyMs: Int, redactedFields: Int, error: String?) {
        self.decisionId = decisionId
        self.time = time
        self.upstreamStatus = upstreamStatus
        self.status = status
        self.bytes = bytes
        self.latencyMs = latencyMs
        self.redactedFields = redactedFields
        self.error = error
    }

    /// The fields in canonical order.
    static func visitFields(_ visitor: inout some LogFieldVisitor<OutcomeRecord>) {
        visitor.field("decisionId", \.decisionId)
        visitor.field("time", \.time)
        visitor.field("upstreamStatus", \.upstreamStatus)
        visitor.field("status", \.status)
        visitor.field("bytes", \.bytes, default: 0)
        visitor.field("latencyMs", \.latencyMs, default: 0)
        visitor.field("redactedFields", \.redactedFields, default: 0)
        visitor.field("error", \.error)
    }

    /// The list's names, and the record that decoding starts from.
    static let fields = LogFields(.outcome, placeholder: OutcomeRecord(
        decisionId: "", time: "", upstreamStatus: nil, status: 0, bytes: 0, latencyMs: 0, redactedFields: 0, error: nil
    ))

    /// The canonical encoding: the fields in `visitFields` order.
    public var canonical: [UInt8] { Self.fields.encode(self) }

    /// Reads an outcome record from its canonical JSON, as `LogFields.decode` describes.
    public init(canonical bytes: [UInt8]) throws(JSONError) {
        self = try Self.fields.decode(bytes)
    }

    /// The members' names, in canonical order.
    public static var fieldNames: [String] { fields.names }

    /// The fields' values, in the order of `fieldNames`.
    public var fieldValues: [FlatValue] { Self.fields.values(of: self) }
}

/// A request on which the shadow (candidate) policy decided differently from the live one. It never changes the
/// answer; counsel reads these with `log shadow-diff` before switching versions.
public struct ShadowRecord: Sendable, Equatable, LogRecord {
    public var decisionId: String
    public var time: String
    public var agency: String
    public var action: String
    public var liveEffect: Effect
    public var liveReason: String
    public var shadowPolicy: String
    public var shadowDigest: String
    public var shadowEffect: Effect
    public var shadowReason: String
    public var shadowRules: [String]
    /// What each decision, when both allow, returns (``Returns``, in two fields each); nil when either denies, and in
    /// records written before these fields were.
    public var liveRedact: [String]?
    public var liveReturnsOnly: [String]?
    public var shadowRedact: [String]?
    public var shadowReturnsOnly: [String]?
    /// The obligations each decision records, sorted, when they differ; nil when they are the same, and in records
    /// written before these fields were.
    public var liveObligations: [String]?
    public var shadowObligations: [String]?

    public var liveReturns: Returns? { liveRedact.map { Returns(redact: $0, only: liveReturnsOnly) } }
    public var shadowReturns: Returns? { shadowRedact.map { Returns(redact: $0, only: shadowReturnsOnly) } }

    /// What an allowed decision returns: the names it redacts, and the fields it returns alone (nil: every field).
    public struct Returns: Sendable, Equatable {
        public var redact: [String]
        public var only: [String]?

        public init(_ decision: Decision) {
            redact = decision.redact.sorted()
            only = decision.keepOnly?.sorted()
        }

        init(redact: [String], only: [String]?) {
            self.redact = redact
            self.only = only
        }

        /// Whether these return a field that `other` withholds: they redact a name it redacts not, or return fields
        /// beyond those it returns alone.
        public func returnsMore(than other: Returns) -> Bool {
            guard Set(redact).isSuperset(of: other.redact) else { return true }
            guard let limit = other.only else { return false }
            return only.map { !Set($0).isSubset(of: limit) } ?? true
        }

        /// `redacts a, b; returns only c`, for tables.
        public var summary: String {
            let redacts = redact.isEmpty ? "redacts nothing" : "redacts " + redact.joined(separator: ", ")
            return only.map { redacts + "; returns only " + ($0.isEmpty ? "nothing" : $0.joined(separator: ", ")) } ?? redacts
        }
    }

    public init(
        decisionId: String, time: String, agency: String, action: String, liveEffect: Effect, liveReason: String, shadowPolicy: String,
        shadowDigest: String, shadowEffect: Effect, shadowReason: String, shadowRules: [String], liveReturns: Returns? = nil,
        shadowReturns: Returns? = nil, liveObligations: [String]? = nil, shadowObligations: [String]? = nil
    ) {
        self.decisionId = decisionId
        self.time = time
        self.agency = agency
        self.action = action
        self.liveEffect = liveEffect
        self.liveReason = liveReason
        self.shadowPolicy = shadowPolicy
        self.shadowDigest = shadowDigest
        self.shadowEffect = shadowEffect
        self.shadowReason = shadowReason
        self.shadowRules = shadowRules
        (liveRedact, liveReturnsOnly) = (liveReturns?.redact, liveReturns?.only)
        (shadowRedact, shadowReturnsOnly) = (shadowReturns?.redact, shadowReturns?.only)
        (self.liveObligations, self.shadowObligations) = (liveObligations, shadowObligations)
    }

    /// Whether the shadow policy would give the agency more than the live one: allow what it denies, or, both allowing,
    /// return a field the live one withholds.
    public var shadowReturnsMore: Bool {
        if liveEffect == .deny { return shadowEffect == .allow }
        guard shadowEffect == .allow, let live = liveReturns, let shadow = shadowReturns else { return false }
        return shadow.returnsMore(than: live)
    }

    /// The fields in canonical order; every one is required.
    static func visitFields(_ visitor: inout some LogFieldVisitor<ShadowRecord>) {
        visitor.field("decisionId", \.decisionId)
        visitor.field("time", \.time)
        visitor.field("agency", \.agency)
        visitor.field("action", \.action)
        visitor.field("liveEffect", \.liveEffect)
        visitor.field("liveReason", \.liveReason)
        visitor.field("shadowPolicy", \.shadowPolicy)
        visitor.field("shadowDigest", \.shadowDigest)
        visitor.field("shadowEffect", \.shadowEffect)
        visitor.field("shadowReason", \.shadowReason)
        visitor.field("shadowRules", \.shadowRules)
        visitor.field("liveRedact", \.liveRedact)
        visitor.field("liveReturnsOnly", \.liveReturnsOnly)
        visitor.field("shadowRedact", \.shadowRedact)
        visitor.field("shadowReturnsOnly", \.shadowReturnsOnly)
        visitor.field("liveObligations", \.liveObligations)
        visitor.field("shadowObligations", \.shadowObligations)
    }

    /// The list's names, and the record that decoding starts from.
    static let fields = LogFields(.shadow, placeholder: ShadowRecord(
        decisionId: "", time: "", agency: "", action: "", liveEffect: .deny, liveReason: "", shadowPolicy: "", shadowDigest: "",
        shadowEffect: .deny, shadowReason: "", shadowRules: []
    ))

    /// The canonical encoding: the fields in `visitFields` order.
    public var canonical: [UInt8] { Self.fields.encode(self) }

    /// Reads a shadow record from its canonical JSON, as `LogFields.decode` describes.
    public init(canonical bytes: [UInt8]) throws(JSONError) {
        self = try Self.fields.decode(bytes)
    }
}

/// An action taken with the admin CLI: who did what to which object.
///
/// Unlike the other records it lists no fields for `LogFields`: `details` is a nested object, which flat decoding
/// skips, so it is read back (by `Registry.history`) and printed (by `warrant show --json`) through `Codable`.
public struct AdminRecord: Sendable, Codable, Equatable {
    public var time: String
    public var component: String
    /// The name the operator gave (`--operator`, or the login name): what they say they are.
    public var `operator`: String
    /// The operating-system account of the process that wrote the record, as the kernel and sudo report it (see the
    /// store's `ProcessAccount`): who ran the command, beside who said they did. Nil in records written before it was
    /// recorded; never written as null.
    public var account: String?
    /// For example `warrant.register`, `warrant.revoke`, `advisement.record`, `log.export`.
    public var action: String
    public var target: String
    public var details: [String: String]

    public init(time: String, operator: String, account: String? = nil, action: String, target: String, details: [String: String]) {
        self.time = time
        self.component = "admin-cli"
        self.operator = `operator`
        self.account = account
        self.action = action
        self.target = target
        self.details = details
    }

    /// Decodes an admin entry as the log holds it: only as the CLI writes one (``canonical``), since JSON with a key
    /// repeated, or written another way, reads one way here and another elsewhere (PostgreSQL keeps a repeated key's
    /// last value, this decoder its first).
    public init(entry: String) throws {
        self = try JSONDecoder().decode(AdminRecord.self, from: Data(entry.utf8))
        guard canonical.elementsEqual(entry.utf8) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "an admin record not written as the CLI writes one"))
        }
    }

    /// The record of `entry` if it is one the CLI wrote; nil for one that is not but cannot concern `target` (its
    /// text does not name it), so that one stray entry, which `log verify` names, does not stop every lookup; one
    /// that may concern `target` is refused.
    public static func concerning(_ target: String, entry: String) throws -> AdminRecord? {
        do {
            return try AdminRecord(entry: entry)
        } catch {
            var name = CanonicalJSON()
            name.field("target", target)
            let quoted = Array(name.finished().dropFirst(#"{"target":"#.utf8.count).dropLast())
            guard entry.utf8.firstRange(of: quoted) != nil || entry.contains(target) else { return nil }
            throw error
        }
    }

    public var canonical: [UInt8] {
        var json = CanonicalJSON()
        json.field("time", time)
        json.field("component", component)
        json.field("operator", `operator`)
        if let account { json.field("account", account) }
        json.field("action", action)
        json.field("target", target)
        json.field("details", details)
        return json.finished()
    }
}

/// Timestamps in the log: RFC 3339 in UTC with milliseconds, such as `2026-11-25T14:03:07.123Z`.
public enum Timestamp {
    /// The first instant after the last one ``parse`` accepts, 10000-01-01T00:00:00Z, in seconds since 1970.
    static let end: TimeInterval = 253_402_300_800

    /// Formats without Foundation's formatters, which cost microseconds on the hot path. Total: an instant outside
    /// years 0–9999 (only a row stored before dates were checked holds one) gets a signed year of more digits, such
    /// as `-0001-12-31T17:00:00.000Z`, and one that is no time at all reads `invalid time`.
    public static func format(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        guard interval.isFinite, abs(interval) < 1e14 else { return "invalid time (\(interval) s since 1970)" }
        let milliseconds = Int64((interval * 1000).rounded(.down))
        let days = milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000
        let ofDay = Int(milliseconds - days * 86_400_000)
        let (year, month, day) = LocalDate.fields(daysSince1970: days)
        let yearText = (0...9999).contains(year) ? "" : expanded(year: year)
        return yearText + String(unsafeUninitializedCapacity: 24) { bytes in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var value = value
                for index in stride(from: offset + width - 1, through: offset, by: -1) {
                    bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            // Past a four-digit year, the signed year goes before the bytes written here.
            let tail = yearText.isEmpty ? 0 : -4
            if yearText.isEmpty { put(Int(year), 4, at: 0) }
            bytes[tail + 4] = UInt8(ascii: "-")
            put(month, 2, at: tail + 5)
            bytes[tail + 7] = UInt8(ascii: "-")
            put(day, 2, at: tail + 8)
            bytes[tail + 10] = UInt8(ascii: "T")
            put(ofDay / 3_600_000, 2, at: tail + 11)
            bytes[tail + 13] = UInt8(ascii: ":")
            put(ofDay / 60_000 % 60, 2, at: tail + 14)
            bytes[tail + 16] = UInt8(ascii: ":")
            put(ofDay / 1000 % 60, 2, at: tail + 17)
            bytes[tail + 19] = UInt8(ascii: ".")
            put(ofDay % 1000, 3, at: tail + 20)
            bytes[tail + 23] = UInt8(ascii: "Z")
            return tail + 24
        }
    }

    /// Formats as `timeZone`'s clock read at that instant, with its offset from UTC (`2026-09-30T17:59:50.000-06:00`;
    /// `Z` where the offset is zero), as ``format(_:)`` does otherwise. The same instant in RFC 3339, for a reader in
    /// that zone; an offset with seconds (none since 1972) is rounded to the minute, so the instant stays exact.
    public static func format(_ date: Date, in timeZone: TimeZone) -> String {
        let offset = Int((Double(timeZone.secondsFromGMT(for: date)) / 60).rounded()) * 60
        guard offset != 0 else { return format(date) }
        let local = format(date.addingTimeInterval(TimeInterval(offset)))
        guard local.hasSuffix("Z") else { return local }
        let minutes = abs(offset) / 60
        return local.dropLast() + (offset < 0 ? "-" : "+") + twoDigits(minutes / 60) + ":" + twoDigits(minutes % 60)
    }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }

    /// A year outside 0–9999 as ISO 8601's expanded form writes it: signed, at least four digits.
    private static func expanded(year: Int64) -> String {
        let digits = String(year.magnitude)
        return (year < 0 ? "-" : "+") + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Parses an RFC 3339 time, strictly: `YYYY-MM-DDTHH:MM:SS` (`T` also written `t` or a space, as RFC 3339 allows),
    /// optionally `.` and 1–9 digits, then `Z` (or `z`) or `±HH:MM`.
    /// Every field must exist (no 2026-02-30, hour 24, minute 60 or leap second 60), the date's year must be in
    /// ``LocalDate/years``, and so must the instant's in UTC. Anything else is nil.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 35 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { return nil }
                value = value * 10 + Int(bytes[index] - 0x30)
            }
            return value
        }
        guard let date = LocalDate(String(decoding: bytes[0..<10], as: UTF8.self)), [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(bytes[10]),
              let hour = number(11..<13), bytes[13] == UInt8(ascii: ":"), let minute = number(14..<16), bytes[16] == UInt8(ascii: ":"),
              let second = number(17..<19), hour < 24, minute < 60, second < 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if bytes[index] == UInt8(ascii: ".") {
            var scale = 0.1
            index += 1
            while index < bytes.count, index < 29, (0x30...0x39).contains(bytes[index]) {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > 20 else { return nil }
        }
        let offset: Int
        if index == bytes.count - 1, bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            offset = 0
        } else if index == bytes.count - 6, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"),
                  let hours = number(index + 1..<index + 3), bytes[index + 3] == UInt8(ascii: ":"), let minutes = number(index + 4..<index + 6),
                  hours < 24, minutes < 60 {
            offset = (bytes[index] == UInt8(ascii: "-") ? -1 : 1) * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        let seconds = TimeInterval(date.daysSince1970 * 86400 + hour * 3600 + minute * 60 + second - offset) + fraction
        guard seconds >= 0, seconds < end else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }
}
