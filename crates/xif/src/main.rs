//! `xif`: glue between the command line and the library operations (see docs/ARCHITECTURE.md).
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;
mod cmd;
mod remote;
mod ui;
mod window;

/// Xif: build, package and publish WebAssembly extensions.
/// `xif --version`: the crate's version and the commit it was built from.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("XIF_COMMIT"), ")");

#[derive(Parser, Debug)]
#[command(name = "xif", version = VERSION, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// A PEM file of CA certificates to trust for https beside the system's (a private CA or a
    /// self-signed server); `xif login --ca-cert FILE` keeps it for that server.
    #[arg(long, global = true, env = "XIF_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
}

/// Options shared by the commands that work on an extension folder.
#[derive(clap::Args, Debug, Clone)]
pub struct ExtArgs {
    /// The extension folder (default: the current folder).
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    path: PathBuf,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a new extension folder with a working example action.
    New {
        /// The extension's name (a letter, then letters, digits or `_`).
        name: String,
        /// The folder to create it in (default: the current folder).
        #[arg(long, value_name = "DIR", default_value = ".")]
        path: PathBuf,
        /// One action (`Hello`) and nothing else, instead of the full example (three actions, a
        /// structure, an entity, a resource).
        #[arg(long)]
        minimal: bool,
    },
    /// Check the definition and the folder: every error with file:line:col and a hint.
    Verify(ExtArgs),
    /// Regenerate the WIT and Rust glue from extension.toml; write stubs for new actions.
    UpdateSource(ExtArgs),
    /// Build the extension into a WebAssembly component (skipped when nothing changed).
    Compile {
        #[command(flatten)]
        ext: ExtArgs,
        /// Build even if nothing changed.
        #[arg(long)]
        force: bool,
        /// Cargo's target folder (shared between extensions to build the standard library once).
        #[arg(long, env = "XIF_TARGET_DIR", value_name = "DIR")]
        target_dir: Option<PathBuf>,
    },
    /// Pack the extension into a deterministic .xif package.
    Save {
        #[command(flatten)]
        ext: ExtArgs,
        /// Where to write the package (default: NAME.xif in the extension folder).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Call an action locally, in the same sandbox as the server (compiles first if needed).
    Run {
        /// The action's name.
        action: String,
        /// Its input: a JSON object of its inputs (default `{}`); `@FILE` reads it from a file,
        /// `-` from stdin.
        input: Option<String>,
        /// A setting value, NAME=VALUE (repeatable); others read as their defaults.
        #[arg(long = "setting", value_name = "NAME=VALUE")]
        settings: Vec<String>,
        /// The call's time limit in milliseconds.
        #[arg(long, default_value_t = 10_000, value_name = "MS")]
        time_limit: u64,
        /// The call's memory limit in MiB.
        #[arg(long, default_value_t = 256, value_name = "MIB")]
        memory_limit: usize,
        #[command(flatten)]
        ext: ExtArgs,
        /// Cargo's target folder.
        #[arg(long, env = "XIF_TARGET_DIR", value_name = "DIR")]
        target_dir: Option<PathBuf>,
    },
    /// List a package's entries and check every digest.
    Inspect {
        /// The .xif file.
        file: PathBuf,
        /// Print machine-readable JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run the Platform Server (creates the administrator `admin` on first start; its password
    /// comes from XIF_ADMIN_PASSWORD or is generated and printed once).
    Serve(Box<ServeArgs>),
    /// Log in to a Platform Server; the token is kept in your config directory (mode 0600).
    Login {
        /// The server's address, `http://host:port` or `https://host:port`.
        url: String,
        /// The user name (asked when not given).
        #[arg(long)]
        user: Option<String>,
        /// Read the password from the first line of stdin instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Log out: end the session and forget the token (the current server, or the one named).
    Logout {
        /// The server's name or address.
        server: Option<String>,
    },
    /// The servers you are connected to: list (default), add, use, remove.
    Servers {
        #[command(subcommand)]
        action: Option<ServersCmd>,
    },
    /// 1-Click Publish: Verify → Update Source Code → Compile → Save → Upload → Publish.
    Publish(PublishArgs),
    /// Steps 1 to 5 of the 1-Click Publish: answers the version number the server gave.
    Upload(PublishArgs),
    /// Call an action of an extension on the server; prints its outputs.
    Call(CallArgs),
    /// Print an extension's log on the server (what its calls logged); --follow keeps printing
    /// new lines as they are written.
    Logs(LogsArgs),
    /// List the versions of an extension on the server.
    Versions {
        /// The extension.
        extension: String,
        #[command(flatten)]
        server: ServerArg,
        /// Print machine-readable JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Recreate an editable extension folder from a version stored on the server.
    #[command(disable_version_flag = true)]
    Download {
        /// The extension.
        extension: String,
        /// The version (default: pick from the list at a terminal, else the published one).
        #[arg(long, value_name = "N")]
        version: Option<i64>,
        /// The folder to write (default: ./EXTENSION); must be empty unless --force.
        #[arg(long)]
        path: Option<std::path::PathBuf>,
        /// Write into a non-empty folder, overwriting files of the same name.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Re-activate a stored version of an extension (no new number).
    Rollback {
        /// The extension.
        extension: String,
        /// The version to make active.
        #[arg(value_name = "VERSION")]
        number: i64,
        #[command(flatten)]
        server: ServerArg,
        /// Print machine-readable JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// A gradual rollout (started by `xif publish --gradual N`): show it (default), move it on to
    /// PERCENT of the calls (100 makes the new version active), or abort it.
    Rollout {
        /// The extension.
        extension: String,
        /// 1 to 100, or `abort`; left out: show how it goes.
        #[arg(value_name = "PERCENT|abort")]
        to: Option<String>,
        /// Move or abort only if version N is the one rolling out (as a CI job that published N
        /// would): another rollout begun meanwhile is left alone, and the command fails.
        #[arg(long, value_name = "N", requires = "to")]
        if_version: Option<i64>,
        #[command(flatten)]
        server: ServerArg,
        /// Print machine-readable JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// An extension's settings on the server: list them (default), set one, unset one. Setting
    /// them needs an administrator.
    Settings(SettingsArgs),
    /// Print a shell completion script for xif on stdout, e.g.
    /// `xif completions bash > ~/.local/share/bash-completion/completions/xif`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print xif's manual page (roff) on stdout, e.g. `xif manpage | man -l -`; with --dir,
    /// write it and one page per command (xif-publish.1, …) into DIR.
    Manpage {
        /// The folder to write the pages into (created when missing).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// API tokens for CI: create (shown once), list, revoke.
    Token {
        #[command(subcommand)]
        action: TokenCmd,
    },
    /// The server's state: import an SQLite data directory into PostgreSQL, back up, restore.
    Admin {
        #[command(subcommand)]
        action: admin::AdminCmd,
    },
}

/// `--server NAME|URL`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArg {
    /// The server to use: a name or address from `xif servers` (default: XIF_SERVER, then the
    /// current server).
    #[arg(long, value_name = "NAME|URL")]
    server: Option<String>,
}

/// `xif publish` / `xif upload`.
#[derive(clap::Args, Debug)]
pub struct PublishArgs {
    #[command(flatten)]
    ext: ExtArgs,
    /// The server to use: a name or address from `xif servers` (default: XIF_SERVER, then the
    /// current server; asked at a terminal when there is none).
    #[arg(long, value_name = "NAME|URL")]
    server: Option<String>,
    /// Cargo's target folder.
    #[arg(long, env = "XIF_TARGET_DIR", value_name = "DIR")]
    target_dir: Option<PathBuf>,
    /// At a terminal, after a stop at Verify or Compile, verify again as soon as the files change
    /// (instead of waiting for Enter).
    #[arg(long)]
    watch: bool,
    /// Publish entity changes that Verify and the server refuse because they could lose data
    /// (a narrowed length, an incompatible type, a different identifier). No stored value is
    /// changed or dropped, but records may no longer fit the new definition.
    #[arg(long)]
    force_schema: bool,
    /// Publish changes that break what callers of the active version rely on (an action, input
    /// or output removed, an input made mandatory, a type changed); without it they are refused,
    /// each listed with its place in extension.toml.
    #[arg(long)]
    allow_breaking: bool,
    /// Roll the new version out gradually: it takes PERCENT (1 to 99) of the calls while the
    /// active version keeps the rest and stays active; `xif rollout` moves it on (100 makes it
    /// active) or aborts it. Chosen per call unless --per-caller.
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(1..=99))]
    gradual: Option<u32>,
    /// With --gradual: choose the version per caller (the same user or token keeps its version
    /// as the share grows) rather than per call.
    #[arg(long, requires = "gradual")]
    per_caller: bool,
    /// With --gradual: do not let the error-rate guard abort the rollout when the new version
    /// fails clearly more often than the active one.
    #[arg(long, requires = "gradual")]
    no_guard: bool,
}

/// `xif settings EXTENSION [set NAME [VALUE] | unset NAME]`.
#[derive(clap::Args, Debug)]
pub struct SettingsArgs {
    /// The extension.
    extension: String,
    #[command(subcommand)]
    action: Option<SettingsCmd>,
    /// The server to use: a name or address from `xif servers` (default: XIF_SERVER, then the
    /// current server).
    #[arg(long, global = true, value_name = "NAME|URL")]
    server: Option<String>,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
}

/// `xif settings EXTENSION ...`.
#[derive(Subcommand, Debug)]
pub enum SettingsCmd {
    /// List the settings (the default): name, type, value or whether a secret is set.
    List,
    /// Set a setting (a secret's value is asked for, never taken on the command line).
    ///
    /// A secret's value is never taken on the command line: it is asked for without echo at a
    /// terminal, else read from the first line of stdin; so is any value left out.
    Set {
        /// The setting's name.
        name: String,
        /// Its value (not for a secret).
        value: Option<String>,
    },
    /// Unset a setting: it reads as its default again.
    Unset {
        /// The setting's name.
        name: String,
    },
}

/// `xif call`.
#[derive(clap::Args, Debug)]
pub struct CallArgs {
    /// The extension.
    extension: String,
    /// The action.
    action: String,
    /// Its input: a JSON object (default `{}`); `@FILE` reads a file, `-` stdin.
    input: Option<String>,
    #[command(flatten)]
    server: ServerArg,
    /// Print machine-readable JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// `xif logs`.
#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// The extension.
    extension: String,
    /// Keep printing new lines as they are written (reconnects when the connection drops).
    #[arg(short, long)]
    follow: bool,
    /// Only this action's lines.
    #[arg(long, value_name = "ACTION")]
    action: Option<String>,
    /// Only lines of this level or above.
    #[arg(long, value_enum, value_name = "LEVEL")]
    level: Option<LogLevel>,
    /// Only this call's lines (the X-Request-Id of its answer).
    #[arg(long, value_name = "ID")]
    call: Option<String>,
    /// How many of the newest lines to print (following: before the new ones).
    #[arg(short = 'n', long, default_value_t = 100, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1000))]
    lines: u32,
    #[command(flatten)]
    server: ServerArg,
    /// One JSON object a line on stdout.
    #[arg(long)]
    json: bool,
}

/// `xif logs --level`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// `xif servers ...`.
#[derive(Subcommand, Debug)]
pub enum ServersCmd {
    /// List the servers (`*` marks the current one).
    List {
        /// Print machine-readable JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Add a server (without logging in).
    Add {
        /// Its address.
        url: String,
        /// A short name (default: host:port).
        #[arg(long)]
        name: Option<String>,
    },
    /// Make a server the current one.
    Use {
        /// Its name or address.
        server: String,
    },
    /// Forget a server and its token.
    Remove {
        /// Its name or address.
        server: String,
    },
}

/// `xif token ...`.
#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create a token (printed once, on stdout).
    Create {
        /// A name to recognize it by (`ci-deploy`).
        name: String,
        /// Days until it expires (default 90).
        #[arg(long)]
        days: Option<u32>,
        #[command(flatten)]
        server: ServerArg,
        /// Print machine-readable JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List your tokens.
    List {
        #[command(flatten)]
        server: ServerArg,
        /// Print machine-readable JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id, or with `--all` every token and session of yours.
    Revoke {
        /// The token's id (`xif token list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// End every credential of yours: API tokens, login sessions (this one too) and
        /// Service Center sessions.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        server: ServerArg,
        /// Print machine-readable JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// `xif serve`: where the server keeps its data, where it listens, its limits.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The data directory: the database, the packages, the compiled code.
    #[arg(long, env = "XIF_DATA", value_name = "DIR", default_value = "xif-data")]
    data: PathBuf,
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, env = "XIF_LISTEN", value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// The database URL: `sqlite:PATH` (default: `xif.db` in the data directory) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (state, packages and entity tables).
    #[arg(long, env = "XIF_DATABASE_URL", value_name = "URL")]
    database: Option<String>,
    /// On PostgreSQL, how often this node compares what it serves with the database, besides
    /// following the other nodes' notifications (a missed one heals within this), in ms.
    #[arg(long, default_value_t = 5_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    reconcile_ms: u64,
    /// Largest package an upload takes, in MiB.
    #[arg(long, default_value_t = 50, value_name = "MIB")]
    package_limit: u64,
    /// Largest request body of an action call, in MiB.
    #[arg(long, default_value_t = 10, value_name = "MIB")]
    call_body_limit: usize,
    /// How long one call may run, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    call_time_limit: u64,
    /// How much memory one call may use, in MiB.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    call_memory_limit: usize,
    /// Close a connection that takes longer than this to send a request's head (or, when new,
    /// its first request), in milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    header_read_timeout: u64,
    /// Close a keep-alive connection idle for this long between requests (also the longest
    /// pause inside a request body), in milliseconds.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    idle_timeout: u64,
    /// Connections open at once (lowered to fit the open-file limit); at the cap a new
    /// connection evicts the longest idle one, or is closed at once.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    max_connections: usize,
    /// Connections open at once from one IP address (default: a quarter of --max-connections).
    #[arg(long, value_name = "N")]
    max_connections_per_address: Option<usize>,
    /// Terminate TLS: the PEM certificate chain (the server's certificate first). Needs --tls-key.
    #[arg(long, env = "XIF_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "XIF_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The address clients use when a proxy terminates TLS, `https://xif.example.com`; an
    /// https one makes the Service Center's cookies Secure.
    #[arg(long, env = "XIF_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// The key that seals secret settings in the database: a file holding 32 bytes as hex or
    /// base64 (or give the key itself in XIF_SECRET_KEY). Without either, `secret.key` in the
    /// data directory is used, generated (mode 0600) on first start. Nodes that share one
    /// database must all use the same key; keep a copy of it with your backups.
    #[arg(long, env = "XIF_SECRET_KEY_FILE", value_name = "FILE")]
    secret_key_file: Option<PathBuf>,
    /// Cheapest password hashing: for tests only.
    #[arg(long, hide = true, env = "XIF_INSECURE_FAST_PASSWORD_HASHING", value_parser = clap::builder::FalseyValueParser::new())]
    insecure_fast_password_hashing: bool,
    /// A reverse proxy whose `X-Forwarded-For` header gives the client address (an address or
    /// a CIDR network; repeat for several). Other peers' `X-Forwarded-For` is ignored.
    #[arg(long = "trusted-proxy", value_name = "ADDR_OR_CIDR")]
    trusted_proxies: Vec<xif_server::IpNet>,
    /// The longest lifetime of a new API token, in days.
    #[arg(long, default_value_t = 90, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    max_token_days: u32,
    /// How many password checks (argon2id, about 19 MiB each) may run at once (default: the
    /// number of cores, at most 4).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    max_password_checks: Option<u32>,
    /// How many uploaded or stored packages may be unpacked at once (each costs up to twice the
    /// package limit in memory); more wait.
    #[arg(long, default_value_t = 2, value_name = "N")]
    max_unpacks: usize,
    /// Memory the inputs of calls in flight may take together, in MiB (bodies being read and
    /// inputs being converted); a call waits for its share, and one that alone needs more is refused.
    #[arg(long, default_value_t = 128, value_name = "MIB")]
    call_input_memory: usize,
    /// Most calls of one extension that run at once (default: half the server's call slots).
    #[arg(long, value_name = "N")]
    calls_per_extension: Option<u32>,
    /// Most calls of one extension that wait for a slot; more are refused with 503 at once.
    #[arg(long, default_value_t = 64, value_name = "N")]
    call_queue: u32,
    /// Longest a call waits for memory or a call slot before a 503, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    call_queue_wait: u64,
    /// Most records one entity query of an extension's code may ask for.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    query_rows: u32,
    /// Largest JSON output of a call, in MiB.
    #[arg(long, default_value_t = 10, value_name = "MIB")]
    call_output_limit: usize,
    /// Failed calls kept per extension for the Service Center's log (the newest).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    failed_calls_kept: u32,
    /// How long failed calls are kept, in days.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    failed_calls_days: u64,
    /// Extension log lines kept per extension (the newest), for `xif logs` and the Service Center.
    #[arg(long, default_value_t = 10_000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    log_lines_kept: u32,
    /// `off` stops counting calls for /metrics and keeping extensions' log lines (their lines
    /// still go to the server's own log); for measuring what observing costs.
    #[arg(long, value_enum, default_value_t = OnOff::On, value_name = "ON|OFF")]
    observe: OnOff,
    /// A file whose first line is the token a Prometheus scraper sends as `Authorization: Bearer`
    /// to read /metrics (at least 16 characters; or give it in XIF_METRICS_TOKEN). Without it,
    /// only administrators' tokens may read /metrics.
    #[arg(long, env = "XIF_METRICS_TOKEN_FILE", value_name = "FILE")]
    metrics_token_file: Option<PathBuf>,
    /// How an ended call's instance is reset for the next call: `in-place` resets the pages the
    /// call wrote (found with PAGEMAP_SCAN on Linux 6.7+ without swap, else by memset);
    /// `memset` never uses PAGEMAP_SCAN; `decommit` returns all memory to the kernel after
    /// each call (slowest). Every choice gives each call a fresh instance.
    #[arg(long, value_enum, default_value_t = InstanceReset::InPlace, value_name = "HOW")]
    instance_reset: InstanceReset,
    /// How the server's own log lines are written to stderr: `text` for people, `json` for log
    /// collectors (one JSON object a line: timestamp, level, target, fields).
    #[arg(long, env = "XIF_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    log_format: LogFormat,
}

/// `xif serve --observe`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

/// `xif serve --log-format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Lines for people (colours at a terminal).
    Text,
    /// One JSON object a line.
    Json,
}

/// `xif serve --instance-reset`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum InstanceReset {
    /// Reset in place the pages a call wrote.
    InPlace,
    /// Reset in place by memset of the low pages.
    Memset,
    /// Decommit all memory after each call.
    Decommit,
}

fn main() -> ExitCode {
    // Started by cargo as the rustc wrapper of `xif compile`.
    if let Some(code) = xif_build::compile::run_as_rustc_wrapper() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = Cli::parse();
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let ui = ui::Ui::new(color);
    remote::set_ca_cert(cli.ca_cert.filter(|p| !p.as_os_str().is_empty()));
    match cmd::run(cli.command, &ui) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            ui.error(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

#[cfg(test)]
mod tests {
    /// clap's own checks of the whole command line (unique names, no clash with `--version`...),
    /// which otherwise run only when a command is first parsed.
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
