import Foundation
import Synchronization

/// The system programs the packaging tests run (systemd's, dpkg's), found on the PATH or in the usual directories.
///
/// A test that needs them runs when they are installed, and always under `CI=true`, so that CI fails rather than
/// skips when `.ci/run` did not install them (Debian's `systemd` and `dpkg-dev`).
enum SystemTool {
    static func path(_ name: String) -> String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether tests needing `names` should run: all are installed, or this is CI.
    static func enabled(_ names: String...) -> Bool {
        names.allSatisfy { path($0) != nil } || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    /// Runs `executable` (a path, or a name looked up with ``path(_:)``) to its end.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil
    ) throws -> CLIProcess.Result {
        guard let resolved = executable.hasPrefix("/") ? executable : path(executable) else {
            throw CocoaError(.executableNotLoadable, userInfo: [NSLocalizedDescriptionKey: "\(executable) is not installed"])
        }
        return try CLIProcess.run(URL(fileURLWithPath: resolved), arguments, environment: environment, in: directory)
    }
}

/// A datagram socket standing in for systemd's notify socket: bound to a path, or to an abstract name when the
/// address starts with `@`. Give its ``address`` to the gateway as `NOTIFY_SOCKET`.
final class NotifySocket: @unchecked Sendable {
    let address: String
    private let descriptor: Int32

    init(address: String) throws {
        self.address = address
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        let abstract = address.hasPrefix("@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &socketAddress) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            let code = POSIXErrorCode(rawValue: errno) ?? .EIO
            close(descriptor)
            throw POSIXError(code)
        }
    }

    /// The next message, or nil when none arrives within `seconds`.
    func receive(within seconds: Double = 30) -> String? {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&request, 1, Int32(seconds * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        return count < 0 ? nil : String(decoding: buffer[..<count], as: UTF8.self)
    }

    deinit {
        close(descriptor)
        if !address.hasPrefix("@") { unlink(address) }
    }
}

/// Now on `CLOCK_MONOTONIC`, in microseconds: the clock systemd reads `MONOTONIC_USEC` on.
func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
}
