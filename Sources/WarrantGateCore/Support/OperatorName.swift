import Foundation

/// The name an operator gives for the admin log, and the key by which two names are one person (the two-person rule).
///
/// A name is stored as typed, less surrounding white space. It must not be empty, hold a character ``FreeText``
/// refuses, be out of Unicode's composed form (NFC: a letter followed by a separate combining accent), mix Latin
/// letters with Cyrillic or Greek ones (`аlice` with a Cyrillic `а`), or hold letters of the phonetic alphabets
/// (`ɑ`, small capitals such as `ᴀ`), which no name needs and which look like Latin ones. Two names are one person
/// when their keys are equal: compatibility-normalised (NFKC), without accents, Cyrillic and Greek letters shaped like
/// Latin ones read as those, case-folded (`ß` as `ss`, dotless `ı` as `i`, final `ς` as `σ`), dashes as `-`,
/// apostrophes and quotes as `'`, runs of white space as one space. The key errs towards one person: `Peña` and
/// `Pena` are one, so the two-person rule asks for someone else.
public struct OperatorName: Sendable, Equatable {
    /// What the operator typed, less white space (Unicode's White_Space) at either end.
    public let text: String
    public let key: String

    public init(_ typed: String) throws(OperatorNameError) {
        let scalars = typed.unicodeScalars.drop { $0.properties.isWhitespace }.reversed().drop { $0.properties.isWhitespace }.reversed()
        let text = String(String.UnicodeScalarView(scalars))
        guard !text.isEmpty else { throw OperatorNameError("an operator name is required (--operator)") }
        if let problem = FreeText.problem(text, field: "the operator name") { throw OperatorNameError(problem) }
        // By scalars: Swift's `==` holds a decomposed accent equal to the composed one.
        guard text.unicodeScalars.elementsEqual(text.precomposedStringWithCanonicalMapping.unicodeScalars) else {
            throw OperatorNameError("the operator name '\(text)' has a separate combining accent: type the accented letter itself")
        }
        if let phonetic = text.unicodeScalars.first(where: { (0x250...0x2AF).contains($0.value) || (0x1D00...0x1DBF).contains($0.value) }) {
            throw OperatorNameError("the operator name '\(text)' holds a phonetic letter (U+\(String(phonetic.value, radix: 16, uppercase: true))): type the name in its usual letters")
        }
        let scripts = Set(text.unicodeScalars.compactMap(Self.confusableScript))
        guard scripts.count <= 1 else {
            throw OperatorNameError("the operator name '\(text)' mixes \(scripts.sorted().joined(separator: " and ")) letters")
        }
        self.text = text
        self.key = Self.key(text)
    }

    /// The key of a name, also of one stored before names were checked.
    public static func key(_ name: String) -> String {
        let unaccented = String(String.UnicodeScalarView(
            name.decomposedStringWithCompatibilityMapping.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        )).precomposedStringWithCompatibilityMapping
        var latin = String.UnicodeScalarView()
        for scalar in unaccented.unicodeScalars { latin.append(latinLookalikes[scalar] ?? scalar) }
        var folded = String.UnicodeScalarView()
        for scalar in String(latin).lowercased().unicodeScalars {
            switch scalar {
            case "ß": folded.append(contentsOf: "ss".unicodeScalars)
            case "ı": folded.append("i")
            case "ς": folded.append("σ")
            case "ſ": folded.append("s")
            default:
                switch scalar.properties.generalCategory {
                case .dashPunctuation: folded.append("-")
                case .initialPunctuation, .finalPunctuation: folded.append("'")
                default: folded.append(["`", "\u{B4}", "\u{2B9}", "\u{2BB}", "\u{2BC}", "\u{2032}"].contains(scalar) ? "'" : scalar)
                }
            }
        }
        return String(folded).split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// Cyrillic and Greek letters drawn like Latin ones (in most fonts), and those Latin letters.
    private static let latinLookalikes: [Unicode.Scalar: Unicode.Scalar] = {
        let pairs: [(String, String)] = [
            ("АВЕЅІЈКМНОРСТХУҮԚԜһаеѕіјорсхуүԛԝӏԁ", "ABESIJKMHOPCTXYYQWhaesijopcxyyqwld"),
            ("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαικνορυω", "ABEZHIKMNOPTYXaikvopuw"),
        ]
        var map: [Unicode.Scalar: Unicode.Scalar] = [:]
        for (from, to) in pairs {
            for (letter, latin) in zip(from.unicodeScalars, to.unicodeScalars) { map[letter] = latin }
        }
        return map
    }()

    /// The script of a letter whose shapes are confused with Latin ones, among Latin, Cyrillic and Greek.
    private static func confusableScript(_ scalar: Unicode.Scalar) -> String? {
        guard scalar.properties.isAlphabetic else { return nil }
        switch scalar.value {
        case 0x41...0x5A, 0x61...0x7A, 0xC0...0x24F, 0x1E00...0x1EFF, 0xFF21...0xFF3A, 0xFF41...0xFF5A: return "Latin"
        case 0x400...0x52F, 0x1C80...0x1C8F, 0x2DE0...0x2DFF, 0xA640...0xA69F: return "Cyrillic"
        case 0x370...0x3FF, 0x1F00...0x1FFF: return "Greek"
        default: return nil
        }
    }
}

/// An operator name that cannot be recorded, and why.
public struct OperatorNameError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
