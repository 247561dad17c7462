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

    /// How people who read, copy and type a document reference tell two apart: in any letter case, `O` as `0` and `I`
    /// or `L` as `1`, without the separators (`-`, `_`, `.`, `/`) and without the zeros that lead a run of digits. Two
    /// references with one key are one to them (`JW-2026-0001`, `jw2026-OOO1`, `JW.2026.1`), whatever the gateway
    /// matches.
    public static func referenceKey(_ reference: String) -> String {
        var key = "", digits = ""
        func endDigits() {
            let trimmed = digits.drop { $0 == "0" }
            key += trimmed.isEmpty && !digits.isEmpty ? "0" : String(trimmed)
            digits = ""
        }
        for character in reference.lowercased() {
            let read: Character = switch character {
            case "o": "0"
            case "i", "l": "1"
            default: character
            }
            if read.isASCII, read.isNumber {
                digits.append(read)
                continue
            }
            endDigits()
            if !"-_./".contains(read) { key.append(read) }
        }
        endDigits()
        return key
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
