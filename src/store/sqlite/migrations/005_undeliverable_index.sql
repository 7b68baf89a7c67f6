-- The outbox asks before every round whether queued mail goes to an address that bounced
-- on its case. Driven from the few undeliverable participants, the question no longer reads
-- every pending row (a backlog of 10000 made that a scan per round).
CREATE INDEX participants_undeliverable ON participants(case_id, address) WHERE undeliverable = 1;
