/// One object's entry in a cross-reference section: a classic `xref` table's or a cross-reference stream's.
enum PDFXrefEntry: Equatable {
    case inUse(offset: Int, generation: Int)
    case free
    /// A cross-reference stream's entry of a type other than 0, 1 or 2: readers differ (the null object, or a damaged
    /// file whose cross-reference they rebuild from the raw bytes).
    case unknownType
    /// The object at `index` in object stream number `stream` (generation 0).
    case compressed(stream: Int, index: Int)
}

/// The entries of a cross-reference stream (ISO 32000-1 §7.5.8), from its dictionary and decoded data. What does not
/// read unambiguously (a field wider than 8 bytes, an object listed twice, data longer or shorter than its entries)
/// is undecodable: a reader may take it otherwise.
struct PDFCrossReferenceStream {
    static let maximumFieldWidth = 8

    private(set) var entries: [Int: PDFXrefEntry] = [:]

    /// `entryBudget` is the entries the document's streams may still list; this stream's are deducted. Compressed, a
    /// million entries take a kilobyte, so the budget, not the bytes, bounds the work.
    init(_ dictionary: PDFDictionary, data: [UInt8], object number: Int, entryBudget: inout Int) throws(PDFUndecodableStream) {
        let unreadable = PDFUndecodableStream("cross-reference stream \(number)'s /W, /Index or entries cannot be read unambiguously")
        guard case .array(let widthValues) = dictionary["W"], widthValues.count == 3 else { throw unreadable }
        let widths = widthValues.compactMap(\.unsignedInteger)
        guard widths.count == 3, widths.allSatisfy({ $0 <= Self.maximumFieldWidth }), widths[1] > 0 else { throw unreadable }
        guard let size = dictionary["Size"]?.unsignedInteger else { throw unreadable }
        let subsections: [(first: Int, count: Int)]
        switch dictionary["Index"] {
        case nil:
            subsections = [(0, size)]
        case .array(let values)?:
            let numbers = values.compactMap(\.unsignedInteger)
            guard numbers.count == values.count, numbers.count % 2 == 0 else { throw unreadable }
            subsections = stride(from: 0, to: numbers.count, by: 2).map { (numbers[$0], numbers[$0 + 1]) }
        default:
            throw unreadable
        }
        let entryWidth = widths.reduce(0, +)
        var total = 0
        for subsection in subsections {
            guard subsection.count <= entryBudget - total else {
                throw PDFUndecodableStream("the PDF's cross-reference streams list more than \(PDFStreamDecoder.documentEntries) entries")
            }
            total += subsection.count
        }
        guard total * entryWidth == data.count else { throw unreadable }
        entryBudget -= total
        var position = 0
        /// The next field of `width` bytes, big-endian; `default` when the width is 0.
        func field(_ width: Int, default value: Int) throws(PDFUndecodableStream) -> Int {
            guard width > 0 else { return value }
            var accumulated: UInt64 = 0
            for byte in data[position..<position + width] { accumulated = accumulated << 8 | UInt64(byte) }
            position += width
            guard accumulated <= UInt64(Int.max) else { throw unreadable }
            return Int(accumulated)
        }
        for subsection in subsections {
            for offset in 0..<subsection.count {
                let (objectNumber, overflow) = subsection.first.addingReportingOverflow(offset)
                guard !overflow else { throw unreadable }
                let type = try field(widths[0], default: 1)
                let second = try field(widths[1], default: 0)
                let third = try field(widths[2], default: 0)
                let entry: PDFXrefEntry
                switch type {
                case 0: entry = .free
                case 1: entry = .inUse(offset: second, generation: third)
                case 2: entry = .compressed(stream: second, index: third)
                default: entry = .unknownType
                }
                guard entries.updateValue(entry, forKey: objectNumber) == nil else { throw unreadable }
            }
        }
    }
}

/// The objects an object stream holds (ISO 32000-1 §7.5.7), from its dictionary and decoded data. Every byte must be
/// accounted for: the header's pairs of object number and offset, in increasing offsets, then each object alone in
/// its span, whitespace and comments between. Anything else is undecodable: a reader may parse it otherwise.
struct PDFObjectStream {
    static let allowedKeys: Set<String> = ["Type", "N", "First", "Length", "Filter", "DecodeParms"]

    let objects: [PDFIndirectObject]

    /// `budget` is the objects the caller may still read; what this stream's objects take is deducted.
    init(_ dictionary: PDFDictionary, data: [UInt8], object number: Int, budget: inout Int) throws(PDFUndecodableStream) {
        let unreadable = PDFUndecodableStream("object stream \(number)'s header or objects cannot be read unambiguously")
        guard dictionary.keys.isSubset(of: Self.allowedKeys) else {
            throw PDFUndecodableStream("object stream \(number) has keys beyond /N and /First (such as /Extends), which are not supported")
        }
        guard let count = dictionary["N"]?.unsignedInteger, let first = dictionary["First"]?.unsignedInteger,
            count <= budget, first <= data.count
        else { throw unreadable }
        var header = PDFScanner(data, at: 0, end: first)
        var pairs: [(number: Int, offset: Int)] = []
        do {
            for _ in 0..<count {
                let objectNumber = try header.unsignedInteger()
                let offset = try header.unsignedInteger()
                guard offset <= data.count - first, pairs.last.map({ $0.offset < first + offset }) ?? true else { throw unreadable }
                pairs.append((objectNumber, first + offset))
            }
        } catch {
            throw unreadable
        }
        header.skipWhitespaceAndComments()
        guard header.atEnd else { throw unreadable }
        var objects: [PDFIndirectObject] = []
        var scanner = PDFScanner(data, at: first, budget: budget)
        for (index, pair) in pairs.enumerated() {
            // Nothing but whitespace before an object's offset: a comment running across it would be read as
            // content by a reader that starts there.
            guard data[scanner.position..<pair.offset].allSatisfy(PDFBytes.isWhitespace) else { throw unreadable }
            scanner.position = pair.offset
            let spanEnd = index + 1 < pairs.count ? pairs[index + 1].offset : data.count
            let value: PDFObject
            do {
                value = try scanner.object()
            } catch {
                throw unreadable
            }
            guard scanner.position <= spanEnd else { throw unreadable }
            objects.append(
                PDFIndirectObject(reference: PDFReference(number: pair.number, generation: 0), value: value, streamData: nil, range: pair.offset..<scanner.position)
            )
        }
        guard data[scanner.position...].allSatisfy(PDFBytes.isWhitespace) else { throw unreadable }
        budget = scanner.budget
        self.objects = objects
    }
}
