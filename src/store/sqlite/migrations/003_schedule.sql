-- mailcase schema v3: time as data (docs/design.md, invariant 5).
-- Every deadline is a timer row written in the same transaction as the case change that
-- creates it. `target_at` is when the rule says it falls due; `due_at` is when the scheduler
-- will act (later than target_at when customer mail waits for the send window). A timer is
-- fired or cancelled exactly once; the scheduler reads only active rows.

CREATE TABLE timers (
    id            INTEGER PRIMARY KEY,
    case_id       INTEGER NOT NULL REFERENCES cases(id),
    kind          TEXT NOT NULL,
    target_at     TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    fired_at      TEXT,
    cancelled_at  TEXT,
    outcome       TEXT
);
CREATE UNIQUE INDEX timers_active ON timers(case_id, kind) WHERE fired_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX timers_due ON timers(due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX timers_case ON timers(case_id, kind, id);

ALTER TABLE cases ADD COLUMN resolution_due TEXT;
-- When the SLA clock was paused (waiting on the customer); NULL while it runs.
ALTER TABLE cases ADD COLUMN sla_paused_at TEXT;
-- Last public message to the customer (acknowledgment, answer, update): status updates are
-- due an interval after it.
ALTER TABLE cases ADD COLUMN last_public_at TEXT;
ALTER TABLE cases ADD COLUMN follow_up_sent_at TEXT;
ALTER TABLE cases ADD COLUMN feedback_sent_at TEXT;
ALTER TABLE cases ADD COLUMN closed_at TEXT;

-- One rating per case counts (the last); every rating is also in the audit log.
CREATE TABLE ratings (
    case_id     INTEGER PRIMARY KEY REFERENCES cases(id),
    rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment     TEXT,
    at          TEXT NOT NULL,
    message_id  INTEGER REFERENCES messages(id)
);

UPDATE cases SET last_public_at = created_at WHERE last_public_at IS NULL;
