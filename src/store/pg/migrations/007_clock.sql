-- PostgreSQL twin of store/sqlite/migrations/007_clock.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite; text compares byte for byte
-- (COLLATE "C"), as SQLite's BINARY, whatever the database's locale). `pg::tests` check the two agree.

-- The clock of a daemon running on a simulated clock (`mailcase run --clock-start
-- --clock-rate`, for demos and trials), so that `cases`, `case` and `report` judge due times
-- by the time the daemon worked in, not by today's date. At most one row, rewritten as the
-- daemon runs; a daemon on the real clock deletes it.
CREATE TABLE simulated_clock (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    now          TEXT COLLATE "C" NOT NULL,   -- the simulated time when last recorded
    started_at   TEXT COLLATE "C" NOT NULL,   -- the daemon's --clock-start
    rate         DOUBLE PRECISION NOT NULL,   -- simulated seconds per real second (--clock-rate)
    recorded_at  TEXT COLLATE "C" NOT NULL    -- the real time of that recording
);
