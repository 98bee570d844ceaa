-- How long calls took, per minute: see migrations/sqlite/0009_call_durations.sql.
CREATE TABLE call_durations (
    extension_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    action TEXT NOT NULL,
    minute BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    calls BIGINT NOT NULL,
    PRIMARY KEY (extension_id, version, action, minute, bucket)
);
CREATE INDEX call_durations_by_minute ON call_durations (minute);
