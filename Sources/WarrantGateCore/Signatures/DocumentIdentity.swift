import Crypto

/// Which document a scan is, so that one document is registered once however its file was copied.
///
/// A PDF with an embedded signature is the document its first signature signed: its identity is the SHA-256 of the
/// bytes that signature's /ByteRange covers. What changes the file without breaking that signature (its own
/// /Contents, whose hexadecimal reads the same in either letter case; whitespace after `%%EOF`; validation data or a
/// later signature appended, as PAdES-LT or a clerk's countersignature does, or taken off again) leaves the identity
/// alone. Any other scan, and a PDF whose signatures cannot be read or that was changed after signing (whose signature
/// then does not count), is its bytes: its identity is the file's SHA-256.
public enum DocumentIdentity {
    /// The identity of `scan`, as lower-case hex.
    public static func digest(of scan: [UInt8]) -> String {
        guard PDFSignatureExtractor.isPDF(scan), case .signed(let last, let earlier, _)? = try? PDFSignatureExtractor.extract(scan) else {
            return Hex.encode(SHA256.hash(data: scan))
        }
        var hash = SHA256()
        for range in (earlier.first ?? last).signedRanges { hash.update(data: scan[range]) }
        return Hex.encode(hash.finalize())
    }
}
