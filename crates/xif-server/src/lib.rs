//! The Xif Platform Server: stores every version of every extension, publishes one of them, and
//! runs its actions over HTTP (`/api/v1`, described by `GET /api/v1/openapi.json`).
//!
//! ```no_run
//! # async fn run() -> Result<(), xif_server::ServerError> {
//! let mut config = xif_server::Config::new("/var/lib/xif");
//! config.listen = "127.0.0.1:8080".parse().expect("an address");
//! let server = xif_server::start(config).await?;
//! if let Some(password) = &server.admin_password {
//!     println!("administrator `admin`, password {password}");
//! }
//! server.shutdown().await; // drains calls in flight
//! # Ok(()) }
//! ```
//!
//! The parts: [`config`] (what it is started with), `db` (sqlx, the only SQL), `files`
//! (content-addressed packages and native code), `auth` (passwords, tokens, permissions),
//! `registry` (the live version of each extension), `publish` (the stages of a publish), `api`
//! (the axum router and the OpenAPI document), `console` (the Service Center web console under `/`).
//!
//! **Architecture Invariant:** a request never waits on another extension's work: calls run on
//! the runtime's async support (a runaway guest yields every epoch tick and is stopped at its
//! limit), compiling runs on the blocking pool, and only publishes of one extension are
//! serialized.
#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod config;
pub mod console;
pub mod db;
pub mod entities;
pub mod error;
pub mod files;
pub mod publish;
pub mod registry;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

pub use auth::Permission;
pub use config::{Backoff, Config, Limits};
pub use error::{AppError, ServerError};
pub use xif_runtime::LogHook;

use crate::auth::{AuthCache, LoginThrottle, Passwords};
use crate::db::Db;
use crate::files::Files;
use crate::registry::Registry;
use crate::state::{AppState, Inner};

/// A server that is running; [`RunningServer::shutdown`] stops it.
pub struct RunningServer {
    /// The address it listens on (the real port when the configuration asked for port 0).
    pub addr: SocketAddr,
    /// The password of `admin` when this start created it with a generated password: shown
    /// once, never stored in clear.
    pub admin_password: Option<String>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    state: AppState,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The base URL, `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets the requests in flight finish (calls end within their
    /// time limit), then closes the database.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.wait().await;
    }

    /// Waits until the server has stopped (after [`RunningServer::shutdown`] or a signal
    /// passed to [`start_with_signal`]).
    pub async fn wait(self) {
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the server stopped with an error"),
            Err(e) => tracing::error!(error = %e, "the server task failed"),
        }
        self.state.db.close().await;
        tracing::info!("stopped");
    }
}

/// Starts a server: opens (creating) the data directory and database, creates `admin` on
/// first start, loads the active version of every extension, and listens.
pub async fn start(config: Config) -> Result<RunningServer, ServerError> {
    start_with_signal(config, std::future::pending()).await
}

/// [`start`], and shut down (draining) when `signal` completes, e.g. on Ctrl-C.
pub async fn start_with_signal(
    config: Config,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<RunningServer, ServerError> {
    let data = &config.data_dir;
    std::fs::create_dir_all(data).map_err(|source| ServerError::DataDir { path: data.clone(), source })?;
    let files = Files::open(data).map_err(|source| ServerError::DataDir { path: data.clone(), source })?;
    let url = match &config.database_url {
        Some(url) if url.starts_with("sqlite:") => url.clone(),
        Some(url) => {
            return Err(ServerError::Config(format!(
                "the database URL {:?} is not supported: this server stores its state in SQLite (`sqlite:PATH`); PostgreSQL is not built yet",
                url.split('@').next_back().unwrap_or_default()
            )));
        }
        None => format!("sqlite://{}", data.join("xif.db").display()),
    };
    let db = Db::open(&url).await?;
    let runtime = xif_runtime::Runtime::new(xif_runtime::Limits {
        call_time: config.limits.call_time,
        call_memory: config.limits.call_memory,
        max_instances: config.limits.max_instances,
        slot_wait: config.limits.call_queue_wait,
        query_rows: config.limits.query_rows,
        output_bytes: config.limits.call_output_bytes,
    })?;
    let passwords = Arc::new(Passwords::new(config.insecure_fast_password_hashing).map_err(ServerError::Internal)?);
    if config.insecure_fast_password_hashing {
        tracing::warn!("password hashing uses the cheapest argon2id parameters: for tests only");
    }
    let call_memory = crate::registry::InputBudget::new(config.limits.call_input_memory);
    let state = AppState(Arc::new(Inner {
        throttle: LoginThrottle::new(config.login_backoff),
        config,
        db,
        files,
        runtime,
        registry: Registry::default(),
        call_memory,
        auth_cache: AuthCache::default(),
        passwords,
    }));
    let admin_password = first_start(&state).await?;
    publish::load_active(&state).await.map_err(|e| ServerError::Internal(e.to_string()))?;

    let addr = state.config.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServerError::Listen { addr, source })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Listen { addr, source })?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let app = api::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = stopped.wait_for(|s| *s) => {}
                    _ = signal => {}
                }
                tracing::info!("shutting down: no new connections; draining requests in flight");
            })
            .await
    });
    tracing::info!(%addr, extensions = state.registry.len(), "listening");
    Ok(RunningServer { addr, admin_password, stop, task, state })
}

/// Creates the administrator `admin` when there is no user; returns the generated password.
async fn first_start(state: &AppState) -> Result<Option<String>, ServerError> {
    let internal = |e: AppError| ServerError::Internal(format!("creating the administrator: {e}"));
    if state.db.user_count().await.map_err(internal)? > 0 {
        return Ok(None);
    }
    let (password, generated) = match &state.config.admin_password {
        Some(p) if !p.is_empty() => (p.clone(), false),
        _ => (auth::random_secret(18).map_err(ServerError::Internal)?, true),
    };
    let hash = state.passwords.hash(password.clone()).await.map_err(internal)?;
    state.db.create_user("admin", &hash, true).await.map_err(internal)?;
    tracing::info!("created the administrator `admin`");
    Ok(generated.then_some(password))
}

/// Every (method, path) the router serves (for the test that the OpenAPI document lists them).
pub fn served_routes() -> Vec<(String, String)> {
    api::served_routes()
}

/// Completes on Ctrl-C, or on SIGTERM on Unix (what `xif serve` shuts down on).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
