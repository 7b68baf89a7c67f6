-- The language the case's customer is written to in (`de`, `ja`): detected from the complaint
-- (Content-Language, then its text) or set by an agent with `#language`. NULL for cases from
-- before languages: they are written to in `language.default`.
ALTER TABLE cases ADD COLUMN language TEXT;
