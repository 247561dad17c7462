import Foundation
import WarrantGateCore

/// Decodes the JSON files an auditor or a court is given (bundles, archives, proofs), refusing any object that names
/// a member twice (``JSONFields/checkUniqueKeys(in:)``): Foundation's decoder takes the first copy, jq, Python and
/// JavaScript the last, so a file with two could verify here while another tool shows the other copy. The file must
/// be UTF-8: Foundation's decoder also reads UTF-16 and UTF-32 and skips a byte-order mark, which the check refuses.
public struct UniqueKeyJSONDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            try JSONFields.checkUniqueKeys(in: Array(data))
        } catch {
            throw StoreError("the JSON is refused: \(error.detail) (at byte \(error.offset))")
        }
        return try JSONDecoder().decode(type, from: data)
    }
}
