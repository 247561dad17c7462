/// Text from a file or database that the CLI prints inside its own messages (a verifier's problem, naming a
/// column's value): every control character (C0, DEL, C1), format character (bidi overrides and isolates, zero-width
/// characters) and line or paragraph separator is written as `\u{XXXX}`, so the value cannot move the cursor, erase
/// or hide a line, or reorder what a terminal shows.
public enum TerminalText {
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Each line of `text` escaped, the line feeds between them kept: for a message of several lines that may quote a
    /// hostile value (which can then start a line, but not write a control or format character).
    public static func escapedLines(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { escaped(String($0)) }.joined(separator: "\n")
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
