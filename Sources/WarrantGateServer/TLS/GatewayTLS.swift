import HummingbirdHTTP2
import NIOSSL

/// The gateway's TLS posture: TLS 1.2 minimum (1.3 preferred), ECDHE with AEAD only for TLS 1.2, no renegotiation,
/// and a client certificate required, verified by ``ClientCertificateVerifier``.
public enum GatewayTLS {
    /// TLS 1.2 suites allowed: forward-secret key exchange and authenticated encryption only, and one suite per
    /// server key type. swift-nio-ssl cannot make the server's cipher order win, so offering a single suite is what
    /// keeps the choice out of the client's hands. TLS 1.3 suites are BoringSSL's fixed AEAD set.
    public static let tls12CipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ]

    static func channelConfiguration(identity: ServerIdentity, verifier: ClientCertificateVerifier) -> HummingbirdHTTP2.TLSChannelConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: identity.chain.map { .certificate($0) }, privateKey: .privateKey(identity.key)
        )
        // Request and require a client certificate. NIOSSL's full verification would also match the client's
        // certificate to its IP address, which agency certificates do not carry; the chain, dates and revocation
        // are checked by the verifier instead, which replaces BoringSSL's own checks.
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates([])
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = tls12CipherSuites
        configuration.renegotiationSupport = .none
        configuration.shutdownTimeout = .milliseconds(500)
        configuration.sslContextCallback = identity.contextCallback
        return HummingbirdHTTP2.TLSChannelConfiguration(
            tlsConfiguration: configuration,
            customAsyncVerificationCallback: { certificates in await verifier.verify(certificates) }
        )
    }
}

/// A TLS file that cannot be used.
public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
