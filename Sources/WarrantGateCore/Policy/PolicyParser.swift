import Foundation

/// Reads a policy file. Every error names the file and line; an invalid file is never half-loaded.
///
/// The format is documented in `policies/README.md`.
public enum PolicyParser {
    static let topLevelKeys: Set<String> = ["policy", "title", "time-zone", "subject-format", "routes", "redact", "rules", "notes"]
    static let routeKeys: Set<String> = ["id", "method", "path", "action", "subject", "upstream"]
    static let ruleKeys: Set<String> = ["id", "effect", "description", "when", "unless", "reason", "redact", "obligations", "effective"]
    static let conditionKeys: Set<String> = ["agency", "category", "action", "method", "warrant", "advisement", "all", "any", "not"]
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

    public static func load(path: String) throws -> Policy {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FileError(file: path, line: nil, message: "cannot read policy file")
        }
        guard data.count <= YAMLNode.maximumFileSize else {
            throw FileError(file: path, line: nil, message: "file is larger than \(YAMLNode.maximumFileSize) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw FileError(file: path, line: nil, message: "file is not UTF-8")
        }
        return try parse(text, file: path)
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
        let actions = Set(routes.map(\.action))

        let redact = try root["redact"].map { try fieldNames($0, what: "redact") } ?? []
        var rules: [Rule] = []
        for node in try root.required("rules", in: "policy").sequence("rules") {
            let rule = try parseRule(node, actions: actions)
            if rules.contains(where: { $0.id == rule.id }) { throw node.error("rule id '\(rule.id)' is used twice") }
            rules.append(rule)
        }
        return Policy(
            name: name, title: title, timeZone: timeZone, subjectFormat: SubjectFormat(pattern: format), routes: routes,
            redactAlways: redact, rules: rules, digest: Policy.digest(of: Array(text.utf8)), source: file
        )
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
            case "body": subject = .bodyField(value)
            default: throw subjectNode.error("route '\(id)': subject must be given by path, query or body")
            }
        }
        return Route(id: id, method: method, template: template, action: action, subject: subject, upstream: upstream)
    }

    private static func parseRule(_ node: YAMLNode, actions: Set<String>) throws -> Rule {
        try node.requireKeys(in: ruleKeys, what: "rule")
        let id = try node.required("id", in: "rule").string("rule id")
        guard Identifier.isValid(id) else { throw node.error("rule id '\(id)' must be lower-case letters, digits and '-'") }
        let effectNode = try node.required("effect", in: "rule '\(id)'")
        guard let effect = RuleEffect(rawValue: try effectNode.string("effect")) else {
            throw effectNode.error("rule '\(id)': effect must be permit or forbid")
        }
        let when = try parseCondition(node.required("when", in: "rule '\(id)'"), actions: actions, depth: 0)
        let unless = try node["unless"].map { try parseCondition($0, actions: actions, depth: 0) }
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
            reason = try reasonNode?.string("reason") ?? "permitted"
        }
        guard reason == Rule.warrantFailureReason || Identifier.isValid(reason) else {
            throw (reasonNode ?? node).error("rule '\(id)': reason must be a code such as warrant_required")
        }
        let redact = try node["redact"].map { try fieldNames($0, what: "redact") } ?? []
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

    private static func parseCondition(_ node: YAMLNode, actions: Set<String>, depth: Int) throws -> Condition {
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
                    guard actions.contains(where: { ActionPattern.matches(pattern: pattern, action: $0) }) else {
                        throw value.error("action pattern '\(pattern)' matches no route's action (known: \(actions.sorted().joined(separator: ", ")))")
                    }
                }
                parts.append(.action(patterns))
            case "method":
                let list = try value.strings("method")
                for method in list where !methods.contains(method) { throw value.error("unknown method '\(method)'") }
                parts.append(.method(Set(list)))
            case "warrant":
                guard try value.string("warrant") == "verified" else { throw value.error("warrant: the only test is 'verified'") }
                parts.append(.warrantVerified)
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
                let children = try value.sequence(key).map { try parseCondition($0, actions: actions, depth: depth + 1) }
                guard !children.isEmpty else { throw value.error("\(key) needs at least one condition") }
                parts.append(key == "all" ? .all(children) : .any(children))
            case "not":
                parts.append(.not(try parseCondition(value, actions: actions, depth: depth + 1)))
            default:
                throw value.error("unknown condition '\(key)'")
            }
        }
        guard !parts.isEmpty else { throw node.error("empty condition (write 'always' to match every request)") }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    private static func fieldNames(_ node: YAMLNode, what: String) throws -> [String] {
        let names = try node.strings(what)
        for name in names where name.isEmpty || name.count > 128 { throw node.error("\(what): field names must be 1 to 128 characters") }
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
