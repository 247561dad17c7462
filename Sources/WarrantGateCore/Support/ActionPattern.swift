/// Matches action names such as `records.read` against patterns: an exact name, `records.*` for a family, or `*`.
public enum ActionPattern {
    public static func matches(pattern: String, action: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix(".*") {
            let family = pattern.dropLast(1)
            return action.hasPrefix(family) && action.count > family.count
        }
        return pattern == action
    }

    /// Whether a pattern is well formed: an action name, a family (`name.*`) or `*`.
    public static func isValid(_ pattern: String) -> Bool {
        if pattern == "*" { return true }
        let name = pattern.hasSuffix(".*") ? String(pattern.dropLast(2)) : pattern
        return !name.isEmpty && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
        }
    }
}
