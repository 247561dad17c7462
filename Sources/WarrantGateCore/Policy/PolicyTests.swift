import Foundation

/// One case of a policy test file: a request, what the registry holds, and the expected outcome.
public struct PolicyTestCase: Sendable {
    public let name: String
    public let line: Int?
    public let request: PolicyRequest
    public let registry: RegistrySnapshot
    /// The facts the case sets, by subject: the registry holds them too.
    public let facts: [String: [String: String]]
    public let expectedEffect: Effect
    public let expectedReason: String?
    /// Each list, when given, must equal the decision's as a set: `redact` (written as a policy's `redact:` entries
    /// are), `rules` and `obligations`.
    public let expectedRules: [String]?
    public let expectedRedact: [String]?
    public let expectedObligations: [String]?
    /// Fields that must reach the client, and fields that must not: written as `redact:` entries are.
    public let expectedKeep: [String]
    public let expectedWithhold: [String]

    /// The registry as a gateway under a policy in `timeZone` holds it: each document valid through the end of the
    /// last day it names in that zone, as registration records it.
    func registry(in timeZone: TimeZone) -> RegistrySnapshot {
        let documents = registry.documents.values.map { document in
            var dated = document
            if let day = LocalDate(document.expires) { dated.expiresAt = day.end(in: timeZone) }
            return dated
        }
        return RegistrySnapshot(documents: documents, records: registry.recordsBySubject.values.flatMap { $0 }, facts: facts, version: registry.version)
    }
}

/// A policy test file (`policies/tests/<name>.yaml`), the analogue of `opa test`. Its format is documented in
/// `docs/policy-tests.md`.
///
/// A case that cannot be read is kept as a ``BrokenCase`` and reported on its own; the file's other cases still run.
public struct PolicyTestFile: Sendable {
    public let path: String
    public let policyPath: String
    public let cases: [PolicyTestCase]
    public let brokenCases: [BrokenCase]

    /// A case the file does not let the runner read, with why.
    public struct BrokenCase: Sendable {
        public let name: String?
        public let line: Int?
        public let error: String
    }

    /// A case that did not pass, with every way it differed (or why it could not run).
    public struct Failure: Sendable {
        public let name: String
        public let line: Int?
        public let problems: [String]
    }

    public static let defaultTime = "2026-11-25T12:00:00Z"
    static let caseKeys: Set<String> = ["name", "time", "agency", "request", "documents", "records", "facts", "expect"]
    static let requestKeys: Set<String> = ["method", "path", "warrant", "body", "headers"]
    static let documentKeys: Set<String> = [
        "reference", "kind", "status", "agency", "subjects", "scope", "expires", "registered", "court", "judge", "case-number",
        "signature", "signed-by",
    ]
    static let recordKeys: Set<String> = ["subject", "kind", "given", "attorney-required", "fields", "language"]
    static let expectKeys: Set<String> = ["effect", "reason", "rules", "redact", "keep", "withhold", "obligations"]

    public static func load(path: String) throws -> PolicyTestFile {
        let root = try YAMLNode.load(path: path)
        try root.requireKeys(in: ["policy", "cases"], what: "policy test file")
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        let policyText = try root.required("policy", in: "policy test file").string("policy")
        let policyPath = policyText.hasPrefix("/") ? policyText : base.appendingPathComponent(policyText).standardizedFileURL.path
        var cases: [PolicyTestCase] = []
        var broken: [BrokenCase] = []
        let caseNodes = try root.required("cases", in: "policy test file")
        guard !(try caseNodes.sequence("cases")).isEmpty else { throw caseNodes.error("cases: the file holds no cases, so it tests nothing") }
        for node in try caseNodes.sequence("cases") {
            do {
                cases.append(try parseCase(node))
            } catch {
                broken.append(BrokenCase(name: try? node["name"]?.string("name"), line: node.line, error: "\(error)"))
            }
        }
        return PolicyTestFile(path: path, policyPath: policyPath, cases: cases, brokenCases: broken)
    }

    /// Runs every case against `policy`: the failures, broken cases first, each case once. A case's agency category
    /// must be built in, tested by a rule, or among `declaredCategories` (the agency directory's), and an agency the
    /// directory lists (`listedAgencies`, by id) must have the category it lists.
    public func run(
        against policy: Policy, declaredCategories: Set<AgencyCategory> = [], listedAgencies: [String: AgencyCategory] = [:]
    ) -> [Failure] {
        let stages = RequestStages(policy: policy)
        var failures = brokenCases.map { Failure(name: $0.name ?? "(unnamed)", line: $0.line, problems: [$0.error]) }
        let categories = policy.categoriesTested.union(AgencyCategory.builtIn).union(declaredCategories)
        for testCase in cases {
            var undeclared = Self.undeclaredFacts(testCase, policy: policy) + Self.unreadEvidence(testCase, policy: policy, stages: stages)
                + Self.unknownKeeps(testCase, policy: policy) + Self.vagueExpectations(testCase)
            // A misspelt category matches no rule: a case expecting a denial would pass for that alone.
            let category = testCase.request.agency.category
            if !categories.contains(category) {
                undeclared.append("agency category '\(category.rawValue)' is neither built in, declared in the agency directory, nor tested by any rule of the policy")
            }
            // A case that gave ICE another category would pass for what ICE can never be.
            let id = testCase.request.agency.id
            if let listed = listedAgencies[id], listed != category {
                undeclared.append("agency '\(id)' is \(listed.rawValue) in the agency directory, not \(category.rawValue): give another id for a made-up agency")
            }
            guard undeclared.isEmpty else {
                failures.append(Failure(name: testCase.name, line: testCase.line, problems: undeclared))
                continue
            }
            let decision = stages.decide(testCase.request, registry: testCase.registry(in: policy.timeZone))
            let problems = Self.problems(testCase, decision, vocabulary: policy.vocabulary)
            if !problems.isEmpty { failures.append(Failure(name: testCase.name, line: testCase.line, problems: problems)) }
        }
        return failures
    }

    /// What a case expects that a decision made for another cause would meet as well: a bare `effect: deny` (any
    /// refusal passes it, one for a misspelt warrant reference or path among them), and a `withhold:` on a denial
    /// (nothing reaches the client whatever it names).
    private static func vagueExpectations(_ testCase: PolicyTestCase) -> [String] {
        guard testCase.expectedEffect == .deny else { return [] }
        var problems: [String] = []
        if testCase.expectedReason == nil && (testCase.expectedRules ?? []).isEmpty {
            problems.append("expect: a deny names its reason (or the rules that decide it): any refusal, one for a misspelt reference or path among them, would pass a bare deny")
        }
        if !testCase.expectedWithhold.isEmpty {
            problems.append("withhold: a denied request returns nothing, so a withhold checks nothing here")
        }
        return problems
    }

    /// How the decision differs from what the case expects.
    private static func problems(_ testCase: PolicyTestCase, _ decision: Decision, vocabulary: RedactionVocabulary) -> [String] {
        var problems: [String] = []
        if decision.effect != testCase.expectedEffect {
            problems.append("effect: expected \(testCase.expectedEffect.rawValue), got \(decision.effect.rawValue) (reason \(decision.reason))")
        }
        if let reason = testCase.expectedReason, decision.reason != reason { problems.append("reason: expected \(reason), got \(decision.reason)") }
        if let rules = testCase.expectedRules { problems += setDifference("rules", expected: Set(rules), got: Set(decision.rules)) }
        if let obligations = testCase.expectedObligations {
            problems += setDifference("obligations", expected: Set(obligations), got: Set(decision.obligations))
        }
        if let entries = testCase.expectedRedact {
            do throws(RedactionVocabulary.Unresolved) {
                var expected = Set<String>()
                for entry in entries { expected.formUnion(try vocabulary.names(for: entry)) }
                problems += setDifference("redact", expected: expected, got: decision.redact, describe: vocabulary.described)
            } catch {
                problems.append(error.message)
            }
        }
        for entry in testCase.expectedKeep {
            do throws(RedactionVocabulary.Unresolved) {
                let names = try vocabulary.names(for: entry)
                if decision.effect != .allow {
                    problems.append("keep: expected \(entry) to reach the client, but the request is denied")
                } else if let removed = names.first(where: { !decision.keeps(topLevel: $0) }) {
                    let why = decision.redact.contains(removed) ? "it is redacted" : "the permit returns only other fields"
                    problems.append("keep: expected \(entry) to reach the client, but \(why)")
                }
            } catch {
                problems.append(error.message)
            }
        }
        for entry in testCase.expectedWithhold {
            do throws(RedactionVocabulary.Unresolved) {
                if decision.effect == .allow, let kept = try vocabulary.names(for: entry).first(where: decision.keeps(topLevel:)) {
                    problems.append("withhold: expected \(entry) not to reach the client, but \(kept) does")
                }
            } catch {
                problems.append(error.message)
            }
        }
        return problems
    }

    /// The difference between two sets, named, or nothing when they are equal.
    private static func setDifference(
        _ what: String, expected: Set<String>, got: Set<String>, describe: (Set<String>) -> [String] = { $0.sorted() }
    ) -> [String] {
        guard expected != got else { return [] }
        var parts: [String] = []
        let missing = describe(expected.subtracting(got)), extra = describe(got.subtracting(expected))
        if !missing.isEmpty { parts.append("missing [\(missing.joined(separator: ", "))]") }
        if !extra.isEmpty { parts.append("unexpected [\(extra.joined(separator: ", "))]") }
        return ["\(what): \(parts.joined(separator: "; ")) (got [\(describe(got).joined(separator: ", "))])"]
    }

    /// Facts a case sets that the registry may not hold under the policy (``Policy/settableFacts``: those it declares,
    /// and `public-<kind>` for a kind of data its routes return), or values they do not take: a case must not pass
    /// because it misspelled a fact the rule tests.
    private static func undeclaredFacts(_ testCase: PolicyTestCase, policy: Policy) -> [String] {
        var problems: [String] = []
        let settable = policy.settableFacts
        for (subject, facts) in testCase.facts.sorted(by: { $0.key < $1.key }) {
            for (name, value) in facts.sorted(by: { $0.key < $1.key }) {
                guard let declaration = settable[name] else {
                    problems.append(
                        "facts of \(subject): '\(name)' is neither a fact the policy declares nor public-<kind> for a kind of data its routes return (\(settable.keys.sorted().joined(separator: ", ")))"
                    )
                    continue
                }
                if let problem = declaration.problem(with: value, of: name) { problems.append("facts of \(subject): \(problem)") }
            }
        }
        return problems
    }

    /// Facts and records a case sets for anyone but the inmate its request names, whom alone the decision reads them
    /// of, and booking numbers the policy's subject format refuses, where documents name them too: evidence a case
    /// gives that never reaches the decision must not make it pass. Documents may name other inmates, as a warrant
    /// for someone else does.
    private static func unreadEvidence(_ testCase: PolicyTestCase, policy: Policy, stages: RequestStages) -> [String] {
        let format = policy.subjectFormat
        let subject = (try? stages.classify(testCase.request))?.input.classification.subject
        var problems: [String] = []
        for (what, named) in [("facts", testCase.facts.keys.sorted()), ("records", testCase.registry.recordsBySubject.keys.sorted())] {
            for given in named {
                if !format.accepts(given) {
                    problems.append("\(what): '\(given)' is not a booking number of subject-format \(format.pattern)")
                } else if given != subject {
                    problems.append("\(what): '\(given)' is not the inmate the request names (\(subject ?? "none")), so the decision never reads them")
                }
            }
        }
        for document in testCase.registry.documents.values.sorted(by: { $0.reference < $1.reference }) {
            for named in document.subjects where !format.accepts(named) {
                problems.append("documents: '\(document.reference)' names '\(named)', which is not a booking number of subject-format \(format.pattern)")
            }
        }
        return problems
    }

    /// `keep:` entries that could never fail (``Decision/keeps(topLevel:)``), so that a misspelt one would pass: where
    /// no permit returns chosen fields alone and none of the case's documents releases a chosen field alone, a field
    /// that no redact or lift list of the policy or its permits names, nor its profiles list.
    private static func unknownKeeps(_ testCase: PolicyTestCase, policy: Policy) -> [String] {
        let narrowing = policy.rules.contains { $0.keepOnly != nil }
            || testCase.registry.documents.values.contains { $0.scope.contains { ScopeEntry($0).field != nil } }
        guard !narrowing else { return [] }
        var known = Set(policy.redactAlways)
        for rule in policy.rules { known.formUnion(rule.redact + rule.lift) }
        for profile in policy.vocabulary.profiles.values { known.formUnion(profile.concepts.values.joined()) }
        return testCase.expectedKeep.filter { entry in
            (try? policy.vocabulary.names(for: entry))?.contains { !known.contains($0) } ?? false
        }.map { "keep: '\($0)' is a field the policy never redacts or leaves out, so the keep could never fail: name one it redacts" }
    }

    private static func parseCase(_ node: YAMLNode) throws -> PolicyTestCase {
        try node.requireKeys(in: caseKeys, what: "test case")
        let name = try node.required("name", in: "test case").string("name")
        let time = try instant(node["time"]?.string("time") ?? defaultTime, node)
        let agencyNode = try node.required("agency", in: "test case '\(name)'")
        try agencyNode.requireKeys(in: ["id", "category"], what: "agency")
        let categoryNode = try agencyNode.required("category", in: "agency")
        let categoryText = try categoryNode.string("category")
        guard let category = AgencyCategory(rawValue: categoryText) else {
            throw categoryNode.error("'\(categoryText)' is not a category name (built in: \(AgencyCategory.builtIn.map(\.rawValue).joined(separator: ", ")))")
        }
        let idNode = try agencyNode.required("id", in: "agency")
        let id = try idNode.string("id")
        // As the directory and the registry write ids: `ICE-ERO` would be no listed agency, whatever category it gave.
        guard Identifier.isValid(id) else { throw idNode.error("agency id '\(id)' must be lower-case letters, digits and '-'") }
        let agency = Agency(id: id, name: "", category: category)

        let request = try node.required("request", in: "test case '\(name)'")
        try request.requireKeys(in: requestKeys, what: "request")
        var headers: [String: [String]] = [:]
        for (header, value) in try request["headers"]?.mapping("headers") ?? [] {
            headers[header.lowercased(), default: []].append(try value.string("header value"))
        }
        let body = try request["body"].map { Array(try $0.string("body").utf8) }
        let documentNodes = try node["documents"]?.sequence("documents") ?? []
        let documents = try documentNodes.map { try document($0, agency: agency, time: time) }
        // The registry holds a reference once; a case holding one twice would test a state the gateway never meets.
        for (index, document) in documents.enumerated() where documents[..<index].contains(where: { $0.reference == document.reference }) {
            throw documentNodes[index].error("document reference '\(document.reference)' is given twice in this case; the registry holds each once")
        }
        let records = try (node["records"]?.sequence("records") ?? []).map { try record($0, time: time) }
        var facts: [String: [String: String]] = [:]
        for (subject, values) in try node["facts"]?.mapping("facts") ?? [] {
            for (factName, value) in try values.mapping("facts of \(subject)") { facts[subject, default: [:]][factName] = try value.string("fact value") }
        }

        let expect = try node.required("expect", in: "test case '\(name)'")
        try expect.requireKeys(in: expectKeys, what: "expect")
        let effectNode = try expect.required("effect", in: "expect")
        let effectText = try effectNode.string("effect")
        guard let effect = Effect(rawValue: effectText) else { throw effectNode.error("effect must be allow or deny, not '\(effectText)'") }
        return PolicyTestCase(
            name: name, line: node.line,
            request: PolicyRequest(
                agency: agency, method: try request["method"]?.string("method") ?? "GET", target: try request.required("path", in: "request").string("path"),
                body: body, warrantReference: try request["warrant"]?.string("warrant"), headers: PolicyRequest.labelling(body, in: headers),
                time: time
            ),
            registry: RegistrySnapshot(documents: documents, records: records, facts: facts, version: 1), facts: facts,
            expectedEffect: effect, expectedReason: try expect["reason"]?.string("reason"), expectedRules: try expect["rules"]?.strings("rules"),
            expectedRedact: try expect["redact"]?.strings("redact"), expectedObligations: try expect["obligations"]?.strings("obligations"),
            expectedKeep: try fieldList(expect["keep"], "keep"), expectedWithhold: try fieldList(expect["withhold"], "withhold")
        )
    }

    /// A `keep:` or `withhold:` list; one given empty checks nothing, and is refused.
    private static func fieldList(_ node: YAMLNode?, _ key: String) throws -> [String] {
        guard let node else { return [] }
        let fields = try node.strings(key)
        guard !fields.isEmpty else { throw node.error("\(key): an empty list checks nothing: name the fields, or leave it out") }
        return fields
    }

    private static func document(_ node: YAMLNode, agency: Agency, time: Date) throws -> RegisteredDocument {
        try node.requireKeys(in: documentKeys, what: "document")
        let kindNode = try node.required("kind", in: "document")
        let kindText = try kindNode.string("kind")
        guard let kind = DocumentKind(rawValue: kindText) else {
            throw kindNode.error("unknown document kind '\(kindText)' (one of \(DocumentKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let statusText = try node["status"]?.string("status") ?? "active"
        guard let status = DocumentStatus(rawValue: statusText) else {
            throw node.error("unknown status '\(statusText)' (one of \(DocumentStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let signature = try recordedSignature(node)
        let expiresText = try node["expires"]?.string("expires") ?? "2099-12-31"
        guard let expires = LocalDate(expiresText) else { throw node.error("expires must be YYYY-MM-DD, not '\(expiresText)'") }
        return RegisteredDocument(
            reference: try node.required("reference", in: "document").string("reference"), kind: kind, status: status,
            agency: try node["agency"]?.string("agency") ?? agency.id, subjects: try node.required("subjects", in: "document").strings("subjects"),
            scope: try node.required("scope", in: "document").strings("scope"), expires: expires.description, expiresAt: expires.end(in: TimeZone(identifier: "UTC")!),
            court: try node["court"]?.string("court"), judge: try node["judge"]?.string("judge"), caseNumber: try node["case-number"]?.string("case-number"),
            registeredAt: try node["registered"].map { try instant($0.string("registered"), $0) } ?? time.addingTimeInterval(-86400),
            signature: signature
        )
    }

    /// A document's `signature` (a status word, `unchecked` if absent) and, for `verified`, `signed-by` (a court id).
    private static func recordedSignature(_ node: YAMLNode) throws -> RecordedSignature {
        let statusText = try node["signature"]?.string("signature") ?? RecordedSignature.Status.unchecked.rawValue
        guard let status = RecordedSignature.Status(rawValue: statusText) else {
            let words = RecordedSignature.Status.allCases.map(\.rawValue).joined(separator: ", ")
            throw (node["signature"] ?? node).error("unknown signature '\(statusText)' (one of \(words))")
        }
        let court = try node["signed-by"]?.string("signed-by")
        guard (status == .verified) == (court != nil) else {
            throw node.error("signed-by names the court of a verified signature: give both signature: verified and signed-by, or neither")
        }
        return RecordedSignature(status: status, reason: status == .unverified ? "stated by the test" : nil, court: court)
    }

    private static func record(_ node: YAMLNode, time: Date) throws -> SubjectRecord {
        try node.requireKeys(in: recordKeys, what: "record")
        let kindNode = try node.required("kind", in: "record")
        let kindText = try kindNode.string("kind")
        guard let kind = SubjectRecordKind(rawValue: kindText) else {
            throw kindNode.error("unknown record kind '\(kindText)' (one of \(SubjectRecordKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return SubjectRecord(
            subject: try node.required("subject", in: "record").string("subject"), kind: kind, givenBy: "test",
            givenAt: try node["given"].map { try instant($0.string("given"), $0) } ?? time.addingTimeInterval(-3600),
            language: try node["language"]?.string("language"), attorneyRequired: try node["attorney-required"]?.bool("attorney-required") ?? false,
            scope: try node["fields"]?.strings("fields") ?? []
        )
    }

    private static func instant(_ text: String, _ node: YAMLNode) throws -> Date {
        if let date = LocalDate(text) { return date.start(in: TimeZone(identifier: "UTC")!) }
        guard let instant = Timestamp.parse(text) else { throw node.error("'\(text)' is not a date or an ISO 8601 time") }
        return instant
    }
}
