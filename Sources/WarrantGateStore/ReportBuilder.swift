import Foundation
import WarrantGateCore

/// Gathers a transparency report's figures from the log, up to a fixed tree size, so that anyone holding the log
/// can reproduce them.
public enum ReportBuilder {
    /// Immigration-enforcement decisions (agency category `federal-immigration`) whose requests opened in the period,
    /// among the first `treeSize` entries of the log. The time a decision states (when its request opened) both
    /// selects it and names its month; its `time` column, when it was committed, only narrows the search
    /// (``EntryTime``), so that a request opened on the last evening of a month and committed in the next is counted
    /// once, in its own month. A request's outcome counts if it is among those entries too.
    static func requests(database: any SQLDatabase, period: ReportPeriod, timeZone: TimeZone, treeSize: UInt64) throws -> [ReportData.Request] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return try database.read { session in
            // Through the time index: without statistics SQLite would read every entry up to `treeSize`.
            let index = session.dialect == .sqlite ? "INDEXED BY log_time_kind " : ""
            var requests: [ReportData.Request] = []
            try session.forEach(
                """
                SELECT d.entry AS decision, o.entry AS outcome FROM log d \(index)
                LEFT JOIN log o ON o.decision_id = d.decision_id AND o.kind = 'outcome' AND o.seq <= ?
                WHERE d.kind = 'decision' AND d.seq <= ? AND d.time >= ? AND d.time < ? ORDER BY d.seq
                """,
                Int64(treeSize), Int64(treeSize), Timestamp.format(EntryTime.earliestColumn(stating: period.start)),
                Timestamp.format(EntryTime.latestColumn(stating: period.end))
            ) { row in
                let decision = try DecisionRecord(canonical: Array(try row.text("decision").utf8))
                guard decision.category == AgencyCategory.federalImmigration.rawValue, let time = Timestamp.parse(decision.time),
                      time >= period.start, time < period.end
                else { return }
                let components = calendar.dateComponents([.year, .month], from: time)
                requests.append(ReportData.Request(
                    time: time, month: String(format: "%04d-%02d", components.year!, components.month!), agency: decision.agency ?? "",
                    kind: ReportData.kind(of: decision.action ?? ""), effect: decision.effect, reason: decision.reason, obligations: decision.obligations,
                    subject: decision.subject, answered: try Self.answered(row.optionalText("outcome"))
                ))
            }
            return requests
        }
    }

    /// Whether an outcome entry says the agency received a 2xx answer.
    private static func answered(_ outcome: String?) throws -> Bool {
        guard let outcome else { return false }
        let record = try OutcomeRecord(canonical: Array(outcome.utf8))
        return (200..<300).contains(record.status) && record.error == nil
    }

    /// The tree head a report is computed from: the latest signed checkpoint, else the unsigned current state.
    static func treeHead(database: any SQLDatabase) throws -> (size: UInt64, root: Merkle.Hash, origin: String) {
        try database.read { session in
            if let checkpoint = try Checkpointer.latest(session) {
                let origin = checkpoint.note.split(separator: "\n").first.map(String.init) ?? ""
                return (checkpoint.size, checkpoint.root, origin)
            }
            let frontier = try session.logFrontier()
            return (frontier.size, frontier.root, "(unsigned tree head)")
        }
    }
}
