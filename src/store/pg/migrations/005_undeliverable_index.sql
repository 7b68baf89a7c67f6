-- PostgreSQL twin of store/sqlite/migrations/005_undeliverable_index.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite; text compares byte for byte
-- (COLLATE "C"), as SQLite's BINARY, whatever the database's locale). `pg::tests` check the two agree.

-- The outbox asks before every round whether queued mail goes to an address that bounced
-- on its case. Driven from the few undeliverable participants, the question no longer reads
-- every pending row (a backlog of 10000 made that a scan per round).
CREATE INDEX participants_undeliverable ON participants(case_id, address) WHERE undeliverable = 1;
