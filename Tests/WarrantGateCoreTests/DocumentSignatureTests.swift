import Foundation
import SwiftASN1
import Testing
import WarrantGateTestSupport
@_spi(CMS) import X509
@testable import WarrantGateCore

@Suite("Document signatures")
struct DocumentSignatureTests {
    static let document = Array("IN THE COUNTY COURT, CITY AND COUNTY OF DENVER. ARREST WARRANT. Case 26CR1234.\n".utf8)

    /// A listed court, a listed platform, and a CA nobody listed.
    struct Setup {
        let scratch: ScratchDirectory
        let court: TestCourtCA
        let platform: TestCourtCA
        let unlisted: TestCourtCA
        let verifier: DocumentSignatureVerifier

        init() throws {
            scratch = try ScratchDirectory()
            court = try TestCourtCA(name: "Denver County Court")
            platform = try TestCourtCA(name: "E-Sign Platform")
            unlisted = try TestCourtCA(name: "Denver County Court")
            verifier = DocumentSignatureVerifier(
                courts: CourtDirectory(courts: [
                    Court(id: "denver-county-court", name: "Denver County Court", kind: .court, signingAuthorities: [court.certificate]),
                    Court(
                        id: "denver-district-court-esign", name: "Denver District Court (e-sign)", kind: .platform,
                        signingAuthorities: [platform.certificate],
                        subjectPatterns: [SubjectPattern(attributes: ["O": "Denver District Court", "OU": "Criminal Division"])!]
                    ),
                ])
            )
        }

        func clerk(_ kind: TestCourtCA.KeyKind, of ca: TestCourtCA? = nil) throws -> TestSigner {
            try (ca ?? court).issue(commonName: "Clerk of Court", organization: "Denver County Court", key: kind, in: scratch)
        }
    }

    /// The signed one-page document's objects with the page's /Annots as array object 7, the form as object 8 with
    /// its /Fields as object 9 (/SigFlags 1), and, with `indirectKids`, the page tree's /Kids as object 10.
    static func arrayObjectDocument(indirectKids: Bool) -> [(Int, String)] {
        TestPDF.objects(text: "WARRANT", signed: true).map { number, body in
            var body = body.replacingOccurrences(of: "/Annots [5 0 R]", with: "/Annots 7 0 R")
                .replacingOccurrences(of: "/AcroForm << /Fields [5 0 R] /SigFlags 3 >>", with: "/AcroForm 8 0 R")
            if indirectKids { body = body.replacingOccurrences(of: "/Kids [3 0 R]", with: "/Kids 10 0 R") }
            return (number, body)
        } + [(7, "[5 0 R]"), (8, "<< /Fields 9 0 R /SigFlags 1 >>"), (9, "[5 0 R]")] + (indirectKids ? [(10, "[3 0 R]")] : [])
    }

    private func verifiedCourt(_ status: DocumentSignatureStatus) -> String? {
        if case .verified(let signature) = status { signature.court.id } else { nil }
    }

    private func reason(_ status: DocumentSignatureStatus) -> String {
        switch status {
        case .unverified(let reason, _), .invalid(let reason): reason
        case .verified, .unsigned: ""
        }
    }

    // MARK: Detached signatures

    /// A review's finding: a /SubFilter name may spell a NUL as #00, and the reason quoting it was stored cut short.
    @Test("a reason the scan's bytes choose is recorded with its control characters written <U+XXXX>")
    func recordedReasonEscaped() throws {
        let recorded = try #require(RecordedSignature(.unverified(reason: "signature format /SubFilter /x\u{0}y\u{1B}[2K is not supported", signer: nil), checkedAt: Date()))
        #expect(recorded.reason == "signature format /SubFilter /x<U+0000>y<U+001B>[2K is not supported")
    }

    @Test("a detached signature from a listed court verifies, RSA and EC, by swift-certificates and by openssl cms")
    func detachedVerified() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        for kind in [TestCourtCA.KeyKind.rsa, .ec] {
            let clerk = try setup.clerk(kind)
            let made = try clerk.cmsSignature(over: Self.document)
            let status = await setup.verifier.verify(document: Self.document, detachedSignature: made)
            #expect(verifiedCourt(status) == "denver-county-court", "\(kind) swift-certificates: \(status)")
            #expect(status.description == "verified")
            if case .verified(let signature) = status {
                #expect(signature.signer.subject.contains("CN=Clerk of Court"))
                #expect(signature.signingTime.claimed != nil)
                #expect(signature.signingTime.proven == nil)
            }
            let opensslMade = try clerk.opensslSignature(over: Self.document, in: setup.scratch)
            let opensslStatus = await setup.verifier.verify(document: Self.document, detachedSignature: opensslMade)
            #expect(verifiedCourt(opensslStatus) == "denver-county-court", "\(kind) openssl: \(opensslStatus)")
        }
    }

    @Test("openssl writes rsaEncryption as the signature algorithm; it is normalised, not refused")
    func rsaEncryptionNormalised() throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let signature = try setup.clerk(.rsa).opensslSignature(over: Self.document, in: setup.scratch)
        let message = try CMSSignedMessage(berEncoded: signature[...])
        #expect(message.signers.first?.signatureAlgorithm == SignatureAlgorithmNormalisation.rsaEncryption)
    }

    @Test("a signature without signed attributes verifies over the content itself")
    func withoutSignedAttributes() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let signature = try setup.clerk(.ec).cmsSignature(over: Self.document, signingTime: nil)
        let status = await setup.verifier.verify(document: Self.document, detachedSignature: signature)
        #expect(verifiedCourt(status) == "denver-county-court", "\(status)")
        let other = await setup.verifier.verify(document: Self.document + [0x20], detachedSignature: signature)
        #expect(other.refusesRegistration)
    }

    @Test("an unlisted CA, an expired signer, RSA-PSS: unverified, with the reason and the signer")
    func unverified() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let stranger = try setup.clerk(.ec, of: setup.unlisted).cmsSignature(over: Self.document)
        let strangerStatus = await setup.verifier.verify(document: Self.document, detachedSignature: stranger)
        #expect(strangerStatus.label == "unverified")
        #expect(reason(strangerStatus).contains("does not chain to a court listed"), "\(strangerStatus)")
        #expect(strangerStatus.signer?.subject.contains("Clerk of Court") == true)

        let expiredClerk = try setup.court.issue(
            commonName: "Former Clerk", organization: "Denver County Court", key: .ec, in: setup.scratch,
            notBefore: Date().addingTimeInterval(-400 * 86400), notAfter: Date().addingTimeInterval(-30 * 86400)
        )
        let expired = try expiredClerk.cmsSignature(over: Self.document, signingTime: Date().addingTimeInterval(-60 * 86400))
        let expiredStatus = await setup.verifier.verify(document: Self.document, detachedSignature: expired)
        #expect(expiredStatus.label == "unverified")
        #expect(reason(expiredStatus).contains("expired"), "\(expiredStatus)")

        let pss = try setup.clerk(.rsa).opensslSignature(
            over: Self.document, in: setup.scratch, extraArguments: ["-keyopt", "rsa_padding_mode:pss"]
        )
        let pssStatus = await setup.verifier.verify(document: Self.document, detachedSignature: pss)
        #expect(pssStatus.label == "unverified")
        #expect(reason(pssStatus).contains("RSASSA-PSS"), "\(pssStatus)")
    }

    @Test("a signer without a document-signing usage is unverified")
    func wrongUsage() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let tlsClient = try setup.court.issue(
            commonName: "Clerk of Court", organization: "Denver County Court", key: .ec, in: setup.scratch, extendedKeyUsage: [.clientAuth]
        )
        let status = await setup.verifier.verify(document: Self.document, detachedSignature: try tlsClient.cmsSignature(over: Self.document))
        #expect(status.label == "unverified")
        #expect(reason(status).contains("extended key usage"), "\(status)")
    }

    @Test("a platform's signer counts only with a subject that identifies the court")
    func platformSubjects() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let otherCustomer = try setup.platform.issue(
            commonName: "E-Sign Signer", organization: "Some Other County", unit: "Criminal Division", key: .ec, in: setup.scratch
        )
        let status = await setup.verifier.verify(document: Self.document, detachedSignature: try otherCustomer.cmsSignature(over: Self.document))
        #expect(status.label == "unverified")
        #expect(reason(status).contains("subject patterns"), "\(status)")

        let court = try setup.platform.issue(
            commonName: "E-Sign Signer", organization: "Denver District Court", unit: "Criminal Division", key: .rsa, in: setup.scratch
        )
        let verified = await setup.verifier.verify(document: Self.document, detachedSignature: try court.opensslSignature(over: Self.document, in: setup.scratch))
        #expect(verifiedCourt(verified) == "denver-district-court-esign", "\(verified)")
    }

    @Test("tampered bytes, another document, malformed CMS: invalid")
    func invalid() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let signature = try clerk.cmsSignature(over: Self.document)
        var tampered = Self.document
        tampered[10] ^= 0x01
        let tamperedStatus = await setup.verifier.verify(document: tampered, detachedSignature: signature)
        #expect(tamperedStatus.refusesRegistration)
        #expect(reason(tamperedStatus).contains("does not match the signature"), "\(tamperedStatus)")

        let otherSignature = try clerk.opensslSignature(over: Array("another warrant".utf8), in: setup.scratch)
        let otherStatus = await setup.verifier.verify(document: Self.document, detachedSignature: otherSignature)
        #expect(otherStatus.refusesRegistration, "\(otherStatus)")

        for malformed in [Array("not a signature".utf8), Array(signature.prefix(signature.count / 2)), [0x30, 0x03, 0x02, 0x01, 0x01]] {
            let status = await setup.verifier.verify(document: Self.document, detachedSignature: malformed)
            #expect(status.refusesRegistration)
            #expect(reason(status).hasPrefix("malformed CMS signature"), "\(status)")
        }

        // A signature value altered inside an otherwise well-formed structure.
        var flipped = signature
        flipped[flipped.count - 5] ^= 0x01
        let flippedStatus = await setup.verifier.verify(document: Self.document, detachedSignature: flipped)
        #expect(flippedStatus.refusesRegistration, "\(flippedStatus)")
    }

    @Test("a PEM-armoured .p7s is accepted")
    func pemArmour() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let der = try setup.clerk(.ec).cmsSignature(over: Self.document)
        let pem = Array(PEMDocument(type: "PKCS7", derBytes: der).pemString.utf8)
        let status = await setup.verifier.verify(document: Self.document, detachedSignature: pem)
        #expect(status.label == "verified", "\(status)")
    }

    @Test("a file that is not a PDF, without a detached signature, is unsigned")
    func unsignedFile() async throws {
        let status = await DocumentSignatureVerifier(courts: .empty).verify(document: Self.document)
        #expect(status == .unsigned)
        #expect(status.description == "unsigned")
    }

    // MARK: PDF

    @Test("a signed PDF from a listed court verifies, RSA and EC; an unsigned PDF is unsigned")
    func pdfVerified() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        for kind in [TestCourtCA.KeyKind.rsa, .ec] {
            let clerk = try setup.clerk(kind)
            let pdf = try TestPDF.signed { try clerk.cmsSignature(over: $0) }
            let status = await setup.verifier.verify(document: pdf)
            #expect(verifiedCourt(status) == "denver-county-court", "\(kind): \(status)")
            let opensslPDF = try TestPDF.signed { try clerk.opensslSignature(over: $0, in: setup.scratch) }
            let opensslStatus = await setup.verifier.verify(document: opensslPDF)
            #expect(verifiedCourt(opensslStatus) == "denver-county-court", "\(kind) openssl: \(opensslStatus)")
        }
        #expect(await setup.verifier.verify(document: try TestPDF.unsigned()) == .unsigned)
    }

    @Test("a PDF signed by an unlisted CA is unverified")
    func pdfUnlisted() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let stranger = try setup.clerk(.ec, of: setup.unlisted)
        let status = await setup.verifier.verify(document: try TestPDF.signed { try stranger.cmsSignature(over: $0) })
        #expect(status.label == "unverified", "\(status)")
    }

    @Test("a tampered byte inside the signed range, or another document's signature: invalid")
    func pdfTampered() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let pdf = try TestPDF.signed { try clerk.cmsSignature(over: $0) }
        var tampered = pdf
        let text = try #require(TestPDF.find("(WARRANT)", in: tampered))
        tampered[text + 1] = UInt8(ascii: "V")
        let status = await setup.verifier.verify(document: tampered)
        #expect(status.refusesRegistration)
        #expect(reason(status).contains("does not match the signature"), "\(status)")

        let otherSignature = try clerk.cmsSignature(over: Array("another document".utf8))
        let transplanted = try TestPDF.signed { _ in otherSignature }
        #expect(await setup.verifier.verify(document: transplanted).refusesRegistration)
    }

    @Test("an appended update that changes content, or adds an annotation: invalid, modified after signing")
    func pdfModifiedAfterSigning() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let pdf = try TestPDF.signed { try clerk.cmsSignature(over: $0) }
        let content = "BT /F1 12 Tf 72 720 Td (RELEASE) Tj ET"
        let changed = try TestPDF.appendUpdate(to: pdf, objects: [(4, "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream")], size: 7)
        let status = await setup.verifier.verify(document: changed)
        #expect(status.refusesRegistration)
        #expect(reason(status).contains("modified after signing"), "\(status)")

        let annotated = try TestPDF.appendUpdate(
            to: pdf,
            objects: [
                (3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots [5 0 R 7 0 R] >>"),
                (7, "<< /Type /Annot /Subtype /FreeText /Rect [72 600 300 700] /Contents (RELEASED) >>"),
            ],
            size: 8
        )
        let annotatedStatus = await setup.verifier.verify(document: annotated)
        #expect(reason(annotatedStatus).contains("modified after signing"), "\(annotatedStatus)")

        let newAnnotation = try TestPDF.appendUpdate(to: pdf, objects: [(7, "<< /Type /Annot /Subtype /FreeText /Contents (X) >>")], size: 8)
        #expect(await setup.verifier.verify(document: newAnnotation).refusesRegistration)

        var junk = pdf
        junk += Array("BT (appended) Tj ET\n".utf8)
        let junkStatus = await setup.verifier.verify(document: junk)
        #expect(reason(junkStatus).contains("modified after signing"), "\(junkStatus)")
    }

    @Test("an appended update that only adds a DSS with validation data keeps the signature verified")
    func pdfDSSUpdate() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.rsa)
        let pdf = try TestPDF.signed { try clerk.cmsSignature(over: $0) }
        let certificate = clerk.certificatePEM
        let updated = try TestPDF.appendUpdate(
            to: pdf,
            objects: [
                (1, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> /DSS 8 0 R >>"),
                (7, "<< /Length \(certificate.utf8.count) >>\nstream\n\(certificate)\nendstream"),
                (8, "<< /Type /DSS /Certs [7 0 R] /VRI 9 0 R >>"),
                (9, "<< /\(String(repeating: "AB", count: 20)) 10 0 R >>"),
                (10, "<< /Type /VRI /Cert [7 0 R] >>"),
            ],
            size: 11
        )
        let status = await setup.verifier.verify(document: updated)
        #expect(verifiedCourt(status) == "denver-county-court", "\(status)")

        let catalogChanged = try TestPDF.appendUpdate(
            to: pdf, objects: [(1, "<< /Type /Catalog /Pages 2 0 R /OpenAction 2 0 R /DSS 8 0 R >>"), (8, "<< /Type /DSS >>")], size: 9
        )
        let catalogStatus = await setup.verifier.verify(document: catalogChanged)
        #expect(reason(catalogStatus).contains("catalog"), "\(catalogStatus)")
    }

    @Test("an update after signing hidden in comments, or filling an object the signed page refers to: modified after signing")
    func pdfHiddenUpdates() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let content = "BT /F1 12 Tf 72 720 Td (RELEASE GRANTED) Tj ET"
        let stream = "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream"
        let dss: [(Int, String)] = [(1, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> /DSS 8 0 R >>"), (8, "<< /Type /DSS /Certs [7 0 R] >>")]

        // A reader searching backwards for `startxref` finds the one in the comment, and shows its revision.
        let pdf = try TestPDF.signed { try clerk.cmsSignature(over: $0) }
        let commented = pdf + Array("%7 0 obj << /Length 1 >> stream\n%xref 7 1 0000000000 00000 n trailer << /Size 8 >> startxref \(pdf.count) %%EOF\n".utf8)
        #expect(reason(await setup.verifier.verify(document: commented)).contains("comment was appended"))
        let inside = try TestPDF.appendUpdate(to: pdf, objects: [(7, stream)] + dss.map { ($0.0, $0.1.replacingOccurrences(of: "/Certs", with: "%hidden\n/Certs")) }, size: 9)
        #expect(reason(await setup.verifier.verify(document: inside)).contains("modified after signing"))

        // The signed page lists a second content stream that the signed revision never defines, even with comments
        // between the reference's tokens.
        // Lenient readers (PDFium) take any word of signs, dots and digits as a number, and parse into 32 bits.
        for contents in [
            "[4 0 R 7 0 R]", "[4 0 R 7 %c\n 0 %c\r R]", "[4 0 R 007 0 R]", "[4 0 R +7 0 R]", "[4 0 R 7.0 0 R]", "[4 0 R 0000000000000000007 0 R]",
            "[4 0 R 7 00000000000 R]", "[4 0 R 7 +0 R]", "[4 0 R 7 0.0 R]", "[4 0 R 4294967303 0 R]",
        ] {
            let dangling = try TestPDF.signed(contents: contents) { try clerk.cmsSignature(over: $0) }
            #expect(verifiedCourt(await setup.verifier.verify(document: dangling)) == "denver-county-court")
            let filled = try TestPDF.appendUpdate(to: dangling, objects: [(7, stream)] + dss, size: 9)
            let status = await setup.verifier.verify(document: filled)
            #expect(reason(status).contains("object 7, which the signed revision refers to but does not define"), "\(contents): \(status)")
        }

        // A name spelling an object stream that the signed cross-reference does not list could be one that refers
        // to object 7 unseen: unverified (the document is registered as such), not broken.
        let compressed = try TestPDF.signed(contents: "4 0 R /PieceInfo << /X /ObjSt#6D >>") { try clerk.cmsSignature(over: $0) }
        let compressedStatus = await setup.verifier.verify(document: try TestPDF.appendUpdate(to: compressed, objects: [(7, stream)] + dss, size: 9))
        guard case .unverified(let why, let signer?) = compressedStatus else { Issue.record("\(compressedStatus)"); return }
        #expect(why.contains("object stream its cross-reference does not list") && why.contains("cannot be verified"), "\(why)")
        #expect(signer.subject.contains("CN=Clerk of Court"), "the intact signature's signer is named: \(signer.subject)")
        // An appended object stream is read, and what it holds is checked like any appended object; one that holds
        // its own number defines that object twice.
        /// An uncompressed object stream holding one object.
        func objectStreamHolding(_ number: Int, _ body: String, encoding: String = "") -> String {
            let data = "\(number) 0 \(body)"
            return "<< /Type /ObjStm /N 1 /First \("\(number) 0 ".utf8.count)\(encoding) /Length \(data.utf8.count) >>\nstream\n\(data)\nendstream"
        }
        let objectStream = objectStreamHolding(10, "<< /Type /DSS >>")
        let appendedStream = await setup.verifier.verify(document: try TestPDF.appendUpdate(to: pdf, objects: [(7, objectStream)] + dss, size: 11))
        #expect(verifiedCourt(appendedStream) == "denver-county-court", "\(appendedStream)")
        let selfHolding = objectStreamHolding(7, "<< /Type /DSS >>")
        let twice = await setup.verifier.verify(document: try TestPDF.appendUpdate(to: pdf, objects: [(7, selfHolding)] + dss, size: 9))
        #expect(reason(twice).contains("defines object 7 twice"), "\(twice)")
        let pageInStream = objectStreamHolding(3, "<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>")
        let hiddenPage = await setup.verifier.verify(document: try TestPDF.appendUpdate(to: pdf, objects: [(7, pageInStream)] + dss, size: 9))
        #expect(reason(hiddenPage).contains("object 3, which the signed revision defines, was redefined"), "\(hiddenPage)")
        // What can be read is still checked, beside what cannot: a changed page is a modification, and so is a
        // broken signature.
        let changedPage = try TestPDF.appendUpdate(to: pdf, objects: [(4, stream), (7, objectStream)] + dss, size: 11)
        #expect(reason(await setup.verifier.verify(document: changedPage)).contains("object 4, which the signed revision defines, was redefined"))
        let pageAsStream = try TestPDF.appendUpdate(to: pdf, objects: [(4, objectStream)] + dss, size: 11)
        #expect(reason(await setup.verifier.verify(document: pageAsStream)).contains("object 4, which the signed revision defines, was redefined as a compressed stream"))
        let unreadableStream = objectStreamHolding(10, "<< /Type /DSS >>", encoding: " /Filter /LZWDecode")
        var broken = try TestPDF.appendUpdate(to: pdf, objects: [(7, unreadableStream)] + dss, size: 11)
        let unreadableStatus = await setup.verifier.verify(document: broken)
        guard case .unverified(let unreadableWhy, _?) = unreadableStatus else { Issue.record("\(unreadableStatus)"); return }
        #expect(unreadableWhy.contains("/LZWDecode, which is not supported"), "\(unreadableWhy)")
        let signedText = try #require(TestPDF.find("(WARRANT)", in: broken))
        broken[signedText + 7] = UInt8(ascii: "X")
        let brokenStatus = await setup.verifier.verify(document: broken)
        guard case .invalid = brokenStatus else { Issue.record("a broken signature beside an object stream: \(brokenStatus)"); return }

        // PAdES-LT as PDF 1.5 writers append it: a signed revision with a cross-reference stream, then the DSS with
        // the catalog redefined, in a cross-reference stream too. Verified; a changed page in the same layout is
        // still a modification.
        let streamed = try TestPDF.signed(crossReference: .stream) { try clerk.cmsSignature(over: $0) }
        #expect(verifiedCourt(await setup.verifier.verify(document: streamed)) == "denver-county-court")
        // Object 7 is the signed revision's cross-reference stream.
        let streamedDSS = [dss[0], (8, "<< /Type /DSS /Certs [9 0 R] >>"), (9, stream)]
        let lt = try TestPDF.appendUpdate(to: streamed, objects: streamedDSS, size: 10, crossReference: .stream)
        let ltStatus = await setup.verifier.verify(document: lt)
        #expect(verifiedCourt(ltStatus) == "denver-county-court", "PAdES-LT with cross-reference streams: \(ltStatus)")
        let ltChanged = try TestPDF.appendUpdate(to: streamed, objects: streamedDSS + [(3, "<< /Type /Page /Parent 2 0 R >>")], size: 10, crossReference: .stream)
        #expect(reason(await setup.verifier.verify(document: ltChanged)).contains("object 3, which the signed revision defines, was redefined"))

        // The same validation data after a signed revision that refers to nothing beyond itself is accepted.
        let plain = try TestPDF.appendUpdate(to: pdf, objects: [(7, stream)] + dss, size: 9)
        #expect(verifiedCourt(await setup.verifier.verify(document: plain)) == "denver-county-court")

        // Padding that pushes the last `startxref` out of PDFium's last 4,096 bytes makes it rebuild the xref from
        // whatever objects it finds, the last definition of each winning.
        for padded in [pdf + Array(repeating: UInt8(ascii: "\n"), count: 5_000), plain + Array(repeating: 0, count: 4_200)] {
            let status = await setup.verifier.verify(document: padded)
            #expect(reason(status).contains("whitespace follow the last %%EOF"), "\(status)")
        }
        #expect(verifiedCourt(await setup.verifier.verify(document: plain + Array("\r\n".utf8))) == "denver-county-court")
    }

    @Test("PAdES-LT on PDF 1.5: compressed cross-reference and object streams are decoded and checked")
    func pdfCompressedRevisions() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let certificate = clerk.certificatePEM
        let certificateStream = "<< /Length \(certificate.utf8.count) >>\nstream\n\(certificate)\nendstream"
        let catalog = "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> /DSS 10 0 R >>"
        let dss = "<< /Type /DSS /Certs [11 0 R] >>"
        // As Acrobat writes it: the catalog, the page tree and the page in a compressed object stream (object 7),
        // a compressed cross-reference stream with a PNG predictor (object 8).
        let signed = try TestPDF.signed(compressing: [1, 2, 3, 5], crossReference: .compressedStream) { try clerk.cmsSignature(over: $0) }
        #expect(verifiedCourt(await setup.verifier.verify(document: signed)) == "denver-county-court")

        // The validation data, and the catalog redefined to point at it, compressed too; small objects first, whose
        // offsets lie closer together than the stream's header is long.
        let arrays = (12...14).map { ($0, "[11 0 R]") }
        let lt = try TestPDF.appendUpdate(
            to: signed, objects: [(11, certificateStream)], compressed: arrays + [(1, catalog), (10, dss)], size: 15, crossReference: .compressedStream
        )
        let ltStatus = await setup.verifier.verify(document: lt)
        #expect(verifiedCourt(ltStatus) == "denver-county-court", "\(ltStatus)")
        // The same in a table revision after the compressed signed one: the catalog is found in object stream 7.
        let ltTable = try TestPDF.appendUpdate(to: signed, objects: [(1, catalog), (10, dss), (11, certificateStream)], size: 12)
        let ltTableStatus = await setup.verifier.verify(document: ltTable)
        #expect(verifiedCourt(ltTableStatus) == "denver-county-court", "\(ltTableStatus)")

        // Changes hidden in compressed objects are modifications: the catalog compared with the compressed signed
        // one, a page redefined in an appended object stream.
        let opened = try TestPDF.appendUpdate(
            to: signed, objects: [(11, certificateStream)], compressed: [(1, catalog.replacingOccurrences(of: "/DSS", with: "/OpenAction 3 0 R /DSS")), (10, dss)],
            size: 12, crossReference: .compressedStream
        )
        #expect(reason(await setup.verifier.verify(document: opened)).contains("the catalog's /OpenAction was changed"))
        let page = try TestPDF.appendUpdate(
            to: signed, objects: [(11, certificateStream)], compressed: [(1, catalog), (10, dss), (3, "<< /Type /Page /Parent 2 0 R >>")],
            size: 12, crossReference: .compressedStream
        )
        #expect(reason(await setup.verifier.verify(document: page)).contains("object 3, which the signed revision defines, was redefined"))

        // A signed page in the object stream lists a content stream the signed revision does not define; adding it
        // later is a modification, as it is in a classic file.
        let dangling = try TestPDF.signed(contents: "[4 0 R 12 0 R]", compressing: [1, 2, 3, 5], crossReference: .compressedStream) {
            try clerk.cmsSignature(over: $0)
        }
        let filled = try TestPDF.appendUpdate(
            to: dangling, objects: [(11, certificateStream), (12, "<< /Length 2 >>\nstream\nET\nendstream")], compressed: [(1, catalog), (10, dss)],
            size: 13, crossReference: .compressedStream
        )
        #expect(reason(await setup.verifier.verify(document: filled)).contains("object 12, which the signed revision refers to in object stream 7"))

        // What cannot be decoded is unknown, not refused: unverified with the reason, the signer named.
        let bomb = try TestPDF.deflate(Array("10 0 ".utf8) + Array(repeating: UInt8(ascii: " "), count: 40 << 20))
        for (label, encoded, why) in [
            ("over the budget", bomb, "decode to more than"),
            ("truncated", Array(try TestPDF.deflate(Array("10 0 \(dss)".utf8)).dropLast(6)), "truncated"),
            ("corrupt", Array(repeating: UInt8(0x78), count: 40), "corrupt"),
        ] {
            // Object 12, unlisted by the table but read and checked as every appended object is.
            let stream = "12 0 obj\n<< /Type /ObjStm /N 1 /First 5 /Filter /FlateDecode /Length \(encoded.count) >>\nstream\n"
            let prefix = signed + Array(stream.utf8) + encoded + Array("\nendstream\nendobj\n".utf8)
            let bytes = try TestPDF.revision(
                prefix: prefix, objects: [(1, catalog), (10, dss), (11, certificateStream)], size: 13, prev: try TestPDF.startxref(of: signed)
            )
            let status = await setup.verifier.verify(document: bytes)
            guard case .unverified(let message, _?) = status else { Issue.record("\(label): \(status)"); continue }
            #expect(message.contains(why), "\(label): \(message)")
        }

        // Random bytes changed, cut or inserted in the update (its compressed object and cross-reference streams, its
        // certificate, its syntax): never a crash.
        var generator = SystemRandomNumberGenerator()
        var seen: Set<String> = []
        for _ in 0..<600 {
            var bytes = lt
            let at = Int.random(in: signed.count..<bytes.count, using: &generator)
            switch Int.random(in: 0..<3, using: &generator) {
            case 0: bytes[at] ^= UInt8.random(in: 1...255, using: &generator)
            case 1: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...16, using: &generator)))
            default: bytes.insert(contentsOf: (0..<Int.random(in: 1...16, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }, at: at)
            }
            let status = await setup.verifier.verify(document: bytes)
            seen.insert(status.label)
        }
        // A change in the certificate's bytes is still validation data; the rest is refused, or unverified when a
        // stream no longer decodes.
        #expect(seen.contains("invalid") && seen.contains("unverified"), "\(seen)")
    }

    /// Appended objects and a hand-written cross-reference stream, for updates `TestPDF` would not write.
    private struct HandWrittenUpdate {
        var bytes: [UInt8]
        var offsets: [Int: Int] = [:]

        mutating func add(_ number: Int, _ body: String) {
            offsets[number] = bytes.count
            bytes += Array("\(number) 0 obj\n\(body)\nendobj\n".utf8)
        }

        /// A `/W [1 4 2]` row.
        static func row(_ type: UInt8, _ field: Int, _ third: Int) -> [UInt8] {
            [type, UInt8(field >> 24 & 0xFF), UInt8(field >> 16 & 0xFF), UInt8(field >> 8 & 0xFF), UInt8(field & 0xFF), UInt8(third >> 8 & 0xFF), UInt8(third & 0xFF)]
        }

        /// Ends the revision with cross-reference stream `number` listing `rows` (one object each) and itself.
        mutating func finish(number: Int, size: Int, prev: Int, rows: [(Int, [UInt8])], index: String? = nil, extra: String = "") {
            let xrefOffset = bytes.count
            let all = (rows + [(number, Self.row(1, xrefOffset, 0))]).sorted { $0.0 < $1.0 }
            let data = all.flatMap(\.1)
            let listed = index ?? all.map { "\($0.0) 1" }.joined(separator: " ")
            bytes += Array("\(number) 0 obj\n<< /Type /XRef /Size \(size) /Root 1 0 R /Prev \(prev) /W [1 4 2] /Index [\(listed)]\(extra) /Length \(data.count) >>\nstream\n".utf8)
            bytes += data + Array("\nendstream\nendobj\nstartxref\n\(xrefOffset)\n%%EOF\n".utf8)
        }
    }

    /// An attacker's pass: a signed cross-reference that placed an object past the signed bytes (or whose /Prev
    /// pointed there) located nothing when the court signed, and readers showed the signed page; an update appended
    /// after signing then put a page of its own at that offset, which mupdf, poppler and pdfium showed instead. The
    /// checker skipped such an entry, and reported the document verified.
    @Test("a signed cross-reference that points past the signed bytes is refused")
    func signedCrossReferencePastItsEnd() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let unsealed = try TestPDF.revision(prefix: [], objects: TestPDF.objects(text: "WARRANT", signed: true), size: 7, prev: nil)
        let table = try TestPDF.startxref(of: unsealed)
        let text = String(decoding: unsealed, as: UTF8.self)
        // Object 4 (the page's content) placed at 9,999,999, and a /Prev of the same.
        let entry = try #require(text.components(separatedBy: "\n")
            .firstIndex { $0.hasPrefix("xref") }).advanced(by: 2 + 4)
        var lines = text.components(separatedBy: "\n")
        lines[entry] = "0009999999 00000 n "
        let cases = [
            ("an entry", lines.joined(separator: "\n"), "places object 4 past the signed bytes"),
            ("/Prev", text.replacingOccurrences(of: "/Size 7", with: "/Size 7 /Prev 9999999"), "/Prev is not an offset within the signed bytes"),
            // Written as readers still read an offset (a review's pass).
            ("/Prev signed", text.replacingOccurrences(of: "/Size 7", with: "/Size 7 /Prev +9999999"), "/Prev is not an offset within"),
            ("/Prev real", text.replacingOccurrences(of: "/Size 7", with: "/Size 7 /Prev 9999999.0"), "/Prev is not an offset within"),
        ]
        for (label, dangling, why) in cases {
            #expect(try TestPDF.startxref(of: Array(dangling.utf8)) == table, "\(label): the table stays where it was")
            let signed = try TestPDF.sealed(Array(dangling.utf8)) { try clerk.cmsSignature(over: $0) }
            // An update of the kind signing software appends (validation data), after which the offset holds bytes.
            let certificate = "<< /Length 9 >>\nstream\nMIIBcert=\nendstream"
            let pdf = try TestPDF.appendUpdate(to: signed, objects: [(7, certificate)], size: 8)
            let status = await setup.verifier.verify(document: pdf)
            #expect(reason(status).contains(why), "\(label): \(status)")
        }
    }

    /// An attacker's pass: a signature may carry 64 certificates, and the chain search took each as a candidate issuer
    /// and tried every path through them, once for each court: 15 layers of look-alike CAs took 31 s a court with
    /// P-256 keys and 346 s with P-521 (debug build), before any key was trusted. A signature's certificates are now at
    /// most 16, and the search makes at most 64 lookups of issuers among them.
    @Test("a signature carrying more than 16 certificates is refused; a web of look-alike issuers within them chains to no court")
    func lookAlikeIssuers() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        // The signer's own certificate counts among them: 12 and 13, then 16 and 17.
        let within = try LookAlikeIssuers(layers: 3), beyond = try LookAlikeIssuers(layers: 4)
        let chainsToNone = await setup.verifier.verify(document: try TestPDF.signed { try within.cmsSignature(over: $0) })
        #expect(reason(chainsToNone).contains("does not chain to a court listed in courts.yaml"), "\(chainsToNone)")
        let tooMany = await setup.verifier.verify(document: try TestPDF.signed { try beyond.cmsSignature(over: $0) })
        #expect(reason(tooMany).contains("more than 16 certificates"), "\(tooMany)")
        // A court's own chain, and its CA among the certificates, still verifies.
        let clerk = try setup.clerk(.ec)
        let own = await setup.verifier.verify(document: try TestPDF.signed {
            try CMS.sign($0, additionalIntermediateCertificates: [setup.court.certificate], certificate: clerk.certificate, privateKey: clerk.privateKey, signingTime: Date())
        })
        #expect(verifiedCourt(own) == "denver-county-court", "\(own)")
    }

    /// An attacker's pass: the signed form's field names were read again for every update that asked, each field
    /// listed parsed anew however often /Fields listed it: this form, one field with 2,000 kids listed 2,000 times, took
    /// four times as long for each doubling, before any key was trusted. Each listed field is now read once, and the
    /// names once for the document.
    @Test("a form that lists one large field many times is read once, and the update refused")
    func repeatedFormFields() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let count = 2_000
        var objects = TestPDF.objects(text: "WARRANT", signed: true)
        let listed = String(repeating: " 7 0 R", count: count)
        objects[0] = (1, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R\(listed)] /SigFlags 3 >> >>")
        objects += [(7, "<< /FT /Tx /T (Notes) /Kids [\(String(repeating: "8 0 R ", count: count))] >>"), (8, "<< /FT /Tx /Parent 7 0 R >>")]
        let signed = try TestPDF.sealed(try TestPDF.revision(prefix: [], objects: objects, size: 9, prev: nil)) { try clerk.cmsSignature(over: $0) }
        let rotated = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots [5 0 R] /Rotate 90 >>"
        let status = await setup.verifier.verify(document: try TestPDF.appendUpdate(to: signed, objects: [(3, rotated)], size: 9))
        #expect(reason(status).contains("object 3, which the signed revision defines, was redefined"), "\(status)")
    }

    @Test("updates a review wrote to fool a reader that rebuilds the cross-reference, or the checker: refused, never a crash")
    func pdfReaderDivergences() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let pdf = try TestPDF.signed { try clerk.cmsSignature(over: $0) }
        let prev = try TestPDF.startxref(of: pdf)
        let catalog = "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> /DSS 8 0 R >>"
        let dss = "<< /Type /DSS /Certs [7 0 R] >>"
        // A page's content written inside a certificate's bytes, as a reader that rebuilds the cross-reference from
        // the raw bytes finds it, the last definition winning.
        let text = "BT /F1 24 Tf 72 650 Td (RELEASED - WARRANT WITHDRAWN) Tj ET"
        let hiddenObject = "\n4 0 obj\n<< /Length \(text.utf8.count) >>\nstream\n\(text)\nendstream\nendobj\n"
        let hiddenCertificate = "<< /Length \(hiddenObject.utf8.count) >>\nstream\n\(hiddenObject)\nendstream"
        let certificate = "<< /Length 9 >>\nstream\nMIIBcert=\nendstream"
        func update(_ objects: [(Int, String)], rows: (HandWrittenUpdate) -> [(Int, [UInt8])], index: String? = nil, extra: String = "") -> [UInt8] {
            var update = HandWrittenUpdate(bytes: pdf)
            for (number, body) in objects { update.add(number, body) }
            update.finish(number: 9, size: 10, prev: prev, rows: rows(update), index: index, extra: extra)
            return update.bytes
        }
        let listed = { (update: HandWrittenUpdate) in [1, 7, 8].map { ($0, HandWrittenUpdate.row(1, update.offsets[$0]!, 0)) } }
        #expect(verifiedCourt(await setup.verifier.verify(document: update([(1, catalog), (7, certificate), (8, dss)], rows: listed))) == "denver-county-court")

        // Object 0 given a type readers refuse (pdf.js and qpdf then rebuild the cross-reference).
        for type in [UInt8(3), 255] {
            let bytes = update([(1, catalog), (7, certificate), (8, dss)], rows: { [(0, HandWrittenUpdate.row(type, 0, 65535))] + listed($0) })
            #expect(reason(await setup.verifier.verify(document: bytes)).contains("gives object 0 an entry of unknown type"), "type \(type)")
        }
        // The hidden object in a certificate's bytes, in a string, after a stream's zlib data; an xref section hidden
        // in a certificate.
        let xrefText = "xref\n4 1\n0000000000 00000 n \ntrailer\n<< >>"
        let hiddenXref = "<< /Length \(xrefText.utf8.count) >>\nstream\n\(xrefText)\nendstream"
        // An attacker's pass: the header written with a comment between its numbers (every reader's lexer skips it), or
        // glued to `obj` (poppler reads it), was not found.
        func certificateHolding(_ object: String) -> String { "<< /Length \(object.utf8.count) >>\nstream\n\(object)\nendstream" }
        for (label, body) in [
            ("certificate", hiddenCertificate), ("string", "<< /Type /VRI /TU (\(hiddenObject)) >>"), ("xref section", hiddenXref),
            ("comment", certificateHolding(hiddenObject.replacingOccurrences(of: "4 0 obj", with: "4%c\n0 obj"))),
            ("comments", certificateHolding(hiddenObject.replacingOccurrences(of: "4 0 obj", with: "4 %a\r\n%b\n 0 obj"))),
            ("long comment", certificateHolding(hiddenObject.replacingOccurrences(of: "4 0 obj", with: "4%" + String(repeating: "c", count: 3000) + "\n0 obj"))),
            ("glued", certificateHolding(hiddenObject.replacingOccurrences(of: "4 0 obj", with: "4 0obj"))),
            // A review's pass: a comment ending in a digit before `obj`, and a signed number.
            ("comment before obj", certificateHolding(hiddenObject.replacingOccurrences(of: "4 0 obj", with: "4 0 %9\nobj"))),
            ("signed", certificateHolding(hiddenObject.replacingOccurrences(of: "4 0 obj", with: "4 -0 obj"))),
        ] {
            let bytes = update([(1, catalog), (7, body), (8, dss)], rows: listed)
            let status = await setup.verifier.verify(document: bytes)
            #expect(reason(status).contains("is not one the checker read"), "\(label): \(status)")
        }
        // An object stream its revision does not list: a reader would take the stream its number resolves to.
        let unlistedData = "11 0 [7 0 R]"
        let unlisted = "<< /Type /ObjStm /N 1 /First 5 /Length \(unlistedData.utf8.count) >>\nstream\n\(unlistedData)\nendstream"
        let unlistedStatus = await setup.verifier.verify(document: update([(1, catalog), (7, certificate), (8, dss), (10, unlisted)], rows: listed))
        #expect(reason(unlistedStatus).contains("object stream 10 appended after signing is not listed"), "\(unlistedStatus)")
        // A table entry broken over two lines, which qpdf reads line by line and so rebuilds the cross-reference from
        // the raw bytes; an object header hidden behind a vertical tab, which qpdf's tokenizer takes as whitespace.
        let vertical = hiddenCertificate.replacingOccurrences(of: "4 0 obj\n", with: "4 0 obj\u{0B}")
        var split = try TestPDF.appendUpdate(to: pdf, objects: [(1, catalog), (7, certificate), (8, dss)], size: 9)
        let entryEnd = try #require(TestPDF.findLast(" 00000 n \ntrailer", in: split))
        split.replaceSubrange(entryEnd..<entryEnd + 1, with: Array("\n".utf8))
        let splitStatus = await setup.verifier.verify(document: split)
        #expect(reason(splitStatus).contains("not laid out as readers read it"), "\(splitStatus)")
        // Entries ended with space, CR and LF (21 bytes), as some writers end them, still read.
        let plainUpdate = try TestPDF.appendUpdate(to: pdf, objects: [(1, catalog), (7, certificate), (8, dss)], size: 9)
        let tableAt = try TestPDF.startxref(of: plainUpdate)
        let table = String(decoding: plainUpdate[tableAt...], as: UTF8.self)
        let widened = Array(plainUpdate[..<tableAt]) + Array(table.replacingOccurrences(of: " n \n", with: " n \r\n").utf8)
        #expect(verifiedCourt(await setup.verifier.verify(document: widened)) == "denver-county-court")
        let verticalStatus = await setup.verifier.verify(document: update([(1, catalog), (7, vertical), (8, dss)], rows: listed))
        #expect(reason(verticalStatus).contains("is not one the checker read"), "\(verticalStatus)")
        // `trailer` glued to a word, which pdf.js's rebuild finds by searching the bytes.
        let gluedText = "Ztrailer<< /Root 3 0 R >>"
        let glued = "<< /Length \(gluedText.utf8.count) >>\nstream\n\(gluedText)\nendstream"
        let gluedStatus = await setup.verifier.verify(document: update([(1, catalog), (7, glued), (8, dss)], rows: listed))
        #expect(reason(gluedStatus).contains("a trailer keyword"), "\(gluedStatus)")
        // A classic table that lists nothing, which qpdf calls damaged.
        var empty = pdf
        empty += Array("7 0 obj\n\(certificate)\nendobj\n".utf8)
        let emptyAt = empty.count
        empty += Array("xref\ntrailer\n<< /Size 8 /Root 1 0 R /Prev \(prev) >>\nstartxref\n\(emptyAt)\n%%EOF\n".utf8)
        #expect(reason(await setup.verifier.verify(document: empty)).contains("lists no object"))
        // An object number readers refuse (2³² + 3 would wrap to object 3 in 32 bits).
        let page = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"
        let wrapped = try TestPDF.appendUpdate(to: pdf, objects: [(4_294_967_299, page)], size: 4_294_967_300)
        #expect(reason(await setup.verifier.verify(document: wrapped)).contains("numbered beyond what readers accept"))

        // A hybrid update whose /XRefStm stream carries a /Prev of its own, which pdf.js follows.
        func hybrid(streamExtra: String) -> [UInt8] {
            var update = HandWrittenUpdate(bytes: pdf)
            for (number, body) in [(1, catalog), (7, certificate), (8, dss)] { update.add(number, body) }
            let streamAt = update.bytes.count
            let rows = [1, 7, 8].flatMap { HandWrittenUpdate.row(1, update.offsets[$0]!, 0) } + HandWrittenUpdate.row(1, streamAt, 0)
            update.bytes += Array("9 0 obj\n<< /Type /XRef /Size 10 /W [1 4 2] /Index [1 1 7 3]\(streamExtra) /Length \(rows.count) >>\nstream\n".utf8)
            update.bytes += rows + Array("\nendstream\nendobj\n".utf8)
            let tableAt = update.bytes.count
            var table = "xref\n"
            for number in [1, 7, 8] { table += "\(number) 1\n" + String(format: "%010d 00000 n \n", update.offsets[number]!) }
            table += "trailer\n<< /Size 10 /Root 1 0 R /Prev \(prev) /XRefStm \(streamAt) >>\nstartxref\n\(tableAt)\n%%EOF\n"
            return update.bytes + Array(table.utf8)
        }
        #expect(verifiedCourt(await setup.verifier.verify(document: hybrid(streamExtra: ""))) == "denver-county-court")
        #expect(reason(await setup.verifier.verify(document: hybrid(streamExtra: " /Prev 0"))).contains("/Prev differs from its trailer's"))
        #expect(reason(await setup.verifier.verify(document: hybrid(streamExtra: " /Root 3 0 R"))).contains("/Root differs from its trailer's"))
        #expect(reason(await setup.verifier.verify(document: hybrid(streamExtra: " /OpenAction 3 0 R"))).contains("dictionary holds /OpenAction"))
        // Trailer keys repeated as the trailer has them, as writers of hybrid files do, are accepted.
        #expect(verifiedCourt(await setup.verifier.verify(document: hybrid(streamExtra: " /Root 1 0 R /Prev \(prev)"))) == "denver-county-court")

        // /Index counts that overflow: no trap, unverified.
        let overflow = update([(1, catalog), (7, certificate), (8, dss)], rows: listed, index: "1 1 7 9223372036854775807")
        let overflowStatus = await setup.verifier.verify(document: overflow)
        guard case .unverified(let overflowWhy, _?) = overflowStatus else { Issue.record("\(overflowStatus)"); return }
        #expect(overflowWhy.contains("list more than"), "\(overflowWhy)")
        // A stream with /F or /DP, which pdf.js reads before /Filter and /DecodeParms, is not decoded.
        let divergent = update([(1, catalog), (7, certificate), (8, dss)], rows: listed, extra: " /DP << /Predictor 12 /Columns 7 >>")
        #expect(reason(await setup.verifier.verify(document: divergent)).contains("/DP"))
    }

    @Test("incremental writers' updates: /Info's ModDate and Producer may change, an object stream may not be defined twice")
    func pdfWritersUpdates() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let certificate = "<< /Length 9 >>\nstream\nMIIBcert=\nendstream"
        let catalog = "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> /DSS 10 0 R >>"
        let dss = "<< /Type /DSS /Certs [11 0 R] >>"
        let info = "<< /Title (Arrest warrant 26CR1234) /Producer (Court e-filing 4.2) /ModDate (D:20260301120000Z) >>"
        // iText and pyHanko rewrite /Info's ModDate and Producer with every update they append.
        let rewritten = info.replacingOccurrences(of: "(Court e-filing 4.2) /ModDate (D:20260301120000Z)", with: "(iText 7.2.5) /ModDate (D:20260302090000Z)")
        for (label, compressing, crossReference) in [("classic", Set<Int>(), TestPDF.CrossReference.table), ("compressed", [1, 2, 3, 5, 7], .compressedStream)] {
            let signed = try TestPDF.signed(info: info, compressing: compressing, crossReference: crossReference) { try clerk.cmsSignature(over: $0) }
            func update(_ infoBody: String) throws -> [UInt8] {
                try TestPDF.appendUpdate(
                    to: signed, objects: [(1, catalog), (7, infoBody), (10, dss), (11, certificate)], size: 12, crossReference: crossReference,
                    trailer: " /Info 7 0 R"
                )
            }
            let status = await setup.verifier.verify(document: try update(rewritten))
            #expect(verifiedCourt(status) == "denver-county-court", "\(label): \(status)")
            let retitled = await setup.verifier.verify(document: try update(rewritten.replacingOccurrences(of: "26CR1234", with: "26CR9999")))
            #expect(reason(retitled).contains("the document information's /Title was changed"), "\(label): \(retitled)")
            let referenced = await setup.verifier.verify(document: try update(rewritten.replacingOccurrences(of: "(iText 7.2.5)", with: "3 0 R")))
            #expect(reason(referenced).contains("/Producer is not a string"), "\(label): \(referenced)")
        }

        // A later revision that defines an appended object stream again: entries of the earlier one that readers
        // still follow into it would find other objects (or, as qpdf found here, no catalog).
        let signed = try TestPDF.signed(compressing: [1, 2, 3, 5], crossReference: .compressedStream) { try clerk.cmsSignature(over: $0) }
        let first = try TestPDF.appendUpdate(
            to: signed, objects: [(11, certificate)], compressed: [(1, catalog), (10, dss)], size: 12, crossReference: .compressedStream
        )
        #expect(verifiedCourt(await setup.verifier.verify(document: first)) == "denver-county-court")
        var again = HandWrittenUpdate(bytes: first)
        let data = "13 0 [11 0 R]"
        again.add(12, "<< /Type /ObjStm /N 1 /First 5 /Length \(data.utf8.count) >>\nstream\n\(data)\nendstream")
        again.finish(
            number: 14, size: 15, prev: try TestPDF.startxref(of: first),
            rows: [(12, HandWrittenUpdate.row(1, again.offsets[12]!, 0)), (13, HandWrittenUpdate.row(2, 12, 0))]
        )
        #expect(reason(await setup.verifier.verify(document: again.bytes)).contains("object stream 12, appended after signing, is defined again"))
        // … or defines its number inside an object stream of its own.
        let inStream = try TestPDF.appendUpdate(to: first, objects: [], compressed: [(12, "[11 0 R]")], size: 14, crossReference: .compressedStream)
        let inStreamStatus = await setup.verifier.verify(document: inStream)
        #expect(reason(inStreamStatus).contains("object stream 12, appended after signing, is defined again"), "\(inStreamStatus)")
    }

    @Test("PAdES-LTA: a document time-stamp in an invisible field, added to the form and the page, keeps the signature verified")
    func pdfDocumentTimestamp() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let pdf = try TestPDF.signed { try clerk.cmsSignature(over: $0) }
        let stamp = TestPDF.documentTimestamp
        let field = "<< /FT /Sig /T (Timestamp1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P 3 0 R /V 10 0 R >>"
        let page = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots [5 0 R 9 0 R] >>"
        let form = "/AcroForm << /Fields [5 0 R 9 0 R] /SigFlags 3 >>"
        let certificate = "<< /Length 9 >>\nstream\nMIIBcert=\nendstream"
        /// The update as pyHanko writes it, with `replacing` applied, its time-stamp token a stand-in (only the
        /// court's signature is verified).
        func stamped(_ replacing: [(String, String)] = []) throws -> [UInt8] {
            var objects = [
                (1, "<< /Type /Catalog /Pages 2 0 R \(form) /DSS 8 0 R >>"), (3, page), (7, certificate), (8, "<< /Type /DSS /Certs [7 0 R] >>"),
                (9, field), (10, stamp),
            ]
            for (old, new) in replacing { objects = objects.map { ($0.0, $0.1.replacingOccurrences(of: old, with: new)) } }
            return try TestPDF.sealed(try TestPDF.appendUpdate(to: pdf, objects: objects, size: 11)) { _ in [0x30, 0x00] }
        }
        let status = await setup.verifier.verify(document: try stamped())
        #expect(verifiedCourt(status) == "denver-county-court", "\(status)")

        // Anything more is a modification: a visible field, an appearance, a field whose value was signed or is not
        // a time-stamp, another change to the form or the page, a flag that is not a signature's or one dropped; a
        // time-stamp dictionary that is also an annotation (a reviewer's pdf.js run painted a box over the text,
        // showed a note, and linked the whole page), listed in /Annots or /Fields itself.
        let annotation = "/Type /DocTimeStamp /Subtype /Square /Rect [60 700 400 740] /IC [1 1 1]"
        for (change, expected) in [
            ("/Rect [0 0 0 0]", "/Rect [0 0 100 20]"), ("/F 132", "/F 132 /AP << /N 7 0 R >>"), ("/V 10 0 R", "/V 6 0 R"), ("/V 10 0 R", "/V 8 0 R"),
            ("/SigFlags 3 >>", "/SigFlags 3 /NeedAppearances true >>"), ("/Annots [5 0 R 9 0 R]", "/Annots [5 0 R 9 0 R] /Rotate 90"),
            ("/Annots [5 0 R 9 0 R]", "/Annots [9 0 R]"), ("/SigFlags 3", "/SigFlags 7"), ("/FT /Sig", "/FT /Tx"),
            ("/Type /DocTimeStamp", annotation), ("/Type /DocTimeStamp", "/Type /DocTimeStamp /Subtype /Link /A << /S /URI /URI (https://evil.example/) >>"),
            ("/Annots [5 0 R 9 0 R]", "/Annots [5 0 R 10 0 R]"), ("/Fields [5 0 R 9 0 R]", "/Fields [5 0 R 10 0 R]"),
            ("/Annots [5 0 R 9 0 R]", "/Annots [5 0 R 8 0 R]"),
        ] {
            let changed = await setup.verifier.verify(document: try stamped([(change, expected)]))
            #expect(reason(changed).contains("modified after signing"), "\(expected): \(changed)")
        }
        let covered = await setup.verifier.verify(document: try stamped([("/Type /DocTimeStamp", annotation), ("/Annots [5 0 R 9 0 R]", "/Annots [5 0 R 10 0 R]")]))
        #expect(reason(covered).contains("modified after signing"), "\(covered)")
        // A time-stamp that names a signer (pdf.js lists /Name and /M as a signature's), a field named as the court's
        // (readers merge fields of one name), a time-stamp held by two fields.
        for (label, changes) in [
            ("a signer's name", [("/SubFilter /ETSI.RFC3161", "/SubFilter /ETSI.RFC3161 /Name (Hon. J. Doe, District Court)")]),
            ("a signing time", [("/SubFilter /ETSI.RFC3161", "/SubFilter /ETSI.RFC3161 /M (D:20260301120000Z)")]),
            ("the court's field name", [("/T (Timestamp1)", "/T (Signature1)")]),
            ("a name in UTF-16", [("/T (Timestamp1)", "/T <FEFF0053>")]), ("a nested name", [("/T (Timestamp1)", "/T (Form.Signature1)")]),
            ("two fields", [("/Fields [5 0 R 9 0 R]", "/Fields [5 0 R 9 0 R 7 0 R]"),
                            ("<< /Length 9 >>\nstream\nMIIBcert=\nendstream", field.replacingOccurrences(of: "Timestamp1", with: "Timestamp2"))]),
            ("a field listed twice", [("/Fields [5 0 R 9 0 R]", "/Fields [5 0 R 9 0 R 9 0 R]")]),
            ("a widget listed twice", [("/Annots [5 0 R 9 0 R]", "/Annots [5 0 R 9 0 R 9 0 R]")]),
            ("a widget that names another page", [("/P 3 0 R", "/P 2 0 R")]),
        ] {
            let status = await setup.verifier.verify(document: try stamped(changes))
            #expect(reason(status).contains("modified after signing"), "\(label): \(status)")
        }
        // pyHanko may put the widget far off the page instead, still with no area.
        let offPage = await setup.verifier.verify(document: try stamped([("/Rect [0 0 0 0]", "/Rect [-9999 -9999 -9999 -9999]")]))
        #expect(verifiedCourt(offPage) == "denver-county-court", "\(offPage)")
        // iText 5 gives an invisible widget an empty appearance: a form with no area and no content, here
        // in zlib's empty stream (fixed Huffman, so every byte is ASCII).
        let emptyFlate = "x\u{01}\u{03}\u{00}\u{00}\u{00}\u{00}\u{01}"
        func appearance(_ dictionary: String = "/Type /XObject /Subtype /Form /BBox [0 0 0 0] /Resources << >> /FormType 1", content: String = emptyFlate) -> String {
            let filter = content == emptyFlate ? " /Filter /FlateDecode" : ""
            return "<< \(dictionary)\(filter) /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream"
        }
        func withAppearance(_ stream: String, states: String = "<< /N 11 0 R >>") throws -> [UInt8] {
            var objects = [
                (1, "<< /Type /Catalog /Pages 2 0 R \(form) /DSS 8 0 R >>"), (3, page), (7, certificate), (8, "<< /Type /DSS /Certs [7 0 R] >>"),
                (9, field.replacingOccurrences(of: "/F 132", with: "/F 132 /AP \(states)")), (10, stamp),
            ]
            objects.append((11, stream))
            return try TestPDF.sealed(try TestPDF.appendUpdate(to: pdf, objects: objects, size: 12)) { _ in [0x30, 0x00] }
        }
        for (label, stream) in [("compressed", appearance()), ("white space", appearance("/Subtype /Form /BBox [0 0 0 0]", content: " \n"))] {
            let drawn = await setup.verifier.verify(document: try withAppearance(stream))
            #expect(verifiedCourt(drawn) == "denver-county-court", "\(label): \(drawn)")
        }
        for (label, stream, states) in [
            ("text", appearance("/Subtype /Form /BBox [0 0 0 0]", content: "BT (X) Tj ET"), "<< /N 11 0 R >>"),
            ("an area", appearance("/Type /XObject /Subtype /Form /BBox [0 0 100 20]"), "<< /N 11 0 R >>"),
            ("resources", appearance("/Type /XObject /Subtype /Form /BBox [0 0 0 0] /Resources << /XObject << /X 7 0 R >> >>"), "<< /N 11 0 R >>"),
            ("an image", appearance("/Type /XObject /Subtype /Image /BBox [0 0 0 0]"), "<< /N 11 0 R >>"),
            ("a down appearance", appearance(), "<< /N 11 0 R /D 11 0 R >>"),
            ("appearance states", appearance(), "<< /N << /On 11 0 R >> >>"),
        ] {
            let drawn = await setup.verifier.verify(document: try withAppearance(stream, states: states))
            #expect(reason(drawn).contains("modified after signing"), "\(label): \(drawn)")
        }
        // An empty form no field names is not validation data.
        let unnamed = try TestPDF.sealed(
            try TestPDF.appendUpdate(
                to: pdf,
                objects: [(1, "<< /Type /Catalog /Pages 2 0 R \(form) /DSS 8 0 R >>"), (3, page), (7, certificate), (8, "<< /Type /DSS /Certs [7 0 R] >>"),
                          (9, field), (10, stamp), (11, appearance())],
                size: 12
            )
        ) { _ in [0x30, 0x00] }
        #expect(reason(await setup.verifier.verify(document: unnamed)).contains("modified after signing"))

        // An archival chain: a second time-stamp's revision lists the first one's field too.
        let first = try stamped()
        let second = try TestPDF.sealed(
            try TestPDF.appendUpdate(
                to: first,
                objects: [
                    (1, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 9 0 R 12 0 R] /SigFlags 3 >> /DSS 8 0 R >>"),
                    (3, page.replacingOccurrences(of: "/Annots [5 0 R 9 0 R]", with: "/Annots [5 0 R 9 0 R 12 0 R]")),
                    (12, field.replacingOccurrences(of: "Timestamp1", with: "Timestamp2").replacingOccurrences(of: "/V 10 0 R", with: "/V 13 0 R")),
                    (13, stamp),
                ],
                size: 14
            )
        ) { _ in [0x30, 0x00] }
        let chained = await setup.verifier.verify(document: second)
        #expect(verifiedCourt(chained) == "denver-county-court", "\(chained)")
        // A later revision may not define an earlier time-stamp's field again (here under the court's name).
        let renamed = try TestPDF.appendUpdate(to: first, objects: [(9, field.replacingOccurrences(of: "Timestamp1", with: "Signature1"))], size: 11)
        #expect(reason(await setup.verifier.verify(document: renamed)).contains("field 9, appended after signing, is defined again"))
        // Names compare as readers decode them.
        #expect(PDFText.decoded([0xFE, 0xFF, 0x00, 0x53, 0x00, 0x31]) == "S1")
        #expect(PDFText.decoded([0xFF, 0xFE, 0x53, 0x00, 0x31, 0x00]) == "S1")
        #expect(PDFText.decoded([0xFE, 0xFF, 0x00, 0x1B, 0x00, 0x65, 0x00, 0x6E, 0x00, 0x1B, 0x00, 0x53]) == "S")
        #expect(PDFText.decoded([0xEF, 0xBB, 0xBF, 0x53]) == "S")
        #expect(PDFText.decoded(Array("Signature1".utf8)) == "Signature1")
        // A form whose signed /SigFlags were 3 may not drop the append-only flag.
        let signedFlags = try TestPDF.signed { try clerk.cmsSignature(over: $0) }
        #expect(TestPDF.find("/SigFlags 3", in: signedFlags) != nil)
        let dropped = await setup.verifier.verify(document: try stamped([("/SigFlags 3 >>", "/SigFlags 1 >>")]))
        #expect(reason(dropped).contains("/AcroForm was changed"), "\(dropped)")
    }

    /// pyHanko rewrites a page's /Annots, or the form's /Fields, where it is an array object of its own, and leaves
    /// the page or the form as signed.
    @Test("PAdES-LTA: a time-stamp field added to /Annots and /Fields held as array objects keeps the signature verified")
    func pdfDocumentTimestampInArrayObjects() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        // The signed document: the page's /Annots is object 7, the form is object 8 and its /Fields object 9, and
        // the page tree's /Kids object 10.
        let objects = Self.arrayObjectDocument(indirectKids: true)
        let pdf = try TestPDF.sealed(try TestPDF.revision(prefix: [], objects: objects, size: 11, prev: nil)) { try clerk.cmsSignature(over: $0) }
        #expect(verifiedCourt(await setup.verifier.verify(document: pdf)) == "denver-county-court")
        let stamp = TestPDF.documentTimestamp
        let certificate = "<< /Length 9 >>\nstream\nMIIBcert=\nendstream"
        let field = "<< /FT /Sig /T (Timestamp1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P 3 0 R /V 14 0 R >>"
        /// The update as pyHanko writes it: the two arrays gain the field, the catalog gains /DSS.
        func stamped(_ updated: [(Int, String)] = [(7, "[5 0 R 13 0 R]"), (9, "[5 0 R 13 0 R]")], field: String = field) throws -> [UInt8] {
            let objects: [(Int, String)] = [
                (1, "<< /Type /Catalog /Pages 2 0 R /AcroForm 8 0 R /DSS 12 0 R >>"), (11, certificate), (12, "<< /Type /DSS /Certs [11 0 R] >>"),
                (13, field), (14, stamp),
            ] + updated
            return try TestPDF.sealed(try TestPDF.appendUpdate(to: pdf, objects: objects, size: 15)) { _ in [0x30, 0x00] }
        }
        let status = await setup.verifier.verify(document: try stamped())
        #expect(verifiedCourt(status) == "denver-county-court", "\(status)")
        // The form may gain a signature flag beside them (pyHanko sets both).
        let flagged = await setup.verifier.verify(document: try stamped([(7, "[5 0 R 13 0 R]"), (9, "[5 0 R 13 0 R]"), (8, "<< /Fields 9 0 R /SigFlags 3 >>")]))
        #expect(verifiedCourt(flagged) == "denver-county-court", "\(flagged)")

        let refused: [(String, [(Int, String)], String)] = [
            ("a widget that names no page", [(7, "[5 0 R 13 0 R]")], field.replacingOccurrences(of: " /P 3 0 R", with: "")),
            ("a widget that names a page whose /Annots is another array", [(7, "[5 0 R 13 0 R]")], field.replacingOccurrences(of: "/P 3 0 R", with: "/P 2 0 R")),
            ("the page tree's /Kids", [(10, "[3 0 R 13 0 R]")], field),
            ("a field before the signed ones", [(9, "[13 0 R 5 0 R]")], field),
            ("a field listed twice", [(9, "[5 0 R 13 0 R 13 0 R]")], field),
            ("a reference that is not a time-stamp field", [(7, "[5 0 R 12 0 R]")], field),
            ("a field named as the court's", [(9, "[5 0 R 13 0 R]")], field.replacingOccurrences(of: "Timestamp1", with: "Signature1")),
            ("the array made a dictionary", [(7, "<< /Annots [5 0 R 13 0 R] >>")], field),
            ("the form's /Fields replaced", [(8, "<< /Fields [5 0 R 13 0 R] /SigFlags 1 >>")], field),
            ("a flag dropped", [(9, "[5 0 R 13 0 R]"), (8, "<< /Fields 9 0 R >>")], field),
        ]
        for (label, updated, changedField) in refused {
            let changed = await setup.verifier.verify(document: try stamped(updated, field: changedField))
            #expect(reason(changed).contains("modified after signing"), "\(label): \(changed)")
        }

        // The same in PDF 1.5 files: the catalog, the page tree, the form and the arrays compressed in the signed
        // revision (its object stream and cross-reference stream are objects 11 and 12), the update's objects in an
        // object stream of its own.
        let compressing: Set<Int> = [1, 2, 3, 7, 8, 9, 10]
        let compressed = try TestPDF.sealed(
            try TestPDF.revision(
                prefix: [], objects: objects.filter { !compressing.contains($0.0) }, compressed: objects.filter { compressing.contains($0.0) },
                size: 11, prev: nil, crossReference: .compressedStream
            )
        ) { try clerk.cmsSignature(over: $0) }
        #expect(verifiedCourt(await setup.verifier.verify(document: compressed)) == "denver-county-court")
        let compressedField = field.replacingOccurrences(of: "/V 14 0 R", with: "/V 16 0 R")
        let inStream: [(Int, String)] = [
            (1, "<< /Type /Catalog /Pages 2 0 R /AcroForm 8 0 R /DSS 14 0 R >>"), (14, "<< /Type /DSS /Certs [13 0 R] >>"), (15, compressedField),
            (7, "[5 0 R 15 0 R]"), (9, "[5 0 R 15 0 R]"),
        ]
        let update = try TestPDF.appendUpdate(
            to: compressed, objects: [(13, certificate), (16, stamp)], compressed: inStream, size: 17, crossReference: .compressedStream
        )
        let compressedStatus = await setup.verifier.verify(document: try TestPDF.sealed(update) { _ in [0x30, 0x00] })
        #expect(verifiedCourt(compressedStatus) == "denver-county-court", "\(compressedStatus)")
    }

    /// A document drafted before signing can give the array a page's /Annots holds another use too; a time-stamp
    /// field gained there would then change what readers show (an attacker's pass found each of these `verified`).
    @Test("an array extended with a time-stamp field that the signed revision also uses elsewhere: invalid")
    func pdfExtendedArrayUsedElsewhere() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let stamp = TestPDF.documentTimestamp
        func field(value: Int, page: Int, name: String = "Timestamp1") -> String {
            "<< /FT /Sig /T (\(name)) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P \(page) 0 R /V \(value) 0 R >>"
        }
        /// The signed one-page document with the page's /Annots as array object 7, the form as object 8 with its
        /// /Fields as object 9, the page tree's /Kids as object 10, `edits` applied and `extra` objects added.
        func signed(_ edits: [Int: String] = [:], extra: [(Int, String)] = []) throws -> [UInt8] {
            var objects = Self.arrayObjectDocument(indirectKids: true) + extra
            objects = objects.map { ($0.0, edits[$0.0] ?? $0.1) }
            let size = objects.map(\.0).max()! + 1
            return try TestPDF.sealed(try TestPDF.revision(prefix: [], objects: objects, size: size, prev: nil)) { try clerk.cmsSignature(over: $0) }
        }
        func stamped(_ pdf: [UInt8], _ objects: [(Int, String)], size: Int) async throws -> DocumentSignatureStatus {
            await setup.verifier.verify(document: try TestPDF.sealed(try TestPDF.appendUpdate(to: pdf, objects: objects, size: size)) { _ in [0x30, 0x00] })
        }
        let orphan = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots 10 0 R >>"
        let content = "BT /F1 12 Tf 72 720 Td (WARRANT) Tj ET /OC /MC0 BDC BT /F1 12 Tf 72 650 Td (ALSO 12 ELM ST) Tj ET EMC"
        let cases: [(String, [Int: String], [(Int, String)], [(Int, String)])] = [
            // Text marked with an optional-content membership whose /OCGs array lists a hidden group: a gained entry
            // that is no group turns it on in MuPDF and pdf.js. An orphan page claims the array as its /Annots.
            ("an optional-content membership's /OCGs", [
                1: "<< /Type /Catalog /Pages 2 0 R /AcroForm 8 0 R /OCProperties << /OCGs [13 0 R] /D << /OFF [13 0 R] >> >> >>",
                2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots 7 0 R /Resources << /Properties << /MC0 12 0 R >> >> >>",
                4: "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream", 10: "[13 0 R]",
             ], [(11, orphan), (12, "<< /Type /OCMD /OCGs 10 0 R /P /AnyOn >>"), (13, "<< /Type /OCG /Name (Draft) >>")],
             [(10, "[13 0 R 15 0 R]"), (15, field(value: 16, page: 11)), (16, stamp)]),
            // The page tree's /Kids, claimed by an orphan page: the field becomes a page.
            ("the page tree's /Kids", [:], [(11, orphan)], [(10, "[3 0 R 12 0 R]"), (12, field(value: 13, page: 11)), (13, stamp)]),
            // The court's field's /Kids: the widget joins the court's signature field.
            ("the court's field's /Kids", [5: "<< /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R /Parent 11 0 R >>", 9: "[11 0 R]"],
             [(11, "<< /FT /Sig /T (Signature1) /V 6 0 R /Kids 7 0 R >>")], [(7, "[5 0 R 12 0 R]"), (12, field(value: 13, page: 3)), (13, stamp)]),
            // The form's /Fields and the page's /Annots one array: each use is checked apart, so neither is allowed.
            ("the form's /Fields as well", [3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots 9 0 R >>"], [],
             [(9, "[5 0 R 11 0 R]"), (11, field(value: 12, page: 2)), (12, stamp)]),
        ]
        // MuPDF finds the membership's /OCGs whatever the reference's generation, and wraps its number to 32 bits.
        let ocgs = cases[0]
        for written in ["10 1 R", "4294967306 0 R"] {
            let pdf = try signed(ocgs.1, extra: ocgs.2.map { ($0.0, $0.1.replacingOccurrences(of: "/OCGs 10 0 R", with: "/OCGs \(written)")) })
            let status = try await stamped(pdf, ocgs.3, size: 17)
            #expect(reason(status).contains("modified after signing"), "/OCGs \(written): \(status)")
        }
        // Named where no object in use holds it (here in a stream's data), or in an object no entry can lead to: a
        // reader that rebuilds the cross-reference may find it, so the signature is not verified.
        let naming = "<< /Length 14 >>\nstream\n[7 0 R] endobj \nendstream"
        let namedStatus = try await stamped(try signed(extra: [(11, naming)]), [(7, "[5 0 R 12 0 R]"), (12, field(value: 13, page: 3)), (13, stamp)], size: 14)
        guard case .unverified(let namedWhy, _) = namedStatus else { Issue.record("\(namedStatus)"); return }
        #expect(namedWhy.contains("named again in the signed bytes"), "\(namedWhy)")
        for (label, edits, extra, update) in cases {
            let pdf = try signed(edits, extra: extra)
            #expect(verifiedCourt(await setup.verifier.verify(document: pdf)) == "denver-county-court", "\(label): the signed file")
            let size = update.map(\.0).max()! + 1
            let status = try await stamped(pdf, update, size: size)
            #expect(reason(status).contains("modified after signing"), "\(label): \(status)")
        }
        // A widget gained only in a page's /Annots may not take the court's field's name either: PDFium files it with
        // the court's field.
        let named = try await stamped(try signed(), [(7, "[5 0 R 11 0 R]"), (11, field(value: 12, page: 3, name: "Signature1")), (12, stamp)], size: 13)
        #expect(reason(named).contains("modified after signing"), "\(named)")
    }

    /// Each lookup decoded the signed object stream again, charged to the document's decoding budget, until a
    /// genuine update came out `invalid`.
    @Test("a signed object stream is decoded once, however often the check looks into it")
    func pdfSignedObjectStreamDecodedOnce() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        // A string of 6 MiB beside the catalog, the pages and the form in the signed object stream (number 12).
        let objects = Self.arrayObjectDocument(indirectKids: false) + [(10, "[0]"), (11, "<\(String(repeating: "00", count: 6 << 20))>")]
        let compressing: Set<Int> = [1, 2, 3, 5, 7, 8, 9, 10, 11]
        let pdf = try TestPDF.sealed(
            try TestPDF.revision(
                prefix: [], objects: objects.filter { !compressing.contains($0.0) }, compressed: objects.filter { compressing.contains($0.0) },
                size: 12, prev: nil, crossReference: .compressedStream
            )
        ) { try clerk.cmsSignature(over: $0) }
        let stamp = TestPDF.documentTimestamp
        let field = "<< /FT /Sig /T (Timestamp1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P 3 0 R /V 16 0 R >>"
        let update = try TestPDF.appendUpdate(
            to: pdf, objects: [(16, stamp)], compressed: [(7, "[5 0 R 15 0 R]"), (9, "[5 0 R 15 0 R]"), (15, field)], size: 17,
            crossReference: .compressedStream
        )
        let status = await setup.verifier.verify(document: try TestPDF.sealed(update) { _ in [0x30, 0x00] })
        #expect(verifiedCourt(status) == "denver-county-court", "\(status)")
    }

    /// A clerk's certification over a judge's signature: the clerk's signature covers every byte before it, the
    /// judge's included; each must count, so that "verified" never stands beside a signature readers show that no
    /// listed court made.
    @Test("a signature over an earlier one: verified when both count, naming the last signer; the reasons say which")
    func pdfCountersigned() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let judge = try setup.court.issue(commonName: "Hon. J. Doe", organization: "Denver County Court", key: .ec, in: setup.scratch)
        var pdf = try TestPDF.signed { try judge.cmsSignature(over: $0) }
        /// The second signature, in a visible field of its own, as signing software appends it.
        func countersigned(by signer: TestSigner, then later: [(Int, String)] = []) throws -> [UInt8] {
            let update = try TestPDF.appendingSecondSignature(to: pdf, entries: " /M (D:20260302120000Z)")
            let sealed = try TestPDF.sealed(update) { try signer.cmsSignature(over: $0) }
            return later.isEmpty ? sealed : try TestPDF.appendUpdate(to: sealed, objects: later, size: 10)
        }
        let clerk = try setup.clerk(.rsa)
        let status = await setup.verifier.verify(document: try countersigned(by: clerk))
        #expect(verifiedCourt(status) == "denver-county-court", "\(status)")
        if case .verified(let signature) = status { #expect(signature.signer.subject.contains("CN=Clerk of Court"), "\(signature.signer.subject)") }

        let stranger = try setup.clerk(.ec, of: setup.unlisted)
        let unlisted = await setup.verifier.verify(document: try countersigned(by: stranger))
        guard case .unverified(let why, let signer) = unlisted else { Issue.record("\(unlisted)"); return }
        #expect(why.hasPrefix("the last of 2 signatures: "), "\(why)")
        #expect(signer?.subject.contains("CN=Clerk of Court") == true)

        let changed = try countersigned(by: clerk, then: [(9, "<< /Type /Annot /Subtype /FreeText /Rect [72 600 400 640] /Contents (AND 12 ELM ST) >>")])
        let changedStatus = await setup.verifier.verify(document: changed)
        #expect(reason(changedStatus).contains("modified after signing"), "\(changedStatus)")

        // A "judge's" signature that no listed court made, countersigned by a listed clerk: not verified.
        let impostor = try setup.unlisted.issue(commonName: "Hon. J. Doe", organization: "Denver County Court", key: .ec, in: setup.scratch)
        pdf = try TestPDF.signed { try impostor.cmsSignature(over: $0) }
        let forgedJudge = await setup.verifier.verify(document: try countersigned(by: clerk))
        guard case .unverified(let judgeWhy, let judgeSigner) = forgedJudge else { Issue.record("\(forgedJudge)"); return }
        #expect(judgeWhy.hasPrefix("signature 1 of 2: "), "\(judgeWhy)")
        #expect(judgeSigner?.subject.contains("CN=Hon. J. Doe") == true)
        // A broken one is invalid, whoever countersigned it.
        pdf = try TestPDF.signed { try judge.cmsSignature(over: $0 + [0x0A]) }
        let broken = await setup.verifier.verify(document: try countersigned(by: clerk))
        guard case .invalid(let brokenWhy) = broken else { Issue.record("\(broken)"); return }
        #expect(brokenWhy.hasPrefix("signature 1 of 2: "), "\(brokenWhy)")

        // Two signatures that end at the same revision: which would be last is a matter of chance.
        let twin = "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached \(TestPDF.unsealedRangeAndContents) >>"
        let twins = try TestPDF.revision(prefix: [], objects: TestPDF.objects(text: "WARRANT", signed: true) + [(7, twin)], size: 8, prev: nil)
        let both = try TestPDF.sealed(try TestPDF.sealed(twins) { try judge.cmsSignature(over: $0) }) { try clerk.cmsSignature(over: $0) }
        #expect(reason(await setup.verifier.verify(document: both)).contains("two signatures cover the file up to the same offset"))
    }

    @Test("signed cross-reference streams that list a million entries each: the document's entry budget stops the reading")
    func pdfEntryBudget() throws {
        // Forty chained sections, each 2²⁰ one-byte entries that inflate from a kilobyte.
        var bytes = Array("%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".utf8)
        let entries = try TestPDF.deflate([UInt8](repeating: 0, count: 1 << 20))
        var previous: Int?
        for section in 0..<40 {
            let offset = bytes.count
            let link = previous.map { " /Prev \($0)" } ?? ""
            bytes += Array("\(10 + section) 0 obj\n<< /Type /XRef /Size \(1 << 20) /Root 1 0 R /W [0 1 0] /Filter /FlateDecode\(link) /Length \(entries.count) >>\nstream\n".utf8)
            bytes += entries + Array("\nendstream\nendobj\n".utf8)
            previous = offset
        }
        bytes += Array("startxref\n\(previous!)\n%%EOF\n".utf8)
        var decoder = PDFStreamDecoder()
        let signed = try PDFIncrementalUpdates.SignedRevision(bytes, end: bytes.count, decoder: &decoder)
        #expect(signed.unreadable?.contains("list more than \(PDFStreamDecoder.documentEntries) entries") == true, "\(signed.unreadable ?? "nil")")
    }

    @Test("PNG predictors: each row filter decodes to the same samples; other parameters are not decoded")
    func pngPredictors() throws {
        let expected: [UInt8] = [10, 20, 30, 15, 25, 35]
        let rowsByFilter: [UInt8: [[UInt8]]] = [
            0: [[10, 20, 30], [15, 25, 35]],
            1: [[10, 10, 10], [15, 10, 10]],
            2: [[10, 20, 30], [5, 5, 5]],
            3: [[10, 15, 20], [10, 8, 8]],
            4: [[10, 10, 10], [5, 5, 5]],
        ]
        func parsed(_ text: String) throws -> PDFObject {
            var scanner = PDFScanner(Array(text.utf8), at: 0)
            return try scanner.object()
        }
        let parameters = try parsed("<< /Predictor 12 /Columns 3 >>")
        for (filter, rows) in rowsByFilter {
            let data = rows.flatMap { [filter] + $0 }
            #expect(try PDFStreamDecoder.unpredicted(data, parameters: parameters, object: 1) == expected, "filter \(filter)")
        }
        for written in ["<< /Predictor 12.0 /Columns 3 >>", "<< /Predictor 2 /Columns 3 >>", "<< /Predictor 12 /Columns 3 /Colors 3 >>", "<< /Predictor 12 /Columns 4 >>"] {
            let other = try parsed(written)
            #expect(throws: PDFUndecodableStream.self, "\(written)") {
                try PDFStreamDecoder.unpredicted(rowsByFilter[2]!.flatMap { [2] + $0 }, parameters: other, object: 1)
            }
        }
    }

    /// MuPDF ignores parameters written in the other form than the filter (a dictionary beside a filter array, an
    /// array beside a filter name), so such a stream decodes otherwise there: a page read from it could differ.
    @Test("a stream's parameters must take its filter's form: a name with a dictionary, an array with an array")
    func streamParameterForms() throws {
        let data = try TestPDF.deflate(TestPDF.upPredicted([1, 2, 3, 4, 5, 6], columns: 3))
        func decoded(_ filter: String, _ parameters: String) throws -> [UInt8] {
            let text = "1 0 obj\n<< /Filter \(filter) /DecodeParms \(parameters) /Length \(data.count) >>\nstream\n"
            let bytes = Array(text.utf8) + data + Array("\nendstream\nendobj\n".utf8)
            var scanner = PDFScanner(bytes, at: 0)
            var decoder = PDFStreamDecoder()
            return try decoder.decode(try scanner.indirectObject(), in: bytes)
        }
        let predictor = "<< /Predictor 12 /Columns 3 >>"
        #expect(try decoded("/FlateDecode", predictor) == [1, 2, 3, 4, 5, 6])
        #expect(try decoded("[/FlateDecode]", "[\(predictor)]") == [1, 2, 3, 4, 5, 6])
        #expect(throws: PDFUndecodableStream.self) { try decoded("[/FlateDecode]", predictor) }
        #expect(throws: PDFUndecodableStream.self) { try decoded("/FlateDecode", "[\(predictor)]") }
    }

    @Test("a decoy /ByteRange, a ByteRange that leaves a gap, a range short of the file's revision: invalid")
    func pdfByteRangeAttacks() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let pdf = try TestPDF.signed { try clerk.cmsSignature(over: $0) }

        // A decoy before the real one, inside the page's content stream and outside any object.
        for decoy in ["%decoy /ByteRange [0 10 20 30]\n", "99 0 obj\n<< /Decoy << /ByteRange [0 1 2 3] >> >>\nendobj\n"] {
            let decoyed = try TestPDF.signed { try clerk.cmsSignature(over: $0) }
            var bytes = Array(decoyed)
            let at = try #require(TestPDF.find("1 0 obj", in: bytes))
            bytes.insert(contentsOf: Array(decoy.utf8), at: at)
            let status = await setup.verifier.verify(document: bytes)
            #expect(status.refusesRegistration)
            #expect(reason(status).contains("decoy"), "\(status)")
        }

        // A second signature dictionary appended after signing, its range pointing anywhere.
        let appended = try TestPDF.appendUpdate(
            to: pdf, objects: [(7, "<< /Type /Sig /SubFilter /adbe.pkcs7.detached /ByteRange [0 10 20 30] /Contents <00> >>")], size: 8
        )
        let appendedStatus = await setup.verifier.verify(document: appended)
        #expect(reason(appendedStatus).contains("/Contents"), "\(appendedStatus)")

        // The signer's range widened so that the gap swallows more than /Contents (a signature-wrapping attack).
        let range = try #require(TestPDF.find("/ByteRange [0 ", in: pdf))
        let numbers = String(decoding: pdf[(range + 12)...].prefix { $0 != UInt8(ascii: "]") }, as: UTF8.self)
            .split(separator: " ").compactMap { Int($0) }
        try #require(numbers.count == 4)
        let wider = "[0 \(numbers[1] - 10) \(numbers[2]) \(numbers[3])]"
        var gapped = pdf
        let original = "[0 \(numbers[1]) \(numbers[2]) \(numbers[3])]"
        let padded = wider + String(repeating: " ", count: original.utf8.count - wider.utf8.count)
        gapped.replaceSubrange((range + 11)..<(range + 11 + padded.utf8.count), with: Array(padded.utf8))
        let gappedStatus = await setup.verifier.verify(document: gapped)
        #expect(reason(gappedStatus).contains("gap"), "\(gappedStatus)")
    }

    @Test("a /ByteRange key spelt with #-escapes is read as readers read it: checked, or a decoy")
    func pdfEscapedByteRange() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let clerk = try setup.clerk(.ec)
        let escaped = [("/ByteRange [", "/Byte#52ange [")]
        func spelt(_ objects: [(Int, String)], _ changes: [(String, String)]) -> [(Int, String)] {
            objects.map { number, body in (number, changes.reduce(body) { $0.replacingOccurrences(of: $1.0, with: $1.1) }) }
        }

        // A "judge's" signature that no listed court made, under a listed clerk's: the escaped one counts too.
        let impostor = try setup.unlisted.issue(commonName: "Hon. J. Doe", organization: "Denver County Court", key: .ec, in: setup.scratch)
        let judged = try TestPDF.sealed(
            try TestPDF.revision(prefix: [], objects: spelt(TestPDF.objects(text: "WARRANT", signed: true), escaped), size: 7, prev: nil)
        ) { try impostor.cmsSignature(over: $0) }
        let countersign = try TestPDF.appendingSecondSignature(to: judged)
        let status = await setup.verifier.verify(document: try TestPDF.sealed(countersign) { try clerk.cmsSignature(over: $0) })
        guard case .unverified(let why, let signer) = status else { Issue.record("\(status)"); return }
        #expect(why.hasPrefix("signature 1 of 2: "), "\(why)")
        #expect(signer?.subject.contains("CN=Hon. J. Doe") == true)

        // A document time-stamp appended after signing: its range is checked like any other, and must be sealed.
        let pdf = try TestPDF.signed { try clerk.cmsSignature(over: $0) }
        let objects = [
            (1, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 7 0 R] /SigFlags 3 >> >>"),
            (3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots [5 0 R 7 0 R] >>"),
            (7, "<< /FT /Sig /T (Timestamp1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P 3 0 R /V 8 0 R >>"),
            (8, TestPDF.documentTimestamp),
        ]
        for change in [escaped, [("/ByteRange [", "/#42#79#74#65#52#61#6e#67#65 [")]] {
            let update = try TestPDF.appendUpdate(to: pdf, objects: spelt(objects, change), size: 9)
            let sealed = await setup.verifier.verify(document: try TestPDF.sealed(update) { _ in [0x30, 0x00] })
            #expect(verifiedCourt(sealed) == "denver-county-court", "\(change): \(sealed)")
            let unsealed = await setup.verifier.verify(document: update)
            #expect(reason(unsealed).contains("gap"), "\(change): \(unsealed)")
        }

        // In the page's text, escaped: a decoy. With a `#` that escapes nothing, or after a regular byte: another name.
        let decoyed = await setup.verifier.verify(document: try TestPDF.signed(text: "WARRANT /Byte#52ange") { try clerk.cmsSignature(over: $0) })
        #expect(reason(decoyed).contains("decoy"), "\(decoyed)")
        let other = try TestPDF.signed(text: "WARRANT /Byte#5Range /ByteRange# /ByteRange#5") { try clerk.cmsSignature(over: $0) }
        let otherStatus = await setup.verifier.verify(document: other)
        #expect(verifiedCourt(otherStatus) == "denver-county-court", "\(otherStatus)")
    }

    @Test("hostile PDFs never crash and are never verified")
    func hostilePDFs() async throws {
        let verifier = DocumentSignatureVerifier(courts: .empty)
        let samples: [String] = [
            "%PDF-1.7\n1 0 obj << /Type /Sig /ByteRange [0 5 10 99999999999999999999] /Contents <00> >> endobj",
            "%PDF-1.7\n1 0 obj << /ByteRange [0 -5 10 20] /Contents <00> >> endobj",
            "%PDF-1.7\n1 0 obj " + String(repeating: "[", count: 10_000) + " /ByteRange",
            "%PDF-1.7\n1 0 obj << /ByteRange [0 20 30 0] /Contents (" + String(repeating: "(", count: 5000) + " >> endobj",
            "%PDF-1.7\n/ByteRange",
            "%PDF-1.7\nobj /ByteRange",
            "%PDF-1.7\n9999999999999999999999 0 obj << /ByteRange [0 1 2 3] >> endobj",
        ]
        for sample in samples {
            let status = await verifier.verify(document: Array(sample.utf8))
            #expect(status.refusesRegistration, "\(sample.prefix(60)): \(status)")
        }
    }

    // MARK: Time-stamps

    @Test("an RFC 3161 token from a listed authority proves the signing time; an unlisted one proves nothing")
    func timestampProvesSigningTime() async throws {
        let setup = try Setup()
        defer { setup.scratch.remove() }
        let tsaCA = try TestCourtCA(name: "Test TSA")
        let tsa = try tsaCA.issue(
            commonName: "Test Time-Stamping Authority", organization: "Test TSA", key: .rsa, in: setup.scratch, extendedKeyUsage: nil
        )
        let tsaCertificate = try tsaCA.issueTimeStampingCertificate(for: tsa)
        let clerk = try setup.clerk(.ec)
        let signature = try clerk.cmsSignature(over: Self.document)
        let signatureValue = try #require(try CMSSignedMessage(berEncoded: signature[...]).signers.first?.signature)
        let token = try TimestampAuthority.token(
            imprinting: signatureValue, certificate: tsaCertificate, keyPEM: tsa.privateKeyPEM, in: setup.scratch
        )
        let stamped = try CMSTestEditing.addingUnsignedAttribute(CMSObjectIdentifier.signatureTimeStampToken, value: token, to: signature)

        // Registration a year and a half later: the clerk's certificate has expired since.
        let later = Date().addingTimeInterval(540 * 86400)
        let courtWithTSA = Court(
            id: "denver-county-court", name: "Denver County Court", kind: .court, signingAuthorities: [setup.court.certificate],
            timestampAuthorities: [tsaCA.certificate]
        )
        let verifier = DocumentSignatureVerifier(courts: CourtDirectory(courts: [courtWithTSA]))
        let status = await verifier.verify(document: Self.document, detachedSignature: stamped, at: later)
        guard case .verified(let verified) = status else {
            Issue.record("expected verified, got \(status)")
            return
        }
        let proof = try #require(verified.signingTime.proven)
        #expect(abs(proof.time.timeIntervalSinceNow) < 600)
        #expect(proof.authority.contains("Test Time-Stamping Authority"))
        #expect(verified.chainCheckedAt == proof.time)

        let withoutTSA = await setup.verifier.verify(document: Self.document, detachedSignature: stamped, at: later)
        #expect(reason(withoutTSA).contains("expired"), "\(withoutTSA)")

        // A token over another signature value proves nothing.
        let otherToken = try TimestampAuthority.token(
            imprinting: Array("other".utf8), certificate: tsaCertificate, keyPEM: tsa.privateKeyPEM, in: setup.scratch
        )
        let misStamped = try CMSTestEditing.addingUnsignedAttribute(CMSObjectIdentifier.signatureTimeStampToken, value: otherToken, to: signature)
        let misStampedStatus = await verifier.verify(document: Self.document, detachedSignature: misStamped, at: later)
        #expect(misStampedStatus.label == "unverified", "\(misStampedStatus)")
    }

    // MARK: Status

    @Test("the status renders stably for the registry, the log and the CLI")
    func rendering() {
        let signer = SignerIdentity(subject: "CN=Clerk", issuer: "CN=CA", serial: "01", certificateSHA256: "00")
        let verified = DocumentSignatureStatus.verified(
            VerifiedSignature(
                signer: signer, court: CourtReference(id: "c", name: "C"), signingTime: SigningTime(claimed: nil, proven: nil),
                chainCheckedAt: Date()
            )
        )
        #expect(verified.description == "verified")
        #expect(DocumentSignatureStatus.unsigned.description == "unsigned")
        #expect(DocumentSignatureStatus.unverified(reason: "why", signer: signer).description == "unverified: why")
        #expect(DocumentSignatureStatus.invalid(reason: "why").description == "invalid: why")
        #expect(DocumentSignatureStatus.invalid(reason: "why").refusesRegistration)
        #expect(!DocumentSignatureStatus.unverified(reason: "why", signer: nil).refusesRegistration)
    }
}

extension TestCourtCA {
    /// A time-stamping certificate for `signer`'s key: critical extended key usage `timeStamping` (RFC 3161 §2.3).
    func issueTimeStampingCertificate(for signer: TestSigner) throws -> Certificate {
        try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: signer.privateKey.publicKey,
            notValidBefore: Date().addingTimeInterval(-86400), notValidAfter: Date().addingTimeInterval(5 * 365 * 86400),
            issuer: certificate.subject, subject: signer.certificate.subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, nonRepudiation: true))
                Critical(try ExtendedKeyUsage([.timeStamping]))
            },
            issuerPrivateKey: key
        )
    }
}

/// An RFC 3161 authority run with `openssl ts`.
enum TimestampAuthority {
    static func token(imprinting data: [UInt8], certificate: Certificate, keyPEM: String, in directory: ScratchDirectory) throws -> [UInt8] {
        let id = UUID().uuidString
        try directory.write("\(id).data", data)
        try directory.write("\(id)-tsa.pem", Array(try certificate.serializeAsPEM().pemString.utf8))
        try directory.write("\(id)-tsa.key", Array(keyPEM.utf8))
        try directory.write("\(id).serial", Array("01\n".utf8))
        let config = """
            [ tsa ]
            default_tsa = tsa_config
            [ tsa_config ]
            serial = \(directory.path("\(id).serial"))
            default_policy = 1.3.6.1.4.1.99999.1
            digests = sha256
            signer_digest = sha256
            ess_cert_id_alg = sha256
            accuracy = secs:1
            """
        try directory.write("\(id).cnf", Array(config.utf8))
        try OpenSSL.run(["ts", "-query", "-data", "\(id).data", "-sha256", "-cert", "-no_nonce", "-out", "\(id).tsq"], in: directory)
        try OpenSSL.run(
            ["ts", "-reply", "-config", "\(id).cnf", "-queryfile", "\(id).tsq", "-signer", "\(id)-tsa.pem", "-inkey", "\(id)-tsa.key",
             "-token_out", "-out", "\(id).tst"],
            in: directory
        )
        return try directory.read("\(id).tst")
    }
}

/// Re-encodes a CMS SignedData with an unsigned attribute added to its single signer (as a signer adds a time-stamp
/// token after signing).
enum CMSTestEditing {
    static func addingUnsignedAttribute(_ type: ASN1ObjectIdentifier, value: [UInt8], to signature: [UInt8]) throws -> [UInt8] {
        let root = try DER.parse(signature)
        let contentInfo = try children(root)
        let signedData = try children(try children(contentInfo[1])[0])
        let signerInfos = try children(signedData[signedData.count - 1])
        guard signerInfos.count == 1 else { throw TestFailure("expected one signer") }
        var serializer = DER.Serializer()
        try serializer.serialize(type)
        let attribute = tlv(0x30, serializer.serializedBytes + tlv(0x31, value))
        let signerInfo = try children(signerInfos[0]).flatMap { Array($0.encodedBytes) } + tlv(0xA1, attribute)
        let newSignedData = signedData.dropLast().flatMap { Array($0.encodedBytes) } + tlv(0x31, tlv(0x30, signerInfo))
        return tlv(0x30, Array(contentInfo[0].encodedBytes) + tlv(0xA0, tlv(0x30, newSignedData)))
    }

    private static func children(_ node: ASN1Node) throws -> [ASN1Node] {
        guard case .constructed(let nodes) = node.content else { throw TestFailure("not constructed") }
        return Array(nodes)
    }

    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var length: [UInt8]
        if content.count < 0x80 {
            length = [UInt8(content.count)]
        } else {
            var bytes: [UInt8] = []
            var count = content.count
            while count > 0 {
                bytes.insert(UInt8(count & 0xff), at: 0)
                count >>= 8
            }
            length = [0x80 | UInt8(bytes.count)] + bytes
        }
        return [tag] + length + content
    }
}
