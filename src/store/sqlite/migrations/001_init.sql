-- mailcase schema v1: cases, participants, messages (raw kept), audit log, outbox,
-- quarantine, and the fetcher lease. Times are UTC text `YYYY-MM-DDTHH:MM:SS.ffffffZ`
-- so they sort and compare as strings.

CREATE TABLE cases (
    id                  INTEGER PRIMARY KEY,
    reference           TEXT NOT NULL UNIQUE,
    status              TEXT NOT NULL,
    category            TEXT NOT NULL,
    priority            TEXT NOT NULL,
    subject             TEXT NOT NULL,
    customer_address    TEXT NOT NULL,
    customer_name       TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    first_response_due  TEXT,
    linked_case_id      INTEGER REFERENCES cases(id)
);
CREATE INDEX cases_customer ON cases(customer_address);
CREATE INDEX cases_status ON cases(status);

CREATE TABLE participants (
    case_id        INTEGER NOT NULL REFERENCES cases(id),
    address        TEXT NOT NULL,
    name           TEXT,
    role           TEXT NOT NULL,
    undeliverable  INTEGER NOT NULL DEFAULT 0,
    added_at       TEXT NOT NULL,
    PRIMARY KEY (case_id, address)
);
CREATE INDEX participants_address ON participants(address);

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    case_id          INTEGER REFERENCES cases(id),
    source_mailbox   TEXT,
    uidvalidity      INTEGER,
    uid              INTEGER,
    dedupe_id        TEXT NOT NULL,
    message_id       TEXT,
    content_hash     TEXT NOT NULL,
    from_address     TEXT,
    from_name        TEXT,
    reply_address    TEXT,
    subject          TEXT NOT NULL,
    sent_date        TEXT,
    received_at      TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    attachments      TEXT NOT NULL,
    robot            TEXT,
    robot_reason     TEXT,
    outcome          TEXT NOT NULL,
    raw              BLOB,
    raw_size         INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_uid ON messages(source_mailbox, uidvalidity, uid) WHERE uid IS NOT NULL;
CREATE UNIQUE INDEX messages_dedupe ON messages(dedupe_id);
CREATE INDEX messages_hash ON messages(content_hash);
CREATE INDEX messages_message_id ON messages(message_id);
CREATE INDEX messages_case ON messages(case_id);

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    case_id  INTEGER REFERENCES cases(id),
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    event    TEXT NOT NULL,
    detail   TEXT NOT NULL
);
CREATE INDEX audit_case ON audit(case_id);

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    case_id          INTEGER REFERENCES cases(id),
    kind             TEXT NOT NULL,
    automatic        INTEGER NOT NULL,
    message_id       TEXT NOT NULL UNIQUE,
    envelope_from    TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             BLOB NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox(recipient, kind, created_at);
CREATE INDEX outbox_case ON outbox(case_id);
CREATE INDEX outbox_sent ON outbox(automatic, sent_at);

CREATE TABLE quarantine (
    id              INTEGER PRIMARY KEY,
    source_mailbox  TEXT,
    uidvalidity     INTEGER,
    uid             INTEGER,
    reason          TEXT NOT NULL,
    size            INTEGER NOT NULL,
    raw             BLOB,
    at              TEXT NOT NULL
);
CREATE UNIQUE INDEX quarantine_uid ON quarantine(source_mailbox, uidvalidity, uid) WHERE uid IS NOT NULL;

CREATE TABLE mailbox_state (
    mailbox      TEXT PRIMARY KEY,
    uidvalidity  INTEGER NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
