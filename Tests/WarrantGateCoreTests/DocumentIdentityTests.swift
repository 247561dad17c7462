import Crypto
import Foundation
import Testing
import WarrantGateTestSupport
@testable import WarrantGateCore

@Suite("Document identity: what a scan's first signature signed")
struct DocumentIdentityTests {
    /// A red-team pass: a quashed warrant's signed PDF came back as a new registration with a newline appended (its
    /// signature still verified), since the registry compared the files' digests.
    @Test("copies a signature still verifies share the original's identity: whitespace, validation data, a countersignature, hex case")
    func copiesOfOneDocument() async throws {
        let setup = try DocumentSignatureTests.Setup()
        defer { setup.scratch.remove() }
        let judge = try setup.clerk(.ec)
        let pdf = try TestPDF.signed { try judge.cmsSignature(over: $0) }
        let identity = DocumentIdentity.digest(of: pdf)
        #expect(identity != Hex.encode(SHA256.hash(data: pdf)), "a signed PDF is known by what was signed, not by its bytes")

        let contents = try #require(TestPDF.find("/Contents <", in: pdf)) + "/Contents <".utf8.count
        var lowerCase = pdf
        for index in contents..<contents + 2 * TestPDF.placeholderBytes where (65...70).contains(lowerCase[index]) { lowerCase[index] += 32 }
        let validationData = try TestPDF.appendUpdate(
            to: pdf,
            objects: [(1, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> /DSS 7 0 R >>"), (7, "<< /Type /DSS >>")],
            size: 8
        )
        let countersigned = try TestPDF.sealed(try TestPDF.appendingSecondSignature(to: pdf)) { try setup.clerk(.rsa).cmsSignature(over: $0) }
        let copies: [(String, [UInt8])] = [
            ("a newline", pdf + [0x0A]), ("32 bytes of whitespace", pdf + Array(repeating: 0x20, count: 31) + [0x0A]),
            ("the signature's hex in lower case", lowerCase), ("validation data", validationData),
            ("a countersignature", countersigned), ("a countersignature and a newline", countersigned + [0x0D, 0x0A]),
        ]
        for (change, copy) in copies {
            #expect(copy != pdf, "\(change)")
            let status = await setup.verifier.verify(document: copy)
            guard case .verified = status else { Issue.record("\(change): \(status)"); continue }
            #expect(DocumentIdentity.digest(of: copy) == identity, "\(change)")
        }
    }

    @Test("another signed document, an unsigned scan and a PDF changed after signing are known by their bytes or their own signature")
    func otherDocuments() async throws {
        let setup = try DocumentSignatureTests.Setup()
        defer { setup.scratch.remove() }
        let judge = try setup.clerk(.ec)
        let pdf = try TestPDF.signed { try judge.cmsSignature(over: $0) }
        let renewed = try TestPDF.signed(text: "WARRANT, RENEWED") { try judge.cmsSignature(over: $0) }
        #expect(DocumentIdentity.digest(of: renewed) != DocumentIdentity.digest(of: pdf))
        for scan in [try TestPDF.unsigned(), Array("a scanned warrant, not a PDF".utf8), pdf + Array("BT (appended) Tj ET\n".utf8)] {
            #expect(DocumentIdentity.digest(of: scan) == Hex.encode(SHA256.hash(data: scan)))
        }
    }
}
