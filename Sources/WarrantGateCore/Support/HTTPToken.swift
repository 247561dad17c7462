/// RFC 9110's `token` (§5.6.2), which header names, media types and their parameters' names are made of.
enum HTTPToken {
    /// Whether `byte` is a `tchar`: an ASCII letter or digit, or one of ``!#$%&'*+-.^_`|~``.
    static func isByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// Whether `bytes` are one token: one `tchar` or more.
    static func isToken(_ bytes: some Collection<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy(isByte)
    }
}
