import Foundation

/// The reporting duties a report can follow.
public enum ReportTemplate: String, Sendable, CaseIterable {
    /// Denver: the quarterly count of ICE requests to the city council.
    case denverCouncil = "denver-council"
    /// Illinois TRUST Act: every immigration request to the Attorney General, with date and handling, no names.
    case illinoisAG = "illinois-ag"
    /// Oregon: immigration requests declined, documented for the Criminal Justice Commission.
    case oregonCJC = "oregon-cjc"
    /// New York City: detainers and other requests from federal immigration authorities, anonymised, with how each
    /// was handled.
    case nycDetainers = "nyc-detainers"
    /// California TRUTH Act: the records of ICE access, for the public and the annual community forum.
    case californiaTruth = "california-truth"

    var title: String {
        switch self {
        case .denverCouncil: "Quarterly report to the Denver City Council: immigration enforcement requests"
        case .illinoisAG: "Illinois TRUST Act report to the Attorney General: immigration requests received"
        case .oregonCJC: "Oregon Criminal Justice Commission: immigration requests declined"
        case .nycDetainers: "New York City: civil immigration detainers and requests from federal immigration authorities"
        case .californiaTruth: "California TRUTH Act: ICE access"
        }
    }

    var duty: String {
        switch self {
        case .denverCouncil: "Public Safety Enforcement Priorities Act (DRMC §28-250): requests from federal immigration authorities are counted and reported to the council each quarter."
        case .illinoisAG: "Illinois TRUST Act (5 ILCS 805): every immigration request, with the date it was received and how it was handled; no names or other personal information."
        case .oregonCJC: "ORS 181A.820–829 as amended in 2021: immigration requests are declined, documented and reported to the Criminal Justice Commission."
        case .nycDetainers: "NYC Administrative Code §9-131 (Department of Correction) and §10-178(d) (the quarterly compilation of requests for assistance with immigration enforcement and the actions taken): every request, anonymised, by kind, with how it was handled and why. [unverified: the exact fields §9-131's own report asks for]"
        case .californiaTruth: "Government Code 7283.1(c) and (d): records of ICE access (holds, notifications, transfers, interviews, release information) are public records, and the figures inform the annual community forum. No names; individuals are counted, never listed."
        }
    }

    /// Whether the template's list of requests gives each one's reason: where its law asks why a request was handled
    /// as it was (Oregon's declines, New York City's "actions taken"). Elsewhere a reason beside a day, such as an
    /// interview the inmate declined, would tell of one person; the reasons are counted in their own table.
    var listsReasons: Bool {
        switch self {
        case .oregonCJC, .nycDetainers: true
        case .denverCouncil, .illinoisAG, .californiaTruth: false
        }
    }
}

/// Renders a transparency report as self-contained HTML (inline SVG charts), Markdown or CSV.
public struct ReportRenderer {
    public let data: ReportData
    public let template: ReportTemplate?

    public init(data: ReportData, template: ReportTemplate?) {
        self.data = data
        self.template = template
    }

    var title: String { template?.title ?? "Immigration enforcement requests" }

    /// One request of a template's list: the day it was received (in the report's zone), its kind, how it was handled,
    /// and why, where the template's law asks (``listsReasons``).
    struct ListedRequest {
        let day: String
        let kind: String
        let effect: Effect
        let reason: String?
    }

    /// Whether the list of requests gives each one's reason (``ReportTemplate/listsReasons``).
    var listsReasons: Bool { template?.listsReasons ?? false }

    /// The request list a template asks for (declines only for Oregon, every request for the others that list), by day
    /// and not by the time of day, and in each day ordered by what they were rather than when: a time to the
    /// millisecond, or the order of a day's requests, would single out the one inmate who was just advised, or who
    /// declined an interview, in a small jail.
    var listed: [ListedRequest] {
        let requests: [ReportData.Request] = switch template {
        case .oregonCJC: data.requests.filter { $0.effect == .deny }
        case .illinoisAG, .nycDetainers, .californiaTruth: data.requests
        case .denverCouncil, nil: []
        }
        return requests.map { request in
            ListedRequest(
                day: LocalDate(date: request.time, timeZone: data.timeZone).description, kind: request.kind, effect: request.effect,
                reason: listsReasons ? request.reason : nil
            )
        }.sorted { ($0.day, $0.kind, $0.effect.rawValue, $0.reason ?? "") < ($1.day, $1.kind, $1.effect.rawValue, $1.reason ?? "") }
    }

    /// Why the figures may fall short, when they may: the period was still open, or archived entries of it are not
    /// counted.
    var incompleteness: String? {
        let notices = [
            data.computedWhileOpen.map { "Not final: computed at \(Timestamp.format($0, in: data.timeZone)), while requests of this period could still be logged." },
            data.archived.map { "Incomplete: \($0.summary), so requests of this period among them are missing from these figures." },
        ].compactMap(\.self)
        return notices.isEmpty ? nil : notices.joined(separator: " ")
    }

    /// The requests logged without an agency, which the figures cannot count as immigration enforcement or not.
    var unattributed: String {
        let count = data.unattributedRequests
        return """
            Requests logged without an agency: \(count). A request whose client certificate the agency directory does not \
            list (or lists for more than one agency), or that was refused before its agency could be read, names none, so \
            immigration enforcement requests among \(count == 1 ? "it" : "them") cannot be told apart and are not in the figures above.
            """
    }

    /// What the allowed and denied figures hold besides answers given and decisions made, if anything.
    var settled: String? {
        var parts: [String] = []
        if data.deniedUndecided > 0 {
            parts.append("""
                \(data.deniedUndecided) of the denied requests \(data.deniedUndecided == 1 ? "was" : "were") not decided by the policy: the \
                gateway asked for \(data.deniedUndecided == 1 ? "it" : "them") again (a limit, a reload, the registry or the log out of reach) \
                or the client left first, and a request sent again is counted again
                """)
        }
        if data.allowedUnanswered > 0 {
            parts.append("""
                \(data.allowedUnanswered) of the allowed requests got no answer the agency \
                received (the records system failed or had no such record, or the client left)
                """)
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ") + "."
    }

    var provenance: String {
        let archives = data.countedArchivedThrough.map {
            " Entries 1…\($0) were read from the log's archive files, which match that tree."
        } ?? ""
        return "Computed from the decision log \(data.checkpointOrigin) at its signed checkpoint of \(data.checkpointSize) entries, root \(data.checkpointRoot).\(archives) Anyone holding the log\(archives.isEmpty ? "" : " and its archives") can reproduce these figures with `warrant-gate report --at-checkpoint \(data.checkpointSize)`."
    }

    public func csv() -> String {
        var lines = [["section", "month", "kind", "outcome", "reason", "count"]]
        for month in data.period.months {
            for kind in ReportData.kinds {
                for effect in [Effect.allow, .deny] {
                    let count = data.count(month: month, kind: kind, effect: effect)
                    if count > 0 { lines.append(["counts", month, kind, effect.rawValue, "", String(count)]) }
                }
            }
        }
        for month in data.period.months {
            for kind in ReportData.formKinds {
                let count = data.formCount(month: month, kind: kind)
                if count > 0 { lines.append(["forms-registered", month, kind.rawValue, "", "", String(count)]) }
                let revoked = data.formCount(month: month, kind: kind, revoked: true)
                if revoked > 0 { lines.append(["forms-revoked-since", month, kind.rawValue, "", "", String(revoked)]) }
            }
        }
        for (reason, count) in data.denialReasons { lines.append(["denial-reasons", "", "", "deny", reason, String(count)]) }
        for (obligation, allowed, denied) in data.obligationCounts {
            if allowed > 0 { lines.append(["obligations", "", "", "allow", obligation, String(allowed)]) }
            if denied > 0 { lines.append(["obligations", "", "", "deny", obligation, String(denied)]) }
        }
        if template == .californiaTruth { lines.append(["individuals-given-access", "", "", "allow", "", String(data.individualsGivenAccess)]) }
        lines.append(["requests-without-agency", "", "", "", "", String(data.unattributedRequests)])
        lines.append(["denied-not-decided", "", "", "deny", "", String(data.deniedUndecided)])
        lines.append(["allowed-not-answered", "", "", "allow", "", String(data.allowedUnanswered)])
        for request in listed { lines.append(["requests", request.day, request.kind, request.effect.rawValue, request.reason ?? "", "1"]) }
        lines.append(["time-zone", "", "", "", data.timeZone.identifier, ""])
        lines.append(["checkpoint", "", "", "", "\(data.checkpointOrigin) size \(data.checkpointSize) root \(data.checkpointRoot)", ""])
        if let open = data.computedWhileOpen { lines.append(["computed-while-open", "", "", "", Timestamp.format(open, in: data.timeZone), ""]) }
        if let archived = data.archived { lines.append(["archived", "", "", "", archived.summary, ""]) }
        if let through = data.countedArchivedThrough { lines.append(["archives-counted", "", "", "", "entries 1…\(through) read from archive files", ""]) }
        // Every cell through CSV: a reason, an obligation or the log's origin come from policy files and operators.
        return lines.map(CSV.line).joined()
    }

    public func markdown() -> String {
        var out = "# \(title)\n\n**\(Self.markdownText(data.jurisdiction))**, period **\(data.period.label)** (\(data.timeZone.identifier)).\n\n"
        if let template { out += "\(template.duty)\n\n" }
        out += "Immigration enforcement requests: **\(data.requests.count)** — allowed \(data.allowed), denied \(data.denied).\n\n"
        if let settled { out += "\(settled)\n\n" }
        if let incompleteness { out += "> **\(incompleteness)**\n\n" }
        if template == .californiaTruth { out += "Individuals given ICE access: **\(data.individualsGivenAccess)**.\n\n" }
        out += "\(unattributed)\n\n"
        out += "| month | " + ReportData.kinds.joined(separator: " | ") + " | allowed | denied | total |\n"
        out += "|---|" + String(repeating: "---|", count: ReportData.kinds.count + 3) + "\n"
        for month in data.period.months {
            let counts = ReportData.kinds.map { String(data.count(month: month, kind: $0)) }
            out += "| \(month) | " + counts.joined(separator: " | ") + " | \(data.count(month: month, effect: .allow)) | \(data.count(month: month, effect: .deny)) | \(data.count(month: month)) |\n"
        }
        out += "\n## \(Self.formsHeading)\n\n\(Self.formsNote) \(formsSummary(bold: { "**\($0)**" }))\n\n"
        if !data.forms.isEmpty {
            out += "| month | " + ReportData.formKinds.map(ReportData.name(of:)).joined(separator: " | ") + " | total | revoked since |\n"
            out += "|---|" + String(repeating: "---|", count: ReportData.formKinds.count + 2) + "\n"
            for month in data.period.months {
                let counts = ReportData.formKinds.map { String(data.formCount(month: month, kind: $0)) }
                out += "| \(month) | " + counts.joined(separator: " | ") + " | \(data.formCount(month: month)) | \(data.formCount(month: month, revoked: true)) |\n"
            }
        }
        out += "\n## Reasons for denial\n\n| reason | count |\n|---|---|\n"
        for (reason, count) in data.denialReasons { out += "| \(Self.markdownText(reason)) | \(count) |\n" }
        if !data.obligationCounts.isEmpty {
            out += "\n## Obligations recorded\n\n| obligation | allowed | denied |\n|---|---|---|\n"
            for (obligation, allowed, denied) in data.obligationCounts { out += "| \(Self.markdownText(obligation)) | \(allowed) | \(denied) |\n" }
        }
        let rows = listed
        if !rows.isEmpty {
            out += "\n## Requests\n\n| received | kind | handled |\(listsReasons ? " reason |" : "")\n|---|---|---|\(listsReasons ? "---|" : "")\n"
            for request in rows {
                out += "| \(request.day) | \(request.kind) | \(request.effect.rawValue) |\(request.reason.map { " \(Self.markdownText($0)) |" } ?? "")\n"
            }
        }
        out += "\n---\n\n\(provenance.replacingOccurrences(of: data.checkpointOrigin, with: Self.markdownText(data.checkpointOrigin)))\n"
        return out
    }

    static let formsHeading = "Immigration forms received"

    /// How many forms were registered in the period, and how many of them were revoked since (a registration made
    /// in error is revoked, and the form registered again), with `bold` for the figures.
    private func formsSummary(bold: (Int) -> String) -> String {
        let revoked = data.formCount(revoked: true)
        let since = revoked == 0 ? "" : "; \(bold(revoked)) of them revoked since (a registration made in error is revoked and the form registered again)"
        return "Registered in this period: \(bold(data.forms.count))\(since)."
    }
    static let formsNote = """
        Detainers, administrative warrants and other forms of the federal immigration authorities, counted when the legal \
        unit registered them. None of them authorises access; judicial warrants are counted through the requests above.
        """

    /// An operator's or the log's text (the jurisdiction, the log's origin, a reason) as Markdown shows it: each
    /// character that would make a link (an autolink's `.` and `:` too), an image, emphasis, code, a table cell or
    /// HTML escaped with a backslash, and each control or format character written out (``TerminalText/escaped(_:)``).
    static func markdownText(_ text: String) -> String {
        var escaped = ""
        for character in TerminalText.escaped(text) {
            if "\\`*_[]()<>|!#~&.:".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    public func html() -> String {
        var body = "<h1>\(escape(title))</h1>\n<p class=\"meta\"><strong>\(escape(data.jurisdiction))</strong> · period <strong>\(escape(data.period.label))</strong> · \(escape(data.timeZone.identifier))</p>\n"
        if let template { body += "<p>\(escape(template.duty))</p>\n" }
        body += "<div class=\"totals\"><div><span>\(data.requests.count)</span>requests</div><div class=\"allow\"><span>\(data.allowed)</span>allowed</div><div class=\"deny\"><span>\(data.denied)</span>denied</div>"
        if template == .californiaTruth { body += "<div><span>\(data.individualsGivenAccess)</span>individuals given ICE access</div>" }
        body += "</div>\n"
        if let incompleteness { body += "<p class=\"incomplete\"><strong>\(escape(incompleteness))</strong></p>\n" }
        if let settled { body += "<p>\(escape(settled))</p>\n" }
        body += "<p>\(escape(unattributed))</p>\n"
        body += "<h2>Requests per month, by outcome</h2>\n" + monthlyChart()
        body += "<h2>Reasons for denial</h2>\n" + reasonsChart()
        body += "<h2>Counts by month and kind</h2>\n<table><thead><tr><th>month</th>" + ReportData.kinds.map { "<th>\(escape($0))</th>" }.joined() + "<th>allowed</th><th>denied</th><th>total</th></tr></thead><tbody>\n"
        for month in data.period.months {
            body += "<tr><td>\(month)</td>" + ReportData.kinds.map { "<td>\(data.count(month: month, kind: $0))</td>" }.joined()
            body += "<td>\(data.count(month: month, effect: .allow))</td><td>\(data.count(month: month, effect: .deny))</td><td>\(data.count(month: month))</td></tr>\n"
        }
        body += "</tbody></table>\n<h2>\(Self.formsHeading)</h2>\n<p>\(escape(Self.formsNote)) \(formsSummary(bold: { "<strong>\($0)</strong>" }))</p>\n"
        if !data.forms.isEmpty {
            body += "<table><thead><tr><th>month</th>" + ReportData.formKinds.map { "<th>\(escape(ReportData.name(of: $0)))</th>" }.joined()
            body += "<th>total</th><th>revoked since</th></tr></thead><tbody>\n"
            for month in data.period.months {
                body += "<tr><td>\(month)</td>" + ReportData.formKinds.map { "<td>\(data.formCount(month: month, kind: $0))</td>" }.joined()
                body += "<td>\(data.formCount(month: month))</td><td>\(data.formCount(month: month, revoked: true))</td></tr>\n"
            }
            body += "</tbody></table>\n"
        }
        body += "<h2>Denials by reason</h2>\n<table><thead><tr><th>reason</th><th>count</th></tr></thead><tbody>\n"
        for (reason, count) in data.denialReasons { body += "<tr><td><code>\(escape(reason))</code></td><td>\(count)</td></tr>\n" }
        body += "</tbody></table>\n"
        if !data.obligationCounts.isEmpty {
            body += "<h2>Obligations recorded</h2>\n<table><thead><tr><th>obligation</th><th>allowed</th><th>denied</th></tr></thead><tbody>\n"
            for (obligation, allowed, denied) in data.obligationCounts {
                body += "<tr><td><code>\(escape(obligation))</code></td><td>\(allowed)</td><td>\(denied)</td></tr>\n"
            }
            body += "</tbody></table>\n"
        }
        let rows = listed
        if !rows.isEmpty {
            body += "<h2>Requests</h2>\n<table><thead><tr><th>received</th><th>kind</th><th>handled</th>\(listsReasons ? "<th>reason</th>" : "")</tr></thead><tbody>\n"
            for request in rows {
                let reason = request.reason.map { "<td><code>\(escape($0))</code></td>" } ?? ""
                body += "<tr><td>\(request.day)</td><td>\(escape(request.kind))</td><td>\(request.effect.rawValue)</td>\(reason)</tr>\n"
            }
            body += "</tbody></table>\n"
        }
        body += "<footer>\(escape(provenance))</footer>\n"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) — \(escape(data.period.label))</title>
            <style>
            body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2530}
            h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d8dde3;padding-bottom:.3rem}
            .meta{color:#4a5563}table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e4e8ec}
            th{background:#f3f5f7}td:not(:first-child),th:not(:first-child){text-align:right}.totals{display:flex;gap:1rem;margin:1rem 0}
            .totals div{flex:1;background:#f3f5f7;border-radius:.5rem;padding:.8rem 1rem;color:#4a5563}.totals span{display:block;font-size:1.8rem;font-weight:600;color:#1d2530}
            .incomplete{background:#fbeae6;border-left:.3rem solid #a23b2a;padding:.6rem 1rem}.totals .allow span{color:#2f6f4f}.totals .deny span{color:#a23b2a}footer{margin-top:2rem;font-size:.8rem;color:#4a5563;word-break:break-all}
            svg text{font-family:inherit}
            </style></head><body>
            \(body)</body></html>

            """
    }

    /// Stacked bars: allowed and denied requests per month.
    private func monthlyChart() -> String {
        let months = data.period.months
        let width = 720.0
        let height = 260.0
        let left = 48.0
        let bottom = 36.0
        let top = 16.0
        let maxCount = max(1, months.map { data.count(month: $0) }.max() ?? 1)
        let scale = niceCeiling(maxCount)
        let plotHeight = height - bottom - top
        let slot = (width - left - 16) / Double(months.count)
        let barWidth = min(64, slot * 0.6)
        var svg = "<svg role=\"img\" aria-label=\"Requests per month by outcome\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">\n"
        for tick in 0...4 {
            let value = scale * tick / 4
            let y = top + plotHeight * (1 - Double(value) / Double(scale))
            svg += "<line x1=\"\(left)\" x2=\"\(width - 8)\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#e4e8ec\"/><text x=\"\(left - 8)\" y=\"\(y + 4)\" font-size=\"11\" text-anchor=\"end\" fill=\"#4a5563\">\(value)</text>\n"
        }
        for (index, month) in months.enumerated() {
            let x = left + slot * Double(index) + (slot - barWidth) / 2
            let denied = Double(data.count(month: month, effect: .deny))
            let allowed = Double(data.count(month: month, effect: .allow))
            let deniedHeight = plotHeight * denied / Double(scale)
            let allowedHeight = plotHeight * allowed / Double(scale)
            let base = top + plotHeight
            svg += "<rect x=\"\(x)\" y=\"\(base - deniedHeight)\" width=\"\(barWidth)\" height=\"\(deniedHeight)\" fill=\"#c0533f\"><title>\(month): \(Int(denied)) denied</title></rect>\n"
            svg += "<rect x=\"\(x)\" y=\"\(base - deniedHeight - allowedHeight)\" width=\"\(barWidth)\" height=\"\(allowedHeight)\" fill=\"#3f8a63\"><title>\(month): \(Int(allowed)) allowed</title></rect>\n"
            if denied + allowed > 0 {
                svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(base - deniedHeight - allowedHeight - 4)\" font-size=\"11\" text-anchor=\"middle\" fill=\"#1d2530\">\(Int(denied + allowed))</text>\n"
            }
            svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(height - bottom + 16)\" font-size=\"12\" text-anchor=\"middle\" fill=\"#1d2530\">\(month)</text>\n"
        }
        svg += "<rect x=\"\(left)\" y=\"\(height - 14)\" width=\"10\" height=\"10\" fill=\"#3f8a63\"/><text x=\"\(left + 14)\" y=\"\(height - 5)\" font-size=\"11\">allowed</text>"
        svg += "<rect x=\"\(left + 80)\" y=\"\(height - 14)\" width=\"10\" height=\"10\" fill=\"#c0533f\"/><text x=\"\(left + 94)\" y=\"\(height - 5)\" font-size=\"11\">denied</text>\n"
        return svg + "</svg>\n"
    }

    /// Horizontal bars: denials by reason.
    private func reasonsChart() -> String {
        let reasons = data.denialReasons
        guard !reasons.isEmpty else { return "<p>No request was denied in this period.</p>\n" }
        let rowHeight = 26.0
        let labelWidth = 260.0
        let width = 720.0
        let height = rowHeight * Double(reasons.count) + 8
        let maxCount = Double(reasons.map(\.count).max() ?? 1)
        var svg = "<svg role=\"img\" aria-label=\"Denials by reason\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">\n"
        for (index, entry) in reasons.enumerated() {
            let y = Double(index) * rowHeight + 4
            let barWidth = (width - labelWidth - 60) * Double(entry.count) / maxCount
            svg += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 15)\" font-size=\"12\" text-anchor=\"end\" fill=\"#1d2530\">\(escape(entry.reason))</text>"
            svg += "<rect x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(barWidth)\" height=\"\(rowHeight - 8)\" fill=\"#c0533f\" rx=\"2\"/>"
            svg += "<text x=\"\(labelWidth + barWidth + 6)\" y=\"\(y + 15)\" font-size=\"12\" fill=\"#1d2530\">\(entry.count)</text>\n"
        }
        return svg + "</svg>\n"
    }

    private func niceCeiling(_ value: Int) -> Int {
        var step = 1
        while step * 10 <= value { step *= 10 }
        for multiple in [1, 2, 4, 5, 8, 10] where multiple * step >= value { return max(4, multiple * step) }
        return value
    }

    private func escape(_ text: String) -> String {
        // A control or format character written out: a line break would end a table's row, a bidi override turn it.
        TerminalText.escaped(text).replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
