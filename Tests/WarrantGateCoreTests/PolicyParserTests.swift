import Testing
@testable import WarrantGateCore

@Suite("Policy files")
struct PolicyParserTests {
    static let minimal = """
        policy: test
        time-zone: America/Denver
        subject-format: "####"
        routes:
          - id: read
            method: GET
            path: /records/{booking}
            action: records.read
            subject: { path: booking }
            upstream: records
        rules:
          - id: allow-police
            effect: permit
            when: { category: local-law-enforcement }
        """

    private func error(_ text: String) -> FileError? {
        do {
            _ = try PolicyParser.parse(text, file: "test.yaml")
            return nil
        } catch let error as FileError {
            return error
        } catch {
            return FileError(file: "?", line: nil, message: "\(error)")
        }
    }

    @Test("the shipped Denver policy loads")
    func denverLoads() throws {
        let policy = try Repository.denver()
        #expect(policy.name == "denver")
        #expect(policy.redactAlways.contains("aliennumber"))
        #expect(policy.digest.count == 64)
    }

    @Test("redact entries: field names lower-cased, prefixed names through namespaces and profiles, each once")
    func redactVocabulary() throws {
        let policy = try PolicyParser.parse(Self.minimal + """

            namespaces: { nc: "http://release.niem.gov/niem/niem-core/4.0/" }
            profiles: { niem: profiles/niem-immigration.yaml }
            redact: [Citizenship, nc:PersonCitizenshipText, niem:alien-number, nc:PersonCitizenshipText]
            """, file: Repository.path("policies/inline.yaml"))
        #expect(policy.redactAlways.first == "citizenship")
        #expect(policy.redactAlways.contains("{http://release.niem.gov/niem/niem-core/4.0/}PersonCitizenshipText"))
        #expect(policy.redactAlways.contains("{http://release.niem.gov/niem/domains/immigration/4.0/}AlienNumberIdentification"))
        #expect(policy.redactAlways.count == Set(policy.redactAlways).count)
        // The digest covers the profile: the same text without it digests differently.
        #expect(policy.digest != Policy.digest(of: Array((Self.minimal + "\nredact: []").utf8)))
    }

    /// A review's pass: King County's status-only allow-list, written as `jail:` concepts, returned every name of
    /// them, `immigration` and `alien` objects among them, with whatever a records system nests there.
    @Test("a return-only list naming a profile concept of field names is warned of; one of XML elements alone is not")
    func returnOnlyConcept() throws {
        func warnings(_ returnOnly: String) throws -> [String] {
            try PolicyParser.parse(Self.minimal + """

                    return-only: \(returnOnly)
                profiles: { niem: profiles/niem-immigration.yaml, jail: profiles/jail-fields.yaml }
                """, file: Repository.path("policies/inline.yaml")).warnings.map(\.message).filter { $0.contains("return-only") }
        }
        #expect(try warnings("[bookingNumber, jail:immigration-status]").first?.contains("return-only 'jail:immigration-status' returns every name") == true)
        #expect(try warnings("[bookingNumber, immigrationStatus, niem:immigration-status]").isEmpty)
    }

    @Test("refuses an unbound prefix, a prefix bound twice, an unknown concept and a profile outside the policy's folder", arguments: [
        ("redact: [nc:PersonCitizenship]", "not bound"),
        ("namespaces: { niem: urn:x }\nprofiles: { niem: profiles/niem-immigration.yaml }", "also a namespace prefix"),
        ("profiles: { niem: profiles/niem-immigration.yaml }\nredact: [niem:shoe-size]", "no concept 'shoe-size'"),
        ("profiles: { niem: ../etc/profile.yaml }", "inside the policy's folder"),
        ("profiles: { niem: /etc/profile.yaml }", "inside the policy's folder"),
        ("namespaces: { nc: \"has space\" }", "namespace URI"),
        ("namespaces: { nc: urn:x }\nredact: [\"nc:1bad\"]", "invalid local name"),
    ])
    func redactVocabularyErrors(_ extra: String, _ expected: String) {
        do {
            _ = try PolicyParser.parse(Self.minimal + "\n" + extra, file: Repository.path("policies/inline.yaml"))
            Issue.record("accepted: \(extra)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    /// A TTL past what `Duration` holds trapped the gateway at its first lookup, and again after every restart.
    @Test("a fact lookup's TTL is at most 100 years; a longer one is refused with its line")
    func factLookupTTLBound() throws {
        let lookup = { (ttl: String) in Self.minimal + "\nfact-lookup:\n  upstream: records\n  path: /records/{subject}/facts\n  ttl: \(ttl)\n  max-entries: 10\n" }
        #expect(try PolicyParser.parse(lookup("36500d"), file: "test.yaml").factLookup?.ttl == 36_500 * 86400)
        for ttl in ["9223372036854775807m", "36501d", "876001h"] {
            let refusal = error(lookup(ttl))
            #expect(refusal?.message.contains("longer than 100 years") == true, "\(ttl): \(String(describing: refusal))")
            #expect(refusal?.line != nil)
        }
    }

    @Test func minimalLoads() throws {
        #expect(try PolicyParser.parse(Self.minimal, file: "t.yaml").rules.count == 1)
    }

    @Test("a subject read from the body needs a method that carries one")
    func bodySubjectNeedsBodyMethod() throws {
        let get = Self.minimal.replacingOccurrences(of: "subject: { path: booking }", with: "subject: { body: bookingNumber }")
        #expect(error(get)?.message.contains("carries no body") == true)
        #expect(error(get.replacingOccurrences(of: "method: GET", with: "method: POST")) == nil)
    }

    @Test("a route's document, until and agency members: only beside a body subject, each a member of its own")
    func bodyMembers() throws {
        let post = Self.minimal.replacingOccurrences(of: "subject: { path: booking }", with: "subject: { body: bookingNumber }")
            .replacingOccurrences(of: "method: GET", with: "method: POST")
        func with(_ members: String) -> String { post.replacingOccurrences(of: "subject: { body: bookingNumber }", with: "subject: { body: bookingNumber }\n    " + members) }
        #expect(error(with("agency: { body: requestedBy }")) == nil)
        #expect(error(with("agency: { body: requestedBy }\n    document: { body: RequestedBy }"))?.message.contains("each name a body member of their own") == true)
        #expect(error(with("agency: { body: bookingnumber }"))?.message.contains("other than the subject's") == true)
        // Members that differ in separators alone: a body naming one is refused as a misspelling of the other, so no
        // request on the route could pass.
        #expect(error(with("agency: { body: requested_by }\n    document: { body: requestedBy }"))?.message.contains("each name a body member of their own") == true)
        #expect(error(with("agency: { body: booking-number }"))?.message.contains("other than the subject's") == true)
        #expect(error(with("until: { body: Booking.Number }"))?.message.contains("other than the subject's") == true)
        // Names no body could state: separators alone, or a method override, which a body is refused for naming.
        #expect(error(with("agency: { body: \"_\" }"))?.message.contains("no body member's name") == true)
        #expect(error(with("document: { body: _METHOD }"))?.message.contains("overrides a request's method") == true)
        #expect(error(post.replacingOccurrences(of: "subject: { body: bookingNumber }", with: "subject: { body: \"-.\" }"))?
            .message.contains("no body member's name") == true)
        #expect(error(Self.minimal.replacingOccurrences(of: "subject: { path: booking }", with: "subject: { path: booking }\n    agency: { body: requestedBy }"))?
            .message.contains("read only on a route whose subject is one") == true)
    }

    @Test("errors name the file and the line")
    func locatedErrors() throws {
        let typo = Self.minimal.replacingOccurrences(of: "when: { category: local-law-enforcement }", with: "when: { categry: local-law-enforcement }")
        let failure = try #require(error(typo))
        #expect(failure.file == "test.yaml")
        #expect(failure.line == 14)
        #expect(failure.description.contains("unknown key 'categry'"))
    }

    @Test("refuses unknown values instead of ignoring them", arguments: [
        ("when: { category: local-law-enforcement }", "when: { category: Sheriffs }", "is not a category name (built in: federal-immigration"),
        ("effect: permit\n    when: { category: local-law-enforcement }", "effect: forbid\n    reason: x\n    when: { action: records.write }", "matches no route"),
        ("effect: permit", "effect: allow", "permit or forbid"),
        ("effect: permit\n    when", "effect: forbid\n    when", "needs a reason"),
        ("time-zone: America/Denver", "time-zone: Mars/Olympus", "unknown time zone"),
        ("method: GET", "method: TRACE", "method must be one of"),
        ("path: /records/{booking}", "path: /records/../{booking}", "canonical path"),
        ("when: { category: local-law-enforcement }", "when: { warrant: present }", "write 'verified'"),
        ("when: { category: local-law-enforcement }", "when: { warrant: { kind: [administrative-warrant] } }", "not a judicial document kind"),
        ("when: { category: local-law-enforcement }", "when: { consent: { attorney: maybe } }", "must be one of any, required, not-required"),
        ("when: { category: local-law-enforcement }", "when: { document: { kind: [i-200] } }", "'i-200' is not a document kind (one of judicial-warrant"),
        ("effect: permit\n    when: { category: local-law-enforcement }", "effect: forbid\n    reason: x\n    when: { data: [adress] }", "no route returns data 'adress'"),
        ("when: { category: local-law-enforcement }", "when: { public: yes }", "must be true or false"),
    ])
    func refusesUnknownValues(original: String, replacement: String, message: String) throws {
        let failure = try #require(error(Self.minimal.replacingOccurrences(of: original, with: replacement)))
        #expect(failure.message.contains(message), "\(failure)")
        #expect(failure.line != nil)
    }

    /// Yams reads `1:30` as base 60 and `010` as octal, and traps on the overflow of a long base-60 number: a policy
    /// with one crashed `policy check`, and a gateway reloading it.
    @Test("a number is plain decimal digits: the other forms YAML 1.1 reads as numbers are refused, never trapped on", arguments: [
        "1:1:1:1:1:1:1:1:1:1:1:1", "9223372036854775807:0", "1:30", "010", "0x10", "8_443", "1e3", "99999999999999999999", "+5", "ten",
    ])
    func numbersAreDecimal(_ written: String) throws {
        let lookup = "\nfact-lookup:\n  upstream: records\n  path: /facts/{subject}\n  max-entries: \(written)"
        let failure = try #require(error(Self.minimal + lookup))
        #expect(failure.message.contains("max-entries"), "\(failure)")
        #expect(try PolicyParser.parse(Self.minimal + lookup.replacingOccurrences(of: written, with: "90"), file: "t.yaml").factLookup?.maxEntries == 90)
    }

    /// YAML reads `- citizenship, countryOfBirth` as one string: taken as one field's name, it redacted nothing.
    @Test("a redact entry that is no field's name is refused: a comma-joined list, a space, an invisible character", arguments: [
        ("redact: [\"citizenship, countryOfBirth\"]", "write a YAML list"),
        ("redact:\n  - citizenship, countryOfBirth", "write a YAML list"),
        ("redact: [\"immigration\u{200B}Status\"]", "is not a field name"),
        ("redact: [\"immigrationStatus \"]", "is not a field name"),
    ])
    func redactEntriesAreNames(entry: String, message: String) throws {
        let failure = try #require(error(Self.minimal + "\n" + entry))
        #expect(failure.message.contains(message), "\(failure)")
        #expect(try PolicyParser.parse(Self.minimal + "\nredact: [citizenship, country-of_birth.2, $id, '@type']", file: "t.yaml").redactAlways.count == 4)
    }

    @Test("a field name with a space or '#' is written out as field:<name>, and redacted in any letter case, escaped or not")
    func literalFieldNames() throws {
        let plain = try #require(error(Self.minimal + "\nredact: [Country Of Birth]"))
        #expect(plain.message.contains("written out: field:Country Of Birth"), "\(plain)")
        let policy = try PolicyParser.parse(Self.minimal + "\nredact:\n  - field:Country Of Birth\n  - field:A#\n  - citizenship", file: "t.yaml")
        #expect(policy.redactAlways == ["country of birth", "a#", "citizenship"])
        let document = #"{"name":"x","Country of Birth":"MX","nested":{"country\u0020of birth":"MX","a#":"A123"},"A#":"A123"}"#
        for pieceSize in [nil, 1] {
            let redacted = AllowListRedactionTests.run(ResponseRedactor(names: policy.redactAlways), .json, Array(document.utf8), pieceSize: pieceSize)
            #expect(redacted == .kept(#"{"name":"x","nested":{}}"#))
        }
        #expect(RedactionVocabulary.empty.described(Set(policy.redactAlways)) == ["citizenship", "field:a#", "field:country of birth"])
    }

    @Test("a fact or value the policy does not declare is an error in a forbid, which would forbid nothing, and a warning in a permit")
    func undeclaredFacts() throws {
        let facts = Self.minimal.replacingOccurrences(of: "routes:", with: "facts:\n  conviction: [none, serious-felony]\nroutes:")
        for (test, message) in [("{ conviction: [serius-felony] }", "is not a declared value of fact 'conviction'"), ("{ convction: [serious-felony] }", "is not declared under facts:")] {
            let forbid = facts + "\n  - { id: f, effect: forbid, reason: refused, when: { category: federal-immigration, fact: \(test) } }"
            #expect(error(forbid)?.message.contains(message) == true, "\(test)")
            let permit = try PolicyParser.parse(facts + "\n  - { id: p, effect: permit, when: { category: court, fact: \(test) } }", file: "t.yaml")
            #expect(permit.warnings.contains { $0.message.contains(message) }, "\(test)")
            // In a permit's unless, a test that holds for nothing never stops the permit: it widens it, so an error;
            // in a forbid's unless, or under not: in its when, it narrows, so a warning.
            let permitUnless = facts + "\n  - { id: p, effect: permit, when: { category: court }, unless: { fact: \(test) } }"
            #expect(error(permitUnless)?.message.contains(message) == true, "\(test)")
            for narrowing in ["when: { category: federal-immigration }, unless: { fact: \(test) }", "when: { category: federal-immigration, not: { fact: \(test) } }"] {
                let forbid = try PolicyParser.parse(facts + "\n  - { id: f, effect: forbid, reason: refused, \(narrowing) }", file: "t.yaml")
                #expect(forbid.warnings.contains { $0.message.contains(message) }, "\(narrowing)")
            }
        }
    }

    @Test("a category no agency can have is a problem where it widens a rule: a forbid's when, a permit's unless, or under not:")
    func wideningCategories() throws {
        let declared = Set(AgencyCategory.builtIn)
        for (rule, problem) in [
            ("{ id: f, effect: forbid, reason: refused, when: { category: federal-imigration } }", true),
            ("{ id: p, effect: permit, when: { category: court }, unless: { category: federal-imigration } }", true),
            ("{ id: p, effect: permit, when: { public: true, not: { category: federal-imigration } } }", true),
            ("{ id: p, effect: permit, when: { category: federal-imigration } }", false),
            ("{ id: f, effect: forbid, reason: refused, when: { category: court }, unless: { category: federal-imigration } }", false),
        ] {
            let policy = try PolicyParser.parse(Self.minimal + "\n  - " + rule, file: "t.yaml")
            #expect((policy.undeclaredWideningCategory(declared: declared, directoryFile: "agencies.yaml") != nil) == problem, "\(rule)")
        }
    }

    /// A 790 KB file of 2,000 such rules cost 60 s of lint at every load and reload.
    @Test("the pairwise lint checks stop at their budget on a file of many long rules, and say so")
    func lintBudget() throws {
        let shared = (0..<24).map { "{agency: c\($0)}" }.joined(separator: ",")
        let rules = (0..<600).map { index in
            "  - {id: x\(index), effect: \(index % 2 == 0 ? "permit" : "forbid, reason: refused"), when: {all: [\(shared),{agency: u\(index)}]}}"
        }
        let text = Self.minimal.replacingOccurrences(of: "rules:\n  - id: allow-police\n    effect: permit\n    when: { category: local-law-enforcement }", with: "rules:\n" + rules.joined(separator: "\n"))
        let policy = try PolicyParser.parse(text, file: "lint.yaml")
        #expect(policy.rules.count == 600)
        #expect(policy.warnings.contains { $0.message.contains("too many long rules to check every pair") })
        // A file of ordinary size is checked whole: its shadowed permit is found.
        let small = try PolicyParser.parse(Self.minimal + "\n  - { id: no-police, effect: forbid, reason: refused, when: { category: local-law-enforcement } }", file: "t.yaml")
        #expect(small.warnings.contains { $0.message.contains("'allow-police' is shadowed") })
        #expect(!small.warnings.contains { $0.message.contains("too many") })
    }

    @Test("a written-out field name is refused where it is likelier a slip than a name", arguments: [
        ("redact: ['field:']", "names no field"),
        ("redact: ['field: Country']", "begins or ends with a space"),
        ("redact: ['field:Country ']", "begins or ends with a space"),
        ("redact: [\"field:Country\u{200B}Of\"]", "invisible"),
        ("redact: [\"field:Countr\u{0065}\u{0301}\"]", "combining mark"),
        ("redact: ['field:citizenship, alienNumber']", "write a YAML list"),
        ("redact: ['field:{urn:x}citizenship']", "begins with '{'"),
        ("namespaces: { field: 'urn:x' }", "reserved"),
        ("redact: ['field:_ -']", "only separators"),
        ("redact: ['__']", "only separators"),
    ])
    func literalFieldNameRefusals(entry: String, message: String) throws {
        let failure = try #require(error(Self.minimal + "\n" + entry))
        #expect(failure.message.contains(message), "\(failure)")
    }

    /// `redact: [сitizenship]`, its first letter Cyrillic, loaded and redacted nothing: `citizenship` went out.
    @Test("a look-alike letter in a field name is refused, written out or not, under redact, return-only and lift", arguments: [
        "redact: [\u{441}itizenship]", "redact: ['field:\u{441}itizenship']",
        "  - { id: p, effect: permit, when: { category: court }, return-only: [\u{441}itizenship] }",
        "  - { id: p, effect: permit, when: { category: court, authorization: { covers: ['field:\u{441}itizenship'] } }, lift: ['field:\u{441}itizenship'] }",
    ])
    func lookAlikeLetters(entry: String) throws {
        let failure = try #require(error(Self.minimal + "\n" + entry))
        #expect(failure.message.contains("mixes letters of Cyrillic and Latin scripts"), "\(failure)")
    }

    @Test("a field name with letters outside ASCII is written out as field:<name>, in one script")
    func nonASCIIFieldNames() throws {
        let plain = try #require(error(Self.minimal + "\nredact: [ciudadanía]"))
        #expect(plain.message.contains("write it out, field:ciudadanía"), "\(plain)")
        let policy = try PolicyParser.parse(Self.minimal + "\nredact: ['field:Ciudadanía', 'field:гражданство']", file: "t.yaml")
        #expect(policy.redactAlways == ["ciudadanía", "гражданство"])
        #expect(RedactionVocabulary.empty.described(Set(policy.redactAlways)) == ["field:ciudadanía", "field:гражданство"])
    }

    @Test("a rule that can never apply is warned about: its unless always holds, or its when negates always", arguments: [
        ("unless: always", "can never apply: its unless always holds"),
        ("unless: { any: [always, { category: court }] }", "can never apply: its unless always holds"),
        ("when: { category: federal-immigration, not: always }", "can never match: it requires the negation of always"),
    ])
    func rulesThatNeverApply(rule: String, message: String) throws {
        let clause = rule.hasPrefix("when") ? rule : "when: { category: federal-immigration }, \(rule)"
        let policy = try PolicyParser.parse(Self.minimal + "\n  - { id: f, effect: forbid, reason: refused, \(clause) }", file: "t.yaml")
        #expect(policy.warnings.contains { $0.message.contains("rule 'f' \(message)") }, "\(policy.warnings)")
        let sound = try PolicyParser.parse(Self.minimal + "\n  - { id: f, effect: forbid, reason: refused, when: { category: federal-immigration } }", file: "t.yaml")
        #expect(sound.warnings.isEmpty, "\(sound.warnings)")
    }

    /// `Etc/GMT-7` is UTC+7: counsel who wrote it for Denver's seven hours behind got days ending fourteen hours off.
    @Test("an Etc/GMT zone is warned about with the offset it means; UTC and place names are not")
    func invertedZones() throws {
        for (zone, offset) in [("Etc/GMT-7", "UTC+07:00"), ("Etc/GMT+5", "UTC-05:00")] {
            let policy = try PolicyParser.parse(Self.minimal.replacingOccurrences(of: "America/Denver", with: zone), file: "t.yaml")
            #expect(policy.warnings.contains { $0.message.contains("'\(zone)' is \(offset)") && $0.line == 2 }, "\(policy.warnings)")
        }
        for zone in ["America/Denver", "Etc/GMT", "Etc/UTC"] {
            #expect(try PolicyParser.parse(Self.minimal.replacingOccurrences(of: "America/Denver", with: zone), file: "t.yaml").warnings.isEmpty, "\(zone)")
        }
    }

    @Test("an empty list in a condition is refused, not read as matching nothing, or everything", arguments: [
        "when: { category: [] }", "when: { agency: [] }", "when: { action: [] }", "when: { method: [] }", "when: { data: [] }",
        "when: { warrant: { kind: [] } }", "when: { warrant: { court: [] } }", "when: { authorization: { covers: [] } }",
        "when: { consent: { status: [] } }", "when: { document: { status: [] } }", "when: { fact: { conviction: } }",
    ])
    func emptyListsAreRefused(_ condition: String) throws {
        let failure = try #require(error(Self.minimal.replacingOccurrences(of: "when: { category: local-law-enforcement }", with: condition)))
        #expect(failure.message.contains("needs at least one value"), "\(failure)")
    }

    /// Routes match in file order: one after a route that matches all its requests would never decide anything, and
    /// the requests it was written for would be decided as the earlier route's action.
    @Test("a route an earlier one hides entirely is refused; the specific one first loads; one differing only in case is warned of")
    func hiddenRoutes() throws {
        func route(_ id: String, _ path: String) -> String {
            "  - { id: \(id), method: GET, path: \"\(path)\", action: records.read, subject: { path: booking }, upstream: records }\n"
        }
        let general = route("any-kind", "/records/{kind}/{booking}"), specific = route("inmate", "/records/inmates/{booking}")
        let hidden = try #require(error(Self.minimal.replacingOccurrences(of: "routes:\n", with: "routes:\n" + general + specific)))
        #expect(hidden.message.contains("route 'inmate' can never be reached: route 'any-kind'"), "\(hidden)")
        _ = try PolicyParser.parse(Self.minimal.replacingOccurrences(of: "routes:\n", with: "routes:\n" + specific + general), file: "t.yaml")
        let cased = try PolicyParser.parse(
            Self.minimal.replacingOccurrences(of: "routes:\n", with: "routes:\n" + specific + route("inmate-cased", "/records/Inmates/{booking}")), file: "t.yaml"
        )
        #expect(cased.warnings.contains { $0.message.contains("route 'inmate-cased' differs from route 'inmate' only in letter case") })
    }

    /// A file under the size limit once held 64 million warnings (two for each pair of like rules), 18 GB to hold.
    @Test("a policy holds at most 1,000 routes and 2,000 rules; like rules cost a warning each, not one a pair")
    func bounds() throws {
        func rules(_ count: Int) -> String {
            (0..<count).map { "\n  - { id: r\($0), effect: permit, when: { method: GET } }" }.joined()
        }
        #expect(try #require(error(Self.minimal + rules(2_000))).message.contains("at most 2000 rules"))
        let repeated = try PolicyParser.parse(Self.minimal + rules(200), file: "t.yaml").warnings.filter { $0.message.contains("repeats") }
        #expect(repeated.count == 199)
        #expect(repeated.allSatisfy { $0.message.hasSuffix("repeats rule 'r0'") })
        let routes = (0..<1_001).map { "  - { id: x\($0), method: GET, path: \"/x\($0)/{booking}\", action: records.read, subject: { path: booking }, upstream: records }\n" }
        #expect(try #require(error(Self.minimal.replacingOccurrences(of: "routes:\n", with: "routes:\n" + routes.joined()))).message.contains("at most 1000 routes"))
    }

    @Test("hostile YAML gets a clear error, never a crash or a hang")
    func hostileYAML() throws {
        let laughs = """
            a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
            b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
            c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
            d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
            policy: x
            """
        #expect(try #require(error(laughs)).message.contains("anchors and aliases"), "\(String(describing: error(laughs)))")
        #expect(try #require(error(String(repeating: "[", count: 10_000))).message.contains("nesting"))
        #expect(try #require(error("policy: " + String(repeating: "x", count: 2 << 20))).message.contains("larger than"))
        #expect(try #require(error("policy: [1, 2]")).message.contains("must be a string"))
        #expect(try #require(error("- a\n- b")).message.contains("must be a mapping"))
        #expect(try #require(error("policy: x\npolicy: y")).message.contains("duplicate") || error("policy: x\npolicy: y") != nil)
        #expect(try #require(error("{ unclosed")).message.contains("invalid YAML"))
        // An anchor no alias uses, and tags: each refused, not read past (a node holds its anchor weakly, and this
        // check saw none once the parser was gone).
        let description = Self.minimal.replacingOccurrences(of: "    effect: permit\n", with: "    effect: permit\n    description: &d hi\n")
        #expect(try #require(error(description)).message.contains("anchors and aliases"))
        for tag in ["!!python/object:os.system", "!custom", "!!binary"] {
            let tagged = Self.minimal.replacingOccurrences(of: "    effect: permit\n", with: "    effect: permit\n    description: \(tag) aGk=\n")
            #expect(try #require(error(tagged)).message.contains("YAML tags"), "\(tag)")
        }
        #expect(error(Self.minimal.replacingOccurrences(of: "    effect: permit\n", with: "    effect: permit\n    description: !!str \"quoted\"\n")) == nil)
    }
}
