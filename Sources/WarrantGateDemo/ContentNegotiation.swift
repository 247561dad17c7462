import CompressNIO
import Foundation
import Hummingbird
import NIOCore

extension Request {
    /// Whether `Accept` weighs `application/xml` or `text/xml` above `application/json`.
    var prefersXML: Bool {
        let weights = preferenceWeights(headers[values: .accept])
        let xml = max(weights["application/xml"] ?? 0, weights["text/xml"] ?? 0)
        return xml > weights["application/json"] ?? 0
    }
}

/// A content coding the records system applies on request: gzip, or deflate, which HTTP defines as the zlib format.
enum ContentCoding: String {
    case gzip
    case deflate

    /// The coding that `Accept-Encoding` weighs highest with a non-zero q (gzip on a tie), or nil if it names neither.
    init?(acceptEncoding fieldValues: [String]) {
        let weights = preferenceWeights(fieldValues)
        let gzip = weights["gzip"] ?? 0
        let deflate = weights["deflate"] ?? 0
        guard max(gzip, deflate) > 0 else { return nil }
        self = gzip >= deflate ? .gzip : .deflate
    }

    var algorithm: CompressionAlgorithm {
        switch self {
        case .gzip: .gzip()
        case .deflate: .zlib()
        }
    }
}

/// Compresses each non-empty response body with the coding the request's `Accept-Encoding` asks for, adding
/// `Content-Encoding` and `Vary: Accept-Encoding`. Responses to requests that ask for neither gzip nor deflate pass
/// through untouched.
struct CompressingMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        guard let coding = ContentCoding(acceptEncoding: request.headers[values: .acceptEncoding]),
              response.body.contentLength != 0
        else { return response }
        var body = try await response.body.collected()
        response.body = ResponseBody(byteBuffer: try body.compress(with: coding.algorithm))
        response.headers[.contentEncoding] = coding.rawValue
        response.headers[.vary] = "Accept-Encoding"
        return response
    }
}

/// The weight that a preference header (`Accept`, `Accept-Encoding`) gives each token it lists, keyed by the lowercased
/// token without parameters. A token weighs its `q` parameter (0 if malformed) or else 1; a repeated token, its highest.
func preferenceWeights(_ fieldValues: [String]) -> [String: Double] {
    var weights: [String: Double] = [:]
    for element in fieldValues.joined(separator: ",").split(separator: ",") {
        let parts = element.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let token = parts.first, !token.isEmpty else { continue }
        let weight = parts.dropFirst().first { $0.hasPrefix("q=") }.map { Double($0.dropFirst(2)) ?? 0 } ?? 1
        weights[token] = max(weights[token] ?? 0, weight)
    }
    return weights
}

extension ResponseBody {
    /// The whole body in one buffer.
    consuming func collected() async throws -> ByteBuffer {
        let sink = BodySink()
        try await write(BodyCollector(sink: sink))
        return sink.buffer
    }
}

/// Where a ``BodyCollector`` gathers what a response body writes.
private final class BodySink {
    var buffer = ByteBuffer()
}

private struct BodyCollector: ResponseBodyWriter {
    let sink: BodySink

    func write(_ buffer: ByteBuffer) async throws {
        sink.buffer.writeImmutableBuffer(buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
