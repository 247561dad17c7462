/// A response body redacted as it streams: fed in pieces of any size, it hands on the bytes it keeps, in order, and
/// holds back no more than one unfinished token.
///
/// A refusal is final: the caller withholds what it has not sent, or cuts the answer off. The bytes handed on before
/// a refusal were checked as far as they go, but the document as a whole was not; while ``awaitsVerdict`` holds, the
/// bytes handed on may still be refused for what follows them, and a caller must not send them yet.
public protocol BodyRedaction: AnyObject {
    /// Whether the bytes handed on since this last turned true may still be refused by bytes to come: markup written
    /// inside a string or text named a redacted field, and only its `>` or its element's end tag will tell whether a
    /// client would parse it as one. The value may stand in those bytes.
    var awaitsVerdict: Bool { get }
    /// Redacts the next piece of the body; `emit` receives the kept bytes.
    func feed(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) throws(RedactionError)
    /// The body ended: refuses a truncated document, and hands on anything still held.
    func finish(emit: (UnsafeRawBufferPointer) -> Void) throws(RedactionError)
    /// How many members or elements were removed so far.
    var removed: Int { get }
}

/// Why a body could not be redacted.
public struct RedactionError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The body is not a well-formed document of its type, or breaks a limit.
        case malformed
        /// The document is well-formed but uses something the gateway does not pass (a DOCTYPE, XInclude, a remote
        /// JSON-LD context, an encoding other than UTF-8).
        case refused
        /// The document is signed, and redaction would have to change it.
        case signed
    }

    public let kind: Kind
    public let detail: String
    /// The byte offset in the (decompressed) body where it was found.
    public let offset: Int

    public init(_ kind: Kind, _ detail: String, offset: Int) {
        self.kind = kind
        self.detail = detail
        self.offset = offset
    }

    public var description: String { "\(detail) (at byte \(offset))" }
}
