import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
@testable import WarrantGateServer

/// A plain-TCP upstream that answers every read with the same bytes (by default a small JSON 200) and counts its open
/// connections.
private final class CountingUpstream: Sendable {
    private final class Answerer: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let answer: String
        let open: OpenConnections

        init(answer: String, open: OpenConnections) {
            self.answer = answer
            self.open = open
        }

        func channelActive(context: ChannelHandlerContext) {
            open.count.withLock { $0 += 1 }
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            open.count.withLock { $0 -= 1 }
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
        }
    }

    private final class OpenConnections: Sendable {
        let count = Mutex(0)
    }

    private let open = OpenConnections()
    private let server: LoopbackTCPServer

    var port: Int { server.port }
    var openConnections: Int { open.count.withLock { $0 } }

    init(answer: String = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}") async throws {
        let open = open
        server = try await LoopbackTCPServer { try $0.pipeline.syncOperations.addHandler(Answerer(answer: answer, open: open)) }
    }

    func close() async {
        await server.close()
    }
}

@Suite("The upstream pools")
struct UpstreamPoolTests {
    @Test("a gateway that stops closes its idle upstream connections")
    func closedAtShutdown() async throws {
        let upstream = try await CountingUpstream()
        try await withGateway(configure: { _, configuration in
            configuration.upstreams["records"] = UpstreamSettings(url: "http://127.0.0.1:\(upstream.port)")
        }) { gateway in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.status == 200)
            #expect(upstream.openConnections == 1)
        }
        for _ in 0..<50 where upstream.openConnections > 0 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(upstream.openConnections == 0)
        await upstream.close()
    }

    /// A 101 would switch the agency's connection to a protocol no one vetted, and NIO's parser stops reading the
    /// upstream connection after it; a status outside 200–599 is no final answer either.
    @Test("an upstream answering 101 or a status outside 200–599: 502, logged, and its connection is not reused")
    func nonFinalStatus() async throws {
        let answers = [
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "HTTP/1.1 600 Beyond\r\nContent-Length: 0\r\n\r\n",
        ]
        for text in answers {
            let upstream = try await CountingUpstream(answer: text)
            try await withGateway(configure: { _, configuration in
                configuration.upstreams["records"] = UpstreamSettings(url: "http://127.0.0.1:\(upstream.port)")
            }) { gateway in
                let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
                #expect(answer.status == 502, "\(text.prefix(12))")
                #expect(answer.reason == "upstream_unavailable")
                let rows = try await gateway.exportedRows(expecting: [answer.decisionId ?? ""])
                let outcome = rows.first { $0.decisionId == answer.decisionId }?.outcome
                #expect(outcome?.error == "upstream_unavailable")
                #expect(outcome?.upstreamStatus == Int(text.dropFirst(9).prefix(3)))
                for _ in 0..<50 where upstream.openConnections > 0 { try await Task.sleep(for: .milliseconds(100)) }
                #expect(upstream.openConnections == 0, "the connection that answered \(text.prefix(12)) stays open")
            }
            await upstream.close()
        }
    }

    /// The parser skips a body after a HEAD, a 204 or a 304; an upstream that sent one anyway, late, would have it read
    /// as the answer to the next request on the connection. So such a connection is closed even when, as here, the
    /// upstream sends nothing after the head.
    @Test("an upstream connection whose answer carries no body by its method or status (HEAD, 204, 304) is not reused")
    func bodylessAnswersEndTheConnection() async throws {
        let exchanges: [(method: HTTPMethod, answer: String)] = [
            (.HEAD, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"),
            (.GET, "HTTP/1.1 204 No Content\r\n\r\n"),
            (.GET, "HTTP/1.1 304 Not Modified\r\n\r\n"),
        ]
        for (method, text) in exchanges {
            let upstream = try await CountingUpstream(answer: text)
            try await withGateway(configure: { directory, configuration in
                configuration.policyPath = try DataPlaneBoundsTests.policyWithHeadRoute(in: directory)
                configuration.upstreams["records"] = UpstreamSettings(url: "http://127.0.0.1:\(upstream.port)")
            }) { gateway in
                let answer = try await gateway.send("denver-pd", method, "/records/inmates/2017-000123")
                #expect(answer.status == Int(text.dropFirst(9).prefix(3)), "\(method) \(text.prefix(12))")
                for _ in 0..<50 where upstream.openConnections > 0 { try await Task.sleep(for: .milliseconds(100)) }
                #expect(upstream.openConnections == 0, "the connection that answered \(method) with \(text.prefix(12)) stays open")
            }
            await upstream.close()
        }
    }
}
