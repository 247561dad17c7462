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

    /// Whether `byte` starts a formula in a spreadsheet: `=`, `+`, `-`, `@`, or a tab or carriage return before one.
    private static func startsFormula(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0d: true
        default: false
        }
    }

    /// Whether a spreadsheet may start a new cell after `byte` even inside a quoted cell: `;` and tab separate cells
    /// where the decimal mark is a comma or in tab-separated imports, and such a reader honours a quote only at the
    /// start of its own field, so a line break there ends the row too.
    private static func mayEndCell(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ";"), 0x09, 0x0a, 0x0d: true
        default: false
        }
    }

    /// `text` with `'` put after each byte that ``mayEndCell(_:)`` where a formula's first character follows it, also
    /// past quotes and spaces (a reader strips a quote that opens its field, and may trim spaces).
    private static func neutralisingInnerFormulas(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var neutralised: [UInt8] = []
        for (index, byte) in bytes.enumerated() {
            neutralised.append(byte)
            guard mayEndCell(byte) else { continue }
            let next = bytes[(index + 1)...].first { $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: " ") }
            if let next, startsFormula(next), !mayEndCell(next) { neutralised.append(UInt8(ascii: "'")) }
        }
        return String(decoding: neutralised, as: UTF8.self)
    }

    /// `value` as one cell: a formula's first character neutralised, also after a `;`, a tab or a line break (where
    /// spreadsheets of other dialects may start a cell); quoted when it holds any of those, a comma or a quote; and
    /// any other control or format character (an escape sequence, a bidi override) written `\u{XX}`, so that the
    /// file does not drive the terminal or viewer it is read in.
    public static func cell(_ value: String) -> String {
        var text = value
        // Scanning bytes first: any such character is a C0 byte, DEL, or a non-ASCII scalar.
        if text.withUTF8({ $0.contains(where: mayBeHidden) }) { text = visible(text) }
        if let first = text.utf8.first, startsFormula(first), Double(text) == nil { text = "'" + text }
        // Scanning bytes, not Characters: exports format millions of cells.
        let (needsQuotes, mayHideFormula) = text.withUTF8 { bytes -> (Bool, Bool) in
            var needsQuotes = false
            for byte in bytes {
                if mayEndCell(byte) { return (true, true) }
                if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\"") { needsQuotes = true }
            }
            return (needsQuotes, false)
        }
        if mayHideFormula { text = neutralisingInnerFormulas(text) }
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
