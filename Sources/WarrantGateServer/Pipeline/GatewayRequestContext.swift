import Hummingbird
import NIOCore
import NIOSSL

/// Per-request context: Hummingbird's core storage plus the connection, from which the verified client
/// certificate is read. Identity never comes from a header.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// The DER bytes of the client's verified leaf certificate. Over HTTP/2 the request runs on a stream channel
    /// and the TLS handler sits on the connection channel, its parent.
    func peerCertificateDER() async -> [UInt8]? {
        for candidate in [channel, channel.parent].compactMap({ $0 }) {
            if let certificate = await Self.peerCertificate(of: candidate) {
                return try? certificate.toDERBytes()
            }
        }
        return nil
    }

    /// Read straight from the pipeline when the task already runs on the channel's event loop (the usual case, as
    /// tasks run on the event loops), which saves a suspension per request; otherwise through the event loop.
    private static func peerCertificate(of channel: any Channel) async -> NIOSSLCertificate? {
        if channel.eventLoop.inEventLoop {
            return try? channel.pipeline.syncOperations.nioSSL_peerCertificate()
        }
        return try? await channel.nioSSL_peerCertificate().get()
    }
}
