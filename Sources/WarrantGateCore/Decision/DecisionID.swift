import Foundation

/// Decision identifiers: time-ordered UUIDs (version 7, RFC 9562) in lower case.
///
/// The first 48 bits are the Unix time in milliseconds and the remaining 74 variable bits are random, so identifiers
/// are unguessable yet sort by creation time: the log's index on them grows at its right edge instead of touching a
/// random page for every decision, which keeps each group commit's write set small.
public enum DecisionID {
    /// A new identifier for a decision made at `time`.
    public static func make(at time: Date = Date()) -> String {
        // The system generator (getrandom) supplies the random bits; Foundation's UUID() opens /dev/urandom per call.
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64, low = generator.next() as UInt64
        var bytes = [UInt8](repeating: 0, count: 16)
        let milliseconds = UInt64(max(0, time.timeIntervalSince1970 * 1000))
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> UInt64(40 - 8 * index)) }
        for index in 6..<8 { bytes[index] = UInt8(truncatingIfNeeded: high >> UInt64(8 * index)) }
        for index in 8..<16 { bytes[index] = UInt8(truncatingIfNeeded: low >> UInt64(8 * (index - 8))) }
        bytes[6] = 0x70 | bytes[6] & 0x0F
        bytes[8] = 0x80 | bytes[8] & 0x3F
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
