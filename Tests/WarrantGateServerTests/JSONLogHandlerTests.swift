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
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
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
