-- PostgreSQL twin of store/sqlite/migrations/004_records.sql: the same tables, columns, indexes and
-- constraints (INTEGER is BIGINT, BLOB is BYTEA, REAL is DOUBLE PRECISION, a rowid key is an
-- identity column; times stay RFC 3339 text, as in SQLite; text compares byte for byte
-- (COLLATE "C"), as SQLite's BINARY, whatever the database's locale). `pg::tests` check the two agree.

-- mailcase schema v4: records management and reporting.
-- A purged or erased case keeps its row with the figures reports need (category, priority,
-- times, SLA outcome, rating score) and loses everything that identifies a person.

-- Legal hold: a case on hold is never purged, whatever the retention policy says.
ALTER TABLE cases ADD COLUMN legal_hold TEXT COLLATE "C";
ALTER TABLE cases ADD COLUMN legal_hold_at TEXT COLLATE "C";
-- First escalation, kept as a fact on the case so reports survive purging the audit detail.
ALTER TABLE cases ADD COLUMN escalated_at TEXT COLLATE "C";
-- When retention removed the case's personal data (messages, addresses, subject, text).
ALTER TABLE cases ADD COLUMN purged_at TEXT COLLATE "C";
-- When a data-protection request erased the customer's personal data from the case.
ALTER TABLE cases ADD COLUMN erased_at TEXT COLLATE "C";

UPDATE cases SET escalated_at = (
    SELECT MIN(at) FROM audit
    WHERE audit.case_id = cases.id AND event = 'status' AND detail LIKE '%"to":"escalated"%'
);

-- Management digests sent, one row per scheduled slot, so a slot is sent exactly once.
CREATE TABLE digests (
    slot         TEXT COLLATE "C" PRIMARY KEY,
    period_from  TEXT COLLATE "C" NOT NULL,
    period_to    TEXT COLLATE "C" NOT NULL,
    created_at   TEXT COLLATE "C" NOT NULL,
    outbox_id    BIGINT REFERENCES outbox(id)
);

-- Periodic housekeeping (the daily purge): when it last ran and what it did.
CREATE TABLE maintenance (
    name         TEXT COLLATE "C" PRIMARY KEY,
    last_run_at  TEXT COLLATE "C" NOT NULL,
    detail       TEXT COLLATE "C" NOT NULL
);
