/// Checks what was appended to a PDF after its signed revision (ISO 32000-1 §7.5.6, incremental updates).
///
/// PAdES-LT and -LTA files append validation data after signing. An appended revision is allowed only if it:
/// - consists of whole objects, a classic `xref` table, a `trailer`, `startxref` and `%%EOF`, and nothing else;
/// - adds only validation data as new objects (numbers at or above the signed revision's /Size): a /DSS dictionary,
///   /VRI dictionaries, certificate, CRL and OCSP streams (a stream whose dictionary holds only /Length, /Filter and
///   /DecodeParms), arrays of references and integers, and /DocTimeStamp signature dictionaries;
/// - redefines no object of the signed revision except the catalog, and the catalog only by adding or changing /DSS
///   and /Extensions;
/// - keeps the trailer's /Root, /Info and /Encrypt, and chains /Prev to the previous revision's `startxref`;
/// - has an xref table whose in-use entries each point at an object of this revision with that number, and frees no
///   object but object 0.
///
/// Anything else (a changed page, a new annotation or form value, a cross-reference or object stream, which would hide
/// its objects in compressed data) is refused as a modification after signing.
enum PDFIncrementalUpdates {
    static let maximumRevisions = 64
    static let maximumXrefSections = 256
    static let maximumXrefEntries = 1 << 20
    static let allowedTrailerKeys: Set<String> = ["Size", "Prev", "Root", "Info", "ID", "Encrypt"]
    static let catalogKeysValidationMayChange: Set<String> = ["DSS", "Extensions"]

    static func check(_ bytes: [UInt8], signedEnd: Int) throws {
        guard bytes[signedEnd...].contains(where: { !PDFBytes.isWhitespace($0) }) else { return }
        let signed = try SignedRevision(bytes, end: signedEnd)
        var previousStartxref = signed.startxref
        var scanner = PDFScanner(bytes, at: signedEnd)
        var revisions = 0
        while true {
            scanner.skipWhitespaceAndComments()
            if scanner.atEnd { return }
            revisions += 1
            guard revisions <= maximumRevisions else { throw modified("more than \(maximumRevisions) revisions were appended") }
            let revision = try AppendedRevision(&scanner)
            try revision.check(against: signed, previousStartxref: previousStartxref)
            previousStartxref = revision.startxref
        }
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

    /// What the appended revisions are checked against: the signed revision's trailer and catalog.
    struct SignedRevision {
        let bytes: [UInt8]
        let end: Int
        let startxref: Int
        let trailer: PDFDictionary
        let root: PDFReference
        let size: Int

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
            guard PDFBytes.hasPrefix(bytes, at: section.position, "xref") else {
                throw modified("the signed revision uses a cross-reference stream, so updates after it cannot be checked")
            }
            trailer = try XrefTable(&section).trailer
            guard let root = trailer["Root"]?.reference, let size = trailer["Size"]?.unsignedInteger else {
                throw PDFSyntaxError("the signed revision's trailer lacks /Root or /Size")
            }
            self.root = root
            self.size = size
        }

        /// The catalog as the signed revision defines it, found through its xref tables (newest first), not by
        /// searching the bytes: an earlier, unused definition must not stand in for it.
        func catalog() throws -> PDFDictionary {
            var offset = startxref
            var visited: Set<Int> = []
            while visited.insert(offset).inserted, visited.count <= maximumXrefSections {
                var scanner = PDFScanner(bytes, at: offset, end: end)
                scanner.skipWhitespaceAndComments()
                guard PDFBytes.hasPrefix(bytes, at: scanner.position, "xref") else { break }
                let table = try XrefTable(&scanner)
                if let entry = table.entries[root.number] {
                    guard case .inUse(let objectOffset, let generation) = entry, generation == root.generation, objectOffset < end else { break }
                    var objectScanner = PDFScanner(bytes, at: objectOffset, end: end)
                    let object = try objectScanner.indirectObject()
                    guard object.reference == root, let catalog = object.value.dictionary, catalog.type == "Catalog" else { break }
                    return catalog
                }
                guard let previous = table.trailer["Prev"]?.unsignedInteger, previous < end else { break }
                offset = previous
            }
            throw modified("the catalog was redefined, and the signed revision's catalog cannot be located to compare it")
        }
    }

    /// One appended revision: its objects, xref table, trailer and `startxref`, up to its `%%EOF`.
    struct AppendedRevision {
        var objects: [PDFIndirectObject] = []
        var xref: XrefTable?
        var xrefOffset = 0
        var startxref = 0

        init(_ scanner: inout PDFScanner) throws {
            var sawStartxref = false
            while true {
                scanner.skipWhitespaceAndComments()
                guard let byte = scanner.current else { throw modified("an appended revision does not end with %%EOF") }
                let offset = scanner.position
                if scanner.consume("%%EOF") {
                    guard sawStartxref else { throw modified("an appended revision has no startxref") }
                    return
                }
                if PDFBytes.isDigit(byte) {
                    let object: PDFIndirectObject
                    do {
                        object = try scanner.indirectObject()
                    } catch let error as PDFSyntaxError {
                        throw modified("unreadable data appended at offset \(offset) (\(error))")
                    }
                    objects.append(object)
                } else if PDFBytes.hasPrefix(scanner.bytes, at: offset, "xref") {
                    guard xref == nil else { throw modified("an appended revision has two xref tables") }
                    xrefOffset = offset
                    xref = try XrefTable(&scanner)
                } else if scanner.consume("startxref") {
                    guard !sawStartxref else { throw modified("an appended revision has two startxref") }
                    startxref = try scanner.unsignedInteger()
                    sawStartxref = true
                } else {
                    throw modified("unexpected data appended at offset \(offset)")
                }
            }
        }

        func check(against signed: SignedRevision, previousStartxref: Int) throws {
            if let stream = objects.first(where: { ["XRef", "ObjStm"].contains($0.value.dictionary?.type) }) {
                throw modified("object \(stream.reference.number) is a compressed /\(stream.value.dictionary?.type ?? "") stream, whose contents cannot be checked")
            }
            guard let xref else { throw modified("an appended revision has no xref table") }
            guard startxref == xrefOffset else { throw modified("an appended revision's startxref does not point at its xref table") }
            let trailer = xref.trailer
            if let key = trailer.keys.subtracting(allowedTrailerKeys).sorted().first {
                throw modified("an appended trailer adds /\(key)")
            }
            guard trailer["Prev"]?.unsignedInteger == previousStartxref else {
                throw modified("an appended trailer's /Prev does not point at the previous revision's xref")
            }
            for key in ["Root", "Info", "Encrypt"] where trailer[key] != signed.trailer[key] {
                throw modified("an appended trailer changes /\(key)")
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
            for object in objects { try Self.checkObject(object, against: signed) }
        }

        static func checkObject(_ object: PDFIndirectObject, against signed: SignedRevision) throws {
            let number = object.reference.number
            if number < signed.size {
                guard object.reference == signed.root, object.streamData == nil, let updated = object.value.dictionary else {
                    throw modified("object \(number), which the signed revision defines, was redefined")
                }
                let original = try signed.catalog()
                let changed = updated.keys.union(original.keys).filter { updated[$0] != original[$0] }
                if let key = changed.subtracting(catalogKeysValidationMayChange).sorted().first {
                    throw modified("the catalog's /\(key) was changed")
                }
                return
            }
            guard isValidationData(object) else {
                let type = object.value.dictionary?.type.map { " (/\($0))" } ?? ""
                throw modified("object \(number)\(type) added after signing is not validation data")
            }
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
