import NIOCore
import NIOHTTP1
import Synchronization
import Testing
@testable import WarrantGateServer

/// What the gateway does when the write of an answer's end fails, against a real gateway over mutual TLS on loopback:
/// a stage between the request handler and its connection fails every end's write, as the socket or a stream would.
@Suite("An answer's end that cannot be written", .serialized)
struct AnswerEndFailureTests {
    private static let locator = "/records/locator/2017-000123"
    private static let request = Array("GET \(locator) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)

    /// The end refused on the gateway's side: the answer is cut off, so the connection closes, the outcome says
    /// `gateway_error` with the status the head carried, and the agency's slot is freed for its next request.
    @Test("refused on the gateway's side: the connection closes, the outcome says gateway_error, the slot is freed")
    func refusedEnd() async throws {
        try await Self.withFailingEnds(RefusedEnd()) { harness, port in
            let outcome = try await Self.exchangeFailing(harness, port: port)
            #expect(outcome?.error == "gateway_error" && outcome?.status == 200, "\(String(describing: outcome))")
        }
    }

    /// The end lost because the client went away: the outcome says `client_closed`, 499.
    @Test("lost with the client: the connection closes, the outcome says client_closed, the slot is freed")
    func clientGoneEnd() async throws {
        try await Self.withFailingEnds(ChannelError.ioOnClosedChannel) { harness, port in
            let outcome = try await Self.exchangeFailing(harness, port: port)
            #expect(outcome?.error == "client_closed" && outcome?.status == 499, "\(String(describing: outcome))")
        }
    }

    private struct RefusedEnd: Error {}

    /// Whether the first end has been failed yet.
    private final class Failed: Sendable {
        private let done = Mutex(false)

        /// True once, for the first end.
        func first() -> Bool {
            done.withLock { done in
                defer { done = true }
                return !done
            }
        }
    }

    /// Sends one request whose end's write fails, checks that its connection closes and that the agency (limit 1)
    /// is served again on a new connection, and returns the first request's outcome.
    private static func exchangeFailing(_ harness: GatewayHarness, port: Int) async throws -> OutcomeRecordSummary? {
        let tls = try harness.clientTLS(agency: "denver-pd")
        let failing = try await RawTLSConnection.open(port: port, tls: tls)
        let cut = try await failing.exchange(request)
        #expect(cut.status == 200, "\(cut.raw.prefix(300))")
        #expect(await failing.closes(), "the connection whose answer was cut off is left open")
        await failing.close()
        let decisionId = try #require(cut.raw.split(separator: "\r\n").first { $0.lowercased().hasPrefix("decision-id:") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces))

        let next = try await RawTLSConnection.open(port: port, tls: tls)
        let served = try await next.exchange(request)
        #expect(served.status == 200, "the agency's slot was kept: \(served.raw.prefix(300))")
        await next.close()
        let row = try await harness.exportedRows(expecting: [decisionId]).first { $0.decisionId == decisionId }
        return row?.outcome.map { OutcomeRecordSummary(status: $0.status, error: $0.error) }
    }

    private struct OutcomeRecordSummary: CustomStringConvertible {
        let status: Int
        let error: String?
        var description: String { "\(status) \(error ?? "-")" }
    }

    /// Runs `body` with a second listener on a gateway whose agency limit is 1 and whose handlers' first answer end
    /// fails with `error` instead of being written; later ends are written.
    private static func withFailingEnds(_ error: any Error & Sendable, _ body: (GatewayHarness, Int) async throws -> Void) async throws {
        try await withGateway { harness in
            var limits = harness.gateway.configuration.limits
            limits.maxInFlightPerAgency = 1
            let failed = Failed()
            let handlers = { (environment: GatewayEnvironment) -> any RequestHandlerFactory in
                StagedRequestHandlers(environment: environment) { context, part, data, promise in
                    guard case .end = part, failed.first() else {
                        return context.write(data, promise: promise)
                    }
                    context.flush()
                    promise?.fail(error)
                }
            }
            try await harness.withListener(limits: limits, handlers: handlers) { port in try await body(harness, port) }
        }
    }
}
