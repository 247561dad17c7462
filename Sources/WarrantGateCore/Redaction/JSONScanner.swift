/// Why a JSON document was refused.
public struct JSONError: Error, Sendable, Equatable {
    public let detail: String
    public let offset: Int
}

/// A strict, non-recursive-allocation JSON scanner over UTF-8 bytes (RFC 8259).
///
/// It validates as it goes, so a document the redactor passes is one a strict parser accepts.
/// Depth is bounded so hostile input cannot exhaust the stack.
struct JSONScanner {
    static let maximumDepth = 128

    let bytes: [UInt8]
    /// Whether every byte is ASCII, so that no string in the document holds anything else.
    let isASCII: Bool
    var index = 0

    init(_ bytes: [UInt8]) throws(JSONError) {
        isASCII = Self.isASCII(bytes)
        guard isASCII || String(validating: bytes, as: UTF8.self) != nil else {
            throw JSONError(detail: "not valid UTF-8", offset: 0)
        }
        self.bytes = bytes
    }

    /// ASCII is valid UTF-8; checking eight bytes at a time spares most documents the full validation.
    private static func isASCII(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var index = 0
            var seen: UInt64 = 0
            while index + 8 <= raw.count {
                seen |= raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                index += 8
            }
            while index < raw.count {
                seen |= UInt64(raw[index])
                index += 1
            }
            return seen & 0x8080_8080_8080_8080 == 0
        }
    }

    func fail(_ detail: String) -> JSONError { JSONError(detail: detail, offset: index) }

    var atEnd: Bool { index >= bytes.count }
    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        let start = index
        index = bytes.withUnsafeBufferPointer { buffer in
            var end = start
            while end < buffer.count {
                switch buffer[end] {
                case 0x20, 0x09, 0x0a, 0x0d: end += 1
                default: return end
                }
            }
            return end
        }
    }

    mutating func expect(_ byte: UInt8) throws(JSONError) {
        skipWhitespace()
        guard current == byte else { throw fail("expected '\(Character(Unicode.Scalar(byte)))'") }
        index += 1
    }

    /// Validates and skips a string starting at `"`; returns its raw range (with quotes) and whether it holds an
    /// escape. Nothing is allocated unless it does.
    mutating func skipString() throws(JSONError) -> (raw: Range<Int>, hasEscape: Bool) {
        let start = index
        guard current == UInt8(ascii: "\"") else { throw fail("expected a string") }
        if let end = plainStringEnd(from: start) {
            index = end + 1
            return (start..<index, false)
        }
        index += 1
        var hasEscape = false
        var scratch: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return (start..<index, hasEscape)
            }
            if byte == UInt8(ascii: "\\") {
                hasEscape = true
                index += 1
                try scanEscape(into: &scratch)
                scratch.removeAll(keepingCapacity: true)
                continue
            }
            guard byte >= 0x20 else { throw fail("control character in string") }
            index += 1
        }
        throw fail("unterminated string")
    }

    /// Scans a string starting at `"`; returns the raw range (with quotes) and the decoded text.
    mutating func scanString() throws(JSONError) -> (raw: Range<Int>, decoded: String) {
        let start = index
        guard current == UInt8(ascii: "\"") else { throw fail("expected a string") }
        // Fast path: most strings have no escape, so the text is the bytes between the quotes.
        if let end = plainStringEnd(from: start) {
            index = end + 1
            return (start..<index, String(decoding: bytes[(start + 1)..<end], as: UTF8.self))
        }
        index += 1
        var decoded: [UInt8] = []
        var hasEscape = false
        while true {
            guard let byte = current else { throw fail("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                let text = hasEscape ? String(decoding: decoded, as: UTF8.self) : String(decoding: bytes[(start + 1)..<(index - 1)], as: UTF8.self)
                return (start..<index, text)
            case UInt8(ascii: "\\"):
                if !hasEscape {
                    hasEscape = true
                    decoded.append(contentsOf: bytes[(start + 1)..<index])
                }
                index += 1
                try scanEscape(into: &decoded)
            case 0x00..<0x20:
                throw fail("control character in string")
            default:
                if hasEscape { decoded.append(byte) }
                index += 1
            }
        }
    }

    /// The index of the closing quote of the string opened at `start`, if the string holds no escape and no control
    /// character (the common case, checked without decoding); nil otherwise.
    private func plainStringEnd(from start: Int) -> Int? {
        bytes.withUnsafeBufferPointer { buffer in
            var end = start + 1
            // Eight bytes at a time: the lowest flagged byte of a word is its first quote, backslash or control
            // character (only bytes above a real one can be flagged falsely), so the word that ends the string
            // also says where.
            let raw = UnsafeRawBufferPointer(buffer)
            while end + 8 <= raw.count {
                let stops = Self.stringStops(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: end, as: UInt64.self)))
                if stops != 0 {
                    let stop = end + stops.trailingZeroBitCount / 8
                    return buffer[stop] == UInt8(ascii: "\"") ? stop : nil
                }
                end += 8
            }
            while end < buffer.count {
                let byte = buffer[end]
                if byte == UInt8(ascii: "\"") { return end }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
                end += 1
            }
            return nil
        }
    }

    /// The high bit of each byte of `word` (least significant byte first) that may be `"`, `\\` or below 0x20: every
    /// such byte is flagged, and a flagged byte that is none of these lies above one that is.
    static func stringStops(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5c)
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        let control = (word &- ones &* 0x20) & ~word
        return (zeroQuote | zeroBackslash | control) & highs
    }

    private mutating func scanEscape(into decoded: inout [UInt8]) throws(JSONError) {
        guard let byte = current else { throw fail("unterminated escape") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(byte)
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0c)
        case UInt8(ascii: "n"): decoded.append(0x0a)
        case UInt8(ascii: "r"): decoded.append(0x0d)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"):
            var unit = try scanHex4()
            if (0xD800..<0xDC00).contains(unit) {
                guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                    throw fail("unpaired surrogate")
                }
                index += 2
                let low = try scanHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(unit) {
                throw fail("unpaired surrogate")
            }
            decoded.append(contentsOf: String(Character(Unicode.Scalar(unit)!)).utf8)
        default:
            throw fail("invalid escape")
        }
    }

    private mutating func scanHex4() throws(JSONError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// Scans a number, `true`, `false` or `null`; returns its raw range.
    mutating func scanScalar() throws(JSONError) -> Range<Int> {
        let start = index
        guard let byte = current else { throw fail("expected a value") }
        for literal in ["true", "false", "null"] where byte == literal.utf8.first {
            let word = Array(literal.utf8)
            guard index + word.count <= bytes.count, Array(bytes[index..<(index + word.count)]) == word else {
                throw fail("invalid literal")
            }
            index += word.count
            return start..<index
        }
        if current == UInt8(ascii: "-") { index += 1 }
        guard let first = current, isDigit(first) else { throw fail("expected a value") }
        index += 1
        if first != UInt8(ascii: "0") { while let d = current, isDigit(d) { index += 1 } }
        if current == UInt8(ascii: ".") {
            index += 1
            guard let d = current, isDigit(d) else { throw fail("invalid number") }
            while let d = current, isDigit(d) { index += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard let d = current, isDigit(d) else { throw fail("invalid number") }
            while let d = current, isDigit(d) { index += 1 }
        }
        return start..<index
    }

    /// Validates and skips any value.
    mutating func skipValue(depth: Int) throws(JSONError) {
        skipWhitespace()
        guard depth < Self.maximumDepth else { throw fail("nesting deeper than \(Self.maximumDepth)") }
        switch current {
        case UInt8(ascii: "{"):
            index += 1
            try forEachMember { scanner, _ throws(JSONError) in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            index += 1
            try forEachElement { scanner throws(JSONError) in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""):
            _ = try skipString()
        default:
            _ = try scanScalar()
        }
    }

    /// Iterates an object's members after its `{`, calling `body` positioned at each value.
    mutating func forEachMember(_ body: (inout JSONScanner, (raw: Range<Int>, decoded: String)) throws(JSONError) -> Void) throws(JSONError) {
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            let key = try scanString()
            try expect(UInt8(ascii: ":"))
            try body(&self, key)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return
            default: throw fail("expected ',' or '}'")
            }
        }
    }

    /// Iterates an array's elements after its `[`.
    mutating func forEachElement(_ body: (inout JSONScanner) throws(JSONError) -> Void) throws(JSONError) {
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            try body(&self)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return
            default: throw fail("expected ',' or ']'")
            }
        }
    }

    mutating func finish() throws(JSONError) {
        skipWhitespace()
        guard atEnd else { throw fail("trailing data after the document") }
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}
