import AsyncHTTPClient
import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdTLS
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

// The framework floor, for scripts/bench-vs-nginx: the least a mutual-TLS reverse proxy built on WarrantGate's stack
// (Hummingbird over SwiftNIO and swift-nio-ssl, AsyncHTTPClient to the upstream) does per request — terminate TLS
// with a required client certificate, parse HTTP/1, send the same target upstream, stream the answer back. No
// identity mapping, policy, warrant check, log, redaction or header rules. Measuring it beside nginx and WarrantGate
// separates what the chosen frameworks cost from what WarrantGate's own work adds.
//
//   warrant-gate-floor --port P --upstream http://127.0.0.1:U --cert F --key F --client-ca F [--http2-upgrade]
//
// `--http2-upgrade` builds the server as the gateway does (ALPN, HTTP/2 or HTTP/1); without it, HTTP/1 only.
// Not a product: it makes no decisions and logs nothing; never put it in front of anything.

let arguments = CommandLine.arguments
func argument(_ name: String) -> String {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else {
        fatalError("usage: warrant-gate-floor --port P --upstream URL --cert F --key F --client-ca F [--http2-upgrade]")
    }
    return arguments[index + 1]
}
let port = Int(argument("--port"))!
let upstream = argument("--upstream")

var tls = TLSConfiguration.makeServerConfiguration(
    certificateChain: try NIOSSLCertificate.fromPEMFile(argument("--cert")).map { .certificate($0) },
    privateKey: .privateKey(try NIOSSLPrivateKey(file: argument("--key"), format: .pem))
)
tls.certificateVerification = .noHostnameVerification
tls.trustRoots = .file(argument("--client-ca"))
tls.minimumTLSVersion = .tlsv12

var clientConfiguration = HTTPClient.Configuration(
    redirectConfiguration: .disallow,
    connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
)
clientConfiguration.httpVersion = .http1Only
clientConfiguration.tracing.tracer = nil
let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)

/// Sends each request's target to the upstream and streams the answer back.
struct PassThrough: HTTPResponder {
    typealias Context = BasicRequestContext
    let client: HTTPClient
    let upstream: String

    func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        var forwarded = HTTPClientRequest(url: upstream + (request.head.path ?? "/"))
        forwarded.method = HTTPMethod(rawValue: request.method.rawValue)
        let answer = try await client.execute(forwarded, timeout: .seconds(30))
        var headers = HTTPFields()
        let length = answer.headers["content-length"].first.flatMap(Int.init)
        if let length { headers[.contentLength] = String(length) }
        if let type = answer.headers["content-type"].first { headers[.contentType] = type }
        if request.headers[.connection]?.lowercased() == "keep-alive" { headers[.connection] = "keep-alive" }
        return Response(
            status: .init(code: Int(answer.status.code)), headers: headers,
            body: ResponseBody(contentLength: length) { writer in
                for try await chunk in answer.body { try await writer.write(chunk) }
                try await writer.finish(nil)
            }
        )
    }
}

var logger = Logger(label: "warrant-gate-floor")
logger.logLevel = .warning
let server: HTTPServerBuilder = arguments.contains("--http2-upgrade")
    ? try .http2Upgrade(tlsConfiguration: tls)
    : try .tls(.http1(), tlsConfiguration: tls)
let application = Application(
    responder: PassThrough(client: client, upstream: upstream), server: server,
    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil), logger: logger
)
try await application.runService()
try await client.shutdown().get()
