import Foundation
import WarrantGateCore

/// What a report counts: the period's immigration-enforcement requests, and the immigration forms registered in it.
public struct ReportEntries: Sendable {
    public var requests: [ReportData.Request] = []
    /// The period's decisions that name no agency (``CountedEntries/isUnattributed(_:)``).
    public internal(set) var unattributed = 0
    public private(set) var forms: [ReportData.Form] = []
    /// Each form's index in `forms`, by its document's reference.
    private var formIndex: [String: Int] = [:]

    mutating func add(_ form: ReportData.Form, reference: String) {
        formIndex[reference] = forms.count
        forms.append(form)
    }

    /// Marks the form registered as `reference` revoked, if it is one the report counts.
    mutating func revoke(_ reference: String) {
        if let index = formIndex[reference] { forms[index].revoked = true }
    }
}

/// Gathers a transparency report's figures from the log, up to a fixed tree size, so that anyone holding the log
/// can reproduce them.
public enum ReportBuilder {
    /// Immigration-enforcement decisions (agency category `federal-immigration`) whose requests opened in the period,
    /// and the immigration forms (``DocumentKind/isImmigrationForm``) registered in it, among the first `treeSize`
    /// entries of the log. The time a decision states (when its request opened) both selects it and names its month;
    /// its `time` column, when it was committed, only narrows the search (``EntryTime``), so that a request opened on
    /// the last evening of a month and committed in the next is counted once, in its own month. A request's outcome
    /// counts if it is among those entries too. A form counts by its `warrant.register` record's time.
    ///
    /// `archives` (oldest first) are read first, as ``ArchiveCount`` describes; without them, archived entries are
    /// not counted. A log table SQLite finds damaged or altered is refused (``SQLSession/requireIntactLog()``); counted
    /// within a verification's read (``entries(_:period:timeZone:treeSize:archives:)``), the verification checks it.
    static func entries(
        database: any SQLDatabase, period: ReportPeriod, timeZone: TimeZone, treeSize: UInt64, archives: [String] = []
    ) throws -> ReportEntries {
        try database.read { session in
            try session.requireIntactLog()
            return try entries(session, period: period, timeZone: timeZone, treeSize: treeSize, archives: archives)
        }
    }

    /// ``entries(database:period:timeZone:treeSize:archives:)``, read in `session`'s transaction, with no check of its own.
    static func entries(_ session: any SQLSession, period: ReportPeriod, timeZone: TimeZone, treeSize: UInt64, archives: [String]) throws -> ReportEntries {
        let counted = CountedEntries(period: period, timeZone: timeZone)
        var entries = archives.isEmpty ? ReportEntries() : try ArchiveCount.entries(session, archives: archives, treeSize: treeSize, counted: counted)
        // Through the time index: without statistics SQLite would read every entry up to `treeSize`. A decision's
        // outcome is the first after it (``LogExporter/firstOutcome``): one appended again must not count it twice.
        let index = session.dialect == .sqlite ? "INDEXED BY log_time_kind " : ""
        try session.forEach(
            """
            SELECT d.entry AS decision, \(LogExporter.firstOutcome(of: "d", through: "?")) AS outcome FROM log d \(index)
            WHERE d.kind = 'decision' AND d.seq <= ? AND d.time >= ? AND d.time < ? ORDER BY d.seq
            """,
            Int64(treeSize), Int64(treeSize), Timestamp.format(EntryTime.earliestColumn(stating: period.start)),
            Timestamp.format(EntryTime.latestColumn(stating: period.end))
        ) { row in
            let decision = try DecisionRecord(canonical: Array(try row.text("decision").utf8))
            if counted.isUnattributed(decision) { entries.unattributed += 1 }
            if let request = counted.request(decision, answered: try Self.answered(row.optionalText("outcome"))) {
                entries.requests.append(request)
            }
        }
        // Registrations in the period and revocations since it began, up to the same tree, in log order (a
        // revocation follows its registration); an admin entry's `time` column is the time its record states.
        try session.forEach(
            "SELECT entry FROM log \(index)WHERE kind = 'admin' AND seq <= ? AND time >= ? AND (entry LIKE ? OR entry LIKE ?) ORDER BY seq",
            Int64(treeSize), Timestamp.format(period.start), Registry.registrationEntries, Registry.revocationEntries
        ) { row in
            let record = try AdminRecord(entry: row.text("entry"))
            if let (reference, form) = counted.form(record) { entries.add(form, reference: reference) }
            if let reference = CountedEntries.revocation(record) { entries.revoke(reference) }
        }
        return entries
    }

    /// Whether an outcome entry (its canonical text; none for no outcome) says the agency was given the upstream's
    /// answer, as the record's own form below reads it.
    static func answered(_ outcome: String?) throws -> Bool {
        guard let outcome else { return false }
        return answered(try OutcomeRecord(canonical: Array(outcome.utf8)))
    }

    /// Whether `outcome` says the agency was given the upstream's answer: a 2xx it took whole, or a 2xx of which some
    /// of the body was sent before the exchange failed (the client left, or a later part could not be redacted), since
    /// what was sent may have reached the agency.
    static func answered(_ outcome: OutcomeRecord) -> Bool {
        if (200..<300).contains(outcome.status) && outcome.error == nil { return true }
        return (200..<300).contains(outcome.upstreamStatus ?? 0) && outcome.bytes > 0
    }

    /// The tree head a report is computed from: the latest signed checkpoint, else the unsigned current state.
    static func treeHead(database: any SQLDatabase) throws -> TreeHead {
        try database.read { session in
            if let checkpoint = try Checkpointer.latest(session) { return TreeHead(checkpoint) }
            let frontier = try session.logFrontier()
            return TreeHead(size: frontier.size, root: frontier.root, origin: "(unsigned tree head)", signed: nil)
        }
    }

    /// The latest signed checkpoint of `size` entries, as ``treeHead(database:)`` gives one; nil if none was signed.
    static func treeHead(database: any SQLDatabase, signedAt size: UInt64) throws -> TreeHead? {
        try database.read { session in try Checkpointer.all(session).last { $0.size == size }.map(TreeHead.init) }
    }
}

/// The tree a report is computed at: a signed checkpoint's size, root and origin (its note's first line) and when it
/// was signed, or the unsigned head of a log with no checkpoint.
public struct TreeHead: Sendable {
    public let size: UInt64
    public let root: Merkle.Hash
    public let origin: String
    /// When the checkpoint was signed; nil for an unsigned head.
    public let signed: Date?

    init(size: UInt64, root: Merkle.Hash, origin: String, signed: Date?) {
        (self.size, self.root, self.origin, self.signed) = (size, root, origin, signed)
    }

    init(_ checkpoint: StoredCheckpoint) {
        self.init(
            size: checkpoint.size, root: checkpoint.root, origin: checkpoint.note.split(separator: "\n").first.map(String.init) ?? "",
            signed: Timestamp.parse(checkpoint.time)
        )
    }
}

/// Which of the log's records a report counts, and as what.
struct CountedEntries {
    let period: ReportPeriod
    let calendar: Calendar

    init(period: ReportPeriod, timeZone: TimeZone) {
        self.period = period
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    /// The request `decision` makes the report count, if it is an immigration-enforcement request of the period.
    func request(_ decision: DecisionRecord, answered: Bool) -> ReportData.Request? {
        guard decision.category == AgencyCategory.federalImmigration.rawValue, let time = Timestamp.parse(decision.time), period.holds(time)
        else { return nil }
        return ReportData.Request(
            time: time, month: month(of: time), agency: decision.agency ?? "", kind: ReportData.kind(of: decision.action ?? ""),
            effect: decision.effect, reason: decision.reason, obligations: decision.obligations, subject: decision.subject, answered: answered
        )
    }

    /// Whether `decision` is of the period and names no agency: its client certificate is not in the agency
    /// directory, or is there for more than one agency, or the request was refused before its agency could be read.
    /// An immigration-enforcement request among them cannot be told apart, so the report counts them beside.
    func isUnattributed(_ decision: DecisionRecord) -> Bool {
        guard decision.agency == nil, let time = Timestamp.parse(decision.time) else { return false }
        return period.holds(time)
    }

    /// The form `record` registered, with its reference, if it registered an immigration form in the period.
    func form(_ record: AdminRecord) -> (reference: String, form: ReportData.Form)? {
        guard record.action == Registry.registrationAction, let kind = record.details["kind"].flatMap(DocumentKind.init(rawValue:)), kind.isImmigrationForm,
              let time = Timestamp.parse(record.time), period.holds(time)
        else { return nil }
        return (record.target, ReportData.Form(time: time, month: month(of: time), kind: kind))
    }

    /// The reference `record` revoked, if it revoked a document.
    static func revocation(_ record: AdminRecord) -> String? {
        record.action == Registry.revocationAction ? record.target : nil
    }

    private func month(of time: Date) -> String {
        let components = calendar.dateComponents([.year, .month], from: time)
        return String(format: "%04d-%02d", components.year!, components.month!)
    }
}

/// The archived entries a report counts, read from `log archive`'s files: they must be the log's whole archived
/// prefix (seq 1 through the last archived), in order, and their Merkle root at that size must be the stored tree's,
/// so that an edited, missing or foreign entry is refused rather than counted.
enum ArchiveCount {
    /// The period's requests and forms among the archived entries, in log order, as `counted` selects them. An
    /// archived decision's outcome may be archived too, or still in the database.
    static func entries(_ session: any SQLSession, archives: [String], treeSize: UInt64, counted: CountedEntries) throws -> ReportEntries {
        let through = try LogArchive.archivedThrough(session)
        guard through > 0 else { throw StoreError("--archive: this log has no archived entries") }
        var frontier = MerkleFrontier()
        var decisions: [(record: DecisionRecord, answered: Bool)] = []
        var counts = ReportEntries()
        var pending: [String: Int] = [:]
        // The decisions whose outcome an archive holds: the first one counts, as ``LogExporter/firstOutcome`` reads it.
        var outcomeRead: Set<Int> = []
        for path in archives {
            _ = try LogArchive.entries(path: path) { entry in
                guard entry.seq == frontier.size + 1, entry.seq <= through else {
                    throw StoreError(entry.seq > through
                        ? "\(path): seq \(entry.seq) was never archived from this log (it archived 1…\(through))"
                        : "\(path): seq \(frontier.size + 1) was expected, not \(entry.seq): give every archive of this log, oldest first")
                }
                frontier.append(leaf: LogLeaf.hash(kind: entry.kind, entry: Array(entry.entry.utf8)))
                guard entry.seq <= treeSize else { return }
                switch entry.kind {
                case LogKind.decision.rawValue:
                    let record = try DecisionRecord(canonical: Array(entry.entry.utf8))
                    if counted.isUnattributed(record) { counts.unattributed += 1 }
                    guard counted.request(record, answered: false) != nil else { return }
                    pending[record.decisionId] = decisions.count
                    decisions.append((record, false))
                case LogKind.outcome.rawValue:
                    // Joined by the entry's own decision id, which the tree vouches for; not by the line's column.
                    let outcome = try OutcomeRecord(canonical: Array(entry.entry.utf8))
                    guard let index = pending[outcome.decisionId], outcomeRead.insert(index).inserted else { return }
                    decisions[index].answered = ReportBuilder.answered(outcome)
                case LogKind.admin.rawValue:
                    let record = try AdminRecord(entry: entry.entry)
                    if let (reference, form) = counted.form(record) { counts.add(form, reference: reference) }
                    if let reference = CountedEntries.revocation(record) { counts.revoke(reference) }
                default:
                    return
                }
            }
        }
        guard frontier.size == through else {
            throw StoreError("the archives hold entries 1…\(frontier.size), but this log archived 1…\(through): give every archive, oldest first")
        }
        guard frontier.root == (try LogAppender.root(session, size: through)) else {
            throw StoreError("the archives do not match this log's tree at size \(through): they were edited, or are another log's")
        }
        // Outcomes committed after the archive's cutoff are still in the database: read there only for a decision whose
        // outcome no archive holds.
        for index in decisions.indices where !outcomeRead.contains(index) {
            let outcome = try session.fetchOne(
                "SELECT entry FROM log WHERE kind = 'outcome' AND decision_id = ? AND seq <= ? ORDER BY seq LIMIT 1",
                decisions[index].record.decisionId, Int64(treeSize)
            )
            decisions[index].answered = try ReportBuilder.answered(try outcome?.text("entry"))
        }
        counts.requests = decisions.compactMap { counted.request($0.record, answered: $0.answered) }
        return counts
    }
}
