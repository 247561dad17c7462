import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateStore

extension ReportTemplate: ExpressibleByArgument {}

/// `report`: public transparency reports from the log.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Count immigration-enforcement requests by kind, outcome, reason and month, for the public and oversight bodies.",
        discussion: """
            Templates follow real reporting duties: denver-council (the quarterly count to the city council),
            illinois-ag (every request with its date and handling, no names), oregon-cjc (documented declines).
            The report states the signed checkpoint it was computed from (a new one is signed first when the key is at
            hand), so that anyone holding the log can reproduce it. HTML is one self-contained file with inline SVG charts.

            Example: warrant-gate report --period 2026-Q4 --format html --template denver-council --out q4.html
            """
    )

    enum Format: String, ExpressibleByArgument { case html, md, csv }

    @OptionGroup var admin: AdminOptions
    @Option(help: "A year (2026), a quarter (2026-Q4) or a month (2026-11).") var period: String
    @Option(help: "html, md or csv.") var format: Format = .md
    @Option(help: "denver-council, illinois-ag, oregon-cjc, nyc-detainers or california-truth.") var template: ReportTemplate?
    @Option(help: "The reporting body's name for the heading.") var jurisdiction: String = "County jail"
    @Option(help: "Write to this file (mode 0600; replaces a regular file, never a link) instead of standard output.") var out: String?

    func run() throws {
        if let out { try storeCall { try PrivateFile.checkTarget(out, existing: .replaceRegularFile) } }
        let store = try admin.open()
        let timeZone = (try? store.recordedTimeZone()) ?? nil ?? TimeZone(identifier: "America/Denver")!
        guard let reportPeriod = ReportPeriod(period, timeZone: timeZone) else {
            throw CLIError(.usage, "--period must be a year (2026), a quarter (2026-Q4) or a month (2026-11); got '\(period)'")
        }
        try LogCommand.signCheckpointIfPossible(store, keyFiles: LogKeyFiles(filesDirectory: admin.location().filesDirectory))
        let head = try storeCall { try store.treeHead() }
        let requests = try storeCall { try store.reportRequests(period: reportPeriod, timeZone: timeZone, treeSize: head.size) }
        let data = ReportData(
            period: reportPeriod, jurisdiction: jurisdiction, timeZone: timeZone, requests: requests, checkpointSize: head.size,
            checkpointRoot: Data(head.root).base64EncodedString(), checkpointOrigin: head.origin
        )
        let renderer = ReportRenderer(data: data, template: template)
        let text = switch format {
        case .html: renderer.html()
        case .md: renderer.markdown()
        case .csv: renderer.csv()
        }
        if let out {
            try storeCall { try PrivateFile.write(Data(text.utf8), to: out, existing: .replaceRegularFile) }
            print("wrote the \(reportPeriod.label) report (\(requests.count) requests, checkpoint size \(head.size)) to \(out)")
        } else {
            print(text, terminator: "")
        }
        try storeCall {
            try store.registry(timeZone: timeZone).recordAdminAction(
                "report.generate", target: "log", details: ["period": period, "format": format.rawValue, "template": template?.rawValue ?? "none", "treeSize": String(head.size)],
                operator: admin.operatorName
            )
        }
    }
}
