-- How a complaint reached us: `email` (the customer wrote), `forward` (an agent forwarded the
-- customer's mail to their intake address) or `logged` (an agent logged a phone or counter
-- complaint with `#log`), and the agent who did (their address; NULL for `email`).
ALTER TABLE cases ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
ALTER TABLE cases ADD COLUMN logged_by TEXT;
