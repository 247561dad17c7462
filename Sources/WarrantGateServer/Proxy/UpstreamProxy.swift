import AsyncHTTPClient
import Foundation
import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import WarrantGateCore
import WarrantGateStore

/// A request that has been allowed and logged, ready to forward.
struct ForwardRequest: Sendable {
    let decisionId: String
    let upstream: String
    let method: HTTPRequest.Method
    /// The canonical target: exactly what the policy matched.
    let target: CanonicalTarget
    let headers: HTTPFields
    /// The whole request body, read once by the pipeline; nil for a method that carries none.
    let body: ByteBuffer?
    let agency: Agency
    let warrant: String?
    let redactor: JSONRedactor
    let started: ContinuousClock.Instant
}

/// Sends allowed requests to their upstream and returns the answer, redacted where the policy says so.
///
/// Redirects are never followed, timeouts are bounded, and every exchange ends with an outcome record linked to its
/// decision. A response that must be redacted is buffered (up to a bound) and must be a whole JSON document (an object,
/// or an array of objects), or it is withheld with 502: so on such a route `Range` and `If-Range` are never forwarded
/// and a 206 fragment is withheld. Other responses stream through. Only the headers of
/// ``HeaderRules/returnable(_:bodyUnmodified:)`` reach the client, on every route.
struct UpstreamProxy: Sendable {
    let client: HTTPClient
    let upstreams: [String: String]
    let limits: GatewayConfiguration.Limits
    let log: DecisionLog
    let metrics: GatewayMetrics
    let logger: Logger
    let now: @Sendable () -> Date

    func forward(_ forward: ForwardRequest) async -> Response {
        guard let base = upstreams[forward.upstream] else {
            return failed(forward, reason: .gatewayError, upstreamStatus: nil)
        }
        var request = HTTPClientRequest(url: base + forward.target.target)
        request.method = HTTPMethod(rawValue: forward.method.rawValue)
        request.headers = HeaderRules.forwardable(forward.headers)
        if !forward.redactor.isEmpty {
            request.headers.remove(name: "range")
            request.headers.remove(name: "if-range")
        }
        request.headers.add(name: HeaderRules.gatewayAgency, value: forward.agency.id)
        request.headers.add(name: HeaderRules.gatewayCategory, value: forward.agency.category.rawValue)
        request.headers.add(name: HeaderRules.gatewayDecision, value: forward.decisionId)
        if let warrant = forward.warrant { request.headers.add(name: HeaderRules.gatewayWarrant, value: warrant) }
        if let body = forward.body { request.body = .bytes(body) }

        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: limits.upstreamResponseTimeout.timeAmount)
        } catch {
            return failed(forward, reason: Self.isTimeout(error) ? .upstreamTimeout : .upstreamUnavailable, upstreamStatus: nil)
        }
        let status = HTTPResponse.Status(code: Int(response.status.code))
        if forward.redactor.isEmpty || forward.method == .head || Self.hasNoBody(response) {
            var headers = HeaderRules.returnable(response.headers, bodyUnmodified: true)
            headers[HeaderRules.decisionId] = forward.decisionId
            return streamed(forward, response: response, status: status, headers: headers)
        }
        // A fragment of a document cannot be redacted as a document: one value alone can be valid JSON.
        if response.status.code == 206 {
            return failed(forward, reason: .upstreamUnredactable, upstreamStatus: 206)
        }
        var headers = HeaderRules.returnable(response.headers, bodyUnmodified: false)
        headers[HeaderRules.decisionId] = forward.decisionId
        let collected: [UInt8]
        do {
            collected = try await Self.collect(response, upTo: limits.redactBodyBytes)
        } catch {
            let reason: GatewayReason = Self.isTimeout(error) ? .upstreamTimeout : .upstreamUnredactable
            return failed(forward, reason: reason, upstreamStatus: Int(response.status.code))
        }
        if collected.isEmpty {
            record(forward, upstreamStatus: Int(response.status.code), status: status.code, bytes: 0, redacted: 0, error: nil)
            return Response(status: status, headers: headers, body: .init())
        }
        var output = ByteBuffer()
        output.reserveCapacity(collected.count)
        let removed: Int
        do {
            removed = try forward.redactor.redact(collected) { output.writeBytes($0) }
        } catch {
            return failed(forward, reason: .upstreamUnredactable, upstreamStatus: Int(response.status.code))
        }
        headers[.contentLength] = String(output.readableBytes)
        record(forward, upstreamStatus: Int(response.status.code), status: status.code, bytes: output.readableBytes, redacted: removed, error: nil)
        return Response(status: status, headers: headers, body: .init(byteBuffer: output))
    }

    /// The whole body, for redaction, in one array sized from Content-Length when the upstream gives it (so a large
    /// body is neither regrown nor copied again on its way to the redactor). More than `limit` bytes is an error.
    private static func collect(_ response: HTTPClientResponse, upTo limit: Int) async throws -> [UInt8] {
        let length = response.headers["content-length"].first.flatMap(Int.init)
        if let length, length > limit { throw NIOTooManyBytesError(maxBytes: limit) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length ?? 0)
        for try await chunk in response.body {
            guard chunk.readableBytes <= limit - bytes.count else { throw NIOTooManyBytesError(maxBytes: limit) }
            bytes.append(contentsOf: chunk.readableBytesView)
        }
        return bytes
    }

    private func streamed(_ forward: ForwardRequest, response: HTTPClientResponse, status: HTTPResponse.Status, headers: HTTPFields) -> Response {
        var headers = headers
        let length = response.headers["content-length"].first.flatMap(Int.init)
        if let length { headers[.contentLength] = String(length) }
        let body = ResponseBody(contentLength: length) { writer in
            var bytes = 0
            do {
                for try await chunk in response.body {
                    bytes += chunk.readableBytes
                    try await writer.write(chunk)
                }
                try await writer.finish(nil)
            } catch {
                record(forward, upstreamStatus: Int(response.status.code), status: status.code, bytes: bytes, redacted: 0, error: "upstream_body_failed")
                throw error
            }
            record(forward, upstreamStatus: Int(response.status.code), status: status.code, bytes: bytes, redacted: 0, error: nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    private func failed(_ forward: ForwardRequest, reason: GatewayReason, upstreamStatus: Int?) -> Response {
        let status = ReasonCatalog.entry(for: reason).status
        logger.warning("upstream exchange failed", metadata: ["decision": "\(forward.decisionId)", "reason": "\(reason.rawValue)"])
        metrics.count(effect: .allow, reason: reason.rawValue)
        record(forward, upstreamStatus: upstreamStatus, status: status, bytes: 0, redacted: 0, error: reason.rawValue)
        return Problem.response(reason: reason.rawValue, decisionId: forward.decisionId)
    }

    /// Queues the outcome record; it is committed with the next batch, after the answer.
    private func record(_ forward: ForwardRequest, upstreamStatus: Int?, status: Int, bytes: Int, redacted: Int, error: String?) {
        let elapsed = ContinuousClock.now - forward.started
        let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        let outcome = OutcomeRecord(
            decisionId: forward.decisionId, time: Timestamp.format(now()), upstreamStatus: upstreamStatus, status: status,
            bytes: bytes, latencyMs: milliseconds, redactedFields: redacted, error: error
        )
        log.enqueue([LogEntry(kind: .outcome, time: now(), decisionId: forward.decisionId, canonical: outcome.canonical)])
        metrics.observe(since: forward.started)
    }

    private static func hasNoBody(_ response: HTTPClientResponse) -> Bool {
        let code = response.status.code
        return code == 204 || code == 304 || (100..<200).contains(code) || response.headers["content-length"].first == "0"
    }

    private static func isTimeout(_ error: any Error) -> Bool {
        guard let error = error as? HTTPClientError else { return false }
        return error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout
    }
}

extension Duration {
    /// The same span as a NIO `TimeAmount`.
    var timeAmount: TimeAmount {
        .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }
}
