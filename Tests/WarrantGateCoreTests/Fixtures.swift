import Foundation
import WarrantGateCore

/// Paths of the repository's own files, so tests exercise the shipped policies.
enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    static func denver() throws -> Policy { try PolicyParser.load(path: path("policies/denver.yaml")) }
}
