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

/// Agencies and their certificates, managed with the CLI. These override `agencies.yaml`, which stays the reviewed
/// starting point.
extension Registry {
    /// Adds an agency, or replaces the CLI's earlier entry for it, pinned to a certificate's SPKI SHA-256.
    public func addAgency(id: String, name: String, category: AgencyCategory, spkiPins: [String], operator: String, at time: Date = Date()) throws {
        guard Identifier.isValid(id) else { throw StoreError("agency id '\(id)' must be lower-case letters, digits and '-'") }
        guard !spkiPins.isEmpty else { throw StoreError("an agency needs at least one certificate (--cert)") }
        try requireText(name, "the agency's name (--name)")
        let `operator` = try operatorName(`operator`).text
        try write { session in
            let previous = try session.fetchOne("SELECT spki_pins FROM agencies WHERE id = ?", id)
            var pins = try previous.map { try Self.decodeList($0.text("spki_pins")) } ?? []
            for pin in spkiPins where !pins.contains(pin) { pins.append(pin) }
            try session.execute(
                """
                INSERT INTO agencies (id, name, category, spki_pins, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET name = excluded.name, category = excluded.category, spki_pins = excluded.spki_pins
                """,
                id, name, category.rawValue, Self.encodeList(pins), `operator`, Timestamp.format(time)
            )
            try Self.appendAdmin(session, AdminRecord(
                time: Timestamp.format(time), operator: `operator`, action: previous == nil ? "agency.add" : "agency.update", target: id,
                details: ["name": name, "category": category.rawValue, "spkiSHA256": spkiPins.joined(separator: ",")]
            ))
        }
    }

    /// Revokes a certificate of an agency by SPKI SHA-256 or serial; refused from the gateway's next request on.
    public func revokeCertificate(agency: String, spki: String?, serial: String?, reason: String, operator: String, at time: Date = Date()) throws {
        try requireText(reason, "a revocation reason")
        try refuseImmigrationStatus(reason, "a revocation reason")
        guard spki != nil || serial != nil else { throw StoreError("name the certificate: --cert FILE or --spki HEX") }
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
        try database.read { session in try session.fetchAll("SELECT * FROM agencies ORDER BY id").map(Self.agency) }
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
