import Foundation

/// The words that say a text is about a person's immigration or citizenship status, which a sanctuary ordinance
/// forbids the county to collect (Denver's DRMC §28-250: city staff may not collect or share it). The registry refuses
/// a fact about an inmate that names or states it: a fact is kept in the database and in the append-only log, which
/// every audit bundle carries, so one collected there could never be taken back.
///
/// The text is read as words: runs of letters and digits, split where a small letter meets a capital
/// (`placeOfBirth`), each compared as field names are (``FieldNameKey``: any letter case, lookalike letters read as
/// the Latin ones they show). A term matches at the start of a word (`citizenship` in `non-citizenship`), never inside
/// one (`visa` is not in `advisable`); some only as whole words (`alien`, not `alienation`), and some as words that
/// follow each other (`green card`, `place of birth`). It is a floor, not a filter of all free text: counsel decides
/// what else must not be recorded.
public enum ImmigrationStatusTerms {
    /// Terms that match a word they begin, in English, Spanish and a few other languages.
    static let prefixes = [
        "citizenship", "immigra", "undocumented", "nationalit", "deportation", "deported", "deportee", "deportable",
        "asylum", "asylee", "refugee", "naturaliz", "noncitizen", "overstay", "ciudadan", "inmigra", "indocumentad", "nacionalidad",
        "extranjer", "deportad", "refugiad", "aliennumber", "alienregistration", "cittadinanza", "citoyen", "staatsangeh",
        "einwander", "cidadania", "imigra", "uscis", "aufenthaltsstatus", "гражданств",
    ]
    /// Terms of scripts written without spaces between words, matched anywhere in the text.
    static let unspaced = ["国籍", "市民権", "移民", "국적"]
    /// Terms that match only a whole word, or consecutive whole words written together (`un-documented` too).
    static let words: Set<String> = [
        "citizen", "alien", "aliens", "illegals", "visa", "visas", "daca", "lpr", "ewi", "tps", "greencard", "birthcountry",
        "countryofbirth", "placeofbirth", "birthplace", "permanentresident", "lawfulpermanentresident", "sinpapeles",
        "paisdenacimiento", "lugardenacimiento", "undocumented", "undoc", "foreignborn", "outofstatus", "enteredwithoutinspection",
        "wetback", "wetbacks", "foreignnational", "mexicannational", "removalproceedings", "orderofremoval", "unlawfullypresent",
        "parolee", "sanspapiers",
    ]

    /// Phrases that name no one's status though they hold a term: the registry's own kind of document, the agencies
    /// and statutes a county names in its own records, and offences. Each matches only as written, its words apart by
    /// nothing but spaces or hyphens (`alien, smuggling suspected` is no offence's name), and is read as no words.
    static let exempt: [NSRegularExpression] = [
        "immigration judge order", "immigration and customs enforcement", "citizenship and immigration services",
        "immigration and nationality act", "alien smuggling", "smuggling aliens", "harboring aliens", "harbouring aliens", "visa fraud",
    ].map { phrase in
        let words = phrase.split(separator: " ").map { NSRegularExpression.escapedPattern(for: String($0)) }
        return try! NSRegularExpression(pattern: "(?<![\\p{L}\\p{N}])" + words.joined(separator: "[ -]+") + "(?![\\p{L}\\p{N}])", options: [.caseInsensitive])
    }

    /// Whole words that name the enforcement system rather than a person: in a rule's reason or obligation, which
    /// speak of requests, they say nothing of anyone's status (`civil_immigration_arrest_refused`), unless a word
    /// `status` follows (``authorityStatus``). `immigrant`, `inmigrante` and the like name a person, and still count.
    private static let authorityWords = try! NSRegularExpression(
        pattern: "(?<![a-z0-9])(immigration|inmigracion|imigracao|einwanderung|deportation|deportacion|uscis)(?![a-z0-9])", options: [.caseInsensitive]
    )
    private static let authorityStatus = try! NSRegularExpression(
        pattern: "(?<![a-z0-9])(immigration|inmigracion|imigracao)[^a-z0-9]+(status|estatus|situacion)(?![a-z0-9])", options: [.caseInsensitive]
    )

    /// The first term `code` (a reason or obligation name) holds that states a status, or nil: as ``stem(in:)``, the
    /// enforcement system's own names passed over as whole words.
    static func statusTerm(in code: String) -> String? {
        let range = NSRange(code.startIndex..., in: code)
        if let match = authorityStatus.firstMatch(in: code, range: range), let found = Range(match.range, in: code) { return String(code[found]) }
        return stem(in: authorityWords.stringByReplacingMatches(in: code, range: range, withTemplate: " "))
    }

    /// The first term `text` holds, or nil.
    public static func stem(in text: String) -> String? {
        if let term = unspaced.first(where: text.contains) { return term }
        let read = exempt.reduce(text) { text, phrase in
            phrase.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: " ; ")
        }
        let words = Self.words(of: read).map { FieldNameKey.of($0) }.filter { !$0.isEmpty }
        for (index, word) in words.enumerated() {
            if let prefix = prefixes.first(where: word.hasPrefix) { return prefix }
            // Letters spelled out one by one (`D.A.C.A.`, `L P R`) are one word, compared whole.
            if word.count == 1, index == 0 || words[index - 1].count > 1 {
                let spelled = words[index...].prefix { $0.count == 1 }.joined()
                if spelled.count > 1, Self.words.contains(spelled) { return spelled }
            }
            // Whole words, alone or with the words after them (at most four: `lawful permanent resident`); a letter
            // alone is joined to nothing (`vis-a-vis` is no `visa`).
            var joined = ""
            for (offset, next) in words[index..<min(words.count, index + 4)].enumerated() {
                if offset > 0 && (next.count == 1 || joined.count == 1) { break }
                joined += next
                if Self.words.contains(joined) { return joined }
            }
        }
        return alienNumber(in: text)
    }

    /// Runs of letters and digits, split where a small letter meets a capital.
    static func words(of text: String) -> [String] {
        var words: [String] = [], current = String.UnicodeScalarView()
        var previousWasLower = false
        for scalar in text.unicodeScalars {
            let properties = scalar.properties
            guard properties.isAlphabetic || properties.numericType != nil else {
                if !current.isEmpty { words.append(String(current)) }
                current = String.UnicodeScalarView()
                previousWasLower = false
                continue
            }
            if previousWasLower && properties.isUppercase, !current.isEmpty {
                words.append(String(current))
                current = String.UnicodeScalarView()
            }
            current.append(scalar)
            previousWasLower = properties.isLowercase
        }
        if !current.isEmpty { words.append(String(current)) }
        return words
    }

    /// An alien registration number (`A123456789`, `A-123-456-789`, `A# 123 456 789`): a capital `A` and eight or nine
    /// digits, the digits in groups that separators may split.
    private static func alienNumber(in text: String) -> String? {
        // Fullwidth and other compatibility digits read as the digits they show.
        let scalars = Array(text.precomposedStringWithCompatibilityMapping.unicodeScalars)
        for (index, scalar) in scalars.enumerated() where scalar == "A" {
            if index > 0, scalars[index - 1].properties.isAlphabetic || scalars[index - 1].properties.numericType != nil { continue }
            var digits = 0, position = index + 1
            while position < scalars.count, digits < 10 {
                let next = scalars[position]
                if ("0"..."9").contains(next) {
                    digits += 1
                } else if !(next == "-" || next == " " || next == "#" || next == ".") || digits == 0 && position > index + 2 {
                    break
                }
                position += 1
            }
            let ends = position == scalars.count || !(("0"..."9").contains(scalars[position]) || scalars[position].properties.isAlphabetic)
            if (8...9).contains(digits) && ends { return "an A-number" }
        }
        return nil
    }
}
