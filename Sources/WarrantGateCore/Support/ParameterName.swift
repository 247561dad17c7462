/// The spellings under which an upstream's framework may read a request parameter's name, so that the gateway counts
/// every value some framework would take for the parameter it checks (the subject's booking number, a request fact).
public enum ParameterName {
    /// Whether `candidate` is `name` in any letter case: by Unicode's upper- and lower-case mappings of the whole
    /// names (ASP.NET reads `BOOKING` as `booking`), or character by character, as Java's `equalsIgnoreCase` compares
    /// them, each character's first case-mapped character either way (`bookıng` with a dotless ı, `bookİng` with a
    /// dotted capital İ, `ſ` for `s`).
    public static func matchesIgnoringCase(_ candidate: String, _ name: String) -> Bool {
        if candidate == name || candidate.lowercased() == name.lowercased() || candidate.uppercased() == name.uppercased() { return true }
        let (left, right) = (candidate.unicodeScalars, name.unicodeScalars)
        guard left.count == right.count else { return false }
        return zip(left, right).allSatisfy { one, other in
            one == other || one.properties.uppercaseMapping.unicodeScalars.first == other.properties.uppercaseMapping.unicodeScalars.first
                || one.properties.lowercaseMapping.unicodeScalars.first == other.properties.lowercaseMapping.unicodeScalars.first
        }
    }

    /// Whether two JSON body members' names may be read as one another: in any letter case
    /// (``matchesIgnoringCase(_:_:)``) or with other separators between their words (``FieldNameKey``). A request body
    /// naming one of them is refused as a misspelling of the other, wherever the gateway reads both.
    public static func sameBodyMember(_ one: String, _ other: String) -> Bool {
        if matchesIgnoringCase(one, other) { return true }
        let key = FieldNameKey.of(one)
        return !key.isEmpty && key == FieldNameKey.of(other)
    }

    /// Whether a query parameter named `candidate` (decoded) may be read as `name`: in any letter case, and as PHP,
    /// Rack and Express's `qs` read names. They skip what leads the name (PHP spaces, Rack brackets, `qs` with
    /// `allowDots` a dot) and read `booking[]`, `booking[0]` or (`qs`) `booking.x` as a structure named `booking`;
    /// Rack also reads `booking]` as `booking`; PHP reads spaces, dots and an unclosed bracket as `_`.
    public static func queryNameMatches(_ candidate: String, _ name: String) -> Bool {
        matchesIgnoringCase(candidate, name) || readings(of: candidate).contains { matchesIgnoringCase($0, name) }
    }

    /// Whether a query parameter named `candidate` (decoded) may carry a value for `name` anywhere in the structure
    /// its name describes: as ``queryNameMatches(_:_:)`` reads it, or as any part between its brackets and dots
    /// (`visit[bookingNumber]`, `visit.bookingNumber`), which Rails and `qs` nest a value under; and any of these, or
    /// the whole name, with other separators between its words, as ``FieldNameKey`` compares body members
    /// (`booking_number`, `booking-number`, `booking number`), for an upstream that maps its names to camelCase.
    public static func mayCarry(_ candidate: String, _ name: String) -> Bool {
        if queryNameMatches(candidate, name) { return true }
        let parts = candidate.split(whereSeparator: { $0 == "[" || $0 == "]" || $0 == "." }).map(String.init)
        if parts.contains(where: { matchesIgnoringCase($0, name) }) { return true }
        let key = FieldNameKey.of(name)
        return !key.isEmpty && ([candidate] + readings(of: candidate) + parts).contains { FieldNameKey.of($0) == key }
    }

    /// The names PHP, Rack and `qs` read for a query parameter named `raw`.
    static func readings(of raw: String) -> [String] {
        let scalars = Array(raw.unicodeScalars)
        let isSeparator: (Unicode.Scalar) -> Bool = { $0 == "[" || $0 == "]" || $0 == "." }
        // Rack and `qs`: brackets, dots and (as PHP) spaces skipped at the start, then the name up to the first of them.
        let rack = scalars.drop { isSeparator($0) || $0 == " " }.prefix { !isSeparator($0) }
        // PHP: spaces skipped at the start; up to a `[` that a `]` closes later; spaces, dots and an unclosed `[` as `_`.
        var php = String.UnicodeScalarView()
        let trimmed = scalars.drop { $0 == " " }
        let lastClose = trimmed.lastIndex(of: "]")
        for (offset, scalar) in zip(trimmed.indices, trimmed) {
            if scalar == "[", let lastClose, offset < lastClose { break }
            php.append(scalar == " " || scalar == "." || scalar == "[" ? "_" : scalar)
        }
        return [String(String.UnicodeScalarView(rack)), String(php)]
    }
}
