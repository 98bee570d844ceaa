//! What a server is started with: where its data lives, where it listens, its limits.
use std::net::{IpAddr, SocketAddr};
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
    /// `postgres://` URLs let several nodes share one database.
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
    /// Peers whose `X-Forwarded-For` header is believed (reverse proxies in front of this
    /// server). Empty: the client address is always the TCP peer's (`xif serve --trusted-proxy`).
    pub trusted_proxies: Vec<IpNet>,
    /// How many password checks (argon2id, about 19 MiB each) may run at once; more wait up to
    /// [`Config::password_check_wait`] for a free slot, then get a 503.
    pub max_password_checks: usize,
    /// How long a login waits for a free password-check slot before a 503.
    pub password_check_wait: Duration,
    /// The longest lifetime an API token may be created with (`xif serve --max-token-days`);
    /// a request for more is refused with a 400 naming this maximum.
    pub max_token_lifetime: Duration,
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
    /// How many packages may be unpacked (read with the hardened reader) at once, by uploads and
    /// publishes together; more wait. Each costs up to the reader's limit of uncompressed bytes
    /// (`xif_package::Limits`), so this bounds the memory packages can take. Default 2.
    pub max_unpacks: usize,
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
    /// On PostgreSQL, how often a node compares what it serves (active versions, settings,
    /// cached principals) with the database, besides following the other nodes' notifications
    /// (`xif serve --reconcile-ms`): a notification that was missed heals within this. Default
    /// 5 s.
    pub reconcile_interval: Duration,
    /// Count calls for `/metrics` and keep extensions' log lines in the log store (default on;
    /// `xif serve --observe off` turns both off, for the benchmark that measures their cost).
    pub observe: bool,
    /// The scrape token of `GET /metrics` besides administrators' bearer tokens (`xif serve
    /// --metrics-token-file`, `XIF_METRICS_TOKEN`): at least 16 characters.
    pub metrics_token: Option<String>,
    /// How often this node adds what it counted to the calls per minute in the database (the
    /// Service Center's charts); default 10 s.
    pub minutes_flush_interval: Duration,
    /// At a stop, how much longer than the longest call (its time limit and its wait for a
    /// slot) a connection may take to finish its answer before it is closed; default 10 s.
    pub drain_grace: Duration,
}

/// The PEM files of a server that terminates TLS itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// See [`Config::publish_stage_hook`]: given the extension and the stage's name, returns what the
/// publish waits for before running that stage.
pub type StageHook = std::sync::Arc<
    dyn Fn(&str, &str) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> + Send + Sync,
>;

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
            trusted_proxies: Vec::new(),
            max_password_checks: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4),
            password_check_wait: Duration::from_secs(10),
            max_token_lifetime: Duration::from_secs(90 * 86_400),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_address: None,
            tls: None,
            public_url: None,
            max_unpacks: 2,
            secret_key_file: None,
            secret_key: None,
            publish_stage_hook: None,
            reconcile_interval: Duration::from_secs(5),
            observe: true,
            metrics_token: None,
            minutes_flush_interval: Duration::from_secs(10),
            drain_grace: Duration::from_secs(10),
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
            .field("trusted_proxies", &self.trusted_proxies)
            .field("max_password_checks", &self.max_password_checks)
            .field("password_check_wait", &self.password_check_wait)
            .field("max_token_lifetime", &self.max_token_lifetime)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_address", &self.max_connections_per_address)
            .field("tls", &self.tls)
            .field("public_url", &self.public_url)
            .field("max_unpacks", &self.max_unpacks)
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
    /// How an ended call's instance slot is reset for the next call (default in place).
    pub reset: xif_runtime::Reset,
    /// Extension log lines kept per extension in the log store (newest kept; default 10 000).
    pub log_lines_kept: u32,
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
            reset: runtime.reset,
            log_lines_kept: 10_000,
        }
    }
}

/// Failed logins (DESIGN.md, Permissions). They are counted per (user name, client address):
/// the first `free_failures` of a pair cost nothing; each further one doubles the wait before
/// the pair's next attempt is even checked, from `first_wait` up to `max_wait`. An attempt is
/// counted *before* its password is checked, so parallel attempts cannot overtake the count.
/// One address is also limited over every name (`free_failures_per_address`, same doubling).
/// Failures of one name over every address beyond `name_ceiling` only delay each attempt for
/// that name by `name_delay`: they never lock the account out. A successful login clears its
/// pair; counts idle for `forget_after` are forgotten, and at most `max_entries` counts are
/// kept (the oldest idle ones are dropped first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Failures of one (user name, address) pair that are not slowed down.
    pub free_failures: u32,
    /// Failures from one IP address (any name) that are not slowed down.
    pub free_failures_per_address: u32,
    /// The wait after the first failure beyond the free ones.
    pub first_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
    /// Failures of one user name (any address) after which its attempts are delayed.
    pub name_ceiling: u32,
    /// The delay of each attempt for a name past its ceiling (a slow-down, never a refusal).
    pub name_delay: Duration,
    /// A count with no attempt for this long is forgotten.
    pub forget_after: Duration,
    /// The most counts kept in memory.
    pub max_entries: usize,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            free_failures: 5,
            free_failures_per_address: 20,
            first_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(300),
            name_ceiling: 100,
            name_delay: Duration::from_secs(1),
            forget_after: Duration::from_secs(3600),
            max_entries: 100_000,
        }
    }
}

/// An IP address or a network in CIDR notation (`10.0.0.1`, `10.0.0.0/8`, `fd00::/8`): a
/// trusted proxy of [`Config::trusted_proxies`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as IPv4; others as they are.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<IpNet, String> {
        let bad = || format!("{s:?} is not an IP address or a CIDR network (like 10.0.0.1, 10.0.0.0/8 or fd00::/8)");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::IpNet;

    #[test]
    fn networks_contain_their_addresses() {
        let net: IpNet = "10.1.0.0/16".parse().expect("a network");
        assert!(net.contains("10.1.2.3".parse().expect("ip")));
        assert!(!net.contains("10.2.0.1".parse().expect("ip")));
        assert!(net.contains("::ffff:10.1.0.9".parse().expect("ip")), "IPv4-mapped");
        let one: IpNet = "127.0.0.1".parse().expect("an address");
        assert!(one.contains("127.0.0.1".parse().expect("ip")));
        assert!(!one.contains("127.0.0.2".parse().expect("ip")));
        let all: IpNet = "0.0.0.0/0".parse().expect("every address");
        assert!(all.contains("192.0.2.1".parse().expect("ip")));
        let v6: IpNet = "fd00::/8".parse().expect("v6");
        assert!(v6.contains("fd12::1".parse().expect("ip")));
        assert!(!v6.contains("10.0.0.1".parse().expect("ip")));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("example.com".parse::<IpNet>().is_err());
    }
}
