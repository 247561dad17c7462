import Foundation
import NIOCore
import WarrantGateCore
import WarrantGateStore

/// Everything `warrant-gate serve` needs, read from one YAML file. Every key is documented in docs/configuration.md.
public struct GatewayConfiguration: Sendable {
    public struct Limits: Sendable {
        /// Largest request body buffered to read the subject from it (larger: 413).
        public var inspectBodyBytes = 64 * 1024
        /// Largest request body forwarded upstream (larger: 413). A forwarded body is read whole, by the gateway
        /// alone, before it is sent.
        public var forwardBodyBytes = 1024 * 1024
        /// A request body must arrive in full this long after its head, or the connection (HTTP/2: the stream) is
        /// closed.
        public var bodyReadTimeout: Duration = .seconds(30)
        /// Largest upstream response body redacted, after decoding (larger: withheld). Redaction streams, so this
        /// bounds time and bandwidth, not memory.
        public var redactBodyBytes = 1024 * 1024 * 1024
        /// A compressed response on a redacted route may inflate to at most this many times its size (beyond its
        /// first MiB), or it is withheld as a bomb.
        public var decompressionRatioLimit = 100
        /// Limits on the documents redaction reads (XML nesting and markup size, JSON nesting).
        public var redaction = RedactionLimits()
        public var upstreamConnectTimeout: Duration = .seconds(2)
        /// Time allowed for the upstream's response head.
        public var upstreamResponseTimeout: Duration = .seconds(30)
        /// Time allowed between two reads of the upstream's body.
        public var upstreamReadTimeout: Duration = .seconds(30)
        /// Time allowed for a whole exchange with the upstream, from forwarding the request (waiting for a connection
        /// included) until the upstream's answer is read whole, which back-pressure paces to the client's reading. A
        /// client that reads slowly enough to keep the read deadline from firing still holds the upstream connection
        /// no longer than this.
        public var upstreamExchangeTimeout: Duration = .seconds(300)
        /// Most connections open to one upstream at once, divided among the event loops; one agency holds at most half
        /// of a loop's. Further requests wait for a free one.
        public var upstreamConnections = 64
        /// Longest request target accepted (longer: 414).
        public var maxURIBytes = 8192
        /// Most request header fields accepted (more: 431).
        public var maxHeaderCount = 100
        /// Largest total size of request header names and values (larger: 431).
        public var maxHeaderBytes = 16 * 1024
        /// Most set-up connections (TLS handshake done, client certificate verified) open at once; a connection
        /// that sets up beyond this is closed.
        public var maxConnections = 4096
        /// Most of those that one client certificate may hold at once, and the certificates that name no agency
        /// together; a connection beyond this is closed.
        public var maxConnectionsPerCertificate = 512
        /// Most of those that one agency's certificates may hold together; nil: half of `maxConnections`.
        public var maxConnectionsPerAgency: Int?
        /// Most HTTP/2 streams one client certificate may reset across all its connections in 30 s (refilled
        /// steadily); the connection of a reset beyond this is closed.
        public var maxStreamResetsPerCertificate = 400
        /// Most connections still setting up at once; a new one beyond this evicts the oldest still setting up.
        public var maxConnectionsSettingUp = 1024
        /// A connection must finish its TLS handshake (and, for HTTP/2, the client's preface and SETTINGS
        /// acknowledgement) this long after it opens, or it is closed.
        public var handshakeTimeout: Duration = .seconds(10)
        /// Most requests in flight at once for one agency (more: 429).
        public var maxInFlightPerAgency = 256
        /// A connection must deliver a complete request head this long after it opens or after its previous answer.
        public var headerReadTimeout: Duration = .seconds(30)
        /// An idle connection (no bytes read) is closed after this long, and so is one (HTTP/2: the stream) whose
        /// client has not taken an answer's end this long after it was written.
        public var idleTimeout: Duration = .seconds(60)
        /// How long a log write waits for another writer (the CLI) before the request is refused with 503; on
        /// PostgreSQL, the bound on any one statement or lock wait, and on one commit of the decision log.
        public var databaseBusyTimeout: Duration = .seconds(5)
        public init() {}
    }

    public var host = "127.0.0.1"
    public var port = 8443
    public var serverCertificatePath: String
    public var serverKeyPath: String
    public var clientCAPath: String
    /// The upstream systems by the names the policy's routes use.
    public var upstreams: [String: UpstreamSettings]
    public var policyPath: String
    /// A candidate policy evaluated beside the live one (shadow mode); its disagreements are logged.
    public var shadowPolicyPath: String?
    public var agenciesPath: String
    /// PEM files for the authorities that `agencies.yaml` names, overriding the paths in that file.
    public var authorities: [String: String] = [:]
    /// The store: a SQLite file, or a PostgreSQL database that several gateways share.
    public var database: StoreLocation
    /// For PostgreSQL: a file whose first line is the password (else `PGPASSWORD`, else none).
    public var databasePasswordFile: String?
    /// For PostgreSQL off this host: the CA that signed the server's certificate (else the system's trust store).
    public var databaseCAFile: String?
    /// The plain-HTTP admin listener (`/healthz`, `/readyz`, `/metrics`); nil turns it off.
    public var adminHost: String? = "127.0.0.1"
    public var adminPort = 9090
    public var limits = Limits()
    /// The Ed25519 key that signs checkpoints of the log; nil means `log-signing.key` in the store's files directory
    /// (beside a SQLite database), if present.
    public var logSigningKeyPath: String?
    /// A checkpoint is signed after this many new entries …
    public var checkpointEveryRecords = 1000
    /// … or this long after the previous one, whichever comes first (and at shutdown).
    public var checkpointInterval: Duration = .seconds(10)
    /// Client certificates refused at the handshake: SPKI SHA-256 (hex) and serial numbers (hex).
    public var revokedSPKIs: Set<String> = []
    public var revokedSerials: Set<String> = []
    /// Accepts client certificates unfit for a TLS client (a CA leaf, no `clientAuth`, no `digitalSignature`), for a
    /// legacy county PKI; logged at start-up. Off by default.
    public var acceptLegacyClientCertificates = false

    public init(
        serverCertificatePath: String, serverKeyPath: String, clientCAPath: String, upstreams: [String: UpstreamSettings],
        policyPath: String, agenciesPath: String, database: StoreLocation
    ) {
        self.serverCertificatePath = serverCertificatePath
        self.serverKeyPath = serverKeyPath
        self.clientCAPath = clientCAPath
        self.upstreams = upstreams
        self.policyPath = policyPath
        self.agenciesPath = agenciesPath
        self.database = database
    }

    /// How the store is opened, from the database settings and limits.
    public var storeOptions: StoreOptions {
        StoreOptions(
            busyTimeout: limits.databaseBusyTimeout, commitTimeout: limits.databaseBusyTimeout, passwordFile: databasePasswordFile,
            caFile: databaseCAFile
        )
    }

    /// Reads a configuration file. Relative paths in it are taken relative to the file's directory.
    public static func load(path: String) throws -> GatewayConfiguration {
        let root = try YAMLNode.load(path: path)
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ text: String) -> String { text.hasPrefix("/") ? text : base.appendingPathComponent(text).path }

        try root.requireKeys(in: ["listen", "tls", "upstreams", "policy", "database", "admin", "limits", "log"], what: "configuration")
        let tls = try root.required("tls", in: "configuration")
        try tls.requireKeys(
            in: ["certificate", "key", "client-ca", "revoked-spki-sha256", "revoked-serials", "legacy-client-certificates"], what: "tls"
        )
        let policy = try root.required("policy", in: "configuration")
        try policy.requireKeys(in: ["file", "agencies", "authorities", "shadow"], what: "policy")
        var upstreams: [String: UpstreamSettings] = [:]
        for (name, value) in try root.required("upstreams", in: "configuration").mapping("upstreams") {
            upstreams[name] = try UpstreamSettings(name: name, node: value, resolve: resolve)
        }
        var configuration = GatewayConfiguration(
            serverCertificatePath: resolve(try tls.required("certificate", in: "tls").string("certificate")),
            serverKeyPath: resolve(try tls.required("key", in: "tls").string("key")),
            clientCAPath: resolve(try tls.required("client-ca", in: "tls").string("client-ca")),
            upstreams: upstreams,
            policyPath: resolve(try policy.required("file", in: "policy").string("policy file")),
            agenciesPath: resolve(try policy.required("agencies", in: "policy").string("agencies file")),
            database: try database(root.required("database", in: "configuration"), resolve: resolve)
        )
        if let database = root["database"], (try? database.string("database")) == nil {
            configuration.databasePasswordFile = try database["password-file"].map { resolve(try $0.string("password-file")) }
            configuration.databaseCAFile = try database["ca-file"].map { resolve(try $0.string("ca-file")) }
        }
        for pin in try tls["revoked-spki-sha256"]?.strings("revoked-spki-sha256") ?? [] {
            guard let bytes = Hex.decode(pin), bytes.count == 32 else { throw tls.error("revoked-spki-sha256: '\(pin)' is not 64 hex digits") }
            configuration.revokedSPKIs.insert(Hex.encode(bytes))
        }
        for serial in try tls["revoked-serials"]?.strings("revoked-serials") ?? [] {
            guard let bytes = Hex.decode(serial), !bytes.isEmpty else { throw tls.error("revoked-serials: '\(serial)' is not hexadecimal") }
            configuration.revokedSerials.insert(ClientCertificate.serialHex(bytes))
        }
        configuration.acceptLegacyClientCertificates = try tls["legacy-client-certificates"]?.bool("legacy-client-certificates") ?? false
        configuration.shadowPolicyPath = try policy["shadow"].map { resolve(try $0.string("shadow policy file")) }
        for (name, value) in try policy["authorities"]?.mapping("authorities") ?? [] {
            configuration.authorities[name] = resolve(try value.string("authority certificate"))
        }
        if let listen = root["listen"] {
            try listen.requireKeys(in: ["host", "port"], what: "listen")
            configuration.host = try listen["host"]?.string("host") ?? configuration.host
            configuration.port = try port(listen["port"]) ?? configuration.port
        }
        if let log = root["log"] {
            try log.requireKeys(in: ["signing-key", "checkpoint-every-records", "checkpoint-every-seconds"], what: "log")
            configuration.logSigningKeyPath = try log["signing-key"].map { resolve(try $0.string("signing-key")) }
            if let records = log["checkpoint-every-records"] {
                let value = try records.int("checkpoint-every-records")
                guard value > 0 else { throw records.error("checkpoint-every-records must be positive") }
                configuration.checkpointEveryRecords = value
            }
            if let seconds = log["checkpoint-every-seconds"] {
                let value = try seconds.int("checkpoint-every-seconds")
                guard value > 0 else { throw seconds.error("checkpoint-every-seconds must be positive") }
                configuration.checkpointInterval = .seconds(value)
            }
        }
        if let admin = root["admin"] {
            try admin.requireKeys(in: ["host", "port", "enabled"], what: "admin")
            if let host = try admin["host"]?.string("host") { configuration.adminHost = host }
            configuration.adminPort = try port(admin["port"]) ?? configuration.adminPort
            // Off whatever else the section says: a `host` beside `enabled: false` had turned the listener back on.
            if try admin["enabled"]?.bool("enabled") == false { configuration.adminHost = nil }
        }
        if let limits = root["limits"] {
            try limits.requireKeys(
                in: [
                    "inspect-body-bytes", "forward-body-bytes", "body-read-timeout-ms", "redact-body-bytes", "decompression-ratio-limit", "xml-max-depth",
                    "xml-max-markup-bytes", "upstream-connect-timeout-ms", "upstream-response-timeout-ms",
                    "upstream-read-timeout-ms", "upstream-exchange-timeout-ms", "upstream-connections", "max-uri-bytes", "max-header-count",
                    "max-header-bytes", "max-connections", "max-connections-per-certificate", "max-connections-per-agency", "max-stream-resets-per-certificate",
                    "max-connections-setting-up", "handshake-timeout-ms",
                    "max-in-flight-per-agency", "header-read-timeout-ms", "idle-timeout-ms", "database-busy-timeout-ms",
                ],
                what: "limits"
            )
            /// A positive value up to a ceiling no deployment needs, so that no later arithmetic on it can overflow:
            /// a day for a timeout (which bounds how long a request may last before it is logged: see ``EntryTime``),
            /// a GiB for a size, a million for a count.
            func positive(_ key: String) throws -> Int? {
                guard let node = limits[key] else { return nil }
                let value = try node.int(key)
                guard value > 0 else { throw node.error("\(key) must be positive") }
                let ceiling = key.hasSuffix("-ms") ? Int(EntryTime.longestTimeout) * 1000 : key.hasSuffix("-bytes") ? 1 << 30 : 1_000_000
                guard value <= ceiling else { throw node.error("\(key) must be at most \(ceiling)") }
                return value
            }
            if let value = try positive("inspect-body-bytes") { configuration.limits.inspectBodyBytes = value }
            if let value = try positive("forward-body-bytes") { configuration.limits.forwardBodyBytes = value }
            if let value = try positive("body-read-timeout-ms") { configuration.limits.bodyReadTimeout = .milliseconds(value) }
            if let value = try positive("redact-body-bytes") { configuration.limits.redactBodyBytes = value }
            if let value = try positive("decompression-ratio-limit") { configuration.limits.decompressionRatioLimit = value }
            if let value = try positive("xml-max-depth") { configuration.limits.redaction.xml.maxDepth = value }
            if let value = try positive("xml-max-markup-bytes") { configuration.limits.redaction.xml.maxMarkupBytes = value }
            if let value = try positive("upstream-connect-timeout-ms") { configuration.limits.upstreamConnectTimeout = .milliseconds(value) }
            if let value = try positive("upstream-response-timeout-ms") { configuration.limits.upstreamResponseTimeout = .milliseconds(value) }
            if let value = try positive("upstream-read-timeout-ms") { configuration.limits.upstreamReadTimeout = .milliseconds(value) }
            if let value = try positive("upstream-exchange-timeout-ms") { configuration.limits.upstreamExchangeTimeout = .milliseconds(value) }
            if let value = try positive("upstream-connections") { configuration.limits.upstreamConnections = value }
            if let value = try positive("max-uri-bytes") { configuration.limits.maxURIBytes = value }
            if let value = try positive("max-header-count") { configuration.limits.maxHeaderCount = value }
            if let value = try positive("max-header-bytes") { configuration.limits.maxHeaderBytes = value }
            if let value = try positive("max-connections") { configuration.limits.maxConnections = value }
            if let value = try positive("max-connections-per-certificate") { configuration.limits.maxConnectionsPerCertificate = value }
            if let value = try positive("max-connections-per-agency") { configuration.limits.maxConnectionsPerAgency = value }
            if let value = try positive("max-stream-resets-per-certificate") { configuration.limits.maxStreamResetsPerCertificate = value }
            if let value = try positive("max-connections-setting-up") { configuration.limits.maxConnectionsSettingUp = value }
            if let value = try positive("handshake-timeout-ms") { configuration.limits.handshakeTimeout = .milliseconds(value) }
            if let value = try positive("max-in-flight-per-agency") { configuration.limits.maxInFlightPerAgency = value }
            if let value = try positive("header-read-timeout-ms") { configuration.limits.headerReadTimeout = .milliseconds(value) }
            if let value = try positive("idle-timeout-ms") { configuration.limits.idleTimeout = .milliseconds(value) }
            if let value = try positive("database-busy-timeout-ms") { configuration.limits.databaseBusyTimeout = .milliseconds(value) }
        }
        return configuration
    }

    /// `database:` is a SQLite file's path, or a mapping with `url:` (a path or a `postgres://` URL) and, for
    /// PostgreSQL, `password-file:`, `ca-file:` and `files-directory:` (where the signing key and the scans are).
    private static func database(_ node: YAMLNode, resolve: (String) -> String) throws -> StoreLocation {
        func location(_ text: String, filesDirectory: String?, at node: YAMLNode) throws -> StoreLocation {
            do {
                return try StoreLocation(PostgresLocation.isURL(text) ? text : resolve(text), filesDirectory: filesDirectory)
            } catch {
                throw node.error("database: \(error.message)")
            }
        }
        if let text = try? node.string("database") { return try location(text, filesDirectory: nil, at: node) }
        try node.requireKeys(in: ["url", "password-file", "ca-file", "files-directory"], what: "database")
        let url = try node.required("url", in: "database")
        let text = try url.string("url")
        guard PostgresLocation.isURL(text) || (node["password-file"] == nil && node["ca-file"] == nil && node["files-directory"] == nil) else {
            throw node.error("database: password-file, ca-file and files-directory are for a postgres:// URL")
        }
        return try location(text, filesDirectory: try node["files-directory"].map { resolve(try $0.string("files-directory")) }, at: url)
    }

    private static func port(_ node: YAMLNode?) throws -> Int? {
        guard let node else { return nil }
        let value = try node.int("port")
        guard (0...65535).contains(value) else { throw node.error("port must be between 0 and 65535") }
        return value
    }
}

extension GatewayConfiguration {
    /// What a gateway on this configuration logs as a warning at start: settings that serve, but weaken what the
    /// gateway checks.
    var startWarnings: [String] {
        var warnings: [String] = []
        if acceptLegacyClientCertificates {
            warnings.append("tls.legacy-client-certificates is on: client certificates unfit for a TLS client (CA leaves, no clientAuth) are accepted")
        }
        if database.reachesServerUnverified(caFile: databaseCAFile) {
            warnings.append(
                "database: PostgreSQL on loopback is reached in the clear, without checking which server answers: a local "
                    + "account that took its port while the server was down would receive the decision log, and the gateway "
                    + "would forward what that server acknowledged. Set database.ca-file to the server's certificate, issued for "
                    + "the URL's host (docs/postgresql.md)"
            )
        }
        if let adminHost, !Self.isLoopback(adminHost) {
            warnings.append(
                "admin.host is \(adminHost), not loopback: /healthz, /readyz and /metrics (refusal counts by reason, the "
                    + "two-person rule's state) are served in plain HTTP without authentication to whoever reaches it. Keep it on "
                    + "127.0.0.1 and scrape through a local agent or an SSH tunnel (docs/operations.md)"
            )
        }
        return warnings
    }

    /// Whether `host` names the loopback interface: `localhost`, `::1` or an address in 127.0.0.0/8.
    static func isLoopback(_ host: String) -> Bool {
        var address = in_addr()
        if inet_pton(AF_INET, host, &address) == 1 { return UInt32(bigEndian: address.s_addr) >> 24 == 127 }
        return host == "localhost" || host == "::1"
    }

    /// The client-certificate trust this configuration describes, read from its files.
    func clientTrust() throws -> ClientCertificateVerifier.Trust {
        ClientCertificateVerifier.Trust(
            roots: try ClientCertificateVerifier.loadRoots(path: clientCAPath), revokedSPKIs: revokedSPKIs, revokedSerials: revokedSerials,
            requireClientUsage: !acceptLegacyClientCertificates
        )
    }
}

extension Duration {
    /// The same span as a NIO `TimeAmount`.
    var timeAmount: TimeAmount {
        .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }
}
