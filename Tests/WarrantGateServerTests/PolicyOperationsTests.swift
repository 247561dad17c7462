import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import WarrantGateCore
import WarrantGateStore
@testable import WarrantGateServer

@Suite("Shadow mode and hot reload on a live gateway", .serialized)
struct PolicyOperationsTests {
    /// Configures the live policy's text with `change` made to it as the shadow policy.
    static func shadowing(_ change: @escaping (String) -> String) -> (URL, inout GatewayConfiguration) throws -> Void {
        { directory, configuration in
            let path = directory.appendingPathComponent("candidate.yaml").path
            try change(try String(contentsOfFile: configuration.policyPath, encoding: .utf8)).write(toFile: path, atomically: true, encoding: .utf8)
            configuration.shadowPolicyPath = path
        }
    }

    @Test("a shadow policy is evaluated beside the live one, records its disagreements, and changes no answer")
    func shadowMode() async throws {
        try await withGateway(configure: Self.shadowing {
            $0.replacingOccurrences(of: "category: [local-law-enforcement, prosecutor, defense-counsel, court]", with: "category: [prosecutor, defense-counsel, court]")
        }) { gateway in
            let police = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000456")
            #expect(police.status == 200)
            let ice = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000456")
            #expect(ice.reason == "warrant_missing")
            let disagreements = try gateway.gateway.store.exporter().shadowRecords()
            #expect(disagreements.count == 1)
            let disagreement = try #require(disagreements.first)
            #expect(disagreement.decisionId == police.decisionId)
            #expect(disagreement.liveEffect == .allow)
            #expect(disagreement.shadowEffect == .deny)
            #expect(disagreement.shadowReason == "no_matching_permit")
            #expect(disagreement.shadowDigest != gateway.gateway.state.current.policies.policy.digest)
        }
    }

    @Test("a shadow policy that allows alike but redacts less is a disagreement, named as returning more")
    func shadowRedactsLess() async throws {
        try await withGateway(configure: Self.shadowing { $0.replacingOccurrences(of: "redact:\n  - jail:citizenship\n", with: "redact:\n") }) { gateway in
            let police = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000456")
            #expect(police.status == 200)
            #expect(police.json["citizenship"] == nil)
            let disagreement = try #require(try gateway.gateway.store.exporter().shadowRecords().first)
            #expect(disagreement.decisionId == police.decisionId)
            #expect(disagreement.liveEffect == .allow && disagreement.shadowEffect == .allow)
            #expect(disagreement.liveReturns?.redact.contains("citizenship") == true)
            #expect(disagreement.shadowReturns?.redact.contains("citizenship") == false)
            #expect(disagreement.shadowReturnsMore)
            // Read back from its canonical bytes as the CLI reads it.
            #expect(try ShadowRecord(canonical: disagreement.canonical) == disagreement)
        }
    }

    /// A review's pass: a candidate that no longer counted ICE's requests for the council agreed with the live
    /// policy, since only effects, reasons and what allows return were compared.
    @Test("a shadow policy that decides alike but records other obligations is a disagreement, naming both")
    func shadowDropsObligations() async throws {
        try await withGateway(configure: Self.shadowing {
            $0.replacingOccurrences(of: "    every-request-of: [federal-immigration]   # refusals before any rule included\n", with: "")
                .replacingOccurrences(of: "    obligations: [count-for-council-report]\n", with: "")
        }) { gateway in
            let ice = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000456")
            #expect(ice.reason == "warrant_missing")
            let disagreement = try #require(try gateway.gateway.store.exporter().shadowRecords().first)
            #expect(disagreement.decisionId == ice.decisionId)
            #expect(disagreement.liveReason == disagreement.shadowReason)
            #expect(disagreement.liveObligations == ["count-for-council-report"] && disagreement.shadowObligations == [])
            #expect(try ShadowRecord(canonical: disagreement.canonical) == disagreement)
        }
    }

    /// Review 249: the shadow policy saw only requests the live one had classified, so a candidate that adds a route
    /// showed no disagreement for the requests it would newly let through.
    @Test("a request the live routes or classification refuse is shown to the shadow policy too")
    func shadowSeesRefusalsBeforeTheDecision() async throws {
        try await withGateway(configure: Self.shadowing {
            $0.replacingOccurrences(of: "routes:\n", with: """
                routes:
                  - id: inmate-record-copy
                    method: GET
                    path: /records/copies/{booking}
                    action: records.read
                    subject: { path: booking }
                    upstream: records
                    data: [record, custody-status, address, status]

                """)
        }) { gateway in
            let unrouted = try await gateway.send("denver-pd", .GET, "/records/copies/2017-000456")
            #expect(unrouted.reason == "no_route")
            let refused = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000456?unknown=1")
            #expect(refused.reason == "ambiguous_path")
            let bodied = try await gateway.send(
                "denver-pd", .GET, "/records/inmates/2017-000456", headers: [("Content-Type", "application/json")], body: #"{"a":1}"#
            )
            #expect(bodied.reason == "unexpected_body")
            let disagreements = try gateway.gateway.store.exporter().shadowRecords()
            // The others are refused alike by both: no disagreement.
            #expect(disagreements.count == 1)
            let disagreement = try #require(disagreements.first)
            #expect(disagreement.decisionId == unrouted.decisionId)
            #expect(disagreement.liveEffect == .deny && disagreement.liveReason == "no_route")
            #expect(disagreement.shadowEffect == .allow && disagreement.action == "records.read")
            #expect(try ShadowRecord(canonical: disagreement.canonical) == disagreement)
        }
    }

    /// Review 250: a request the live routes refused before its body was read was shown to the shadow policy with an
    /// empty body, so a route the candidate adds that reads its body showed as refusing that empty body.
    @Test("a body the live routes refuse unread is read for a shadow route that reads it, over HTTP/2 and HTTP/1.1; the live answer stands")
    func shadowReadsTheBodyItsRouteReads() async throws {
        try await withGateway(configure: Self.shadowing {
            $0.replacingOccurrences(of: "routes:\n", with: """
                routes:
                  - id: visit-request
                    method: POST
                    path: /visitation/requests
                    action: visitation.schedule
                    subject: { body: bookingNumber }
                    until: { body: scheduledFor }
                    upstream: visitation
                    data: [interview]

                """)
        }) { gateway in
            let body = #"{"bookingNumber":"2017-000456","scheduledFor":"2099-01-01T10:00:00Z"}"#
            // The live policy's own route for the same body: what the candidate must decide on the body it reads.
            let routed = try await gateway.send("denver-pd", .POST, "/visitation/visits", body: body)
            let unrouted = try await gateway.send("denver-pd", .POST, "/visitation/requests", body: body)
            #expect(unrouted.reason == "no_route")
            // A body over the inspection limit is not read: the live refusal still answers, not body_too_large.
            let large = #"{"bookingNumber":"2017-000456","note":""# + String(repeating: "x", count: 70 * 1024) + #""}"#
            let unread = try await gateway.send("denver-pd", .POST, "/visitation/requests", body: large)
            #expect(unread.reason == "no_route")
            // Over HTTP/1.1 the connection, its body read, serves the next request.
            let http1 = try await RawTLSConnection.open(port: gateway.port, tls: try gateway.clientTLS(agency: "denver-pd"))
            let request = "POST /visitation/requests HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            let http1Refused = try await http1.exchange(Array(request.utf8))
            #expect(http1Refused.reason == "no_route")
            let http1Id = http1Refused.raw.split(separator: "\r\n").first { $0.lowercased().hasPrefix("decision-id:") }
                .map { $0.dropFirst("decision-id:".count).trimmingCharacters(in: .whitespaces) }
            #expect(try await http1.exchange(Array("GET /records/inmates/2017-000456 HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)).status == 200)
            await http1.close()
            // A malformed body read for the candidate: the live refusal stands, as without one (HTTP/1.1: a bad chunk
            // size; HTTP/2: DATA short of the content-length, whose stream NIOHTTP2 resets).
            let malformed = try await RawTLSConnection.open(port: gateway.port, tls: try gateway.clientTLS(agency: "denver-pd"))
            let chunked = "POST /visitation/requests HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\nZZ\r\n"
            #expect(try await malformed.exchange(Array(chunked.utf8)).reason == "no_route")
            await malformed.close()
            typealias H2 = RawHTTP2FrameConnection
            let http2 = try await H2.open(port: gateway.port, tls: try gateway.clientTLS(agency: "denver-pd"))
            #expect(await http2.completeSetup())
            let head = H2.request("POST", "/visitation/requests", [("content-type", "application/json"), ("content-length", "10")])
            await http2.send(H2.headers(stream: 1, head, endStream: false) + H2.frame(H2.Kind.data, flags: H2.Flag.endStream, stream: 1, Array("12345".utf8)))
            #expect(await http2.wait { $0.ended(1) }?.reset(1) == true)
            await http2.close()
            // A client that leaves before its body has arrived: never answered, recorded with the live refusal. It is
            // told to send its body (as it would not be without the candidate), and leaves then.
            let cut = try await RawTLSConnection.open(port: gateway.port, tls: try gateway.clientTLS(agency: "denver-pd"))
            let waiting = "POST /visitation/requests HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n"
            #expect(try await cut.exchange(Array(waiting.utf8)).status == 100)
            await cut.close()

            let routedId = try #require(routed.decisionId)
            let live = try #require(try await gateway.exportedRows(expecting: [routedId]).first { $0.decisionId == routedId })
            var noRoute: [ExportRow] = []
            for _ in 0..<50 {
                noRoute = try await gateway.exportedRows().filter { $0.path == "/visitation/requests" }
                if noRoute.count == 6 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(noRoute.count == 6 && noRoute.allSatisfy { $0.reason == "no_route" }, "\(noRoute.map(\.reason))")
            // The two bodies read, the one over the limit and the bad chunk (the reset stream and the client that left
            // were not decided by the candidate).
            let disagreements = try gateway.gateway.store.exporter().shadowRecords()
            #expect(disagreements.count == 4, "\(disagreements.map(\.shadowReason))")
            let shownNone = try #require(disagreements.first { $0.decisionId == unread.decisionId })
            #expect(shownNone.liveReason == "no_route" && shownNone.shadowEffect == .deny)
            for id in [unrouted.decisionId, http1Id] {
                let disagreement = try #require(disagreements.first { $0.decisionId == id })
                #expect(disagreement.liveReason == "no_route" && disagreement.action == "visitation.schedule")
                #expect(disagreement.shadowEffect == live.effect && disagreement.shadowReason == live.reason, "\(disagreement.shadowReason) \(live.reason)")
            }
        }
    }

    @Test("editing the policy file reloads it within seconds, without a restart or a signal")
    func reloadOnFileChange() async throws {
        try await withGateway(configure: copyingPolicy) { gateway in
            #expect(try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123").status == 200)
            let path = gateway.gateway.configuration.policyPath
            // The same bytes written again (a new inode, a new time) are no change to reload for.
            let before = gateway.gateway.watchedFiles().map(\.contents)
            try String(contentsOfFile: path, encoding: .utf8).write(toFile: path, atomically: true, encoding: .utf8)
            #expect(gateway.gateway.watchedFiles().map(\.contents) == before)
            let stricter = try String(contentsOfFile: path, encoding: .utf8)
                .replacingOccurrences(of: "category: [local-law-enforcement, prosecutor, defense-counsel, court]", with: "category: [prosecutor, defense-counsel, court]")
            try stricter.write(toFile: path, atomically: true, encoding: .utf8)
            var reason: String?
            for _ in 0..<80 {
                try await Task.sleep(for: .milliseconds(100))
                reason = try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123").reason
                if reason == "no_matching_permit" { break }
            }
            #expect(reason == "no_matching_permit")
        }
    }

    /// In PostgreSQL the gateways' role may write the zone; another zone moves expiry instants (later, westwards).
    @Test("a time zone recorded other than the policy's is recorded back by the running gateway, logged")
    func foreignTimeZoneRecordedBack() async throws {
        try await withGateway { gateway in
            try gateway.register("JW-WEST", expires: "2099-12-31")
            let denverEnd = try #require(try gateway.registry.entry(reference: "JW-WEST")).document.expiresAt
            try gateway.registry.inTimeZone(TimeZone(identifier: "Etc/GMT+12")!).recordTimeZone(operator: "intruder")
            #expect(try gateway.registry.entry(reference: "JW-WEST")?.document.expiresAt != denverEnd)
            for _ in 0..<100 where try gateway.registry.recordedTimeZone()?.identifier != "America/Denver" {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try gateway.registry.recordedTimeZone()?.identifier == "America/Denver")
            #expect(try gateway.registry.entry(reference: "JW-WEST")?.document.expiresAt == denverEnd)
            let logged = try #require(try gateway.registry.history(target: "time-zone").last)
            #expect(logged.operator == "system" && logged.details["previous"] == "Etc/GMT+12", "\(logged)")
        }
    }

    @Test("a category the directory file neither builds in nor declares, where it widens a rule, is refused at reload; the policy in force stays")
    func misspeltForbiddenCategory() async throws {
        try await withGateway(configure: copyingPolicy) { gateway in
            let path = gateway.gateway.configuration.policyPath
            let digest = gateway.gateway.state.current.policies.policy.digest
            try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "category: federal-immigration", with: "category: federal-imigration")
                .write(toFile: path, atomically: true, encoding: .utf8)
            let errors = gateway.gateway.reload()
            #expect(errors.contains { $0.contains("tests category 'federal-imigration', which is neither built in nor declared") }, "\(errors)")
            #expect(gateway.gateway.state.current.policies.policy.digest == digest)
            #expect(try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000123").reason == "warrant_missing")
        }
    }

    /// A re-pass: a forbid resting on a signature by a misspelt court (`signed-by: [us-district-court-colorad0]`)
    /// loaded, and forbade nothing.
    @Test("a court in signed-by that courts.yaml beside the agency directory does not list, where it widens a rule, is refused at reload")
    func misspeltSigningCourt() async throws {
        try await withGateway(configure: { directory, configuration in
            try copyingPolicy(directory, &configuration)
            // The agency directory, with the county's court list beside it.
            let agencies = directory.appendingPathComponent("agencies.yaml")
            try FileManager.default.copyItem(atPath: configuration.agenciesPath, toPath: agencies.path)
            configuration.agenciesPath = agencies.path
            try "courts:\n  - { id: us-district-court-colorado, name: U.S. District Court for the District of Colorado, certificates: district.pem }\n"
                .write(to: directory.appendingPathComponent("courts.yaml"), atomically: true, encoding: .utf8)
        }) { gateway in
            let path = gateway.gateway.configuration.policyPath
            let digest = gateway.gateway.state.current.policies.policy.digest
            let forbid = """

                  - id: no-unsigned-district-court-warrants
                    effect: forbid
                    when: { category: federal-immigration, warrant: { signed-by: [us-district-court-colorad0] } }
                    reason: signed_by_district_court

                """
            try (String(contentsOfFile: path, encoding: .utf8) + forbid).write(toFile: path, atomically: true, encoding: .utf8)
            let errors = gateway.gateway.reload()
            #expect(errors.contains { $0.contains("names court 'us-district-court-colorad0' in signed-by, which courts.yaml") }, "\(errors)")
            #expect(gateway.gateway.state.current.policies.policy.digest == digest)
            // Spelt as the court list has it, the policy loads.
            try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "colorad0", with: "colorado")
                .write(toFile: path, atomically: true, encoding: .utf8)
            #expect(gateway.gateway.reload().isEmpty)
            #expect(gateway.gateway.state.current.policies.policy.digest != digest)
        }
    }

    /// A re-pass: a gateway whose start failed (here, its certificate missing) had already recorded its policy's
    /// facts, and the store of the gateway still running took them.
    @Test("a gateway whose start fails records none of its policy's facts")
    func failedStartRecordsNoFacts() async throws {
        try await withGateway(configure: { _, configuration in
            configuration.policyPath = Repository.path("policies/california.yaml")
        }) { gateway in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wg-crafted-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let crafted = directory.appendingPathComponent("crafted.yaml").path
            try String(contentsOfFile: Repository.path("policies/denver.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "\nroutes:\n", with: "\nfacts:\n  note: [\"Guatemalan national\"]\nroutes:\n")
                .write(toFile: crafted, atomically: true, encoding: .utf8)
            var configuration = gateway.gateway.configuration
            configuration.policyPath = crafted
            configuration.serverCertificatePath = directory.appendingPathComponent("missing.pem").path
            #expect(throws: (any Error).self) { _ = try Gateway(configuration: configuration) }
            do {
                try gateway.registry.setFact(subject: "2017-000123", name: "note", value: "Guatemalan national", operator: "clerk")
                Issue.record("the failed gateway's facts were taken")
            } catch {
                #expect("\(error)".contains("is not a fact the gateway's policy declares"), "\(error)")
            }
        }
    }

    /// An attacker's pass: a forbid's `agency: denver-pd0` (meant `denver-pd`) loaded with a warning, and forbade
    /// nothing: the records it was written to withhold were served.
    @Test("an agency id no directory lists, where it widens a rule, is refused at reload until the registry lists it")
    func misspeltForbiddenAgency() async throws {
        try await withGateway(configure: copyingPolicy) { gateway in
            let path = gateway.gateway.configuration.policyPath
            let digest = gateway.gateway.state.current.policies.policy.digest
            let forbid = """

                  - id: no-pd-records
                    effect: forbid
                    when: { agency: denver-pd0, action: records.read }
                    reason: pd_records_withheld

                """
            try (String(contentsOfFile: path, encoding: .utf8) + forbid).write(toFile: path, atomically: true, encoding: .utf8)
            let errors = gateway.gateway.reload()
            #expect(errors.contains { $0.contains("rule 'no-pd-records' tests agency 'denver-pd0', which neither the agency directory file nor the registry lists") }, "\(errors)")
            #expect(gateway.gateway.state.current.policies.policy.digest == digest)
            let failing = { Exposition(text: String(decoding: gateway.gateway.metrics.exposition(), as: UTF8.self)).value("warrantgate_reload_failing") }
            #expect(failing() == 1)
            // Once the registry lists it, the policy loads.
            let request = try gateway.registry.addAgency(
                id: "denver-pd0", name: "Denver PD, second unit", category: .localLawEnforcement, spkiPins: [String(repeating: "b2", count: 32)], operator: "it"
            )
            try gateway.registry.approveAgencyRequest(try #require(request), operator: "supervisor")
            try await gateway.awaitRegistry()
            #expect(gateway.gateway.reload().isEmpty)
            #expect(gateway.gateway.state.current.policies.policy.digest != digest)
            #expect(failing() == 0)
        }
    }

    /// A broken draft of the shadow policy held back, with it, an agency directory that removed an agency.
    @Test("a shadow policy that fails at reload keeps its previous version; the live policy and agencies reload without it")
    func shadowFailureHoldsNothingBack() async throws {
        try await withGateway(configure: { directory, configuration in
            try copyingPolicy(directory, &configuration)
            try Self.shadowing { $0 }(directory, &configuration)
        }) { gateway in
            let configuration = gateway.gateway.configuration
            let shadowDigest = try #require(gateway.gateway.state.current.policies.shadow?.evaluator.policy.digest)
            try "garbage: [".write(toFile: try #require(configuration.shadowPolicyPath), atomically: true, encoding: .utf8)
            try String(contentsOfFile: configuration.policyPath, encoding: .utf8)
                .replacingOccurrences(of: "category: [local-law-enforcement, prosecutor, defense-counsel, court]", with: "category: [prosecutor, defense-counsel, court]")
                .write(toFile: configuration.policyPath, atomically: true, encoding: .utf8)
            let errors = gateway.gateway.reload()
            #expect(errors.count == 1 && errors[0].hasPrefix("shadow policy (the previous one stays in force"), "\(errors)")
            #expect(gateway.gateway.state.current.policies.shadow?.evaluator.policy.digest == shadowDigest)
            #expect(try await gateway.send("denver-pd", .GET, "/records/inmates/2017-000123").reason == "no_matching_permit")
        }
    }

    /// Opening the store may wait (a lock, PostgreSQL starting): a policy renamed into place meanwhile was taken for
    /// the one loaded, and never reloaded.
    @Test("the reloader starts from the files as they were loaded: one replaced while the gateway started is reloaded")
    func replacedWhileStarting() async throws {
        try await withGateway(configure: copyingPolicy) { gateway in
            let starting = try Gateway(configuration: gateway.gateway.configuration)
            defer { starting.store.close() }
            let path = starting.configuration.policyPath
            try (try String(contentsOfFile: path, encoding: .utf8) + "\n# replaced while starting\n").write(toFile: path, atomically: true, encoding: .utf8)
            var trigger = FileChangeTrigger()
            let now = starting.watchedFiles()
            #expect(trigger.check(now, seen: starting.loadedFiles) == .wait)
            #expect(trigger.check(now, seen: starting.loadedFiles) == .reload(unsettled: false))
        }
    }

    @Test("an authority's certificate that the agency directory names is watched for reloads, as one the configuration names")
    func authorityFilesWatched() async throws {
        try await withGateway(configure: { directory, configuration in
            let agencies = directory.appendingPathComponent("agencies.yaml").path
            try String(contentsOfFile: configuration.agenciesPath, encoding: .utf8)
                .replacingOccurrences(of: "certificate: ../.warrant-gate/demo/certs/ca.pem", with: "certificate: certs/ca.pem")
                .write(toFile: agencies, atomically: true, encoding: .utf8)
            configuration.agenciesPath = agencies
            configuration.authorities = [:]
        }) { gateway in
            let ca = gateway.directory.appendingPathComponent("certs/ca.pem").resolvingSymlinksInPath().path
            #expect(gateway.gateway.watchedFiles().contains { URL(fileURLWithPath: $0.path).resolvingSymlinksInPath().path == ca && $0.inode != nil })
        }
    }

    /// A SIGHUP reverting a bad policy finished first while the bad policy's own reload (set off by its file) was
    /// still parsing; that one then finished and put the bad policy back in force, the reverted file on disk.
    @Test("reloads run one at a time: one asked for while another runs waits for it, then reads the files as they are")
    func reloadsInTurn() async throws {
        try await withGateway(configure: copyingPolicy) { gateway in
            let path = gateway.gateway.configuration.policyPath
            let original = try String(contentsOfFile: path, encoding: .utf8)
            let events = Mutex<[String]>([])
            let inProgress = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
            // The first reload, still running: it holds the reload lock.
            Thread {
                gateway.gateway.reloading.withLock { _ in
                    inProgress.signal()
                    Thread.sleep(forTimeInterval: 0.2)
                    events.withLock { $0.append("first done") }
                }
            }.start()
            inProgress.wait()
            try original.replacingOccurrences(of: "time-zone: America/Denver", with: "time-zone: America/New_York")
                .write(toFile: path, atomically: true, encoding: .utf8)
            Thread {
                _ = gateway.gateway.reload(reason: "SIGHUP")
                events.withLock { $0.append("second done") }
                done.signal()
            }.start()
            done.wait()
            #expect(events.withLock { $0 } == ["first done", "second done"])
            #expect(gateway.gateway.state.current.policies.policy.timeZone.identifier == "America/New_York")
        }
    }

    @Test("a policy reloaded in another time zone moves the expiry of registered warrants with it, logged")
    func timeZoneReload() async throws {
        try await withGateway(configure: copyingPolicy) { gateway in
            try gateway.register("JW-ZONE", expires: "2099-12-31")
            let path = gateway.gateway.configuration.policyPath
            let policy = try String(contentsOfFile: path, encoding: .utf8)
            #expect(policy.contains("time-zone: America/Denver"))
            try policy.replacingOccurrences(of: "time-zone: America/Denver", with: "time-zone: America/New_York")
                .write(toFile: path, atomically: true, encoding: .utf8)
            #expect(gateway.gateway.reload() == [])
            let entry = try #require(try gateway.registry.entry(reference: "JW-ZONE"))
            #expect(Timestamp.format(entry.document.expiresAt) == "2100-01-01T05:00:00.000Z")
            let logged = try #require(try gateway.registry.history(target: "time-zone").last)
            #expect(logged.details["previous"] == "America/Denver")
            #expect(logged.details["expiryRecomputed"] == "JW-ZONE")
        }
    }
}

@Suite("Facts looked up in the records system", .serialized)
struct FactLookupTests {
    @Test("California's qualifying-conviction rule reads the records system, the registry overrides it, a failed lookup denies")
    func lookup() async throws {
        try await withGateway(configure: { _, configuration in
            configuration.policyPath = Repository.path("policies/california.yaml")
        }) { gateway in
            // The date answers ICE's notification request (I-247N), on a qualifying conviction.
            try gateway.register("I247N-1", kind: .notificationRequest, subject: "2017-000456", scope: ["records.release-date"])
            try await gateway.awaitRegistry()
            let convicted = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000456/release")
            #expect(convicted.status == 200)
            #expect(convicted.json["citizenship"] == nil)
            let clean = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000123/release")
            #expect(clean.reason == "release_information_protected")
            #expect(gateway.recorder.requests.filter { $0.path.hasSuffix("/facts") }.count == 2)

            // A fact set by staff in the registry takes precedence over the records system's.
            try gateway.registry.setFact(subject: "2017-000456", name: "conviction", value: "none", operator: "records-unit")
            // The gateway recorded its policy's facts: staff may set those, with their values, and nothing else.
            do {
                try gateway.registry.setFact(subject: "2017-000456", name: "conviction", value: "born abroad", operator: "records-unit")
                Issue.record("a value the policy does not declare was set")
            } catch {
                #expect("\(error)".contains("is not a value of fact 'conviction'"), "\(error)")
            }
            try await gateway.awaitRegistry()
            #expect(try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000456/release").reason == "release_information_protected")
            // The answer is cached: no new lookup for a subject seen within the TTL.
            #expect(gateway.recorder.requests.filter { $0.path.hasSuffix("/facts") }.count == 2)
        }

        try await withGateway(configure: { directory, configuration in
            let policy = try String(contentsOfFile: Repository.path("policies/california.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "fact-lookup:\n  upstream: records", with: "fact-lookup:\n  upstream: facts")
            let path = directory.appendingPathComponent("california.yaml").path
            try policy.write(toFile: path, atomically: true, encoding: .utf8)
            configuration.policyPath = path
            configuration.upstreams["facts"] = "http://127.0.0.1:1"
        }) { gateway in
            let answer = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000456/release")
            #expect(answer.status == 403)
            #expect(answer.reason == "policy_error")
            #expect(gateway.recorder.requests.isEmpty)
        }
    }

    /// A red-team finding: California's release-date exception needs `not: { fact: prop-47-misdemeanor … }`. An answer
    /// that left the fact out (a records system's upgrade, a wrong lookup path answered 404) made that `not:` hold, and
    /// the release date went to ICE for an inmate the records system never cleared.
    @Test("an answer without a fact the lookup states fails the lookup, unless staff set it in the registry")
    func statedFacts() async throws {
        let records = try await HeldFactsUpstream(facts: #"{"conviction":"serious-felony"}"#)
        records.release()
        func california(states: Bool) -> (URL, inout GatewayConfiguration) throws -> Void {
            { directory, configuration in
                var policy = try String(contentsOfFile: Repository.path("policies/california.yaml"), encoding: .utf8)
                    .replacingOccurrences(of: "fact-lookup:\n  upstream: records", with: "fact-lookup:\n  upstream: facts")
                let stated = "  states: [conviction, prop-47-misdemeanor]\n"
                #expect(policy.contains(stated))
                if !states { policy = policy.replacingOccurrences(of: stated, with: "") }
                let path = directory.appendingPathComponent("california.yaml").path
                try policy.write(toFile: path, atomically: true, encoding: .utf8)
                configuration.policyPath = path
                configuration.upstreams["facts"] = UpstreamSettings(url: "http://127.0.0.1:\(records.port)")
            }
        }
        // Without `states:`, the answer's silence on prop-47 reads as no such misdemeanor, and the date goes out.
        try await withGateway(configure: california(states: false)) { gateway in
            try gateway.register("I247N-1", kind: .notificationRequest, subject: "2017-000456", scope: ["records.release-date"])
            try await gateway.awaitRegistry()
            let answer = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000456/release")
            #expect(answer.status == 200)
        }
        try await withGateway(configure: california(states: true)) { gateway in
            try gateway.register("I247N-1", kind: .notificationRequest, subject: "2017-000456", scope: ["records.release-date"])
            try await gateway.awaitRegistry()
            let answer = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000456/release")
            #expect(answer.status == 403)
            #expect(answer.reason == "policy_error")
            #expect(gateway.recorder.requests.isEmpty)
            // A value staff set stands in for the one the answer left out.
            try gateway.registry.setFact(subject: "2017-000456", name: "prop-47-misdemeanor", value: "none", operator: "records-unit")
            try await gateway.awaitRegistry()
            #expect(try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000456/release").status == 200)
        }
        await records.close()
    }

    @Test("a reloaded policy that asks another records system is not answered from the first one's cache")
    func cacheAcrossReload() async throws {
        try await withGateway(configure: { directory, configuration in
            let path = directory.appendingPathComponent("california.yaml").path
            try FileManager.default.copyItem(atPath: Repository.path("policies/california.yaml"), toPath: path)
            configuration.policyPath = path
            configuration.upstreams["facts"] = "http://127.0.0.1:1"
        }) { gateway in
            #expect(try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000123/release").reason == "release_information_protected")
            let path = gateway.gateway.configuration.policyPath
            let elsewhere = try String(contentsOfFile: path, encoding: .utf8)
                .replacingOccurrences(of: "fact-lookup:\n  upstream: records", with: "fact-lookup:\n  upstream: facts")
            try elsewhere.write(toFile: path, atomically: true, encoding: .utf8)
            var reason: String?
            for _ in 0..<80 {
                try await Task.sleep(for: .milliseconds(100))
                reason = try await gateway.send("ice-ero", .GET, "/records/inmates/2017-000123/release").reason
                if reason == "policy_error" { break }
            }
            #expect(reason == "policy_error")
        }
    }
}

/// A plain-TCP records system that counts the requests it reads and answers none of them until ``release()``, each
/// with the same facts.
private final class HeldFactsUpstream: Sendable {
    private final class Holder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let held: HeldAnswers

        init(_ held: HeldAnswers) { self.held = held }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let heads = unwrapInboundIn(data).readableBytesView.split(separator: UInt8(ascii: "\n")).filter { $0.starts(with: "GET ".utf8) }.count
            held.received(heads, on: context.channel)
        }
    }

    /// The requests read, and the connections waiting for an answer until the release.
    private final class HeldAnswers: Sendable {
        let facts: String
        init(facts: String) { self.facts = facts }

        private struct State {
            var requests = 0
            var released = false
            var waiting: [any Channel] = []
        }

        private let state = Mutex(State())
        var requests: Int { state.withLock { $0.requests } }

        func received(_ requests: Int, on channel: any Channel) {
            let held = state.withLock { state -> Bool in
                state.requests += requests
                if !state.released { state.waiting.append(channel) }
                return !state.released
            }
            if !held { answer(channel) }
        }

        func release() {
            let waiting = state.withLock { state in
                state.released = true
                return state.waiting
            }
            waiting.forEach(answer)
        }

        private func answer(_ channel: any Channel) {
            let body = facts
            channel.writeAndFlush(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"), promise: nil)
        }
    }

    private let held: HeldAnswers
    private let server: LoopbackTCPServer
    var port: Int { server.port }
    var requests: Int { held.requests }

    init(facts: String = #"{"conviction":"aggravated-felony"}"#) async throws {
        let held = HeldAnswers(facts: facts)
        self.held = held
        server = try await LoopbackTCPServer { try $0.pipeline.syncOperations.addHandler(Holder(held)) }
    }

    /// Answers what is held, and from now on every request at once.
    func release() {
        held.release()
    }

    func close() async {
        await server.close()
    }
}

@Suite("Fact lookups in flight")
struct FactLookupCoalescingTests {
    @Test("requests on either loop that miss the cache together share one lookup, and each gets its answer on its own loop")
    func oneLookupPerURL() async throws {
        let upstream = try await HeldFactsUpstream()
        let upstreams = try Upstreams(settings: ["records": UpstreamSettings(url: "http://127.0.0.1:\(upstream.port)")], limits: .init())
        let client = FactLookupClient(upstreams: upstreams, timeout: .seconds(30))
        let lookup = FactLookup(upstream: "records", path: "/inmates/{subject}/facts", ttl: 60, maxEntries: 100)
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        let askers = (0..<6).map { loops[$0 % loops.count] }
        let answers = askers.map { loop in
            let promise = loop.makePromise(of: LookedUpFacts.self)
            loop.execute {
                client.facts(subject: "2017-000456", lookup: lookup, on: loop) { result in
                    #expect(loop.inEventLoop)
                    promise.completeWith(result.mapError { $0 as any Error })
                }
            }
            return promise.futureResult
        }
        while upstream.requests == 0 { try await Task.sleep(for: .milliseconds(10)) }
        upstream.release()
        for answer in answers {
            #expect(try await answer.get() == LookedUpFacts(values: ["conviction": "aggravated-felony"]))
        }
        #expect(upstream.requests == 1)

        // The answer is cached: a later request is answered without a lookup.
        let later = try await loops[0].flatSubmit {
            let promise = loops[0].makePromise(of: LookedUpFacts.self)
            client.facts(subject: "2017-000456", lookup: lookup, on: loops[0]) { promise.completeWith($0.mapError { $0 as any Error }) }
            return promise.futureResult
        }.get()
        #expect(later == LookedUpFacts(values: ["conviction": "aggravated-felony"]))
        #expect(upstream.requests == 1)
        await upstreams.close()
        await upstream.close()
    }
}

@Suite("Looked-up facts held to the policy's declarations")
struct FactOverlayTests {
    /// An attacker's pass: California denies ICE a release date while `prop-47-misdemeanor` is `convicted`, through a
    /// `not:`; the records system's `Convicted`, `"convicted "`, `["convicted"]`, `null` or `5` each made the `not:`
    /// true, and the release date went out.
    @Test("a declared fact given as anything but one of its values is an error; undeclared names are left out")
    func heldToDeclarations() throws {
        let declared = DeclaredFacts(["prop-47-misdemeanor": .values(["arrested", "detained", "convicted"])])
        func facts(_ answer: LookedUpFacts) throws -> [String: String] {
            try FactOverlayRegistry(base: RegistrySnapshot.empty, subject: "2017-000001", lookedUp: .success(answer), declared: declared, stated: [])
                .facts(subject: "2017-000001")
        }
        #expect(try facts(LookedUpFacts(values: ["prop-47-misdemeanor": "convicted"], unusable: ["unrelated"])) == ["prop-47-misdemeanor": "convicted"])
        for value in ["Convicted", "convicted "] {
            #expect(throws: FactLookupError.self, "\(value)") { try facts(LookedUpFacts(values: ["prop-47-misdemeanor": value])) }
        }
        // A list, null, a number or an object.
        #expect(throws: FactLookupError.self) { try facts(LookedUpFacts(unusable: ["prop-47-misdemeanor"])) }
        // A re-pass: under another spelling, the name was left out as undeclared, and the not: held.
        for name in ["Prop-47-Misdemeanor", "prop_47_misdemeanor", "prop\u{2011}47-misdemeanor"] {
            #expect(throws: FactLookupError.self, "\(name)") { try facts(LookedUpFacts(values: [name: "convicted"])) }
        }
    }

    @Test("a fact the lookup states must be in the answer or the registry; a 404 states nothing")
    func statedFacts() throws {
        let declared = DeclaredFacts(["prop-47-misdemeanor": .values(["convicted", "none"]), "conviction": .values(["felony", "none"])])
        func facts(_ answer: LookedUpFacts, registry: RegistrySnapshot = .empty) throws -> [String: String] {
            try FactOverlayRegistry(base: registry, subject: "2017-000001", lookedUp: .success(answer), declared: declared, stated: ["prop-47-misdemeanor"])
                .facts(subject: "2017-000001")
        }
        #expect(try facts(LookedUpFacts(values: ["prop-47-misdemeanor": "none"])) == ["prop-47-misdemeanor": "none"])
        #expect(throws: FactLookupError.self) { try facts(LookedUpFacts(values: ["conviction": "felony"])) }
        #expect(throws: FactLookupError.self) { try facts(FactLookupClient.facts(status: 404, body: [])) }
    }

    /// An attacker's pass on the policy language: the lookup, trusted for conviction classes, could also say that an
    /// inmate's data is public (`public-release-date: yes`), which California's forbids read as opening it to ICE.
    @Test("a lookup gives public-<kind> facts only where its states: names them; staff set them otherwise")
    func publicFactsFromStaff() throws {
        let text = try String(contentsOfFile: Repository.path("policies/california.yaml"), encoding: .utf8)
        let policy = try PolicyParser.parse(text, file: Repository.path("policies/california.yaml"))
        #expect(policy.settableFacts["public-release-date"] != nil && policy.lookedUpFacts["public-release-date"] == nil)
        #expect(policy.lookedUpFacts["prop-47-misdemeanor"] != nil)
        let answer = LookedUpFacts(values: ["public-release-date": "yes", "prop-47-misdemeanor": "none", "conviction": "none"])
        func facts(_ policy: Policy) throws -> [String: String] {
            try FactOverlayRegistry(
                base: RegistrySnapshot.empty, subject: "2017-000001", lookedUp: .success(answer), declared: DeclaredFacts(policy.lookedUpFacts),
                stated: policy.factLookup?.states ?? []
            ).facts(subject: "2017-000001")
        }
        #expect(try facts(policy)["public-release-date"] == nil)
        let opted = try PolicyParser.parse(
            text.replacingOccurrences(of: "states: [conviction, prop-47-misdemeanor]", with: "states: [conviction, prop-47-misdemeanor, public-release-date]"),
            file: Repository.path("policies/california.yaml")
        )
        #expect(try facts(opted)["public-release-date"] == "yes")
        #expect(throws: FileError.self) {
            try PolicyParser.parse(text.replacingOccurrences(of: "states: [conviction, prop-47-misdemeanor]", with: "states: [public-nothing]"), file: "c.yaml")
        }
    }

    @Test("an answer's members: strings kept, anything else named unusable, a name given twice refused")
    func answerMembers() throws {
        let read = { (body: String) in try FactLookupClient.facts(status: 200, body: Array(body.utf8)) }
        #expect(try read(#"{"a":"x","b":["y"],"c":null,"d":5,"e":{"f":"g"}}"#) == LookedUpFacts(values: ["a": "x"], unusable: ["b", "c", "d", "e"]))
        for body in [#"{"a":"x","a":"y"}"#, #"{"a":"x","a":{"b":"c"}}"#, #"{"a":{"b":"c"},"a":"x"}"#] {
            #expect(throws: FactLookupError.self, "\(body)") { try read(body) }
        }
        #expect(try FactLookupClient.facts(status: 404, body: []) == LookedUpFacts())
    }
}

@Suite("Policy warnings a gateway logs")
struct PolicyWarningTests {
    /// Denver's policy with its forbid on ICE's agency id and category misspelt: each forbids nothing as written.
    private func misspelt() throws -> PolicySet {
        let text = try String(contentsOfFile: Repository.path("policies/denver.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "category: federal-immigration", with: "category: federal-immigraton")
            + "\n  - id: no-ice-eor\n    effect: forbid\n    when: { agency: ice-eor }\n    reason: criminal_warrant_required\n"
        return PolicySet(
            policy: try PolicyParser.parse(text, file: Repository.path("policies/denver.yaml")),
            directory: AgencyDirectory(agencies: [Agency(id: "ice-ero", name: "ICE ERO", category: .federalImmigration)], authorities: [])
        )
    }

    @Test("an agency id or category no agency has is a warning, by the directory file and the registry's agencies together")
    func unknownAgenciesAndCategories() throws {
        let policies = try misspelt()
        let state = GatewayState(policies: policies, registry: .empty)
        let warnings = policies.warnings(by: state.current.directory)
        #expect(warnings.contains { $0.contains("agency 'ice-eor', which neither the directory file nor the registry lists") }, "\(warnings)")
        #expect(warnings.contains { $0.contains("category 'federal-immigraton' is neither built in nor held") }, "\(warnings)")

        let added = Agency(id: "ice-eor", name: "Added with agency add", category: AgencyCategory(rawValue: "federal-immigraton")!)
        state.replace(registry: RegistrySnapshot(documents: [], records: [], agencies: [added], version: 2))
        let after = policies.warnings(by: state.current.directory)
        #expect(!after.contains { $0.contains("ice-eor") || $0.contains("federal-immigraton") }, "\(after)")
        let agenciesPath = Repository.path("policies/agencies.yaml")
        try policies.checkDirectories(registry: state.current.lastSnapshot, agenciesPath: agenciesPath)
        // Certificates the registry added to an agency the file no longer lists name no agency, here or to the check
        // that refuses a policy widening access for an agency no one has.
        state.replace(registry: RegistrySnapshot(documents: [], records: [], agencies: [added], agencyExtensions: ["ice-eor"], version: 3))
        #expect(policies.warnings(by: state.current.directory).contains { $0.contains("agency 'ice-eor', which neither") })
        #expect(throws: FileError.self) { try policies.checkDirectories(registry: state.current.lastSnapshot, agenciesPath: agenciesPath) }
    }
}

@Suite("When a changed file is reloaded")
struct FileChangeTriggerTests {
    private func file(_ path: String, inode: UInt64?, _ contents: String) -> WatchedFile {
        WatchedFile(path: path, inode: inode, contents: contents)
    }

    @Test("a file renamed into place reloads once it stands still; the same bytes renamed in are adopted, not reloaded")
    func replaced() {
        var trigger = FileChangeTrigger()
        let seen = [file("p.yaml", inode: 1, "a"), file("c.pem", inode: 2, "x")]
        #expect(trigger.check(seen, seen: seen) == .wait)
        let renamed = [file("p.yaml", inode: 3, "b"), file("c.pem", inode: 2, "x")]
        #expect(trigger.check(renamed, seen: seen) == .wait, "not yet stood still")
        #expect(trigger.check(renamed, seen: seen) == .reload(unsettled: false))
        let sameBytes = [file("p.yaml", inode: 4, "a"), file("c.pem", inode: 2, "x")]
        #expect(trigger.check(sameBytes, seen: seen) == .adopt)
    }

    /// On ext4 the second of two files renamed into place quickly took the first one's freed inode number, so the
    /// reloader saw the same inode with new contents and waited for a SIGHUP that nobody sent.
    @Test("a file renamed into place never takes the inode number of the file it replaces, while that one is held")
    func inodeNotReused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("watched-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("policy.yaml").path
        try "version 0".write(toFile: path, atomically: true, encoding: .utf8)
        let seen = Gateway.watchedFile(path)
        for version in 1...20 {
            try "version \(version)".write(toFile: path, atomically: true, encoding: .utf8)
            let current = Gateway.watchedFile(path)
            #expect(current.inode != seen.inode, "version \(version) took the held file's inode")
            #expect(current.contents != seen.contents)
        }
    }

    /// A release deployed by switching a link to its folder: the county policy's bytes are the same, the state
    /// policy it includes is not. Watched by its bytes alone, the policy was adopted, not reloaded.
    @Test("a file reached through a link that now leads elsewhere is a replacement to reload, even with the same bytes")
    func switchedLink() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switched-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for release in ["v4", "v5"] {
            let folder = directory.appendingPathComponent("releases/\(release)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try "policy: county\ninclude: state.yaml\n".write(to: folder.appendingPathComponent("county.yaml"), atomically: true, encoding: .utf8)
        }
        let current = directory.appendingPathComponent("current").path
        try FileManager.default.createSymbolicLink(atPath: current, withDestinationPath: "releases/v4")
        let seen = [Gateway.watchedFile(current + "/county.yaml")]
        try FileManager.default.createSymbolicLink(atPath: current + ".new", withDestinationPath: "releases/v5")
        #expect(rename(current + ".new", current) == 0)
        let switched = [Gateway.watchedFile(current + "/county.yaml")]
        var trigger = FileChangeTrigger()
        #expect(trigger.check(switched, seen: seen) == .wait)
        #expect(trigger.check(switched, seen: seen) == .reload(unsettled: false))
    }

    /// A policy written in place with a pause was reloaded cut short, and a policy cut at a line can be valid and
    /// forbid less.
    @Test("a file changed in place is never reloaded by itself, and is reported once for each state")
    func inPlace() {
        var trigger = FileChangeTrigger()
        let seen = [file("p.yaml", inode: 1, "whole")]
        let half = [file("p.yaml", inode: 1, "wh")]
        #expect(trigger.check(half, seen: seen) == .changedInPlace(["p.yaml"]))
        for _ in 0..<(FileChangeTrigger.maximumUnsettledChecks + 2) { #expect(trigger.check(half, seen: seen) == .wait) }
        let done = [file("p.yaml", inode: 1, "whole, longer")]
        #expect(trigger.check(done, seen: seen) == .changedInPlace(["p.yaml"]))
        #expect(trigger.check(done, seen: seen) == .wait)
        // A file replaced beside one changed in place is held back with it, and named.
        let beside = [file("p.yaml", inode: 1, "whole, longer, edited"), file("a.yaml", inode: 7, "agencies")]
        #expect(trigger.check(beside, seen: seen + [file("a.yaml", inode: 3, "old agencies")]) == .changedInPlace(["p.yaml"], heldBack: ["a.yaml"]))
        // Renamed into place afterwards, it is reloaded as any replacement.
        let installed = [file("p.yaml", inode: 9, "whole, longer")]
        #expect(trigger.check(installed, seen: seen) == .wait)
        #expect(trigger.check(installed, seen: seen) == .reload(unsettled: false))
    }

    /// `rm policy.yaml; cat part1 > policy.yaml; sleep 5; cat part2 >> policy.yaml`: the new inode stood still cut
    /// short and was reloaded, and the rest, written in place, never was.
    @Test("a file deleted and written anew, reloaded cut short, is reloaded again once its writing ends")
    func rewrittenAfterReload() {
        var trigger = FileChangeTrigger()
        var seen = [file("p.yaml", inode: 1, "whole")]
        let cut = [file("p.yaml", inode: 2, "wh")]
        #expect(trigger.check(cut, seen: seen) == .wait)
        #expect(trigger.check(cut, seen: seen) == .reload(unsettled: false))
        seen = cut
        let rest = [file("p.yaml", inode: 2, "whole, new")]
        #expect(trigger.check(rest, seen: seen) == .wait, "not yet stood still")
        #expect(trigger.check(rest, seen: seen) == .reload(unsettled: false))
        seen = rest
        // Long after, a change in place is an edit again: reported, not reloaded.
        for _ in 0..<FileChangeTrigger.rewriteWindowChecks { #expect(trigger.check(seen, seen: seen) == .wait) }
        let edited = [file("p.yaml", inode: 2, "whole, edited")]
        #expect(trigger.check(edited, seen: seen) == .changedInPlace(["p.yaml"]))
    }

    @Test("replacements at every check are reloaded as they stand after the limit")
    func neverSettles() {
        var trigger = FileChangeTrigger()
        let seen = [file("p.yaml", inode: 1, "0")]
        var action = FileChangeTrigger.Action.wait
        for step in 1...(FileChangeTrigger.maximumUnsettledChecks + 1) {
            action = trigger.check([file("p.yaml", inode: UInt64(step + 1), "\(step)")], seen: seen)
        }
        #expect(action == .reload(unsettled: true))
    }
}
