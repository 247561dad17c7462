import Foundation

/// Reads a policy file. Every error names the file and line; an invalid file is never half-loaded.
///
/// The format is documented in `policies/README.md`.
public enum PolicyParser {
    static let topLevelKeys: Set<String> = [
        "policy", "title", "include", "time-zone", "subject-format", "routes", "namespaces", "profiles", "redact", "rules", "notes", "facts",
        "request-facts", "obligations", "fact-lookup",
    ]
    static let routeKeys: Set<String> = [
        "id", "method", "path", "action", "subject", "upstream", "data", "public", "soap", "document", "until", "agency", "query",
    ]
    static let ruleKeys: Set<String> = [
        "id", "effect", "description", "when", "unless", "reason", "redact", "lift", "return-only", "obligations", "effective", "replaces",
        "weakens-forbid",
    ]
    static let conditionKeys: Set<String> = [
        "agency", "category", "action", "method", "warrant", "advisement", "consent", "authorization", "document", "fact", "request", "elapsed",
        "remaining", "data", "public", "all", "any", "not",
    ]
    /// Headers a request fact may not be read from: those that frame the message, route it, or carry the warrant.
    static let reservedHeaders: Set<String> = [
        "host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade",
        "proxy-connection", "expect", "warrant-reference",
    ]
    /// How many files a chain of includes may hold: a county, its state, and a floor or two beneath.
    static let maxIncludeDepth = 4

    /// What conditions may refer to, collected from the routes and declarations, and the warnings found.
    struct Context {
        /// Every pattern that matches at least one route's action: the actions, their families (`a.*`, `a.b.*`) and
        /// `*`, so that a pattern is checked by one lookup, however many routes and patterns a policy holds.
        let actionPatterns: Set<String>
        /// The routes' actions, listed for messages.
        let knownActions: String
        let dataKinds: Set<String>
        let facts: [String: FactDeclaration]
        let requestFacts: [String: RequestFact]
        let obligations: [String: ObligationDeclaration]
        let redactAlways: [String]
        let vocabulary: RedactionVocabulary
        let file: String
        var warnings: [FileError] = []
    }
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

    /// Every ``ActionPattern`` that matches at least one of `actions`.
    static func patternsMatching(_ actions: [String]) -> Set<String> {
        var patterns = Set(actions)
        if !actions.isEmpty { patterns.insert("*") }
        for action in actions {
            var index = action.startIndex
            while let dot = action[index...].firstIndex(of: ".") {
                patterns.insert(action[...dot] + "*")
                index = action.index(after: dot)
            }
        }
        return patterns
    }

    /// `names`, sorted, for a message: the first twenty and how many more.
    static func listed(_ names: Set<String>) -> String {
        let sorted = names.sorted()
        return sorted.prefix(20).joined(separator: ", ") + (sorted.count > 20 ? ", and \(sorted.count - 20) more" : "")
    }

    /// Reads the policy at `path`, and every file it includes or takes a profile from, each opened by `open`.
    public static func load(path: String, open: YAMLNode.Opener = YAMLNode.openForReading) throws -> Policy {
        try load(path: path, includedBy: [], open: open)
    }

    public static func parse(_ text: String, file: String) throws -> Policy {
        try parse(text, file: file, includedBy: [], open: YAMLNode.openForReading)
    }

    private static func load(path: String, includedBy: [String], open: YAMLNode.Opener) throws -> Policy {
        try parse(YAMLNode.readText(path: path, what: "policy file", governing: true, open: open), file: path, includedBy: includedBy, open: open)
    }

    /// Reads a policy; `includedBy` lists the files that include this one, outermost first.
    private static func parse(_ text: String, file: String, includedBy: [String], open: YAMLNode.Opener) throws -> Policy {
        let root = try YAMLNode.parse(text, file: file)
        try root.requireKeys(in: topLevelKeys, what: "policy")
        // Free text for readers, nothing the gateway reads: a rule written here by mistake would load and never apply.
        if let notes = root["notes"] {
            guard case .scalar = notes.node else { throw notes.error("notes: write free text (one string); rules go under rules:") }
        }
        let name = try root.required("policy", in: "policy").string("policy name")
        guard Identifier.isValid(name) else { throw root.error("policy name '\(name)' must be lower-case letters, digits and '-'") }
        let base = try root["include"].map { try included($0, by: file, chain: includedBy, open: open) }
        let title = try root["title"]?.string("title") ?? name

        let timeZone: TimeZone
        var zoneWarnings: [FileError] = []
        if base == nil { _ = try root.required("time-zone", in: "policy") }
        if let timeZoneNode = root["time-zone"] {
            let timeZoneName = try timeZoneNode.string("time-zone")
            guard let zone = TimeZone(databaseName: timeZoneName) else {
                throw timeZoneNode.error("unknown time zone '\(timeZoneName)' (use an IANA name such as America/Denver)")
            }
            if let offset = Self.invertedOffset(zone) {
                zoneWarnings.append(timeZoneNode.error(
                    "time-zone '\(timeZoneName)' is UTC\(offset): POSIX inverts the sign of Etc/GMT zones; name the place instead (such as Asia/Bangkok)"
                ))
            }
            timeZone = zone
        } else {
            timeZone = base!.timeZone
        }
        let subjectFormat: SubjectFormat
        if base == nil { _ = try root.required("subject-format", in: "policy") }
        if let formatNode = root["subject-format"] {
            let format = try formatNode.string("subject-format")
            guard !format.isEmpty, format.count <= 64 else { throw formatNode.error("subject-format must be 1 to 64 characters") }
            subjectFormat = SubjectFormat(pattern: format)
        } else {
            subjectFormat = base!.subjectFormat
        }

        var routes = base?.routes ?? []
        var routeWarnings: [FileError] = []
        for node in try (base == nil ? root.required("routes", in: "policy") : root["routes"])?.sequence("routes") ?? [] {
            let route = try parseRoute(node)
            if routes.contains(where: { $0.id == route.id }) { throw node.error("route id '\(route.id)' is used twice") }
            for fact in base?.requestFacts ?? [] {
                if case .bodyMember(let member) = fact.source, let problem = Self.bodyMemberClash(fact: fact.name, member: member, route: route) {
                    throw node.error(problem)
                }
            }
            if routes.contains(where: { $0.method == route.method && $0.template == route.template && $0.soap?.element == route.soap?.element }) {
                throw node.error("route '\(route.id)' repeats the method and path (and SOAP operation) of an earlier route")
            }
            if let earlier = routes.first(where: { $0.method == route.method && $0.template != route.template && $0.foldedTemplate == route.foldedTemplate }) {
                routeWarnings.append(node.error(
                    "route '\(route.id)' differs from route '\(earlier.id)' only in letter case; an upstream that ignores case in paths takes both for one"
                ))
            }
            if let earlier = routes.first(where: { $0.covers(route) }) {
                throw node.error(
                    "route '\(route.id)' can never be reached: route '\(earlier.id)', before it, matches every request it does (routes match in file order; put the more specific one first)"
                )
            }
            if let other = routes.first(where: { Self.mayReachSOAPEndpoint($0, route) || Self.mayReachSOAPEndpoint(route, $0) }) {
                throw node.error(
                    "route '\(route.id)' and route '\(other.id)' may reach the same SOAP endpoint, and only one carries a SOAP operation: "
                        + "a SOAP service's routes each name theirs"
                )
            }
            routes.append(route)
            guard routes.count <= Policy.maximumRoutes else { throw node.error("a policy has at most \(Policy.maximumRoutes) routes") }
        }
        guard !routes.isEmpty else { throw root.error("policy has no routes") }
        let facts = try factDeclarations(root["facts"], base: base?.facts ?? [:])
        let requestFacts = try requestFactDeclarations(root["request-facts"], base: base?.requestFacts ?? [], routes: routes)
        let obligations = try obligationDeclarations(root["obligations"], base: base?.obligations ?? [:])
        let vocabulary = try RedactionVocabulary.read(namespaces: root["namespaces"], profiles: root["profiles"], policyFile: file, open: open)
            .merged(over: base?.vocabulary ?? .empty, at: root)

        var redact = base?.redactAlways ?? []
        for name in try root["redact"].map({ try redactedNames($0, vocabulary) }) ?? [] where !redact.contains(name) { redact.append(name) }
        var context = Context(
            actionPatterns: Self.patternsMatching(routes.map(\.action)), knownActions: Self.listed(Set(routes.map(\.action))), dataKinds: routes.reduce(into: Set<String>()) { $0.formUnion($1.data) }, facts: facts,
            requestFacts: Dictionary(requestFacts.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }), obligations: obligations,
            redactAlways: redact, vocabulary: vocabulary, file: file
        )
        let rules = try composedRules(root, base: base, context: &context)
        var lookup = base?.factLookup
        if let node = root["fact-lookup"] {
            try node.requireKeys(in: ["upstream", "path", "ttl", "max-entries", "states"], what: "fact-lookup")
            let upstream = try node.required("upstream", in: "fact-lookup").string("upstream")
            let pathNode = try node.required("path", in: "fact-lookup")
            let path = try pathNode.string("path")
            guard path.hasPrefix("/"), path.contains("{subject}"),
                  (try? CanonicalTarget(raw: path.replacingOccurrences(of: "{subject}", with: "x")))?.target == path.replacingOccurrences(of: "{subject}", with: "x")
            else { throw pathNode.error("fact-lookup path must be a canonical path containing {subject}") }
            let maxEntries = try node["max-entries"]?.int("max-entries") ?? 10_000
            guard maxEntries > 0 else { throw node.error("max-entries must be positive") }
            // What an included policy's lookup states, a lookup declared over it states too: its rules rely on it.
            var states = base?.factLookup?.states ?? []
            if let statesNode = node["states"] {
                let publicKinds = Set(routes.flatMap(\.data).map { "public-\($0)" })
                for name in try statesNode.strings("states") {
                    guard facts[name] != nil || publicKinds.contains(name) else {
                        throw statesNode.error("fact-lookup states '\(name)', which facts: does not declare (nor is it public-<a data kind the routes return>)")
                    }
                    guard states.insert(name).inserted else { throw statesNode.error("fact-lookup states '\(name)' twice") }
                }
            }
            lookup = FactLookup(upstream: upstream, path: path, ttl: try node["ttl"].map(duration) ?? 300, maxEntries: maxEntries, states: states)
        }
        let digest = Policy.digest(of: Array(text.utf8), included: base.map { [Array($0.digest.utf8)] } ?? [], profiles: vocabulary.profiles)
        let policy = Policy(
            name: name, title: title, timeZone: timeZone, subjectFormat: subjectFormat, routes: routes, redactAlways: redact, rules: rules,
            digest: digest, source: file, includes: base.map { $0.includes + [$0.source] } ?? [], facts: facts, requestFacts: requestFacts,
            obligations: obligations, warnings: (base?.warnings ?? []) + zoneWarnings + routeWarnings + context.warnings, factLookup: lookup, vocabulary: vocabulary
        )
        return policy.withLintWarnings()
    }

    /// The offset (`+07:00`) of an `Etc/GMT±N` zone other than UTC itself, whose sign POSIX inverts: `Etc/GMT-7` is
    /// seven hours ahead of UTC, which a reader takes for seven behind.
    private static func invertedOffset(_ zone: TimeZone) -> String? {
        let seconds = zone.secondsFromGMT()
        guard zone.identifier.lowercased().hasPrefix("etc/gmt"), seconds != 0 else { return nil }
        return (seconds < 0 ? "-" : "+") + String(format: "%02d:%02d", abs(seconds) / 3600, abs(seconds) % 3600 / 60)
    }

    /// The policy an `include:` names (a ``PolicyRelativePath`` beside the including file), not already being read.
    private static func included(_ node: YAMLNode, by file: String, chain: [String], open: YAMLNode.Opener) throws -> Policy {
        let path = try node.string("include")
        let resolved = try PolicyRelativePath.resolve(path, besides: file, at: node, what: "include")
        let outer = chain + [PolicyRelativePath.realPath(file) ?? URL(fileURLWithPath: file).standardizedFileURL.path]
        guard !outer.contains(resolved) else { throw node.error("include: '\(path)' includes itself (through \(outer.joined(separator: " → ")))") }
        guard outer.count < maxIncludeDepth else {
            throw node.error("include: a chain of includes may hold at most \(maxIncludeDepth) files (\(outer.joined(separator: " → ")) → \(path))")
        }
        do {
            return try load(path: resolved, includedBy: outer, open: open)
        } catch let error as FileError {
            throw node.error("include: '\(path)' is not a valid policy: \(error)")
        }
    }

    /// The included policy's rules, each one the file `replaces:` put in its place, then the file's own. A rule that
    /// replaces a forbid must not weaken it unless it says so (`weakens-forbid: true`, with a description).
    private static func composedRules(_ root: YAMLNode, base: Policy?, context: inout Context) throws -> [Rule] {
        var rules = base?.rules ?? []
        let baseIDs = Set(rules.map(\.id))
        var replaced: Set<String> = []
        var own: [Rule] = []
        for node in try (base == nil ? root.required("rules", in: "policy") : root["rules"])?.sequence("rules") ?? [] {
            guard rules.count < Policy.maximumRules else { throw node.error("a policy has at most \(Policy.maximumRules) rules") }
            let rule = try parseRule(node, context: &context)
            let replacesNode = node["replaces"]
            if let replacesNode {
                guard let base else { throw replacesNode.error("rule '\(rule.id)': replaces needs an included policy (include:)") }
                let target = try replacesNode.string("replaces")
                guard let index = rules.firstIndex(where: { $0.id == target }), baseIDs.contains(target) else {
                    throw replacesNode.error("rule '\(rule.id)': \(base.name) has no rule '\(target)' to replace (it has \(base.rules.map(\.id).joined(separator: ", ")))")
                }
                guard replaced.insert(target).inserted else { throw replacesNode.error("rule '\(target)' is replaced twice") }
                let original = rules[index]
                let declared = try node["weakens-forbid"]?.bool("weakens-forbid") ?? false
                if original.effect == .forbid, !keepsForbid(original, in: rule) {
                    guard declared else {
                        let dropped = original.obligations.filter { !rule.obligations.contains($0) }
                        let how = dropped.isEmpty ? "may weaken it" : "drops its obligations \(dropped.joined(separator: ", "))"
                        throw node.error(
                            "rule '\(rule.id)' replaces forbid '\(target)' of \(base.name) and \(how); if the law allows that, say so with weakens-forbid: true and a description"
                        )
                    }
                    guard rule.description != nil else { throw node.error("rule '\(rule.id)': weakens-forbid needs a description saying why") }
                }
                rules[index] = rule
            } else if node["weakens-forbid"] != nil {
                throw node.error("rule '\(rule.id)': weakens-forbid applies only to a rule that replaces one")
            }
            if rules.contains(where: { $0.id == rule.id && $0 !== rule }) || own.contains(where: { $0.id == rule.id }) {
                throw node.error("rule id '\(rule.id)' is used twice")
            }
            own.append(rule)
            if replacesNode == nil { rules.append(rule) }
        }
        return rules
    }

    /// Whether `replacement` visibly forbids at least what `original` forbids: a forbid whose `when` tests no more
    /// than the original's (its conjuncts are among the original's), whose `unless`, if any, requires at least what
    /// the original's does (the original's conjuncts are among its own), in force at least as long, and with the
    /// original's obligations (a denial the law says to record or serve must still be).
    private static func keepsForbid(_ original: Rule, in replacement: Rule) -> Bool {
        guard replacement.effect == .forbid, original.obligations.allSatisfy(replacement.obligations.contains) else { return false }
        let when = original.when.conjuncts
        guard replacement.when.conjuncts.allSatisfy({ $0 == .always || when.contains($0) }) else { return false }
        if let unless = replacement.unless {
            guard let originalUnless = original.unless else { return false }
            let required = unless.conjuncts
            // A typed warrant test requires at least what `warrant: verified` does.
            let requiresWarrant = required.contains { if case .warrantVerified = $0 { true } else { false } }
            guard originalUnless.conjuncts.allSatisfy({ required.contains($0) || $0 == .warrantVerified(DocumentTest()) && requiresWarrant }) else {
                return false
            }
        }
        if let from = replacement.effectiveFrom, original.effectiveFrom.map({ from > $0 }) ?? true { return false }
        if let until = replacement.effectiveUntil, original.effectiveUntil.map({ until < $0 }) ?? true { return false }
        return true
    }

    /// `facts:` (name to its values, or `date`), beside those an included policy declares.
    private static func factDeclarations(_ node: YAMLNode?, base: [String: FactDeclaration]) throws -> [String: FactDeclaration] {
        var facts = base
        for (name, values) in try node?.mapping("facts") ?? [] {
            guard Identifier.isValid(name) else { throw values.error("fact name '\(name)' must be lower-case letters, digits and '-'") }
            guard facts[name] == nil else { throw values.error("fact '\(name)' is declared twice (or by the included policy)") }
            // A fact is read from the records system and recorded with each decision: the county may not collect status.
            if let term = ImmigrationStatusTerms.stem(in: name) {
                throw values.error("fact '\(name)' names immigration or citizenship status ('\(term)'), which the county may not collect")
            }
            if case .scalar = values.node {
                guard try values.string("fact") == "date" else { throw values.error("fact '\(name)': write a list of its values, or date") }
                facts[name] = .date
            } else {
                let declared = try values.strings("fact values")
                if let term = declared.lazy.compactMap(ImmigrationStatusTerms.stem(in:)).first {
                    throw values.error("fact '\(name)' has a value naming immigration or citizenship status ('\(term)'), which the county may not collect")
                }
                facts[name] = .values(Set(declared))
            }
        }
        return facts
    }

    /// `request-facts:`: for each, `header:` or `body:`, and `values:`.
    private static func requestFactDeclarations(_ node: YAMLNode?, base: [RequestFact], routes: [Route]) throws -> [RequestFact] {
        var facts = base
        for (name, entry) in try node?.mapping("request-facts") ?? [] {
            guard Identifier.isValid(name) else { throw entry.error("request fact name '\(name)' must be lower-case letters, digits and '-'") }
            guard !facts.contains(where: { $0.name == name }) else { throw entry.error("request fact '\(name)' is declared twice (or by the included policy)") }
            try entry.requireKeys(in: ["header", "body", "values", "description"], what: "request fact")
            let source: RequestFact.Source
            switch (entry["header"], entry["body"]) {
            case (let header?, nil):
                let text = try header.string("header").lowercased()
                guard text.utf8.count <= 64, HTTPToken.isToken(text.utf8) else {
                    throw header.error("request fact '\(name)': '\(text)' is not a header name")
                }
                guard !reservedHeaders.contains(text), !text.hasPrefix("x-forwarded-"), text != "forwarded" else {
                    throw header.error("request fact '\(name)': the gateway reserves the header '\(text)'")
                }
                source = .header(text)
            case (nil, let body?):
                let member = try body.string("body")
                guard !member.isEmpty, member.utf8.count <= 64 else { throw body.error("request fact '\(name)': a body member name is 1 to 64 characters") }
                if let problem = bodyMemberProblem(member) { throw body.error("request fact '\(name)': \(problem)") }
                guard routes.contains(where: Classifier.readsJSONBody) else {
                    throw body.error("request fact '\(name)': no route reads its request body (only routes whose subject is a body field do)")
                }
                source = .bodyMember(member)
            default:
                throw entry.error("request fact '\(name)' names exactly one of header or body")
            }
            if let other = facts.first(where: { $0.source == source }) {
                throw entry.error("request fact '\(name)' reads what request fact '\(other.name)' reads; declare one fact and test its values")
            }
            if case .bodyMember(let member) = source {
                if let other = facts.first(where: { if case .bodyMember(let read) = $0.source { ParameterName.sameBodyMember(read, member) } else { false } }) {
                    throw entry.error(
                        "request fact '\(name)': its body member '\(member)' differs from request fact '\(other.name)''s only in letter case or separators, so a body naming one would be refused as a misspelling of the other"
                    )
                }
                for route in routes {
                    if let problem = Self.bodyMemberClash(fact: name, member: member, route: route) { throw entry.error(problem) }
                }
            }
            let valuesNode = try entry.required("values", in: "request fact '\(name)'")
            let values = try valuesNode.strings("values")
            guard !values.isEmpty, Set(values).count == values.count else { throw valuesNode.error("request fact '\(name)': list each value once") }
            for value in values where !RequestFact.isValidValue(value) {
                throw valuesNode.error("request fact '\(name)': '\(value)' must be 1 to 64 visible ASCII characters")
            }
            facts.append(RequestFact(name: name, source: source, values: values))
        }
        return facts
    }

    /// `obligations:`: for each, `kind:` (report or duty), `description:`, and optionally `every-request-of:` categories.
    private static func obligationDeclarations(_ node: YAMLNode?, base: [String: ObligationDeclaration]) throws -> [String: ObligationDeclaration] {
        var declared = base
        for (name, entry) in try node?.mapping("obligations") ?? [] {
            guard Identifier.isValid(name) else { throw entry.error("obligation '\(name)' must be lower-case letters, digits and '-'") }
            guard declared[name] == nil else { throw entry.error("obligation '\(name)' is declared twice (or by the included policy)") }
            try entry.requireKeys(in: ["kind", "description", "every-request-of"], what: "obligation")
            let kindNode = try entry.required("kind", in: "obligation '\(name)'")
            guard let kind = ObligationDeclaration.Kind(rawValue: try kindNode.string("kind")) else {
                throw kindNode.error("obligation '\(name)': kind must be one of \(ObligationDeclaration.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            var categories: Set<AgencyCategory> = []
            if let every = entry["every-request-of"] {
                for text in try every.someStrings("every-request-of") {
                    guard let category = AgencyCategory(rawValue: text) else { throw every.error("obligation '\(name)': '\(text)' is not a category") }
                    categories.insert(category)
                }
            }
            declared[name] = ObligationDeclaration(
                name: name, kind: kind, description: try entry.required("description", in: "obligation '\(name)'").string("description"),
                everyRequestOf: categories
            )
        }
        return declared
    }

    private static func parseRoute(_ node: YAMLNode) throws -> Route {
        try node.requireKeys(in: routeKeys, what: "route")
        let id = try node.required("id", in: "route").string("route id")
        guard Identifier.isValid(id) else { throw node.error("route id '\(id)' must be lower-case letters, digits and '-'") }
        let methodNode = try node.required("method", in: "route '\(id)'")
        let method = try methodNode.string("method")
        guard methods.contains(method) else {
            throw methodNode.error("route '\(id)': method must be one of \(methods.sorted().joined(separator: ", "))")
        }
        let pathNode = try node.required("path", in: "route '\(id)'")
        guard let template = Route.parseTemplate(try pathNode.string("path")) else {
            throw pathNode.error("route '\(id)': path must be a canonical path such as /records/inmates/{booking}")
        }
        let actionNode = try node.required("action", in: "route '\(id)'")
        let action = try actionNode.string("action")
        guard ActionPattern.isValid(action), !action.contains("*") else {
            throw actionNode.error("route '\(id)': action must be a name such as records.read")
        }
        let upstream = try node.required("upstream", in: "route '\(id)'").string("upstream")
        guard Identifier.isValid(upstream) else { throw node.error("route '\(id)': upstream must be a name such as records") }
        let soap = try node["soap"].map { try soapOperation($0, route: id, method: method) }
        var subject = SubjectSource.none
        if let subjectNode = node["subject"] {
            let entries = try subjectNode.mapping("subject")
            guard entries.count == 1, let (kind, valueNode) = entries.first else {
                throw subjectNode.error("route '\(id)': subject names exactly one of path, query or body")
            }
            let value = try valueNode.string("subject")
            switch kind {
            case "path" where soap != nil, "query" where soap != nil:
                throw subjectNode.error("route '\(id)': a SOAP service reads the inmate from the envelope; name its element with xml")
            case "path":
                guard template.contains(.parameter(value)) else {
                    throw subjectNode.error("route '\(id)': the path has no parameter {\(value)}")
                }
                subject = .pathParameter(value)
            case "query": subject = .queryParameter(value)
            case "body":
                guard Route.carriesBody(method) else {
                    throw subjectNode.error("route '\(id)': a \(method) request carries no body to name the subject; use POST, PUT or PATCH")
                }
                guard soap == nil else { throw subjectNode.error("route '\(id)': a SOAP route's body is XML; name its subject's element with xml") }
                if let problem = bodyMemberProblem(value) { throw subjectNode.error("route '\(id)': subject \(problem)") }
                subject = .bodyField(value)
            case "xml":
                guard soap != nil else { throw subjectNode.error("route '\(id)': only a route with a soap operation reads an XML subject") }
                let steps = value.split(separator: "/", omittingEmptySubsequences: false)
                guard (1...4).contains(steps.count), steps.allSatisfy({ XMLName.isNCName(Array($0.utf8)) && $0.utf8.count <= 64 }) else {
                    throw subjectNode.error("""
                        route '\(id)': xml names an element's local name, such as BookingNumber, or a path of at most four from the \
                        operation down, such as request/BookingNumber
                        """)
                }
                subject = .xmlElement(value)
            default: throw subjectNode.error("route '\(id)': subject must be given by path, query, body or xml")
            }
        }
        let data = try node["data"]?.strings("data") ?? []
        for kind in data where !Identifier.isValid(kind) { throw node.error("route '\(id)': data kind '\(kind)' must be lower-case letters, digits and '-'") }
        let isPublic = try node["public"]?.bool("public") ?? false
        let members = try ["document", "until", "agency"].map { try bodyMember(node, $0, route: id, subject: subject) }
        let named = members.compactMap { $0 }
        for (index, member) in named.enumerated() where named[..<index].contains(where: { ParameterName.sameBodyMember($0, member) }) {
            throw node.error("route '\(id)': document, until and agency each name a body member of their own, not differing in letter case or separators alone")
        }
        let pathParameters = template.compactMap { segment -> String? in if case .parameter(let name) = segment { name } else { nil } }
        let query = try node["query"].map {
            try queryParameters($0, route: id, subject: subject, members: named + pathParameters, soap: soap != nil)
        } ?? []
        return Route(
            id: id, method: method, template: template, action: action, subject: subject, upstream: upstream, data: Set(data), isPublic: isPublic,
            soap: soap, documentMember: members[0], untilMember: members[1], agencyMember: members[2], query: query
        )
    }

    /// A route's `query:`, the parameters it takes besides its subject's: names of at most 64 letters, digits and
    /// `-._~$`, none that may carry the subject, a body member the route reads or a path parameter (`members`), nor
    /// one another (`view` and `View`, `page` and `page.size`: an upstream may read them as one), on a route that is
    /// not SOAP's.
    private static func queryParameters(_ node: YAMLNode, route: String, subject: SubjectSource, members: [String], soap: Bool) throws -> Set<String> {
        guard !soap else { throw node.error("route '\(route)': a SOAP request carries no query: the envelope names its operation") }
        let read: [String]
        switch subject {
        case .pathParameter(let subjectName), .queryParameter(let subjectName), .bodyField(let subjectName), .xmlElement(let subjectName):
            read = [subjectName] + members
        case .none:
            read = members
        }
        var names: Set<String> = []
        for name in try node.strings("query") {
            guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy({ byte in
                (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte) || Array("-._~$".utf8).contains(byte)
            }) else {
                throw node.error("route '\(route)': query parameter '\(name)' must be 1 to 64 letters, digits and -._~$")
            }
            if let carried = read.first(where: { ParameterName.mayCarry(name, $0) }) {
                throw node.error("route '\(route)': query parameter '\(name)' may be read as '\(carried)', which the route reads for the decision")
            }
            if let other = names.first(where: { ParameterName.mayCarry(name, $0) || ParameterName.mayCarry($0, name) }) {
                throw node.error("route '\(route)': query parameters '\(other)' and '\(name)' may be read as one")
            }
            names.insert(name)
        }
        return names
    }

    /// Why a JSON body member cannot be read for a decision, or nil: a name of separators alone, which every key of
    /// separators would be read as, or a method override, which a body is refused for naming.
    private static func bodyMemberProblem(_ member: String) -> String? {
        if member.isEmpty || FieldNameKey.of(member).isEmpty {
            return "'\(member)' is no body member's name: names are compared without their separators ('_', '-', '.', ' '), and nothing else is left"
        }
        if CanonicalTarget.methodOverrides.contains(where: { ParameterName.matchesIgnoringCase(member, $0) }) {
            return "'\(member)' overrides a request's method upstream: a body naming it is refused"
        }
        return nil
    }

    /// Why `member`, the body member request fact `fact` reads, cannot stand beside those `route` reads, or nil: it
    /// differs from one of them in letter case or separators alone, so that every body naming either would be refused
    /// as a misspelling of the other (``JSONFields/decidedMembers(_:in:)``), or is the same name read for two things.
    private static func bodyMemberClash(fact: String, member: String, route: Route) -> String? {
        guard let clash = route.decidedBodyMembers.first(where: { ParameterName.sameBodyMember($0, member) }) else { return nil }
        return "request fact '\(fact)' reads the body member '\(member)', and route '\(route.id)' reads '\(clash)' for its decision: "
            + "a request fact's member must differ from a route's by more than letter case or separators"
    }

    /// `key: { body: member }`, a body member a route reads besides its subject: only on a route whose subject is a body
    /// member, and never that member.
    private static func bodyMember(_ node: YAMLNode, _ key: String, route id: String, subject: SubjectSource) throws -> String? {
        guard let memberNode = node[key] else { return nil }
        try memberNode.requireKeys(in: ["body"], what: key)
        let member = try memberNode.required("body", in: key).string(key)
        guard case .bodyField(let subjectMember) = subject else {
            throw memberNode.error("route '\(id)': \(key) names a body member, read only on a route whose subject is one (subject: { body: … })")
        }
        if let problem = bodyMemberProblem(member) { throw memberNode.error("route '\(id)': \(key) \(problem)") }
        guard !ParameterName.sameBodyMember(member, subjectMember) else {
            throw memberNode.error("route '\(id)': \(key) must name a body member other than the subject's, not differing in letter case or separators alone")
        }
        return member
    }

    /// Whether `plain`, a route without a SOAP operation that forwards a body, may reach the endpoint of `soap`, a
    /// route with one: the service would dispatch on an envelope the gateway never read.
    private static func mayReachSOAPEndpoint(_ plain: Route, _ soap: Route) -> Bool {
        plain.soap == nil && soap.soap != nil && plain.acceptsBody && plain.mayReachEndpoint(of: soap)
    }

    /// `soap: { operation: "{namespace}Local", action: "…" }`: the element a SOAP route's envelope Body holds, and the
    /// action its requests may name. `{}Local` names an element in no namespace, which legacy RPC services send; a bare
    /// `Local` is refused, since it more likely lacks its namespace by mistake.
    private static func soapOperation(_ node: YAMLNode, route id: String, method: String) throws -> SOAPOperation {
        try node.requireKeys(in: ["operation", "action"], what: "soap")
        guard method == "POST" else { throw node.error("route '\(id)': a SOAP operation is sent with POST") }
        let operationNode = try node.required("operation", in: "route '\(id)' soap")
        let operation = try operationNode.string("operation")
        let element = operation.hasPrefix("{}") ? QualifiedName(namespace: "", local: String(operation.dropFirst(2))) : QualifiedName(clark: operation)
        guard let element, XMLName.isNCName(Array(element.local.utf8)),
              element.namespace.utf8.count <= 512, !element.namespace.contains(where: \.isWhitespace)
        else {
            throw operationNode.error("route '\(id)': soap operation must be the Body's element as {namespace}Local, or {}Local in no namespace")
        }
        let action = try node["action"].map { actionNode in
            let action = try actionNode.string("action")
            guard !action.isEmpty, action.utf8.count <= 512, !action.contains(where: { $0.isWhitespace || $0 == "\"" || $0 == "\\" }) else {
                throw actionNode.error("route '\(id)': soap action must be a URI without spaces, quotes or backslashes")
            }
            return action
        }
        return SOAPOperation(element: element, action: action)
    }

    private static func parseRule(_ node: YAMLNode, context: inout Context) throws -> Rule {
        try node.requireKeys(in: ruleKeys, what: "rule")
        let id = try node.required("id", in: "rule").string("rule id")
        guard Identifier.isValid(id) else { throw node.error("rule id '\(id)' must be lower-case letters, digits and '-'") }
        let effectNode = try node.required("effect", in: "rule '\(id)'")
        guard let effect = RuleEffect(rawValue: try effectNode.string("effect")) else {
            throw effectNode.error("rule '\(id)': effect must be permit or forbid")
        }
        // A test that can match nothing (a misspelt action or fact) is an error where it widens the rule, a warning
        // where it only narrows it (``Widening``).
        let removesFields = effect == .permit && (node["redact"] != nil || node["return-only"] != nil)
        let when = try parseCondition(
            node.required("when", in: "rule '\(id)'"), rule: id, widening: .when(effect, removesFields: removesFields), context: &context, depth: 0
        )
        let unless = try node["unless"].map {
            try parseCondition($0, rule: id, widening: .unless(effect, removesFields: removesFields), context: &context, depth: 0)
        }
        let reasonNode = node["reason"]
        let reason: String
        switch effect {
        case .forbid:
            guard let reasonNode else { throw node.error("rule '\(id)': a forbid rule needs a reason code") }
            reason = try reasonNode.string("reason")
            if reason == Rule.warrantFailureReason, unless?.mentionsWarrant != true {
                throw reasonNode.error("rule '\(id)': reason \(Rule.warrantFailureReason) needs a warrant condition under unless")
            }
        case .permit:
            reason = try reasonNode?.string("reason") ?? GatewayReason.permitted.rawValue
        }
        guard reason == Rule.warrantFailureReason || Identifier.isValid(reason) else {
            throw (reasonNode ?? node).error("rule '\(id)': reason must be a code such as warrant_required")
        }
        let redact = try node["redact"].map { try redactedNames($0, context.vocabulary) } ?? []
        let keepOnly = try node["return-only"].map { try redactedNames($0, context.vocabulary, what: "return-only") }
        let lift = try node["lift"].map { try lifted($0, rule: id, when: when, context: context) } ?? []
        if effect == .forbid, !redact.isEmpty || keepOnly != nil || !lift.isEmpty {
            throw node.error("rule '\(id)': only permit rules can redact, lift or return-only")
        }
        if keepOnly?.isEmpty == true { throw node.error("rule '\(id)': return-only needs at least one field") }
        if let returnOnly = node["return-only"] {
            // An allow-list keeps what it names whole: a concept's every field name, objects among them, would return
            // whatever a records system nests in them.
            for entry in try returnOnly.strings("return-only") {
                guard let colon = entry.firstIndex(of: ":"), let profile = context.vocabulary.profiles[String(entry[..<colon])],
                      profile.concepts[String(entry[entry.index(after: colon)...])]?.contains(where: { !$0.hasPrefix("{") }) == true
                else { continue }
                context.warnings.append(returnOnly.error(
                    "rule '\(id)': return-only '\(entry)' returns every name of a profile's concept, whole, with what they hold: name the fields"
                ))
            }
        }
        let obligations = try node["obligations"]?.strings("obligations") ?? []
        for obligation in obligations where !Identifier.isValid(obligation) {
            throw node.error("rule '\(id)': obligation '\(obligation)' must be lower-case letters, digits and '-'")
        }
        // Reasons and obligations are printed in public reports beside a day's requests: one that states a status
        // would share what the county may not (the authority's own name, `immigration`, states none).
        for code in [reason] + obligations {
            if let term = ImmigrationStatusTerms.statusTerm(in: code) {
                context.warnings.append((reasonNode ?? node).error(
                    "rule '\(id)': '\(code)' names immigration or citizenship status ('\(term)'), and is printed in public reports: name what the rule decides instead"
                ))
            }
        }
        if !context.obligations.isEmpty {
            for obligation in obligations where context.obligations[obligation] == nil {
                throw node.error("rule '\(id)': obligation '\(obligation)' is not declared (declared: \(context.obligations.keys.sorted().joined(separator: ", ")))")
            }
        }
        var from: LocalDate?
        var until: LocalDate?
        if let effective = node["effective"] {
            try effective.requireKeys(in: ["from", "until"], what: "effective")
            from = try effective["from"].map { try date($0) }
            until = try effective["until"].map { try date($0) }
            if let from, let until, until < from { throw effective.error("rule '\(id)': effective until is before from") }
        }
        return Rule(
            id: id, effect: effect, description: try node["description"]?.string("description"), when: when, unless: unless,
            reason: reason, redact: redact, lift: lift, keepOnly: keepOnly, obligations: obligations, effectiveFrom: from, effectiveUntil: until,
            source: context.file, line: node.line
        )
    }

    /// A permit's `lift:` list: each entry is on the policy's own redaction list, and a written authorization that
    /// the rule's `when` requires covers it, as written.
    private static func lifted(_ node: YAMLNode, rule: String, when: Condition, context: Context) throws -> [String] {
        let covered = when.conjuncts.reduce(into: Set<String>()) { covered, part in
            if case .authorizationCovers(let fields) = part { covered.formUnion(fields) }
        }
        var names: [String] = []
        for entry in try node.strings("lift") {
            guard covered.contains(entry) else {
                throw node.error("rule '\(rule)': lift '\(entry)' needs the rule's when to require authorization: { covers: [\(entry)] }")
            }
            for name in try context.vocabulary.resolve(entry, at: node, under: "lift") {
                guard context.redactAlways.contains(name) else { throw node.error("rule '\(rule)': lift '\(entry)' is not on the policy's redact list") }
                if !names.contains(name) { names.append(name) }
            }
        }
        return names
    }

    /// - Parameter widening: whether a test here that can match nothing would make the rule decide more (``Widening``):
    ///   such a test is then an error, not a warning.
    private static func parseCondition(_ node: YAMLNode, rule: String, widening: Widening, context: inout Context, depth: Int) throws -> Condition {
        let widens = widening.widens
        guard depth < 16 else { throw node.error("conditions are nested too deeply") }
        if case .scalar = node.node, try node.string("condition") == "always" { return .always }
        try node.requireKeys(in: conditionKeys, what: "condition")
        var parts: [Condition] = []
        for (key, value) in try node.mapping("condition") {
            switch key {
            case "agency":
                let ids = try value.someStrings("agency")
                for id in ids where !Identifier.isValid(id) { throw value.error("'\(id)' is not an agency id") }
                parts.append(.agency(Set(ids)))
            case "category":
                let categories = try value.someStrings("category").map { text in
                    guard let category = AgencyCategory(rawValue: text) else {
                        throw value.error("'\(text)' is not a category name (built in: \(AgencyCategory.builtIn.map(\.rawValue).joined(separator: ", ")))")
                    }
                    return category
                }
                parts.append(.category(Set(categories)))
            case "action":
                let patterns = try value.someStrings("action")
                var checked: Set<String> = []
                for pattern in patterns where checked.insert(pattern).inserted {
                    guard ActionPattern.isValid(pattern) else { throw value.error("'\(pattern)' is not an action pattern") }
                    guard context.actionPatterns.contains(pattern) else {
                        let message = "rule '\(rule)': action pattern '\(pattern)' matches no route's action (known: \(context.knownActions))"
                        // A test that matches nothing where it widens the rule is a hole in the policy (``widens``).
                        if widens { throw value.error(message) }
                        context.warnings.append(value.error(message))
                        continue
                    }
                }
                parts.append(.action(patterns))
            case "method":
                let list = try value.someStrings("method")
                for method in list where !methods.contains(method) { throw value.error("unknown method '\(method)'") }
                parts.append(.method(Set(list)))
            case "warrant":
                if case .scalar = value.node {
                    guard try value.string("warrant") == "verified" else {
                        throw value.error("warrant: write 'verified', or { kind: [...], nature: [...], court: [...], judge: recorded, signed: true, signed-by: [...] }")
                    }
                    parts.append(.warrantVerified(DocumentTest()))
                } else {
                    try value.requireKeys(in: ["kind", "nature", "court", "judge", "signed", "signed-by"], what: "warrant")
                    let test = try documentTest(value, judicialOnly: true)
                    guard !test.isEmpty else { throw value.error("warrant: an empty test; write 'verified'") }
                    parts.append(.warrantVerified(test))
                }
            case "advisement":
                if case .scalar = value.node {
                    guard try value.string("advisement") == "recorded" else {
                        throw value.error("advisement: write 'recorded' or { within: 30d }")
                    }
                    parts.append(.advisementRecorded(within: nil))
                } else {
                    try value.requireKeys(in: ["within"], what: "advisement")
                    let within = try value.required("within", in: "advisement")
                    parts.append(.advisementRecorded(within: try duration(within)))
                }
            case "all", "any":
                let children = try value.sequence(key).map { try parseCondition($0, rule: rule, widening: widening, context: &context, depth: depth + 1) }
                guard !children.isEmpty else { throw value.error("\(key) needs at least one condition") }
                parts.append(key == "all" ? .all(children) : .any(children))
            case "not":
                parts.append(.not(try parseCondition(value, rule: rule, widening: widening.negated, context: &context, depth: depth + 1)))
            case "consent":
                try value.requireKeys(in: ["status", "attorney", "within"], what: "consent")
                var condition = ConsentCondition()
                if let statusNode = value["status"] {
                    condition.statuses = Set(try statusNode.someStrings("status").map { text in
                        guard let status = ConsentStatus(rawValue: text) else {
                            throw statusNode.error("consent status '\(text)' must be one of \(ConsentStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                        }
                        return status
                    })
                }
                let attorneyText = try value["attorney"]?.string("attorney") ?? "any"
                guard let attorney = AttorneyRequirement(rawValue: attorneyText) else {
                    throw value.error("consent attorney must be one of \(AttorneyRequirement.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                if attorney != .any, !condition.statuses.contains(.given) { throw value.error("consent attorney applies only to status given") }
                condition.attorney = attorney
                condition.within = try value["within"].map(duration)
                parts.append(.consent(condition))
            case "authorization":
                try value.requireKeys(in: ["covers"], what: "authorization")
                parts.append(.authorizationCovers(try value.required("covers", in: "authorization").someStrings("covers")))
            case "document":
                parts.append(.document(try documentCondition(value)))
            case "fact":
                let entries = try value.mapping("fact")
                guard entries.count == 1, let (name, values) = entries.first else { throw value.error("fact names exactly one fact: { name: value }") }
                let accepted = Set(try values.someStrings("fact value"))
                // As for actions: a misspelt fact or value is an error where it widens the rule, else a warning.
                func report(_ error: FileError) throws {
                    if widens { throw error }
                    context.warnings.append(error)
                }
                switch context.facts[name] {
                case .values(let known)?:
                    for unknown in accepted.subtracting(known).sorted() {
                        try report(values.error("rule '\(rule)': '\(unknown)' is not a declared value of fact '\(name)' (declared: \(Self.listed(known)))"))
                    }
                case .date?:
                    throw value.error("rule '\(rule)': fact '\(name)' is a date; test it with elapsed: or remaining:")
                case nil:
                    try report(value.error("rule '\(rule)': fact '\(name)' is not declared under facts:"))
                }
                parts.append(.fact(name: name, values: accepted))
            case "request":
                let entries = try value.mapping("request")
                guard entries.count == 1, let (name, values) = entries.first else { throw value.error("request names exactly one request fact: { name: [values] }") }
                guard let declared = context.requestFacts[name] else {
                    throw value.error("rule '\(rule)': '\(name)' is not declared under request-facts: (declared: \(context.requestFacts.keys.sorted().joined(separator: ", ")))")
                }
                let accepted = try values.someStrings("request fact value")
                for unknown in accepted where !declared.values.contains(unknown) {
                    throw values.error("rule '\(rule)': '\(unknown)' is not a value of request fact '\(name)' (values: \(declared.values.joined(separator: ", ")))")
                }
                parts.append(.requestFact(name: name, values: Set(accepted)))
            case "elapsed", "remaining":
                let anchor = key == "elapsed" ? "since" : "until"
                try value.requireKeys(in: [anchor, "at-least", "at-most"], what: key)
                let factNode = try value.required(anchor, in: key)
                let fact = try factNode.string(anchor)
                guard context.facts[fact] == .date else {
                    throw factNode.error("rule '\(rule)': \(key) needs a fact declared as a date under facts: ('\(fact)' is not)")
                }
                let window = TimeWindow(atLeast: try value["at-least"].map(policyDuration), atMost: try value["at-most"].map(policyDuration))
                guard window.atLeast != nil || window.atMost != nil else { throw value.error("\(key): give at-least, at-most or both") }
                parts.append(key == "elapsed" ? .elapsed(since: fact, window) : .remaining(until: fact, window))
            case "data":
                let kinds = Set(try value.someStrings("data"))
                for kind in kinds.subtracting(context.dataKinds).sorted() {
                    let message = "rule '\(rule)': no route returns data '\(kind)'"
                    // As for actions.
                    if widens { throw value.error(message) }
                    context.warnings.append(value.error(message))
                }
                parts.append(.data(kinds))
            case "public":
                guard try value.bool("public") else { throw value.error("public: write true, or use not: { public: true }") }
                parts.append(.publicData)
            default:
                throw value.error("unknown condition '\(key)'")
            }
        }
        guard !parts.isEmpty else { throw node.error("empty condition (write 'always' to match every request)") }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    private static func documentCondition(_ node: YAMLNode) throws -> DocumentCondition {
        try node.requireKeys(in: ["kind", "nature", "court", "judge", "signed", "signed-by", "status", "covers-action", "max-age"], what: "document")
        var condition = DocumentCondition(test: try documentTest(node, judicialOnly: false))
        if let statuses = node["status"] {
            condition.statuses = Set(try statuses.someStrings("status").map { text in
                guard let status = DocumentStatus(rawValue: text) else {
                    throw statuses.error("unknown document status '\(text)' (one of \(DocumentStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return status
            })
        }
        condition.coversAction = try node["covers-action"]?.bool("covers-action") ?? false
        condition.maxAge = try node["max-age"].map(duration)
        return condition
    }

    /// The `kind`, `nature`, `court`, `judge`, `signed` and `signed-by` keys of a `warrant:` or `document:` condition.
    private static func documentTest(_ node: YAMLNode, judicialOnly: Bool) throws -> DocumentTest {
        var test = DocumentTest()
        if let kinds = node["kind"] {
            let allowed = DocumentKind.allCases.filter { !judicialOnly || $0.isJudicial }
            test.kinds = Set(try kinds.someStrings("kind").map { text in
                guard let kind = DocumentKind(rawValue: text), allowed.contains(kind) else {
                    let what = judicialOnly ? "a judicial document kind" : "a document kind"
                    throw kinds.error("'\(text)' is not \(what) (one of \(allowed.map(\.rawValue).joined(separator: ", ")))")
                }
                return kind
            })
        }
        if let natures = node["nature"] {
            test.natures = Set(try natures.someStrings("nature").map { text in
                guard let nature = DocumentNature(rawValue: text) else {
                    throw natures.error("nature '\(text)' must be one of \(DocumentNature.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return nature
            })
        }
        if let courts = node["court"] {
            let patterns = try courts.someStrings("court")
            guard !patterns.isEmpty, patterns.allSatisfy({ !$0.isEmpty && $0.count <= 256 }) else {
                throw courts.error("court: list court name patterns such as 'U.S. District Court*'")
            }
            test.courts = patterns
        }
        if let judge = node["judge"] {
            guard try judge.string("judge") == "recorded" else { throw judge.error("judge: write 'recorded'") }
            test.judgeRecorded = true
        }
        if let signed = node["signed"] {
            guard try signed.bool("signed") else { throw signed.error("signed: write true, or leave it out") }
            test.signed = true
        }
        if let courts = node["signed-by"] {
            let ids = try courts.strings("signed-by")
            guard !ids.isEmpty, ids.allSatisfy(Identifier.isValid) else {
                throw courts.error("signed-by: list court ids of courts.yaml, such as denver-county-court")
            }
            test.signed = true
            test.signedBy = ids
        }
        return test
    }

    /// A `redact:` list read through the policy's vocabulary: lower-case field names and Clark names, each once.
    private static func redactedNames(_ node: YAMLNode, _ vocabulary: RedactionVocabulary, what: String = "redact") throws -> [String] {
        var names: [String] = []
        for entry in try node.strings(what) {
            for name in try vocabulary.resolve(entry, at: node, under: what) where !names.contains(name) { names.append(name) }
        }
        return names
    }

    private static func date(_ node: YAMLNode) throws -> LocalDate {
        let text = try node.string("date")
        guard let date = LocalDate(text) else { throw node.error("'\(text)' is not a date of the form YYYY-MM-DD") }
        return date
    }

    /// Parses `5y` and `30d` as calendar years and days, `48h` and `15m` as lengths of time.
    static func policyDuration(_ node: YAMLNode) throws -> PolicyDuration {
        let text = try node.string("duration")
        if text.hasSuffix("y") || text.hasSuffix("d") {
            guard let count = Int(text.dropLast()), count > 0, count <= (text.hasSuffix("y") ? 100 : 36_500) else {
                throw node.error("'\(text)' is not a duration such as 5y, 30d or 48h")
            }
            return text.hasSuffix("y") ? .years(count) : .days(count)
        }
        return .seconds(try duration(node))
    }

    /// Parses `30d`, `48h` or `15m`, up to 100 years: a longer span would overflow the clock arithmetic it feeds.
    static func duration(_ node: YAMLNode) throws -> TimeInterval {
        let text = try node.string("duration")
        let seconds: TimeInterval
        switch (text.last, Int(text.dropLast())) {
        case ("d", let value?) where value > 0: seconds = TimeInterval(value) * 86400
        case ("h", let value?) where value > 0: seconds = TimeInterval(value) * 3600
        case ("m", let value?) where value > 0: seconds = TimeInterval(value) * 60
        default: throw node.error("'\(text)' is not a duration such as 30d, 48h or 15m")
        }
        guard seconds <= 36_500 * 86400 else { throw node.error("'\(text)' is longer than 100 years") }
        return seconds
    }
}
