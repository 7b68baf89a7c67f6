-- Queues and brands (docs/design.md, "Mailboxes, queues and brands"): the queue a case is in,
-- its brand (kept with the case, so reports still group it after a brand is renamed or
-- removed from the config), and the address of ours the customer wrote to, which answers
-- them. NULL for cases from before queues: they belong to the default queue.
ALTER TABLE cases ADD COLUMN queue TEXT;
ALTER TABLE cases ADD COLUMN brand TEXT;
ALTER TABLE cases ADD COLUMN our_address TEXT;
CREATE INDEX cases_queue ON cases(queue, created_at);
