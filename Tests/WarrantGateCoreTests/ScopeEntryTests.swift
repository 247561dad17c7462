import Foundation
import Testing
import WarrantGateCore

/// A document's scope: actions it covers, each optionally limited to one top-level field (`action#field`).
@Suite("Document scope entries")
struct ScopeEntryTests {
    @Test("an entry splits at its first '#': the action before it, the field every byte after it")
    func split() {
        #expect(Self.parts("records.release-date#scheduledRelease") == Self.Parts(action: "records.release-date", field: "scheduledRelease"))
        #expect(Self.parts("records.*") == Self.Parts(action: "records.*", field: nil))
        #expect(Self.parts("records.read#a#b") == Self.Parts(action: "records.read", field: "a#b"))
        // A combining mark after '#' belongs to the field, as typed; it names no field a record has.
        #expect(Self.parts("records.*#\u{301}dob") == Self.Parts(action: "records.*", field: "\u{301}dob"))
    }

    @Test("valid entries: an action pattern, and a field of 1 to 128 characters without spaces or '#'")
    func validity() {
        for entry in ["records.read", "records.*", "*", "records.release-date#scheduledRelease"] { #expect(ScopeEntry(entry).isValid, "\(entry)") }
        for entry in ["", "#x", "records.read#", "records.read#a b", "records.read#a#b", "Records.Read", "records.read#" + String(repeating: "x", count: 129)] {
            #expect(!ScopeEntry(entry).isValid, "\(entry)")
        }
    }

    @Test("the fields a document releases for an action: nil when an entry covers the whole action, lower-cased otherwise")
    func fields() {
        let limited = document(scope: ["records.release-date#scheduledRelease", "records.release-date#Facility", "visits.*"])
        #expect(limited.fields(for: "records.release-date") == ["scheduledrelease", "facility"])
        #expect(limited.fields(for: "visits.schedule") == nil)
        #expect(limited.fields(for: "records.read") == [])
        #expect(limited.covers(action: "records.release-date") && limited.covers(action: "visits.schedule") && !limited.covers(action: "records.read"))
        #expect(document(scope: ["records.*", "records.release-date#scheduledRelease"]).fields(for: "records.release-date") == nil)
    }

    private struct Parts: Equatable {
        let action: String
        let field: String?
    }

    private static func parts(_ text: String) -> Parts {
        let entry = ScopeEntry(text)
        return Parts(action: entry.action, field: entry.field)
    }

    private func document(scope: [String]) -> RegisteredDocument {
        RegisteredDocument(
            reference: "JW-1", kind: .judicialWarrant, status: .active, agency: "ice-ero", subjects: ["2017-000123"], scope: scope,
            expires: "2026-12-31", expiresAt: Date(timeIntervalSince1970: 1_798_675_200)
        )
    }
}
