import SwiftASN1
import X509

/// A CMS SignedData structure (RFC 5652), read with SwiftASN1 rather than swift-certificates' verifier so that the
/// exact signed-attribute bytes, the unsigned attributes and each signer are available, and algorithms that verifier
/// refuses (`rsaEncryption`) can be normalised.
///
/// Parsing checks structure only; ``CMSSignatureCheck`` checks the cryptography.
struct CMSSignedMessage {
    static let maximumSize = 4 << 20
    static let maximumCertificates = 64
    static let maximumSigners = 16
    static let maximumAttributes = 64

    let certificates: [Certificate]
    let signers: [CMSSigner]
    let contentType: ASN1ObjectIdentifier
    /// The encapsulated content, if the signature is not detached.
    let content: [UInt8]?

    /// Parses a DER or BER ContentInfo holding SignedData; throws ``CMSFormatError`` naming what is wrong.
    init(berEncoded bytes: ArraySlice<UInt8>) throws {
        guard bytes.count <= Self.maximumSize else { throw CMSFormatError("the signature is larger than \(Self.maximumSize) bytes") }
        let root: ASN1Node
        do {
            root = try BER.parse(bytes)
        } catch {
            throw CMSFormatError("the signature is not a DER or BER structure")
        }
        let contentInfo = try Self.children(root, .sequence, "ContentInfo")
        guard contentInfo.count == 2, try Self.objectIdentifier(contentInfo[0], "contentType") == CMSObjectIdentifier.signedData else {
            throw CMSFormatError("the signature is not CMS SignedData")
        }
        let wrapped = try Self.children(contentInfo[1], ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific), "content")
        guard wrapped.count == 1 else { throw CMSFormatError("ContentInfo content must hold one SignedData") }
        let signedData = try Self.children(wrapped[0], .sequence, "SignedData")
        guard signedData.count >= 4 else { throw CMSFormatError("SignedData is incomplete") }
        guard let version = try? Int(berEncoded: signedData[0]), [1, 3, 4, 5].contains(version) else {
            throw CMSFormatError("SignedData has an unknown version")
        }
        _ = try Self.children(signedData[1], .set, "digestAlgorithms")

        let encapsulated = try Self.children(signedData[2], .sequence, "EncapsulatedContentInfo")
        guard (1...2).contains(encapsulated.count) else { throw CMSFormatError("EncapsulatedContentInfo is malformed") }
        contentType = try Self.objectIdentifier(encapsulated[0], "eContentType")
        if encapsulated.count == 2 {
            let explicit = try Self.children(encapsulated[1], ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific), "eContent")
            guard explicit.count == 1 else { throw CMSFormatError("eContent is malformed") }
            content = try Self.octets(explicit[0], "eContent")
        } else {
            content = nil
        }

        var index = 3
        var certificates: [Certificate] = []
        if signedData[index].identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) {
            let choices = try Self.children(signedData[index], signedData[index].identifier, "certificates")
            guard choices.count <= Self.maximumCertificates else { throw CMSFormatError("more than \(Self.maximumCertificates) certificates") }
            // Only X.509 certificates (SEQUENCE) are used; attribute and other certificate choices are tagged and skipped.
            for choice in choices where choice.identifier == .sequence {
                do {
                    certificates.append(try Certificate(derEncoded: Array(choice.encodedBytes)))
                } catch {
                    throw CMSFormatError("a certificate in the signature cannot be parsed")
                }
            }
            index += 1
        }
        if index < signedData.count, signedData[index].identifier == ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific) {
            index += 1
        }
        guard index == signedData.count - 1 else { throw CMSFormatError("SignedData has unexpected fields") }
        let signerInfos = try Self.children(signedData[index], .set, "signerInfos")
        guard signerInfos.count <= Self.maximumSigners else { throw CMSFormatError("more than \(Self.maximumSigners) signers") }
        self.certificates = certificates
        self.signers = try signerInfos.map(CMSSigner.init(node:))
    }

    /// The children of a constructed node with the given tag.
    static func children(_ node: ASN1Node, _ identifier: ASN1Identifier, _ what: String) throws -> [ASN1Node] {
        guard node.identifier == identifier, case .constructed(let collection) = node.content else {
            throw CMSFormatError("\(what) is malformed")
        }
        return Array(collection)
    }

    static func objectIdentifier(_ node: ASN1Node, _ what: String) throws -> ASN1ObjectIdentifier {
        do {
            return try ASN1ObjectIdentifier(berEncoded: node)
        } catch {
            throw CMSFormatError("\(what) is not an object identifier")
        }
    }

    /// The bytes of an OCTET STRING, primitive or (BER) constructed from primitive segments.
    static func octets(_ node: ASN1Node, _ what: String) throws -> [UInt8] {
        guard node.identifier == .octetString else { throw CMSFormatError("\(what) is not an OCTET STRING") }
        switch node.content {
        case .primitive(let bytes):
            return Array(bytes)
        case .constructed(let segments):
            var bytes: [UInt8] = []
            for segment in segments {
                guard segment.identifier == .octetString, case .primitive(let part) = segment.content else {
                    throw CMSFormatError("\(what) is a malformed constructed OCTET STRING")
                }
                bytes.append(contentsOf: part)
            }
            return bytes
        }
    }
}

/// One SignerInfo of a SignedData.
struct CMSSigner {
    enum SignerReference {
        case issuerAndSerialNumber(issuer: DistinguishedName, serial: Certificate.SerialNumber)
        case subjectKeyIdentifier([UInt8])
    }

    let reference: SignerReference
    let digestAlgorithm: ASN1ObjectIdentifier
    /// The signed attributes, and their DER encoding as a SET (what the signature covers, RFC 5652 §5.4).
    let signedAttributes: CMSAttributes?
    let signedAttributesDER: [UInt8]?
    let signatureAlgorithm: ASN1ObjectIdentifier
    let signature: [UInt8]
    let unsignedAttributes: CMSAttributes

    init(node: ASN1Node) throws {
        let fields = try CMSSignedMessage.children(node, .sequence, "SignerInfo")
        guard fields.count >= 5 else { throw CMSFormatError("SignerInfo is incomplete") }
        guard let version = try? Int(berEncoded: fields[0]), version == 1 || version == 3 else {
            throw CMSFormatError("SignerInfo has an unknown version")
        }
        switch fields[1].identifier {
        case .sequence:
            let parts = try CMSSignedMessage.children(fields[1], .sequence, "IssuerAndSerialNumber")
            guard parts.count == 2, let issuer = try? DistinguishedName(derEncoded: DER.parse(parts[0].encodedBytes)),
                let serial = try? ArraySlice<UInt8>(berEncoded: parts[1])
            else { throw CMSFormatError("IssuerAndSerialNumber is malformed") }
            reference = .issuerAndSerialNumber(issuer: issuer, serial: Certificate.SerialNumber(bytes: serial))
        case ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific):
            guard case .primitive(let keyIdentifier) = fields[1].content else { throw CMSFormatError("SubjectKeyIdentifier is malformed") }
            reference = .subjectKeyIdentifier(Array(keyIdentifier))
        default:
            throw CMSFormatError("SignerIdentifier is malformed")
        }
        digestAlgorithm = try Self.algorithm(fields[2], "digestAlgorithm")

        var index = 3
        let signedTag = ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)
        if fields[index].identifier == signedTag {
            // The signature covers the DER encoding with the SET tag in place of the implicit [0] (RFC 5652 §5.4).
            var der = Array(fields[index].encodedBytes)
            der[0] = 0x31
            guard let reparsed = try? DER.parse(der) else { throw CMSFormatError("the signed attributes are not DER") }
            signedAttributes = try CMSAttributes(reparsed)
            signedAttributesDER = der
            index += 1
        } else {
            signedAttributes = nil
            signedAttributesDER = nil
        }
        guard index + 2 <= fields.count else { throw CMSFormatError("SignerInfo is incomplete") }
        signatureAlgorithm = try Self.algorithm(fields[index], "signatureAlgorithm")
        signature = try CMSSignedMessage.octets(fields[index + 1], "signature")
        index += 2
        if index < fields.count, fields[index].identifier == ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific) {
            unsignedAttributes = try CMSAttributes(fields[index])
            index += 1
        } else {
            unsignedAttributes = CMSAttributes()
        }
        guard index == fields.count else { throw CMSFormatError("SignerInfo has unexpected fields") }
    }

    /// The algorithm OID of an AlgorithmIdentifier.
    static func algorithm(_ node: ASN1Node, _ what: String) throws -> ASN1ObjectIdentifier {
        let parts = try CMSSignedMessage.children(node, .sequence, what)
        guard (1...2).contains(parts.count) else { throw CMSFormatError("\(what) is malformed") }
        return try CMSSignedMessage.objectIdentifier(parts[0], what)
    }

    /// The certificate among `certificates` that this signer identifies.
    func certificate(in certificates: [Certificate]) -> Certificate? {
        switch reference {
        case .issuerAndSerialNumber(let issuer, let serial):
            return certificates.first { $0.issuer == issuer && $0.serialNumber == serial }
        case .subjectKeyIdentifier(let keyIdentifier):
            return certificates.first { certificate in
                (try? certificate.extensions.subjectKeyIdentifier)?.map { Array($0.keyIdentifier) == keyIdentifier } ?? false
            }
        }
    }
}

/// A SET OF Attribute: each attribute type with its values. A type may appear once.
struct CMSAttributes {
    private var values: [ASN1ObjectIdentifier: [ASN1Node]] = [:]

    init() {}

    init(_ node: ASN1Node) throws {
        guard case .constructed(let attributes) = node.content else { throw CMSFormatError("attributes are malformed") }
        for attribute in attributes {
            guard values.count < CMSSignedMessage.maximumAttributes else { throw CMSFormatError("too many attributes") }
            let parts = try CMSSignedMessage.children(attribute, .sequence, "Attribute")
            guard parts.count == 2 else { throw CMSFormatError("an attribute is malformed") }
            let type = try CMSSignedMessage.objectIdentifier(parts[0], "attribute type")
            let attributeValues = try CMSSignedMessage.children(parts[1], .set, "attribute values")
            guard values[type] == nil else { throw CMSFormatError("attribute \(type) appears twice") }
            values[type] = attributeValues
        }
    }

    /// The single value of an attribute; nil if absent, an error if it has several values.
    func single(_ type: ASN1ObjectIdentifier, _ what: String) throws -> ASN1Node? {
        guard let nodes = values[type] else { return nil }
        guard nodes.count == 1 else { throw CMSFormatError("the \(what) attribute must have exactly one value") }
        return nodes[0]
    }
}

/// A signature whose structure is not CMS as RFC 5652 defines it.
struct CMSFormatError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The CMS object identifiers the checks use (RFC 5652, RFC 3161, RFC 5035).
enum CMSObjectIdentifier {
    static let signedData: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 7, 2]
    static let data: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 7, 1]
    static let tstInfo: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 9, 16, 1, 4]
    static let contentType: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 9, 3]
    static let messageDigest: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 9, 4]
    static let signingTime: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 9, 5]
    static let signatureTimeStampToken: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 9, 16, 2, 14]
}
