import Logging
import NIOCore
import PostgresNIO
import WarrantGateCore

/// The tamper-evident log's tables in PostgreSQL, shared by every gateway: the entries, each a leaf of one RFC 6962
/// tree; the tree's right edge in a single row that every append updates in its own transaction; the tree's upper
/// nodes; and the signed checkpoints.
///
/// Append-only holds twice over. Triggers refuse UPDATE, DELETE and TRUNCATE on the log, its nodes and its
/// checkpoints, a frontier that does not follow the log, a node beyond it and a checkpoint that does not follow the
/// last; and the gateways connect as a role that does not own the tables (an owner could disable the triggers),
/// granted only SELECT and INSERT on them and SELECT and UPDATE on the frontier. The role can still jam the log (a row
/// far ahead of the frontier makes every later append fail), never falsify it unseen: ``PostgresLogTree/verify``
/// walks what is stored.
public enum PostgresLogSchema {
    /// Statements run one at a time (the extended protocol takes one per query); each may run again.
    static let statements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS log (
            seq BIGINT PRIMARY KEY CHECK (seq > 0),
            kind TEXT NOT NULL CHECK (kind = 'decision' OR kind = 'outcome' OR kind = 'admin' OR kind = 'shadow'),
            time TEXT NOT NULL,
            decision_id TEXT,
            entry TEXT NOT NULL,
            leaf_hash BYTEA NOT NULL CHECK (octet_length(leaf_hash) = 32)
        )
        """,
        "CREATE INDEX IF NOT EXISTS log_decision ON log (decision_id, kind)",
        "CREATE INDEX IF NOT EXISTS log_kind_time ON log (kind, time)",
        """
        CREATE TABLE IF NOT EXISTS tree_frontier (
            id INT PRIMARY KEY CHECK (id = 1),
            size BIGINT NOT NULL CHECK (size >= 0),
            subtrees BYTEA NOT NULL
        )
        """,
        "INSERT INTO tree_frontier (id, size, subtrees) VALUES (1, 0, '\\x') ON CONFLICT (id) DO NOTHING",
        // Interior nodes of complete subtrees from level 8 up (one row per 256 entries), as in SQLite, so that the
        // root at any size is read in O(log n).
        """
        CREATE TABLE IF NOT EXISTS merkle_nodes (
            level INT NOT NULL CHECK (level >= 8 AND level < 64),
            idx BIGINT NOT NULL CHECK (idx >= 0),
            hash BYTEA NOT NULL CHECK (octet_length(hash) = 32),
            PRIMARY KEY (level, idx)
        )
        """,
        // A checkpoint's id is one more than the one it follows: two signers that read the same latest one cannot
        // both insert (compare-and-swap on the primary key), so the signed checkpoints never fork.
        """
        CREATE TABLE IF NOT EXISTS checkpoints (
            id BIGINT PRIMARY KEY CHECK (id > 0),
            size BIGINT NOT NULL CHECK (size >= 0),
            root BYTEA NOT NULL CHECK (octet_length(root) = 32),
            note TEXT NOT NULL,
            time TEXT NOT NULL
        )
        """,
        """
        CREATE OR REPLACE FUNCTION warrant_gate_append_only() RETURNS trigger LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
        BEGIN
            RAISE EXCEPTION 'the table % is append-only', TG_TABLE_NAME;
        END $$
        """,
        // The frontier moves only forward, over rows that are all there, to the end of the log, and holds one subtree
        // (33 bytes) per bit of its size.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_frontier_follows_log() RETURNS trigger LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
        BEGIN
            IF NEW.id <> 1 OR NEW.size < OLD.size OR NEW.size <> (SELECT coalesce(max(seq), 0) FROM log)
               OR NEW.size - OLD.size <> (SELECT count(*) FROM log WHERE seq > OLD.size)
               OR octet_length(NEW.subtrees) <> 33 * length(replace(NEW.size::bit(64)::text, '0', '')) THEN
                RAISE EXCEPTION 'the tree frontier moves only forward, to the end of the log';
            END IF;
            RETURN NEW;
        END $$
        """,
        // A stored node covers only entries that are in the log.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_node_follows_log() RETURNS trigger LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
        BEGIN
            IF ((NEW.idx + 1) << NEW.level) > (SELECT coalesce(max(seq), 0) FROM log) THEN
                RAISE EXCEPTION 'a tree node may cover only entries already in the log';
            END IF;
            RETURN NEW;
        END $$
        """,
        // A checkpoint follows the last one, covers no less than it, and no more than the tree.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_checkpoint_follows() RETURNS trigger LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
        BEGIN
            IF NEW.id <> coalesce((SELECT max(id) FROM checkpoints), 0) + 1
               OR NEW.size < coalesce((SELECT size FROM checkpoints ORDER BY id DESC LIMIT 1), 0)
               OR NEW.size > (SELECT size FROM tree_frontier WHERE id = 1) THEN
                RAISE EXCEPTION 'a checkpoint follows the last one and covers no more than the tree';
            END IF;
            RETURN NEW;
        END $$
        """,
        "DROP TRIGGER IF EXISTS log_append_only ON log",
        "CREATE TRIGGER log_append_only BEFORE UPDATE OR DELETE ON log FOR EACH ROW EXECUTE FUNCTION warrant_gate_append_only()",
        "DROP TRIGGER IF EXISTS log_no_truncate ON log",
        "CREATE TRIGGER log_no_truncate BEFORE TRUNCATE ON log FOR EACH STATEMENT EXECUTE FUNCTION warrant_gate_append_only()",
        "DROP TRIGGER IF EXISTS tree_frontier_forward ON tree_frontier",
        """
        CREATE TRIGGER tree_frontier_forward BEFORE UPDATE ON tree_frontier
            FOR EACH ROW EXECUTE FUNCTION warrant_gate_frontier_follows_log()
        """,
        "DROP TRIGGER IF EXISTS tree_frontier_kept ON tree_frontier",
        "CREATE TRIGGER tree_frontier_kept BEFORE DELETE ON tree_frontier FOR EACH ROW EXECUTE FUNCTION warrant_gate_append_only()",
        "DROP TRIGGER IF EXISTS tree_frontier_no_truncate ON tree_frontier",
        """
        CREATE TRIGGER tree_frontier_no_truncate BEFORE TRUNCATE ON tree_frontier
            FOR EACH STATEMENT EXECUTE FUNCTION warrant_gate_append_only()
        """,
        "DROP TRIGGER IF EXISTS merkle_nodes_follow_log ON merkle_nodes",
        "CREATE TRIGGER merkle_nodes_follow_log BEFORE INSERT ON merkle_nodes FOR EACH ROW EXECUTE FUNCTION warrant_gate_node_follows_log()",
        "DROP TRIGGER IF EXISTS checkpoints_follow ON checkpoints",
        "CREATE TRIGGER checkpoints_follow BEFORE INSERT ON checkpoints FOR EACH ROW EXECUTE FUNCTION warrant_gate_checkpoint_follows()",
        "DROP TRIGGER IF EXISTS merkle_nodes_append_only ON merkle_nodes",
        """
        CREATE TRIGGER merkle_nodes_append_only BEFORE UPDATE OR DELETE ON merkle_nodes
            FOR EACH ROW EXECUTE FUNCTION warrant_gate_append_only()
        """,
        "DROP TRIGGER IF EXISTS checkpoints_append_only ON checkpoints",
        """
        CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
            FOR EACH ROW EXECUTE FUNCTION warrant_gate_append_only()
        """,
        "DROP TRIGGER IF EXISTS merkle_nodes_no_truncate ON merkle_nodes",
        """
        CREATE TRIGGER merkle_nodes_no_truncate BEFORE TRUNCATE ON merkle_nodes
            FOR EACH STATEMENT EXECUTE FUNCTION warrant_gate_append_only()
        """,
        "DROP TRIGGER IF EXISTS checkpoints_no_truncate ON checkpoints",
        """
        CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
            FOR EACH STATEMENT EXECUTE FUNCTION warrant_gate_append_only()
        """,
        "REVOKE ALL ON log, tree_frontier, merkle_nodes, checkpoints FROM PUBLIC",
    ]

    /// Creates the tables, as their owner, and grants the gateways' role what appending needs and nothing more. The
    /// role must exist already (`CREATE ROLE … LOGIN`, made by the database's administrator) and must not own them.
    /// - Parameter gatewayRole: a role name of lower-case letters, digits and `_`.
    public static func install(on client: PostgresClient, gatewayRole: String, logger: Logger) async throws {
        guard gatewayRole.first.map({ $0.isLetter || $0 == "_" }) == true, gatewayRole.count <= 63,
              gatewayRole.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f }),
              !["public", "none", "current_user", "session_user", "current_role"].contains(gatewayRole), !gatewayRole.hasPrefix("pg_")
        else { throw StoreError("the gateways' role must be a role's name of lower-case letters, digits and '_' (got '\(gatewayRole.prefix(64))')") }
        // A role is an identifier, which cannot be a bound parameter: the name was checked above, and is quoted.
        let grants = [
            "GRANT SELECT, INSERT ON log, merkle_nodes, checkpoints TO \"\(gatewayRole)\"",
            "GRANT SELECT, UPDATE ON tree_frontier TO \"\(gatewayRole)\"",
        ]
        try await client.transaction(logger: logger) { connection in
            // One installer at a time; gateways appending meanwhile wait for the triggers to be back.
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresCheckpointer.lockClass), 2)", logger: logger)
            var role: (Bool, Bool)?
            for try await row in try await connection.query(
                "SELECT rolsuper, rolname = current_user FROM pg_roles WHERE rolname = \(gatewayRole)", logger: logger
            ).decode((Bool, Bool).self) {
                role = row
            }
            guard let (superuser, installer) = role else { throw StoreError("the role \(gatewayRole) does not exist: create it first (CREATE ROLE \(gatewayRole) LOGIN)") }
            guard !superuser, !installer else {
                throw StoreError("the gateways' role \(gatewayRole) must be neither a superuser nor the tables' owner, who could disable the triggers")
            }
            for statement in statements + grants {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
    }
}

extension MerkleFrontier {
    /// The frontier as `tree_frontier.subtrees` holds it: per complete subtree, largest first, its level (one
    /// byte) and its hash (32 bytes).
    var encodedSubtrees: ByteBuffer {
        var buffer = ByteBuffer()
        for subtree in subtrees {
            buffer.writeInteger(UInt8(subtree.level))
            buffer.writeBytes(subtree.hash)
        }
        return buffer
    }

    /// Reads a frontier of `size` entries from `tree_frontier.subtrees`; nil if the bytes do not describe one.
    init?(size: UInt64, encoded: ByteBuffer) {
        var buffer = encoded
        var subtrees: [(level: Int, hash: Merkle.Hash)] = []
        var covered: UInt64 = 0
        while buffer.readableBytes > 0 {
            guard let level = buffer.readInteger(as: UInt8.self), level < 64, let hash = buffer.readBytes(length: 32) else { return nil }
            if let last = subtrees.last, Int(level) >= last.level { return nil }
            subtrees.append((Int(level), hash))
            covered += 1 << UInt64(level)
        }
        guard covered == size else { return nil }
        self.init(size: size, subtrees: subtrees)
    }
}
