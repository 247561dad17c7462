import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import WarrantGateCore

/// The store's database on a PostgreSQL server shared by several gateways, for everything but the gateway's group
/// commit (``PostgresDecisionLog``): the registry, the CLI's admin records, checkpoints, exports and verification.
///
/// It holds one connection, opened on first use and opened again after it fails, so that a gateway serves again by
/// itself when the server comes back. Calls take turns on it and block their thread until the server answers: the
/// CLI's thread, or a gateway's thread pool, never an event loop. Every statement is bounded by the server's
/// `statement_timeout` and `lock_timeout`, set on the connection.
final class PostgresStoreDatabase: SQLDatabase, @unchecked Sendable {
    let configuration: PostgresConnection.Configuration
    let logger: Logger
    private let statementTimeout: Duration
    /// Guards `connection`, and is held for the whole of a call, so that one transaction runs on it at a time.
    private let lock = NSLock()
    private var connection: PostgresConnection?
    private var connections = 0

    var dialect: SQLDialect { .postgres }

    /// The event loop of every such connection: one thread of its own, so that a caller that waits, whatever
    /// thread it is on, never waits on the loop that must deliver its answer.
    private static let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    init(configuration: PostgresConnection.Configuration, statementTimeout: Duration, logger: Logger) {
        self.configuration = configuration
        self.statementTimeout = statementTimeout
        self.logger = logger
    }

    deinit {
        if let connection { Self.abandon(connection) }
    }

    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try transaction("START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    /// A write transaction, which the server ends if it sits idle (its client paused, a machine frozen) longer than
    /// the statement timeout: the row locks it holds (the log's frontier, a document) would otherwise stop every
    /// other gateway's appends for as long as the pause lasts, which no statement or lock timeout ends.
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try transaction("START TRANSACTION") { session in
            try session.execute("SELECT set_config('idle_in_transaction_session_timeout', ?, true)", String(Int64(statementTimeout / .milliseconds(1))))
            return try body(session)
        }
    }

    /// Another handle on the same server, with the same settings and a connection of its own (opened on first use).
    func sibling() -> PostgresStoreDatabase {
        PostgresStoreDatabase(configuration: configuration, statementTimeout: statementTimeout, logger: logger)
    }

    /// Closes the connection; a later call opens another.
    func close() {
        lock.withLock {
            if let connection { try? (connection.close() as EventLoopFuture<Void>).wait() }
            connection = nil
        }
    }

    private func transaction<T>(_ begin: String, _ body: (any SQLSession) throws -> T) throws -> T {
        try lock.withLock {
            let connection = try open()
            let session = PostgresSession(connection: connection, timeout: statementTimeout + .seconds(1), logger: logger)
            do {
                try session.run(PostgresQuery(unsafeSQL: begin))
                let result = try body(session)
                try session.commit()
                return result
            } catch {
                if connection.isClosed {
                    self.connection = nil
                } else if (try? session.run("ROLLBACK")) == nil {
                    Self.abandon(connection)
                    self.connection = nil
                }
                throw error
            }
        }
    }

    /// Closes a connection without waiting, keeping it until it has closed (PostgresNIO requires a connection to be
    /// closed before it is released).
    private static func abandon(_ connection: PostgresConnection) {
        (connection.close() as EventLoopFuture<Void>).whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// The open connection, or a new one with the timeouts set. Called with the lock held.
    private func open() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        connection = nil
        connections += 1
        var configuration = configuration
        configuration.options.connectTimeout = .nanoseconds(Int64(statementTimeout / .nanoseconds(1)))
        let opened = try PostgresConnection.connect(
            on: Self.eventLoops.next(), configuration: configuration, id: connections, logger: logger
        ).wait()
        let milliseconds = Int64(statementTimeout / .milliseconds(1))
        do {
            // Numbers formatted here, not client text: SET takes no bound parameters. Run as any statement is, so that
            // a server that completed the handshake and then went silent cannot hold this call (and the lock) for ever.
            let session = PostgresSession(connection: opened, timeout: statementTimeout + .seconds(1), logger: logger)
            try session.run(PostgresQuery(unsafeSQL: "SET statement_timeout = \(milliseconds)"))
            try session.run(PostgresQuery(unsafeSQL: "SET lock_timeout = \(milliseconds)"))
        } catch {
            Self.abandon(opened)
            throw error
        }
        connection = opened
        return opened
    }
}

/// A transaction on a PostgreSQL connection, its statements run one at a time and waited for.
struct PostgresSession: SQLSession {
    let connection: PostgresConnection
    /// How long a statement may go unanswered before the connection is closed under it: the server's own timeouts
    /// end a slow statement, this ends the wait for a server that is gone without a word (a network split).
    let timeout: Duration
    let logger: Logger
    var dialect: SQLDialect { .postgres }

    /// How many rows a cursor hands over at a time in ``forEach(_:_:_:)``.
    private static let cursorBatch = 500

    /// Waits for the answer at most `timeout`: then the connection is closed, and the call fails even if the query's
    /// own future never completes (a query sent on a connection already going away waited for ever, and held a
    /// gateway's shutdown behind its last checkpoint).
    @discardableResult
    func run(_ query: PostgresQuery) throws -> [PostgresRow] {
        try answer(query).rows
    }

    /// Commits the transaction. The server answers COMMIT in a transaction that an error aborted with a rollback and no
    /// error (its command tag says `ROLLBACK`), so a body that caught a statement's error must not pass for committed.
    func commit() throws {
        let tag = try answer("COMMIT").metadata.command
        guard tag == "COMMIT" else {
            throw StoreError("the PostgreSQL server rolled the transaction back at its commit (it answered \(tag)): a statement in it had failed")
        }
    }

    /// ``run(_:)``'s answer whole: its rows and its command tag.
    private func answer(_ query: PostgresQuery) throws -> PostgresQueryResult {
        let connection = connection
        let answered = connection.eventLoop.makePromise(of: PostgresQueryResult.self)
        // Both run on the connection's event loop.
        let settled = NIOLoopBoundBox.makeBoxSendingValue(false, eventLoop: connection.eventLoop)
        let settle = { @Sendable (result: Result<PostgresQueryResult, any Error>) in
            guard !settled.value else { return }
            settled.value = true
            answered.completeWith(result)
        }
        let seconds = timeout
        let watchdog = connection.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout / .nanoseconds(1)))) {
            _ = connection.close() as EventLoopFuture<Void>
            settle(.failure(StoreError("the PostgreSQL server did not answer within \(seconds)")))
        }
        connection.query(query, logger: logger).whenComplete { result in
            watchdog.cancel()
            settle(result)
        }
        return try answered.futureResult.wait()
    }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        try run(Self.query(sql, arguments))
    }

    func fetchAll(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try run(Self.query(sql, arguments)).map(Self.row)
    }

    /// Through a cursor of this transaction, fetched a batch at a time.
    func forEach(_ sql: String, _ arguments: [SQLValue], _ visit: (SQLRow) throws -> Void) throws {
        let declared = Self.query("DECLARE wg_rows NO SCROLL CURSOR FOR " + sql, arguments)
        try run(declared)
        while true {
            let rows = try run(PostgresQuery(unsafeSQL: "FETCH FORWARD \(Self.cursorBatch) FROM wg_rows"))
            for row in rows { try visit(try Self.row(row)) }
            if rows.count < Self.cursorBatch { break }
        }
        try run("CLOSE wg_rows")
    }

    func logSize() throws -> UInt64 { try logFrontier().size }

    func logFrontier() throws -> MerkleFrontier {
        try frontier(PostgresLogAppend.readFrontier)
    }

    func appendLog(_ entries: [LogAppender.Pending]) throws {
        let frontier = try frontier(PostgresLogAppend.lockFrontier)
        for query in PostgresLogAppend.statements(entries, after: frontier).queries { try run(query) }
    }

    func takeSignerLease() throws -> Bool {
        let rows = try run("SELECT pg_try_advisory_xact_lock(\(PostgresLock.lockClass), \(PostgresLock.signer.rawValue))")
        return try rows.first?.decode(Bool.self) ?? false
    }

    private func frontier(_ sql: String) throws -> MerkleFrontier {
        guard let row = try run(PostgresQuery(unsafeSQL: sql)).first else { throw StoreError("the log's tree frontier is missing") }
        let (size, subtrees) = try row.decode((Int64, ByteBuffer).self)
        return try PostgresLogAppend.frontier(size: size, subtrees: subtrees)
    }

    /// `sql` with its `?` placeholders numbered `$1`, `$2`… as PostgreSQL takes them, and the values bound.
    static func query(_ sql: String, _ arguments: [SQLValue]) -> PostgresQuery {
        var numbered = ""
        numbered.reserveCapacity(sql.utf8.count + arguments.count * 2)
        var parameter = 0
        var quoted = false
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == "?" && !quoted {
                parameter += 1
                numbered += "$\(parameter)"
            } else {
                numbered.append(character)
            }
        }
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case .null: binds.appendNull()
            case .integer(let integer): binds.append(integer)
            case .real(let real): binds.append(real)
            case .text(let text): binds.append(text)
            case .blob(let bytes): binds.append(ByteBuffer(bytes: bytes))
            }
        }
        return PostgresQuery(unsafeSQL: numbered, binds: binds)
    }

    static func row(_ row: PostgresRow) throws -> SQLRow {
        var columns: [String: SQLValue] = [:]
        for cell in row {
            guard let buffer = cell.bytes else {
                columns[cell.columnName] = .null
                continue
            }
            switch cell.dataType {
            case .int2, .int4, .int8: columns[cell.columnName] = .integer(try cell.decode(Int64.self))
            case .bool: columns[cell.columnName] = .integer(try cell.decode(Bool.self) ? 1 : 0)
            case .float4, .float8: columns[cell.columnName] = .real(try cell.decode(Double.self))
            case .text, .varchar, .name, .bpchar:
                // Read as its bytes: a database or client encoding other than UTF8 may hand over others.
                columns[cell.columnName] = .text(try buffer.withUnsafeReadableBytes { try UTF8Text.storedText($0, column: cell.columnName) })
            case .bytea: columns[cell.columnName] = .blob(Array(try cell.decode(ByteBuffer.self).readableBytesView))
            default: throw StoreError("the database returned column \(cell.columnName) of a type the store does not read (\(cell.dataType))")
            }
        }
        return SQLRow(columns: columns)
    }
}

/// WarrantGate's advisory locks on PostgreSQL: one class ("WG" in ASCII), in the two-key form, and an object each.
enum PostgresLock: Int32 {
    static let lockClass: Int32 = 0x5747

    /// The checkpoint signer's lease, held for the signing's transaction.
    case signer = 1
    /// Installing or upgrading the schema.
    case schema = 2
    /// Registering a document: the check that no reference in force reads as the new one, then its insert, one
    /// registration at a time (under READ COMMITTED, two would each miss the other's).
    case registration = 3
}
