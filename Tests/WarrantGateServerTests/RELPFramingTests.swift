import NIOCore
import NIOEmbedded
import Testing

@testable import WarrantGateServer

/// The RELP decoder reads a receiver's bytes, which are as hostile as a client's.
@Suite("RELP framing")
struct RELPFramingTests {
    @Test("frames are written as TXNR COMMAND DATALEN [DATA] LF")
    func encoding() throws {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        try RELPFrameEncoder().encode(data: .syslog(txnr: 7, message: Array("<110>1 x".utf8)), out: &buffer)
        try RELPFrameEncoder().encode(data: .close(txnr: 8), out: &buffer)
        #expect(buffer.readString(length: buffer.readableBytes) == "7 syslog 8 <110>1 x\n8 close 0\n")
    }

    @Test("answers split anywhere, several in one read, and an empty serverclose")
    func decoding() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RELPResponseDecoder()))
        let offer = "200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,https://www.rsyslog.com\ncommands=syslog"
        let bytes = Array("1 rsp \(offer.utf8.count) \(offer)\n2 rsp 6 200 OK\n0 serverclose 0\n".utf8)
        for byte in bytes { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
        let first = try #require(try channel.readInbound(as: RELPResponse.self))
        #expect(first.txnr == 1 && first.status == 200 && first.text.hasPrefix("200 OK"))
        #expect(try channel.readInbound(as: RELPResponse.self) == RELPResponse(txnr: 2, command: "rsp", data: Array("200 OK".utf8)))
        #expect(try channel.readInbound(as: RELPResponse.self) == RELPResponse(txnr: 0, command: "serverclose", data: []))
        #expect(try channel.finish().isClean)
    }

    @Test(
        "malformed answers are errors, not guesses",
        arguments: [
            "x rsp 6 200 OK\n", "1 r$p 6 200 OK\n", "1 rsp 6x200 OK\n", "1 rsp 6 200 OKX", "1 rsp 0 \n", "1234567890 rsp 0\n",
            "1 rsp 99999999 x\n", "1 rsp 6\n200 OK\n", " rsp 0\n", "1 abcdefghijklmnopqrstuvwxyzabcdefg 0\n",
        ]
    )
    func malformed(_ text: String) throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RELPResponseDecoder()))
        #expect(throws: RELPProtocolError.self) { try channel.writeInbound(ByteBuffer(string: text)) }
    }

    @Test("a status is three digits at the start of a rsp's data")
    func status() {
        #expect(RELPResponse(txnr: 1, command: "rsp", data: Array("500 no".utf8)).status == 500)
        #expect(RELPResponse(txnr: 1, command: "rsp", data: Array("20".utf8)).status == nil)
        #expect(RELPResponse(txnr: 1, command: "rsp", data: Array("200".utf8)).status == 200)
        #expect(RELPResponse(txnr: 1, command: "rsp", data: Array("200\nrelp_version=0".utf8)).status == 200)
        #expect(RELPResponse(txnr: 1, command: "rsp", data: Array("2000 error".utf8)).status == nil, "an attacker's pass: read as 200")
        #expect(RELPResponse(txnr: 0, command: "serverclose", data: Array("200".utf8)).status == nil)
    }
}
