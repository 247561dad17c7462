import Foundation

/// Minimal PDFs built byte by byte, signed the way PAdES signers do: a /Sig dictionary with a /ByteRange and a
/// zero-filled /Contents placeholder, the byte range computed, the bytes around the placeholder signed, and the
/// signature's hex spliced in.
///
/// The signing is the caller's: `signed(text:sign:)` hands it the bytes the byte range covers (the core tests sign
/// with swift-certificates or `openssl cms`, the CLI tests with an openssl CA), so this needs nothing but Foundation.
public enum TestPDF {
    public static let placeholderBytes = 8192

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
                (6, "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 0000000000 0000000000 0000000000] "
                    + "/Contents <\(String(repeating: "0", count: placeholderBytes * 2))> /M (D:20260301120000Z) >>")
            )
        }
        return objects
    }

    /// Writes objects, an xref table and a trailer after `prefix` (empty for a new file): a complete revision. With
    /// `crossReferenceStream`, a cross-reference stream (object number `size`, entries uncompressed) instead of the
    /// table and trailer, as PDF 1.5 writers do.
    public static func revision(
        prefix: [UInt8], objects: [(Int, String)], size: Int, prev: Int?, header: String = "%PDF-1.7\n%\u{e2}\u{e3}\u{cf}\u{d3}\n",
        crossReferenceStream: Bool = false
    ) -> [UInt8] {
        var bytes = prefix.isEmpty ? Array(header.utf8) : prefix
        var offsets: [(Int, Int)] = []
        for (number, body) in objects {
            offsets.append((number, bytes.count))
            bytes += Array("\(number) 0 obj\n\(body)\nendobj\n".utf8)
        }
        let xrefOffset = bytes.count
        if crossReferenceStream {
            var entries: [UInt8] = []
            for (_, offset) in offsets.sorted(by: { $0.0 < $1.0 }) + [(size, xrefOffset)] {
                entries += [1, UInt8(offset >> 24 & 0xFF), UInt8(offset >> 16 & 0xFF), UInt8(offset >> 8 & 0xFF), UInt8(offset & 0xFF), 0, 0]
            }
            let index = offsets.sorted(by: { $0.0 < $1.0 }).map { "\($0.0) 1" }.joined(separator: " ") + " \(size) 1"
            let previous = prev.map { " /Prev \($0)" } ?? ""
            bytes += Array("\(size) 0 obj\n<< /Type /XRef /Size \(size + 1) /Root 1 0 R /W [1 4 2] /Index [\(index)]\(previous) /Length \(entries.count) >>\nstream\n".utf8)
            bytes += entries + Array("\nendstream\nendobj\nstartxref\n\(xrefOffset)\n%%EOF\n".utf8)
            return bytes
        }
        var xref = "xref\n"
        if prev == nil {
            xref += "0 \(objects.count + 1)\n0000000000 65535 f \n"
            for (_, offset) in offsets.sorted(by: { $0.0 < $1.0 }) { xref += String(format: "%010d 00000 n \n", offset) }
        } else {
            for (number, offset) in offsets.sorted(by: { $0.0 < $1.0 }) { xref += "\(number) 1\n" + String(format: "%010d 00000 n \n", offset) }
        }
        let previous = prev.map { " /Prev \($0)" } ?? ""
        xref += "trailer\n<< /Size \(size) /Root 1 0 R\(previous) >>\nstartxref\n\(xrefOffset)\n%%EOF\n"
        return bytes + Array(xref.utf8)
    }

    public static func unsigned(text: String = "WARRANT") -> [UInt8] {
        revision(prefix: [], objects: objects(text: text, signed: false), size: 5, prev: nil)
    }

    /// A signed one-revision PDF; `sign` receives the bytes the byte range covers and returns a detached DER CMS
    /// signature.
    public static func signed(
        text: String = "WARRANT", contents: String = "4 0 R", crossReferenceStream: Bool = false, sign: ([UInt8]) throws -> [UInt8]
    ) throws -> [UInt8] {
        var bytes = revision(prefix: [], objects: objects(text: text, signed: true, contents: contents), size: 7, prev: nil, crossReferenceStream: crossReferenceStream)
        let placeholder = "[0 0000000000 0000000000 0000000000]"
        guard let contents = find("/Contents <", in: bytes), let byteRange = find(placeholder, in: bytes) else {
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

    /// Appends an incremental update with the given objects.
    public static func appendUpdate(to bytes: [UInt8], objects: [(Int, String)], size: Int, crossReferenceStream: Bool = false) throws -> [UInt8] {
        revision(prefix: bytes, objects: objects, size: size, prev: try startxref(of: bytes), crossReferenceStream: crossReferenceStream)
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
