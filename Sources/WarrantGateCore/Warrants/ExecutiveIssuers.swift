/// The immigration authorities of the executive branch, their officers and their forms, which the court, judge or case
/// of a judicial kind must not name. ICE's administrative warrants (I-200, I-205) and detainers (I-247A) are signed by
/// immigration officers, and an immigration court (EOIR) is an office of the Department of Justice: such a paper
/// registered as a `judicial-warrant` or `court-order` would open what only a judge's order may.
///
/// Text is read as ``OperatorName/key(_:)`` reads a name (compatibility characters as what they stand for, accents
/// dropped, letters of other scripts drawn like Latin ones as those, in any letter case), then as words: runs of
/// letters and digits, a citation's abbreviation written with its period read as the word it stands for (`Immigr. Ct.`,
/// `Homeland Sec.`; ``abbreviations``). A name matches whole words, written apart or together (`Homeland Security`,
/// `HomelandSecurity`), or letters spelled out one by one compared whole (`I.C.E.`) or as acronyms together (`U.S.
/// I.C.E.`, `I.C.E./E.R.O.`); never part of a word (`Justice`,
/// `Police`). A name marked `*` also matches its last word continued by letters (`Immigration Judges`). A form matches
/// `I` and its number, written apart or together, with any letters after it (`I-247A`, `I 200`, `i205`); the forms
/// whose numbers docket numbers also hold (`I-862`) only after a dash or slash, a period, underscore, colon or
/// backslash joined to both (`I.862`), joined, or after `Form`; an `I` after a docket
/// number's digits or `Div.` is its division (`84521-3-I, 200 Wn. App. 1`) unless a dash joins it to a form's number.
/// `&` reads as `and`. A form's number may be written with the letter O for a zero (`I-2OO`), and after the word
/// `Form`, `I` may be an `l` or a `1` (`Form 1-200`). An acronym (`ICE`, `DHS`, `BIA`) counts in the court; in the
/// case, written in capitals (a caption's `Ins. Co.` is none) or as a code's only word of letters, alone or joined to
/// its numbers (`ice-2026-0001`, `ice2026-1`), or as a code's words of letters that are all acronyms
/// (`ice-dhs-2026-01`), a letter after a number read as its suffix (`ice-2026-1-b`), a docket number's trailing judges'
/// initials left out (`1:26-mj-00502-DHS`); in the judge's name, where the letters are a person's (`Mary Ice`, `Hsi-Wen
/// Chen`, `D. H. S. Patel`), only beside an officer's or agent's title (`ICE Officer J. Smith`) or in capitals amid
/// small letters (`Hon. J. Smith (ICE)`). Letters spelled out count in the court and the case, and in the judge's name
/// beside a title or after a whole name (`J. Smith, I.J.`).
///
/// It is a floor against a misfiled paper, not a proof that the text names a court.
public enum ExecutiveIssuers {
    /// Which of a document's fields a text is: each reads acronyms its own way.
    public enum Field: String, Sendable, CaseIterable {
        case court = "--court", judge = "--judge", caseNumber = "--case"
    }

    /// One authority (or form), its names, and the kinds its papers are registered as.
    struct Issuer {
        let name: String
        /// What it is, said after its name: why what it issues is no judicial document.
        let why: String
        /// How its papers are registered: `as an administrative-warrant`.
        let registerAs: String
        /// Its names as words, lower-case; a trailing `*` lets the last word continue with letters.
        let names: [String]
        /// Its acronyms, lower-case: read in the court and the case, not in a judge's name.
        var acronyms: [String] = []
        /// Its form numbers, matched after `I`.
        var forms: [String] = []
        /// Form numbers that docket numbers hold too (`Div. I 286`, `No. 12345-6-I 203`): matched after `I` and a dash
        /// (`I-286`), joined (`I286`), or after `Form`.
        var dashedForms: [String] = []
    }

    private static let agencyKinds = "under its own kind (administrative-warrant, detainer, notification-request or administrative-subpoena)"
    private static let agency = "an agency of the executive branch, not a court"

    static let issuers: [Issuer] = [
        Issuer(
            name: "the Department of Homeland Security", why: agency, registerAs: agencyKinds,
            names: ["homeland security", "seguridad nacional"], acronyms: ["dhs"]
        ),
        Issuer(
            name: "Immigration and Customs Enforcement (ICE)", why: agency, registerAs: agencyKinds,
            names: ["customs enforcement", "control de aduanas", "homeland security investigations"], acronyms: ["ice", "hsi"]
        ),
        Issuer(
            name: "ICE's Enforcement and Removal Operations (ERO)", why: agency, registerAs: agencyKinds,
            // Its former Detention and Removal Operations by name only: `DRO` is a domestic relations office too.
            names: ["removal operations", "enforcement and removal", "detention and removal"],
            acronyms: ["ero"]
        ),
        Issuer(
            name: "an immigration officer", why: "an officer of the executive branch, not a judge or magistrate", registerAs: agencyKinds,
            names: [
                "deportation officer*", "immigration officer*", "immigration agent*", "immigration enforcement agent*", "asylum officer*",
                "field office director*", "sddo", "sdddo", "afod", "oficial de inmigracion", "agente de inmigracion",
            ],
            // A word of its own elsewhere (`Hon. Amir Fod`).
            acronyms: ["fod"]
        ),
        Issuer(
            name: "the Executive Office for Immigration Review (EOIR)",
            why: "whose immigration courts and judges belong to the executive branch (the Department of Justice), not to the judiciary",
            registerAs: "as an immigration-judge-order",
            names: [
                // `Immigration Ct` and `ImmigrationCt`, the abbreviation without its period.
                "immigration review", "immigration court*", "immigration ct*", "immigration judge*", "immigration appeals", "ij", "juez de inmigracion",
                "jueza de inmigracion", "corte de inmigracion", "tribunal de inmigracion", "immigration adjudication*",
                // The abbreviations without their period, and the misspelling an English and Spanish reader makes.
                "immigr court*", "immig court*", "inmigration court*", "inmigration judge*",
            ],
            acronyms: ["eoir", "bia", "ocij"]
        ),
        Issuer(
            name: "U.S. Citizenship and Immigration Services (USCIS)", why: agency, registerAs: agencyKinds,
            names: ["immigration services"], acronyms: ["uscis"]
        ),
        Issuer(
            name: "the former Immigration and Naturalization Service (INS)", why: agency, registerAs: agencyKinds,
            names: ["naturalization service*"], acronyms: ["ins"]
        ),
        Issuer(
            name: "U.S. Customs and Border Protection (CBP)", why: agency, registerAs: agencyKinds,
            names: ["border protection", "border patrol*"], acronyms: ["cbp"]
        ),
        Issuer(
            name: "an ICE administrative warrant (Form I-200 or I-205)", why: "signed by an immigration officer, not by a judge",
            registerAs: "as an administrative-warrant", names: [], forms: ["200", "205"]
        ),
        Issuer(
            name: "an immigration detainer or request (Form I-247)", why: "signed by an immigration officer, not by a judge",
            registerAs: "as a detainer (I-247A) or notification-request (I-247N)", names: [], forms: ["247"]
        ),
        Issuer(
            name: "an immigration officer's order or notice (Form I-203, I-286, I-296, I-860, I-862 or I-871)",
            why: "issued by an immigration officer, not by a judge", registerAs: agencyKinds, names: [],
            dashedForms: ["203", "286", "296", "860", "862", "871"]
        ),
    ]

    /// An issuer a text names, and the words that name it.
    public struct Match: Sendable, Equatable {
        public let issuer: String
        public let why: String
        public let registerAs: String
        /// The words matched, as read (lower-case, apart by spaces).
        public let words: String

        init(_ issuer: Issuer, words: String) {
            self.issuer = issuer.name
            why = issuer.why
            registerAs = issuer.registerAs
            self.words = words
        }
    }

    /// Why a document of `kind` cannot bear this court, judge and case (named as the CLI's options): a sentence for
    /// each that names an executive issuer or its form. Empty for a kind that is not judicial, and for text too long
    /// to read in bounded time (``FreeText/lengthProblem(_:limit:)``), which is refused as such.
    public static func problems(kind: DocumentKind, court: String?, judge: String?, caseNumber: String?) -> [String] {
        guard kind.isJudicial else { return [] }
        return [(Field.court, court), (.judge, judge), (.caseNumber, caseNumber)].compactMap { field, text in
            guard let text, FreeText.lengthProblem(text, limit: FreeText.maxLength) == nil, let match = named(in: text, field: field) else { return nil }
            return "\(field.rawValue) names \(match.issuer) ('\(match.words)'), \(match.why): register the paper \(match.registerAs), not as a \(kind.rawValue)"
        }
    }

    /// The first issuer `text`, read as `field`, names, or nil.
    public static func named(in text: String, field: Field = .court) -> Match? {
        let read = field == .caseNumber ? withoutDocketInitials(text) : text
        let keyed = OperatorName.key(read)
        let expanded = expandingAbbreviations(keyed)
        let words = judgeAfterImmigration(ImmigrationStatusTerms.words(of: expanded))
        let dashed = dashedFormNumbers(in: keyed)
        // Where a person's initials or a caption's abbreviation may pass for an acronym, one counts only when the text
        // calls someone an officer or agent, or when it is written in capitals that the rest of a name is not.
        let titled = field == .judge && words.contains(where: titleWords.contains)
        // Compatibility forms first, so that full-width capitals (`ＩＣＥ`) are capitals too.
        let capitals = capitalWords(read.precomposedStringWithCompatibilityMapping, amidLowerCase: field == .judge)
        // A case number that is a code (`ice-2026-0001`), not a caption (`Bia v. Ice`, `U.S. v. Ice`), has one word of
        // letters besides its labels, and no initials. A code's letters may be joined to its numbers (`ICE2026-0001`).
        let joinedLetters = field != .caseNumber ? [] : words.filter { $0.contains(where: \.isNumber) }
            .flatMap(lettersApartFromDigits).filter { $0.count > 1 && $0.allSatisfy(\.isLetter) }
        // A single letter after a number is the number's suffix (`ice-2026-1-b`), not a person's initial (`Ice, J.`).
        let suffixes = field != .caseNumber ? [] : words.indices.filter { $0 > 0 && words[$0].count == 1 && words[$0 - 1].contains(where: \.isNumber) }
        let unsuffixed = words.indices.filter { !suffixes.contains($0) }.map { words[$0] }
        let letterWords = (unsuffixed + joinedLetters).filter { $0.allSatisfy(\.isLetter) && !caseNumberLabels.contains($0) }
        // Or several words of letters, every one an issuer's acronym (`ice-dhs-2026-01`).
        let codeWords: Set<String> = letterWords.allSatisfy { $0.count > 1 }
            && (letterWords.count == 1 || letterWords.allSatisfy { word in issuers.contains { $0.acronyms.contains(word) } })
            ? Set(letterWords) : []
        func acronymCounts(_ word: String) -> Bool {
            switch field {
            case .court: true
            case .judge: titled || capitals.contains(word)
            case .caseNumber: capitals.contains(word) || codeWords.contains(word)
            }
        }
        func match(_ issuer: Issuer, _ range: ClosedRange<Int>) -> Match {
            Match(issuer, words: words[range].joined(separator: " "))
        }
        func naming(_ joined: String, acronym: Bool) -> Issuer? {
            issuers.first { $0.names.contains { matches(joined, $0) } || (acronym && $0.acronyms.contains(joined)) }
        }
        func afterDivision(_ index: Int) -> Bool {
            index > 0 && (words[index - 1].allSatisfy(\.isNumber) || divisionWords.contains(words[index - 1]))
        }
        for (start, word) in words.enumerated() {
            // A form: `i247a`, or `i` and `247a`; after `form`, `l247a` or `1` and `247a` too.
            let next = start + 1 < words.count ? words[start + 1] : nil
            let afterForm = start > 0 && words[start - 1] == "form"
            for issuer in issuers where !issuer.forms.isEmpty || !issuer.dashedForms.isEmpty {
                if isForm(word, issuer.forms + issuer.dashedForms, afterForm: afterForm) { return match(issuer, start...start) }
                // A docket number's division (`No. 84521-3-I, 200 Wn. App. 1`, `Div. I 247`) is no form's `I`, unless a
                // dash joins it to the number (`1:26-mj-00502-I-200`).
                guard let next, word == "i" || (afterForm && (word == "l" || word == "1")) else { continue }
                let dashedNumber = dashed.contains(String(next.prefix(3)).replacingOccurrences(of: "o", with: "0"))
                guard afterForm || dashedNumber || !afterDivision(start) else { continue }
                let apart = issuer.forms + (afterForm ? issuer.dashedForms : issuer.dashedForms.filter(dashed.contains))
                if isForm("i" + next, apart, afterForm: false) { return match(issuer, start...start + 1) }
            }
            guard word.count == 1 else {
                // Whole words, alone or with those after them, written apart or together; an acronym alone.
                var joined = ""
                for end in start..<min(words.count, start + 4) {
                    guard words[end].count > 1 else { break }
                    joined += words[end]
                    if let issuer = naming(joined, acronym: end == start && acronymCounts(joined)) { return match(issuer, start...end) }
                }
                continue
            }
            // Letters spelled out one by one (`I.C.E.`): a whole run, compared whole or as acronyms written together
            // (`U.S. I.C.E.`, `I.C.E./E.R.O.`), so that initials do not end in a name (`M. E. R. O.` is no `ERO`); in a
            // judge's field, only beside an officer's title or after a whole name, at its end or set off, where a
            // post-nominal stands (`J. Smith I.C.E.`, `J. Smith, I.J. (Houston)`; not `Patel, D.H.S.`, a surname and its
            // initials, nor `Mary Anne E. R. O. Smith`, initials in a name).
            guard start == 0 || words[start - 1].count > 1 else { continue }
            let run = words[start...].prefix { $0.count == 1 }
            guard run.count > 1 else { continue }
            if field == .judge && !titled {
                let ends = start + run.count == words.count
                guard nameWords(words[..<start]) >= 2, ends || setOff(expanded, wordCount: words.count)[start] else { continue }
            }
            if let issuer = naming(run.joined(), acronym: true) ?? acronymsTogether(run.joined()) {
                return match(issuer, start...start + run.count - 1)
            }
        }
        for letters in joinedLetters where acronymCounts(letters) {
            if let issuer = issuers.first(where: { $0.acronyms.contains(letters) }) {
                return Match(issuer, words: letters)
            }
        }
        return nil
    }

    /// Words beside a judge's name that are no part of it: titles, courts, generational suffixes.
    private static let honorifics: Set<String> = [
        "hon", "honorable", "honourable", "the", "judge", "justice", "magistrate", "mr", "mrs", "ms", "dr", "chief", "presiding", "associate",
        "senior", "district", "circuit", "county", "superior", "court", "acting", "us", "jr", "sr", "ii", "iii", "iv",
    ]

    /// How many words of a person's name `words` hold: initials written together count as one (`J. R.`), `U.S.`,
    /// ``honorifics`` and ``surnameParticles`` as none.
    private static func nameWords(_ words: ArraySlice<String>) -> Int {
        var count = 0, initials = ""
        for word in words + [""] {
            if word.count == 1 {
                initials += word
                continue
            }
            if !initials.isEmpty, initials != "us", initials != "usa" { count += 1 }
            initials = ""
            if !word.isEmpty, !honorifics.contains(word), !surnameParticles.contains(word) { count += 1 }
        }
        return count
    }

    /// Words that begin a surname of several (`Van Buren`, `De La Cruz`), so no given name.
    private static let surnameParticles: Set<String> = [
        "van", "von", "de", "la", "del", "der", "den", "da", "di", "du", "le", "st", "mac", "mc", "bin", "ben", "al", "el", "dos", "das", "y",
    ]

    /// For each word of `text` as ``ImmigrationStatusTerms/words(of:)`` reads it, whether a comma, an opening
    /// parenthesis or bracket stands between it and the word before; all false when the count differs from
    /// `wordCount` (a reading that does not line up sets nothing off).
    private static func setOff(_ text: String, wordCount: Int) -> [Bool] {
        var marks: [Bool] = [], pending = false, inWord = false, previousWasLower = false
        for scalar in text.unicodeScalars {
            let properties = scalar.properties
            guard properties.isAlphabetic || properties.numericType != nil else {
                if ",([".unicodeScalars.contains(scalar) { pending = true }
                inWord = false
                previousWasLower = false
                continue
            }
            if !inWord || (previousWasLower && properties.isUppercase) {
                marks.append(!inWord && pending)
                pending = false
                inWord = true
            }
            previousWasLower = properties.isLowercase
        }
        return marks.count == wordCount ? marks : Array(repeating: false, count: wordCount)
    }

    /// Words an acronym spelled out may stand beside in a run of letters: `U.S.`, `U.S.A.`, `D.O.J.` (EOIR's
    /// department), `H.S.` (Homeland Security), `D.C.` and the states' postal codes (`I.C.E. E.R.O. N.Y.`).
    private static let acronymCompanions: Set<String> = [
        "us", "usa", "doj", "hs", "dc", "al", "ak", "az", "ar", "ca", "co", "ct", "de", "fl", "ga", "hi", "id", "il", "in", "ia", "ks", "ky",
        "la", "me", "md", "ma", "mi", "mn", "ms", "mo", "mt", "ne", "nv", "nh", "nj", "nm", "ny", "nc", "nd", "oh", "ok", "or", "pa", "ri", "sc",
        "sd", "tn", "tx", "ut", "vt", "va", "wa", "wv", "wi", "wy", "pr", "gu", "vi",
    ]

    /// The issuer of the first acronym in `letters` (a run of letters spelled out one by one, joined), when the run is
    /// nothing but issuers' acronyms (or their officers' titles, `sddo`) and ``acronymCompanions`` written together:
    /// `usice`, `iceero`, `hsice`. Nil for a run any other letter is part of (`usdc`, `mero`).
    static func acronymsTogether(_ letters: String) -> Issuer? {
        let characters = Array(letters)
        /// How `characters[from...]` reads as acronyms and companions.
        enum Reading { case unreadable, companionsAlone, issuer(Issuer) }
        var known: [Int: Reading] = [:]
        func reading(from: Int) -> Reading {
            if from == characters.count { return .companionsAlone }
            if let reading = known[from] { return reading }
            var found = Reading.unreadable
            for end in stride(from: from + 2, through: min(characters.count, from + 5), by: 1) {
                let piece = String(characters[from..<end])
                if let issuer = issuers.first(where: { $0.acronyms.contains(piece) || $0.names.contains(piece) }) {
                    if case .unreadable = reading(from: end) { continue }
                    found = .issuer(issuer)
                    break
                }
                guard acronymCompanions.contains(piece) else { continue }
                switch reading(from: end) {
                case .unreadable: continue
                case .companionsAlone: found = .companionsAlone
                case .issuer(let issuer): found = .issuer(issuer)
                }
                if case .issuer = found { break }
            }
            known[from] = found
            return found
        }
        guard case .issuer(let issuer) = reading(from: 0) else { return nil }
        return issuer
    }

    /// Abbreviations as legal citations write them, each read as the word it stands for where it is written with its
    /// period (`Immigr. Ct.`, `Homeland Sec.`, `Customs & Border Prot.`), so that an issuer's name abbreviated reads as
    /// written out. Without the period it is a word of its own (`Imm` is a surname, `Hon. A. Imm.` a judge: the word
    /// `immigration` alone names no issuer).
    static let abbreviations: [String: String] = [
        "ct": "court", "cts": "courts", "imm": "immigration", "immig": "immigration", "immigr": "immigration", "immgr": "immigration", "inmig": "inmigracion",
        "sec": "security", "enf": "enforcement", "ofcr": "officer", "offr": "officer", "rev": "review", "app": "appeals", "apps": "appeals",
        "serv": "service", "servs": "services", "svcs": "services", "prot": "protection", "deport": "deportation", "agt": "agent",
        "dir": "director", "off": "office",
    ]

    /// `keyed` (``OperatorName/key(_:)``) with each of ``abbreviations`` that is a whole word before a period written
    /// out, and `&` as `and`.
    static func expandingAbbreviations(_ keyed: String) -> String {
        var out = "", run = ""
        for character in keyed + " " {
            if character.isLetter || character.isNumber {
                run.append(character)
                continue
            }
            out += character == "." ? abbreviations[run] ?? run : run
            out += character == "&" ? " and " : String(character)
            run = ""
        }
        return String(out.dropLast())
    }

    /// `words` with a `j` after `immigration` read as `judge` (`Immigr. J. Smith`, an immigration judge).
    private static func judgeAfterImmigration(_ words: [String]) -> [String] {
        words.indices.map { words[$0] == "j" && $0 > 0 && words[$0 - 1] == "immigration" ? "judge" : words[$0] }
    }

    /// The numbers (their first three digits) `keyed` writes after an `I` and a dash or slash (spaces around either),
    /// or a period, underscore, colon or backslash joined to both, that follow no letter or digit (`i-862`, `i - 286`,
    /// `i / 862`, `i.862`, `i_862`; not `div. i. 286`).
    private static func dashedFormNumbers(in keyed: String) -> Set<String> {
        let characters = Array(keyed)
        var found: Set<String> = []
        // The first three digits from `at` on, the letter o read as a zero.
        func number(from at: Int) -> String {
            String(characters[at...].prefix { $0.isNumber || $0 == "o" }.prefix(3)).replacingOccurrences(of: "o", with: "0")
        }
        for index in characters.indices where characters[index] == "i" && (index == 0 || !(characters[index - 1].isLetter || characters[index - 1].isNumber)) {
            var at = index + 1
            if at + 1 < characters.count, [".", "_", ":", "\\"].contains(characters[at]), characters[at + 1].isNumber || characters[at + 1] == "o" {
                found.insert(number(from: at + 1))
                continue
            }
            while at < characters.count, characters[at] == " " { at += 1 }
            guard at < characters.count, characters[at] == "-" || characters[at] == "/" else { continue }
            at += 1
            while at < characters.count, characters[at] == " " { at += 1 }
            found.insert(number(from: at))
        }
        return found
    }

    /// Words after which an `I` is a court's division or part (`Div. I`), not a form's.
    private static let divisionWords: Set<String> = ["div", "division", "dept", "department", "part", "pt"]

    /// Words that label a case number rather than caption a case (`Case No. ice-2026-0001`, `Cause No.`, `Civil
    /// Action No.`).
    private static let caseNumberLabels: Set<String> = [
        "case", "cause", "no", "nos", "number", "file", "docket", "index", "criminal", "civil", "action", "misc", "miscellaneous",
    ]

    /// Words that call the person named an officer or agent rather than a judge.
    private static let titleWords: Set<String> = [
        "officer", "officers", "agent", "agents", "director", "supervisory", "supervisor", "investigator", "investigations", "special",
    ]

    /// `word` as its runs of letters and its runs of digits, in order (`ice2026` is `ice` and `2026`).
    private static func lettersApartFromDigits(_ word: String) -> [String] {
        var runs: [String] = []
        var run = ""
        for character in word {
            if let last = run.last, last.isNumber != character.isNumber {
                runs.append(run)
                run = ""
            }
            run.append(character)
        }
        if !run.isEmpty { runs.append(run) }
        return runs
    }

    /// The runs of ASCII capitals in `text` (two or more letters, apart from digits too: `ICE` in `ICE2026`),
    /// lower-cased; with `amidLowerCase`, none unless the text has small letters too (a name typed all in capitals
    /// has no acronym to tell apart).
    private static func capitalWords(_ text: String, amidLowerCase: Bool) -> Set<String> {
        if amidLowerCase, !text.unicodeScalars.contains(where: { ("a"..."z").contains($0) }) { return [] }
        var words: Set<String> = []
        for token in text.split(whereSeparator: { !($0.isASCII && $0.isLetter) })
        where token.count > 1 && token.allSatisfy({ $0.isASCII && $0.isUppercase }) {
            words.insert(token.lowercased())
        }
        return words
    }

    /// A federal docket number ends with its judges' initials (`1:26-mj-00502-DHS`, `2:25-cr-00117-IJ-KS`): those are
    /// left out of a case number before it is read. A docket number is `D:YY-tt-N`: one or two digits, a colon, two
    /// digits, a dash, one to four letters, a dash and one to seven digits; each `-` and two to four letters after it,
    /// not followed by a letter or digit, are its initials (`-I-200` is a form, not initials).
    static func withoutDocketInitials(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var kept: [UInt8] = []
        kept.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            guard let end = docketNumberEnd(bytes, from: index) else {
                kept.append(bytes[index])
                index += 1
                continue
            }
            kept += bytes[index..<end]
            index = end
            while index < bytes.count, bytes[index] == UInt8(ascii: "-") {
                let letters = run(bytes, from: index + 1, isLetter)
                guard (2...4).contains(letters), !(index + 1 + letters < bytes.count && isAlphanumeric(bytes[index + 1 + letters])) else { break }
                index += 1 + letters
            }
        }
        return String(decoding: kept, as: UTF8.self)
    }

    /// Where a docket number that begins at `start` ends, if one does (not after a digit).
    private static func docketNumberEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        if start > 0, isDigit(bytes[start - 1]) { return nil }
        var index = start
        func take(_ class: (UInt8) -> Bool, _ counts: ClosedRange<Int>) -> Bool {
            let count = run(bytes, from: index, `class`)
            guard counts.contains(count) else { return false }
            index += count
            return true
        }
        func literal(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }
        guard take(isDigit, 1...2), literal(UInt8(ascii: ":")), take(isDigit, 2...2), literal(UInt8(ascii: "-")), take(isLetter, 1...4),
              literal(UInt8(ascii: "-")), take(isDigit, 1...7)
        else { return nil }
        return index
    }

    private static func run(_ bytes: [UInt8], from start: Int, _ class: (UInt8) -> Bool) -> Int {
        var index = start
        while index < bytes.count, `class`(bytes[index]) { index += 1 }
        return index - start
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
    private static func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte) }
    private static func isAlphanumeric(_ byte: UInt8) -> Bool { isDigit(byte) || isLetter(byte) }

    /// Whether `joined` is `name` (its words written together), or, for a name ending in `*`, that continued by letters.
    private static func matches(_ joined: String, _ name: String) -> Bool {
        let stem = name.filter { $0 != " " && $0 != "*" }
        guard joined.hasPrefix(stem) else { return false }
        return joined.count == stem.count || (name.hasSuffix("*") && joined.dropFirst(stem.count).allSatisfy(\.isLetter))
    }

    /// Whether `word` is `i` (after `form`, `l` or `1` too), one of the form numbers, and letters or nothing (`i247a`);
    /// the letter `o` reads as a zero in the number (`i2oo`).
    private static func isForm(_ word: String, _ numbers: [String], afterForm: Bool) -> Bool {
        guard let first = word.first, first == "i" || (afterForm && (first == "l" || first == "1")) else { return false }
        let rest = word.dropFirst()
        return numbers.contains { number in
            guard rest.count >= number.count else { return false }
            let digits = rest.prefix(number.count).map { $0 == "o" ? "0" : $0 }
            return String(digits) == number && rest.dropFirst(number.count).allSatisfy(\.isLetter)
        }
    }
}
