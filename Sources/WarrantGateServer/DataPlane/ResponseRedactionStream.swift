import CompressNIO
import NIOCore
import NIOHTTP1
import WarrantGateCore

/// One upstream response body on its way through redaction: held as it arrives (``receive(_:)``), decoded from its
/// content coding and redacted a step at a time (``advance()``), and collected in `output` for the handler to send.
///
/// A step decodes through a fixed window and stops once ``stepBytes`` kept bytes are ready to take, so what one read
/// from the upstream inflates to is never held at once: the handler takes each step's bytes and asks for the next
/// only when the client can take more, and reads from the upstream again only when nothing is held. An exchange then
/// holds one read's encoded bytes and about two windows of decoded ones, whatever the compression ratio.
/// A bomb is refused: a body that inflates past `maxDecodedBytes`, or to more than `maxRatio` times its encoded size
/// (beyond its first MiB), is not redacted. Nor is a body of which one read from the upstream (however many pieces it
/// brings: a chunked body comes a chunk at a time) inflates to more than a MiB plus `maxRatio` times its size: the
/// whole body's ratio would not show a bomb behind an incompressible start. Nor is a compressed stream that is
/// corrupt, truncated, or followed by anything. The redacted body goes out uncompressed.
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
    /// Decoded bytes one inflate or one identity piece yields at most.
    static let windowBytes = 64 * 1024
    /// Kept bytes ready to take at which a step stops: it may pass them by up to what one window redacts to.
    static let stepBytes = 64 * 1024

    private let redaction: any BodyRedaction
    private let allocator: ByteBufferAllocator
    private let decompressor: ZlibDecompressor?
    private let limits: Limits
    private var window: ByteBuffer
    private var drained: ByteBuffer
    /// Received bytes not yet decoded: what the last read from the upstream brought.
    private var input: ByteBuffer
    /// Whether zlib may hold decoded bytes the window had no room for, with no input left.
    private var inflaterHoldsOutput = false
    /// Kept bytes not yet taken by the handler.
    private(set) var output: ByteBuffer
    private var encodedBytes = 0
    private var decodedBytes = 0
    /// Encoded and decoded bytes of the input received since none was held: one read from the upstream.
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
        input = allocator.buffer(capacity: 0)
        output = allocator.buffer(capacity: Self.windowBytes)
    }

    var removed: Int { redaction.removed }

    /// Whether any of the body has arrived.
    var hasInput: Bool { encodedBytes > 0 || decodedBytes > 0 }

    /// Whether received input is still to be decoded (``advance()``).
    var hasPendingInput: Bool { input.readableBytes > 0 || inflaterHoldsOutput }

    /// Whether the kept bytes collected may still be refused by what follows (``BodyRedaction/awaitsVerdict``): they
    /// are not taken until they may not.
    var awaitsVerdict: Bool { redaction.awaitsVerdict }

    /// Most kept bytes held while the redaction awaits a verdict: markup in a string that stays undecided for longer is
    /// refused, not held without bound.
    static let maxUndecidedBytes = 1 << 20

    /// Takes the kept bytes collected so far, nil if there are none or they may still be refused. What is taken holds
    /// no more memory than it needs to, whatever the output buffer has grown to (bytes held for a verdict grow it): a
    /// small output is copied out and the buffer kept, a large one handed over and the buffer replaced by one of the
    /// window's size. Handing over every small output whole would pin a buffer's full capacity per write, and clearing
    /// a buffer that is still shared allocates that capacity afresh.
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

    /// Holds the next piece of the body until ``advance()`` decodes it. Input that arrives while none is held begins
    /// a new read from the upstream.
    func receive(_ chunk: ByteBuffer) {
        if !hasPendingInput { sinceRead = (0, 0) }
        if decompressor != nil {
            encodedBytes += chunk.readableBytes
            sinceRead.encoded += chunk.readableBytes
        }
        if input.readableBytes == 0 {
            input = chunk
        } else {
            var chunk = chunk
            input.writeBuffer(&chunk)
        }
    }

    /// Decodes and redacts held input a window at a time, at least once if any is held, until the kept bytes ready to
    /// take reach ``stepBytes`` or no input is left. Bytes held for a verdict are not ready: a step goes on past them,
    /// up to ``maxUndecidedBytes``.
    func advance() throws(RedactionError) {
        repeat {
            guard hasPendingInput else { return }
            try decodeWindow()
        } while output.readableBytes < Self.stepBytes || redaction.awaitsVerdict
    }

    private func decodeWindow() throws(RedactionError) {
        guard let decompressor else {
            let piece = input.readSlice(length: min(Self.windowBytes, input.readableBytes))!
            decodedBytes += piece.readableBytes
            return try redact(piece)
        }
        switch try inflate(decompressor, from: &input) {
        case .windowFull:
            inflaterHoldsOutput = true
        case .needsInput:
            inflaterHoldsOutput = false
        case .returned:
            inflaterHoldsOutput = false
            // zlib stops short of the input only at the end of the compressed stream.
            if input.readableBytes > 0 { throw RedactionError(.malformed, "data after the end of the compressed body", offset: decodedBytes) }
        }
    }

    /// The body ended, and ``advance()`` has decoded all of it: refuses a truncated compressed stream or document.
    func finish() throws(RedactionError) {
        // With no input left and no output held, zlib answers "stream end" if the stream ended, "needs input" if not.
        if let decompressor, try inflate(decompressor, from: &drained) != .returned {
            throw RedactionError(.malformed, "the compressed body is truncated", offset: decodedBytes)
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
