import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateStore

/// Records about an inmate that policies turn on.
struct RecordOptions: ParsableArguments {
    @Option(help: "The inmate's booking number.") var subject: String
    @Option(help: "The staff member who gave or took it.", transform: FreeText.composed) var by: String
    @Option(help: "When, with a time and zone, such as 2026-11-25T14:30:00-07:00: not in the future, and for a consent or an authorization after the latest record about it (default: now).")
    var at: String?

    /// `--at`, else now.
    func givenAt() throws -> Date {
        try at.map(parseRecordTime) ?? Date()
    }
}

/// `advisement record`: rights given before any contact with immigration authorities.
struct AdvisementCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "advisement", abstract: "Record advisements of rights.", subcommands: [Record.self])

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that an inmate was advised of their rights.",
            discussion: "Example: warrant-gate advisement record --subject 2017-000789 --language es --by \"Dep. L. Ortiz\""
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var record: RecordOptions
        @Option(help: "The language the rights were given in.", transform: FreeText.composed) var language: String

        func run() throws {
            try save(SubjectRecord(subject: record.subject, kind: .advisement, givenBy: record.by, givenAt: try record.givenAt(), language: language), admin)
        }
    }
}

/// `consent record|decline|withdraw`: the inmate's written consent to an interview (California's TRUTH Act form),
/// a refusal, or a withdrawal. The latest of them decides.
struct ConsentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent", abstract: "Record written consents to an interview, refusals and withdrawals.",
        subcommands: [Record.self, Decline.self, Withdraw.self]
    )

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record an inmate's written consent to an interview.",
            discussion: "Example: warrant-gate consent record --subject 2017-000456 --by \"Dep. A. Chen\" --attorney-required"
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var record: RecordOptions
        @Flag(help: "The inmate consents only with an attorney present.") var attorneyRequired = false
        @Option(help: "The language of the form.", transform: FreeText.composed) var language: String?

        func run() throws {
            try save(SubjectRecord(subject: record.subject, kind: .consent, givenBy: record.by, givenAt: try record.givenAt(),
                                   language: language, attorneyRequired: attorneyRequired), admin)
        }
    }

    struct Decline: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that an inmate declined an interview.",
            discussion: "Example: warrant-gate consent decline --subject 2017-000456 --by \"Dep. A. Chen\""
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var record: RecordOptions
        @Option(help: "The language of the form.", transform: FreeText.composed) var language: String?

        func run() throws {
            try save(SubjectRecord(subject: record.subject, kind: .consentDeclined, givenBy: record.by, givenAt: try record.givenAt(),
                                   language: language), admin)
        }
    }

    struct Withdraw: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that an inmate withdrew a consent given earlier.",
            discussion: "Example: warrant-gate consent withdraw --subject 2017-000456 --by \"Dep. A. Chen\""
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var record: RecordOptions

        func run() throws {
            try save(SubjectRecord(subject: record.subject, kind: .consentWithdrawn, givenBy: record.by, givenAt: try record.givenAt()), admin)
        }
    }
}

/// `authorization record|withdraw`: the inmate's written consent to share their own status, and its withdrawal. For
/// each field, the latest of them decides.
struct AuthorizationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authorization", abstract: "Record written authorizations to share, and their withdrawals.", subcommands: [Record.self, Withdraw.self]
    )

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record an inmate's written authorization to share named fields about themselves.",
            discussion: "Example: warrant-gate authorization record --subject 2017-000456 --by \"Dep. A. Chen\" --fields immigrationStatus"
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var record: RecordOptions
        @Option(help: "The fields the inmate allows to be shared, comma-separated.") var fields: String

        func run() throws {
            try save(SubjectRecord(subject: record.subject, kind: .writtenAuthorization, givenBy: record.by,
                                   givenAt: try record.givenAt(), scope: list(fields)), admin)
        }
    }

    struct Withdraw: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that an inmate withdrew a written authorization to share: of the fields named, or of every field.",
            discussion: "Example: warrant-gate authorization withdraw --subject 2017-000456 --by \"Dep. A. Chen\" --fields immigrationStatus"
        )
        @OptionGroup var admin: AdminOptions
        @OptionGroup var record: RecordOptions
        @Option(help: "The fields no longer to be shared, comma-separated (default: every field).") var fields: String?

        func validate() throws {
            if let fields, list(fields).isEmpty { throw ValidationError("--fields names no field: leave it out to withdraw every field") }
        }

        func run() throws {
            try save(SubjectRecord(subject: record.subject, kind: .authorizationWithdrawn, givenBy: record.by,
                                   givenAt: try record.givenAt(), scope: fields.map(list) ?? []), admin)
        }
    }
}

private func save(_ record: SubjectRecord, _ admin: AdminOptions) throws {
    let registry = try admin.registry(create: true)
    try storeCall { try registry.record(record, operator: admin.operatorName) }
    print("recorded \(record.kind.rawValue) for \(record.subject) (by \(FreeText.escaped(record.givenBy)), at \(Timestamp.format(record.givenAt)))")
}

/// `subject set-fact`: facts about an inmate that policies turn on.
struct SubjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "subject", abstract: "Facts about inmates.", subcommands: [SetFact.self])

    struct SetFact: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-fact",
            abstract: "Set a fact about an inmate, such as a qualifying conviction class (California's TRUST Act).",
            discussion: """
                The fact and its value must be ones the gateway's policy declares (the gateway records them in the store
                when it starts or reloads its policy); before it has, name the policy with --policy.
                Example: warrant-gate subject set-fact --subject 2017-000456 --name conviction --value serious-felony
                """
        )
        @OptionGroup var admin: AdminOptions
        @Option(help: "The inmate's booking number.") var subject: String
        @Option(help: "The fact's name, as the policy declares it.") var name: String
        @Option(help: "Its value, one the policy declares for it.", transform: FreeText.composed) var value: String
        @Option(help: "A policy file whose facts it must also be (needed before a gateway has recorded its policy's facts in the store; not through sudo).")
        var policy: String?

        func run() throws {
            // The operator's own file would say which facts and values the store takes (root's may).
            if policy != nil, let sudo = SudoInvocation.current, sudo.operatorID != 0 {
                throw CLIError(.refused, "run through sudo, set-fact takes the facts the gateway recorded from its policy: --policy is for a store no gateway has used yet, run by root (sudo from a root shell) or as the service account (runuser -u warrant-gate)")
            }
            let policyFacts: [String: FactDeclaration]?
            do { policyFacts = try policy.map { try PolicyParser.load(path: $0).settableFacts } } catch { throw CLIError(.failure, "\(error)") }
            let registry = try admin.registry(create: true)
            try storeCall { try registry.setFact(subject: subject, name: name, value: value, operator: admin.operatorName, policyFacts: policyFacts) }
            print("\(subject): \(name) = \(value)")
        }
    }
}
