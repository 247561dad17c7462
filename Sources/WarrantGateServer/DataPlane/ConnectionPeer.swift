import NIOCore
import NIOSSL
import WarrantGateCore

/// The verified client certificate of one connection, read once when its TLS handshake completes, what it last
/// resolved to, and what the connection's HTTP/2 streams share of their answers.
///
/// Used only on the connection's event loop; an HTTP/2 connection's streams share the loop and the peer. Each
/// request still resolves the agency by the state in force and checks the chain under the trust in force and the
/// time now: the memos below only skip work whose inputs have not changed.
final class ConnectionPeer {
    let certificate: CertificateBytes
    private var identified: (cache: IdentityCache, certificate: ClientCertificate, identification: Identification)?
    private var validation: ClientCertificateVerifier.Validation?
    /// Over HTTP/2, the answers' ends the connection's streams have written that the connection has not yet written
    /// to the socket.
    var unwrittenEnds = 0
    /// Whether the certificate was revoked in the registry at the handshake, so that the connection holds no place
    /// among set-up connections (``ConnectionSetupGuard``): it serves no request, even if the revocation is gone by
    /// then, and ends at its first.
    var placeless = false
    /// Whether the gateway asked the HTTP/2 connection to end (a drain, a revoked certificate) or closed it (a
    /// deadline; ``HTTP2GatewayCloseMarker``): streams its close cuts short are then the gateway's doing, not resets of
    /// the client's (``StreamResetBudget``), unless ``endedForClientFault``.
    var endedByGateway = false
    /// Whether the gateway closed the HTTP/2 connection for the client's own doing: a protocol error, a flood of
    /// refusals or of resets (``HTTP2RefusalRecorder``).
    var endedForClientFault = false

    /// The intermediates the client presented at its handshake, in DER: its chain is validated again with them.
    let intermediates: [[UInt8]]

    init(der: [UInt8], intermediates: [[UInt8]] = []) {
        certificate = CertificateBytes(der: der)
        self.intermediates = intermediates
    }

    /// The peer of a connection whose handshake has completed, nil without a certificate: the chain its handshake
    /// presented and the verifier validated (remembered for the leaf's other connections), or, for a handshake whose
    /// leaf was accepted by the verifier's memory (its intermediates unread) or a resumed session (which presents
    /// none), the leaf with the intermediates of its latest validated, completed handshake.
    static func of(_ pipeline: ChannelPipeline.SynchronousOperations, verifier: ClientCertificateVerifier) -> ConnectionPeer? {
        if let chain = try? pipeline.nioSSL_peerValidatedCertificateChain(), let leaf = try? chain.leaf.toDERBytes(),
           let intermediates = try? chain.dropFirst().map({ try $0.toDERBytes() }) {
            let peer = ConnectionPeer(der: leaf, intermediates: intermediates)
            verifier.rememberHandshake(leaf: peer.certificate, intermediates: intermediates)
            return peer
        }
        guard let leaf = try? pipeline.nioSSL_peerCertificate()?.toDERBytes() else { return nil }
        return ConnectionPeer(der: leaf, intermediates: verifier.intermediates(ofResumed: CertificateBytes(der: leaf)))
    }

    /// The certificate and the agency it identifies by `current`'s directory.
    func identify(in current: GatewayState.Current) throws -> (ClientCertificate, Identification) {
        if let identified, identified.cache === current.identities { return (identified.certificate, identified.identification) }
        let (parsed, identification) = try current.identify(der: certificate.der)
        identified = (current.identities, parsed, identification)
        return (parsed, identification)
    }

    /// Whether the chain is known to validate now, under the verifier's trust in force; false means it must be
    /// validated (again) before the request goes on.
    func chainKnownValid(by verifier: ClientCertificateVerifier) -> Bool {
        if let validation, verifier.holds(validation) { return true }
        validation = verifier.rememberedValidation(certificate)
        return validation != nil
    }
}
