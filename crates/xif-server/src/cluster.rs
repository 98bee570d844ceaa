//! Several nodes on one PostgreSQL: what one node changes, every node follows.
//!
//! A node that changes what calls see (activates, rolls back or deletes an extension, changes
//! its settings) or what credentials mean (revokes a token, resets a password, changes a user or
//! their permissions) commits the change, then [`announce`]s it with `NOTIFY`. Every node runs
//! [`spawn`]'s task, which `LISTEN`s and applies each change by reading the database again (the
//! notification says what changed, never what it now is), so a late or repeated notification is
//! harmless. Every [`Config::reconcile_interval`](crate::Config) (and whenever the listening
//! connection was lost) the task compares the whole of what it serves with the database, so a
//! missed notification heals by itself.
//!
//! Applying a change to one extension takes the node's own lock of that extension (the one a
//! local publish holds), so the node never activates an older version over a newer one it has
//! just published itself. A digest this node has not compiled yet is compiled when the change
//! arrives (and cached, in the data directory).
//!
//! **Architecture Invariant:** the database is the truth; the registry and the auth cache are
//! caches of it that may lag by one notification (or one reconcile interval), never diverge.
//! On SQLite there is one node and no listener.
use std::time::Duration;

use std::sync::Arc;

use crate::error::AppError;
use crate::publish;
use crate::registry::{Live, ServedKey, Split, one_line};
use crate::state::AppState;

/// What changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// The active version of an extension (published, rolled back, deleted).
    Extension(String),
    /// The settings of an extension.
    Settings(String),
    /// Tokens, users or permissions.
    Auth,
    /// Extension log lines were written (followers read the store again).
    Logs,
}

impl Change {
    /// `NODE KIND [NAME]`.
    fn payload(&self, node: &str) -> String {
        match self {
            Change::Extension(name) => format!("{node} extension {name}"),
            Change::Settings(name) => format!("{node} settings {name}"),
            Change::Auth => format!("{node} auth"),
            Change::Logs => format!("{node} logs"),
        }
    }

    /// The sending node and the change (`None`: not one of ours).
    fn parse(payload: &str) -> Option<(&str, Change)> {
        let mut parts = payload.splitn(3, ' ');
        let node = parts.next()?;
        let change = match (parts.next()?, parts.next()) {
            ("extension", Some(name)) if !name.is_empty() => Change::Extension(name.to_string()),
            ("settings", Some(name)) if !name.is_empty() => Change::Settings(name.to_string()),
            ("auth", None) => Change::Auth,
            ("logs", None) => Change::Logs,
            _ => return None,
        };
        Some((node, change))
    }
}

/// Tells the other nodes about a committed change (nothing on SQLite). A notification that
/// cannot be sent is logged: the other nodes' reconcile picks the change up.
pub(crate) async fn announce(state: &AppState, change: Change) {
    if let Err(e) = state.db.notify(&change.payload(&state.node)).await {
        tracing::warn!(
            error = %one_line(&e.to_string()),
            ?change,
            "could not notify the other nodes; they pick the change up at their next reconcile"
        );
    }
}

/// Tokens, users or permissions changed here: forgets this node's cached principals and tells
/// the others to forget theirs.
pub(crate) async fn auth_changed(state: &AppState) {
    state.auth_cache.clear();
    announce(state, Change::Auth).await;
}

/// Whether this node can serve writes: its database answers within 2 s.
pub(crate) async fn ready(state: &AppState) -> Result<(), AppError> {
    if state.database_lost.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(AppError::Unavailable(
            "not ready: the connection to the database is lost (the node reconnects by itself)".into(),
        ));
    }
    match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            // The route answers anyone: the database's own words go to the server's log only.
            tracing::warn!(error = %one_line(&e.to_string()), "not ready: the database cannot be reached");
            Err(AppError::Unavailable("not ready: the database cannot be reached (the server's log says why)".into()))
        }
        Err(_) => Err(AppError::Unavailable("not ready: the database did not answer within 2 s".into())),
    }
}

/// Starts following the other nodes (PostgreSQL): listens until `stop` turns true. On SQLite
/// there is nothing to follow and no task.
pub(crate) async fn spawn(
    state: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>, AppError> {
    let Some(mut listener) = state.db.listen().await? else { return Ok(None) };
    let every = state.config.reconcile_interval;
    // The listening connection is read by a task of its own, so that a reconcile never holds
    // it up and its reads are never cancelled half-way.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader_state = state.clone();
    let reader = tokio::spawn(async move {
        let (db, lost) = (&reader_state.db, &reader_state.database_lost);
        loop {
            let event = match listener.recv().await {
                Ok(xif_store::Received::Message(payload)) => Some(payload),
                lost_or_error => {
                    lost.store(true, std::sync::atomic::Ordering::SeqCst);
                    let why = match lost_or_error {
                        Err(e) => one_line(&e.to_string()).into_owned(),
                        _ => "the connection was lost".to_string(),
                    };
                    tracing::warn!(error = %why, "cannot listen for other nodes' changes; retrying every 500 ms");
                    // A listener on a new connection; then what was missed is read again.
                    loop {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        if let Ok(Some(fresh)) = db.listen().await {
                            listener = fresh;
                            break;
                        }
                    }
                    lost.store(false, std::sync::atomic::Ordering::SeqCst);
                    tracing::info!("listening for other nodes' changes again: reading the state again");
                    None
                }
            };
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    Ok(Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stopped(&mut stop) => break,
                _ = tick.tick() => reconcile(&state).await,
                event = rx.recv() => match event {
                    Some(Some(payload)) => apply(&state, &payload),
                    Some(None) => {
                        // Revocations may have been missed: every principal is checked again.
                        state.auth_cache.clear();
                        reconcile(&state).await;
                    }
                    None => break,
                },
            }
        }
        reader.abort();
    })))
}

/// Completes once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Applies one notification (another node's; this node's own are already applied).
fn apply(state: &AppState, payload: &str) {
    let Some((node, change)) = Change::parse(payload) else {
        tracing::warn!(payload = %one_line(payload), "ignored a notification that is not one of Xif's");
        return;
    };
    if node == state.node {
        return;
    }
    match change {
        Change::Auth => state.auth_cache.clear(),
        Change::Logs => {
            if let Some(logs) = &state.logs {
                logs.written_elsewhere();
            }
        }
        Change::Extension(name) => {
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = refresh_extension(&state, &name).await {
                    tracing::error!(extension = %one_line(&name), error = %one_line(&e.to_string()), "cannot follow the change of another node");
                }
            });
        }
        Change::Settings(name) => {
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = reload_settings(&state, &name).await {
                    tracing::error!(extension = %one_line(&name), error = %one_line(&e.to_string()), "cannot read the changed settings");
                }
            });
        }
    }
}

/// Serves what the database says is the active version of `name` (loading, compiling when this
/// node has not, or removing it), and its settings.
pub(crate) async fn refresh_extension(state: &AppState, name: &str) -> Result<(), AppError> {
    let lock = state.registry.lock_for(name);
    let _local = lock.lock().await;
    follow(state, name, "serves a version activated on another node").await
}

/// What the database says a node serves for an extension (see [`ServedKey`]).
fn wanted(ext: &xif_store::ExtensionRow) -> Option<ServedKey> {
    let rollout = ext.rollout().map(|r| (r.version, r.started_at, r.percent, r.per_caller, r.guard));
    ext.active_version.map(|n| (ext.id, n, rollout))
}

/// [`refresh_extension`] for a caller that holds this node's lock of the extension: serves the
/// database's active version of `name` and, while a rollout runs, its version beside it at its
/// share (versions already loaded are kept, and so are the rollout's counts while it goes on).
/// A change is logged with `said`.
pub(crate) async fn follow(state: &AppState, name: &str, said: &str) -> Result<(), AppError> {
    let serving = state.registry.served(name);
    let ext = state.db.extension(name).await?;
    match ext.as_ref().and_then(|e| wanted(e).map(|w| (e, w))) {
        None => {
            if serving.is_some() {
                state.registry.remove(name);
                tracing::info!(extension = %one_line(name), "no longer served: changed on another node");
            }
        }
        Some((_, want)) if serving == Some(want) => {}
        Some((ext, (_, number, _))) => {
            let active = loaded(state, ext, number).await?;
            let split = match ext.rollout() {
                None => None,
                // A rolling version that cannot be loaded leaves the active one serving every
                // call here, rather than neither; the reconcile tries again, waiting longer after
                // each failure.
                // (A version this node has in memory already is reused, whatever failed before.)
                Some(r)
                    if !state.registry.may_load((ext.id, r.version)) && in_memory(state, ext, r.version).is_none() =>
                {
                    None
                }
                Some(r) => match loaded(state, ext, r.version).await {
                    Err(e) => {
                        let retry_in = state.registry.load_failed((ext.id, r.version));
                        tracing::error!(extension = %ext.name, version = r.version, error = %one_line(&e.to_string()), ?retry_in,
                            "cannot load the version rolling out: the active version takes every call on this node");
                        None
                    }
                    Ok(live) => {
                        state.registry.load_succeeded((ext.id, r.version));
                        let counts = state
                            .registry
                            .rollout(&ext.name)
                            .filter(|s| {
                                s.live.extension_id == ext.id
                                    && s.live.version == r.version
                                    && s.started_at == r.started_at
                            })
                            .map(|s| s.counts.clone())
                            .unwrap_or_default();
                        Some(Split::new(live, number, r.started_at, (r.percent, r.per_caller, r.guard), counts))
                    }
                },
            };
            if split.is_none() && serving == Some((ext.id, number, None)) {
                // The rolling version is not loaded (yet): nothing changes here.
                return read_settings(state, name).await;
            }
            let rolling = split.as_ref().map(|s| (s.live.version, s.percent));
            state.registry.serve(active, split);
            tracing::info!(extension = %ext.name, version = number, rollout = ?rolling, was = ?serving.map(|s| s.1), "{said}");
        }
    }
    if ext.is_some() {
        read_settings(state, name).await?;
    }
    Ok(())
}

/// Version `number` of `ext` as this node has it loaded (active or rolling out), or loaded now.
async fn loaded(state: &AppState, ext: &xif_store::ExtensionRow, number: i64) -> Result<Arc<Live>, AppError> {
    match in_memory(state, ext, number) {
        Some(live) => Ok(live),
        None => Ok(state.registry.prepare(publish::load_version(state, &ext.name, ext.id, number).await?)),
    }
}

/// Version `number` of `ext` as this node serves it now (active or rolling out), if it does.
fn in_memory(state: &AppState, ext: &xif_store::ExtensionRow, number: i64) -> Option<Arc<Live>> {
    let is = |l: &Arc<Live>| l.extension_id == ext.id && l.version == number;
    state
        .registry
        .get(&ext.name)
        .filter(is)
        .or_else(|| state.registry.rollout(&ext.name).filter(|s| is(&s.live)).map(|s| s.live.clone()))
}

/// Reads one extension's settings again under this node's lock of the extension, so that an
/// older read never lands after a newer one.
async fn reload_settings(state: &AppState, name: &str) -> Result<(), AppError> {
    let lock = state.registry.lock_for(name);
    let _local = lock.lock().await;
    read_settings(state, name).await
}

/// [`reload_settings`] for a caller that holds the extension's lock already.
pub(crate) async fn read_settings(state: &AppState, name: &str) -> Result<(), AppError> {
    let rows = state.db.settings_of(name).await?;
    state.registry.set_settings(name, publish::settings_from_rows(state, rows));
    Ok(())
}

/// Compares everything this node serves with the database and follows it: the active
/// versions, every extension's settings; cached principals are checked again on their next use.
async fn reconcile(state: &AppState) {
    let extensions = match state.db.extensions().await {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!(error = %one_line(&e.to_string()), "reconcile: the database is not reachable");
            return;
        }
    };
    state.auth_cache.expire_all();
    let mut known = std::collections::HashSet::new();
    for ext in &extensions {
        known.insert(crate::db::key(&ext.name));
        let result = if state.registry.served(&ext.name) != wanted(ext) {
            refresh_extension(state, &ext.name).await
        } else {
            reload_settings(state, &ext.name).await
        };
        if let Err(e) = result {
            tracing::error!(extension = %ext.name, error = %one_line(&e.to_string()), "reconcile: cannot follow the database");
        }
    }
    for name in state.registry.names() {
        if !known.contains(&crate::db::key(&name)) {
            let lock = state.registry.lock_for(&name);
            let _local = lock.lock().await;
            if matches!(state.db.extension(&name).await, Ok(None)) {
                state.registry.remove(&name);
                tracing::info!(extension = %one_line(&name), "no longer served: deleted on another node");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn payloads_read_back_as_what_was_sent() {
        for change in
            [Change::Extension("Greetings".into()), Change::Settings("A B".into()), Change::Auth, Change::Logs]
        {
            let payload = change.payload("n1");
            assert_eq!(Change::parse(&payload), Some(("n1", change)), "{payload}");
        }
        assert_eq!(Change::parse("n1 extension"), None);
        assert_eq!(Change::parse("n1 auth extra"), None);
        assert_eq!(Change::parse("garbage"), None);
    }
}
