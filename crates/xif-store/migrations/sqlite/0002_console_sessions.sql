-- The Service Center (the web console): browser sessions and the log of failed action calls.

-- A browser session: the cookie holds a random secret, only its SHA-256 is kept. It is not a
-- bearer token (the API never reads this table): the cookie never authorizes the JSON API.
CREATE TABLE console_sessions (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    -- The CSRF token every form and script request of this session carries.
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- A one-time message for the next page ("Rolled back to version 2").
    flash TEXT
);
CREATE INDEX console_sessions_by_user ON console_sessions (user_id);

-- Action calls that failed (bad input, the action's error, a trap, a timeout...), newest last.
CREATE TABLE action_errors (
    id INTEGER PRIMARY KEY,
    extension TEXT NOT NULL,
    version INTEGER NOT NULL,
    action TEXT NOT NULL,
    user_name TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
