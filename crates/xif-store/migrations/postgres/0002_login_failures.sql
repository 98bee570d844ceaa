-- Issue 14: failed logins counted in the database, so that several nodes on it share one count
-- (N nodes must not allow N times the attempts). A key is `p:NAME\nADDRESS`, `a:ADDRESS` or
-- `n:NAME`; an attempt counts as failed from its start until its verdict; a count idle for the
-- throttle's forget time counts as zero and is deleted.
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_at BIGINT NOT NULL
);
CREATE INDEX login_failures_by_age ON login_failures (last_at);
