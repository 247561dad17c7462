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
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(200))
            let size = (try? await BlockingWork.run { try checkpointer.logSize() }) ?? 0
            guard size > lastSize, size - lastSize >= UInt64(everyRecords) || ContinuousClock.now - lastSigned >= interval else { continue }
            await sign()
            lastSize = size
            lastSigned = ContinuousClock.now
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
