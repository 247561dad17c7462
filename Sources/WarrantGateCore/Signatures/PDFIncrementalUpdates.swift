/// Checks what was appended to a PDF after its signed revision (ISO 32000-1 §7.5.6, incremental updates).
///
/// PAdES-LT and -LTA files append validation data after signing. An appended revision is allowed only if it:
/// - consists of whole objects, a classic `xref` table and `trailer` (or a cross-reference stream, whose dictionary
///   is read as the trailer), `startxref` and `%%EOF`, and nothing else;
/// - adds only validation data as new objects (numbers at or above the signed revision's /Size): a /DSS dictionary,
///   /VRI dictionaries, certificate, CRL and OCSP streams (a stream whose dictionary holds only /Length, /Filter and
///   /DecodeParms), arrays of references and integers, and /DocTimeStamp signature dictionaries;
/// - redefines no object of the signed revision except the catalog, and the catalog only by adding or changing /DSS
///   and /Extensions;
/// - keeps the trailer's /Root, /Info and /Encrypt, and chains /Prev to the previous revision's `startxref`;
/// - has an xref table whose in-use entries each point at an object of this revision with that number, and frees no
///   object but object 0;
/// - holds no comment (a reader that searches the raw bytes for the last `startxref` would follow one written in a
///   comment), and no object defined twice;
/// - defines no object the signed revision refers to: a signed page that lists a content stream it does not define
///   would show whatever a later revision puts there. (A signed revision with object or cross-reference streams
///   could refer to anything unseen.)
///
/// Anything else (a changed page, a new annotation or form value) is refused as a modification after signing. Some
/// of it cannot be checked, as PAdES-LT signers write it for PDF 1.5 files: an object stream (whose objects are
/// compressed), the entries of a cross-reference stream, objects added after a signed revision that uses such
/// streams, or a catalog redefined where the signed one cannot be located. Everything readable is still checked, in
/// every revision; ``check(_:signedEnd:)`` then returns why the rest could not be, and the signature is neither
/// verified nor called broken.
enum PDFIncrementalUpdates {
    static let maximumRevisions = 64
    static let maximumXrefSections = 256
    static let maximumXrefEntries = 1 << 20
    static let allowedTrailerKeys: Set<String> = ["Size", "Prev", "Root", "Info", "ID", "Encrypt"]
    /// What a cross-reference stream's dictionary holds besides a trailer's keys (ISO 32000-1 §7.5.8.2).
    static let crossReferenceStreamKeys: Set<String> = ["Type", "W", "Index", "Length", "Filter", "DecodeParms"]
    static let catalogKeysValidationMayChange: Set<String> = ["DSS", "Extensions"]

    /// Objects, nested values included, that all appended revisions together may hold: validation data is a few
    /// dozen certificates and responses, not a document.
    static let maximumAppendedObjects = 1 << 16

    /// Whitespace allowed after the last `%%EOF`: an end of line or two. PDFium looks for `startxref` only in a file's
    /// last 4,096 bytes, and rebuilds the cross-reference from whatever objects it finds when it does not see one.
    static let maximumTrailingWhitespace = 32

    /// Throws if what follows `signedEnd` changes the signed document; returns why part of it could not be checked,
    /// or nil if all of it was.
    static func check(_ bytes: [UInt8], signedEnd: Int) throws -> String? {
        guard bytes[signedEnd...].contains(where: { !PDFBytes.isWhitespace($0) }) else {
            guard bytes.count - signedEnd <= maximumTrailingWhitespace else { throw paddedEnd() }
            return nil
        }
        let signed = try SignedRevision(bytes, end: signedEnd)
        var previousStartxref = signed.startxref
        var scanner = PDFScanner(bytes, at: signedEnd, allowsComments: false, budget: maximumAppendedObjects)
        var revisions: [AppendedRevision] = []
        var unchecked: String?
        while true {
            scanner.skipWhitespaceAndComments()
            if scanner.atEnd { break }
            guard revisions.count < maximumRevisions else { throw modified("more than \(maximumRevisions) revisions were appended") }
            let revision = try AppendedRevision(&scanner)
            let reason = try revision.check(against: signed, previousStartxref: previousStartxref)
            unchecked = unchecked ?? reason
            previousStartxref = revision.startxref
            revisions.append(revision)
        }
        guard let last = revisions.last, bytes.count - last.end <= maximumTrailingWhitespace else { throw paddedEnd() }
        // Readers find the last `startxref` by searching the raw bytes backwards: it must be the one read here.
        guard PDFBytes.lastOccurrence(of: "startxref", in: bytes, range: signedEnd..<bytes.count) == last.startxrefKeyword else {
            throw modified("the last startxref in the file is not the last appended revision's")
        }
        return try checkReferences(to: revisions, in: signed) ?? unchecked
    }

    /// Refuses objects added after signing that the signed revision refers to; returns why that cannot be known
    /// (the signed revision's object streams could refer to them unseen), or nil.
    private static func checkReferences(to revisions: [AppendedRevision], in signed: SignedRevision) throws -> String? {
        let added = Set(revisions.flatMap { $0.objects.map(\.reference.number) }.filter { $0 >= signed.size })
        guard !added.isEmpty else { return nil }
        let scan = PDFReferenceScan(signed.bytes, range: 0..<signed.end, candidates: added)
        if let number = scan.referenced.min() {
            throw modified("object \(number), which the signed revision refers to but does not define, was added after signing")
        }
        if scan.namesObjectStream || signed.usesCrossReferenceStreams {
            return "objects were added after signing to a PDF whose signed revision uses compressed object or cross-reference streams, which could refer to them unseen"
        }
        return nil
    }

    private static func paddedEnd() -> PDFSyntaxError {
        modified("more than \(maximumTrailingWhitespace) bytes of whitespace follow the last %%EOF")
    }

    static func modified(_ why: String) -> PDFSyntaxError {
        PDFSyntaxError("the PDF was modified after signing: \(why)")
    }

    /// An `xref` table: each object number's entry, in-use with an offset or free.
    struct XrefTable {
        enum Entry: Equatable {
            case inUse(offset: Int, generation: Int)
            case free
        }

        var entries: [Int: Entry] = [:]
        var trailer = PDFDictionary()

        /// Reads `xref`, its subsections and `trailer << … >>` at the scanner's position.
        init(_ scanner: inout PDFScanner) throws {
            try scanner.expect("xref")
            var count = 0
            while true {
                scanner.skipWhitespaceAndComments()
                if scanner.consume("trailer") { break }
                let first = try scanner.unsignedInteger()
                let length = try scanner.unsignedInteger()
                for index in 0..<length {
                    count += 1
                    guard count <= maximumXrefEntries else { throw PDFSyntaxError("an xref table has too many entries") }
                    let (number, overflow) = first.addingReportingOverflow(index)
                    guard !overflow else { throw PDFSyntaxError("an xref subsection overflows") }
                    let offset = try scanner.unsignedInteger()
                    let generation = try scanner.unsignedInteger()
                    scanner.skipWhitespaceAndComments()
                    let entry: Entry
                    if scanner.consume("n") {
                        entry = .inUse(offset: offset, generation: generation)
                    } else if scanner.consume("f") {
                        entry = .free
                    } else {
                        throw PDFSyntaxError("a malformed xref entry at offset \(scanner.position)")
                    }
                    guard entries[number] == nil else { throw PDFSyntaxError("an xref table lists object \(number) twice") }
                    entries[number] = entry
                }
            }
            guard let trailer = try scanner.object().dictionary else { throw PDFSyntaxError("the trailer is not a dictionary") }
            self.trailer = trailer
        }
    }

    /// What the appended revisions are checked against: the signed revision's trailer, its catalog (as its xref
    /// tables locate it, newest first, not by searching the bytes: an earlier, unused definition must not stand in
    /// for it), and whether any of its sections is or names a cross-reference stream. Its xref chain is read once.
    struct SignedRevision {
        let bytes: [UInt8]
        let end: Int
        let startxref: Int
        let trailer: PDFDictionary
        let root: PDFReference
        let size: Int
        /// Nil if the xref chain does not lead to the catalog; then the catalog may not be redefined.
        let catalog: PDFDictionary?
        let usesCrossReferenceStreams: Bool

        init(_ bytes: [UInt8], end: Int) throws {
            self.bytes = bytes
            self.end = end
            let window = max(0, end - 1024)..<end
            guard let keyword = PDFBytes.occurrences(of: "startxref", in: bytes, range: window).last else {
                throw PDFSyntaxError("the signed revision has no startxref")
            }
            var scanner = PDFScanner(bytes, at: keyword + "startxref".utf8.count, end: end)
            startxref = try scanner.unsignedInteger()
            guard startxref < end else { throw PDFSyntaxError("the signed revision's startxref points outside it") }
            var section = PDFScanner(bytes, at: startxref, end: end)
            section.skipWhitespaceAndComments()
            let endsInStream: Bool
            if PDFBytes.hasPrefix(bytes, at: section.position, "xref") {
                trailer = try XrefTable(&section).trailer
                endsInStream = false
            } else {
                // A cross-reference stream: its dictionary is the trailer; its entries are compressed.
                let object = try section.indirectObject()
                guard let dictionary = object.value.dictionary, dictionary.type == "XRef", object.streamData != nil else {
                    throw PDFSyntaxError("the signed revision's startxref points at neither an xref table nor a cross-reference stream")
                }
                trailer = dictionary
                endsInStream = true
            }
            guard let root = trailer["Root"]?.reference, let size = trailer["Size"]?.unsignedInteger else {
                throw PDFSyntaxError("the signed revision's trailer lacks /Root or /Size")
            }
            self.root = root
            self.size = size
            if endsInStream {
                (catalog, usesCrossReferenceStreams) = (nil, true)
            } else {
                (catalog, usesCrossReferenceStreams) = try Self.readChain(bytes, end: end, from: startxref, root: root)
            }
        }

        /// Walks the xref chain from `offset` by /Prev: the catalog, from the newest section that lists the root, and
        /// whether a section is a cross-reference stream or a trailer names one (/XRefStm, a hybrid file).
        private static func readChain(_ bytes: [UInt8], end: Int, from offset: Int, root: PDFReference) throws -> (PDFDictionary?, Bool) {
            var offset = offset
            var visited: Set<Int> = []
            var catalog: PDFDictionary?
            var rootListed = false
            while visited.insert(offset).inserted {
                guard visited.count <= maximumXrefSections else { throw PDFSyntaxError("the signed revision has more than \(maximumXrefSections) xref sections") }
                var scanner = PDFScanner(bytes, at: offset, end: end)
                scanner.skipWhitespaceAndComments()
                guard PDFBytes.hasPrefix(bytes, at: scanner.position, "xref") else { return (catalog, true) }
                let table = try XrefTable(&scanner)
                if table.trailer["XRefStm"] != nil { return (catalog, true) }
                if !rootListed, let entry = table.entries[root.number] {
                    rootListed = true
                    if case .inUse(let objectOffset, let generation) = entry, generation == root.generation, objectOffset < end {
                        var objectScanner = PDFScanner(bytes, at: objectOffset, end: end)
                        if let object = try? objectScanner.indirectObject(), object.reference == root,
                           let dictionary = object.value.dictionary, dictionary.type == "Catalog" {
                            catalog = dictionary
                        }
                    }
                }
                guard let previous = table.trailer["Prev"]?.unsignedInteger, previous < end else { break }
                offset = previous
            }
            return (catalog, false)
        }
    }

    /// One appended revision: its objects, xref table, trailer and `startxref`, up to its `%%EOF`.
    struct AppendedRevision {
        var objects: [PDFIndirectObject] = []
        var xref: XrefTable?
        var xrefOffset = 0
        var startxref = 0
        /// Where the revision's `startxref` keyword is.
        var startxrefKeyword = 0
        /// Where the revision ends, after its `%%EOF`.
        var end = 0

        init(_ scanner: inout PDFScanner) throws {
            var sawStartxref = false
            var numbers: Set<Int> = []
            while true {
                scanner.skipWhitespaceAndComments()
                guard let byte = scanner.current else { throw modified("an appended revision does not end with %%EOF") }
                let offset = scanner.position
                if scanner.consume("%%EOF") {
                    guard sawStartxref else { throw modified("an appended revision has no startxref") }
                    end = scanner.position
                    return
                }
                if PDFBytes.isDigit(byte) {
                    let object: PDFIndirectObject
                    do {
                        object = try scanner.indirectObject()
                    } catch let error as PDFSyntaxError {
                        throw modified("unreadable data appended at offset \(offset) (\(error))")
                    }
                    guard numbers.insert(object.reference.number).inserted else {
                        throw modified("an appended revision defines object \(object.reference.number) twice")
                    }
                    objects.append(object)
                } else if PDFBytes.hasPrefix(scanner.bytes, at: offset, "xref") {
                    guard xref == nil else { throw modified("an appended revision has two xref tables") }
                    xrefOffset = offset
                    xref = try XrefTable(&scanner)
                } else if scanner.consume("startxref") {
                    guard !sawStartxref else { throw modified("an appended revision has two startxref") }
                    startxrefKeyword = offset
                    startxref = try scanner.unsignedInteger()
                    sawStartxref = true
                } else if byte == UInt8(ascii: "%") {
                    throw modified("a comment was appended at offset \(offset)")
                } else {
                    throw modified("unexpected data appended at offset \(offset)")
                }
            }
        }

        /// Throws if this revision changes the signed document; returns why part of it could not be checked, or nil.
        func check(against signed: SignedRevision, previousStartxref: Int) throws -> String? {
            var unchecked: String?
            if let stream = objects.first(where: { $0.value.dictionary?.type == "ObjStm" }) {
                unchecked = "object \(stream.reference.number), appended after signing, is a compressed object stream, whose objects cannot be checked"
            }
            let crossReferenceStreams = objects.filter { $0.value.dictionary?.type == "XRef" }
            let trailer: PDFDictionary
            var allowedKeys = allowedTrailerKeys
            if let xref {
                guard startxref == xrefOffset else { throw modified("an appended revision's startxref does not point at its xref table") }
                trailer = xref.trailer
                if trailer["XRefStm"] != nil {
                    // A hybrid file: the table, and a cross-reference stream beside it for readers of PDF 1.5.
                    allowedKeys.insert("XRefStm")
                    unchecked = unchecked ?? "an appended trailer names a cross-reference stream (/XRefStm), whose entries cannot be checked"
                } else if !crossReferenceStreams.isEmpty {
                    throw modified("an appended revision has both an xref table and a cross-reference stream")
                }
                let objectsByOffset = Dictionary(objects.map { ($0.range.lowerBound, $0) }, uniquingKeysWith: { first, _ in first })
                for (number, entry) in xref.entries {
                    switch entry {
                    case .free:
                        guard number == 0 else { throw modified("an appended xref table frees object \(number)") }
                    case .inUse(let offset, let generation):
                        guard let object = objectsByOffset[offset], object.reference == PDFReference(number: number, generation: generation) else {
                            throw modified("an appended xref entry for object \(number) does not point at that object in its revision")
                        }
                    }
                }
            } else if crossReferenceStreams.count == 1, let stream = crossReferenceStreams.first, let dictionary = stream.value.dictionary {
                guard startxref == stream.range.lowerBound else { throw modified("an appended revision's startxref does not point at its cross-reference stream") }
                trailer = dictionary
                allowedKeys.formUnion(crossReferenceStreamKeys)
                unchecked = unchecked ?? "an appended cross-reference stream's entries are compressed and cannot be checked"
            } else {
                throw modified("an appended revision has no xref table")
            }
            if let key = trailer.keys.subtracting(allowedKeys).sorted().first {
                throw modified("an appended trailer adds /\(key)")
            }
            guard trailer["Prev"]?.unsignedInteger == previousStartxref else {
                throw modified("an appended trailer's /Prev does not point at the previous revision's xref")
            }
            for key in ["Root", "Info", "Encrypt"] where trailer[key] != signed.trailer[key] {
                throw modified("an appended trailer changes /\(key)")
            }
            for object in objects {
                if ["XRef", "ObjStm"].contains(object.value.dictionary?.type) {
                    // Read as streams, not as validation data; but never in place of an object the signature covers.
                    guard object.reference.number >= signed.size else {
                        throw modified("object \(object.reference.number), which the signed revision defines, was redefined as a compressed stream")
                    }
                    continue
                }
                let reason = try Self.checkObject(object, against: signed)
                unchecked = unchecked ?? reason
            }
            return unchecked
        }

        /// Throws if `object` changes the signed document; returns why it could not be checked, or nil.
        static func checkObject(_ object: PDFIndirectObject, against signed: SignedRevision) throws -> String? {
            let number = object.reference.number
            if number < signed.size {
                guard object.reference == signed.root, object.streamData == nil, let updated = object.value.dictionary else {
                    throw modified("object \(number), which the signed revision defines, was redefined")
                }
                guard let original = signed.catalog else {
                    guard signed.usesCrossReferenceStreams else {
                        throw modified("the catalog was redefined, and the signed revision's catalog cannot be located to compare it")
                    }
                    return "the catalog was redefined, and the signed revision's catalog is listed only in a compressed cross-reference stream"
                }
                let changed = updated.keys.union(original.keys).filter { updated[$0] != original[$0] }
                if let key = changed.subtracting(catalogKeysValidationMayChange).sorted().first {
                    throw modified("the catalog's /\(key) was changed")
                }
                return nil
            }
            guard isValidationData(object) else {
                let type = object.value.dictionary?.type.map { " (/\($0))" } ?? ""
                throw modified("object \(number)\(type) added after signing is not validation data")
            }
            return nil
        }

        /// DSS and VRI dictionaries, certificate/CRL/OCSP streams, arrays of them, and document time-stamps.
        static func isValidationData(_ object: PDFIndirectObject) -> Bool {
            switch object.value {
            case .dictionary(let dictionary) where object.streamData != nil:
                return dictionary.keys.isSubset(of: ["Length", "Filter", "DecodeParms"])
            case .dictionary(let dictionary):
                switch dictionary.type {
                case "DSS": return dictionary.keys.isSubset(of: ["Type", "VRI", "Certs", "CRLs", "OCSPs"])
                case "DocTimeStamp": return dictionary["SubFilter"]?.name == "ETSI.RFC3161"
                case "VRI", nil:
                    if dictionary.keys.isSubset(of: ["Type", "Cert", "CRL", "OCSP", "TU", "TS"]) { return true }
                    // The /VRI map: keys are upper-case hexadecimal SHA-1 digests of signature values.
                    return dictionary.type == nil
                        && dictionary.keys.allSatisfy { $0.utf8.count == 40 && $0.utf8.allSatisfy { PDFBytes.hexValue($0) != nil } }
                default: return false
                }
            case .array(let elements):
                return elements.allSatisfy { $0.reference != nil }
            case .number:
                return object.value.unsignedInteger != nil
            default:
                return false
            }
        }
    }
}
