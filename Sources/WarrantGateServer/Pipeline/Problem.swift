import NIOCore
import NIOHTTP1
import WarrantGateCore

/// An RFC 9457 problem document for a refusal or a gateway error. Internal error text never goes into one, nor a
/// reason the client is not told (``ReasonCatalog/answered(_:)``).
struct Problem {
    let status: Int
    let headers: HTTPHeaders
    let body: ByteBuffer

    init(reason decided: String, decisionId: String, detail: String? = nil) {
        let reason = ReasonCatalog.answered(decided)
        let entry = ReasonCatalog.entry(for: reason)
        var json = CanonicalJSON()
        json.field("type", "urn:warrant-gate:problem:\(reason)")
        json.field("title", entry.title)
        json.field("status", entry.status)
        json.field("detail", detail ?? entry.detail)
        json.field("reason", reason)
        json.field("decisionId", decisionId)
        var bytes = json.finished()
        bytes.append(UInt8(ascii: "\n"))
        status = entry.status
        headers = [
            "Content-Type": "application/problem+json", "Content-Length": String(bytes.count), GatewayHeaders.decision: decisionId,
            "Cache-Control": "no-store",
        ]
        body = ByteBuffer(bytes: bytes)
    }
}
