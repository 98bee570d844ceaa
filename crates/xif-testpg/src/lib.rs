//! Tests only: a private PostgreSQL for the tests of one process, and a fresh database per test.
//!
//! [`database`] starts the process's one instance on first use (`initdb` into a temporary folder,
//! `postgres` on a free loopback port with its socket in that folder) and creates a database in
//! it; each call gives another database, so tests never see each other's tables. The instance is
//! never one that was already running on the machine.
//!
//! The binaries are the newest `/usr/lib/postgresql/*/bin` (or `XIF_TEST_PG_BIN`); when there are
//! none, the tests panic and say that `scripts/setup.sh` installs them: a test meant for
//! PostgreSQL never passes without it.
//!
//! Run as root (CI), `initdb` and `postgres` run as the `postgres` user in a folder it owns.
//!
//! **When the test process ends**, however it ends (a panic, `exit`, SIGKILL), the instance goes
//! with it and its folder is removed: `postgres` is spawned with `PR_SET_PDEATHSIG` (SIGQUIT, an
//! immediate shutdown) from a thread that lives as long as the process, and a small watchdog
//! shell, left behind by the test process, waits for that process to be gone, stops whatever is
//! still running in the folder and removes it. Static values are never dropped, so the watchdog
//! is what cleans up after a normal end too.
//!
//! [`Postgres::stop`] and [`Postgres::start_again`] stop the server under running clients and bring
//! it back on the same port with the same data; a test that does that should use its own
//! instance ([`Postgres::start`]) rather than the shared one.
use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the server may take to accept connections after it was started.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// The process's shared instance, started by the first call that needs it.
static SHARED: OnceLock<Postgres> = OnceLock::new();

/// The process's instance (started on first use).
pub fn shared() -> &'static Postgres {
    SHARED.get_or_init(|| Postgres::start_inner(false))
}

/// A fresh, empty database in the process's instance: its URL,
/// `postgres://postgres@127.0.0.1:PORT/NAME`. `name_hint` (a test's name, say) becomes part of the
/// database's name, to find it in the server's log.
pub fn database(name_hint: &str) -> String {
    shared().database(name_hint)
}

/// The folder of the PostgreSQL binaries the tests use (`pg_dump`, `pg_restore`, `psql`...).
/// Panics, saying how to install them, when there are none.
pub fn bin_dir() -> PathBuf {
    find_bin_dir().unwrap_or_else(|message| panic!("{message}"))
}

/// A PostgreSQL server of the tests.
pub struct Postgres {
    /// The temporary folder: `data/` (the cluster), `postgres.log`; the socket lies in it.
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Who runs `postgres`: the `postgres` user when we are root.
    user: Option<(u32, u32)>,
    /// The running postmaster, if any.
    running: Mutex<Option<Child>>,
    /// Numbers the databases made by [`Postgres::database`].
    databases: AtomicU64,
    /// Removed on drop (a private instance); the shared one is cleaned up by its watchdog.
    remove_on_drop: bool,
}

impl Postgres {
    /// A private instance, for a test that stops and restarts its server. It stops and its folder
    /// is removed when it is dropped (and, like the shared one, when the process ends).
    pub fn start() -> Postgres {
        Postgres::start_inner(true)
    }

    fn start_inner(remove_on_drop: bool) -> Postgres {
        let bin = bin_dir();
        let user = postgres_user();
        let dir = tempfile::Builder::new()
            .prefix("xif-testpg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("xif-testpg: a temporary folder: {e}"))
            .keep();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("xif-testpg: chown {} to postgres: {e}", dir.display()));
        }
        watchdog(&dir);
        let data = dir.join("data");
        let mut initdb = match user {
            Some(_) => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bin.join("initdb"));
                c
            }
            None => Command::new(bin.join("initdb")),
        };
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"])
            .current_dir(&dir);
        let out = initdb.output().unwrap_or_else(|e| panic!("xif-testpg: running {initdb:?}: {e}"));
        if !out.status.success() {
            panic!(
                "xif-testpg: initdb failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut last_error = String::new();
        // A free port may be taken between our look and the server's bind: try a few.
        for _ in 0..5 {
            let port = free_port();
            let pg = Postgres {
                dir: dir.clone(),
                bin: bin.clone(),
                port,
                user,
                running: Mutex::new(None),
                databases: AtomicU64::new(0),
                remove_on_drop,
            };
            match pg.launch() {
                Ok(()) => return pg,
                Err(e) => {
                    last_error = e;
                    // Not dropped: the folder is reused by the next try.
                    std::mem::forget(pg);
                }
            }
        }
        panic!("xif-testpg: PostgreSQL did not start: {last_error}");
    }

    /// Starts the postmaster and waits until it accepts connections.
    fn launch(&self) -> Result<(), String> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.is_some() {
            return Ok(());
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("{}: {e}", self.log_path().display()))?;
        let mut cmd = Command::new(self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=300"])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            // Its own process group: a Ctrl-C at the terminal reaches the tests, not it.
            .process_group(0);
        if let Some((uid, gid)) = self.user {
            // Not `runuser`: a change of user clears the parent-death signal, so `postgres` itself
            // must be the process that sets it, after the change (std runs `pre_exec` last).
            cmd.uid(uid).gid(gid);
        }
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = spawn_from_lasting_thread(cmd)?;
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("postgres exited ({status}); its log:\n{}", self.log()));
            }
            if self.psql("postgres", "SELECT 1").is_ok() {
                *running = Some(child);
                return Ok(());
            }
            if started.elapsed() > READY_WITHIN {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "postgres did not accept connections within {} s; its log:\n{}",
                    READY_WITHIN.as_secs(),
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A fresh, empty database: its URL. See [`database`].
    pub fn database(&self, name_hint: &str) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let mut name: String = name_hint
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
            .take(40)
            .collect();
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            name.insert_str(0, "db_");
        }
        let name = format!("{name}_{n}");
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("xif-testpg: creating the database {name}: {e}"));
        self.url(&name)
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The loopback TCP port it listens on (the same after [`Postgres::start_again`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder of its Unix socket (`.s.PGSQL.PORT`).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The folder of the binaries it runs (`pg_dump`, `pg_restore`, `psql`...).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// Whether the server is running (not [`stop`](Postgres::stop)ped).
    pub fn is_running(&self) -> bool {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Stops the server (a fast shutdown: open sessions are ended) and waits until it is gone.
    /// Its data stays; [`Postgres::start_again`] brings it back.
    pub fn stop(&self) {
        let child = self.running.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut child) = child {
            signal(&child, libc::SIGINT);
            let started = Instant::now();
            while matches!(child.try_wait(), Ok(None)) {
                if started.elapsed() > READY_WITHIN {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.wait();
        }
    }

    /// Starts a [`stop`](Postgres::stop)ped server again (same port, same databases) and waits
    /// until it accepts connections. Panics when it cannot.
    pub fn start_again(&self) {
        self.launch().unwrap_or_else(|e| panic!("xif-testpg: PostgreSQL did not start again: {e}"));
    }

    /// Runs SQL with `psql` in database `db` (as `postgres`): its output, unaligned, tuples only;
    /// or what went wrong.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(db)
            .arg("-c")
            .arg(sql)
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim_end().to_string())
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.remove_on_drop {
            self.stop();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The newest `/usr/lib/postgresql/*/bin` with `initdb` and `postgres` (or `XIF_TEST_PG_BIN`).
fn find_bin_dir() -> Result<PathBuf, String> {
    let has = |bin: &Path| bin.join("initdb").is_file() && bin.join("postgres").is_file();
    if let Some(bin) = std::env::var_os("XIF_TEST_PG_BIN").map(PathBuf::from) {
        return if has(&bin) {
            Ok(bin)
        } else {
            Err(format!("XIF_TEST_PG_BIN={} has no initdb and postgres", bin.display()))
        };
    }
    let mut found: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: Option<Vec<u64>> = e.file_name().to_str()?.split('.').map(|part| part.parse().ok()).collect();
            let bin = e.path().join("bin");
            has(&bin).then_some((version?, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "PostgreSQL is not installed: the tests on PostgreSQL need its server binaries in \
         /usr/lib/postgresql/*/bin (initdb, postgres). `scripts/setup.sh` installs them \
         (Debian's `postgresql` package), or point XIF_TEST_PG_BIN at a folder that has them."
            .to_string()
    })
}

/// The `postgres` user's uid and gid when we are root (`initdb` refuses root); `None` otherwise
/// (the server then runs as whoever runs the tests).
fn postgres_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap_or_else(|e| panic!("xif-testpg: running `id {flag} postgres`: {e}"));
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|_| {
            panic!(
                "xif-testpg: running as root, PostgreSQL needs the `postgres` user, and there is none: \
                 `scripts/setup.sh` installs Debian's `postgresql` package, which creates it"
            )
        })
    };
    Some((id("-u"), id("-g")))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("xif-testpg: a free port: {e}"))
}

fn signal(child: &Child, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

type Spawn = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `cmd` from a thread that lives as long as the process: the parent-death signal fires
/// when the *thread* that forked ends, and test threads end with their test.
fn spawn_from_lasting_thread(cmd: Command) -> Result<Child, String> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Spawn>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Spawn>();
        std::thread::Builder::new()
            .name("xif-testpg".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The senders live in a static: never reached, but never return either.
                loop {
                    std::thread::park();
                }
            })
            .unwrap_or_else(|e| panic!("xif-testpg: a thread: {e}"));
        Mutex::new(tx)
    });
    let (reply, answer) = mpsc::channel();
    let program = format!("{cmd:?}");
    spawner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((cmd, reply))
        .map_err(|_| "the spawning thread is gone".to_string())?;
    answer
        .recv()
        .map_err(|_| "the spawning thread is gone".to_string())?
        .map_err(|e| format!("starting {program}: {e}"))
}

/// Leaves a shell behind that waits for this process to be gone (or a zombie), then stops what
/// still runs in `dir` (its `postmaster.pid`) and removes the folder.
fn watchdog(dir: &Path) {
    const SCRIPT: &str = r#"
parent=$1; dir=$2
alive() { kill -0 "$parent" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$parent/status" 2>/dev/null; }
while alive; do sleep 0.5; done
pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -QUIT "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$dir"
"#;
    let spawned = Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("xif-testpg-watchdog")
        .arg(std::process::id().to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        // Not waited for: it outlives us by design (init reaps it).
        Ok(child) => drop(child),
        Err(e) => panic!("xif-testpg: starting the watchdog shell: {e}"),
    }
}
