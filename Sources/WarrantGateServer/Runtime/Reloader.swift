import Crypto
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import WarrantGateCore

/// Reloads the policy, the agency directory, the server certificate and the client CA bundle: on SIGHUP, and when
/// one of their files has been replaced (renamed into place, a new inode) and then stood still for a second (checked
/// every second). A file whose contents changed in place is not reloaded by itself: it may be half-written, and a
/// policy cut short can be valid and forbid less. That is logged, and SIGHUP reloads it; but a replacement still
/// being written after its reload is reloaded again (``FileChangeTrigger``). Reloads run one at a time
/// (``Gateway/reload(reason:)``).
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
        // The files as the last reload saw them, whichever loop did it, so that a SIGHUP after a change is not
        // followed by a second reload of the same files on the next tick.
        // From the files as the gateway found them when it loaded, not as they are now: one replaced while the
        // gateway was starting (opening the store may wait for PostgreSQL) is a change to reload.
        let seen = SeenFiles(gateway.loadedFiles)
        // Two loops in a task group, not one merged sequence: swift-async-algorithms' `merge` inside the
        // graceful-shutdown sequence deadlocked (a cancellation handler waiting for a lock) when the service group
        // cancelled the reloader as a gateway failed to start, under load.
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await _ in signals {
                        gateway.notifier.reloading()
                        _ = seen.replace(with: gateway.watchedFiles())
                        await Self.reload(gateway, reason: "SIGHUP")
                        gateway.notifier.ready()
                    }
                }
                group.addTask {
                    var trigger = FileChangeTrigger()
                    while (try? await Task.sleep(for: interval)) != nil {
                        let current = gateway.watchedFiles()
                        switch trigger.check(current, seen: seen.current) {
                        case .wait: continue
                        case .adopt: _ = seen.replace(with: current)
                        case .changedInPlace(let paths, let heldBack):
                            var metadata: Logger.Metadata = ["files": "\(paths.joined(separator: ", "))"]
                            if !heldBack.isEmpty { metadata["replaced-files-held-back"] = "\(heldBack.joined(separator: ", "))" }
                            gateway.logger.warning("watched files changed in place; nothing is reloaded, as they may be half-written (nor the files replaced beside them, since a reload reads every file): send SIGHUP once they are complete, or install files by renaming them into place", metadata: metadata)
                        case .reload(let unsettled):
                            if unsettled {
                                gateway.logger.warning("watched files have been replaced at every check; reloading them as they stand", metadata: ["checks": "\(FileChangeTrigger.maximumUnsettledChecks)"])
                            }
                            if seen.replace(with: current) != current { await Self.reload(gateway, reason: "file change") }
                        }
                    }
                }
            }
        }
    }

    private static func reload(_ gateway: Gateway, reason: String) async {
        _ = try? await BlockingWork.run { gateway.reload(reason: reason) }
    }

    /// The watched files as the last reload (or check) saw them, shared by the reloader's two loops.
    private final class SeenFiles: Sendable {
        private let files: Mutex<[WatchedFile]>

        init(_ files: [WatchedFile]) {
            self.files = Mutex(files)
        }

        var current: [WatchedFile] { files.withLock { $0 } }

        /// Stores `current`; returns the files it replaces.
        func replace(with current: [WatchedFile]) -> [WatchedFile] {
            files.withLock { seen in
                defer { seen = current }
                return seen
            }
        }
    }
}

/// One file a reload reads, as a check saw it.
struct WatchedFile: Equatable, Sendable {
    let path: String
    /// Nil if the file is missing.
    let inode: UInt64?
    /// The SHA-256 of its contents; for anything but a regular file of at most 1 MiB, its size and time.
    let contents: String
    /// The file, held open for as long as this record of it is kept: the file system cannot give its inode number
    /// to a file renamed into its place, which would then look like the same file changed in place.
    var held: HeldFile? = nil

    static func == (left: WatchedFile, right: WatchedFile) -> Bool {
        (left.path, left.inode, left.contents) == (right.path, right.inode, right.contents)
    }
}

/// An open file descriptor, closed when the last reference goes.
final class HeldFile: Sendable {
    private let descriptor: Int32

    init(_ descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }
}

/// When the watched files' changes call for a reload: when their contents changed (the same bytes under a new inode
/// are no change), once the files that changed were all replaced (a new inode, or one that appeared or went) and have
/// then stood still for a check; never for a file changed in place, which may be
/// half-written (that is reported once for each state of the files). Replacements that never stand still are
/// reloaded as they are after ``maximumUnsettledChecks``: each replacement is a whole file.
///
/// But a file deleted and written anew is a new inode too, and a writer that pauses leaves one cut short that stands
/// still: it is reloaded as it stands, and what the writer adds later is a change in place. So a file reloaded as a
/// replacement that then changes in place within ``rewriteWindowChecks`` is taken to be still being written, and
/// reloaded again once it stands still: the gateway ends on the whole file, not on the cut one.
struct FileChangeTrigger {
    enum Action: Equatable {
        case wait
        /// The same contents under new inodes (rewritten by rename): no reload, but these are the files from now on.
        case adopt
        /// Files changed in place, and the replaced ones held back with them: a reload reads every file.
        case changedInPlace([String], heldBack: [String] = [])
        /// `unsettled`: the files never stood still.
        case reload(unsettled: Bool)
    }

    static let maximumUnsettledChecks = 10
    /// How many checks after its reload a replaced file's change in place is taken for the rest of its writing.
    static let rewriteWindowChecks = 60

    private var pending: [WatchedFile]?
    private var unsettledChecks = 0
    private var reportedInPlace: [WatchedFile]?
    /// The files reloaded as replacements (path and inode), and the checks since.
    private var replaced: Set<String> = []
    private var checksSinceReplaced = 0

    /// What to do about `current`, given the files as the last reload saw them.
    mutating func check(_ current: [WatchedFile], seen: [WatchedFile]) -> Action {
        checksSinceReplaced += 1
        guard current.map(\.path) != seen.map(\.path) || current.map(\.contents) != seen.map(\.contents) else {
            (pending, unsettledChecks, reportedInPlace) = (nil, 0, nil)
            return current == seen ? .wait : .adopt
        }
        let before = Dictionary(seen.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        let inPlace = current.filter { file in
            guard let old = before[file.path], let inode = old.inode else { return false }
            return file.inode == inode && file.contents != old.contents
        }
        let stillBeingWritten = checksSinceReplaced <= Self.rewriteWindowChecks && inPlace.allSatisfy { replaced.contains(Self.key($0)) }
        if !inPlace.isEmpty, !stillBeingWritten {
            (pending, unsettledChecks) = (nil, 0)
            guard current != reportedInPlace else { return .wait }
            reportedInPlace = current
            let heldBack = current.filter { file in before[file.path].map { $0.inode != file.inode && $0.contents != file.contents } ?? true }
            return .changedInPlace(inPlace.map(\.path), heldBack: heldBack.map(\.path))
        }
        guard current == pending || unsettledChecks >= Self.maximumUnsettledChecks else {
            (pending, unsettledChecks) = (current, unsettledChecks + 1)
            return .wait
        }
        let unsettled = current != pending
        (pending, unsettledChecks) = (nil, 0)
        let inodes = Set(seen.map(Self.key))
        replaced = Set(current.map(Self.key).filter { !inodes.contains($0) }).union(stillBeingWritten ? replaced : [])
        checksSinceReplaced = 0
        return .reload(unsettled: unsettled)
    }

    private static func key(_ file: WatchedFile) -> String { "\(file.inode.map(String.init) ?? "-") \(file.path)" }
}

extension Gateway {
    /// Reloads every reloadable part; returns the errors of the parts that kept their old version. Reloads run one at
    /// a time (``reloading``): a SIGHUP sent to revert a policy whose reload is still parsing waits for it, then reads
    /// the reverted files, instead of being overwritten by it.
    @discardableResult
    public func reload(reason: String = "request") -> [String] {
        reloading.withLock { _ in reloadParts(reason: reason) }
    }

    private func reloadParts(reason: String) -> [String] {
        var errors: [String] = []
        do {
            let (policies, shadowError) = try PolicySet.reload(configuration, current: state.current.policies)
            try policies.checkDirectories(registry: state.current.lastSnapshot, agenciesPath: configuration.agenciesPath)
            if let shadowError { errors.append("shadow policy (the previous one stays in force; the live policy and agencies were reloaded): \(shadowError)") }
            // Document expiry dates end in the policy's zone: a new zone moves their instants before the policy
            // that names it is in force. If the store cannot say so, the policy is still taken, and the error said.
            do {
                try registry.inTimeZone(policies.policy.timeZone).recordTimeZone()
            } catch {
                metrics.policyReloadFailures.increment()
                logger.error("the reloaded policy is in force, but its time zone could not be recorded: expiry instants stay in the previous zone until it is", metadata: [
                    "trigger": "\(reason)", "time-zone": "\(policies.policy.timeZone.identifier)", "error": "\(error)",
                ])
            }
            Gateway.recordSettableFacts(of: policies.policy, in: registry, logger: logger)
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
        metrics.recordReload(failing: !errors.isEmpty)
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

    /// The files `policies` read besides those the configuration names: the policy files they include, the
    /// redaction profiles they name, and the authorities' certificates the agency directory names.
    static func filesRead(by policies: PolicySet) -> [String] {
        let inForce = [policies.policy] + (policies.shadow.map { [$0.evaluator.policy] } ?? [])
        let policyFiles = inForce.flatMap { $0.includes + $0.vocabulary.profiles.values.map(\.source) }
        return Set(policyFiles + policies.directory.authorities.values.compactMap(\.path)).sorted()
    }

    /// The files the configuration names for a reload to read, in a fixed order.
    static func configuredFiles(_ configuration: GatewayConfiguration) -> [WatchedFile] {
        let paths = [configuration.policyPath, configuration.shadowPolicyPath ?? "", configuration.agenciesPath, configuration.serverCertificatePath, configuration.serverKeyPath,
                     configuration.clientCAPath] + configuration.authorities.values.sorted()
        return paths.map(watchedFile)
    }

    /// The files a reload reads, each by its inode and contents (a SHA-256), so that a file rewritten with the same
    /// bytes is no change; a file that is not a regular file of at most 1 MiB by its size and modification time. Read
    /// without blocking (a FIFO put in a file's place neither blocks nor is read).
    func watchedFiles() -> [WatchedFile] {
        Self.configuredFiles(configuration) + Self.filesRead(by: state.current.policies).map(Self.watchedFile)
    }

    static func watchedFile(_ path: String) -> WatchedFile {
        let missing = WatchedFile(path: path, inode: nil, contents: "")
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard descriptor >= 0 else { return missing }
        let held = HeldFile(descriptor)
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return missing }
        // Where a link leads is part of what the file is: a policy reached through a switched link (`current` →
        // `releases/v5`) includes the files beside its new target, even when its own bytes are the same.
        let target = PolicyRelativePath.realPath(path).map { "\($0)\u{0}" } ?? ""
        let byStat = WatchedFile(
            path: path, inode: UInt64(info.st_ino), contents: "\(target)\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)", held: held
        )
        guard info.st_mode & S_IFMT == S_IFREG, info.st_size <= YAMLNode.maximumFileSize else { return byStat }
        // Read into uninitialised memory: the watcher reads every file every second, and zeroing a buffer first
        // would cost as much as the read.
        let digest = withUnsafeTemporaryAllocation(byteCount: 64 * 1024, alignment: 16) { buffer -> SHA256.Digest? in
            var hash = SHA256()
            var total = 0
            while true {
                let count = read(descriptor, buffer.baseAddress, buffer.count)
                guard count >= 0 else { return nil }
                if count == 0 { return hash.finalize() }
                total += count
                guard total <= YAMLNode.maximumFileSize else { return nil }
                hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
        }
        guard let digest else { return byStat }
        return WatchedFile(path: path, inode: UInt64(info.st_ino), contents: target + Hex.encode(Array(digest)), held: held)
    }
}
