import Foundation
import Testing
@testable import WarrantGateCore

@Suite("Shipped policies and their test files")
struct ShippedPolicyTests {
    static let names = [
        "denver", "california", "cook-county", "oregon", "federal-cooperation", "new-york-city", "chicago", "king-county", "santa-clara",
    ]

    @Test("each shipped policy loads without warnings and passes its own test file", arguments: names)
    func passes(name: String) throws {
        let policy = try PolicyParser.load(path: Repository.path("policies/\(name).yaml"))
        #expect(policy.warnings.isEmpty, "\(policy.warnings)")
        let suite = try PolicyTestFile.load(path: Repository.path("policies/tests/\(name).yaml"))
        #expect(suite.cases.count >= 5)
        // As `policy test` runs it: beside the shipped agency directory, whose agencies keep their categories.
        let directory = Repository.path("policies/agencies.yaml")
        let declared = try Set(AgencyDirectoryFile.declaredCategories(YAMLNode.load(path: directory)))
        let listed = Dictionary(uniqueKeysWithValues: try AgencyDirectoryFile.listing(path: directory).map { ($0.id, $0.category) })
        let failures = suite.run(against: policy, declaredCategories: declared, listedAgencies: listed)
        for failure in failures { Issue.record("\(name): \(failure.name): \(failure.problems.joined(separator: "; "))") }
    }

    @Test("a test file reports a wrong expectation as a failure")
    func detectsFailures() throws {
        let file = try TestFileDirectory()
        defer { file.remove() }
        try """
            policy: \(Repository.path("policies/denver.yaml"))
            cases:
              - name: wrong on purpose
                agency: { id: ice-ero, category: federal-immigration }
                request: { path: /records/inmates/2017-000123 }
                expect: { effect: allow }
            """.write(to: file.url, atomically: true, encoding: .utf8)
        let suite = try PolicyTestFile.load(path: file.path)
        let failures = suite.run(against: try Repository.denver())
        #expect(failures.count == 1)
        #expect(failures.first?.problems.first?.contains("expected allow, got deny") == true)
    }

    /// An attacker's pass on the policy language: a case could list one document reference twice, a state the registry
    /// never holds, where a lookup by reference saw one and a lookup by inmate saw both.
    @Test("a test case may not give one document reference twice")
    func duplicateDocumentReference() throws {
        let file = try TestFileDirectory()
        defer { file.remove() }
        try """
            policy: \(Repository.path("policies/denver.yaml"))
            cases:
              - name: twice
                agency: { id: ice-ero, category: federal-immigration }
                request: { path: /records/inmates/2017-000123, warrant: JW-1 }
                documents:
                  - { reference: JW-1, kind: judicial-warrant, subjects: ["2017-000123"], scope: [records.read] }
                  - { reference: JW-1, kind: detainer, subjects: ["2017-000123"], scope: [custody.hold] }
                expect: { effect: allow }
            """.write(to: file.url, atomically: true, encoding: .utf8)
        let suite = try PolicyTestFile.load(path: file.path)
        #expect(suite.brokenCases.first?.error.hasSuffix("t.yaml:8: document reference 'JW-1' is given twice in this case; the registry holds each once") == true, "\(suite.brokenCases)")
        #expect(suite.run(against: try Repository.denver()).count == 1, "the broken case fails the run")
    }

    /// An attacker's pass over `policy test`: a case with a misspelt category matched no permit, so a case expecting
    /// a denial passed against a policy that allows; and an empty file passed.
    @Test("a test case's category must be built in or tested by the policy, and a listed agency's own; a file without cases is refused")
    func caseCategoryAndEmptyFile() throws {
        let file = try TestFileDirectory()
        defer { file.remove() }
        try """
            policy: \(Repository.path("policies/denver.yaml"))
            cases:
              - name: misspelt on purpose
                agency: { id: ice-ero, category: federal-imigration }
                request: { path: /records/inmates/2017-000123 }
                expect: { effect: deny, reason: warrant_missing }
            """.write(to: file.url, atomically: true, encoding: .utf8)
        let failures = try PolicyTestFile.load(path: file.path).run(against: try Repository.denver())
        #expect(failures.first?.problems == [
            "agency category 'federal-imigration' is neither built in, declared in the agency directory, nor tested by any rule of the policy",
        ], "\(failures)")
        // One the agency directory declares is a category a case may give, though no rule tests it.
        let declared = try Set(AgencyDirectoryFile.declaredCategories(YAMLNode.load(path: Repository.path("policies/agencies.yaml"))))
        try """
            policy: \(Repository.path("policies/denver.yaml"))
            cases:
              - name: a city agency gets nothing
                agency: { id: human-services, category: city-agency }
                request: { path: /records/inmates/2017-000123 }
                expect: { effect: deny, reason: no_matching_permit }
            """.write(to: file.url, atomically: true, encoding: .utf8)
        #expect(try PolicyTestFile.load(path: file.path).run(against: try Repository.denver(), declaredCategories: declared).isEmpty)
        // A policy-tests pass: a case that made ICE jail staff passed, proving an allow ICE can never get.
        let listed = Dictionary(uniqueKeysWithValues: try AgencyDirectoryFile.listing(path: Repository.path("policies/agencies.yaml")).map { ($0.id, $0.category) })
        try """
            policy: \(Repository.path("policies/denver.yaml"))
            cases:
              - name: ICE as jail staff
                agency: { id: ice-ero, category: jail-staff }
                request: { path: /records/inmates/2017-000123 }
                expect: { effect: allow }
            """.write(to: file.url, atomically: true, encoding: .utf8)
        let disguised = try PolicyTestFile.load(path: file.path).run(against: try Repository.denver(), declaredCategories: declared, listedAgencies: listed)
        #expect(disguised.first?.problems == [
            "agency 'ice-ero' is federal-immigration in the agency directory, not jail-staff: give another id for a made-up agency",
        ], "\(disguised)")
        // …nor under another spelling of its id, which no directory or registry writes.
        try String(contentsOf: file.url, encoding: .utf8).replacingOccurrences(of: "id: ice-ero", with: "id: ICE-ERO")
            .write(to: file.url, atomically: true, encoding: .utf8)
        let respelt = try PolicyTestFile.load(path: file.path).run(against: try Repository.denver(), declaredCategories: declared, listedAgencies: listed)
        #expect(respelt.first?.problems.first?.contains("agency id 'ICE-ERO' must be lower-case letters, digits and '-'") == true, "\(respelt)")
        try "policy: \(Repository.path("policies/denver.yaml"))\ncases: []\n".write(to: file.url, atomically: true, encoding: .utf8)
        #expect(throws: FileError.self) { try PolicyTestFile.load(path: file.path) }
    }

    /// A re-pass: a case whose warrant reference was misspelt passed on the "unknown warrant" refusal as the "not
    /// judicial" one it was named for, and a withhold on a denial checked nothing.
    @Test("a deny names its reason or rules, and a withhold goes with an allow")
    func vagueExpectations() throws {
        let file = try TestFileDirectory()
        defer { file.remove() }
        try """
            policy: \(Repository.path("policies/denver.yaml"))
            cases:
              - name: an I-200 is not judicial (its reference misspelt)
                agency: { id: ice-ero, category: federal-immigration }
                request: { path: /records/inmates/2017-000456, warrant: I200-l }
                documents: [{ reference: I200-1, kind: administrative-warrant, subjects: ["2017-000456"], scope: [records.read] }]
                expect: { effect: deny }
              - name: a withheld field of a denial
                agency: { id: ice-ero, category: federal-immigration }
                request: { path: /records/inmates/2017-000456 }
                expect: { effect: deny, reason: warrant_missing, withhold: [citizenshipp] }
            """.write(to: file.url, atomically: true, encoding: .utf8)
        let failures = try PolicyTestFile.load(path: file.path).run(against: try Repository.denver())
        #expect(failures.map(\.problems) == [
            ["expect: a deny names its reason (or the rules that decide it): any refusal, one for a misspelt reference or path among them, would pass a bare deny"],
            ["withhold: a denied request returns nothing, so a withhold checks nothing here"],
        ], "\(failures)")
    }

    /// Passes over `policy test`: facts under a booking number a digit short, a misspelt `public-…` fact and a
    /// misspelt `keep:` each reached nothing the decision reads, and the case passed on them.
    @Test("a case's evidence must reach the decision: facts and records of the request's inmate, declared public facts, keeps that can fail")
    func unreadEvidence() throws {
        let file = try TestFileDirectory()
        defer { file.remove() }
        try """
            policy: \(Repository.path("policies/california.yaml"))
            cases:
              - name: facts and records of someone else
                agency: { id: ice-ero, category: federal-immigration }
                request: { path: /records/inmates/2017-000456/release }
                facts: { "2017-00456": { conviction: serious-felony }, "2017-000123": { conviction: serious-felony } }
                records: [{ subject: "2017-000123", kind: advisement }]
                documents: [{ reference: W-1, kind: judicial-warrant, subjects: ["2017-000123", "2017-12"], scope: [records.release-date] }]
                expect: { effect: deny, reason: warrant_missing }
              - name: a misspelt public fact, and a value no public fact takes
                agency: { id: ice-ero, category: federal-immigration }
                request: { path: /records/inmates/2017-000789/release }
                facts: { "2017-000789": { public-relase-date: "yes", public-release-date: "true" } }
                expect: { effect: deny, reason: warrant_missing }
            """.write(to: file.url, atomically: true, encoding: .utf8)
        let failures = try PolicyTestFile.load(path: file.path).run(against: try PolicyParser.load(path: Repository.path("policies/california.yaml")))
        #expect(failures.map(\.problems) == [
            [
                "facts: '2017-000123' is not the inmate the request names (2017-000456), so the decision never reads them",
                "facts: '2017-00456' is not a booking number of subject-format ####-######",
                "records: '2017-000123' is not the inmate the request names (2017-000456), so the decision never reads them",
                "documents: 'W-1' names '2017-12', which is not a booking number of subject-format ####-######",
            ],
            [
                "facts of 2017-000789: 'public-relase-date' is neither a fact the policy declares nor public-<kind> for a kind of data its routes return (conviction, listed-offense-felony-date, listed-offense-misdemeanor-date, prop-47-misdemeanor, public-address, public-custody-status, public-interview, public-record, public-release-date, public-status, public-visits)",
                "facts of 2017-000789: 'true' is not a value of fact 'public-release-date' (values: no, yes)",
            ],
        ], "\(failures)")
        // A keep of a field the policy never redacts, nor could leave out, passes whatever the decision.
        try """
            policy: \(Repository.path("policies/denver.yaml"))
            cases:
              - name: a misspelt keep
                agency: { id: ice-ero, category: federal-immigration }
                request: { path: /records/inmates/2017-000123, warrant: JW-1 }
                documents: [{ reference: JW-1, kind: judicial-warrant, subjects: ["2017-000123"], scope: [records.read] }]
                expect: { effect: allow, keep: [citizenshp], withhold: [citizenship] }
            """.write(to: file.url, atomically: true, encoding: .utf8)
        let keeps = try PolicyTestFile.load(path: file.path).run(against: try Repository.denver())
        #expect(keeps.map(\.problems) == [["keep: 'citizenshp' is a field the policy never redacts or leaves out, so the keep could never fail: name one it redacts"]], "\(keeps)")
    }

    /// A re-pass: in a permit that removes fields, a misspelt test under `not:` (which turns a plain permit's test
    /// around) loaded with a warning, and the permit served ICE the record it was written to keep from it.
    @Test("in a permit that removes fields, a test that matches nothing is an error whichever way not: turns it")
    func fieldRemovingPermitsWidenBothWays() {
        for when in ["{ not: { action: records.relese } }", "{ action: records.releese }", "{ any: [{ not: { not: { action: x.y } } }] }"] {
            #expect(throws: FileError.self, "\(when)") {
                try OneRoutePolicy.parse(rules: "- { id: p, effect: permit, when: \(when), redact: [address] }")
            }
        }
        // A category is checked against the agency directory, where it widens a rule.
        for when in ["{ action: records.read, not: { category: federal-imigration } }", "{ all: [{ not: { not: { category: federal-imigration } } }] }"] {
            let policy = try? OneRoutePolicy.parse(rules: "- { id: p, effect: permit, when: \(when), return-only: [name] }")
            #expect(policy?.categoriesWidening[AgencyCategory(rawValue: "federal-imigration")!] == ["p"], "\(when)")
        }
        // Where a plain permit's test only narrows it, a warning, as before.
        #expect(throws: Never.self) { try OneRoutePolicy.parse(rules: "- { id: p, effect: permit, when: { action: records.releese } }") }
    }

    /// An attacker's pass: one condition listing an unknown action 187,034 times, in a policy of 1,000 routes, took
    /// six minutes and 4 GB to load (each pattern scanned every action and listed them all in its warning).
    @Test("an action pattern is checked once per condition, by lookup; a warning lists twenty known actions at most")
    func actionPatternsChecked() throws {
        let routes = (0..<50).map { #"  - { id: r\#($0), method: GET, path: "/r\#($0)/{b}", action: a\#($0).read, subject: { path: b }, upstream: records }"# }
        let policy = try PolicyParser.parse("""
            policy: t
            time-zone: UTC
            subject-format: "####"
            routes:
            \(routes.joined(separator: "\n"))
            rules:
              - { id: many, effect: permit, when: { category: court, action: [\(Array(repeating: "q.x", count: 5_000).joined(separator: ", ")), a7.*, "*", a3.read] } }
            """, file: "t.yaml")
        let warnings = policy.warnings.map(\.message).filter { $0.contains("matches no route") }
        #expect(warnings.count == 1)
        #expect(warnings.first?.hasSuffix("and 30 more)") == true, "\(warnings)")
        // The lookup agrees with the matcher the evaluator uses.
        let actions = ["records.read", "records.release-date", "visitation.schedule", "custody.release.notify"]
        let matching = PolicyParser.patternsMatching(actions)
        for pattern in ["*", "records.*", "records.read", "records.read.*", "custody.*", "custody.release.*", "visitation.*", "visit.*", "records", "custody.release"] {
            #expect(matching.contains(pattern) == actions.contains { ActionPattern.matches(pattern: pattern, action: $0) }, "\(pattern)")
        }
        // Notes are one string: a rule written under them by mistake does not load as a note.
        #expect(throws: FileError.self) {
            try PolicyParser.parse("policy: t\ntime-zone: UTC\nnotes:\n  - { id: f, effect: forbid, when: always }\nrules: []\n", file: "t.yaml")
        }
    }

    @Test("lint: rules that can never match, shadowed permits, repeated rules and unknown data are warned about")
    func lint() throws {
        let policy = try PolicyParser.parse("""
            policy: t
            time-zone: UTC
            subject-format: "####"
            facts: { conviction: [felony, none] }
            routes:
              - { id: read, method: GET, path: "/r/{b}", action: records.read, subject: { path: b }, upstream: records, data: [record] }
            rules:
              - { id: impossible, effect: permit, when: { all: [{ category: court }, { category: consulate }] } }
              - { id: no-consulates, effect: forbid, when: { category: consulate }, reason: barred }
              - { id: consulate-records, effect: permit, when: { category: consulate, action: records.read } }
              - { id: again, effect: permit, when: { category: consulate, action: records.read } }
              - { id: addresses, effect: permit, when: { data: [address] } }
              - { id: facts, effect: permit, when: { fact: { conviction: [misdemeanor] } } }
              - { id: ghost-action, effect: permit, when: { action: records.write } }
            """, file: "t.yaml")
        let messages = policy.warnings.map(\.message)
        #expect(messages.contains { $0.contains("'impossible' can never match") })
        #expect(messages.contains { $0.contains("'consulate-records' is shadowed") && $0.contains("no-consulates") })
        #expect(messages.contains { $0.contains("'again' repeats rule 'consulate-records'") })
        #expect(messages.contains { $0.contains("no route returns data 'address'") })
        #expect(messages.contains { $0.contains("'misdemeanor' is not a declared value") })
        #expect(messages.contains { $0.contains("'records.write' matches no route") })
        #expect(policy.warnings.allSatisfy { $0.line != nil })
        // The same unknown action in a forbid rule is an error: a forbid that never matches is a hole.
        #expect(throws: FileError.self) {
            try OneRoutePolicy.parse(rules: "- { id: f, effect: forbid, when: { action: records.write }, reason: x }")
        }
    }

    @Test("explain names the first failing condition of each rule")
    func explain() throws {
        let policy = try Repository.denver()
        let target = try CanonicalTarget(raw: "/records/inmates/2017-000123")
        let match = try policy.classifier.match(method: "GET", target: target)
        let classification = try policy.classifier.classify(route: match.route, parameters: match.parameters, target: target, body: nil, contentType: nil)
        let explanation = Evaluator(policy: policy).explain(
            EvaluationInput(agency: Agency(id: "ice-ero", name: "", category: .federalImmigration), method: "GET",
                            classification: classification, warrantReference: "JW-X", time: Date()),
            registry: RegistrySnapshot.empty
        )
        #expect(explanation.decision.reason == "warrant_unknown")
        let forbid = try #require(explanation.traces.first { $0.rule.id == "immigration-requires-judicial-warrant" })
        #expect(forbid.applied)
        let permit = try #require(explanation.traces.first { $0.rule.id == "immigration-with-judicial-warrant" })
        #expect(permit.note == "when: warrant verified does not hold (warrant_unknown)")
        #expect(explanation.traces.first { $0.rule.id == "local-partners-records-and-visits" }?.note.hasPrefix("when: category") == true)
    }

    @Test("a policy may set the facts it declares, and public-<data kind> yes or no for the kinds its routes return")
    func settableFactsOfPolicy() throws {
        let policy = try PolicyParser.load(path: Repository.path("policies/california.yaml"))
        let settable = policy.settableFacts
        #expect(settable["conviction"] == policy.facts["conviction"])
        #expect(settable["public-release-date"] == .values(["yes", "no"]))
        #expect(FactDeclaration.decoded(FactDeclaration.encoded(settable)) == settable)
        #expect(FactDeclaration.decoded(#"{"a":1}"#) == nil)
        #expect(FactDeclaration.decoded("[]") == nil)
    }
}

/// A policy test file's place in a directory of its own, removed after the test.
private struct TestFileDirectory {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-policy-test-\(UUID().uuidString)")
    var url: URL { directory.appendingPathComponent("t.yaml") }
    var path: String { url.path }

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
