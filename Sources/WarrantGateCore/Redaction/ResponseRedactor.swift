/// Limits on redacting one response body.
public struct RedactionLimits: Sendable, Equatable {
    public var xml: XMLRedaction.Limits
    /// Deepest JSON nesting accepted.
    public var jsonMaxDepth: Int

    public init(xml: XMLRedaction.Limits = XMLRedaction.Limits(), jsonMaxDepth: Int = 128) {
        self.xml = xml
        self.jsonMaxDepth = jsonMaxDepth
    }
}

/// What an allowed decision removes from the response, ready to redact bodies of each kind. A class: a policy's
/// redactors are built once and shared by the requests they apply to, on every event loop.
public final class ResponseRedactor: Sendable {
    public let names: RedactedNames
    /// When the decision returns only chosen fields: their names. A record's top-level field that is not among them
    /// is removed as a redacted one is: a member of the root JSON object, a child of the root XML element, or in a
    /// SOAP envelope a child of the Body's element.
    public let keepOnly: RedactedNames?
    /// Built once with the policy and used for every decision that returns what it returns: two answers it redacts
    /// are redacted alike, whichever inmate each is about. One built for a single decision (what documents released
    /// for one inmate) is not.
    public let isShared: Bool

    /// - Parameters:
    ///   - lifted: the field names a permit lifted from the policy's list (``RedactedNames``).
    ///   - shared: see ``isShared``.
    public init(
        names: some Sequence<String>, keepOnly: (some Sequence<String>)? = [String]?.none, lifted: some Sequence<String> = [String](),
        shared: Bool = false
    ) {
        self.names = RedactedNames(names, lifted: lifted)
        self.keepOnly = keepOnly.map { RedactedNames($0) }
        self.isShared = shared
    }

    /// Whether every body passes unchanged.
    public var isEmpty: Bool { names.isEmpty && keepOnly == nil }

    /// A fresh redaction for one body of `type`.
    public func redaction(for type: RedactableMediaType, limits: RedactionLimits) -> any BodyRedaction {
        switch type {
        case .json: JSONRedaction(names: names, keepOnly: keepOnly, maxDepth: limits.jsonMaxDepth)
        case .xml: XMLRedaction(names: names, keepOnly: keepOnly, limits: limits.xml)
        }
    }
}
