-- A gradual rollout: see migrations/sqlite/0011_rollouts.sql.
ALTER TABLE extensions
    ADD COLUMN rollout_version BIGINT,
    ADD COLUMN rollout_percent BIGINT,
    ADD COLUMN rollout_per_caller BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN rollout_guard BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN rollout_started_at BIGINT,
    ADD COLUMN rollout_started_by TEXT;

-- The publish log also records rollouts: kind 'rollout', outcomes 'rolling_out' and 'aborted'.
ALTER TABLE publishes DROP CONSTRAINT IF EXISTS publishes_kind_check;
ALTER TABLE publishes DROP CONSTRAINT IF EXISTS publishes_outcome_check;
ALTER TABLE publishes ADD CONSTRAINT publishes_kind_check CHECK (kind IN ('publish', 'rollback', 'rollout'));
ALTER TABLE publishes ADD CONSTRAINT publishes_outcome_check
    CHECK (outcome IN ('published', 'failed', 'rolling_out', 'aborted'));
