-- Tokens that read GET /metrics and nothing else, made by administrators (their own table, so no
-- check of an API token can ever accept one). One stops working when it expires, is revoked, or
-- its maker is no longer an administrator.
CREATE TABLE scrape_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
