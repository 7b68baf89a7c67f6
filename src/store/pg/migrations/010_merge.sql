-- PostgreSQL twin of store/sqlite/migrations/010_merge.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite; text compares byte for byte
-- (COLLATE "C"), as SQLite's BINARY, whatever the database's locale). `pg::tests` check the two agree.

-- Merging cases (`#merge REF`): a case merged into another is closed and names its survivor,
-- so mail to its reference, reply addresses and Message-IDs joins the survivor (threading
-- follows the link, a bounded number of steps). Its messages and participants moved to the
-- survivor in the merge's transaction; the row stays with its reference and figures.
ALTER TABLE cases ADD COLUMN merged_into BIGINT REFERENCES cases(id);
CREATE INDEX cases_merged_into ON cases(merged_into) WHERE merged_into IS NOT NULL;
-- Where a moved message came from. Moved messages stay out of the survivor's mail threads
-- (References): the survivor's customer must not get another customer's Message-IDs, and
-- each side's thread goes on from the survivor's own mail.
ALTER TABLE messages ADD COLUMN merged_from BIGINT REFERENCES cases(id);
