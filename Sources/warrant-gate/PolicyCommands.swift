import ArgumentParser
import Foundation
import WarrantGateCore

/// `policy check`: validate policy files before the gateway loads them.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Validate policy files.", subcommands: [Check.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a policy file, or every policy in a directory; errors name the file and line.",
            discussion: "Example: warrant-gate policy check policies/denver.yaml"
        )
        @Argument(help: "A policy file or a directory of them (default: policies).") var path: String = "policies"

        func run() throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CLIError(.notFound, "no such file or directory: \(path)")
            }
            let files: [String]
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                files = names.filter { $0.hasSuffix(".yaml") && $0 != "agencies.yaml" }.map { (path as NSString).appendingPathComponent($0) }
            } else {
                files = [path]
            }
            var failures = 0
            for file in files {
                do {
                    let policy = try PolicyParser.load(path: file)
                    print("ok    \(file): policy \(policy.name), \(policy.routes.count) routes, \(policy.rules.count) rules, digest \(policy.digest.prefix(16))")
                } catch {
                    failures += 1
                    print("FAIL  \(error)")
                }
            }
            if failures > 0 { throw CLIError(.failure, "\(failures) of \(files.count) policy files are invalid") }
        }
    }
}
