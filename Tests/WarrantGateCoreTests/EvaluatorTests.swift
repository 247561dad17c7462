import Foundation
import Testing
@testable import WarrantGateCore

@Suite("Policy evaluation (Denver)")
struct EvaluatorTests {
    let policy: Policy
    let stages: RequestStages
    let now = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18
    let ice = Agency(id: "ice-ero", name: "ICE", category: .federalImmigration)
    let police = Agency(id: "denver-pd", name: "DPD", category: .localLawEnforcement)
    let consulate = Agency(id: "consulate-mx", name: "MX", category: .consulate)

    init() throws {
        policy = try Repository.denver()
        stages = RequestStages(policy: policy)
    }

    private func decide(_ agency: Agency, _ raw: String, method: String = "GET", warrant: String? = nil, registry: RegistrySnapshot = .empty) -> Decision {
        stages.decide(PolicyRequest(agency: agency, method: method, target: raw, body: nil, warrantReference: warrant, time: now), registry: registry)
    }

    private func document(_ reference: String, kind: DocumentKind = .judicialWarrant, status: DocumentStatus = .active, agency: String = "ice-ero",
                          subject: String = "2017-000123", scope: [String] = ["records.read"], expiresAt: Date? = nil) -> RegisteredDocument {
        RegisteredDocument(reference: reference, kind: kind, status: status, agency: agency, subjects: [subject], scope: scope,
                           expires: "2026-12-31", expiresAt: expiresAt ?? now.addingTimeInterval(86400), court: "D. Colo.", judge: "J.")
    }

    @Test("local police are permitted, with immigration fields redacted")
    func policePermitted() throws {
        let decision = decide(self.police, "/records/inmates/2017-000123")
        #expect(decision.effect == .allow)
        #expect(decision.rules == ["local-partners-records-and-visits"])
        #expect(decision.redact.contains("immigrationstatus"))
    }

    @Test("ICE: every warrant outcome has its own reason")
    func warrantOutcomes() throws {
        let registry = RegistrySnapshot(documents: [
            document("JW-OK"),
            document("I200", kind: .administrativeWarrant),
            document("DET", kind: .detainer),
            document("JW-REV", status: .revoked),
            document("JW-PEND", status: .pending),
            document("JW-OLD", expiresAt: now.addingTimeInterval(-1)),
            document("JW-CBP", agency: "cbp"),
            document("JW-OTHER", subject: "2017-000456"),
            document("JW-VISITS", scope: ["visitation.*"]),
        ], records: [], version: 1)
        let cases: [(String?, String)] = [
            (nil, "warrant_missing"), ("NOPE", "warrant_unknown"), ("I200", "warrant_not_judicial"), ("DET", "warrant_not_judicial"),
            ("JW-REV", "warrant_revoked"), ("JW-PEND", "warrant_not_active"), ("JW-OLD", "warrant_expired"),
            ("JW-CBP", "warrant_wrong_agency"), ("JW-OTHER", "warrant_wrong_subject"), ("JW-VISITS", "warrant_out_of_scope"),
        ]
        for (reference, reason) in cases {
            let decision = decide(ice, "/records/inmates/2017-000123", warrant: reference, registry: registry)
            #expect(decision.effect == .deny, "\(reference ?? "none")")
            #expect(decision.reason == reason, "\(reference ?? "none")")
            #expect(decision.rules == ["immigration-requires-judicial-warrant"])
        }
        let allowed = decide(ice, "/records/inmates/2017-000123", warrant: "JW-OK", registry: registry)
        #expect(allowed.effect == .allow)
        #expect(allowed.warrant == "JW-OK")
        #expect(allowed.obligations == ["count-for-council-report"])
        #expect(allowed.redact.contains("citizenship"))
    }

    /// A red-team pass: an I-200 registered as a judicial warrant before registration checked issuers, and active,
    /// still opened records to ICE.
    @Test("an active judicial-kind document that names an immigration authority as its issuer authorises nothing")
    func misfiledDocumentAuthorisesNothing() throws {
        var misfiled = document("JW-ICE")
        misfiled.court = "DHS / ICE Enforcement and Removal Operations"
        var officer = document("JW-SDDO")
        officer.judge = "SDDO J. Smith, Supervisory Detention and Deportation Officer"
        var form = document("JW-FORM")
        form.caseNumber = "Form I-2OO"
        var judgeIce = document("JW-JUDGE")
        judgeIce.judge = "Hon. Mary Ice"
        let registry = RegistrySnapshot(documents: [misfiled, officer, form, judgeIce], records: [], version: 1)
        for reference in ["JW-ICE", "JW-SDDO", "JW-FORM"] {
            #expect(registry.documents[reference]?.isMisfiled == true, "\(reference)")
            #expect(decide(ice, "/records/inmates/2017-000123", warrant: reference, registry: registry).reason == "warrant_misfiled", "\(reference)")
        }
        // A judge whose surname is an acronym's letters is a judge.
        #expect(decide(ice, "/records/inmates/2017-000123", warrant: "JW-JUDGE", registry: registry).effect == .allow)
    }

    @Test("release date to ICE only after an advisement of rights")
    func releaseDate() throws {
        #expect(decide(ice, "/records/inmates/2017-000789/release").reason == "advisement_or_warrant_required")
        let advised = RegistrySnapshot(documents: [], records: [
            SubjectRecord(subject: "2017-000789", kind: .advisement, givenBy: "Dep. Ortiz", givenAt: now.addingTimeInterval(-60), language: "es"),
        ], version: 2)
        let decision = decide(ice, "/records/inmates/2017-000789/release", registry: advised)
        #expect(decision.effect == .allow)
        #expect(decision.rules == ["immigration-release-notification-after-advisement"])
        // An advisement recorded for the future does not count.
        let future = RegistrySnapshot(documents: [], records: [
            SubjectRecord(subject: "2017-000789", kind: .advisement, givenBy: "Dep. Ortiz", givenAt: now.addingTimeInterval(60), language: "es"),
        ], version: 3)
        #expect(decide(ice, "/records/inmates/2017-000789/release", registry: future).effect == .deny)
        // A consent is not an advisement.
        let consent = RegistrySnapshot(documents: [], records: [
            SubjectRecord(subject: "2017-000789", kind: .consent, givenBy: "Dep. Ortiz", givenAt: now.addingTimeInterval(-60)),
        ], version: 4)
        #expect(decide(ice, "/records/inmates/2017-000789/release", registry: consent).effect == .deny)
    }

    @Test("default deny: a consulate gets visits but not records")
    func defaultDeny() throws {
        #expect(decide(consulate, "/visitation/visits?booking=2017-000123").effect == .allow)
        let records = decide(consulate, "/records/inmates/2017-000123")
        #expect(records.effect == .deny)
        #expect(records.reason == "no_matching_permit")
        #expect(records.rules.isEmpty)
    }

    @Test("the stages refuse before the policy with the gateway's own reasons, as the gateway does")
    func stageRefusals() {
        #expect(decide(police, "/records/../../etc/passwd").reason == GatewayReason.ambiguousPath.rawValue)
        #expect(decide(police, "/records/nothing-here").reason == GatewayReason.noRoute.rawValue)
        #expect(decide(police, "/records/inmates/2017-0001234").reason == GatewayReason.subjectInvalid.rawValue)
        #expect(decide(police, "/visitation/visits", method: "POST").reason == GatewayReason.bodyInvalid.rawValue)
        #expect(ReasonCatalog.entry(for: "consulates_barred").status == 403)
        #expect(ReasonCatalog.entry(for: GatewayReason.unexpectedBody.rawValue).status == 400)
    }

    @Test("a registry that errors denies instead of skipping the rule")
    func errorMeansDeny() throws {
        let decision = stages.decide(
            PolicyRequest(agency: ice, method: "GET", target: "/records/inmates/2017-000123", body: nil, warrantReference: "JW-OK", time: now),
            registry: UnreadableRegistry()
        )
        #expect(decision.effect == .deny)
        #expect(decision.reason == "policy_error")
        // The first rule in file order that consults the registry: the public-data test reads the inmate's facts.
        #expect(decision.rules == ["public-locator-for-everyone"])
    }

    @Test("a request meets only the rules its agency's category can satisfy, and every rule whose category comes later")
    func rulesSlicedByLeadingCategory() throws {
        let policy = try OneRoutePolicy.parse(rules: """
            - { id: consular-visits, effect: permit, when: { category: consulate, advisement: recorded } }
            - { id: late-category, effect: permit, when: { advisement: recorded, category: consulate } }
            - { id: police, effect: permit, when: { all: [ { category: [local-law-enforcement, court] }, { action: records.* } ] } }
            """)
        let slices = RuleSlices(policy.rules)
        #expect(slices.rules(for: .consulate).map(\.id) == ["consular-visits", "late-category"])
        #expect(slices.rules(for: .localLawEnforcement).map(\.id) == ["late-category", "police"])
        #expect(slices.rules(for: .federalImmigration).map(\.id) == ["late-category"])

        // A rule whose category comes after a condition that errors is still evaluated for every agency, and denies.
        let stages = RequestStages(policy: policy)
        func decide(_ agency: Agency) -> Decision {
            stages.decide(OneRoutePolicy.request(by: agency, at: now), registry: UnreadableRegistry())
        }
        #expect(decide(police).reason == GatewayReason.policyError.rawValue)
        #expect(decide(police).rules == ["late-category"])
        #expect(decide(consulate).rules == ["consular-visits"])
    }

    @Test("forbid overrides permit, and effective dates are honoured")
    func forbidOverridesPermit() throws {
        let policy = try OneRoutePolicy.parse(rules: """
            - { id: everyone, effect: permit, when: always }
            - { id: no-consulates, effect: forbid, when: { category: consulate }, reason: consulates_barred }
            - { id: old-rule, effect: forbid, when: always, reason: expired_rule, effective: { until: "2020-12-31" } }
            """)
        let stages = RequestStages(policy: policy)
        func decide(_ agency: Agency) -> Decision {
            stages.decide(OneRoutePolicy.request(by: agency, at: now), registry: RegistrySnapshot.empty)
        }
        #expect(decide(police).effect == .allow)
        let barred = decide(consulate)
        #expect(barred.effect == .deny)
        #expect(barred.reason == "consulates_barred")
        #expect(barred.rules == ["no-consulates"])
    }
}

/// A registry that cannot be read: every lookup throws.
private struct UnreadableRegistry: DocumentRegistry {
    func document(reference: String) throws -> RegisteredDocument? { throw CocoaError(.fileReadUnknown) }
    func documents(subject: String) throws -> [RegisteredDocument] { throw CocoaError(.fileReadUnknown) }
    func records(subject: String) throws -> [SubjectRecord] { throw CocoaError(.fileReadUnknown) }
    func facts(subject: String) throws -> [String: String] { throw CocoaError(.fileReadUnknown) }
}
