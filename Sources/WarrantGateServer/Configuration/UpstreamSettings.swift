import Foundation
import NIOSSL
import WarrantGateCore

/// One upstream system: its base URL and, for `https`, whom the gateway trusts and what it presents there.
///
/// In the configuration file an upstream is either its URL, or a mapping:
/// `{url: https://…, ca-file: …, certificate: …, key: …}`.
public struct UpstreamSettings: Sendable, Equatable, ExpressibleByStringLiteral {
    /// `http` or `https`, with no path, query or trailing slash.
    public var url: String
    /// For `https`: PEM certificates of the CAs that sign the upstream's certificate, trusted instead of the system's
    /// trust store.
    public var caFile: String?
    /// For `https`: a PEM certificate chain the gateway presents when the upstream asks for one, with ``keyPath``.
    public var certificatePath: String?
    /// The private key (PEM) of ``certificatePath``.
    public var keyPath: String?

    public init(url: String, caFile: String? = nil, certificatePath: String? = nil, keyPath: String? = nil) {
        self.url = url
        self.caFile = caFile
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }

    public init(stringLiteral url: String) {
        self.init(url: url)
    }

    var isHTTPS: Bool { url.hasPrefix("https:") }

    /// Reads an upstream from the configuration file; relative paths go through `resolve`.
    init(name: String, node: YAMLNode, resolve: (String) -> String) throws {
        let urlNode: YAMLNode
        if (try? node.string("upstream")) != nil {
            urlNode = node
            self.init(url: try node.string("upstream URL"))
        } else {
            try node.requireKeys(in: ["url", "ca-file", "certificate", "key"], what: "upstream '\(name)'")
            urlNode = try node.required("url", in: "upstream '\(name)'")
            self.init(
                url: try urlNode.string("url"),
                caFile: try node["ca-file"].map { resolve(try $0.string("ca-file")) },
                certificatePath: try node["certificate"].map { resolve(try $0.string("certificate")) },
                keyPath: try node["key"].map { resolve(try $0.string("key")) }
            )
        }
        guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil,
              parsed.path.isEmpty || parsed.path == "/", parsed.query == nil, parsed.user == nil, parsed.fragment == nil
        else { throw urlNode.error("upstream '\(name)' must be an http(s) URL with no path, such as http://10.0.0.5:8080") }
        if url.hasSuffix("/") { url.removeLast() }
        if !isHTTPS, caFile != nil || certificatePath != nil || keyPath != nil {
            throw node.error("upstream '\(name)': ca-file, certificate and key apply to https upstreams only")
        }
        if (certificatePath == nil) != (keyPath == nil) {
            throw node.error("upstream '\(name)': certificate and key go together")
        }
    }

    /// The TLS 1.2 suites offered to an `https` upstream: forward-secret (ECDHE) only, so that a records system's key
    /// stolen later cannot decrypt recorded traffic; AEAD first, then CBC for older county servers.
    static let tls12CipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, .TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        .TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, .TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
    ]

    /// The client TLS settings for an `https` upstream, its files read now; nil for `http`. TLS 1.2 or later with
    /// ``tls12CipherSuites``, the upstream's certificate verified against ``caFile`` (else the system's trust store)
    /// and its name or address.
    func tlsConfiguration(name: String) throws -> TLSConfiguration? {
        guard isHTTPS else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.cipherSuiteValues = Self.tls12CipherSuites
        tls.certificateVerification = .fullVerification
        func read<Loaded>(_ path: String, _ load: (String) throws -> Loaded) throws -> Loaded {
            do { return try load(path) } catch { throw TLSSetupError("upstream '\(name)': cannot read \(path): \(error)") }
        }
        if let caFile {
            let roots = try read(caFile, NIOSSLCertificate.fromPEMFile)
            guard !roots.isEmpty else { throw TLSSetupError("upstream '\(name)': no certificate in \(caFile)") }
            tls.trustRoots = .certificates(roots)
        }
        if let certificatePath, let keyPath {
            tls.certificateChain = try read(certificatePath, NIOSSLCertificate.fromPEMFile).map { .certificate($0) }
            tls.privateKey = .privateKey(try read(keyPath) { try NIOSSLPrivateKey(file: $0, format: .pem) })
        }
        return tls
    }
}
