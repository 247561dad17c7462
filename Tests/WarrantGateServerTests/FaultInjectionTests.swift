import Foundation
import GRDB
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Testing
@testable import WarrantGateServer
@testable import WarrantGateStore

/// Faults must fail closed: no request reaches an upstream without its decision committed.
@Suite("Faults fail closed", .serialized)
struct FaultInjectionTests {
    private func expectRefusedAndNotForwarded(_ gateway: GatewayHarness, status: Int = 503, reason: String = "log_unavailable") async throws {
        for agency in ["denver-pd", "ice-ero"] {
            let answer = try await gateway.send(agency, .GET, "/records/inmates/2017-000123")
            #expect(answer.status == status, "\(agency)")
            #expect(answer.reason == reason, "\(agency)")
        }
        #expect(gateway.recorder.requests.isEmpty)
    }

    @Test("the database file disappears")
    func databaseRemoved() async throws {
        try await withGateway { gateway in
            try FileManager.default.removeItem(atPath: gateway.databasePath)
            try await expectRefusedAndNotForwarded(gateway)
        }
    }

    @Test("the database is locked by another process")
    func databaseLocked() async throws {
        var limits = GatewayConfiguration.Limits()
        limits.databaseBusyTimeout = .milliseconds(300)
        try await withGateway(limits: limits) { gateway in
            let sqlite = Process()
            sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            sqlite.arguments = [gateway.databasePath]
            let input = Pipe()
            let output = Pipe()
            sqlite.standardInput = input
            sqlite.standardOutput = output
            try sqlite.run()
            input.fileHandleForWriting.write(Data("BEGIN EXCLUSIVE;\nINSERT INTO settings VALUES ('lock', 'held');\nSELECT 'locked';\n".utf8))
            var seen = ""
            while !seen.contains("locked") { seen += String(decoding: output.fileHandleForReading.availableData, as: UTF8.self) }
            try await expectRefusedAndNotForwarded(gateway)
            input.fileHandleForWriting.write(Data("ROLLBACK;\n.quit\n".utf8))
            sqlite.waitUntilExit()
            #expect(try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123").status == 200)
        }
    }

    @Test("the disk is full (SQLITE_FULL from a page limit on the gateway's own connection)")
    func diskFull() async throws {
        try await withGateway { gateway in
            try await #require(gateway.gateway.store.sqlitePool).writeWithoutTransaction { db in
                let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1
                try db.execute(sql: "PRAGMA max_page_count = \(pages)")
            }
            // Fill what little room is left in the log's own pages, one row per transaction, from large rows down to
            // small ones, so that no further decision fits.
            var refusals = 0
            for size in [4000, 1000, 200, 20] {
                for _ in 0..<10_000 {
                    do {
                        try gateway.registry.recordAdminAction("test.fill", target: "disk", details: ["pad": String(repeating: "x", count: size)], operator: "test")
                    } catch {
                        refusals += 1
                        break
                    }
                }
            }
            #expect(refusals == 4)
            try await expectRefusedAndNotForwarded(gateway)
        }
    }

    @Test("the database is read-only")
    func readOnly() async throws {
        try await withGateway { gateway in
            try await #require(gateway.gateway.store.sqlitePool).writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = 1") }
            try await expectRefusedAndNotForwarded(gateway)
        }
    }

    @Test("the upstream resets the connection or stalls mid-body: 502/504, logged, client not left hanging")
    func upstreamMidBody() async throws {
        let router = Router()
        router.get("/records/inmates/:booking") { _, context -> Response in
            if context.parameters.get("booking") == "2017-000123" {
                // Promise 1000 bytes, send 10, then stall.
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(contentLength: 1000) { writer in
                    try await writer.write(ByteBuffer(string: #"{"partial":"#))
                    try await Task.sleep(for: .seconds(10))
                })
            }
            // Promise 1000 bytes, send 10, then drop the connection.
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(contentLength: 1000) { writer in
                try await writer.write(ByteBuffer(string: #"{"partial":"#))
                throw CancellationError()
            })
        }
        var limits = GatewayConfiguration.Limits()
        limits.upstreamReadTimeout = .milliseconds(500)
        try await withTestServer(router) { port in
            try await withGateway(upstreamOverrides: ["records": "http://127.0.0.1:\(port)"], limits: limits) { gateway in
                // Only the read timeout answers this one as a timeout: the stall outlasts it, then the body ends short.
                let stalled = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
                #expect(stalled.status == 504)
                #expect(stalled.reason == "upstream_timeout")
                let reset = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000456")
                #expect(reset.status == 502)
                let rows = try await gateway.exportedRows(expecting: [stalled.decisionId!, reset.decisionId!])
                #expect(rows.first { $0.decisionId == stalled.decisionId }?.outcome?.error == "upstream_timeout")
                #expect(rows.first { $0.decisionId == reset.decisionId }?.outcome?.error != nil)
            }
        }
    }
}
