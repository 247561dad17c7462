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

/// A web of look-alike issuers, as an attacker's signature carries them: `layers` layers of two CAs that share one
/// name, each certified by both CAs of the layer above (four certificates a layer, 2^layers paths through them), the
/// top layer certified by nothing trusted; and a signer named as a Denver clerk, issued by the bottom layer.
struct LookAlikeIssuers {
    let signer: TestSigner
    let certificates: [Certificate]

    init(layers: Int, now: Date = Date()) throws {
        let keys = (0...layers).map { _ in [P256.Signing.PrivateKey(), P256.Signing.PrivateKey()] }
        func name(_ layer: Int) throws -> DistinguishedName {
            try DistinguishedName {
                OrganizationName("Denver County Court")
                CommonName("Denver County Court Signing CA \(layer)")
            }
        }
        var certificates: [Certificate] = []
        for layer in 0..<layers {
            for key in keys[layer] {
                for issuer in keys[layer + 1] {
                    certificates.append(try Certificate(
                        version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
                        notValidBefore: now.addingTimeInterval(-86400), notValidAfter: now.addingTimeInterval(86400),
                        issuer: try name(layer + 1), subject: try name(layer), signatureAlgorithm: .ecdsaWithSHA256,
                        extensions: try Certificate.Extensions {
                            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                            Critical(KeyUsage(keyCertSign: true))
                        },
                        issuerPrivateKey: Certificate.PrivateKey(issuer)
                    ))
                }
            }
        }
        let signerKey = P256.Signing.PrivateKey()
        let signer = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(signerKey.publicKey),
            notValidBefore: now.addingTimeInterval(-86400), notValidAfter: now.addingTimeInterval(86400), issuer: try name(0),
            subject: try DistinguishedName {
                OrganizationName("Denver County Court")
                OrganizationalUnitName("Clerk")
                CommonName("Clerk of Court")
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, nonRepudiation: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(keys[0][0])
        )
        self.signer = TestSigner(certificate: signer, privateKey: Certificate.PrivateKey(signerKey), privateKeyPEM: signerKey.pemRepresentation)
        self.certificates = certificates
    }

    /// A detached CMS signature over `bytes` carrying the signer's and the web's certificates.
    func cmsSignature(over bytes: [UInt8]) throws -> [UInt8] {
        try CMS.sign(bytes, additionalIntermediateCertificates: certificates, certificate: signer.certificate, privateKey: signer.privateKey, signingTime: Date())
    }
}
