/// The spellings under which an upstream's framework may read a request parameter's name, so that the gateway counts
/// every value some framework would take for the parameter it checks (the subject's booking number, a request fact).
public enum ParameterName {
    /// Whether `candidate` is `name` in any letter case, by Unicode's upper- and lower-case mappings both: ASP.NET
    /// reads `BOOKING` as `booking`, and Java's `equalsIgnoreCase`, which compares characters upper-cased, reads
    /// `bookıng` (dotless ı) and `ſ` (long s) as `i` and `s`.
    public static func matchesIgnoringCase(_ candidate: String, _ name: String) -> Bool {
        candidate == name || candidate.lowercased() == name.lowercased() || candidate.uppercased() == name.uppercased()
    }

    /// Whether a query parameter named `candidate` (decoded) may be read as `name`: in any letter case, and as PHP and
    /// Rack read names. Both skip what leads the name (PHP spaces, Rack brackets) and read `booking[]` or
    /// `booking[0]` as an array named `booking`; Rack also reads `booking]` as `booking`; PHP reads spaces, dots and an
    /// unclosed bracket as `_`.
    public static func queryNameMatches(_ candidate: String, _ name: String) -> Bool {
        matchesIgnoringCase(candidate, name) || readings(of: candidate).contains { matchesIgnoringCase($0, name) }
    }

    /// The names PHP and Rack read for a query parameter named `raw`.
    static func readings(of raw: String) -> [String] {
        let scalars = Array(raw.unicodeScalars)
        let isBracket: (Unicode.Scalar) -> Bool = { $0 == "[" || $0 == "]" }
        // Rack: brackets and (as PHP) spaces skipped at the start, then the name up to the first bracket.
        let rack = scalars.drop { isBracket($0) || $0 == " " }.prefix { !isBracket($0) }
        // PHP: spaces skipped at the start; up to a `[` that a `]` closes later; spaces, dots and an unclosed `[` as `_`.
        var php = String.UnicodeScalarView()
        let trimmed = scalars.drop { $0 == " " }
        for (offset, scalar) in zip(trimmed.indices, trimmed) {
            if scalar == "[", trimmed[(offset + 1)...].contains("]") { break }
            php.append(scalar == " " || scalar == "." || scalar == "[" ? "_" : scalar)
        }
        return [String(String.UnicodeScalarView(rack)), String(php)]
    }
}
