import AsyncHTTPClient
import Foundation
import GRDB
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing
import WarrantGateCore
import WarrantGateDevPKI
import WarrantGateTestSupport
import Yams
@testable import WarrantGateServer
@testable import WarrantGateStore

/// The metric names a PromQL expression selects: identifiers that are not functions (followed by `(`), keywords,
/// grouping labels (`by (…)`, `on (…)`, …), label matchers (`{…}`), ranges (`[…]`), strings, numbers, durations or
/// Grafana variables (`$job`, `${…}`). A selector by `{__name__=…}` alone is not seen; `monitoring/` uses none.
enum PromQLMetricNames {
    private static let grouping: Set<String> = ["by", "without", "on", "ignoring", "group_left", "group_right"]
    /// Binary operators, modifiers, literals, and the aggregation operators, which may take their grouping before
    /// their argument (`sum by (le) (…)`): all reserved in PromQL.
    private static let keywords: Set<String> = [
        "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "sum", "min", "max", "avg", "group", "stddev", "stdvar",
        "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    ]

    static func of(_ expression: String) -> Set<String> {
        let text = Array(expression.unicodeScalars)
        var names: Set<String> = []
        var index = 0
        func isIdentifier(_ c: Unicode.Scalar, first: Bool) -> Bool {
            c == "_" || c == ":" || (c.isASCII && c.properties.isAlphabetic) || (!first && ("0"..."9").contains(c))
        }
        func isQuote(_ c: Unicode.Scalar) -> Bool { c == "\"" || c == "'" || c == "`" }
        func skipSpaces() {
            while index < text.count, text[index].properties.isWhitespace { index += 1 }
        }
        func skipString() {
            let quote = text[index]
            index += 1
            while index < text.count, text[index] != quote {
                index += text[index] == "\\" && quote != "`" ? 2 : 1
            }
            index += 1
        }
        /// Skips from an opening bracket to its match, strings included.
        func skipGroup() {
            let closing: [Unicode.Scalar: Unicode.Scalar] = ["{": "}", "[": "]", "(": ")"]
            let (open, close) = (text[index], closing[text[index]]!)
            var depth = 0
            while index < text.count {
                let c = text[index]
                if isQuote(c) {
                    skipString()
                    continue
                }
                depth += c == open ? 1 : c == close ? -1 : 0
                index += 1
                if depth == 0 { return }
            }
        }
        while index < text.count {
            let c = text[index]
            if isQuote(c) {
                skipString()
            } else if c == "{" || c == "[" {
                skipGroup()
            } else if c == "#" {
                while index < text.count, text[index] != "\n" { index += 1 }
            } else if c == "$" {
                index += 1
                if index < text.count, text[index] == "{" { skipGroup() }
                while index < text.count, isIdentifier(text[index], first: false) { index += 1 }
            } else if isIdentifier(c, first: true) {
                let start = index
                while index < text.count, isIdentifier(text[index], first: false) { index += 1 }
                let word = String(String.UnicodeScalarView(text[start..<index]))
                skipSpaces()
                let opens = index < text.count && text[index] == "("
                if grouping.contains(word.lowercased()) {
                    if opens { skipGroup() }
                } else if !keywords.contains(word.lowercased()) && !opens {
                    names.insert(word)
                }
            } else if ("0"..."9").contains(c) || c == "." {
                // A number or a duration (0.99, 1e3, 5m): never a name.
                while index < text.count, isIdentifier(text[index], first: false) || text[index] == "." { index += 1 }
            } else {
                index += 1
            }
        }
        return names
    }
}

/// What `monitoring/` ships: the Grafana dashboard and the Prometheus alert rules, read as their tools read them.
struct MonitoringFiles {
    struct Rule {
        let name: String
        let expression: String
        let values: [String: Any]
    }

    let dashboard: [String: Any]
    let rules: [Rule]

    static let dashboardPath = Repository.path("monitoring/grafana-dashboard.json")
    static let rulesPath = Repository.path("monitoring/warrant-gate-alerts.yaml")

    init() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.dashboardPath)))
        dashboard = try #require(json as? [String: Any])
        let yaml = try Yams.load(yaml: String(contentsOfFile: Self.rulesPath, encoding: .utf8)) as? [String: Any]
        let groups = try #require(yaml?["groups"] as? [[String: Any]])
        rules = try groups.flatMap { group in
            try #require(group["rules"] as? [[String: Any]]).map { rule in
                Rule(name: try #require(rule["alert"] as? String), expression: try #require(rule["expr"] as? String), values: rule)
            }
        }
    }

    /// Every PromQL expression of the dashboard's panels, and the selectors of its `label_values(…, label)` variables.
    var dashboardExpressions: [String] {
        func expressions(in value: Any) -> [String] {
            if let object = value as? [String: Any] {
                return object.flatMap { key, value in key == "expr" ? [value as? String].compactMap(\.self) : expressions(in: value) }
            }
            return (value as? [Any])?.flatMap(expressions(in:)) ?? []
        }
        let variables = ((dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []).compactMap { $0["definition"] as? String }
        let selectors = variables.compactMap { definition -> String? in
            guard definition.hasPrefix("label_values("), let comma = definition.lastIndex(of: ",") else { return nil }
            return String(definition[definition.index(definition.startIndex, offsetBy: 13)..<comma])
        }
        return expressions(in: dashboard["panels"] ?? []) + selectors
    }

    var queriedNames: Set<String> {
        (dashboardExpressions + rules.map(\.expression)).reduce(into: []) { $0.formUnion(PromQLMetricNames.of($1)) }
    }
}

/// A scrape of the admin listener's `/metrics`.
struct Exposition {
    let text: String

    /// The names of the samples (`name{…} value` or `name value`).
    var sampleNames: Set<String> {
        Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            String(line.prefix { $0 != "{" && $0 != " " })
        })
    }

    /// The metric families, from their `# TYPE` lines.
    var families: Set<String> {
        Set(text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
    }

    /// The value of the sample without labels named `name`.
    func value(_ name: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }
}

@Suite("Monitoring: the dashboard and the alert rules against /metrics", .serialized)
struct MonitoringTests {
    /// Series Prometheus makes itself rather than scrapes.
    static let synthetic: Set<String> = ["up"]

    @Test("the PromQL name extractor finds selected metrics and nothing else")
    func extractor() {
        #expect(PromQLMetricNames.of(#"histogram_quantile(0.99, sum by (instance, le) (rate(a_bucket{job="x",le="+Inf"}[5m])))"#) == ["a_bucket"])
        #expect(PromQLMetricNames.of("sum(rate(a_total[$__rate_interval])) by (reason) / on(instance) group_left(version) b_info") == ["a_total", "b_info"])
        #expect(PromQLMetricNames.of(#"absent(up{job="warrant-gate"}) or x > 0.5 and y offset 5m unless bool z"#) == ["up", "x", "y", "z"])
        #expect(PromQLMetricNames.of(#"label_replace(m{a="}{"}, "dst", "$1", "src", "(.*)") # by (q) comment"#) == ["m"])
        #expect(PromQLMetricNames.of("increase(ns:c_total [1h:5m]) > 1e3 * 2") == ["ns:c_total"])
        #expect(PromQLMetricNames.of("sum without (job) (a) / count by (le) (b) + topk(3, c)") == ["a", "b", "c"])
    }

    @Test("the rules are complete alerts: a `for`, a severity, a summary, a description and a runbook entry that exists")
    func rulesAreComplete() throws {
        let files = try MonitoringFiles()
        #expect(files.rules.count >= 10)
        let operations = try String(contentsOfFile: Repository.path("docs/operations.md"), encoding: .utf8)
        for rule in files.rules {
            #expect(rule.values["for"] is String, "\(rule.name)")
            let severity = (rule.values["labels"] as? [String: Any])?["severity"] as? String
            #expect(["critical", "warning", "info"].contains(severity ?? ""), "\(rule.name)")
            let annotations = rule.values["annotations"] as? [String: String] ?? [:]
            #expect(annotations["summary"]?.isEmpty == false && annotations["description"]?.contains(rule.name) == true, "\(rule.name)")
            #expect(annotations["runbook_url"] == "docs/operations.md#alerts-and-runbook", "\(rule.name)")
            #expect(operations.contains("| `\(rule.name)` |"), "\(rule.name) has no runbook line in docs/operations.md")
        }
        #expect(operations.contains("### Alerts and runbook"))
        // The audit failure of CJIS 5.4.2 pages.
        let refusing = try #require(files.rules.first { $0.name == "WarrantGateDecisionLogRefusing" })
        #expect((refusing.values["labels"] as? [String: Any])?["severity"] as? String == "critical")
    }

    @Test("the dashboard imports into Grafana: its datasource is an input, every panel queries it")
    func dashboardIsImportable() throws {
        let dashboard = try MonitoringFiles().dashboard
        let inputs = try #require(dashboard["__inputs"] as? [[String: Any]])
        #expect(inputs.contains { $0["name"] as? String == "DS_PROMETHEUS" && $0["pluginId"] as? String == "prometheus" })
        #expect(dashboard["uid"] as? String == "warrant-gate" && dashboard["schemaVersion"] is Int)
        let panels = try #require(dashboard["panels"] as? [[String: Any]]).filter { $0["type"] as? String != "row" }
        #expect(panels.count >= 10)
        var ids: Set<Int> = []
        for panel in panels {
            #expect((panel["datasource"] as? [String: Any])?["uid"] as? String == "${DS_PROMETHEUS}", "\(panel["title"] ?? "")")
            #expect((panel["targets"] as? [[String: Any]])?.isEmpty == false, "\(panel["title"] ?? "")")
            #expect(panel["gridPos"] is [String: Any])
            #expect(ids.insert(panel["id"] as? Int ?? -1).inserted)
        }
    }

    @Test("the audit metrics are exported from start-up, counters at 0, so that increase() sees the first failure")
    func auditMetricsAtStart() {
        let exposition = Exposition(text: String(decoding: GatewayMetrics().exposition(), as: UTF8.self))
        for name in [
            "warrantgate_decision_log_refusals_total", "warrantgate_decision_log_unwritten_entries_total", "warrantgate_checkpoint_failures_total",
            "warrantgate_policy_reload_failures_total", "warrantgate_handshake_refusals_total",
        ] {
            #expect(exposition.value(name) == 0, "\(name)")
        }
        #expect(exposition.sampleNames.contains("warrantgate_decision_log_healthy"))
        #expect(exposition.sampleNames.contains("warrantgate_registry_readable"))
    }

    @Test("every metric the dashboard and the rules query is in a live gateway's /metrics, and the dashboard shows every one")
    func queriedMetricsExist() async throws {
        let files = try MonitoringFiles()
        let adminPort = try LoopbackPort.unused()
        try await withGateway(configure: { _, configuration in
            configuration.adminHost = "127.0.0.1"
            configuration.adminPort = adminPort
        }) { gateway in
            // An allowed request, a refused one, two handshakes refused, and a decision log that cannot be written.
            #expect(try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123").status == 200)
            #expect(try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000123").reason == "warrant_missing")
            let foreign = DevPKIDirectory(directory: gateway.directory.appendingPathComponent("foreign"))
            try foreign.ensure(clients: ["denver-pd"])
            // One connection each (a client library would retry): refused, so no answer.
            let request = RawTLSClient.request("GET /records/inmates/2017-000123 HTTP/1.1")
            for clientPKI in [foreign, nil] {
                let refused = try? await RawTLSClient.send(request, port: gateway.port, pki: gateway.pki, clientPKI: clientPKI, agency: clientPKI == nil ? nil : "denver-pd")
                #expect(refused?.status ?? 0 == 0)
            }
            let pool = try #require(gateway.gateway.store.sqlitePool)
            try await pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = 1") }
            #expect(try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123").reason == "log_unavailable")
            try await pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = 0") }
            #expect(try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123").status == 200)

            let exposition = try await Self.scrape(port: adminPort)
            let missing = files.queriedNames.subtracting(Self.synthetic).subtracting(exposition.sampleNames)
            #expect(missing.isEmpty, "queried but not exported: \(missing.sorted())")
            #expect(files.queriedNames.contains("warrantgate_decision_log_refusals_total"))
            let shown = files.dashboardExpressions.reduce(into: Set<String>()) { $0.formUnion(PromQLMetricNames.of($1)) }
            let unshown = exposition.families.filter { family in !shown.contains { $0 == family || $0.hasPrefix(family + "_") } }
            #expect(unshown.isEmpty, "exported but not on the dashboard: \(unshown.sorted())")

            #expect(exposition.value("warrantgate_decision_log_refusals_total") == 1)
            #expect((exposition.value("warrantgate_decision_log_unwritten_entries_total") ?? 0) >= 1)
            // The chain from another CA, and the handshake without a certificate.
            #expect(exposition.value("warrantgate_handshake_refusals_total") == 2)
            // The commit refused a moment ago: unhealthy for 5 s after it (and /readyz not ready).
            #expect(exposition.value("warrantgate_decision_log_healthy") == 0)
            #expect(exposition.value("warrantgate_registry_readable") == 1)
            #expect(exposition.value("warrantgate_two_person_rule") == 1)
            #expect(exposition.value("warrantgate_documents_active_by_one_operator") == 0)
            // A helper's pass: one operator could turn the rule off, register and activate a warrant, and turn it on.
            let registry = gateway.gateway.store.registry(timeZone: TimeZone(identifier: "America/Denver")!)
            try registry.setTwoPersonRule(false, reason: "night shift", operator: "sheriff")  // asks, where others have acted
            try registry.setTwoPersonRule(false, reason: "night shift", operator: "undersheriff")
            var ruleOff = try await Self.scrape(port: adminPort)
            for _ in 0..<40 where ruleOff.value("warrantgate_two_person_rule") != 0 {
                try await Task.sleep(for: .milliseconds(50))
                ruleOff = try await Self.scrape(port: adminPort)
            }
            #expect(ruleOff.value("warrantgate_two_person_rule") == 0, "the gauge did not follow the registry's setting")
            // …and a re-pass: turned off and on between two scrapes, the document activated meanwhile still shows.
            _ = try registry.register(DocumentRegistration(
                reference: "JW-ALONE", kind: .judicialWarrant, agency: "ice-ero", subjects: ["2017-000123"], scope: ["records.read"],
                expires: "2099-12-31", court: "D. Colo.", judge: "Hon. X", caseNumber: "1", noDocumentReason: "faxed"
            ), operator: "undersheriff")
            try registry.setTwoPersonRule(true, reason: "day shift", operator: "undersheriff")
            var ruleOn = try await Self.scrape(port: adminPort)
            for _ in 0..<40 where ruleOn.value("warrantgate_two_person_rule") != 1 || ruleOn.value("warrantgate_documents_active_by_one_operator") != 1 {
                try await Task.sleep(for: .milliseconds(50))
                ruleOn = try await Self.scrape(port: adminPort)
            }
            #expect(ruleOn.value("warrantgate_two_person_rule") == 1 && ruleOn.value("warrantgate_documents_active_by_one_operator") == 1)
            // The same for an agency's key: pinned with the rule off, it shows until a second operator confirms it.
            #expect(ruleOn.value("warrantgate_agency_keys_by_one_operator") == 0)
            try registry.setTwoPersonRule(false, reason: "night shift", operator: "sheriff")  // asks, where others have acted
            try registry.setTwoPersonRule(false, reason: "night shift", operator: "undersheriff")
            let key = String(repeating: "5a", count: 32)
            try registry.addAgency(id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [key], operator: "undersheriff")
            try registry.setTwoPersonRule(true, reason: "day shift", operator: "undersheriff")
            var pinned = try await Self.scrape(port: adminPort)
            for _ in 0..<40 where pinned.value("warrantgate_agency_keys_by_one_operator") != 1 {
                try await Task.sleep(for: .milliseconds(50))
                pinned = try await Self.scrape(port: adminPort)
            }
            #expect(pinned.value("warrantgate_agency_keys_by_one_operator") == 1)
            let confirmation = try #require(try registry.addAgency(
                id: "aurora-pd", name: "Aurora PD", category: .localLawEnforcement, spkiPins: [key], operator: "undersheriff"
            ))
            try registry.approveAgencyRequest(confirmation, operator: "sergeant")
            var confirmed = try await Self.scrape(port: adminPort)
            for _ in 0..<40 where confirmed.value("warrantgate_agency_keys_by_one_operator") != 0 {
                try await Task.sleep(for: .milliseconds(50))
                confirmed = try await Self.scrape(port: adminPort)
            }
            #expect(confirmed.value("warrantgate_agency_keys_by_one_operator") == 0)
            #expect(exposition.text.contains(#"warrantgate_decisions_total{effect="deny",reason="log_unavailable"} 1"#))
        }
    }

    @Test("promtool accepts the rules, their unit tests pass, and the dashboard's queries parse",
          .enabled(if: Promtool.path != nil || ProcessInfo.processInfo.environment["CI"] == "true"))
    func promtool() throws {
        let checked = try Promtool.run(["check", "rules", MonitoringFiles.rulesPath])
        #expect(checked.status == 0, "\(checked.output)")
        let tested = try Promtool.run(["test", "rules", Repository.path("monitoring/warrant-gate-alerts.test.yaml")])
        #expect(tested.status == 0, "\(tested.output)")
        // The dashboard's queries as recording rules, with Grafana's variables given values.
        let variables = ["$__rate_interval": "1m", "$__range": "1h", "$job": "warrant-gate", "$instance": ".*"]
        let records = try MonitoringFiles().dashboardExpressions.enumerated().map { index, expression in
            let resolved = variables.reduce(expression) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
            return ["record": "dashboard:query\(index)", "expr": resolved]
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wg-dashboard-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        try Yams.dump(object: ["groups": [["name": "dashboard", "rules": records]]]).write(to: file, atomically: true, encoding: .utf8)
        let parsed = try Promtool.run(["check", "rules", file.path])
        #expect(parsed.status == 0, "\(parsed.output)")
    }

    /// NIO's parser buffers a head padded with whitespace without bound; on Hummingbird's defaults 1 GiB sent to
    /// `/healthz` grew the gateway by 1 GiB. The admin listener stops reading past its unparsed-input limit and closes.
    @Test("the admin listener closes a head padded with endless whitespace, and goes on answering")
    func adminWhitespaceFlood() async throws {
        try await Self.withAdminListener { adminPort in
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: adminPort).get()
            try await channel.writeAndFlush(ByteBuffer(string: "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad:"))
            let written = Mutex(0)
            let chunk = ByteBuffer(repeating: UInt8(ascii: " "), count: 1 << 20)
            for _ in 0..<64 {
                channel.writeAndFlush(chunk).whenSuccess { written.withLock { $0 += 1 } }
            }
            for _ in 0..<100 where channel.isActive { try await Task.sleep(for: .milliseconds(100)) }
            #expect(!channel.isActive, "the admin listener kept the connection open")
            #expect(written.withLock { $0 } < 16, "the admin listener read \(written.withLock { $0 }) MiB of one head")
            #expect(try await Self.scrape(port: adminPort).value("warrantgate_decision_log_healthy") == 1)
        }
    }

    /// Load balancers and probes often ask with HEAD; before, each path answered HEAD with 404.
    @Test("the admin listener answers HEAD on each path as GET, without the body")
    func adminHead() async throws {
        try await Self.withAdminListener { adminPort in
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            defer { _ = client.shutdown() }
            for path in ["/healthz", "/readyz", "/metrics"] {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(adminPort)\(path)")
                request.method = .HEAD
                var response = try await client.execute(request, timeout: .seconds(5))
                // /readyz answers 503 while a probe (a commit, an event loop's turn) takes over a second, as it may on
                // a machine the rest of the suite loads: asked again, it answers as it is.
                for _ in 0..<20 where path == "/readyz" && response.status == .serviceUnavailable {
                    _ = try await response.body.collect(upTo: 1 << 22)
                    try await Task.sleep(for: .milliseconds(250))
                    response = try await client.execute(request, timeout: .seconds(5))
                }
                let body = try await response.body.collect(upTo: 1 << 22)
                #expect(response.status == .ok, "\(path)")
                #expect(body.readableBytes == 0, "\(path)")
                #expect(Int(response.headers.first(name: "content-length") ?? "") ?? 0 > 0, "\(path)")
            }
        }
    }

    /// Past the cap, a new connection closes the oldest of the address holding the most: whoever holds every
    /// connection from one address cannot keep a probe from another out (before, it waited in the kernel's backlog),
    /// and never holds more than the cap.
    @Test("the admin listener keeps at most its cap open; past it, the oldest of the address holding the most is closed", .timeLimit(.minutes(1)))
    func adminConnectionCap() async throws {
        try await Self.withAdminListener { adminPort in
            // The first two one at a time, so that they are the oldest; the rest together, so that none idles long
            // enough on a loaded machine for the listener's idle timeout. Each is answered once: it was accepted.
            var held = [try await Self.answeredConnection(port: adminPort)]
            held.append(try await Self.answeredConnection(port: adminPort))
            held += try await withThrowingTaskGroup(of: (any Channel).self) { group in
                for _ in 2..<AdminChannel.maxConnections { group.addTask { try await Self.answeredConnection(port: adminPort) } }
                return try await group.reduce(into: [any Channel]()) { $0.append($1) }
            }
            #expect(held.allSatisfy { $0.isActive }, "the listener closed one of the cap's own connections")
            let probe = try await Self.answeredConnection(port: adminPort, from: "127.0.0.2")
            #expect(await Self.closes(held[0]), "the probe from another address was served, and the oldest held made room")
            #expect(held.dropFirst().allSatisfy { $0.isActive })
            let another = try await Self.answeredConnection(port: adminPort)
            #expect(await Self.closes(held[1]), "one more from the address holding the most closes that address's oldest")
            #expect(probe.isActive && another.isActive && held.dropFirst(2).allSatisfy { $0.isActive })
            // A burst that the listener may accept in one read: each newcomer is served and closes a live connection of
            // its own, so the connections left open come back to the cap.
            let burst = try await withThrowingTaskGroup(of: (any Channel).self) { group in
                for _ in 0..<8 { group.addTask { try await Self.answeredConnection(port: adminPort) } }
                return try await group.reduce(into: [any Channel]()) { $0.append($1) }
            }
            let all = held + [probe, another] + burst
            let deadline = ContinuousClock.now + .seconds(5)
            while all.filter({ $0.isActive }).count > AdminChannel.maxConnections, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(all.filter { $0.isActive }.count <= AdminChannel.maxConnections, "more than the cap left open after a burst")
            #expect(probe.isActive && burst.allSatisfy { $0.isActive }, "the burst closed the probe or one of its own")
            for channel in all { try? await channel.close() }
        }
    }

    /// A Prometheus scrape or a probe under way is answered rather than cut: past the cap, the address's oldest
    /// connection between requests goes first, and one answering a request only when none is between requests.
    @Test("past the admin cap, a connection between requests is closed before an older one answering a request")
    func adminEvictionSparesAnswers() throws {
        let connections = AdminConnections(cap: 2)
        func connection() throws -> EmbeddedChannel { try Self.embeddedConnection(to: connections) }
        let scrape = try connection()
        connections.requestRead(on: scrape)
        let idle = try connection()
        let third = try connection()
        #expect(scrape.isActive && !idle.isActive && third.isActive, "the newer idle connection made room, not the scrape")
        // Pipelined: answered once of twice, the scrape still has a request to answer.
        connections.requestRead(on: scrape)
        connections.answerWritten(on: scrape)
        let fourth = try connection()
        #expect(scrape.isActive && !third.isActive && fourth.isActive)
        connections.answerWritten(on: scrape)
        connections.requestRead(on: fourth)
        let fifth = try connection()
        #expect(!scrape.isActive && fourth.isActive && fifth.isActive, "answered, the scrape is the oldest between requests")
    }

    /// A client that never reads its answer, or pipelines a request after `Connection: close` (never answered), would
    /// otherwise keep its connections counted as answering, so that others went first whatever their ages.
    @Test("past the admin cap, a connection whose answer has waited past the window goes as one between requests")
    func adminEvictionAnswerWindow() throws {
        let clock = Mutex(ContinuousClock.now)
        let connections = AdminConnections(cap: 2, answerWindow: .seconds(5), now: { clock.withLock { $0 } })
        func connection() throws -> EmbeddedChannel { try Self.embeddedConnection(to: connections) }
        let stalled = try connection()
        connections.requestRead(on: stalled)
        let idle = try connection()
        clock.withLock { $0 += .seconds(6) }
        let third = try connection()
        #expect(!stalled.isActive && idle.isActive && third.isActive, "the answer has waited 6 s: the stalled one, oldest, went")
        // Both answering now: the newcomer, between requests, is served, and the oldest answering one goes instead.
        connections.requestRead(on: idle)
        connections.requestRead(on: third)
        let newcomer = try connection()
        #expect(!idle.isActive && third.isActive && newcomer.isActive)
    }

    /// A connection from 127.0.0.1, on an embedded channel, recorded by `connections`.
    private static func embeddedConnection(to connections: AdminConnections) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let peer = try SocketAddress(ipAddress: "127.0.0.1", port: 40_000)
        channel.remoteAddress = peer
        try channel.connect(to: peer).wait()
        connections.add(channel)
        return channel
    }

    /// Whether `channel` is closed within 5 s.
    private static func closes(_ channel: any Channel) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while channel.isActive, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return !channel.isActive
    }

    /// A connection to the admin listener from `source` (an address of loopback), once it has answered a request on it.
    private static func answeredConnection(port: Int, from source: String = "127.0.0.1") async throws -> any Channel {
        let answered = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Void.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(to: try SocketAddress(ipAddress: source, port: 0))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(FirstRead(answered)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"))
        try await answered.futureResult.get()
        return channel
    }

    /// Runs `body` with the port of a gateway's admin listener, once it answers.
    private static func withAdminListener(_ body: (Int) async throws -> Void) async throws {
        let adminPort = try LoopbackPort.unused()
        try await withGateway(configure: { _, configuration in
            configuration.adminHost = "127.0.0.1"
            configuration.adminPort = adminPort
        }) { _ in
            _ = try await scrape(port: adminPort)
            try await body(adminPort)
        }
    }

    static func scrape(port: Int) async throws -> Exposition {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        // The admin listener starts beside the TLS listener, perhaps a moment after it.
        var attempts = 1
        while true {
            do {
                let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(5))
                #expect(response.status == .ok)
                return Exposition(text: String(buffer: try await response.body.collect(upTo: 1 << 22)))
            } catch where attempts < 50 {
                attempts += 1
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}

/// Prometheus's `promtool` (Debian: `prometheus`), when installed.
enum Promtool {
    static let path = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(path, "promtool is not installed (apt-get install prometheus)"))
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}

/// Succeeds its promise at a channel's first read.
private final class FirstRead: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let promise: EventLoopPromise<Void>

    init(_ promise: EventLoopPromise<Void>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed()
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}

@Suite("The readiness probe's database question")
struct DatabaseProbeTests {
    @Test("a silent database is no answer by the deadline; requests meanwhile share the one question; an answer counts again")
    func silentDatabase() async throws {
        let asked = Atomic<Int>(0)
        let release = DispatchSemaphore(value: 0)
        let silent = Atomic<Bool>(true)
        let probe = DatabaseProbe {
            asked.add(1, ordering: .relaxed)
            if silent.load(ordering: .relaxed) { release.wait() }
        }
        let answers = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<5 { group.addTask { await probe.answers() } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers == Array(repeating: false, count: 5))
        #expect(asked.load(ordering: .relaxed) == 1, "one question for five requests")
        // Past its deadline, the silent question answers every request no, and none asks another.
        for _ in 0..<20 { #expect(await !probe.answers()) }
        #expect(asked.load(ordering: .relaxed) == 1)
        silent.store(false, ordering: .relaxed)
        release.signal()
        // Until the silent question's answer is taken in, a request past its deadline still reads no answer.
        var answered = false
        for _ in 0..<100 where !answered {
            answered = await probe.answers()
            if !answered { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(answered)
        // A new question once the silent one ended (on a loaded machine it too may outlast its deadline, and a third
        // be asked).
        #expect(asked.load(ordering: .relaxed) >= 2, "a new question once the silent one ended")
    }
}

@Suite("Log lines held back during an outage")
struct LogLineThrottleTests {
    @Test("one line a second is let through, and says how many alike were held back since the last")
    func oneLineASecond() {
        let throttle = LogLineThrottle(interval: .seconds(1))
        let start = NIODeadline.uptimeNanoseconds(5_000_000_000)
        #expect(throttle.admit(now: start) == 0)
        #expect(throttle.admit(now: start + .milliseconds(10)) == nil)
        #expect(throttle.admit(now: start + .milliseconds(999)) == nil)
        #expect(throttle.admit(now: start + .seconds(1)) == 2)
        #expect(throttle.admit(now: start + .milliseconds(1_500)) == nil)
        #expect(throttle.admit(now: start + .seconds(3)) == 1)
    }
}
