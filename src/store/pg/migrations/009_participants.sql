-- PostgreSQL twin of store/sqlite/migrations/009_participants.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite; text compares byte for byte
-- (COLLATE "C"), as SQLite's BINARY, whatever the database's locale). `pg::tests` check the two agree.

-- The people on a case (issue: everyone in the conversation). A participant an agent removed
-- (`#cc remove`) keeps their row, so the removal is remembered: a later Cc naming them does
-- not add them again, and nothing more is sent to them. `cc` on the outbox: the participants
-- a customer-facing message goes to besides its recipient (the customer), comma-separated;
-- `recipient` stays the customer, so the per-address caps and the undeliverable check keep
-- reading one address.
ALTER TABLE participants ADD COLUMN removed_at TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN cc TEXT COLLATE "C";
