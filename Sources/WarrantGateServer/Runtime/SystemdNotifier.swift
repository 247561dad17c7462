import Foundation
import ServiceLifecycle

/// Tells systemd how the gateway is doing, by the `sd_notify` protocol (no libsystemd): each message is one datagram
/// of newline-separated `KEY=value` lines, sent to the `AF_UNIX` socket that `$NOTIFY_SOCKET` names (a path, or an
/// abstract socket when it starts with `@`).
///
/// Without `$NOTIFY_SOCKET` (not run by systemd with `Type=notify`) every call does nothing. Sending is best effort:
/// a message that cannot be sent is dropped, as libsystemd's `sd_notify` drops it.
public struct SystemdNotifier: Sendable {
    /// The socket's address as `$NOTIFY_SOCKET` gives it; nil when there is none.
    public let socket: String?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `READY=1`: the gateway serves, at start-up once the TLS listener is bound, and after each reload.
    public func ready() {
        send("READY=1")
    }

    /// `RELOADING=1` with `MONOTONIC_USEC`, the time the reload starts on `CLOCK_MONOTONIC`. ``ready()`` must follow
    /// once the reload is done, whether or not it succeeded.
    public func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())")
    }

    /// `STOPPING=1`: graceful shutdown has begun.
    public func stopping() {
        send("STOPPING=1")
    }

    /// Sends one message; returns whether the whole datagram was sent (false when there is no socket).
    @discardableResult
    public func send(_ message: String) -> Bool {
        guard let socket, let first = socket.first, first == "/" || first == "@" else { return false }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socket.utf8)
        let abstract = first == "@"
        if abstract { path[0] = 0 }
        // A path needs room for its terminating NUL; an abstract name is exactly its bytes.
        guard path.count + (abstract ? 0 : 1) <= MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + path.count + (abstract ? 0 : 1))

        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddress in
                bytes.withUnsafeBytes { sendto(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sockaddress, length) }
            }
        }
        return sent == bytes.count
    }

    /// Now on `CLOCK_MONOTONIC`, in microseconds, as systemd reads `MONOTONIC_USEC`.
    public static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}

/// Sends `STOPPING=1` as soon as the service group begins its graceful shutdown. It is the group's last service, so
/// that it is the first the group tells to stop (a group stops its services in reverse order).
struct SystemdStoppingService: Service {
    let notifier: SystemdNotifier

    func run() async throws {
        // Cancelled instead (a service failed): the process is going down all the same.
        try? await gracefulShutdown()
        notifier.stopping()
    }
}
