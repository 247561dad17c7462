import Foundation

/// Text that people type into the admin CLI (names, reasons, a court, a judge, a case number) and that it prints
/// back. It is checked, stored and printed in Unicode's composed form (NFC, see ``composed(_:)``).
///
/// Such a field holds at most ``maxLength`` code points, and no more than ``maxCombiningRun`` combining marks in a
/// row (see ``lengthProblem(_:limit:)``). It holds no control character (newline, carriage return, tab, escape), no
/// format character (bidi overrides and isolates, zero-width space, word joiner, byte-order mark), no line or
/// paragraph separator, no character that is invisible by default (fillers such as U+3164) or blank though not a
/// space (U+2800), and no private-use, surrogate or unassigned code point: any of them could make printed output say
/// something other than what is stored, or make two values that print alike differ. Writing needs a few invisible
/// characters; each is held only where it changes how the text is drawn, never first, last or after another of them,
/// and never where what justifies it is itself out of place:
/// - ZWNJ (U+200C) and ZWJ (U+200D) between two letters or marks of one script that writes them: Arabic (Persian
///   `می‌خواهم`), Syriac, N'Ko, or one of the Indic scripts from Devanagari to Sinhala (conjuncts). A ZWNJ after the
///   last letter of a word (before a space, or last) changes nothing and is refused;
/// - ZWJ in an emoji sequence: after an emoji other than an ASCII digit, `#` or `*` (or after its U+FE0F), before
///   another (`❤‍🔥`, `🏃🏽‍♂`). Which sequences a font draws as one is not checked: between two emoji that it does
///   not join, a ZWJ draws nothing;
/// - U+FE0E or U+FE0F (text or emoji style) after an emoji other than an ASCII digit, `#` or `*`, and U+FE0F in a
///   keycap: an ASCII digit, `#` or `*`, U+FE0F, U+20E3 (U+20E3 is held there only). Whether that emoji has a
///   text and an emoji style is not checked; where it has one style only, the selector draws nothing;
/// - U+E0100–E01EF (ideographic variants, `葛󠄀`) after an ideograph. Which variants an ideograph has is in the
///   Ideographic Variation Database, which is not held here: one it lacks is drawn as the plain ideograph.
///   The standardized variants U+FE00–FE0D (of mathematical symbols, and of the compatibility ideographs, which
///   Japanese names can write with U+E0100–E01EF instead) are not needed in a jail's records and are refused;
/// - tag characters only in the flags of England, Scotland and Wales, whose spelling is fixed: anywhere else they
///   would carry text that no one sees.
public enum FreeText {
    /// The most code points (Unicode scalars) a field may hold.
    public static let maxLength = 4096
    /// The most combining marks (non-starters) text may hold in a row: Unicode's Stream-Safe Text Format (UAX #15).
    public static let maxCombiningRun = 30

    /// `text` in Unicode's composed form (NFC): an accent typed as a separate mark (as Windows' Vietnamese keyboard
    /// does) joined to its letter. Text over ``maxLength`` or with a longer run of marks than ``maxCombiningRun`` is
    /// refused before it is composed, which takes time quadratic in such a run.
    public static func composed(_ text: String) throws(FreeTextError) -> String {
        if let problem = lengthProblem(text, limit: maxLength) { throw FreeTextError("it \(problem)") }
        return text.precomposedStringWithCanonicalMapping
    }

    /// Why `text` is too long to compare or compose, or nil: it holds more than `limit` code points, or more than
    /// ``maxCombiningRun`` non-starters in a row, counted as UAX #15 does (in each character's decomposition, NFKD).
    /// Says what it holds, for a sentence naming the field: "holds more than 4096 characters (code points)".
    public static func lengthProblem(_ text: String, limit: Int) -> String? {
        let scalars = text.unicodeScalars
        if scalars.count > limit { return "holds more than \(limit) characters (code points)" }
        let isNonStarter = { (scalar: Unicode.Scalar) in scalar.properties.canonicalCombiningClass.rawValue != 0 }
        var run = 0
        for scalar in scalars {
            guard !scalar.isASCII else {
                run = 0
                continue
            }
            let decomposed = Array(String(scalar).decomposedStringWithCompatibilityMapping.unicodeScalars)
            let leading = decomposed.prefix(while: isNonStarter).count
            run += leading
            if run > maxCombiningRun { return "holds more than \(maxCombiningRun) combining marks in a row" }
            if leading < decomposed.count { run = decomposed.reversed().prefix(while: isNonStarter).count }
        }
        return nil
    }

    /// The first character such a field may not hold where it stands, or nil.
    public static func forbidden(in text: String) -> Unicode.Scalar? {
        let scalars = Array(text.unicodeScalars)
        return misplaced(scalars).min().map { scalars[$0] }
    }

    /// Why `text` cannot be the value of `field` (named as the operator knows it, such as `--reason`), or nil. Text
    /// not in composed form is refused: pass it through ``composed(_:)`` first.
    public static func problem(_ text: String, field: String) -> String? {
        if let problem = lengthProblem(text, limit: maxLength) { return "\(field) \(problem)" }
        if let scalar = forbidden(in: text) {
            return "\(field) must not hold control or invisible characters, nor a joiner or variation selector out of place (it holds \(codePoint(scalar)))"
        }
        // By scalars: Swift's `==` holds a decomposed accent equal to the composed one.
        guard text.unicodeScalars.elementsEqual(text.precomposedStringWithCanonicalMapping.unicodeScalars) else {
            return "\(field) is not in Unicode's composed form (NFC)"
        }
        return nil
    }

    /// `text` for printing, with each character a field may not hold where it stands written `<U+XXXX>`: a value
    /// stored before such characters were refused is shown for what it is rather than acted on by the terminal.
    public static func escaped(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        let misplaced = misplaced(scalars)
        guard !misplaced.isEmpty else { return text }
        var shown = ""
        for (offset, scalar) in scalars.enumerated() {
            if misplaced.contains(offset) { shown += "<\(codePoint(scalar))>" } else { shown.unicodeScalars.append(scalar) }
        }
        return shown
    }

    /// The offsets of the scalars a field may not hold where they stand. A joiner or selector is judged with its
    /// misplaced neighbours taken away, until none more is found, so that one is never held for an escaped neighbour.
    private static func misplaced(_ scalars: [Unicode.Scalar]) -> Set<Int> {
        var judged: [Int] = []
        var offset = 0
        while offset < scalars.count {
            if let flag = subdivisionFlags.first(where: { scalars[offset...].starts(with: $0) }) {
                offset += flag.count
                continue
            }
            judged.append(offset)
            offset += 1
        }
        var misplaced: Set<Int> = []
        while true {
            let found = judged.filter { !misplaced.contains($0) && !isAllowed(at: $0, in: scalars, misplaced: misplaced) }
            guard !found.isEmpty else { return misplaced }
            misplaced.formUnion(found)
        }
    }

    /// Whether the scalar at `offset` may stand there, its neighbours at `misplaced` taken as absent.
    private static func isAllowed(at offset: Int, in scalars: [Unicode.Scalar], misplaced: Set<Int>) -> Bool {
        func scalar(_ at: Int) -> Unicode.Scalar? { scalars.indices.contains(at) && !misplaced.contains(at) ? scalars[at] : nil }
        let before = scalar(offset - 1)
        let after = scalar(offset + 1)
        switch scalars[offset].value {
        case 0x200C:
            return joinsLetters(before, after)
        case 0x200D:
            guard let before, let after else { return false }
            return joinsLetters(before, after) || ((isEmoji(before) || before == "\u{FE0F}") && isEmoji(after))
        case 0xFE0E, 0xFE0F:
            guard let before else { return false }
            return isEmoji(before) || (scalars[offset] == "\u{FE0F}" && isKeycapBase(before) && after == "\u{20E3}")
        case 0x20E3:
            guard before == "\u{FE0F}", let base = scalar(offset - 2) else { return false }
            return isKeycapBase(base)
        case 0xE0100...0xE01EF:
            return before?.properties.isIdeographic ?? false
        default:
            return !isForbidden(scalars[offset])
        }
    }

    /// Whether `scalar` is an emoji that a variation selector or ZWJ may follow: not an ASCII digit, `#` or `*`,
    /// which Unicode counts as emoji for their keycaps.
    private static func isEmoji(_ scalar: Unicode.Scalar) -> Bool {
        !scalar.isASCII && scalar.properties.isEmoji
    }

    /// Whether `scalar` begins a keycap: an ASCII digit, `#` or `*`.
    private static func isKeycapBase(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && scalar.properties.isEmoji
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

    /// The flags of England, Scotland and Wales: U+1F3F4, the region's code in tag letters, CANCEL TAG.
    private static let subdivisionFlags: [[Unicode.Scalar]] = ["gbeng", "gbsct", "gbwls"].map { region in
        ["\u{1F3F4}"] + region.unicodeScalars.compactMap { Unicode.Scalar($0.value + 0xE0000) } + ["\u{E007F}"]
    }

    /// Whether a character other than a joiner, a variation selector, U+20E3 or a flag's tag is refused wherever it
    /// stands (U+FE00–FE0D among them: they are invisible by default).
    private static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned: true
        default: scalar.properties.isDefaultIgnorableCodePoint || scalar.value == 0x2800
        }
    }

    /// `scalar` as Unicode writes a code point: `U+` and at least four upper-case hexadecimal digits.
    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

/// Text that cannot be composed: too long, or too long a run of combining marks (see ``FreeText/composed(_:)``).
public struct FreeTextError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
