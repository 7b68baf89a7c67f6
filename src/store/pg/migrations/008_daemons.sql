-- PostgreSQL twin of store/sqlite/migrations/008_daemons.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite). `pg::tests` check the two agree.

-- The daemons that ran on this database, for `mailcase status`: one row per daemon process
-- (its holder name, as in `leases`), its heartbeat and what it last did. Times are the real
-- time (UTC), whatever clock the daemon judges cases by. A row whose heartbeat stopped more
-- than a week ago is deleted by the next daemon's heartbeat.
CREATE TABLE daemons (
    holder              TEXT PRIMARY KEY,
    version             TEXT NOT NULL,
    started_at          TEXT NOT NULL,
    heartbeat_at        TEXT NOT NULL,
    stopped_at          TEXT,
    last_imap_round_at  TEXT,
    last_smtp_send_at   TEXT,
    inbox_backlog       BIGINT,
    inbox_backlog_at    TEXT,
    last_error          TEXT,
    last_error_at       TEXT
);
