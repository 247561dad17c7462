/// Which of some object numbers a PDF's bytes may refer to (`n g R`), and whether any name in them spells `ObjStm`
/// (an object stream, whose compressed objects could refer to anything unseen).
///
/// Every byte is read as possible PDF syntax, stream data and strings included, so the scan may find a reference a
/// parser would not (a refusal, never a pass), and misses none a parser would find: comments are skipped only between
/// the tokens of a candidate, and a candidate whose gaps run past ``maximumGap`` bytes counts as a reference. Linear
/// in the bytes scanned: each candidate looks ahead at most ``maximumGap`` bytes beyond its own tokens.
struct PDFReferenceScan {
    static let maximumGap = 256

    /// The numbers of `candidates` the bytes may refer to.
    private(set) var referenced: Set<Int> = []
    /// Whether a name spells `ObjStm`, `#` escapes decoded.
    private(set) var namesObjectStream = false

    init(_ bytes: [UInt8], range: Range<Int>, candidates: Set<Int>) {
        guard !range.isEmpty else { return }
        var index = range.lowerBound
        let end = min(range.upperBound, bytes.count)
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "/") {
                let (name, after) = Self.name(in: bytes, from: index + 1, end: end)
                if name == Array("ObjStm".utf8) { namesObjectStream = true }
                index = after
            } else if PDFBytes.isDigit(byte), index == range.lowerBound || !PDFBytes.isRegular(bytes[index - 1]) {
                var after = index
                while after < end, PDFBytes.isDigit(bytes[after]) { after += 1 }
                if after - index <= 18, after == end || !PDFBytes.isRegular(bytes[after]),
                   let number = Int(String(decoding: bytes[index..<after], as: UTF8.self)),
                   candidates.contains(number), !referenced.contains(number),
                   Self.referenceFollows(in: bytes, from: after, end: end) {
                    referenced.insert(number)
                }
                index = after
            } else {
                index += 1
            }
        }
    }

    /// A name's bytes after its `/`, `#` escapes decoded, at most 64 of them kept; and where the name ends.
    private static func name(in bytes: [UInt8], from start: Int, end: Int) -> ([UInt8], Int) {
        var decoded: [UInt8] = []
        var index = start
        while index < end, PDFBytes.isRegular(bytes[index]) {
            var byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "#"), index + 1 < end, let high = PDFBytes.hexValue(bytes[index]), let low = PDFBytes.hexValue(bytes[index + 1]) {
                byte = high << 4 | low
                index += 2
            }
            if decoded.count < 64 { decoded.append(byte) }
        }
        return (decoded, index)
    }

    /// Whether ` g R` follows an object number ending at `start`: a generation and `R`, each after whitespace and
    /// comments; true as well if those gaps run past ``maximumGap`` bytes.
    private static func referenceFollows(in bytes: [UInt8], from start: Int, end: Int) -> Bool {
        var index = start
        var gap = 0
        /// Skips whitespace and comments; false once the gaps have run past the limit.
        func skipGap() -> Bool {
            while index < end {
                let byte = bytes[index]
                if PDFBytes.isWhitespace(byte) {
                    index += 1
                    gap += 1
                } else if byte == UInt8(ascii: "%") {
                    while index < end, bytes[index] != 10, bytes[index] != 13, gap <= maximumGap {
                        index += 1
                        gap += 1
                    }
                } else {
                    break
                }
                if gap > maximumGap { return false }
            }
            return true
        }
        guard skipGap() else { return true }
        let generationStart = index
        while index < end, PDFBytes.isDigit(bytes[index]), index - generationStart <= 10 { index += 1 }
        guard index > generationStart, index - generationStart <= 10, index < end, !PDFBytes.isRegular(bytes[index]) else { return false }
        guard skipGap() else { return true }
        return index < end && bytes[index] == UInt8(ascii: "R") && (index + 1 == end || !PDFBytes.isRegular(bytes[index + 1]))
    }
}
