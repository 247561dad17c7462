import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateStore

/// An error the CLI reports in one line, with its documented exit code.
struct CLIError: Error {
    enum Code: Int32 {
        case failure = 1
        case usage = 2
        case refused = 3
        case notFound = 4
    }

    let code: Code
    let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// Refuses (exit 2) an argument that holds more than `FreeText.maxCombiningRun` combining marks in a row, before
/// the argument parser compares it with command names: comparing such text as a Swift string normalises it, which
/// takes time quadratic in the run. Names the option it is the value of, if the argument before it is one.
func checkArguments() throws {
    let arguments = CommandLine.arguments
    for (index, argument) in arguments.enumerated().dropFirst() {
        guard let problem = FreeText.lengthProblem(argument, limit: .max) else { continue }
        let option = arguments[index - 1]
        throw CLIError(.usage, "\(index > 1 && option.hasPrefix("-") ? option : "argument \(index)") \(problem)")
    }
}

/// Where the CLI finds its database, and who is running it.
struct AdminOptions: ParsableArguments {
    static let demoDatabase = ".warrant-gate/demo/warrant-gate.sqlite"

    @Option(name: .long, help: "The database: a SQLite file, or postgres://user@host:port/database (default: the demo's, \(AdminOptions.demoDatabase)).")
    var db: String = AdminOptions.demoDatabase

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "Who is running this command (default: $WARRANT_GATE_OPERATOR, else $SUDO_USER, else the login name).")
    var `operator`: String?

    /// The operator recorded with every admin action: `--operator`, else `$WARRANT_GATE_OPERATOR`, else `$SUDO_USER`
    /// (run as `sudo -u warrant-gate warrant-gate …`, the person who ran sudo, so that the two-person rule sees two
    /// people), else the login name, else `$USER`.
    var operatorName: String {
        if let given = `operator`, !given.isEmpty { return given }
        let environment = ProcessInfo.processInfo.environment
        for variable in ["WARRANT_GATE_OPERATOR", "SUDO_USER"] {
            if let value = environment[variable], !value.isEmpty { return value }
        }
        if let login = getlogin() { return String(cString: login) }
        return ProcessInfo.processInfo.environment["USER"] ?? "unknown"
    }

    /// Refuses (exit 2) an operator name, from whichever source, too long to be composed and compared (see
    /// `OperatorName`), before the command does anything.
    func validate() throws {
        if let problem = FreeText.lengthProblem(operatorName, limit: OperatorName.maxLength) {
            throw ValidationError("the operator name (--operator, $WARRANT_GATE_OPERATOR or $SUDO_USER) \(problem)")
        }
    }

    /// The store `--db` names, with its files directory.
    func location() throws -> StoreLocation {
        try database.location(db)
    }

    /// Opens the database. Read commands refuse a SQLite file that does not exist rather than create an empty one.
    func open(create: Bool = false) throws -> Store {
        try database.open(db, create: create)
    }

    /// The registry, in the time zone the gateway recorded (UTC if none is yet). Only registration depends on the
    /// zone, and it refuses to work without a recorded one (see `WarrantCommand.Register`).
    func registry(create: Bool = false) throws -> Registry {
        let store = try open(create: create)
        return store.registry(timeZone: (try? store.recordedTimeZone()) ?? nil ?? .gmt)
    }
}

/// How to reach a PostgreSQL store: the password and CA never on the command line itself, and the directory of the
/// files kept outside the database.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "For a postgres:// database: a file whose first line is the password (else $PGPASSWORD).")
    var dbPasswordFile: String?

    @Option(name: .long, help: "For a postgres:// database off this host: the CA that signed the server's certificate.")
    var dbCaFile: String?

    @Option(name: .long, help: "For a postgres:// database: the directory of the log signing key and document scans (default: \(StoreLocation.defaultFilesDirectory)).")
    var filesDir: String?

    func location(_ db: String) throws -> StoreLocation {
        do { return try StoreLocation(db, filesDirectory: filesDir) } catch { throw CLIError(.usage, error.message) }
    }

    var options: StoreOptions { StoreOptions(passwordFile: dbPasswordFile, caFile: dbCaFile) }

    func open(_ db: String, create: Bool = false) throws -> Store {
        let location = try location(db)
        if let path = location.sqlitePath, !create, !FileManager.default.fileExists(atPath: path) {
            throw CLIError(.notFound, "no database at \(path) (start `warrant-gate demo` once, or pass --db)")
        }
        do {
            return try Store.open(location, options: options)
        } catch {
            throw CLIError(.failure, StoreDatabase.describe(error))
        }
    }
}

/// Runs a store operation, turning its errors into CLI errors.
@discardableResult
func storeCall<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as CLIError {
        throw error
    } catch let error as RegistrationError {
        throw CLIError(.refused, error.description)
    } catch let error as PrivateFileError {
        switch error.kind {
        case .notFound: throw CLIError(.notFound, error.message)
        case .refused: throw CLIError(.refused, error.message)
        case .failed: throw CLIError(.failure, error.message)
        }
    } catch let error as StoreError {
        let notFound = error.message.hasPrefix("no document")
        throw CLIError(notFound ? .notFound : .refused, error.message)
    } catch {
        throw CLIError(.failure, StoreDatabase.describe(error))
    }
}

/// Plain text tables for people; scripts use `--json`.
enum Table {
    /// Cells are escaped (see `FreeText.escaped`): a stored value cannot break the table or drive the terminal.
    static func render(header: [String], rows: [[String]]) -> String {
        let rows = rows.map { $0.map(FreeText.escaped) }
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n")
    }
}

/// Prints JSON with sorted keys.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
