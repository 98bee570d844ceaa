-- How long calls took, per minute, for the Service Center's p50/p99 charts: every node adds, at
-- each flush, how many of its calls fell in each bucket of its duration histogram (bucket: the
-- index into the server's bucket bounds, `metrics::BUCKETS`, the last one past them all).
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
