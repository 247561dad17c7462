import ArgumentParser
import Foundation
import Logging
import WarrantGateServer

/// `serve`: the production entry point.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway from a configuration file.",
        discussion: """
            Every key of the configuration file is documented in the README. The gateway refuses to start if the
            configuration, the policy or the agency directory is invalid, naming the file and line.
            SIGTERM or Ctrl-C drains open requests and exits 0.

            Example: warrant-gate serve --config /etc/warrant-gate/gateway.yaml
            """
    )

    @Option(help: "The YAML configuration file.") var config: String

    func run() async throws {
        let logger = { () -> Logger in
            var logger = Logger(label: "warrant-gate")
            logger.logLevel = .info
            return logger
        }()
        let configuration: GatewayConfiguration
        let gateway: Gateway
        do {
            configuration = try GatewayConfiguration.load(path: config)
            let host = configuration.host
            gateway = try await Gateway.load(configuration: configuration, logger: logger, onListening: { port in
                logger.notice("listening on https://\(host):\(port)")
            })
        } catch {
            throw CLIError(.failure, "cannot start: \(error)")
        }
        try await gateway.run()
    }
}
