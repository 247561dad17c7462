import Foundation
import Testing
import WarrantGateCore
import WarrantGateDevPKI

/// `agency …` run as a process, against a directory file of the test's own.
@Suite("Agencies through the CLI run as a process", .ownThreads)
struct AgencyCLITests {
    @Test("a certificate added to a listed agency identifies no one once the file no longer lists that agency")
    func delistedAgencyEndsItsAddedCertificates() throws {
        let scratch = try Scratch()
        let ca = try DevCertificateAuthority(commonName: "Test CA")
        let clerk = try ca.issueClient(commonName: "clerk", organizationalUnit: "county-court")
        let added = scratch.url.appendingPathComponent("added.pem").path
        try ca.issueClient(commonName: "laptop", organizationalUnit: "county-court").certificatePEM.write(toFile: added, atomically: false, encoding: .utf8)
        let clerkPin = try ClientCertificate(certificate: clerk.certificate).spkiSHA256
        let listing = scratch.url.appendingPathComponent("agencies.yaml").path
        try """
            agencies:
              - id: county-court
                name: County Court
                category: court
                certificates: [{ spki-sha256: "\(clerkPin)" }]
            """.write(toFile: listing, atomically: false, encoding: .utf8)
        let delisted = scratch.url.appendingPathComponent("delisted.yaml").path
        try "agencies: []\n".write(toFile: delisted, atomically: false, encoding: .utf8)
        let db = ["--db", scratch.db]

        let requested = try CLIProcess.run(["agency", "add", "county-court", "--category", "court", "--cert", added, "--agencies", listing, "--operator", "alice"] + db)
        let number = try #require(requested.stdout.firstMatch(of: /request (\d+):/).map { String($0.1) }, "\(requested.stdout)\(requested.stderr)")
        // Approved once the file no longer lists the agency: the certificate is added, and identifies no one.
        let approved = try CLIProcess.run(["agency", "approve", number, "--agencies", delisted, "--operator", "bob"] + db)
        #expect(approved.status == 0 && approved.stdout.contains("which \(delisted) no longer lists"), "\(approved.stdout)\(approved.stderr)")

        func source(_ file: String) throws -> String? {
            let listed = try CLIProcess.run(["agency", "list", "--json", "--agencies", file] + db)
            let rows = (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["agencies"] as? [[String: Any]]
            return rows?.first { $0["id"] as? String == "county-court" }?["source"] as? String
        }
        #expect(try source(listing) == "file+registry")
        #expect(try source(delisted) == "registry (inert: extends an unlisted agency)")
        // policy explain resolves it as the gateway does: no agency at all, so no category to explain by.
        let explained = try CLIProcess.run([
            "policy", "explain", "--policy", Repository.root.appendingPathComponent("policies/denver.yaml").path, "--agencies", delisted,
            "--agency", "county-court", "--path", "/records/inmates/2017-000123",
        ] + db)
        #expect(explained.status == 4 && explained.stderr.contains("no longer lists: the gateway identifies no one as county-court"), "\(explained.stdout)\(explained.stderr)")
        // Nor is a document registered for it: it would match no certificate.
        let register = [
            "warrant", "register", "--time-zone", "America/Denver", "--reference", "CO-1", "--kind", "court-order", "--agency", "county-court",
            "--subject", "2017-000123", "--scope", "records.read", "--expires", "2099-12-31", "--court", "D. Colo.", "--judge", "Hon. R. Jackson",
            "--case", "1:26-mj-1", "--no-document", "test", "--operator", "clerk",
        ] + db
        let refused = try CLIProcess.run(register + ["--agencies", delisted])
        #expect(refused.status == 3 && refused.stderr.contains("no agency county-court in \(delisted) or the registry"), "\(refused.stderr)")
        #expect(try CLIProcess.run(register + ["--agencies", listing]).status == 0)
    }
}
