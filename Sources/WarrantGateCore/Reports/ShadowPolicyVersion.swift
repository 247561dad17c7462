/// The logged disagreements of one shadow policy, as its digest names it: a candidate replaced by another (or one
/// whose reload failed, so that an older one went on) is another version, whose disagreements are not the current
/// candidate's.
public struct ShadowPolicyVersion: Sendable {
    public let digest: String
    /// The policy's name, as its latest disagreement gives it.
    public let name: String
    /// In log order.
    public let records: [ShadowRecord]

    /// `records` (in log order) by shadow policy digest: the version with the latest disagreement first.
    public static func versions(of records: [ShadowRecord]) -> [ShadowPolicyVersion] {
        var order: [String] = []
        var byDigest: [String: [ShadowRecord]] = [:]
        for record in records {
            if byDigest[record.shadowDigest] == nil { order.append(record.shadowDigest) }
            byDigest[record.shadowDigest, default: []].append(record)
        }
        var latest: [String: Int] = [:]
        for (index, record) in records.enumerated() { latest[record.shadowDigest] = index }
        return order.sorted { latest[$0]! > latest[$1]! }.map { digest in
            let members = byDigest[digest]!
            return ShadowPolicyVersion(digest: digest, name: members.last!.shadowPolicy, records: members)
        }
    }

    /// The one version whose digest begins with `prefix` (any letter case), or nil if none or several do.
    public static func version(in versions: [ShadowPolicyVersion], digestPrefix prefix: String) -> ShadowPolicyVersion? {
        let matching = versions.filter { $0.digest.lowercased().hasPrefix(prefix.lowercased()) }
        return matching.count == 1 ? matching[0] : nil
    }
}
