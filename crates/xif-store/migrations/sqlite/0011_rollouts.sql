-- A gradual rollout: while `rollout_version` is set, that version takes `rollout_percent` of the
-- extension's calls and `active_version` the rest (chosen per call, or per caller when
-- `rollout_per_caller` is 1); `rollout_guard` 1 lets the error-rate guard abort it. Reaching 100%
-- makes it the active version and clears these; an abort clears them.
ALTER TABLE extensions ADD COLUMN rollout_version INTEGER;
ALTER TABLE extensions ADD COLUMN rollout_percent INTEGER;
ALTER TABLE extensions ADD COLUMN rollout_per_caller INTEGER NOT NULL DEFAULT 0;
ALTER TABLE extensions ADD COLUMN rollout_guard INTEGER NOT NULL DEFAULT 0;
ALTER TABLE extensions ADD COLUMN rollout_started_at BIGINT;
ALTER TABLE extensions ADD COLUMN rollout_started_by TEXT;

-- The publish log also records rollouts: kind 'rollout' (moved on, reached 100%, aborted) and the
-- outcomes 'rolling_out' and 'aborted'. SQLite cannot change a CHECK, so the table is rebuilt.
CREATE TABLE publishes_new (
    id INTEGER PRIMARY KEY,
    extension TEXT NOT NULL,
    extension_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('publish', 'rollback', 'rollout')),
    user_name TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ms BIGINT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('published', 'failed', 'rolling_out', 'aborted')),
    message TEXT,
    stages TEXT NOT NULL,
    warnings TEXT NOT NULL
);
INSERT INTO publishes_new (id, extension, extension_key, version, digest, kind, user_name, started_at, ms, outcome,
                           message, stages, warnings)
    SELECT id, extension, extension_key, version, digest, kind, user_name, started_at, ms, outcome, message, stages,
           warnings
    FROM publishes;
DROP TABLE publishes;
ALTER TABLE publishes_new RENAME TO publishes;
CREATE INDEX publishes_by_extension ON publishes (extension_key, id);
