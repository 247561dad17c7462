import Foundation
import Testing

/// Run as `sudo -u warrant-gate warrant-gate …`, the CLI records the person who ran sudo, not the service account, so
/// that the two-person rule still sees two people.
@Suite("The operator under sudo", .ownThreads)
struct SudoOperatorCLITests {
    @Test("$SUDO_USER is the operator unless --operator or $WARRANT_GATE_OPERATOR names one")
    func sudoUser() throws {
        let scratch = try Scratch()
        let db = ["--db", scratch.db]
        // As sudo leaves the environment: SUDO_USER set, USER and LOGNAME the target account's, no operator variable.
        func run(_ arguments: [String], sudoUser: String, operatorVariable: String = "") throws -> CLIProcess.Result {
            try SystemTool.run(CLIProcess.executable.path, arguments + db, environment: [
                "SUDO_USER": sudoUser, "USER": "warrant-gate", "LOGNAME": "warrant-gate", "WARRANT_GATE_OPERATOR": operatorVariable,
            ])
        }

        let registered = try run(["warrant", "register", "--time-zone", "America/Denver", "--reference", "JW-SUDO", "--kind", "judicial-warrant", "--agency", "ice-ero",
                                  "--subject", "2017-000123", "--scope", "records.read", "--expires", "2099-12-31", "--court", "D. Colo.",
                                  "--judge", "Hon. R. Jackson", "--case", "1:26-mj-7", "--no-document", "faxed"], sudoUser: "alice")
        #expect(registered.status == 0, "\(registered.stderr)")

        let selfApproval = try run(["warrant", "approve", "JW-SUDO"], sudoUser: "alice")
        #expect(selfApproval.status == 3)
        #expect(selfApproval.stderr.contains("two-person rule"), "\(selfApproval.stderr)")

        // The variable and the option still win over sudo's.
        let approved = try run(["warrant", "approve", "JW-SUDO"], sudoUser: "alice", operatorVariable: "sgt-lee")
        #expect(approved.status == 0, "\(approved.stderr)")
        let revoked = try run(["warrant", "revoke", "JW-SUDO", "--reason", "quashed", "--operator", "clerk-b"], sudoUser: "alice")
        #expect(revoked.status == 0, "\(revoked.stderr)")

        let shown = try run(["warrant", "show", "JW-SUDO"], sudoUser: "bob").stdout
        #expect(shown.contains("by alice (two-person rule on)"), "\(shown)")
        #expect(shown.contains("approved:") && shown.contains("by sgt-lee"), "\(shown)")
        #expect(shown.contains("revoke") && shown.contains("by clerk-b"), "\(shown)")
        #expect(!shown.contains("by warrant-gate"), "\(shown)")
    }
}
