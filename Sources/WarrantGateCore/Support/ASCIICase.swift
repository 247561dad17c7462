/// ASCII case folding for protocol tokens (header names, media types): only `A`–`Z` fold, every other byte, those
/// outside ASCII among them, compares as itself. Comparisons read the bytes in place, without a lower-cased copy.
public enum ASCIICase {
    /// `byte` with an ASCII capital letter lower-cased.
    @inlinable
    public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte
    }

    /// Whether `bytes`, folded, are the lower-case `lowercase`.
    @inlinable
    public static func equals(_ bytes: some Collection<UInt8>, _ lowercase: some Collection<UInt8>) -> Bool {
        bytes.count == lowercase.count && startsWith(bytes, lowercase)
    }

    @inlinable
    public static func equals(_ bytes: some Collection<UInt8>, _ lowercase: StaticString) -> Bool {
        equals(bytes, UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount))
    }

    /// Whether `bytes`, folded, begin with the lower-case `lowercase`.
    @inlinable
    public static func hasPrefix(_ bytes: some Collection<UInt8>, _ lowercase: some Collection<UInt8>) -> Bool {
        bytes.count >= lowercase.count && startsWith(bytes, lowercase)
    }

    /// Whether `bytes`, folded, end with the lower-case `lowercase`.
    @inlinable
    public static func hasSuffix(_ bytes: some BidirectionalCollection<UInt8>, _ lowercase: StaticString) -> Bool {
        let suffix = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        return bytes.count >= suffix.count && startsWith(bytes.suffix(suffix.count), suffix)
    }

    @inlinable
    static func startsWith(_ bytes: some Collection<UInt8>, _ lowercase: some Collection<UInt8>) -> Bool {
        zip(bytes, lowercase).allSatisfy { lowercased($0) == $1 }
    }
}
