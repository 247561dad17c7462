/// Text that people type into the admin CLI (names, reasons, a court, a judge, a case number) and that it prints
/// back. Such a field holds no control character (newline, carriage return, tab, escape), no format character
/// (zero-width ones, bidi overrides and isolates), no line or paragraph separator, no character that is invisible by
/// default (fillers such as U+3164, variation selectors) or blank though not a space (U+2800), and no private-use,
/// surrogate or unassigned code point: any of them could make printed output say something other than what is
/// stored, or make two names that print alike differ.
public enum FreeText {
    /// The first character such a field may not hold, or nil.
    public static func forbidden(in text: String) -> Unicode.Scalar? {
        text.unicodeScalars.first(where: isForbidden)
    }

    /// Why `text` cannot be the value of `field` (named as the operator knows it, such as `--reason`), or nil.
    public static func problem(_ text: String, field: String) -> String? {
        forbidden(in: text).map { "\(field) must not hold control or invisible characters (it holds \(codePoint($0)))" }
    }

    /// `text` for printing, with each character a field may not hold written `<U+XXXX>`: a value stored before such
    /// characters were refused is shown for what it is rather than acted on by the terminal.
    public static func escaped(_ text: String) -> String {
        guard forbidden(in: text) != nil else { return text }
        var shown = ""
        for scalar in text.unicodeScalars {
            if isForbidden(scalar) { shown += "<\(codePoint(scalar))>" } else { shown.unicodeScalars.append(scalar) }
        }
        return shown
    }

    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned: true
        default: scalar.properties.isDefaultIgnorableCodePoint || scalar.value == 0x2800
        }
    }

    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
