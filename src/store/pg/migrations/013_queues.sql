-- PostgreSQL twin of store/sqlite/migrations/013_queues.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite; text compares byte for byte
-- (COLLATE "C"), as SQLite's BINARY, whatever the database's locale). `pg::tests` check the two agree.

-- Queues and brands (docs/design.md, "Mailboxes, queues and brands"): the queue a case is in,
-- its brand (kept with the case, so reports still group it after a brand is renamed or
-- removed from the config), and the address of ours the customer wrote to, which answers
-- them. NULL for cases from before queues: they belong to the default queue.
ALTER TABLE cases ADD COLUMN queue TEXT COLLATE "C";
ALTER TABLE cases ADD COLUMN brand TEXT COLLATE "C";
ALTER TABLE cases ADD COLUMN our_address TEXT COLLATE "C";
CREATE INDEX cases_queue ON cases(queue, created_at);
