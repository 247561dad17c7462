import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import WarrantGateCore
import WarrantGateStore

/// Where the CLI finds `courts.yaml`, the courts whose digital signatures count (issue 23), and how it checks one.
struct CourtOptions: ParsableArguments {
    static let defaultPath = "policies/courts.yaml"

    @Option(help: "The courts whose digital signatures count (default: \(CourtOptions.defaultPath) if it exists; without it no court is listed, and no signature verifies).")
    var courts: String?

    /// The directory `--courts` names (it must exist), else the default file if it exists, else the empty directory.
    /// Under sudo the default is the installed one, and the file must be one only root may change.
    func directory() throws -> CourtDirectory {
        let sudo = SudoInvocation.current
        let fallback = sudo == nil ? Self.defaultPath : SudoInvocation.installedPolicies + "/courts.yaml"
        guard var path = courts ?? (FileManager.default.fileExists(atPath: fallback) ? fallback : nil) else { return .empty }
        if let sudo { path = try sudo.checkTrustList(path, what: "--courts") }
        do {
            return try CourtDirectoryFile.load(path: path)
        } catch {
            throw CLIError(.failure, "\(error)")
        }
    }

    /// Checks `document`'s signature (embedded, or the detached one read from `signaturePath`) at `time`.
    func check(document: Data, signaturePath: String?, at time: Date = Date()) throws -> DocumentSignatureStatus {
        let detached = try signaturePath.map { path in [UInt8](try SudoInvocation.readDocument(path, what: "--signature")) }
        let verifier = DocumentSignatureVerifier(courts: try directory())
        let bytes = [UInt8](document)
        return waitFor { await verifier.verify(document: bytes, detachedSignature: detached, at: time) }
    }
}

/// Runs async work to completion from a synchronous command (on the main thread, which no executor runs).
func waitFor<Value: Sendable>(_ body: @escaping @Sendable () async -> Value) -> Value {
    let slot = WaitSlot<Value>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        let value = await body()
        slot.value.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return slot.value.withLock { $0! }
}

private final class WaitSlot<Value: Sendable>: Sendable {
    let value = Mutex<Value?>(nil)
}

extension RecordedSignature {
    /// The lines `warrant show` and `warrant approve` print: the status, then the signer, court and signing times.
    var lines: [String] {
        var lines = ["signature:   \(description)"]
        if let signerSubject { lines.append("  signer:    \(signerSubject)\(signerSHA256.map { " (sha256:\($0))" } ?? "")") }
        if let court { lines.append("  court:     \(court) (courts.yaml)") }
        if let claimedSigningTime { lines.append("  signed:    \(Timestamp.format(claimedSigningTime)) (the signer's own claim)") }
        if let provenSigningTime {
            lines.append("  signed:    \(Timestamp.format(provenSigningTime)) (proven by \(timestampAuthority ?? "a time-stamping authority"))")
        }
        if let checkedAt { lines.append("  checked:   \(Timestamp.format(checkedAt))") }
        return lines
    }
}
