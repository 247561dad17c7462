import Crypto
import Foundation
import SwiftASN1
@_spi(CMS) import X509
@testable import WarrantGateCore

/// A scratch directory for one test, removed when the value is released by `defer`.
struct ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("wg-signatures-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: url.appendingPathComponent(name))
        return path(name)
    }

    func read(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: url.appendingPathComponent(name))) }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Runs the `openssl` command-line tool (installed here and in CI); throws with its error output on failure.
enum OpenSSL {
    @discardableResult
    static func run(_ arguments: [String], in directory: ScratchDirectory) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = directory.url
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("openssl \(arguments.joined(separator: " ")): \(String(decoding: errorData, as: UTF8.self))")
        }
        return String(decoding: outputData, as: UTF8.self)
    }

    /// A new 2048-bit RSA private key, PKCS #8 PEM.
    static func rsaKeyPEM(in directory: ScratchDirectory) throws -> String {
        let name = "rsa-\(UUID().uuidString).key"
        try run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", name], in: directory)
        return String(decoding: try directory.read(name), as: UTF8.self)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A signing certificate and its key.
struct TestSigner {
    let certificate: Certificate
    let privateKey: Certificate.PrivateKey
    let privateKeyPEM: String

    var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }

    /// A detached CMS signature made by swift-certificates (sha256WithRSAEncryption or ecdsa-with-SHA256), with
    /// signed attributes (and a signing time) unless `signingTime` is nil.
    func cmsSignature(over bytes: [UInt8], signingTime: Date? = Date()) throws -> [UInt8] {
        try CMS.sign(bytes, certificate: certificate, privateKey: privateKey, signingTime: signingTime)
    }

    /// A detached DER signature made by `openssl cms -sign -binary -md sha256` (it writes `rsaEncryption` for RSA).
    func opensslSignature(over bytes: [UInt8], in directory: ScratchDirectory, extraArguments: [String] = []) throws -> [UInt8] {
        let id = UUID().uuidString
        try directory.write("\(id).pem", Array(certificatePEM.utf8))
        try directory.write("\(id).key", Array(privateKeyPEM.utf8))
        try directory.write("\(id).bin", bytes)
        try OpenSSL.run(
            ["cms", "-sign", "-binary", "-in", "\(id).bin", "-signer", "\(id).pem", "-inkey", "\(id).key", "-md", "sha256", "-outform", "DER",
             "-out", "\(id).p7s"] + extraArguments,
            in: directory
        )
        return try directory.read("\(id).p7s")
    }
}

/// A court's signing CA, made at test time with swift-certificates (P-256).
struct TestCourtCA {
    enum KeyKind { case rsa, ec }

    let certificate: Certificate
    let key: Certificate.PrivateKey

    var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }

    init(name: String, now: Date = Date()) throws {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName(name)
            CommonName("\(name) Signing CA")
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        self.key = Certificate.PrivateKey(key)
        certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-10 * 365 * 86400), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: self.key
        )
    }

    /// Issues a signer `O=<organization>, OU=<unit>, CN=<commonName>` with `digitalSignature` and `nonRepudiation`
    /// and, unless nil, the given extended key usages.
    func issue(
        commonName: String, organization: String, unit: String = "Clerk", key kind: KeyKind, in directory: ScratchDirectory,
        notBefore: Date = Date().addingTimeInterval(-86400), notAfter: Date = Date().addingTimeInterval(365 * 86400),
        extendedKeyUsage: [ExtendedKeyUsage.Usage]? = [ExtendedKeyUsage.Usage(oid: [1, 3, 6, 1, 5, 5, 7, 3, 36])]
    ) throws -> TestSigner {
        let privateKeyPEM: String
        switch kind {
        case .rsa: privateKeyPEM = try OpenSSL.rsaKeyPEM(in: directory)
        case .ec: privateKeyPEM = P256.Signing.PrivateKey().pemRepresentation
        }
        let privateKey = try Certificate.PrivateKey(pemEncoded: privateKeyPEM)
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: privateKey.publicKey,
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: self.certificate.subject,
            subject: try DistinguishedName {
                OrganizationName(organization)
                OrganizationalUnitName(unit)
                CommonName(commonName)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, nonRepudiation: true))
                if let extendedKeyUsage { try ExtendedKeyUsage(extendedKeyUsage) }
            },
            issuerPrivateKey: key
        )
        return TestSigner(certificate: certificate, privateKey: privateKey, privateKeyPEM: privateKeyPEM)
    }
}

/// Minimal PDFs built byte by byte, signed the way PAdES signers do: a /Sig dictionary with a /ByteRange and a
/// zero-filled /Contents placeholder, the byte range computed, the bytes around the placeholder signed, and the
/// signature's hex spliced in.
enum TestPDF {
    static let placeholderBytes = 8192

    /// The body of a one-page document, objects 1 to 4, with the catalog and page as given.
    static func objects(text: String, signed: Bool) -> [(Int, String)] {
        let content = "BT /F1 12 Tf 72 720 Td (\(text)) Tj ET"
        var objects: [(Int, String)] = [
            (1, signed ? "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> >>" : "<< /Type /Catalog /Pages 2 0 R >>"),
            (2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            (3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R\(signed ? " /Annots [5 0 R]" : "") >>"),
            (4, "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream"),
        ]
        if signed {
            objects.append((5, "<< /FT /Sig /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R /T (Signature1) /V 6 0 R >>"))
            objects.append(
                (6, "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 0000000000 0000000000 0000000000] "
                    + "/Contents <\(String(repeating: "0", count: placeholderBytes * 2))> /M (D:20260301120000Z) >>")
            )
        }
        return objects
    }

    /// Writes objects, an xref table and a trailer after `prefix` (empty for a new file): a complete revision.
    static func revision(prefix: [UInt8], objects: [(Int, String)], size: Int, prev: Int?, header: String = "%PDF-1.7\n%\u{e2}\u{e3}\u{cf}\u{d3}\n") -> [UInt8] {
        var bytes = prefix.isEmpty ? Array(header.utf8) : prefix
        var offsets: [(Int, Int)] = []
        for (number, body) in objects {
            offsets.append((number, bytes.count))
            bytes += Array("\(number) 0 obj\n\(body)\nendobj\n".utf8)
        }
        let xrefOffset = bytes.count
        var xref = "xref\n"
        if prev == nil {
            xref += "0 \(objects.count + 1)\n0000000000 65535 f \n"
            for (_, offset) in offsets.sorted(by: { $0.0 < $1.0 }) { xref += String(format: "%010d 00000 n \n", offset) }
        } else {
            for (number, offset) in offsets.sorted(by: { $0.0 < $1.0 }) { xref += "\(number) 1\n" + String(format: "%010d 00000 n \n", offset) }
        }
        let previous = prev.map { " /Prev \($0)" } ?? ""
        xref += "trailer\n<< /Size \(size) /Root 1 0 R\(previous) >>\nstartxref\n\(xrefOffset)\n%%EOF\n"
        return bytes + Array(xref.utf8)
    }

    static func unsigned(text: String = "WARRANT") -> [UInt8] {
        revision(prefix: [], objects: objects(text: text, signed: false), size: 5, prev: nil)
    }

    /// A signed one-revision PDF; `sign` receives the bytes the byte range covers.
    static func signed(text: String = "WARRANT", sign: ([UInt8]) throws -> [UInt8]) throws -> [UInt8] {
        var bytes = revision(prefix: [], objects: objects(text: text, signed: true), size: 7, prev: nil)
        guard let contents = find("/Contents <", in: bytes), let byteRange = find("[0 0000000000 0000000000 0000000000]", in: bytes) else {
            throw TestFailure("placeholder not found")
        }
        let gapStart = contents + "/Contents ".utf8.count
        let gapEnd = gapStart + placeholderBytes * 2 + 2
        let range = "[0 \(gapStart) \(gapEnd) \(bytes.count - gapEnd)]"
        let padded = range + String(repeating: " ", count: "[0 0000000000 0000000000 0000000000]".utf8.count - range.utf8.count)
        bytes.replaceSubrange(byteRange..<byteRange + padded.utf8.count, with: Array(padded.utf8))
        let signature = try sign(Array(bytes[..<gapStart] + bytes[gapEnd...]))
        guard signature.count <= placeholderBytes else { throw TestFailure("signature too large") }
        let hex = Array(Hex.encode(signature).uppercased().utf8)
        bytes.replaceSubrange(gapStart + 1..<gapStart + 1 + hex.count, with: hex)
        return bytes
    }

    /// The offset of the last `startxref` value.
    static func startxref(of bytes: [UInt8]) throws -> Int {
        guard let keyword = findLast("startxref\n", in: bytes) else { throw TestFailure("no startxref") }
        let digits = bytes[(keyword + 10)...].prefix { (48...57).contains($0) }
        guard let value = Int(String(decoding: digits, as: UTF8.self)) else { throw TestFailure("bad startxref") }
        return value
    }

    /// Appends an incremental update with the given objects.
    static func appendUpdate(to bytes: [UInt8], objects: [(Int, String)], size: Int) throws -> [UInt8] {
        revision(prefix: bytes, objects: objects, size: size, prev: try startxref(of: bytes))
    }

    static func find(_ text: String, in bytes: [UInt8], from start: Int = 0) -> Int? {
        let pattern = Array(text.utf8)
        guard bytes.count >= pattern.count else { return nil }
        return (start...(bytes.count - pattern.count)).first { bytes[$0..<$0 + pattern.count].elementsEqual(pattern) }
    }

    static func findLast(_ text: String, in bytes: [UInt8]) -> Int? {
        let pattern = Array(text.utf8)
        guard bytes.count >= pattern.count else { return nil }
        return (0...(bytes.count - pattern.count)).reversed().first { bytes[$0..<$0 + pattern.count].elementsEqual(pattern) }
    }
}
