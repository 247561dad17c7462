/// What a request is: the action it performs, on which inmate, served by which upstream.
public struct Classification: Sendable, Equatable {
    public let route: Route
    public let subject: String?
    public var action: String { route.action }
}

/// Why a request could not be classified. Each maps to a reason code in the log.
public enum ClassificationFailure: Error, Sendable, Equatable {
    /// No route matches the method and canonical path.
    case noRoute
    /// The route needs a subject that the request does not give exactly once.
    case subjectMissing(String)
    /// The subject is present but not a well-formed booking number.
    case subjectInvalid(String)
    /// The body that names the subject is not a JSON object with a unique string field.
    case bodyInvalid(String)

    public var reason: GatewayReason {
        switch self {
        case .noRoute: .noRoute
        case .subjectMissing: .subjectMissing
        case .subjectInvalid: .subjectInvalid
        case .bodyInvalid: .bodyInvalid
        }
    }

    public var detail: String {
        switch self {
        case .noRoute: "no route matches this method and path"
        case .subjectMissing(let detail), .subjectInvalid(let detail), .bodyInvalid(let detail): detail
        }
    }
}

/// Classifies canonical requests against a policy's routes.
public struct Classifier: Sendable {
    public let routes: [Route]
    public let subjectFormat: SubjectFormat

    public init(routes: [Route], subjectFormat: SubjectFormat) {
        self.routes = routes
        self.subjectFormat = subjectFormat
    }

    /// The first route, in file order, that matches the method and path, with its bound parameters.
    public func match(method: String, target: CanonicalTarget) throws(ClassificationFailure) -> (route: Route, parameters: [String: String]) {
        for route in routes where route.method == method {
            if let parameters = route.bind(target.segments) { return (route, parameters) }
        }
        throw .noRoute
    }

    /// Whether the matched route needs the request body to find its subject.
    public static func needsBody(_ route: Route) -> Bool {
        if case .bodyField = route.subject { true } else { false }
    }

    /// Completes classification. `body` must be given when ``needsBody(_:)`` is true.
    public func classify(
        route: Route, parameters: [String: String], target: CanonicalTarget, body: [UInt8]?
    ) throws(ClassificationFailure) -> Classification {
        let subject: String?
        switch route.subject {
        case .none:
            subject = nil
        case .pathParameter(let name):
            subject = parameters[name]
        case .queryParameter(let name):
            let values = target.queryValues(name)
            guard values.count == 1 else {
                throw .subjectMissing(values.isEmpty ? "query parameter '\(name)' is required" : "query parameter '\(name)' is given more than once")
            }
            subject = values[0]
        case .bodyField(let name):
            do {
                subject = try JSONFields.uniqueTopLevelString(named: name, in: body ?? [])
            } catch {
                throw .bodyInvalid("body field '\(name)': \(error.detail)")
            }
        }
        if let subject, !subjectFormat.accepts(subject) {
            throw .subjectInvalid("'\(String(subject.prefix(64)))' is not a booking number of the form \(subjectFormat.pattern)")
        }
        return Classification(route: route, subject: subject)
    }
}

/// The shape of a booking number, written as a pattern that counsel can read: `#` is a digit, `A` a capital
/// letter, `a` a lower-case letter, and every other character stands for itself. `####-######` matches `2017-000123`.
public struct SubjectFormat: Sendable, Equatable {
    public let pattern: String
    private let pattern8: [UInt8]

    public init(pattern: String) {
        self.pattern = pattern
        self.pattern8 = Array(pattern.utf8)
    }

    public func accepts(_ subject: String) -> Bool {
        let bytes = Array(subject.utf8)
        guard bytes.count == pattern8.count else { return false }
        for (byte, expected) in zip(bytes, pattern8) {
            switch expected {
            case UInt8(ascii: "#"): guard byte >= 0x30 && byte <= 0x39 else { return false }
            case UInt8(ascii: "A"): guard byte >= 0x41 && byte <= 0x5a else { return false }
            case UInt8(ascii: "a"): guard byte >= 0x61 && byte <= 0x7a else { return false }
            default: guard byte == expected else { return false }
            }
        }
        return true
    }
}
