import AsyncHTTPClient
import Foundation
import GRDB
import Hummingbird
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Testing
import WarrantGateCore
import WarrantGateDevPKI
import WarrantGateStore
@testable import WarrantGateServer
import X509

extension GatewayHarness {
    func register(_ reference: String, kind: DocumentKind = .judicialWarrant, agency: String = "ice-ero", subject: String = "2017-000123",
                  scope: [String] = ["records.read"], expires: String = "2099-12-31") throws {
        _ = try registry.register(
            DocumentRegistration(reference: reference, kind: kind, agency: agency, subjects: [subject], scope: scope, expires: expires,
                                 court: kind.isJudicial ? "U.S. District Court, D. Colo." : nil, judge: kind.isJudicial ? "Hon. A. Judge" : nil,
                                 caseNumber: kind.isJudicial ? "1:26-mj-1" : nil, noDocumentReason: kind.isJudicial ? "test fixture" : nil),
            operator: "test-clerk", at: Self.inForce(expires, in: registry.timeZone)
        )
        try registry.approve(reference: reference, operator: "test-supervisor", at: Self.inForce(expires, in: registry.timeZone))
    }

    /// Now, or the start of the last day of a document that has expired since: registered and approved while it was
    /// still in force, so that expired documents can be set up too.
    static func inForce(_ expires: String, in zone: TimeZone) -> Date {
        min(Date(), LocalDate(expires)!.start(in: zone))
    }

    /// Waits until the gateway has picked up the registry's latest version, or one after it (the registry may move
    /// on meanwhile; a CI-like run saw the gateway at 14 while waiting for 13).
    func awaitRegistry() async throws {
        let target = try registry.version()
        for _ in 0..<100 where gateway.state.current.registryVersion < target {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(gateway.state.current.registryVersion >= target)
    }

    /// Revokes the key of `agency`'s test certificate in the registry, as `agency revoke-cert` does, and waits until
    /// the gateway has it.
    func revokeCertificate(of agency: String) async throws {
        let certificate = try Certificate(pemEncoded: String(contentsOfFile: pki.clientCertificatePath(agency), encoding: .utf8))
        let spki = try ClientCertificate(certificate: certificate).spkiSHA256
        try registry.revokeCertificate(agency: agency, spki: spki, serial: nil, reason: "laptop stolen", operator: "test-it")
        try await awaitRegistry()
    }
}

@Suite("Gateway end to end over mutual TLS", .serialized)
struct GatewayEndToEndTests {
    @Test("no client certificate, or one from another CA: the handshake is refused")
    func handshakeRefused() async throws {
        try await withGateway { gateway in
            await #expect(throws: (any Error).self) { _ = try await gateway.send(nil, .GET, "/records/inmates/2017-000123") }
            let foreign = DevPKIDirectory(directory: gateway.directory.appendingPathComponent("foreign"))
            try foreign.ensure(clients: ["denver-pd"])
            let client = try gateway.client("denver-pd", pki: foreign)
            var request = HTTPClientRequest(url: "https://localhost:\(gateway.port)/records/inmates/2017-000123")
            request.method = .GET
            await #expect(throws: (any Error).self) { _ = try await client.execute(request, timeout: .seconds(5)) }
            #expect(gateway.recorder.requests.isEmpty)
        }
    }

    @Test("a valid certificate that names no agency: 403 unknown_agency, logged, never forwarded")
    func unknownAgency() async throws {
        try await withGateway { gateway in
            let answer = try await gateway.send("unregistered", .GET, "/records/inmates/2017-000123", headers: [("Gateway-Agency", "denver-pd")])
            #expect(answer.status == 403)
            #expect(answer.reason == "unknown_agency")
            #expect(answer.headers["content-type"].first == "application/problem+json")
            #expect(answer.json["decisionId"] as? String == answer.decisionId)
            #expect(gateway.recorder.requests.isEmpty)
            let rows = try await gateway.exportedRows()
            #expect(rows.first { $0.decisionId == answer.decisionId }?.reason == "unknown_agency")
        }
    }

    @Test("ICE without a valid judicial warrant: 403 with the warrant's own reason, never forwarded")
    func iceRefusals() async throws {
        try await withGateway { gateway in
            try gateway.register("I200-1", kind: .administrativeWarrant)
            try gateway.register("JW-EXPIRED", expires: "2020-01-31")
            try gateway.register("JW-REVOKED")
            try gateway.registry.revoke(reference: "JW-REVOKED", reason: "quashed", operator: "test")
            try gateway.register("JW-OTHER", subject: "2017-000456")
            try gateway.register("JW-VISITS", scope: ["visitation.schedule"])
            try await gateway.awaitRegistry()
            let cases: [(String?, String)] = [
                (nil, "warrant_missing"), ("NO-SUCH", "warrant_unknown"), ("I200-1", "warrant_not_judicial"), ("JW-EXPIRED", "warrant_expired"),
                ("JW-REVOKED", "warrant_revoked"), ("JW-OTHER", "warrant_wrong_subject"), ("JW-VISITS", "warrant_out_of_scope"),
            ]
            for (reference, reason) in cases {
                let answer = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000123", headers: reference.map { [("Warrant-Reference", $0)] } ?? [])
                #expect(answer.status == 403, "\(reason)")
                #expect(answer.reason == reason)
                #expect(answer.decisionId != nil)
            }
            #expect(gateway.recorder.requests.isEmpty)
        }
    }

    /// An auditor's pass: the council's count of immigration requests missed those the gateway refused before any
    /// rule (no route, a body naming no inmate), since only rules recorded `count-for-council-report`.
    @Test("an ICE request refused before any rule carries the council's count; another agency's does not")
    func refusalsBeforeRulesAreCounted() async throws {
        try await withGateway { gateway in
            let refused = [
                try await gateway.send("ice-ero", .GET, "/records/nowhere"),
                try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000123/../../admin"),
                try await gateway.send("denver-pd", .GET, "/records/nowhere"),
            ]
            #expect(refused.map(\.status) == [403, 403, 403], "\(refused.map(\.body))")
            let ids = refused.compactMap(\.decisionId)
            let rows = try await gateway.exportedRows(expecting: ids)
            let obligations = ids.map { id in rows.first { $0.decisionId == id }?.obligations }
            #expect(obligations == [["count-for-council-report"], ["count-for-council-report"], []], "\(rows.map { ($0.agency, $0.reason, $0.obligations) })")
            #expect(gateway.recorder.requests.isEmpty)
        }
    }

    /// A red-team pass: the reason said of another agency's document that it was not ICE's, revoked, expired or no
    /// judicial kind, so ICE could learn which documents other agencies hold, and in what state.
    @Test("another agency's document, whatever its kind or status, is answered as unknown; the log says it was another agency's")
    func otherAgencysDocuments() async throws {
        try await withGateway { gateway in
            try gateway.register("USM-OK", agency: "usm")
            try gateway.register("USM-I200", kind: .administrativeWarrant, agency: "usm")
            try gateway.register("USM-REVOKED", agency: "usm")
            try gateway.registry.revoke(reference: "USM-REVOKED", reason: "quashed", operator: "test")
            try gateway.register("USM-EXPIRED", agency: "usm", expires: "2020-01-31")
            try await gateway.awaitRegistry()
            var decisions: [String] = []
            for reference in ["NO-SUCH", "USM-OK", "USM-I200", "USM-REVOKED", "USM-EXPIRED"] {
                let answer = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000123", headers: [("Warrant-Reference", reference)])
                #expect(answer.status == 403, "\(reference)")
                #expect(answer.reason == "warrant_unknown", "\(reference)")
                #expect(answer.json["type"] as? String == "urn:warrant-gate:problem:warrant_unknown", "\(reference)")
                #expect(answer.json["detail"] as? String == ReasonCatalog.entry(for: .warrantUnknown).detail, "\(reference)")
                decisions.append(try #require(answer.decisionId))
            }
            let rows = try await gateway.exportedRows(expecting: decisions)
            let logged = decisions.map { id in rows.first { $0.decisionId == id }?.reason }
            #expect(logged == ["warrant_unknown"] + Array(repeating: "warrant_wrong_agency", count: 4), "\(logged)")
            #expect(gateway.recorder.requests.isEmpty)
        }
    }

    @Test("ICE with a registered judicial warrant: 200, immigration fields stripped, gateway headers set, spoofed ones dropped")
    func iceWithWarrant() async throws {
        try await withGateway { gateway in
            try gateway.register("JW-OK")
            try await gateway.awaitRegistry()
            let answer = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000123", headers: [
                ("Warrant-Reference", "JW-OK"), ("Gateway-Agency", "denver-pd"), ("X-Forwarded-For", "10.0.0.1"), ("Decision-Id", "forged"),
            ])
            #expect(answer.status == 200)
            let record = answer.json
            #expect(record["bookingNumber"] as? String == "2017-000123")
            for field in ["citizenship", "immigrationStatus", "alienNumber"] { #expect(record[field] == nil) }
            let demographics = try #require(record["demographics"] as? [String: Any])
            #expect(demographics["countryOfBirth"] == nil && demographics["placeOfBirth"] == nil)
            #expect(demographics["dateOfBirth"] as? String == "1990-04-11")

            let seen = try #require(gateway.recorder.requests.last)
            let headers = Dictionary(seen.headers.map { ($0.0.lowercased(), $0.1) }, uniquingKeysWith: { first, second in first + "," + second })
            #expect(seen.path == "/records/inmates/2017-000123")
            #expect(headers["gateway-agency"] == "ice-ero")
            #expect(headers["gateway-warrant"] == "JW-OK")
            #expect(headers["decision-id"] == answer.decisionId)
            #expect(headers["x-forwarded-for"] == nil)
            #expect(headers["warrant-reference"] == nil)

            let id = try #require(answer.decisionId)
            let row = try #require(try await gateway.exportedRows(expecting: [id]).first { $0.decisionId == id })
            #expect(row.effect == .allow)
            #expect(row.warrantReference == "JW-OK")
            #expect(row.outcome?.redactedFields == 5)
            #expect(row.outcome?.upstreamStatus == 200)
            #expect(row.rules == ["immigration-with-judicial-warrant"])
        }
    }

    @Test("a warrant that releases chosen fields of the record: those fields alone reach ICE")
    func fieldScopedWarrant() async throws {
        try await withGateway { gateway in
            try gateway.register("JW-FIELDS", scope: ["records.read#housingUnit", "records.read#charges"])
            try await gateway.awaitRegistry()
            let answer = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000123", headers: [("Warrant-Reference", "JW-FIELDS")])
            #expect(answer.status == 200)
            #expect(Set(answer.json.keys) == ["housingUnit", "charges"], "\(answer.json.keys.sorted())")
        }
    }

    @Test("Denver police get records and visits, over HTTP/2 and HTTP/1.1")
    func localPolice() async throws {
        try await withGateway { gateway in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000456")
            #expect(answer.status == 200)
            #expect(answer.json["citizenship"] == nil)
            #expect(try await gateway.send("denver-pd", .GET, "/visitation/visits?booking=2017-000456").status == 200)

            let http1 = gateway.http1Client("denver-pd")
            defer { _ = http1.shutdown() }
            var request = HTTPClientRequest(url: "https://localhost:\(gateway.port)/records/inmates/2017-000789")
            request.method = .GET
            let response = try await http1.execute(request, timeout: .seconds(5))
            #expect(response.status.code == 200)
            #expect(response.version == .http1_1)
            #expect(response.headers["decision-id"].first != nil)
        }
    }

    @Test("the subject can come from a JSON body; a body too large to inspect gets 413")
    func bodySubject() async throws {
        try await withGateway { gateway in
            try gateway.register("JW-VISIT", scope: ["visitation.schedule"])
            // A visit ICE books is an interview: the inmate is advised of their rights first (HB19-1124).
            try gateway.registry.record(
                SubjectRecord(subject: "2017-000123", kind: .advisement, givenBy: "Dep. Ortiz", givenAt: Date(), language: "es"), operator: "test-clerk"
            )
            try await gateway.awaitRegistry()
            let visit = #"{"bookingNumber":"2017-000123","visitor":"SA J. Smith","purpose":"interview","scheduledFor":"2026-12-01T10:00:00Z"}"#
            #expect(try await gateway.send("ice-ero", .POST, "/visitation/visits", body: visit).reason == "warrant_missing")
            let allowed = try await gateway.send("ice-ero", .POST, "/visitation/visits", headers: [("Warrant-Reference", "JW-VISIT")], body: visit)
            #expect(allowed.status == 201)
            #expect(gateway.recorder.requests.contains { $0.method == "POST" })
            let other = visit.replacingOccurrences(of: "2017-000123", with: "2017-000456")
            #expect(try await gateway.send("ice-ero", .POST, "/visitation/visits", headers: [("Warrant-Reference", "JW-VISIT")], body: other).reason == "warrant_wrong_subject")
            let huge = #"{"bookingNumber":"2017-000123","pad":""# + String(repeating: "x", count: 70_000) + #""}"#
            let tooLarge = try await gateway.send("consulate-mx", .POST, "/visitation/visits", body: huge)
            #expect(tooLarge.status == 413)
            #expect(tooLarge.reason == "body_too_large")
        }
    }

    /// An attacker's pass over the HTTP/2 listener: a request identified, and its state taken, when its head arrived
    /// was decided on that state when its body completed, so a certificate or a warrant revoked meanwhile (up to the
    /// body-read timeout) still let it through.
    @Test("a body that completes after its warrant or its certificate is revoked is decided by the registry then; after a reload, refused")
    func revokedWhileTheBodyArrives() async throws {
        try await withGateway { gateway in
            try gateway.register("JW-SLOW", scope: ["visitation.schedule"])
            try gateway.registry.record(
                SubjectRecord(subject: "2017-000123", kind: .advisement, givenBy: "Dep. Ortiz", givenAt: Date(), language: "es"), operator: "test-clerk"
            )
            try await gateway.awaitRegistry()
            let visit = Array(#"{"bookingNumber":"2017-000123","visitor":"SA J. Smith","purpose":"interview","scheduledFor":"2026-12-01T10:00:00Z"}"#.utf8)
            func head(_ warrant: String?) -> [UInt8] {
                Array("POST /visitation/visits HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: \(visit.count)\r\n\(warrant.map { "Warrant-Reference: \($0)\r\n" } ?? "")\r\n".utf8)
            }
            // The warrant is revoked between the body's first bytes and its last.
            let ice = try await RawTLSConnection.open(port: gateway.port, tls: try gateway.clientTLS(agency: "ice-ero"))
            try await ice.channel.writeAndFlush(ByteBuffer(bytes: head("JW-SLOW") + visit.prefix(20)))
            try gateway.registry.revoke(reference: "JW-SLOW", reason: "quashed", operator: "test-clerk")
            try await gateway.awaitRegistry()
            let refused = try await ice.exchange(Array(visit.dropFirst(20)))
            #expect(refused.status == 403 && refused.raw.contains("warrant_revoked"), "\(refused.raw)")
            await ice.close()

            // The police's certificate is revoked while a visit's body arrives.
            let police = try await RawTLSConnection.open(port: gateway.port, tls: try gateway.clientTLS(agency: "denver-pd"))
            try await police.channel.writeAndFlush(ByteBuffer(bytes: head(nil) + visit.prefix(20)))
            try await gateway.revokeCertificate(of: "denver-pd")
            let revoked = try await police.exchange(Array(visit.dropFirst(20)))
            #expect(revoked.status == 403 && revoked.raw.contains("certificate_revoked"), "\(revoked.raw)")
            await police.close()

            // A re-pass: a reload between the two parts kept the request on the state it began under, registry and
            // all, so a warrant revoked then still served. Its route was matched by the old policy: it is refused.
            try gateway.register("JW-RELOAD", scope: ["visitation.schedule"])
            try await gateway.awaitRegistry()
            let reloading = try await RawTLSConnection.open(port: gateway.port, tls: try gateway.clientTLS(agency: "ice-ero"))
            try await reloading.channel.writeAndFlush(ByteBuffer(bytes: head("JW-RELOAD") + visit.prefix(20)))
            try gateway.registry.revoke(reference: "JW-RELOAD", reason: "quashed", operator: "test-clerk")
            #expect(gateway.gateway.reload(reason: "test").isEmpty)
            let reloaded = try await reloading.exchange(Array(visit.dropFirst(20)))
            #expect(reloaded.status == 503 && reloaded.raw.contains("state_changed"), "\(reloaded.raw)")
            await reloading.close()
            #expect(!gateway.recorder.requests.contains { $0.method == "POST" }, "nothing forwarded")
        }
    }

    @Test("a visit is cancelled only under its own inmate's booking, the one decided on, and only by the agency that scheduled it")
    func visitCancelSubject() async throws {
        try await withGateway { gateway in
            try gateway.register("JW-CANCEL", subject: "2017-000456", scope: ["visitation.cancel"])
            try await gateway.awaitRegistry()
            let visit = #"{"bookingNumber":"2017-000123","visitor":"J. Doe","purpose":"family","scheduledFor":"2026-12-01T10:00:00Z"}"#
            let scheduled = try await gateway.send("denver-pd", .POST, "/visitation/visits", body: visit)
            #expect(scheduled.status == 201)
            let id = try #require(scheduled.json["id"] as? String)
            let warrant = [("Warrant-Reference", "JW-CANCEL")]

            // ICE's warrant names another inmate: claiming that inmate's booking passes the policy, and the
            // visitation system, given the same booking, finds no such visit of theirs.
            let claimed = try await gateway.send("ice-ero", .DELETE, "/visitation/visits/\(id)?booking=2017-000456", headers: warrant)
            #expect(claimed.status == 404)
            let truthful = try await gateway.send("ice-ero", .DELETE, "/visitation/visits/\(id)?booking=2017-000123", headers: warrant)
            #expect(truthful.reason == "warrant_wrong_subject")
            let listed = try await gateway.send("denver-pd", .GET, "/visitation/visits?booking=2017-000123")
            #expect(listed.body.contains(id), "the visit was cancelled under another inmate's booking")

            let rows = try await gateway.exportedRows(expecting: [claimed.decisionId!])
            let row = try #require(rows.first { $0.decisionId == claimed.decisionId })
            #expect(row.action == "visitation.cancel")
            #expect(row.subject == "2017-000456")
            #expect(row.outcome?.upstreamStatus == 404)
            #expect(gateway.recorder.requests.contains { $0.method == "DELETE" && $0.path == "/visitation/visits/\(id)?booking=2017-000456" })

            // A warrant for the right inmate passes the policy; the visitation system, told by the gateway which
            // agency asks, keeps a visit that another agency scheduled.
            try gateway.register("JW-CANCEL-123", scope: ["visitation.cancel"])
            try await gateway.awaitRegistry()
            let others = try await gateway.send("ice-ero", .DELETE, "/visitation/visits/\(id)?booking=2017-000123", headers: [("Warrant-Reference", "JW-CANCEL-123")])
            #expect(others.status == 403 && others.body.contains("another agency"), "\(others.status) \(others.body)")
            #expect(try await gateway.send("denver-pd", .GET, "/visitation/visits?booking=2017-000123").body.contains(id))

            #expect(try await gateway.send("denver-pd", .DELETE, "/visitation/visits/\(id)?booking=2017-000123").status == 204)
        }
    }

    @Test("requests built to slip past the policy are refused and never forwarded")
    func slipAttempts() async throws {
        try await withGateway { gateway in
            try gateway.register("JW-OK")
            try await gateway.awaitRegistry()
            let before = gateway.recorder.requests.count
            let attempts: [(String, [(String, String)], Int, String)] = [
                ("/records/inmates/2017-000123%2F..%2F2017-000456", [], 400, "ambiguous_path"),
                ("/records/inmates;x=1/2017-000123", [], 400, "ambiguous_path"),
                ("/Records/Inmates/2017-000123", [], 403, "no_route"),
                ("/records/inmates/2017-000123.", [], 400, "subject_invalid"),
                ("/records/inmates/2017-000456", [("Warrant-Reference", "JW-OK")], 403, "warrant_wrong_subject"),
                ("/records/inmates/2017-000123", [("Warrant-Reference", "JW-OK"), ("Warrant-Reference", "JW-OK")], 400, "bad_header"),
                ("/records/inmates/2017-000123", [("X_Gateway_Agency", "denver-pd")], 400, "bad_header"),
            ]
            for (path, headers, status, reason) in attempts {
                let answer = try await gateway.send("ice-ero", .GET, path, headers: headers)
                #expect(answer.status == status, "\(path)")
                #expect(answer.reason == reason, "\(path)")
            }
            #expect(gateway.recorder.requests.count == before)
        }
    }

    @Test("an upstream that is down: 502, logged")
    func upstreamDown() async throws {
        try await withGateway(upstreamOverrides: ["records": "http://127.0.0.1:1"]) { gateway in
            let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(answer.status == 502)
            #expect(answer.reason == "upstream_unavailable")
            let id = try #require(answer.decisionId)
            let row = try #require(try await gateway.exportedRows(expecting: [id]).first { $0.decisionId == id })
            #expect(row.effect == .allow)
            #expect(row.outcome?.error == "upstream_unavailable")
            #expect(row.status == 502)
        }
    }

    @Test("a record to redact is read whole, in chunks or not; one larger than the redaction limit is withheld with 502")
    func redactionLimit() async throws {
        // ~6 KB of JSON with fields the policy strips, sent with a Content-Length, or (?chunked) in chunks without one.
        let record = #"{"bookingNumber":"2017-000123","citizenship":"x","notes":"\#(String(repeating: "n", count: 6000))","alienNumber":"A-1","last":true}"#
        let stripped = #","citizenship":"x""#.utf8.count + #","alienNumber":"A-1""#.utf8.count
        let router = Router()
        router.get("/records/inmates/:booking") { request, _ -> Response in
            // One inmate's record in one piece, another's in chunks: the route takes no query to ask for either.
            guard request.uri.path.hasSuffix("2017-000456") else {
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: record)))
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init { writer in
                for start in stride(from: 0, to: record.utf8.count, by: 1000) {
                    try await writer.write(ByteBuffer(bytes: Array(record.utf8).dropFirst(start).prefix(1000)))
                }
                try await writer.finish(nil)
            })
        }
        let paths = ["/records/inmates/2017-000123", "/records/inmates/2017-000456"]
        try await withTestServer(router) { port in
            var fits = GatewayConfiguration.Limits()
            fits.redactBodyBytes = record.utf8.count
            try await withGateway(upstreamOverrides: ["records": "http://127.0.0.1:\(port)"], limits: fits) { gateway in
                for path in paths {
                    let answer = try await gateway.send("denver-pd", .GET, path)
                    #expect(answer.status == 200, "\(path)")
                    #expect(answer.json["citizenship"] == nil && answer.json["alienNumber"] == nil)
                    #expect(answer.json["last"] as? Bool == true)
                    #expect(answer.body.utf8.count == record.utf8.count - stripped)
                }
            }
            var tight = GatewayConfiguration.Limits()
            tight.redactBodyBytes = record.utf8.count - 1
            try await withGateway(upstreamOverrides: ["records": "http://127.0.0.1:\(port)"], limits: tight) { gateway in
                for path in paths {
                    let answer = try await gateway.send("denver-pd", .GET, path)
                    #expect(answer.status == 502, "\(path)")
                    #expect(answer.reason == "upstream_unredactable")
                    #expect(!answer.body.contains("citizenship"))
                }
            }
        }
    }

    @Test("an upstream that stalls: 504, logged, the client is not left hanging, on a kept-alive HTTP/1.1 connection too")
    func upstreamTimeout() async throws {
        let router = Router()
        router.get("/records/inmates/:booking") { _, context -> Response in
            if context.parameters.get("booking") != "2017-000456" { try await Task.sleep(for: .seconds(8)) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
        }
        var limits = GatewayConfiguration.Limits()
        // Long enough for a quick answer on a loaded machine (the whole suite runs in parallel, perhaps beside a
        // build), far below the stall.
        limits.upstreamResponseTimeout = .seconds(3)
        try await withTestServer(router) { port in
            try await withGateway(upstreamOverrides: ["records": "http://127.0.0.1:\(port)"], limits: limits) { gateway in
                // A 504 is the gateway's own answer before the upstream's: the client was not left waiting for it.
                let answer = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
                #expect(answer.status == 504)
                #expect(answer.reason == "upstream_timeout")

                // One connection's requests share its exchange timer: a stall after a quick answer still times out,
                // and the request after it is answered.
                let http1 = gateway.http1Client("denver-pd")
                defer { _ = http1.shutdown() }
                func status(_ booking: String) async throws -> UInt {
                    let request = HTTPClientRequest(url: "https://localhost:\(gateway.port)/records/inmates/\(booking)")
                    let response = try await http1.execute(request, timeout: .seconds(10))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    return response.status.code
                }
                #expect(try await status("2017-000456") == 200)
                #expect(try await status("2017-000123") == 504)
                #expect(try await status("2017-000456") == 200)
            }
        }
    }

    @Test("a log that cannot be written: 503, and nothing is forwarded")
    func logUnwritable() async throws {
        try await withGateway { gateway in
            let saboteur = try DatabaseQueue(path: gateway.databasePath)
            try await saboteur.write { db in
                try db.execute(sql: "CREATE TRIGGER sabotage BEFORE INSERT ON log BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
            }
            for agency in ["denver-pd", "ice-ero", "unregistered"] {
                let answer = try await gateway.send(agency, .GET, "/records/inmates/2017-000123")
                #expect(answer.status == 503)
                #expect(answer.reason == "log_unavailable")
                #expect(!answer.body.contains("disk is full"))
            }
            #expect(gateway.recorder.requests.isEmpty)
            try await saboteur.write { try $0.execute(sql: "DROP TRIGGER sabotage") }
            #expect(try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123").status == 200)
        }
    }

    @Test("every decision the clients saw is in the export, with its effect and reason")
    func everyDecisionExported() async throws {
        try await withGateway { gateway in
            try gateway.register("JW-OK")
            try await gateway.awaitRegistry()
            var seen: [String: (Int, String)] = [:]
            let requests: [(String, String, [(String, String)])] = [
                ("ice-ero", "/records/inmates/2017-000123", []), ("ice-ero", "/records/inmates/2017-000123", [("Warrant-Reference", "JW-OK")]),
                ("denver-pd", "/records/inmates/2017-000456", []), ("unregistered", "/records/inmates/2017-000123", []),
                ("public-defender", "/visitation/visits?booking=2017-000789", []), ("consulate-mx", "/records/inmates/2017-000789", []),
                ("denver-pd", "/no/such/route", []), ("ice-ero", "/records/inmates/2017-000789/release", []),
            ]
            for (agency, path, headers) in requests {
                let answer = try await gateway.send(agency, .GET, path, headers: headers)
                seen[try #require(answer.decisionId)] = (answer.status, path)
            }
            let rows = try await gateway.exportedRows(expecting: Array(seen.keys))
            for (id, (status, path)) in seen {
                let row = try #require(rows.first { $0.decisionId == id }, "\(path)")
                #expect(row.effect == (status == 200 ? .allow : .deny), "\(path)")
                #expect(row.status == status, "\(path)")
                #expect(row.policyDigest?.count == 64)
            }
        }
    }
}

/// Client TLS settings for the tests' own clients.
enum TLSConfigurationFactory {
    static func client(pki: DevPKIDirectory, agency: String) -> NIOSSL.TLSConfiguration {
        var tls = NIOSSL.TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates((try? NIOSSLCertificate.fromPEMFile(pki.caPath)) ?? [])
        tls.certificateChain = ((try? NIOSSLCertificate.fromPEMFile(pki.clientCertificatePath(agency))) ?? []).map { .certificate($0) }
        tls.privateKey = try? .privateKey(NIOSSLPrivateKey(file: pki.clientKeyPath(agency), format: .pem))
        return tls
    }
}
