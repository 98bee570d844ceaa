-- The Platform Server's state. Portable SQL: it runs on SQLite and PostgreSQL alike (ids are
-- integer primary keys, times are milliseconds since the Unix epoch, JSON is stored as text).

-- People and machines that log in.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    -- The name in lower case: names are unique case-insensitively.
    name_key TEXT NOT NULL UNIQUE,
    -- argon2id, PHC string.
    password_hash TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

-- Granted permissions, by their names in DESIGN.md ("Allow Extensions", ...).
CREATE TABLE permissions (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, permission)
);

-- Bearer tokens: a login's session token or a named API token. Only the SHA-256 is kept.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('session', 'api')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX tokens_by_user ON tokens (user_id);

-- Extensions, with the version that serves calls.
CREATE TABLE extensions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    active_version INTEGER,
    -- The highest number ever given, so a deleted version's number is never reused.
    last_version INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    activated_at BIGINT
);

-- Uploaded packages, numbered 1, 2, 3... per extension; the file is packages/<digest>.xif.
CREATE TABLE versions (
    extension_id INTEGER NOT NULL REFERENCES extensions (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    description TEXT NOT NULL,
    toolchain TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (extension_id, number),
    UNIQUE (extension_id, digest)
);

-- Every publish and rollback, successful or not. Keyed by name, so it outlives the extension.
CREATE TABLE publishes (
    id INTEGER PRIMARY KEY,
    extension TEXT NOT NULL,
    extension_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('publish', 'rollback')),
    user_name TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ms BIGINT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('published', 'failed')),
    message TEXT,
    -- JSON array of {"step","status","ms","message"}.
    stages TEXT NOT NULL,
    -- JSON array of strings.
    warnings TEXT NOT NULL
);
CREATE INDEX publishes_by_extension ON publishes (extension_key, id);

-- Extension settings an administrator set (the definition gives the others their defaults).
CREATE TABLE settings (
    extension_key TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (extension_key, name)
);
