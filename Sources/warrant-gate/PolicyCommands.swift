import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateStore

extension ConsentStatus: ExpressibleByArgument {}

/// `policy …`: check, test and explain policy files, as counsel reviews them.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Check, test and explain policy files.", subcommands: [Check.self, Test.self, Explain.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate policy files: errors and warnings with file and line.",
            discussion: """
                Errors stop the gateway from loading a policy; warnings do not, but name rules that can never match, rules
                shadowed by a forbid, and unknown actions, data kinds or facts.

                Example: warrant-gate policy check policies/
                """
        )
        @Argument(help: "A policy file or a directory of them (default: policies).") var path: String = "policies"
        @Option(help: "The agency directory whose categories and agencies the rules may name (default: policies/agencies.yaml, if it exists).")
        var agencies: String?
        @OptionGroup var courts: CourtOptions

        func run() throws {
            try SudoInvocation.refuseUnneeded("policy check")
            let files = try policyFiles(path)
            let agencies = try agencyDirectoryPath(agencies)
            let directory = FileManager.default.fileExists(atPath: agencies) ? try YAMLNode.load(path: agencies) : nil
            if directory == nil {
                printEscaped("warn  no agency directory at \(agencies): categories are checked against the built-in ones only, agency ids not at all (give --agencies)")
            }
            let categories = try directory.map { try Set(AgencyDirectoryFile.declaredCategories($0)) }
            let listed = try directory.map { _ in try Set(AgencyDirectoryFile.listing(path: agencies).map(\.id)) }
            let listedCourts = try courts.directory()
            var failures = 0
            var warnings = 0
            for file in files {
                do {
                    let policy = try PolicyParser.load(path: file)
                    if let categories, let problem = policy.undeclaredWideningCategory(declared: categories, directoryFile: agencies) {
                        failures += 1
                        printEscaped("FAIL  \(file): \(problem)")
                        continue
                    }
                    if let problem = policy.unknownWideningCourt(known: Set(listedCourts.courts.map(\.id))) {
                        failures += 1
                        printEscaped("FAIL  \(file): \(problem)")
                        continue
                    }
                    let includes = policy.includes.isEmpty ? "" : ", includes \(policy.includes.map { ($0 as NSString).lastPathComponent }.joined(separator: ", "))"
                    printEscaped("ok    \(file): policy \(policy.name), \(policy.routes.count) routes, \(policy.rules.count) rules\(includes), digest \(policy.digest.prefix(16))")
                    var found = policy.warnings.map(\.description)
                    for category in policy.categoriesTested.subtracting(categories ?? Set(AgencyCategory.builtIn)).sorted() {
                        found.append(categories == nil
                            ? "\(file): category '\(category)' is not built in; unless an agency directory declares it, no agency can have it"
                            : "\(file): category '\(category)' is neither built in nor declared in \(agencies); no agency can have it")
                    }
                    if let listed {
                        let widening = policy.agenciesWidening
                        for agency in policy.agenciesNamed.subtracting(listed).sorted() {
                            found.append(widening[agency] == nil
                                ? "\(file): a rule names agency '\(agency)', which \(agencies) does not list; unless it is added with 'agency add', no request comes from it"
                                : "\(file): rule '\(widening[agency]![0])' tests agency '\(agency)', which \(agencies) does not list, where that widens the rule: the gateway refuses this policy unless the registry lists the agency ('agency add')")
                        }
                    }
                    for court in policy.courtsNamed.sorted() where listedCourts.court(id: court) == nil {
                        found.append("\(file): signed-by names court '\(court)', which courts.yaml does not list; no signature can verify for it")
                    }
                    for warning in found { printEscaped("warn  \(warning)") }
                    warnings += found.count
                } catch {
                    failures += 1
                    printEscaped("FAIL  \(error)")
                }
            }
            if failures > 0 { throw CLIError(.failure, "\(failures) of \(files.count) policy files are invalid") }
            if warnings > 0 { printEscaped("\(files.count) policies valid, \(warnings) warnings") }
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run policy test files (like `opa test`); exits 1 on any failure, or if no case ran.",
            discussion: """
                A directory's *.yaml files are run, not its subdirectories; those, and files named *.yml or *.YAML, are
                warned about.

                Example: warrant-gate policy test policies/tests
                """
        )
        @Argument(help: "A test file or a directory of them (default: policies/tests).") var path: String = "policies/tests"
        @Flag(help: "Print every case, not only failures.") var verbose = false
        @Option(help: "The agency directory whose categories cases may give (default: agencies.yaml beside each file's policy, if it exists).")
        var agencies: String?

        func run() throws {
            try SudoInvocation.refuseUnneeded("policy test")
            let files = try yamlFiles(path)
            for skipped in try Self.passedOver(path) { printEscaped("warn  \(skipped)") }
            let agencies = try agencies.map { try agencyDirectoryPath($0) }
            var passed = 0
            var failed = 0
            for file in files {
                let suite: PolicyTestFile
                let policy: Policy
                do {
                    suite = try PolicyTestFile.load(path: file)
                    policy = try PolicyParser.load(path: suite.policyPath)
                } catch {
                    printEscaped("FAIL  \(error)")
                    failed += 1
                    continue
                }
                let directory = agencies ?? ((suite.policyPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("agencies.yaml")
                var declared: Set<AgencyCategory> = []
                var listed: [String: AgencyCategory] = [:]
                do {
                    if FileManager.default.fileExists(atPath: directory) {
                        declared = Set(try AgencyDirectoryFile.declaredCategories(YAMLNode.load(path: directory)))
                        for agency in try AgencyDirectoryFile.listing(path: directory) { listed[agency.id] = agency.category }
                    }
                } catch {
                    printEscaped("FAIL  \(error)")
                    failed += 1
                    continue
                }
                let failures = suite.run(against: policy, declaredCategories: declared, listedAgencies: listed)
                for failure in failures {
                    printEscaped("FAIL  \(file):\(failure.line ?? 0): \(failure.name)")
                    for problem in failure.problems { printEscaped("        \(problem)") }
                }
                if verbose {
                    for testCase in suite.cases where !failures.contains(where: { $0.line == testCase.line }) {
                        printEscaped("ok    \(file):\(testCase.line ?? 0): \(testCase.name)")
                    }
                }
                let total = suite.cases.count + suite.brokenCases.count
                passed += total - failures.count
                failed += failures.count
                printEscaped("\(failures.isEmpty ? "ok  " : "FAIL")  \(file): \(total - failures.count)/\(total) cases pass (policy \(policy.name))")
            }
            guard passed + failed > 0 else { throw CLIError(.failure, "no policy test cases in \(path): a run that tests nothing fails (test files are named *.yaml)") }
            printEscaped("\(passed) passed, \(failed) failed")
            if failed > 0 { throw CLIError(.failure, "\(failed) policy test cases failed") }
        }

        /// What a directory holds that the run passes over, each a warning: subdirectories, and files named for YAML
        /// but not `*.yaml` (`denver.yml`, `DENVER.YAML`), which would otherwise go untested unnoticed.
        static func passedOver(_ path: String) throws -> [String] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [] }
            return try FileManager.default.contentsOfDirectory(atPath: path).sorted().compactMap { name in
                let entry = (path as NSString).appendingPathComponent(name)
                var isSubdirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: entry, isDirectory: &isSubdirectory), isSubdirectory.boolValue {
                    return "\(entry): a directory, whose files are not run"
                }
                let suffix = (name as NSString).pathExtension
                return suffix != "yaml" && ["yaml", "yml"].contains(suffix.lowercased()) ? "\(entry): not run: test files are named *.yaml" : nil
            }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Explain a decision: the outcome, the rules that determined it, and why each other rule did not apply.",
            discussion: """
                The agency's category comes from --agencies (or the registry); --warrant is looked up in the registry (--db);
                --fact sets facts about the inmate for this explanation; --advisement, --consent and --authorization add
                records about the inmate, given an hour before the request; --header sets a header a request fact reads.

                Example: warrant-gate policy explain --policy policies/denver.yaml --agency ice-ero --method GET \\
                           --path /records/inmates/2017-000123 --warrant JW-2026-0001
                """
        )
        @Option(help: "The policy file.") var policy: String = "policies/denver.yaml"
        @Option(help: "The calling agency's id.") var agency: String
        @Option(help: "Its category, if it is in neither the agency directory nor the registry (refused if it is).") var category: AgencyCategory?
        @Option(help: "The agency directory (default: policies/agencies.yaml, if it exists).") var agencies: String?
        @Option(help: "The HTTP method.") var method: String = "GET"
        @Option(help: "The request target.") var path: String
        @Option(help: "A request body, for routes that read it: JSON, or a SOAP route's envelope (sent as application/json, or text/xml if it begins with '<', unless --header gives a Content-Type).") var body: String?
        @Option(help: "The Warrant-Reference presented.") var warrant: String?
        @Option(help: "A fact about the inmate, name=value (repeatable).") var fact: [String] = []
        @Flag(help: "An advisement of rights is on record for the inmate.") var advisement = false
        @Option(help: "The inmate's latest consent to an interview: given, declined or withdrawn.") var consent: ConsentStatus?
        @Flag(help: "The consent given requires an attorney present.") var attorneyRequired = false
        @Option(help: "A field the inmate's written authorization covers (repeatable).") var authorization: [String] = []
        @Option(help: "A request header, Name: value (repeatable), for request facts.") var header: [String] = []
        @Option(help: "When the request is made: YYYY-MM-DD (the day's start in the policy's time zone) or ISO 8601 (default: now).")
        var at: String?
        @Option(help: "The registry database, a SQLite file or postgres:// URL, for warrants and records (default: the demo's, if it exists).")
        var db: String = AdminOptions.demoDatabase
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let agencies = try agencyDirectoryPath(agencies)
            // Under sudo, the policy and every file it includes are read as the operator may read them.
            let parsed: Policy
            do {
                parsed = try PolicyParser.load(path: policy, open: SudoInvocation.opener(what: "--policy"))
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError(.failure, "\(error)")
            }
            let time = try at.map { try parseInstant($0, dayStartsIn: parsed.timeZone) } ?? Date()
            let snapshot = PostgresLocation.isURL(db) || FileManager.default.fileExists(atPath: db)
                ? try storeCall { try database.open(db).registry(timeZone: parsed.timeZone).snapshot() }
                : RegistrySnapshot.empty
            // As the gateway resolves it (AgencyDirectory.amended): the directory file's category wins over the
            // registry's, and certificates the registry added to an agency the file no longer lists identify no one.
            let listed = try agencyListing(agencies)
            if listed == nil && category == nil {
                warn("no agency directory at \(agencies): the category is the registry's, which the gateway overrides with its directory's (give --agencies)")
            }
            let resolved = AgencyDirectory(agencies: listed ?? [], authorities: [])
                .amended(agencies: snapshot.agencies, extending: listed == nil ? [] : snapshot.agencyExtensions, revocations: [:])
            let listedCategory = resolved.agency(id: agency)?.category
            // The gateway decides by the listed category: another one would explain a decision it never makes.
            if let listedCategory, category != nil {
                throw CLIError(.usage, """
                    agency \(agency) is listed (\(listedCategory.rawValue)), and the gateway decides by that category: --category is for an \
                    agency in neither \(agencies) nor the registry
                    """)
            }
            guard let resolvedCategory = category ?? listedCategory else {
                if listed != nil && snapshot.agencyExtensions.contains(agency) {
                    throw CLIError(.notFound, "the registry added certificates to agency \(agency), which \(agencies) no longer lists: the gateway identifies no one as \(agency)")
                }
                throw CLIError(.notFound, "agency \(agency) is in neither \(agencies) nor the registry: pass --category")
            }
            var facts: [String: String] = [:]
            for pair in fact {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw CLIError(.usage, "--fact takes name=value (got '\(pair)')") }
                facts[parts[0]] = parts[1]
            }
            var headers: [String: [String]] = [:]
            for line in header {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty else { throw CLIError(.usage, "--header takes Name: value (got '\(line)')") }
                headers[parts[0].lowercased(), default: []].append(parts[1])
            }
            let stages = RequestStages(policy: parsed)
            let bodyBytes = body.map { Array($0.utf8) }
            let match: RouteMatch, input: EvaluationInput
            do {
                (match, input) = try stages.classify(PolicyRequest(
                    agency: Agency(id: agency, name: agency, category: resolvedCategory), method: method, target: path,
                    body: bodyBytes, warrantReference: warrant, headers: PolicyRequest.labelling(bodyBytes, in: headers), time: time
                ))
            } catch {
                return printEscaped("decision: deny (\(error.reason.rawValue)\(error.detail.map { ": \($0)" } ?? ""))")
            }
            let classification = input.classification
            var records: [SubjectRecord] = []
            if let subject = classification.subject {
                let given = time.addingTimeInterval(-3600)
                if advisement { records.append(SubjectRecord(subject: subject, kind: .advisement, givenBy: "policy explain", givenAt: given)) }
                if let consent {
                    records.append(SubjectRecord(
                        subject: subject, kind: consent.recordKind, givenBy: "policy explain", givenAt: given, attorneyRequired: attorneyRequired
                    ))
                }
                if !authorization.isEmpty {
                    records.append(SubjectRecord(subject: subject, kind: .writtenAuthorization, givenBy: "policy explain", givenAt: given, scope: authorization))
                }
            } else if advisement || consent != nil || !authorization.isEmpty {
                throw CLIError(.usage, "route \(classification.route.id) names no inmate, so --advisement, --consent and --authorization have no one to apply to")
            }
            let registry = ExplainRegistry(base: snapshot, subject: classification.subject, facts: facts, records: records)
            let explanation = stages.evaluator.explain(input, registry: registry)
            let decision = explanation.decision
            printEscaped("request:   \(method) \(match.target.target) by \(agency) (\(resolvedCategory.rawValue)) at \(Timestamp.format(time))")
            printEscaped("route:     \(classification.route.id): action \(classification.action), subject \(classification.subject ?? "none")")
            if let warrant = explanation.warrant { printEscaped("warrant:   \(warrant)") }
            if case .verified(let reference)? = explanation.warrant, let document = snapshot.document(reference: reference) {
                printEscaped("signature: warrant \(reference) signature is \(FreeText.escaped(document.signature.description))")
            }
            if !input.requestFacts.isEmpty {
                printEscaped("stated:    \(input.requestFacts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))")
            }
            printEscaped("decision:  \(decision.effect.rawValue) (\(decision.reason))")
            printEscaped("by rules:  \(decision.rules.isEmpty ? "none (default deny)" : decision.rules.joined(separator: ", "))")
            if decision.effect == .allow {
                printEscaped("redacts:   \(decision.redact.sorted().joined(separator: ", "))")
                if let keepOnly = decision.keepOnly { printEscaped("returns:   only \(keepOnly.sorted().joined(separator: ", "))") }
            }
            if !decision.obligations.isEmpty { printEscaped("duties:    \(decision.obligations.joined(separator: ", "))") }
            printEscaped("rules:")
            for trace in explanation.traces {
                printEscaped("  \(trace.applied ? "✔" : "·") \(trace.rule.effect.rawValue) \(trace.rule.id) (line \(trace.rule.line ?? 0)): \(trace.note)")
            }
        }
    }
}

/// The registry seen by `policy explain`: the database's snapshot with the command line's facts and records laid
/// over it.
private struct ExplainRegistry: DocumentRegistry {
    let base: RegistrySnapshot
    let subject: String?
    let facts: [String: String]
    let records: [SubjectRecord]

    func document(reference: String) -> RegisteredDocument? { base.document(reference: reference) }
    func documents(subject: String) -> [RegisteredDocument] { base.documents(subject: subject) }
    func isMisfiled(_ document: RegisteredDocument) -> Bool { base.isMisfiled(document) }
    func records(subject: String) -> [SubjectRecord] { base.records(subject: subject) + records.filter { $0.subject == subject } }
    func facts(subject: String) -> [String: String] {
        subject == self.subject ? base.facts(subject: subject).merging(facts) { _, given in given } : base.facts(subject: subject)
    }
}

/// The policies among a path's `.yaml` files: all but the agency and court directories kept beside them.
func policyFiles(_ path: String) throws -> [String] {
    try yamlFiles(path).filter { file in !["agencies.yaml", "courts.yaml"].contains((file as NSString).lastPathComponent) }
}

/// The `.yaml` files at a path: the file itself, or a directory's (not its subdirectories').
func yamlFiles(_ path: String) throws -> [String] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CLIError(.notFound, "no such file or directory: \(path)")
    }
    guard isDirectory.boolValue else { return [path] }
    return try FileManager.default.contentsOfDirectory(atPath: path).sorted().filter { $0.hasSuffix(".yaml") }
        .map { (path as NSString).appendingPathComponent($0) }
}

/// Prints a line of `policy check`, `test` or `explain`, which quote policy files and their names (``TerminalText``).
private func printEscaped(_ line: String) {
    print(TerminalText.escapedLines(line))
}
