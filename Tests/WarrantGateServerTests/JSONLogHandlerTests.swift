import Foundation
import Logging
import Testing
import WarrantGateCore

@testable import WarrantGateServer

@Suite("Operational logs as JSON lines")
struct JSONLogHandlerTests {
    @Test("one JSON object per line: level, logger, message, metadata as members; nothing a value holds can start a line")
    func lines() throws {
        let pipe = Pipe()
        let output = JSONLogOutput(descriptor: pipe.fileHandleForWriting.fileDescriptor)
        var logger = Logger(label: "warrant-gate") { JSONLogHandler(label: $0, output: output) }
        logger[metadataKey: "gateway"] = "gw1"
        logger.notice("listening on https://127.0.0.1:8443")
        logger.warning("refused\n{\"level\":\"critical\"}", metadata: ["agency": "ice\"ero", "level": "forged", "count": "\(3)"])
        logger.debug("below the level: not written")
        let text = Self.held(by: pipe)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines.last == "", "\(text)")
        let objects = try lines.dropLast().map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]) }
        #expect(objects[0]["level"] == "notice" && objects[0]["logger"] == "warrant-gate" && objects[0]["gateway"] == "gw1")
        #expect(objects[0]["message"] == "listening on https://127.0.0.1:8443")
        #expect(objects[1]["message"] == "refused\n{\"level\":\"critical\"}")
        #expect(objects[1]["level"] == "warning" && objects[1]["metadata.level"] == "forged")
        #expect(objects[1]["agency"] == "ice\"ero" && objects[1]["count"] == "3")
        #expect(objects.allSatisfy { Timestamp.parse($0["time"] ?? "") != nil })
    }

    /// What `pipe` holds, read without waiting for its end: an output keeps a descriptor of its own on a pipe.
    private static func held(by pipe: Pipe) -> String {
        let reading = pipe.fileHandleForReading.fileDescriptor
        _ = fcntl(reading, F_SETFL, fcntl(reading, F_GETFL) | O_NONBLOCK)
        var held: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while case let count = read(reading, &chunk, chunk.count), count > 0 { held += chunk.prefix(count) }
        return String(decoding: held, as: UTF8.self)
    }

    /// An attacker's pass: with standard output a pipe nobody read (a stalled journald), a blocking write on an event
    /// loop, under the output's lock, stopped the gateway once 64 KB of lines were logged.
    @Test("a pipe nobody reads does not stop the writer: lines that do not fit are dropped, and every line read is whole")
    func stalledReader() throws {
        let pipe = Pipe()
        let output = JSONLogOutput(descriptor: pipe.fileHandleForWriting.fileDescriptor)
        let logger = Logger(label: "warrant-gate") { JSONLogHandler(label: $0, output: output) }
        let started = ContinuousClock.now
        for index in 0..<200 { logger.notice("line \(index) \(String(repeating: "x", count: 3000))") }
        #expect(ContinuousClock.now - started < .seconds(20), "a blocking write never returns; these wait 50 ms once")
        let text = Self.held(by: pipe)
        let lines = text.split(separator: "\n")
        #expect(!lines.isEmpty && lines.count < 200, "\(lines.count) lines")
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
        #expect(lines.first?.contains("line 0 ") == true)
    }
}

/// An attacker's pass: an HTTP/2 header value holding line breaks, quoted in the parser's complaint, wrote a forged
/// "critical … decision log tampered" line to the text-format log of `demo` and `--log-format text`.
@Suite("Text-format operational logs")
struct TerminalLogHandlerTests {
    @Test("a message or metadata value cannot start a line of its own or drive the terminal")
    func escaped() {
        let event = LogEvent(
            level: .notice, message: "refused: x\n2026-12-05T10:00:00+0000 critical warrant-gate: FORGED", metadata: ["error": "a\r\n\u{1B}[2J", "n": .stringConvertible(7)],
            source: "warrant_gate", file: #fileID, function: #function, line: #line
        )
        let shown = TerminalLogHandler.escaped(event)
        #expect(shown.message.description == "refused: x\\u{A}2026-12-05T10:00:00+0000 critical warrant-gate: FORGED")
        #expect(shown.metadata?["error"] == .string("a\\u{D}\\u{A}\\u{1B}[2J"))
        #expect(shown.metadata?["n"] == .string("7"))
    }
}
