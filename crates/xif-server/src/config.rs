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
    /// How long a client may take to send a request's head (and a new connection its first
    /// request) before the connection is closed (`--header-read-timeout`).
    pub header_read_timeout: Duration,
    /// How long a keep-alive connection may stay open between requests, and the longest pause
    /// inside a request body (`--idle-timeout`).
    pub idle_timeout: Duration,
    /// Connections open at once (`--max-connections`); lowered at start when the open-file
    /// limit leaves no room for it. At the cap a new connection evicts the longest idle one, or
    /// is closed at once when none is idle.
    pub max_connections: usize,
    /// Connections open at once from one IP address (`--max-connections-per-address`); `None`
    /// is a quarter of `max_connections`.
    pub max_connections_per_address: Option<usize>,
    /// Terminate TLS with this certificate chain and key (`--tls-cert`, `--tls-key`); session
    /// cookies are then `Secure`.
    pub tls: Option<TlsFiles>,
    /// The address clients use, when the server runs behind a proxy (`--public-url`); an
    /// `https://` one makes the Service Center's cookies `Secure`.
    pub public_url: Option<String>,
}

/// The PEM files of a server that terminates TLS itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Config {
    /// Whether the Service Center's cookies are `Secure`: the server terminates TLS, or its
    /// public URL is `https://`.
    pub fn serves_https(&self) -> bool {
        self.tls.is_some()
            || self
                .public_url
                .as_deref()
                .is_some_and(|u| u.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")))
    }

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
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_address: None,
            tls: None,
            public_url: None,
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
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_address", &self.max_connections_per_address)
            .field("tls", &self.tls)
            .field("public_url", &self.public_url)
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
