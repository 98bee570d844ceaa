//! What a server is started with: where its data lives, where it listens, its limits.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How the server runs. [`Config::new`] gives the defaults of DESIGN.md.
#[derive(Clone)]
pub struct Config {
    /// The data directory: `xif.db`, `packages/`, `cache/` (created when missing).
    pub data_dir: PathBuf,
    /// The address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The database URL; `None` is the SQLite database `xif.db` in the data directory.
    /// Only `sqlite:` URLs are supported so far.
    pub database_url: Option<String>,
    /// The limits of uploads and calls.
    pub limits: Limits,
    /// The password of the administrator `admin` created on first start (`XIF_ADMIN_PASSWORD`);
    /// `None` generates one, returned once in [`RunningServer::admin_password`](crate::RunningServer).
    pub admin_password: Option<String>,
    /// How long a login's session token is valid.
    pub session_lifetime: Duration,
    /// When failed logins start to be refused for a while.
    pub login_backoff: Backoff,
    /// Argon2id with the cheapest parameters. **Tests only**: it makes stored password hashes
    /// easy to brute-force.
    pub insecure_fast_password_hashing: bool,
    /// Consulted on every host log line of every call (see [`xif_runtime::LogHook`]). **Tests
    /// only**: it lets a test hold a call inside an action.
    pub call_log_hook: Option<xif_runtime::LogHook>,
}

impl Config {
    /// The defaults: data in `data_dir`, listening on `127.0.0.1:8080`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            limits: Limits::default(),
            admin_password: None,
            session_lifetime: Duration::from_secs(12 * 3600),
            login_backoff: Backoff::default(),
            insecure_fast_password_hashing: false,
            call_log_hook: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &self.database_url)
            .field("limits", &self.limits)
            .field("session_lifetime", &self.session_lifetime)
            .field("login_backoff", &self.login_backoff)
            .field("insecure_fast_password_hashing", &self.insecure_fast_password_hashing)
            .finish_non_exhaustive()
    }
}

/// Limits of uploads and calls (DESIGN.md: package 50 MB, call body 10 MB, call time 10 s,
/// call memory 256 MB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest `.xif` accepted by an upload, in bytes.
    pub package_bytes: u64,
    /// Largest request body of an action call, in bytes.
    pub call_body_bytes: usize,
    /// How long one call may run.
    pub call_time: Duration,
    /// How much memory one call may use, in bytes.
    pub call_memory: usize,
    /// How many calls may run at once; more wait for a free slot.
    pub max_instances: u32,
    /// Memory that the inputs of calls in flight may take together, in bytes (default 128 MiB):
    /// a call's body is weighed by its `Content-Length` before it is read, its conversion by the
    /// input's shape before anything is built; a call waits (up to `call_queue_wait`) for its
    /// share, then gets a 503. One input that alone needs more is a 413.
    pub call_input_memory: usize,
    /// Most calls of one extension that run at once (default half of `max_instances`), so one
    /// extension's slow calls never take every slot.
    pub calls_per_extension: u32,
    /// Most calls of one extension that wait for a slot (default 64); more get a 503 at once.
    pub call_queue_per_extension: u32,
    /// Longest a call waits for memory or a call slot before a 503 with `Retry-After` (default 10 s).
    pub call_queue_wait: Duration,
    /// Most records one entity query of an extension's code may ask for (default 1000).
    pub query_rows: u32,
    /// Largest JSON output of a call, in bytes (default 10 MiB, as the call body).
    pub call_output_bytes: usize,
    /// Failed calls kept for the Service Center's log, per extension (newest kept; default 1000).
    pub failed_calls_kept: u32,
    /// How long failed calls are kept (default 7 days).
    pub failed_calls_max_age: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        let runtime = xif_runtime::Limits::default();
        Limits {
            package_bytes: 50 << 20,
            call_body_bytes: 10 << 20,
            call_time: runtime.call_time,
            call_memory: runtime.call_memory,
            max_instances: runtime.max_instances,
            call_input_memory: 128 << 20,
            calls_per_extension: runtime.max_instances.div_ceil(2),
            call_queue_per_extension: 64,
            call_queue_wait: runtime.slot_wait,
            query_rows: runtime.query_rows,
            call_output_bytes: runtime.output_bytes,
            failed_calls_kept: 1000,
            failed_calls_max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Failed logins: the first `free_failures` for a user (or `free_failures_per_address` from
/// one address) cost nothing; each further one doubles the wait before the next attempt is
/// even checked, from `first_wait` up to `max_wait`. A successful login clears the count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Failures of one user name that are not slowed down.
    pub free_failures: u32,
    /// Failures from one IP address that are not slowed down.
    pub free_failures_per_address: u32,
    /// The wait after the first failure beyond the free ones.
    pub first_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            free_failures: 5,
            free_failures_per_address: 20,
            first_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(300),
        }
    }
}
