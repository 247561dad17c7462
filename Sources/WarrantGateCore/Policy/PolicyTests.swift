import Foundation

/// One case of a policy test file: a request, what the registry holds, and the expected outcome.
public struct PolicyTestCase: Sendable {
    public let name: String
    public let line: Int?
    public let agency: Agency
    public let method: String
    public let path: String
    public let warrant: String?
    public let body: [UInt8]?
    public let time: Date
    public let registry: RegistrySnapshot
    public let expectedEffect: Effect
    public let expectedReason: String?
    public let expectedRules: [String]?
    /// Names that must be among the redacted ones, written as the policy's `redact:` entries are.
    public let expectedRedact: [String]
    public let expectedObligations: [String]?
}

/// A policy test file (`policies/tests/<name>.yaml`), the analogue of `opa test`. See `policies/README.md`.
public struct PolicyTestFile: Sendable {
    public let path: String
    public let policyPath: String
    public let cases: [PolicyTestCase]

    /// The result of one case: nil when it passed, else what differed.
    public struct Failure: Sendable {
        public let testCase: PolicyTestCase
        public let problems: [String]
    }

    public static let defaultTime = "2026-11-25T12:00:00Z"

    public static func load(path: String) throws -> PolicyTestFile {
        let root = try YAMLNode.load(path: path)
        try root.requireKeys(in: ["policy", "cases"], what: "policy test file")
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        let policyText = try root.required("policy", in: "policy test file").string("policy")
        let policyPath = policyText.hasPrefix("/") ? policyText : base.appendingPathComponent(policyText).standardizedFileURL.path
        let cases = try root.required("cases", in: "policy test file").sequence("cases").map(parseCase)
        return PolicyTestFile(path: path, policyPath: policyPath, cases: cases)
    }

    /// Runs every case against `policy`; returns the failures.
    public func run(against policy: Policy) -> [Failure] {
        let stages = RequestStages(policy: policy)
        return cases.compactMap { testCase in
            let decision = stages.decide(
                PolicyRequest(
                    agency: testCase.agency, method: testCase.method, target: testCase.path, body: testCase.body,
                    warrantReference: testCase.warrant, time: testCase.time
                ),
                registry: testCase.registry
            )
            var problems: [String] = []
            if decision.effect != testCase.expectedEffect { problems.append("effect: expected \(testCase.expectedEffect.rawValue), got \(decision.effect.rawValue)") }
            if let reason = testCase.expectedReason, decision.reason != reason { problems.append("reason: expected \(reason), got \(decision.reason)") }
            if let rules = testCase.expectedRules, decision.rules != rules {
                problems.append("rules: expected [\(rules.joined(separator: ", "))], got [\(decision.rules.joined(separator: ", "))]")
            }
            for entry in testCase.expectedRedact {
                do throws(RedactionVocabulary.Unresolved) {
                    if try !policy.vocabulary.names(for: entry).allSatisfy(decision.redact.contains) {
                        problems.append("redact: expected \(entry) to be removed")
                    }
                } catch {
                    problems.append(error.message)
                }
            }
            if let obligations = testCase.expectedObligations, Set(decision.obligations) != Set(obligations) {
                problems.append("obligations: expected [\(obligations.joined(separator: ", "))], got [\(decision.obligations.joined(separator: ", "))]")
            }
            return problems.isEmpty ? nil : Failure(testCase: testCase, problems: problems)
        }
    }

    private static func parseCase(_ node: YAMLNode) throws -> PolicyTestCase {
        try node.requireKeys(in: ["name", "time", "agency", "request", "documents", "records", "facts", "expect"], what: "test case")
        let name = try node.required("name", in: "test case").string("name")
        let time = try instant(node["time"]?.string("time") ?? defaultTime, node)
        let agencyNode = try node.required("agency", in: "test case '\(name)'")
        try agencyNode.requireKeys(in: ["id", "category"], what: "agency")
        let categoryText = try agencyNode.required("category", in: "agency").string("category")
        guard let category = AgencyCategory(rawValue: categoryText) else { throw agencyNode.error("unknown category '\(categoryText)'") }
        let agency = Agency(id: try agencyNode.required("id", in: "agency").string("id"), name: "", category: category)

        let request = try node.required("request", in: "test case '\(name)'")
        try request.requireKeys(in: ["method", "path", "warrant", "body"], what: "request")
        let timeZone = TimeZone(identifier: "UTC")!
        var documents: [RegisteredDocument] = []
        for document in try node["documents"]?.sequence("documents") ?? [] {
            try document.requireKeys(in: ["reference", "kind", "status", "agency", "subjects", "scope", "expires", "registered"], what: "document")
            let kindText = try document.required("kind", in: "document").string("kind")
            guard let kind = DocumentKind(rawValue: kindText) else { throw document.error("unknown document kind '\(kindText)'") }
            let statusText = try document["status"]?.string("status") ?? "active"
            guard let status = DocumentStatus(rawValue: statusText) else { throw document.error("unknown status '\(statusText)'") }
            let expiresText = try document["expires"]?.string("expires") ?? "2099-12-31"
            guard let expires = LocalDate(expiresText) else { throw document.error("expires must be YYYY-MM-DD") }
            documents.append(RegisteredDocument(
                reference: try document.required("reference", in: "document").string("reference"), kind: kind, status: status,
                agency: try document["agency"]?.string("agency") ?? agency.id, subjects: try document.required("subjects", in: "document").strings("subjects"),
                scope: try document["scope"]?.strings("scope") ?? ["*"], expires: expires.description, expiresAt: expires.end(in: timeZone),
                registeredAt: try document["registered"].map { try instant($0.string("registered"), $0) } ?? time.addingTimeInterval(-86400)
            ))
        }
        var records: [SubjectRecord] = []
        for record in try node["records"]?.sequence("records") ?? [] {
            try record.requireKeys(in: ["subject", "kind", "given", "attorney-required", "fields", "language"], what: "record")
            let kindText = try record.required("kind", in: "record").string("kind")
            guard let kind = SubjectRecordKind(rawValue: kindText) else { throw record.error("unknown record kind '\(kindText)'") }
            records.append(SubjectRecord(
                subject: try record.required("subject", in: "record").string("subject"), kind: kind, givenBy: "test",
                givenAt: try record["given"].map { try instant($0.string("given"), $0) } ?? time.addingTimeInterval(-3600),
                language: try record["language"]?.string("language"), attorneyRequired: try record["attorney-required"]?.bool("attorney-required") ?? false,
                scope: try record["fields"]?.strings("fields") ?? []
            ))
        }
        var facts: [String: [String: String]] = [:]
        for (subject, values) in try node["facts"]?.mapping("facts") ?? [] {
            for (factName, value) in try values.mapping("facts of \(subject)") { facts[subject, default: [:]][factName] = try value.string("fact value") }
        }

        let expect = try node.required("expect", in: "test case '\(name)'")
        try expect.requireKeys(in: ["effect", "reason", "rules", "redact", "obligations"], what: "expect")
        let effectText = try expect.required("effect", in: "expect").string("effect")
        guard let effect = Effect(rawValue: effectText) else { throw expect.error("effect must be allow or deny") }
        return PolicyTestCase(
            name: name, line: node.line, agency: agency, method: try request["method"]?.string("method") ?? "GET",
            path: try request.required("path", in: "request").string("path"), warrant: try request["warrant"]?.string("warrant"),
            body: try request["body"].map { Array(try $0.string("body").utf8) }, time: time,
            registry: RegistrySnapshot(documents: documents, records: records, facts: facts, version: 1),
            expectedEffect: effect, expectedReason: try expect["reason"]?.string("reason"), expectedRules: try expect["rules"]?.strings("rules"),
            expectedRedact: try expect["redact"]?.strings("redact") ?? [], expectedObligations: try expect["obligations"]?.strings("obligations")
        )
    }

    private static func instant(_ text: String, _ node: YAMLNode) throws -> Date {
        if let date = LocalDate(text) { return date.start(in: TimeZone(identifier: "UTC")!) }
        guard let instant = Timestamp.parse(text) else { throw node.error("'\(text)' is not a date or an ISO 8601 time") }
        return instant
    }
}
