import Foundation
import WarrantGateCore
import Logging
import PostgresNIO
import WarrantGateStore

// Micro-benchmarks: each prints a figure. Run in release mode:
//   swift run -c release warrant-gate-bench [--export-rows 1000000] [--only core,redact,merkle,append,log-cpu,export]
//   [--postgres postgres://user@host:port/db]   (adds pg-append; scripts/bench-postgres starts a throwaway cluster)
// Timings come from the monotonic clock; every figure is the median of several runs where that makes sense.

let arguments = CommandLine.arguments
let exportRows = arguments.firstIndex(of: "--export-rows").flatMap { Int(arguments[$0 + 1]) } ?? 1_000_000
/// `--only append,export` runs just those sections (core, redact, merkle, append, log-cpu, export); all run by default.
let sections = arguments.firstIndex(of: "--only").map { Set(arguments[$0 + 1].split(separator: ",").map(String.init)) }
/// `--writers 256` measures durable appends, and the log's CPU per request, at that concurrency only (by default,
/// appends at 1, 16 and 256, and the CPU per request at 32).
let writerCount = arguments.firstIndex(of: "--writers").flatMap { Int(arguments[$0 + 1]) }
let writerCounts = writerCount.map { [$0] } ?? [1, 16, 256]
/// `--outcome-delay-ms 0` lets queued outcomes commit alone at once, to measure what the log's default delay buys.
let outcomeDelay = arguments.firstIndex(of: "--outcome-delay-ms").flatMap { Int(arguments[$0 + 1]) }.map { Duration.milliseconds($0) }
func runs(_ section: String) -> Bool { sections?.contains(section) ?? true }
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func measure(_ label: String, iterations: Int, unit: String = "op", _ body: () throws -> Void) rethrows {
    var samples: [Double] = []
    for _ in 0..<5 {
        let start = ContinuousClock.now
        for _ in 0..<iterations { try body() }
        let elapsed = ContinuousClock.now - start
        samples.append(Double(elapsed.components.attoseconds) / 1e9 / Double(iterations) + Double(elapsed.components.seconds) * 1e9 / Double(iterations))
    }
    let median = samples.sorted()[2]
    print(label.padding(toLength: 82, withPad: " ", startingAt: 0) + String(format: "%10.0f ns/%@   (%.2f M/s)", median, unit, 1000 / median))
}

/// CPU time (user and system, every thread) this process has used so far.
func processCPUMicroseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}

func temporaryDatabase(_ name: String) throws -> (Store, URL) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-bench-\(name)-\(UUID().uuidString)")
    return (try Store.open(path: directory.appendingPathComponent("log.sqlite").path), directory)
}

let spki = String(repeating: "ab", count: 32)
let policyDigest = String(repeating: "cd", count: 32)

func decisionRecord(_ id: String) -> DecisionRecord {
    DecisionRecord(
        decisionId: id, time: Timestamp.format(Date()), component: "gateway", certificateSPKI: spki,
        certificateSubject: "CN=ice-ero,OU=ice-ero,O=WarrantGate Demo", agency: "ice-ero", category: "federal-immigration", method: "GET",
        path: "/records/inmates/2017-000123", action: "records.read", subject: "2017-000123", warrantReference: "JW-2026-0001", effect: .allow,
        reason: "permitted", rules: ["immigration-with-judicial-warrant"], obligations: ["count-for-council-report"], policy: "denver",
        policyDigest: policyDigest, status: nil
    )
}

func outcomeRecord(_ id: String) -> OutcomeRecord {
    OutcomeRecord(
        decisionId: id, time: Timestamp.format(Date()), upstreamStatus: 200, status: 200, bytes: 874, latencyMs: 6, redactedFields: 5, error: nil
    )
}

func decision(_ id: String) -> LogEntry {
    LogEntry(kind: .decision, time: Date(), decisionId: id, canonical: decisionRecord(id).canonical)
}

func outcome(_ id: String) -> LogEntry {
    LogEntry(kind: .outcome, time: Date(), decisionId: id, canonical: outcomeRecord(id).canonical)
}

print("WarrantGate micro-benchmarks (\(ProcessInfo.processInfo.activeProcessorCount) cores)\n")

let policy = try PolicyParser.load(path: root.appendingPathComponent("policies/denver.yaml").path)
var sink = 0

// Path canonicalisation, classification and policy evaluation.
if runs("core") {
    let classifier = policy.classifier
    try measure("canonicalise /records//inmates/./2017-000123?x=1", iterations: 200_000) {
        sink &+= try CanonicalTarget(raw: "/records//inmates/./2017-000123?x=1").segments.count
    }
    let target = try CanonicalTarget(raw: "/records/inmates/2017-000123")
    try measure("classify GET /records/inmates/{booking}", iterations: 200_000) {
        let match = try classifier.match(method: "GET", target: target)
        sink &+= try classifier.classify(route: match.route, parameters: match.parameters, target: target, body: nil, contentType: nil).subject?.count ?? 0
    }

    // Policy evaluation with the warrant check against a cached registry of 10,000 documents.
    let denver = TimeZone(identifier: "America/Denver")!
    var documents: [RegisteredDocument] = []
    for index in 0..<10_000 {
        documents.append(RegisteredDocument(
            reference: index == 0 ? "JW-2026-0001" : "JW-\(index)", kind: .judicialWarrant, status: .active, agency: "ice-ero",
            subjects: [index == 0 ? "2017-000123" : String(format: "2016-%06d", index)], scope: ["records.read"], expires: "2099-12-31",
            expiresAt: LocalDate("2099-12-31")!.end(in: denver)
        ))
    }
    let registry = RegistrySnapshot(documents: documents, records: [], version: 1)
    let evaluator = Evaluator(policy: policy)
    let match = try classifier.match(method: "GET", target: target)
    let classification = try classifier.classify(route: match.route, parameters: match.parameters, target: target, body: nil, contentType: nil)
    let ice = Agency(id: "ice-ero", name: "ICE", category: .federalImmigration)
    let now = Date()
    let input = EvaluationInput(agency: ice, method: "GET", classification: classification, warrantReference: "JW-2026-0001", time: now)
    measure("evaluate Denver policy, ICE with a judicial warrant (allow)", iterations: 200_000) {
        sink &+= evaluator.evaluate(input, registry: registry).rules.count
    }
    let denied = EvaluationInput(agency: ice, method: "GET", classification: classification, warrantReference: nil, time: now)
    measure("evaluate Denver policy, ICE without a warrant (deny)", iterations: 200_000) {
        sink &+= evaluator.evaluate(denied, registry: registry).rules.count
    }

    // The log records' canonical JSON: encoded on every request, decoded for every exported row.
    let record = decisionRecord(DecisionID.make())
    measure("encode a decision record (canonical JSON)", iterations: 200_000) {
        sink &+= record.canonical.count
    }
    let encoded = record.canonical
    try measure("decode a decision record (canonical JSON)", iterations: 200_000) {
        sink &+= try DecisionRecord(canonical: encoded).rules.count
    }
    let sampleOutcome = outcomeRecord(record.decisionId)
    measure("encode an outcome record (canonical JSON)", iterations: 200_000) {
        sink &+= sampleOutcome.canonical.count
    }
    let encodedOutcome = sampleOutcome.canonical
    try measure("decode an outcome record (canonical JSON)", iterations: 200_000) {
        sink &+= try OutcomeRecord(canonical: encodedOutcome).bytes
    }
}

// JSON redaction.
if runs("redact") {
    let record = Array(#"{"bookingNumber":"2017-000123","name":"Ana Morales","status":"in custody","housingUnit":"4B","charges":[{"statute":"C.R.S. 18-4-203","description":"second degree burglary"}],"citizenship":"unknown","immigrationStatus":"undocumented (reported)","alienNumber":"A-201-555-0199","demographics":{"dateOfBirth":"1990-04-11","countryOfBirth":"Mexico","placeOfBirth":"Mexico"}}"#.utf8)
    var big: [UInt8] = Array("[".utf8)
    while big.count < 1 << 20 {
        if big.count > 1 { big.append(UInt8(ascii: ",")) }
        big += record
    }
    big += Array("]".utf8)
    let names = RedactedNames(policy.redactAlways)
    // The buffered redactor (the streaming one's reference) knows field names only.
    let redactor = JSONRedactor(fields: names.fields)
    for (label, document) in [("redact a 1 KB record", record), ("redact a 1 MB export", big)] {
        var samples: [Double] = []
        for _ in 0..<5 {
            let iterations = document.count > 10_000 ? 20 : 20_000
            let start = ContinuousClock.now
            for _ in 0..<iterations { sink &+= try redactor.redact(document).removed }
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            samples.append(Double(document.count * iterations) / seconds)
        }
        print(label.padding(toLength: 82, withPad: " ", startingAt: 0) + String(format: "%10.1f MB/s", samples.sorted()[2] / 1e6))
    }

    // The same export redacted as it streams, fed in 64 KiB pieces, the kept bytes copied out as the buffered
    // redaction's are; and a NIEM 4.0 XML export of about 1 MB (the test fixture's booking, repeated).
    func streamRedact(_ label: String, _ document: [UInt8], _ makeRedaction: () -> any BodyRedaction) throws {
        var streamed: [UInt8] = []
        streamed.reserveCapacity(document.count)
        var samples: [Double] = []
        for _ in 0..<5 {
            let iterations = 20
            let start = ContinuousClock.now
            for _ in 0..<iterations {
                streamed.removeAll(keepingCapacity: true)
                let redaction = makeRedaction()
                try document.withUnsafeBytes { bytes in
                    for offset in stride(from: 0, to: bytes.count, by: 64 * 1024) {
                        try redaction.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<min(offset + 64 * 1024, bytes.count)])) {
                            streamed.append(contentsOf: $0)
                        }
                    }
                }
                try redaction.finish { streamed.append(contentsOf: $0) }
                sink &+= redaction.removed
            }
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            samples.append(Double(document.count * iterations) / seconds)
        }
        print(label.padding(toLength: 82, withPad: " ", startingAt: 0) + String(format: "%10.1f MB/s", samples.sorted()[2] / 1e6))
    }
    try streamRedact("stream-redact a 1 MB export (JSON)", big) { JSONRedaction(names: names) }
    // The 1 MB export `scripts/bench-vs-nginx` serves: its record has six charges and 300 bytes of notes.
    let charge = #"{"statute":"C.R.S. 18-4-203","description":"second degree burglary"}"#
    let servedRecord = #"{"bookingNumber":"2017-000123","name":"Ana Morales","status":"in custody","housingUnit":"4B","charges":["#
        + Array(repeating: charge, count: 6).joined(separator: ",") + #"],"notes":""# + String(repeating: "x", count: 300)
        + #"","citizenship":"unknown","immigrationStatus":"undocumented (reported)","alienNumber":"A-201-555-0199","demographics":{"dateOfBirth":"1990-04-11","countryOfBirth":"Mexico","placeOfBirth":"Mexico"}}"#
    var served = #"{"bookingNumber":"2017-000123","history":["#
    while served.utf8.count < 1 << 20 { served += (served.hasSuffix("[") ? "" : ",") + servedRecord }
    served += "]}"
    try streamRedact("stream-redact bench-vs-nginx's 1 MB export (JSON)", Array(served.utf8)) { JSONRedaction(names: names) }

    let fixture = try String(contentsOf: root.appendingPathComponent("Tests/WarrantGateCoreTests/Fixtures/niem/niem-4.0.xml"), encoding: .utf8)
    let booking = "<j:Booking>" + fixture.components(separatedBy: "<j:Booking>")[1].components(separatedBy: "</j:Booking>")[0] + "</j:Booking>"
    var export = fixture.components(separatedBy: "<j:Booking>")[0]
    while export.utf8.count < 1 << 20 { export += booking }
    export += "</exch:BookingReport>"
    try streamRedact("stream-redact a 1 MB NIEM 4.0 export (XML)", Array(export.utf8)) { XMLRedaction(names: names) }
}

// Merkle append (in memory).
if runs("merkle") {
    var frontier = MerkleFrontier()
    let leaf = Merkle.leafHash(Array("entry".utf8))
    measure("Merkle frontier append (in memory)", iterations: 200_000) {
        sink &+= frontier.append(leaf: leaf).count
    }
}

// Durable decision-log appends with group commit: each append returns after its batch is committed and synced.
// Measured twice: decisions alone, and as the gateway writes them — each decision, then the upstream exchange (a
// 1 ms pause here), then its outcome, queued without waiting (so the log holds two kinds, and twice the entries),
// then the answer's way to the client and the next request's stages up to its decision (another 1 ms).
func measureAppends(writers: Int, withOutcomes: Bool) async throws {
    let (store, directory) = try temporaryDatabase("log")
    let log = try outcomeDelay.map { try store.decisionLog(outcomeDelay: $0) } ?? store.decisionLog()
    let writer = Task { await log.run() }
    // Fewer with outcomes: a lone writer's pauses would otherwise stretch the run to minutes.
    let perWriter = max(200, (withOutcomes ? 20_000 : 100_000) / writers)
    let cpuBefore = processCPUMicroseconds()
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<writers {
            group.addTask {
                for _ in 0..<perWriter {
                    let id = DecisionID.make()
                    try await log.append([decision(id)])
                    if withOutcomes {
                        try await Task.sleep(for: .milliseconds(1))
                        log.enqueue([outcome(id)])
                        try await Task.sleep(for: .milliseconds(1))
                    }
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = ContinuousClock.now - start
    let cpu = processCPUMicroseconds() - cpuBefore
    log.close()
    await writer.value
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let label = "decision-log append, durable before return, \(writers) writers" + (withOutcomes ? " + outcomes, 1 ms pauses" : "")
    print(label.padding(toLength: 82, withPad: " ", startingAt: 0)
          + String(format: "%10.0f durable decisions/s   (%.0f µs CPU per decision)", Double(writers * perWriter) / seconds, cpu / Double(writers * perWriter)))
    try? FileManager.default.removeItem(at: directory)
}
for writers in writerCounts where runs("append") {
    try await measureAppends(writers: writers, withOutcomes: false)
    try await measureAppends(writers: writers, withOutcomes: true)
}

// The same durable appends on PostgreSQL, split across two gateways' logs (two clients, as two gateways would hold),
// with `--postgres URL` naming a database whose user may create the log's tables.
if let url = arguments.firstIndex(of: "--postgres").map({ arguments[$0 + 1] }), runs("pg-append") {
    let location = try PostgresLocation(url: url)
    let logger = Logger(label: "bench")
    func client(user: String) -> PostgresClient {
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: user, password: try? PostgresLocation.password(file: nil),
            database: location.database, tls: .disable
        )
        configuration.options.maximumConnections = 2
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }
    // The URL's user installs the tables; the gateways append as a role of their own, as in a deployment.
    let owner = client(user: location.user)
    let gateways = [client(user: "wg_bench_gateway"), client(user: "wg_bench_gateway")]
    let running = ([owner] + gateways).map { client in Task { await client.run() } }
    try await owner.query("DO $$ BEGIN CREATE ROLE wg_bench_gateway LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$", logger: logger)
    try Store.initialize(try StoreLocation(url), roles: try PostgresRoles(gateway: "wg_bench_gateway"))
    let logs = gateways.map { PostgresDecisionLog(client: $0, logger: logger) }
    for writers in writerCounts {
        let perWriter = max(50, 10_000 / writers)
        let commitsBefore = logs.map(\.commits).reduce(0, +)
        let cpuBefore = processCPUMicroseconds()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<writers {
                group.addTask {
                    for _ in 0..<perWriter { try await logs[index % 2].append([decision(DecisionID.make())]) }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        let cpu = processCPUMicroseconds() - cpuBefore
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let total = writers * perWriter
        let commits = logs.map(\.commits).reduce(0, +) - commitsBefore
        let label = "PostgreSQL log append, durable before return, \(writers) writers on 2 gateways"
        print(label.padding(toLength: 82, withPad: " ", startingAt: 0)
              + String(format: "%10.0f durable decisions/s   (%.0f µs CPU per decision, %.1f per commit)", Double(total) / seconds, cpu / Double(total), Double(total) / Double(commits)))
    }
    running.forEach { $0.cancel() }
}

// The log's own CPU per request at 32 concurrent writers (or `--writers`): each makes a decision, appends it (durable
// before return), queues its outcome, and goes on to its next request. Process CPU time divided by the requests
// (three runs, each on a new database), less what making the two records costs, measured apart: the figure is what
// the log costs — submitting, its writer's and syncer's threads, SQLite and the disk's system calls. The records are
// made at request time, as the gateway makes them, since their identifiers and times order the log's indexes.
if runs("log-cpu") {
    let writers = writerCount ?? 32, perWriter = 64_000 / writers
    @Sendable func request() -> (decision: LogEntry, outcome: LogEntry) {
        let id = DecisionID.make()
        return (decision(id), outcome(id))
    }
    let makingBefore = processCPUMicroseconds()
    for _ in 0..<(writers * perWriter) { sink &+= request().decision.canonical.count }
    let making = (processCPUMicroseconds() - makingBefore) / Double(writers * perWriter)
    var samples: [Double] = []
    for _ in 0..<3 {
        let (store, directory) = try temporaryDatabase("log-cpu")
        let log = try outcomeDelay.map { try store.decisionLog(outcomeDelay: $0) } ?? store.decisionLog()
        let cpuBefore = processCPUMicroseconds()
        let writer = Task { await log.run() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<writers {
                group.addTask {
                    for _ in 0..<perWriter {
                        let request = request()
                        try await log.append([request.decision])
                        log.enqueue([request.outcome])
                    }
                }
            }
            try await group.waitForAll()
        }
        log.close()
        await writer.value
        samples.append((processCPUMicroseconds() - cpuBefore) / Double(writers * perWriter) - making)
        try? FileManager.default.removeItem(at: directory)
    }
    samples.sort()
    print("decision-log CPU per request (decision appended + outcome queued), \(writers) writers".padding(toLength: 82, withPad: " ", startingAt: 0)
          + String(format: "%10.1f µs   (runs %.1f–%.1f µs; making the records, %.1f µs, not included)", samples[1], samples[0], samples[2], making))
}

// Export rate over a large log.
if runs("export") {
    let (store, directory) = try temporaryDatabase("export")
    let log = try store.decisionLog()
    let writer = Task { await log.run() }
    let batch = 2_000
    var written = 0
    let fillStart = ContinuousClock.now
    while written < exportRows {
        let count = min(batch, exportRows - written)
        try await log.append((0..<count).map { _ in decision(DecisionID.make()) })
        written += count
    }
    log.close()
    await writer.value
    let fill = ContinuousClock.now - fillStart
    // Let the kernel write the filled log out first: an export runs over a settled log, not against the writeback
    // of the last gigabyte (which otherwise takes CPU from the export, more so the faster the log was filled).
    sync()
    var bytes = 0
    let start = ContinuousClock.now
    let rows = try store.exporter().export(format: .csv) { bytes += $0.utf8.count }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    print("export CSV of the log".padding(toLength: 66, withPad: " ", startingAt: 0) + String(format: "%10.0f rows/s (%d rows, %.1f s, %.0f MB of CSV; log filled in %.1f s; peak RSS %ld MB)",
                 Double(rows) / seconds, rows, seconds, Double(bytes) / 1e6,
                 Double(fill.components.seconds) + Double(fill.components.attoseconds) / 1e18, usage.ru_maxrss / 1024))
    try? FileManager.default.removeItem(at: directory)
}
if sink == 42 { print("") }
