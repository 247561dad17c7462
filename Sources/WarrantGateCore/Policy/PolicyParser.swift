import Foundation

/// Reads a policy file. Every error names the file and line; an invalid file is never half-loaded.
///
/// The format is documented in `policies/README.md`.
public enum PolicyParser {
    static let topLevelKeys: Set<String> = [
        "policy", "title", "time-zone", "subject-format", "routes", "namespaces", "profiles", "redact", "rules", "notes", "facts",
        "fact-lookup",
    ]
    static let routeKeys: Set<String> = ["id", "method", "path", "action", "subject", "upstream", "data", "public"]
    static let ruleKeys: Set<String> = ["id", "effect", "description", "when", "unless", "reason", "redact", "obligations", "effective"]
    static let conditionKeys: Set<String> = [
        "agency", "category", "action", "method", "warrant", "advisement", "consent", "authorization", "document", "fact", "data", "public",
        "all", "any", "not",
    ]

    /// What conditions may refer to, collected from the routes and the `facts` declaration, and the warnings found.
    struct Context {
        let actions: Set<String>
        let dataKinds: Set<String>
        let facts: [String: Set<String>]
        let vocabulary: RedactionVocabulary
        var warnings: [FileError] = []
    }
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

    public static func load(path: String) throws -> Policy {
        try parse(YAMLNode.readText(path: path, what: "policy file"), file: path)
    }

    public static func parse(_ text: String, file: String) throws -> Policy {
        let root = try YAMLNode.parse(text, file: file)
        try root.requireKeys(in: topLevelKeys, what: "policy")
        let name = try root.required("policy", in: "policy").string("policy name")
        guard Identifier.isValid(name) else { throw root.error("policy name '\(name)' must be lower-case letters, digits and '-'") }
        let title = try root["title"]?.string("title") ?? name
        let timeZoneNode = try root.required("time-zone", in: "policy")
        let timeZoneName = try timeZoneNode.string("time-zone")
        guard let timeZone = TimeZone(identifier: timeZoneName) else {
            throw timeZoneNode.error("unknown time zone '\(timeZoneName)' (use an IANA name such as America/Denver)")
        }
        let formatNode = try root.required("subject-format", in: "policy")
        let format = try formatNode.string("subject-format")
        guard !format.isEmpty, format.count <= 64 else { throw formatNode.error("subject-format must be 1 to 64 characters") }

        var routes: [Route] = []
        for node in try root.required("routes", in: "policy").sequence("routes") {
            let route = try parseRoute(node)
            if routes.contains(where: { $0.id == route.id }) { throw node.error("route id '\(route.id)' is used twice") }
            if routes.contains(where: { $0.method == route.method && $0.template == route.template }) {
                throw node.error("route '\(route.id)' repeats the method and path of an earlier route")
            }
            routes.append(route)
        }
        guard !routes.isEmpty else { throw root.error("policy has no routes") }
        var facts: [String: Set<String>] = [:]
        for (name, values) in try root["facts"]?.mapping("facts") ?? [] {
            guard Identifier.isValid(name) else { throw values.error("fact name '\(name)' must be lower-case letters, digits and '-'") }
            facts[name] = Set(try values.strings("fact values"))
        }
        let vocabulary = try RedactionVocabulary.read(namespaces: root["namespaces"], profiles: root["profiles"], policyFile: file)
        var context = Context(
            actions: Set(routes.map(\.action)), dataKinds: routes.reduce(into: Set<String>()) { $0.formUnion($1.data) }, facts: facts,
            vocabulary: vocabulary
        )

        let redact = try root["redact"].map { try redactedNames($0, vocabulary) } ?? []
        var rules: [Rule] = []
        for node in try root.required("rules", in: "policy").sequence("rules") {
            let rule = try parseRule(node, context: &context)
            if rules.contains(where: { $0.id == rule.id }) { throw node.error("rule id '\(rule.id)' is used twice") }
            rules.append(rule)
        }
        var lookup: FactLookup?
        if let node = root["fact-lookup"] {
            try node.requireKeys(in: ["upstream", "path", "ttl", "max-entries"], what: "fact-lookup")
            let upstream = try node.required("upstream", in: "fact-lookup").string("upstream")
            let pathNode = try node.required("path", in: "fact-lookup")
            let path = try pathNode.string("path")
            guard path.hasPrefix("/"), path.contains("{subject}"),
                  (try? CanonicalTarget(raw: path.replacingOccurrences(of: "{subject}", with: "x")))?.target == path.replacingOccurrences(of: "{subject}", with: "x")
            else { throw pathNode.error("fact-lookup path must be a canonical path containing {subject}") }
            let maxEntries = try node["max-entries"]?.int("max-entries") ?? 10_000
            guard maxEntries > 0 else { throw node.error("max-entries must be positive") }
            lookup = FactLookup(upstream: upstream, path: path, ttl: try node["ttl"].map(duration) ?? 300, maxEntries: maxEntries)
        }
        let policy = Policy(
            name: name, title: title, timeZone: timeZone, subjectFormat: SubjectFormat(pattern: format), routes: routes,
            redactAlways: redact, rules: rules, digest: Policy.digest(of: Array(text.utf8), profiles: vocabulary.profiles), source: file,
            warnings: context.warnings, factLookup: lookup, vocabulary: vocabulary
        )
        return policy.withLintWarnings()
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
        var subject = SubjectSource.none
        if let subjectNode = node["subject"] {
            let entries = try subjectNode.mapping("subject")
            guard entries.count == 1, let (kind, valueNode) = entries.first else {
                throw subjectNode.error("route '\(id)': subject names exactly one of path, query or body")
            }
            let value = try valueNode.string("subject")
            switch kind {
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
                subject = .bodyField(value)
            default: throw subjectNode.error("route '\(id)': subject must be given by path, query or body")
            }
        }
        let data = try node["data"]?.strings("data") ?? []
        for kind in data where !Identifier.isValid(kind) { throw node.error("route '\(id)': data kind '\(kind)' must be lower-case letters, digits and '-'") }
        let isPublic = try node["public"]?.bool("public") ?? false
        return Route(id: id, method: method, template: template, action: action, subject: subject, upstream: upstream, data: Set(data), isPublic: isPublic)
    }

    private static func parseRule(_ node: YAMLNode, context: inout Context) throws -> Rule {
        try node.requireKeys(in: ruleKeys, what: "rule")
        let id = try node.required("id", in: "rule").string("rule id")
        guard Identifier.isValid(id) else { throw node.error("rule id '\(id)' must be lower-case letters, digits and '-'") }
        let effectNode = try node.required("effect", in: "rule '\(id)'")
        guard let effect = RuleEffect(rawValue: try effectNode.string("effect")) else {
            throw effectNode.error("rule '\(id)': effect must be permit or forbid")
        }
        let when = try parseCondition(node.required("when", in: "rule '\(id)'"), rule: id, effect: effect, context: &context, depth: 0)
        let unless = try node["unless"].map { try parseCondition($0, rule: id, effect: effect, context: &context, depth: 0) }
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
        if effect == .forbid, !redact.isEmpty { throw node.error("rule '\(id)': only permit rules can redact") }
        let obligations = try node["obligations"]?.strings("obligations") ?? []
        for obligation in obligations where !Identifier.isValid(obligation) {
            throw node.error("rule '\(id)': obligation '\(obligation)' must be lower-case letters, digits and '-'")
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
            reason: reason, redact: redact, obligations: obligations, effectiveFrom: from, effectiveUntil: until, line: node.line
        )
    }

    private static func parseCondition(_ node: YAMLNode, rule: String, effect: RuleEffect, context: inout Context, depth: Int) throws -> Condition {
        guard depth < 16 else { throw node.error("conditions are nested too deeply") }
        if case .scalar = node.node, try node.string("condition") == "always" { return .always }
        try node.requireKeys(in: conditionKeys, what: "condition")
        var parts: [Condition] = []
        for (key, value) in try node.mapping("condition") {
            switch key {
            case "agency":
                let ids = try value.strings("agency")
                for id in ids where !Identifier.isValid(id) { throw value.error("'\(id)' is not an agency id") }
                parts.append(.agency(Set(ids)))
            case "category":
                let categories = try value.strings("category").map { text in
                    guard let category = AgencyCategory(rawValue: text) else {
                        throw value.error("unknown category '\(text)' (expected one of: \(AgencyCategory.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    return category
                }
                parts.append(.category(Set(categories)))
            case "action":
                let patterns = try value.strings("action")
                for pattern in patterns {
                    guard ActionPattern.isValid(pattern) else { throw value.error("'\(pattern)' is not an action pattern") }
                    guard context.actions.contains(where: { ActionPattern.matches(pattern: pattern, action: $0) }) else {
                        let message = "rule '\(rule)': action pattern '\(pattern)' matches no route's action (known: \(context.actions.sorted().joined(separator: ", ")))"
                        // A forbid that can never match is a hole in the policy, so it is an error; a permit that never
                        // matches only denies, so it is a warning.
                        if effect == .forbid { throw value.error(message) }
                        context.warnings.append(value.error(message))
                        continue
                    }
                }
                parts.append(.action(patterns))
            case "method":
                let list = try value.strings("method")
                for method in list where !methods.contains(method) { throw value.error("unknown method '\(method)'") }
                parts.append(.method(Set(list)))
            case "warrant":
                if case .scalar = value.node {
                    guard try value.string("warrant") == "verified" else { throw value.error("warrant: write 'verified' or { kind: [judicial-subpoena] }") }
                    parts.append(.warrantVerified(kinds: nil))
                } else {
                    try value.requireKeys(in: ["kind"], what: "warrant")
                    let kindsNode = try value.required("kind", in: "warrant")
                    let kinds = try kindsNode.strings("kind").map { text in
                        guard let kind = DocumentKind(rawValue: text), kind.isJudicial else {
                            throw kindsNode.error("'\(text)' is not a judicial document kind (judicial-warrant, court-order, judicial-subpoena)")
                        }
                        return kind
                    }
                    parts.append(.warrantVerified(kinds: Set(kinds)))
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
                let children = try value.sequence(key).map { try parseCondition($0, rule: rule, effect: effect, context: &context, depth: depth + 1) }
                guard !children.isEmpty else { throw value.error("\(key) needs at least one condition") }
                parts.append(key == "all" ? .all(children) : .any(children))
            case "not":
                parts.append(.not(try parseCondition(value, rule: rule, effect: effect, context: &context, depth: depth + 1)))
            case "consent":
                try value.requireKeys(in: ["attorney", "within"], what: "consent")
                let attorneyText = try value["attorney"]?.string("attorney") ?? "any"
                guard let attorney = AttorneyRequirement(rawValue: attorneyText) else {
                    throw value.error("consent attorney must be any, required or not-required")
                }
                parts.append(.consentRecorded(attorney: attorney, within: try value["within"].map(duration)))
            case "authorization":
                try value.requireKeys(in: ["covers"], what: "authorization")
                parts.append(.authorizationCovers(try value.required("covers", in: "authorization").strings("covers")))
            case "document":
                parts.append(.document(try documentCondition(value)))
            case "fact":
                let entries = try value.mapping("fact")
                guard entries.count == 1, let (name, values) = entries.first else { throw value.error("fact names exactly one fact: { name: value }") }
                let accepted = Set(try values.strings("fact value"))
                if let known = context.facts[name] {
                    for unknown in accepted.subtracting(known) {
                        context.warnings.append(values.error("rule '\(rule)': '\(unknown)' is not a declared value of fact '\(name)'"))
                    }
                } else {
                    context.warnings.append(value.error("rule '\(rule)': fact '\(name)' is not declared under facts:"))
                }
                parts.append(.fact(name: name, values: accepted))
            case "data":
                let kinds = Set(try value.strings("data"))
                for kind in kinds.subtracting(context.dataKinds) {
                    context.warnings.append(value.error("rule '\(rule)': no route returns data '\(kind)'"))
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
        try node.requireKeys(in: ["kind", "status", "covers-action", "max-age"], what: "document")
        var condition = DocumentCondition()
        if let kinds = node["kind"] {
            condition.kinds = Set(try kinds.strings("kind").map { text in
                guard let kind = DocumentKind(rawValue: text) else { throw kinds.error("unknown document kind '\(text)'") }
                return kind
            })
        }
        if let statuses = node["status"] {
            condition.statuses = Set(try statuses.strings("status").map { text in
                guard let status = DocumentStatus(rawValue: text) else { throw statuses.error("unknown document status '\(text)'") }
                return status
            })
        }
        condition.coversAction = try node["covers-action"]?.bool("covers-action") ?? false
        condition.maxAge = try node["max-age"].map(duration)
        return condition
    }

    /// A `redact:` list read through the policy's vocabulary: lower-case field names and Clark names, each once.
    private static func redactedNames(_ node: YAMLNode, _ vocabulary: RedactionVocabulary) throws -> [String] {
        var names: [String] = []
        for entry in try node.strings("redact") {
            for name in try vocabulary.resolve(entry, at: node) where !names.contains(name) { names.append(name) }
        }
        return names
    }

    private static func date(_ node: YAMLNode) throws -> LocalDate {
        let text = try node.string("date")
        guard let date = LocalDate(text) else { throw node.error("'\(text)' is not a date of the form YYYY-MM-DD") }
        return date
    }

    /// Parses `30d`, `48h` or `15m`.
    static func duration(_ node: YAMLNode) throws -> TimeInterval {
        let text = try node.string("duration")
        guard let unit = text.last, let value = Int(text.dropLast()), value > 0 else {
            throw node.error("'\(text)' is not a duration such as 30d, 48h or 15m")
        }
        switch unit {
        case "d": return TimeInterval(value) * 86400
        case "h": return TimeInterval(value) * 3600
        case "m": return TimeInterval(value) * 60
        default: throw node.error("'\(text)' is not a duration such as 30d, 48h or 15m")
        }
    }
}
