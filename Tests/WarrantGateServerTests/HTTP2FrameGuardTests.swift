import NIOCore
import NIOEmbedded
import Testing
@testable import WarrantGateServer

/// ``HTTP2FrameGuard`` reads hostile bytes: what it passes on must not depend on how they were cut into reads.
@Suite("HTTP/2 frame guard")
struct HTTP2FrameGuardTests {
    static func frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8]) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, flags,
                UInt8(stream >> 24), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)] + payload
    }

    static func setting(_ id: UInt16, _ value: UInt32) -> [UInt8] {
        [UInt8(id >> 8), UInt8(id & 0xff), UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// A client's opening, with table sizes above and below the cap, a SETTINGS acknowledgement (whose payload, if it
    /// had one, is no setting), a SETTINGS frame whose length is no multiple of six (its whole settings are read, as
    /// NIOHTTP2 refuses it anyway), and frames around them.
    static func opening(tableSizes: (UInt32, UInt32)) -> [UInt8] {
        preface
            + frame(0x4, setting(0x1, tableSizes.0) + setting(0x3, 100) + setting(0x1, tableSizes.1) + setting(0x4, 65_535))
            + frame(0x1, flags: 0x5, stream: 1, [0x82, 0x86, 0x84])
            + frame(0x4, flags: 0x1, setting(0x1, 0xffff_ffff))
            + frame(0x4, setting(0x1, tableSizes.0) + [0x0])
            + frame(0x0, flags: 0x1, stream: 1, Array(repeating: 0x41, count: 40))
            + frame(0x8, [0, 0, 0x10, 0])
    }

    /// The bytes the guard passes on for `input` cut at `cuts`.
    private func passed(_ input: [UInt8], cuts: [Int]) throws -> [UInt8] {
        let channel = EmbeddedChannel(handler: HTTP2FrameGuard())
        var start = 0
        for cut in cuts + [input.count] where cut >= start {
            try channel.writeInbound(ByteBuffer(bytes: input[start..<cut]))
            start = cut
        }
        var out: [UInt8] = []
        while let buffer = try channel.readInbound(as: ByteBuffer.self) { out += Array(buffer.readableBytesView) }
        _ = try? channel.finish()
        return out
    }

    @Test("a table size above 4,096 is lowered in place, wherever the reads are cut; nothing else changes")
    func capsTableSize() throws {
        let input = Self.opening(tableSizes: (0xffff_ffff, 5_000))
        let expected = Self.opening(tableSizes: (4_096, 4_096))
        #expect(try passed(input, cuts: []) == expected)
        for first in 0...input.count {
            for second in stride(from: first, through: input.count, by: 3) {
                let out = try passed(input, cuts: [first, second])
                #expect(out == expected, "cut at \(first) and \(second)")
                if out != expected { return }
            }
        }
        // At or below the cap, and on a SETTINGS acknowledgement, the bytes pass as they came.
        let small = Self.opening(tableSizes: (4_096, 0))
        #expect(try passed(small, cuts: [40, 41]) == small)
    }

    @Test("WINDOW_UPDATE, GOAWAY, unknown-type and tiny DATA frames and SETTINGS entries beyond their budget close the connection; within it, nothing happens")
    func budgets() throws {
        let goAway = Self.frame(0x7, [0, 0, 0, 0, 0, 0, 0, 0])
        let quitting = EmbeddedChannel(handler: HTTP2FrameGuard())
        try quitting.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        try quitting.writeInbound(ByteBuffer(bytes: Self.preface + Self.frame(0x4, []) + Array((0..<10).map { _ in goAway }.joined())))
        #expect(quitting.isActive)
        try quitting.writeInbound(ByteBuffer(bytes: goAway))
        #expect(!quitting.isActive, "the connection stays open after 11 GOAWAY frames")
        _ = try? quitting.finish()

        // SETTINGS frames full of entries: each window-size entry walks every open stream in NIOHTTP2.
        let settings = EmbeddedChannel(handler: HTTP2FrameGuard())
        try settings.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        let entries = Array((0..<50).map { _ in Self.setting(0x4, 65_535) }.joined())
        try settings.writeInbound(ByteBuffer(bytes: Self.preface + Self.frame(0x4, entries) + Self.frame(0x4, entries)))
        #expect(settings.isActive)
        try settings.writeInbound(ByteBuffer(bytes: Self.frame(0x4, Self.setting(0x4, 65_535))))
        #expect(!settings.isActive, "the connection stays open after 101 SETTINGS entries")
        _ = try? settings.finish()

        // A body a byte a frame; the same bytes in frames of a KiB pass.
        for (size, closes) in [(1, true), (1_024, false)] {
            let channel = EmbeddedChannel(handler: HTTP2FrameGuard())
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
            let frames = Array((0..<1_500).map { _ in Self.frame(0x0, stream: 1, Array(repeating: 0x41, count: size)) }.joined())
            try channel.writeInbound(ByteBuffer(bytes: Self.preface + Self.frame(0x4, []) + Self.frame(0x1, flags: 0x4, stream: 1, [0x83]) + frames))
            #expect(channel.isActive != closes, "\(size)-byte DATA frames")
            _ = try? channel.finish()
        }

        for (type, payload) in [(UInt8(0x8), [UInt8](arrayLiteral: 0, 0, 0, 1)), (0xee, [1, 2, 3])] {
            let channel = EmbeddedChannel(handler: HTTP2FrameGuard(budget: .init(extensionFrames: 5, windowUpdates: 5)))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
            let within = Self.preface + Self.frame(0x4, []) + Array((0..<5).map { _ in Self.frame(type, payload) }.joined())
            try channel.writeInbound(ByteBuffer(bytes: within))
            #expect(channel.isActive)
            // Each request raises the budget.
            try channel.writeInbound(ByteBuffer(bytes: Self.frame(0x1, flags: 0x5, stream: 1, [0x82]) + Self.frame(type, payload)))
            #expect(channel.isActive)
            try channel.writeInbound(ByteBuffer(bytes: Array((0..<11).map { _ in Self.frame(type, payload) }.joined())))
            #expect(!channel.isActive, "type \(type): the connection stays open beyond its budget")
            _ = try? channel.finish()
        }
    }
}
