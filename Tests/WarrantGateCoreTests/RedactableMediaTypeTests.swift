import Testing
import WarrantGateCore

/// Which `Content-Type` values the gateway can redact: anything else is withheld on a redacted route.
@Suite("Redactable media types")
struct RedactableMediaTypeTests {
    @Test("JSON and XML types, in any case, with white space and a UTF-8 or US-ASCII charset", arguments: [
        ("application/json", RedactableMediaType.json), ("APPLICATION/JSON", .json), (" application/ld+json\t", .json),
        ("application/vnd.niem+json; charset=utf-8", .json), ("application/json;charset=\"UTF-8\"", .json),
        ("application/json ; q=1 ; Charset = us-ascii", .json), ("application/xml", .xml), ("text/xml; charset=utf8", .xml),
        ("Text/XML", .xml), ("application/soap+xml; action=\"urn:x\"", .xml), ("application/json; profile=\"urn:a,urn:b\"", .json),
        ("application/json; p=\"a\\\",b\"", .json),
    ])
    func redactable(contentType: String, kind: RedactableMediaType) {
        #expect(RedactableMediaType(contentType: contentType) == kind)
    }

    @Test("other types, other charsets, malformed parameters and bytes outside ASCII are not", arguments: [
        "", "text/plain", "text/json", "application", "application/", "/json", "application/json/x", "application /json",
        "application/json; charset=latin1", "application/json; charset=\"utf-8", "application/json;", "application/json; =x",
        "application/json; x=", "application/json; charset", "application/jsön", "application/json; title=\"é\"",
        "multipart/related; type=\"application/xml\"",
        // Type and subtype are tokens: a space inside is no JSON type (PHP reads up to it); a charset is one parameter.
        "application/x-www-form-urlencoded +json", "application/ json", "application/vnd x+json", "application/json; charset*=utf-16''x",
        "application/json; charset*0*=utf-16''x", "application/json; Charset*=utf-8''x", "application/json; char set=utf-16",
        // Two types in one field: a client may take either.
        "application/json, text/html", "application/json; v=1, text/html", "application/json; p=\"a\", text/html",
    ])
    func notRedactable(contentType: String) {
        #expect(RedactableMediaType(contentType: contentType) == nil)
    }

    @Test("an absent Content-Type is not")
    func absent() {
        #expect(RedactableMediaType(contentType: nil) == nil)
    }
}
