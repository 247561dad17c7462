import Foundation
import Hummingbird
import Synchronization

/// A JSON request body that files a record with a simulated system (a detainer hold, an interview, …).
protocol RecordForm: Codable, Sendable {
    /// The booking the record concerns, if the form names one.
    var booking: String? { get }
    /// Whether every field is usable: required text is non-empty and times are ISO 8601 date-times with an offset.
    var isValid: Bool { get }
}

/// A filed record as the system answers it: the form's fields, with `id`, `status` and the system's `details` added.
struct Filed<Form: RecordForm>: Encodable, Sendable {
    let id: String
    let status: String
    let details: [String: String]
    let form: Form

    func encode(to encoder: any Encoder) throws {
        try form.encode(to: encoder)
        // JSONEncoder answers a second request for a keyed container with the same object, so these keys join the form's.
        var container = encoder.container(keyedBy: FieldKey.self)
        for (key, value) in details.merging(["id": id, "status": status], uniquingKeysWith: { $1 }) {
            try container.encode(value, forKey: FieldKey(key))
        }
    }

    private struct FieldKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.init(stringValue) }
        init?(intValue: Int) { nil }
    }
}

/// An in-memory book of one kind of record, numbered in one series from 1001 behind a prefix (H-1001, H-1002, …).
final class Ledger<Form: RecordForm>: Sendable {
    /// What the book holds, as named in error messages ("hold", "interview").
    let noun: String
    private let prefix: String
    private let records = Mutex<[Filed<Form>]>([])

    init(noun: String, prefix: String) {
        self.noun = noun
        self.prefix = prefix
    }

    /// Adds the form under the next number of the series.
    func file(_ form: Form, status: String, details: [String: String]) -> Filed<Form> {
        records.withLock { records in
            let record = Filed(id: "\(prefix)-\(records.count + 1001)", status: status, details: details, form: form)
            records.append(record)
            return record
        }
    }

    /// The records about `booking`, oldest first.
    func records(booking: String) -> [Filed<Form>] {
        records.withLock { $0.filter { $0.form.booking == booking } }
    }
}

extension SimulatedUpstreams {
    /// Files the request's JSON body in `ledger`: 400 if it does not decode as the ledger's form or is not valid, 404 if
    /// it names a booking that is not in ``inmates``, else 201 with the record, whose `details` are made from the inmate
    /// named (nil if the form names none).
    static func file<Form: RecordForm>(
        _ request: Request, context: BasicRequestContext, in ledger: Ledger<Form>, status: String,
        details: (Inmate?) -> [String: String] = { _ in [:] }
    ) async throws -> Response {
        guard let form = try? await request.decode(as: Form.self, context: context), form.isValid else {
            return text(#"{"error":"invalid \#(ledger.noun)"}"#, contentType: jsonContentType, status: .badRequest)
        }
        var named: Inmate?
        if let booking = form.booking {
            guard let inmate = inmate(booking) else { return notFound() }
            named = inmate
        }
        let record = ledger.file(form, status: status, details: details(named))
        return text(try encoded(record), contentType: jsonContentType, status: .created)
    }

    /// `value` as JSON with sorted keys.
    static func encoded(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

extension String {
    /// Whether the string is an ISO 8601 date-time with a UTC offset, such as `2026-12-18T17:00:00Z`.
    var isDateTime: Bool {
        (try? Date(self, strategy: .iso8601)) != nil
    }
}

extension [String] {
    /// Whether no element is empty.
    var allFilled: Bool {
        allSatisfy { !$0.isEmpty }
    }
}
