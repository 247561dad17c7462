/// The words that say a text is about a person's immigration or citizenship status, which a sanctuary ordinance
/// forbids the county to collect (Denver's DRMC §28-250: city staff may not collect or share it). The registry refuses
/// a fact about an inmate that names or states it: a fact is kept in the database and in the append-only log, which
/// every audit bundle carries, so one collected there could never be taken back.
///
/// Matched within the text as field names are compared (``FieldNameKey``: any letter case, whatever separates the
/// words, lookalike letters read as the Latin ones they show), so `Citizenship`, `immigration_status` and
/// `non-citizen` are caught. It is a floor, not a filter of all free text: counsel decides what else must not be
/// recorded.
public enum ImmigrationStatusTerms {
    /// Word stems, in ``FieldNameKey``'s form.
    static let stems = [
        "citizen", "immigra", "alien", "undocumented", "nationality", "deport", "visa", "asylum", "refugee", "greencard",
        "birthcountry", "countryofbirth", "placeofbirth", "birthplace", "anumber", "daca", "lawfulpermanent", "permanentresident",
    ]

    /// The first stem `text` holds, or nil.
    public static func stem(in text: String) -> String? {
        let key = FieldNameKey.of(text)
        return stems.first { key.contains($0) }
    }
}
