import NIOCore
import NIOSSL
import Synchronization

/// The server's certificate chain and key, replaceable at run time (SIGHUP) without dropping the listener.
///
/// New handshakes pick up a replaced identity through NIOSSL's context callback; until the first replacement the
/// callback changes nothing, so the common path costs nothing extra.
public final class ServerIdentity: Sendable {
    struct Current: Sendable {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        let replaced: Bool
    }

    private let current: Mutex<Current>

    public init(certificatePath: String, keyPath: String) throws {
        let (chain, key) = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        current = Mutex(Current(chain: chain, key: key, replaced: false))
    }

    var chain: [NIOSSLCertificate] { current.withLock { $0.chain } }
    var key: NIOSSLPrivateKey { current.withLock { $0.key } }

    /// Loads a new chain and key; on any error the current identity stays.
    public func reload(certificatePath: String, keyPath: String) throws {
        let (chain, key) = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        current.withLock { $0 = Current(chain: chain, key: key, replaced: true) }
    }

    /// The callback NIOSSL calls on each client hello.
    var contextCallback: NIOSSLContextCallback {
        { [self] _, promise in
            let now = current.withLock { $0 }
            guard now.replaced else { return promise.succeed(.noChanges) }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = now.chain.map { .certificate($0) }
            override.privateKey = .privateKey(now.key)
            promise.succeed(override)
        }
    }

    private static func load(certificatePath: String, keyPath: String) throws -> ([NIOSSLCertificate], NIOSSLPrivateKey) {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw TLSSetupError("cannot read the server certificate \(certificatePath)")
        }
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw TLSSetupError("cannot read the server key \(keyPath)")
        }
        guard !chain.isEmpty else { throw TLSSetupError("no certificate in \(certificatePath)") }
        return (chain, key)
    }
}
