import Foundation
import Testing
@testable import WarrantGateCore

/// The policy language's v2 features, each parsed from a small policy and decided through ``RequestStages`` as the
/// gateway decides: open categories, document kinds and tests, consent status, request facts, dated facts, public
/// data, obligations, allow-lists and lifts, composition by include, and the lint warnings.
@Suite("Policy language v2")
struct PolicyLanguageTests {
    static let subject = "2017-000123"
    static let now = Timestamp.parse("2026-11-25T12:00:00Z")!
    static let ice = Agency(id: "ice-ero", name: "ICE", category: .federalImmigration)
    static let police = Agency(id: "city-pd", name: "PD", category: .localLawEnforcement)
    static let counsel = Agency(id: "public-defender", name: "PD", category: .defenseCounsel)
    static let prosecutor = Agency(id: "da", name: "DA", category: AgencyCategory(rawValue: "prosecutor")!)

    /// A policy's head and routes; each test appends its own sections and rules.
    static let head = """
        policy: t
        time-zone: America/Los_Angeles
        subject-format: "####-######"
        routes:
          - id: record
            method: GET
            path: /records/inmates/{booking}
            action: records.read
            subject: { path: booking }
            upstream: records
            data: [record]
          - id: release
            method: GET
            path: /records/inmates/{booking}/release
            action: records.release-date
            subject: { path: booking }
            upstream: records
            data: [release-date]
          - id: status
            method: GET
            path: /records/inmates/{booking}/status
            action: records.status
            subject: { path: booking }
            upstream: records
            data: [custody-status, release-date]
          - id: locator
            method: GET
            path: /records/locator/{booking}
            action: records.locator
            subject: { path: booking }
            upstream: records
            public: true
          - id: stats
            method: GET
            path: /records/stats
            action: records.stats
            upstream: records
          - id: note
            method: POST
            path: /records/inmates/{booking}/notes
            action: records.note
            subject: { path: booking }
            upstream: records
          - id: interview
            method: POST
            path: /visitation/interviews/in-person
            action: interview.in-person
            subject: { body: bookingNumber }
            upstream: visitation
            data: [interview]
          - id: release-notification
            method: POST
            path: /custody/release-notifications
            action: custody.release-notification
            subject: { body: bookingNumber }
            upstream: custody
            data: [release-date]

        """

    static func parse(_ rest: String, file: String = "inline.yaml") throws -> Policy {
        try PolicyParser.parse(head + rest, file: file)
    }

    /// The parse error of `rest` after the head, or nil if it parses.
    static func parseError(_ rest: String) -> String? {
        do {
            _ = try parse(rest)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("a route's query names parameters no rule's subject or body member may be read as, on no SOAP route")
    func routeQuery() throws {
        func route(_ query: String, subject: String = "{ path: booking }", path: String = "/records/search/{booking}") -> String {
            """
              - id: search
                method: GET
                path: \(path)
                action: records.read
                subject: \(subject)
                upstream: records
                query: \(query)
            rules:
              - id: r
                effect: permit
                when: { action: records.read }
            """
        }
        // The head's routes end its `routes:` list, so these go on it.
        #expect(Self.parseError(route("[page, sort, $top]")) == nil)
        let cases: [(String, String)] = [
            (route("[Booking]"), "may be read as 'booking'"), (route("[booking_number]", subject: "{ query: bookingNumber }", path: "/records/search"), "may be read as"),
            (route("[page, page]"), "may be read as one"), (route("[view, View]"), "may be read as one"),
            (route("[page, page.size]"), "may be read as one"), (route("[visit]", path: "/records/search/{booking}/{visit}"), "may be read as 'visit'"), (route("['a b']"), "must be 1 to 64 letters"), (route(#"["visit[booking]"]"#), "must be 1 to 64"),
        ]
        for (text, why) in cases {
            let error = Self.parseError(text)
            #expect(error?.contains(why) == true, "\(text): \(error ?? "parsed")")
        }
    }

    static func decide(
        _ policy: Policy, _ agency: Agency, _ method: String = "GET", _ path: String = "/records/inmates/2017-000123", body: String? = nil,
        warrant: String? = nil, headers: [String: [String]] = [:], registry: RegistrySnapshot = .empty, at time: Date = now
    ) -> Decision {
        RequestStages(policy: policy).decide(
            PolicyRequest(
                agency: agency, method: method, target: path, body: body.map { Array($0.utf8) }, warrantReference: warrant,
                headers: PolicyRequest.labelling(body.map { Array($0.utf8) }, in: headers), time: time
            ),
            registry: registry
        )
    }

    /// Every family of actions the tests' policies name: a document's scope unless a test gives one (a search warrant
    /// covers no custody action, which registration refuses it).
    static let everyFamily = ["records.*", "custody.*", "interview.*", "visitation.*", "facility.*"]

    static func document(
        _ reference: String, _ kind: DocumentKind, agency: String = "ice-ero", status: DocumentStatus = .active, scope: [String]? = nil,
        court: String? = "U.S. District Court, D. Colo.", judge: String? = "Hon. R. Jackson", registered: Date? = nil
    ) -> RegisteredDocument {
        let scope = scope ?? everyFamily.filter { kind != .searchWarrant || $0 != "custody.*" }
        return RegisteredDocument(
            reference: reference, kind: kind, status: status, agency: agency, subjects: [subject], scope: scope, expires: "2099-12-31",
            expiresAt: Timestamp.parse("2100-01-01T00:00:00Z")!, court: court, judge: judge, registeredAt: registered ?? now.addingTimeInterval(-86400)
        )
    }

    static func registry(documents: [RegisteredDocument] = [], records: [SubjectRecord] = [], facts: [String: String] = [:]) -> RegistrySnapshot {
        RegistrySnapshot(documents: documents, records: records, facts: facts.isEmpty ? [:] : [subject: facts], version: 1)
    }

    static func record(_ kind: SubjectRecordKind, hoursAgo: Double, attorney: Bool = false, scope: [String] = [], subject: String = subject) -> SubjectRecord {
        SubjectRecord(subject: subject, kind: kind, givenBy: "test", givenAt: now.addingTimeInterval(-hoursAgo * 3600), attorneyRequired: attorney, scope: scope)
    }

    static let interviewBody = #"{"bookingNumber":"2017-000123"}"#

    // MARK: Categories

    @Test("an open category decides like a built-in one; a malformed category name is refused")
    func openCategories() throws {
        let policy = try Self.parse("""
            rules:
              - id: prosecutors-read
                effect: permit
                when: { category: [prosecutor, city-agency], action: [records.read] }
            """)
        #expect(Self.decide(policy, Self.prosecutor).effect == .allow)
        #expect(Self.decide(policy, Self.prosecutor).rules == ["prosecutors-read"])
        #expect(Self.decide(policy, Self.police).reason == "no_matching_permit")
        #expect(policy.categoriesTested.contains(AgencyCategory(rawValue: "city-agency")!))
        let error = Self.parseError("""
            rules:
              - id: r
                effect: permit
                when: { category: [Prosecutor] }
            """)
        #expect(error?.contains("not a category name") == true)
        #expect(error?.contains("federal-immigration") == true)
    }

    // MARK: Documents

    static let warrantPolicy = """
        rules:
          - id: ice-needs-federal-criminal-warrant
            effect: forbid
            when: { category: federal-immigration }
            unless: { warrant: { kind: [criminal-arrest-warrant, search-warrant], court: ["U.S. District Court*"], judge: recorded } }
            reason: warrant-failure
          - id: ice-with-warrant
            effect: permit
            when: { category: federal-immigration, warrant: verified }
        """

    @Test("warrant: kind, court and judge tests; a verified warrant the test refuses is warrant_not_accepted, not policy_error")
    func warrantTests() throws {
        let policy = try Self.parse(Self.warrantPolicy)
        let registry = Self.registry(documents: [
            Self.document("ARREST", .criminalArrestWarrant),
            Self.document("ARREST-LOWER", .criminalArrestWarrant, court: "u.s. district court for the district of colorado"),
            Self.document("SEARCH", .searchWarrant),
            Self.document("ORDER", .courtOrder),
            Self.document("STATE", .criminalArrestWarrant, court: "Denver County Court"),
            Self.document("NO-COURT", .criminalArrestWarrant, court: nil),
            Self.document("NO-JUDGE", .criminalArrestWarrant, judge: nil),
            Self.document("BLANK-JUDGE", .criminalArrestWarrant, judge: "  "),
            Self.document("I247N", .notificationRequest),
            Self.document("CONSULAR", .consularNotification),
            Self.document("OTHER-AGENCY", .criminalArrestWarrant, agency: "cbp"),
        ])
        for accepted in ["ARREST", "ARREST-LOWER", "SEARCH"] {
            let decision = Self.decide(policy, Self.ice, warrant: accepted, registry: registry)
            #expect(decision.effect == .allow, "\(accepted)")
            #expect(decision.warrant == accepted)
        }
        let expectations: [(String?, String)] = [
            ("ORDER", "warrant_not_accepted"), ("STATE", "warrant_not_accepted"), ("NO-COURT", "warrant_not_accepted"),
            ("NO-JUDGE", "warrant_not_accepted"), ("BLANK-JUDGE", "warrant_not_accepted"), ("I247N", "warrant_not_judicial"),
            ("CONSULAR", "warrant_not_judicial"), ("OTHER-AGENCY", "warrant_wrong_agency"), (nil, "warrant_missing"), ("NOPE", "warrant_unknown"),
        ]
        for (reference, reason) in expectations {
            let decision = Self.decide(policy, Self.ice, warrant: reference, registry: registry)
            #expect(decision.effect == .deny, "\(reference ?? "none")")
            #expect(decision.reason == reason, "\(reference ?? "none")")
            #expect(decision.rules == ["ice-needs-federal-criminal-warrant"], "\(reference ?? "none")")
        }
    }

    @Test("warrant: nature: each kind's nature; a non-judicial kind cannot be named in warrant:")
    func warrantNature() throws {
        let policy = try Self.parse("""
            rules:
              - id: criminal-only
                effect: forbid
                when: { category: federal-immigration }
                unless: { warrant: { nature: [criminal] } }
                reason: warrant-failure
              - id: ice-with-warrant
                effect: permit
                when: { category: federal-immigration, warrant: verified }
            """)
        let kinds: [(DocumentKind, Bool)] = [
            (.judicialWarrant, true), (.criminalArrestWarrant, true), (.searchWarrant, true), (.probableCauseDetermination, true),
            (.courtOrder, false), (.judicialSubpoena, false),
        ]
        for (kind, accepted) in kinds {
            let registry = Self.registry(documents: [Self.document("D", kind)])
            let decision = Self.decide(policy, Self.ice, warrant: "D", registry: registry)
            #expect(decision.effect == (accepted ? .allow : .deny), "\(kind)")
            if !accepted { #expect(decision.reason == "warrant_not_accepted", "\(kind)") }
        }
        #expect(DocumentKind.judicialSubpoena.nature == .unspecified)
        #expect(DocumentKind.notificationRequest.nature == .civil)
        #expect(!DocumentKind.notificationRequest.isJudicial && !DocumentKind.consularNotification.isJudicial)
        for kind in ["notification-request", "detainer", "administrative-warrant", "consular-notification"] {
            let error = Self.parseError("""
                rules:
                  - id: r
                    effect: permit
                    when: { warrant: { kind: [\(kind)] } }
                """)
            #expect(error?.contains("is not a judicial document kind") == true, "\(kind)")
            #expect(error?.contains("criminal-arrest-warrant") == true, "the error lists the judicial kinds")
        }
        #expect(Self.parseError("rules:\n  - id: r\n    effect: permit\n    when: { warrant: { nature: [martial] } }")?.contains("criminal, civil, unspecified") == true)
    }

    @Test("warrant-failure whose unless tests more than the warrant: a verified warrant gives policy_error, and check warns")
    func warrantFailureWithOtherConditions() throws {
        let policy = try Self.parse("""
            rules:
              - id: ice-warrant-and-advisement
                effect: forbid
                when: { category: federal-immigration }
                unless: { warrant: { kind: [criminal-arrest-warrant] }, advisement: recorded }
                reason: warrant-failure
              - id: ice-with-warrant
                effect: permit
                when: { category: federal-immigration, warrant: verified }
            """)
        #expect(policy.warnings.contains { $0.message.contains("ice-warrant-and-advisement") && $0.message.contains("policy_error") })
        let registry = Self.registry(documents: [Self.document("ARREST", .criminalArrestWarrant)])
        // The warrant verifies and is the right kind, the advisement is missing: which part failed is not a warrant failure.
        let decision = Self.decide(policy, Self.ice, warrant: "ARREST", registry: registry)
        #expect(decision.effect == .deny)
        #expect(decision.reason == "policy_error")
        // No warrant at all: its own failure.
        #expect(Self.decide(policy, Self.ice, registry: registry).reason == "warrant_missing")
        let advised = Self.registry(documents: [Self.document("ARREST", .criminalArrestWarrant)], records: [Self.record(.advisement, hoursAgo: 1)])
        #expect(Self.decide(policy, Self.ice, warrant: "ARREST", registry: advised).effect == .allow)
    }

    /// A review of the named-document reading: a forbid that refuses when a document is on file must see every one,
    /// whatever document the request names; a permit reads only the named one.
    @Test("a document test reads only the named document where it would allow, every one where it would refuse")
    func documentTestPolarity() throws {
        let policy = try Self.parse("""
            rules:
              - id: notify-on-i247n
                effect: permit
                when:
                  category: federal-immigration
                  action: [custody.release-notification]
                  document: { kind: [notification-request], covers-action: true }
              - id: no-notice-while-a-detainer-is-on-file
                effect: forbid
                when:
                  category: federal-immigration
                  document: { kind: [detainer] }
                reason: criminal_warrant_required
              - id: no-notice-without-a-court-order
                effect: forbid
                when: { category: federal-immigration, action: [custody.release-notification] }
                unless: { not: { not: { document: { kind: [court-order] } } } }
                reason: court_order_required
            """)
        let path = "/custody/release-notifications"
        let onFile = [Self.document("N", .notificationRequest), Self.document("D", .detainer), Self.document("O", .courtOrder)]
        func notify(named: String?, _ documents: [RegisteredDocument] = onFile) -> Decision {
            Self.decide(policy, Self.ice, "POST", path, body: Self.interviewBody, warrant: named, registry: Self.registry(documents: documents))
        }
        // The detainer on file refuses, whichever document the request names; `policy explain` reads it alike (a
        // review found its trace of the forbid reading only the named document, and saying it did not apply).
        for named in ["N", "O", "UNKNOWN-1", nil] as [String?] {
            let decision = notify(named: named)
            #expect(decision.effect == .deny && decision.rules.contains("no-notice-while-a-detainer-is-on-file"), "\(named ?? "none")")
            let stages = RequestStages(policy: policy)
            let input = try stages.classify(PolicyRequest(
                agency: Self.ice, method: "POST", target: path, body: Array(Self.interviewBody.utf8), warrantReference: named,
                headers: PolicyRequest.labelling(Array(Self.interviewBody.utf8), in: [:]), time: Self.now
            )).input
            let traces = stages.evaluator.explain(input, registry: Self.registry(documents: onFile)).traces
            let forbids = traces.filter { $0.applied && $0.rule.effect == .forbid }.map(\.rule.id)
            #expect(Set(forbids) == Set(decision.rules), "\(named ?? "none"): \(traces.map(\.note))")
        }
        // Without it: a permit (and an unless, read twice negated) takes only the document named.
        let noDetainer = onFile.filter { $0.reference != "D" }
        #expect(notify(named: nil, noDetainer).effect == .allow)
        #expect(notify(named: "N", noDetainer).reason == "court_order_required", "the unless reads only the named document")
        #expect(notify(named: "O", noDetainer).reason == "no_matching_permit", "the permit reads only the named document")
    }

    /// An attacker's pass on the policy language: `document:` accepts any kind the policy lets through, so a permit
    /// testing `nature: [civil]` (meant as a civil court order) let ICE in on its own I-247A, and `status: [pending]`
    /// on a registration no second person had approved, without a word from `policy check`.
    @Test("a document test that may let ICE in names its kinds, accepts only active documents and covers the action, or is warned of")
    func looseDocumentTests() throws {
        func warnings(_ rules: String) throws -> [String] { try Self.parse(rules).warnings.map(\.message) }
        let loose = try warnings("""
            rules:
              - id: ice-with-court-paper
                effect: permit
                when: { category: federal-immigration, action: custody.*, document: { nature: [civil], status: [active, pending] } }
              - id: no-release-notice
                effect: forbid
                when: { category: federal-immigration, action: [custody.release-notification] }
                unless: { not: { not: { document: { kind: [court-order] } } } }
                reason: court_order_required
            """)
        #expect(loose.contains("rule 'ice-with-court-paper' may let a federal-immigration agency in on a document test that names no kind, which ICE's own forms (I-200, I-205, I-247A, I-247N) pass; list the kinds it accepts"), "\(loose)")
        #expect(loose.contains { $0.hasPrefix("rule 'no-release-notice' may let") && $0.contains("does not require covers-action: true") }, "\(loose)")
        let pending = try warnings("rules:\n  - { id: p, effect: permit, when: { category: federal-immigration, document: { kind: [court-order], status: [active, pending], covers-action: true } } }\n")
        #expect(pending == ["rule 'p' may let a federal-immigration agency in on a document test that accepts a document that is pending; only an active one should let a request in"], "\(pending)")
        // Named kinds and natures that no ICE form has, active and covering the action; or a rule for other agencies,
        // or a test that refuses (a forbid's when): no warning.
        for rules in [
            "- { id: p, effect: permit, when: { category: federal-immigration, document: { kind: [notification-request], covers-action: true } } }",
            "- { id: p, effect: permit, when: { category: federal-immigration, document: { nature: [criminal], covers-action: true } } }",
            "- { id: p, effect: permit, when: { category: local-law-enforcement, document: { nature: [civil] } } }",
            "- { id: f, effect: forbid, when: { category: federal-immigration, document: { kind: [detainer] } }, reason: criminal_warrant_required }",
        ] {
            #expect(try warnings("rules:\n  " + rules + "\n").isEmpty, "\(rules)")
        }
    }

    @Test("document: kind, nature, court, judge, status, covers-action and max-age; only the agency's own documents")
    func documentCondition() throws {
        let policy = try Self.parse("""
            rules:
              - id: notify-on-i247n
                effect: permit
                when:
                  category: federal-immigration
                  action: [custody.release-notification]
                  document: { kind: [notification-request], nature: [civil], covers-action: true, max-age: 30d }
              - id: court-orders-for-counsel
                effect: permit
                when:
                  category: defense-counsel
                  document: { kind: [court-order], court: ["*Superior Court*"], judge: recorded, status: [active, expired] }
            """)
        let body = Self.interviewBody
        let path = "/custody/release-notifications"
        func notify(_ documents: [RegisteredDocument]) -> Decision {
            Self.decide(policy, Self.ice, "POST", path, body: body, registry: Self.registry(documents: documents))
        }
        #expect(notify([Self.document("N", .notificationRequest)]).effect == .allow)
        #expect(notify([Self.document("N", .notificationRequest, agency: "cbp")]).effect == .deny)
        #expect(notify([Self.document("N", .detainer)]).effect == .deny)
        #expect(notify([Self.document("N", .notificationRequest, status: .revoked)]).effect == .deny)
        #expect(notify([Self.document("N", .notificationRequest, scope: ["records.*"])]).effect == .deny)
        #expect(notify([Self.document("N", .notificationRequest, registered: Self.now.addingTimeInterval(-31 * 86400))]).effect == .deny)
        #expect(notify([]).reason == "no_matching_permit")

        func counsel(_ documents: [RegisteredDocument]) -> Decision {
            Self.decide(policy, Self.counsel, registry: Self.registry(documents: documents.map {
                var document = $0
                document.agency = "public-defender"
                return document
            }))
        }
        #expect(counsel([Self.document("O", .courtOrder, court: "Los Angeles Superior Court")]).effect == .allow)
        #expect(counsel([Self.document("O", .courtOrder, status: .expired, court: "Los Angeles Superior Court")]).effect == .allow)
        #expect(counsel([Self.document("O", .courtOrder, court: "U.S. District Court")]).effect == .deny)
        #expect(counsel([Self.document("O", .courtOrder, court: nil)]).effect == .deny)
        #expect(counsel([Self.document("O", .courtOrder, court: "Los Angeles Superior Court", judge: nil)]).effect == .deny)
        #expect(counsel([Self.document("O", .judicialSubpoena, court: "Los Angeles Superior Court")]).effect == .deny)
        let error = Self.parseError("rules:\n  - id: r\n    effect: permit\n    when: { document: { kind: [writ] } }")
        #expect(error?.contains("notification-request") == true, "the error lists the document kinds")
    }

    @Test("document max-age counts from the instant of registration")
    func documentMaxAge() throws {
        let policy = try Self.parse("rules:\n  - id: r\n    effect: permit\n    when: { document: { kind: [notification-request], max-age: 30d } }\n")
        func decide(registered: String) -> Effect {
            Self.decide(policy, Self.ice, registry: Self.registry(documents: [Self.document("N", .notificationRequest, registered: Self.at(registered))]),
                        at: Self.at("2026-11-26T21:00:00Z")).effect
        }
        #expect(decide(registered: "2026-10-27T21:00:00Z") == .allow, "exactly 30 days")
        #expect(decide(registered: "2026-10-27T20:00:00Z") == .deny, "30 days and an hour")
    }

    // MARK: Consent

    static let consentPolicy = """
        rules:
          - id: interview-with-consent
            effect: permit
            when: { category: federal-immigration, action: [interview.in-person], consent: { status: [given] } }
          - id: interview-with-attorney
            effect: permit
            when: { category: defense-counsel, action: [interview.in-person], consent: { attorney: required } }
          - id: refused-interviews-logged
            effect: forbid
            when: { category: local-law-enforcement, consent: { status: [declined, withdrawn] } }
            reason: interview_refused
          - id: police-interviews
            effect: permit
            when: { category: local-law-enforcement, action: [interview.in-person] }
        """

    @Test("consent: the latest record decides; withdrawn after given denies; future records do not count")
    func consentLatestWins() throws {
        let policy = try Self.parse(Self.consentPolicy)
        func interview(_ agency: Agency, _ records: [SubjectRecord]) -> Decision {
            Self.decide(policy, agency, "POST", "/visitation/interviews/in-person", body: Self.interviewBody, registry: Self.registry(records: records))
        }
        #expect(interview(Self.ice, [Self.record(.consent, hoursAgo: 1)]).effect == .allow)
        #expect(interview(Self.ice, []).effect == .deny)
        #expect(interview(Self.ice, [Self.record(.consent, hoursAgo: 2), Self.record(.consentWithdrawn, hoursAgo: 1)]).effect == .deny)
        // Recorded out of order: the later one still decides.
        #expect(interview(Self.ice, [Self.record(.consentWithdrawn, hoursAgo: 1), Self.record(.consent, hoursAgo: 2)]).effect == .deny)
        #expect(interview(Self.ice, [Self.record(.consentWithdrawn, hoursAgo: 2), Self.record(.consent, hoursAgo: 1)]).effect == .allow)
        #expect(interview(Self.ice, [Self.record(.consentDeclined, hoursAgo: 1)]).effect == .deny)
        #expect(interview(Self.ice, [Self.record(.consentWithdrawn, hoursAgo: 2), Self.record(.consent, hoursAgo: -1)]).effect == .deny)
        // Another inmate's consent is not this inmate's.
        #expect(interview(Self.ice, [Self.record(.consent, hoursAgo: 1, subject: "2017-000456")]).effect == .deny)
        // Advisements and authorizations are not about consent: they do not override a withdrawal.
        #expect(interview(Self.ice, [Self.record(.consentWithdrawn, hoursAgo: 3), Self.record(.advisement, hoursAgo: 1)]).effect == .deny)

        let withdrawn = interview(Self.police, [Self.record(.consent, hoursAgo: 3), Self.record(.consentWithdrawn, hoursAgo: 2)])
        #expect(withdrawn.reason == "interview_refused")
        #expect(interview(Self.police, [Self.record(.consentDeclined, hoursAgo: 2), Self.record(.consent, hoursAgo: 1)]).effect == .allow)
        #expect(interview(Self.police, []).effect == .allow, "no record is no refusal")
    }

    @Test("consent attorney: required and not-required filter the given consent; they apply only to given")
    func consentAttorney() throws {
        let policy = try Self.parse(Self.consentPolicy)
        func interview(_ records: [SubjectRecord]) -> Decision {
            Self.decide(policy, Self.counsel, "POST", "/visitation/interviews/in-person", body: Self.interviewBody, registry: Self.registry(records: records))
        }
        #expect(interview([Self.record(.consent, hoursAgo: 1, attorney: true)]).effect == .allow)
        #expect(interview([Self.record(.consent, hoursAgo: 1, attorney: false)]).effect == .deny)
        // An earlier consent with an attorney does not survive a later one without.
        #expect(interview([Self.record(.consent, hoursAgo: 2, attorney: true), Self.record(.consent, hoursAgo: 1)]).effect == .deny)
        let notRequired = try Self.parse("""
            rules:
              - id: r
                effect: permit
                when: { consent: { attorney: not-required, within: 2h } }
            """)
        func decide(_ records: [SubjectRecord]) -> Decision {
            Self.decide(notRequired, Self.ice, registry: Self.registry(records: records))
        }
        #expect(decide([Self.record(.consent, hoursAgo: 1)]).effect == .allow)
        #expect(decide([Self.record(.consent, hoursAgo: 1, attorney: true)]).effect == .deny)
        #expect(decide([Self.record(.consent, hoursAgo: 3)]).effect == .deny, "older than within")
        let error = Self.parseError("rules:\n  - id: r\n    effect: permit\n    when: { consent: { status: [withdrawn], attorney: required } }")
        #expect(error?.contains("only to status given") == true)
        #expect(Self.parseError("rules:\n  - id: r\n    effect: permit\n    when: { consent: { status: [revoked] } }")?.contains("given, declined, withdrawn") == true)
    }

    // MARK: Request facts

    static let requestFactPolicy = """
        request-facts:
          purpose: { header: Request-Purpose, values: [criminal-investigation, immigration-enforcement], description: what the caller says it is for }
          attorney-present: { body: attorneyPresent, values: ["true", "false"], description: whether counsel attends }
        rules:
          - id: criminal-investigations
            effect: permit
            when: { category: local-law-enforcement, action: [records.read], request: { purpose: [criminal-investigation] } }
          - id: no-stated-purpose-notes
            effect: permit
            when: { category: local-law-enforcement, action: [records.note], not: { request: { purpose: [immigration-enforcement] } } }
          - id: interviews-with-attorney
            effect: permit
            when: { category: defense-counsel, action: [interview.in-person], request: { attorney-present: ["true"] } }
        """

    static func classify(_ policy: Policy, _ agency: Agency, _ method: String = "GET", _ path: String = "/records/inmates/2017-000123",
                         body: String? = nil, headers: [String: [String]] = [:]) -> Result<[String: String], StageRefusal> {
        do {
            let (_, input) = try RequestStages(policy: policy).classify(PolicyRequest(
                agency: agency, method: method, target: path, body: body.map { Array($0.utf8) }, warrantReference: nil,
                headers: PolicyRequest.labelling(body.map { Array($0.utf8) }, in: headers), time: now
            ))
            return .success(input.requestFacts)
        } catch {
            return .failure(error)
        }
    }

    @Test("a header request fact: a declared value decides; an undeclared one is refused with the values listed; twice is refused")
    func headerFacts() throws {
        let policy = try Self.parse(Self.requestFactPolicy)
        #expect(policy.requestFacts.first?.source == .header("request-purpose"))
        let stated = ["request-purpose": ["criminal-investigation"]]
        #expect(try Self.classify(policy, Self.police, headers: stated).get() == ["purpose": "criminal-investigation"])
        #expect(Self.decide(policy, Self.police, headers: stated).rules == ["criminal-investigations"])
        #expect(Self.decide(policy, Self.police, headers: ["request-purpose": ["immigration-enforcement"]]).reason == "no_matching_permit")
        // Absent: the condition is false, and its negation true.
        #expect(Self.decide(policy, Self.police).reason == "no_matching_permit")
        #expect(try Self.classify(policy, Self.police).get().isEmpty)
        #expect(Self.decide(policy, Self.police, "POST", "/records/inmates/2017-000123/notes").rules == ["no-stated-purpose-notes"])

        for value in ["Criminal-Investigation", "criminal-investigation, immigration-enforcement", "other", "", String(repeating: "x", count: 100)] {
            let result = Self.classify(policy, Self.police, headers: ["request-purpose": [value]])
            guard case .failure(let refusal) = result else {
                Issue.record("'\(value)' was accepted")
                continue
            }
            #expect(refusal.reason == .requestFactInvalid)
            #expect(refusal.detail?.contains("criminal-investigation, immigration-enforcement") == true, "\(refusal.detail ?? "")")
            #expect(Self.decide(policy, Self.police, headers: ["request-purpose": [value]]).reason == "request_fact_invalid")
        }
        // A long value is not echoed.
        if case .failure(let refusal) = Self.classify(policy, Self.police, headers: ["request-purpose": [String(repeating: "x", count: 100)]]) {
            #expect(refusal.detail?.contains("xxxxxxxxxx") == false)
        }
        let twice = Self.classify(policy, Self.police, headers: ["request-purpose": ["criminal-investigation", "criminal-investigation"]])
        #expect(twice.failure?.reason == .requestFactInvalid)
        #expect(twice.failure?.detail?.contains("more than once") == true)
    }

    @Test("a body request fact: read only on routes whose subject is in the body; undeclared, nested or repeated members refused")
    func bodyFacts() throws {
        let policy = try Self.parse(Self.requestFactPolicy)
        let path = "/visitation/interviews/in-person"
        let attending = #"{"bookingNumber":"2017-000123","attorneyPresent":true}"#
        #expect(try Self.classify(policy, Self.counsel, "POST", path, body: attending).get() == ["attorney-present": "true"])
        #expect(Self.decide(policy, Self.counsel, "POST", path, body: attending).effect == .allow)
        #expect(Self.decide(policy, Self.counsel, "POST", path, body: #"{"bookingNumber":"2017-000123","attorneyPresent":"true"}"#).effect == .allow)
        #expect(Self.decide(policy, Self.counsel, "POST", path, body: #"{"bookingNumber":"2017-000123","attorneyPresent":false}"#).effect == .deny)
        #expect(Self.decide(policy, Self.counsel, "POST", path, body: Self.interviewBody).reason == "no_matching_permit")

        let undeclared = Self.classify(policy, Self.counsel, "POST", path, body: #"{"bookingNumber":"2017-000123","attorneyPresent":"yes"}"#)
        #expect(undeclared.failure?.reason == .requestFactInvalid)
        #expect(undeclared.failure?.detail?.contains("true, false") == true)
        let nested = Self.decide(policy, Self.counsel, "POST", path, body: #"{"bookingNumber":"2017-000123","attorneyPresent":{"v":true}}"#)
        #expect(nested.effect == .deny)
        #expect(nested.reason == "body_invalid")
        let repeated = Self.decide(policy, Self.counsel, "POST", path, body: #"{"bookingNumber":"2017-000123","attorneyPresent":false,"attorneyPresent":true}"#)
        #expect(repeated.effect == .deny)
        #expect(repeated.reason == "body_invalid")

        // A red-team pass: the fact in the query, which an upstream that merges it into its input may read instead, or
        // spelt in another letter case, which one that binds names exactly does not read at all.
        for query in ["attorneyPresent=false", "attorney_present=false", "interview%5BAttorneyPresent%5D=false"] {
            let queried = Self.classify(policy, Self.counsel, "POST", path + "?" + query, body: attending)
            #expect(queried.failure?.reason == .bodyInvalid, "\(query)")
            #expect(queried.failure?.detail == "the body member 'attorneyPresent' must not also stand in the query", "\(query)")
        }
        let cased = Self.classify(policy, Self.counsel, "POST", path, body: #"{"bookingNumber":"2017-000123","AttorneyPresent":true}"#)
        #expect(cased.failure?.reason == .bodyInvalid)
        #expect(cased.failure?.detail?.contains(#""AttorneyPresent""#) == true, "\(cased)")

        // A route whose subject is in its path does not read its body for facts, even a body stating one.
        let notes = Self.classify(policy, Self.police, "POST", "/records/inmates/2017-000123/notes", body: #"{"attorneyPresent":"maybe"}"#)
        #expect(try notes.get().isEmpty)
    }

    @Test("a body's Content-Type is checked as the gateway checks it: missing or wrong is refused; a hand-written body is labelled")
    func bodyContentType() throws {
        let policy = try Self.parse(Self.requestFactPolicy)
        let stages = RequestStages(policy: policy)
        let body = Array(Self.interviewBody.utf8)
        func classify(_ headers: [String: [String]], body: [UInt8] = body) -> StageRefusal? {
            do {
                _ = try stages.classify(PolicyRequest(
                    agency: Self.counsel, method: "POST", target: "/visitation/interviews/in-person", body: body, warrantReference: nil,
                    headers: headers, time: Self.now
                ))
                return nil
            } catch {
                return error
            }
        }
        #expect(classify([:])?.reason == .badHeader, "a body without a Content-Type, as the gateway refuses it")
        #expect(classify(["content-type": ["text/plain"]])?.reason == .badHeader)
        #expect(classify(["content-type": ["application/json; v=2"]])?.reason == .badHeader)
        #expect(classify(["content-type": ["application/json; charset=utf-8"]]) == nil)
        #expect(classify(PolicyRequest.labelling(body, in: [:])) == nil)

        #expect(PolicyRequest.labelling(body, in: [:]) == ["content-type": ["application/json"]])
        #expect(PolicyRequest.labelling(Array(" \r\n\t<soap:Envelope/>".utf8), in: [:]) == ["content-type": ["text/xml"]])
        #expect(PolicyRequest.labelling(body, in: ["content-type": ["text/plain"]]) == ["content-type": ["text/plain"]])
        #expect(PolicyRequest.labelling(nil, in: ["x": ["y"]]) == ["x": ["y"]])
        #expect(classify(PolicyRequest.labelling(Array("<x/>".utf8), in: [:]), body: Array("<x/>".utf8))?.reason == .badHeader)
        #expect(classify(["content-type": ["application/json", "application/json"]])?.reason == .badHeader, "given twice, as the gateway refuses")
        // No body at all is no body of the wrong type: the route's own refusal stands. One a header declares, however
        // short (chunked, with no chunk), is checked as the gateway checks it before reading it.
        #expect(classify([:], body: [])?.reason == .bodyInvalid)
        #expect(classify(["transfer-encoding": ["chunked"]], body: [])?.reason == .badHeader)
        #expect(classify(["content-length": ["0"]], body: [])?.reason == .bodyInvalid)
        // Given twice, it is refused before the target is read, as the gateway's header rules refuse it.
        let twice = Result { () throws(StageRefusal) in
            try stages.classify(PolicyRequest(
                agency: Self.counsel, method: "POST", target: "/visitation/%2e%2e/interviews/in-person", body: body, warrantReference: nil,
                headers: ["content-type": ["application/json", "text/plain"]], time: Self.now
            ))
        }
        #expect(twice.failure?.reason == .badHeader)
        // A body on a route that takes none is refused as the gateway refuses it, before its type is read.
        let onRead = Result { () throws(StageRefusal) in
            try stages.classify(PolicyRequest(
                agency: Self.counsel, method: "GET", target: "/records/inmates/2017-000123", body: body, warrantReference: nil,
                headers: PolicyRequest.labelling(body, in: [:]), time: Self.now
            ))
        }
        #expect(onRead.failure?.reason == .unexpectedBody)
    }

    @Test("two request facts reading the same body member are both stated, or the policy is refused")
    func twoFactsOneMember() throws {
        let text = """
            request-facts:
              attorney-present: { body: attorneyPresent, values: ["true", "false"] }
              counsel-attends: { body: attorneyPresent, values: ["true", "false"] }
            rules:
              - id: with-counsel
                effect: permit
                when: { category: defense-counsel, request: { attorney-present: ["true"] } }
            """
        guard let policy = try? Self.parse(text) else { return }  // refusing the declaration is a right answer too
        let facts = try Self.classify(policy, Self.counsel, "POST", "/visitation/interviews/in-person",
                                      body: #"{"bookingNumber":"2017-000123","attorneyPresent":true}"#).get()
        #expect(facts == ["attorney-present": "true", "counsel-attends": "true"])
        #expect(Self.decide(policy, Self.counsel, "POST", "/visitation/interviews/in-person",
                            body: #"{"bookingNumber":"2017-000123","attorneyPresent":true}"#).effect == .allow)
    }

    /// A request body naming a member that differs from one the gateway reads only in letter case or separators is
    /// refused (a binder might read it instead), so a fact and a route member so alike refused every request.
    @Test("a request fact's body member differing from another's, or a route's, in case or separators alone is refused")
    func requestFactMemberClashes() throws {
        let rules = "rules:\n  - id: r\n    effect: permit\n    when: always\n"
        let fact = { (member: String) in "request-facts:\n  counsel: { body: \(member), values: [\"true\", \"false\"] }\n" }
        #expect(Self.parseError(fact("attorneyPresent") + rules) == nil)
        for member in ["booking_number", "BookingNumber", "bookingNumber"] {
            let refusal = Self.parseError(fact(member) + rules)
            #expect(refusal?.contains("route 'interview' reads 'bookingNumber' for its decision") == true, "\(member): \(refusal ?? "loaded")")
        }
        #expect(Self.parseError(fact("x-http-method-override") + rules)?.contains("overrides a request's method") == true)
        #expect(Self.parseError(fact("\"__\"") + rules)?.contains("no body member's name") == true)
        let two = "request-facts:\n  a: { body: attorneyPresent, values: [x] }\n  b: { body: attorney-present, values: [y] }\n" + rules
        #expect(Self.parseError(two)?.contains("differs from request fact 'a''s only in letter case or separators") == true)

        // A county's route beside its state's fact.
        let folder = try Folder()
        try folder.write("state.yaml", Self.head + fact("receivingAgency") + rules)
        let route = """
            routes:
              - id: transfer
                method: POST
                path: /custody/transfers
                action: custody.transfer
                subject: { body: bookingNumber }
                agency: { body: receiving_agency }
                upstream: custody

            """
        try folder.write("county.yaml", "policy: county\ninclude: state.yaml\n" + route + "rules: []\n")
        do {
            _ = try folder.load("county.yaml")
            Issue.record("loaded a route whose agency member is the state's request fact's, spelt with '_'")
        } catch {
            #expect("\(error)".contains("route 'transfer' reads 'receiving_agency'"), "\(error)")
        }
    }

    /// A re-pass: a policy could declare `facts: citizenship: [citizen, lpr, undocumented]`, and its fact lookup would
    /// then read the status from the records system into every decision.
    @Test("a fact naming immigration or citizenship status, or with such a value, does not load")
    func immigrationStatusFacts() {
        let rules = "\nrules:\n  - id: r\n    effect: permit\n    when: always"
        #expect(Self.parseError("facts:\n  citizenship: [citizen, undocumented]" + rules)?.contains("names immigration or citizenship status") == true)
        #expect(Self.parseError("facts:\n  status: [lpr, none]" + rules)?.contains("has a value naming immigration or citizenship status") == true)
        #expect(Self.parseError("facts:\n  conviction: [serious-felony, none]" + rules) == nil)
    }

    @Test("request-facts declarations: reserved headers, bad values, undeclared facts and values are refused")
    func requestFactDeclarations() {
        for header in ["Warrant-Reference", "Host", "X-Forwarded-For", "Forwarded", "Content-Type"] {
            let error = Self.parseError("request-facts:\n  p: { header: \(header), values: [a] }\nrules:\n  - id: r\n    effect: permit\n    when: always")
            #expect(error?.contains("reserves") == true, "\(header)")
        }
        #expect(Self.parseError("request-facts:\n  p: { header: \"Bad Header\", values: [a] }\nrules:\n  - id: r\n    effect: permit\n    when: always")?
            .contains("not a header name") == true)
        #expect(Self.parseError("request-facts:\n  p: { header: P, values: [\"a b\"] }\nrules:\n  - id: r\n    effect: permit\n    when: always")?
            .contains("visible ASCII") == true)
        #expect(Self.parseError("request-facts:\n  p: { header: P, body: p, values: [a] }\nrules:\n  - id: r\n    effect: permit\n    when: always")?
            .contains("exactly one of header or body") == true)
        let undeclared = Self.parseError("request-facts:\n  p: { header: P, values: [a, b] }\nrules:\n  - id: r\n    effect: permit\n    when: { request: { p: [c] } }")
        #expect(undeclared?.contains("values: a, b") == true)
        let unknown = Self.parseError("request-facts:\n  p: { header: P, values: [a] }\nrules:\n  - id: r\n    effect: permit\n    when: { request: { q: [a] } }")
        #expect(unknown?.contains("declared: p") == true)
    }

    // MARK: Dated facts

    static let datedPolicy = """
        facts:
          serious-conviction-date: date
          scheduled-release: date
          booking-date: date
        rules:
          - id: recent-conviction
            effect: permit
            when: { category: local-law-enforcement, elapsed: { since: serious-conviction-date, at-most: 5y } }
          - id: release-far-enough
            effect: permit
            when: { category: court, remaining: { until: scheduled-release, at-least: 2d } }
          - id: booked-a-month
            effect: permit
            when: { category: defense-counsel, elapsed: { since: booking-date, at-least: 30d } }
          - id: booked-this-month
            effect: permit
            when: { category: consulate, elapsed: { since: booking-date, at-most: 30d } }
        """

    static func at(_ text: String) -> Date { Timestamp.parse(text)! }
    static let court = Agency(id: "court", name: "Court", category: .court)
    static let consulate = Agency(id: "consulate-mx", name: "MX", category: .consulate)

    /// A re-pass: a value set under an earlier policy (`no`, where this one declares `convicted` and `none`) read as
    /// "not convicted", and the `not:` held.
    @Test("a recorded fact value the policy does not declare denies (policy_error) instead of reading as another value")
    func undeclaredFactValue() throws {
        let policy = try Self.parse("""
            facts:
              prop-47: [convicted, none]
            rules:
              - id: unless-barred
                effect: permit
                when: { category: local-law-enforcement, not: { fact: { prop-47: [convicted] } } }

            """)
        func decide(_ value: String) -> Decision { Self.decide(policy, Self.police, registry: Self.registry(facts: ["prop-47": value])) }
        #expect(decide("none").effect == .allow)
        #expect(decide("convicted").effect == .deny)
        #expect(decide("no").reason == "policy_error")
        #expect(decide("None").reason == "policy_error")
    }

    @Test("elapsed at-most 5y: calendar years, whole days in the policy's time zone")
    func elapsedYears() throws {
        let policy = try Self.parse(Self.datedPolicy)
        func decide(_ conviction: String, at time: Date = Self.now) -> Effect {
            Self.decide(policy, Self.police, registry: Self.registry(facts: ["serious-conviction-date": conviction]), at: time).effect
        }
        #expect(decide("2021-11-25") == .allow, "five years ago today")
        #expect(decide("2021-11-26") == .allow)
        #expect(decide("2021-11-24") == .deny)
        #expect(decide("2026-11-26") == .deny, "a date after today is no elapsed time")
        #expect(decide("2026-11-25") == .allow, "today")
        // Days are the policy's (Los Angeles): 07:30Z on the 26th is still the 25th there, 08:30Z is not.
        #expect(decide("2021-11-25", at: Self.at("2026-11-26T07:30:00Z")) == .allow)
        #expect(decide("2021-11-25", at: Self.at("2026-11-26T08:30:00Z")) == .deny)
        // Instants are measured to the instant.
        #expect(decide("2021-11-25T13:00:00Z") == .allow)
        #expect(decide("2021-11-25T11:00:00Z") == .deny)
        // Calendar years across leap days: 2020-02-29 plus 4 years is 2024-02-29; plus 5 is the end of February 2025.
        let policy4 = try Self.parse(Self.datedPolicy.replacingOccurrences(of: "at-most: 5y", with: "at-most: 4y"))
        let leap = Self.registry(facts: ["serious-conviction-date": "2020-02-29"])
        #expect(Self.decide(policy4, Self.police, registry: leap, at: Self.at("2024-02-29T20:00:00Z")).effect == .allow)
        #expect(Self.decide(policy4, Self.police, registry: leap, at: Self.at("2024-03-01T20:00:00Z")).effect == .deny)
        #expect(decide("2020-02-29", at: Self.at("2025-02-28T20:00:00Z")) == .allow)
        #expect(decide("2020-02-29", at: Self.at("2025-03-02T20:00:00Z")) == .deny)
        // 5y is not 5 × 365 days: a leap year's extra day counts.
        #expect(decide("2019-11-25", at: Self.at("2024-11-25T20:00:00Z")) == .allow)
        #expect(decide("2019-11-25", at: Self.at("2024-11-26T20:00:00Z")) == .deny)
        // A conviction before 1970 is a date like any other: long ago, not an error.
        let old = Self.decide(policy, Self.police, registry: Self.registry(facts: ["serious-conviction-date": "1965-03-01"]))
        #expect(old.effect == .deny && old.reason == "no_matching_permit", "\(old.reason)")
    }

    @Test("remaining at-least 2d until a release day; a value that is not a date is a policy_error denial")
    func remainingAndBadDate() throws {
        let policy = try Self.parse(Self.datedPolicy)
        func decide(_ release: String, at time: Date = Self.now) -> Decision {
            Self.decide(policy, Self.court, registry: Self.registry(facts: ["scheduled-release": release]), at: time)
        }
        #expect(decide("2026-11-27").effect == .allow)
        #expect(decide("2026-11-27", at: Self.at("2026-11-26T07:59:00Z")).effect == .allow, "still the 25th in Los Angeles")
        #expect(decide("2026-11-26").effect == .deny)
        #expect(decide("2026-11-20").effect == .deny, "already released")
        #expect(Self.decide(policy, Self.court).reason == "no_matching_permit", "no fact: the condition is false")
        for value in ["soon", "2026-13-40", "27/11/2026", ""] {
            let decision = decide(value)
            #expect(decision.effect == .deny, "\(value)")
            #expect(decision.reason == "policy_error", "\(value)")
            #expect(decision.rules == ["release-far-enough"], "\(value)")
        }
    }

    @Test("days are whole across a daylight-saving change: 30 days since a date is 30d, whatever the hours")
    func daysAcrossDST() throws {
        let policy = try Self.parse(Self.datedPolicy)
        // Los Angeles falls back on 2026-11-01: 2026-10-20 to 2026-11-19 is 30 days, 721 hours.
        let october = Self.registry(facts: ["booking-date": "2026-10-20"])
        #expect(Self.decide(policy, Self.consulate, registry: october, at: Self.at("2026-11-19T20:00:00Z")).effect == .allow,
                "booked 30 days ago: within at-most 30d")
        #expect(Self.decide(policy, Self.consulate, registry: october, at: Self.at("2026-11-20T20:00:00Z")).effect == .deny)
        // It springs forward on 2026-03-08: 2026-03-01 to 2026-03-31 is 30 days, 719 hours.
        let march = Self.registry(facts: ["booking-date": "2026-03-01"])
        #expect(Self.decide(policy, Self.counsel, registry: march, at: Self.at("2026-03-31T19:00:00Z")).effect == .allow,
                "booked 30 days ago: at-least 30d holds")
        #expect(Self.decide(policy, Self.counsel, registry: march, at: Self.at("2026-03-30T19:00:00Z")).effect == .deny)
    }

    @Test("dated-fact declarations: elapsed needs a date fact, fact: refuses one, durations are checked")
    func datedDeclarations() {
        let facts = "facts:\n  d: date\n  v: [a, b]\n"
        #expect(Self.parseError(facts + "rules:\n  - id: r\n    effect: permit\n    when: { elapsed: { since: v, at-most: 5y } }")?.contains("declared as a date") == true)
        #expect(Self.parseError(facts + "rules:\n  - id: r\n    effect: permit\n    when: { fact: { d: [a] } }")?.contains("is a date") == true)
        #expect(Self.parseError(facts + "rules:\n  - id: r\n    effect: permit\n    when: { elapsed: { since: d } }")?.contains("at-least, at-most") == true)
        #expect(Self.parseError(facts + "rules:\n  - id: r\n    effect: permit\n    when: { elapsed: { since: d, at-most: 5w } }") != nil)
        #expect(Self.parseError(facts + "rules:\n  - id: r\n    effect: permit\n    when: { elapsed: { since: d, at-most: 0y } }") != nil)
        #expect(Self.parseError(facts + "rules:\n  - id: r\n    effect: permit\n    when: { remaining: { until: d, at-least: 48h } }") == nil)
        #expect(Self.parseError("facts:\n  d: day\nrules:\n  - id: r\n    effect: permit\n    when: always")?.contains("or date") == true)
    }

    // MARK: Public data

    @Test("public: true holds on a public route, or when every data kind the route returns is recorded public for the inmate")
    func publicData() throws {
        let policy = try Self.parse("""
            rules:
              - id: public-data
                effect: permit
                when: { public: true }
            """)
        #expect(Self.decide(policy, Self.ice, "GET", "/records/locator/2017-000123").effect == .allow)
        let release = "/records/inmates/2017-000123/release"
        #expect(Self.decide(policy, Self.ice, "GET", release).effect == .deny)
        #expect(Self.decide(policy, Self.ice, "GET", release, registry: Self.registry(facts: ["public-release-date": "yes"])).effect == .allow)
        #expect(Self.decide(policy, Self.ice, "GET", release, registry: Self.registry(facts: ["public-release-date": "no"])).effect == .deny)
        #expect(Self.decide(policy, Self.ice, "GET", release, registry: Self.registry(facts: ["public-release-date": "YES"])).effect == .deny)
        let other = RegistrySnapshot(documents: [], records: [], facts: ["2017-000456": ["public-release-date": "yes"]], version: 1)
        #expect(Self.decide(policy, Self.ice, "GET", release, registry: other).effect == .deny, "another inmate's facts")
        // Two kinds of data: both must be public.
        let status = "/records/inmates/2017-000123/status"
        #expect(Self.decide(policy, Self.ice, "GET", status, registry: Self.registry(facts: ["public-release-date": "yes"])).effect == .deny)
        #expect(Self.decide(policy, Self.ice, "GET", status, registry: Self.registry(facts: ["public-release-date": "yes", "public-custody-status": "yes"])).effect == .allow)
        // A route with no data and no subject is not public.
        #expect(Self.decide(policy, Self.ice, "GET", "/records/stats").effect == .deny)
        #expect(Self.decide(policy, Self.ice, "POST", "/records/inmates/2017-000123/notes", registry: Self.registry(facts: ["public-": "yes"])).effect == .deny)
    }

    // MARK: Obligations

    static let obligationPolicy = """
        obligations:
          count-for-council-report: { kind: report, description: "Every immigration request, refused or not." }
          give-inmate-copy-of-request: { kind: duty, description: The inmate gets a copy. }
        facts:
          scheduled-release: date
        rules:
          - id: ice-needs-warrant
            effect: forbid
            when: { category: federal-immigration }
            unless: { warrant: verified }
            reason: warrant-failure
            obligations: [count-for-council-report]
          - id: ice-no-interviews
            effect: forbid
            when: { category: federal-immigration, action: [interview.in-person] }
            reason: interviews_forbidden
            obligations: [give-inmate-copy-of-request, count-for-council-report]
          - id: ice-with-warrant
            effect: permit
            when: { category: federal-immigration, warrant: verified }
            obligations: [count-for-council-report, give-inmate-copy-of-request]
        """

    @Test("a forbid's obligations are recorded on its denial, each once, in order; a permit's on its allow")
    func forbidObligations() throws {
        let policy = try Self.parse(Self.obligationPolicy)
        #expect(policy.obligations["give-inmate-copy-of-request"]?.kind == .duty)
        let denied = Self.decide(policy, Self.ice)
        #expect(denied.reason == "warrant_missing")
        #expect(denied.obligations == ["count-for-council-report"])
        let both = Self.decide(policy, Self.ice, "POST", "/visitation/interviews/in-person", body: Self.interviewBody)
        #expect(both.rules == ["ice-needs-warrant", "ice-no-interviews"])
        #expect(both.obligations == ["count-for-council-report", "give-inmate-copy-of-request"])
        let registry = Self.registry(documents: [Self.document("W", .judicialWarrant)])
        let allowed = Self.decide(policy, Self.ice, warrant: "W", registry: registry)
        #expect(allowed.effect == .allow)
        #expect(allowed.obligations == ["count-for-council-report", "give-inmate-copy-of-request"])
        let verifiedButForbidden = Self.decide(policy, Self.ice, "POST", "/visitation/interviews/in-person", body: Self.interviewBody, warrant: "W", registry: registry)
        #expect(verifiedButForbidden.reason == "interviews_forbidden")
        #expect(verifiedButForbidden.obligations == ["give-inmate-copy-of-request", "count-for-council-report"])
    }

    @Test("a forbid's report obligation is not lost when another rule errors")
    func obligationsSurviveAnError() throws {
        let policy = try Self.parse(Self.obligationPolicy + """

              - id: court-before-release
                effect: permit
                when: { remaining: { until: scheduled-release, at-least: 2d } }
            """)
        let decision = Self.decide(policy, Self.ice, registry: Self.registry(facts: ["scheduled-release": "not a date"]))
        #expect(decision.effect == .deny)
        #expect(decision.obligations.contains("count-for-council-report"), "every immigration request is counted, denied or not: \(decision)")
    }

    @Test("once obligations are declared, an undeclared one is refused, listing the declared")
    func declaredObligations() {
        let error = Self.parseError(Self.obligationPolicy.replacingOccurrences(of: "obligations: [count-for-council-report]\n", with: "obligations: [count-for-the-report]\n"))
        #expect(error?.contains("count-for-the-report") == true)
        #expect(error?.contains("declared: count-for-council-report, give-inmate-copy-of-request") == true)
        #expect(Self.parseError("obligations:\n  o: { kind: chore, description: x }\nrules:\n  - id: r\n    effect: permit\n    when: always")?.contains("report, duty") == true)
        #expect(Self.parseError("rules:\n  - id: r\n    effect: permit\n    when: always\n    obligations: [anything-goes]") == nil, "no declarations: any name")
    }

    // MARK: Return-only and lift

    static let returnPolicy = """
        redact: [immigrationStatus, alienNumber]
        rules:
          - id: release-date-only
            effect: permit
            when: { category: federal-immigration }
            return-only: [releaseDate]
          - id: booking-only
            effect: permit
            when: { category: federal-immigration, action: [records.read] }
            return-only: [bookingNumber]
          - id: everything-for-counsel
            effect: permit
            when: { category: defense-counsel }
          - id: release-date-for-counsel
            effect: permit
            when: { category: defense-counsel, action: [records.release-date] }
            return-only: [releaseDate]
          - id: status-with-authorization
            effect: permit
            when: { category: defense-counsel, authorization: { covers: [immigrationStatus] } }
            lift: [immigrationStatus]
        """

    @Test("return-only: the union over the permits that apply; a permit without it returns everything")
    func returnOnly() throws {
        let policy = try Self.parse(Self.returnPolicy)
        let both = Self.decide(policy, Self.ice)
        #expect(both.effect == .allow)
        #expect(both.keepOnly == ["releasedate", "bookingnumber"])
        #expect(both.keeps(topLevel: "bookingnumber") && both.keeps(topLevel: "releasedate"))
        #expect(!both.keeps(topLevel: "homeaddress"))
        #expect(!both.keeps(topLevel: "immigrationstatus"))
        let one = Self.decide(policy, Self.ice, "GET", "/records/inmates/2017-000123/release")
        #expect(one.keepOnly == ["releasedate"])
        // Counsel: one permit with an allow-list, one without: everything not redacted.
        let counsel = Self.decide(policy, Self.counsel, "GET", "/records/inmates/2017-000123/release")
        #expect(counsel.rules == ["everything-for-counsel", "release-date-for-counsel"])
        #expect(counsel.keepOnly == nil)
        #expect(counsel.keeps(topLevel: "homeaddress"))
        #expect(Self.parseError("rules:\n  - id: r\n    effect: forbid\n    when: always\n    reason: no\n    return-only: [a]")?.contains("only permit rules") == true)
        #expect(Self.parseError("rules:\n  - id: r\n    effect: permit\n    when: always\n    return-only: []")?.contains("at least one field") == true)
    }

    @Test("the redactor for a decision returns what the decision says: no allow-list when one permit has none")
    func redactorMatchesDecision() throws {
        let policy = try Self.parse(Self.returnPolicy)
        let evaluator = RequestStages(policy: policy).evaluator
        let counsel = Self.decide(policy, Self.counsel, "GET", "/records/inmates/2017-000123/release")
        #expect(counsel.keepOnly == nil)
        let redactor = evaluator.redactor(for: counsel)
        #expect(redactor.keepOnly == nil, "the decision returns every field, its redactor keeps only \(redactor.keepOnly?.fields.sorted() ?? [])")
        #expect(redactor.names.fields == Set(counsel.redact))
        let ice = Self.decide(policy, Self.ice)
        #expect(evaluator.redactor(for: ice).keepOnly?.fields == ["releasedate", "bookingnumber"])
    }

    @Test("lift returns a redacted field only when the permit that lifts it applies: its written authorization is on record")
    func liftAtRuntime() throws {
        let policy = try Self.parse(Self.returnPolicy)
        let path = "/records/inmates/2017-000123"
        let none = Self.decide(policy, Self.counsel, "GET", path)
        #expect(none.redact.contains("immigrationstatus"))
        let authorized = Self.decide(policy, Self.counsel, "GET", path, registry: Self.registry(records: [Self.record(.writtenAuthorization, hoursAgo: 1, scope: ["immigrationStatus"])]))
        #expect(authorized.rules.contains("status-with-authorization"))
        #expect(!authorized.redact.contains("immigrationstatus"))
        #expect(authorized.redact.contains("aliennumber"), "only what is lifted")
        #expect(!RequestStages(policy: policy).evaluator.redactor(for: authorized).names.fields.contains("immigrationstatus"))
        for records in [
            [Self.record(.writtenAuthorization, hoursAgo: 1, scope: ["alienNumber"])],
            [Self.record(.writtenAuthorization, hoursAgo: -1, scope: ["immigrationStatus"])],
            [Self.record(.writtenAuthorization, hoursAgo: 1, scope: ["immigrationStatus"], subject: "2017-000456")],
            [Self.record(.consent, hoursAgo: 1, scope: ["immigrationStatus"])],
        ] {
            #expect(Self.decide(policy, Self.counsel, "GET", path, registry: Self.registry(records: records)).redact.contains("immigrationstatus"))
        }
        // Another agency with the inmate's authorization on record still gets the field redacted.
        let ice = Self.decide(policy, Self.ice, "GET", path, registry: Self.registry(records: [Self.record(.writtenAuthorization, hoursAgo: 1, scope: ["immigrationStatus"])]))
        #expect(ice.redact.contains("immigrationstatus"))
    }

    @Test("a document on file that releases chosen fields limits a permit resting on it, not one held by another branch of any:")
    func documentFieldLimits() throws {
        let policy = try Self.parse("""
            rules:
              - id: warrant-or-court-document
                effect: permit
                description: a warrant presented, or a court document on file covering the action
                when:
                  category: federal-immigration
                  any:
                    - warrant: verified
                    - document: { kind: [court-order], covers-action: true }
            """)
        let evaluator = RequestStages(policy: policy).evaluator
        let order = Self.document("CO-1", .courtOrder, scope: ["records.read#scheduledRelease"])
        let byDocument = Self.decide(policy, Self.ice, registry: Self.registry(documents: [order]))
        #expect(byDocument.effect == .allow && byDocument.keepOnly == ["scheduledrelease"])
        #expect(evaluator.redactor(for: byDocument).keepOnly?.fields == ["scheduledrelease"])
        // What one inmate's document releases is this decision's alone: its redactor is shared with no other, so its
        // upstream connection serves no other request (an answer sent late would be redacted as this one says).
        #expect(!evaluator.redactor(for: byDocument).isShared)
        // Held by the warrant, with no court document on file: every field.
        let warrant = Self.document("JW-1", .judicialWarrant, scope: ["records.read"])
        let byWarrant = Self.decide(policy, Self.ice, warrant: "JW-1", registry: Self.registry(documents: [warrant]))
        #expect(byWarrant.effect == .allow && byWarrant.keepOnly == nil, "\(byWarrant)")
        #expect(evaluator.redactor(for: byWarrant).isShared)
        // A second document on file that covers the whole action releases every field.
        let whole = Self.document("CO-2", .courtOrder, scope: ["records.read"])
        #expect(Self.decide(policy, Self.ice, registry: Self.registry(documents: [order, whole])).keepOnly == nil)
    }

    @Test("lift: refused without the authorization in when, for a field not on the redact list, under any:, on a forbid")
    func liftParseErrors() {
        let redact = "redact: [immigrationStatus]\n"
        let noAuthorization = Self.parseError(redact + "rules:\n  - id: r\n    effect: permit\n    when: { category: defense-counsel }\n    lift: [immigrationStatus]")
        #expect(noAuthorization?.contains("authorization: { covers: [immigrationStatus] }") == true)
        let otherField = Self.parseError(redact + "rules:\n  - id: r\n    effect: permit\n    when: { authorization: { covers: [immigrationStatus] } }\n    lift: [ImmigrationStatus]")
        #expect(otherField != nil, "the authorization must name the field as lift does")
        let notRedacted = Self.parseError(redact + "rules:\n  - id: r\n    effect: permit\n    when: { authorization: { covers: [homeAddress] } }\n    lift: [homeAddress]")
        #expect(notRedacted?.contains("not on the policy's redact list") == true)
        let underAny = Self.parseError(redact + """
            rules:
              - id: r
                effect: permit
                when: { any: [{ authorization: { covers: [immigrationStatus] } }, { category: court }] }
                lift: [immigrationStatus]
            """)
        #expect(underAny != nil, "a court without the authorization would get the field")
        let underNot = Self.parseError(redact + """
            rules:
              - id: r
                effect: permit
                when: { not: { authorization: { covers: [immigrationStatus] } } }
                lift: [immigrationStatus]
            """)
        #expect(underNot != nil)
        #expect(Self.parseError(redact + "rules:\n  - id: r\n    effect: forbid\n    reason: x\n    when: { authorization: { covers: [immigrationStatus] } }\n    lift: [immigrationStatus]") != nil)
        #expect(Self.parseError(redact + "rules:\n  - id: r\n    effect: permit\n    when: { authorization: { covers: [immigrationStatus] }, category: court }\n    lift: [immigrationStatus]") == nil)
    }

    // MARK: Include

    /// A directory of policy files, removed at the end.
    final class Folder {
        let url: URL
        init() throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("wg-include-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        @discardableResult
        func write(_ name: String, _ text: String) throws -> String {
            let path = url.appendingPathComponent(name).path
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        func load(_ name: String) throws -> Policy { try PolicyParser.load(path: url.appendingPathComponent(name).path) }
        func error(_ name: String) -> String? {
            do {
                _ = try load(name)
                return nil
            } catch {
                return "\(error)"
            }
        }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    static let state = head + """
        redact: [immigrationStatus]
        rules:
          - id: ice-needs-warrant
            effect: forbid
            when: { category: federal-immigration, action: ["records.*"] }
            unless: { warrant: verified }
            reason: warrant-failure
          - id: police-records
            effect: permit
            when: { category: local-law-enforcement }
          - id: ice-with-warrant
            effect: permit
            when: { category: federal-immigration, warrant: verified }
        """

    static func county(_ rules: String, redact: String = "") -> String {
        "policy: county\ninclude: state.yaml\n\(redact)rules:\n" + rules
    }

    @Test("include: routes, redactions and rules in order; a replacement takes the replaced rule's place; own rules follow")
    func includeComposition() throws {
        let folder = try Folder()
        try folder.write("state.yaml", Self.state)
        try folder.write("county.yaml", Self.county("""
              - id: police-records-for-investigations
                effect: permit
                replaces: police-records
                when: { category: local-law-enforcement, action: [records.read] }
              - id: counsel-records
                effect: permit
                when: { category: defense-counsel }
            """, redact: "redact: [alienNumber]\n"))
        let county = try folder.load("county.yaml")
        let state = try folder.load("state.yaml")
        #expect(county.rules.map(\.id) == ["ice-needs-warrant", "police-records-for-investigations", "ice-with-warrant", "counsel-records"])
        #expect(county.routes.map(\.id) == state.routes.map(\.id))
        #expect(county.redactAlways == ["immigrationstatus", "aliennumber"])
        #expect(county.timeZone == state.timeZone)
        #expect(county.includes == [folder.url.appendingPathComponent("state.yaml").standardizedFileURL.path])
        #expect(Self.decide(county, Self.police, "GET", "/records/inmates/2017-000123/release").reason == "no_matching_permit")
        #expect(Self.decide(county, Self.ice).reason == "warrant_missing")
        #expect(Self.decide(county, Self.counsel).redact == ["immigrationstatus", "aliennumber"])
    }

    /// An auditor's pass: a county that included a state policy and pointed the fact lookup at its own records system
    /// dropped the state's `states:`, and `policy check`, which linted the county's own rules only, said nothing.
    @Test("include: a lookup declared over an included one states what it stated; included rules' not: are linted")
    func includeFactLookupStates() throws {
        let facts = "facts:\n  prop-47: [convicted, none]\n"
        let guarded = """
            rules:
              - id: bar
                effect: forbid
                when: { category: federal-immigration, not: { fact: { prop-47: [convicted] } } }
                reason: bar

            """
        let lookup = { (extra: String) in "fact-lookup:\n  upstream: records\n  path: /facts/{subject}\n\(extra)" }
        let folder = try Folder()
        try folder.write("state.yaml", Self.head + facts + lookup("  states: [prop-47]\n") + guarded)
        try folder.write("county.yaml", "policy: county\ninclude: state.yaml\n" + lookup("") + "rules: []\n")
        let county = try folder.load("county.yaml")
        #expect(county.factLookup?.states == ["prop-47"])
        #expect(!county.warnings.contains { $0.message.contains("under not:") })

        // A state policy with no lookup of its own: the county's lookup makes the state's not: one to warn of.
        try folder.write("state.yaml", Self.head + facts + guarded)
        let warned = try folder.load("county.yaml").warnings.filter { $0.message.contains("under not:") }
        #expect(warned.count == 1 && warned[0].file.hasSuffix("state.yaml"), "\(warned)")
    }

    @Test("include: the digest covers the included file")
    func includeDigest() throws {
        let folder = try Folder()
        try folder.write("state.yaml", Self.state)
        try folder.write("county.yaml", Self.county("  - id: counsel\n    effect: permit\n    when: { category: defense-counsel }\n"))
        let before = try folder.load("county.yaml").digest
        #expect(try folder.load("county.yaml").digest == before)
        try folder.write("state.yaml", Self.state.replacingOccurrences(of: "redact: [immigrationStatus]", with: "redact: [immigrationStatus, citizenship]"))
        let after = try folder.load("county.yaml")
        #expect(after.digest != before)
        #expect(after.redactAlways.contains("citizenship"))
        // A comment is a change to the bytes counsel reviewed, too.
        try folder.write("state.yaml", Self.state + "\n# reviewed\n")
        #expect(try folder.load("county.yaml").digest != before)
    }

    /// A policy put in place as a link: before, its includes were read beside the link, so an older state policy
    /// left there (without its forbid) was in force, not the one reviewed beside the file.
    @Test("include: a policy reached through a link includes what lies beside its file, not beside the link")
    func includeThroughLink() throws {
        let folder = try Folder()
        try folder.write("releases/v2/state.yaml", Self.state)
        let reviewed = try folder.write("releases/v2/county.yaml", Self.county("  - id: counsel\n    effect: permit\n    when: { category: defense-counsel }\n"))
        try folder.write("state.yaml", Self.state.replacingOccurrences(of: "ice-needs-warrant", with: "stale-state-rule"))
        try FileManager.default.createSymbolicLink(atPath: folder.url.appendingPathComponent("live.yaml").path, withDestinationPath: "releases/v2/county.yaml")
        let live = try folder.load("live.yaml")
        #expect(live.digest == (try PolicyParser.load(path: reviewed)).digest)
        #expect(live.rules.contains { $0.id == "ice-needs-warrant" })
        #expect(!live.rules.contains { $0.id == "stale-state-rule" })
    }

    @Test("include: a cycle, a path outside the folder, and too deep a chain are refused")
    func includeRefusals() throws {
        let folder = try Folder()
        try folder.write("a.yaml", "policy: a\ninclude: b.yaml\n")
        try folder.write("b.yaml", "policy: b\ninclude: a.yaml\n")
        #expect(folder.error("a.yaml")?.contains("includes itself") == true)
        try folder.write("self.yaml", "policy: s\ninclude: self.yaml\n")
        #expect(folder.error("self.yaml")?.contains("includes itself") == true)
        try folder.write("state.yaml", Self.state)
        for path in ["../state.yaml", "/etc/state.yaml", "./state.yaml", "sub/../state.yaml", "state.yml", "sub//state.yaml"] {
            try folder.write("escape.yaml", "policy: e\ninclude: \(path)\n")
            #expect(folder.error("escape.yaml")?.contains("inside the policy's folder") == true, "\(path)")
        }
        try folder.write("sub/inner.yaml", "policy: inner\ninclude: ../state.yaml\n")
        try folder.write("outer.yaml", "policy: outer\ninclude: sub/inner.yaml\n")
        #expect(folder.error("outer.yaml") != nil, "an included file may not reach out of its own folder either")

        // Symbolic links to a file or a folder elsewhere: the path's text stays inside, the file does not.
        let elsewhere = try Folder()
        try elsewhere.write("secret-state.yaml", Self.state)
        let fileManager = FileManager.default
        try fileManager.createSymbolicLink(atPath: folder.url.appendingPathComponent("outside.yaml").path, withDestinationPath: elsewhere.url.appendingPathComponent("secret-state.yaml").path)
        try fileManager.createSymbolicLink(atPath: folder.url.appendingPathComponent("shared").path, withDestinationPath: elsewhere.url.path)
        for path in ["outside.yaml", "shared/secret-state.yaml"] {
            try folder.write("linking.yaml", "policy: l\ninclude: \(path)\n")
            let error = folder.error("linking.yaml")
            #expect(error?.contains("through a symbolic link") == true, "\(path): \(String(describing: error))")
        }
        #expect(folder.error("missing.yaml") != nil)
        try folder.write("missing-include.yaml", "policy: m\ninclude: nowhere.yaml\n")
        #expect(folder.error("missing-include.yaml")?.contains("nowhere.yaml") == true)

        // A county includes its state, which includes a federal floor: three deep is fine.
        try folder.write("l1.yaml", "policy: l1\ninclude: state.yaml\n")
        try folder.write("l2.yaml", "policy: l2\ninclude: l1.yaml\n")
        try folder.write("l3.yaml", "policy: l3\ninclude: l2.yaml\n")
        #expect(folder.error("l3.yaml") == nil)
        try folder.write("l4.yaml", "policy: l4\ninclude: l3.yaml\n")
        try folder.write("l5.yaml", "policy: l5\ninclude: l4.yaml\n")
        #expect(folder.error("l5.yaml")?.contains("at most 4 files") == true)

        // A link to a device (outside the folder), which would read without end, and a FIFO, which would wait for a
        // writer, are refused before anything is read; a link to a regular file inside the folder is read.
        try FileManager.default.createSymbolicLink(atPath: folder.url.appendingPathComponent("zero.yaml").path, withDestinationPath: "/dev/zero")
        try folder.write("device.yaml", "policy: d\ninclude: zero.yaml\n")
        #expect(folder.error("device.yaml")?.contains("through a symbolic link") == true, "\(folder.error("device.yaml") ?? "loaded")")
        #expect(mkfifo(folder.url.appendingPathComponent("fifo.yaml").path, 0o600) == 0)
        try folder.write("pipe.yaml", "policy: p\ninclude: fifo.yaml\n")
        #expect(folder.error("pipe.yaml")?.contains("not a regular file") == true, "\(folder.error("pipe.yaml") ?? "loaded")")
        try FileManager.default.createSymbolicLink(atPath: folder.url.appendingPathComponent("linked.yaml").path, withDestinationPath: "l1.yaml")
        try folder.write("via-link.yaml", "policy: v\ninclude: linked.yaml\n")
        #expect(folder.error("via-link.yaml") == nil)

        // A policy, or a file it includes, that every account on the host may rewrite is refused.
        #expect(chmod(folder.url.appendingPathComponent("l1.yaml").path, 0o666) == 0)
        #expect(folder.error("l2.yaml")?.contains("every account may write to it") == true, "\(folder.error("l2.yaml") ?? "loaded")")
        #expect(chmod(folder.url.appendingPathComponent("l1.yaml").path, 0o664) == 0)
        #expect(folder.error("l2.yaml") == nil)
        // So is one in a directory every account may write to, unless it is sticky (as /tmp is).
        #expect(chmod(folder.url.path, 0o777) == 0)
        #expect(folder.error("l2.yaml")?.contains("every account may replace it in \(folder.url.path)") == true, "\(folder.error("l2.yaml") ?? "loaded")")
        #expect(chmod(folder.url.path, 0o1777) == 0)
        #expect(folder.error("l2.yaml") == nil)
        #expect(chmod(folder.url.path, 0o755) == 0)
    }

    @Test("replaces: an unknown id is refused listing the ids; a rule replaced twice is refused")
    func replacesUnknown() throws {
        let folder = try Folder()
        try folder.write("state.yaml", Self.state)
        try folder.write("county.yaml", Self.county("  - id: x\n    effect: permit\n    replaces: police-record\n    when: always\n"))
        let error = folder.error("county.yaml")
        #expect(error?.contains("no rule 'police-record'") == true)
        #expect(error?.contains("ice-needs-warrant, police-records, ice-with-warrant") == true)
        try folder.write("twice.yaml", Self.county("""
              - id: x
                effect: permit
                replaces: police-records
                when: { category: local-law-enforcement }
              - id: y
                effect: permit
                replaces: police-records
                when: { category: local-law-enforcement }
            """))
        #expect(folder.error("twice.yaml") != nil)
        #expect(Self.parseError("rules:\n  - id: x\n    effect: permit\n    replaces: y\n    when: always")?.contains("needs an included policy") == true)
    }

    @Test("replacing a forbid: weakening needs weakens-forbid and a description; a stricter forbid is accepted")
    func replacingForbids() throws {
        let folder = try Folder()
        try folder.write("state.yaml", Self.state)
        func attempt(_ rule: String) throws -> String? {
            try folder.write("county.yaml", Self.county(rule))
            return folder.error("county.yaml")
        }
        let permit = "  - id: ice-open\n    effect: permit\n    replaces: ice-needs-warrant\n    when: { category: federal-immigration }\n"
        #expect(try attempt(permit)?.contains("weakens-forbid: true") == true)
        #expect(try attempt(permit + "    weakens-forbid: true\n")?.contains("needs a description") == true)
        #expect(try attempt(permit + "    weakens-forbid: true\n    description: The county ordinance allows it.\n") == nil)
        let county = try folder.load("county.yaml")
        #expect(Self.decide(county, Self.ice).effect == .allow)

        let weaker: [(String, String)] = [
            ("narrower when", "    when: { category: federal-immigration, action: [\"records.*\"], method: [POST] }\n    unless: { warrant: verified }\n"),
            ("an unless where there was none, or a weaker one",
             "    when: { category: federal-immigration, action: [\"records.*\"] }\n    unless: { any: [{ warrant: verified }, { advisement: recorded }] }\n"),
            ("in force later", "    when: { category: federal-immigration, action: [\"records.*\"] }\n    unless: { warrant: verified }\n    effective: { from: 2027-01-01 }\n"),
            ("in force until a date", "    when: { category: federal-immigration, action: [\"records.*\"] }\n    unless: { warrant: verified }\n    effective: { until: 2027-01-01 }\n"),
        ]
        for (what, body) in weaker {
            let error = try attempt("  - id: ice-forbid\n    effect: forbid\n    replaces: ice-needs-warrant\n    reason: warrant-failure\n" + body)
            #expect(error?.contains("may weaken it") == true, "\(what)")
        }
        let stricter: [(String, String)] = [
            ("the same forbid", "    when: { category: federal-immigration, action: [\"records.*\"] }\n    unless: { warrant: verified }\n"),
            ("a wider when", "    when: { category: federal-immigration }\n    unless: { warrant: verified }\n"),
            ("more required to be excepted", "    when: { category: federal-immigration }\n    unless: { warrant: verified, advisement: recorded }\n"),
        ]
        for (what, body) in stricter {
            let reason = what == "more required to be excepted" ? "ice_refused" : "warrant-failure"
            let error = try attempt("  - id: ice-forbid\n    effect: forbid\n    replaces: ice-needs-warrant\n    reason: \(reason)\n" + body)
            #expect(error == nil, "\(what): \(error ?? "")")
        }
    }

    @Test("replacing a forbid that carries obligations: the replacement must carry them too")
    func replacingForbidKeepsObligations() throws {
        let folder = try Folder()
        let obligations = "obligations:\n  public-record: { kind: report, description: A public record. }\n  serve-copy: { kind: duty, description: A copy to the inmate. }\n"
        try folder.write("state.yaml", Self.state.replacingOccurrences(of: "redact: [immigrationStatus]\n", with: "redact: [immigrationStatus]\n" + obligations)
            .replacingOccurrences(of: "    reason: warrant-failure\n", with: "    reason: warrant-failure\n    obligations: [public-record, serve-copy]\n"))
        let forbid = "  - id: ice-forbid\n    effect: forbid\n    replaces: ice-needs-warrant\n    reason: warrant-failure\n"
            + "    when: { category: federal-immigration }\n    unless: { warrant: verified }\n"
        for (kept, dropped) in [("[]", "public-record, serve-copy"), ("[serve-copy]", "public-record")] {
            try folder.write("county.yaml", Self.county(forbid + "    obligations: \(kept)\n"))
            let error = folder.error("county.yaml")
            #expect(error?.contains("drops its obligations \(dropped)") == true, "\(error ?? "loaded")")
        }
        try folder.write("county.yaml", Self.county(forbid + "    obligations: [serve-copy, public-record]\n"))
        #expect(folder.error("county.yaml") == nil)
    }

    @Test("a replacement forbid whose unless adds a test beside the original's is stricter only if the original's is still required")
    func stricterUnlessSemantics() throws {
        let folder = try Folder()
        try folder.write("state.yaml", Self.state)
        // The replacement requires a warrant AND an advisement to be excepted: ICE with a warrant but no advisement is now refused.
        try folder.write("county.yaml", Self.county("""
              - id: ice-forbid
                effect: forbid
                replaces: ice-needs-warrant
                when: { category: federal-immigration }
                unless: { warrant: verified, advisement: recorded }
                reason: ice_refused
            """))
        let county = try folder.load("county.yaml")
        let registry = Self.registry(documents: [Self.document("W", .judicialWarrant)])
        #expect(Self.decide(county, Self.ice, warrant: "W", registry: registry).reason == "ice_refused")
        let advised = Self.registry(documents: [Self.document("W", .judicialWarrant)], records: [Self.record(.advisement, hoursAgo: 1)])
        #expect(Self.decide(county, Self.ice, warrant: "W", registry: advised).effect == .allow)
    }

    // MARK: Lint

    /// A privacy pass: reasons and obligations are printed in public reports, beside a day's requests, and nothing
    /// checked them for a person's status, as facts are checked.
    @Test("check warns of a reason or obligation that names a status; the authority's own name is no status")
    func statusInReasonsLint() throws {
        func warnings(_ reason: String, obligation: String = "count-it") throws -> [String] {
            let rules = "obligations:\n  \(obligation): { kind: report, description: d }\nrules:\n  - id: f\n    effect: forbid\n"
                + "    when: { category: federal-immigration }\n    reason: \(reason)\n    obligations: [\(obligation)]\n"
            return try Self.parse(rules).warnings.map(\.message).filter { $0.contains("printed in public reports") }
        }
        #expect(try warnings("undocumented_inmate").count == 1)
        #expect(try warnings("refused", obligation: "count-visa-holders").count == 1)
        #expect(try warnings("civil_immigration_arrest_refused").isEmpty)
        #expect(try warnings("deportation_hold_refused").isEmpty)
        #expect(try warnings("immigration_citizen_check").count == 1, "a status after the authority's name")
        // The review: passing over every word that began like the authority's name let these through.
        for code in ["immigration_status_unverified", "illegal_immigrant_hold", "immigrant_inmate_notified", "non_immigrant"] {
            #expect(try warnings(code).count == 1, "\(code)")
        }
    }

    @Test("check warns of a permit that admits federal-immigration on a request fact alone")
    func claimAloneLint() throws {
        let facts = """
            request-facts:
              purpose: { header: Request-Purpose, values: [criminal-investigation, immigration-enforcement] }
            facts:
              cooperates: ["yes", "no"]

            """
        func warnings(_ when: String) throws -> [String] {
            try Self.parse(facts + "rules:\n  - id: claim\n    effect: permit\n    when: \(when)\n").warnings.map(\.message).filter { $0.contains("alone") }
        }
        #expect(try warnings("{ category: federal-immigration, request: { purpose: [criminal-investigation] } }").count == 1)
        #expect(try warnings("{ request: { purpose: [criminal-investigation] } }").count == 1)
        #expect(try warnings("{ agency: [ice-ero], action: [records.read], request: { purpose: [criminal-investigation] } }").count == 1)
        #expect(try warnings("{ not: { category: [local-law-enforcement] }, request: { purpose: [criminal-investigation] } }").count == 1,
                "a negated category admits federal-immigration too")
        #expect(try warnings("{ category: local-law-enforcement, request: { purpose: [criminal-investigation] } }").isEmpty)
        #expect(try warnings("{ category: federal-immigration, request: { purpose: [criminal-investigation] }, warrant: verified }").isEmpty)
        #expect(try warnings("{ category: federal-immigration, request: { purpose: [criminal-investigation] }, fact: { cooperates: [\"yes\"] } }").isEmpty)
        // An auditor's pass: a claim in a branch of an any, and a forbid's unless, went unwarned.
        #expect(try warnings("{ category: federal-immigration, any: [ { warrant: verified }, { request: { purpose: [criminal-investigation] } } ] }").count == 1)
        func forbidWarnings(_ when: String, _ unless: String) throws -> [String] {
            try Self.parse(facts + "rules:\n  - id: f\n    effect: forbid\n    when: \(when)\n    unless: \(unless)\n    reason: f\n")
                .warnings.map(\.message).filter { $0.contains("alone") }
        }
        let lifted = "{ any: [ { warrant: verified }, { request: { purpose: [criminal-investigation] } } ] }"
        #expect(try forbidWarnings("{ category: federal-immigration, action: records.read }", lifted).count == 1)
        #expect(try forbidWarnings("{ action: records.read }", lifted).count == 1)
        #expect(try forbidWarnings("{ category: local-law-enforcement }", lifted).isEmpty, "the forbid never concerns ICE")
        #expect(try forbidWarnings("{ category: federal-immigration }", "{ all: [ { request: { purpose: [criminal-investigation] } }, { fact: { cooperates: [\"yes\"] } } ] }").isEmpty)
    }

    @Test("a fact lookup states declared facts, once each; check warns of a not: over a looked-up fact it does not state")
    func statedFactsLint() throws {
        let declarations = """
            facts:
              prop-47: [convicted, none]
              conviction: [felony, none]
              released: date

            """
        func lookup(_ states: String) -> String {
            "fact-lookup:\n  upstream: records\n  path: /facts/{subject}\n  states: \(states)\n"
        }
        let forbid = """
            rules:
              - id: f
                effect: forbid
                when: { category: federal-immigration }
                unless: { all: [ { not: { fact: { prop-47: [convicted] } } }, { fact: { conviction: [felony] } } ] }
                reason: f
              - id: g
                effect: forbid
                when: { not: { any: [ { elapsed: { since: released, at-most: 5y } } ] } }
                reason: g

            """
        func warned(_ rest: String) throws -> [String] {
            try Self.parse(declarations + rest + forbid).warnings.map(\.message).filter { $0.contains("under not:") }
        }
        let unstated = try warned(lookup("[conviction]"))
        #expect(unstated.count == 2 && unstated[0].contains("'prop-47'") && unstated[1].contains("'released'"), "\(unstated)")
        #expect(try warned(lookup("[prop-47, released]")).isEmpty)
        // Without a lookup, facts come from staff alone: nothing to warn of.
        #expect(try warned("").isEmpty)
        #expect(try Self.parse(declarations + lookup("[prop-47]") + forbid).factLookup?.states == ["prop-47"])
        #expect(Self.parseError(declarations + lookup("[prop-48]") + forbid)?.contains("which facts: does not declare") == true)
        #expect(Self.parseError(declarations + lookup("[prop-47, prop-47]") + forbid)?.contains("twice") == true)
    }

    /// An auditor's pass: a 48-hour window on a fact given as a day still held at 23:30 two days later (71.5 hours).
    @Test("check warns of a window in hours or minutes on a date fact, not of one in days")
    func hourWindowLint() throws {
        func warned(_ window: String) throws -> Bool {
            try Self.parse("facts:\n  released: date\nrules:\n  - id: p\n    effect: permit\n    when: { category: court, remaining: { until: released, \(window) } }\n")
                .warnings.contains { $0.message.contains("in hours or minutes") }
        }
        #expect(try warned("at-least: 48h"))
        #expect(try warned("at-most: 90m"))
        #expect(try !warned("at-least: 2d"))
    }

    @Test("check warns of warrant-failure with other unless conditions, not of one that tests only the warrant")
    func warrantFailureLint() throws {
        func warned(_ unless: String) throws -> Bool {
            try Self.parse("rules:\n  - id: f\n    effect: forbid\n    when: { category: federal-immigration }\n    unless: \(unless)\n    reason: warrant-failure\n")
                .warnings.contains { $0.message.contains("warrant-failure with other conditions") }
        }
        #expect(try warned("{ warrant: verified, advisement: recorded }"))
        #expect(try warned("{ any: [{ warrant: verified }, { advisement: recorded }] }"))
        #expect(try !warned("{ warrant: verified }"))
        #expect(try !warned("{ warrant: { kind: [search-warrant], judge: recorded } }"))
        #expect(try !warned("{ any: [{ warrant: { kind: [search-warrant] } }, { warrant: { nature: [criminal] } }] }"))
        #expect(Self.parseError("rules:\n  - id: f\n    effect: forbid\n    when: always\n    unless: { advisement: recorded }\n    reason: warrant-failure")?
            .contains("needs a warrant condition") == true)
    }

    @Test("the shipped policies raise neither of the new warnings")
    func shippedPoliciesLintClean() throws {
        let directory = Repository.path("policies")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") && $0 != "agencies.yaml" }.sorted()
        #expect(files.count >= 5)
        for file in files {
            let policy = try PolicyParser.load(path: "\(directory)/\(file)")
            let flagged = policy.warnings.filter { $0.message.contains("alone, a claim") || $0.message.contains("warrant-failure with other conditions") }
            #expect(flagged.isEmpty, "\(file): \(flagged)")
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
