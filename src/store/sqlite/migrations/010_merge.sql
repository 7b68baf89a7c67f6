-- Merging cases (`#merge REF`): a case merged into another is closed and names its survivor,
-- so mail to its reference, reply addresses and Message-IDs joins the survivor (threading
-- follows the link, a bounded number of steps). Its messages and participants moved to the
-- survivor in the merge's transaction; the row stays with its reference and figures.
ALTER TABLE cases ADD COLUMN merged_into INTEGER REFERENCES cases(id);
CREATE INDEX cases_merged_into ON cases(merged_into) WHERE merged_into IS NOT NULL;
