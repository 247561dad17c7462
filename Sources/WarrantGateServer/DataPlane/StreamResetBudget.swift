import NIOCore
import Synchronization

/// How many HTTP/2 streams each client certificate may reset, across all its connections, in a window.
///
/// NIOHTTP2 ends a connection after 200 resets in 30 s, but one certificate holds up to
/// `max-connections-per-certificate` connections, and each stream it opens and resets may already have been decided,
/// logged and forwarded (rapid reset, CVE-2023-44487). Each certificate has a bucket of `limit` resets that refills at
/// `limit` a window; a reset beyond it ends the connection it came on.
final class StreamResetBudget: Sendable {
    /// The refill period NIOHTTP2 counts its own per-connection resets over.
    static let window: TimeAmount = .seconds(30)

    private struct Bucket {
        var resets: Double
        var updated: NIODeadline
    }

    let limit: Int
    private let buckets = Mutex<[[UInt8]: Bucket]>([:])
    /// Past this many certificates' buckets, full ones are forgotten at the next reset.
    private static let bucketsKept = 1_024

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Spends `count` resets of `certificate`'s (its DER) at `now`; false once the certificate is over its budget.
    func spend(_ count: Int, certificate: [UInt8], now: NIODeadline = .now()) -> Bool {
        let capacity = Double(limit)
        let perNanosecond = capacity / Double(Self.window.nanoseconds)
        func refilled(_ bucket: Bucket) -> Double {
            min(capacity, bucket.resets + Double((now - bucket.updated).nanoseconds) * perNanosecond)
        }
        return buckets.withLock { buckets in
            if buckets.count > Self.bucketsKept {
                buckets = buckets.filter { refilled($0.value) < capacity }
            }
            let available = buckets[certificate].map(refilled) ?? capacity
            let left = available - Double(count)
            buckets[certificate] = Bucket(resets: max(0, left), updated: now)
            return left >= 0
        }
    }
}
