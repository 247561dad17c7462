import Crypto
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import WarrantGateCore

/// Reloads the policy, the agency directory, the server certificate and the client CA bundle: on SIGHUP, and when
/// one of their files has changed and then stood still for a second (checked every second).
///
/// Each part is validated before it is swapped in, atomically; a part that fails keeps its old version running,
/// and the failure is logged and counted (`warrantgate_policy_reload_failures_total`).
///
/// A SIGHUP reload is reported to systemd (`RELOADING=1` before, `READY=1` after, whatever its outcome), so that
/// `systemctl reload` knows when it is done; a reload for a changed file is not, as systemd did not ask for it.
struct Reloader: Service {
    let gateway: Gateway
    let interval: Duration

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        let (gateway, interval) = (gateway, interval)
        // The fingerprint the last reload saw, whichever loop did it, so that a SIGHUP after a change is not
        // followed by a second reload of the same files on the next tick.
        let seen = SeenFingerprint(gateway.watchedFilesFingerprint())
        // Two loops in a task group, not one merged sequence: swift-async-algorithms' `merge` inside the
        // graceful-shutdown sequence deadlocked (a cancellation handler waiting for a lock) when the service group
        // cancelled the reloader as a gateway failed to start, under load.
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await _ in signals {
                        gateway.notifier.reloading()
                        _ = seen.replace(with: gateway.watchedFilesFingerprint())
                        await Self.reload(gateway, reason: "SIGHUP")
                        gateway.notifier.ready()
                    }
                }
                group.addTask {
                    // A change is reloaded once the files have stood still for a whole interval, so that a file
                    // being written in place is not read half-written (installing by rename is atomic all the same);
                    // files that never stand still are reloaded as they are after `maximumUnsettledChecks`.
                    var changed: [String]?
                    var unsettledChecks = 0
                    while (try? await Task.sleep(for: interval)) != nil {
                        let current = gateway.watchedFilesFingerprint()
                        if current == seen.current {
                            (changed, unsettledChecks) = (nil, 0)
                            continue
                        }
                        guard current == changed || unsettledChecks >= Self.maximumUnsettledChecks else {
                            (changed, unsettledChecks) = (current, unsettledChecks + 1)
                            continue
                        }
                        if current != changed {
                            gateway.logger.warning("watched files have changed at every check; reloading them as they stand", metadata: ["checks": "\(unsettledChecks)"])
                        }
                        (changed, unsettledChecks) = (nil, 0)
                        if seen.replace(with: current) != current { await Self.reload(gateway, reason: "file change") }
                    }
                }
            }
        }
    }

    /// Checks at which files that keep changing are reloaded all the same.
    static let maximumUnsettledChecks = 10

    private static func reload(_ gateway: Gateway, reason: String) async {
        _ = try? await BlockingWork.run { gateway.reload(reason: reason) }
    }

    /// The watched files' fingerprint as the last reload (or check) saw it, shared by the reloader's two loops.
    private final class SeenFingerprint: Sendable {
        private let fingerprint: Mutex<[String]>

        init(_ fingerprint: [String]) {
            self.fingerprint = Mutex(fingerprint)
        }

        var current: [String] { fingerprint.withLock { $0 } }

        /// Stores `current`; returns the fingerprint it replaces.
        func replace(with current: [String]) -> [String] {
            fingerprint.withLock { seen in
                defer { seen = current }
                return seen
            }
        }
    }
}

extension Gateway {
    /// Reloads every reloadable part; returns the errors of the parts that kept their old version.
    @discardableResult
    public func reload(reason: String = "request") -> [String] {
        var errors: [String] = []
        do {
            let policies = try PolicySet.load(configuration)
            state.replace(policies: policies)
            policies.logWarnings(to: logger, by: state.current.directory)
        } catch {
            errors.append("policy: \(error)")
        }
        do {
            try identity.reload(certificatePath: configuration.serverCertificatePath, keyPath: configuration.serverKeyPath)
        } catch {
            errors.append("server certificate: \(error)")
        }
        do {
            verifier.replace(trust: try configuration.clientTrust())
        } catch {
            errors.append("client CA: \(error)")
        }
        if errors.isEmpty {
            logger.notice("reloaded policy, agencies and TLS files", metadata: ["trigger": "\(reason)", "policy": "\(state.current.policies.policy.digest.prefix(16))"])
        } else {
            for error in errors {
                metrics.policyReloadFailures.increment()
                logger.error("reload failed; the previous version stays in force", metadata: ["trigger": "\(reason)", "error": "\(error)"])
            }
        }
        return errors
    }

    /// The policy files the policies in force include, and the redaction profiles they name.
    private var includedPaths: [String] {
        let policies = state.current.policies
        let inForce = [policies.policy] + (policies.shadow.map { [$0.evaluator.policy] } ?? [])
        return Set(inForce.flatMap { $0.includes + $0.vocabulary.profiles.values.map(\.source) }).sorted()
    }

    /// The files a reload reads, each by its contents (a SHA-256), so that a file rewritten with the same bytes is no
    /// change; a file that is not a regular file of at most 1 MiB by its inode, size and modification time; a missing
    /// one as missing. Read without blocking (a FIFO put in a file's place neither blocks nor is read).
    func watchedFilesFingerprint() -> [String] {
        let paths = [configuration.policyPath, configuration.shadowPolicyPath ?? "", configuration.agenciesPath, configuration.serverCertificatePath, configuration.serverKeyPath,
                     configuration.clientCAPath] + configuration.authorities.values.sorted() + includedPaths
        return paths.map { path in "\(path):\(Self.fingerprint(path))" }
    }

    private static func fingerprint(_ path: String) -> String {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard descriptor >= 0 else { return "missing" }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return "missing" }
        let byStat = "\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        guard info.st_mode & S_IFMT == S_IFREG, info.st_size <= YAMLNode.maximumFileSize else { return byStat }
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var total = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count >= 0 else { return byStat }
            if count == 0 { break }
            total += count
            guard total <= YAMLNode.maximumFileSize else { return byStat }
            hash.update(data: buffer[..<count])
        }
        return Hex.encode(Array(hash.finalize()))
    }
}
