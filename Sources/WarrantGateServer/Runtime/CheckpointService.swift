import Foundation
import Logging
import ServiceLifecycle
import WarrantGateStore

/// Signs a checkpoint of the log every N entries or T seconds, and a last one at shutdown, once the log writer has
/// written everything (the service group stops this service after the writer).
struct CheckpointService: Service {
    let checkpointer: Checkpointer
    let everyRecords: Int
    let interval: Duration
    let metrics: GatewayMetrics
    let logger: Logger

    func run() async throws {
        var lastSigned = ContinuousClock.now
        let checkpointer = checkpointer
        var lastSize = (try? await BlockingWork.run { try checkpointer.signedSize() }) ?? 0
        var stall = SigningStall(signedSize: lastSize)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(200))
            let size = (try? await BlockingWork.run { try checkpointer.logSize() }) ?? 0
            guard size > lastSize, size - lastSize >= UInt64(everyRecords) || ContinuousClock.now - lastSigned >= interval else { continue }
            await sign()
            lastSize = size
            lastSigned = ContinuousClock.now
            // Whoever signs (this gateway, another, the CLI), the signed size must move on: a lease held elsewhere
            // by a session that signs nothing, or a checkpoint row no signer can sign after, stops it silently.
            if let signed = try? await BlockingWork.run({ try checkpointer.signedSize() }), stall.stalled(signed: signed, size: size, after: interval * 3) {
                metrics.checkpointFailures.increment()
                logger.error("no checkpoint has been signed for a while, though entries wait: another session holds the signer's lease and signs nothing, or the latest checkpoint row is not this key's (`warrant-gate log verify` says which)", metadata: [
                    "signed-size": "\(signed)", "log-size": "\(size)",
                ])
            }
        }
        // The last checkpoint is signed even when the group was cancelled (a service failed), since the log writer
        // has written everything by now.
        await sign()
    }

    private func sign() async {
        do {
            if let checkpoint = try await checkpointer.signInBackground() {
                logger.info("signed checkpoint", metadata: ["size": "\(checkpoint.size)"])
            }
        } catch {
            metrics.checkpointFailures.increment()
            logger.error("cannot sign a checkpoint", metadata: ["error": "\(StoreDatabase.describe(error))"])
        }
    }
}

/// Whether the signed size has stood still, with entries waiting, for longer than allowed; said once per stall period.
/// Asked after each signing attempt: a gap between two askings longer than the limit was a quiet log, whose wait
/// starts over.
struct SigningStall {
    private var signedSize: UInt64
    private var since = ContinuousClock.now
    private var asked = ContinuousClock.now

    init(signedSize: UInt64) {
        self.signedSize = signedSize
    }

    mutating func stalled(signed: UInt64, size: UInt64, after limit: Duration, now: ContinuousClock.Instant = .now) -> Bool {
        defer { asked = now }
        guard signed == signedSize, size > signed, now - asked <= limit else {
            (signedSize, since) = (signed, now)
            return false
        }
        guard now - since >= limit else { return false }
        since = now
        return true
    }
}
