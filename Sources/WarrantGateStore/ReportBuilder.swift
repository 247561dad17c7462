import Foundation
import GRDB
import WarrantGateCore

/// Gathers a transparency report's figures from the log, up to a fixed tree size, so that anyone holding the log
/// can reproduce them.
public enum ReportBuilder {
    /// Immigration-enforcement decisions (agency category `federal-immigration`) in the period, among the first
    /// `treeSize` entries of the log.
    static func requests(reader: any DatabaseReader, period: ReportPeriod, timeZone: TimeZone, treeSize: UInt64) throws -> [ReportData.Request] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return try reader.read { db in
            // Through the time index: without statistics SQLite would read every entry up to `treeSize`.
            let rows = try Row.fetchCursor(db, sql: """
                SELECT entry FROM log INDEXED BY log_time_kind WHERE kind = 'decision' AND seq <= ? AND time >= ? AND time < ? ORDER BY seq
                """, arguments: [Int64(treeSize), Timestamp.format(period.start), Timestamp.format(period.end)])
            var requests: [ReportData.Request] = []
            while let row = try rows.next() {
                let text: String = row["entry"]
                let decision = try DecisionRecord(canonical: Array(text.utf8))
                guard decision.category == AgencyCategory.federalImmigration.rawValue, let time = Timestamp.parse(decision.time) else { continue }
                let components = calendar.dateComponents([.year, .month], from: time)
                requests.append(ReportData.Request(
                    time: time, month: String(format: "%04d-%02d", components.year!, components.month!), agency: decision.agency ?? "",
                    kind: ReportData.kind(of: decision.action ?? ""), effect: decision.effect, reason: decision.reason, obligations: decision.obligations,
                    subject: decision.subject
                ))
            }
            return requests
        }
    }

    /// The tree head a report is computed from: the latest signed checkpoint, else the unsigned current state.
    static func treeHead(reader: any DatabaseReader) throws -> (size: UInt64, root: Merkle.Hash, origin: String) {
        try reader.read { db in
            if let checkpoint = try Checkpointer.latest(db) {
                let origin = checkpoint.note.split(separator: "\n").first.map(String.init) ?? ""
                return (checkpoint.size, checkpoint.root, origin)
            }
            let frontier = try LogAppender.frontier(db, reusing: nil)
            return (frontier.size, frontier.root, "(unsigned tree head)")
        }
    }
}
