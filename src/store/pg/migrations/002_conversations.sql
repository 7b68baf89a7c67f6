-- PostgreSQL twin of store/sqlite/migrations/002_conversations.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite; text compares byte for byte
-- (COLLATE "C"), as SQLite's BINARY, whatever the database's locale). `pg::tests` check the two agree.

-- mailcase schema v2: conversations.
-- Who wrote each inbound message in which role, what they wrote without quoted history,
-- whether it is public or an internal note and whether its claimed role was verified; who a
-- case is assigned to and when it was first answered/resolved; which audience (customer or
-- agents) each outbound message belongs to, so each side's mail client keeps one thread.

ALTER TABLE messages ADD COLUMN reply_text TEXT COLLATE "C";
ALTER TABLE messages ADD COLUMN role TEXT COLLATE "C";
ALTER TABLE messages ADD COLUMN visibility TEXT COLLATE "C" NOT NULL DEFAULT 'public';
ALTER TABLE messages ADD COLUMN verified BIGINT NOT NULL DEFAULT 1;
ALTER TABLE messages ADD COLUMN note TEXT COLLATE "C";

ALTER TABLE cases ADD COLUMN assignee TEXT COLLATE "C";
ALTER TABLE cases ADD COLUMN first_response_at TEXT COLLATE "C";
ALTER TABLE cases ADD COLUMN resolved_at TEXT COLLATE "C";
ALTER TABLE cases ADD COLUMN reopen_count BIGINT NOT NULL DEFAULT 0;

ALTER TABLE outbox ADD COLUMN audience TEXT COLLATE "C" NOT NULL DEFAULT 'customer';
CREATE INDEX outbox_thread ON outbox(case_id, audience, id);
CREATE INDEX messages_thread ON messages(case_id, role, id);
