import Foundation
import Glibc

/// Decision identifiers: time-ordered UUIDs (version 7, RFC 9562) in lower case.
///
/// The first 48 bits are the Unix time in milliseconds and the remaining 74 variable bits are random, so identifiers
/// are unguessable yet sort by creation time: the log's index on them grows at its right edge instead of touching a
/// random page for every decision, which keeps each group commit's write set small.
public enum DecisionID {
    /// A new identifier for a decision made at `time`.
    public static func make(at time: Date = Date()) -> String {
        let milliseconds = UInt64(max(0, time.timeIntervalSince1970 * 1000))
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { bytes in
            for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> UInt64(40 - 8 * index)) }
            fillRandom(UnsafeMutableBufferPointer(rebasing: bytes[6...]))
            bytes[6] = 0x70 | bytes[6] & 0x0F
            bytes[8] = 0x80 | bytes[8] & 0x3F
            return String(unsafeUninitializedCapacity: 36) { text in
                var written = 0
                for index in 0..<16 {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[written] = UInt8(ascii: "-")
                        written += 1
                    }
                    text[written] = alphabet[Int(bytes[index] >> 4)]
                    text[written + 1] = alphabet[Int(bytes[index] & 0xF)]
                    written += 2
                }
                return written
            }
        }
    }

    /// Fills `buffer` from the kernel's generator in one system call: glibc's `arc4random_buf` reads `getrandom`
    /// directly, and aborts the process rather than return predictable bytes.
    private static func fillRandom(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        guard let base = buffer.baseAddress else { return }
        arc4random_buf(base, buffer.count)
    }

    private static let alphabet = Array("0123456789abcdef".utf8)
}
