import Foundation
import Testing
import WarrantGateCore
@testable import WarrantGateStore

@Suite("Transparency reports")
struct ReportTests {
    @Test("report figures match a log built by the test, and state the checkpoint they came from")
    func figures() async throws {
        let database = try TemporaryDatabase()
        let log = DecisionLog(writer: database.pool, path: database.path)
        let writer = Task { await log.run() }
        let denver = TimeZone(identifier: "America/Denver")!
        // (local day, category, action, effect, reason)
        let plan: [(String, String, String, Effect, String)] = [
            ("2026-10-03", "federal-immigration", "records.read", .deny, "warrant_missing"),
            ("2026-10-20", "federal-immigration", "records.release-date", .allow, "permitted"),
            ("2026-11-02", "federal-immigration", "records.read", .deny, "warrant_not_judicial"),
            ("2026-11-09", "federal-immigration", "visitation.schedule", .deny, "warrant_missing"),
            ("2026-11-30", "local-law-enforcement", "records.read", .allow, "permitted"),
            ("2026-12-31", "federal-immigration", "records.read", .allow, "permitted"),
            ("2027-01-01", "federal-immigration", "records.read", .deny, "warrant_missing"),
        ]
        for (index, (day, category, action, effect, reason)) in plan.enumerated() {
            // Noon local time, so the day is the same in UTC and in Denver.
            let time = LocalDate(day)!.start(in: denver).addingTimeInterval(12 * 3600)
            let record = DecisionRecord(
                decisionId: "r-\(index)", time: Timestamp.format(time), component: "gateway", certificateSPKI: nil, certificateSubject: nil,
                agency: "a", category: category, method: "GET", path: "/p", action: action, subject: "2017-000123", warrantReference: nil,
                effect: effect, reason: reason, rules: [],
                obligations: effect == .allow ? ["count-for-council-report", "notify-inmate-in-writing"] : ["count-for-council-report"],
                policy: "denver", policyDigest: "00", status: nil
            )
            try await log.append([LogEntry(kind: .decision, time: time, decisionId: record.decisionId, canonical: record.canonical)])
        }
        // Requests from a certificate the agency directory does not list name no agency: one in the quarter, one after.
        for (index, day) in ["2026-11-15", "2027-01-02"].enumerated() {
            let time = LocalDate(day)!.start(in: denver).addingTimeInterval(12 * 3600)
            let record = DecisionRecord(
                decisionId: "u-\(index)", time: Timestamp.format(time), component: "gateway", certificateSPKI: "ab", certificateSubject: "CN=x",
                agency: nil, category: nil, method: "GET", path: "/p", action: nil, subject: nil, warrantReference: nil,
                effect: .deny, reason: "unknown_agency", rules: [], obligations: [], policy: "denver", policyDigest: "00", status: nil
            )
            try await log.append([LogEntry(kind: .decision, time: time, decisionId: record.decisionId, canonical: record.canonical)])
        }
        log.close()
        await writer.value
        let key = LogSigningKey(name: "test/log")
        try Checkpointer(database: SQLiteDatabase(pool: database.pool), key: key, origin: key.name).sign()

        let period = try #require(ReportPeriod("2026-Q4", timeZone: denver))
        #expect(period.months == ["2026-10", "2026-11", "2026-12"])
        let head = try ReportBuilder.treeHead(database: SQLiteDatabase(pool: database.pool))
        #expect(head.size == 9)
        let entries = try ReportBuilder.entries(database: SQLiteDatabase(pool: database.pool), period: period, timeZone: denver, treeSize: head.size)
        let requests = entries.requests
        let data = ReportData(period: period, jurisdiction: "Test County", timeZone: denver, requests: requests,
                              unattributedRequests: entries.unattributed, checkpointSize: head.size,
                              checkpointRoot: Data(head.root).base64EncodedString(), checkpointOrigin: head.origin)
        #expect(requests.count == 5)
        #expect(entries.unattributed == 1, "the request without an agency is not counted beside, or the next quarter's is")
        #expect(data.allowed == 2 && data.denied == 3)
        #expect(data.count(month: "2026-11") == 2)
        #expect(data.count(kind: "interview or visit") == 1)
        #expect(data.count(kind: "release date", effect: .allow) == 1)
        #expect(data.denialReasons.first?.reason == "warrant_missing" && data.denialReasons.first?.count == 2)
        // What the period's decisions owe, by obligation: the local agency's allow is not counted.
        #expect(data.obligationCounts.map { "\($0.obligation) \($0.allowed) \($0.denied)" } == [
            "count-for-council-report 2 3", "notify-inmate-in-writing 2 0",
        ])

        // A report computed at an earlier tree size leaves out what came after.
        #expect(try ReportBuilder.entries(database: SQLiteDatabase(pool: database.pool), period: period, timeZone: denver, treeSize: 3).requests.count == 3)

        let renderer = ReportRenderer(data: data, template: .oregonCJC)
        let html = renderer.html()
        #expect(html.contains("<svg"))
        #expect(html.contains("warrant_not_judicial"))
        #expect(html.contains("checkpoint of 9 entries"))
        #expect(html.contains("Requests logged without an agency: 1."))
        #expect(!html.contains("2017-000123"))
        #expect(!html.contains("<script"))
        let markdown = ReportRenderer(data: data, template: .denverCouncil).markdown()
        #expect(markdown.contains("| 2026-11 | 1 | 0 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 2 | 2 |"))
        #expect(markdown.contains("Requests logged without an agency: 1. A request"))
        #expect(markdown.contains("## Obligations recorded") && markdown.contains("| notify-inmate-in-writing | 2 | 0 |"))
        #expect(html.contains("<tr><td><code>count-for-council-report</code></td><td>2</td><td>3</td></tr>"))
        let csv = ReportRenderer(data: data, template: .illinoisAG).csv()
        #expect(csv.contains("\r\nobligations,,,allow,notify-inmate-in-writing,2\r\n") && !csv.contains("obligations,,,deny,notify-inmate-in-writing"))
        #expect(csv.components(separatedBy: "\r\nrequests,").count - 1 == 5)
        #expect(csv.contains("\r\nrequests-without-agency,,,,,1\r\n"))
        #expect(!csv.contains("2017-000123"))
        // Listed by the day in the report's own zone, as its months are (noon in Denver, under daylight saving time and
        // not), with no time of day and, as Illinois asks only how each was handled, no reason.
        #expect(csv.contains("\r\nrequests,2026-10-03,"))
        #expect(csv.contains("\r\nrequests,2026-12-31,"))
        #expect(!csv.contains("T12:00"))
        #expect(csv.components(separatedBy: "\r\n").filter { $0.hasPrefix("requests,") }.allSatisfy { $0.hasSuffix(",,1") }, "\(csv)")
        // The log's origin is an operator's text (`log init-key --name`): one cell, quoted, never a formula.
        let hostile = ReportData(period: period, jurisdiction: "Test County", timeZone: denver, requests: requests, checkpointSize: 1,
                                 checkpointRoot: "root", checkpointOrigin: "=HYPERLINK(\"x\"),evil")
        #expect(ReportRenderer(data: hostile, template: nil).csv().contains("\r\ncheckpoint,,,,\"'=HYPERLINK(\"\"x\"\"),evil size 1 root root\",\r\n"))
        // The jurisdiction and the origin are an operator's text: in Markdown, no link, image, HTML or table cell.
        let markup = ReportData(period: period, jurisdiction: "[click](javascript:x) <script>x</script> | a |", timeZone: denver, requests: [],
                                checkpointSize: 1, checkpointRoot: "root", checkpointOrigin: "![i](http://x)")
        let escaped = ReportRenderer(data: markup, template: nil).markdown()
        #expect(escaped.contains(#"**\[click\]\(javascript\:x\) \<script\>x\</script\> \| a \|**"#), "\(escaped)")
        #expect(escaped.contains(#"the decision log \!\[i\]\(http\://x\) at"#), "\(escaped)")
        // A review of the reports: a line break ended a table's row, a bare domain became a link, a bidi override
        // turned a cell around; in HTML too.
        let forged = ReportData(
            period: period, jurisdiction: "Test County", timeZone: denver,
            requests: ["a\n# b", "www.evil.example", "\u{202E}x"].map { reason in
                ReportData.Request(time: Timestamp.parse("2026-11-02T19:00:00.000Z")!, month: "2026-11", agency: "ice-ero", kind: "records",
                                   effect: .deny, reason: reason, obligations: [])
            },
            checkpointSize: 3, checkpointRoot: "root", checkpointOrigin: "test/log"
        )
        let forgedMarkdown = ReportRenderer(data: forged, template: nil).markdown()
        #expect(forgedMarkdown.contains(##"| a\\u{A}\# b | 1 |"##) && forgedMarkdown.contains(#"| www\.evil\.example | 1 |"#), "\(forgedMarkdown)")
        #expect(forgedMarkdown.contains(#"| \\u{202E}x | 1 |"#) && !forgedMarkdown.contains("\u{202E}"), "\(forgedMarkdown)")
        let forgedHTML = ReportRenderer(data: forged, template: nil).html()
        #expect(forgedHTML.contains(#"a\u{A}# b"#) && !forgedHTML.contains("\u{202E}"))
        // An auditor's pass: a report of a quarter not yet over read as final. Computed while its requests could still
        // be logged (the period's end plus the longest a decision may take), it says so; after, it does not.
        for (computed, open) in [(period.end.addingTimeInterval(-86_400), true), (EntryTime.latestColumn(stating: period.end), false)] {
            let timed = ReportData(period: period, jurisdiction: "Test County", timeZone: denver, requests: requests, checkpointSize: 7,
                                   checkpointRoot: "root", checkpointOrigin: "test/log", computedAt: computed)
            let renderer = ReportRenderer(data: timed, template: nil)
            #expect(renderer.markdown().contains("Not final: computed at ") == open && renderer.html().contains("Not final") == open)
            #expect(renderer.csv().contains("\r\ncomputed-while-open,") == open)
        }
        #expect(ReportPeriod("2026-Q5", timeZone: denver) == nil)
        #expect(ReportPeriod("2026-13", timeZone: denver) == nil)
        // A helper's pass: these read as 2026-12 or 2026-Q4, and the report's heading printed them as written.
        for loose in ["2026--12", "2026-12-", "2026-Q+4", "2026-Q04", "2026-+1", "-2026", "2026-1", "２０２６"] {
            #expect(ReportPeriod(loose, timeZone: denver) == nil, "\(loose)")
        }
        #expect(ReportPeriod("2026-Q4", timeZone: denver)?.months == ["2026-10", "2026-11", "2026-12"])

        // A review of the reports: a request the gateway asked for again (the registry out of reach) and then allowed
        // counted as one denial and one allow, and an allow whose answer never came counted as access given. The
        // figures stay as logged; each report says how many of them are such.
        let time = Timestamp.parse("2026-11-02T19:00:00.000Z")!
        func request(_ effect: Effect, _ reason: String, answered: Bool = false) -> ReportData.Request {
            ReportData.Request(time: time, month: "2026-11", agency: "ice-ero", kind: "records", effect: effect, reason: reason, obligations: [],
                               subject: "2017-000123", answered: answered)
        }
        let retried = ReportData(
            period: period, jurisdiction: "Test County", timeZone: denver,
            requests: [request(.deny, "registry_unavailable"), request(.allow, "permitted", answered: true), request(.allow, "permitted"),
                       request(.deny, "warrant_missing")],
            checkpointSize: 4, checkpointRoot: "root", checkpointOrigin: "test/log"
        )
        #expect(retried.denied == 2 && retried.deniedUndecided == 1 && retried.allowed == 2 && retried.allowedUnanswered == 1)
        let told = ReportRenderer(data: retried, template: .denverCouncil)
        for text in [told.markdown(), told.html()] {
            #expect(text.contains("1 of the denied requests was not decided by the policy") && text.contains("1 of the allowed requests got no answer"), "\(text)")
        }
        #expect(told.csv().contains("\r\ndenied-not-decided,,,deny,,1\r\nallowed-not-answered,,,allow,,1\r\n"))
        #expect(!ReportRenderer(data: markup, template: nil).markdown().contains("not decided by the policy"))
    }

    /// An auditor's pass: an HTTP/2 client took the first 120 bytes of a record (name, charges, housing unit) and reset
    /// the stream; the TRUTH Act figure did not count the inmate as given access.
    @Test("an answer counts as given when the agency took it whole, or when some of a 2xx body was sent before it failed")
    func givenAccess() throws {
        func outcome(upstream: Int?, status: Int, bytes: Int, error: String?) -> String {
            let record = OutcomeRecord(
                decisionId: "d", time: "2026-12-05T12:00:00.000Z", upstreamStatus: upstream, status: status, bytes: bytes, latencyMs: 1,
                redactedFields: 0, error: error
            )
            return String(decoding: record.canonical, as: UTF8.self)
        }
        #expect(try ReportBuilder.answered(outcome(upstream: 200, status: 200, bytes: 500, error: nil)))
        #expect(try ReportBuilder.answered(outcome(upstream: 200, status: 499, bytes: 218, error: "client_closed")))
        #expect(try ReportBuilder.answered(outcome(upstream: 200, status: 200, bytes: 4096, error: "upstream_unredactable")))
        #expect(try !ReportBuilder.answered(outcome(upstream: 200, status: 499, bytes: 0, error: "client_closed")))
        #expect(try !ReportBuilder.answered(outcome(upstream: 404, status: 404, bytes: 120, error: nil)))
        #expect(try !ReportBuilder.answered(outcome(upstream: nil, status: 502, bytes: 90, error: "upstream_unavailable")))
        #expect(try !ReportBuilder.answered(nil))
    }

    @Test("the NYC and TRUTH Act templates list every request by kind, and count people without naming them")
    func custodyTemplates() throws {
        let zone = TimeZone(identifier: "America/Los_Angeles")!
        let period = try #require(ReportPeriod("2026", timeZone: zone))
        let time = LocalDate("2026-06-01")!.start(in: zone).addingTimeInterval(12 * 3600)
        // (action, effect, subject)
        let plan: [(String, Effect, String)] = [
            ("custody.hold", .deny, "2017-000123"), ("custody.release-notification", .allow, "2017-000123"),
            ("custody.transfer", .allow, "2017-000123"), ("interview.video", .allow, "2017-000456"),
            ("facility.secure-area", .deny, "2017-000789"), ("custody.arrest", .deny, "2017-000789"),
        ]
        let requests = plan.map { action, effect, subject in
            ReportData.Request(
                time: time, month: "2026-06", agency: "ice-ero", kind: ReportData.kind(of: action), effect: effect,
                reason: effect == .allow ? "permitted" : "warrant_missing", obligations: [], subject: subject, answered: effect == .allow
            )
        } + [
            // Allowed, but for a booking the system does not hold (404), or the agency left: no access given.
            ReportData.Request(time: time, month: "2026-06", agency: "ice-ero", kind: ReportData.kind(of: "records.read"), effect: .allow,
                               reason: "permitted", obligations: [], subject: "2017-999999", answered: false),
        ]
        let data = ReportData(period: period, jurisdiction: "Test County", timeZone: zone, requests: requests, checkpointSize: 6,
                              checkpointRoot: "root", checkpointOrigin: "test/log")
        #expect(["hold", "release date", "transfer", "interview or visit", "secure area", "arrest"].allSatisfy { data.count(kind: $0) == 1 })
        #expect(data.allowed == 4)
        #expect(data.individualsGivenAccess == 2)
        let truth = ReportRenderer(data: data, template: .californiaTruth).markdown()
        #expect(truth.contains("Individuals given ICE access: **2**"))
        #expect(truth.contains("7283.1"))
        // A day's requests by what they were, not in the order they came; California's list gives no reasons (a reason
        // beside a day, such as a declined interview, would tell of one inmate), its table of reasons counts them.
        #expect(truth.contains("| 2026-06-01 | arrest | deny |\n| 2026-06-01 | hold | deny |\n"), "\(truth)")
        #expect(!truth.contains("| hold | deny | warrant_missing |"))
        // Reasons are escaped as any text is: one appended by whoever can write the log must not make a table cell.
        #expect(truth.contains(#"| warrant\_missing | 3 |"#))
        #expect(!truth.contains("2017-000"))
        let nyc = ReportRenderer(data: data, template: .nycDetainers).csv()
        #expect(nyc.components(separatedBy: "\r\nrequests,").count - 1 == 7)
        #expect(nyc.contains("\r\nrequests,2026-06-01,hold,deny,warrant_missing,1\r\n"), "New York City's list says why: \(nyc)")
        #expect(!nyc.contains("2017-000") && !nyc.contains("individuals-given-access"))
        #expect(ReportRenderer(data: data, template: .californiaTruth).html().contains("individuals given ICE access"))
    }
}
