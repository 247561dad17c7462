import Foundation

/// Calendar dates (`YYYY-MM-DD`) interpreted in a time zone.
public struct LocalDate: Sendable, Equatable, Comparable, CustomStringConvertible {
    /// The years a date or time given to the gateway may fall in: older or later ones are typing mistakes, and every
    /// time in range has a four-digit year in any time zone's calendar (see ``Timestamp``).
    public static let years = 1970...9999

    public let year: Int
    public let month: Int
    public let day: Int

    /// The years a dated fact from a records system may fall in (a conviction or a birth before 1970 is one).
    public static let factYears = 1800...9999

    /// Parses `YYYY-MM-DD` in `years`, refusing anything else (including impossible dates such as 2026-02-30).
    public init?(_ text: String, years: ClosedRange<Int> = LocalDate.years) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              years.contains(year), (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    public init(date: Date, timeZone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let components = calendar.dateComponents([.year, .month, .day], from: date)
        self.year = components.year!
        self.month = components.month!
        self.day = components.day!
    }

    private init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    public var description: String {
        String(format: "%04d-%02d-%02d", year, month, day)
    }

    /// The day after this one.
    public var next: LocalDate {
        if day < Self.daysIn(month: month, year: year) { return LocalDate(year: year, month: month, day: day + 1) }
        return month < 12 ? LocalDate(year: year, month: month + 1, day: 1) : LocalDate(year: year + 1, month: 1, day: 1)
    }

    /// The first instant of this day in `timeZone` (01:00 where a time change skips midnight).
    public func start(in timeZone: TimeZone) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar.date(from: DateComponents(year: year, month: month, day: day))!
    }

    /// The first instant after this day ends in `timeZone`, the start of the next day: a document that expires on
    /// this date is valid until then.
    public func end(in timeZone: TimeZone) -> Date {
        next.start(in: timeZone)
    }

    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to this date in the proleptic Gregorian calendar (H. Hinnant's `days_from_civil`).
    var daysSince1970: Int {
        let shifted = month <= 2 ? year - 1 : year
        let era = (shifted >= 0 ? shifted : shifted - 399) / 400
        let yearOfEra = shifted - era * 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        return era * 146_097 + yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear - 719_468
    }

    /// The date `days` after 1970-01-01, for any year (`civil_from_days`); the fields may be out of ``years``.
    static func fields(daysSince1970 days: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension TimeZone {
    /// The zone a tz database name of a region names (America/Denver, Etc/GMT+5), or UTC; nil for anything else:
    /// Foundation's offset forms (GMT+5, GMT+0500), which the tz database does not name and PostgreSQL reads with the
    /// opposite sign, and abbreviations (PST, EST, CET), which PostgreSQL reads without summer time or not at all.
    /// The zone's identifier is then a name PostgreSQL's `pg_timezone_names` lists too.
    public init?(databaseName name: String) {
        guard name.contains("/") || ["UTC", "GMT"].contains(name), let zone = TimeZone(identifier: name),
              zone.identifier.contains("/") || zone.identifier == "GMT"
        else { return nil }
        self = zone
    }
}
