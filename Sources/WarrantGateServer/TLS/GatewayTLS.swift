import NIOCore
import NIOSSL

/// The gateway's TLS posture: TLS 1.2 minimum (1.3 preferred), ECDHE with AEAD only for TLS 1.2, no renegotiation,
/// HTTP/2 or HTTP/1.1 by ALPN, and a client certificate required, verified by ``ClientCertificateVerifier``.
public enum GatewayTLS {
    /// TLS 1.2 suites allowed: forward-secret key exchange and authenticated encryption only, and one suite per
    /// server key type. swift-nio-ssl cannot make the server's cipher order win, so offering a single suite is what
    /// keeps the choice out of the client's hands. TLS 1.3 suites are BoringSSL's fixed AEAD set.
    public static let tls12CipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ]

    /// The protocols offered by ALPN, preferred first. A client that offers none speaks HTTP/1.1.
    static let applicationProtocols = ["h2", "http/1.1"]

    /// The server context every connection's TLS handler is made from. A replaced server identity reaches new
    /// handshakes through the identity's context callback.
    static func serverContext(identity: ServerIdentity) throws -> NIOSSLContext {
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
        configuration.applicationProtocols = applicationProtocols
        configuration.sslContextCallback = identity.contextCallback
        return try NIOSSLContext(configuration: configuration)
    }

    /// The handshake's verification callback. A chain whose leaf validated recently under the trust in force is
    /// accepted on the event loop, its intermediates unread; any other is validated in a task, off the loop, while the
    /// handshake waits, and the chain that validated, as presented, is kept with the connection
    /// (`nioSSL_peerValidatedCertificateChain`) once its handshake completes, the client's key proven: its requests
    /// are validated again with those intermediates (see ``ConnectionPeer/of(_:verifier:)``, which also says what a
    /// connection accepted from memory uses).
    static func verificationCallback(_ verifier: ClientCertificateVerifier) -> NIOSSLCustomVerificationCallbackWithMetadata {
        { certificates, promise in
            if verifier.remembersValid(certificates) { return promise.succeed(.certificateVerified(VerificationMetadata(nil))) }
            promise.completeWithTask {
                await verifier.verify(certificates) ? .certificateVerified(VerificationMetadata(ValidatedCertificateChain(certificates))) : .failed
            }
        }
    }
}

/// A TLS file that cannot be used.
public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
