import CompressNIO
import NIOCore

/// A stream that cannot be decoded here: an unsupported filter or predictor, corrupt or truncated data, or more
/// output than the budget allows. What it holds is then unknown, not refused.
struct PDFUndecodableStream: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Decodes the streams that cross-reference and object streams are written in (ISO 32000-1 §7.4.4): none, or
/// /FlateDecode with no predictor or a PNG predictor. Every decoded byte is counted against one budget per document,
/// so a file of many small streams cannot inflate without bound.
struct PDFStreamDecoder {
    /// Decoded bytes one document may produce in all: validation data is certificates and responses, not pages.
    static let documentBudget = 32 << 20
    static let maximumColumns = 1 << 16
    /// Cross-reference stream entries one document may list in all.
    static let documentEntries = 1 << 20
    /// Keys some readers consult before /Filter and /DecodeParms (pdf.js reads /F and /DP first), or that move the
    /// data to another file: a stream with any of them may decode otherwise there.
    static let divergentKeys: Set<String> = ["F", "FFilter", "FDecodeParms", "DP"]

    /// The decoded bytes the document's streams may still produce.
    private(set) var remaining = PDFStreamDecoder.documentBudget
    /// The entries the document's cross-reference streams may still list (see ``PDFCrossReferenceStream``).
    var entryBudget = PDFStreamDecoder.documentEntries

    /// The decoded data of `object`, a stream in `bytes`.
    mutating func decode(_ object: PDFIndirectObject, in bytes: [UInt8]) throws(PDFUndecodableStream) -> [UInt8] {
        guard let dictionary = object.value.dictionary, let range = object.streamData else {
            throw PDFUndecodableStream("object \(object.reference.number) is not a stream")
        }
        let number = object.reference.number
        if let key = dictionary.keys.intersection(Self.divergentKeys).sorted().first {
            throw PDFUndecodableStream("object \(number)'s /\(key) may be read before its /Filter or /DecodeParms")
        }
        // A filter is a name with a dictionary of parameters (or none, or null), or an array of one name with an array
        // of one (or none): MuPDF ignores parameters given in the other form, so such a stream decodes otherwise there.
        let filter: String?
        var parameters = dictionary["DecodeParms"]
        switch (dictionary["Filter"], parameters) {
        case (nil, _):
            filter = nil
        case (.name(let name)?, nil), (.name(let name)?, .dictionary?), (.name(let name)?, .null?):
            filter = name
        case (.array(let names)?, _) where names.count == 1 && names[0].name != nil:
            filter = names[0].name
            switch parameters {
            case nil: break
            case .array(let elements)? where elements.count == 1: parameters = elements[0]
            default: throw PDFUndecodableStream("object \(number)'s /DecodeParms are not an array beside its /Filter array")
            }
        case (.name?, _):
            throw PDFUndecodableStream("object \(number)'s /DecodeParms are not a dictionary beside its /Filter name")
        default:
            throw PDFUndecodableStream("object \(number) is encoded with a filter chain that is not supported")
        }
        if parameters == .null { parameters = nil }
        if filter == nil && parameters != nil { throw PDFUndecodableStream("object \(number) has /DecodeParms without a filter") }
        let raw = bytes[range]
        guard let filter else {
            guard raw.count <= remaining else { throw PDFUndecodableStream("the PDF's streams decode to more than \(Self.documentBudget) bytes") }
            remaining -= raw.count
            return Array(raw)
        }
        guard filter == "FlateDecode" else { throw PDFUndecodableStream("object \(number) is encoded with /\(filter), which is not supported") }
        let inflated = try inflate(raw, object: number)
        guard let parameters else { return inflated }
        return try Self.unpredicted(inflated, parameters: parameters, object: number)
    }

    /// zlib's inflate (RFC 1950), to the stream's end; bytes after the end are ignored, as readers do.
    private mutating func inflate(_ raw: ArraySlice<UInt8>, object number: Int) throws(PDFUndecodableStream) -> [UInt8] {
        guard !raw.isEmpty else { throw PDFUndecodableStream("object \(number)'s compressed stream is empty") }
        let decompressor: ZlibDecompressor
        do {
            decompressor = try ZlibDecompressor(algorithm: .zlib)
        } catch {
            throw PDFUndecodableStream("zlib could not start")
        }
        var input = ByteBuffer(bytes: raw)
        var window = ByteBuffer()
        window.reserveCapacity(64 << 10)
        var output: [UInt8] = []
        // zlib returns without filling the window when the stream ended or when it took all the input and wants
        // more. Asked again with no input, it answers "stream end" with no output, or "needs input" if truncated.
        var askedAgain = false
        while true {
            window.clear()
            var full = false
            do {
                try decompressor.inflate(from: &input, to: &window)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                full = true
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                throw PDFUndecodableStream("object \(number)'s compressed stream is truncated")
            } catch {
                throw PDFUndecodableStream("object \(number)'s compressed stream is corrupt")
            }
            guard window.readableBytes <= remaining else {
                throw PDFUndecodableStream("the PDF's streams decode to more than \(Self.documentBudget) bytes")
            }
            remaining -= window.readableBytes
            output.append(contentsOf: window.readableBytesView)
            if full {
                askedAgain = false
            } else if input.readableBytes > 0 || (askedAgain && window.readableBytes == 0) {
                // Input left over means the stream ended before it.
                return output
            } else {
                askedAgain = true
            }
        }
    }

    /// Undoes a PNG predictor (/Predictor 10–15) on rows of /Columns samples of one 8-bit component; /Predictor 1 is
    /// none. Anything else (TIFF's predictor, other sample sizes, a partial last row) is not supported.
    static func unpredicted(_ data: [UInt8], parameters: PDFObject, object number: Int) throws(PDFUndecodableStream) -> [UInt8] {
        guard let dictionary = parameters.dictionary,
            dictionary.keys.isSubset(of: ["Predictor", "Columns", "Colors", "BitsPerComponent"]),
            // A value written any other way (a real, a reference) might be read differently by another reader.
            dictionary.keys.allSatisfy({ dictionary[$0]?.unsignedInteger != nil })
        else { throw PDFUndecodableStream("object \(number)'s /DecodeParms are not supported") }
        let predictor = dictionary["Predictor"]?.unsignedInteger ?? 1
        guard predictor != 1 else { return data }
        let colors = dictionary["Colors"]?.unsignedInteger ?? 1
        let bits = dictionary["BitsPerComponent"]?.unsignedInteger ?? 8
        let columns = dictionary["Columns"]?.unsignedInteger ?? 1
        guard (10...15).contains(predictor), colors == 1, bits == 8, (1...maximumColumns).contains(columns) else {
            throw PDFUndecodableStream("object \(number)'s predictor is not supported")
        }
        let rowLength = columns + 1
        guard data.count % rowLength == 0 else { throw PDFUndecodableStream("object \(number)'s predicted rows are incomplete") }
        var output = [UInt8](repeating: 0, count: data.count / rowLength * columns)
        var row = 0
        while row * rowLength < data.count {
            let source = row * rowLength + 1
            let target = row * columns
            for column in 0..<columns {
                let left = column > 0 ? Int(output[target + column - 1]) : 0
                let up = row > 0 ? Int(output[target - columns + column]) : 0
                let upLeft = row > 0 && column > 0 ? Int(output[target - columns + column - 1]) : 0
                let predicted: Int
                switch data[source - 1] {
                case 0: predicted = 0
                case 1: predicted = left
                case 2: predicted = up
                case 3: predicted = (left + up) / 2
                case 4:
                    let estimate = left + up - upLeft
                    let (toLeft, toUp, toUpLeft) = (abs(estimate - left), abs(estimate - up), abs(estimate - upLeft))
                    predicted = toLeft <= toUp && toLeft <= toUpLeft ? left : toUp <= toUpLeft ? up : upLeft
                default: throw PDFUndecodableStream("object \(number) has an unknown PNG filter type in row \(row)")
                }
                output[target + column] = data[source + column] &+ UInt8(truncatingIfNeeded: predicted)
            }
            row += 1
        }
        return output
    }
}
