/// A log record whose fields are listed once, in `visitFields`: the canonical encoding, the decoding and the export's
/// columns all follow that list.
///
/// The canonical bytes are hashed into the log's Merkle tree. Renaming, reordering or re-typing a field changes them,
/// so logs written before no longer verify; a new field goes at the end, optional or with a default, so that older
/// records still decode.
protocol LogRecord: Sendable {
    /// Calls `visitor.field` once per member of the canonical JSON, in order, with the member's name and the key path
    /// of the property that holds it.
    static func visitFields(_ visitor: inout some LogFieldVisitor<Self>)
}

/// Something done with each field of a log record: writing it, reading it, collecting its name or its value.
///
/// `visitFields` is specialised for each visitor, so in an optimised build every key path in it is a constant that
/// becomes a plain property access: no closure, no key path lookup and no shared reference count per field.
protocol LogFieldVisitor<Record> {
    associatedtype Record
    /// - Parameter fallback: the value for a member that is absent, null or of another type; nil if the record is
    ///   then refused.
    mutating func field<Value: LogFieldValue>(_ name: StaticString, _ keyPath: WritableKeyPath<Record, Value>, fallback: Value?)
}

extension LogFieldVisitor {
    /// A required field, or, if `Value` is an optional, one that is nil when its member is absent, null or of another type.
    mutating func field<Value: LogFieldValue>(_ name: StaticString, _ keyPath: WritableKeyPath<Record, Value>) {
        field(name, keyPath, fallback: Value.absent)
    }

    /// A field that takes `value` when its member is absent, null or of another type.
    mutating func field<Value: LogFieldValue>(_ name: StaticString, _ keyPath: WritableKeyPath<Record, Value>, default value: Value) {
        field(name, keyPath, fallback: value)
    }
}

/// What the log needs to know of one kind of record beyond its list of fields.
struct LogFields<Record: LogRecord>: Sendable {
    /// The member names, in canonical order.
    let names: [String]
    private let kind: LogKind
    /// What decoding starts from: every field of it is then overwritten.
    private let placeholder: Record
    private let indexByName: [String: Int]

    /// - Parameter placeholder: any record of the kind; decoding overwrites every field of it.
    init(_ kind: LogKind, placeholder: Record) {
        var names = FieldNames<Record>()
        Record.visitFields(&names)
        precondition(
            names.names.allSatisfy { $0.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") } },
            "field names are written without escapes"
        )
        self.names = names.names
        self.kind = kind
        self.placeholder = placeholder
        indexByName = Dictionary(uniqueKeysWithValues: names.names.enumerated().map { ($1, $0) })
    }

    /// The canonical JSON of `record`: every field, in order.
    func encode(_ record: Record) -> [UInt8] {
        var encoder = CanonicalEncoder(record: record)
        Record.visitFields(&encoder)
        return encoder.json.finish()
    }

    /// Reads a record from a flat JSON object. Members may come in any order; unknown ones are ignored, and of two
    /// with the same name the later counts. A field whose member is absent, null or of another type takes its
    /// fallback; a required field (one without) refuses the record.
    func decode(_ bytes: [UInt8]) throws(JSONError) -> Record {
        try withUnsafeTemporaryAllocation(of: FlatValue.self, capacity: names.count) { members throws(JSONError) in
            // The members by field, in canonical order; an absent one reads as null.
            members.initialize(repeating: .null)
            defer { members.deinitialize() }
            var expected = 0
            try FlatJSON.forEachMember(bytes) { name, value in
                // The members normally come in canonical order; look up only those that do not.
                let index: Int
                if expected < names.count, names[expected] == name {
                    index = expected
                } else if let found = indexByName[name] {
                    index = found
                } else {
                    return
                }
                members[index] = value
                expected = index + 1
            }
            var decoder = FlatDecoder(record: placeholder, members: UnsafeBufferPointer(members))
            Record.visitFields(&decoder)
            guard !decoder.refused else { throw JSONError(detail: kind.notARecord, offset: 0) }
            return decoder.record
        }
    }

    /// The values of `record`'s fields, in canonical order, as flat JSON members hold them.
    func values(of record: Record) -> [FlatValue] {
        var values = FlatValues(record: record, capacity: names.count)
        Record.visitFields(&values)
        return values.values
    }
}

private struct FieldNames<Record>: LogFieldVisitor {
    var names: [String] = []

    mutating func field<Value: LogFieldValue>(_ name: StaticString, _ keyPath: WritableKeyPath<Record, Value>, fallback: Value?) {
        names.append(name.description)
    }
}

private struct CanonicalEncoder<Record>: LogFieldVisitor {
    let record: Record
    var json = CanonicalJSON()

    @inline(__always)
    mutating func field<Value: LogFieldValue>(_ name: StaticString, _ keyPath: WritableKeyPath<Record, Value>, fallback: Value?) {
        json.key(literal: name)
        record[keyPath: keyPath].encode(into: &json)
    }
}

private struct FlatDecoder<Record>: LogFieldVisitor {
    var record: Record
    /// The members' values by field, in canonical order.
    let members: UnsafeBufferPointer<FlatValue>
    var next = 0
    var refused = false

    @inline(__always)
    mutating func field<Value: LogFieldValue>(_ name: StaticString, _ keyPath: WritableKeyPath<Record, Value>, fallback: Value?) {
        if let value = Value(flat: members[next]) ?? fallback { record[keyPath: keyPath] = value } else { refused = true }
        next += 1
    }
}

private struct FlatValues<Record>: LogFieldVisitor {
    let record: Record
    var values: [FlatValue] = []

    init(record: Record, capacity: Int) {
        self.record = record
        values.reserveCapacity(capacity)
    }

    @inline(__always)
    mutating func field<Value: LogFieldValue>(_ name: StaticString, _ keyPath: WritableKeyPath<Record, Value>, fallback: Value?) {
        values.append(record[keyPath: keyPath].flat)
    }
}

/// A type that a log record's field can have.
protocol LogFieldValue: Sendable {
    /// The value a member holds; nil when it holds null or a value of another type.
    init?(flat member: FlatValue)
    /// The value for a member that is absent, null or of another type, unless the field gives its own: nil (the
    /// record is refused), except for optionals.
    static var absent: Self? { get }
    /// The value as a flat JSON member holds it.
    var flat: FlatValue { get }
    /// Writes the value as the canonical JSON does.
    func encode(into json: inout CanonicalJSON)
}

extension LogFieldValue {
    static var absent: Self? { nil }
}

extension String: LogFieldValue {
    init?(flat member: FlatValue) {
        guard case .string(let text) = member else { return nil }
        self = text
    }

    var flat: FlatValue { .string(self) }
    func encode(into json: inout CanonicalJSON) { json.append(self) }
}

extension Int: LogFieldValue {
    init?(flat member: FlatValue) {
        guard case .int(let number) = member else { return nil }
        self = number
    }

    var flat: FlatValue { .int(self) }
    func encode(into json: inout CanonicalJSON) { json.append(self) }
}

extension Effect: LogFieldValue {
    init?(flat member: FlatValue) {
        guard case .string(let text) = member else { return nil }
        self.init(rawValue: text)
    }

    var flat: FlatValue { .string(rawValue) }
    func encode(into json: inout CanonicalJSON) { json.append(rawValue) }
}

extension Array: LogFieldValue where Element == String {
    init?(flat member: FlatValue) {
        guard case .strings(let list) = member else { return nil }
        self = list
    }

    var flat: FlatValue { .strings(self) }
    func encode(into json: inout CanonicalJSON) { json.append(self) }
}

extension Optional: LogFieldValue where Wrapped: LogFieldValue {
    /// Never nil: null, or a value of another type, reads as `.none`.
    init?(flat member: FlatValue) {
        self = Wrapped(flat: member)
    }

    static var absent: Self? { .some(.none) }
    var flat: FlatValue { map(\.flat) ?? .null }

    func encode(into json: inout CanonicalJSON) {
        if let value = self { value.encode(into: &json) } else { json.append(nil as String?) }
    }
}

extension LogKind {
    /// The detail of the error for bytes that do not hold a record of this kind.
    var notARecord: String {
        "not \(self == .outcome || self == .admin ? "an" : "a") \(rawValue) record"
    }
}
