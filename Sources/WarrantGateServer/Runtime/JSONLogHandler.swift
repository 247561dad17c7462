import Foundation
import Logging
import Synchronization
import WarrantGateCore

/// Operational logs as JSON Lines on standard output, where journald (or a container runtime) collects them:
/// `{"time":"2026-12-02T10:28:33.123Z","level":"notice","logger":"warrant-gate","message":"…", …metadata}`.
///
/// Each line is written with one `write(2)` under a lock, so lines from several threads never interleave. Every
/// string is JSON-escaped, control characters included, so a value taken from a request cannot start a line of its
/// own. Metadata keys become top-level members, except those that would replace `time`, `level`, `logger`, `message`,
/// `source` or `error`, which are prefixed with `metadata.`.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: JSONLogOutput

    /// A handler for `label` that writes to `output` (standard output unless a test gives another descriptor).
    public init(label: String, output: JSONLogOutput = .standardOutput) {
        self.label = label
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static let reserved: Set<String> = ["time", "level", "logger", "message", "source", "error"]

    public func log(event: LogEvent) {
        var json = CanonicalJSON()
        json.field("time", Timestamp.format(Date()))
        json.field("level", event.level.rawValue)
        json.field("logger", label)
        json.field("message", event.message.description)
        json.field("source", event.source)
        if let error = event.error { json.field("error", String(describing: error)) }
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            json.field(Self.reserved.contains(key) ? "metadata.\(key)" : key, Self.text(value))
        }
        output.write(json.finished() + [0x0A])
    }

    /// A metadata value as text: nested values in swift-log's own rendering.
    private static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array, .dictionary: value.description
        }
    }
}

/// The descriptor JSON log lines go to, shared by every handler of the process.
public final class JSONLogOutput: Sendable {
    public static let standardOutput = JSONLogOutput(descriptor: STDOUT_FILENO)

    private let descriptor: Mutex<Int32>

    public init(descriptor: Int32) {
        self.descriptor = Mutex(descriptor)
    }

    /// Writes the whole line, retrying short writes and interruptions; a line that cannot be written is dropped, as
    /// a full pipe or a closed terminal must not stop the gateway.
    func write(_ line: [UInt8]) {
        descriptor.withLock { descriptor in
            line.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }
}
