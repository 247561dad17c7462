/// Finds object headers and cross-reference keywords in a PDF's bytes that are not the ones a parse read.
///
/// A reader that finds a file's cross-reference damaged (pdf.js, qpdf) rebuilds it from every `n g obj`, `xref` and
/// `trailer` in the raw bytes, stream data and strings included, the last definition winning. What was appended
/// after signing may then hold no such token but the ones the checker parsed: anything else is an object or a
/// section hidden from it.
enum PDFHiddenSections {
    /// The first offset in `range` of a token that is not listed: an `obj` keyword after `n g` (whitespace as broad
    /// as any reader takes it) whose header does not start at one of `objectStarts`, or a whole-token `xref` or
    /// `trailer` not at one of `keywords`. Linear in the range: each candidate looks back over its own digits and
    /// whitespace only.
    static func first(in bytes: [UInt8], range: Range<Int>, objectStarts: Set<Int>, keywords: Set<Int>) -> (offset: Int, token: String)? {
        var index = range.lowerBound
        while index < range.upperBound {
            switch bytes[index] {
            case UInt8(ascii: "o") where matches("obj", in: bytes, at: index, range: range):
                if let start = headerStart(beforeKeywordAt: index, in: bytes, from: range.lowerBound), !objectStarts.contains(start) {
                    return (start, "an object header")
                }
            case UInt8(ascii: "x") where matches("xref", in: bytes, at: index, range: range) && standsAlone(at: index, in: bytes, from: range.lowerBound):
                if !keywords.contains(index) { return (index, "an xref keyword") }
            case UInt8(ascii: "t") where matches("trailer", in: bytes, at: index, range: range) && standsAlone(at: index, in: bytes, from: range.lowerBound):
                if !keywords.contains(index) { return (index, "a trailer keyword") }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// Whether `word` is at `index` and ends a token there.
    private static func matches(_ word: StaticString, in bytes: [UInt8], at index: Int, range: Range<Int>) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= range.upperBound else { return false }
        let pattern = UnsafeBufferPointer(start: word.utf8Start, count: count)
        guard bytes[index..<index + count].elementsEqual(pattern) else { return false }
        return index + count == range.upperBound || !PDFBytes.isRegular(bytes[index + count])
    }

    /// Whether the byte before `index` ends a token (or there is none).
    private static func standsAlone(at index: Int, in bytes: [UInt8], from lowerBound: Int) -> Bool {
        index == lowerBound || !PDFBytes.isRegular(bytes[index - 1])
    }

    /// Whitespace as PDF defines it, and the vertical tab, which regular expressions' `\s` also matches.
    private static func isSpace(_ byte: UInt8) -> Bool {
        PDFBytes.isWhitespace(byte) || byte == 11
    }

    /// The start of `n g` before an `obj` keyword at `keyword`: whitespace, digits, whitespace, digits, going back;
    /// nil if they are not there.
    private static func headerStart(beforeKeywordAt keyword: Int, in bytes: [UInt8], from lowerBound: Int) -> Int? {
        var index = keyword
        for _ in 0..<2 {
            let spaceEnd = index
            while index > lowerBound, isSpace(bytes[index - 1]) { index -= 1 }
            guard index < spaceEnd else { return nil }
            let digitsEnd = index
            while index > lowerBound, PDFBytes.isDigit(bytes[index - 1]) { index -= 1 }
            guard index < digitsEnd else { return nil }
        }
        return index
    }
}
