/// A signature dictionary of a PDF whose /ByteRange was checked against the file: it starts at the first byte, its
/// only gap is exactly the dictionary's own /Contents hexadecimal string, and it ends with its revision's `%%EOF`.
struct PDFSignatureField {
    enum Kind { case signature, documentTimestamp }

    let kind: Kind
    let subFilter: String?
    /// The CMS structure in /Contents, without the zero padding after it.
    let contents: [UInt8]
    /// The signed bytes: the file before /Contents, and from after it to the end of the signed revision.
    let signedRanges: [Range<Int>]

    /// The end of the revision the signature covers.
    var signedEnd: Int { signedRanges[1].upperBound }
}

/// What a PDF holds by way of signatures.
enum PDFSignatureExtraction {
    case unsigned
    /// The signature whose range ends last, and nothing appended after its revision but validation data (PAdES-LT);
    /// `earlier` are the signatures it covers (a judge's, say, under a clerk's), in the order their ranges end;
    /// `unchecked` says why part of what was appended could not be checked (it is compressed), if it could not.
    case signed(PDFSignatureField, earlier: [PDFSignatureField], unchecked: String?)
}

/// Finds a PDF's embedded signature (PAdES, `adbe.pkcs7.detached`) without trusting the file's own map of itself.
///
/// Every name in the file that reads as /ByteRange, `#` escapes decoded, must be the /ByteRange entry of a well-formed signature or document
/// time-stamp dictionary: a decoy elsewhere, an entry whose range leaves any gap other than its own /Contents, or a
/// range that does not cover its own dictionary makes the file invalid. What was appended after the last signature's
/// revision is checked by ``PDFIncrementalUpdates``. The last signature covers every byte before it, earlier signatures
/// included; two that end at the same revision make the file invalid (no writer makes them, and which one is last would
/// be a matter of chance).
enum PDFSignatureExtractor {
    static let maximumSignatureDictionaries = 16

    /// Whether the bytes start as a PDF does (`%PDF-` within the first 1024 bytes, as readers accept).
    static func isPDF(_ bytes: [UInt8]) -> Bool {
        (0..<min(bytes.count, 1024)).contains { PDFBytes.hasPrefix(bytes, at: $0, "%PDF-") }
    }

    /// Throws ``PDFSyntaxError`` when the file cannot be read with confidence or was modified after signing.
    static func extract(_ bytes: [UInt8]) throws -> PDFSignatureExtraction {
        let offsets = PDFBytes.nameOccurrences(of: "ByteRange", in: bytes, range: 0..<bytes.count)
        guard offsets.count <= maximumSignatureDictionaries else {
            throw PDFSyntaxError("the file holds more than \(maximumSignatureDictionaries) /ByteRange entries")
        }
        let fields = try offsets.map { try field(byteRangeAt: $0, in: bytes) }
        let signatures = fields.filter { $0.kind == .signature }.sorted { $0.signedEnd < $1.signedEnd }
        guard let last = signatures.last else { return .unsigned }
        if let tie = zip(signatures, signatures.dropFirst()).first(where: { $0.signedEnd == $1.signedEnd }) {
            throw PDFSyntaxError("two signatures cover the file up to the same offset (\(tie.0.signedEnd))")
        }
        let unchecked = try PDFIncrementalUpdates.check(bytes, signedEnd: last.signedEnd)
        return .signed(last, earlier: Array(signatures.dropLast()), unchecked: unchecked)
    }

    /// The signature dictionary whose /ByteRange key is at `offset`.
    static func field(byteRangeAt offset: Int, in bytes: [UInt8]) throws -> PDFSignatureField {
        guard let header = objectHeader(before: offset, in: bytes) else {
            throw PDFSyntaxError("the /ByteRange at offset \(offset) is not inside an object: a decoy")
        }
        var scanner = PDFScanner(bytes, at: header)
        let object: PDFIndirectObject
        do {
            object = try scanner.indirectObject()
        } catch let error as PDFSyntaxError {
            throw PDFSyntaxError("the object holding the /ByteRange at offset \(offset) cannot be read (\(error))")
        }
        guard let dictionary = object.value.dictionary, object.streamData == nil, dictionary.keyOffsets["ByteRange"] == offset else {
            throw PDFSyntaxError("the /ByteRange at offset \(offset) is not the entry of a signature dictionary: a decoy")
        }
        let kind: PDFSignatureField.Kind
        switch dictionary.type {
        case nil, "Sig": kind = .signature
        case "DocTimeStamp": kind = .documentTimestamp
        case let other?: throw PDFSyntaxError("the /ByteRange at offset \(offset) is in a /\(other) dictionary, not a signature")
        }
        guard case .array(let elements) = dictionary["ByteRange"], elements.count == 4 else {
            throw PDFSyntaxError("the /ByteRange at offset \(offset) is not an array of four integers")
        }
        let range = elements.compactMap(\.unsignedInteger)
        guard range.count == 4 else { throw PDFSyntaxError("the /ByteRange at offset \(offset) is not an array of four integers") }
        guard case .string = dictionary["Contents"], let contentsRange = dictionary.valueRanges["Contents"] else {
            throw PDFSyntaxError("the signature dictionary at offset \(offset) has no /Contents string")
        }
        let (start, gapStart, gapEnd, tailLength) = (range[0], range[1], range[2], range[3])
        guard start == 0 else { throw PDFSyntaxError("the /ByteRange does not start at the beginning of the file") }
        guard gapStart == contentsRange.lowerBound, gapEnd == contentsRange.upperBound else {
            throw PDFSyntaxError("the /ByteRange leaves a gap that is not exactly the signature's /Contents")
        }
        let (signedEnd, overflow) = gapEnd.addingReportingOverflow(tailLength)
        guard !overflow, signedEnd <= bytes.count else { throw PDFSyntaxError("the /ByteRange runs past the end of the file") }
        guard object.range.upperBound <= signedEnd else { throw PDFSyntaxError("the /ByteRange does not cover its own signature dictionary") }
        let hex = bytes[(gapStart + 1)..<(gapEnd - 1)]
        guard bytes[gapStart] == UInt8(ascii: "<"), bytes[gapEnd - 1] == UInt8(ascii: ">"), hex.count % 2 == 0,
            hex.allSatisfy({ ASCIIHex.value($0) != nil })
        else { throw PDFSyntaxError("the signature's /Contents is not a plain hexadecimal string") }
        guard endsWithEOF(bytes, before: signedEnd) else {
            throw PDFSyntaxError("the /ByteRange does not end at the end of a revision (%%EOF)")
        }
        return PDFSignatureField(
            kind: kind, subFilter: dictionary["SubFilter"]?.name, contents: try signatureBytes(hex),
            signedRanges: [0..<gapStart, gapEnd..<signedEnd]
        )
    }

    /// The offset of `n g obj` that opens the object around `offset`: the nearest `obj` keyword before it, which must
    /// not be `endobj` (then `offset` lies between objects).
    static func objectHeader(before offset: Int, in bytes: [UInt8]) -> Int? {
        var index = offset - 3
        while index >= 0 {
            if PDFBytes.hasPrefix(bytes, at: index, "obj"), index + 3 < bytes.count, !PDFBytes.isRegular(bytes[index + 3]) {
                if index > 0 && PDFBytes.isRegular(bytes[index - 1]) { return nil }
                // Back over `n g ` (digits and whitespace) to the start of the object number.
                var start = index
                var numbers = 0
                while numbers < 2 {
                    while start > 0, PDFBytes.isWhitespace(bytes[start - 1]) { start -= 1 }
                    let digitsEnd = start
                    while start > 0, PDFBytes.isDigit(bytes[start - 1]) { start -= 1 }
                    guard start < digitsEnd else { return nil }
                    numbers += 1
                }
                return start
            }
            index -= 1
        }
        return nil
    }

    /// Whether the last non-whitespace bytes before `end` are `%%EOF`.
    static func endsWithEOF(_ bytes: [UInt8], before end: Int) -> Bool {
        var index = end
        while index > 0, PDFBytes.isWhitespace(bytes[index - 1]) { index -= 1 }
        return index >= 5 && PDFBytes.hasPrefix(bytes, at: index - 5, "%%EOF")
    }

    /// The CMS structure in /Contents' hexadecimal: one BER element, followed by nothing but zero padding.
    static func signatureBytes(_ hex: ArraySlice<UInt8>) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            guard let high = ASCIIHex.value(hex[index]), let low = ASCIIHex.value(hex[index + 1]) else {
                throw PDFSyntaxError("the signature's /Contents is not hexadecimal")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        guard let length = BERLength.elementLength(bytes, at: 0) else {
            throw PDFSyntaxError("the signature's /Contents does not hold a DER or BER structure")
        }
        guard bytes[length...].allSatisfy({ $0 == 0 }) else {
            throw PDFSyntaxError("the signature's /Contents holds bytes after its CMS structure")
        }
        return Array(bytes[..<length])
    }
}

/// The extent of BER elements, for finding where a CMS structure ends inside zero padding.
enum BERLength {
    static let maximumDepth = 64

    /// The offset just past the element at `start`, following indefinite lengths to their end-of-contents; nil if
    /// the element is malformed or runs past the end.
    static func elementLength(_ bytes: [UInt8], at start: Int, depth: Int = 0) -> Int? {
        guard depth <= maximumDepth, start < bytes.count else { return nil }
        var index = start
        let tag = bytes[index]
        index += 1
        if tag & 0x1f == 0x1f {
            var tagBytes = 0
            while index < bytes.count, bytes[index] & 0x80 != 0 {
                index += 1
                tagBytes += 1
                guard tagBytes < 4 else { return nil }
            }
            index += 1
        }
        guard index < bytes.count else { return nil }
        let first = bytes[index]
        index += 1
        if first == 0x80 {
            guard tag & 0x20 != 0 else { return nil }
            while index + 1 < bytes.count {
                if bytes[index] == 0, bytes[index + 1] == 0 { return index + 2 }
                guard let next = elementLength(bytes, at: index, depth: depth + 1) else { return nil }
                index = next
            }
            return nil
        }
        var length = Int(first)
        if first & 0x80 != 0 {
            let count = Int(first & 0x7f)
            guard count <= 4, index + count <= bytes.count else { return nil }
            length = 0
            for byte in bytes[index..<index + count] { length = length << 8 | Int(byte) }
            index += count
        }
        let (end, overflow) = index.addingReportingOverflow(length)
        guard !overflow, end <= bytes.count else { return nil }
        return end
    }
}
