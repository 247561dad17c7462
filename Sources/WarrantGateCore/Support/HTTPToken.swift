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

/// A request's method as the gateway takes it: HTTP/1.1's parser reads only registered methods, but HTTP/2's
/// `:method` may be any bytes but white space and controls, up to the header list's size (a right-to-left override
/// among them), and every request's method is logged.
public enum RequestMethodName {
    /// The longest method taken: far beyond any registered one.
    public static let maximumBytes = 32

    /// Whether `method` is an RFC 9110 method: one token, of at most ``maximumBytes``.
    public static func isAcceptable(_ method: String) -> Bool {
        method.utf8.count <= maximumBytes && HTTPToken.isToken(method.utf8)
    }

    /// `method` as the log may hold it: as it is if ``isAcceptable(_:)``, else its first ``maximumBytes`` bytes, with
    /// what is not a token's byte as `?`, and `…`.
    public static func loggable(_ method: String) -> String {
        guard !isAcceptable(method) else { return method }
        let shown = method.utf8.prefix(maximumBytes).map { HTTPToken.isByte($0) ? $0 : UInt8(ascii: "?") }
        return String(decoding: shown, as: UTF8.self) + (method.utf8.count > maximumBytes ? "…" : "")
    }
}
