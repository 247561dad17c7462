import Foundation

/// A reporting period: a year (`2026`), a quarter (`2026-Q4`) or a month (`2026-11`), in a time zone.
public struct ReportPeriod: Sendable, Equatable {
    public let label: String
    public let start: Date
    public let end: Date
    /// The months the period spans, as `YYYY-MM`.
    public let months: [String]

    /// Reads `YYYY`, `YYYY-Qn` or `YYYY-MM` exactly as written (ASCII digits, no sign, no empty part), so that the
    /// label a report prints is the period it covers.
    public init?(_ text: String, timeZone: TimeZone) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        let isDigits = { (part: Substring) in !part.isEmpty && part.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard parts.count <= 2, isDigits(parts[0][...]), parts.dropFirst().allSatisfy({ isDigits($0.hasPrefix("Q") ? $0.dropFirst() : $0[...]) }),
              let year = Int(parts[0]), (2000...2999).contains(year), parts[0].count == 4
        else { return nil }
        let firstMonth: Int
        let count: Int
        switch parts.count {
        case 1:
            firstMonth = 1
            count = 12
        case 2 where parts[1].hasPrefix("Q"):
            guard parts[1].count == 2, let quarter = Int(parts[1].dropFirst()), (1...4).contains(quarter) else { return nil }
            firstMonth = (quarter - 1) * 3 + 1
            count = 3
        case 2:
            guard parts[1].count == 2, let month = Int(parts[1]), (1...12).contains(month) else { return nil }
            firstMonth = month
            count = 1
        default:
            return nil
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        guard let start = calendar.date(from: DateComponents(year: year, month: firstMonth, day: 1)),
              let end = calendar.date(byAdding: .month, value: count, to: start)
        else { return nil }
        self.label = text
        self.start = start
        self.end = end
        self.months = (0..<count).map { String(format: "%04d-%02d", year + (firstMonth - 1 + $0) / 12, (firstMonth - 1 + $0) % 12 + 1) }
    }

    /// Whether `time` falls in the period.
    public func holds(_ time: Date) -> Bool {
        time >= start && time < end
    }
}

/// The entries `log archive` has moved out of the database: a report computed from the database cannot count them.
public struct ArchivedEntries: Sendable, Equatable {
    /// The entries 1…`throughSeq` are archived.
    public let throughSeq: UInt64
    /// No archived entry states a later time (for a decision, when its request opened); nil when the log does not say.
    public let latestTime: Date?

    public init(throughSeq: UInt64, latestTime: Date?) {
        self.throughSeq = throughSeq
        self.latestTime = latestTime
    }

    /// Whether requests that opened in `period` may be among them.
    public func mayInclude(_ period: ReportPeriod) -> Bool {
        latestTime.map { $0 >= period.start } ?? true
    }

    /// What is missing, in a sentence: "entries 1…N of the log (times up to T) are archived and not counted".
    public var summary: String {
        "entries 1…\(throughSeq) of the log\(latestTime.map { " (times up to \(Timestamp.format($0)))" } ?? "") are archived and not counted"
    }
}

/// What a transparency report counts: immigration-enforcement requests by kind, outcome, reason and month, and the
/// checkpoint the figures were computed from.
public struct ReportData: Sendable {
    /// One immigration-enforcement request. Reports show no names or booking numbers: the subject only counts
    /// distinct people.
    public struct Request: Sendable {
        public let time: Date
        public let month: String
        public let agency: String
        public let kind: String
        public let effect: Effect
        public let reason: String
        public let obligations: [String]
        let subject: String?
        /// Whether the agency received the system's answer: an allowed request whose outcome, among the entries the
        /// report is computed from, is a 2xx the client took (not a 404, an upstream failure, or a client that left).
        public let answered: Bool

        public init(
            time: Date, month: String, agency: String, kind: String, effect: Effect, reason: String, obligations: [String], subject: String? = nil,
            answered: Bool = false
        ) {
            self.time = time
            self.month = month
            self.agency = agency
            self.kind = kind
            self.effect = effect
            self.reason = reason
            self.obligations = obligations
            self.subject = subject
            self.answered = answered
        }
    }

    /// One of the federal immigration authorities' own forms (``DocumentKind/isImmigrationForm``) that the legal
    /// unit registered: a request the jail received on paper, counted by when it was registered. It authorises
    /// nothing; the judicial documents an agency brings are counted through the requests they let through.
    public struct Form: Sendable {
        public let time: Date
        public let month: String
        public let kind: DocumentKind
        /// Whether it was revoked since, among the entries the report covers: a registration made in error is revoked
        /// and the form registered again, so a reader can tell forms received from registrations.
        public var revoked: Bool

        public init(time: Date, month: String, kind: DocumentKind, revoked: Bool = false) {
            self.time = time
            self.month = month
            self.kind = kind
            self.revoked = revoked
        }
    }

    public let period: ReportPeriod
    public let jurisdiction: String
    public let timeZone: TimeZone
    public let requests: [Request]
    /// How many of the period's requests were logged naming no agency (a client certificate the agency directory
    /// does not list, or lists for more than one agency, or a request refused before its agency could be read):
    /// immigration-enforcement requests among them are not in ``requests``.
    public let unattributedRequests: Int
    public let forms: [Form]
    /// The tree size and root of the checkpoint the report was computed from (every entry up to that size).
    public let checkpointSize: UInt64
    public let checkpointRoot: String
    public let checkpointOrigin: String
    /// The archived entries among which requests of the period may be, which the figures leave out; nil when none.
    public let archived: ArchivedEntries?
    /// When the figures count archived entries: the last of them (entries 1…N were read from archive files and
    /// matched the log's tree).
    public let countedArchivedThrough: UInt64?
    /// When the figures were computed, if requests of the period could still be logged then (it had not ended, or
    /// ended less than ``EntryTime/latestColumn(stating:)`` allows before); nil once it is closed.
    public let computedWhileOpen: Date?

    public init(
        period: ReportPeriod, jurisdiction: String, timeZone: TimeZone, requests: [Request], unattributedRequests: Int = 0, forms: [Form] = [],
        checkpointSize: UInt64, checkpointRoot: String, checkpointOrigin: String, archived: ArchivedEntries? = nil,
        countedArchivedThrough: UInt64? = nil, computedAt: Date? = nil
    ) {
        self.period = period
        self.jurisdiction = jurisdiction
        self.timeZone = timeZone
        self.requests = requests
        self.unattributedRequests = unattributedRequests
        self.forms = forms
        self.checkpointSize = checkpointSize
        self.checkpointRoot = checkpointRoot
        self.checkpointOrigin = checkpointOrigin
        self.archived = archived
        self.countedArchivedThrough = countedArchivedThrough
        computedWhileOpen = computedAt.flatMap { $0 < EntryTime.latestColumn(stating: period.end) ? $0 : nil }
    }

    /// The report's kind of request for an action.
    public static func kind(of action: String) -> String {
        switch action {
        case "records.release-date", "custody.release-notification": return "release date"
        case "records.locator": return "custody status"
        case "custody.hold": return "hold"
        case "custody.transfer": return "transfer"
        case "custody.arrest": return "arrest"
        case "facility.secure-area": return "secure area"
        default:
            if action.hasPrefix("visitation.") || action.hasPrefix("interview.") { return "interview or visit" }
            if action.hasPrefix("records.") { return "records" }
            return "other"
        }
    }

    /// The forms a report counts, in the order it lists them.
    public static let formKinds = DocumentKind.allCases.filter(\.isImmigrationForm)

    /// A form's kind as a report names it, with the DHS form numbers people know it by.
    public static func name(of form: DocumentKind) -> String {
        switch form {
        case .detainer: "detainer (I-247A)"
        case .administrativeWarrant: "administrative warrant (I-200, I-205)"
        case .notificationRequest: "request for notification (I-247N)"
        case .administrativeSubpoena: "administrative subpoena"
        case .immigrationJudgeOrder: "immigration judge's order"
        default: form.rawValue
        }
    }

    public func formCount(month: String? = nil, kind: DocumentKind? = nil, revoked: Bool? = nil) -> Int {
        forms.filter { (month == nil || $0.month == month) && (kind == nil || $0.kind == kind) && (revoked == nil || $0.revoked == revoked) }.count
    }

    public static let kinds = ["interview or visit", "release date", "records", "custody status", "hold", "transfer", "arrest", "secure area", "other"]

    /// How many distinct inmates were the subject of an allowed request that the agency received an answer to: the
    /// TRUTH Act's "individuals given ICE access". An allow for a booking the system does not hold, or whose answer
    /// never reached the agency, gave no access.
    public var individualsGivenAccess: Int {
        Set(requests.filter { $0.effect == .allow && $0.answered }.compactMap(\.subject)).count
    }

    public var allowed: Int { requests.filter { $0.effect == .allow }.count }
    public var denied: Int { requests.filter { $0.effect == .deny }.count }
    /// The denied requests no policy decided (``GatewayReason/undecided``): the gateway asked for them again, or the
    /// client left. A request sent again is counted again.
    public var deniedUndecided: Int { requests.filter { $0.effect == .deny && GatewayReason.undecided.contains($0.reason) }.count }
    /// The allowed requests whose answer the agency did not receive (``Request/answered``).
    public var allowedUnanswered: Int { requests.filter { $0.effect == .allow && !$0.answered }.count }

    public func count(month: String? = nil, kind: String? = nil, effect: Effect? = nil) -> Int {
        requests.filter { (month == nil || $0.month == month) && (kind == nil || $0.kind == kind) && (effect == nil || $0.effect == effect) }.count
    }

    /// The obligations the policy recorded with the period's decisions (duties such as a written notice to the
    /// inmate, or the reports a request is counted in), by name, with how many allowed and denied requests carried
    /// each: what the jail owes for the period.
    public var obligationCounts: [(obligation: String, allowed: Int, denied: Int)] {
        var counts: [String: (allowed: Int, denied: Int)] = [:]
        for request in requests {
            for obligation in Set(request.obligations) {
                var count = counts[obligation] ?? (0, 0)
                if request.effect == .allow { count.allowed += 1 } else { count.denied += 1 }
                counts[obligation] = count
            }
        }
        return counts.map { ($0.key, $0.value.allowed, $0.value.denied) }.sorted { $0.obligation < $1.obligation }
    }

    /// Denial reasons, most frequent first.
    public var denialReasons: [(reason: String, count: Int)] {
        Dictionary(grouping: requests.filter { $0.effect == .deny }, by: \.reason).map { ($0.key, $0.value.count) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.reason < $1.reason }
    }
}
