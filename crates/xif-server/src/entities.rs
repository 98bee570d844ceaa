//! Entity records as the runtime and the record routes reach them: [`Store`] wraps one
//! version's view of its extension's records, `xif_store::Store` (where the tables, their SQL
//! and the per-engine encoding of values live, see `xif-store/src/entities.rs`), and implements
//! the runtime's [`EntityStore`] over it.
use std::sync::Arc;
use std::time::Instant;

use xif_model::Value;
use xif_runtime::{Comparison, EntityStore, Query, StoreFuture};

/// The records of one extension's entities, as one version of it sees them.
#[derive(Debug)]
pub struct Store(pub xif_store::Store);

impl std::ops::Deref for Store {
    type Target = xif_store::Store;
    fn deref(&self) -> &xif_store::Store {
        &self.0
    }
}

fn record_route_deadline() -> Instant {
    Instant::now() + xif_store::RECORD_ROUTE_TIME
}

fn query(q: Query) -> xif_store::Query {
    xif_store::Query {
        filters: q
            .filters
            .into_iter()
            .map(|f| xif_store::Filter {
                attribute: f.attribute,
                comparison: match f.comparison {
                    Comparison::Equal => xif_store::Comparison::Equal,
                    Comparison::NotEqual => xif_store::Comparison::NotEqual,
                    Comparison::Less => xif_store::Comparison::Less,
                    Comparison::LessOrEqual => xif_store::Comparison::LessOrEqual,
                    Comparison::Greater => xif_store::Comparison::Greater,
                    Comparison::GreaterOrEqual => xif_store::Comparison::GreaterOrEqual,
                    Comparison::Contains => xif_store::Comparison::Contains,
                },
                value: f.value,
            })
            .collect(),
        order_by: q.order_by,
        offset: q.offset,
        limit: q.limit,
    }
}

impl Store {
    /// Stores a new record (a record route: bounded by its own time).
    pub async fn create_record(&self, entity: &str, values: Vec<Value>) -> Result<Vec<Value>, String> {
        self.0.create_before(entity, values, record_route_deadline()).await
    }

    /// The record with this identifier.
    pub async fn get_record(&self, entity: &str, id: Value) -> Result<Option<Vec<Value>>, String> {
        self.0.get_before(entity, id, record_route_deadline()).await
    }

    /// Replaces the record with the same identifier.
    pub async fn update_record(&self, entity: &str, values: Vec<Value>) -> Result<bool, String> {
        self.0.update_before(entity, values, record_route_deadline()).await
    }

    /// Deletes the record with this identifier.
    pub async fn delete_record(&self, entity: &str, id: Value) -> Result<bool, String> {
        self.0.delete_before(entity, id, record_route_deadline()).await
    }

    /// The records that match, one page (comparisons and order exact for every type).
    pub async fn query_records(&self, entity: &str, q: Query) -> Result<Vec<Vec<Value>>, String> {
        self.0.query_before(entity, query(q), record_route_deadline()).await
    }
}

/// Pauses the server here when the environment variable `XIF_FAILPOINT` is `NAME:pause` (a test
/// switch): writes `failpoint-NAME` into the data directory, then waits forever, so that a test
/// can kill the process at this exact point.
pub async fn failpoint(name: &str, data_dir: &std::path::Path) {
    let Ok(wanted) = std::env::var("XIF_FAILPOINT") else { return };
    if wanted != format!("{name}:pause") {
        return;
    }
    let marker = data_dir.join(format!("failpoint-{name}"));
    if let Err(e) = std::fs::write(&marker, std::process::id().to_string()) {
        tracing::error!(error = %e, "could not write the failpoint marker {}", marker.display());
    }
    tracing::warn!("failpoint {name}: paused (XIF_FAILPOINT)");
    std::future::pending::<()>().await;
}

impl EntityStore for Store {
    fn create<'a>(&'a self, entity: &'a str, record: Vec<Value>, deadline: Instant) -> StoreFuture<'a, Vec<Value>> {
        Box::pin(self.0.create_before(entity, record, deadline))
    }
    fn get<'a>(&'a self, entity: &'a str, id: Value, deadline: Instant) -> StoreFuture<'a, Option<Vec<Value>>> {
        Box::pin(self.0.get_before(entity, id, deadline))
    }
    fn update<'a>(&'a self, entity: &'a str, record: Vec<Value>, deadline: Instant) -> StoreFuture<'a, bool> {
        Box::pin(self.0.update_before(entity, record, deadline))
    }
    fn delete<'a>(&'a self, entity: &'a str, id: Value, deadline: Instant) -> StoreFuture<'a, bool> {
        Box::pin(self.0.delete_before(entity, id, deadline))
    }
    fn query<'a>(&'a self, entity: &'a str, query: Query, deadline: Instant) -> StoreFuture<'a, Vec<Vec<Value>>> {
        Box::pin(self.0.query_before(entity, self::query(query), deadline))
    }
}

/// The store of a version as the runtime takes it.
pub fn access(store: &Arc<Store>) -> xif_runtime::EntityAccess {
    store.clone()
}
