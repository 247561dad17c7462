import Crypto

/// RFC 6962 Merkle tree hashing: leaf = SHA-256(0x00 ‖ entry), node = SHA-256(0x01 ‖ left ‖ right); the tree over
/// n leaves splits at the largest power of two smaller than n.
public enum Merkle {
    public typealias Hash = [UInt8]

    public static let emptyRoot: Hash = Array(SHA256.hash(data: [UInt8]()))

    public static func leafHash(_ entry: [UInt8]) -> Hash {
        var hasher = SHA256()
        hasher.update(byte: 0x00)
        hasher.update(bytes: entry)
        return hasher.finalizedBytes()
    }

    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        var hasher = SHA256()
        hasher.update(byte: 0x01)
        hasher.update(bytes: left)
        hasher.update(bytes: right)
        return hasher.finalizedBytes()
    }

    /// The largest power of two strictly smaller than `n` (n ≥ 2).
    static func split(_ n: UInt64) -> UInt64 {
        var k: UInt64 = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// MTH over leaves [start, start + count), given the hashes of aligned complete subtrees:
    /// `subtree(level, index)` is the hash over leaves [index·2^level, (index+1)·2^level). O(log n) lookups.
    public static func rangeHash(start: UInt64, count: UInt64, subtree: (Int, UInt64) throws -> Hash) rethrows -> Hash {
        precondition(count > 0)
        if count & (count - 1) == 0 && start % count == 0 {
            let level = count.trailingZeroBitCount
            return try subtree(level, start >> UInt64(level))
        }
        let k = split(count)
        return nodeHash(try rangeHash(start: start, count: k, subtree: subtree), try rangeHash(start: start + k, count: count - k, subtree: subtree))
    }

    /// The RFC 6962 inclusion proof of leaf `index` in the tree of `size` leaves, ordered from the leaf up.
    public static func inclusionProof(index: UInt64, size: UInt64, subtree: (Int, UInt64) throws -> Hash) rethrows -> [Hash] {
        precondition(index < size)
        var proof: [Hash] = []
        var start: UInt64 = 0
        var count = size
        var position = index
        while count > 1 {
            let k = split(count)
            if position < k {
                proof.append(try rangeHash(start: start + k, count: count - k, subtree: subtree))
                count = k
            } else {
                proof.append(try rangeHash(start: start, count: k, subtree: subtree))
                start += k
                position -= k
                count -= k
            }
        }
        return proof.reversed()
    }

    /// The RFC 6962 consistency proof (§2.1.2) that the tree of `oldSize` leaves is a prefix of the tree of `newSize`
    /// leaves (0 < `oldSize` ≤ `newSize`): O(log n) subtree hashes, read with `subtree` as ``rangeHash(start:count:subtree:)``
    /// reads them.
    public static func consistencyProof(oldSize: UInt64, newSize: UInt64, subtree: (Int, UInt64) throws -> Hash) rethrows -> [Hash] {
        precondition(0 < oldSize && oldSize <= newSize)
        guard oldSize < newSize else { return [] }
        return try subproof(oldSize, start: 0, count: newSize, complete: true, subtree: subtree)
    }

    /// SUBPROOF(m, D[start:start+count], complete) of RFC 6962 §2.1.2.
    private static func subproof(
        _ m: UInt64, start: UInt64, count: UInt64, complete: Bool, subtree: (Int, UInt64) throws -> Hash
    ) rethrows -> [Hash] {
        if m == count { return complete ? [] : [try rangeHash(start: start, count: count, subtree: subtree)] }
        let k = split(count)
        if m <= k {
            return try subproof(m, start: start, count: k, complete: complete, subtree: subtree)
                + [try rangeHash(start: start + k, count: count - k, subtree: subtree)]
        }
        return try subproof(m - k, start: start + k, count: count - k, complete: false, subtree: subtree)
            + [try rangeHash(start: start, count: k, subtree: subtree)]
    }

    /// Whether `proof` shows the tree of `oldSize` leaves with root `oldRoot` to be a prefix of the tree of `newSize`
    /// leaves with root `newRoot` (RFC 9162 §2.1.4.2). Sound whoever supplied the proof: only the two roots are trusted.
    public static func isConsistent(oldSize: UInt64, oldRoot: Hash, newSize: UInt64, newRoot: Hash, proof: [Hash]) -> Bool {
        guard oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return proof.isEmpty }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        guard var oldHash = path.first else { return false }
        var newHash = oldHash
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        for sibling in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                oldHash = nodeHash(sibling, oldHash)
                newHash = nodeHash(sibling, newHash)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                newHash = nodeHash(newHash, sibling)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && oldHash == oldRoot && newHash == newRoot
    }

    /// The root implied by a leaf hash and its inclusion proof (RFC 9162 §2.1.3.2), or nil if the proof has the
    /// wrong shape for that index and size.
    public static func rootFromInclusionProof(leaf: Hash, index: UInt64, size: UInt64, proof: [Hash]) -> Hash? {
        guard index < size else { return nil }
        var fn = index
        var sn = size - 1
        var hash = leaf
        for sibling in proof {
            guard sn != 0 else { return nil }
            if fn & 1 == 1 || fn == sn {
                hash = nodeHash(sibling, hash)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                hash = nodeHash(hash, sibling)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? hash : nil
    }
}

/// The right edge of a Merkle tree: one complete subtree per set bit of its size, largest first. Appending a leaf
/// and computing the root both take O(log n), with no rescan of history.
public struct MerkleFrontier: Sendable, Equatable {
    public private(set) var size: UInt64 = 0
    /// (level, hash) of each complete subtree on the right edge, largest (leftmost) first.
    public private(set) var subtrees: [(level: Int, hash: Merkle.Hash)] = []

    public init() {}

    /// A frontier from its parts: the complete subtrees of the right edge, largest first.
    public init(size: UInt64, subtrees: [(level: Int, hash: Merkle.Hash)]) {
        self.size = size
        self.subtrees = subtrees
    }

    public static func == (lhs: MerkleFrontier, rhs: MerkleFrontier) -> Bool {
        lhs.size == rhs.size && lhs.subtrees.elementsEqual(rhs.subtrees) { $0.level == $1.level && $0.hash == $1.hash }
    }

    /// Appends a leaf; returns the interior nodes completed by it, as (level, index, hash), for storage.
    @discardableResult
    public mutating func append(leaf: Merkle.Hash) -> [(level: Int, index: UInt64, hash: Merkle.Hash)] {
        var completed: [(level: Int, index: UInt64, hash: Merkle.Hash)] = []
        var hash = leaf
        var level = 0
        let leafIndex = size
        while let last = subtrees.last, last.level == level {
            subtrees.removeLast()
            hash = Merkle.nodeHash(last.hash, hash)
            level += 1
            completed.append((level, leafIndex >> UInt64(level), hash))
        }
        subtrees.append((level, hash))
        size += 1
        return completed
    }

    public var root: Merkle.Hash {
        guard var hash = subtrees.last?.hash else { return Merkle.emptyRoot }
        for subtree in subtrees.dropLast().reversed() { hash = Merkle.nodeHash(subtree.hash, hash) }
        return hash
    }
}

/// Hashing without the generic `DataProtocol` path (region iteration, a sequence copy of the digest): these run
/// for every entry of the log, in the group commit's critical section.
extension SHA256 {
    mutating func update(byte: UInt8) {
        withUnsafeBytes(of: byte) { update(bufferPointer: $0) }
    }

    mutating func update(bytes: [UInt8]) {
        bytes.withUnsafeBytes { update(bufferPointer: $0) }
    }

    func finalizedBytes() -> [UInt8] {
        finalize().withUnsafeBytes { Array($0) }
    }
}
