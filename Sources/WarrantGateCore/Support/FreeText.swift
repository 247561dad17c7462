import Foundation

/// Text that people type into the admin CLI (names, reasons, a court, a judge, a case number) and that it prints
/// back. It is checked, stored and printed in Unicode's composed form (NFC, see ``composed(_:)``).
///
/// Such a field holds no control character (newline, carriage return, tab, escape), no format character (bidi
/// overrides and isolates, zero-width space, word joiner, byte-order mark), no line or paragraph separator, no
/// character that is invisible by default (fillers such as U+3164) or blank though not a space (U+2800), and no
/// private-use, surrogate or unassigned code point: any of them could make printed output say something other than
/// what is stored, or make two values that print alike differ. Writing needs a few invisible characters; each is
/// held only where it changes how the text is drawn, never first, last or after another of them:
/// - ZWNJ (U+200C) and ZWJ (U+200D) between two letters or marks of one script that writes them: Arabic (Persian
///   `می‌خواهم`), Syriac, N'Ko, or one of the Indic scripts from Devanagari to Sinhala (conjuncts);
/// - ZWJ in an emoji sequence: after an emoji (drawn as one by default, or followed by U+FE0F) and before another;
/// - a variation selector after a character with variants: U+FE0E or U+FE0F (text or emoji style) after an emoji,
///   U+FE00–FE0D after a symbol or an ideograph, U+E0100–E01EF (ideographic variants) after an ideograph;
/// - tag characters only in the flags of England, Scotland and Wales, whose spelling is fixed: anywhere else they
///   would carry text that no one sees.
public enum FreeText {
    /// `text` in Unicode's composed form (NFC): an accent typed as a separate mark (as Windows' Vietnamese keyboard
    /// does) joined to its letter.
    public static func composed(_ text: String) -> String {
        text.precomposedStringWithCanonicalMapping
    }

    /// The first character such a field may not hold where it stands, or nil.
    public static func forbidden(in text: String) -> Unicode.Scalar? {
        let scalars = Array(text.unicodeScalars)
        return misplaced(scalars).first.map { scalars[$0] }
    }

    /// Why `text` cannot be the value of `field` (named as the operator knows it, such as `--reason`), or nil. Text
    /// not in composed form is refused: pass it through ``composed(_:)`` first.
    public static func problem(_ text: String, field: String) -> String? {
        if let scalar = forbidden(in: text) {
            return "\(field) must not hold control or invisible characters, nor a joiner or variation selector out of place (it holds \(codePoint(scalar)))"
        }
        // By scalars: Swift's `==` holds a decomposed accent equal to the composed one.
        guard text.unicodeScalars.elementsEqual(composed(text).unicodeScalars) else { return "\(field) is not in Unicode's composed form (NFC)" }
        return nil
    }

    /// `text` for printing, with each character a field may not hold where it stands written `<U+XXXX>`: a value
    /// stored before such characters were refused is shown for what it is rather than acted on by the terminal.
    public static func escaped(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        let misplaced = Set(misplaced(scalars))
        guard !misplaced.isEmpty else { return text }
        var shown = ""
        for (offset, scalar) in scalars.enumerated() {
            if misplaced.contains(offset) { shown += "<\(codePoint(scalar))>" } else { shown.unicodeScalars.append(scalar) }
        }
        return shown
    }

    /// The offsets of the scalars a field may not hold where they stand, in order.
    private static func misplaced(_ scalars: [Unicode.Scalar]) -> [Int] {
        var offsets: [Int] = []
        var offset = 0
        while offset < scalars.count {
            if let flag = subdivisionFlags.first(where: { scalars[offset...].starts(with: $0) }) {
                offset += flag.count
                continue
            }
            if !isAllowed(at: offset, in: scalars) { offsets.append(offset) }
            offset += 1
        }
        return offsets
    }

    private static func isAllowed(at offset: Int, in scalars: [Unicode.Scalar]) -> Bool {
        let scalar = scalars[offset]
        let before = offset > 0 ? scalars[offset - 1] : nil
        let after = offset + 1 < scalars.count ? scalars[offset + 1] : nil
        switch scalar.value {
        case 0x200C:
            return joinsLetters(before, after)
        case 0x200D:
            guard let before, let after else { return false }
            let startsEmoji = after.properties.isEmojiPresentation
                || (after.properties.isEmoji && offset + 2 < scalars.count && scalars[offset + 2] == "\u{FE0F}")
            return joinsLetters(before, after) || ((before.properties.isEmojiPresentation || before == "\u{FE0F}") && startsEmoji)
        case 0xFE0E, 0xFE0F:
            return before?.properties.isEmoji ?? false
        case 0xFE00...0xFE0D:
            return before.map { isSymbol($0) || $0.properties.isIdeographic } ?? false
        case 0xE0100...0xE01EF:
            return before?.properties.isIdeographic ?? false
        default:
            return !isForbidden(scalar)
        }
    }

    /// Whether a joiner between `before` and `after` stands between two letters or marks of one script that writes
    /// joiners.
    private static func joinsLetters(_ before: Unicode.Scalar?, _ after: Unicode.Scalar?) -> Bool {
        guard let before, let after, let script = joiningScript(before) else { return false }
        return joiningScript(after) == script
    }

    /// For a letter or mark of a script that writes ZWNJ and ZWJ between letters, the first code point of that
    /// script's block; else nil.
    private static func joiningScript(_ scalar: Unicode.Scalar) -> UInt32? {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .nonspacingMark, .spacingMark, .enclosingMark:
            switch scalar.value {
            case 0x600...0x6FF, 0x750...0x77F, 0x870...0x8FF: 0x600  // Arabic
            case 0x700...0x74F, 0x860...0x86F: 0x700  // Syriac
            case 0x7C0...0x7FF: 0x7C0  // N'Ko
            case 0x900...0xDFF: scalar.value & ~0x7F  // Devanagari, Bengali, Gurmukhi, …, Malayalam, Sinhala: a block each
            default: nil
            }
        default: nil
        }
    }

    private static func isSymbol(_ scalar: Unicode.Scalar) -> Bool {
        [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol].contains(scalar.properties.generalCategory)
    }

    /// The flags of England, Scotland and Wales: U+1F3F4, the region's code in tag letters, CANCEL TAG.
    private static let subdivisionFlags: [[Unicode.Scalar]] = ["gbeng", "gbsct", "gbwls"].map { region in
        ["\u{1F3F4}"] + region.unicodeScalars.compactMap { Unicode.Scalar($0.value + 0xE0000) } + ["\u{E007F}"]
    }

    /// Whether a character outside the joiners, variation selectors and flags is refused wherever it stands.
    private static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned: true
        default: scalar.properties.isDefaultIgnorableCodePoint || scalar.value == 0x2800
        }
    }

    private static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
