import NIOSSL

/// The gateway's TLS posture: TLS 1.2 minimum (1.3 preferred), ECDHE with AEAD only for TLS 1.2, no renegotiation,
/// and a client certificate required that chains to the configured client CA bundle.
public enum GatewayTLS {
    /// TLS 1.2 suites allowed: forward-secret key exchange and authenticated encryption only.
    public static let tls12CipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    public static func serverConfiguration(certificatePath: String, keyPath: String, clientCAPath: String) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        let roots = try NIOSSLCertificate.fromPEMFile(clientCAPath)
        guard !roots.isEmpty else { throw TLSSetupError("no certificates in the client CA bundle \(clientCAPath)") }
        var configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: chain, privateKey: .privateKey(key), trustRoots: .certificates(roots)
        )
        // NIOSSL's server default is full verification, which also matches the client's certificate to its IP
        // address; agency certificates carry no IP, so chain and validity are checked without host names.
        configuration.certificateVerification = .noHostnameVerification
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = tls12CipherSuites
        configuration.renegotiationSupport = .none
        configuration.shutdownTimeout = .milliseconds(500)
        configuration.sendCANameList = true
        return configuration
    }
}

/// A TLS file that cannot be used.
public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
