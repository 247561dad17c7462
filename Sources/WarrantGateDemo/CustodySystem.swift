import Hummingbird

extension SimulatedUpstreams {
    /// The custody and notification system: detainer holds past release (`POST /custody/holds` and
    /// `GET /custody/holds?booking=…`), transfers of custody at release (`POST /custody/transfers`), arrests inside the
    /// facility (`POST /custody/arrests`), requests to be told of a release, as an I-247N makes
    /// (`POST /custody/release-notifications`), and escorted visits to secure areas (`POST /facility/secure-area-access`).
    ///
    /// Each POST takes a JSON form and answers 201 with the record filed (the form's fields, `id` and `status`),
    /// 400 `{"error": …}` if the body is not a valid form, or 404 if it names a booking not in ``inmates``. A release
    /// notification's record adds the inmate's `scheduledRelease`. Records live in memory as long as the router.
    public static func custodyRouter(observer: Observer? = nil) -> Router<BasicRequestContext> {
        let holds = Ledger<HoldForm>(noun: "hold", prefix: "H")
        let transfers = Ledger<TransferForm>(noun: "transfer", prefix: "T")
        let arrests = Ledger<ArrestForm>(noun: "arrest", prefix: "A")
        let notifications = Ledger<ReleaseNotificationForm>(noun: "release notification", prefix: "N")
        let secureAreaAccesses = Ledger<SecureAreaAccessForm>(noun: "secure-area access", prefix: "S")
        let router = Router()
        if let observer { router.add(middleware: ObservingMiddleware(observer: observer)) }
        router.post("/custody/holds") { request, context in
            try await file(request, context: context, in: holds, status: "held")
        }
        router.get("/custody/holds") { request, _ -> Response in
            guard let booking = request.uri.queryParameters.get("booking"), inmate(booking) != nil else { return notFound() }
            return json(try encoded(HoldList(bookingNumber: booking, holds: holds.records(booking: booking))))
        }
        router.post("/custody/transfers") { request, context in
            try await file(request, context: context, in: transfers, status: "scheduled")
        }
        router.post("/custody/arrests") { request, context in
            try await file(request, context: context, in: arrests, status: "arranged")
        }
        router.post("/custody/release-notifications") { request, context in
            try await file(request, context: context, in: notifications, status: "registered") { inmate in
                inmate.map { ["scheduledRelease": $0.releaseDate] } ?? [:]
            }
        }
        router.post("/facility/secure-area-access") { request, context in
            try await file(request, context: context, in: secureAreaAccesses, status: "escorted-access-granted")
        }
        return router
    }
}

/// The answer to `GET /custody/holds?booking=…`.
private struct HoldList: Encodable {
    let bookingNumber: String
    let holds: [Filed<HoldForm>]
}

/// A request to hold an inmate past release, until `holdUntil`.
struct HoldForm: RecordForm {
    let bookingNumber: String
    let documentReference: String
    let requestedBy: String
    let holdUntil: String

    var booking: String? { bookingNumber }
    var isValid: Bool { [bookingNumber, documentReference, requestedBy].allFilled && holdUntil.isDateTime }
}

/// A transfer of custody to another agency at release, at `at`.
struct TransferForm: RecordForm {
    let bookingNumber: String
    let receivingAgency: String
    let documentReference: String
    let at: String

    var booking: String? { bookingNumber }
    var isValid: Bool { [bookingNumber, receivingAgency, documentReference].allFilled && at.isDateTime }
}

/// An arrest, by another agency, of an inmate inside the facility.
struct ArrestForm: RecordForm {
    let bookingNumber: String
    let arrestingAgency: String
    let documentReference: String

    var booking: String? { bookingNumber }
    var isValid: Bool { [bookingNumber, arrestingAgency, documentReference].allFilled }
}

/// A request to be told when an inmate is released.
struct ReleaseNotificationForm: RecordForm {
    let bookingNumber: String
    let requestedBy: String
    let documentReference: String

    var booking: String? { bookingNumber }
    var isValid: Bool { [bookingNumber, requestedBy, documentReference].allFilled }
}

/// An outside visitor's escorted visit to a secure area at `at`, about one inmate or none.
struct SecureAreaAccessForm: RecordForm {
    let visitor: String
    let agency: String
    let area: String
    let at: String
    let bookingNumber: String?

    var booking: String? { bookingNumber }
    var isValid: Bool { [visitor, agency, area].allFilled && at.isDateTime }
}
