import Testing
@testable import WarrantGateCore

@Suite("JSON redaction")
struct JSONRedactorTests {
    let redactor = JSONRedactor(fields: ["citizenship", "countryOfBirth", "immigrationStatus"])

    private func redact(_ text: String) throws -> (String, Int) {
        let result = try redactor.redact(Array(text.utf8))
        return (String(decoding: result.output, as: UTF8.self), result.removed)
    }

    @Test("removes fields at any depth and counts them")
    func removesAtDepth() throws {
        let (output, removed) = try redact(#"{"a":1,"citizenship":"x","b":{"countryOfBirth":"y","c":[{"immigrationStatus":{"deep":true}},2]},"d":"e"}"#)
        #expect(output == #"{"a":1,"b":{"c":[{},2]},"d":"e"}"#)
        #expect(removed == 3)
    }

    @Test("matches escaped and case-varied names")
    func escapedNames() throws {
        let (output, removed) = try redact(#"{"citi\u007aenship":"x","CITIZENSHIP":"y","keep":"\u0041"}"#)
        #expect(output == #"{"keep":"\u0041"}"#)
        #expect(removed == 2)
    }

    @Test("compares names the same way whether a key is escaped or not, also where a key is not ASCII")
    func nonASCIINames() throws {
        // U+212A KELVIN SIGN lower-cases to an ASCII "k"; "Í" to "í", also written as "I" and a combining acute
        // (canonically equivalent). Raw UTF-8 and \u escapes must agree.
        let redactor = JSONRedactor(fields: ["kind", "Ciudadanía"])
        for key in ["\u{212A}IND", #"\u212aIND"#, "CIUDADANÍA", #"CIUDADAN\u00cdA"#, "ciudadanía", "CIUDADANI\u{301}A", #"ciudadani\u0301a"#] {
            let document = Array(#"{"keep":1,"\#(key)":"x"}"#.utf8)
            let (output, removed) = try redactor.redact(document)
            #expect(String(decoding: output, as: UTF8.self) == #"{"keep":1}"#, "\(key)")
            #expect(removed == 1, "\(key)")
        }
        // A key is read as it shows: an accent on a Latin letter does not make another field (a records system may write
        // either spelling), so both are removed.
        #expect(try redactor.redact(Array(#"{"kínd":1,"ciudadania":2}"#.utf8)).removed == 2)
        #expect(try redactor.redact(Array(#"{"kin":1,"ciudad":2}"#.utf8)).removed == 0)
    }

    @Test("a key that is an IRI or a compact IRI matches by its last part, as an XML element by its local name")
    func iriKeys() throws {
        for key in ["nc:citizenship", "j:immigration_status", "http://example.org/ns#citizenship", "urn:x:y:countryOfBirth",
                    "https://example.org/person/citizenship", #"nc\u003aCitizenship"#, "nc:citizenſhip"] {
            let (output, removed) = try redact(#"{"keep":1,"\#(key)":"x"}"#)
            #expect(output == #"{"keep":1}"#, "\(key)")
            #expect(removed == 1, "\(key)")
        }
        #expect(try redact(#"{"nc:citizenshipNote":1}"#).1 == 0)
    }

    /// An attacker's pass: keys that flatten a path, as `json_normalize`, search indexes, Firebase paths and form
    /// binders write a member inside another, kept the field: `inmate.citizenship` folded to `inmatecitizenship`. Each
    /// part is now a name, as the nested member would be (whose removal takes what is inside it too).
    @Test("a key that flattens a path matches by each of its parts; array indexes and longer words do not")
    func flattenedPathKeys() throws {
        for key in ["inmate.citizenship", "inmate/citizenship", "inmate[citizenship]", "citizenship[0]", "citizenship[0].code",
                    "citizenship:note", "http://example.org/citizenship/note", "a/citizenship", "a#citizenship", "x:inmate/citizenship",
                    "person.country_of_birth", #"inmate\u002ecitizenship"#, "inmate．citizenship", "records.0.immigrationStatus",
                    "inmate.ǀmmigrationStatus"] {
            let (output, removed) = try redact(#"{"keep":1,"\#(key)":"x"}"#)
            #expect(output == #"{"keep":1}"#, "\(key)")
            #expect(removed == 1, "\(key)")
        }
        for key in ["citizenshipNote", "a.citizenshipNote", "citizenships[0].code", "0.1", "a..b", "[]", "inmate.name"] {
            #expect(try redact(#"{"\#(key)":1}"#).1 == 0, "\(key)")
        }
    }

    /// An attacker's pass: a records system that keeps fields as data, names beside values (custom fields, a .NET
    /// dictionary's key and value pairs, a table's column names), handed on the field under keys of its own. A kept
    /// string value that spells a redacted name of six letters or more refuses the document; a shorter name is too
    /// often a value of its own (a card's issuer, `VISA`).
    @Test("a string value that spells a redacted field's name refuses the document, whole or in pieces")
    func namesAsValues() throws {
        let documents = [
            #"{"customFields":[{"name":"citizenship","value":"MX"}]}"#,
            #"[{"Key":"Citizenship","Value":"MX"}]"#,
            #"{"columns":["bookingNumber","countryOfBirth"],"rows":[["1","Mexico"]]}"#,
            #"{"field":"Country of birth","value":"Mexico"}"#,
            #"{"field":"citizenship","value":"MX"}"#,
            #"{"field":"citizenſhip","value":"MX"}"#,
            #"{"op":"add","path":"x","label":"immigration_status"}"#,
            // A review's pass: a path with an index, a compact IRI and a dotted local part, padding, an escaped name.
            #"{"op":"add","path":"/inmates/2017-000123/citizenship","value":"MX"}"#, #"{"f":"j:ImmigrationStatus"}"#,
            #"{"f":"urn:x:Country.Of.Birth"}"#, #"{"f":"citizenship\#(String(repeating: " ", count: 2000))"}"#,
            #"{"f":"\u0063itizenship"}"#,
            // Long as written, short as read: every character escaped, and a space beside them.
            #"{"f":" \u0063\u0069\u0074\u0069\u007a\u0065\u006e\u0073\u0068\u0069\u0070"}"#,
        ]
        for document in documents {
            #expect(throws: JSONError.self, "\(document)") { try redact(document) }
            // Streamed, a byte at a time: the value spans pieces.
            let redaction = JSONRedaction(names: RedactedNames(redactor.fields))
            #expect(throws: RedactionError.self, "\(document)") {
                for byte in Array(document.utf8) { try [byte].withUnsafeBytes { try redaction.feed($0) { _ in } } }
                try redaction.finish { _ in }
            }
        }
        // Free text is read whole: "Status: citizenship pending" names no field, nor does a path whose last word is longer.
        for document in [#"{"card":"VISA","note":"citizenship of the applicant","pob":"pob"}"#, #"{"citizenship":"citizenship"}"#,
                         #"{"note":"Reason: citizenship pending"}"#, #"{"href":"/inmates/1/citizenships"}"#,
                         #"{"notes":"\#(String(repeating: "x", count: 300))","text":"\#(String(repeating: "citizenship ", count: 4))"}"#] {
            #expect(throws: Never.self, "\(document)") { try redact(document) }
            #expect(JSONStreamingRedactionTests.streamed(document, names: Array(redactor.fields), pieces: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]).error == nil)
        }
    }

    /// Most values are settled from what their bytes' classes have in common, without the byte pass: both must agree
    /// on every value, escaped as JSON writes it or not, whichever way that settles it. A review found the quick
    /// check's table had lost a backslash's class, which a name may hold: such a value was no longer looked up.
    @Test("a value's quick check answers as the byte pass does, on random values near the names' spellings")
    func quickSpellingAgreesWithBytePass() {
        let names = ValueNames(["citizenship", "countryOfBirth", "immigrationStatus", "alienNumber", #"domain\citizenship"#, "status2024"])
        let pieces = [
            "citizenship", "Citizenship", "country", "Of", "birth", "immigration", "status", "alien", "number", "domain", "2024", "x",
            "2017", "-", "_", ".", "/", ":", "#", "[", "]", " ", "  ", "\t", "\\", "\\u0063", "\\\\", "é", "ſ", "(", ")", "A", "z", "7",
        ]
        var generator = SplitMix64(seed: 20261207)
        var (settledQuickly, spelled) = (0, 0)
        for _ in 0..<40_000 {
            let value = (0...generator.next(below: 8)).map { _ in pieces[generator.next(below: pieces.count)] }.joined()
            let bytes = Array(value.utf8)
            // What the quick check settles alone: ASCII without a backslash, free text or a value without path marks.
            let quick = !bytes.contains { $0 >= 0x80 || $0 == UInt8(ascii: "\\") }
                && (bytes.contains { $0 <= 0x20 } || !bytes.contains { FieldNameKey.isPathMark($0) })
            for escaped in [true, false] {
                bytes.withUnsafeBytes { bytes in
                    let answer = names.spelling(bytes, escaped: escaped)
                    #expect(answer == names.spellingByBytes(bytes, escaped: escaped), "\(value) escaped: \(escaped)")
                    if quick { settledQuickly += 1 }
                    if answer == true { spelled += 1 }
                }
            }
        }
        // Both ways are taken, and both answers given.
        #expect(settledQuickly > 10_000 && settledQuickly < 70_000, "\(settledQuickly)")
        #expect(spelled > 100, "\(spelled)")
        // A name holding a backslash, as XML text holds it and as a JSON string writes it.
        #expect(Array(#"domain\citizenship"#.utf8).withUnsafeBytes { names.isSpelled(byText: $0) })
        #expect(Array(#"domain\\citizenship"#.utf8).withUnsafeBytes { names.isSpelled(byString: $0) })
    }

    @Test("compares letter case character by character, as Java and .NET binders do: a long s, a dotless ı, a dotted İ")
    func binderCase() throws {
        for key in ["citizenſhip", #"citizenſhip"#, "CİTİZENSHİP", "countryOfBırth", "ımmigration_status"] {
            let (output, removed) = try redact(#"{"keep":1,"\#(key)":"x"}"#)
            #expect(output == #"{"keep":1}"#, "\(key)")
            #expect(removed == 1, "\(key)")
        }
        #expect(JSONRedactor(fields: ["ALİENNUMBER"]).fields == ["aliennumber"])
    }

    /// A hostile upstream's pass: keys that read as "citizenship" in any viewer, with a soft hyphen or a zero-width
    /// space inside, or spaced with a no-break space or a tab, or written in fullwidth letters, were passed on.
    @Test("a key hiding its spelling (invisible characters, other spaces, controls, fullwidth letters) is the name it reads as")
    func hiddenSpellings() throws {
        for key in [#"citi\u00adzenship"#, "citi\u{AD}zenship", #"citi\u200bzenship"#, #"immigration\u00a0status"#, #"immigration\tstatus"#,
                    #"citizenship\u0000"#, "\u{FF43}itizenship", #"\uff43itizenship"#, #"citizen\u2060ship"#, #"immigration\u3000status"#,
                    // A re-pass: a raw DEL, dash punctuation, middle dots and ties, a dotted i built from parts, letters
                    // of other scripts drawn like Latin ones, a braille blank.
                    "citizenship\u{7F}", "citi\u{7F}zenship", "immigration\u{2010}status", "immigration\u{2212}status", "immigration\u{B7}status",
                    "immigration\u{30FB}status", "immigration\u{203F}status", "citizensh\u{131}\u{307}p", "citizenshi\u{307}p",
                    "\u{441}itizenship", "c\u{3B9}tizenship", "\u{1D04}itizenship", "citizen\u{2800}ship",
                    // A third pass: phonetic, Lisu, Cherokee and Coptic letters, a palochka among capitals, symbols and
                    // marks drawn between letters.
                    "immi\u{261}rationStatus", "immigr\u{251}tionStatus", "c\u{269}tizenship", "\u{A4DA}itizenship",
                    "\u{A4DA}\u{A4F2}\u{A4D4}\u{A4F2}\u{A4DC}\u{A4F0}\u{A4E0}\u{A4E2}\u{A4E7}\u{A4F2}\u{A4D1}", "\u{13DF}ITIZENSHIP",
                    "\u{2CA5}itizenship", "C\u{4C0}TIZENSHIP", "\u{1C0}MMIGRATION_STATUS", "immigration\u{30FC}status", "immigration\u{4E00}status",
                    "immigration\u{2796}status", "immigration\u{2500}status", "citizens\u{903}hip", "\u{300}citizenship"] {
            let (output, removed) = try redact(#"{"keep":1,"\#(key)":"x"}"#)
            #expect(output == #"{"keep":1}"#, "\(key)")
            #expect(removed == 1, "\(key)")
        }
        // A name of other scripts too long to read (it would cost far more than comparing bytes) is removed, never kept.
        let long = String(repeating: "\u{E9}", count: 600)
        #expect(try redact(#"{"keep":1,"\#(long)":"x"}"#).1 == 1)
        #expect(!JSONFieldNames(["keep"], byLastPart: false).contains(long))
        // XML names may hold a zero-width joiner (a name character), and fullwidth letters.
        #expect(FieldNameKey.of("citi\u{200D}zenship") == "citizenship" && FieldNameKey.of("\u{FF23}\u{FF29}\u{FF34}\u{FF29}\u{FF3A}\u{FF25}\u{FF2E}\u{FF33}\u{FF28}\u{FF29}\u{FF30}") == "citizenship")
    }

    @Test("matches names whatever separates their words: snake, kebab, dotted and spaced keys")
    func separatedNames() throws {
        for key in ["immigration_status", "Immigration-Status", "IMMIGRATION.STATUS", "immigration status", #"immigration\u005fstatus"#,
                    "_immigrationStatus_", "country_of_birth", "citizen__ship"] {
            let (output, removed) = try redact(#"{"keep":1,"\#(key)":"x"}"#)
            #expect(output == #"{"keep":1}"#, "\(key)")
            #expect(removed == 1, "\(key)")
        }
        for key in ["immigration", "immigration_stat", "immigration_status_code", "immigration/status", "immigration$status", "_", ""] {
            #expect(try redact(#"{"\#(key)":1}"#).1 == 0, "\(key)")
        }
        // Names written with separators compare the same way, as do non-ASCII and long keys.
        let redactor = JSONRedactor(fields: ["place_of-birth", "Ciudadanía", String(repeating: "ab", count: 40), "__"])
        #expect(redactor.fields == ["placeofbirth", "ciudadania", String(repeating: "ab", count: 40)])
        for key in ["placeOfBirth", "PLACE.OF.BIRTH", "ciudadan_ía", #"Ciudadan\u00eda-"#, String(repeating: "a_b", count: 40)] {
            #expect(try redactor.redact(Array(#"{"\#(key)":1,"k":2}"#.utf8)).removed == 1, "\(key)")
        }
    }

    @Test("handles first, last and only members")
    func separators() throws {
        #expect(try redact(#"{"citizenship":1}"#).0 == "{}")
        #expect(try redact(#"{"citizenship":1,"a":2}"#).0 == #"{"a":2}"#)
        #expect(try redact(#"{"a":2,"citizenship":1}"#).0 == #"{"a":2}"#)
        #expect(try redact(#" [ ] "#).0 == "[]")
    }

    @Test("leaves out whitespace and every redacted member, wherever they sit")
    func whitespaceAndRuns() throws {
        let (output, removed) = try redact(
            " {\n \"citizenship\" : 1 , \"countryOfBirth\":[ 1 ,2 ] ,\t\"a\" : [ { \"CITIZENSHIP\" : {} } , \"x y\" ] , \"immigrationStatus\": null } \r\n"
        )
        #expect(output == #"{"a":[{},"x y"]}"#)
        #expect(removed == 4)
        #expect(try redact(#"{"a":1,"citizenship":2,"countryOfBirth":3,"b":4,"immigrationStatus":5}"#).0 == #"{"a":1,"b":4}"#)
    }

    @Test("finds a string's end, an escape or a control character at any position, after any UTF-8")
    func stringStopsAtEveryPosition() throws {
        for length in 0..<24 {
            for lead in ["", "é", "âé¢"] {
                let text = lead + String(repeating: "x", count: length)
                #expect(try redact(#"{"k":"\#(text)","citizenship":1}"#).0 == #"{"k":"\#(text)"}"#)
                #expect(try redact(#"{"k":"\#(text)\"q\\zzzzzzzz","citizenship":1}"#).0 == #"{"k":"\#(text)\"q\\zzzzzzzz"}"#)
                #expect(throws: JSONError.self) { try redactor.redact(Array("{\"k\":\"\(text)\u{01}zzzzzzzz\"}".utf8)) }
            }
        }
    }

    @Test("lower-cases ASCII capitals eight bytes at a time, and nothing else, also at the end of the input")
    func lowercasedWords() {
        func reference(_ byte: UInt8) -> UInt8 { (0x41...0x5a).contains(byte) ? byte | 0x20 : byte }
        func bytesOf(_ word: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: word >> UInt64(8 * $0)) } }
        for byte in UInt8.min...UInt8.max {
            for position in 0..<8 {
                var bytes = Array("Q@[Za`{z".utf8)
                bytes[position] = byte
                let expected = bytes.map(reference)
                let (whole, tail) = bytes.withUnsafeBytes { raw in
                    (bytesOf(JSONRedactor.lowercasedWord(in: raw, at: 0)), bytesOf(JSONRedactor.lowercasedWord(in: raw, at: position)))
                }
                let paddedTail: [UInt8] = Array(expected[position...]) + [UInt8](repeating: 0, count: position)
                #expect(whole == expected)
                #expect(tail == paddedTail)
            }
        }
    }

    @Test("finds separators, colons and path marks eight bytes at a time, exactly for every byte, within the key only")
    func separatorsAndColons() {
        for byte in UInt8.min...UInt8.max {
            for length in 1...17 {
                for position in 0..<length {
                    // A key between a byte before and bytes after that are each a separator, a colon and a mark, which count not.
                    for end in [length + 1, length + 9] {
                        var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: end)
                        bytes[0] = UInt8(ascii: ":")
                        for index in (1 + length)..<end { bytes[index] = index % 2 == 0 ? UInt8(ascii: "_") : UInt8(ascii: ":") }
                        bytes[1 + position] = byte
                        let found = bytes.withUnsafeBytes { JSONFieldNames.separatorsAndColons($0, at: 1, length: length) }
                        #expect(found.separated == FieldNameKey.isSeparator(byte), "\(byte) at \(position) of \(length)")
                        #expect(found.colon == (byte == UInt8(ascii: ":")), "\(byte) at \(position) of \(length)")
                        #expect(found.pathMarked == FieldNameKey.isPathMark(byte), "\(byte) at \(position) of \(length)")
                    }
                }
            }
        }
    }

    @Test("hands over the kept runs in order, and nothing for a refused document")
    func keptRuns() throws {
        let input = Array(#" {"a":1, "citizenship":2, "b":[3, {"countryOfBirth":4}]} "#.utf8)
        var written: [UInt8] = []
        let removed = try redactor.redact(input) { written.append(contentsOf: $0) }
        #expect(String(decoding: written, as: UTF8.self) == #"{"a":1,"b":[3,{}]}"#)
        #expect(removed == 2)
        #expect(written == (try redactor.redact(input).output))
        var refused: [UInt8] = []
        #expect(throws: JSONError.self) { try redactor.redact(Array(#"{"a":1,"citizenship":2"#.utf8)) { refused.append(contentsOf: $0) } }
        #expect(refused.isEmpty)
    }

    @Test("agrees with a reference rendering on random documents with random whitespace")
    func randomDocuments() throws {
        var random = SplitMix64(seed: 2026)
        for _ in 0..<400 {
            let document = RandomJSON.object([(raw: "root", name: "root", value: RandomJSON.value(depth: 0, using: &random))])
            let (output, _) = try redact(document.rendered(spacing: &random))
            #expect(output == document.compact(without: redactor.fields))
        }
    }

    @Test("refuses what is not valid JSON", arguments: [
        "", "{", #"{"a":}"#, #"{"a":1,}"#, #"{"a":[1,]}"#, #"{"a":nul}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":"\x"}"#,
        "{\"a\":\"\u{01}\"}", #"{"a":1} x"#, #"{"a":"\ud800"}"#, String(repeating: "[", count: 200) + String(repeating: "]", count: 200),
    ])
    func refusesInvalid(text: String) {
        #expect(throws: JSONError.self) { try redactor.redact(Array(text.utf8)) }
    }

    @Test("refuses a value outside any object member: a bare scalar, an array of scalars", arguments: [
        #""undocumented (reported)""#, #""A-201-555-0199""#, "1", "null", "true", #"["a","b"]"#, #"[{"a":1},"x"]"#, "[[1]]", #"[{}, [2]]"#,
    ])
    func refusesUnnamedScalars(text: String) {
        #expect(throws: JSONError.self) { try redactor.redact(Array(text.utf8)) }
    }

    @Test("accepts objects, arrays of objects, and scalars under a member's name at any depth", arguments: [
        "{}", "[]", #"[{"a":"b"}]"#, #"[[{"a":1}], []]"#, #"{"a":["x",1,[true]]}"#, #"[{"a":[{"b":null}]}]"#,
    ])
    func acceptsNamedScalars(text: String) throws {
        _ = try redactor.redact(Array(text.utf8))
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONError.self) { try redactor.redact(Array(#"{"a":""#.utf8) + [0xc0, 0xae] + Array(#""}"#.utf8)) }
    }
}

/// A JSON value built by the tests, rendered with random whitespace as input and compactly as the expected output.
private indirect enum RandomJSON {
    case object([(raw: String, name: String, value: RandomJSON)])
    case array([RandomJSON])
    case atom(String)

    /// Keys as written (raw) and as decoded; some are redacted names, in other cases and with escapes.
    static let keys: [(raw: String, name: String)] = [
        ("a", "a"), ("status", "status"), ("housingUnit", "housingUnit"), ("citizenship", "citizenship"),
        ("CitizenShip", "CitizenShip"), (#"citi\u007aenship"#, "citizenship"), ("countryOfBirth", "countryOfBirth"),
        ("immigrationStatus", "immigrationStatus"), ("immigrationStatusX", "immigrationStatusX"), (#"q\"uote"#, "q\"uote"),
    ]
    static let atoms = [
        "0", "-12.5e3", "true", "false", "null", #""""#, #""plain""#, #""a string longer than eight bytes, quite a bit""#,
        #""tab\tand \"quotes\" and \\ slash""#, #""é and ü, in UTF-8""#, #""\u00e9\ud83d\ude00""#, #""12345678\"9""#,
    ]

    static func value(depth: Int, using random: inout SplitMix64) -> RandomJSON {
        switch depth < 4 ? random.next(below: 3) : 2 {
        case 0:
            return .object((0..<random.next(below: 5)).map { _ in
                let key = keys[random.next(below: keys.count)]
                return (key.raw, key.name, value(depth: depth + 1, using: &random))
            })
        case 1:
            return .array((0..<random.next(below: 4)).map { _ in value(depth: depth + 1, using: &random) })
        default:
            return .atom(atoms[random.next(below: atoms.count)])
        }
    }

    /// The value with whitespace before and after every token.
    func rendered(spacing random: inout SplitMix64) -> String {
        let spaces = ["", "", " ", "\n", "\t", "\r\n  "]
        func space() -> String { spaces[random.next(below: spaces.count)] }
        switch self {
        case .object(let members):
            return space() + "{" + members.map { member in
                space() + "\"\(member.raw)\"" + space() + ":" + member.value.rendered(spacing: &random) + space()
            }.joined(separator: ",") + space() + "}" + space()
        case .array(let elements):
            return space() + "[" + elements.map { $0.rendered(spacing: &random) }.joined(separator: ",") + space() + "]" + space()
        case .atom(let text):
            return space() + text + space()
        }
    }

    /// The value without whitespace and without members whose decoded name is in `fields` (compared lower-cased).
    func compact(without fields: Set<String>) -> String {
        switch self {
        case .object(let members):
            return "{" + members.filter { !fields.contains($0.name.lowercased()) }.map { "\"\($0.raw)\":" + $0.value.compact(without: fields) }
                .joined(separator: ",") + "}"
        case .array(let elements):
            return "[" + elements.map { $0.compact(without: fields) }.joined(separator: ",") + "]"
        case .atom(let text):
            return text
        }
    }
}

/// A small deterministic generator, so a failing case can be replayed.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next(below bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
