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
    /// The file holding the key that seals secret settings at rest (`xif serve
    /// --secret-key-file`): 32 bytes as hex or base64. `None` (and no [`Config::secret_key`])
    /// uses `secret.key` in the data directory, generated (mode 0600) on first start. Every node
    /// sharing one database must use the same key.
    pub secret_key_file: Option<PathBuf>,
    /// The key that seals secret settings, as hex or base64 of 32 bytes (`XIF_SECRET_KEY`);
    /// give this or [`Config::secret_key_file`], not both.
    pub secret_key: Option<String>,
    /// Awaited at the start of each publish stage with (extension, stage), when set. **Tests
    /// only**: it lets a test hold a publish (and its extension's lock) at a stage.
    pub publish_stage_hook: Option<StageHook>,
}

/// See [`Config::publish_stage_hook`]: given the extension and the stage's name, returns what the
/// publish waits for before running that stage.
pub type StageHook = std::sync::Arc<
    dyn Fn(&str, &str) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> + Send + Sync,
>;

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
            secret_key_file: None,
            secret_key: None,
            publish_stage_hook: None,
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
            .field("secret_key_file", &self.secret_key_file)
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
