-- PostgreSQL twin of store/sqlite/migrations/014_claims.sql.

-- Outbox claims: which daemon took a row to send, and until when. Daemons sharing one
-- PostgreSQL database claim due rows (FOR UPDATE SKIP LOCKED) so that no row is sent by two
-- of them; a claim lapses at `claimed_until`, so a dead daemon's rows go to another. The
-- SQLite engine, run by one daemon per file, records none: the columns keep the two schemas
-- alike, so `mailcase migrate` copies one into the other column for column.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN claimed_until TEXT COLLATE "C";

