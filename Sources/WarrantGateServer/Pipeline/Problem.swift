import Hummingbird
import NIOCore
import WarrantGateCore

/// RFC 9457 problem details for refusals and gateway errors. Internal error text never goes into one.
enum Problem {
    static func response(reason: String, decisionId: String, detail: String? = nil, status: Int? = nil) -> Response {
        let entry = ReasonCatalog.entry(for: reason)
        let code = status ?? entry.status
        var json = CanonicalJSON()
        json.field("type", "urn:warrant-gate:problem:\(reason)")
        json.field("title", entry.title)
        json.field("status", code)
        json.field("detail", detail ?? entry.detail)
        json.field("reason", reason)
        json.field("decisionId", decisionId)
        var body = json.finished()
        body.append(UInt8(ascii: "\n"))
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        headers[HeaderRules.decisionId] = decisionId
        headers[.cacheControl] = "no-store"
        return Response(status: .init(code: code), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
