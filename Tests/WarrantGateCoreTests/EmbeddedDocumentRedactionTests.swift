import Testing
@testable import WarrantGateCore

/// A record that a records system returns serialized into a string (a JSON document in a JSON string, or in XML
/// text, as ASMX and ASP.NET services return their `…Result` or `d`): a client parses the string too, and the
/// redactor cannot remove what is inside it, so a redacted field's key there refuses the response.
@Suite("Documents serialized into strings")
struct EmbeddedDocumentRedactionTests {
    static let names = ["citizenship", "alienNumber"]

    static func outcome(_ document: String, _ type: RedactableMediaType) -> AllowListRedactionTests.Outcome {
        let redactor = ResponseRedactor(names: names)
        return AllowListRedactionTests.run(redactor, type, Array(document.utf8), pieceSize: nil)
    }

    /// An attacker's re-pass: `{"d":"{\"citizenship\":\"MX\"}"}` and `<GetBookingResult>{"citizenship":"MX"}…` passed.
    @Test("a JSON key naming a redacted field, inside a JSON string or XML text, refuses the response", arguments: [
        (#"{"d":"{\"bookingNumber\":\"2017-000456\",\"citizenship\":\"MX\"}"}"#, RedactableMediaType.json),
        (#"{"d":"{\"Alien_Number\" : \"A123\"}"}"#, .json),
        (#"<GetBookingResult>{"bookingNumber":"2017-000456","citizenship":"MX"}</GetBookingResult>"#, .xml),
        (#"<r>{ "alienNumber" : "A123" }</r>"#, .xml),
    ])
    func refused(document: String, type: RedactableMediaType) {
        #expect(Self.outcome(document, type) == .refused(.refused), "\(document)")
    }

    @Test("quotes in prose, and serialized documents without such a key, pass unchanged", arguments: [
        (#"{"note":"He said \"yes\": fine"}"#, RedactableMediaType.json),
        (#"{"d":"{\"bookingNumber\":\"2017-000456\"}"}"#, .json),
        (#"<r>He said "citizenship" twice.</r>"#, .xml),
        (#"<r>{"bookingNumber":"2017-000456"}</r>"#, .xml),
    ])
    func kept(document: String, type: RedactableMediaType) {
        #expect(Self.outcome(document, type) == .kept(document), "\(document)")
    }
}
