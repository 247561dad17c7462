import CompressNIO
import Foundation
import NIOCore

/// Minimal PDFs built byte by byte, signed the way PAdES signers do: a /Sig dictionary with a /ByteRange and a
/// zero-filled /Contents placeholder, the byte range computed, the bytes around the placeholder signed, and the
/// signature's hex spliced in.
///
/// The signing is the caller's: `signed(text:sign:)` hands it the bytes the byte range covers (the core tests sign
/// with swift-certificates or `openssl cms`, the CLI tests with an openssl CA). Compressed streams are zlib's, through
/// compress-nio.
public enum TestPDF {
    /// How a revision's cross-reference is written.
    public enum CrossReference: Sendable {
        /// A classic `xref` table and `trailer`.
        case table
        /// A cross-reference stream (object number `size`), its entries as they are.
        case stream
        /// A cross-reference stream with /FlateDecode and a PNG Up predictor, as PDF 1.5 writers such as Acrobat
        /// write it.
        case compressedStream
    }

    public static let placeholderBytes = 8192

    /// A signature dictionary's /ByteRange and /Contents before ``sealed(_:sign:)`` fills them in.
    public static let unsealedRangeAndContents =
        "/ByteRange [0 0000000000 0000000000 0000000000] /Contents <\(String(repeating: "0", count: placeholderBytes * 2))>"

    /// A PAdES-LTA document time-stamp's dictionary, unsealed.
    public static let documentTimestamp = "<< /Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161 \(unsealedRangeAndContents) >>"

    /// The body of a one-page document, objects 1 to 4, with the catalog and page as given; objects 5 and 6 (the
    /// signature field and its /Sig dictionary) when `signed`. `contents` is the page's /Contents value.
    public static func objects(text: String, signed: Bool, contents: String = "4 0 R") -> [(Int, String)] {
        let content = "BT /F1 12 Tf 72 720 Td (\(text)) Tj ET"
        var objects: [(Int, String)] = [
            (1, signed ? "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> >>" : "<< /Type /Catalog /Pages 2 0 R >>"),
            (2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            (3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents \(contents)\(signed ? " /Annots [5 0 R]" : "") >>"),
            (4, "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream"),
        ]
        if signed {
            objects.append((5, "<< /FT /Sig /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R /T (Signature1) /V 6 0 R >>"))
            objects.append(
                (6, "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached \(unsealedRangeAndContents) /M (D:20260301120000Z) >>")
            )
        }
        return objects
    }

    /// Writes objects, a cross-reference and a trailer after `prefix` (empty for a new file): a complete revision.
    /// `compressed` objects go into one object stream, number `size`, compressed, and need a cross-reference stream
    /// (then number `size + 1`); a stream's /Size counts both. `trailer` holds entries for the trailer (or the
    /// stream's dictionary) besides /Size, /Root and /Prev.
    public static func revision(
        prefix: [UInt8], objects: [(Int, String)], compressed: [(Int, String)] = [], size: Int, prev: Int?,
        header: String = "%PDF-1.7\n%\u{e2}\u{e3}\u{cf}\u{d3}\n", crossReference: CrossReference = .table, trailer: String = ""
    ) throws -> [UInt8] {
        var bytes = prefix.isEmpty ? Array(header.utf8) : prefix
        var entries: [(number: Int, type: UInt8, field: Int, index: Int)] = []
        for (number, body) in objects {
            entries.append((number, 1, bytes.count, 0))
            bytes += Array("\(number) 0 obj\n\(body)\nendobj\n".utf8)
        }
        var nextNumber = size
        if !compressed.isEmpty {
            guard crossReference != .table else { throw TestPDFError("an object stream needs a cross-reference stream") }
            var headerText = ""
            var body = ""
            for (index, (number, text)) in compressed.enumerated() {
                headerText += "\(number) \(body.utf8.count) "
                body += text + "\n"
                entries.append((number, 2, nextNumber, index))
            }
            let data = try deflate(Array((headerText + "\n" + body).utf8))
            entries.append((nextNumber, 1, bytes.count, 0))
            bytes += Array("\(nextNumber) 0 obj\n<< /Type /ObjStm /N \(compressed.count) /First \(headerText.utf8.count + 1) /Filter /FlateDecode /Length \(data.count) >>\nstream\n".utf8)
            bytes += data + Array("\nendstream\nendobj\n".utf8)
            nextNumber += 1
        }
        let xrefOffset = bytes.count
        let previous = prev.map { " /Prev \($0)" } ?? ""
        guard crossReference == .table else {
            entries.append((nextNumber, 1, xrefOffset, 0))
            entries.sort { $0.number < $1.number }
            var rows: [UInt8] = []
            for entry in entries {
                let field = entry.field
                rows += [entry.type, UInt8(field >> 24 & 0xFF), UInt8(field >> 16 & 0xFF), UInt8(field >> 8 & 0xFF), UInt8(field & 0xFF), 0, UInt8(entry.index)]
            }
            let index = entries.map { "\($0.number) 1" }.joined(separator: " ")
            var encoding = ""
            if crossReference == .compressedStream {
                rows = try deflate(upPredicted(rows, columns: 7))
                encoding = " /Filter /FlateDecode /DecodeParms << /Columns 7 /Predictor 12 >>"
            }
            bytes += Array("\(nextNumber) 0 obj\n<< /Type /XRef /Size \(nextNumber + 1) /Root 1 0 R\(trailer) /W [1 4 2] /Index [\(index)]\(previous)\(encoding) /Length \(rows.count) >>\nstream\n".utf8)
            bytes += rows + Array("\nendstream\nendobj\nstartxref\n\(xrefOffset)\n%%EOF\n".utf8)
            return bytes
        }
        var xref = "xref\n"
        let offsets = entries.sorted { $0.number < $1.number }.map(\.field)
        if prev == nil {
            xref += "0 \(objects.count + 1)\n0000000000 65535 f \n"
            for offset in offsets { xref += String(format: "%010d 00000 n \n", offset) }
        } else {
            for entry in entries.sorted(by: { $0.number < $1.number }) { xref += "\(entry.number) 1\n" + String(format: "%010d 00000 n \n", entry.field) }
        }
        xref += "trailer\n<< /Size \(size) /Root 1 0 R\(trailer)\(previous) >>\nstartxref\n\(xrefOffset)\n%%EOF\n"
        return bytes + Array(xref.utf8)
    }

    /// zlib's deflate (RFC 1950), as /FlateDecode holds it.
    public static func deflate(_ bytes: [UInt8]) throws -> [UInt8] {
        var buffer = ByteBuffer(bytes: bytes)
        let compressed = try buffer.compress(with: .zlib())
        return Array(compressed.readableBytesView)
    }

    /// Rows of `columns` bytes, each led by PNG's Up filter (type 2): every byte less the one above it.
    public static func upPredicted(_ bytes: [UInt8], columns: Int) -> [UInt8] {
        var rows: [UInt8] = []
        for start in stride(from: 0, to: bytes.count, by: columns) {
            rows.append(2)
            for column in 0..<columns {
                rows.append(bytes[start + column] &- (start >= columns ? bytes[start - columns + column] : 0))
            }
        }
        return rows
    }

    public static func unsigned(text: String = "WARRANT") throws -> [UInt8] {
        try revision(prefix: [], objects: objects(text: text, signed: false), size: 5, prev: nil)
    }

    /// A signed one-revision PDF; `sign` receives the bytes the byte range covers and returns a detached DER CMS
    /// signature. `info`, if given, is the document information dictionary (object 7, named by the trailer's /Info).
    /// The objects numbered in `compressing` go into an object stream (numbered after the others; the signature's
    /// own objects, 4 to 6, are streams or must be read in place).
    public static func signed(
        text: String = "WARRANT", contents: String = "4 0 R", info: String? = nil, compressing: Set<Int> = [],
        crossReference: CrossReference = .table, sign: ([UInt8]) throws -> [UInt8]
    ) throws -> [UInt8] {
        let all = objects(text: text, signed: true, contents: contents) + (info.map { [(7, $0)] } ?? [])
        let bytes = try revision(
            prefix: [], objects: all.filter { !compressing.contains($0.0) }, compressed: all.filter { compressing.contains($0.0) },
            size: info == nil ? 7 : 8, prev: nil, crossReference: crossReference, trailer: info == nil ? "" : " /Info 7 0 R"
        )
        return try sealed(bytes, sign: sign)
    }

    /// `bytes` with its (one) unfilled /ByteRange filled in, and the signature `sign` makes over the bytes that range
    /// covers spliced into the /Contents placeholder after it (`placeholderBytes` zero bytes, in hexadecimal).
    public static func sealed(_ bytes: [UInt8], sign: ([UInt8]) throws -> [UInt8]) throws -> [UInt8] {
        var bytes = bytes
        let placeholder = "[0 0000000000 0000000000 0000000000]"
        guard let byteRange = find(placeholder, in: bytes), let contents = find("/Contents <", in: bytes, from: byteRange) else {
            throw TestPDFError("placeholder not found")
        }
        let gapStart = contents + "/Contents ".utf8.count
        let gapEnd = gapStart + placeholderBytes * 2 + 2
        let range = "[0 \(gapStart) \(gapEnd) \(bytes.count - gapEnd)]"
        let padded = range + String(repeating: " ", count: placeholder.utf8.count - range.utf8.count)
        bytes.replaceSubrange(byteRange..<byteRange + padded.utf8.count, with: Array(padded.utf8))
        let signature = try sign(Array(bytes[..<gapStart] + bytes[gapEnd...]))
        guard signature.count <= placeholderBytes else { throw TestPDFError("signature too large") }
        let hex = Array(signature.map { String(format: "%02X", $0) }.joined().utf8)
        bytes.replaceSubrange(gapStart + 1..<gapStart + 1 + hex.count, with: hex)
        return bytes
    }

    /// The offset of the last `startxref` value.
    public static func startxref(of bytes: [UInt8]) throws -> Int {
        guard let keyword = findLast("startxref\n", in: bytes) else { throw TestPDFError("no startxref") }
        let digits = bytes[(keyword + 10)...].prefix { (48...57).contains($0) }
        guard let value = Int(String(decoding: digits, as: UTF8.self)) else { throw TestPDFError("bad startxref") }
        return value
    }

    /// An incremental update to a one-signature PDF of ``signed(text:contents:info:compressing:crossReference:sign:)``
    /// that adds a second signature in a visible field of its own (objects 7 and 8, unsealed), as signing software
    /// appends a countersignature; `entries` go into its signature dictionary (a signing time, say).
    public static func appendingSecondSignature(to bytes: [UInt8], entries: String = "") throws -> [UInt8] {
        try appendUpdate(
            to: bytes,
            objects: [
                (1, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 7 0 R] /SigFlags 3 >> >>"),
                (3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots [5 0 R 7 0 R] >>"),
                (7, "<< /FT /Sig /Type /Annot /Subtype /Widget /Rect [400 50 550 100] /P 3 0 R /T (Signature2) /V 8 0 R >>"),
                (8, "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached \(unsealedRangeAndContents)\(entries) >>"),
            ],
            size: 9
        )
    }

    /// Appends an incremental update with the given objects.
    public static func appendUpdate(
        to bytes: [UInt8], objects: [(Int, String)], compressed: [(Int, String)] = [], size: Int, crossReference: CrossReference = .table,
        trailer: String = ""
    ) throws -> [UInt8] {
        try revision(
            prefix: bytes, objects: objects, compressed: compressed, size: size, prev: try startxref(of: bytes), crossReference: crossReference,
            trailer: trailer
        )
    }

    public static func find(_ text: String, in bytes: [UInt8], from start: Int = 0) -> Int? {
        let pattern = Array(text.utf8)
        guard bytes.count >= pattern.count, start <= bytes.count - pattern.count else { return nil }
        return (start...(bytes.count - pattern.count)).first { bytes[$0..<$0 + pattern.count].elementsEqual(pattern) }
    }

    public static func findLast(_ text: String, in bytes: [UInt8]) -> Int? {
        let pattern = Array(text.utf8)
        guard bytes.count >= pattern.count else { return nil }
        return (0...(bytes.count - pattern.count)).reversed().first { bytes[$0..<$0 + pattern.count].elementsEqual(pattern) }
    }
}

public struct TestPDFError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
