import Foundation

/// The name an operator gives for the admin log, and whether two names are one person (the two-person rule).
///
/// A name is stored in Unicode's composed form (NFC: an accent typed as a separate mark is joined to its letter),
/// less surrounding white space. It must not be empty, hold more than ``maxLength`` code points or more than
/// ``FreeText/maxCombiningRun`` combining marks in a row (checked as typed, before it is composed), hold a character
/// ``FreeText`` refuses where it stands, hold letters of the phonetic alphabets (`ɑ`, small capitals such as `ᴀ`) or
/// of a script outside those people's names are written in here (Lisu or Cherokee letters drawn like Latin capitals),
/// or mix letters of two scripts (`Jօhn` with an Armenian `օ`; Chinese, Japanese and Korean count as one).
///
/// Two names are one person when their keys are equal: without the invisible characters ``FreeText`` lets a name hold
/// where its script needs them (ZWNJ and ZWJ in Persian or Indic names, ideographic variation selectors in Japanese
/// ones), since they change how a name is drawn, never whose it is, so that no one becomes two people by typing one;
/// compatibility-normalised (NFKC), without the accents of Latin, Greek and Cyrillic letters nor the vowel signs and
/// hamza of Arabic, case-folded (`ß` as `ss`, dotless `ı` as `i`, final `ς` as `σ`), letters drawn like Latin ones,
/// in small letters or in capitals, read as those (Cyrillic `а` and `Т`, Greek `ο`, Armenian `օ`), the Arabic
/// letters that Arabic, Persian and Urdu keyboards type differently read as one (`كريم` as `کریم`), without tatweel,
/// digits of every script as ASCII ones, dashes as `-`, apostrophes and quotes as `'`, runs of white space as one
/// space. The comparison errs towards one person: `Peña` and `Pena` are one, so the two-person rule asks for someone
/// else.
public struct OperatorName: Sendable, Equatable {
    /// What the operator typed, in composed form (NFC), less white space (Unicode's White_Space) at either end.
    public let text: String
    /// What the name is compared by (see the type's description).
    public let key: String
    /// The most code points a name may hold, as typed.
    public static let maxLength = 128

    public init(_ typed: String) throws(OperatorNameError) {
        // Bounded before it is composed (composing is quadratic in a run of marks); then NFC, as `FreeText.composed`.
        if let problem = FreeText.lengthProblem(typed, limit: Self.maxLength) { throw OperatorNameError("the operator name \(problem)") }
        let composed = typed.precomposedStringWithCanonicalMapping.unicodeScalars
        let text = String(String.UnicodeScalarView(composed.drop { $0.properties.isWhitespace }.reversed().drop { $0.properties.isWhitespace }.reversed()))
        guard !text.isEmpty else { throw OperatorNameError("an operator name is required (--operator)") }
        if let problem = FreeText.problem(text, field: "the operator name") { throw OperatorNameError(problem) }
        if let phonetic = text.unicodeScalars.first(where: Self.isPhonetic) {
            throw OperatorNameError("the operator name '\(text)' holds a phonetic letter (\(FreeText.codePoint(phonetic))): type the name in its usual letters")
        }
        var scripts: Set<String> = []
        // Modifier letters (the Ukrainian apostrophe U+02BC, the Hawaiian ʻokina U+02BB) belong to no one script.
        for scalar in text.unicodeScalars
        where scalar.properties.isAlphabetic && ![.nonspacingMark, .modifierLetter].contains(scalar.properties.generalCategory) {
            guard let script = Self.script(scalar) else {
                throw OperatorNameError("the operator name '\(text)' holds \(FreeText.codePoint(scalar)), a letter of a script names are not written in here")
            }
            scripts.insert(script)
        }
        guard scripts.count <= 1 else {
            throw OperatorNameError("the operator name '\(text)' mixes \(scripts.sorted().joined(separator: " and ")) letters")
        }
        self.text = text
        self.key = Self.key(text)
    }

    /// Whether `other` (a name as stored, also one stored before names were checked) is this operator's.
    /// A stored name too long to compare in bounded time (one stored before names were bounded) is taken to be this
    /// operator's: the rule then asks for someone else.
    public func isSamePerson(as other: String) -> Bool {
        guard FreeText.lengthProblem(other, limit: Self.maxLength) == nil else { return true }
        return key == Self.key(other)
    }

    /// The key of a name: without the characters invisible by default (joiners, variation selectors), compatibility-
    /// normalised, accents dropped from Latin, Greek and Cyrillic letters, vowel signs, shadda and hamza from Arabic
    /// ones and points from Hebrew ones, which are written or left out at will (not the vowel signs of Indic or Thai,
    /// nor kana's voicing marks, which make other names), case-folded, each letter of another script drawn like a Latin
    /// one (in small letters or in capitals) read as that Latin letter. Arabic letters that look alike in some of their
    /// forms and that keyboards type differently are read as one: Arabic kaf `ك` and swash kaf `ڪ` as keheh `ک`; yeh
    /// `ي` and alef maksura `ى` as Farsi yeh `ی`; heh goal `ہ`, ae `ە` and heh doachashmee `ھ` as heh `ه` (so `ۀ`, ae
    /// with hamza, is `ه` too). Teh marbuta `ة` stays itself: its two dots show in every form, and `فاطمة` and `فاطمه`
    /// are two spellings, as Fatima and Fatemeh are. Tatweel, which draws the line joining two letters longer, is
    /// dropped. A digit of any script is read as its ASCII digit (`۷` and `٧` as `7`); dashes and the characters drawn
    /// like them as `-`, apostrophes, quotes and the characters drawn like them (the saltillo `ꞌ`, the geresh `׳`) as
    /// `'`.
    public static func key(_ name: String) -> String {
        // Lookalikes are read before normalising too: NFKC turns some of them (lunate ϲ) into letters that are not.
        let visible = String(String.UnicodeScalarView(name.unicodeScalars.filter { !$0.properties.isDefaultIgnorableCodePoint }))
        let read = String(String.UnicodeScalarView(visible.lowercased().unicodeScalars.map { latin($0) ?? $0 }))
        var unaccented = String.UnicodeScalarView()
        var accentsDrop = false
        for scalar in read.decomposedStringWithCompatibilityMapping.unicodeScalars {
            if scalar.properties.generalCategory == .nonspacingMark {
                if !accentsDrop { unaccented.append(scalar) }
                continue
            }
            accentsDrop = ["Latin", "Greek", "Cyrillic", "Arabic", "Hebrew"].contains(script(scalar))
            unaccented.append(scalar)
        }
        var folded = String.UnicodeScalarView()
        for scalar in String(unaccented).precomposedStringWithCompatibilityMapping.lowercased().unicodeScalars {
            switch scalar {
            case "ß": folded.append(contentsOf: "ss".unicodeScalars)
            case "ı": folded.append("i")
            case "ς": folded.append("σ")
            case "ſ": folded.append("s")
            case "\u{2212}": folded.append("-")
            case "\u{640}": break  // Arabic tatweel: a letter's joining line drawn longer
            default:
                switch scalar.properties.generalCategory {
                case .dashPunctuation: folded.append("-")
                case .initialPunctuation, .finalPunctuation: folded.append("'")
                default:
                    if apostrophes.contains(scalar) {
                        folded.append("'")
                    } else if ["\u{2D7}", "\u{2043}"].contains(scalar) {
                        folded.append("-")
                    } else {
                        folded.append(latin(scalar) ?? arabicVariants[scalar] ?? digit(scalar) ?? scalar)
                    }
                }
            }
        }
        return String(folded).split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// The small Latin letter a small letter of another script is drawn like, as a small letter or as a capital.
    private static func latin(_ small: Unicode.Scalar) -> Unicode.Scalar? {
        if let latin = smallLookalikes[small] { return latin }
        let capitals = small.properties.uppercaseMapping.unicodeScalars
        guard capitals.count == 1, let capital = capitals.first, let latin = capitalLookalikes[capital] else { return nil }
        return latin.properties.lowercaseMapping.unicodeScalars.first
    }

    /// Arabic letters that look alike in some of their forms, and the one each is read as.
    private static let arabicVariants: [Unicode.Scalar: Unicode.Scalar] = [
        "\u{643}": "\u{6A9}", "\u{6AA}": "\u{6A9}", "\u{64A}": "\u{6CC}", "\u{649}": "\u{6CC}", "\u{6C1}": "\u{647}",
        "\u{6D5}": "\u{647}", "\u{6BE}": "\u{647}",
    ]

    /// Characters drawn like an apostrophe, read as `'`: the grave and acute accents, the modifier letters of primes,
    /// turned and reversed commas and tone marks, the prime and reversed prime, the saltillo, the Armenian apostrophe,
    /// the Hebrew geresh and the fullwidth apostrophe.
    private static let apostrophes: Set<Unicode.Scalar> = Set(
        ["`", "\u{B4}", "\u{2032}", "\u{2035}", "\u{55A}", "\u{5F3}", "\u{A78B}", "\u{A78C}", "\u{FF07}"]
            + (0x2B9...0x2BF).compactMap(Unicode.Scalar.init) + (0x2C8...0x2CB).compactMap(Unicode.Scalar.init)
    )

    /// The ASCII digit a decimal digit of any script stands for, or nil.
    private static func digit(_ scalar: Unicode.Scalar) -> Unicode.Scalar? {
        guard scalar.properties.numericType == .decimal, let value = scalar.properties.numericValue else { return nil }
        return Unicode.Scalar(UInt8(ascii: "0") + UInt8(value))
    }

    /// Letters of the phonetic alphabets, which no name needs; ə (Azerbaijani) is a letter of names too.
    private static func isPhonetic(_ scalar: Unicode.Scalar) -> Bool {
        ((0x250...0x2AF).contains(scalar.value) && scalar != "ə") || (0x1D00...0x1DBF).contains(scalar.value)
    }

    /// Small letters of other scripts drawn like Latin ones (in most fonts), and those Latin letters.
    private static let smallLookalikes = lookalikeMap([
        ("аеорсхуѕіјԁԛԝһӏү", "aeopcxysijdqwhly"), ("αικνορυωϲϳ", "aikvopuwcj"), ("օսհոցզլ", "ouhngql"), ("ǀ", "l"),
        // Latin small capitals and phonetic letters, drawn as small Latin letters in most fonts.
        ("ᴀʙᴄᴅᴇɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ", "abcdeghijklmnoprstuvwyz"), ("ɑɡɩȷ", "agij"),
        // Lisu, which has no case, whose letters are drawn like Latin capitals; and Coptic small letters.
        ("ꓐꓑꓓꓔꓖꓗꓙꓚꓜꓝꓟꓠꓡꓢꓣꓦꓧꓪꓫꓬꓮꓰꓲꓳꓴ", "bpdtgkjczfmnlsrvhwxyaeiou"), ("ⲟⲥⲣ", "ocp"),
    ])

    /// Capitals of other scripts drawn like Latin ones, and those Latin capitals.
    private static let capitalLookalikes = lookalikeMap([
        ("АВЕКМНОРСТУХЅІЈԚԜҮӀԀ", "ABEKMHOPCTYXSIJQWYID"), ("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧϹͿ", "ABEZHIKMNOPTYXCJ"), ("ՕՍԼ", "OUL"), ("ǀ", "I"),
        // Cherokee and Coptic capitals.
        ("ᎪᏴᏟᎠᎬᏀᎻᎫᏦᏞᎷᏢᎡᏚᎢᏙᎳᏃᎥ", "ABCDEGHJKLMPRSTVWZI"), ("ⲀⲂⲈⲒⲔⲘⲚⲞⲢⲤⲦⲨⲬ", "ABEIKMNOPCTYX"),
    ])

    private static func lookalikeMap(_ pairs: [(String, String)]) -> [Unicode.Scalar: Unicode.Scalar] {
        var map: [Unicode.Scalar: Unicode.Scalar] = [:]
        for (from, to) in pairs {
            precondition(from.unicodeScalars.count == to.unicodeScalars.count)
            for (letter, latin) in zip(from.unicodeScalars, to.unicodeScalars) { map[letter] = latin }
        }
        return map
    }

    /// The script of a letter among those names are written in, or nil. Chinese, Japanese and Korean are one, as
    /// are the Indic scripts.
    private static func script(_ scalar: Unicode.Scalar) -> String? {
        switch scalar.value {
        case 0x41...0x5A, 0x61...0x7A, 0xAA, 0xBA, 0xC0...0x24F, 0x259, 0x1E00...0x1EFF, 0x2C60...0x2C7F, 0xA720...0xA7FF, 0xAB30...0xAB6F,
             0xFF21...0xFF3A, 0xFF41...0xFF5A: "Latin"
        case 0x370...0x3FF, 0x1F00...0x1FFF: "Greek"
        case 0x400...0x52F, 0x1C80...0x1C8F, 0x2DE0...0x2DFF, 0xA640...0xA69F: "Cyrillic"
        case 0x531...0x58F: "Armenian"
        case 0x591...0x5FF, 0xFB1D...0xFB4F: "Hebrew"
        case 0x600...0x6FF, 0x750...0x77F, 0x8A0...0x8FF, 0xFB50...0xFDFF, 0xFE70...0xFEFF: "Arabic"
        case 0x900...0xDFF: "Indic"
        case 0xE00...0xEFF: "Thai or Lao"
        case 0x1000...0x109F: "Myanmar"
        case 0x10A0...0x10FF, 0x1C90...0x1CBF: "Georgian"
        case 0x1200...0x139F: "Ethiopic"
        case 0x1780...0x17FF: "Khmer"
        case 0x1100...0x11FF, 0x2E80...0x2FDF, 0x3005...0x3007, 0x3021...0x3029, 0x3031...0x3035, 0x3038...0x303C, 0x3040...0x312F,
             0x3130...0x318F, 0x31A0...0x31FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xAC00...0xD7AF, 0xF900...0xFAFF, 0xFF66...0xFF9F,
             0xFFA1...0xFFDC, 0x20000...0x3FFFF: "Chinese, Japanese or Korean"
        default: nil
        }
    }
}

/// An operator name that cannot be recorded, and why.
public struct OperatorNameError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
