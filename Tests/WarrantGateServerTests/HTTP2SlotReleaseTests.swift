import NIOCore
import NIOHTTP1
import Synchronization
import Testing
@testable import WarrantGateServer

/// When an HTTP/2 answer frees its agency's in-flight slot, against a real gateway over mutual TLS on loopback.
@Suite("HTTP/2 answers free their agency's slot before the client has them", .serialized)
struct HTTP2SlotReleaseTests {
    private static let locator = "/records/locator/2017-000123"

    /// The slot was freed in the callback of the answer's end write, which runs only once the socket has taken the
    /// end, and later still when the kernel deschedules the loop there: a limit-1 agency's next request, sent on
    /// another connection once the whole answer had arrived, was sometimes refused with 429 (27 of 3,000 requests
    /// on a loaded two-core machine). ``LateEndCompletions`` makes that loop's lateness certain: the last end's write
    /// completes only after the next request has been answered.
    @Test("a limit-1 agency sending each HTTP/2 request after the whole answer to the last, on another connection, is never refused")
    func nextRequestAfterWholeAnswer() async throws {
        try await withGateway { harness in
            let late = LateEndCompletions()
            try await withLateListener(harness, maxInFlightPerAgency: 1, late: late) { port in
                let tls = try harness.clientTLS(agency: "denver-pd")
                let connections = [try await RawHTTP2Connection.open(port: port, tls: tls), try await RawHTTP2Connection.open(port: port, tls: tls)]
                var statuses: [Int] = []
                for index in 0..<20 {
                    try await late.waitUntilHeld(index)
                    await late.release(keepingLast: 1)
                    let answer = try await connections[index % connections.count].exchange(.GET, Self.locator)
                    statuses.append(answer.status)
                }
                #expect(statuses == Array(repeating: 200, count: 20), "\(statuses)")
                late.release()
                for connection in connections { await connection.close() }
            }
        }
    }

    /// NIOHTTP2 reads the connection's writability once for all the ends it passes on together, so a stream's close
    /// bounds what its client leaves unread only while no other end on the connection is unwritten.
    @Test("an HTTP/2 answer's slot waits for its end to be written while another end on its connection is unwritten")
    func unwrittenEndsKeepSlots() async throws {
        try await withGateway { harness in
            let late = LateEndCompletions()
            try await withLateListener(harness, maxInFlightPerAgency: 1, late: late) { port in
                let tls = try harness.clientTLS(agency: "denver-pd")
                let (first, second) = (try await RawHTTP2Connection.open(port: port, tls: tls), try await RawHTTP2Connection.open(port: port, tls: tls))
                // The first end is unwritten when the second stream closes: the second keeps its slot.
                #expect(try await first.exchange(.GET, Self.locator).status == 200)
                try await late.waitUntilHeld(1)
                #expect(try await first.exchange(.GET, Self.locator).status == 200)
                try await late.waitUntilHeld(2)
                #expect(try await second.exchange(.GET, Self.locator).status == 429)
                await late.release(keepingLast: 0)
                #expect(try await second.exchange(.GET, Self.locator).status == 200)
                await late.release(keepingLast: 0)
                await first.close()
                await second.close()
            }
        }
    }

    /// Runs `body` with the port of a second listener on `harness`'s gateway with an agency limit of its own, whose
    /// request handlers write through `late`'s stage.
    private func withLateListener(
        _ harness: GatewayHarness, maxInFlightPerAgency: Int, late: LateEndCompletions, _ body: (Int) async throws -> Void
    ) async throws {
        var limits = harness.gateway.configuration.limits
        limits.maxInFlightPerAgency = maxInFlightPerAgency
        try await harness.withListener(limits: limits, handlers: late.handlers) { port in
            do {
                try await body(port)
            } catch {
                // Held ends would hold the listener's shutdown.
                late.release()
                throw error
            }
        }
    }
}

/// Holds back the completion of every answer's end written through its stage until ``release()``: what a client sees
/// of a gateway loop that the kernel deschedules once the socket has taken the end, before the write's callbacks run.
final class LateEndCompletions: Sendable {
    private let held = Mutex<(ends: [(EventLoopPromise<Void>, Result<Void, any Error>)], total: Int)>(([], 0))

    /// Completes every held end's write, as it completed.
    func release() {
        for (promise, result) in held.withLock({ held in defer { held.ends = [] }; return held.ends }) { promise.completeWith(result) }
    }

    /// Returns once `total` ends' writes have completed in all, held or released: the socket has taken each of them.
    func waitUntilHeld(_ total: Int) async throws {
        while held.withLock({ $0.total }) < total { try await Task.sleep(for: .milliseconds(1)) }
    }

    /// Completes the held ends' writes but the last `kept`, as they completed, and returns once their loops have run
    /// the handlers' callbacks of those writes (a future's callbacks run in the order they were added).
    func release(keepingLast kept: Int) async {
        let due = held.withLock { held in
            defer { held.ends.removeFirst(max(0, held.ends.count - kept)) }
            return held.ends.dropLast(kept)
        }
        for (promise, result) in due {
            promise.completeWith(result)
            _ = try? await promise.futureResult.get()
        }
    }

    /// `environment`'s request handlers, each behind a stage that holds its ends' completions.
    func handlers(_ environment: GatewayEnvironment) -> any RequestHandlerFactory {
        StagedRequestHandlers(environment: environment) { [self] context, part, data, promise in
            guard case .end = part, let promise else { return context.write(data, promise: promise) }
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { [self] result in hold(promise, result) }
            context.write(data, promise: written)
        }
    }

    private func hold(_ promise: EventLoopPromise<Void>, _ result: Result<Void, any Error>) {
        held.withLock { held in
            held.ends.append((promise, result))
            held.total += 1
        }
    }
}
