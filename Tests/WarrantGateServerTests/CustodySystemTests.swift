import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import WarrantGateDemo

/// The simulated custody and notification system, and the visitation system's interview requests, over real HTTP on
/// loopback: each endpoint files what it is sent, and refuses an invalid body (400) or an unknown booking (404).
@Suite("The simulated custody system and interview requests")
struct CustodySystemTests {
    /// An answer: its status, its Content-Type, and its body as a JSON object (empty if it is not one).
    struct Reply {
        let status: UInt
        let contentType: String?
        let object: [String: Any]

        subscript(_ key: String) -> Any? { object[key] }
    }

    /// The simulated systems, started for one test with a recorder of what they receive, and always stopped.
    private func withUpstreams(_ body: (DemoUpstreams, UpstreamRecorder) async throws -> Void) async throws {
        var logger = Logger(label: "custody-tests")
        logger.logLevel = .critical
        let recorder = UpstreamRecorder()
        let upstreams = try await DemoUpstreams.start(logger: logger, observer: recorder.observer)
        do {
            try await body(upstreams, recorder)
        } catch {
            await upstreams.stop()
            throw error
        }
        await upstreams.stop()
    }

    /// Sends `body` (JSON) to `path` of the system `system`, or a GET when there is no body.
    private func send(_ upstreams: DemoUpstreams, _ system: String, _ path: String, _ body: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: try #require(upstreams.urls[system]) + path)
        if let body {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return Reply(status: response.status.code, contentType: response.headers.first(name: "Content-Type"), object: object)
    }

    private static let hold = #"{"bookingNumber":"2017-000123","documentReference":"JW-2026-0001","requestedBy":"ice-ero","holdUntil":"2026-12-20T17:00:00Z"}"#

    @Test("the custody system has its own loopback port, named custody among the upstream URLs")
    func urls() async throws {
        try await withUpstreams { upstreams, _ in
            #expect(upstreams.urls == [
                "records": "http://127.0.0.1:\(upstreams.recordsPort)", "visitation": "http://127.0.0.1:\(upstreams.visitationPort)",
                "custody": "http://127.0.0.1:\(upstreams.custodyPort)",
            ])
            #expect(Set([upstreams.recordsPort, upstreams.visitationPort, upstreams.custodyPort]).count == 3)
            let custody = try await send(upstreams, "custody", "/custody/holds?booking=2017-000123")
            let records = try await send(upstreams, "records", "/custody/holds?booking=2017-000123")
            #expect(custody.status == 200 && records.status == 404)
        }
    }

    @Test("a detainer hold is filed as held, numbered from H-1001, and listed for its booking only")
    func holds() async throws {
        try await withUpstreams { upstreams, recorder in
            let first = try await send(upstreams, "custody", "/custody/holds", Self.hold)
            #expect(first.status == 201)
            #expect(first.contentType == "application/json")
            #expect(first["id"] as? String == "H-1001")
            #expect(first["status"] as? String == "held")
            #expect(first["bookingNumber"] as? String == "2017-000123")
            #expect(first["documentReference"] as? String == "JW-2026-0001")
            #expect(first["requestedBy"] as? String == "ice-ero")
            #expect(first["holdUntil"] as? String == "2026-12-20T17:00:00Z")
            let other = Self.hold.replacingOccurrences(of: "2017-000123", with: "2017-000456")
            #expect(try await send(upstreams, "custody", "/custody/holds", other)["id"] as? String == "H-1002")

            let listed = try await send(upstreams, "custody", "/custody/holds?booking=2017-000123")
            #expect(listed.status == 200)
            #expect(listed.contentType == "application/json")
            #expect(listed["bookingNumber"] as? String == "2017-000123")
            let holds = try #require(listed["holds"] as? [[String: Any]])
            #expect(holds.map { $0["id"] as? String } == ["H-1001"])
            #expect(holds.first?["status"] as? String == "held")
            let none = try await send(upstreams, "custody", "/custody/holds?booking=2017-000789")
            #expect((none["holds"] as? [Any])?.isEmpty == true)
            #expect(try await send(upstreams, "custody", "/custody/holds?booking=2099-000001").status == 404)
            #expect(try await send(upstreams, "custody", "/custody/holds").status == 404)
            #expect(recorder.requests.filter { $0.path.hasPrefix("/custody/holds") }.count == 6)
        }
    }

    @Test("a hold with a bad body is refused 400, and one for an unknown booking 404; neither is filed")
    func invalidHolds() async throws {
        try await withUpstreams { upstreams, _ in
            for body in [
                "not json",
                #"{"bookingNumber":"2017-000123","documentReference":"JW-2026-0001","requestedBy":"ice-ero"}"#,
                Self.hold.replacingOccurrences(of: "2026-12-20T17:00:00Z", with: "2026-12-20"),
                Self.hold.replacingOccurrences(of: #""ice-ero""#, with: #""""#),
                Self.hold.replacingOccurrences(of: #""JW-2026-0001""#, with: "17"),
            ] {
                let reply = try await send(upstreams, "custody", "/custody/holds", body)
                #expect(reply.status == 400, "\(body)")
                #expect(reply.contentType == "application/json")
                #expect(reply["error"] as? String == "invalid hold", "\(body)")
            }
            let unknown = try await send(upstreams, "custody", "/custody/holds", Self.hold.replacingOccurrences(of: "2017-000123", with: "2099-000001"))
            #expect(unknown.status == 404)
            #expect(unknown.contentType == "application/json")
            #expect(unknown["error"] is String)
            let listed = try await send(upstreams, "custody", "/custody/holds?booking=2017-000123")
            #expect((listed["holds"] as? [Any])?.isEmpty == true)
            #expect(try await send(upstreams, "custody", "/custody/holds", Self.hold)["id"] as? String == "H-1001")
        }
    }

    @Test("a transfer at release is scheduled and an arrest in the facility arranged; unknown bookings are 404")
    func transfersAndArrests() async throws {
        try await withUpstreams { upstreams, _ in
            let transfer = try await send(
                upstreams, "custody", "/custody/transfers",
                #"{"bookingNumber":"2017-000456","receivingAgency":"ice-ero","documentReference":"JW-2026-0002","at":"2027-02-03T09:30:00-07:00"}"#
            )
            #expect(transfer.status == 201)
            #expect(transfer["id"] as? String == "T-1001")
            #expect(transfer["status"] as? String == "scheduled")
            #expect(transfer["bookingNumber"] as? String == "2017-000456")
            #expect(transfer["receivingAgency"] as? String == "ice-ero")
            #expect(transfer["at"] as? String == "2027-02-03T09:30:00-07:00")
            let badTime = try await send(
                upstreams, "custody", "/custody/transfers",
                #"{"bookingNumber":"2017-000456","receivingAgency":"ice-ero","documentReference":"JW-2026-0002","at":"at release"}"#
            )
            #expect(badTime.status == 400)
            #expect(badTime["error"] as? String == "invalid transfer")

            let arrest = try await send(
                upstreams, "custody", "/custody/arrests",
                #"{"bookingNumber":"2017-000789","arrestingAgency":"denver-pd","documentReference":"AW-77"}"#
            )
            #expect(arrest.status == 201)
            #expect(arrest["id"] as? String == "A-1001")
            #expect(arrest["status"] as? String == "arranged")
            #expect(arrest["bookingNumber"] as? String == "2017-000789")
            #expect(arrest["arrestingAgency"] as? String == "denver-pd")
            #expect(arrest["documentReference"] as? String == "AW-77")
            let unknown = try await send(
                upstreams, "custody", "/custody/arrests",
                #"{"bookingNumber":"2099-000001","arrestingAgency":"denver-pd","documentReference":"AW-77"}"#
            )
            #expect(unknown.status == 404)
            #expect(try await send(upstreams, "custody", "/custody/arrests", "{}").status == 400)
        }
    }

    @Test("a release notification is registered with the inmate's scheduled release")
    func releaseNotifications() async throws {
        try await withUpstreams { upstreams, _ in
            let reply = try await send(
                upstreams, "custody", "/custody/release-notifications",
                #"{"bookingNumber":"2017-000123","requestedBy":"ice-ero","documentReference":"I247N-2026-0001"}"#
            )
            #expect(reply.status == 201)
            #expect(reply["id"] as? String == "N-1001")
            #expect(reply["status"] as? String == "registered")
            #expect(reply["bookingNumber"] as? String == "2017-000123")
            #expect(reply["scheduledRelease"] as? String == "2026-12-18")
            #expect(reply["documentReference"] as? String == "I247N-2026-0001")
            let unknown = try await send(
                upstreams, "custody", "/custody/release-notifications",
                #"{"bookingNumber":"2099-000001","requestedBy":"ice-ero","documentReference":"I247N-2026-0001"}"#
            )
            #expect(unknown.status == 404)
            let bad = try await send(upstreams, "custody", "/custody/release-notifications", #"{"bookingNumber":"2017-000123"}"#)
            #expect(bad.status == 400)
            #expect(bad["error"] as? String == "invalid release notification")
        }
    }

    @Test("escorted secure-area access is granted with or without a booking; a named booking must exist")
    func secureAreaAccess() async throws {
        try await withUpstreams { upstreams, _ in
            let visit = #"{"visitor":"SA J. Smith","agency":"ice-ero","area":"booking","at":"2026-12-01T10:00:00Z"}"#
            let without = try await send(upstreams, "custody", "/facility/secure-area-access", visit)
            #expect(without.status == 201)
            #expect(without["id"] as? String == "S-1001")
            #expect(without["status"] as? String == "escorted-access-granted")
            #expect(without["area"] as? String == "booking")
            #expect(without["bookingNumber"] == nil)
            let withBooking = visit.replacingOccurrences(of: "}", with: #","bookingNumber":"2017-000456"}"#)
            let about = try await send(upstreams, "custody", "/facility/secure-area-access", withBooking)
            #expect(about.status == 201)
            #expect(about["id"] as? String == "S-1002")
            #expect(about["bookingNumber"] as? String == "2017-000456")
            let unknown = withBooking.replacingOccurrences(of: "2017-000456", with: "2099-000001")
            #expect(try await send(upstreams, "custody", "/facility/secure-area-access", unknown).status == 404)
            let bad = try await send(upstreams, "custody", "/facility/secure-area-access", visit.replacingOccurrences(of: "SA J. Smith", with: ""))
            #expect(bad.status == 400)
            #expect(bad["error"] as? String == "invalid secure-area access")
        }
    }

    @Test("interviews in person, by phone and by video are scheduled in one series and echo their booking")
    func interviews() async throws {
        try await withUpstreams { upstreams, recorder in
            let form = #"{"bookingNumber":"2017-000123","interviewer":"SA J. Smith","agency":"ice-ero","scheduledFor":"2026-12-01T10:00:00Z""#
            for (index, mode) in ["in-person", "phone", "video"].enumerated() {
                let reply = try await send(upstreams, "visitation", "/visitation/interviews/\(mode)", form + #","attorneyPresent":true,"purpose":"I-213"}"#)
                #expect(reply.status == 201, "\(mode)")
                #expect(reply["id"] as? String == "I-\(1001 + index)")
                #expect(reply["mode"] as? String == mode)
                #expect(reply["status"] as? String == "scheduled")
                #expect(reply["bookingNumber"] as? String == "2017-000123")
                #expect(reply["interviewer"] as? String == "SA J. Smith")
                #expect(reply["agency"] as? String == "ice-ero")
                #expect(reply["scheduledFor"] as? String == "2026-12-01T10:00:00Z")
                #expect(reply["attorneyPresent"] as? Bool == true)
                #expect(reply["purpose"] as? String == "I-213")
            }
            let bare = try await send(upstreams, "visitation", "/visitation/interviews/video", form + "}")
            #expect(bare.status == 201)
            #expect(bare["attorneyPresent"] == nil && bare["purpose"] == nil)

            let unknown = try await send(upstreams, "visitation", "/visitation/interviews/phone", form.replacingOccurrences(of: "2017-000123", with: "2099-000001") + "}")
            #expect(unknown.status == 404)
            for body in ["", form + #","attorneyPresent":"yes"}"#, form.replacingOccurrences(of: "2026-12-01T10:00:00Z", with: "Tuesday") + "}"] {
                let bad = try await send(upstreams, "visitation", "/visitation/interviews/in-person", body)
                #expect(bad.status == 400, "\(body)")
                #expect(bad["error"] as? String == "invalid interview", "\(body)")
            }
            #expect(try await send(upstreams, "visitation", "/visitation/interviews/carrier-pigeon", form + "}").status == 404)
            #expect(recorder.requests.filter { $0.method == "POST" && $0.path.hasPrefix("/visitation/interviews/") }.count == 9)
        }
    }
}
