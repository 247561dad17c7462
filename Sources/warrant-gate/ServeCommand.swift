import ArgumentParser
import Foundation
import Logging
import WarrantGateDevPKI
import WarrantGateServer

/// `serve`: the production entry point.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway from a configuration file.",
        discussion: """
            Every key of the configuration file is documented in docs/configuration.md. The gateway refuses to start if the
            configuration, the policy or the agency directory is invalid, naming the file and line.
            SIGTERM or Ctrl-C drains open requests and exits 0. SIGHUP reloads the policy, the agency directory and
            the TLS files. Under systemd (Type=notify) it reports READY, RELOADING and STOPPING to $NOTIFY_SOCKET.

            $WARRANT_GATE_TLS_CERTIFICATE and $WARRANT_GATE_TLS_KEY, when set, override tls.certificate and tls.key:
            the Debian package's unit passes both files as systemd credentials and names their copies there
            (see docs/debian.md).

            Example: warrant-gate serve --config /etc/warrant-gate/gateway.yaml
            """
    )

    @Option(help: "The YAML configuration file.") var config: String
    @Option(help: "Operational logs: `json` (JSON Lines on standard output, for journald) or `text` (standard error).") var logFormat: LogFormat = .json

    func run() async throws {
        try SudoInvocation.refuseGateway("warrant-gate serve")
        OperationalLogging.bootstrap(logFormat)
        let logger = { () -> Logger in
            var logger = Logger(label: "warrant-gate")
            logger.logLevel = .info
            return logger
        }()
        let configuration: GatewayConfiguration
        let gateway: Gateway
        do {
            configuration = try Self.gatewayConfiguration(path: config, environment: ProcessInfo.processInfo.environment, logger: logger)
            let host = configuration.host
            gateway = try await Gateway.load(configuration: configuration, logger: logger, onListening: { port in
                logger.notice("listening on https://\(host):\(port)")
            })
            // Certificates copied from a demo would identify agencies in production: nothing else tells them apart.
            if gateway.clientRoots.contains(where: DevCertificateAuthority.isDevelopment) {
                logger.warning("tls.client-ca holds the development CA (O=\(DevCertificateAuthority.organization)) that `demo` and certs/ make: agencies' certificates must come from the county's own CA")
            }
        } catch {
            throw CLIError(.failure, "cannot start: \(error)")
        }
        try await gateway.run()
    }

    /// The configuration file, with `tls.certificate` and `tls.key` replaced by `$WARRANT_GATE_TLS_CERTIFICATE` and
    /// `$WARRANT_GATE_TLS_KEY` where those are set (each replacement is logged).
    static func gatewayConfiguration(path: String, environment: [String: String], logger: Logger) throws -> GatewayConfiguration {
        var configuration = try GatewayConfiguration.load(path: path)
        if let certificate = environment["WARRANT_GATE_TLS_CERTIFICATE"], !certificate.isEmpty {
            configuration.serverCertificatePath = certificate
            logger.notice("tls.certificate: \(certificate), from $WARRANT_GATE_TLS_CERTIFICATE")
        }
        if let key = environment["WARRANT_GATE_TLS_KEY"], !key.isEmpty {
            configuration.serverKeyPath = key
            logger.notice("tls.key: \(key), from $WARRANT_GATE_TLS_KEY")
        }
        return configuration
    }
}
