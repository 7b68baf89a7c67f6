-- PostgreSQL twin of store/sqlite/migrations/008_daemons.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite; text compares byte for byte
-- (COLLATE "C"), as SQLite's BINARY, whatever the database's locale). `pg::tests` check the two agree.

-- The daemons that ran on this database, for `mailcase status`: one row per daemon process
-- (its holder name, as in `leases`), its heartbeat and what it last did. Times are the real
-- time (UTC), whatever clock the daemon judges cases by. A row whose heartbeat stopped more
-- than a week ago is deleted by the next daemon's heartbeat.
CREATE TABLE daemons (
    holder              TEXT COLLATE "C" PRIMARY KEY,
    version             TEXT COLLATE "C" NOT NULL,
    started_at          TEXT COLLATE "C" NOT NULL,
    heartbeat_at        TEXT COLLATE "C" NOT NULL,
    stopped_at          TEXT COLLATE "C",
    last_imap_round_at  TEXT COLLATE "C",
    last_smtp_send_at   TEXT COLLATE "C",
    inbox_backlog       BIGINT,
    inbox_backlog_at    TEXT COLLATE "C",
    last_error          TEXT COLLATE "C",
    last_error_at       TEXT COLLATE "C"
);
