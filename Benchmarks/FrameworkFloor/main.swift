@_spi(Benchmarks) import WarrantGateServer

// The framework floor, for scripts/bench-vs-nginx: WarrantGate's own listener (mutual TLS, ALPN, HTTP/1.1 and HTTP/2)
// and upstream pools passing each request through, with no identity mapping, policy, warrant check, log, redaction or
// header rules. Measuring it beside nginx and WarrantGate separates what SwiftNIO and BoringSSL cost from what
// WarrantGate's own work adds.
//
//   warrant-gate-floor --port P --upstream http://127.0.0.1:U --cert F --key F --client-ca F
//
// Not a product: it makes no decisions and logs nothing; never put it in front of anything.

let arguments = CommandLine.arguments
func argument(_ name: String) -> String {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else {
        fatalError("usage: warrant-gate-floor --port P --upstream URL --cert F --key F --client-ca F")
    }
    return arguments[index + 1]
}

try await FrameworkFloor.run(
    port: Int(argument("--port"))!, upstream: argument("--upstream"), certificatePath: argument("--cert"), keyPath: argument("--key"),
    clientCAPath: argument("--client-ca")
)
