import Testing
@testable import WarrantGateCore

@Suite("JSON streaming redaction")
struct JSONStreamingRedactionTests {
    static let fields = ["citizenship", "countryOfBirth", "immigrationStatus", "kind", "Ciudadanía", StreamingDocuments.longName]

    /// What a redaction made of a document: its output and removed count, or a refusal.
    enum Outcome: Equatable, CustomStringConvertible {
        case accepted(String, removed: Int)
        case refused

        var description: String {
            switch self {
            case .accepted(let output, let removed): "accepted \(removed): \(output)"
            case .refused: "refused"
            }
        }
    }

    static func buffered(_ input: [UInt8], fields: [String] = fields) -> Outcome {
        guard let result = try? JSONRedactor(fields: fields).redact(input) else { return .refused }
        return .accepted(String(decoding: result.output, as: UTF8.self), removed: result.removed)
    }

    /// Streams `input` in pieces of the given sizes (the last piece takes the rest).
    static func streamed(_ input: [UInt8], names: RedactedNames, pieces: [Int] = []) -> (outcome: Outcome, error: RedactionError?) {
        let redaction = JSONRedaction(names: names)
        var output: [UInt8] = []
        var failure: RedactionError?
        input.withUnsafeBytes { bytes in
            do throws(RedactionError) {
                var offset = 0
                for size in pieces where offset < bytes.count {
                    let end = min(offset + size, bytes.count)
                    try redaction.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) { output.append(contentsOf: $0) }
                    offset = end
                }
                try redaction.feed(UnsafeRawBufferPointer(rebasing: bytes[offset...])) { output.append(contentsOf: $0) }
                try redaction.finish { output.append(contentsOf: $0) }
            } catch {
                failure = error
            }
        }
        if let failure { return (.refused, failure) }
        return (.accepted(String(decoding: output, as: UTF8.self), removed: redaction.removed), nil)
    }

    static func streamed(_ text: String, names: [String], pieces: [Int] = []) -> (outcome: Outcome, error: RedactionError?) {
        streamed(Array(text.utf8), names: RedactedNames(names), pieces: pieces)
    }

    /// Piece sizes that split a document of `count` bytes in many ways: one byte at a time, and random sizes (empty
    /// pieces among them).
    static func splits(_ count: Int, using random: inout SplitMix64) -> [[Int]] {
        [
            Array(repeating: 1, count: count),
            (0..<count).map { _ in 1 + random.next(below: 9) },
            (0..<count).map { _ in random.next(below: 3) == 0 ? 0 : 1 + random.next(below: 200) },
        ]
    }

    @Test("agrees with JSONRedactor on random documents, fed whole, split at every position, and in random pieces")
    func differential() {
        var random = SplitMix64(seed: 7)
        let names = RedactedNames(Self.fields)
        for round in 0..<400 {
            let input = Array(StreamingDocuments.document(using: &random).utf8)
            let expected = Self.buffered(input)
            guard case .accepted = expected else {
                Issue.record("the generator made an invalid document: \(String(decoding: input, as: UTF8.self))")
                continue
            }
            #expect(Self.streamed(input, names: names).outcome == expected, "round \(round)")
            for pieces in Self.splits(input.count, using: &random) {
                #expect(Self.streamed(input, names: names, pieces: pieces).outcome == expected, "round \(round), pieces \(pieces)")
            }
            if input.count <= 400 {
                for split in 0...input.count {
                    let outcome = Self.streamed(input, names: names, pieces: [split]).outcome
                    if outcome != expected {
                        Issue.record("round \(round), split at \(split): \(outcome) != \(expected)")
                        break
                    }
                }
            }
        }
    }

    @Test("accepts and refuses what JSONRedactor does, on mutated documents")
    func mutations() {
        var random = SplitMix64(seed: 11)
        let names = RedactedNames(Self.fields)
        var refusals = 0
        for round in 0..<1500 {
            var input = Array(StreamingDocuments.document(using: &random).utf8)
            for _ in 0...random.next(below: 2) { StreamingDocuments.mutate(&input, using: &random) }
            let expected = Self.buffered(input)
            if expected == .refused { refusals += 1 }
            let text = String(decoding: input, as: UTF8.self)
            #expect(Self.streamed(input, names: names).outcome == expected, "round \(round): \(text)")
            for pieces in Self.splits(input.count, using: &random) {
                #expect(Self.streamed(input, names: names, pieces: pieces).outcome == expected, "round \(round): \(text)")
            }
        }
        // Most mutations break the document; the rest must still agree.
        #expect(refusals > 700)
    }

    @Test("agrees with JSONRedactor at and around the depth limit, and on edge cases", arguments: [
        "", " ", "{", "}", "[", "[]", " [ ] ", "{}", "[{}]", "[[{}],[]]", #"{"a":}"#, #"{"a":1,}"#, #"{"a":[1,]}"#, #"{"a":nul}"#,
        #"{"a":nulll}"#, #"{"a":01}"#, #"{"a":-}"#, #"{"a":-0}"#, #"{"a":1.}"#, #"{"a":1.5e}"#, #"{"a":1e+}"#, #"{"a":1E-7}"#,
        #"{"a":"\x"}"#, "{\"a\":\"\u{01}\"}", #"{"a":1} x"#, #"{"a":1}{}"#, #"{"a":"\ud800"}"#, #"{"a":"\udc00"}"#,
        #"{"a":"\ud800\u0041"}"#, #"{"a":"\ud800\udbff"}"#, #"{"a":"\ud83d\ude00"}"#, #"{"a":"\u00"}"#, #"{"a":"\uZZZZ"}"#,
        #""x""#, "1", "null", #"["a"]"#, #"[{"a":1},"x"]"#, "[[1]]", #"{"a" "b"}"#, #"{"a":1 "b":2}"#, #"{"a":[1}"#, #"{"a":{]}"#,
        #"{1:2}"#, #"{"citizenship":1}"#, #"{"citizenship":{"a":[1,{"b":2}]},"x":[]}"#, #"{"x":1,"citizenship":2,"kind":3}"#,
        "\u{FEFF}{}", #"{"a":tru}"#, #"{"a":true false}"#,
    ] + StreamingDocuments.deep)
    func edgeCases(text: String) {
        var random = SplitMix64(seed: 3)
        let input = Array(text.utf8), expected = Self.buffered(input)
        #expect(Self.streamed(input, names: RedactedNames(Self.fields)).outcome == expected)
        for pieces in Self.splits(input.count, using: &random) {
            #expect(Self.streamed(input, names: RedactedNames(Self.fields), pieces: pieces).outcome == expected)
        }
    }

    @Test("refuses invalid UTF-8 wherever it is, also split inside a sequence", arguments: [
        [0xc0, 0xae], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80], [0xc3], [0xe2, 0x82], [0x80], [0xff],
    ] as [[UInt8]])
    func invalidUTF8(sequence: [UInt8]) {
        for (before, after) in [(#"{"a":""#, #""}"#), (#"{""#, #"":1}"#), (#"{"citizenship":""#, #""}"#)] {
            let input = Array(before.utf8) + sequence + Array(after.utf8)
            #expect(Self.buffered(input) == .refused)
            for split in 0...input.count {
                #expect(Self.streamed(input, names: RedactedNames(Self.fields), pieces: [split]).outcome == .refused)
            }
        }
        let valid = Array(#"{"é€😀":"é€😀"}"#.utf8)
        for split in 0...valid.count {
            #expect(Self.streamed(valid, names: RedactedNames(Self.fields), pieces: [split]).outcome == .accepted(#"{"é€😀":"é€😀"}"#, removed: 0))
        }
    }

    @Test("refuses a key longer than maxKeyBytes, and nesting deeper than maxDepth, however it is split")
    func limits() throws {
        let long = #"{"\#(String(repeating: "k", count: 100))":1}"#
        for split in 0...long.utf8.count {
            let redaction = JSONRedaction(names: RedactedNames(["x"]), maxKeyBytes: 99)
            let error = #expect(throws: RedactionError.self) {
                try Array(long.utf8).withUnsafeBytes { bytes in
                    try redaction.feed(UnsafeRawBufferPointer(rebasing: bytes[..<split])) { _ in }
                    try redaction.feed(UnsafeRawBufferPointer(rebasing: bytes[split...])) { _ in }
                }
                try redaction.finish { _ in }
            }
            #expect(error?.detail.contains("longer than 99") == true)
        }
        let redaction = JSONRedaction(names: RedactedNames(["x"]), maxKeyBytes: 100)
        var output: [UInt8] = []
        try Array(long.utf8).withUnsafeBytes { try redaction.feed($0) { output.append(contentsOf: $0) } }
        try redaction.finish { _ in }
        #expect(String(decoding: output, as: UTF8.self) == long)

        let nested = String(repeating: #"{"a":"#, count: 5) + "1" + String(repeating: "}", count: 5)
        #expect(Self.streamed(Array(nested.utf8), names: RedactedNames(["x"])).outcome == .accepted(nested, removed: 0))
        let shallow = JSONRedaction(names: RedactedNames(["x"]), maxDepth: 5)
        #expect(throws: RedactionError.self) { try Array(nested.utf8).withUnsafeBytes { try shallow.feed($0) { _ in } } }
    }

    @Test("streams a 20 MB document in 64 KiB pieces holding little, whatever its values' sizes")
    func largeDocument() throws {
        let record = #"{"bookingNumber":"2017-000123","name":"Ana Morales","citizenship":"unknown","charges":[{"statute":"C.R.S. 18-4-203"}],"demographics":{"countryOfBirth":"Mexico","placeOfBirth":"Mexico"},"score":-12.5e3,"flag":true}"#
        let huge = String(repeating: "long text, ", count: 100_000)
        var input = Array(#"[{"notes":"\#(huge)","citizenship":"\#(huge)"}"#.utf8)
        while input.count < 20 << 20 {
            input += Array(",".utf8) + Array(record.utf8)
        }
        input += Array("]".utf8)
        let expected = try JSONRedactor(fields: Self.fields).redact(input)

        let redaction = JSONRedaction(names: RedactedNames(Self.fields))
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var maxHeld = 0
        try input.withUnsafeBytes { bytes in
            for offset in stride(from: 0, to: bytes.count, by: 64 * 1024) {
                try redaction.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<min(offset + 64 * 1024, bytes.count)])) {
                    output.append(contentsOf: $0)
                }
                maxHeld = max(maxHeld, redaction.heldBytes)
            }
        }
        try redaction.finish { output.append(contentsOf: $0) }
        #expect(output == expected.output)
        #expect(redaction.removed == expected.removed)
        #expect(maxHeld < 1024, "held \(maxHeld) bytes")
    }

    // MARK: JSON-LD

    static let example = "{http://example.org/ns#}secret"
    static let citizenship = "{https://docs.oasis-open.org/niemopen/ns/model/niem-core/6.0/}PersonCitizenship"

    /// Checks the outcome fed whole and one byte at a time.
    static func expectLD(_ text: String, names: [String] = [example, citizenship], _ expected: Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(streamed(text, names: names).outcome == expected, sourceLocation: sourceLocation)
        #expect(streamed(text, names: names, pieces: Array(repeating: 1, count: text.utf8.count)).outcome == expected, sourceLocation: sourceLocation)
    }

    static func expectRefused(_ text: String, names: [String] = [example], _ detail: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for pieces in [[], Array(repeating: 1, count: text.utf8.count)] {
            let error = streamed(text, names: names, pieces: pieces).error
            #expect(error?.kind == .refused, sourceLocation: sourceLocation)
            #expect(error?.detail.contains(detail) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
        }
    }

    /// A review's pass: a term of a `@context` aliased to a redacted field's bare name (`"nat": "citizenship"`) is read
    /// as the JSON-LD processor reads it, and the member it names is removed; the term's value is no value of the
    /// record, and does not withhold the document as a value naming a field does.
    @Test("a context term's value naming a field is read as an alias, not refused as a value")
    func contextValuesAreNotValues() {
        let document = #"{"@context":{"nat":"citizenship"},"nat":"MX","keep":1}"#
        #expect(Self.streamed(document, names: ["citizenship"]).outcome == .accepted(#"{"@context":{"nat":"citizenship"},"keep":1}"#, removed: 1))
        #expect(Self.streamed(#"{"keep":"citizenship"}"#, names: ["citizenship"]).outcome == .refused)
    }

    @Test("expands a compact IRI through an inline context's prefix")
    func inlinePrefix() {
        Self.expectLD(
            #"{"@context": {"ex": "http://example.org/ns#"}, "ex:secret": 1, "ex:open": 2}"#,
            .accepted(#"{"@context":{"ex":"http://example.org/ns#"},"ex:open":2}"#, removed: 1)
        )
        // A namespace without '#' or '/' matches after a '#' too; escapes are decoded first.
        Self.expectLD(
            #"{"@context": {"ex": "http:\/\/example.org\/ns#"}, "ex:secr\u0065t": 1, "ex:open": 2}"#, names: ["{http://example.org/ns}secret"],
            .accepted(#"{"@context":{"ex":"http:\/\/example.org\/ns#"},"ex:open":2}"#, removed: 1)
        )
        // A namespace ending with '/' matches after a '#' too, as NIEM 3.0 to 5.2 contexts bind their prefixes
        // ("nc": ".../niem-core/5.0/#").
        Self.expectLD(
            #"{"@context":{"nc":"http://example.org/core/5.0/#"},"nc:secret":1,"nc:open":2}"#, names: ["{http://example.org/core/5.0/}secret"],
            .accepted(#"{"@context":{"nc":"http://example.org/core/5.0/#"},"nc:open":2}"#, removed: 1)
        )
    }

    @Test("expands a term alias, also one defined by @id, through a compact IRI, or later in the same context")
    func termAlias() {
        // A term whose @id is itself is the vocabulary's term of that name (JSON-LD 1.1); @base and @propagate: true
        // change no key. (A term named as the field goes from the context too.)
        Self.expectLD(
            #"{"@context":{"@base":"http://example.org/","@propagate":true,"@vocab":"http://example.org/ns#","secret":{"@id":"secret"}},"secret":1,"open":2}"#,
            .accepted(#"{"@context":{"@base":"http://example.org/","@propagate":true,"@vocab":"http://example.org/ns#"},"open":2}"#, removed: 2)
        )
        // A prefix whose IRI ends with no delimiter is no prefix to JSON-LD 1.1: the key is then judged as an
        // undefined prefix's would be, by its local name.
        Self.expectLD(#"{"@context":{"ex":"urn:x:ex"},"ex:secret":1,"ex:open":2}"#, .accepted(#"{"@context":{"ex":"urn:x:ex"},"ex:open":2}"#, removed: 1))
        // Through a chain of five terms, each defined by the next.
        Self.expectLD(
            #"{"@context":{"a":"b","b":"c","c":"d","d":"e","e":"http://example.org/ns#secret"},"a":1,"f":2}"#,
            .accepted(#"{"@context":{"a":"b","b":"c","c":"d","d":"e","e":"http://example.org/ns#secret"},"f":2}"#, removed: 1)
        )
        Self.expectLD(
            #"{"@context":{"hidden":"ex:secret","ex":"http://example.org/ns#","also":{"@id":"ex:secret","@type":"@id"},"shown":{"@id":"ex:open"}},"hidden":1,"also":2,"shown":3,"id":4}"#,
            .accepted(#"{"@context":{"hidden":"ex:secret","ex":"http://example.org/ns#","also":{"@id":"ex:secret","@type":"@id"},"shown":{"@id":"ex:open"}},"shown":3,"id":4}"#, removed: 2)
        )
        // A term aliasing a keyword is a keyword.
        Self.expectLD(
            #"{"@context":{"@vocab":"http://example.org/ns#","ident":"@id"},"ident":"x"}"#,
            .accepted(#"{"@context":{"@vocab":"http://example.org/ns#","ident":"@id"},"ident":"x"}"#, removed: 0)
        )
    }

    @Test("appends plain keys to @vocab, never keywords")
    func vocab() {
        Self.expectLD(
            #"{"@context":{"@vocab":"http://example.org/ns#"},"@id":"x","secret":1,"open":2,"@type":"T"}"#,
            .accepted(#"{"@context":{"@vocab":"http://example.org/ns#"},"@id":"x","open":2,"@type":"T"}"#, removed: 1)
        )
    }

    @Test("scopes a context to its object and descendants")
    func nestedScoping() {
        Self.expectLD(
            #"{"@context":{"t":"http://other.example/t"},"a":{"@context":{"t":"http://example.org/ns#secret"},"t":1,"b":[{"t":2}]},"t":3,"c":{"t":4}}"#,
            .accepted(#"{"@context":{"t":"http://other.example/t"},"a":{"@context":{"t":"http://example.org/ns#secret"},"b":[{}]},"t":3,"c":{"t":4}}"#, removed: 2)
        )
    }

    @Test("resets the context with null, also inside an array of contexts")
    func resetWithNull() {
        Self.expectLD(
            #"{"@context":{"t":"http://example.org/ns#secret"},"a":{"@context":null,"t":1},"t":2}"#,
            .accepted(#"{"@context":{"t":"http://example.org/ns#secret"},"a":{"@context":null,"t":1}}"#, removed: 1)
        )
        Self.expectLD(
            #"{"@context":[{"t":"http://example.org/ns#secret"},null,{"u":"http://example.org/ns#secret"}],"t":1,"u":2}"#,
            .accepted(#"{"@context":[{"t":"http://example.org/ns#secret"},null,{"u":"http://example.org/ns#secret"}],"t":1}"#, removed: 1)
        )
    }

    @Test("a context keyword holds a scalar (@container strings too): an object or array there, never redacted, is refused")
    func contextKeywordsAreScalars() {
        for context in [
            #"{"@base":{"citizenship":"MX"}}"#, #"{"@version":[1.1,{"citizenship":"MX"}]}"#, #"{"@language":{"citizenship":"MX"}}"#,
            #"{"@protected":{"citizenship":"MX"}}"#, #"{"@direction":["ltr"]}"#, #"{"@type":{"@container":"@set","citizenship":"MX"}}"#,
            #"{"@type":"x"}"#, #"{"t":{"@id":"urn:t","@type":{"citizenship":"MX"}}}"#, #"{"t":{"@id":"urn:t","@container":[{"citizenship":"MX"}]}}"#,
            #"{"t":{"@id":"urn:t","@nest":{"citizenship":"MX"}}}"#, #"{"t":{"@id":"urn:t","@prefix":[true]}}"#,
        ] {
            let text = #"{"@context":\#(context),"a":1}"#
            for pieces in [[], Array(repeating: 1, count: text.utf8.count)] {
                #expect(Self.streamed(text, names: [Self.example], pieces: pieces).outcome == .refused, "\(context)")
            }
        }
        for context in [
            #"{"@base":"http://example.org/","@version":1.1,"@language":null,"@protected":true,"@type":{"@container":"@set"}}"#,
            #"{"t":{"@id":"urn:t","@type":"@id","@container":["@set","@language"],"@protected":false,"@prefix":true,"@nest":"n"}}"#,
        ] {
            Self.expectLD(#"{"@context":\#(context),"a":1}"#, .accepted(#"{"@context":\#(context),"a":1}"#, removed: 0))
        }
    }

    @Test("the empty key expands to the vocabulary's IRI itself, which may be a redacted name's")
    func emptyKeyUnderVocab() {
        Self.expectLD(#"{"@context":{"@vocab":"http://example.org/ns#secret"},"a":1,"":"MX"}"#,
                      .accepted(#"{"@context":{"@vocab":"http://example.org/ns#secret"},"a":1}"#, removed: 1))
        Self.expectLD(#"{"@context":{"@vocab":"http://example.org/ns#"},"":"MX"}"#, .accepted(#"{"@context":{"@vocab":"http://example.org/ns#"},"":"MX"}"#, removed: 0))
        Self.expectLD(#"{"":"MX"}"#, .accepted(#"{"":"MX"}"#, removed: 0))
    }

    @Test("a key a context expands to an IRI whose last part is a field name is removed, as that IRI written out is")
    func expandedToFieldNames() {
        for (context, key) in [
            (#"{"x":"http://ex.org/ns#citizenship"}"#, "x"), (#"{"ns":"http://ex.org/ns#citi"}"#, "ns:zenship"),
            (#"{"@vocab":"http://ex.org/ns#citizenship"}"#, ""), (#"{"x":{"@id":"http://ex.org/ns#alienNumber"}}"#, "x"),
            (#"{"@vocab":"http://ex.org/ns#immigration_"}"#, "status"),
        ] {
            Self.expectLD(#"{"@context":\#(context),"\#(key)":"MX","keep":1}"#, names: ["citizenship", "alienNumber", "immigrationStatus"],
                          .accepted(#"{"@context":\#(context),"keep":1}"#, removed: 1))
        }
        Self.expectLD(#"{"@context":{"x":"http://ex.org/ns#citizenshipNote"},"x":1}"#, names: ["citizenship"],
                      .accepted(#"{"@context":{"x":"http://ex.org/ns#citizenshipNote"},"x":1}"#, removed: 0))
    }

    /// A red-team pass: a redacted name's term passed when it defined an IRI, and an IRI carries whatever the upstream
    /// writes into it: a plain JSON client reads `doc["@context"]["citizenship"]` as `urn:SECRET-MX`.
    @Test("a context term named like a redacted field goes, whatever it defines, as a member of that name does")
    func redactedTermsGo() {
        let names = ["alienNumber", "immigrationStatus", "citizenship"]
        for (context, kept, removed) in [
            (#"{"citizenship":"urn:SECRET-MX"}"#, "{}", 1), (#"{"citizenship":"http://ex.org/ns#MX"}"#, "{}", 1),
            (#"{"alienNumber":"ex:A123456789","ex":"http://ex.org/"}"#, #"{"ex":"http://ex.org/"}"#, 1),
            (#"{"x":"http://ex.org/","citizenship":{"@id":"MX"}}"#, #"{"x":"http://ex.org/"}"#, 1),
            (#"{"alienNumber":{"@id":"http://ex.org/a","@type":"A123456789"}}"#, "{}", 1), (#"{"alienNumber":"@A123456789"}"#, "{}", 1),
            (#"{"A":null,"alienNumber":"A:123456789"}"#, #"{"A":null}"#, 1), (#"{"nc:Citizenship":"_:MX","Immigration_Status":"tag:x,2026:U"}"#, "{}", 2),
            // Its definition is not read: what a kept term may not hold, a removed one may.
            (#"{"citizenship":{"@id":"urn:c","@context":{"x":"urn:x"},"@reverse":"urn:r"}}"#, "{}", 1),
            // Wherever it stands, with white space and commas around it.
            (#"[{"a" : "urn:a" , "citizenship" : "urn:MX" , "b" : "urn:b"} , null , {"alien_number":"A:1"}]"#, #"[{"a":"urn:a","b":"urn:b"},null,{}]"#, 2),
            (#"{"citizenship":"urn:MX","a":"urn:a","alienNumber":"urn:A1"}"#, #"{"a":"urn:a"}"#, 2),
        ] {
            Self.expectLD(#"{"@context":\#(context),"n":1}"#, names: names, .accepted(#"{"@context":\#(kept),"n":1}"#, removed: removed))
        }
        // A review's pass: a term aliased to a bare name is that name, so the key it defines goes, as does one that
        // a removed term left behind.
        Self.expectLD(#"{"@context":{"nat":"citizenship"},"nat":"MX","k":1}"#, names: names, .accepted(#"{"@context":{"nat":"citizenship"},"k":1}"#, removed: 1))
        Self.expectLD(
            #"{"@context":{"citizenship":"urn:x","alias":"citizenship"},"alias":"MX","k":1}"#, names: names,
            .accepted(#"{"@context":{"alias":"citizenship"},"k":1}"#, removed: 2)
        )
        // In a nested context too; the member itself goes as ever.
        Self.expectLD(
            #"{"@context":{"a":"urn:a"},"r":{"@context":{"citizenship":"urn:SECRET-MX"},"citizenship":"MX","k":1}}"#, names: names,
            .accepted(#"{"@context":{"a":"urn:a"},"r":{"@context":{},"k":1}}"#, removed: 2)
        )
    }

    /// A plain JSON client reads keys as written, whatever a `@context` says.
    @Test("a qualified name's local name is a field name in JSON: any case or separators, prefixed or not, whatever the context")
    func localNamesAsFields() {
        Self.expectLD(#"{"secret":1,"Secret":2,"open":3,"a":{"s_e-c.r e t":4}}"#, .accepted(#"{"open":3,"a":{}}"#, removed: 3))
        for (context, kept) in [
            (#"{"ex":"http://other.example/"}"#, #"{"ex":"http://other.example/"}"#), (#"{"@vocab":"http://other.example/"}"#, #"{"@vocab":"http://other.example/"}"#),
            // A term of the name goes from the context too.
            (#"{"secret":"http://other.example/s"}"#, "{}"),
        ] {
            for key in ["secret", "ex:Secret", "http://other.example/secret"] {
                Self.expectLD(#"{"@context":\#(context),"\#(key)":1}"#, .accepted(#"{"@context":\#(kept)}"#, removed: kept == "{}" ? 2 : 1))
            }
        }
    }

    @Test("a nested context is layered on the one in force: tiny ones over a large one pass, and undefine or add terms")
    func layeredContexts() {
        let large = (0..<3500).map { #""t\#($0)":"http://example.org/t/\#($0)""# }.joined(separator: ",")
        func document(_ items: String, count: Int) -> String {
            #"{"@context":{\#(large),"ex":"http://example.org/ns#"},"list":["# + Array(repeating: items, count: count).joined(separator: ",") + "]}"
        }
        // Each of these builds one term over the 100 KB context in force, not the whole of it again.
        for item in [#"{"@context":{"t1":null},"a":1}"#, #"{"@context":{},"a":1}"#, #"{"@context":{"o":"http://example.org/o"},"a":1}"#] {
            let text = document(item, count: 2000)
            #expect(Self.streamed(text, names: [Self.example]).outcome == .accepted(text, removed: 0), "\(item)")
        }
        // A layer's own terms, and those it leaves, expand as before; a term it undefines no longer expands.
        let layered = #"{"@context":{"ex":"http://example.org/ns#","s":"ex:secret"},"a":{"@context":{"x":"ex:secret","s":null},"x":1,"s":2,"ex:secret":3},"s":4}"#
        Self.expectLD(layered, .accepted(#"{"@context":{"ex":"http://example.org/ns#","s":"ex:secret"},"a":{"@context":{"x":"ex:secret","s":null},"s":2}}"#, removed: 3))
    }

    @Test("refuses what cannot be honoured: a remote context, @import, a scoped context, @reverse, a property-valued index, a late @context")
    func refusals() {
        Self.expectRefused(#"{"@context":"https://schema.org/","a":1}"#, "remote")
        Self.expectRefused(#"{"@context":[{"ex":"http://example.org/ns#"},"https://schema.org/"]}"#, "remote")
        Self.expectRefused(#"{"@context":"https://schema.org/"}"#, names: ["citizenship"], "remote")
        Self.expectRefused(#"{"@context":{"@import":"https://schema.org/"}}"#, "@import")
        Self.expectRefused(#"{"@context":{"t":{"@id":"http://example.org/ns#t","@context":{"ex":"http://example.org/ns#"}}}}"#, "scoped")
        Self.expectRefused(#"{"@context":{"t":{"@reverse":"http://example.org/ns#secret"}}}"#, "reverse")
        Self.expectRefused(#"{"@context":{"rev":"@reverse"}}"#, "reverse")
        // A property-valued index: each key of the map is a value of the redacted property.
        Self.expectRefused(
            #"{"@context":{"ex":"http://example.org/ns#","p":{"@id":"ex:p","@container":"@index","@index":"ex:secret"}},"p":{"MX":{"a":1}}}"#,
            "property-valued index"
        )
        Self.expectRefused(#"{"a":1,"@context":{"ex":"http://example.org/ns#"},"ex:secret":1}"#, "after other members")
        Self.expectRefused(#"{"ex:secret":1,"@context":{}}"#, "after other members")
        Self.expectRefused(#"{"a":{"b":1,"@cont\u0065xt":null}}"#, names: ["citizenship"], "after other members")
        // A relative vocabulary (resolved against a base), and a context that stops propagating, change what keys
        // expand to in ways not followed here.
        Self.expectRefused(#"{"@context":{"@base":"http://example.org/","@vocab":""},"ns#secret":1}"#, "relative JSON-LD @vocab")
        Self.expectRefused(#"{"@context":{"@vocab":"ns#"},"secret":1}"#, "relative JSON-LD @vocab")
        // @vocab is expanded through the context it is defined over, not through its own context's terms.
        Self.expectRefused(##"{"@context":{"@base":"http://example.org/ns","#":"urn:x:","@vocab":"#"},"secret":1}"##, "relative JSON-LD @vocab")
        // A term named as itself has no IRI without a vocabulary.
        Self.expectRefused(#"{"@context":{"ex":"ex"},"ex:secret":1}"#, "as itself without @vocab")
        Self.expectRefused(#"{"@context":{"x":"http://example.org/ns#secret"},"p":{"@context":{"@propagate":false,"x":"urn:ok"},"q":{"x":1}}}"#, "@propagate")
        // A term defined through a long chain of others, or through itself.
        let chain = (0..<10).map { #""t\#($0)":"t\#($0 + 1)""# }.joined(separator: ",")
        Self.expectRefused(#"{"@context":{\#(chain),"t10":"http://example.org/ns#secret"},"t0":1}"#, "more than 8")
        Self.expectRefused(#"{"@context":{"a":"b","b":"a"},"a":1}"#, "in a cycle")
        // Inside a removed value nothing is read.
        Self.expectLD(
            #"{"citizenship":{"a":1,"@context":"https://schema.org/"},"b":2}"#, names: ["citizenship"],
            .accepted(#"{"b":2}"#, removed: 1)
        )
    }

    @Test("matches a compact key by its local name whatever its prefix, and an IRI key by its last part")
    func undefinedPrefixAndForeignIRIs() {
        Self.expectLD(
            #"{"nc:PersonCitizenship":"US","nc:PersonName":"x","other:PersonCitizenship":1}"#,
            .accepted(#"{"nc:PersonName":"x"}"#, removed: 2)
        )
        Self.expectLD(
            #"{"@context":{"other":"http://other.example/"},"other:PersonCitizenship":1,"other:secret":2,"nc:PersonCitizenship":3,"other:open":4}"#,
            .accepted(#"{"@context":{"other":"http://other.example/"},"other:open":4}"#, removed: 3)
        )
        Self.expectLD(
            #"{"http://example.org/ns#secret":1,"http://other.example/secret":2,"https://docs.oasis-open.org/niemopen/ns/model/niem-core/6.0/PersonCitizenship":3,"http://other.example/open":4}"#,
            .accepted(#"{"http://other.example/open":4}"#, removed: 3)
        )
    }

    @Test("finds a key's colon at any position, also where the key ends the piece")
    func colonsAtEveryPosition() {
        for length in 0..<20 {
            let prefix = String(repeating: "p", count: length)
            for key in ["\(prefix):secret", "\(prefix)secret", "\(prefix):secretX", "é\(prefix):secret"] {
                // A key without a colon is in no namespace: matched by its local name, as is an undefined prefix's.
                let expected: Outcome = key.hasSuffix(":secret") || key == "secret"
                    ? .accepted(#"{"a":1}"#, removed: 1) : .accepted(#"{"a":1,"\#(key)":2}"#, removed: 0)
                let text = #"{"a":1,"\#(key)":2}"#
                Self.expectLD(text, expected)
                // Split right after the key's closing quote, and inside it.
                let quote = text.utf8.count - 3
                for split in [quote, quote - 1, 9] {
                    #expect(Self.streamed(text, names: [Self.example], pieces: [split]).outcome == expected, "\(key) split at \(split)")
                }
            }
        }
    }

    @Test("removes NIEM JSON's nc:PersonCitizenship, wherever it is")
    func niemJSON() {
        let document = """
        {
          "@context": {
            "nc": "https://docs.oasis-open.org/niemopen/ns/model/niem-core/6.0/",
            "j": "https://docs.oasis-open.org/niemopen/ns/model/domains/justice/6.0/"
          },
          "nc:Person": {
            "nc:PersonName": {"nc:PersonGivenName": "Ana", "nc:PersonSurName": "Morales"},
            "nc:PersonCitizenship": {"nc:CountryRepresentation": "MX"},
            "nc:PersonBirthDate": {"nc:Date": "1990-04-11"}
          },
          "j:Booking": {"j:BookingSubject": {"nc:PersonCitizenship": [{"nc:CountryRepresentation": "MX"}]}}
        }
        """
        Self.expectLD(
            document, names: [Self.citizenship],
            .accepted(
                #"{"@context":{"nc":"https://docs.oasis-open.org/niemopen/ns/model/niem-core/6.0/","j":"https://docs.oasis-open.org/niemopen/ns/model/domains/justice/6.0/"},"#
                    + #""nc:Person":{"nc:PersonName":{"nc:PersonGivenName":"Ana","nc:PersonSurName":"Morales"},"nc:PersonBirthDate":{"nc:Date":"1990-04-11"}},"#
                    + #""j:Booking":{"j:BookingSubject":{}}}"#,
                removed: 2
            )
        )
    }

    @Test("matches among hundreds of qualified names, local names shared across releases, namespaces with and without a trailing delimiter")
    func manyQualifiedNames() {
        var names = (0..<40).flatMap { release in
            (0..<15).map { "{http://release.niem.gov/niem/domains/immigration/\(release).0/}PersonCitizenshipCode\($0)" }
        }
        names += ["{http://niem.gov/niem/niem-core/2.0}PersonCitizenship", "{urn:example:ns:}Secret", "citizenship"]
        let keys = [
            (#""c":{"@id":"http://release.niem.gov/niem/domains/immigration/39.0/PersonCitizenshipCode14"}"#, #""c""#, true),
            (#""im":"http://release.niem.gov/niem/domains/immigration/7.0/""#, #""im:PersonCitizenshipCode3""#, true),
            (#""im":"http://release.niem.gov/niem/domains/immigration/7.0/""#, #""im:PersonCitizenshipCode15""#, false),
            (#""nc":"http://niem.gov/niem/niem-core/2.0#""#, #""nc:PersonCitizenship""#, true),
            (#""nc":"http://niem.gov/niem/niem-core/2.0""#, #""nc:PersonCitizenship""#, true),
            // By its local name, whatever namespace the prefix names.
            (#""nc":"http://niem.gov/niem/niem-core/2.0/""#, #""nc:PersonCitizenship""#, true),
            (#""nc":"http://niem.gov/niem/niem-core/2.0/""#, #""nc:PersonCitizenshipX""#, false),
            (#""@vocab":"urn:example:ns:""#, #""Secret""#, true),
            (#""@vocab":"urn:example:ns:""#, #""secret""#, true),
            (#""@vocab":"urn:example:ns:""#, #""secrets""#, false),
            (#""x":"urn:other:""#, #""urn:example:ns:Secret""#, true),
            (#""x":"urn:other:""#, #""y:PersonCitizenshipCode0""#, true),
        ]
        for (definition, key, removed) in keys {
            let document = #"{"@context":{\#(definition)},\#(key):1,"keep":2}"#
            let expected: Outcome = removed
                ? .accepted(#"{"@context":{\#(definition)},"keep":2}"#, removed: 1)
                : .accepted(#"{"@context":{\#(definition)},\#(key):1,"keep":2}"#, removed: 0)
            Self.expectLD(document, names: names, expected)
        }
    }

    @Test("keeps the rest of the @context while plain field names match keys, and its terms, as always")
    func plainNamesBesideJSONLD() {
        Self.expectLD(
            #"{"@context":{"secret":"http://example.org/ns#secret","Citizenship":"http://other.example/c"},"Citizenship":1,"secret":2,"k":3}"#,
            names: ["citizenship"],
            .accepted(#"{"@context":{"secret":"http://example.org/ns#secret"},"secret":2,"k":3}"#, removed: 2)
        )
    }
}

/// Random JSON documents for the differential tests: objects, or arrays of objects, with random whitespace; keys that
/// are redacted names in other cases, escaped, or not ASCII.
enum StreamingDocuments {
    static let longName = String(repeating: "long", count: 18)
    static let keys = [
        "a", "status", "housingUnit", "citizenship", "CitizenShip", #"citi\u007aenship"#, "countryOfBirth", "immigrationStatus",
        "immigrationStatusX", #"q\"uote"#, "\u{212A}IND", #"\u212aIND"#, "kind", "kínd", "CIUDADANÍA", #"CIUDADAN\u00cdA"#,
        "ciudadani\u{301}a", "@id", "ex:secret", "", "😀", longName, longName.uppercased(), longName + "x", "12345678", "citizenshi",
    ]
    static let atoms = [
        "0", "-0", "7", "-12.5e3", "1E+2", "0.000001", "123456789012345678901234567890", "true", "false", "null", #""""#,
        #""plain""#, #""a string longer than eight bytes, quite a bit longer in fact""#, #""tab\tand \"quotes\" and \\ slash\/""#,
        #""é and ü, € and 😀, in UTF-8""#, #""\u00e9\ud83d\ude00\uD83D\uDE00""#, #""12345678\"9""#, #""\b\f\n\r\t""#,
    ]
    /// Nesting at and around the depth limit of 128.
    static let deep: [String] = [126, 127, 128, 129].flatMap { (depth: Int) -> [String] in
        func nest(_ open: String, _ inner: String, _ close: String) -> String {
            String(repeating: open, count: depth) + inner + String(repeating: close, count: depth)
        }
        let array: String = nest("[", "1", "]")
        return [nest(#"{"a":"#, "1", "}"), nest(#"{"citizenship":"#, "{}", "}"), nest("[", "{}", "]"), nest("[", "", "]"), #"{"a":"# + array + "}"]
    }

    static func document(using random: inout SplitMix64) -> String {
        if random.next(below: 4) == 0 {
            return space(&random) + "[" + (0..<random.next(below: 4)).map { _ in
                random.next(below: 5) == 0 ? space(&random) + "[" + object(depth: 1, using: &random) + "]" + space(&random) : object(depth: 1, using: &random)
            }.joined(separator: ",") + "]" + space(&random)
        }
        return object(depth: 0, using: &random)
    }

    static func space(_ random: inout SplitMix64) -> String {
        ["", "", "", " ", "\n", "\t", "\r\n  "][random.next(below: 7)]
    }

    static func object(depth: Int, using random: inout SplitMix64) -> String {
        space(&random) + "{" + (0..<random.next(below: 6)).map { _ in
            space(&random) + "\"" + keys[random.next(below: keys.count)] + "\"" + space(&random) + ":" + value(depth: depth + 1, using: &random)
        }.joined(separator: ",") + space(&random) + "}" + space(&random)
    }

    static func value(depth: Int, using random: inout SplitMix64) -> String {
        switch depth < 5 ? random.next(below: 4) : 3 {
        case 0: return object(depth: depth, using: &random)
        case 1:
            return space(&random) + "[" + (0..<random.next(below: 4)).map { _ in value(depth: depth + 1, using: &random) }.joined(separator: ",") + "]" + space(&random)
        default:
            return space(&random) + atoms[random.next(below: atoms.count)] + space(&random)
        }
    }

    static let interesting: [UInt8] = Array(#""\{}[],: 01-+.eEuDdtnl8"#.utf8) + [0x00, 0x01, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xa9, 0xe0, 0xed, 0xa0, 0xf0, 0xf4, 0x90, 0xff]

    /// Breaks (or, by chance, keeps valid) a document: a byte replaced, removed or inserted, the end cut off, or a
    /// slice repeated.
    static func mutate(_ bytes: inout [UInt8], using random: inout SplitMix64) {
        guard !bytes.isEmpty else { return }
        let position = random.next(below: bytes.count)
        switch random.next(below: 5) {
        case 0: bytes[position] = interesting[random.next(below: interesting.count)]
        case 1: bytes.remove(at: position)
        case 2: bytes.insert(interesting[random.next(below: interesting.count)], at: position)
        case 3: bytes.removeSubrange(position...)
        default:
            let end = min(bytes.count, position + 1 + random.next(below: 12))
            bytes.insert(contentsOf: bytes[position..<end], at: position)
        }
    }
}
