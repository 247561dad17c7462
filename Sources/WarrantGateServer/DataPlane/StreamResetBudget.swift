import NIOCore
import Synchronization

/// How many HTTP/2 streams each client certificate may have reset while the gateway works on their requests, across
/// all its connections, in a window: reset by the client, or by NIOHTTP2 for the client's own stream error.
///
/// NIOHTTP2 ends a connection after 200 resets (or stream errors) in 30 s, but one certificate holds up to
/// `max-connections-per-certificate` connections, and each stream opened and reset may already have been decided,
/// logged and forwarded (rapid reset, CVE-2023-44487). Each certificate has a bucket of `limit` resets that refills
/// at `limit` a window; a reset beyond it ends the connection it came on. A connection that closes under streams
/// still at work (the client's close, or its protocol error) spends one for each, as resets do, and a certificate
/// with none left gets no new connection until one refills (``isSpent(_:now:)``): else closing the connection would
/// reset a flight of streams for free. A stream reset once its answer has ended (a client that stops reading at the
/// `content-length`) costs nothing.
final class StreamResetBudget: Sendable {
    /// The refill period NIOHTTP2 counts its own per-connection resets over.
    static let window: TimeAmount = .seconds(30)
    /// Past this many certificates' buckets, full ones are forgotten, at most once a second.
    private static let bucketsKept = 1_024

    private struct Bucket {
        var resets: Double
        var updated: NIODeadline
    }

    private struct Buckets {
        var byCertificate: [CertificateBytes: Bucket] = [:]
        var swept = NIODeadline.uptimeNanoseconds(0)
    }

    let limit: Int
    private let buckets = Mutex(Buckets())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// What `bucket` holds at `now`, refilled since it was last spent from.
    private func refilled(_ bucket: Bucket, now: NIODeadline) -> Double {
        let capacity = Double(limit)
        return min(capacity, bucket.resets + Double((now - bucket.updated).nanoseconds) * capacity / Double(Self.window.nanoseconds))
    }

    /// Whether `certificate` has no reset left at `now`.
    func isSpent(_ certificate: CertificateBytes, now: NIODeadline = .now()) -> Bool {
        buckets.withLock { buckets in buckets.byCertificate[certificate].map { refilled($0, now: now) < 1 } ?? false }
    }

    /// Spends one reset of `certificate`'s at `now`; false once the certificate is over its budget.
    func spend(_ certificate: CertificateBytes, now: NIODeadline = .now()) -> Bool {
        let capacity = Double(limit)
        return buckets.withLock { buckets in
            if buckets.byCertificate.count > Self.bucketsKept, now - buckets.swept > .seconds(1) {
                buckets.byCertificate = buckets.byCertificate.filter { refilled($0.value, now: now) < capacity }
                buckets.swept = now
            }
            let left = (buckets.byCertificate[certificate].map { refilled($0, now: now) } ?? capacity) - 1
            // Into debt, as far as a whole window's allowance: a flood cut short by closes is paid for in time.
            buckets.byCertificate[certificate] = Bucket(resets: max(-capacity, left), updated: now)
            return left >= 0
        }
    }
}
