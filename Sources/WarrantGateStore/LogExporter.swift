import Foundation
import GRDB
import WarrantGateCore

/// Export formats for the decision log.
public enum ExportFormat: String, Sendable, CaseIterable {
    case csv
    case jsonl
}

/// One exported row: a decision with its outcome joined.
public struct ExportRow: Sendable, Codable, Equatable {
    public var seq: Int64
    public var decisionId: String
    public var time: String
    public var agency: String?
    public var category: String?
    public var certificateSPKI: String?
    public var method: String
    public var path: String
    public var action: String?
    public var subject: String?
    public var warrantReference: String?
    public var effect: Effect
    public var reason: String
    public var rules: [String]
    public var obligations: [String]
    public var policyDigest: String?
    public var status: Int?
    public var upstreamStatus: Int?
    public var redactedFields: Int?
    public var bytes: Int?
    public var latencyMs: Int?
    public var error: String?

    init(seq: Int64, decision: DecisionRecord, outcome: OutcomeRecord?) {
        self.seq = seq
        self.decisionId = decision.decisionId
        self.time = decision.time
        self.agency = decision.agency
        self.category = decision.category
        self.certificateSPKI = decision.certificateSPKI
        self.method = decision.method
        self.path = decision.path
        self.action = decision.action
        self.subject = decision.subject
        self.warrantReference = decision.warrantReference
        self.effect = decision.effect
        self.reason = decision.reason
        self.rules = decision.rules
        self.obligations = decision.obligations
        self.policyDigest = decision.policyDigest
        self.status = outcome?.status ?? decision.status
        self.upstreamStatus = outcome?.upstreamStatus
        self.redactedFields = outcome?.redactedFields
        self.bytes = outcome?.bytes
        self.latencyMs = outcome?.latencyMs
        self.error = outcome?.error
    }

    static let csvHeader = [
        "decisionId", "time", "agency", "category", "certificateSPKI", "method", "path", "action", "subject", "warrantReference",
        "effect", "reason", "rules", "obligations", "policyDigest", "status", "upstreamStatus", "redactedFields", "bytes", "latencyMs", "error",
    ]

    /// One JSON Lines row, keys in a fixed order.
    var jsonLine: String {
        var json = CanonicalJSON()
        json.field("seq", Int(seq))
        json.field("decisionId", decisionId)
        json.field("time", time)
        json.field("agency", agency)
        json.field("category", category)
        json.field("certificateSPKI", certificateSPKI)
        json.field("method", method)
        json.field("path", path)
        json.field("action", action)
        json.field("subject", subject)
        json.field("warrantReference", warrantReference)
        json.field("effect", effect.rawValue)
        json.field("reason", reason)
        json.field("rules", rules)
        json.field("obligations", obligations)
        json.field("policyDigest", policyDigest)
        json.field("status", status)
        json.field("upstreamStatus", upstreamStatus)
        json.field("redactedFields", redactedFields)
        json.field("bytes", bytes)
        json.field("latencyMs", latencyMs)
        json.field("error", error)
        return json.text + "\n"
    }

    var csvFields: [String] {
        [
            decisionId, time, agency ?? "", category ?? "", certificateSPKI ?? "", method, path, action ?? "", subject ?? "",
            warrantReference ?? "", effect.rawValue, reason, rules.joined(separator: " "), obligations.joined(separator: " "),
            policyDigest ?? "", status.map(String.init) ?? "", upstreamStatus.map(String.init) ?? "",
            redactedFields.map(String.init) ?? "", bytes.map(String.init) ?? "", latencyMs.map(String.init) ?? "", error ?? "",
        ]
    }
}

/// Which decisions an export includes. Times are compared with the decision's UTC timestamp: `from` inclusive,
/// `until` exclusive.
public struct ExportFilter: Sendable {
    public var from: Date?
    public var until: Date?
    public var agency: String?
    public var category: String?
    public var action: String?
    public var effect: Effect?
    public var reason: String?

    public init(from: Date? = nil, until: Date? = nil, agency: String? = nil, category: String? = nil, action: String? = nil, effect: Effect? = nil, reason: String? = nil) {
        self.from = from
        self.until = until
        self.agency = agency
        self.category = category
        self.action = action
        self.effect = effect
        self.reason = reason
    }

    func accepts(_ decision: DecisionRecord) -> Bool {
        if let agency, decision.agency != agency { return false }
        if let category, decision.category != category { return false }
        if let action, !(decision.action.map { ActionPattern.matches(pattern: action, action: $0) } ?? false) { return false }
        if let effect, decision.effect != effect { return false }
        if let reason, decision.reason != reason { return false }
        return true
    }
}

/// Streams decisions, with their outcomes, out of the log in append order, in constant memory.
public struct LogExporter: Sendable {
    public let reader: any DatabaseReader

    public init(reader: any DatabaseReader) {
        self.reader = reader
    }

    /// How many decisions the log holds (for progress).
    public func decisionCount() throws -> Int {
        try reader.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM log WHERE kind = 'decision'") ?? 0 }
    }

    /// Calls `emit` with each matching row in order, and `progress` with the number of decisions scanned. Returns the
    /// number of rows emitted.
    ///
    /// Two threads share the work: one reads the rows from SQLite (one read transaction, so one consistent snapshot)
    /// and hands them over in chunks; the caller's thread decodes, filters and emits them. At most a few chunks are
    /// in flight, so memory stays constant whatever the size of the log.
    @discardableResult
    public func forEachRow(_ filter: ExportFilter = ExportFilter(), progress: (Int) -> Void = { _ in }, _ emit: (ExportRow) throws -> Void) throws -> Int {
        var conditions = ["d.kind = 'decision'"]
        var bounds: [String] = []
        if let from = filter.from {
            conditions.append("d.time >= ?")
            bounds.append(Timestamp.format(from))
        }
        if let until = filter.until {
            conditions.append("d.time < ?")
            bounds.append(Timestamp.format(until))
        }
        let sql = """
            SELECT d.seq AS seq, d.entry AS decision, o.entry AS outcome
            FROM log d LEFT JOIN log o ON o.decision_id = d.decision_id AND o.kind = 'outcome'
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY d.seq
            """
        let arguments = bounds
        let handoff = Handoff<[StoredRow]>(capacity: 4)
        defer { handoff.cancel() }
        let reading = Thread { [reader] in
            do {
                try reader.read { db in
                    let rows = try Row.fetchCursor(db, sql: sql, arguments: StatementArguments(arguments))
                    var chunk: [StoredRow] = []
                    while let row = try rows.next() {
                        // The entries' bytes are copied out in place, without a String in between.
                        let decision = try row.withUnsafeData(atIndex: 1) { Array($0 ?? Data()) }
                        let outcome = try row.withUnsafeData(atIndex: 2) { $0.map(Array.init) }
                        chunk.append(StoredRow(seq: row[0], decision: decision, outcome: outcome))
                        if chunk.count == StoredRow.chunkSize {
                            guard handoff.put(chunk) else { return }
                            chunk = []
                        }
                    }
                    if !chunk.isEmpty { _ = handoff.put(chunk) }
                }
                handoff.finish(throwing: nil)
            } catch {
                handoff.finish(throwing: error)
            }
        }
        reading.name = "warrant-gate-export-reader"
        reading.start()
        var count = 0
        var scanned = 0
        while let chunk = try handoff.take() {
            for stored in chunk {
                scanned += 1
                if scanned % 4096 == 0 { progress(scanned) }
                let decision = try DecisionRecord(canonical: stored.decision)
                guard filter.accepts(decision) else { continue }
                let outcome = try stored.outcome.map { bytes throws(JSONError) in try OutcomeRecord(canonical: bytes) }
                try emit(ExportRow(seq: stored.seq, decision: decision, outcome: outcome))
                count += 1
            }
        }
        progress(scanned)
        return count
    }

    /// Writes the export in `format`, line by line, through `write`.
    @discardableResult
    public func export(format: ExportFormat, filter: ExportFilter = ExportFilter(), progress: (Int) -> Void = { _ in }, write: (String) throws -> Void) throws -> Int {
        if format == .csv { try write(CSV.line(ExportRow.csvHeader)) }
        return try forEachRow(filter, progress: progress) { row in
            switch format {
            case .csv: try write(CSV.line(row.csvFields))
            case .jsonl: try write(row.jsonLine)
            }
        }
    }
}

extension LogExporter {
    /// Every shadow disagreement, oldest first.
    public func shadowRecords() throws -> [ShadowRecord] {
        try reader.read { db in
            let decoder = JSONDecoder()
            return try String.fetchAll(db, sql: "SELECT entry FROM log WHERE kind = 'shadow' ORDER BY seq").map {
                try decoder.decode(ShadowRecord.self, from: Data($0.utf8))
            }
        }
    }
}

/// A decision (and its outcome) as stored, before decoding.
private struct StoredRow: Sendable {
    static let chunkSize = 1024
    let seq: Int64
    let decision: [UInt8]
    let outcome: [UInt8]?
}

/// A bounded hand-over between one producing and one consuming thread. The producer stops when the consumer
/// cancels; the consumer receives the producer's error after the items sent before it.
final class Handoff<Item: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    // Guarded by `condition`.
    private var items: [Item] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Blocks while full; returns false once the consumer has cancelled.
    func put(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    func finish(throwing error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next item, or nil when the producer has finished; rethrows the producer's error.
    func take() throws -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !finished { condition.wait() }
        if !items.isEmpty {
            condition.broadcast()
            return items.removeFirst()
        }
        if let failure { throw failure }
        return nil
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// RFC 4180 CSV, with formula-leading cells neutralised so a spreadsheet never executes a logged value.
enum CSV {
    static func line(_ fields: [String]) -> String {
        var line = ""
        line.reserveCapacity(fields.reduce(2 + fields.count) { $0 + $1.utf8.count })
        for (index, field) in fields.enumerated() {
            if index > 0 { line.append(",") }
            line.append(cell(field))
        }
        line.append("\r\n")
        return line
    }

    static func cell(_ value: String) -> String {
        var text = value
        switch text.utf8.first {
        case UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0d:
            if Double(text) == nil { text = "'" + text }
        default: break
        }
        // Scanning bytes, not Characters: exports format millions of cells.
        let needsQuotes = text.withUTF8 { bytes -> Bool in
            for byte in bytes {
                switch byte {
                case UInt8(ascii: ","), UInt8(ascii: "\""), 0x0a, 0x0d: return true
                default: continue
                }
            }
            return false
        }
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
