import Foundation
import WarrantGateCore

/// An agency certificate revocation, as the CLI lists it.
public struct CertificateRevocation: Sendable, Codable {
    public var agency: String
    public var spki: String?
    public var serial: String?
    public var reason: String
    public var revokedBy: String
    public var revokedAt: String
}

/// A change to an agency (``Registry/addAgency(id:name:category:spkiPins:operator:at:listed:)``) waiting, under the two-person
/// rule, for a second operator.
public struct AgencyRequest: Sendable, Codable {
    public var number: Int64
    public var agency: String
    public var name: String
    public var category: String
    public var spkiPins: [String]
    public var requestedBy: String
    public var requestedAt: String
    public var status: String
}

/// A key (its SPKI SHA-256) that the registry pins to an agency.
public struct PinnedKey: Sendable, Hashable, Codable {
    public var agency: String
    public var spki: String
}

/// Agencies and their certificates, managed with the CLI. These override `agencies.yaml`, which stays the reviewed
/// starting point.
extension Registry {
    /// Adds an agency, or a certificate to the CLI's earlier entry for it (its name and category replaced), pinned to
    /// a certificate's SPKI SHA-256. Who holds a pinned key is that agency, with its warrants and its category's
    /// access, so under the two-person rule this is a request (``AgencyRequest``, its number returned) that takes effect
    /// only once a second operator approves it (``approveAgencyRequest(_:operator:at:)``); with the rule off it takes
    /// effect at once (nil returned), and the log says the rule was off.
    /// `listed`: the agencies of the directory file the gateway reads, which the change must agree with.
    @discardableResult
    public func addAgency(
        id: String, name: String, category: AgencyCategory, spkiPins: [String], operator: String, at time: Date = Date(),
        listed: [Agency] = []
    ) throws -> Int64? {
        guard Identifier.isValid(id) else { throw StoreError("agency id '\(id)' must be lower-case letters, digits and '-'") }
        guard !spkiPins.isEmpty else { throw StoreError("an agency needs at least one certificate (--cert)") }
        try requireText(name, "the agency's name (--name)")
        let `operator` = try operatorName(`operator`).text
        let twoPerson = try twoPersonRule()
        return try write { session in
            try Self.checkAgencyChange(session, id: id, category: category, spkiPins: spkiPins, listed: listed)
            let extendsListed = listed.contains { $0.id == id }
            var details = ["name": name, "category": category.rawValue, "spkiSHA256": spkiPins.joined(separator: ",")]
            if extendsListed { details[Self.extendsListedDetail] = "yes" }
            guard twoPerson else {
                try Self.applyAgency(session, id: id, name: name, category: category, spkiPins: spkiPins, operator: `operator`, at: time,
                                    extendsListed: extendsListed, details: details.merging(["twoPersonRule": "off"]) { kept, _ in kept })
                return nil
            }
            let row = try session.fetchOne(
                """
                INSERT INTO agency_requests (agency, name, category, spki_pins, requested_by, requested_at, status)
                VALUES (?, ?, ?, ?, ?, ?, 'pending') RETURNING id
                """,
                id, name, category.rawValue, Self.encodeList(spkiPins), `operator`, Timestamp.format(time)
            )
            guard let number = try row?.int64("id") else { throw StoreError("the agency request was not numbered") }
            try Self.appendAdmin(session, AdminRecord(
                time: Timestamp.format(time), operator: `operator`, action: Self.agencyRequestAction, target: String(number),
                details: details.merging(["agency": id]) { kept, _ in kept }
            ))
            return number
        }
    }

    /// Applies a pending agency request. Under the two-person rule the approver must be a second operator. `listed`:
    /// the agencies of the directory file the gateway reads, checked again now.
    public func approveAgencyRequest(_ number: Int64, operator: String, at time: Date = Date(), listed: [Agency] = []) throws {
        let approver = try operatorName(`operator`)
        try write { session in
            let lock = session.dialect == .postgres ? " FOR UPDATE" : ""
            guard let row = try session.fetchOne("SELECT * FROM agency_requests WHERE id = ?\(lock)", number) else {
                throw StoreError("no agency request \(number)")
            }
            let request = try Self.agencyRequest(row)
            guard request.status == "pending" else { throw StoreError("agency request \(number) is \(request.status), not pending") }
            guard let category = AgencyCategory(rawValue: request.category) else { throw StoreError("agency request \(number) holds no category") }
            // Its age by the later of the approver's clock and the gateways' latest entry: a clock set back must not
            // keep a request young.
            let now = max(time, try session.latestGatewayTime() ?? time)
            guard let requestedAt = Timestamp.parse(request.requestedAt), now.timeIntervalSince(requestedAt) <= Self.agencyRequestLifetime else {
                throw StoreError("agency request \(number) was made more than 30 days ago: withdraw it, and request again what is still needed")
            }
            // Its age is the requester's clock's: one set ahead would keep a request young.
            guard requestedAt.timeIntervalSince(time) <= 5 * 60 else {
                throw StoreError("agency request \(number) is dated \(request.requestedAt), in the future: withdraw it, and check the clock of the host it was made on")
            }
            // A request is the CLI's, with its record in the log: one written in SQL alone would read as two people's.
            guard let record = try Self.latestRecord(session, action: Self.agencyRequestAction, target: String(number)),
                  record.operator == request.requestedBy, record.details["agency"] == request.agency, record.details["category"] == request.category,
                  record.details["spkiSHA256"] == request.spkiPins.joined(separator: ",")
            else {
                throw StoreError("agency request \(number) has no agency.request record in the log that matches it: it was not made by the CLI")
            }
            try Self.requireSecondPerson(
                approver, after: request.requestedBy, account: record.account,
                did: "requested agency request \(number)", done: "agency request \(number) was made"
            )
            // What the registry holds may have changed since the request (another request approved, a key pinned).
            try Self.checkAgencyChange(session, id: request.agency, category: category, spkiPins: request.spkiPins, listed: listed)
            // An extension if either operator's directory file lists the agency: one the file lists no longer by the
            // approval is written, and identifies no one.
            var details = [
                "name": request.name, "category": request.category, "spkiSHA256": request.spkiPins.joined(separator: ","),
                "request": String(number), "requestedBy": request.requestedBy,
            ]
            let extendsListed = record.details[Self.extendsListedDetail] == "yes" || listed.contains { $0.id == request.agency }
            if extendsListed { details[Self.extendsListedDetail] = "yes" }
            try Self.applyAgency(
                session, id: request.agency, name: request.name, category: category, spkiPins: request.spkiPins, operator: approver.text, at: time,
                extendsListed: extendsListed, details: details
            )
            try session.execute(
                "UPDATE agency_requests SET status = 'approved', decided_by = ?, decided_at = ? WHERE id = ?", approver.text, Timestamp.format(time), number
            )
        }
    }

    /// Withdraws a pending agency request (a wrong certificate or category): it can no longer be approved.
    public func withdrawAgencyRequest(_ number: Int64, reason: String, operator: String, at time: Date = Date()) throws {
        try requireText(reason, "a withdrawal reason")
        let `operator` = try operatorName(`operator`).text
        try write { session in
            let lock = session.dialect == .postgres ? " FOR UPDATE" : ""
            guard let row = try session.fetchOne("SELECT status, agency FROM agency_requests WHERE id = ?\(lock)", number) else {
                throw StoreError("no agency request \(number)")
            }
            let status = try row.text("status")
            guard status == "pending" else { throw StoreError("agency request \(number) is \(status), not pending") }
            try Self.appendAdmin(session, AdminRecord(
                time: Timestamp.format(time), operator: `operator`, action: "agency.withdraw", target: String(number),
                details: ["reason": reason, "agency": try row.text("agency")]
            ))
            try session.execute(
                "UPDATE agency_requests SET status = 'withdrawn', decided_by = ?, decided_at = ? WHERE id = ?", `operator`, Timestamp.format(time), number
            )
        }
    }

    /// Agency requests still waiting for a second operator, oldest first.
    public func pendingAgencyRequests() throws -> [AgencyRequest] {
        try database.read { session in
            try session.fetchAll("SELECT * FROM agency_requests WHERE status = 'pending' ORDER BY id").map(Self.agencyRequest)
        }
    }

    /// The admin action that requests an agency change.
    static let agencyRequestAction = "agency.request"
    /// The admin records' detail that says an agency change adds certificates to an agency the directory file lists.
    static let extendsListedDetail = "extendsListedAgency"
    /// How long a request may wait for its approval: a request the second operator finds months later is no longer
    /// what the first one checked.
    static let agencyRequestLifetime: TimeInterval = 30 * 86_400

    /// Refuses a change to an agency that would change its category (every certificate already pinned to it would take
    /// the new one: an ICE key with police access): the directory file's, if `listed` holds the agency (whatever the
    /// registry holds for it, which the gateway does not read), else the registry's. Refuses too a key another agency
    /// holds, in the file (whose agency keeps it) or in the registry (which would leave that agency's certificate
    /// naming two, refused).
    private static func checkAgencyChange(
        _ session: any SQLSession, id: String, category: AgencyCategory, spkiPins: [String], listed: [Agency]
    ) throws {
        let inFile = listed.first { $0.id == id }
        if let inFile, inFile.category != category {
            throw StoreError("the agency directory lists \(id) as \(inFile.category.rawValue): a certificate can be added to it, never its category changed (edit that file, under review, to do so)")
        }
        for agency in listed where agency.id != id {
            if let shared = spkiPins.first(where: agency.spkiPins.contains) {
                throw StoreError("spki:\(shared) is \(agency.id)'s in the agency directory: one key identifies one agency")
            }
        }
        for row in try session.fetchAll("SELECT id, category, spki_pins FROM agencies", [SQLValue]()) {
            let other = try row.text("id")
            if other == id {
                guard inFile == nil else { continue }
                let held = try row.text("category")
                guard held == category.rawValue else {
                    throw StoreError("\(id) is \(held): agency add can add a certificate to it, never change its category (revoke its certificates and add another agency)")
                }
            } else if let shared = try decodeList(row.text("spki_pins")).first(where: spkiPins.contains) {
                throw StoreError("spki:\(shared) already identifies \(other): one key identifies one agency")
            }
        }
    }

    /// Writes an agency, or adds pins to the CLI's earlier entry for it, and its admin record. An entry that
    /// `extendsListed` (an agency the requester's or the approver's directory file lists) is marked so, for good: the
    /// gateway then reads its pins only while the file lists that agency
    /// (``AgencyDirectory/amended(agencies:extending:revocations:)``).
    private static func applyAgency(
        _ session: any SQLSession, id: String, name: String, category: AgencyCategory, spkiPins: [String], operator: String, at time: Date,
        extendsListed: Bool, details: [String: String]
    ) throws {
        let previous = try session.fetchOne("SELECT spki_pins FROM agencies WHERE id = ?", id)
        var pins = try previous.map { try Self.decodeList($0.text("spki_pins")) } ?? []
        for pin in spkiPins where !pins.contains(pin) { pins.append(pin) }
        let mark = AgencyExtensionColumn.name
        // The record first: on PostgreSQL, an agency is written only behind its record, as the log's last entry.
        try Self.appendAdmin(session, AdminRecord(
            time: Timestamp.format(time), operator: `operator`, action: previous == nil ? "agency.add" : "agency.update", target: id, details: details
        ))
        try session.execute(
            """
            INSERT INTO agencies (id, name, category, spki_pins, added_by, added_at, \(mark)) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET name = excluded.name, category = excluded.category, spki_pins = excluded.spki_pins,
                \(mark) = CASE WHEN excluded.\(mark) = 1 THEN 1 ELSE agencies.\(mark) END
            """,
            id, name, category.rawValue, Self.encodeList(pins), `operator`, Timestamp.format(time), extendsListed ? 1 : 0
        )
    }

    private static func agencyRequest(_ row: SQLRow) throws -> AgencyRequest {
        AgencyRequest(
            number: try row.int64("id"), agency: try row.text("agency"), name: try row.text("name"), category: try row.text("category"),
            spkiPins: try decodeList(row.text("spki_pins")), requestedBy: try row.text("requested_by"), requestedAt: try row.text("requested_at"),
            status: try row.text("status")
        )
    }

    /// Revokes a certificate of an agency by SPKI SHA-256 or serial; refused from the gateway's next request on.
    public func revokeCertificate(agency: String, spki: String?, serial: String?, reason: String, operator: String, at time: Date = Date()) throws {
        try requireText(reason, "a revocation reason")
        try refuseImmigrationStatus(reason, "a revocation reason")
        guard spki != nil || serial != nil else { throw StoreError("name the certificate: --cert FILE or --spki HEX") }
        let serial = try serial.map { text in
            guard let bytes = Hex.decode(text), !bytes.isEmpty else { throw StoreError("serial '\(text)' is not hexadecimal") }
            return ClientCertificate.serialHex(bytes)
        }
        let `operator` = try operatorName(`operator`).text
        try write { session in
            try session.execute(
                "INSERT INTO certificate_revocations (agency, spki, serial, reason, revoked_by, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
                agency, spki, serial, reason, `operator`, Timestamp.format(time)
            )
            var details = ["reason": reason]
            details["spkiSHA256"] = spki
            details["serial"] = serial
            try Self.appendAdmin(session, AdminRecord(time: Timestamp.format(time), operator: `operator`, action: "agency.revoke-cert", target: agency, details: details))
        }
    }

    public func agencies() throws -> [Agency] {
        try database.read(Self.agencies)
    }

    /// The registry's agencies, by id.
    static func agencies(_ session: any SQLSession) throws -> [Agency] {
        try session.fetchAll("SELECT * FROM agencies ORDER BY id").map(Self.agency)
    }

    /// The ids of the registry's agencies that extend an agency the directory file listed when their certificates
    /// were added (``RegistrySnapshot/agencyExtensions``).
    public func agencyExtensions() throws -> Set<String> {
        try database.read(Self.agencyExtensions)
    }

    static func agencyExtensions(_ session: any SQLSession) throws -> Set<String> {
        Set(try session.fetchAll("SELECT id FROM agencies WHERE \(AgencyExtensionColumn.name) = 1", [SQLValue]()).map { try $0.text("id") })
    }

    /// The keys registry agencies hold that no second operator approved, ordered by agency.
    public func keysPinnedByOneOperator() throws -> [PinnedKey] {
        try database.read { session in
            let agencies = try Self.agencies(session)
            let revoked = try session.fetchAll("SELECT spki FROM certificate_revocations WHERE spki IS NOT NULL", [SQLValue]()).map { try $0.text("spki") }
            return try Self.keysPinnedByOneOperator(session, agencies: agencies, revokedSPKIs: Set(revoked))
        }
    }

    /// The keys `agencies` (the registry's) hold, not in `revokedSPKIs`, that no approved request of a second operator
    /// pinned to that agency: added while the two-person rule was off (however briefly), or before the rule covered
    /// agencies.
    static func keysPinnedByOneOperator(_ session: any SQLSession, agencies: [Agency], revokedSPKIs: Set<String>) throws -> [PinnedKey] {
        var approved: Set<PinnedKey> = []
        for row in try session.fetchAll(
            "SELECT agency, spki_pins FROM agency_requests WHERE status = 'approved' AND decided_by <> requested_by", [SQLValue]()
        ) {
            let agency = try row.text("agency")
            for spki in try decodeList(row.text("spki_pins")) { approved.insert(PinnedKey(agency: agency, spki: spki)) }
        }
        return agencies.flatMap { agency in agency.spkiPins.sorted().map { PinnedKey(agency: agency.id, spki: $0) } }
            .filter { !approved.contains($0) && !revokedSPKIs.contains($0.spki) }
    }

    public func certificateRevocations() throws -> [CertificateRevocation] {
        try database.read { session in
            try session.fetchAll("SELECT * FROM certificate_revocations ORDER BY id").map { row in
                CertificateRevocation(
                    agency: try row.text("agency"), spki: try row.optionalText("spki"), serial: try row.optionalText("serial"),
                    reason: try row.text("reason"), revokedBy: try row.text("revoked_by"), revokedAt: try row.text("revoked_at")
                )
            }
        }
    }
}
