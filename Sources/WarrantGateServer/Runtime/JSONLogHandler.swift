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
///
/// A pipe or a socket whose reader has stopped (a stalled journald) must not stop the gateway: such a descriptor is
/// written without blocking, a line waiting at most ``patience`` for room, and dropped if it still does not fit; until
/// a line is written again, the next ones do not wait. A line cut short is ended before the next, so that every
/// later line is whole.
public final class JSONLogOutput: Sendable {
    public static let standardOutput = JSONLogOutput(descriptor: STDOUT_FILENO)

    /// How long one line may wait for room in a pipe or socket.
    static let patience: Int32 = 50

    private struct Target {
        let descriptor: Int32
        /// Writes with `send(MSG_DONTWAIT)`: a socket.
        let isSocket: Bool
        /// Written without blocking, waiting for room with `poll`: a pipe or a socket.
        let waitsForRoom: Bool
        /// Opened here, and closed with this output.
        let owned: Bool
        /// The last line was cut short: the next starts with a line feed.
        var torn = false
        /// The last line was dropped: the next does not wait for room.
        var stalled = false
    }

    private let target: Mutex<Target>

    /// A pipe is written through a descriptor of its own, opened non-blocking (its flag is the open file's, shared
    /// with every process that holds the pipe); a socket with `MSG_DONTWAIT`; anything else (a file, a terminal) as
    /// it is.
    public init(descriptor: Int32) {
        var status = stat()
        let kind = fstat(descriptor, &status) == 0 ? status.st_mode & S_IFMT : 0
        if kind == S_IFIFO, case let own = open("/proc/self/fd/\(descriptor)", O_WRONLY | O_NONBLOCK | O_CLOEXEC), own >= 0 {
            target = Mutex(Target(descriptor: own, isSocket: false, waitsForRoom: true, owned: true))
        } else {
            target = Mutex(Target(descriptor: descriptor, isSocket: kind == S_IFSOCK, waitsForRoom: kind == S_IFSOCK, owned: false))
        }
    }

    deinit {
        target.withLock { target in
            if target.owned { close(target.descriptor) }
        }
    }

    /// Writes the whole line, retrying short writes and interruptions; a line that cannot be written is dropped.
    func write(_ line: [UInt8]) {
        target.withLock { target in
            let ending = target.torn ? 1 : 0
            let bytes = target.torn ? [0x0A] + line : line
            let deadline = ContinuousClock.now + .milliseconds(target.stalled ? 0 : Int(Self.patience))
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let pointer = buffer.baseAddress! + offset, count = buffer.count - offset
                    let written = target.isSocket ? send(target.descriptor, pointer, count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
                        : Glibc.write(target.descriptor, pointer, count)
                    if written >= 0 {
                        offset += written
                        continue
                    }
                    let failure = errno
                    if failure == EINTR { continue }
                    let left = deadline - ContinuousClock.now
                    var ready = pollfd(fd: target.descriptor, events: Int16(POLLOUT), revents: 0)
                    if target.waitsForRoom, failure == EAGAIN, left > .zero, poll(&ready, 1, Int32(left / .milliseconds(1)) + 1) > 0 { continue }
                    // Torn if this line was begun, or if the line feed owed to an earlier one was not written.
                    target.torn = offset != ending
                    target.stalled = true
                    return
                }
                target.torn = false
                target.stalled = false
            }
        }
    }
}
