import Foundation

/// A log entry's two times, and which one counts.
///
/// Every record states a `time`, hashed into the log: for a decision or its shadow, when the request opened; for an
/// outcome, when the answer ended; for an admin record, when the command ran. Beside the entry, outside the hash, the
/// log stores a `time` column, when the entry was handed to the log, which the log's index orders. Reports, exports
/// and retention count an entry by the time it states. The column only narrows the search: it lies within the bounds
/// below of the stated time, which the gateway's limits guarantee and `log verify` checks.
public enum EntryTime {
    /// The longest any of the gateway's timeouts may be configured (each `limits.*-timeout-ms`).
    public static let longestTimeout: TimeInterval = 24 * 3600
    /// How far an entry's column may fall before the time it states (the clock stepping back between the two
    /// readings), or after it for an outcome (both are read when the answer has been sent).
    public static let clockAllowance: TimeInterval = 5 * 60
    /// How long after its request opened a decision (or its shadow) may be handed to the log: its body must arrive
    /// within `limits.body-read-timeout-ms`, then the policy's fact lookup waits at most
    /// `limits.upstream-response-timeout-ms`, each at most ``longestTimeout``; the rest is work on the event loop.
    public static let longestDecision: TimeInterval = 2 * longestTimeout

    /// The earliest `time` column an entry stating `time` (of any kind) can have.
    public static func earliestColumn(stating time: Date) -> Date {
        time.addingTimeInterval(-clockAllowance)
    }

    /// The latest `time` column an entry stating `time` (of any kind) can have. An entry stating a time before `t`
    /// has a column before `latestColumn(stating: t)`.
    public static func latestColumn(stating time: Date) -> Date {
        time.addingTimeInterval(longestDecision + clockAllowance)
    }
}
