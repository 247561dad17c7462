import Foundation
import WarrantGateCore

/// Fuzz targets for the parsers that face hostile input: request targets, classification, policy files, the
/// upstream bodies redaction reads, and the signed PDFs warrants arrive as.
///
/// Built with `-sanitize=fuzzer -D FUZZING` (see `scripts/fuzz`), the binary is a libFuzzer driver and
/// `WARRANT_GATE_FUZZ_TARGET` picks the target (`canonical-target`, `classification`, `policy`, `redaction` or
/// `pdf-signature`). Built normally,
/// it replays files given on the command line through the same targets, so the corpus is exercised in every build.
enum FuzzTargets {
    static let denverPolicy: Policy? = {
        let path = ProcessInfo.processInfo.environment["WARRANT_GATE_FUZZ_POLICY"] ?? "policies/denver.yaml"
        return try? PolicyParser.load(path: path)
    }()

    static func run(target: String, _ bytes: [UInt8]) {
        switch target {
        case "canonical-target": canonicalTarget(bytes)
        case "classification": classification(bytes)
        case "policy": policy(bytes)
        case "redaction": redaction(bytes)
        case "pdf-signature": pdfSignature(bytes)
        default: fatalError("unknown fuzz target \(target): use canonical-target, classification, policy, redaction or pdf-signature")
        }
    }

    /// Canonicalisation must never crash, and its output must be a fixed point: canonicalising the canonical
    /// target again gives the same target (otherwise policy and upstream could disagree).
    static func canonicalTarget(_ bytes: [UInt8]) {
        guard let raw = String(validating: bytes, as: UTF8.self), let canonical = try? CanonicalTarget(raw: raw) else { return }
        guard let again = try? CanonicalTarget(raw: canonical.target) else {
            fatalError("canonical target \(canonical.target) is refused when canonicalised again")
        }
        precondition(again.target == canonical.target, "canonicalisation is not idempotent: \(canonical.target) → \(again.target)")
    }

    /// Classification of any target and body must never crash.
    static func classification(_ bytes: [UInt8]) {
        guard let policy = denverPolicy else { fatalError("cannot load the Denver policy for the classification target") }
        let split = bytes.firstIndex(of: 0x0a) ?? bytes.endIndex
        guard let raw = String(validating: bytes[..<split], as: UTF8.self), let target = try? CanonicalTarget(raw: raw) else { return }
        let body = split < bytes.endIndex ? Array(bytes[(split + 1)...]) : []
        for method in ["GET", "POST", "DELETE"] {
            guard let match = try? policy.classifier.match(method: method, target: target) else { continue }
            _ = try? policy.classifier.classify(route: match.route, parameters: match.parameters, target: target, body: body, contentType: "application/json")
        }
    }

    static let denverRedactor: ResponseRedactor? = denverPolicy.map { ResponseRedactor(names: $0.redactAlways) }

    /// Redacting any body, as JSON and as XML, must never crash, and must not depend on how the body is cut into
    /// pieces: fed whole and fed in two pieces (cut where the first byte says), it gives the same bytes or is refused.
    static func redaction(_ bytes: [UInt8]) {
        guard let redactor = denverRedactor else { fatalError("cannot load the Denver policy for the redaction target") }
        let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        for type in [RedactableMediaType.json, .xml] {
            let whole = redact(bytes, cuts: [], redactor.redaction(for: type, limits: RedactionLimits()))
            let split = redact(bytes, cuts: [cut], redactor.redaction(for: type, limits: RedactionLimits()))
            precondition(whole == split, "\(type) redaction depends on where the body is cut (at \(cut))")
        }
    }

    /// The kept bytes, or nil if the body is refused.
    private static func redact(_ bytes: [UInt8], cuts: [Int], _ redaction: any BodyRedaction) -> [UInt8]? {
        var output: [UInt8] = []
        var start = 0
        do {
            try bytes.withUnsafeBytes { body in
                for end in cuts + [bytes.count] {
                    try redaction.feed(UnsafeRawBufferPointer(rebasing: body[start..<end])) { output.append(contentsOf: $0) }
                    start = end
                }
            }
            try redaction.finish { output.append(contentsOf: $0) }
        } catch {
            return nil
        }
        return output
    }

    static let signatureVerifier = DocumentSignatureVerifier(courts: .empty)

    /// Checking a document's signature must give a status for any file, never crash or hang: a PDF's revisions,
    /// cross-reference and object streams, and signature dictionary are all the sender's.
    static func pdfSignature(_ bytes: [UInt8]) {
        let done = DispatchSemaphore(value: 0)
        Task {
            _ = await signatureVerifier.verify(document: bytes)
            done.signal()
        }
        done.wait()
    }

    /// The policy parser must give an error or a policy for any file, never crash or hang.
    static func policy(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        _ = try? PolicyParser.parse(text, file: "fuzz.yaml")
    }
}

#if FUZZING
nonisolated(unsafe) let selectedTarget = ProcessInfo.processInfo.environment["WARRANT_GATE_FUZZ_TARGET"] ?? "canonical-target"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTargets.run(target: selectedTarget, Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's entry point as `<module>_main`; here it hands control to libFuzzer's driver.
@_cdecl("warrant_gate_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzTestOneInput(data, size) }
}
#else
@main
struct CorpusReplay {
    /// `warrant-gate-fuzz TARGET FILE…`: replays corpus files through a target.
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let target = arguments.first, arguments.count >= 2 else {
            print("usage: warrant-gate-fuzz canonical-target|classification|policy|redaction|pdf-signature FILE...")
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            FuzzTargets.run(target: target, Array(data))
        }
        print("replayed \(arguments.count - 1) inputs through \(target)")
    }
}
#endif
