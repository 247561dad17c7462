import WarrantGateCore
import WarrantGateStore

extension Store {
    /// Appends `entries` through the gateway's group-commit writer, `concurrently` one task per entry, and closes it.
    public func appendThroughDecisionLog(_ entries: [LogEntry], concurrently: Bool = false) async throws {
        let log = try decisionLog()
        let writer = Task { await log.run() }
        do {
            if concurrently {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for entry in entries { group.addTask { try await log.append([entry]) } }
                    try await group.waitForAll()
                }
            } else {
                try await log.append(entries)
            }
        } catch {
            log.close()
            await writer.value
            throw error
        }
        log.close()
        await writer.value
    }
}
