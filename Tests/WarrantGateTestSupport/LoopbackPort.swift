import Foundation

/// Ports for servers a test starts as processes (PostgreSQL, rsyslog, a gateway's admin listener), which must be told
/// their port before they bind it.
public enum LoopbackPort {
    /// A loopback TCP port that no socket holds now, drawn at random from below the kernel's ephemeral range.
    ///
    /// A port the kernel picked for a bind to port 0 is in that range, and so is every outgoing connection's local port:
    /// between closing the probe and the server's bind, any connection a concurrent test opens may take it. Ports below
    /// the range are taken only by an explicit bind, so only another call of this function races for them; a caller
    /// that can tell a failed bind apart retries with a new port.
    public static func unused() throws -> Int {
        let ephemeralStart = ephemeralRangeStart()
        guard ephemeralStart > lowest + 1_000 else { return try probe(0) }
        for _ in 0..<64 {
            let candidate = Int.random(in: lowest..<ephemeralStart)
            if let port = try? probe(candidate) { return port }
        }
        throw ClusterError("no unused loopback port in \(lowest)..<\(ephemeralStart) after 64 tries")
    }

    /// Below this, ports belong to well-known and registered services a test machine may run.
    private static let lowest = 10_000

    /// The first port of `net.ipv4.ip_local_port_range` (32768 when it cannot be read).
    private static func ephemeralRangeStart() -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
    }

    /// Binds `port` (0 for the kernel's choice) on 127.0.0.1, closes it again, and returns the port bound.
    private static func probe(_ port: Int) throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw ClusterError("socket() failed") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw ClusterError("could not bind 127.0.0.1:\(port)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
