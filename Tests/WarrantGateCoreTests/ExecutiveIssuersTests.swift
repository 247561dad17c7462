import Foundation
import Testing
@testable import WarrantGateCore

@Suite("A judicial kind must not name an immigration authority or an ICE form as its issuer")
struct ExecutiveIssuersTests {
    let denver = TimeZone(identifier: "America/Denver")!
    let now = LocalDate("2026-11-25")!.start(in: TimeZone(identifier: "America/Denver")!)

    private func registration(kind: DocumentKind = .judicialWarrant, court: String, judge: String, caseNumber: String) -> DocumentRegistration {
        DocumentRegistration(
            reference: "JW-1", kind: kind, agency: "ice-ero", subjects: ["2017-000123"], scope: ["records.read"], expires: "2026-12-31",
            court: court, judge: judge, caseNumber: caseNumber, noDocumentReason: "faxed"
        )
    }

    private func problems(_ registration: DocumentRegistration) -> [String] {
        do {
            _ = try registration.validated(timeZone: denver, at: now)
            return []
        } catch {
            return error.problems
        }
    }

    /// The red team's pass: an I-200 signed by a deportation officer, and an immigration judge's order, registered as
    /// a judicial warrant and a court order, opened records to ICE once approved.
    @Test("an ICE warrant or an immigration court's order filed under a judicial kind is refused, naming each field and what to do")
    func redTeamRegistrations() {
        let form = problems(registration(
            court: "U.S. Department of Homeland Security, ICE Enforcement and Removal Operations",
            judge: "SDDO J. Smith, Supervisory Detention and Deportation Officer", caseNumber: "Form I-200"
        ))
        #expect(form.count == 3, "\(form)")
        #expect(form.contains { $0.hasPrefix("--court names the Department of Homeland Security ('homeland security'), an agency of the executive branch, not a court: register the paper under its own kind (") }, "\(form)")
        #expect(form.contains { $0.hasPrefix("--judge names an immigration officer ('sddo')") }, "\(form)")
        #expect(form.contains { $0 == "--case names an ICE administrative warrant (Form I-200 or I-205) ('i 200'), signed by an immigration officer, not by a judge: register the paper as an administrative-warrant, not as a judicial-warrant" }, "\(form)")
        #expect(form.allSatisfy { $0.hasSuffix(", not as a judicial-warrant") }, "\(form)")

        let court = problems(registration(
            kind: .courtOrder, court: "Executive Office for Immigration Review, Denver Immigration Court", judge: "Immigration Judge A. Example",
            caseNumber: "A-2026-0001"
        ))
        #expect(court.count == 2, "\(court)")
        #expect(court.allSatisfy { $0.contains("the Executive Office for Immigration Review (EOIR)") && $0.hasSuffix("register the paper as an immigration-judge-order, not as a court-order") }, "\(court)")
        #expect(court.contains { $0.contains("not to the judiciary") })

        // Kept on record under its own kind, the same paper registers.
        #expect(problems(registration(kind: .administrativeWarrant, court: "DHS / ICE ERO", judge: "SDDO J. Smith", caseNumber: "Form I-200")).isEmpty)
    }

    @Test("names match as words, in any case, spelled out, written together, in look-alike or compatibility letters")
    func spellings() {
        let named: [(String, String)] = [
            ("ICE", "ICE"), ("ice", "ICE"), ("Ice ERO Denver", "ICE"), ("I.C.E.", "ICE"), ("I C E", "ICE"), ("DHS/ICE", "Homeland"),
            ("U.S. Immigration & Customs Enforcement", "ICE"), ("HomelandSecurity", "Homeland"), ("Homeland-Security Investigations", "Homeland"),
            ("HSI Denver", "ICE"), ("E.R.O.", "ERO"), ("Enforcement & Removal Operations", "ERO"), ("USCIS", "USCIS"),
            ("U.S. Citizenship and Immigration Services", "USCIS"), ("Customs and Border Protection", "CBP"), ("U.S. Border Patrol", "CBP"),
            ("CBP", "CBP"), ("EOIR", "EOIR"), ("Board of Immigration Appeals", "EOIR"), ("the Immigration Judges of Denver", "EOIR"),
            ("Immigration Courts", "EOIR"), ("Deportation Officers", "immigration officer"), ("Immigration Officer J. Doe", "immigration officer"),
            ("Form I-247A", "I-247"), ("I 247N", "I-247"), ("I-247 A", "I-247"), ("i205", "I-200"), ("I‑200", "I-200"), ("I\u{2013}205", "I-200"),
            // Cyrillic І С Е, fullwidth, mathematical bold, a circled letter, a soft hyphen and an accent.
            ("\u{406}\u{421}\u{415}", "ICE"), ("ＩＣＥ", "ICE"), ("𝐈𝐂𝐄", "ICE"), ("Immi\u{AD}gration Court", "EOIR"), ("ÍCE", "ICE"),
            ("Ｉ－２４７Ａ", "I-247"), ("ⅰ-200", "I-200"),
            // An attacker's pass (helper 241): acronyms spelled out beside `U.S.` or each other, other EOIR names.
            ("U.S. I.C.E.", "ICE"), ("U.S. D.H.S.", "Homeland"), ("U.S. C.B.P.", "CBP"), ("U.S. E.O.I.R.", "EOIR"), ("U.S.I.C.E.", "ICE"),
            ("U. S. I. C. E.", "ICE"), ("I.C.E./E.R.O.", "ICE"), ("I.C.E. E.R.O.", "ICE"), ("Dept. of H.S. – I.C.E.", "ICE"), ("OCIJ", "EOIR"),
            ("Immigration Adjudication Center", "EOIR"), ("Acting FOD J. Smith", "immigration officer"), ("Immigr Court", "EOIR"),
            ("Inmigration Court", "EOIR"),
            // A review's pass: other letters beside them.
            ("U.S. D.O.J. E.O.I.R.", "EOIR"), ("D.O.J./E.O.I.R.", "EOIR"), ("U.S.A. I.C.E.", "ICE"), ("I.C.E. U.S.A.", "ICE"),
            ("D.H.S., U.S.A.", "Homeland"), ("I.C.E. E.R.O. N.Y.", "ICE"), ("U.S. I.C.E. (E.R.O.) D.C.", "ICE"), ("N.Y. I.C.E.", "ICE"),
        ]
        for (text, issuer) in named {
            let match = ExecutiveIssuers.named(in: text)
            #expect(match?.issuer.contains(issuer) == true, "\(text): \(String(describing: match))")
        }
        let courts = [
            "U.S. District Court for the District of Colorado", "Hon. M. Rivera, U.S. Magistrate Judge", "1:26-mj-00417", "Denver County Court",
            "Justice A. Rice", "Hon. Alice Price", "Police Court of the City", "Office of the Clerk", "Circuit Court of Cook County",
            "Superior Court of California, County of Santa Clara", "1:26-cr-42 (immigration fraud)", "Hon. M. E. R. O. Ortiz", "Hon. D. H. Smith",
            "Services Division", "I-2005", "26CR1", "Hon. Eros Ramazzotti", "Department of Justice", "Hon. Devices",
            "U.S.D.C. for the District of Colorado", "S.D.N.Y.", "U.S. Dist. Ct. D. Colo.", "U.S.M.J. Rivera", "D.C. Superior Court",
        ]
        for text in courts { #expect(ExecutiveIssuers.named(in: text) == nil, "\(text)") }
    }

    /// A red-team pass: the Board of Immigration Appeals and an immigration judge by their abbreviations, the
    /// former INS, Spanish names, an officer's title, and form numbers written with look-alikes all registered as
    /// judicial.
    @Test("abbreviations, the former INS, Spanish names, officers' titles and look-alike form numbers are read")
    func moreSpellings() {
        let named: [(String, ExecutiveIssuers.Field, String)] = [
            ("BIA", .court, "EOIR"), ("B.I.A.", .court, "EOIR"), ("IJ Smith", .judge, "EOIR"), ("Hon. IJ A. Example", .judge, "EOIR"),
            ("INS", .court, "INS"), ("Immigration and Naturalization Service", .court, "INS"),
            ("Servicio de Inmigración y Control de Aduanas", .court, "ICE"), ("Departamento de Seguridad Nacional", .court, "Homeland"),
            ("Juez de Inmigración R. Pérez", .judge, "EOIR"), ("Corte de Inmigración de Denver", .court, "EOIR"),
            ("Oficial de Inmigración", .judge, "immigration officer"), ("Field Office Director J. Doe", .judge, "immigration officer"),
            ("AFOD J. Doe", .judge, "immigration officer"), ("SDDO J. Smith", .judge, "immigration officer"),
            ("Immigration Enforcement Agent K. Lee", .judge, "immigration officer"), ("Asylum Officer", .judge, "immigration officer"),
            ("Enforcement and Removal, Denver", .court, "ERO"), ("Homeland Security Investigations", .judge, "Homeland"),
            ("U.S. Border Patrol Agent", .judge, "CBP"), ("Form I-2OO", .caseNumber, "I-200"), ("I-2O5", .caseNumber, "I-200"),
            ("Form l-247A", .caseNumber, "I-247"), ("Form 1-200", .caseNumber, "I-200"), ("form 1 205", .caseNumber, "I-200"),
            ("ICE", .court, "ICE"), ("DHS", .caseNumber, "Homeland"),
        ]
        for (text, field, issuer) in named {
            let match = ExecutiveIssuers.named(in: text, field: field)
            #expect(match?.issuer.contains(issuer) == true, "\(text) as \(field): \(String(describing: match))")
        }
        // A person's name in the judge's field: an acronym's letters, or initials spelling one, are a name.
        for judge in [
            "Hon. Mary Ice", "Hon. L. Ero", "Hon. Hsi-Wen Chen", "Hon. E. R. O'Connor", "Hon. D. H. S. Patel", "Hon. Bia Souza", "Hon. J. Ins",
            "Hon. C. B. P. Nakamura", "Hon. Eoir", "Hon. Ice-T Marrow", "Patel, D.H.S.", "Hon. Smith, I.J.", "Hon. A. Rivera, J.S.C.",
            "Hon. M. Rivera, U.S.M.J.",
            // A review's pass: titles, a court, a suffix or a surname of several words before a surname's initials, and
            // initials within a name; `Fod` as a name.
            "Chief Judge Patel, D.H.S.", "U.S. District Judge Patel, D.H.S.", "Hon. Patel Jr., D.H.S.", "Presiding Judge Smith, I.J.",
            "Associate Judge Kim, I.J.", "Senior Judge Ortiz, E.R.O.", "Van Buren, I.J.", "De La Cruz, I. J.", "Hon. Mary Anne E. R. O. Smith",
            "Hon. Amir Fod", "Mr. Smith Fod",
        ] {
            #expect(ExecutiveIssuers.named(in: judge, field: .judge) == nil, "\(judge)")
        }
        // An acronym in a judge's field counts beside an officer's title, or in capitals amid a name's small letters.
        // Letters spelled out after a whole name are a post-nominal.
        for judge in [
            "ICE Officer J. Smith", "HSI Special Agent R. Diaz", "DHS/ERO Officer Lee", "Hon. J. Smith (ICE)", "D.H.S. Officer Lee",
            "Hon. J. Smith, I.J.", "J. Smith (I.C.E.)", "Hon. Jane Smith, U.S. I.C.E.", "Hon. J. Smith, I.J. (Houston)", "Hon. J. Smith, I.J., Ret.",
            "J. Smith, U.S. I.C.E. 2026", "Hon. J. R. Smith, I.J.", "Mr. Smith FOD", "Hon. J. Smith I.C.E.", "Hon. J. Smith of I.C.E.",
            "J. Smith – I.C.E.",
        ] {
            #expect(ExecutiveIssuers.named(in: judge, field: .judge) != nil, "\(judge)")
        }
        #expect(ExecutiveIssuers.named(in: "HON. MARY ICE", field: .judge) == nil)
        // A case: an acronym in capitals, or the only word of a code in small letters; but not a docket number's judges'
        // initials, nor a caption's abbreviation or party.
        for text in [
            "ICE-2026-0001", "I.C.E. 2026-0001", "ＩＣＥ-2026-0001", "1:26-mj-00502-I-200", "1:26-mj-00502-DHS-I-247A", "ice-2026-0001",
            "Case No. ice-2026-0001", "eoir 2026/17", "Cause No. ice-2026-1", "Civil Action No. ice-26-4",
            // Letters joined to the numbers: in capitals, or a code's only letters.
            "ICE2026-0001", "2026-DHS17", "ice2026-0001", "Case No. 2026ice17", "ice-2026-1a",
            // A code's words of letters all acronyms.
            "ice-dhs-2026-01", "Case No. dhs/ero 26-4",
            // A letter after a number: the number's suffix, not an initial.
            "ice-2026-1-b", "Case No. ice 2026 17 a",
        ] {
            #expect(ExecutiveIssuers.named(in: text, field: .caseNumber) != nil, "\(text)")
        }
        for text in [
            "1:26-mj-00502-DHS", "2:25-cr-00117-IJ-KS", "1:26-MJ-502-BIA", "Doe v. State Farm Ins. Co.", "Bia v. Ice", "1:26-mj-00502-ice",
            "ice v. 2026-1 hold", "People v. Ice, 2026-cr-1", "2026cr001234", "cr-2026-0001", "U.S. v. Ice", "Ice, J.", "U.S. v. Bia",
            "United States v. Ice",
            // Joined to numbers, letters that are no acronym, or a caption's.
            "CR2026-0001", "2026cr17", "People v. Ice2", "Ice v. Doe, 2026cv17", "ice-cream-2026", "Bia v. Ice 2026",
            // A letter after a name is an initial; after a number, a suffix of a code that is no acronym.
            "Ice, J. 2026-17", "cr-2026-1-b", "Ice v. 2026-1 b",
        ] {
            #expect(ExecutiveIssuers.named(in: text, field: .caseNumber) == nil, "\(text)")
        }
        #expect(ExecutiveIssuers.withoutDocketInitials("1:26-mj-00502-DHS-KS; see 2:25-cr-1-IJ") == "1:26-mj-00502; see 2:25-cr-1")
        #expect(ExecutiveIssuers.withoutDocketInitials("11:26-mj-00502-DHS, 123:26-mj-1-DHS") == "11:26-mj-00502, 123:26-mj-1-DHS")
        // A number after `Form` or `I`, not any `1-200`.
        for text in ["1-200", "Case 1-205", "l-247", "I-2005", "26-cr-1200"] { #expect(ExecutiveIssuers.named(in: text, field: .caseNumber) == nil, "\(text)") }
        let judgeProblems = ExecutiveIssuers.problems(kind: .judicialWarrant, court: "U.S. District Court", judge: "Hon. Mary Ice", caseNumber: "1:26-mj-1")
        #expect(judgeProblems.isEmpty, "\(judgeProblems)")
    }

    /// An attacker's pass: an immigration court, DHS and ICE abbreviated as citations abbreviate them, ICE's former
    /// Detention and Removal Operations, and officers' notices and orders other than I-200, I-205 and I-247 all
    /// registered as judicial. A review's pass then found what the first reading took for them: a surname, a domestic
    /// relations office, a docket number's division.
    @Test("citation abbreviations, Detention and Removal and officers' other forms are read; a surname, DRO or a division are not")
    func citationAbbreviations() {
        let named: [(String, ExecutiveIssuers.Field, String)] = [
            ("Denver Immigration Ct.", .court, "EOIR"), ("Immigr. Ct. (Denver, Colo.)", .court, "EOIR"), ("Bd. of Immigr. Appeals", .court, "EOIR"),
            ("Dept. of Justice, Exec. Off. for Immig. Review", .court, "EOIR"), ("U.S. Dep't of Homeland Sec.", .court, "Homeland"),
            ("Dept. of Homeland Sec.", .court, "Homeland"), ("Immigration & Customs Enf.", .court, "ICE"),
            ("Homeland Sec. Investigations", .court, "Homeland"), ("Detention and Removal Operations", .court, "ERO"),
            ("Immigr. Officer J. Smith", .judge, "immigration officer"), ("Deportation Ofcr. Lee", .judge, "immigration officer"),
            // A review's pass: more of the citation forms, and the ampersand.
            ("Exec. Off. for Immigr. Rev.", .court, "EOIR"), ("Bd. of Immigr. App.", .court, "EOIR"), ("Denver Immigr. Cts.", .court, "EOIR"),
            ("Immigr. J. Smith", .judge, "EOIR"), ("Immgr. Ct.", .court, "EOIR"), ("U.S. Citizenship & Immigr. Servs.", .court, "USCIS"),
            ("Customs & Border Prot.", .court, "CBP"), ("Immigr. & Naturalization Serv.", .court, "INS"), ("Field Off. Dir. Lee", .judge, "immigration officer"),
            ("Deport. Ofcr. Lee", .judge, "immigration officer"), ("Detention & Removal", .court, "ERO"), ("Enforcement & Removal", .court, "ERO"),
            ("Form I 286", .caseNumber, "I-203"), ("I-86O", .caseNumber, "I-203"),
            ("Corte de Inmig. de Denver", .court, "EOIR"), ("I-203", .caseNumber, "I-203"), ("Form I-286", .caseNumber, "I-203"),
            ("I-862 Notice to Appear", .caseNumber, "I-203"), ("Form I-296", .caseNumber, "I-203"), ("I-860", .caseNumber, "I-203"),
            ("I-871", .caseNumber, "I-203"),
            // The last stop's misses: a slash or period in a form's number, a joined abbreviation, `Imm.`.
            ("I/862", .caseNumber, "I-203"), ("I.862 Notice to Appear", .caseNumber, "I-203"), ("i/286", .court, "I-203"),
            ("ImmigrationCt Denver", .court, "EOIR"), ("Denver Immigration Ct", .court, "EOIR"), ("Imm. Ct.", .court, "EOIR"),
            ("Bd. of Imm. Appeals", .court, "EOIR"), ("I_862", .caseNumber, "I-203"), ("I:862", .caseNumber, "I-203"),
            ("I\\862", .caseNumber, "I-203"), ("I / 862", .caseNumber, "I-203"),
        ]
        for (text, field, issuer) in named {
            let match = ExecutiveIssuers.named(in: text, field: field)
            #expect(match?.issuer.contains(issuer) == true, "\(text) as \(field): \(String(describing: match))")
        }
        let courts: [(String, ExecutiveIssuers.Field)] = [
            ("Conn. Super. Ct.", .court), ("U.S. District Court, Hartford, CT", .court), ("SEC v. Doe, 26-cv-1", .caseNumber),
            ("Hon. Imm Kim", .judge), ("Sec. of State v. Doe", .caseNumber), ("26-cr-1203", .caseNumber), ("I-2030", .caseNumber),
            // A review's pass: a surname, a domestic relations office, and docket numbers that end in a division.
            ("State v. Imm, Court of Appeals No. A-123", .caseNumber), ("Imm, Courtney", .judge), ("Imm, Judge Pro Tem", .judge),
            ("People v. Imm Court", .caseNumber), ("Hon. A. Imm.", .judge), ("Dauphin County DRO", .court),
            ("Court of Common Pleas, Domestic Relations Office (DRO)", .court), ("2026-DRO-00123", .caseNumber), ("Div. I 286", .court),
            ("No. 12345-6-I 203", .caseNumber), ("Dept. of Human Serv. v. J. M.", .caseNumber), ("Off. of the Clerk", .court),
            ("Ct. App. Div. I", .court), ("Child Prot. Servs.", .court),
            // A second review's: Washington's divisions before a reporter's volume, and words merely side by side.
            ("No. 84521-3-I, 200 Wn. App. 1", .caseNumber), ("No. 12345-6-I 200", .caseNumber), ("Div. I 247", .caseNumber),
            ("Wash. Ct. App. Div. I 205", .court), ("Code Enforcement, Removal Div.", .court), ("State v. Detention Removal Corp.", .caseNumber),
            // Beside this stop's readings: a division with its period before a volume, and a judge named Imm.
            ("Div. I. 286 P.3d 1", .caseNumber), ("No. 12345-6-I. 203", .caseNumber), ("Hon. Imm. Kim", .judge), ("Imm. v. State", .caseNumber),
        ]
        for (text, field) in courts { #expect(ExecutiveIssuers.named(in: text, field: field) == nil, "\(text) as \(field)") }
    }

    @Test("every judicial kind is checked, none other; text too long to read is left to the length check")
    func kinds() {
        for kind in DocumentKind.allCases {
            let found = ExecutiveIssuers.problems(kind: kind, court: "ICE", judge: nil, caseNumber: nil)
            #expect(found.isEmpty == !kind.isJudicial, "\(kind)")
        }
        let long = String(repeating: "a ", count: FreeText.maxLength) + "ICE"
        #expect(ExecutiveIssuers.problems(kind: .judicialWarrant, court: long, judge: nil, caseNumber: nil).isEmpty)
        #expect(problems(registration(court: long, judge: "Hon. X", caseNumber: "1")).contains { $0.contains("--court holds more than") })
    }
}
