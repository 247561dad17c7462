import WarrantGateCore

/// The records system's XML forms of a booking record: a NIEM 4.0 document, and the same content in SOAP 1.1.
///
/// NIEM 4.0 attaches immigration status and the A-number not to a person but to an `im:AlienRole` that refers to one,
/// so a record is `j:Booking` (whose subject carries birth date, birthplace, citizenship and name) followed by the
/// `im:PersonCountryAssociation` that holds that role. The content validates against the NIEM 4.0 reference schemas.
enum BookingXML {
    /// `rec:BookingRecord`, a standalone XML document.
    static func document(for inmate: SimulatedUpstreams.Inmate) -> String {
        declaration + record("rec:BookingRecord", for: inmate) + "\n"
    }

    /// A SOAP 1.1 envelope whose body is `rec:GetBookingResponse`, holding the same content as ``document(for:)``.
    static func soapResponse(for inmate: SimulatedUpstreams.Inmate) -> String {
        envelope(record("rec:GetBookingResponse", for: inmate))
    }

    /// The records service's SOAP operations: reading a booking, and a write that no shipped policy routes.
    static let getBooking = QualifiedName(namespace: "urn:example:jail:records", local: "GetBooking")
    static let setHousingUnit = QualifiedName(namespace: "urn:example:jail:records", local: "SetHousingUnit")

    /// The answer to `SetHousingUnit`.
    static var setHousingUnitResponse: String { envelope(#"<rec:SetHousingUnitResponse xmlns:rec="urn:example:jail:records"/>"#) }

    /// A SOAP 1.1 envelope whose body is a `soap:Fault`; `code` is a SOAP 1.1 fault code such as `Client`.
    static func soapFault(code: String, reason: String) -> String {
        envelope("<soap:Fault><faultcode>soap:\(code)</faultcode><faultstring>\(reason.xmlEscaped)</faultstring></soap:Fault>")
    }

    private static let declaration = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"

    private static func envelope(_ body: String) -> String {
        declaration + """
            <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
              <soap:Header/>
              <soap:Body>
                \(body)
              </soap:Body>
            </soap:Envelope>

            """
    }

    /// The booking content inside an element `name` of the demo namespace, which declares every namespace it uses.
    private static func record(_ name: String, for inmate: SimulatedUpstreams.Inmate) -> String {
        """
        <\(name) xmlns:rec="urn:example:jail:records" xmlns:j="http://release.niem.gov/niem/domains/jxdm/6.0/" \
        xmlns:nc="http://release.niem.gov/niem/niem-core/4.0/" xmlns:im="http://release.niem.gov/niem/domains/immigration/4.0/" \
        xmlns:structures="http://release.niem.gov/niem/structures/4.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
          <j:Booking>
            <j:BookingAgencyRecordIdentification>
              <nc:IdentificationID>\(inmate.booking.xmlEscaped)</nc:IdentificationID>
            </j:BookingAgencyRecordIdentification>
            <j:BookingSubject>
              <nc:RoleOfPerson structures:id="subject">
                <nc:PersonBirthDate><nc:Date>1990-04-11</nc:Date></nc:PersonBirthDate>
                <nc:PersonBirthLocation>
                  <nc:Address><nc:LocationCountry><nc:LocationCountryName>\(inmate.countryOfBirth.xmlEscaped)</nc:LocationCountryName></nc:LocationCountry></nc:Address>
                </nc:PersonBirthLocation>
                <nc:PersonCitizenshipText>unknown</nc:PersonCitizenshipText>
                <nc:PersonName><nc:PersonFullName>\(inmate.name.xmlEscaped)</nc:PersonFullName></nc:PersonName>
              </nc:RoleOfPerson>
              <j:SubjectAssignment>
                <j:AssignmentLocationDetail><j:LocationSectionText>4B</j:LocationSectionText></j:AssignmentLocationDetail>
              </j:SubjectAssignment>
              <j:SubjectStatus><nc:StatusText>in custody</nc:StatusText></j:SubjectStatus>
            </j:BookingSubject>
            <j:Arrest>
              <j:ArrestCharge>
                <j:ChargeDescriptionText>second degree burglary</j:ChargeDescriptionText>
                <j:ChargeStatute>
                  <j:StatuteCodeSectionIdentification><nc:IdentificationID>C.R.S. 18-4-203</nc:IdentificationID></j:StatuteCodeSectionIdentification>
                </j:ChargeStatute>
              </j:ArrestCharge>
            </j:Arrest>
          </j:Booking>
          <im:PersonCountryAssociation>
            <im:Country><im:CountryShortFormName>United States</im:CountryShortFormName></im:Country>
            <im:AlienRole>
              <im:ImmigrationStatus><nc:StatusText>undocumented (reported)</nc:StatusText></im:ImmigrationStatus>
              <nc:Person structures:ref="subject" xsi:nil="true"/>
              <im:AlienIDDetails>
                <im:AlienNumberIdentification><nc:IdentificationID>A-201-555-0199</nc:IdentificationID></im:AlienNumberIdentification>
              </im:AlienIDDetails>
            </im:AlienRole>
          </im:PersonCountryAssociation>
        </\(name)>
        """
    }
}

extension String {
    /// The string with `&`, `<`, `>`, `"` and `'` written as entity references, safe in XML text and attribute values.
    var xmlEscaped: String {
        var escaped = ""
        escaped.reserveCapacity(utf8.count)
        for character in self {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
