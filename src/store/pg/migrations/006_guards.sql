-- PostgreSQL twin of store/sqlite/migrations/006_guards.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite; text compares byte for byte
-- (COLLATE "C"), as SQLite's BINARY, whatever the database's locale). `pg::tests` check the two agree.

-- Loops and floods. A case whose conversation runs faster than people write stops
-- relaying until an admin resumes it: one row per case that was ever stopped.
CREATE TABLE loop_stops (
    case_id     BIGINT PRIMARY KEY REFERENCES cases(id),
    stopped_at  TEXT COLLATE "C",          -- NULL while the case relays (resumed)
    reason      TEXT COLLATE "C" NOT NULL,
    resumed_at  TEXT COLLATE "C",
    resumed_by  TEXT COLLATE "C"
);

-- What a new case's first message looked like, for the flood caps: the sender without its
-- +tag, the sender's domain and a key of the normalised text. Rows older than an hour are
-- only read by the caps' time bound; the retention purge deletes them with their case.
CREATE TABLE flood_keys (
    case_id     BIGINT PRIMARY KEY REFERENCES cases(id),
    sender      TEXT COLLATE "C" NOT NULL,
    domain      TEXT COLLATE "C" NOT NULL,
    text_key    TEXT COLLATE "C" NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX flood_keys_sender ON flood_keys(sender, created_at);
CREATE INDEX flood_keys_domain ON flood_keys(domain, created_at);
CREATE INDEX flood_keys_text ON flood_keys(domain, text_key, created_at);

-- The loop guard counts a case's recent messages and mail through the existing indexes on
-- case_id (a case has few rows): two more indexes on the busiest tables cost every insert.
