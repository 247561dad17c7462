import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate and its private key, both PEM.
public struct IssuedCertificate: Sendable {
    public let certificatePEM: String
    public let privateKeyPEM: String
    public let certificate: Certificate
}

/// A development certificate authority, made with swift-certificates and swift-crypto (no shell-outs).
///
/// For demos and tests only: keys are P-256 and stored unencrypted.
public struct DevCertificateAuthority: Sendable {
    /// The organization every certificate of the development PKI names, by which a gateway tells it from a real one.
    public static let organization = "WarrantGate Demo"

    public let certificate: Certificate
    private let key: P256.Signing.PrivateKey

    public var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }
    public var privateKeyPEM: String { key.pemRepresentation }

    /// Whether `certificate` names the development PKI's organization.
    public static func isDevelopment(_ certificate: Certificate) -> Bool {
        certificate.subject.contains { $0.contains { $0.type == .RDNAttributeType.organizationName && $0.value.description == organization } }
    }

    /// Creates a new self-signed CA.
    public init(commonName: String, organization: String = DevCertificateAuthority.organization, validFor days: Int = 3650, now: Date = Date()) throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName(organization)
            CommonName(commonName)
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        self.key = key
        self.certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(TimeInterval(days) * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
    }

    /// Loads a CA from PEM files written by ``write(certificateTo:keyTo:)``.
    public init(certificatePEM: String, privateKeyPEM: String) throws {
        self.certificate = try Certificate(pemEncoded: certificatePEM)
        self.key = try P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
    }

    /// Issues a server certificate for the given DNS names and IP addresses.
    public func issueServer(dnsNames: [String], ipAddresses: [String], validFor days: Int = 397, now: Date = Date()) throws -> IssuedCertificate {
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        for address in ipAddresses {
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(try Self.ipBytes(address)))))
        }
        let sanEntries = names
        return try issue(
            subject: DistinguishedName {
                OrganizationName(Self.organization)
                CommonName(dnsNames.first ?? "localhost")
            },
            notBefore: now.addingTimeInterval(-3600), notAfter: now.addingTimeInterval(TimeInterval(days) * 86400 - 7200),
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(sanEntries)
            }
        )
    }

    /// The extensions of a client certificate: not a CA, `digitalSignature`, `clientAuth`.
    public static func clientExtensions() throws -> Certificate.Extensions {
        try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.clientAuth])
        }
    }

    /// Issues a client certificate with subject `O=<organization>, OU=<unit>, CN=<commonName>`; `extensions` default
    /// to ``clientExtensions()``.
    public func issueClient(
        commonName: String, organizationalUnit: String, organization: String = DevCertificateAuthority.organization,
        notBefore: Date = Date().addingTimeInterval(-3600), notAfter: Date = Date().addingTimeInterval(825 * 86400),
        extensions: Certificate.Extensions? = nil
    ) throws -> IssuedCertificate {
        try issue(
            subject: DistinguishedName {
                OrganizationName(organization)
                OrganizationalUnitName(organizationalUnit)
                CommonName(commonName)
            },
            notBefore: notBefore, notAfter: notAfter, extensions: try extensions ?? Self.clientExtensions()
        )
    }

    private func issue(subject: DistinguishedName, notBefore: Date, notAfter: Date, extensions: Certificate.Extensions) throws -> IssuedCertificate {
        let leafKey = P256.Signing.PrivateKey()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(leafKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: self.certificate.subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return IssuedCertificate(
            certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: leafKey.pemRepresentation, certificate: certificate
        )
    }

    private static func ipBytes(_ address: String) throws -> [UInt8] {
        let parts = address.split(separator: ".").compactMap { UInt8($0) }
        guard parts.count == 4 else { throw DevPKIError("only IPv4 addresses are supported in the dev PKI: \(address)") }
        return parts
    }
}

/// A failure while creating or loading the dev PKI.
public struct DevPKIError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The demo's PKI on disk: `ca.pem` (+ `ca.key`), `server.pem`/`server.key`, and `<name>.pem`/`<name>.key` per client,
/// plus `<name>-bundle.pem` (certificate then key) for tools such as `ab -E`.
public struct DevPKIDirectory: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    public var caPath: String { file("ca.pem") }
    public var serverCertificatePath: String { file("server.pem") }
    public var serverKeyPath: String { file("server.key") }
    public func clientCertificatePath(_ name: String) -> String { file("\(name).pem") }
    public func clientKeyPath(_ name: String) -> String { file("\(name).key") }
    public func clientBundlePath(_ name: String) -> String { file("\(name)-bundle.pem") }

    /// Creates whatever is missing, reusing what exists: the CA, the server certificate, and one client certificate
    /// per name (`OU` and `CN` set to the name). Returns the names that were created.
    @discardableResult
    public func ensure(clients: [String], serverDNSNames: [String] = ["localhost"], serverIPs: [String] = ["127.0.0.1"]) throws -> [String] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var created: [String] = []
        let ca: DevCertificateAuthority
        if let certificate = read("ca.pem"), let key = read("ca.key") {
            ca = try DevCertificateAuthority(certificatePEM: certificate, privateKeyPEM: key)
        } else {
            ca = try DevCertificateAuthority(commonName: "WarrantGate Demo CA")
            try write("ca.key", ca.privateKeyPEM, secret: true)
            try write("ca.pem", ca.certificatePEM, secret: false)
            created.append("ca")
            for name in ["server"] + clients { try? FileManager.default.removeItem(atPath: file("\(name).pem")) }
        }
        if read("server.pem") == nil || read("server.key") == nil {
            let server = try ca.issueServer(dnsNames: serverDNSNames, ipAddresses: serverIPs)
            try write("server.key", server.privateKeyPEM, secret: true)
            try write("server.pem", server.certificatePEM, secret: false)
            created.append("server")
        }
        for name in clients where read("\(name).pem") == nil || read("\(name).key") == nil {
            let client = try ca.issueClient(commonName: name, organizationalUnit: name)
            try write("\(name).key", client.privateKeyPEM, secret: true)
            try write("\(name).pem", client.certificatePEM, secret: false)
            try write("\(name)-bundle.pem", Self.terminated(client.certificatePEM) + client.privateKeyPEM, secret: true)
            created.append(name)
        }
        return created
    }

    private func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// PEM text ending in a newline, so that concatenated files (certificate then key) stay valid.
    private static func terminated(_ text: String) -> String { text.hasSuffix("\n") ? text : text + "\n" }

    private func read(_ name: String) -> String? { try? String(contentsOfFile: file(name), encoding: .utf8) }

    /// Writes atomically; private keys get owner-only permissions.
    private func write(_ name: String, _ text: String, secret: Bool) throws {
        let path = file(name)
        try Data(Self.terminated(text).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: secret ? 0o600 : 0o644], ofItemAtPath: path)
    }
}
