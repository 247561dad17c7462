/// PDF text strings (ISO 32000-1 §7.9.2) as readers decode them, for comparing names.
enum PDFText {
    /// UTF-16BE after FE FF, UTF-16LE after FF FE (pdf.js reads both), UTF-8 after EF BB BF; escape-delimited
    /// language codes in UTF-16 dropped; other bytes one character each (PDFDocEncoding agrees with ASCII and Latin-1
    /// on the characters a plain field name may hold).
    static func decoded(_ bytes: [UInt8]) -> String {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { return String(decoding: bytes.dropFirst(3), as: UTF8.self) }
        let bigEndian = bytes.starts(with: [0xFE, 0xFF])
        guard bigEndian || bytes.starts(with: [0xFF, 0xFE]) else {
            return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        }
        var units: [UInt16] = []
        var index = 2
        while index + 1 < bytes.count {
            let (first, second) = (UInt16(bytes[index]), UInt16(bytes[index + 1]))
            units.append(bigEndian ? first << 8 | second : second << 8 | first)
            index += 2
        }
        // A language code: U+001B, the code, U+001B.
        var kept: [UInt16] = []
        var inCode = false
        for unit in units {
            if unit == 0x1B {
                inCode.toggle()
            } else if !inCode {
                kept.append(unit)
            }
        }
        return String(decoding: kept, as: UTF16.self)
    }
}
