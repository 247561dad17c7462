/// The kind of body an agency is. Policies decide mostly by category.
///
/// Six categories are built in; an agency directory declares any others it uses under `categories:` (a
/// prosecutor, another city agency, federal law enforcement outside immigration). A category is a lower-case
/// identifier.
public struct AgencyCategory: RawRepresentable, Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// Nil unless `rawValue` is an identifier (lower-case letters, digits and '-').
    public init?(rawValue: String) {
        guard Identifier.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    private init(builtIn: String) {
        rawValue = builtIn
    }

    public static let federalImmigration = AgencyCategory(builtIn: "federal-immigration")
    public static let localLawEnforcement = AgencyCategory(builtIn: "local-law-enforcement")
    public static let defenseCounsel = AgencyCategory(builtIn: "defense-counsel")
    public static let court = AgencyCategory(builtIn: "court")
    public static let consulate = AgencyCategory(builtIn: "consulate")
    public static let jailStaff = AgencyCategory(builtIn: "jail-staff")

    /// The categories every directory knows without declaring them.
    public static let builtIn: [AgencyCategory] = [.federalImmigration, .localLawEnforcement, .defenseCounsel, .court, .consulate, .jailStaff]

    public var description: String { rawValue }

    public static func < (lhs: AgencyCategory, rhs: AgencyCategory) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let category = AgencyCategory(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a category name"))
        }
        self = category
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
