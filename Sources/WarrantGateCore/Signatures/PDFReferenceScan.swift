/// Which of some object numbers a PDF's bytes may refer to (`n g R`), and where a name in them spells `ObjStm` (an
/// object stream, whose compressed objects are checked only if it is one the caller can decode).
///
/// Every byte is read as possible PDF syntax, stream data and strings included, so the scan may find a reference a
/// parser would not (a refusal, never a pass), and misses none a lenient reader would find: an object number or a
/// generation is any word of `+ - .` and digits, read every way a reader might (see `numericWord`); comments are
/// skipped only between the tokens of a candidate, and a candidate whose gaps run past ``maximumGap`` bytes counts as
/// a reference. Linear in the bytes scanned: each candidate looks ahead at most ``maximumGap`` bytes past its words.
struct PDFReferenceScan {
    static let maximumGap = 256

    /// How many times the bytes may refer to each number of `candidates` they may refer to at all.
    private(set) var occurrences: [Int: Int] = [:]
    /// The numbers of `candidates` the bytes may refer to.
    var referenced: Set<Int> { Set(occurrences.keys) }
    /// The offsets of the `/` of names that spell `ObjStm`, `#` escapes decoded.
    private(set) var objectStreamNames: Set<Int> = []

    init(_ bytes: [UInt8], range: Range<Int>, candidates: Set<Int>) {
        guard !range.isEmpty else { return }
        var index = range.lowerBound
        let end = min(range.upperBound, bytes.count)
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "/") {
                let (name, after) = Self.name(in: bytes, from: index + 1, end: end)
                if name == Array("ObjStm".utf8) { objectStreamNames.insert(index) }
                index = after
            } else if Self.isNumeric(byte), index == range.lowerBound || !PDFBytes.isRegular(bytes[index - 1]) {
                let word = Self.numericWord(in: bytes, from: index, end: end)
                if let word, word.values.contains(where: candidates.contains), Self.referenceFollows(in: bytes, from: word.end, end: end) {
                    for number in Set(word.values) where candidates.contains(number) { occurrences[number, default: 0] += 1 }
                }
                index = word?.end ?? index + 1
            } else {
                index += 1
            }
        }
    }

    /// Bytes a reader's lexer may take as part of a number: `+ - .` and digits.
    private static func isNumeric(_ byte: UInt8) -> Bool {
        PDFBytes.isDigit(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    /// A word of numeric bytes only (at least one digit) starting at `start` and ending at a byte that is not regular,
    /// with every value a reader might take from it: each run of digits, leading zeros dropped, exactly if it fits and
    /// modulo 2³² (a reader parsing into 32 bits); nil if the word holds another regular byte. So `+7`, `7.0`, `007`
    /// and `4294967303` each count as 7.
    private static func numericWord(in bytes: [UInt8], from start: Int, end: Int) -> (values: [Int], end: Int)? {
        var index = start
        var values: [Int] = []
        var exact: Int? = 0
        var wrapped: UInt32 = 0
        var inRun = false
        func closeRun() {
            if inRun {
                if let exact { values.append(exact) }
                values.append(Int(wrapped))
            }
            (exact, wrapped, inRun) = (0, 0, false)
        }
        while index < end, PDFBytes.isRegular(bytes[index]) {
            let byte = bytes[index]
            guard isNumeric(byte) else { return nil }
            if PDFBytes.isDigit(byte) {
                let digit = Int(byte - UInt8(ascii: "0"))
                inRun = true
                if let value = exact {
                    let (times, overflow) = value.multipliedReportingOverflow(by: 10)
                    let (sum, carry) = times.addingReportingOverflow(digit)
                    exact = overflow || carry ? nil : sum
                }
                wrapped = wrapped &* 10 &+ UInt32(digit)
            } else {
                closeRun()
            }
            index += 1
        }
        closeRun()
        return values.isEmpty ? nil : (values, index)
    }

    /// A name's bytes after its `/`, `#` escapes decoded, at most 64 of them kept; and where the name ends.
    private static func name(in bytes: [UInt8], from start: Int, end: Int) -> ([UInt8], Int) {
        var decoded: [UInt8] = []
        var index = start
        while index < end, PDFBytes.isRegular(bytes[index]) {
            var byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "#"), index + 1 < end, let high = ASCIIHex.value(bytes[index]), let low = ASCIIHex.value(bytes[index + 1]) {
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
        guard index < end, isNumeric(bytes[index]), let generation = numericWord(in: bytes, from: index, end: end) else { return false }
        index = generation.end
        guard skipGap() else { return true }
        return index < end && bytes[index] == UInt8(ascii: "R") && (index + 1 == end || !PDFBytes.isRegular(bytes[index + 1]))
    }
}
