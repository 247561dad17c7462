/// Rules for the identifiers that policies, agencies and documents use.
public enum Identifier {
    /// Lower-case letters, digits, `-`, `.` and `_`, starting with a letter or digit, at most 64 characters.
    public static func isValid(_ text: String) -> Bool {
        guard let first = text.utf8.first, text.utf8.count <= 64 else { return false }
        guard isLowerAlphanumeric(first) else { return false }
        return text.utf8.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") }
    }

    /// Document references and booking numbers: letters, digits and `-`, `_`, `.`, `/`, not starting with punctuation, at most 128 characters.
    public static func isValidReference(_ text: String) -> Bool {
        guard let first = text.utf8.first, text.utf8.count <= 128, isAlphanumeric(first) else { return false }
        return text.utf8.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/")
        }
    }

    /// How people who read, copy and type a document reference tell two apart. It is read in parts between separators
    /// (`-`, `_`, `.`, `/`): in any letter case; in a part that holds a digit, `O` or `o` as `0`, and `I` or `l` (the
    /// shapes of a one, not `L` or `i`) as `1`; each run of digits without its leading zeros. A separator between
    /// letters and digits counts for nothing (`JW2026` is `JW-2026`); between two parts of the same kind it stays, so
    /// distinct numbers stay apart (`2026-01-12` is not `2026-11-02`, nor `JW20260001` `JW-2026-0001`).
    /// `JW-2026-0001`, `jw2026-OOO1` and `JW.2026.1.` have one key; `2024-CR-0012L` and `2024-CR-0121` do not.
    public static func referenceKey(_ reference: String) -> String {
        let parts = reference.split(whereSeparator: { "-_./".contains($0) }).map { part -> String in
            let read = (part.contains(where: \.isNumber) ? String(part.map { "Oo".contains($0) ? "0" : "Il".contains($0) ? "1" : $0 }) : String(part)).lowercased()
            var trimmed = "", digits = ""
            for character in read + " " {
                if character.isASCII, character.isNumber {
                    digits.append(character)
                    continue
                }
                let significant = digits.drop { $0 == "0" }
                if !digits.isEmpty { trimmed += significant.isEmpty ? "0" : String(significant) }
                digits = ""
                if character != " " { trimmed.append(character) }
            }
            return trimmed
        }
        var key = ""
        for part in parts {
            if let last = key.last, let first = part.first, last.isNumber == first.isNumber { key += "|" }
            key += part
        }
        return key
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
