import Foundation
@testable import WarrantGateCore

/// A policy of one route, `GET /r/{b}` (action `records.read`, the subject from the path, four-digit booking numbers),
/// and the rules a test gives: for tests of the policy language that need nothing more.
enum OneRoutePolicy {
    /// Parses the policy with `rules`: YAML list items (`- { id: …, effect: …, … }`), one a line.
    static func parse(rules: String) throws -> Policy {
        let head = """
            policy: t
            time-zone: UTC
            subject-format: "####"
            routes:
              - { id: read, method: GET, path: "/r/{b}", action: records.read, subject: { path: b }, upstream: records }
            rules:

            """
        return try PolicyParser.parse(head + rules.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"), file: "t.yaml")
    }

    /// The route's request for booking 1234, by `agency`, at `time`.
    static func request(by agency: Agency, at time: Date) -> PolicyRequest {
        PolicyRequest(agency: agency, method: "GET", target: "/r/1234", body: nil, warrantReference: nil, time: time)
    }
}
