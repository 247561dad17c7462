import Foundation
import WarrantGateCore

/// Decodes the JSON files an auditor or a court is given (bundles, archives, proofs), refusing any object that names
/// a member twice: Foundation's decoder takes the first copy, jq, Python and JavaScript the last, so a file with two
/// could verify here while another tool shows the other copy.
public struct UniqueKeyJSONDecoder {
    /// Objects and arrays nested deeper than this are refused rather than followed.
    static let maximumDepth = 64

    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try Self.checkUniqueKeys(Array(data))
        return try JSONDecoder().decode(type, from: data)
    }

    /// Throws if an object in `bytes` names a member twice, keys compared as decoded strings (`"\u0065ntry"` is
    /// `"entry"`, and canonically equivalent spellings are one key), or if `bytes` is not one JSON value in UTF-8
    /// without a byte-order mark, as the scanner reads it: Foundation's decoder also reads UTF-16 and UTF-32 and
    /// skips a BOM, which the scanner would have taken for other bytes.
    static func checkUniqueKeys(_ bytes: [UInt8]) throws {
        guard bytes.starts(with: [0xEF, 0xBB, 0xBF]) == false, !bytes.contains(0), String(validating: bytes, as: UTF8.self) != nil else {
            throw StoreError("the JSON is not UTF-8 text without a byte-order mark")
        }
        var scanner = KeyScanner(bytes: bytes)
        try scanner.value(depth: 0)
        scanner.skipSpace()
        guard scanner.index == bytes.count else { throw StoreError("the JSON holds more than one value, or is malformed at byte \(scanner.index)") }
    }

    private struct KeyScanner {
        let bytes: [UInt8]
        var index = 0

        mutating func value(depth: Int) throws {
            skipSpace()
            guard index < bytes.count else { throw malformed() }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                guard depth < UniqueKeyJSONDecoder.maximumDepth else { throw StoreError("the JSON nests deeper than \(UniqueKeyJSONDecoder.maximumDepth) levels") }
                index += 1
                // As Foundation compares them: as strings, so canonically equivalent keys are one (a KELVIN SIGN
                // spells the K of verifierKey).
                var keys = Set<String>()
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return }
                while index < bytes.count {
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw malformed() }
                    let key = String(decoding: try string(), as: UTF8.self)
                    guard keys.insert(key).inserted else {
                        throw StoreError("the JSON names the member \"\(TerminalText.escaped(String(key.prefix(64))))\" twice in one object")
                    }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw malformed() }
                    index += 1
                    try value(depth: depth + 1)
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { break }
                    index += 1
                }
                guard index < bytes.count, bytes[index] == UInt8(ascii: "}") else { throw malformed() }
                index += 1
            case UInt8(ascii: "["):
                guard depth < UniqueKeyJSONDecoder.maximumDepth else { throw StoreError("the JSON nests deeper than \(UniqueKeyJSONDecoder.maximumDepth) levels") }
                index += 1
                while index < bytes.count {
                    skipSpace()
                    if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return }
                    let before = index
                    try value(depth: depth + 1)
                    guard index > before else { throw malformed() }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { break }
                    index += 1
                }
                guard index < bytes.count, bytes[index] == UInt8(ascii: "]") else { throw malformed() }
                index += 1
            case UInt8(ascii: "\""):
                _ = try string()
            default:
                // A number or a literal: letters, digits, signs and points only.
                let start = index
                while index < bytes.count, Self.isScalarByte(bytes[index]) { index += 1 }
                guard index > start else { throw malformed() }
            }
        }

        private static func isScalarByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."): true
            default: false
            }
        }

        private func malformed() -> StoreError {
            StoreError("the JSON is malformed at byte \(index)")
        }

        /// The string starting at `index` (its opening quote), decoded to UTF-8; `index` ends past its closing quote.
        mutating func string() throws -> [UInt8] {
            index += 1
            var decoded: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") { return decoded }
                guard byte == UInt8(ascii: "\\"), index < bytes.count else { decoded.append(byte); continue }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0c)
                case UInt8(ascii: "n"): decoded.append(0x0a)
                case UInt8(ascii: "r"): decoded.append(0x0d)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    guard var unit = hex4() else { throw StoreError("the JSON holds a malformed \\u escape") }
                    if (0xD800..<0xDC00).contains(unit), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                        index += 2
                        guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { throw StoreError("the JSON holds an unpaired surrogate") }
                        unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(unit) else { throw StoreError("the JSON holds an unpaired surrogate") }
                    decoded += Array(String(Character(scalar)).utf8)
                default: decoded.append(escape)
                }
            }
            throw malformed()
        }

        private mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else { return nil }
            index += 4
            return value
        }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[index]) { index += 1 }
        }
    }
}
