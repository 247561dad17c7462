/// The kind of body an agency is. Policies decide mostly by category.
public enum AgencyCategory: String, Sendable, CaseIterable, Codable, Hashable {
    case federalImmigration = "federal-immigration"
    case localLawEnforcement = "local-law-enforcement"
    case defenseCounsel = "defense-counsel"
    case court
    case consulate
    case jailStaff = "jail-staff"
}
