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
//! The parts (private; this crate exposes [`start`], [`Config`] and its parts, [`RunningServer`]
//! and the error types): `ops` (every operation, as a plain function over the calling
//! [`Principal`]: the core), `api` (the axum router and the OpenAPI document) and `console`
//! (the Service Center web console under `/`), the two front ends over `ops`, with `http` (what
//! they answer alike); `db` (the `xif-store` crate: all SQL, on SQLite or PostgreSQL), `files` (content-addressed packages and native
//! code), `auth` (passwords, tokens, permissions), `registry` (the live version of each
//! extension), `publish` (the stages of a publish).
//!
//! **Architecture Invariant:** a request never waits on another extension's work: calls run on
//! the runtime's async support (a runaway guest yields every epoch tick and is stopped at its
//! limit), compiling runs on the blocking pool, and only publishes of one extension are
//! serialized.
#![deny(missing_docs)]

mod api;
mod auth;
mod changes;
mod cluster;
mod config;
mod console;
/// The storage crate, under the name the server's modules know it by.
use xif_store as db;
mod entities;
mod error;
mod files;
mod http;
mod listen;
mod logs;
mod metrics;
mod ops;
mod publish;
mod registry;
mod secrets;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

pub use auth::Permission;
pub use config::{Backoff, Config, IpNet, Limits, TlsFiles};
pub use error::{AppError, ServerError};
pub use ops::{Error as OpError, Principal};
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
    /// The task following the other nodes (PostgreSQL).
    follower: Option<tokio::task::JoinHandle<()>>,
    /// The log writer and the minute flusher: awaited at the end, so their last writes land.
    background: Vec<tokio::task::JoinHandle<()>>,
    state: AppState,
    tls: bool,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The base URL, `http://ADDR` (`https://ADDR` when it terminates TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
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
        if let Some(follower) = self.follower {
            let _ = self.stop.send(true);
            let _ = follower.await;
        }
        // No call runs now: the queued log lines and the last counts are written, within a bound.
        self.state.closing.send_replace(true);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        for mut task in self.background {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
                tracing::warn!("the last log lines or call counts were not written within 10 s");
            }
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
    // The transport first: a bad certificate or URL is a clear error before anything is created.
    let tls = match &config.tls {
        Some(files) => Some(listen::tls_acceptor(&files.cert, &files.key)?),
        None => None,
    };
    if let Some(url) = &config.public_url {
        let scheme_ok =
            ["http://", "https://"].iter().any(|p| url.get(..p.len()).is_some_and(|s| s.eq_ignore_ascii_case(p)));
        if !scheme_ok || url.len() <= "https://".len() {
            return Err(ServerError::Config(format!(
                "the public URL {url:?} is not an http:// or https:// address (for example https://xif.example.com)"
            )));
        }
    }
    if let Some(token) = &config.metrics_token
        && (token.chars().count() < 16 || token.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(ServerError::Config(
            "the metrics scrape token must be at least 16 characters, without spaces (for example `openssl rand -hex 16`)"
                .into(),
        ));
    }
    let data = &config.data_dir;
    std::fs::create_dir_all(data).map_err(|source| ServerError::DataDir { path: data.clone(), source })?;
    let mut files =
        Files::open(data, config.max_unpacks).map_err(|source| ServerError::DataDir { path: data.clone(), source })?;
    let url = match &config.database_url {
        Some(url) if xif_store::Engine::of_url(url).is_some() => url.clone(),
        Some(url) => {
            return Err(ServerError::Config(format!(
                "the database URL {:?} is not supported: use `sqlite:PATH` or `postgres://USER@HOST/DATABASE`",
                url.split('@').next_back().unwrap_or_default()
            )));
        }
        None => format!("sqlite://{}", data.join("xif.db").display()),
    };
    let db = Db::open(&url).await.map_err(|e| ServerError::Database {
        url: url.split('@').next_back().unwrap_or_default().to_string(),
        message: e.to_string(),
    })?;
    if db.stores_packages() {
        files.keep_packages_in(db.clone());
    }
    // The key that seals secret settings (read or generated before anything reads a setting).
    let secrets = secrets::open(&config)?;
    tracing::info!(key = secrets.key_id(), source = %secrets.source, "secret settings sealed at rest");
    let runtime = xif_runtime::Runtime::new(xif_runtime::Limits {
        call_time: config.limits.call_time,
        call_memory: config.limits.call_memory,
        max_instances: config.limits.max_instances,
        slot_wait: config.limits.call_queue_wait,
        query_rows: config.limits.query_rows,
        output_bytes: config.limits.call_output_bytes,
        reset: config.limits.reset,
    })?;
    tracing::info!(target: "xif_server::reset", reset = %runtime.reset_in_effect().as_str(), "call instances reset");
    if xif_runtime::STUB_SANDBOX {
        tracing::warn!(
            "this build runs no extension code (feature stub-sandbox): calls answer their outputs' defaults; for benchmarks only"
        );
    }
    let passwords = Arc::new(
        Passwords::new(config.insecure_fast_password_hashing, config.max_password_checks, config.password_check_wait)
            .map_err(ServerError::Internal)?,
    );
    if config.insecure_fast_password_hashing {
        tracing::warn!("password hashing uses the cheapest argon2id parameters: for tests only");
    }
    let call_memory = crate::registry::InputBudget::new(config.limits.call_input_memory);
    let (logs, log_rx) = if config.observe {
        let (logs, rx) = logs::Logs::new();
        (Some(logs), Some(rx))
    } else {
        (None, None)
    };
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
        secrets,
        node: auth::random_secret(6).map_err(ServerError::Internal)?,
        database_lost: std::sync::atomic::AtomicBool::new(false),
        bench_observe_switch: std::env::var("XIF_BENCH_OBSERVE_SWITCH").as_deref() == Ok("1"),
        logs,
        stopping: tokio::sync::watch::channel(false).0,
        closing: tokio::sync::watch::channel(false).0,
    }));
    if state.bench_observe_switch {
        tracing::warn!(
            "XIF_BENCH_OBSERVE_SWITCH: a call with `xif-bench-observe: off` is neither counted nor its log kept; for benchmarks only"
        );
    }
    let mut background = Vec::new();
    if let Some(rx) = log_rx {
        background.push(logs::spawn_writer(&state, rx));
        background.push(metrics::spawn_flusher(&state));
    }
    let admin_password = first_start(&state).await?;
    publish::load_active(&state).await.map_err(|e| ServerError::Internal(e.to_string()))?;

    let addr = state.config.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServerError::Listen { addr, source })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Listen { addr, source })?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    // Several nodes on one PostgreSQL: follow the others' changes.
    let follower = cluster::spawn(state.clone(), stop.subscribe())
        .await
        .map_err(|e| ServerError::Internal(format!("cannot listen for other nodes' changes: {e}")))?;
    let options = listen_options(&state.config, tls);
    let tls = options.tls.is_some();
    tracing::info!(
        max_connections = options.max_connections,
        per_address = options.max_connections_per_address,
        header_read_timeout_ms = options.header_read_timeout.as_millis() as u64,
        idle_timeout_ms = options.idle_timeout.as_millis() as u64,
        tls,
        "connection limits"
    );
    let app = api::router(state.clone());
    let stopping = state.clone();
    let task = tokio::spawn(listen::serve(listener, app, options, async move {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => {}
            _ = signal => {}
        }
        // Followed logs end, so that the drain waits only for requests that end by themselves.
        stopping.stopping.send_replace(true);
    }));
    tracing::info!(%addr, extensions = state.registry.len(), node = %state.node, "listening");
    Ok(RunningServer { addr, admin_password, stop, task, follower, background, state, tls })
}

/// The accept loop's options from the configuration: raises the open-file limit and fits the
/// connection cap under it.
fn listen_options(config: &Config, tls: Option<tokio_rustls::TlsAcceptor>) -> listen::Options {
    let fd_limit = listen::raise_fd_limit();
    let max_connections = listen::fit_connection_cap(config.max_connections, fd_limit);
    if max_connections < config.max_connections {
        tracing::warn!(
            wanted = config.max_connections,
            max_connections,
            open_file_limit = fd_limit,
            "the connection cap is lowered to fit under the open-file limit (raise `ulimit -n` for more)"
        );
    }
    let per_address = config.max_connections_per_address.unwrap_or(max_connections / 4).clamp(1, max_connections);
    listen::Options {
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
        max_connections,
        max_connections_per_address: per_address,
        // Trusted proxies carry many clients: the per-address cap does not apply to them.
        exempt: {
            let proxies = config.trusted_proxies.clone();
            Arc::new(move |ip| proxies.iter().any(|net| net.contains(ip)))
        },
        tls,
        // Calls end within their time limit (and wait for a slot at most the queue wait).
        drain_timeout: config.limits.call_time + config.limits.call_queue_wait + config.drain_grace,
    }
}

/// Creates the administrator `admin` when there is no user; returns the generated password.
async fn first_start(state: &AppState) -> Result<Option<String>, ServerError> {
    let internal = |e: AppError| ServerError::Internal(format!("creating the administrator: {e}"));
    if state.db.user_count().await.map_err(|e| internal(e.into()))? > 0 {
        return Ok(None);
    }
    let (password, generated) = match &state.config.admin_password {
        Some(p) if !p.is_empty() => (p.clone(), false),
        _ => (auth::random_secret(18).map_err(ServerError::Internal)?, true),
    };
    let hash = state.passwords.hash(password.clone()).await.map_err(internal)?;
    match state.db.create_user("admin", &hash, true).await {
        Ok(_) => {}
        // Another node sharing the database created it first.
        Err(crate::db::Error::Conflict(_)) => return Ok(None),
        Err(e) => return Err(internal(e.into())),
    }
    tracing::info!("created the administrator `admin`");
    Ok(generated.then_some(password))
}

/// Every (method, path) the router serves (for the test that the OpenAPI document lists them).
pub fn served_routes() -> Vec<(String, String)> {
    api::served_routes()
}

/// Completes on Ctrl-C, or on SIGTERM on Unix (what `xif serve` shuts down on). Call it within a
/// Tokio runtime: the handlers are installed when it is called, not when the future is first
/// polled, so a signal sent as soon as the server says it listens is never missed (it once was,
/// under load, and the default action killed the process).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let term = async {
                match term {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => {
                        if tokio::signal::ctrl_c().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                }
            };
            tokio::select! {
                _ = int => {}
                _ = term => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
