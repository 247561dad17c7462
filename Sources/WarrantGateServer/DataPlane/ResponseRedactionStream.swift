import CompressNIO
import NIOCore
import NIOHTTP1
import WarrantGateCore

/// One upstream response body on its way through redaction: decoded from its content coding, redacted as it
/// streams, and collected in `output` for the handler to send.
///
/// A gzip or deflate body is inflated through a fixed window, so memory stays bounded whatever the body's size.
/// A bomb is refused: a body that inflates past `maxDecodedBytes`, or to more than `maxRatio` times its encoded size
/// (beyond its first MiB), is not redacted. Nor is a body of which one read from the upstream (however many pieces it
/// brings: a chunked body comes a chunk at a time) inflates to more than a MiB plus `maxRatio` times its size, since a
/// read is inflated and redacted whole before back-pressure can apply. Nor is a compressed stream that is corrupt,
/// truncated, or followed by anything. The redacted body goes out uncompressed.
final class ResponseRedactionStream {
    /// The content codings the gateway decodes. HTTP's `deflate` is the zlib format (RFC 9110 §8.4.1.2).
    enum Coding: Equatable {
        case identity, gzip, deflate

        /// The coding a `Content-Encoding` value names, or nil for one the gateway does not decode (or several).
        init?(contentEncoding: String?) {
            switch contentEncoding.map({ HeaderRules.lowercasedToken($0[...]) }) {
            case nil, "", "identity": self = .identity
            case "gzip", "x-gzip": self = .gzip
            case "deflate": self = .deflate
            default: return nil
            }
        }

        static let acceptable: Set<String> = ["gzip", "x-gzip", "deflate", "identity"]
    }

    struct Limits {
        var maxDecodedBytes: Int
        var maxRatio: Int
    }

    /// Inflated bytes a body may reach before the ratio limit applies.
    static let ratioFloor = 1 << 20
    private static let windowBytes = 64 * 1024

    private let redaction: any BodyRedaction
    private let allocator: ByteBufferAllocator
    private let decompressor: ZlibDecompressor?
    private let limits: Limits
    private var window: ByteBuffer
    private var drained: ByteBuffer
    /// Kept bytes not yet taken by the handler.
    private(set) var output: ByteBuffer
    private var encodedBytes = 0
    private var decodedBytes = 0
    /// Encoded and decoded bytes since the last read from the upstream ended (``readEnded()``).
    private var sinceRead = (encoded: 0, decoded: 0)

    init(redaction: any BodyRedaction, coding: Coding, limits: Limits, allocator: ByteBufferAllocator) throws {
        self.redaction = redaction
        self.allocator = allocator
        self.limits = limits
        switch coding {
        case .identity: decompressor = nil
        case .gzip: decompressor = try ZlibDecompressor(algorithm: .gzip)
        case .deflate: decompressor = try ZlibDecompressor(algorithm: .zlib)
        }
        window = allocator.buffer(capacity: decompressor == nil ? 0 : Self.windowBytes)
        drained = allocator.buffer(capacity: 1)
        output = allocator.buffer(capacity: Self.windowBytes)
    }

    var removed: Int { redaction.removed }

    /// Whether any of the body has arrived.
    var hasInput: Bool { encodedBytes > 0 || decodedBytes > 0 }

    /// Whether the kept bytes collected may still be refused by what follows (``BodyRedaction/awaitsVerdict``): they
    /// are not taken until they may not.
    var awaitsVerdict: Bool { redaction.awaitsVerdict }

    /// Most kept bytes held while the redaction awaits a verdict: markup in a string that stays undecided for longer is
    /// refused, not held without bound.
    static let maxUndecidedBytes = 1 << 20

    /// Takes the kept bytes collected so far, nil if there are none or they may still be refused. What is taken holds no more memory than it needs
    /// to, whatever the output buffer has grown to (a read that inflates far grows it): a small output is copied out
    /// and the buffer kept, a large one handed over and the buffer replaced by one of the window's size. Handing over
    /// every small output whole would pin a buffer's full capacity per write, and clearing a buffer that is still
    /// shared allocates that capacity afresh.
    func takeOutput() -> ByteBuffer? {
        guard output.readableBytes > 0, !redaction.awaitsVerdict else { return nil }
        guard output.readableBytes * 4 >= output.capacity else {
            let taken = allocator.buffer(buffer: output)
            output.clear()
            return taken
        }
        let taken = output
        output = allocator.buffer(capacity: Self.windowBytes)
        return taken
    }

    /// A read from the upstream ended: what the next one brings may inflate afresh.
    func readEnded() {
        sinceRead = (0, 0)
    }

    /// Decodes and redacts the next piece of the body.
    func consume(_ chunk: ByteBuffer) throws(RedactionError) {
        guard let decompressor else {
            decodedBytes += chunk.readableBytes
            return try redact(chunk)
        }
        encodedBytes += chunk.readableBytes
        sinceRead.encoded += chunk.readableBytes
        var input = chunk
        while true {
            switch try inflate(decompressor, from: &input) {
            case .windowFull: continue
            case .needsInput: return
            case .returned:
                // zlib stops short of the input only at the end of the compressed stream.
                if input.readableBytes > 0 { throw RedactionError(.malformed, "data after the end of the compressed body", offset: decodedBytes) }
                return
            }
        }
    }

    /// The body ended: refuses a truncated compressed stream or document.
    func finish() throws(RedactionError) {
        if let decompressor {
            // With no input left, zlib flushes what it holds, then answers "stream end" (no error, no output) if the
            // stream ended, or "needs input" if it did not.
            while true {
                let before = decodedBytes
                let result = try inflate(decompressor, from: &drained)
                if result == .needsInput { throw RedactionError(.malformed, "the compressed body is truncated", offset: decodedBytes) }
                if result == .returned, decodedBytes == before { break }
            }
        }
        try redaction.finish { output.writeBytes($0) }
        // A whole document ends every string and text, and with them every verdict; one still awaited is refused.
        if redaction.awaitsVerdict { throw RedactionError(.refused, "markup inside a string or text is still undecided at the body's end", offset: decodedBytes) }
    }

    private enum InflateResult {
        /// The window filled: zlib may hold more output, even with no input left.
        case windowFull
        /// zlib took all the input and needs more.
        case needsInput
        /// zlib returned without asking for more: the stream ended, or it made what progress it could.
        case returned
    }

    /// Inflates from `input` through the window into the redaction.
    private func inflate(_ decompressor: ZlibDecompressor, from input: inout ByteBuffer) throws(RedactionError) -> InflateResult {
        window.clear()
        let result: InflateResult
        do {
            try decompressor.inflate(from: &input, to: &window)
            result = .returned
        } catch let error as CompressNIOError where error == .bufferOverflow {
            result = .windowFull
        } catch let error as CompressNIOError where error == .inputBufferOverflow {
            result = .needsInput
        } catch {
            throw RedactionError(.malformed, "the compressed body is corrupt", offset: decodedBytes)
        }
        decodedBytes += window.readableBytes
        if decodedBytes > Self.ratioFloor, decodedBytes / max(encodedBytes, 1) > limits.maxRatio {
            throw RedactionError(.refused, "the body inflates to more than \(limits.maxRatio) times its compressed size", offset: decodedBytes)
        }
        sinceRead.decoded += window.readableBytes
        if sinceRead.decoded > Self.ratioFloor + limits.maxRatio * sinceRead.encoded {
            throw RedactionError(.refused, "one read of the body inflates to more than a MiB and \(limits.maxRatio) times its size", offset: decodedBytes)
        }
        try redact(window)
        return result
    }

    private func redact(_ piece: ByteBuffer) throws(RedactionError) {
        guard decodedBytes <= limits.maxDecodedBytes else {
            throw RedactionError(.refused, "the body is larger than \(limits.maxDecodedBytes) bytes", offset: decodedBytes)
        }
        var failure: RedactionError?
        piece.withUnsafeReadableBytes { bytes in
            do throws(RedactionError) { try redaction.feed(bytes) { output.writeBytes($0) } } catch { failure = error }
        }
        if let failure { throw failure }
        if redaction.awaitsVerdict, output.readableBytes > Self.maxUndecidedBytes {
            throw RedactionError(
                .refused, "markup inside a string or text names a redacted field and stays undecided for more than \(Self.maxUndecidedBytes) bytes",
                offset: decodedBytes
            )
        }
    }
}
