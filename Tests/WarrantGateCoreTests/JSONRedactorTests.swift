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

    @Test("handles first, last and only members")
    func separators() throws {
        #expect(try redact(#"{"citizenship":1}"#).0 == "{}")
        #expect(try redact(#"{"citizenship":1,"a":2}"#).0 == #"{"a":2}"#)
        #expect(try redact(#"{"a":2,"citizenship":1}"#).0 == #"{"a":2}"#)
        #expect(try redact(#" [ ] "#).0 == "[]")
    }

    @Test("refuses what is not valid JSON", arguments: [
        "", "{", #"{"a":}"#, #"{"a":1,}"#, "[1,]", "nul", "01", "1.", #""\x""#, "{\"a\":\"\u{01}\"}", #"{"a":1} x"#,
        #""\ud800""#, String(repeating: "[", count: 200) + String(repeating: "]", count: 200),
    ])
    func refusesInvalid(text: String) {
        #expect(throws: JSONError.self) { try redactor.redact(Array(text.utf8)) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONError.self) { try redactor.redact([0x22, 0xc0, 0xae, 0x22]) }
    }
}
