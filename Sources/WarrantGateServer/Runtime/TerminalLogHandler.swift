import Logging
import WarrantGateCore

/// swift-log's plain lines on standard error, for a person at a terminal, with every control or format character in
/// the message and the metadata written `\u{XX}` (``TerminalText``): a value taken from a request (a parser's
/// complaint quoting a header) can neither start a forged line nor drive the terminal.
public struct TerminalLogHandler: LogHandler {
    private var inner: StreamLogHandler

    public init(label: String) {
        inner = StreamLogHandler.standardError(label: label)
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    /// Escaped as it is set, so that each line escapes only its own message and metadata.
    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = Self.escaped(newValue) }
    }

    /// What the provider gives is escaped as it is read.
    public var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue.map { provider in Logger.MetadataProvider { Self.escaped(provider.get()) } } }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue.map { Self.escaped(["": $0])[""]! } }
    }

    public func log(event: LogEvent) {
        inner.log(event: Self.escaped(event))
    }

    /// `event` with its message and metadata escaped.
    static func escaped(_ event: LogEvent) -> LogEvent {
        var event = event
        event.message = "\(TerminalText.escaped(event.message.description))"
        event.metadata = event.metadata.map(Self.escaped)
        return event
    }

    static func escaped(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.mapValues { value in
            switch value {
            case .string(let text): .string(TerminalText.escaped(text))
            case .stringConvertible(let convertible): .string(TerminalText.escaped(convertible.description))
            case .array, .dictionary: .string(TerminalText.escaped(value.description))
            }
        }
    }
}
