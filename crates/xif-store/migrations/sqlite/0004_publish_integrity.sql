-- Publishing, settings and secrets (issue 12).

-- What publishing a version needs, known without reading its package: JSON of
-- db::VersionFacts ({"entities": [...], "secret_settings": [...]}), written at upload. NULL for
-- versions uploaded before this migration: the server fills it in at its next start, from the
-- stored package (publish::backfill_facts).
ALTER TABLE versions ADD COLUMN facts TEXT;

-- The value was set as a secret: it is stored sealed (secrets.rs) and never shown. Once a row is
-- secret it stays secret, whatever a later definition says.
ALTER TABLE settings ADD COLUMN secret BOOLEAN NOT NULL DEFAULT FALSE;
