import Foundation

/// Decision identifiers: time-ordered UUIDs (version 7, RFC 9562) in lower case.
///
/// The first 48 bits are the Unix time in milliseconds and the remaining 74 variable bits are random, so identifiers
/// are unguessable yet sort by creation time: the log's index on them grows at its right edge instead of touching a
/// random page for every decision, which keeps each group commit's write set small.
public enum DecisionID {
    /// A new identifier for a decision made at `time`.
    public static func make(at time: Date = Date()) -> String {
        // A version-4 UUID supplies the random bits and the variant in one call to the system generator.
        var bytes = withUnsafeBytes(of: UUID().uuid) { Array($0) }
        let milliseconds = UInt64(max(0, time.timeIntervalSince1970 * 1000))
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> UInt64(40 - 8 * index)) }
        bytes[6] = 0x70 | bytes[6] & 0x0F
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(alphabet[Int(byte >> 4)])
            text.append(alphabet[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static let alphabet = Array("0123456789abcdef".utf8)
}
