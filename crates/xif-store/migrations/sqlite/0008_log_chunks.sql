-- The extension log store in chunks: one row holds up to 256 consecutive lines of one extension,
-- as a JSON array of [version, action, level, source, at, call_id, message], with ids
-- first_id..=last_id in that extension's sequence (see crates/xif-store/src/logs.rs). A busy
-- extension's lines are then a few rows a second, not one row and index entry per line.
-- kept_from: the oldest id kept when the chunk was written (reads hide older lines).
CREATE TABLE extension_log_chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    extension_id BIGINT NOT NULL,
    first_id BIGINT NOT NULL,
    last_id BIGINT NOT NULL,
    kept_from BIGINT NOT NULL,
    lines TEXT NOT NULL
);
CREATE INDEX extension_log_chunks_by_extension ON extension_log_chunks (extension_id, last_id);
-- The lines kept so far, one chunk each, numbered per extension in their order.
INSERT INTO extension_log_chunks (extension_id, first_id, last_id, kept_from, lines)
SELECT extension_id, n, n, 1, json_array(json_array(version, action, level, source, at, call_id, message))
FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY extension_id ORDER BY id) AS n FROM extension_logs)
ORDER BY extension_id, n;
DROP TABLE extension_logs;
