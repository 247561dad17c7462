import Foundation
import Yams

/// An error in a configuration or policy file, located by file and line.
public struct FileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let line: Int?
    public let message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { "\(file):\(line): \(message)" } else { "\(file): \(message)" }
    }
}

/// A YAML node that knows its file and line, with typed accessors that fail with a located ``FileError``.
///
/// Files are hostile input: the reader bounds their size and nesting, and refuses anchors and aliases
/// (they let a small file expand without bound, and reviewed policy has no need of them).
public struct YAMLNode {
    public static let maximumFileSize = 1 << 20
    public static let maximumDepth = 64

    public let node: Node
    public let file: String

    public var line: Int? { node.mark.map { $0.line } }

    /// Parses `text` as one YAML document.
    public static func parse(_ text: String, file: String) throws -> YAMLNode {
        guard text.utf8.count <= maximumFileSize else {
            throw FileError(file: file, line: nil, message: "file is larger than \(maximumFileSize) bytes")
        }
        try checkFlowNesting(text, file: file)
        let root: Node
        let parser: Parser
        do {
            parser = try Parser(yaml: text)
            guard let parsed = try parser.singleRoot() else {
                throw FileError(file: file, line: nil, message: "file is empty")
            }
            root = parsed
        } catch let error as YamlError {
            throw FileError(file: file, line: Self.line(of: error), message: "invalid YAML: \(Self.summary(of: error))")
        }
        // A node holds its anchor weakly, and only the parser holds it strongly: it must live through the check.
        try withExtendedLifetime(parser) { try checkStructure(root, file: file) }
        return YAMLNode(node: root, file: file)
    }

    /// Opens the file at a path (`what` names it in errors) for reading, or throws why it cannot. The CLI, run through
    /// sudo, passes one that refuses a file the person who ran sudo may not read.
    public typealias Opener = (_ path: String, _ what: String) throws -> FileHandle

    /// Opens a file for reading without blocking, so that a FIFO does not wait here for a writer, and without making a
    /// terminal the process's own.
    public static func openForReading(_ path: String, what: String) throws -> FileHandle {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw FileError(file: path, line: nil, message: "cannot read \(what) (\(String(cString: strerror(errno))))")
        }
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Reads a file's text, opened by `open`: a regular file (or a link to one) of at most `maximumFileSize` bytes,
    /// UTF-8. A device or FIFO, which could be read without end or block the reader, is refused before anything is
    /// read from it. With `governing` (the configuration, a policy, a list it trusts), so is a file every account may
    /// write to.
    public static func readText(path: String, what: String = "file", governing: Bool = false, open: Opener = openForReading) throws -> String {
        let handle = try open(path, what)
        var status = stat()
        guard fstat(handle.fileDescriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw FileError(file: path, line: nil, message: "cannot read \(what): it is not a regular file")
        }
        // Every account on the host could rewrite the gateway's configuration, the law it enforces or the authorities
        // it trusts: through the file, or by replacing it in a directory every account may write to.
        if governing {
            guard status.st_mode & S_IWOTH == 0 else {
                throw FileError(file: path, line: nil, message: "cannot read \(what): every account may write to it (chmod o-w \(path))")
            }
            if let problem = replaceable(path) { throw FileError(file: path, line: nil, message: "cannot read \(what): \(problem)") }
        }
        guard status.st_size <= maximumFileSize else {
            throw FileError(file: path, line: nil, message: "file is larger than \(maximumFileSize) bytes")
        }
        let data: Data
        do {
            data = try handle.read(upToCount: maximumFileSize + 1) ?? Data()
        } catch {
            throw FileError(file: path, line: nil, message: "cannot read \(what) (\(error.localizedDescription))")
        }
        guard data.count <= maximumFileSize else {
            throw FileError(file: path, line: nil, message: "file is larger than \(maximumFileSize) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw FileError(file: path, line: nil, message: "file is not UTF-8") }
        return text
    }

    /// Why another account could replace what `path` names, or nil: a directory on its way, as given or with its links
    /// resolved, that every account may write to and that is not sticky; or a link on its way that an account other
    /// than root or this process's owns (in a sticky directory such as /tmp, its owner may point it anywhere).
    static func replaceable(_ path: String) -> String? {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var place = ""
        for component in absolute.split(separator: "/", omittingEmptySubsequences: true) {
            place += "/" + component
            var status = stat()
            guard lstat(place, &status) == 0 else { return "\(place) cannot be read" }
            if status.st_mode & S_IFMT == S_IFLNK, status.st_uid != 0, status.st_uid != geteuid() {
                return "it is reached through \(place), a link another account owns and may point anywhere"
            }
        }
        guard let resolved = realpath(path, nil) else { return "its links cannot be resolved" }
        defer { free(resolved) }
        for file in [absolute, String(cString: resolved)] {
            var directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
            while true {
                var status = stat()
                if stat(directory, &status) == 0, status.st_mode & S_IWOTH != 0, status.st_mode & S_ISVTX == 0 {
                    return "every account may replace it in \(directory) (chmod o-w, or +t)"
                }
                guard directory != "/" else { break }
                directory = URL(fileURLWithPath: directory).deletingLastPathComponent().path
            }
        }
        return nil
    }

    /// Reads (``readText(path:what:governing:open:)``) and parses a file.
    public static func load(path: String, open: Opener = openForReading) throws -> YAMLNode {
        try parse(readText(path: path, governing: true, open: open), file: path)
    }

    public func error(_ message: String) -> FileError {
        FileError(file: file, line: line, message: message)
    }

    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let mapping) = node else { return nil }
        for (k, v) in mapping where k.string == key { return YAMLNode(node: v, file: file) }
        return nil
    }

    /// The mapping's entries in file order; throws if this is not a mapping.
    public func mapping(_ what: String) throws -> [(key: String, value: YAMLNode)] {
        guard case .mapping(let mapping) = node else { throw error("\(what) must be a mapping") }
        var seen = Set<String>()
        return try mapping.map { k, v in
            guard case .scalar = k, let key = k.string else {
                throw YAMLNode(node: k, file: file).error("\(what): keys must be strings")
            }
            guard seen.insert(key).inserted else {
                throw YAMLNode(node: k, file: file).error("\(what): duplicate key '\(key)'")
            }
            return (key, YAMLNode(node: v, file: file))
        }
    }

    /// Throws if the mapping holds a key outside `allowed`: a typo must not silently drop a condition.
    public func requireKeys(in allowed: Set<String>, what: String) throws {
        for (key, value) in try mapping(what) where !allowed.contains(key) {
            throw FileError(
                file: file, line: value.line ?? line,
                message: "\(what): unknown key '\(key)' (expected one of: \(allowed.sorted().joined(separator: ", ")))"
            )
        }
    }

    public func sequence(_ what: String) throws -> [YAMLNode] {
        guard case .sequence(let sequence) = node else { throw error("\(what) must be a list") }
        return sequence.map { YAMLNode(node: $0, file: file) }
    }

    public func string(_ what: String) throws -> String {
        guard case .scalar(let scalar) = node else { throw error("\(what) must be a string") }
        return scalar.string
    }

    /// A string, or a list of strings; a single string counts as a list of one.
    public func strings(_ what: String) throws -> [String] {
        switch node {
        case .scalar(let scalar): return [scalar.string]
        case .sequence: return try sequence(what).map { try $0.string(what) }
        default: throw error("\(what) must be a string or a list of strings")
        }
    }

    /// ``strings(_:)``, refusing an empty list or an empty value (`key:` with nothing after it): in a condition or a
    /// test it would match nothing, or (tested for absence) everything, and it is more likely a value left out than a
    /// choice.
    public func someStrings(_ what: String) throws -> [String] {
        let values = try strings(what)
        guard !values.isEmpty, !values.contains("") else { throw error("\(what) needs at least one value, and no empty one") }
        return values
    }

    /// `true` or `false`, and nothing YAML 1.1 would also read as one (`yes`, `off`, `y`).
    public func bool(_ what: String) throws -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { throw error("\(what) must be true or false") }
        switch scalar.string {
        case "true": return true
        case "false": return false
        default: throw error("\(what) must be true or false")
        }
    }

    /// A whole number written in decimal digits, with an optional `-`. The other forms YAML 1.1 reads as numbers
    /// (`0443` as octal, `1:30` as base 60, `0x1bb`, `8_443`) are refused, as is anything beyond 18 digits: they are
    /// misread easily, and Yams traps on the overflow of some.
    public func int(_ what: String) throws -> Int {
        guard case .scalar(let scalar) = node else { throw error("\(what) must be a whole number") }
        let text = scalar.string
        let digits = text.hasPrefix("-") ? text.utf8.dropFirst() : text.utf8[...]
        guard (1...18).contains(digits.count), digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let value = Int(text) else {
            throw error("\(what) must be a whole number in decimal digits")
        }
        guard digits.first != UInt8(ascii: "0") || digits.count == 1 else {
            throw error("\(what): write '\(text)' without leading zeros (YAML would read it as octal)")
        }
        return value
    }

    public func required(_ key: String, in what: String) throws -> YAMLNode {
        guard let value = self[key] else { throw error("\(what): missing required key '\(key)'") }
        return value
    }

    /// Walks the tree once, refusing deep nesting, anchors, aliases and tags. Yams resolves an alias to the anchored node itself,
    /// so an alias shows up as a second visit to a node with the same source position: the walk stops there,
    /// before an alias bomb can expand.
    private static func checkStructure(_ root: Node, file: String) throws {
        var seen = Set<String>()
        var stack: [(Node, Int)] = [(root, 0)]
        while let (node, depth) = stack.popLast() {
            let located = YAMLNode(node: node, file: file)
            guard depth <= maximumDepth else { throw located.error("nesting is deeper than \(maximumDepth) levels") }
            if node.anchor != nil { throw located.error("YAML anchors and aliases are not allowed") }
            // A tag (`!!binary`, `!!python/object:…`, `!custom`) asks for a reading the policy language does not have.
            if let tag = explicitTag(node) { throw located.error("YAML tags (\(tag)) are not allowed") }
            // A mapping starts where its first key does, so the position is qualified by the node's kind.
            if let mark = node.mark, !seen.insert("\(kind(node)):\(mark.line):\(mark.column)").inserted {
                throw located.error("YAML anchors and aliases are not allowed")
            }
            switch node {
            case .alias: throw located.error("YAML anchors and aliases are not allowed")
            case .scalar: continue
            case .sequence(let sequence):
                for child in sequence { stack.append((child, depth + 1)) }
            case .mapping(let mapping):
                for (key, value) in mapping {
                    stack.append((key, depth + 1))
                    stack.append((value, depth + 1))
                }
            }
        }
    }

    /// The tag the text gives `node` (`!!binary`, `!custom`), not one resolved from its form; nil if none, or if it
    /// is a scalar's `!!str` (which the parser also gives every quoted scalar).
    private static func explicitTag(_ node: Node) -> String? {
        let tag = switch node {
        case .scalar(let scalar): scalar.tag.rawValue == Tag.Name.str.rawValue ? Tag.implicit : scalar.tag
        case .mapping(let mapping): mapping.tag
        case .sequence(let sequence): sequence.tag
        case .alias: Tag.implicit
        }
        return tag.rawValue.isEmpty ? nil : tag.rawValue
    }

    private static func kind(_ node: Node) -> Character {
        switch node {
        case .scalar: "s"
        case .sequence: "q"
        case .mapping: "m"
        case .alias: "a"
        }
    }

    /// Rejects deeply nested flow collections before the recursive parser sees them. It counts every bracket, in
    /// strings and comments too: telling those apart would take a YAML scanner of its own, and one that erred would
    /// let deep nesting through to the parser's recursion.
    private static func checkFlowNesting(_ text: String, file: String) throws {
        var depth = 0
        var line = 1
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maximumDepth {
                    throw FileError(
                        file: file, line: line,
                        message: "more than \(maximumDepth) '[' and '{' are open here (nesting is limited; brackets in strings and comments count too)"
                    )
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            case UInt8(ascii: "\n"): line += 1
            default: break
            }
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }

    private static func summary(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        default:
            return String(describing: error).split(separator: "\n").first.map(String.init) ?? "unreadable"
        }
    }
}
