import Foundation
import WarrantGateCore

/// Export formats for the decision log.
public enum ExportFormat: String, Sendable, CaseIterable {
    case csv
    case jsonl

    /// The names of the columns (CSV header) or keys (JSON Lines), in order.
    public var columns: [String] {
        switch self {
        case .csv: ExportColumn.csv.map(\.name)
        case .jsonl: ExportColumn.all.map(\.name)
        }
    }
}

/// One exported row: a decision with its outcome joined. The decision's fields read as the row's own (`row.agency`).
@dynamicMemberLookup
public struct ExportRow: Sendable, Equatable {
    /// The decision's position in the log.
    public let seq: Int64
    public let decision: DecisionRecord
    /// nil for a refused decision, or one whose outcome was never logged.
    public let outcome: OutcomeRecord?

    init(seq: Int64, decision: DecisionRecord, outcome: OutcomeRecord?) {
        self.seq = seq
        self.decision = decision
        self.outcome = outcome
    }

    public subscript<Value>(dynamicMember field: KeyPath<DecisionRecord, Value>) -> Value {
        decision[keyPath: field]
    }

    /// The status the client received: the outcome's, else the one the decision refused with.
    public var status: Int? { outcome?.status ?? decision.status }

    /// One JSON Lines row: every column, in order, with the characters a reader may not show as written escaped
    /// (``escapingInvisible(_:)``).
    var jsonLine: String {
        let (decision, outcome) = (decision.fieldValues, outcome?.fieldValues)
        var json = CanonicalJSON()
        for column in ExportColumn.all { json.field(column.name, column.value(self, decision: decision, outcome: outcome)) }
        return Self.escapingInvisible(json.text) + "\n"
    }

    /// JSON `text` with every control character left (DEL, and C1: U+009B drives a terminal as ESC [ does), format
    /// character (a bidi override, which reorders what a viewer shows) and line or paragraph separator (a line break
    /// to some JSON Lines readers) written as `\uXXXX`, as UTF-16 code units. A logged path or subject is a client's
    /// bytes. JSON reads the same strings either way; the canonical records the log hashes are not these lines.
    static func escapingInvisible(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 >= 0x7f }) else { return text }
        var shown = ""
        shown.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator:
                for unit in String(scalar).utf16 {
                    let hex = String(unit, radix: 16)
                    shown += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            default:
                shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }

    /// One CSV row's cells, unescaped: lists space-separated, null empty.
    var csvFields: [String] {
        let (decision, outcome) = (decision.fieldValues, outcome?.fieldValues)
        return ExportColumn.csv.map { column in
            switch column.value(self, decision: decision, outcome: outcome) {
            case .string(let text): text
            case .int(let number): String(number)
            case .null: ""
            case .bool(let flag): flag ? "true" : "false"
            case .strings(let list): list.joined(separator: " ")
            }
        }
    }
}

/// A column of the export: its name (in the CSV header and as the JSON Lines key) and where its value comes from.
struct ExportColumn: Sendable {
    let name: String
    private let source: Source

    private enum Source: Sendable {
        case seq
        /// The outcome's status, else the decision's.
        case status
        /// The decision's field at this index of `DecisionRecord.fieldNames`.
        case decision(Int)
        /// The outcome's field at this index of `OutcomeRecord.fieldNames`; null when there is no outcome.
        case outcome(Int)
    }

    /// The column's value in `row`, given the `fieldValues` of its decision and outcome.
    func value(_ row: ExportRow, decision: [FlatValue], outcome: [FlatValue]?) -> FlatValue {
        switch source {
        case .seq: .int(Int(row.seq))
        case .status: row.status.map(FlatValue.int) ?? .null
        case .decision(let field): decision[field]
        case .outcome(let field): outcome?[field] ?? .null
        }
    }

    /// The columns of JSON Lines, in order.
    static let all: [ExportColumn] = [
        ExportColumn(name: "seq", source: .seq),
        decision("decisionId"), decision("time"), decision("agency"), decision("category"), decision("certificateSPKI"),
        decision("method"), decision("path"), decision("action"), decision("subject"), decision("warrantReference"),
        decision("requestFacts"), decision("effect"), decision("reason"), decision("rules"), decision("obligations"), decision("policyDigest"),
        ExportColumn(name: "status", source: .status),
        outcome("upstreamStatus"), outcome("redactedFields"), outcome("bytes"), outcome("latencyMs"), outcome("error"),
    ]

    /// The columns of CSV: all but `seq`, the rows being in log order.
    static let csv = all.filter { $0.name != "seq" }

    private static func decision(_ name: String) -> ExportColumn {
        guard let index = DecisionRecord.fieldNames.firstIndex(of: name) else { preconditionFailure("a decision record has no field \(name)") }
        return ExportColumn(name: name, source: .decision(index))
    }

    private static func outcome(_ name: String) -> ExportColumn {
        guard let index = OutcomeRecord.fieldNames.firstIndex(of: name) else { preconditionFailure("an outcome record has no field \(name)") }
        return ExportColumn(name: name, source: .outcome(index))
    }
}

/// Which decisions an export includes. `from` (inclusive) and `until` (exclusive) are compared with the time the
/// decision states, when its request opened: the time the export prints.
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
        if from != nil || until != nil {
            guard let time = Timestamp.parse(decision.time) else { return false }
            if let from, time < from { return false }
            if let until, time >= until { return false }
        }
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
    let database: any SQLDatabase

    init(database: any SQLDatabase) {
        self.database = database
    }

    /// How many decisions the log holds (for progress).
    public func decisionCount() throws -> Int {
        try database.read { session in Int(try session.scalarInt64("SELECT count(*) FROM log WHERE kind = 'decision'") ?? 0) }
    }

    /// Calls `emit` with each matching row in order, and `progress` with the number of decisions scanned. Returns the
    /// number of rows emitted.
    @discardableResult
    public func forEachRow(_ filter: ExportFilter = ExportFilter(), progress: (Int) -> Void = { _ in }, _ emit: (ExportRow) throws -> Void) throws -> Int {
        try forEach(filter, transform: { $0 }, progress: progress, emit)
    }

    /// Writes the export in `format`, line by line, through `write`.
    @discardableResult
    public func export(format: ExportFormat, filter: ExportFilter = ExportFilter(), progress: (Int) -> Void = { _ in }, write: (String) throws -> Void) throws -> Int {
        if format == .csv { try write(CSV.line(format.columns)) }
        return try forEach(filter, transform: { row in
            switch format {
            case .csv: CSV.line(row.csvFields)
            case .jsonl: row.jsonLine
            }
        }, progress: progress, write)
    }

    /// The export's pipeline. One thread reads the rows from the database (one read transaction, so one consistent
    /// snapshot) and deals them out in chunks, in turn, to one decoding thread per core, which decode, filter and
    /// `transform` them; the caller's thread collects the chunks in the same turn — so in log order — and `emit`s
    /// them. Every hand-over holds at most two chunks, so memory stays constant whatever the size of the log. An error
    /// (reading, decoding, or emitting) stops every thread; the caller receives it in log order.
    private func forEach<Output: Sendable>(
        _ filter: ExportFilter, transform: @escaping @Sendable (ExportRow) -> Output, progress: (Int) -> Void,
        _ emit: (Output) throws -> Void
    ) throws -> Int {
        let (sql, arguments) = Self.query(filter, dialect: database.dialect)
        let lanes = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
        let stored = (0..<lanes).map { _ in Handoff<[StoredRow]>(capacity: 2) }
        let decoded = (0..<lanes).map { _ in Handoff<DecodedChunk<Output>>(capacity: 2) }
        defer {
            stored.forEach { $0.cancel() }
            decoded.forEach { $0.cancel() }
        }
        NamedThread.start("wg-export-read") { [database] in Self.read(database, sql: sql, arguments: arguments, into: stored) }
        for (input, output) in zip(stored, decoded) {
            NamedThread.start("wg-export-dec") { Self.decode(from: input, into: output, filter: filter, transform: transform) }
        }
        var count = 0
        var scanned = 0
        for turn in 0... {
            guard let chunk = try decoded[turn % lanes].take() else { break }
            for output in chunk.outputs {
                try emit(output)
                count += 1
            }
            if let failure = chunk.failure { throw failure }
            let before = scanned
            scanned += chunk.scanned
            if scanned / 4096 != before / 4096 { progress(scanned) }
        }
        progress(scanned)
        return count
    }

    /// Deals the rows out to `lanes` in turn, chunk by chunk; ends every lane, the one whose turn it was with the error.
    private static func read(_ database: any SQLDatabase, sql: String, arguments: [String], into lanes: [Handoff<[StoredRow]>]) {
        var turn = 0
        do {
            try database.read { session in
                try session.requireIntactLog()
                var chunk: [StoredRow] = []
                chunk.reserveCapacity(StoredRow.chunkSize)
                try session.forEach(sql, arguments.map { $0.sqlValue }) { row in
                    let seq = try row.int64("seq")
                    let decision = Array(try row.text("decision").utf8)
                    let outcome = try row.optionalText("outcome").map { Array($0.utf8) }
                    chunk.append(StoredRow(seq: seq, decision: decision, outcome: outcome))
                    if chunk.count == StoredRow.chunkSize {
                        guard lanes[turn % lanes.count].put(chunk) else { throw ExportStopped() }
                        turn += 1
                        chunk.removeAll(keepingCapacity: true)
                    }
                }
                if !chunk.isEmpty, lanes[turn % lanes.count].put(chunk) { turn += 1 }
            }
            lanes.forEach { $0.finish(throwing: nil) }
        } catch is ExportStopped {
            lanes.forEach { $0.finish(throwing: nil) }  // the consumer has stopped, and the read with it
        } catch {
            for (index, lane) in lanes.enumerated() { lane.finish(throwing: index == turn % lanes.count ? error : nil) }
        }
    }

    private static func decode<Output>(
        from input: Handoff<[StoredRow]>, into output: Handoff<DecodedChunk<Output>>, filter: ExportFilter,
        transform: (ExportRow) -> Output
    ) {
        do {
            while let rows = try input.take() {
                var chunk = DecodedChunk<Output>(outputs: [], scanned: rows.count)
                chunk.outputs.reserveCapacity(rows.count)
                do {
                    for stored in rows {
                        let decision = try DecisionRecord(canonical: stored.decision)
                        guard filter.accepts(decision) else { continue }
                        let outcome = try stored.outcome.map { bytes throws(JSONError) in try OutcomeRecord(canonical: bytes) }
                        chunk.outputs.append(transform(ExportRow(seq: stored.seq, decision: decision, outcome: outcome)))
                    }
                } catch {
                    // The rows before the bad one still go out, then the error.
                    chunk.failure = error
                    _ = output.put(chunk)
                    return
                }
                guard output.put(chunk) else { return }
            }
            output.finish(throwing: nil)
        } catch {
            output.finish(throwing: error)
        }
    }

    /// SQL for the entry of the outcome of the decision entry aliased `decision`, a column of its row: the first outcome
    /// entry after it that names its decision id (through seq `through`, an SQL expression, if given), found through
    /// the `log_decision` index. A decision has one outcome; another appended for it (by anyone who can append to the
    /// log) must not list or count it twice, nor give it a status.
    static func firstOutcome(of decision: String, through: String? = nil) -> String {
        let bound = through.map { " AND x.seq <= \($0)" } ?? ""
        return """
            (SELECT x.entry FROM log x WHERE x.decision_id = \(decision).decision_id AND x.kind = 'outcome' AND x.seq > \(decision).seq\(bound)
            ORDER BY x.seq LIMIT 1)
            """
    }

    /// The SQL that reads the matching decisions, each with its outcome, in `seq` order, and more: a time range selects
    /// on the `time` column, widened to hold every decision whose own time is in the range (``EntryTime``), and
    /// ``ExportFilter/accepts(_:)`` keeps those.
    ///
    /// On SQLite, without a time range the log is read in its own order: the `+` keeps SQLite from reading `kind`
    /// through the time index (a skip-scan, once the database has been analysed), which would then sort every entry
    /// of the log again to put it back in `seq` order. A time range reads through that index, named because without
    /// statistics SQLite would rather read the whole log in order than sort the range. PostgreSQL plans by its own
    /// statistics.
    static func query(_ filter: ExportFilter, dialect: SQLDialect) -> (sql: String, arguments: [String]) {
        let ranged = filter.from != nil || filter.until != nil
        let sqlite = dialect == .sqlite
        var conditions = [ranged || !sqlite ? "d.kind = 'decision'" : "+d.kind = 'decision'"]
        var bounds: [String] = []
        if let from = filter.from {
            conditions.append("d.time >= ?")
            bounds.append(Timestamp.format(EntryTime.earliestColumn(stating: from)))
        }
        if let until = filter.until {
            conditions.append("d.time < ?")
            bounds.append(Timestamp.format(EntryTime.latestColumn(stating: until)))
        }
        let sql = """
            SELECT d.seq AS seq, d.entry AS decision, \(firstOutcome(of: "d")) AS outcome
            FROM log d \(ranged && sqlite ? "INDEXED BY log_time_kind " : "")
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY d.seq
            """
        return (sql, bounds)
    }
}

/// Ends the export's read once its consumer has stopped taking rows.
private struct ExportStopped: Error {}

extension LogExporter {
    /// Every shadow disagreement, oldest first.
    public func shadowRecords() throws -> [ShadowRecord] {
        try database.read { session in
            var records: [ShadowRecord] = []
            try session.forEach("SELECT entry FROM log WHERE kind = 'shadow' ORDER BY seq") { row in
                records.append(try ShadowRecord(canonical: Array(try row.text("entry").utf8)))
            }
            return records
        }
    }
}

/// A chunk of decoded (and transformed) rows that passed the filter, how many stored rows it came from, and the
/// error that cut it short, if one did.
private struct DecodedChunk<Output: Sendable>: Sendable {
    var outputs: [Output]
    let scanned: Int
    var failure: (any Error)?
}

/// A decision (and its outcome) as stored, before decoding.
private struct StoredRow: Sendable {
    static let chunkSize = 1024
    let seq: Int64
    let decision: [UInt8]
    let outcome: [UInt8]?
}

/// A bounded hand-over between one producing and one consuming thread. Once cancelled, the producer's `put` returns
/// false and the consumer's `take` returns nil; the consumer receives the producer's error after the items sent before it.
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

    /// The next item, or nil when the producer has finished or the hand-over is cancelled; rethrows the producer's error.
    func take() throws -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !finished && !cancelled { condition.wait() }
        if cancelled { return nil }
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
