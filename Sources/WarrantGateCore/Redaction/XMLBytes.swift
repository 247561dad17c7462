/// Byte helpers for the XML redactor's hot paths, eight bytes at a time.
///
/// Every word is read with `loadUnaligned` at an offset `o` checked against `o + 8 <= count` of the same buffer just
/// before, so no read leaves the buffer whatever its contents; a last word may overlap the one before it, and a buffer
/// shorter than a word is read a byte at a time.
enum XMLBytes {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Bit 7 of each byte of the result is set where `word`'s byte is zero, exactly for the lowest such byte (bytes
    /// above it may be flagged falsely, which the callers never look at).
    @inline(__always)
    private static func zeroBytes(_ word: UInt64) -> UInt64 { (word &- ones) & ~word & highs }

    /// The index of the first byte at or after `start` that is `<`, `>`, `"`, `'`, `&` or `]`, or possibly `#`; or
    /// `bytes.count` if there is none. Text and tags are made of other bytes, which this skips.
    ///
    /// - Precondition: `0 <= start <= bytes.count`.
    @inline(__always)
    static func firstSignificant(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        while index + 8 <= bytes.count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            // '<' and '>' differ in bit 1 only; '"', '#', '&' and '\'' in bits 0 and 2 only.
            let angles = zeroBytes((word | ones &* 0x02) ^ ones &* 0x3e)
            let quotes = zeroBytes((word | ones &* 0x05) ^ ones &* 0x27)
            let brackets = zeroBytes(word ^ ones &* 0x5d)
            let found = angles | quotes | brackets
            if found != 0 { return index + found.trailingZeroBitCount / 8 }
            index += 8
        }
        while index < bytes.count {
            switch bytes[index] {
            case 0x3c, 0x3e, 0x22, 0x23, 0x26, 0x27, 0x5d: return index
            default: index += 1
            }
        }
        return index
    }

    /// The index of the first backslash in `bytes[start..<end]`, or nil.
    ///
    /// - Precondition: `0 <= start <= end <= bytes.count`.
    @inline(__always)
    static func firstBackslash(in bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var index = start
        while index + 8 <= end {
            let found = zeroBytes(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) ^ ones &* 0x5c)
            if found != 0 { return index + found.trailingZeroBitCount / 8 }
            index += 8
        }
        while index < end {
            if bytes[index] == 0x5c { return index }
            index += 1
        }
        return nil
    }

    /// Whether `a` and `b` hold the same bytes.
    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var index = 0
        while index + 8 <= a.count {
            guard a.loadUnaligned(fromByteOffset: index, as: UInt64.self) == b.loadUnaligned(fromByteOffset: index, as: UInt64.self) else { return false }
            index += 8
        }
        guard index < a.count else { return true }
        guard a.count < 8 else {
            // The last eight bytes, overlapping those already compared.
            return a.loadUnaligned(fromByteOffset: a.count - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: a.count - 8, as: UInt64.self)
        }
        for index in 0..<a.count where a[index] != b[index] { return false }
        return true
    }

    /// The first eight bytes of `bytes` (all of them if fewer), the first lowest and zeros after the last: two runs of
    /// bytes of the same length up to eight are equal exactly when their packed words are.
    @inline(__always)
    static func packed(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        guard bytes.count < 8 else { return UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)) }
        var word: UInt64 = 0
        for index in 0..<bytes.count { word |= UInt64(bytes[index]) << UInt64(8 * index) }
        return word
    }

    /// A hash of `bytes` and `seed`, for hash tables of names.
    static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let multiplier: UInt64 = 0x9e37_79b9_7f4a_7c15
        var hash = (seed ^ UInt64(bytes.count)) &* multiplier
        var index = 0
        while index + 8 < bytes.count {
            hash = (hash ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* multiplier
            hash ^= hash >> 29
            index += 8
        }
        // The last one to eight bytes: the last word (overlapping the one before) if there is one.
        let tail = bytes.count >= 8 ? bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self) : packed(bytes)
        hash = (hash ^ tail) &* multiplier
        return hash ^ hash >> 32
    }
}

/// Bytes kept while their elements are open, pushed and popped last in first out, in one buffer that grows to the
/// most ever held at once and is then reused.
struct XMLByteStack {
    private var storage: [UInt8] = []
    /// How many bytes are held: `storage[..<count]`.
    private(set) var count = 0

    /// Appends `bytes`; returns where they start.
    mutating func push(_ bytes: UnsafeRawBufferPointer) -> Int {
        let start = count
        if start + bytes.count > storage.count {
            storage.append(contentsOf: repeatElement(0, count: max(storage.count, start + bytes.count - storage.count)))
        }
        if bytes.count > 0 {
            storage.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[start..<(start + bytes.count)]).copyMemory(from: bytes) }
        }
        count = start + bytes.count
        return start
    }

    /// Drops the bytes from `start` on.
    mutating func pop(from start: Int) { count = min(count, start) }

    /// Calls `body` with the held bytes `range`.
    ///
    /// - Precondition: `range` lies within `0..<count`.
    @inline(__always)
    func withBytes<Result>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        precondition(range.upperBound <= count)
        return storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }
}
