/// Writes JSON objects in one canonical byte form, so the same record always hashes the same.
///
/// The encoding: members in the order written (each record type fixes its order), no whitespace, strings as
/// UTF-8 with only `"` and `\` escaped by a backslash and control characters below U+0020 as `\u00XX`
/// (lower-case hex), integers in decimal without leading zeros, `null` for absent values, arrays of strings.
public struct CanonicalJSON {
    private(set) public var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    public init() {
        bytes.reserveCapacity(768)
    }

    public mutating func field(_ name: String, _ value: String?) {
        key(name)
        append(value)
    }

    public mutating func field(_ name: String, _ value: Int?) {
        key(name)
        append(value)
    }

    public mutating func field(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func field(_ name: String, _ values: [String]) {
        key(name)
        append(values)
    }

    /// A nested object whose members are string pairs, sorted by key.
    public mutating func field(_ name: String, _ pairs: [String: String]) {
        key(name)
        var nested = CanonicalJSON()
        for (key, value) in pairs.sorted(by: { $0.key < $1.key }) { nested.field(key, value) }
        bytes.append(contentsOf: nested.finished())
    }

    /// A member holding a flat value, written as the overload for its type writes it.
    public mutating func field(_ name: String, _ value: FlatValue) {
        switch value {
        case .string(let text): field(name, text)
        case .int(let number): field(name, number)
        case .null: field(name, nil as String?)
        case .bool(let flag): field(name, flag)
        case .strings(let list): field(name, list)
        }
    }

    public func finished() -> [UInt8] {
        var result = bytes
        result.append(UInt8(ascii: "}"))
        return result
    }

    public var text: String { String(decoding: finished(), as: UTF8.self) }

    /// The object's bytes, closed in place rather than copied; write nothing more afterwards.
    mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// Starts a member whose name needs no escape (no quote, backslash or control character).
    mutating func key(literal name: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes a member's value, after its key.
    mutating func append(_ value: String?) {
        if let value { Self.append(string: value, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    mutating func append(_ value: Int?) {
        bytes.append(contentsOf: (value.map(String.init) ?? "null").utf8)
    }

    mutating func append(_ values: [String]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.append(string: value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    private mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        Self.append(string: name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `string` quoted and escaped. Runs of bytes that need no escape are copied in one piece, and found
    /// eight bytes at a time, as is the next byte that does.
    static func append(string: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            let raw = UnsafeRawBufferPointer(utf8)
            var start = 0
            var index = 0
            while index < utf8.count {
                if index + 8 <= raw.count {
                    let stops = JSONScanner.stringStops(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
                    if stops == 0 {
                        index += 8
                        continue
                    }
                    index += stops.trailingZeroBitCount / 8  // the first byte to escape
                }
                let byte = utf8[index]
                index += 1
                guard byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<(index - 1)]))
                if byte < 0x20 {
                    bytes.append(contentsOf: "\\u00".utf8)
                    bytes.append(hex[Int(byte >> 4)])
                    bytes.append(hex[Int(byte & 0xf)])
                } else {
                    bytes.append(UInt8(ascii: "\\"))
                    bytes.append(byte)
                }
                start = index
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
