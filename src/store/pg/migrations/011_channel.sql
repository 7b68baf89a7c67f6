-- PostgreSQL twin of store/sqlite/migrations/011_channel.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite; text compares byte for byte
-- (COLLATE "C"), as SQLite's BINARY, whatever the database's locale). `pg::tests` check the two agree.

-- How a complaint reached us: `email` (the customer wrote), `forward` (an agent forwarded the
-- customer's mail to their intake address) or `logged` (an agent logged a phone or counter
-- complaint with `#log`), and the agent who did (their address; NULL for `email`).
ALTER TABLE cases ADD COLUMN channel TEXT COLLATE "C" NOT NULL DEFAULT 'email';
ALTER TABLE cases ADD COLUMN logged_by TEXT COLLATE "C";
