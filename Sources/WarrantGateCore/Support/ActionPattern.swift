import Foundation

/// Matches action names such as `records.read` against patterns: an exact name, `records.*` for a family, or `*`.
public enum ActionPattern {
    /// Compares UTF-8 bytes: action names are ASCII by construction, and this runs for every rule of every request.
    public static func matches(pattern: String, action: String) -> Bool {
        var pattern = pattern
        var action = action
        return pattern.withUTF8 { pattern in
            action.withUTF8 { action in
                if pattern.count == 1 && pattern[0] == UInt8(ascii: "*") { return true }
                guard pattern.count >= 2 && pattern[pattern.count - 1] == UInt8(ascii: "*") && pattern[pattern.count - 2] == UInt8(ascii: ".") else {
                    return pattern.count == action.count && (pattern.isEmpty || memcmp(pattern.baseAddress!, action.baseAddress!, pattern.count) == 0)
                }
                let family = pattern.count - 1
                return action.count > family && memcmp(pattern.baseAddress!, action.baseAddress!, family) == 0
            }
        }
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
