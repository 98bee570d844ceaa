-- Entity tables (issue 7). Each row describes the table of one entity of one extension: its
-- records live in the table `xe<id>_<generation>` with columns `c1`, `c2`... (no user name ever
-- reaches SQL); `schema` is the JSON of xif_model::schema::EntitySchema (attributes, their
-- columns, types, limits, defaults, hidden ones). Rows outlive the extension's versions: schemas
-- only grow, and records are never dropped by a publish or rollback.
CREATE TABLE entity_tables (
    id INTEGER PRIMARY KEY,
    extension_key TEXT NOT NULL,
    -- The entity's name in lower case, as last published.
    entity_key TEXT NOT NULL,
    schema TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (extension_key, entity_key)
);
