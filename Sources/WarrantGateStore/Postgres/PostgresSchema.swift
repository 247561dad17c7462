import Logging
import NIOCore
import PostgresNIO
import WarrantGateCore

/// The store's tables in PostgreSQL, shared by every gateway: the tamper-evident log (the entries, each a leaf of one
/// RFC 6962 tree; the tree's right edge in a single row that every append updates in its own transaction; the tree's
/// upper nodes; the signed checkpoints; the hashes of archived leaves) and the registry (documents, agencies, records
/// and facts about inmates, certificate revocations, settings), with the version number gateways poll.
///
/// Append-only holds twice over. Triggers refuse UPDATE, DELETE and TRUNCATE on the log, its nodes and its
/// checkpoints (DELETE of log rows only once `log archive` has moved them out), a frontier that does not follow the
/// log, a node beyond it and a checkpoint that does not follow the last; and the gateways connect as a role that does
/// not own the tables (an owner could disable the triggers), granted only SELECT and INSERT on them, SELECT and UPDATE
/// on the frontier, and no DELETE on anything. The role can still jam the log (a row far ahead of the frontier makes
/// every later append fail), never falsify it unseen: `log verify` walks what is stored.
public enum PostgresSchema {
    /// Where a trigger function looks names up: the system catalog first, then the store's own schema, which
    /// ``install(on:roles:)`` writes in place of `@store_schema@`, and a session's temporary tables last. (By
    /// default PostgreSQL searches temporary tables first, so a role could make its own `settings`, `pg_class` or
    /// `archive_state` stand in for the one a trigger reads.) The built-in functions they call are named with
    /// `pg_catalog.` all the same: a function of the same name that a role could make in the store's schema, with
    /// argument types closer to an untyped literal's, would otherwise be chosen over the built-in one.
    static let functionSearchPath = "SET search_path = pg_catalog, @store_schema@, pg_temp"

    /// Statements run one at a time (the extended protocol takes one per query); each may run again.
    static let statements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS log (
            seq BIGINT PRIMARY KEY CHECK (seq > 0),
            kind TEXT NOT NULL CHECK (kind = 'decision' OR kind = 'outcome' OR kind = 'admin' OR kind = 'shadow'),
            time TEXT NOT NULL,
            decision_id TEXT,
            entry TEXT NOT NULL,
            leaf_hash BYTEA NOT NULL CHECK (pg_catalog.octet_length(leaf_hash) = 32)
        )
        """,
        "CREATE INDEX IF NOT EXISTS log_decision ON log (decision_id, kind)",
        "CREATE INDEX IF NOT EXISTS log_time_kind ON log (time, kind)",
        // Rows leave the log only by `log archive`, which first raises archived_through past them and keeps their
        // leaf hashes, so that the tree stays whole.
        """
        CREATE TABLE IF NOT EXISTS archive_state (
            id INT PRIMARY KEY CHECK (id = 1),
            archived_through BIGINT NOT NULL CHECK (archived_through >= 0)
        )
        """,
        "INSERT INTO archive_state (id, archived_through) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
        """
        CREATE TABLE IF NOT EXISTS archived_leaves (
            seq BIGINT PRIMARY KEY CHECK (seq > 0),
            leaf_hash BYTEA NOT NULL CHECK (pg_catalog.octet_length(leaf_hash) = 32)
        )
        """,
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
            hash BYTEA NOT NULL CHECK (pg_catalog.octet_length(hash) = 32),
            PRIMARY KEY (level, idx)
        )
        """,
        // A checkpoint's id is one more than the one it follows: two signers that read the same latest one cannot
        // both insert (compare-and-swap on the primary key), so the signed checkpoints never fork.
        """
        CREATE TABLE IF NOT EXISTS checkpoints (
            id BIGINT PRIMARY KEY CHECK (id > 0),
            size BIGINT NOT NULL CHECK (size >= 0),
            root BYTEA NOT NULL CHECK (pg_catalog.octet_length(root) = 32),
            note TEXT NOT NULL,
            time TEXT NOT NULL
        )
        """,
        """
        CREATE OR REPLACE FUNCTION warrant_gate_append_only() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            RAISE EXCEPTION 'the table % is append-only', TG_TABLE_NAME;
        END $$
        """,
        // A log row may be deleted only once it is archived: at or below archived_through, its leaf hash kept, and
        // older than the retention period (`archive-retention-days`, 365 unless the tables' owner set another: CJIS
        // 5.4.7 keeps audit records a year), so that a role that may archive cannot erase this year's decisions.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_log_archived_only() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF TG_OP <> 'DELETE' OR OLD.seq > (SELECT archived_through FROM archive_state WHERE id = 1)
               OR NOT EXISTS (SELECT 1 FROM archived_leaves WHERE seq = OLD.seq AND leaf_hash = OLD.leaf_hash)
               OR OLD.time >= pg_catalog.to_char(
                   (pg_catalog.now() AT TIME ZONE 'UTC')
                       - pg_catalog.make_interval(days => coalesce((SELECT value::int FROM settings WHERE key = 'archive-retention-days'), 365)),
                   'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') THEN
                RAISE EXCEPTION 'the decision log is append-only, and keeps every entry for its retention period';
            END IF;
            RETURN OLD;
        END $$
        """,
        // The retention period is the tables' owner's to set, whatever grants a role holds on settings; so is the mark
        // of a `store migrate` in progress, which lifts the registry's triggers for the copy (an admin role that set it
        // could switch the two-person rule off, or write agencies, unlogged).
        """
        CREATE OR REPLACE FUNCTION warrant_gate_retention_owner_only() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF (TG_OP = 'DELETE' AND OLD.key IN ('archive-retention-days', '\(StoreMigration.pendingKey)')
                    OR TG_OP <> 'DELETE' AND (NEW.key IN ('archive-retention-days', '\(StoreMigration.pendingKey)')
                        OR OLD.key IN ('archive-retention-days', '\(StoreMigration.pendingKey)')))
               AND NOT pg_catalog.pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'settings'::regclass), 'MEMBER') THEN
                RAISE EXCEPTION 'only the tables'' owner sets %', CASE WHEN TG_OP = 'DELETE' THEN OLD.key ELSE NEW.key END;
            END IF;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $$
        """,
        // The archive only moves forward, over entries that a signed checkpoint covers.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_archive_forward() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF NEW.id <> 1 OR NEW.archived_through < OLD.archived_through
               OR NEW.archived_through > coalesce((SELECT size FROM checkpoints ORDER BY id DESC LIMIT 1), 0) THEN
                RAISE EXCEPTION 'the archive moves only forward, over entries a checkpoint covers';
            END IF;
            RETURN NEW;
        END $$
        """,
        // The frontier moves only forward, over rows that are all there, to the end of the log, and holds one subtree
        // (33 bytes) per bit of its size, largest first. The subtrees that the appended entries do not reach (one per
        // bit above the highest bit in which the two sizes differ; all of them for the same size) stay as they were:
        // rewritten, every later append and checkpoint would build on hashes of no entries.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_frontier_follows_log() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        DECLARE
            kept bigint := OLD.size & ~((1::bigint << pg_catalog.length(ltrim((OLD.size # NEW.size)::bit(64)::text, '0'))) - 1);
            kept_bytes integer := 33 * pg_catalog.length(replace(kept::bit(64)::text, '0', ''));
        BEGIN
            IF NEW.id <> 1 OR NEW.size < OLD.size
               OR NEW.size <> greatest((SELECT coalesce(pg_catalog.max(seq), 0) FROM log), (SELECT archived_through FROM archive_state WHERE id = 1))
               OR NEW.size - OLD.size <> (SELECT pg_catalog.count(*) FROM log WHERE seq > OLD.size)
               OR pg_catalog.octet_length(NEW.subtrees) <> 33 * pg_catalog.length(replace(NEW.size::bit(64)::text, '0', ''))
               OR pg_catalog.substr(NEW.subtrees, 1, kept_bytes) <> pg_catalog.substr(OLD.subtrees, 1, kept_bytes) THEN
                RAISE EXCEPTION 'the tree frontier moves only forward, to the end of the log';
            END IF;
            RETURN NEW;
        END $$
        """,
        // A stored node covers only entries that are in the log: its index is below the number of complete subtrees
        // of its level. (The end of its subtree, `(idx + 1) << level`, wraps past 2^63 for large levels and would let
        // a node through that a later append then collides with.)
        """
        CREATE OR REPLACE FUNCTION warrant_gate_node_follows_log() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF NEW.idx >= ((SELECT coalesce(pg_catalog.max(seq), 0) FROM log) >> NEW.level) THEN
                RAISE EXCEPTION 'a tree node may cover only entries already in the log';
            END IF;
            RETURN NEW;
        END $$
        """,
        // An archived leaf is that of an entry `log archive` is moving out: past those archived, covered by the latest
        // checkpoint, and still in the log with that leaf hash. Any other row would stand where a later archive's goes.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_leaf_archives_entry() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF NEW.seq <= (SELECT archived_through FROM archive_state WHERE id = 1)
               OR NEW.seq > coalesce((SELECT size FROM checkpoints ORDER BY id DESC LIMIT 1), 0)
               OR NOT EXISTS (SELECT 1 FROM log WHERE seq = NEW.seq AND leaf_hash = NEW.leaf_hash) THEN
                RAISE EXCEPTION 'an archived leaf is that of a checkpointed entry still in the log, past those archived';
            END IF;
            RETURN NEW;
        END $$
        """,
        // And at the transaction's end, that entry is archived: at or below archived_through, and out of the log. A leaf
        // inserted on its own, for the next entry `log archive` would move, would otherwise stand where that archive's
        // row goes (a review's pass), which only the tables' owner could then remove.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_leaf_archived_at_commit() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF NEW.seq > (SELECT archived_through FROM archive_state WHERE id = 1) OR EXISTS (SELECT 1 FROM log WHERE seq = NEW.seq) THEN
                RAISE EXCEPTION 'an archived leaf is kept only for an entry archived in the same transaction: at or below archived_through, and out of the log';
            END IF;
            RETURN NULL;
        END $$
        """,
        // A checkpoint follows the last one, covers no less than it, and no more than the tree.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_checkpoint_follows() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF NEW.id <> coalesce((SELECT pg_catalog.max(id) FROM checkpoints), 0) + 1
               OR NEW.size < coalesce((SELECT size FROM checkpoints ORDER BY id DESC LIMIT 1), 0)
               OR NEW.size > (SELECT size FROM tree_frontier WHERE id = 1) THEN
                RAISE EXCEPTION 'a checkpoint follows the last one and covers no more than the tree';
            END IF;
            RETURN NEW;
        END $$
        """,
        "DROP TRIGGER IF EXISTS log_append_only ON log",
        "CREATE TRIGGER log_append_only BEFORE UPDATE OR DELETE ON log FOR EACH ROW EXECUTE FUNCTION warrant_gate_log_archived_only()",
        "DROP TRIGGER IF EXISTS archive_state_forward ON archive_state",
        """
        CREATE TRIGGER archive_state_forward BEFORE UPDATE ON archive_state
            FOR EACH ROW EXECUTE FUNCTION warrant_gate_archive_forward()
        """,
        "DROP TRIGGER IF EXISTS archive_state_kept ON archive_state",
        "CREATE TRIGGER archive_state_kept BEFORE DELETE ON archive_state FOR EACH ROW EXECUTE FUNCTION warrant_gate_append_only()",
        "DROP TRIGGER IF EXISTS archived_leaves_append_only ON archived_leaves",
        """
        CREATE TRIGGER archived_leaves_append_only BEFORE UPDATE OR DELETE ON archived_leaves
            FOR EACH ROW EXECUTE FUNCTION warrant_gate_append_only()
        """,
        "DROP TRIGGER IF EXISTS archived_leaves_follow_log ON archived_leaves",
        """
        CREATE TRIGGER archived_leaves_follow_log BEFORE INSERT ON archived_leaves
            FOR EACH ROW EXECUTE FUNCTION warrant_gate_leaf_archives_entry()
        """,
        "DROP TRIGGER IF EXISTS archived_leaves_archived ON archived_leaves",
        """
        CREATE CONSTRAINT TRIGGER archived_leaves_archived AFTER INSERT ON archived_leaves DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION warrant_gate_leaf_archived_at_commit()
        """,
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
    ] + appendOnly("merkle_nodes") + appendOnly("checkpoints") + registryStatements + [
        "DROP TRIGGER IF EXISTS settings_retention_owner_only ON settings",
        """
        CREATE TRIGGER settings_retention_owner_only BEFORE INSERT OR UPDATE OR DELETE ON settings
            FOR EACH ROW EXECUTE FUNCTION warrant_gate_retention_owner_only()
        """,
        // The release of these definitions that last installed the store (``release``), and the digest of the trigger
        // functions and triggers it left (``definitionsDigest``): the owner's to write, anyone's to read.
        """
        CREATE TABLE IF NOT EXISTS schema_release (
            id INT PRIMARY KEY CHECK (id = 1),
            release BIGINT NOT NULL CHECK (release > 0),
            definitions TEXT NOT NULL
        )
        """,
        "REVOKE ALL ON \((logTables + registryTables + ["registry_state", "settings"]).joined(separator: ", ")) FROM PUBLIC",
        "GRANT SELECT ON schema_release TO PUBLIC",
    ]

    /// The release of ``statements`` and of the roles' grants, recorded in `schema_release` by each install. Raise it
    /// with any change to either: a store that an earlier release installed lacks that change (a trigger, a grant), so
    /// a gateway or the CLI refuses it until `store init` runs again (``installed(_:)``), and `store init` refuses
    /// a store that a later release installed, whose definitions it would put back. A test pins their digest to it.
    static let release: Int64 = 3

    /// How a store's definitions stand against this release's.
    enum Installed {
        /// This release's, as its `store init` left them.
        case current
        /// A later release's, as its `store init` left them: this release reads the store.
        case later(Int64)
        /// An earlier release's, or a store from before `schema_release`: triggers or grants this release relies on
        /// may be missing.
        case earlier
        /// Changed since `store init` recorded them: a trigger disabled or dropped, a function replaced (an owner's
        /// DDL, or the `store init` of a release from before `schema_release`, which puts back its own).
        case changed

        /// What to do about it, for a store that is not ``current``.
        var problem: String? {
            switch self {
            case .current, .later: nil
            case .earlier:
                "the store's tables were installed by an earlier release of warrant-gate, without triggers or grants this one relies on: "
                    + "run `warrant-gate store init` again, as the tables' owner, with the same roles (docs/postgresql.md#upgrading)"
            case .changed:
                "the store's trigger functions or triggers are not those `store init` installed (one disabled or dropped, a function "
                    + "replaced, or another release's store init run since): find out who changed them and check the log "
                    + "(`warrant-gate log verify`), then run `warrant-gate store init` again, as the tables' owner (docs/postgresql.md#upgrading)"
            }
        }
    }

    /// How the store's definitions stand (``Installed``).
    static func installed(_ session: any SQLSession) throws -> Installed {
        guard let recorded = try recordedRelease(session), recorded >= release else { return .earlier }
        let recordedDigest = try session.scalarText("SELECT definitions FROM schema_release WHERE id = 1")
        guard try recordedDigest == definitionsDigest(session) else { return .changed }
        return recorded > release ? .later(recorded) : .current
    }

    /// The store's tables on which a read may see other rows than another read of the same snapshot: row-level
    /// security (whose policy may test the query's own text, `current_query()`, and so hide a report's rows from a
    /// report while `log verify`'s read sees them all), or rules. The store sets up none; the tables' owner could.
    /// Other tables of a database the store shares are not its concern.
    static func readingProblems(_ session: any SQLSession) throws -> [String] {
        let tables = logTables + registryTables + ["settings", "registry_state", "schema_release"]
        return try session.fetchAll(
            """
            SELECT c.relname::text AS name, CASE WHEN c.relrowsecurity OR c.relforcerowsecurity THEN 1 ELSE 0 END AS secured,
                (SELECT pg_catalog.count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid) AS policies,
                (SELECT pg_catalog.count(*) FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid) AS rules
            FROM pg_catalog.pg_class c
            WHERE c.relnamespace = 'public'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
                AND c.relname::text IN (\(tables.map { _ in "?" }.joined(separator: ", ")))
            ORDER BY c.relname
            """,
            tables.map { SQLValue.text($0) }
        ).compactMap { row in
            let (name, secured, policies, rules) = (try row.text("name"), try row.int64("secured"), try row.int64("policies"), try row.int64("rules"))
            guard secured != 0 || policies != 0 || rules != 0 else { return nil }
            return "the table \(name) has " + [secured != 0 ? "row-level security enabled" : nil, policies != 0 ? "\(policies) row-level security policies" : nil,
                                              rules != 0 ? "\(rules) rules" : nil].compactMap { $0 }.joined(separator: ", ")
                + ", which the store sets up on none of its tables: a read may see other rows than `log verify` does (ALTER TABLE \(name) DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY; DROP POLICY; DROP RULE, as the tables' owner)"
        }
    }

    /// The SHA-256, in hexadecimal, of the store's trigger functions (name, arguments, whether they run as their
    /// owner, their settings and body) and of its triggers (table, name, whether enabled, definition), as the catalog
    /// holds them now.
    static func definitionsDigest(_ session: any SQLSession) throws -> String {
        try session.scalarText(
            """
            SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
                COALESCE((
                    SELECT pg_catalog.string_agg(
                        p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ') ' || p.prosecdef::text || ' '
                            || COALESCE(pg_catalog.array_to_string(p.proconfig, ','), '') || pg_catalog.chr(10) || p.prosrc,
                        pg_catalog.chr(10) ORDER BY p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
                    FROM pg_catalog.pg_proc p
                    WHERE p.pronamespace = 'public'::pg_catalog.regnamespace AND p.proname LIKE 'warrant\\_gate\\_%'
                ), '') || pg_catalog.chr(10) || COALESCE((
                    SELECT pg_catalog.string_agg(
                        c.relname || ' ' || t.tgname || ' ' || t.tgenabled::text || ' ' || pg_catalog.pg_get_triggerdef(t.oid),
                        pg_catalog.chr(10) ORDER BY c.relname, t.tgname)
                    FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
                    WHERE c.relnamespace = 'public'::pg_catalog.regnamespace AND NOT t.tgisinternal
                ), ''),
                'UTF8')), 'hex')
            """
        ) ?? ""
    }

    /// The release recorded in `schema_release`, or nil where none is (a store installed before it).
    private static func recordedRelease(_ session: any SQLSession) throws -> Int64? {
        guard try session.scalarText("SELECT pg_catalog.to_regclass('public.schema_release')::text") != nil else { return nil }
        return try session.scalarInt64("SELECT release FROM schema_release WHERE id = 1")
    }

    static let logTables = ["log", "tree_frontier", "merkle_nodes", "checkpoints", "archive_state", "archived_leaves"]
    /// The registry's tables that the admin CLI changes, each change bumping `registry_state.version`.
    static let registryTables = ["documents", "subject_records", "subject_facts", "agencies", "certificate_revocations", "agency_requests"]

    /// The registry, as in SQLite: JSON lists in text, times as text or seconds since 1970, flags as 0 or 1.
    static let registryStatements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS documents (
            reference TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            agency TEXT NOT NULL,
            subjects TEXT NOT NULL,
            scope TEXT NOT NULL,
            expires TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            court TEXT,
            judge TEXT,
            case_number TEXT,
            document_sha256 TEXT,
            no_document_reason TEXT,
            registered_by TEXT NOT NULL,
            registered_at TEXT NOT NULL,
            two_person_rule BIGINT NOT NULL,
            approved_by TEXT,
            approved_at TEXT,
            status_reason TEXT,
            superseded_by TEXT
        )
        """,
    ] + DocumentSignatureColumns.definitions.map { "ALTER TABLE documents ADD COLUMN IF NOT EXISTS \($0)" } + [
        "ALTER TABLE documents ADD COLUMN IF NOT EXISTS identity_sha256 TEXT",
        """
        CREATE TABLE IF NOT EXISTS subject_records (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            subject TEXT NOT NULL,
            kind TEXT NOT NULL,
            given_by TEXT NOT NULL,
            given_at DOUBLE PRECISION NOT NULL,
            language TEXT,
            attorney_required BIGINT NOT NULL DEFAULT 0,
            scope TEXT NOT NULL DEFAULT '[]',
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS subject_records_subject ON subject_records (subject)",
        """
        CREATE TABLE IF NOT EXISTS subject_facts (
            subject TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL,
            PRIMARY KEY (subject, name)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS agencies (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            category TEXT NOT NULL,
            spki_pins TEXT NOT NULL,
            added_by TEXT NOT NULL,
            added_at TEXT NOT NULL
        )
        """,
        "ALTER TABLE agencies ADD COLUMN IF NOT EXISTS \(AgencyExtensionColumn.definition)",
        """
        CREATE TABLE IF NOT EXISTS certificate_revocations (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            agency TEXT NOT NULL,
            spki TEXT,
            serial TEXT,
            reason TEXT NOT NULL,
            revoked_by TEXT NOT NULL,
            revoked_at TEXT NOT NULL,
            CHECK (spki IS NOT NULL OR serial IS NOT NULL)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS agency_requests (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, \(AgencyRequestColumns.definitions.joined(separator: ", "))
        )
        """,
        "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        // A setting's key never changes (its value is what changes): the gateways' role, which may update the time zone,
        // must not turn another setting, such as the mark of a migration that has not finished, into it.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_setting_key_kept() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF NEW.key <> OLD.key THEN
                RAISE EXCEPTION 'a setting''s key never changes (% to %)', OLD.key, NEW.key;
            END IF;
            RETURN NEW;
        END $$
        """,
        "DROP TRIGGER IF EXISTS settings_key_kept ON settings",
        "CREATE TRIGGER settings_key_kept BEFORE UPDATE ON settings FOR EACH ROW EXECUTE FUNCTION warrant_gate_setting_key_kept()",
        "CREATE TABLE IF NOT EXISTS registry_state (id INT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)",
        "INSERT INTO registry_state (id, version) VALUES (1, 1) ON CONFLICT (id) DO NOTHING",
        // Any change to what the gateways read from the registry bumps the version they poll. The function runs as
        // the tables' owner, so that the gateways' role needs no right to write the version itself.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_registry_changed() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER \(functionSearchPath) AS $$
        BEGIN
            UPDATE registry_state SET version = version + 1 WHERE id = 1;
            RETURN NULL;
        END $$
        """,
        // Whether the log's last entry is an admin record appended by this transaction (its row's xmin), hashed as a
        // leaf should be, of `wanted_action` on `wanted_target` by `wanted_operator` (by anyone if null): what a
        // registration, an approval or an agency's change in SQL must leave in the log. (A record whose text reads
        // otherwise to the CLI, a repeated key, is refused by every reader and named by `log verify`.)
        """
        CREATE OR REPLACE FUNCTION warrant_gate_just_recorded(wanted_action TEXT, wanted_target TEXT, wanted_operator TEXT) RETURNS boolean
        LANGUAGE sql STABLE \(functionSearchPath) AS $$
            SELECT EXISTS (
                SELECT 1 FROM log WHERE seq = (SELECT size FROM tree_frontier WHERE id = 1) AND kind = 'admin'
                    AND xmin::text = (pg_catalog.txid_current() % 4294967296)::text
                    AND leaf_hash = pg_catalog.sha256('\\x00'::bytea || pg_catalog.convert_to(kind, 'UTF8') || '\\x0a'::bytea
                        || pg_catalog.convert_to(entry, 'UTF8'))
                    AND entry::jsonb ->> 'action' = wanted_action AND entry::jsonb ->> 'target' = wanted_target
                    AND (wanted_operator IS NULL OR entry::jsonb ->> 'operator' = wanted_operator))
        $$
        """,
        // A document moves only along its lifecycle, and its terms (its recorded signature among them) never change, nor
        // does its scan's identity once read: whoever can write the table cannot bring a revoked or expired warrant back,
        // approve one without naming the approver (or as its registrant under the two-person rule), rewrite who approved
        // it, widen what one covers, mark it signed, or make a quashed warrant's scan no longer the document its copies
        // are. Its expiry instant moves only to the end of its expiry date in the recorded time zone, or up to an hour
        // before it: where a zone's clocks go back at midnight, the registry takes the first of the two midnights and
        // PostgreSQL the second.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_document_lifecycle() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF (NEW.reference, NEW.kind, NEW.agency, NEW.subjects, NEW.scope, NEW.expires, NEW.court, NEW.judge,
                NEW.case_number, NEW.document_sha256, NEW.no_document_reason, NEW.registered_by, NEW.registered_at, NEW.two_person_rule,
                \(DocumentSignatureColumns.names.map { "NEW.\($0)" }.joined(separator: ", ")))
               IS DISTINCT FROM
               (OLD.reference, OLD.kind, OLD.agency, OLD.subjects, OLD.scope, OLD.expires, OLD.court, OLD.judge,
                OLD.case_number, OLD.document_sha256, OLD.no_document_reason, OLD.registered_by, OLD.registered_at, OLD.two_person_rule,
                \(DocumentSignatureColumns.names.map { "OLD.\($0)" }.joined(separator: ", "))) THEN
                RAISE EXCEPTION 'a registered document''s terms never change';
            END IF;
            -- Which document its scan is, written at registration or, for one registered before, once from the scan.
            IF NEW.identity_sha256 IS DISTINCT FROM OLD.identity_sha256 AND OLD.identity_sha256 IS NOT NULL THEN
                RAISE EXCEPTION 'a document''s identity is written once';
            END IF;
            IF NEW.expires_at IS DISTINCT FROM OLD.expires_at AND NOT coalesce(NEW.expires_at BETWEEN
                   warrant_gate_date_end(NEW.expires) - 3600 AND warrant_gate_date_end(NEW.expires), false) THEN
                RAISE EXCEPTION 'a document''s expiry moves only to the end of its date in the recorded time zone';
            END IF;
            -- Who approved and when, the successor and the reason are written with the move that sets them, and stay.
            IF (NEW.approved_by, NEW.approved_at) IS DISTINCT FROM (OLD.approved_by, OLD.approved_at)
               AND NOT (OLD.status = 'pending' AND NEW.status = 'active') THEN
                RAISE EXCEPTION 'a document''s approval is written only as it is approved';
            END IF;
            IF NEW.superseded_by IS DISTINCT FROM OLD.superseded_by AND NOT (OLD.status = 'active' AND NEW.status = 'superseded') THEN
                RAISE EXCEPTION 'a document''s successor is written only as it is superseded';
            END IF;
            IF NEW.status_reason IS DISTINCT FROM OLD.status_reason AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
                RAISE EXCEPTION 'a document''s status reason is written only with its status';
            END IF;
            -- The database sees one admin role for every clerk, so an approval is the CLI's: its record is in the log.
            IF OLD.status = 'pending' AND NEW.status = 'active'
               AND NOT pg_catalog.pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER')
               AND NOT warrant_gate_just_recorded('warrant.approve', NEW.reference, NEW.approved_by) THEN
                RAISE EXCEPTION 'a document is approved only with its warrant.approve record, appended as the log''s last entry in the same transaction';
            END IF;
            IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
                   (OLD.status = 'pending' AND NEW.status = 'active' AND NEW.approved_by IS NOT NULL
                    AND (OLD.two_person_rule = 0 OR pg_catalog.lower(NEW.approved_by) <> pg_catalog.lower(OLD.registered_by)))
                OR (OLD.status IN ('active', 'pending') AND NEW.status = 'revoked')
                OR (OLD.status = 'active' AND NEW.status = 'superseded' AND NEW.superseded_by IS NOT NULL)
                OR (OLD.status IN ('active', 'pending') AND NEW.status = 'expired' AND OLD.expires_at <= extract(epoch FROM pg_catalog.now()))) THEN
                RAISE EXCEPTION 'a document does not go from % to %', OLD.status, NEW.status;
            END IF;
            RETURN NEW;
        END $$
        """,
        "DROP TRIGGER IF EXISTS documents_lifecycle ON documents",
        // The end of a `YYYY-MM-DD` date in the recorded time zone, in seconds since 1970; null without a zone.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_date_end(day TEXT) RETURNS double precision LANGUAGE sql STABLE
        \(functionSearchPath) SET timezone_abbreviations = 'Default' AS $$
            SELECT extract(epoch FROM (day::date + 1)::timestamp AT TIME ZONE (SELECT value FROM settings WHERE key = 'time-zone'))::double precision
        $$
        """,
        // The recorded time zone is a tz database name of a region (PostgreSQL would also take a POSIX rule such as
        // 'XXX+167', a week off UTC, and reads 'EST' or 'CET' as an abbreviation, without summer time), and writing it recomputes the expiry of every active or pending document that has not
        // passed: an expiry instant is always its date's end in the zone recorded now, so a role that may record the
        // zone cannot move one by recording another zone and then the first again.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_time_zone_named() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF NOT ((NEW.value LIKE '%/%' OR NEW.value IN ('UTC', 'GMT')) AND EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = NEW.value)) THEN
                RAISE EXCEPTION 'the time zone must be a tz database name such as America/Denver, not %', NEW.value;
            END IF;
            RETURN NEW;
        END $$
        """,
        "DROP TRIGGER IF EXISTS settings_time_zone_named ON settings",
        """
        CREATE TRIGGER settings_time_zone_named BEFORE INSERT OR UPDATE ON settings FOR EACH ROW
            WHEN (NEW.key = 'time-zone') EXECUTE FUNCTION warrant_gate_time_zone_named()
        """,
        """
        CREATE OR REPLACE FUNCTION warrant_gate_expiry_recomputed() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            -- Only rows that pass the filter have their date read (one stored before dates were checked may not be).
            UPDATE documents SET expires_at = warrant_gate_date_end(expires) WHERE reference IN (
                SELECT reference FROM documents WHERE status IN ('active', 'pending') AND expires_at > extract(epoch FROM pg_catalog.now()));
            RETURN NULL;
        END $$
        """,
        "DROP TRIGGER IF EXISTS settings_expiry_recomputed ON settings",
        """
        CREATE TRIGGER settings_expiry_recomputed AFTER INSERT OR UPDATE ON settings FOR EACH ROW
            WHEN (NEW.key = 'time-zone') EXECUTE FUNCTION warrant_gate_expiry_recomputed()
        """,
        "CREATE TRIGGER documents_lifecycle BEFORE UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION warrant_gate_document_lifecycle()",
        // The two-person rule turns off only as the CLI turns it off, with its record the transaction's last entry: an
        // admin role's plain UPDATE would switch it off unlogged, and one operator alone could then activate a
        // warrant. (`store migrate`'s copy, which marks its transaction, carries the setting as it stands.)
        """
        CREATE OR REPLACE FUNCTION warrant_gate_two_person_rule_recorded() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF NEW.value = 'off' AND (TG_OP = 'INSERT' OR OLD.value IS DISTINCT FROM 'off')
               AND NOT EXISTS (SELECT 1 FROM settings WHERE key = '\(StoreMigration.pendingKey)')
               AND NOT warrant_gate_just_recorded('settings.two-person-rule', 'two-person-rule', NULL) THEN
                RAISE EXCEPTION 'the two-person rule is turned off only with its record in the log (warrant-gate settings two-person-rule off)';
            END IF;
            RETURN NEW;
        END $$
        """,
        "DROP TRIGGER IF EXISTS settings_two_person_rule_recorded ON settings",
        """
        CREATE TRIGGER settings_two_person_rule_recorded BEFORE INSERT OR UPDATE ON settings FOR EACH ROW
            WHEN (NEW.key = 'two-person-rule') EXECUTE FUNCTION warrant_gate_two_person_rule_recorded()
        """,
        // A document is registered as the registry does it: pending approval under the two-person rule, active only
        // with the rule off, approved by no one yet, its expiry a date that ends in the recorded zone (once one is
        // recorded) when its instant says. The tables' owner (`store migrate`) copies documents as they are.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_document_registered() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF pg_catalog.pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
                RETURN NEW;
            END IF;
            IF NEW.expires !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' OR NEW.expires_at IS NULL OR NOT coalesce(NEW.expires_at BETWEEN
                   warrant_gate_date_end(NEW.expires) - 3600 AND warrant_gate_date_end(NEW.expires), true) THEN
                RAISE EXCEPTION 'a document''s expiry is a date, whose end in the recorded time zone is its expiry instant';
            END IF;
            -- A registration is the CLI's: its warrant.register record is the log's last entry, this transaction's own.
            IF NOT warrant_gate_just_recorded('warrant.register', NEW.reference, NEW.registered_by) THEN
                RAISE EXCEPTION 'a document is registered only with its warrant.register record, appended as the log''s last entry in the same transaction';
            END IF;
            IF NEW.approved_by IS NOT NULL OR NEW.approved_at IS NOT NULL OR NEW.superseded_by IS NOT NULL
               OR NEW.two_person_rule <> (coalesce((SELECT value FROM settings WHERE key = 'two-person-rule'), 'on') <> 'off')::int
               OR (NEW.two_person_rule = 1 AND NEW.status <> 'pending') OR (NEW.two_person_rule = 0 AND NEW.status <> 'active') THEN
                RAISE EXCEPTION 'a document is registered pending approval, or active only while the two-person rule is off';
            END IF;
            RETURN NEW;
        END $$
        """,
        "DROP TRIGGER IF EXISTS documents_registered ON documents",
        "CREATE TRIGGER documents_registered BEFORE INSERT ON documents FOR EACH ROW EXECUTE FUNCTION warrant_gate_document_registered()",
        "DROP TRIGGER IF EXISTS documents_kept ON documents",
        "CREATE TRIGGER documents_kept BEFORE DELETE ON documents FOR EACH ROW EXECUTE FUNCTION warrant_gate_append_only()",
        // An agency request is made pending, its terms never change, and it is approved once, by a name other than its
        // maker's, or withdrawn (the tables' owner, which `store migrate` runs as, copies requests as they are).
        """
        CREATE OR REPLACE FUNCTION warrant_gate_agency_request() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF pg_catalog.pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
                RETURN NEW;
            END IF;
            IF TG_OP = 'INSERT' THEN
                IF NEW.status <> 'pending' OR NEW.decided_by IS NOT NULL OR NEW.decided_at IS NOT NULL THEN
                    RAISE EXCEPTION 'an agency request is made pending';
                END IF;
                RETURN NEW;
            END IF;
            IF (NEW.id, NEW.agency, NEW.name, NEW.category, NEW.spki_pins, NEW.requested_by, NEW.requested_at)
               IS DISTINCT FROM (OLD.id, OLD.agency, OLD.name, OLD.category, OLD.spki_pins, OLD.requested_by, OLD.requested_at) THEN
                RAISE EXCEPTION 'an agency request''s terms never change';
            END IF;
            IF NOT (OLD.status = 'pending' AND NEW.decided_by IS NOT NULL AND NEW.decided_at IS NOT NULL
                    AND (NEW.status = 'withdrawn' OR (NEW.status = 'approved' AND pg_catalog.lower(NEW.decided_by) <> pg_catalog.lower(OLD.requested_by)))) THEN
                RAISE EXCEPTION 'an agency request is approved once, by an operator other than the one who made it, or withdrawn';
            END IF;
            RETURN NEW;
        END $$
        """,
        "DROP TRIGGER IF EXISTS agency_requests_lifecycle ON agency_requests",
        """
        CREATE TRIGGER agency_requests_lifecycle BEFORE INSERT OR UPDATE ON agency_requests
            FOR EACH ROW EXECUTE FUNCTION warrant_gate_agency_request()
        """,
        // An agency is written only behind its agency.add or agency.update record, the log's last entry and this
        // transaction's own, and, while the two-person rule is on, while a request for it is pending (the approval's
        // transaction): no writer (a CLI of an earlier release, SQL of the admin role) leaves it out of the log. It is
        // never renamed (its keys would move to the agency the new id names) nor deleted.
        """
        CREATE OR REPLACE FUNCTION warrant_gate_agency_by_request() RETURNS trigger LANGUAGE plpgsql
        \(functionSearchPath) AS $$
        BEGIN
            IF pg_catalog.pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'an agency is never deleted: revoke its certificates';
            END IF;
            IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN
                RAISE EXCEPTION 'an agency''s id never changes';
            END IF;
            IF TG_OP = 'UPDATE' AND OLD.\(AgencyExtensionColumn.name) = 1 AND NEW.\(AgencyExtensionColumn.name) IS DISTINCT FROM 1 THEN
                RAISE EXCEPTION '\(AgencyExtensionColumn.kept)';
            END IF;
            IF NOT (warrant_gate_just_recorded('agency.add', NEW.id, NULL) OR warrant_gate_just_recorded('agency.update', NEW.id, NULL)) THEN
                RAISE EXCEPTION 'an agency changes only with its agency.add or agency.update record, appended as the log''s last entry in the same transaction';
            END IF;
            IF coalesce((SELECT value FROM settings WHERE key = 'two-person-rule'), 'on') <> 'off'
               AND NOT EXISTS (SELECT 1 FROM agency_requests WHERE agency = NEW.id AND status = 'pending') THEN
                RAISE EXCEPTION 'while the two-person rule is on, an agency changes only by an approved request';
            END IF;
            RETURN NEW;
        END $$
        """,
        "DROP TRIGGER IF EXISTS agencies_by_request ON agencies",
        """
        CREATE TRIGGER agencies_by_request BEFORE INSERT OR UPDATE OR DELETE ON agencies
            FOR EACH ROW EXECUTE FUNCTION warrant_gate_agency_by_request()
        """,
        "DROP TRIGGER IF EXISTS agency_requests_kept ON agency_requests",
        "CREATE TRIGGER agency_requests_kept BEFORE DELETE ON agency_requests FOR EACH ROW EXECUTE FUNCTION warrant_gate_append_only()",
    ]
        // A certificate revoked stays revoked: a revocation is never changed or taken back (an agency is given a new
        // certificate instead).
        + appendOnly("certificate_revocations") + (registryTables + ["settings"]).flatMap { table in
        [
            "DROP TRIGGER IF EXISTS \(table)_changed ON \(table)",
            """
            CREATE TRIGGER \(table)_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON \(table)
                FOR EACH STATEMENT EXECUTE FUNCTION warrant_gate_registry_changed()
            """,
        ]
    }

    /// Creates or upgrades the tables in the schema `public`, as their owner, in one transaction, and grants each role
    /// what it needs and nothing more. Each role must exist already (`CREATE ROLE … LOGIN`, made by the database's
    /// administrator), be a role of its own (not one of the others, nor a member of another or of the tables' owner,
    /// whose powers it would hold), and be no superuser and unable to create roles (which could grant it the owner's),
    /// since the owner could disable the triggers; nor may it create objects in `public`, where a function of its own
    /// could stand in for a built-in one. Without roles (a demo), the owner itself appends, and only the triggers guard
    /// the log.
    static func install(on database: PostgresStoreDatabase, roles: PostgresRoles) throws {
        // A reader that holds one of the log's tables and waits for another that the installer holds is a deadlock the
        // server ends by aborting one of the two: the installer then tries again.
        for attempt in 1...3 {
            do {
                return try installOnce(on: database, roles: roles)
            } catch where attempt < 3 && StoreDatabase.describe(error).contains("SQLSTATE 40P01") {
                continue
            }
        }
    }

    /// The triggers that keep `table` append-only: no row updated or deleted, the table never truncated.
    private static func appendOnly(_ table: String) -> [String] {
        [
            "DROP TRIGGER IF EXISTS \(table)_append_only ON \(table)",
            "CREATE TRIGGER \(table)_append_only BEFORE UPDATE OR DELETE ON \(table) FOR EACH ROW EXECUTE FUNCTION warrant_gate_append_only()",
            "DROP TRIGGER IF EXISTS \(table)_no_truncate ON \(table)",
            "CREATE TRIGGER \(table)_no_truncate BEFORE TRUNCATE ON \(table) FOR EACH STATEMENT EXECUTE FUNCTION warrant_gate_append_only()",
        ]
    }

    /// PostgreSQL's predefined roles whose members could write the store's tables behind its triggers' owner, or act
    /// as the server's operating-system user (and from there as a superuser), as an SQL list.
    static let predefinedPowers = "('pg_write_all_data', 'pg_execute_server_program', 'pg_write_server_files', 'pg_read_server_files', 'pg_signal_backend')"

    /// Refuses a gateway connected as a role other than the gateways' of a store whose roles `store init` granted: one
    /// with a ``powerProblem(_:role:)``, the admin's or the archive's role (or one that may act as either), or one not
    /// granted the gateways' work. Roles change after `store init`, so each gateway checks its own when it starts. A
    /// store without granted roles (a demo) has the owner append.
    static func checkServingRole(on database: PostgresStoreDatabase) throws {
        // Nil for a store without granted roles.
        let checked = try database.read { session -> (row: SQLRow, powers: String?)? in
            let row = try session.fetchOne(
                """
                WITH reachable AS (
                    -- Every role this login can act as: its own and, inherited or by SET ROLE, each it is a member of.
                    SELECT m.oid FROM pg_catalog.pg_roles m, pg_catalog.pg_roles r
                    WHERE r.rolname = current_user AND pg_catalog.pg_has_role(r.oid, m.oid, 'MEMBER')
                )
                SELECT current_user::text AS role,
                       EXISTS (SELECT 1 FROM reachable m WHERE pg_catalog.has_table_privilege(m.oid, c.oid, 'DELETE')) AS archives,
                       EXISTS (SELECT 1 FROM reachable m WHERE pg_catalog.has_table_privilege(m.oid, 'public.documents', 'INSERT'))
                           AND EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                                       WHERE tgname = 'settings_guard' AND tgrelid = 'public.settings'::pg_catalog.regclass) AS administers,
                       EXISTS (SELECT 1 FROM pg_catalog.pg_attribute t, pg_catalog.aclexplode(t.attacl) a
                               WHERE t.attrelid = 'public.documents'::pg_catalog.regclass AND t.attname = 'status_reason'
                                 AND a.privilege_type = 'UPDATE' AND a.grantee IN (SELECT oid FROM reachable)) AS expires,
                       EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) a
                               WHERE a.privilege_type = 'INSERT' AND a.grantee <> c.relowner) AS granted
                FROM pg_catalog.pg_class c
                WHERE c.oid = 'public.log'::pg_catalog.regclass
                """
            )
            guard let row, try row.bool("granted") else { return nil }
            return (row, try powerProblem(session, role: try row.text("role")))
        }
        guard let (row, powers) = checked else { return }
        let role = try row.text("role")
        let problem = try powers
            ?? (try row.bool("archives") ? "is the archive role, which may delete entries from the log"
            : try row.bool("administers") ? "is the admin role, which may change the registry"
            : try !row.bool("expires") ? "is not the role granted the gateways' work" : nil)
        if let problem {
            throw StoreError("a gateway connects as the gateways' role, and \(role) \(problem): connect as the role `store init --gateway-role` named")
        }
    }

    /// Why `role` could get around the store's triggers, or nil: it is, or may act as (inherited or by SET ROLE), the
    /// owner of the database, of `public`, of a table there or of a trigger function; a superuser or a role that
    /// creates roles; a member of ``predefinedPowers``; may set `session_replication_role` (PostgreSQL 15); may create
    /// triggers on, truncate or reference a table; or may create objects in `public`. `store init` asks it of each role
    /// it grants, and each gateway of the role it connects as.
    static func powerProblem(_ session: any SQLSession, role: String) throws -> String? {
        guard let row = try session.fetchOne(
            """
            WITH reachable AS (
                SELECT m.oid, m.rolname, m.rolsuper, m.rolcreaterole FROM pg_catalog.pg_roles m, pg_catalog.pg_roles r
                WHERE r.rolname = ? AND pg_catalog.pg_has_role(r.oid, m.oid, 'MEMBER')
            )
            SELECT EXISTS (SELECT 1 FROM reachable WHERE rolsuper OR rolcreaterole) AS powerful,
                   EXISTS (SELECT 1 FROM reachable m
                           WHERE m.oid = (SELECT datdba FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
                           OR m.oid = (SELECT nspowner FROM pg_catalog.pg_namespace WHERE nspname = 'public')
                           OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.proname LIKE 'warrant\\_gate\\_%' AND p.proowner = m.oid)
                           OR EXISTS (SELECT 1 FROM pg_catalog.pg_class t
                                      WHERE t.relnamespace = 'public'::pg_catalog.regnamespace AND t.relowner = m.oid)) AS owner,
                   EXISTS (SELECT 1 FROM reachable m, pg_catalog.pg_class t
                           WHERE t.relnamespace = 'public'::pg_catalog.regnamespace AND t.relkind IN ('r', 'p')
                             AND (pg_catalog.has_table_privilege(m.oid, t.oid, 'TRIGGER') OR pg_catalog.has_table_privilege(m.oid, t.oid, 'TRUNCATE')
                                  OR pg_catalog.has_table_privilege(m.oid, t.oid, 'REFERENCES'))) AS triggers,
                   EXISTS (SELECT 1 FROM reachable m WHERE pg_catalog.has_schema_privilege(m.oid, 'public', 'CREATE')) AS creates,
                   (SELECT pg_catalog.string_agg(rolname, ', ' ORDER BY rolname) FROM reachable WHERE rolname IN \(Self.predefinedPowers)) AS powers
            """, role
        ) else { return nil }
        // PostgreSQL 15 lets a role be granted SET on a parameter: session_replication_role = replica turns every
        // trigger of the store off for the session.
        let setsReplicationRole = try session.scalarInt64("SELECT pg_catalog.current_setting('server_version_num')::bigint") ?? 0 >= 150_000
            && session.scalarInt64(
                """
                SELECT pg_catalog.count(*) FROM pg_catalog.pg_roles m, pg_catalog.pg_roles r
                WHERE r.rolname = ? AND pg_catalog.pg_has_role(r.oid, m.oid, 'MEMBER')
                  AND pg_catalog.has_parameter_privilege(m.oid, 'session_replication_role', 'SET')
                """, role
            ) ?? 0 > 0
        return try row.bool("owner") ? "is, or may act as, the owner of the database, of its schema public, or of the store's tables or trigger functions, which can drop them or disable the log's triggers"
            : setsReplicationRole ? "may set session_replication_role, which turns the log's triggers off"
            : try row.bool("powerful") ? "is, or may act as, a superuser or a role that may create roles, and so may become the tables' owner"
            : try row.bool("triggers") ? "may create triggers on, truncate or reference the store's tables"
            : try row.optionalText("powers").map { "is a member of \($0), which write any table or reach the server's files or programs" }
            ?? (try row.bool("creates") ? "may create objects in the schema public, where one of its own could stand in for the store's" : nil)
    }

    private static func installOnce(on database: PostgresStoreDatabase, roles: PostgresRoles) throws {
        try database.write { session in
            // Every table the triggers guard, first and in the appenders' order (the frontier, then the log and the
            // tree's nodes), so that an append under way finishes and the next waits, rather than one of them holding
            // a table the other needs.
            try session.execute(
                """
                DO $$ BEGIN
                    IF pg_catalog.to_regclass('public.tree_frontier') IS NOT NULL THEN
                        LOCK TABLE tree_frontier, log, merkle_nodes, checkpoints IN ACCESS EXCLUSIVE MODE;
                    END IF;
                END $$
                """, [SQLValue]()
            )
            // One installer at a time; gateways appending meanwhile wait for the triggers to be back.
            try session.execute("SELECT pg_advisory_xact_lock(\(PostgresLock.lockClass), \(PostgresLock.schema.rawValue))", [SQLValue]())
            guard Set(roles.all).count == roles.all.count else {
                throw StoreError("the gateways', admin and archive roles must be three different roles: each is granted only its own work")
            }
            for role in roles.all {
                guard try session.scalarInt64("SELECT pg_catalog.count(*) FROM pg_roles WHERE rolname = ?", role) ?? 0 > 0 else {
                    throw StoreError("the role \(role) does not exist: create it first (CREATE ROLE \(role) LOGIN)")
                }
                if let problem = try powerProblem(session, role: role) {
                    throw StoreError("the role \(role) \(problem): take that from it before store init grants it the store's work")
                }
                for other in roles.all where other != role {
                    if try session.scalarInt64("SELECT pg_catalog.count(*) FROM pg_roles WHERE rolname = ? AND pg_catalog.pg_has_role(rolname, ?, 'MEMBER')", role, other) ?? 0 > 0 {
                        throw StoreError("the role \(role) is a member of \(other) and so holds its powers: each role must be granted only its own work")
                    }
                }
            }
            guard try session.scalarText("SELECT current_schema()") == "public" else {
                throw StoreError("the store's tables live in the schema public, which this database lacks or the installer cannot use")
            }
            if let recorded = try recordedRelease(session), recorded > release {
                throw StoreError(
                    "a later release of warrant-gate installed this store's tables (schema release \(recorded); this one's is \(release)): "
                        + "run that release's store init, since this one's would put back definitions it replaced"
                )
            }
            let schema = "public"
            for statement in statements + roles.grants {
                try session.execute(statement.replacingOccurrences(of: "@store_schema@", with: schema), [SQLValue]())
            }
            try session.execute(
                """
                INSERT INTO schema_release (id, release, definitions) VALUES (1, ?, ?)
                ON CONFLICT (id) DO UPDATE SET release = EXCLUDED.release, definitions = EXCLUDED.definitions
                """,
                [.integer(release), .text(try definitionsDigest(session))]
            )
        }
    }
}

/// The roles that connect to a PostgreSQL store, each granted only what its work needs. Names are lower-case letters,
/// digits and `_`; they are quoted into GRANT statements, where an identifier cannot be a bound parameter.
public struct PostgresRoles: Sendable {
    /// The gateways': append to the log, sign checkpoints, read the registry, expire documents, record the time zone
    /// (and so move expiry instants to it).
    public var gateway: String?
    /// The admin CLI's: what the gateways may do, and change the registry. Without it, the gateways' role may too.
    public var admin: String?
    /// `log archive`'s: what the gateways may do, and move archived entries out of the log.
    public var archive: String?

    public init(gateway: String?, admin: String? = nil, archive: String? = nil) throws(StoreError) {
        for role in [gateway, admin, archive].compactMap({ $0 }) {
            guard role.first.map({ $0.isLetter || $0 == "_" }) == true, role.count <= 63,
                  role.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f }),
                  !["public", "none", "current_user", "session_user", "current_role"].contains(role), !role.hasPrefix("pg_")
            else { throw StoreError("a role must be a role's name of lower-case letters, digits and '_' (got '\(role.prefix(64))')") }
        }
        if admin != nil || archive != nil, gateway == nil { throw StoreError("name the gateways' role too") }
        self.gateway = gateway
        self.admin = admin
        self.archive = archive
    }

    var all: [String] { [gateway, admin, archive].compactMap { $0 } }

    /// The gateways record their time zone and the facts their policy declares in `settings`; with an admin role of
    /// its own, every other setting (the two-person rule) is the admin's alone. The names are checked role names, quoted as literals.
    private static func settingsGuard(gateway: String, admin: String) -> [String] {
        [
            """
            CREATE OR REPLACE FUNCTION warrant_gate_settings_guard() RETURNS trigger LANGUAGE plpgsql
            \(PostgresSchema.functionSearchPath) AS $$
            BEGIN
                IF NEW.key NOT IN ('time-zone', 'settable-facts') AND pg_catalog.pg_has_role(current_user, '\(gateway)', 'MEMBER')
                   AND NOT pg_catalog.pg_has_role(current_user, '\(admin)', 'MEMBER') THEN
                    RAISE EXCEPTION 'only the admin role changes the setting %', NEW.key;
                END IF;
                RETURN NEW;
            END $$
            """,
            "DROP TRIGGER IF EXISTS settings_guard ON settings",
            "CREATE TRIGGER settings_guard BEFORE INSERT OR UPDATE ON settings FOR EACH ROW EXECUTE FUNCTION warrant_gate_settings_guard()",
        ]
    }

    var grants: [String] {
        let registry = PostgresSchema.registryTables.joined(separator: ", ")
        func appending(_ role: String) -> [String] {
            [
                "GRANT SELECT, INSERT ON log, merkle_nodes, checkpoints TO \"\(role)\"",
                "GRANT SELECT, UPDATE ON tree_frontier TO \"\(role)\"",
                "GRANT SELECT ON archive_state, archived_leaves, registry_state, settings, \(registry) TO \"\(role)\"",
            ]
        }
        // The gateways record their time zone; the admin sets the two-person rule. The archive role sets nothing.
        let settings = { (role: String) in "GRANT INSERT, UPDATE ON settings TO \"\(role)\"" }
        func changingRegistry(_ role: String) -> [String] {
            ["GRANT INSERT, UPDATE ON \(registry) TO \"\(role)\""]
        }
        var grants: [String] = []
        if let gateway {
            grants += appending(gateway) + [settings(gateway), "GRANT UPDATE (status, status_reason, expires_at) ON documents TO \"\(gateway)\""]
            if admin == nil { grants += changingRegistry(gateway) }
        }
        if let admin {
            grants += appending(admin) + [settings(admin)] + changingRegistry(admin)
            if let gateway { grants += Self.settingsGuard(gateway: gateway, admin: admin) }
        } else {
            grants.append("DROP TRIGGER IF EXISTS settings_guard ON settings")
        }
        if let archive {
            grants += appending(archive) + [
                "REVOKE INSERT, UPDATE ON settings FROM \"\(archive)\"",
                "GRANT DELETE ON log TO \"\(archive)\"", "GRANT INSERT ON archived_leaves TO \"\(archive)\"",
                "GRANT UPDATE ON archive_state TO \"\(archive)\"",
            ]
        }
        return grants
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
