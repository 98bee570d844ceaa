-- Every line an extension's calls log (host log, stdout, stderr), newest kept per extension
-- (`Db::write_logs` trims each extension to its bound after every batch).
CREATE TABLE extension_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    extension_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    action TEXT NOT NULL,
    level INTEGER NOT NULL,
    source TEXT NOT NULL,
    at BIGINT NOT NULL,
    call_id TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX extension_logs_by_extension ON extension_logs (extension_id, id);
