import Foundation
import Testing
@testable import WarrantGateStore
import WarrantGateTestSupport

/// Two gateways, run as processes, sharing one PostgreSQL store on a server the test starts: one log, one registry,
/// no answered decision lost when a gateway is killed or the database restarts.
@Suite("Two gateways on one PostgreSQL store", .ownThreads, .serialized, .enabled(if: PostgresCluster.isEnabled))
struct SharedStoreCLITests {
    static let gatewayRole = "wg_gateway"
    static let path = "/records/inmates/2017-000456"

    /// A cluster with the store's tables, and two demo gateways on it sharing one data directory (one dev PKI and
    /// one log signing key, as two gateways behind one load balancer share their certificates and key).
    final class Site: @unchecked Sendable {
        let cluster: PostgresCluster
        let scratch: Scratch
        let dataDir: String
        let url: String
        let adminPorts: [Int]
        private(set) var gateways: [DemoProcess] = []
        private(set) var ports: [Int] = []
        var certs: String { "\(dataDir)/certs" }
        /// The CLI's arguments that name the shared store.
        var store: [String] { ["--db", url, "--files-dir", dataDir] }

        /// Blocks: create it with ``start()``.
        private init() throws {
            cluster = try PostgresCluster()
            scratch = try Scratch()
            dataDir = scratch.url.appendingPathComponent("site").path
            url = "postgres://\(SharedStoreCLITests.gatewayRole)@127.0.0.1:\(cluster.port)/postgres"
            adminPorts = [try LoopbackPort.unused(), try LoopbackPort.unused()]
            do {
                try cluster.psql("CREATE ROLE wg_gateway LOGIN")
                let created = try CLIProcess.run([
                    "store", "init", "--db", "postgres://\(PostgresCluster.owner)@127.0.0.1:\(cluster.port)/postgres",
                    "--gateway-role", SharedStoreCLITests.gatewayRole,
                ])
                guard created.status == 0 else { throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: created.stderr]) }
                for adminPort in adminPorts {
                    let gateway = try DemoProcess(dataDir: dataDir, adminPort: adminPort, arguments: ["--database", url])
                    gateways.append(gateway)
                    ports.append(try gateway.port())
                }
            } catch {
                stop()
                throw error
            }
        }

        static func start() async throws -> Site {
            try await blocking { try Site() }
        }

        func stop() {
            for gateway in gateways where gateway.process.isRunning { _ = gateway.terminate() }
            cluster.stop()
        }

        /// Mutual-TLS requests as `agency`, `count` of them, 8 at a time, against gateway `index`: each answer's status
        /// and Decision-Id (000 and none when no answer came).
        func load(_ index: Int, agency: String = "denver-pd", count: Int) throws -> Load {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments = [
                "-s", "-Z", "--parallel-max", "8", "--max-time", "20", "-w", "%{http_code} %header{decision-id}\n",
                "--cacert", "\(certs)/ca.pem", "--cert", "\(certs)/\(agency).pem", "--key", "\(certs)/\(agency).key",
            ] + Array(repeating: ["-o", "/dev/null", "https://localhost:\(ports[index])\(SharedStoreCLITests.path)"], count: count).flatMap { $0 }
            process.standardOutput = Pipe()
            process.standardError = Pipe()
            try process.run()
            return Load(process: process)
        }

        /// One request's status and body.
        func request(_ index: Int, agency: String = "denver-pd") throws -> (status: Int, body: String) {
            let result = try Curl.run([
                "-s", "--max-time", "10", "-w", "\n%{http_code}", "--cacert", "\(certs)/ca.pem", "--cert", "\(certs)/\(agency).pem",
                "--key", "\(certs)/\(agency).key", "https://localhost:\(ports[index])\(SharedStoreCLITests.path)",
            ])
            let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }

        /// The admin listener's /readyz status of gateway `index`.
        func readiness(_ index: Int) throws -> Int {
            Int(try Curl.run(["-s", "-o", "/dev/null", "--max-time", "10", "-w", "%{http_code}", "http://127.0.0.1:\(adminPorts[index])/readyz"]).output) ?? 0
        }

        /// Every decision id in the shared log.
        func loggedDecisions() throws -> Set<String> {
            let export = try CLIProcess.run(["log", "export", "--format", "jsonl", "--operator", "test"] + store)
            guard export.status == 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: export.stderr]) }
            return Set(export.stdout.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["decisionId"] as? String
            })
        }
    }

    /// A curl process driving load, read once it has finished.
    final class Load: @unchecked Sendable {
        let process: Process
        init(process: Process) { self.process = process }
    }

    /// The Decision-Id of every answer a load process received that depended on its decision being committed: all but
    /// the 503s (log_unavailable, whose decision could not be written) and the transfers that got no answer.
    static func committedAnswers(_ load: Load) -> (ids: [String], statuses: [String: Int]) {
        let output = (load.process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        load.process.waitUntilExit()
        var ids: [String] = []
        var statuses: [String: Int] = [:]
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let status = fields.first.map(String.init) else { continue }
            statuses[status, default: 0] += 1
            if status != "000" && status != "503", fields.count == 2 { ids.append(String(fields[1])) }
        }
        return (ids, statuses)
    }

    /// Runs `body` with a started site, and stops the site after it however it ends.
    static func withSite(_ body: (Site) async throws -> Void) async throws {
        let site = try await Site.start()
        do {
            try await body(site)
        } catch {
            _ = try? await blocking { site.stop() }
            throw error
        }
        _ = try? await blocking { site.stop() }
    }

    /// An attacker's pass: any role that could connect held the advisory lock that is the signer's lease; every
    /// signer then skipped signing, and `log checkpoint` printed the stale checkpoint and exited 0.
    @Test("log checkpoint prints the latest checkpoint and fails while a session that signs nothing holds the signer's lease")
    func leaseHeldElsewhere() async throws {
        let cluster = try await blocking { try PostgresCluster() }
        defer { cluster.stop() }
        let scratch = try Scratch()
        let url = "postgres://\(PostgresCluster.owner)@127.0.0.1:\(cluster.port)/postgres"
        let db = ["--db", url, "--files-dir", scratch.url.path, "--operator", "clerk"]
        func register(_ reference: String) throws -> Int32 {
            try CLIProcess.run(["warrant", "register", "--time-zone", "America/Denver", "--reference", reference, "--kind", "administrative-warrant",
                                "--agency", "ice-ero", "--subject", "2017-000456", "--scope", "records.read", "--expires", "2099-12-31"] + db).status
        }
        try cluster.psql("CREATE ROLE \(Self.gatewayRole) LOGIN")
        #expect(try CLIProcess.run(["store", "init", "--db", url, "--gateway-role", Self.gatewayRole]).status == 0)
        #expect(try CLIProcess.run(["log", "init-key"] + db).status == 0)
        #expect(try register("I200-1") == 0)
        #expect(try CLIProcess.run(["log", "checkpoint"] + db).status == 0)
        #expect(try register("I200-2") == 0)
        // Another session takes the lease and signs nothing, for longer than the command runs.
        let other = try Store.open(cluster.location(), options: StoreOptions(busyTimeout: .seconds(60)))
        defer { other.close() }
        let taken = DispatchSemaphore(value: 0)
        // On a thread of its own, not one of the cooperative pool's, which the rest of the suite needs meanwhile.
        let holder = Task {
            try await blocking { try other.database.write { session in
                let leased = try session.takeSignerLease()
                taken.signal()
                guard leased else { throw CocoaError(.featureUnsupported) }
                Thread.sleep(forTimeInterval: 8)
            } }
        }
        try await blocking { taken.wait() }
        let held = try await blocking { try CLIProcess.run(["log", "checkpoint"] + db) }
        #expect(held.status == 3, "\(held.stdout)\(held.stderr)")
        #expect(held.stdout.contains("\n\n— ") && held.stderr.contains("none could be signed now"), "\(held.stderr)")
        try await holder.value
        #expect(try await blocking { try CLIProcess.run(["log", "checkpoint"] + db) }.status == 0)
    }

    @Test("a registration or revocation through the CLI reaches both gateways; one killed mid-load loses no answered decision")
    func gatewayKilled() async throws {
        try await Self.withSite { site in
            for index in 0..<2 { #expect(try await blocking { try site.request(index).status } == 200) }

            // One registry for both: a revocation made once is refused by each gateway within a second.
            let revoked = try await blocking {
                try CLIProcess.run(["agency", "revoke-cert", "ice-ero", "--cert", "\(site.certs)/ice-ero.pem", "--reason", "laptop stolen"] + site.store)
            }
            #expect(revoked.status == 0, "\(revoked.stderr)")
            try await Task.sleep(for: .seconds(1))
            for index in 0..<2 { #expect(try await blocking { try site.request(index, agency: "ice-ero").body }.contains("certificate_revoked")) }

            let loads = [try site.load(0, count: 3_000), try site.load(1, count: 600)]
            try await Task.sleep(for: .milliseconds(1500))
            kill(site.gateways[0].process.processIdentifier, SIGKILL)
            let answered = try await blocking { loads.map(Self.committedAnswers) }
            #expect(answered[0].ids.count > 0 && answered[1].ids.count > 0, "\(answered.map(\.statuses))")
            #expect(answered[0].statuses["000", default: 0] > 0, "the first gateway died mid-load: \(answered[0].statuses)")
            // The second gateway serves on: on this busy two-core host a commit may outlast its deadline now and then
            // (a 503), and a request may be lost in transit, but nothing else.
            #expect(answered[1].statuses["200", default: 0] >= 570 && answered[1].statuses.keys.allSatisfy { ["200", "503", "000"].contains($0) },
                    "the second gateway served the requests: \(answered[1].statuses)")
            #expect(try await blocking { try site.request(1).status } == 200, "the second gateway keeps serving")
            try await Self.expectEveryAnswerLogged(answered, site)
        }
    }

    @Test("PostgreSQL restarted mid-load: 503 and not ready while it is down, serving again after without a restart")
    func databaseRestarted() async throws {
        try await Self.withSite { site in
            #expect(try await blocking { [try site.readiness(0), try site.readiness(1)] } == [200, 200])
            let loads = [try site.load(0, count: 1_500), try site.load(1, count: 1_500)]
            try await Task.sleep(for: .seconds(1))
            try await blocking { try site.cluster.kill() }
            var unready = false
            for _ in 0..<40 where !unready {
                unready = try await blocking { [try site.readiness(0), try site.readiness(1)] } == [503, 503]
                if !unready { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(unready, "both gateways report not ready while the database is down")
            let whileDown = try await blocking { try site.request(0) }
            #expect(whileDown.status == 503 || whileDown.status == 403, "\(whileDown)")
            #expect(!whileDown.body.contains("Daniel Okafor"), "nothing is forwarded while the database is down")
            try await Task.sleep(for: .seconds(2))
            try await blocking { try site.cluster.restart() }

            var ready = false
            let deadline = ContinuousClock.now + .seconds(30)
            while !ready && ContinuousClock.now < deadline {
                ready = try await blocking { [try site.readiness(0), try site.readiness(1)] } == [200, 200]
                if !ready { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(ready, "both gateways are ready again without a restart")
            let answered = try await blocking { loads.map(Self.committedAnswers) }
            for index in 0..<2 { #expect(try await blocking { try site.request(index).status } == 200, "gateway \(index) serves again") }
            #expect(answered.allSatisfy { $0.statuses["503", default: 0] > 0 }, "requests were refused while it was down: \(answered.map(\.statuses))")
            try await Self.expectEveryAnswerLogged(answered, site)
        }
    }

    /// Every decision a client was answered on is in the shared log, and `log verify` passes.
    static func expectEveryAnswerLogged(_ answered: [(ids: [String], statuses: [String: Int])], _ site: Site) async throws {
        let logged = try await blocking { try site.loggedDecisions() }
        let missing = Set(answered.flatMap(\.ids)).subtracting(logged)
        #expect(missing.isEmpty, "\(missing.count) answered decisions are not in the log")
        let verified = try await blocking { try CLIProcess.run(["log", "verify"] + site.store) }
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
    }
}
