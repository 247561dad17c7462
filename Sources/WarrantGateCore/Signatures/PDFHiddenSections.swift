/// Finds object headers and cross-reference keywords in a PDF's bytes that are not the ones a parse read.
///
/// A reader that finds a file's cross-reference damaged (pdf.js, qpdf) rebuilds it from every `n g obj`, `xref` and
/// `trailer` in the raw bytes, stream data and strings included, the last definition winning. What was appended
/// after signing may then hold no such token but the ones the checker parsed: anything else is an object or a
/// section hidden from it.
enum PDFHiddenSections {
    /// The first offset from `start` to the end of `bytes` of a token that is not listed: an `obj` keyword after `n g` (whitespace as broad
    /// as any reader takes it) whose header does not start at one of `objectStarts`, or the bytes `xref` or
    /// `trailer`, whatever surrounds them (pdf.js finds `trailer` inside other words), not at one of `keywords`.
    /// Linear in the bytes scanned: each candidate looks back over its own digits and whitespace only.
    static func first(in bytes: [UInt8], from start: Int, objectStarts: Set<Int>, keywords: Set<Int>) -> (offset: Int, token: String)? {
        var index = start
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "o") where PDFBytes.hasPrefix(bytes, at: index, "obj") && endsToken(after: index + 3, in: bytes):
                if let start = headerStart(beforeKeywordAt: index, in: bytes, from: start), !objectStarts.contains(start) {
                    return (start, "an object header")
                }
            case UInt8(ascii: "x") where PDFBytes.hasPrefix(bytes, at: index, "xref") && !keywords.contains(index):
                return (index, "an xref keyword")
            case UInt8(ascii: "t") where PDFBytes.hasPrefix(bytes, at: index, "trailer") && !keywords.contains(index):
                return (index, "a trailer keyword")
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// Whether a token ends at `index`: the bytes end, or a byte that some reader takes as whitespace or a delimiter
    /// follows.
    private static func endsToken(after index: Int, in bytes: [UInt8]) -> Bool {
        index == bytes.count || !PDFBytes.isRegular(bytes[index]) || isSpace(bytes[index])
    }

    /// Whitespace as PDF defines it, and the vertical tab and no-break space, which JavaScript's `\s` (pdf.js) and
    /// qpdf's tokenizer also take.
    private static func isSpace(_ byte: UInt8) -> Bool {
        PDFBytes.isWhitespace(byte) || byte == 0x0B || byte == 0xA0
    }

    /// The start of `n g` before an `obj` keyword at `keyword`, going back: whitespace or comments, or none (`4 0obj`,
    /// which poppler reads), digits, whitespace or comments (`4%…` then a line break, `0 obj`: a reader's lexer skips a
    /// comment as whitespace), digits, each number with its sign if it has one; nil if they are not there. A comment
    /// is found on the line before a line break, looking back at most ``commentWindow`` bytes for the line's start, at
    /// most ``maximumComments`` times: beyond either (a longer line may hold a comment too), the header's start is not
    /// known, and the window's start is returned, which is no object's: the token counts as hidden, whatever its bytes
    /// are.
    private static func headerStart(beforeKeywordAt keyword: Int, in bytes: [UInt8], from lowerBound: Int) -> Int? {
        var index = keyword
        for part in 0..<2 {
            let separatorEnd = index
            var comments = 0
            while true {
                let spaceEnd = index
                while index > lowerBound, isSpace(bytes[index - 1]) { index -= 1 }
                // A line that ends in digits may end in a comment all the same (`4 0 %9` then `obj`).
                let brokeLine = bytes[index..<spaceEnd].contains { $0 == 0x0A || $0 == 0x0D }
                guard brokeLine, index > lowerBound else { break }
                // The line before the break: its first `%` starts a comment that runs to the break.
                let windowStart = max(lowerBound, index - commentWindow)
                guard let lineStart = (windowStart..<index).last(where: { bytes[$0] == 0x0A || bytes[$0] == 0x0D }).map({ $0 + 1 })
                        ?? (windowStart == lowerBound ? lowerBound : nil)
                else { return windowStart }
                guard let percent = (lineStart..<index).first(where: { bytes[$0] == UInt8(ascii: "%") }) else { break }
                comments += 1
                guard comments <= maximumComments else { return windowStart }
                index = percent
            }
            // Between the two numbers a reader needs a separator; before `obj`, none.
            guard part == 0 || index < separatorEnd else { return nil }
            let digitsEnd = index
            while index > lowerBound, PDFBytes.isDigit(bytes[index - 1]) { index -= 1 }
            guard index < digitsEnd else { return nil }
            // A sign, which lexers read as part of a number (`4 -0 obj`).
            if index > lowerBound, bytes[index - 1] == UInt8(ascii: "+") || bytes[index - 1] == UInt8(ascii: "-") { index -= 1 }
        }
        return index
    }

    /// How far back a comment's line is looked for, and how many comments may stand between a header's parts.
    private static let commentWindow = 1024
    private static let maximumComments = 4
}
