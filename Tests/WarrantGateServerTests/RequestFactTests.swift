import Foundation
import Testing
import WarrantGateCore
import WarrantGateStore
@testable import WarrantGateServer

/// Request facts on a live gateway: what a caller states about its own request, in a header or a member of the JSON
/// body, reaches the decision and is recorded verbatim with it; an undeclared value, or a header given twice, is
/// refused 400 (request_fact_invalid) before any rule, and the refusal is logged.
@Suite("Request facts on a live gateway", .serialized)
struct RequestFactTests {
    static let policy = """
        policy: request-facts
        time-zone: America/Denver
        subject-format: "####-######"
        routes:
          - id: inmate-record
            method: GET
            path: /records/inmates/{booking}
            action: records.read
            subject: { path: booking }
            upstream: records
            data: [record]
          - id: interview-in-person
            method: POST
            path: /visitation/interviews/in-person
            action: interview.in-person
            subject: { body: bookingNumber }
            upstream: visitation
            data: [interview]
        request-facts:
          purpose: { header: Request-Purpose, values: [criminal-investigation, immigration-enforcement], description: What the caller says the request is for. }
          attorney-present: { body: attorneyPresent, values: ["true", "false"], description: Whether counsel attends the interview. }
        rules:
          - id: police-for-investigations
            effect: permit
            when: { category: local-law-enforcement, action: [records.read], request: { purpose: [criminal-investigation] } }
          - id: counsel-interviews-with-attorney
            effect: permit
            when: { category: defense-counsel, action: [interview.in-person], request: { attorney-present: ["true"] } }
        """

    private func withPolicy(_ body: (GatewayHarness) async throws -> Void) async throws {
        try await withGateway(configure: { directory, configuration in
            let path = directory.appendingPathComponent("request-facts.yaml").path
            try Self.policy.write(toFile: path, atomically: true, encoding: .utf8)
            configuration.policyPath = path
        }, body)
    }

    @Test("a declared header value reaches the decision and the decision record; absent, the rule does not apply")
    func headerFactDecidesAndIsLogged() async throws {
        try await withPolicy { gateway in
            let allowed = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123", headers: [("Request-Purpose", "criminal-investigation")])
            #expect(allowed.status == 200, "\(allowed.body)")
            let other = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123", headers: [("request-purpose", "immigration-enforcement")])
            #expect(other.status == 403)
            #expect(other.reason == "no_matching_permit")
            let absent = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123")
            #expect(absent.status == 403)
            #expect(absent.reason == "no_matching_permit")

            let ids = [allowed.decisionId, other.decisionId, absent.decisionId].compactMap { $0 }
            #expect(ids.count == 3)
            let rows = try await gateway.exportedRows(expecting: ids)
            let allowedRow = try #require(rows.first { $0.decisionId == allowed.decisionId })
            #expect(allowedRow.effect == .allow)
            #expect(allowedRow.rules == ["police-for-investigations"])
            #expect(allowedRow.requestFacts == ["purpose=criminal-investigation"])
            let otherRow = try #require(rows.first { $0.decisionId == other.decisionId })
            #expect(otherRow.requestFacts == ["purpose=immigration-enforcement"], "a denied request's claim is recorded too")
            #expect(otherRow.effect == .deny)
            let absentRow = try #require(rows.first { $0.decisionId == absent.decisionId })
            #expect(absentRow.requestFacts.isEmpty)
        }
    }

    @Test("a body member fact reaches the decision and the record, on a route whose subject is in the body")
    func bodyFactDecidesAndIsLogged() async throws {
        try await withPolicy { gateway in
            let path = "/visitation/interviews/in-person"
            let attending = try await gateway.send(
                "public-defender", .POST, path, body: #"{"bookingNumber":"2017-000123","attorneyPresent":true,"mode":"in-person"}"#
            )
            #expect(attending.status != 403, "\(attending.status) \(attending.body)")
            let alone = try await gateway.send("public-defender", .POST, path, body: #"{"bookingNumber":"2017-000123","attorneyPresent":false}"#)
            #expect(alone.status == 403)
            #expect(alone.reason == "no_matching_permit")
            let rows = try await gateway.exportedRows(expecting: [attending.decisionId, alone.decisionId].compactMap { $0 })
            let attendingRow = try #require(rows.first { $0.decisionId == attending.decisionId })
            #expect(attendingRow.effect == .allow)
            #expect(attendingRow.requestFacts == ["attorney-present=true"])
            #expect(attendingRow.subject == "2017-000123")
            let aloneRow = try #require(rows.first { $0.decisionId == alone.decisionId })
            #expect(aloneRow.requestFacts == ["attorney-present=false"])
        }
    }

    /// A red-team pass: the body said `attorneyPresent: true` and the query `false`; the gateway decided on the body,
    /// and an upstream that merges the query into its input may read the query.
    @Test("a body fact named in the query too is refused 400 body_invalid, and never forwarded")
    func bodyFactInTheQueryRefused() async throws {
        try await withPolicy { gateway in
            let body = #"{"bookingNumber":"2017-000123","attorneyPresent":true}"#
            for query in ["attorneyPresent=false", "attorney_present=false"] {
                let answer = try await gateway.send("public-defender", .POST, "/visitation/interviews/in-person?" + query, body: body)
                #expect(answer.status == 400, "\(query): \(answer.body)")
                #expect(answer.reason == "body_invalid", "\(query)")
            }
            #expect(gateway.recorder.requests.isEmpty, "nothing reached an upstream")
        }
    }

    @Test("an undeclared value is refused 400 request_fact_invalid, logged, and never forwarded")
    func undeclaredValueRefused() async throws {
        try await withPolicy { gateway in
            let header = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123", headers: [("Request-Purpose", "curiosity")])
            #expect(header.status == 400)
            #expect(header.reason == "request_fact_invalid")
            let body = try await gateway.send(
                "public-defender", .POST, "/visitation/interviews/in-person", body: #"{"bookingNumber":"2017-000123","attorneyPresent":"perhaps"}"#
            )
            #expect(body.status == 400)
            #expect(body.reason == "request_fact_invalid")
            #expect(gateway.recorder.requests.isEmpty, "nothing reached an upstream")
            let ids = [header.decisionId, body.decisionId].compactMap { $0 }
            #expect(ids.count == 2)
            let rows = try await gateway.exportedRows(expecting: ids)
            for id in ids {
                let row = try #require(rows.first { $0.decisionId == id })
                #expect(row.effect == .deny)
                #expect(row.reason == "request_fact_invalid")
                #expect(row.status == 400)
                #expect(row.rules.isEmpty)
            }
            // The refused claims are on the log as they were made.
            #expect(rows.first { $0.decisionId == header.decisionId }?.requestFacts == ["purpose=curiosity"])
            #expect(rows.first { $0.decisionId == body.decisionId }?.requestFacts == ["attorney-present=perhaps"])
        }
    }

    @Test("a request-fact header given twice is refused 400, even with the same declared value")
    func repeatedHeaderRefused() async throws {
        try await withPolicy { gateway in
            let twice = try await gateway.send(
                "denver-pd", .GET, "/records/inmates/2017-000123",
                headers: [("Request-Purpose", "criminal-investigation"), ("Request-Purpose", "criminal-investigation")]
            )
            #expect(twice.status == 400)
            #expect(twice.reason == "request_fact_invalid")
            let mixed = try await gateway.send(
                "denver-pd", .GET, "/records/inmates/2017-000123",
                headers: [("Request-Purpose", "immigration-enforcement"), ("request-purpose", "criminal-investigation")]
            )
            #expect(mixed.status == 400)
            #expect(mixed.reason == "request_fact_invalid")
            // Two values in one field line are one undeclared value.
            let joined = try await gateway.send(
                "denver-pd", .GET, "/records/inmates/2017-000123", headers: [("Request-Purpose", "immigration-enforcement, criminal-investigation")]
            )
            #expect(joined.status == 400)
            #expect(gateway.recorder.requests.isEmpty)
            let rows = try await gateway.exportedRows(expecting: [twice.decisionId, mixed.decisionId].compactMap { $0 })
            #expect(rows.first { $0.decisionId == twice.decisionId }?.reason == "request_fact_invalid")
        }
    }
}
