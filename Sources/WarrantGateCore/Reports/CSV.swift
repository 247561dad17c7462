import Foundation

/// RFC 4180 CSV, with formula-leading cells neutralised so a spreadsheet never executes a logged value.
public enum CSV {
    /// `text` with each control or format character but a tab or a line break written `\u{XX}`.
    private static func visible(_ text: String) -> String {
        var shown = ""
        for scalar in text.unicodeScalars {
            switch (scalar, scalar.properties.generalCategory) {
            case ("\t", _), ("\n", _), ("\r", _):
                shown.unicodeScalars.append(scalar)
            case (_, .control), (_, .format), (_, .lineSeparator), (_, .paragraphSeparator):
                shown += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default:
                shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }

    /// Whether `byte` may belong to a character ``visible(_:)`` escapes: a C0 control but a tab or a line break, DEL,
    /// or any byte of a non-ASCII character.
    private static func mayBeHidden(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x09, 0x0a, 0x0d: false
        case 0..<0x20, 0x7f...: true
        default: false
        }
    }

    public static func line(_ fields: [String]) -> String {
        var line = ""
        line.reserveCapacity(fields.reduce(2 + fields.count) { $0 + $1.utf8.count })
        for (index, field) in fields.enumerated() {
            if index > 0 { line.append(",") }
            line.append(cell(field))
        }
        line.append("\r\n")
        return line
    }

    /// `value` as one cell: a formula's first character neutralised, quoted when it holds a separator, a quote or a
    /// line break, and any other control or format character (an escape sequence, a bidi override) written
    /// `\u{XX}`, so that the file does not drive the terminal or viewer it is read in.
    public static func cell(_ value: String) -> String {
        var text = value
        // Scanning bytes first: any such character is a C0 byte, DEL, or a non-ASCII scalar.
        if text.withUTF8({ $0.contains(where: mayBeHidden) }) { text = visible(text) }
        switch text.utf8.first {
        case UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0d:
            if Double(text) == nil { text = "'" + text }
        default: break
        }
        // Scanning bytes, not Characters: exports format millions of cells.
        let needsQuotes = text.withUTF8 { bytes -> Bool in
            for byte in bytes {
                switch byte {
                case UInt8(ascii: ","), UInt8(ascii: "\""), 0x0a, 0x0d: return true
                default: continue
                }
            }
            return false
        }
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
