import Foundation
import Hummingbird
import NIOCore
import Synchronization
import WarrantGateCore

/// Stand-ins for the jail's records, visitation and custody systems, for the demo and the tests.
///
/// Their raw records include the immigration fields that the gateway must strip, so redaction is visible.
/// They listen on loopback, plain HTTP, as the real systems would behind the gateway.
public enum SimulatedUpstreams {
    public struct Inmate: Sendable {
        public let booking: String
        public let name: String
        public let releaseDate: String
        public let countryOfBirth: String
    }

    public static let inmates: [Inmate] = [
        Inmate(booking: "2017-000123", name: "Ana Morales", releaseDate: "2026-12-18", countryOfBirth: "Mexico"),
        Inmate(booking: "2017-000456", name: "Daniel Okafor", releaseDate: "2027-02-03", countryOfBirth: "Nigeria"),
        Inmate(booking: "2017-000789", name: "Tomás Reyes", releaseDate: "2026-11-30", countryOfBirth: "Guatemala"),
    ]

    /// Called with every request an upstream receives (tests use it to prove what was, or was not, forwarded).
    public typealias Observer = @Sendable (Request) -> Void

    /// The records system: `GET /records/inmates/{booking}`, `GET /records/inmates/{booking}/release`, the public
    /// inmate locator `GET /records/locator/{booking}` and the SOAP 1.1 service `POST /records/soap`, whose
    /// operations are ``BookingXML/getBooking`` (by `BookingNumber`) and ``BookingXML/setHousingUnit``.
    ///
    /// `GET /records/inmates/{booking}` answers a NIEM 4.0 document instead of JSON when `Accept` prefers XML. Every
    /// response is compressed when `Accept-Encoding` asks for gzip or deflate.
    public static func recordsRouter(observer: Observer? = nil) -> Router<BasicRequestContext> {
        let router = Router()
        if let observer { router.add(middleware: ObservingMiddleware(observer: observer)) }
        router.add(middleware: CompressingMiddleware())
        router.get("/records/inmates/:booking") { request, context -> Response in
            guard let inmate = inmate(context.parameters.get("booking")) else { return notFound() }
            if request.prefersXML { return text(BookingXML.document(for: inmate), contentType: "application/xml; charset=utf-8") }
            return json(
                """
                {"bookingNumber":"\(inmate.booking)","name":"\(inmate.name)","status":"in custody","housingUnit":"4B",\
                "charges":[{"statute":"C.R.S. 18-4-203","description":"second degree burglary"}],\
                "citizenship":"unknown","immigrationStatus":"undocumented (reported)","alienNumber":"A-201-555-0199",\
                "demographics":{"dateOfBirth":"1990-04-11","countryOfBirth":"\(inmate.countryOfBirth)","placeOfBirth":"\(inmate.countryOfBirth)"}}
                """
            )
        }
        router.get("/records/inmates/:booking/facts") { _, context -> Response in
            guard let inmate = inmate(context.parameters.get("booking")) else { return notFound() }
            return json(#"{"conviction":"\#(inmate.booking == "2017-000456" ? "serious-felony" : "none")","prop-47-misdemeanor":"none"}"#)
        }
        router.get("/records/locator/:booking") { _, context -> Response in
            guard let inmate = inmate(context.parameters.get("booking")) else { return notFound() }
            return json(#"{"bookingNumber":"\#(inmate.booking)","name":"\#(inmate.name)","custodyStatus":"in custody","facility":"Downtown Detention Center"}"#)
        }
        router.get("/records/inmates/:booking/release") { _, context -> Response in
            guard let inmate = inmate(context.parameters.get("booking")) else { return notFound() }
            return json(#"{"bookingNumber":"\#(inmate.booking)","scheduledRelease":"\#(inmate.releaseDate)","immigrationStatus":"undocumented (reported)"}"#)
        }
        router.post("/records/soap") { request, _ -> Response in
            let body = try await request.body.collect(upTo: soapRequestLimit)
            let envelope: SOAPRequest
            do throws(SOAPRequestError) {
                envelope = try SOAPRequest.read(Array(body.readableBytesView), watching: ["BookingNumber"])
            } catch {
                return soapFault(code: "Client", reason: "The request is not a SOAP envelope: \(error.detail).")
            }
            // Dispatched on the Body's element, as an ASMX service routed by request element is.
            switch envelope.operation {
            case BookingXML.getBooking:
                guard case .text(let booking)? = envelope.values["BookingNumber"]?.first, let inmate = inmate(booking) else {
                    return soapFault(code: "Client", reason: "No such booking.")
                }
                return text(BookingXML.soapResponse(for: inmate), contentType: soapContentType)
            case BookingXML.setHousingUnit:
                return text(BookingXML.setHousingUnitResponse, contentType: soapContentType)
            default:
                return soapFault(code: "Client", reason: "No such operation.")
            }
        }
        return router
    }

    /// The visitation system: `GET /visitation/visits?booking=…`, `POST /visitation/visits`,
    /// `DELETE /visitation/visits/{id}?booking=…`, and `POST /visitation/interviews/{mode}` for each ``InterviewMode``.
    ///
    /// A visit belongs to the agency that scheduled it, as the gateway names it (``GatewayHeaders/agency``): scheduling
    /// without that header answers 400, and cancelling another agency's visit 403 `{"error": …}`.
    ///
    /// An interview request takes a JSON ``InterviewForm`` and answers 201 with the interview scheduled (the form's
    /// fields, `id`, `mode` and `status`), 400 `{"error": …}` if the body is not a valid form, or 404 if its booking is
    /// not in ``inmates``.
    public static func visitationRouter(observer: Observer? = nil) -> Router<BasicRequestContext> {
        let visits = VisitBook()
        let interviews = Ledger<InterviewForm>(noun: "interview", prefix: "I")
        let router = Router()
        if let observer { router.add(middleware: ObservingMiddleware(observer: observer)) }
        router.get("/visitation/visits") { request, _ -> Response in
            guard let booking = request.uri.queryParameters.get("booking"), inmate(booking) != nil else { return notFound() }
            let list = visits.list(booking: booking).map(\.json).joined(separator: ",")
            return json(#"{"bookingNumber":"\#(booking)","visits":[\#(list)]}"#)
        }
        router.post("/visitation/visits") { request, context -> Response in
            struct NewVisit: Decodable {
                let bookingNumber: String
                let visitor: String
                let purpose: String
                let scheduledFor: String
            }
            guard let agency = gatewayAgency(of: request) else {
                return text(#"{"error":"no \#(GatewayHeaders.agency) header: visits are scheduled through the gateway"}"#, contentType: jsonContentType, status: .badRequest)
            }
            guard let visit = try? await request.decode(as: NewVisit.self, context: context), inmate(visit.bookingNumber) != nil else {
                return text(#"{"error":"invalid visit"}"#, contentType: jsonContentType, status: .badRequest)
            }
            let stored = visits.add(
                booking: visit.bookingNumber, agency: agency, visitor: visit.visitor, purpose: visit.purpose, scheduledFor: visit.scheduledFor
            )
            var response = json(stored.json)
            response.status = .created
            return response
        }
        router.delete("/visitation/visits/:id") { request, context -> Response in
            guard let id = context.parameters.get("id"), let booking = request.uri.queryParameters.get("booking") else { return notFound() }
            switch visits.cancel(id: id, booking: booking, by: gatewayAgency(of: request)) {
            case .cancelled: return Response(status: .noContent)
            case .notFound: return notFound()
            case .anotherAgencys:
                return text(#"{"error":"the visit was scheduled by another agency"}"#, contentType: jsonContentType, status: .forbidden)
            }
        }
        for mode in InterviewMode.allCases {
            router.post("/visitation/interviews/\(mode.rawValue)") { request, context in
                try await file(request, context: context, in: interviews, status: "scheduled") { _ in ["mode": mode.rawValue] }
            }
        }
        return router
    }

    static func inmate(_ booking: String?) -> Inmate? {
        inmates.first { $0.booking == booking }
    }

    /// The agency the gateway says sent `request` (its one ``GatewayHeaders/agency`` header), or nil.
    static func gatewayAgency(of request: Request) -> String? {
        let values = request.headers[values: HTTPFields.Element.Name(GatewayHeaders.agency)!]
        guard values.count == 1, let agency = values.first, !agency.isEmpty else { return nil }
        return agency
    }

    private static let soapContentType = "text/xml; charset=utf-8"
    private static let soapRequestLimit = 64 * 1024

    static let jsonContentType = "application/json"

    static func json(_ body: String) -> Response {
        text(body, contentType: jsonContentType)
    }

    static func notFound() -> Response {
        text(#"{"error":"not found"}"#, contentType: jsonContentType, status: .notFound)
    }

    /// A SOAP 1.1 fault, which the SOAP 1.1 HTTP binding sends with status 500.
    private static func soapFault(code: String, reason: String) -> Response {
        text(BookingXML.soapFault(code: code, reason: reason), contentType: soapContentType, status: .internalServerError)
    }

    static func text(_ body: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// Reports each request to an observer before routing it.
struct ObservingMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let observer: SimulatedUpstreams.Observer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        observer(request)
        return try await next(request, context)
    }
}

/// The visitation system's in-memory appointment book.
final class VisitBook: Sendable {
    struct Visit: Sendable {
        let id: String
        let booking: String
        /// The agency that scheduled it: the only one that may cancel it.
        let agency: String
        let visitor: String
        let purpose: String
        let scheduledFor: String

        var json: String {
            var object: [String: String] = ["id": id, "bookingNumber": booking, "visitor": visitor, "purpose": purpose, "scheduledFor": scheduledFor]
            object["status"] = "scheduled"
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// The visits booked, and the number the next one takes (never reused, even after a cancellation).
    private let book = Mutex<(visits: [Visit], next: Int)>(([], 1001))

    func add(booking: String, agency: String, visitor: String, purpose: String, scheduledFor: String) -> Visit {
        book.withLock { book in
            let visit = Visit(id: "V-\(book.next)", booking: booking, agency: agency, visitor: visitor, purpose: purpose, scheduledFor: scheduledFor)
            book.next += 1
            book.visits.append(visit)
            return visit
        }
    }

    func list(booking: String) -> [Visit] {
        book.withLock { $0.visits.filter { $0.booking == booking } }
    }

    /// What a cancellation did.
    enum Cancellation {
        case cancelled, notFound, anotherAgencys
    }

    /// Cancels the visit `id` of `booking` if `agency` scheduled it.
    func cancel(id: String, booking: String, by agency: String?) -> Cancellation {
        book.withLock { book in
            guard let index = book.visits.firstIndex(where: { $0.id == id && $0.booking == booking }) else { return .notFound }
            guard book.visits[index].agency == agency else { return .anotherAgencys }
            book.visits.remove(at: index)
            return .cancelled
        }
    }
}

/// How an interview with an inmate is held; the raw value names its endpoint.
enum InterviewMode: String, CaseIterable, Sendable {
    case inPerson = "in-person"
    case phone
    case video
}

/// A request to interview an inmate at `scheduledFor`, with the inmate's attorney present or not.
struct InterviewForm: RecordForm {
    let bookingNumber: String
    let interviewer: String
    let agency: String
    let scheduledFor: String
    let attorneyPresent: Bool?
    let purpose: String?

    var booking: String? { bookingNumber }
    var isValid: Bool { [bookingNumber, interviewer, agency].allFilled && scheduledFor.isDateTime }
}
