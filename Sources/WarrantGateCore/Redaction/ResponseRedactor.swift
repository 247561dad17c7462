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

/// The kinds of body redaction can read.
public enum RedactableMediaType: String, Sendable {
    /// `application/json`, `application/ld+json` and `application/*+json`.
    case json
    /// `application/xml`, `text/xml` and `application/*+xml` (SOAP 1.2's `application/soap+xml` among them).
    case xml

    /// The kind of a `Content-Type` value, or nil for any other type, or a charset other than UTF-8 or US-ASCII.
    public init?(contentType: String?) {
        guard let contentType else { return nil }
        let parts = contentType.split(separator: ";", omittingEmptySubsequences: false)
        let type = parts[0].trimmingASCIISpaces().lowercased()
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return nil }
            guard pair[0].trimmingASCIISpaces().lowercased() == "charset" else { continue }
            var value = pair[1].trimmingASCIISpaces()
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            guard ["utf-8", "utf8", "us-ascii"].contains(value.lowercased()) else { return nil }
        }
        let slash = type.split(separator: "/", omittingEmptySubsequences: false)
        guard slash.count == 2, !slash[1].isEmpty else { return nil }
        switch (slash[0], slash[1]) {
        case ("application", "json"), ("application", _) where slash[1].hasSuffix("+json"): self = .json
        case ("application", "xml"), ("text", "xml"), ("application", _) where slash[1].hasSuffix("+xml"): self = .xml
        default: return nil
        }
    }
}

/// What an allowed decision removes from the response, ready to redact bodies of each kind.
public struct ResponseRedactor: Sendable {
    public let names: RedactedNames
    /// When the decision returns only chosen fields: their names. A record's top-level field that is not among them
    /// is removed as a redacted one is: a member of the root JSON object, a child of the root XML element, or in a
    /// SOAP envelope a child of the Body's element.
    public let keepOnly: RedactedNames?

    public init(names: some Sequence<String>, keepOnly: (some Sequence<String>)? = [String]?.none) {
        self.names = RedactedNames(names)
        self.keepOnly = keepOnly.map { RedactedNames($0) }
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

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingASCIISpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
