import Foundation
import Logging
import Synchronization
import WarrantGateCore

/// The policy and directory the gateway enforces, parsed once and swapped whole on reload, and the optional
/// shadow policy evaluated beside the live one. A class, so that a request reads it by one reference: every event
/// loop reads the same one, and copying its fields would count references on each of them from every loop.
public final class PolicySet: Sendable {
    public let policy: Policy
    public let stages: RequestStages
    public let directory: AgencyDirectory
    /// A candidate policy's stages, run on every request without affecting it.
    public let shadow: RequestStages?
    /// The facts a fact lookup's answer may give (``Policy/lookedUpFacts``), which it is held to.
    public let lookedUpFacts: DeclaredFacts

    public init(policy: Policy, directory: AgencyDirectory, shadow: Policy? = nil) {
        self.policy = policy
        self.stages = RequestStages(policy: policy)
        self.lookedUpFacts = DeclaredFacts(policy.lookedUpFacts)
        self.directory = directory
        self.shadow = shadow.map(RequestStages.init(policy:))
    }

    /// Loads and validates the policy, the shadow policy and the agency files named in the configuration.
    public static func load(_ configuration: GatewayConfiguration) throws -> PolicySet {
        let (policy, directory, declared) = try loadLive(configuration)
        let shadow = try configuration.shadowPolicyPath.map { try loadChecked($0, declared: declared, configuration) }
        return PolicySet(policy: policy, directory: directory, shadow: shadow)
    }

    /// ``load(_:)`` for a reload: a shadow policy that fails leaves `current`'s shadow in force and its error is
    /// returned, instead of holding back the live policy and the agency directory with it (an agency removed, a
    /// revoked authority) for the sake of a candidate that decides nothing.
    static func reload(_ configuration: GatewayConfiguration, current: PolicySet) throws -> (PolicySet, shadowError: (any Error)?) {
        let (policy, directory, declared) = try loadLive(configuration)
        guard let shadowPath = configuration.shadowPolicyPath else { return (PolicySet(policy: policy, directory: directory), nil) }
        do {
            let shadow = try loadChecked(shadowPath, declared: declared, configuration)
            return (PolicySet(policy: policy, directory: directory, shadow: shadow), nil)
        } catch {
            return (PolicySet(policy: policy, directory: directory, shadow: current.shadow?.evaluator.policy), error)
        }
    }

    /// The live policy, checked, and the agency directory with its declared categories.
    private static func loadLive(_ configuration: GatewayConfiguration) throws -> (Policy, AgencyDirectory, Set<AgencyCategory>) {
        let policy = try PolicyParser.load(path: configuration.policyPath)
        // One reading: a file replaced between two would check the policy against categories the directory lacks.
        let (directory, categories) = try AgencyDirectoryFile.loadWithCategories(path: configuration.agenciesPath, authorityOverrides: configuration.authorities)
        let declared = Set(categories)
        try check(policy, path: configuration.policyPath, declared: declared, configuration)
        return (policy, directory, declared)
    }

    private static func loadChecked(_ path: String, declared: Set<AgencyCategory>, _ configuration: GatewayConfiguration) throws -> Policy {
        let policy = try PolicyParser.load(path: path)
        try check(policy, path: path, declared: declared, configuration)
        return policy
    }

    /// Refuses a live policy that tests, where that widens a rule, an agency id that the directory file with
    /// `registry`'s agencies laid over it does not list (as the gateway identifies by them:
    /// ``AgencyDirectory/amended(agencies:extending:revocations:)``), or a court in `signed-by` that `courts.yaml`
    /// beside the directory file (if any) does not: misspelt in a forbid, either would forbid nothing. (A shadow policy
    /// decides nothing: ``warnings(by:)`` names its unknown agencies.)
    public func checkDirectories(registry: RegistrySnapshot, agenciesPath: String) throws {
        let amended = directory.amended(agencies: registry.agencies, extending: registry.agencyExtensions, revocations: [:])
        let known = Set(amended.agencies.map(\.id))
        if let problem = policy.unknownWideningAgency(known: known) { throw FileError(file: policy.source, line: nil, message: problem) }
        guard !policy.courtsWidening.isEmpty else { return }
        let courtsPath = URL(fileURLWithPath: agenciesPath).deletingLastPathComponent().appendingPathComponent("courts.yaml").path
        let courts = FileManager.default.fileExists(atPath: courtsPath) ? try CourtDirectoryFile.ids(path: courtsPath) : []
        if let problem = policy.unknownWideningCourt(known: courts) { throw FileError(file: policy.source, line: nil, message: problem) }
    }

    /// Refuses a policy that widens access for a category the directory does not declare, or names an upstream the
    /// configuration does not define.
    private static func check(_ candidate: Policy, path: String, declared: Set<AgencyCategory>, _ configuration: GatewayConfiguration) throws {
        if let problem = candidate.undeclaredWideningCategory(declared: declared, directoryFile: configuration.agenciesPath) {
            throw FileError(file: path, line: nil, message: problem)
        }
        for route in candidate.routes where configuration.upstreams[route.upstream] == nil {
            throw FileError(file: path, line: nil, message: "route '\(route.id)' uses upstream '\(route.upstream)', which the configuration does not define")
        }
        if let lookup = candidate.factLookup, configuration.upstreams[lookup.upstream] == nil {
            throw FileError(file: path, line: nil, message: "fact-lookup uses upstream '\(lookup.upstream)', which the configuration does not define")
        }
    }

    /// What `policy check` would warn of in the live and the shadow policy and, by `directory` (the file's, with the
    /// registry's agencies laid over it), each category a rule tests that is neither built in nor any agency's, and
    /// each agency id a rule names that no agency has: misspelt, in a forbid, either forbids nothing.
    public func warnings(by directory: AgencyDirectory) -> [String] {
        let held = Set(directory.agencies.map(\.category)).union(AgencyCategory.builtIn)
        let known = Set(directory.agencies.map(\.id))
        return [policy, shadow?.evaluator.policy].compactMap { $0 }.flatMap { policy in
            policy.warnings.map(\.description)
                + policy.categoriesTested.subtracting(held).map(\.rawValue).sorted().map {
                    "\(policy.source): category '\($0)' is neither built in nor held by any agency of the directory file or the registry"
                }
                + policy.agenciesNamed.subtracting(known).sorted().map {
                    "\(policy.source): a rule names agency '\($0)', which neither the directory file nor the registry lists; no request comes from it"
                }
        }
    }

    /// Logs ``warnings(by:)``, at most `limit` of them and then their count.
    public func logWarnings(to logger: Logger, by directory: AgencyDirectory, limit: Int = 20) {
        let found = warnings(by: directory)
        for warning in found.prefix(limit) { logger.warning("policy warning", metadata: ["warning": "\(warning)"]) }
        if found.count > limit { logger.warning("more policy warnings", metadata: ["count": "\(found.count - limit)", "see": "warrant-gate policy check"]) }
    }
}

/// A registry that refuses every lookup: the registry of a state whose registry cannot be read (or a refresh has been
/// reading it too long), which the data plane refuses before any rule reads it; a rule that did would deny.
struct UnavailableRegistry: DocumentRegistry {
    func document(reference: String) throws -> RegisteredDocument? { throw RegistryUnavailable() }
    func documents(subject: String) throws -> [RegisteredDocument] { throw RegistryUnavailable() }
    func records(subject: String) throws -> [SubjectRecord] { throw RegistryUnavailable() }
    func facts(subject: String) throws -> [String: String] { throw RegistryUnavailable() }
}

struct RegistryUnavailable: Error {}

/// The live state of a running gateway: the policy set, the registry snapshot, the agency directory they make
/// together, and that directory's identity cache.
///
/// Readers take the state in force with ``current``; writers swap in a whole new one, so a request never sees half
/// of a reload.
public final class GatewayState: Sendable {
    /// One immutable state. A class, so that a request holds it, and passes it from stage to stage, by one reference.
    public final class Current: Sendable {
        public let policies: PolicySet
        public let registry: any DocumentRegistry
        /// The snapshot's version; -1 while the registry cannot be read.
        public let registryVersion: Int64
        /// The file's directory with the registry's agencies and certificate revocations laid over it.
        public let directory: AgencyDirectory
        /// The last readable snapshot, whose amendments the directory keeps while the registry is unreadable.
        let lastSnapshot: RegistrySnapshot
        /// Identifications made with this directory, and only with it: a request that began before a reload
        /// fills the cache of the state it read, never the new one, so a revocation takes effect for every later
        /// request however the two interleave.
        let identities = IdentityCache()

        init(policies: PolicySet, registry: any DocumentRegistry, registryVersion: Int64, directory: AgencyDirectory, lastSnapshot: RegistrySnapshot) {
            self.policies = policies
            self.registry = registry
            self.registryVersion = registryVersion
            self.directory = directory
            self.lastSnapshot = lastSnapshot
        }

        /// Whether the registry could be read, no refresh has been reading it too long, and one has read or confirmed
        /// it recently enough (``RegistryFreshness``): when not, the directory may miss a revocation or an agency
        /// removed, and the data plane refuses every identified request (`registry_unavailable`).
        public var registryReadable: Bool { registryVersion >= 0 }

        /// The certificate and the agency it identifies, by this state's directory.
        func identify(der: [UInt8]) throws -> (ClientCertificate, Identification) {
            try identities.identify(der: der, directory: directory)
        }
    }

    /// The state in force; when the refresh reading the registry now began, if one is; and when the registry was last
    /// read or confirmed at the version in force.
    private struct Held {
        var current: Current
        var reading: ContinuousClock.Instant?
        var confirmed = ContinuousClock.now
    }

    private let state: Mutex<Held>
    /// How long a refresher may go without reading the registry before the snapshot in force is no longer decided on;
    /// nil for a state no refresher keeps.
    let bounds: RegistryFreshness?

    /// A state deciding on `registry`. With `bounds`, the registry counts as unreadable once a refresh has been reading
    /// it too long, or none has confirmed it for too long (see ``current``).
    public init(policies: PolicySet, registry: RegistrySnapshot, bounds: RegistryFreshness? = nil) {
        self.state = Mutex(Held(current: Self.compose(policies: policies, snapshot: registry, registry: registry, version: registry.version)))
        self.bounds = bounds
    }

    /// The state in force. While a refresh has been reading the registry for longer than ``RegistryFreshness/reading``
    /// (a silent server, a lock its waits do not bound), or none has read or confirmed it for longer than
    /// ``RegistryFreshness/unconfirmed`` (a refresher stopped, or starved of its thread), the registry is first marked
    /// unreadable (as by ``markRegistryUnavailable()``): requests are not decided on a snapshot that may miss what
    /// changed since, such as a revocation.
    public var current: Current {
        state.withLock { held in
            if let bounds, held.current.registryReadable {
                let now = ContinuousClock.now
                if now - held.confirmed > bounds.unconfirmed || held.reading.map({ now - $0 > bounds.reading }) == true {
                    held.current = Self.unavailable(held.current)
                }
            }
            return held.current
        }
    }

    public func replace(policies: PolicySet) {
        state.withLock { $0.current = Self.compose(policies: policies, snapshot: $0.current.lastSnapshot, registry: $0.current.registry, version: $0.current.registryVersion) }
    }

    /// A refresh begins reading the registry.
    func beginReading(at began: ContinuousClock.Instant) {
        state.withLock { $0.reading = began }
    }

    /// Puts `registry` in force: the refresh reading it is done, and the snapshot is as fresh as that refresh's start.
    public func replace(registry: RegistrySnapshot) {
        state.withLock {
            $0 = Held(
                current: Self.compose(policies: $0.current.policies, snapshot: registry, registry: registry, version: registry.version),
                confirmed: $0.reading ?? .now
            )
        }
    }

    /// Counts the snapshot in force as confirmed now, without reading the registry: for a refresher that starts after a
    /// slow start-up (a long migration of the log), whose first refresh follows at once.
    func renewAtStart() {
        state.withLock { $0.confirmed = .now }
    }

    /// Confirms the snapshot in force by a refresh that found the registry at `version`: true, and that refresh is
    /// done, if the registry in force is readable and at that version; false if a new snapshot is needed.
    func confirmRegistry(version: Int64) -> Bool {
        state.withLock { held in
            guard held.current.registryReadable, held.current.registryVersion == version else { return false }
            // As fresh as what the refresh read: the version, when it began.
            held.confirmed = held.reading ?? .now
            held.reading = nil
            return true
        }
    }

    /// Marks the registry unreadable: identified requests are refused until it can be read again.
    public func markRegistryUnavailable() {
        state.withLock { $0 = Held(current: Self.unavailable($0.current)) }
    }

    private static func unavailable(_ current: Current) -> Current {
        compose(policies: current.policies, snapshot: current.lastSnapshot, registry: UnavailableRegistry(), version: -1)
    }

    private static func compose(policies: PolicySet, snapshot: RegistrySnapshot, registry: any DocumentRegistry, version: Int64) -> Current {
        Current(
            policies: policies, registry: registry, registryVersion: version,
            directory: policies.directory.amended(agencies: snapshot.agencies, extending: snapshot.agencyExtensions, revocations: snapshot.certificateRevocations),
            lastSnapshot: snapshot
        )
    }
}

/// How long a gateway decides on a registry snapshot without the registry's word that it is still current.
public struct RegistryFreshness: Sendable {
    /// How long one refresh may read the registry.
    public var reading: Duration
    /// How long the snapshot may go without a refresh reading or confirming it: well above a refresher's poll interval,
    /// so that a busy host running it late does not refuse requests, but bounded, so that a refresher that has stopped
    /// does not keep a revoked document in force.
    public var unconfirmed: Duration

    public init(reading: Duration, unconfirmed: Duration) {
        self.reading = reading
        self.unconfirmed = unconfirmed
    }
}

/// Caches the parsed certificate and its identification by the certificate's DER bytes, so the signature check of a
/// subject matcher runs once per certificate rather than once per request. One cache serves one directory.
final class IdentityCache: Sendable {
    private static let capacity = 4096
    private let entries = Mutex<[CertificateBytes: (ClientCertificate, Identification)]>([:])

    func identify(der: [UInt8], directory: AgencyDirectory) throws -> (ClientCertificate, Identification) {
        let key = CertificateBytes(der: der)
        if let hit = entries.withLock({ $0[key] }) { return hit }
        let certificate = try ClientCertificate(derBytes: der)
        let result = (certificate, directory.identify(certificate))
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = result
        }
        return result
    }
}

/// A certificate's DER as a dictionary key, hashed as one block of bytes rather than byte by byte (an array's own
/// hashing): the identity cache looks one up on every request, the verifier's cache on every handshake.
struct CertificateBytes: Hashable, Sendable {
    let der: [UInt8]

    func hash(into hasher: inout Hasher) {
        der.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
