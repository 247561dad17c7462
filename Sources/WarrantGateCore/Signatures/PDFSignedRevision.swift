extension PDFIncrementalUpdates {
    /// What the appended revisions are checked against: the signed revision's trailer, each object's newest entry in
    /// its cross-reference sections (tables and streams, read from `startxref` by /Prev), and its catalog as those
    /// entries locate it, not by searching the bytes: an earlier, unused definition must not stand in for it.
    struct SignedRevision {
        let bytes: [UInt8]
        let end: Int
        let startxref: Int
        let trailer: PDFDictionary
        let root: PDFReference
        let size: Int
        /// Each object's entry in the newest section that lists it; in a hybrid section (a table naming a stream with
        /// /XRefStm) the table's, then the stream's, as PDF 1.5 readers take them.
        let entries: [Int: PDFXrefEntry]
        /// Nil if the entries do not lead to the catalog; then the catalog may not be redefined.
        private(set) var catalog: PDFDictionary?
        /// The document information dictionary the trailer's /Info names, where the entries place it; nil if there
        /// is none or it cannot be located (then it may not be redefined).
        private(set) var info: PDFDictionary?
        /// Why part of the cross-reference, or the catalog's object stream, could not be read; nil if all of it was.
        private(set) var unreadable: String?
        /// Each object stream read so far, decoded and parsed once (lookups and the decoding budget do not repeat), and
        /// the form's field names once read.
        private let objectStreams = ObjectStreamCache()

        /// Where ``referrers(to:decoder:)`` counts the trailer's references.
        static let trailerReferrer = -1

        /// A decoded object stream of the signed revision, and where its `/Type /ObjStm` name lies in the file.
        struct ObjectStream {
            let number: Int
            let dictionary: PDFDictionary
            let data: [UInt8]
            let typeNameOffset: Int

            /// The objects it holds.
            func objects() throws(PDFUndecodableStream) -> [PDFIndirectObject] {
                var budget = maximumAppendedObjects
                return try PDFObjectStream(dictionary, data: data, object: number, budget: &budget).objects
            }
        }

        init(_ bytes: [UInt8], end: Int, decoder: inout PDFStreamDecoder) throws {
            self.bytes = bytes
            self.end = end
            let window = max(0, end - 1024)..<end
            guard let keyword = PDFBytes.occurrences(of: "startxref", in: bytes, range: window).last else {
                throw PDFSyntaxError("the signed revision has no startxref")
            }
            var scanner = PDFScanner(bytes, at: keyword + "startxref".utf8.count, end: end)
            startxref = try scanner.unsignedInteger()
            guard startxref < end else { throw PDFSyntaxError("the signed revision's startxref points outside it") }
            var entries: [Int: PDFXrefEntry] = [:]
            var trailer: PDFDictionary?
            var unreadable: String?
            var offset = startxref
            var visited: Set<Int> = []
            while visited.insert(offset).inserted {
                guard visited.count <= maximumXrefSections else { throw PDFSyntaxError("the signed revision has more than \(maximumXrefSections) xref sections") }
                let section: Section
                do {
                    section = try Section(bytes, at: offset, end: end, decoder: &decoder)
                } catch where trailer != nil && !PDFBytes.hasPrefix(bytes, at: Section.start(bytes, at: offset, end: end), "xref") {
                    // An older section that is not a table and cannot be read: the newer ones stand, the rest is
                    // unknown. A malformed table is refused, as in the newest section.
                    unreadable = "the signed revision's cross-reference section at offset \(offset) cannot be read (\(error))"
                    break
                }
                trailer = trailer ?? section.trailer
                for part in section.entries {
                    // An entry that points past the signed bytes locates nothing when they are signed, and whatever an
                    // update appended after signing puts there once it is (a hidden page, read as the signed one's).
                    if let number = part.first(where: { if case .inUse(let at, _) = $0.value { at >= end } else { false } })?.key {
                        throw PDFSyntaxError("the signed revision's cross-reference places object \(number) past the signed bytes")
                    }
                    entries.merge(part) { newer, _ in newer }
                }
                if let reason = section.unreadable {
                    unreadable = "the signed revision's cross-reference section at offset \(offset): \(reason)"
                    break
                }
                guard let named = section.trailer["Prev"] else { break }
                // The same for an older section: one past the signed bytes would be read from what was appended. One
                // that is no offset (`+9999999`, `9999999.0`, a reference) some reader still reads as one.
                guard let previous = named.unsignedInteger, previous < end else {
                    throw PDFSyntaxError("the signed revision's /Prev is not an offset within the signed bytes")
                }
                offset = previous
            }
            guard let trailer, let root = trailer["Root"]?.reference, let size = trailer["Size"]?.unsignedInteger else {
                throw PDFSyntaxError("the signed revision's trailer lacks /Root or /Size")
            }
            (self.trailer, self.root, self.size, self.entries) = (trailer, root, size, entries)
            (catalog, info) = (nil, nil)
            self.unreadable = unreadable
            do {
                catalog = try dictionary(root, decoder: &decoder).flatMap { $0.type == "Catalog" ? $0 : nil }
                if let reference = trailer["Info"]?.reference { info = try dictionary(reference, decoder: &decoder) }
            } catch {
                self.unreadable = unreadable ?? "the signed revision's catalog or /Info is in an object stream that cannot be read (\(error))"
            }
        }

        /// The dictionary `reference` names, where the entries place it; nil if it is not a dictionary there.
        func dictionary(_ reference: PDFReference, decoder: inout PDFStreamDecoder) throws(PDFUndecodableStream) -> PDFDictionary? {
            try value(reference, decoder: &decoder)?.dictionary
        }

        /// The value of the object `reference` names, where the entries place it; nil if it is not there, or is a
        /// stream.
        func value(_ reference: PDFReference, decoder: inout PDFStreamDecoder) throws(PDFUndecodableStream) -> PDFObject? {
            switch entries[reference.number] {
            case .inUse(let offset, let generation)? where generation == reference.generation && offset < end:
                var scanner = PDFScanner(bytes, at: offset, end: end)
                guard let object = try? scanner.indirectObject(), object.reference == reference, object.streamData == nil else { return nil }
                return object.value
            case .compressed(let stream, let index)? where reference.generation == 0:
                let objects = try objects(inStream: stream, decoder: &decoder)
                guard index < objects.count, objects[index].reference.number == reference.number else { return nil }
                return objects[index].value
            default:
                return nil
            }
        }

        /// The object streams the entries place objects in.
        var objectStreamNumbers: Set<Int> {
            Set(entries.values.compactMap { entry -> Int? in if case .compressed(let stream, _) = entry { stream } else { nil } })
        }

        /// The signed interactive form: the catalog's /AcroForm, inline or where its reference leads; nil if there is
        /// none or it cannot be read.
        func form(decoder: inout PDFStreamDecoder) -> PDFDictionary? {
            switch catalog?["AcroForm"] {
            case .dictionary(let form)?: form
            case .reference(let reference)?: try? dictionary(reference, decoder: &decoder)
            default: nil
            }
        }

        /// The names (/T) of the signed form's top-level fields, decoded as readers decode text; nil if one cannot be
        /// read. (A time-stamp field's name holds no period, so it cannot name a field nested under another.) Read
        /// once: each field listed (a /Fields may list one field many times) is read once, and the set is kept for
        /// every update that asks.
        func fieldNames(decoder: inout PDFStreamDecoder) -> Set<String>? {
            if let known = objectStreams.fieldNames { return known }
            let names = readFieldNames(decoder: &decoder)
            objectStreams.fieldNames = .some(names)
            return names
        }

        private func readFieldNames(decoder: inout PDFStreamDecoder) -> Set<String>? {
            let listed = form(decoder: &decoder)?["Fields"].map { fields in fields.reference.flatMap { try? value($0, decoder: &decoder) } ?? fields }
            guard case .array(let fields)? = listed else { return listed == nil ? [] : nil }
            var names: Set<String> = []
            var read: Set<PDFReference> = []
            for field in fields {
                guard let reference = field.reference else { return nil }
                guard read.insert(reference).inserted else { continue }
                guard let dictionary = try? dictionary(reference, decoder: &decoder) else { return nil }
                switch dictionary["T"] {
                case nil: break
                case .string(let name)?: names.insert(PDFText.decoded(name))
                default: return nil
                }
            }
            return names
        }

        /// The objects of object stream `number`, where the entries place it.
        func objects(inStream number: Int, decoder: inout PDFStreamDecoder) throws(PDFUndecodableStream) -> [PDFIndirectObject] {
            if let known = objectStreams.objects[number] { return try known.get() }
            let read = Result { () throws(PDFUndecodableStream) in try objectStream(number, decoder: &decoder).objects() }
            objectStreams.objects[number] = read
            return try read.get()
        }

        /// Object stream `number` where the entries place it, decoded.
        func objectStream(_ number: Int, decoder: inout PDFStreamDecoder) throws(PDFUndecodableStream) -> ObjectStream {
            if let known = objectStreams.streams[number] { return try known.get() }
            let read = Result { () throws(PDFUndecodableStream) in try decodedObjectStream(number, decoder: &decoder) }
            objectStreams.streams[number] = read
            return try read.get()
        }

        private func decodedObjectStream(_ number: Int, decoder: inout PDFStreamDecoder) throws(PDFUndecodableStream) -> ObjectStream {
            guard case .inUse(let offset, let generation)? = entries[number], offset < end else {
                throw PDFUndecodableStream("the signed cross-reference does not place object stream \(number) in the signed revision")
            }
            var scanner = PDFScanner(bytes, at: offset, end: end)
            guard let object = try? scanner.indirectObject(), object.reference == PDFReference(number: number, generation: generation),
                let dictionary = object.value.dictionary, dictionary.type == "ObjStm", let typeRange = dictionary.valueRanges["Type"]
            else { throw PDFUndecodableStream("object \(number) is not an object stream where the signed cross-reference places it") }
            return ObjectStream(number: number, dictionary: dictionary, data: try decoder.decode(object, in: bytes), typeNameOffset: typeRange.lowerBound)
        }

        /// For each of `targets` (object numbers), the objects in use that refer to it and how often each does, the
        /// trailer counted as ``trailerReferrer``; or why that cannot be known. A reference counts whatever its
        /// generation, and where its number wraps to a target in 32 bits (MuPDF reads both so). Each object's value is
        /// read, not its stream data; the stream dictionaries are. Every entry must lead to an object that can be read
        /// (an entry of unknown type, or past the signed revision's end, could hide one from this count), within a
        /// budget of parsed bytes, since entries may point into each other's objects.
        func referrers(to targets: Set<Int>, decoder: inout PDFStreamDecoder) -> (found: [Int: [Int: Int]], unreadable: String?) {
            var found: [Int: [Int: Int]] = [:]
            func count(_ value: PDFObject, in referrer: Int) {
                switch value {
                case .reference(let reference):
                    for number in Set([reference.number, Int(UInt32(truncatingIfNeeded: reference.number))]) where targets.contains(number) {
                        found[number, default: [:]][referrer, default: 0] += 1
                    }
                case .array(let elements): elements.forEach { count($0, in: referrer) }
                case .dictionary(let dictionary): dictionary.keys.forEach { key in dictionary[key].map { count($0, in: referrer) } }
                default: break
                }
            }
            count(.dictionary(trailer), in: Self.trailerReferrer)
            var parsed = 0
            for (number, entry) in entries.sorted(by: { $0.key < $1.key }) {
                switch entry {
                case .free:
                    continue
                case .inUse(let offset, let generation):
                    var scanner = PDFScanner(bytes, at: offset, end: end)
                    guard offset < end, (try? scanner.unsignedInteger()) == number, (try? scanner.unsignedInteger()) == generation,
                        (try? scanner.expect("obj")) != nil, let value = try? scanner.object()
                    else {
                        return (found, "object \(number) of the signed revision cannot be read where its entry places it, and could refer to an array an update extends")
                    }
                    parsed += scanner.position - offset
                    guard parsed <= end + Self.censusSlack else {
                        return (found, "the signed revision's objects overlap, so what refers to an array an update extends cannot be counted")
                    }
                    count(value, in: number)
                case .compressed(let stream, let index):
                    guard let objects = try? objects(inStream: stream, decoder: &decoder), index < objects.count,
                        objects[index].reference.number == number
                    else {
                        return (found, "object \(number) of the signed revision cannot be read from object stream \(stream), and could refer to an array an update extends")
                    }
                    count(objects[index].value, in: number)
                case .unknownType:
                    return (found, "the signed cross-reference gives object \(number) an entry of unknown type, which could hide what refers to an array an update extends")
                }
            }
            return (found, nil)
        }

        /// Parsed bytes ``referrers(to:decoder:)`` allows beyond the signed revision's length.
        static let censusSlack = 1 << 20

        /// How many times the signed revision's bytes, and its object streams as the entries place them, may name each
        /// of `targets` in a reference, read as leniently as ``PDFReferenceScan`` reads: objects no entry leads to
        /// (superseded, or left for a reader that rebuilds the cross-reference) included.
        func namings(of targets: Set<Int>, decoder: inout PDFStreamDecoder) -> [Int: Int] {
            var namings = PDFReferenceScan(bytes, range: 0..<end, candidates: targets).occurrences
            for number in objectStreamNumbers.sorted() {
                guard let stream = try? objectStream(number, decoder: &decoder) else { continue }
                namings.merge(PDFReferenceScan(stream.data, range: 0..<stream.data.count, candidates: targets).occurrences, uniquingKeysWith: +)
            }
            return namings
        }
    }

    /// What ``SignedRevision`` has read of its object streams, successes and failures alike.
    final class ObjectStreamCache {
        var streams: [Int: Result<SignedRevision.ObjectStream, PDFUndecodableStream>] = [:]
        var objects: [Int: Result<[PDFIndirectObject], PDFUndecodableStream>] = [:]
        /// ``SignedRevision/fieldNames(decoder:)``, once read (`.some(nil)`: a field could not be read).
        var fieldNames: Set<String>??
    }

    /// One cross-reference section of the signed revision: a table (and the stream its /XRefStm names), or a stream.
    private struct Section {
        let trailer: PDFDictionary
        /// The section's entries, in the order readers consult them.
        let entries: [[Int: PDFXrefEntry]]
        /// Why a stream's entries could not be read, if they could not; the trailer and the table still stand.
        let unreadable: String?

        /// Where the section at `offset` starts, past whitespace and comments.
        static func start(_ bytes: [UInt8], at offset: Int, end: Int) -> Int {
            var scanner = PDFScanner(bytes, at: offset, end: end)
            scanner.skipWhitespaceAndComments()
            return scanner.position
        }

        init(_ bytes: [UInt8], at offset: Int, end: Int, decoder: inout PDFStreamDecoder) throws {
            var scanner = PDFScanner(bytes, at: Self.start(bytes, at: offset, end: end), end: end)
            var entries: [[Int: PDFXrefEntry]] = []
            let stream: PDFIndirectObject
            if PDFBytes.hasPrefix(bytes, at: scanner.position, "xref") {
                let table = try XrefTable(&scanner)
                trailer = table.trailer
                entries.append(table.entries)
                guard let named = table.trailer["XRefStm"] else {
                    (self.entries, unreadable) = (entries, nil)
                    return
                }
                guard let streamOffset = named.unsignedInteger, streamOffset < end else {
                    throw PDFSyntaxError("the signed revision's /XRefStm is not an offset within the signed bytes")
                }
                do {
                    stream = try Self.crossReferenceStream(bytes, at: streamOffset, end: end)
                } catch {
                    (self.entries, unreadable) = (entries, "\(error)")
                    return
                }
            } else {
                stream = try Self.crossReferenceStream(bytes, at: offset, end: end)
                trailer = stream.value.dictionary ?? PDFDictionary()
            }
            do {
                let data = try decoder.decode(stream, in: bytes)
                let dictionary = stream.value.dictionary ?? PDFDictionary()
                entries.append(try PDFCrossReferenceStream(dictionary, data: data, object: stream.reference.number, entryBudget: &decoder.entryBudget).entries)
                (self.entries, unreadable) = (entries, nil)
            } catch {
                (self.entries, unreadable) = (entries, "its cross-reference stream at offset \(stream.range.lowerBound) cannot be read (\(error))")
            }
        }

        /// The cross-reference stream object at `offset`.
        private static func crossReferenceStream(_ bytes: [UInt8], at offset: Int, end: Int) throws -> PDFIndirectObject {
            var scanner = PDFScanner(bytes, at: offset, end: end)
            let object = try scanner.indirectObject()
            guard object.value.dictionary?.type == "XRef", object.streamData != nil else {
                throw PDFSyntaxError("the signed revision's cross-reference at offset \(offset) is neither an xref table nor a cross-reference stream")
            }
            return object
        }
    }
}
