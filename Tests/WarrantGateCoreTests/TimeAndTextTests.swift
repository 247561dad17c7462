import Foundation
import Testing
import WarrantGateCore

@Suite("Dates, times, operator names and free text as the admin CLI takes them")
struct TimeAndTextTests {
    @Test("times are parsed strictly: every field exists, years 1970–9999, nothing rolls over")
    func strictTimes() {
        for refused in [
            "0000-01-01T00:00:00Z", "0000-01-01T00:00:00+14:00", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00+00:01",
            "10000-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "2026-02-29T12:00:00Z", "2026-02-31T12:00:00Z",
            "2026-04-31T12:00:00Z", "2026-12-31T24:00:00Z", "2026-12-31T23:59:60Z", "2026-12-31T23:59:60-07:00",
            "2026-12-31T25:00:00Z", "2026-12-31T23:60:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
            "+2026-12-31T10:00:00Z", "2026-12-31T10:00:00", "2026-12-31T10:00:00.Z", "2026-12-31T10:00:00.1234567891Z",
            "2026-12-31T10:00:00+0700", "2026-12-31T10:00:00+24:00"
        ] {
            #expect(Timestamp.parse(refused) == nil, "\(refused)")
        }
        #expect(Timestamp.parse("2024-02-29T12:00:00Z").map(Timestamp.format) == "2024-02-29T12:00:00.000Z")
        for spelled in ["2026-12-31t10:00:00z", "2026-12-31 10:00:00Z", "2026-12-31T10:00:00z"] {
            #expect(Timestamp.parse(spelled).map(Timestamp.format) == "2026-12-31T10:00:00.000Z", "RFC 3339 allows \(spelled)")
        }
        #expect(LocalDate("1965-03-01") == nil && LocalDate("1965-03-01", years: LocalDate.factYears)?.description == "1965-03-01")
        #expect(Timestamp.parse("2026-12-31T23:59:59-07:00").map(Timestamp.format) == "2027-01-01T06:59:59.000Z")
        #expect(Timestamp.parse("2026-12-31T10:00:00.123456789+14:00").map(Timestamp.format) == "2026-12-30T20:00:00.123Z")
        #expect(Timestamp.parse("9999-12-31T23:59:59.999Z").map(Timestamp.format) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.parse("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        for refused in ["0000-01-01", "1969-12-31", "10000-01-01", "2026-02-29"] { #expect(LocalDate(refused) == nil, "\(refused)") }
        #expect(LocalDate("9999-12-31")?.next.description == "10000-01-01")
    }

    @Test("formatting never traps: years outside 0–9999 are signed, a non-time says so")
    func totalFormat() {
        let yearZero = -62_167_219_200.0
        #expect(Timestamp.format(Date(timeIntervalSince1970: yearZero)) == "0000-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: yearZero - 1)) == "-0001-12-31T23:59:59.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 253_402_300_800)) == "+10000-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -1.5)) == "1969-12-31T23:59:58.500Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: .infinity)).hasPrefix("invalid time"))
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1e300)).hasPrefix("invalid time"))
    }

    @Test("a time in a zone reads that zone's clock with its offset, and parses back to the same instant")
    func zonedFormat() throws {
        let instant = try #require(Timestamp.parse("2026-10-01T05:59:50.250Z"))
        for (zone, text) in [("America/Denver", "2026-09-30T23:59:50.250-06:00"), ("Asia/Kolkata", "2026-10-01T11:29:50.250+05:30"),
                             ("UTC", "2026-10-01T05:59:50.250Z"), ("America/St_Johns", "2026-10-01T03:29:50.250-02:30")] {
            let formatted = Timestamp.format(instant, in: TimeZone(identifier: zone)!)
            #expect(formatted == text, "\(zone)")
            #expect(Timestamp.parse(formatted) == instant, "\(zone)")
        }
    }

    @Test("a day ends when the next one starts, also when a time change skips midnight")
    func endOfDay() throws {
        for (zone, day, end) in [
            ("America/Havana", "2026-03-08", "2026-03-09T04:00:00.000Z"), ("America/Havana", "2026-03-07", "2026-03-08T05:00:00.000Z"),
            ("America/Santiago", "2026-09-06", "2026-09-07T03:00:00.000Z"), ("Asia/Beirut", "2026-03-29", "2026-03-29T21:00:00.000Z"),
            ("America/Sao_Paulo", "2018-11-04", "2018-11-05T02:00:00.000Z"), ("America/Denver", "2026-12-31", "2027-01-01T07:00:00.000Z"),
        ] {
            let date = try #require(LocalDate(day))
            #expect(Timestamp.format(date.end(in: try #require(TimeZone(identifier: zone)))) == end, "\(zone) \(day)")
        }
    }

    @Test("operator names that differ only in case, spacing, width or accents are one person; disguised ones are refused")
    func operatorNames() throws {
        let alice = try OperatorName("alice")
        for same in ["alice ", " alice", "alice\t", "Alice", "ALICE", "alíce", "ａｌｉｃｅ"] {
            #expect(alice.isSamePerson(as: same), "\(same)")
        }
        #expect(try OperatorName("  Sgt.  K. Lee ").text == "Sgt.  K. Lee")
        #expect(try OperatorName("Sgt.  K. Lee").isSamePerson(as: "sgt. k. lee"))
        #expect(!alice.isSamePerson(as: "bob"))
        for refused in ["", " ", "\t", "\u{0430}lice", "alice\u{200B}", "al\u{202E}ice", "alice\nbob", "al\u{1B}[2Kice", "alic\u{03B5}"] {
            #expect(throws: OperatorNameError.self, "\(refused.debugDescription)") { try OperatorName(refused) }
        }
        // Names that print alike are one person, whichever case either is in: whole-script lookalikes, case
        // folding, dashes and apostrophes.
        for (one, other) in [
            ("alice", "аӏісе"), ("alice", "alıce"), ("alice", "aǀice"), ("Pat O'Brien", "Pat O’Brien"), ("Smith-Jones", "Smith‐Jones"),
            ("Strauß", "STRAUSS"), ("Νίκος", "ΝΊΚΟΣ"), ("Νίνα", "ΝΙΝΑ"), ("Ωμέγα", "ΩΜΈΓΑ"), ("Виктор Петров", "ВИКТОР ПЕТРОВ"),
            ("KOCT", "КОСТ"), ("TOM", "ΤΟΜ"), ("Ana Peña", "Ana Pena"), ("Todd", "Тоԁԁ"), ("Mohd", "Моһԁ"), ("Kody", "Коԁу"),
            ("Coco", "Ϲοϲο"), ("LOU", "ԼՕՍ"), ("Smith-Jones", "Smith\u{2212}Jones"),
            // Arabic letters that Persian, Arabic and Urdu keyboards type differently; vowel signs, hamza, tatweel; digits.
            ("\u{6A9}\u{631}\u{6CC}\u{645}", "\u{643}\u{631}\u{64A}\u{645}"), ("علی", "على"), ("علی", "علي"), ("عائشہ", "عائشه"),
            ("عائشه", "عائشە"), ("خانۀ", "خانه"), ("خانه\u{654}", "خانۀ"), ("محمد", "مُحَمَّد"), ("أحمد", "احمد"), ("کریم", "کـریم"),
            ("ﻛﺮﻳﻢ", "کریم"), ("agent ۷", "agent 7"), ("agent ٧", "agent 7"), ("agent ७", "agent 7"),
            ("مهدی", "مھدی"), ("ڪريم", "کریم"),
            // Hebrew points, written or left out at will; the geresh and other apostrophe and dash lookalikes.
            ("דוד", "דָוִד"), ("ג'ורג'", "ג׳ורג׳"), ("O'Brien", "O\u{A78C}Brien"), ("O'Brien", "O\u{2C8}Brien"), ("O'Brien", "O\u{FF07}Brien"),
            ("Jean-Paul", "Jean\u{2D7}Paul"),
        ] {
            #expect(try OperatorName(one).isSamePerson(as: other), "\(one) / \(other)")
            #expect(try OperatorName(other).isSamePerson(as: one), "\(other) / \(one)")
        }
        // A stored name too long to compare in bounded time is taken to be the operator's.
        #expect(alice.isSamePerson(as: "b" + String(repeating: "\u{301}", count: 40)))
        #expect(alice.isSamePerson(as: String(repeating: "b", count: 200)))
        // Blank fillers, phonetic letters, scripts names are not written in, and a second script are refused.
        for refused in [
            "alice\u{2800}", "alice\u{3164}", "alice\u{115F}", "alice\u{FE0F}", "ɑlice", "ᴀʟɪᴄᴇ", "al\u{E000}ice", "ꓮꓡꓲꓚꓰ", "ᎫᎪᎷᎬᏚ", "Jօhn",
        ] {
            #expect(throws: OperatorNameError.self, "\(refused.debugDescription)") { try OperatorName(refused) }
        }
        for (one, other) in [
            ("Иван", "Ivan"), ("Nguyễn Thị Hà", "Trần Văn Nam"), ("Սարգիս", "Sargis"), ("ごとう", "ことう"), ("सुनील", "सनील"), ("วิไล", "วไล"), ("فاطمة", "فاطمه"),
        ] {
            #expect(try !OperatorName(one).isSamePerson(as: other), "different names stay two: \(one) / \(other)")
        }
        for written in [
            "Иван", "José Núñez", "Nguyễn Thị Hà", "Սարգիս", "山田 太郎", "やまだ たろう", "김민준", "محمد", "דוד", "राम",
            "Марʼяна Дʼяченко", "Solovʼyov", "Kaʻiulani Akana", "ʻAbd al-Raḥmān", "Məmmədov", "John Smith III", "Ma. Cristina D. Santos",
        ] {
            #expect(try OperatorName(written).text == written, "\(written)")
        }
    }

    @Test("free text holds no control or invisible characters, and prints escaped if it does")
    func freeText() {
        #expect(FreeText.problem("U.S. District Court, D. Colo.", field: "--court") == nil)
        for bad in ["a\nb", "a\rb", "a\u{1B}[31mb", "scan \u{202E}FDP.exe", "a\u{2028}b", "a\u{200B}b", "a\tb", "a\u{2800}b", "a\u{3164}b", "a\u{E000}b", "a\u{0378}b"] {
            #expect(FreeText.problem(bad, field: "--court")?.contains("--court") == true, "\(bad.debugDescription)")
        }
        #expect(FreeText.escaped("typo\r\u{1B}[2Kquashed") == "typo<U+000D><U+001B>[2Kquashed")
        #expect(FreeText.escaped("Hon. R. Jackson") == "Hon. R. Jackson")
        #expect(ScopeEntry("records.read#booking").isValid)
        #expect(!ScopeEntry("records.read#a\u{1B}[2Kb").isValid && !ScopeEntry("records.read#a\u{200B}b").isValid)
    }

    @Test("free text holds emoji and ideographic variants: a variation selector after a character that has variants")
    func variationSelectors() {
        for accepted in [
            "checked ✔\u{FE0F}", "text style ✔\u{FE0E}", "👍🏽 done", "keycap #\u{FE0F}\u{20E3}", "葛\u{E0100}飾区 (Katsushika)", "辻\u{E0101}",
            "Rangers 🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}", "room 7\u{FE0F}\u{20E3}", "*\u{FE0F}\u{20E3}", "©\u{FE0F} 2026",
        ] {
            #expect(FreeText.problem(accepted, field: "--reason") == nil, "\(accepted.debugDescription)")
        }
        for refused in [
            "\u{FE0F}✔", "ok\u{FE0F}", "✔\u{FE0F}\u{FE0F}", "a\u{FE00}b", "a\u{E0100}b", "✔\u{E0100}", "葛\u{E0100}\u{E0100}", "\u{E0100}葛",
            "🏴\u{E0067}\u{E0062}\u{E0078}\u{E0078}\u{E007F}", "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}",
            "note\u{E0069}\u{E0067}\u{E006E}\u{E006F}\u{E0072}\u{E0065}\u{E007F}", "\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
            // ASCII digits, # and * count as emoji for keycaps only; U+FE00–FE0D nowhere; U+20E3 ends a keycap only.
            "other-7\u{FE0F}282.5", "7\u{FE0E}", "#\u{FE0F}", "*\u{FE0F} ", "7\u{FE0E}\u{20E3}", "7\u{20E3}", "a\u{20E3}", "\u{FE0F}\u{20E3}",
            "✔\u{FE0F}\u{20E3}", "≩\u{FE00}", "渚\u{FE00}", "$\u{FE00}", "+\u{FE01}", "<\u{FE00}", "|\u{FE0D}", "~\u{FE00}", "✔\u{FE00}",
        ] {
            #expect(FreeText.problem(refused, field: "--reason")?.contains("--reason") == true, "\(refused.debugDescription)")
        }
        #expect(FreeText.escaped("✔\u{FE0F}\u{FE0F} ok\u{FE0F}") == "✔\u{FE0F}<U+FE0F> ok<U+FE0F>")
        #expect(FreeText.escaped("other-7\u{FE0F}282.5 7\u{FE0F}\u{20E3}") == "other-7<U+FE0F>282.5 7\u{FE0F}\u{20E3}")
    }

    @Test("free text holds ZWNJ and ZWJ between letters of a script that writes them, and ZWJ in emoji sequences")
    func joiners() {
        for accepted in [
            "می\u{200C}خواهم", "مهرآسا\u{200C}ی", "क्\u{200D}ष", "ക്\u{200C}ക", "র\u{200D}্যাব", "ශ්\u{200D}රී", "ܐ\u{200C}ܒ",
            "🧑🏽\u{200D}💻 on call", "👨\u{200D}👩\u{200D}👧", "🏳\u{FE0F}\u{200D}🌈", "👨\u{200D}❤\u{FE0F}\u{200D}👨",
            "❤\u{200D}🔥", "👁\u{200D}🗨", "🏃🏽\u{200D}♂", "🏴\u{200D}☠\u{FE0F}", "✔\u{200D}👍",
            "Interview: مهرآسا\u{200C}ی, Nguyễn, 山田 葛\u{E0100}, ✔\u{FE0F}",
        ] {
            #expect(FreeText.problem(accepted, field: "--reason") == nil, "\(accepted.debugDescription)")
        }
        for refused in [
            "\u{200C}می", "می\u{200C}", "می\u{200C}\u{200C}خواهم", "می \u{200C}خواهم", "ا\u{200C}٣", "a\u{200C}b", "a\u{200D}b", "م\u{200C}a",
            "क्\u{200D}ক", "1\u{200D}2", "👍\u{200D}", "\u{200D}👍", "👍\u{200D}\u{200D}👍", "ന്\u{200D}",
            "#\u{200D}👍", "1\u{FE0F}\u{200D}👍", "👍\u{200D}1", "A\u{FE0F}\u{200D}😀", "می\u{200C} خواهم", "ما\u{200C}",
            "a\u{202A}b", "a\u{202D}b", "a\u{2066}b", "a\u{2069}b", "a\u{2060}b", "a\u{FEFF}b", "a\u{200B}b", "a\u{00AD}b", "\u{115F}",
        ] {
            #expect(FreeText.problem(refused, field: "--reason")?.contains("--reason") == true, "\(refused.debugDescription)")
        }
        #expect(FreeText.escaped("a\u{200C}b می\u{200C}خواهم") == "a<U+200C>b می\u{200C}خواهم")
        // A joiner held only by a neighbour that is itself escaped is escaped too.
        #expect(FreeText.escaped("A\u{FE0F}\u{200D}😀") == "A<U+FE0F><U+200D>😀")
        #expect(FreeText.escaped("1\u{FE0F}\u{200D}👍 a\u{20E3}") == "1<U+FE0F><U+200D>👍 a<U+20E3>")
    }

    @Test("free text is composed (NFC) before it is checked, and stored composed: decomposed Vietnamese is not refused")
    func composedText() throws {
        let typed = "Nguye\u{0302}\u{0303}n Thi\u{0323} Ha\u{0300}"
        #expect(Array(try FreeText.composed(typed).unicodeScalars) == Array("Nguy\u{1EC5}n Th\u{1ECB} H\u{E0}".unicodeScalars))
        #expect(FreeText.problem(try FreeText.composed(typed), field: "--by") == nil)
        #expect(FreeText.problem(typed, field: "--by")?.contains("composed form (NFC)") == true)
        #expect(Array(try FreeText.composed("=\u{0338}").unicodeScalars) == ["\u{2260}"])
    }

    @Test("free text and names are bounded before they are composed: length, and combining marks in a row")
    func bounds() throws {
        let marks = { (count: Int) in String(repeating: "\u{0301}\u{0316}", count: count / 2) }
        #expect(try FreeText.composed(String(repeating: "a", count: FreeText.maxLength)).unicodeScalars.count == FreeText.maxLength)
        #expect(try FreeText.composed("a" + marks(30)).unicodeScalars.count == 30)
        // Alternating combining classes, which made composing quadratic; NFKD counts (U+0F73 is two marks) as UAX #15.
        for refused in [
            String(repeating: "a", count: FreeText.maxLength + 1), "a" + marks(64_000), "a" + marks(32) + "b", "ễ" + marks(30),
            "ཀ" + String(repeating: "\u{0F73}", count: 16), String(repeating: "\u{0301}", count: 31),
        ] {
            #expect(throws: FreeTextError.self) { try FreeText.composed(refused) }
            #expect(FreeText.problem(refused, field: "--value")?.hasPrefix("--value holds more than") == true)
        }
        #expect(FreeText.problem(String(repeating: "a", count: 4097), field: "--value") == "--value holds more than 4096 characters (code points)")
        #expect(FreeText.problem("a" + marks(40), field: "--value") == "--value holds more than 30 combining marks in a row")
        #expect(FreeText.problem(try FreeText.composed("a" + marks(30) + " " + marks(30)), field: "--value") == nil, "a starter ends a run")
        #expect(try OperatorName(String(repeating: "a", count: OperatorName.maxLength)).text.count == OperatorName.maxLength)
        for refused in [String(repeating: "a", count: OperatorName.maxLength + 1), "a" + marks(32), "a" + marks(64_000), "bob" + marks(31_998)] {
            #expect(throws: OperatorNameError.self) { try OperatorName(refused) }
        }
    }

    @Test("an operator name is stored composed; joiners and variation selectors it may hold never make one person two")
    func operatorNamesInvisibles() throws {
        let vietnamese = try OperatorName("  Nguye\u{0302}\u{0303}n Thi\u{0323} Ha\u{0300} ")
        #expect(Array(vietnamese.text.unicodeScalars) == Array("Nguy\u{1EC5}n Th\u{1ECB} H\u{E0}".unicodeScalars))
        #expect(vietnamese.isSamePerson(as: "Nguy\u{1EC5}n Th\u{1ECB} H\u{E0}") && vietnamese.isSamePerson(as: "nguyen thi ha"))
        #expect(Array(try OperatorName("ali\u{0301}ce").text.unicodeScalars) == Array("al\u{ED}ce".unicodeScalars))
        for (written, plain) in [("مهرآسا\u{200C}ی", "مهرآسای"), ("ශ්\u{200D}රී", "ශ්රී"), ("葛\u{E0100}西 太郎", "葛西 太郎"), ("क्\u{200D}षमा", "क्षमा")] {
            let name = try OperatorName(written)
            #expect(Array(name.text.unicodeScalars) == Array(written.unicodeScalars))
            #expect(name.isSamePerson(as: plain), "\(written.debugDescription)")
            #expect(try OperatorName(plain).isSamePerson(as: written), "\(written.debugDescription)")
        }
        // Names stored before they were checked compare without their invisible characters too.
        #expect(try OperatorName("alice").isSamePerson(as: "al\u{200B}ice\u{FE0F}\u{2060}"))
        for refused in ["ali\u{200C}ce", "alice\u{200D}", "\u{200C}مهرآسای", "Jo\u{FE0F}hn", "葛\u{E0100}\u{E0100}西", "مهر\u{200C}a"] {
            #expect(throws: OperatorNameError.self, "\(refused.debugDescription)") { try OperatorName(refused) }
        }
    }
}
