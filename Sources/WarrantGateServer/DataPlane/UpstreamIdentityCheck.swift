import NIOCore
import NIOSSL
import NIOTLS
import X509

/// Holds a new https connection to an upstream until its handshake is done (within a connect timeout more, counted
/// from the TCP connection) and, for an upstream named by a DNS name, until the certificate names that host in a DNS
/// subject alternative name.
///
/// NIOSSL's own check (which still runs: the chain, then the name) also accepts a certificate that lists the IP
/// address the connection reached, or, without alternative names, a matching common name. Whoever answers at that
/// address after a DNS spoof, with a certificate for the address, would then stand in for the named records system.
/// Nothing is sent before ``verified`` succeeds: the pool hands the connection to a request only then.
final class UpstreamIdentityCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    /// The DNS name the certificate must name; nil for an upstream reached by an IP address, whose certificate
    /// NIOSSL checks for that address.
    private let serverName: String?
    /// Succeeds once the handshake is done and the certificate names ``serverName``; fails, and the connection
    /// closes, otherwise.
    let verified: EventLoopPromise<Void>

    init(serverName: String?, on loop: any EventLoop) {
        self.serverName = serverName
        self.verified = loop.makePromise()
    }

    func channelActive(context: ChannelHandlerContext) {
        // The pool's connections read only when asked: the handshake needs the server's answer.
        context.read()
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .handshakeCompleted? = event as? TLSUserEvent else { return context.fireUserInboundEventTriggered(event) }
        do {
            guard let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self),
                  let leaf = handler.peerCertificate else {
                throw UpstreamFault("the upstream presented no certificate")
            }
            if let serverName { try Self.check(leaf, names: serverName) }
            verified.succeed()
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        } catch {
            verified.fail(error)
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Refuses a certificate that does not name `serverName` in a DNS subject alternative name.
    private static func check(_ leaf: NIOSSLCertificate, names serverName: String) throws {
        let certificate = try Certificate(derEncoded: try leaf.toDERBytes())
        let names = try certificate.extensions.subjectAlternativeNames.map { Array($0) } ?? []
        guard names.contains(where: { name in
            if case .dnsName(let pattern) = name { return Self.dnsName(pattern, matches: serverName) }
            return false
        }) else {
            throw UpstreamFault("the upstream's certificate does not name \(serverName) in a DNS subject alternative name")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        verified.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        verified.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        verified.fail(ChannelError.ioOnClosedChannel)  // no effect once the promise is completed
    }

    /// RFC 6125 §6.4: the names compared without case and without a trailing dot; a wildcard only as the whole
    /// leftmost label of a pattern with at least two labels after it, standing for exactly one label.
    static func dnsName(_ pattern: String, matches host: String) -> Bool {
        let pattern = Array(pattern.lowercased().utf8.reversed().drop { $0 == UInt8(ascii: ".") }.reversed())
        let host = Array(host.lowercased().utf8.reversed().drop { $0 == UInt8(ascii: ".") }.reversed())
        guard !pattern.isEmpty, !host.isEmpty else { return false }
        guard pattern.starts(with: "*.".utf8) else { return pattern == host }
        let suffix = pattern.dropFirst(2)
        guard suffix.contains(UInt8(ascii: ".")), !suffix.contains(UInt8(ascii: "*")),
              let dot = host.firstIndex(of: UInt8(ascii: ".")), dot > host.startIndex else { return false }
        return host[(dot + 1)...].elementsEqual(suffix)
    }
}

/// What an upstream did that the gateway refuses: a certificate that does not name its host, a status that is no
/// final answer. For the operator's log; the client gets `upstream_unavailable`.
struct UpstreamFault: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
