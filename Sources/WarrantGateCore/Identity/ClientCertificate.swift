import Crypto
import SwiftASN1
import X509

/// The facts about a verified client certificate that identity and the log need.
///
/// Built from the DER bytes of the leaf that the TLS handshake already verified against the client CA bundle.
/// Nothing here ever comes from a request header. A class: the identity cache shares one per certificate among
/// every connection that presents it, on every event loop.
public final class ClientCertificate: Sendable {
    public let certificate: Certificate
    /// Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo (the same value `openssl ... -pubkey | sha256` gives).
    public let spkiSHA256: String
    /// The subject as an RFC 4514 string, for the log.
    public let subject: String
    /// Lower-case hex of the serial number.
    public let serial: String
    /// Subject attributes by short name; repeated attributes keep the first value only if all values agree.
    public let attributes: [String: [String]]

    public convenience init(derBytes: [UInt8]) throws {
        let certificate = try Certificate(derEncoded: derBytes)
        try self.init(certificate: certificate)
    }

    public init(certificate: Certificate) throws {
        self.certificate = certificate
        var serializer = DER.Serializer()
        try serializer.serialize(certificate.publicKey)
        self.spkiSHA256 = Hex.encode(SHA256.hash(data: serializer.serializedBytes))
        self.subject = certificate.subject.description
        self.serial = Self.serialHex(certificate.serialNumber.bytes)
        var attributes: [String: [String]] = [:]
        for rdn in certificate.subject {
            for attribute in rdn {
                guard let key = Self.shortName(attribute.type) else { continue }
                attributes[key, default: []].append(String(describing: attribute.value))
            }
        }
        self.attributes = attributes
    }

    /// A serial number as the gateway compares it: lower-case hex of its value, without the sign byte or other leading
    /// zero bytes that some tools show (`00:CF:3A…` is `cf3a…`); `00` for zero.
    public static func serialHex(_ bytes: some Collection<UInt8>) -> String {
        let value = bytes.drop { $0 == 0 }
        return value.isEmpty ? "00" : Hex.encode(value)
    }

    /// Lower-case hex SHA-256 of the SubjectPublicKeyInfo of a certificate in PEM form.
    public static func spkiFingerprint(pem: String) throws -> String {
        try ClientCertificate(certificate: Certificate(pemEncoded: pem)).spkiSHA256
    }

    private static func shortName(_ oid: ASN1ObjectIdentifier) -> String? {
        switch oid {
        case .RDNAttributeType.organizationName: "O"
        case .RDNAttributeType.organizationalUnitName: "OU"
        case .RDNAttributeType.commonName: "CN"
        default: nil
        }
    }
}
