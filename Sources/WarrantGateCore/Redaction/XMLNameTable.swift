/// Local names by namespace, compiled once per set of names (``RedactedNames``) for finding one with a hash and a
/// single comparison, whatever the number of names.
struct XMLNameTable: Sendable {
    private var index: HashIndex
    /// Each name's namespace, and its bytes in `bytes`, by the value `index` gives.
    private var entries: [(namespace: Int32, range: Range<Int>)] = []
    private var bytes: [UInt8] = []

    /// - Parameter localNames: per namespace index, its local names as UTF-8 (``RedactedNames/localNames``).
    init(_ localNames: [[[UInt8]]]) {
        index = HashIndex(capacity: localNames.reduce(0) { $0 + $1.count })
        for (namespace, names) in localNames.enumerated() {
            for name in names {
                let hash = name.withUnsafeBytes { XMLBytes.hash($0, seed: UInt64(namespace)) }
                index.insert(hash, Int32(entries.count))
                entries.append((Int32(namespace), bytes.count..<(bytes.count + name.count)))
                bytes += name
            }
        }
    }

    /// Whether `local` is a name of the namespace at `namespace`.
    func contains(_ local: UnsafeRawBufferPointer, namespace: Int32) -> Bool {
        let hash = XMLBytes.hash(local, seed: UInt64(namespace))
        return index.contains(hash) { value in
            let entry = entries[Int(value)]
            return entry.namespace == namespace && bytes.withUnsafeBytes { XMLBytes.equal(UnsafeRawBufferPointer(rebasing: $0[entry.range]), local) }
        }
    }
}
