/// Checks what was appended to a PDF after its signed revision (ISO 32000-1 §7.5.6, incremental updates).
///
/// PAdES-LT and -LTA files append validation data after signing. An appended revision is allowed only if it:
/// - consists of whole objects, a classic `xref` table laid out line by line and a `trailer`, or a cross-reference
///   stream (whose dictionary is read as the trailer), `startxref` and `%%EOF`, and nothing else;
/// - adds only validation data as new objects (numbers at or above the signed revision's /Size), directly or in
///   object streams of its own: a /DSS dictionary, /VRI dictionaries, certificate, CRL and OCSP streams (a stream
///   whose dictionary holds only /Length, /Filter and /DecodeParms), arrays of references and integers, and document
///   time-stamps with the invisible fields that hold them (``TimestampFields``);
/// - redefines no object of the signed revision but the catalog (only its /DSS and /Extensions, and an inline form
///   gaining time-stamp fields), /Info (only /ModDate and /Producer), the form's own object and pages (only gaining
///   time-stamp fields at the end of /Fields and /Annots), and those arrays where they are objects of their own;
/// - keeps the trailer's /Root, /Info and /Encrypt, and chains /Prev to the previous revision's `startxref`;
/// - has cross-reference entries (in a table or a stream) that each point at an object of this revision with that
///   number, directly or in one of the appended object streams, and frees no object but object 0;
/// - holds no comment (a reader that searches the raw bytes for the last `startxref` would follow one written in a
///   comment), no object defined twice, and no object header, `xref` or `trailer` but the ones parsed
///   (``PDFHiddenSections``: readers that rebuild a damaged cross-reference find them anywhere);
/// - defines no object the signed revision refers to, in its own bytes or in its object streams: a signed page that
///   lists a content stream it does not define would show whatever a later revision puts there. Nor does the signed
///   cross-reference place an object in an object stream added later.
///
/// Anything else (a changed page, a new annotation or form value) is refused as a modification after signing.
/// Compressed sections (cross-reference and object streams, in either part) are decoded with ``PDFStreamDecoder``.
/// Some cannot be: an unsupported filter, data a reader may read otherwise, more than the decoding budget, an object
/// stream the signed cross-reference does not list. Everything readable is still checked, in every revision;
/// ``check(_:signedEnd:)`` then returns why the rest could not be, and the signature is neither verified nor called
/// broken.
enum PDFIncrementalUpdates {
    static let maximumRevisions = 64
    static let maximumXrefSections = 256
    static let maximumXrefEntries = 1 << 20
    static let allowedTrailerKeys: Set<String> = ["Size", "Prev", "Root", "Info", "ID", "Encrypt"]
    /// What a cross-reference stream's dictionary holds besides a trailer's keys (ISO 32000-1 §7.5.8.2).
    static let crossReferenceStreamKeys: Set<String> = ["Type", "W", "Index", "Length", "Filter", "DecodeParms"]
    static let catalogKeysValidationMayChange: Set<String> = ["DSS", "Extensions"]
    /// What incremental writers (iText, pyHanko) set in the document information dictionary on every update; shown
    /// nowhere in the document.
    static let infoKeysWritersUpdate: Set<String> = ["ModDate", "Producer"]

    /// Objects, nested values included, that all appended revisions together may hold (and, apart, the objects their
    /// object streams may hold): validation data is a few dozen certificates and responses, not a document.
    static let maximumAppendedObjects = 1 << 16

    /// The largest object number and generation readers accept (ISO 32000-1 Annex C); qpdf rebuilds the
    /// cross-reference of a file that holds a larger one.
    static let maximumObjectNumber = 8_388_607
    static let maximumGeneration = 65_535

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
        var decoder = PDFStreamDecoder()
        let signed = try SignedRevision(bytes, end: signedEnd, decoder: &decoder)
        var previousStartxref = signed.startxref
        var scanner = PDFScanner(bytes, at: signedEnd, allowsComments: false, budget: maximumAppendedObjects)
        var revisions: [AppendedRevision] = []
        var unchecked: String?
        var appendedStreams = AppendedObjectStreams()
        var timestampFields = TimestampFields()
        var extendedArrays = ExtendedArrays()
        while true {
            scanner.skipWhitespaceAndComments()
            if scanner.atEnd { break }
            guard revisions.count < maximumRevisions else { throw modified("more than \(maximumRevisions) revisions were appended") }
            var revision = try AppendedRevision(&scanner)
            let reason = try revision.check(
                against: signed, previousStartxref: previousStartxref, streams: &appendedStreams, fields: &timestampFields,
                arrays: &extendedArrays, decoder: &decoder
            )
            unchecked = unchecked ?? reason
            previousStartxref = revision.startxref
            revisions.append(revision)
        }
        guard let last = revisions.last, bytes.count - last.end <= maximumTrailingWhitespace else { throw paddedEnd() }
        // Readers find the last `startxref` by searching the raw bytes backwards: it must be the one read here.
        guard PDFBytes.lastOccurrence(of: "startxref", in: bytes, range: signedEnd..<bytes.count) == last.startxrefKeyword else {
            throw modified("the last startxref in the file is not the last appended revision's")
        }
        // Readers that rebuild a damaged cross-reference index every object header they find.
        let keywords = revisions.flatMap { revision in
            [revision.startxrefKeyword + "start".utf8.count] + (revision.xref.map { [revision.xrefOffset, $0.trailerKeyword] } ?? [])
        }
        if let hidden = PDFHiddenSections.first(
            in: bytes, from: signedEnd, objectStarts: Set(revisions.flatMap { $0.objects.map(\.range.lowerBound) }), keywords: Set(keywords)
        ) {
            throw modified("\(hidden.token) at offset \(hidden.offset) is not one the checker read: a reader that rebuilds the cross-reference would")
        }
        let added = Set(revisions.flatMap { ($0.objects + $0.compressedObjects).map(\.reference.number) }.filter { $0 >= signed.size })
        let referenced = try checkReferences(to: added, in: signed, decoder: &decoder)
        return try extendedArrays.check(against: signed, decoder: &decoder) ?? referenced ?? unchecked
    }

    /// Refuses objects added after signing that the signed revision refers to, in its bytes or its object streams,
    /// or that its cross-reference places objects in; returns why that cannot all be known, or nil.
    private static func checkReferences(to added: Set<Int>, in signed: SignedRevision, decoder: inout PDFStreamDecoder) throws -> String? {
        guard !added.isEmpty else { return nil }
        let scan = PDFReferenceScan(signed.bytes, range: 0..<signed.end, candidates: added)
        if let number = scan.referenced.min() {
            throw modified("object \(number), which the signed revision refers to but does not define, was added after signing")
        }
        let streams = signed.objectStreamNumbers
        if let number = streams.intersection(added).min() {
            throw modified("the signed cross-reference places objects in object stream \(number), which was added after signing")
        }
        var listedStreamNames: Set<Int> = []
        var unreadable = signed.unreadable
        for number in streams.sorted() {
            let stream: SignedRevision.ObjectStream
            do {
                stream = try signed.objectStream(number, decoder: &decoder)
            } catch {
                unreadable = unreadable ?? "the signed revision's object stream \(number) cannot be read (\(error)), and could refer to objects added after signing"
                continue
            }
            let inner = PDFReferenceScan(stream.data, range: 0..<stream.data.count, candidates: added)
            if let referenced = inner.referenced.min() {
                throw modified("object \(referenced), which the signed revision refers to in object stream \(number) but does not define, was added after signing")
            }
            listedStreamNames.insert(stream.typeNameOffset)
        }
        if let unreadable { return unreadable }
        guard scan.objectStreamNames.isSubset(of: listedStreamNames) else {
            return "objects were added after signing to a PDF whose signed revision names an object stream its cross-reference does not list, which could refer to them unseen"
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
        var entries: [Int: PDFXrefEntry] = [:]
        var trailer = PDFDictionary()
        /// Where the `trailer` keyword is.
        var trailerKeyword = 0

        /// Reads `xref`, its subsections and `trailer << … >>` at the scanner's position. `strict`, for what was
        /// appended after signing, takes the table only as ISO 32000-1 §7.5.4 lays it out, line by line and each entry
        /// 20 bytes: qpdf reads it so, and rebuilds the cross-reference from the raw bytes when a line breaks elsewhere.
        init(_ scanner: inout PDFScanner, strict: Bool = false) throws {
            try scanner.expect("xref")
            if strict { try Self.endOfLine(&scanner) }
            var count = 0
            while true {
                // Lines between subsections and before `trailer` may be blank (with comments, only when not strict).
                if strict { scanner.skipWhitespace() } else { scanner.skipWhitespaceAndComments() }
                trailerKeyword = scanner.position
                if scanner.consume("trailer") { break }
                let (first, length) = strict ? try Self.subsectionLine(&scanner) : (try scanner.unsignedInteger(), try scanner.unsignedInteger())
                for index in 0..<length {
                    count += 1
                    guard count <= maximumXrefEntries else { throw PDFSyntaxError("an xref table has too many entries") }
                    let (number, overflow) = first.addingReportingOverflow(index)
                    guard !overflow else { throw PDFSyntaxError("an xref subsection overflows") }
                    let entry = strict ? try Self.entryLine(&scanner) : try Self.entry(&scanner)
                    guard entries[number] == nil else { throw PDFSyntaxError("an xref table lists object \(number) twice") }
                    entries[number] = entry
                }
            }
            guard let trailer = try scanner.object().dictionary else { throw PDFSyntaxError("the trailer is not a dictionary") }
            self.trailer = trailer
        }

        /// `offset generation n|f`, any whitespace between.
        private static func entry(_ scanner: inout PDFScanner) throws -> PDFXrefEntry {
            let offset = try scanner.unsignedInteger()
            let generation = try scanner.unsignedInteger()
            scanner.skipWhitespaceAndComments()
            if scanner.consume("n") { return .inUse(offset: offset, generation: generation) }
            if scanner.consume("f") { return .free }
            throw PDFSyntaxError("a malformed xref entry at offset \(scanner.position)")
        }

        /// `first count` on a line of its own.
        private static func subsectionLine(_ scanner: inout PDFScanner) throws -> (Int, Int) {
            let first = try digits(&scanner, count: nil)
            guard spaces(&scanner) > 0 else { throw PDFSyntaxError("an xref subsection header is malformed at offset \(scanner.position)") }
            let length = try digits(&scanner, count: nil)
            _ = spaces(&scanner)
            try endOfLine(&scanner)
            return (first, length)
        }

        /// `oooooooooo ggggg n` and a two-byte end of line: space and CR, space and LF, or CR LF (and the LF that
        /// some writers add after space and CR).
        private static func entryLine(_ scanner: inout PDFScanner) throws -> PDFXrefEntry {
            let start = scanner.position
            let malformed = PDFSyntaxError("an xref entry at offset \(start) is not 20 bytes laid out as readers read them")
            guard let offset = try? digits(&scanner, count: 10), spaces(&scanner) == 1, let generation = try? digits(&scanner, count: 5),
                spaces(&scanner) == 1, let kind = scanner.current, kind == UInt8(ascii: "n") || kind == UInt8(ascii: "f"),
                scanner.position + 3 <= scanner.end
            else { throw malformed }
            let ending = (scanner.bytes[scanner.position + 1], scanner.bytes[scanner.position + 2])
            guard ending == (32, 13) || ending == (32, 10) || ending == (13, 10) else { throw malformed }
            scanner.position += 3
            if ending == (32, 13), scanner.current == 10 { scanner.position += 1 }
            return kind == UInt8(ascii: "n") ? .inUse(offset: offset, generation: generation) : .free
        }

        /// Decimal digits, `count` of them if given, at least one; at most 18.
        private static func digits(_ scanner: inout PDFScanner, count: Int?) throws -> Int {
            let start = scanner.position
            var value = 0
            while let byte = scanner.current, PDFBytes.isDigit(byte), scanner.position - start < (count ?? 18) {
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                scanner.position += 1
            }
            guard scanner.position > start, count.map({ scanner.position - start == $0 }) ?? true else {
                throw PDFSyntaxError("expected digits at offset \(start)")
            }
            return value
        }

        /// Skips spaces (0x20) and returns how many.
        private static func spaces(_ scanner: inout PDFScanner) -> Int {
            let start = scanner.position
            while scanner.current == 32 { scanner.position += 1 }
            return scanner.position - start
        }

        /// An end of line: CR LF, LF or CR, after optional spaces.
        private static func endOfLine(_ scanner: inout PDFScanner) throws {
            _ = spaces(&scanner)
            if scanner.consume("\r\n") || scanner.consume("\n") || scanner.consume("\r") { return }
            throw PDFSyntaxError("expected the end of a line at offset \(scanner.position)")
        }
    }

    /// The appended revisions' object streams read so far, by number (no number is defined twice): the objects of
    /// each that could be read, the numbers of those that could not, and how many objects they may still hold.
    struct AppendedObjectStreams {
        var objects: [Int: [PDFIndirectObject]] = [:]
        var unreadable: Set<Int> = []
        var budget = maximumAppendedObjects
    }

    /// One appended revision: its objects, xref table, trailer and `startxref`, up to its `%%EOF`.
    struct AppendedRevision {
        var objects: [PDFIndirectObject] = []
        /// The objects of this revision's object streams, once ``check(against:previousStartxref:streams:decoder:)``
        /// has read them.
        var compressedObjects: [PDFIndirectObject] = []
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
                    // Readers refuse larger numbers and rebuild the cross-reference from the raw bytes.
                    guard object.reference.number <= maximumObjectNumber, object.reference.generation <= maximumGeneration else {
                        throw modified("object \(object.reference.number) \(object.reference.generation), appended at offset \(offset), is numbered beyond what readers accept")
                    }
                    objects.append(object)
                } else if PDFBytes.hasPrefix(scanner.bytes, at: offset, "xref") {
                    guard xref == nil else { throw modified("an appended revision has two xref tables") }
                    xrefOffset = offset
                    do {
                        xref = try XrefTable(&scanner, strict: true)
                    } catch let error as PDFSyntaxError {
                        throw modified("the xref table appended at offset \(offset) is not laid out as readers read it (\(error))")
                    }
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
        /// Reads its object streams into `streams`, and its document time-stamp fields into `fields`, for this and
        /// later revisions; records in `arrays` the signed array objects it extends.
        mutating func check(
            against signed: SignedRevision, previousStartxref: Int, streams: inout AppendedObjectStreams, fields: inout TimestampFields,
            arrays: inout ExtendedArrays, decoder: inout PDFStreamDecoder
        ) throws -> String? {
            var unchecked: String?
            let earlierStreams = Set(streams.objects.keys).union(streams.unreadable)
            for stream in objects where stream.value.dictionary?.type == "ObjStm" && stream.streamData != nil {
                // Read as a stream, not as validation data; but never in place of an object the signature covers.
                let number = stream.reference.number
                guard number >= signed.size else {
                    throw modified("object \(number), which the signed revision defines, was redefined as a compressed stream")
                }
                do {
                    let data = try decoder.decode(stream, in: signed.bytes)
                    let decoded = try PDFObjectStream(stream.value.dictionary ?? PDFDictionary(), data: data, object: number, budget: &streams.budget)
                    streams.objects[number] = decoded.objects
                    compressedObjects += decoded.objects
                } catch {
                    streams.unreadable.insert(number)
                    unchecked = unchecked ?? "object stream \(number), appended after signing, cannot be read (\(error)), so its objects cannot be checked"
                }
            }
            // Entries of earlier revisions that readers still follow into an object stream were checked against it,
            // whether this revision defines its number directly or in an object stream.
            if let object = (objects + compressedObjects).first(where: { earlierStreams.contains($0.reference.number) }) {
                throw modified("object stream \(object.reference.number), appended after signing, is defined again by a later revision")
            }
            var numbers: Set<Int> = Set(objects.map(\.reference.number))
            for object in compressedObjects where !numbers.insert(object.reference.number).inserted {
                throw modified("an appended revision defines object \(object.reference.number) twice")
            }
            let crossReferenceStreams = objects.filter { $0.value.dictionary?.type == "XRef" }
            let trailer: PDFDictionary
            var allowedKeys = allowedTrailerKeys
            var entries: [(Int, PDFXrefEntry)] = []
            if let xref {
                guard startxref == xrefOffset else { throw modified("an appended revision's startxref does not point at its xref table") }
                trailer = xref.trailer
                entries = xref.entries.map { ($0.key, $0.value) }
                guard !xref.entries.isEmpty else { throw modified("an appended xref table lists no object") }
                if let named = trailer["XRefStm"] {
                    // A hybrid file: the table, and a cross-reference stream beside it for readers of PDF 1.5, which
                    // also follow the stream's own /Prev: it may only repeat the table's.
                    allowedKeys.insert("XRefStm")
                    guard crossReferenceStreams.count == 1, let stream = crossReferenceStreams.first, named.unsignedInteger == stream.range.lowerBound,
                        let dictionary = stream.value.dictionary
                    else {
                        throw modified("an appended trailer's /XRefStm does not point at its revision's cross-reference stream")
                    }
                    // Writers of hybrid files repeat trailer keys there; each must say what the trailer says.
                    if let key = dictionary.keys.subtracting(crossReferenceStreamKeys.union(allowedTrailerKeys)).sorted().first {
                        throw modified("an appended /XRefStm stream's dictionary holds /\(key)")
                    }
                    if let key = dictionary.keys.intersection(allowedTrailerKeys.subtracting(["Size"])).sorted().first(where: { dictionary[$0] != trailer[$0] }) {
                        throw modified("an appended /XRefStm stream's /\(key) differs from its trailer's")
                    }
                } else if !crossReferenceStreams.isEmpty {
                    throw modified("an appended revision has both an xref table and a cross-reference stream")
                }
            } else if crossReferenceStreams.count == 1, let stream = crossReferenceStreams.first, let dictionary = stream.value.dictionary {
                guard startxref == stream.range.lowerBound else { throw modified("an appended revision's startxref does not point at its cross-reference stream") }
                trailer = dictionary
                allowedKeys.formUnion(crossReferenceStreamKeys)
            } else {
                throw modified("an appended revision has no xref table")
            }
            var entriesRead = true
            if let stream = crossReferenceStreams.first {
                do {
                    let data = try decoder.decode(stream, in: signed.bytes)
                    let decoded = try PDFCrossReferenceStream(
                        stream.value.dictionary ?? PDFDictionary(), data: data, object: stream.reference.number, entryBudget: &decoder.entryBudget
                    )
                    entries += decoded.entries.map { ($0.key, $0.value) }
                } catch {
                    entriesRead = false
                    unchecked = unchecked ?? "the cross-reference stream appended after signing cannot be read (\(error)), so its entries cannot be checked"
                }
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
            let objectsByOffset = Dictionary(objects.map { ($0.range.lowerBound, $0) }, uniquingKeysWith: { first, _ in first })
            for (number, entry) in entries.sorted(by: { $0.0 < $1.0 }) {
                switch entry {
                case .free:
                    guard number == 0 else { throw modified("an appended cross-reference frees object \(number)") }
                case .unknownType:
                    throw modified("an appended cross-reference stream gives object \(number) an entry of unknown type")
                case .inUse(let offset, let generation):
                    guard let object = objectsByOffset[offset], object.reference == PDFReference(number: number, generation: generation) else {
                        throw modified("an appended xref entry for object \(number) does not point at that object in its revision")
                    }
                case .compressed(let stream, let index):
                    guard let held = streams.objects[stream] else {
                        // An appended object stream that cannot be read is already reported.
                        guard streams.unreadable.contains(stream) else {
                            throw modified("an appended entry places object \(number) in object \(stream), which is not an object stream appended after signing")
                        }
                        continue
                    }
                    guard index < held.count, held[index].reference.number == number else {
                        throw modified("an appended entry for object \(number) does not point at that object in object stream \(stream)")
                    }
                }
            }
            // Readers find an object stream through the newest entry for its number: one its revision does not list
            // would be another than the one checked.
            if entriesRead {
                let listed = Set(entries.compactMap { number, entry -> Int? in
                    if case .inUse(let offset, _) = entry, objectsByOffset[offset]?.reference.number == number { offset } else { nil }
                })
                // Only this revision's object streams that could be read are in `streams.objects` yet.
                if let stream = objects.first(where: { streams.objects[$0.reference.number] != nil && !listed.contains($0.range.lowerBound) }) {
                    throw modified("object stream \(stream.reference.number) appended after signing is not listed by its revision's cross-reference")
                }
            }
            try fields.revise(with: objects + compressedObjects, size: signed.size, bytes: signed.bytes, decoder: &decoder)
            let timestamps = fields
            for object in objects + compressedObjects {
                if object.value.dictionary?.type == "XRef" && object.streamData != nil {
                    guard object.reference.number >= signed.size else {
                        throw modified("object \(object.reference.number), which the signed revision defines, was redefined as a compressed stream")
                    }
                    continue
                }
                if object.value.dictionary?.type == "ObjStm" && object.streamData != nil { continue }
                let reason = try Self.checkObject(object, against: signed, timestamps: timestamps, arrays: &arrays, decoder: &decoder)
                unchecked = unchecked ?? reason
            }
            return unchecked
        }

        /// Throws if `object` changes the signed document; returns why it could not be checked, or nil. `timestamps`
        /// are the document time-stamps and fields that `object`'s revision and the ones before it add; a signed
        /// array object that `object` extends is recorded in `arrays`, with the one place it may be used.
        static func checkObject(
            _ object: PDFIndirectObject, against signed: SignedRevision, timestamps: TimestampFields, arrays: inout ExtendedArrays,
            decoder: inout PDFStreamDecoder
        ) throws -> String? {
            let number = object.reference.number
            if number < signed.size, object.reference == signed.trailer["Info"]?.reference {
                let (changed, unchecked) = try redefinition(
                    object, of: "the document information", original: signed.info, mayChange: infoKeysWritersUpdate, signed: signed
                )
                if let key = changed.first(where: { if case .string? = object.value.dictionary?[$0] { false } else { true } }) {
                    throw modified("the document information's /\(key) is not a string")
                }
                return unchecked
            }
            if number < signed.size, object.reference == signed.root {
                let (changed, unchecked) = try redefinition(
                    object, of: "the catalog", original: signed.catalog, mayChange: catalogKeysValidationMayChange.union(["AcroForm"]), signed: signed
                )
                if changed.contains("AcroForm"), let original = signed.catalog {
                    // An inline form that only gains document time-stamp fields; a form held in an object of its own
                    // is checked where that object is redefined.
                    guard case .dictionary(let updatedForm)? = object.value.dictionary?["AcroForm"],
                        original["AcroForm"] == nil || original["AcroForm"]?.dictionary != nil,
                        formOnlyGainsFields(
                            updatedForm, from: original["AcroForm"]?.dictionary, timestamps: timestamps,
                            signedNames: signed.fieldNames(decoder: &decoder)
                        )
                    else { throw modified("the catalog's /AcroForm was changed") }
                }
                return unchecked
            }
            if number < signed.size {
                // A form, a page, or an array of either, that only gains invisible document time-stamp fields, as
                // PAdES-LTA writers add them.
                let signedValue: PDFObject?
                do {
                    signedValue = try signed.value(object.reference, decoder: &decoder)
                } catch {
                    return "object \(number), which an update redefines, cannot be read in the signed revision (\(error)), so the change cannot be checked"
                }
                if object.streamData == nil, let original = signedValue {
                    switch (original, object.value) {
                    case (.dictionary(let original), .dictionary(let updated)):
                        if signed.catalog?["AcroForm"]?.reference == object.reference,
                            formOnlyGainsFields(
                                updated, from: original, timestamps: timestamps, signedNames: signed.fieldNames(decoder: &decoder)
                            )
                        {
                            return nil
                        }
                        if original.type == "Page",
                            pageOnlyGainsAnnotations(
                                updated, from: original, page: object.reference, timestamps: timestamps,
                                signedNames: signed.fieldNames(decoder: &decoder)
                            )
                        {
                            return nil
                        }
                    case (.array, .array):
                        if let use = arrayOnlyGainsFields(object, from: original, timestamps: timestamps, signed: signed, decoder: &decoder) {
                            try arrays.record(object.reference, usedAs: use)
                            return nil
                        }
                    default:
                        break
                    }
                }
                throw modified("object \(number), which the signed revision defines, was redefined")
            }
            guard isValidationData(object, timestamps: timestamps) else {
                let type = object.value.dictionary?.type.map { " (/\($0))" } ?? ""
                throw modified("object \(number)\(type) added after signing is not validation data")
            }
            return nil
        }

        /// Whether an interactive form changes only by time-stamp fields (of `timestamps`) at the end of an inline
        /// /Fields (see ``fieldsOnlyGain(_:from:timestamps:signedNames:)``) and by /SigFlags, which may gain flags
        /// (1: signatures exist, 2: append only) but not lose one. `signedNames` are the signed fields' names, nil if
        /// one of them cannot be read.
        static func formOnlyGainsFields(
            _ updated: PDFDictionary, from original: PDFDictionary?, timestamps: TimestampFields, signedNames: Set<String>?
        ) -> Bool {
            let changed = (original ?? PDFDictionary()).keysChanged(in: updated)
            guard !changed.isEmpty, changed.isSubset(of: ["Fields", "SigFlags"]) else { return false }
            if changed.contains("SigFlags") {
                let flags = updated["SigFlags"]?.unsignedInteger ?? 0
                guard original?["SigFlags"] == nil || original?["SigFlags"]?.unsignedInteger != nil else { return false }
                let before = original?["SigFlags"]?.unsignedInteger ?? 0
                guard (1...3).contains(flags), flags & before == before else { return false }
            }
            return !changed.contains("Fields") || fieldsOnlyGain(updated["Fields"], from: original?["Fields"], timestamps: timestamps, signedNames: signedNames)
        }

        /// Whether a form's /Fields, inline or an array object, is the signed one followed by time-stamp fields (of
        /// `timestamps`) only, each named (if at all) unlike every other field.
        private static func fieldsOnlyGain(_ updated: PDFObject?, from original: PDFObject?, timestamps: TimestampFields, signedNames: Set<String>?) -> Bool {
            gains(updated, from: original, only: timestamps.accepted) && namesAreNew(gained(updated, from: original), timestamps: timestamps, signedNames: signedNames)
        }

        /// Whether the time-stamp fields `numbers` are each named (if at all) unlike the signed fields (`signedNames`,
        /// nil if one cannot be read) and each other: readers merge fields of one name, and PDFium also files a widget
        /// found only in a page's /Annots under its name, so a time-stamp field must not take the court's.
        private static func namesAreNew(_ numbers: [Int], timestamps: TimestampFields, signedNames: Set<String>?) -> Bool {
            guard var taken = signedNames else { return false }
            return numbers.allSatisfy { number in timestamps.names[number].map { taken.insert($0).inserted } ?? true }
        }

        /// Whether a page (`page`) changes only by new time-stamp fields' widgets (of `timestamps`) at the end of its
        /// inline /Annots, none of which names another page as its own (/P) or takes a name (see
        /// ``namesAreNew(_:timestamps:signedNames:)``).
        static func pageOnlyGainsAnnotations(
            _ updated: PDFDictionary, from original: PDFDictionary, page: PDFReference, timestamps: TimestampFields, signedNames: Set<String>?
        ) -> Bool {
            let changed = original.keysChanged(in: updated)
            guard changed == ["Annots"], gains(updated["Annots"], from: original["Annots"], only: timestamps.accepted) else { return false }
            let widgets = gained(updated["Annots"], from: original["Annots"])
            return widgets.allSatisfy { timestamps.pages[$0] == nil || timestamps.pages[$0] == page }
                && namesAreNew(widgets, timestamps: timestamps, signedNames: signedNames)
        }

        /// Where `array`, a redefinition of a signed array object, is used, if it only gains time-stamp fields (of
        /// `timestamps`) at its end and is the signed form's /Fields, or the /Annots of the signed page that every
        /// gained field names as its own (/P): writers such as pyHanko then rewrite the array object, not the form or
        /// the page. Nil for an array that is neither, whatever it gains: as a page tree's /Kids, a field would count
        /// as a page. That the array is used nowhere else is checked once every revision is read (``ExtendedArrays``).
        private static func arrayOnlyGainsFields(
            _ array: PDFIndirectObject, from original: PDFObject, timestamps: TimestampFields, signed: SignedRevision, decoder: inout PDFStreamDecoder
        ) -> ExtendedArrays.Use? {
            let reference = PDFObject.reference(array.reference)
            let form = signed.form(decoder: &decoder)
            let signedNames = signed.fieldNames(decoder: &decoder)
            if let form, form["Fields"] == reference {
                guard fieldsOnlyGain(array.value, from: original, timestamps: timestamps, signedNames: signedNames) else { return nil }
                // The form is the catalog's inline /AcroForm, or an object of its own.
                if let held = signed.catalog?["AcroForm"]?.reference { return ExtendedArrays.Use(referrer: held, path: ["Fields"]) }
                return ExtendedArrays.Use(referrer: signed.root, path: ["AcroForm", "Fields"])
            }
            let widgets = gained(array.value, from: original)
            guard gains(array.value, from: original, only: timestamps.accepted), namesAreNew(widgets, timestamps: timestamps, signedNames: signedNames) else {
                return nil
            }
            let pages = Set(widgets.map { timestamps.pages[$0] })
            guard pages.count == 1, let named = pages.first, let page = named, let dictionary = try? signed.dictionary(page, decoder: &decoder),
                dictionary.type == "Page", dictionary["Annots"] == reference
            else { return nil }
            return ExtendedArrays.Use(referrer: page, path: ["Annots"])
        }

        /// Whether `updated` is the array `original` (or an empty one) followed by references to objects of `added`,
        /// each listed once and none already in `original`.
        private static func gains(_ updated: PDFObject?, from original: PDFObject?, only added: Set<Int>) -> Bool {
            guard case .array(let elements)? = updated else { return false }
            let kept: [PDFObject]
            switch original {
            case nil: kept = []
            case .array(let originalElements)?: kept = originalElements
            default: return false
            }
            guard elements.count > kept.count, Array(elements.prefix(kept.count)) == kept else { return false }
            let new = elements.dropFirst(kept.count)
            guard new.allSatisfy({ $0.reference.map { added.contains($0.number) && $0.generation == 0 } ?? false }) else { return false }
            let numbers = new.compactMap(\.reference?.number)
            return Set(numbers).count == numbers.count && !kept.contains { $0.reference.map { numbers.contains($0.number) } ?? false }
        }

        /// The object numbers `updated` lists after the elements of `original`, for arrays that ``gains(_:from:only:)``
        /// accepted.
        private static func gained(_ updated: PDFObject?, from original: PDFObject?) -> [Int] {
            guard case .array(let elements)? = updated else { return [] }
            let kept = if case .array(let originalElements)? = original { originalElements.count } else { 0 }
            return elements.dropFirst(kept).compactMap(\.reference?.number)
        }

        /// The keys in which `object`, a redefinition of the signed `original` (`what`, as messages name it), differs
        /// from it, sorted; throws if one is not in `mayChange`, or if `object` is not a dictionary. When the original
        /// cannot be located, no keys, and why.
        private static func redefinition(
            _ object: PDFIndirectObject, of what: String, original: PDFDictionary?, mayChange: Set<String>, signed: SignedRevision
        ) throws -> (changed: [String], unchecked: String?) {
            guard object.streamData == nil, let updated = object.value.dictionary else {
                throw modified("\(what) was redefined as something other than a dictionary")
            }
            guard let original else {
                guard let unreadable = signed.unreadable else {
                    throw modified("\(what) was redefined, and the signed one cannot be located to compare it")
                }
                return ([], "\(what) was redefined, and the signed one cannot be located: \(unreadable)")
            }
            let changed = original.keysChanged(in: updated)
            if let key = changed.subtracting(mayChange).sorted().first {
                throw modified("\(what)'s /\(key) was changed")
            }
            return (changed.sorted(), nil)
        }

        /// DSS and VRI dictionaries, certificate/CRL/OCSP streams, arrays of them, and the document time-stamps and
        /// fields of `timestamps`.
        static func isValidationData(_ object: PDFIndirectObject, timestamps: TimestampFields) -> Bool {
            switch object.value {
            case .dictionary(let dictionary) where object.streamData != nil:
                if timestamps.appearances.contains(object.reference.number) { return object.reference.generation == 0 }
                return dictionary.keys.isSubset(of: ["Length", "Filter", "DecodeParms"])
            case .dictionary where object.value.dictionary?["FT"] != nil:
                return timestamps.fields.contains(object.reference.number) && object.reference.generation == 0
            case .dictionary(let dictionary) where dictionary.type == "DocTimeStamp":
                return timestamps.stamps.contains(object.reference.number) && object.reference.generation == 0
            case .dictionary(let dictionary):
                switch dictionary.type {
                case "DSS": return dictionary.keys.isSubset(of: ["Type", "VRI", "Certs", "CRLs", "OCSPs"])
                case "VRI", nil:
                    if dictionary.keys.isSubset(of: ["Type", "Cert", "CRL", "OCSP", "TU", "TS"]) { return true }
                    // The /VRI map: keys are upper-case hexadecimal SHA-1 digests of signature values.
                    return dictionary.type == nil
                        && dictionary.keys.allSatisfy { $0.utf8.count == 40 && $0.utf8.allSatisfy { ASCIIHex.value($0) != nil } }
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

    /// The signed array objects that appended revisions extend with time-stamp fields, each with the one place it may
    /// be used: a form's /Fields or a page's /Annots. Used anywhere else as well (a signed document can be drafted so:
    /// the same array as an optional-content membership's /OCGs, a page tree's /Kids, a field's /Kids), a gained
    /// field would change what readers show there.
    struct ExtendedArrays {
        /// The object that may refer to an array, and the keys that lead from it to the array.
        struct Use: Equatable {
            let referrer: PDFReference
            let path: [String]
        }

        private var uses: [PDFReference: Use] = [:]

        /// Records that `array` is extended as used by `use`; throws if a revision extended it as used otherwise.
        mutating func record(_ array: PDFReference, usedAs use: Use) throws {
            if let earlier = uses.updateValue(use, forKey: array), earlier != use {
                throw modified("array \(array.number), which the signed revision defines, was extended as used in two different places")
            }
        }

        /// Throws unless each extended array is referred to exactly once in the signed revision's objects in use and
        /// its trailer, at its use; returns why that cannot be known, or nil: an object that cannot be read, or a
        /// reference to the array somewhere in the signed bytes that no object in use holds (a reader that rebuilds
        /// the cross-reference would find it).
        func check(against signed: SignedRevision, decoder: inout PDFStreamDecoder) throws -> String? {
            guard !uses.isEmpty else { return nil }
            let numbers = Set(uses.keys.map(\.number))
            let (found, unreadable) = signed.referrers(to: numbers, decoder: &decoder)
            for (array, use) in uses.sorted(by: { $0.key.number < $1.key.number }) {
                let referrers = found[array.number] ?? [:]
                if let other = referrers.keys.sorted().first(where: { $0 != use.referrer.number }) {
                    let what = other == SignedRevision.trailerReferrer ? "the trailer" : "object \(other)"
                    throw modified("array \(array.number), which an update extends with a time-stamp field, is also used by \(what)")
                }
                guard unreadable != nil || referrers[use.referrer.number] == 1, try isReached(array, by: use, in: signed, decoder: &decoder) else {
                    throw modified("array \(array.number), which an update extends with a time-stamp field, is not used exactly once, as its form's /Fields or its page's /Annots")
                }
            }
            if let unreadable { return unreadable }
            let namings = signed.namings(of: numbers, decoder: &decoder)
            if let array = numbers.sorted().first(where: { (namings[$0] ?? 0) > 1 }) {
                return "array \(array), which an update extends with a time-stamp field, is named again in the signed bytes outside the objects in use"
            }
            return nil
        }

        /// Whether `use`'s keys lead from its referrer, as the signed revision holds it, to `array`.
        private func isReached(_ array: PDFReference, by use: Use, in signed: SignedRevision, decoder: inout PDFStreamDecoder) throws -> Bool {
            var value = try signed.value(use.referrer, decoder: &decoder)
            for key in use.path { value = value?.dictionary?[key] }
            return value == .reference(array)
        }
    }

    /// The document time-stamps the appended revisions add (PAdES-LTA), and the fields that hold them, carried from
    /// one revision to the next: a later revision's form lists the earlier time-stamps' fields too.
    struct TimestampFields {
        /// A time-stamp's signature dictionary holds its signature and how to read it: nothing a reader shows as a
        /// signer (/Name, /M) or acts on.
        static let timestampKeys: Set<String> = ["Type", "Filter", "SubFilter", "ByteRange", "Contents", "V", "Prop_Build"]
        static let fieldKeys: Set<String> = ["Type", "Subtype", "FT", "Rect", "V", "T", "F", "P", "AP"]
        /// What an empty appearance's form XObject holds: its type, a box with no area, the form's defaults.
        static let emptyAppearanceKeys: Set<String> = ["Type", "Subtype", "BBox", "Matrix", "FormType", "Resources", "Length", "Filter", "DecodeParms"]

        /// Numbers of the current revision's /DocTimeStamp dictionaries (RFC 3161, with a /ByteRange and /Contents
        /// the extractor checks).
        private(set) var stamps: Set<Int> = []
        /// Numbers of the current revision's signature fields whose widget shows nothing (no area, and no appearance
        /// or an empty one) and whose value is one of `stamps`, held by no other field.
        private(set) var fields: Set<Int> = []
        /// Numbers of the current revision's empty appearances (``isEmptyAppearance(_:in:decoder:)``) that its fields
        /// name: iText 5 gives an invisible signature one.
        private(set) var appearances: Set<Int> = []
        /// Every such field so far that no later revision has redefined.
        private(set) var accepted: Set<Int> = []
        /// Their names (/T), where they have one: printable ASCII without a period.
        private(set) var names: [Int: String] = [:]
        /// The pages they name as their own (/P), where they name one.
        private(set) var pages: [Int: PDFReference] = [:]
        /// Every time-stamp and field any revision so far added.
        private var added: Set<Int> = []

        /// Takes in a revision's objects, in `bytes`. Throws if it defines again a time-stamp, field or appearance an
        /// earlier one added: writers never do, and the earlier revision's form was checked against what they were.
        mutating func revise(with objects: [PDFIndirectObject], size: Int, bytes: [UInt8], decoder: inout PDFStreamDecoder) throws {
            if let object = objects.first(where: { added.contains($0.reference.number) }) {
                throw modified("document time-stamp or field \(object.reference.number), appended after signing, is defined again by a later revision")
            }
            var emptyForms: Set<Int> = []
            for object in objects where object.reference.number >= size && object.reference.generation == 0 && object.streamData != nil {
                if Self.isEmptyAppearance(object, in: bytes, decoder: &decoder) { emptyForms.insert(object.reference.number) }
            }
            let dictionaries = objects.compactMap { object -> (Int, PDFDictionary)? in
                guard object.reference.number >= size, object.reference.generation == 0, object.streamData == nil,
                    let dictionary = object.value.dictionary
                else { return nil }
                return (object.reference.number, dictionary)
            }
            stamps = Set(dictionaries.filter { Self.isTimestamp($0.1) }.map(\.0))
            let candidates = dictionaries.filter { Self.isTimestampField($0.1, stamps: stamps, appearances: emptyForms) }
            let holders = Dictionary(grouping: candidates) { $0.1["V"]?.reference?.number ?? -1 }
            fields = Set(candidates.filter { holders[$0.1["V"]?.reference?.number ?? -1]?.count == 1 }.map(\.0))
            appearances = Set(candidates.filter { fields.contains($0.0) }.compactMap { $0.1["AP"]?.dictionary?["N"]?.reference?.number })
            accepted.formUnion(fields)
            added.formUnion(stamps.union(fields).union(appearances))
            for (number, field) in candidates where fields.contains(number) {
                if case .string(let name)? = field["T"] { names[number] = String(decoding: name, as: UTF8.self) }
                if let page = field["P"]?.reference { pages[number] = page }
            }
        }

        private static func isTimestamp(_ dictionary: PDFDictionary) -> Bool {
            guard dictionary.type == "DocTimeStamp", dictionary["SubFilter"]?.name == "ETSI.RFC3161", dictionary.keys.isSubset(of: timestampKeys),
                dictionary["ByteRange"] != nil, dictionary["Contents"] != nil, dictionary["V"].map({ $0.unsignedInteger != nil }) ?? true
            else { return false }
            return dictionary["Prop_Build"].map(isBuildProperties) ?? true
        }

        /// A field name a reader decodes as itself and files at the top level: printable ASCII, no period.
        private static func isPlainName(_ value: PDFObject) -> Bool {
            guard case .string(let name) = value, !name.isEmpty else { return false }
            return name.allSatisfy { (0x20...0x7E).contains($0) && $0 != UInt8(ascii: ".") }
        }

        /// /Prop_Build as writers fill it (Acrobat's flags included): which software made the signature and how it
        /// validated it, nothing that changes the document.
        private static func isBuildProperties(_ value: PDFObject) -> Bool {
            guard let build = value.dictionary, build.keys.isSubset(of: ["Filter", "PubSec", "App"]) else { return false }
            return build.keys.allSatisfy { key in
                let keys: Set<String> = ["Name", "R", "Date", "REx", "OS", "V", "PreRelease", "NonEFontNoWarn", "TrustedMode"]
                guard let entry = build[key]?.dictionary, entry.keys.isSubset(of: keys) else { return false }
                return entry.keys.allSatisfy { inner in
                    switch entry[inner] {
                    case .name?, .string?, .number?, .boolean?: true
                    case .array(let names)?: names.allSatisfy { $0.name != nil }
                    default: false
                    }
                }
            }
        }

        /// A form XObject with a box of no area, no resources and no content but whitespace: it draws nothing.
        private static func isEmptyAppearance(_ object: PDFIndirectObject, in bytes: [UInt8], decoder: inout PDFStreamDecoder) -> Bool {
            guard let form = object.value.dictionary, form.keys.isSubset(of: emptyAppearanceKeys), form["Subtype"]?.name == "Form",
                form["Type"] == nil || form.type == "XObject", form["FormType"].map({ $0.unsignedInteger == 1 }) ?? true,
                form["Resources"].map({ $0.dictionary?.keys.isEmpty == true }) ?? true, isNoArea(form["BBox"]),
                form["Matrix"].map({ if case .array(let numbers) = $0 { numbers.count == 6 && numbers.allSatisfy(isNumber) } else { false } }) ?? true,
                let content = try? decoder.decode(object, in: bytes)
            else { return false }
            return content.allSatisfy(PDFBytes.isWhitespace)
        }

        private static func isNumber(_ value: PDFObject) -> Bool {
            number(value)?.isFinite == true
        }

        private static func number(_ value: PDFObject) -> Double? {
            if case .number(let text) = value { Double(text) } else { nil }
        }

        /// A rectangle with no area: all four numbers, its corners the same point.
        private static func isNoArea(_ value: PDFObject?) -> Bool {
            guard case .array(let rectangle)? = value, rectangle.count == 4 else { return false }
            let corners = rectangle.compactMap(number)
            return corners.count == 4 && corners[0] == corners[2] && corners[1] == corners[3]
        }

        private static func isTimestampField(_ field: PDFDictionary, stamps: Set<Int>, appearances: Set<Int>) -> Bool {
            guard field.keys.isSubset(of: fieldKeys), field["FT"]?.name == "Sig",
                field["Type"] == nil || field.type == "Annot", field["Subtype"] == nil || field["Subtype"]?.name == "Widget",
                let value = field["V"]?.reference, value.generation == 0, stamps.contains(value.number),
                field["T"].map(Self.isPlainName) ?? true,
                field["F"].map({ $0.unsignedInteger != nil }) ?? true, field["P"].map({ $0.reference != nil }) ?? true
            else { return false }
            // An appearance, if any, only as a normal one, and empty.
            if let appearance = field["AP"] {
                guard let states = appearance.dictionary, states.keys == ["N"], let normal = states["N"]?.reference, normal.generation == 0,
                    appearances.contains(normal.number)
                else { return false }
            }
            // No area: a zero rectangle, or one far off the page with no width or height, as pyHanko may write.
            return isNoArea(field["Rect"])
        }
    }
}
