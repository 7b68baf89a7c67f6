-- PostgreSQL twin of store/sqlite/migrations/012_language.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite; text compares byte for byte
-- (COLLATE "C"), as SQLite's BINARY, whatever the database's locale). `pg::tests` check the two agree.

-- The language the case's customer is written to in (`de`, `ja`): detected from the complaint
-- (Content-Language, then its text) or set by an agent with `#language`. NULL for cases from
-- before languages: they are written to in `language.default`.
ALTER TABLE cases ADD COLUMN language TEXT COLLATE "C";
