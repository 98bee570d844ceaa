-- Calls per minute: see migrations/sqlite/0007_call_minutes.sql.
CREATE TABLE call_minutes (
    extension_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    action TEXT NOT NULL,
    minute BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    calls BIGINT NOT NULL,
    micros BIGINT NOT NULL,
    PRIMARY KEY (extension_id, version, action, minute, outcome)
);
CREATE INDEX call_minutes_by_minute ON call_minutes (minute);
