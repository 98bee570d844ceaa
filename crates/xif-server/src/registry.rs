//! The extensions that serve calls: for each, its active version, loaded and ready, and the
//! version rolling out beside it while a gradual rollout runs ([`Split`]). Activation swaps one
//! `Arc` under a short lock, so a call that already holds the old version finishes on it while
//! new calls get the new one.
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use xif_model::Definition;
use xif_runtime::{CallContext, Extension, LogLevel, LogLine};

use crate::db::key;
use crate::metrics::{Metrics, VersionMetrics};

/// An active version, loaded.
pub struct Live {
    /// The extension's name.
    pub name: String,
    /// The extension's id in the database (a deleted and re-created extension has a new one,
    /// and numbers its versions from 1 again).
    pub extension_id: i64,
    /// The version number.
    pub version: i64,
    /// The loaded component.
    pub extension: Extension,
    /// The context of its calls (resources, log); settings are filled in per call.
    context: CallContext,
    /// Its entities' records, as this version sees them (none when it has no entities).
    pub entities: Option<Arc<crate::entities::Store>>,
    /// Its calls' counts (kept across a replacement by [`Registry::activate`]).
    pub metrics: Arc<VersionMetrics>,
}

impl Live {
    /// Makes a live version: `resources` are the package's, the log goes to the server's log
    /// tagged with extension and version, `hook` is [`Config::call_log_hook`](crate::Config).
    pub fn new(
        name: &str,
        extension_id: i64,
        version: i64,
        extension: Extension,
        resources: Vec<(String, Vec<u8>)>,
        hook: Option<xif_runtime::LogHook>,
    ) -> Live {
        let mut context = CallContext::new(name, u32::try_from(version).unwrap_or(u32::MAX))
            .with_resources(resources.into_iter().collect())
            .with_log(log_line);
        context.log_hook = hook;
        let metrics = Arc::new(VersionMetrics::new(name, extension_id, version, extension.definition()));
        Live { name: name.to_string(), extension_id, version, extension, context, entities: None, metrics }
    }

    /// Gives the version's calls (`xif:host/entities`) and the record routes its entity store.
    pub fn with_entities(mut self, store: crate::entities::Store) -> Live {
        let store = Arc::new(store);
        self.context.entities = Some(crate::entities::access(&store));
        self.entities = Some(store);
        self
    }

    /// Its definition.
    pub fn definition(&self) -> &Arc<Definition> {
        self.extension.definition()
    }
}

/// Sends a guest's log line to the server's log: the message is [`one_line`], so a guest cannot
/// forge a line of the server's log (or of another extension's) with a newline or a terminal
/// control sequence.
fn log_line(l: LogLine) {
    let (ext, v, src) = (l.extension.as_str(), l.version, format!("{:?}", l.source));
    let msg = one_line(&l.message);
    match l.level {
        LogLevel::Trace => {
            tracing::trace!(target: "xif::extension", extension = ext, version = v, source = src, "{msg}")
        }
        LogLevel::Debug => {
            tracing::debug!(target: "xif::extension", extension = ext, version = v, source = src, "{msg}")
        }
        LogLevel::Info => tracing::info!(target: "xif::extension", extension = ext, version = v, source = src, "{msg}"),
        LogLevel::Warn => tracing::warn!(target: "xif::extension", extension = ext, version = v, source = src, "{msg}"),
        LogLevel::Error => {
            tracing::error!(target: "xif::extension", extension = ext, version = v, source = src, "{msg}")
        }
    }
}

/// Text that came from outside (a guest's log line, a name from a request or a package) made
/// safe for one line of the server's log: control characters (newlines, carriage returns,
/// escape sequences...) are written as escapes (`\n`, `\u{1b}`), and a backslash as `\\`.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || c == '\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The settings of one extension as the server holds them.
#[derive(Clone, Debug, Default)]
pub struct ExtensionSettings {
    /// Name → value (secrets opened): what calls read.
    pub values: Arc<HashMap<String, String>>,
    /// The names whose value is stored as a secret (sealed; never shown).
    pub secret: HashSet<String>,
    /// The names whose stored value cannot be read (a secret sealed with another key), with why:
    /// calls read them as unavailable.
    pub unavailable: HashMap<String, String>,
}

/// What serves one extension's calls: its active version, and the version rolling out beside
/// it, if any.
#[derive(Clone)]
struct Served {
    active: Arc<Live>,
    rollout: Option<Arc<Split>>,
}

/// A gradual rollout as one node serves it: `live` takes `percent` of the calls, the active
/// version the rest.
pub struct Split {
    /// The version rolling out.
    pub live: Arc<Live>,
    /// Its share of calls, 1 to 99.
    pub percent: u32,
    /// Chosen per caller rather than per call.
    pub per_caller: bool,
    /// The error-rate guard may abort it.
    pub guard: bool,
    /// The active version, which takes the other calls.
    pub against: i64,
    /// When it began (ms since the epoch): with the version, what tells this rollout from an
    /// earlier one of the same version.
    pub started_at: i64,
    /// What this node counted since the rollout began (kept when its share changes).
    pub counts: Arc<SplitCounts>,
}

/// One node's counts of a rollout: calls and (guarded) failures of each side, and whether the
/// guard has tripped.
#[derive(Default)]
pub struct SplitCounts {
    next: AtomicU64,
    old_calls: AtomicU64,
    old_failed: AtomicU64,
    new_calls: AtomicU64,
    new_failed: AtomicU64,
    tripped: AtomicBool,
}

/// The guard judges a rollout once the new version has had this many calls on the node...
pub const GUARD_MIN_CALLS: u64 = 20;
/// ...and failed at least this many of them;
pub const GUARD_MIN_FAILURES: u64 = 10;
/// it aborts when the new version's failure rate is at least this much (absolute) above the
/// old one's, and at least twice it.
pub const GUARD_MARGIN: f64 = 0.2;

/// The failures the guard counts in a rollout per call: those that depend on the version that
/// answered (not a busy server, a body over the limit, bad JSON or an unknown extension, which
/// both sides share). Both sides see the same mix of callers, so what callers send weighs alike.
const GUARDED: [&str; 9] = [
    "action_failed",
    "trap",
    "timeout",
    "out_of_memory",
    "bad_input",
    "bad_output",
    "output_too_large",
    "unknown_action",
    "other",
];

/// What a caller gets wrong: per caller, such calls are not counted for either side.
const CALLERS_MISTAKES: [&str; 2] = ["bad_input", "unknown_action"];

/// The failures the guard counts in a rollout per caller, where the two sides serve different
/// callers: not what a caller sends wrong (bad input, an unknown action), which one bad caller
/// on the new side would otherwise charge to the new version.
const GUARDED_PER_CALLER: [&str; 7] =
    ["action_failed", "trap", "timeout", "out_of_memory", "bad_output", "output_too_large", "other"];

/// The version a call goes to: the active one or, while a rollout runs, maybe the new one.
pub struct Picked {
    /// The version that serves the call.
    pub live: Arc<Live>,
    /// The rollout it was chosen by, and whether it chose the new version.
    pub rollout: Option<(Arc<Split>, bool)>,
}

impl SplitCounts {
    /// `(old calls, old failed, new calls, new failed)` counted so far.
    pub fn read(&self) -> (u64, u64, u64, u64) {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        (r(&self.old_calls), r(&self.old_failed), r(&self.new_calls), r(&self.new_failed))
    }
}

impl Split {
    /// A rollout of `live` at `percent`, counting into `counts`.
    pub fn new(
        live: Arc<Live>,
        against: i64,
        started_at: i64,
        (percent, per_caller, guard): (u32, bool, bool),
        counts: Arc<SplitCounts>,
    ) -> Split {
        Split { live, percent: percent.min(100), per_caller, guard, against, started_at, counts }
    }

    /// Lets the guard judge again (its abort failed: the rollout still runs).
    pub fn untrip(&self) {
        self.counts.tripped.store(false, Ordering::SeqCst);
    }

    /// Whether a call of `caller` goes to the new version. Per call: a counter spreads exactly
    /// `percent` of every 100 calls on this node evenly over them. Per caller: a stable hash of
    /// the extension and the caller's name, the same on every node and across restarts, under
    /// `percent` (so a caller that has the new version keeps it as the share grows).
    pub fn takes(&self, caller: &str) -> bool {
        let p = u64::from(self.percent);
        if self.per_caller {
            return caller_bucket(&self.live.name, caller) < p;
        }
        let n = self.counts.next.fetch_add(1, Ordering::Relaxed) % 100;
        (n + 1) * p / 100 > n * p / 100
    }

    /// Counts one call's outcome (`failed`: its error kind); returns why the guard aborts the
    /// rollout, once, when this call makes the new version fail clearly more often than the old.
    pub fn record(&self, new: bool, failed: Option<&str>) -> Option<String> {
        let c = &self.counts;
        // Per caller, a call a caller got wrong says nothing of the version: it is not counted at
        // all (else one caller's bad calls would dilute the version's own failures).
        if self.per_caller && failed.is_some_and(|k| CALLERS_MISTAKES.contains(&k)) {
            return None;
        }
        let kinds: &[&str] = if self.per_caller { &GUARDED_PER_CALLER } else { &GUARDED };
        let failed = failed.is_some_and(|k| kinds.contains(&k));
        let (calls, fails) = if new { (&c.new_calls, &c.new_failed) } else { (&c.old_calls, &c.old_failed) };
        calls.fetch_add(1, Ordering::Relaxed);
        if failed {
            fails.fetch_add(1, Ordering::Relaxed);
        }
        if !new || !failed || !self.guard {
            return None;
        }
        let (old_calls, old_failed, new_calls, new_failed) = c.read();
        if new_calls < GUARD_MIN_CALLS || new_failed < GUARD_MIN_FAILURES {
            return None;
        }
        let rate = |f: u64, n: u64| if n == 0 { 0.0 } else { f as f64 / n as f64 };
        let (old_rate, new_rate) = (rate(old_failed, old_calls), rate(new_failed, new_calls));
        if new_rate < old_rate + GUARD_MARGIN || new_rate < 2.0 * old_rate {
            return None;
        }
        if c.tripped.swap(true, Ordering::SeqCst) {
            return None;
        }
        Some(format!(
            "version {} failed {new_failed} of its {new_calls} calls ({:.0}%) on this node since the rollout began, \
             version {} {old_failed} of {old_calls} ({:.0}%)",
            self.live.version,
            self.against,
            new_rate * 100.0,
            old_rate * 100.0
        ))
    }
}

/// A caller's place, 0 to 99, in the rollouts of `extension`: FNV-1a of the extension's key and
/// the caller's name, stable everywhere.
pub fn caller_bucket(extension: &str, caller: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key(extension).bytes().chain([0]).chain(caller.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h % 100
}

/// What a node serves for an extension, to compare with the database: (extension id, active
/// version, the rollout's (version, when it began, percent, per caller, guard)).
pub type ServedKey = (i64, i64, Option<(i64, i64, u32, bool, bool)>);

/// The live extensions, by name (case-insensitively).
#[derive(Default)]
pub struct Registry {
    live: RwLock<HashMap<String, Served>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    settings: RwLock<HashMap<String, Arc<ExtensionSettings>>>,
    slots: Mutex<HashMap<String, Arc<CallSlots>>>,
    /// Versions that failed to load, by (extension id, version): when to try again, and how many
    /// times it failed (see [`Registry::may_load`]).
    load_failures: Mutex<HashMap<(i64, i64), (std::time::Instant, u32)>>,
    /// What this node counts.
    pub metrics: Metrics,
}

impl Registry {
    /// The active version of an extension.
    pub fn get(&self, name: &str) -> Option<Arc<Live>> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).get(&key(name)).map(|s| s.active.clone())
    }

    /// The version a call of `caller` goes to: the active one, or while a rollout runs the one
    /// its split chooses.
    pub fn pick(&self, name: &str, caller: &str) -> Option<Picked> {
        let served = self.live.read().unwrap_or_else(|p| p.into_inner()).get(&key(name)).cloned()?;
        Some(match served.rollout {
            Some(split) if split.takes(caller) => Picked { live: split.live.clone(), rollout: Some((split, true)) },
            Some(split) => Picked { live: served.active, rollout: Some((split, false)) },
            None => Picked { live: served.active, rollout: None },
        })
    }

    /// The rollout that runs for an extension on this node, if any.
    pub fn rollout(&self, name: &str) -> Option<Arc<Split>> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).get(&key(name)).and_then(|s| s.rollout.clone())
    }

    /// What this node serves for an extension (see [`ServedKey`]).
    pub fn served(&self, name: &str) -> Option<ServedKey> {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        let s = live.get(&key(name))?;
        let rollout = s.rollout.as_ref().map(|r| (r.live.version, r.started_at, r.percent, r.per_caller, r.guard));
        Some((s.active.extension_id, s.active.version, rollout))
    }

    /// Registers a loaded version's counts (kept across a replacement).
    pub fn prepare(&self, mut live: Live) -> Arc<Live> {
        live.metrics = self.metrics.version(live.metrics);
        Arc::new(live)
    }

    /// Activates a version (ending any rollout); returns the one it replaces.
    pub fn activate(&self, live: Live) -> Option<Arc<Live>> {
        let live = self.prepare(live);
        self.serve(live, None)
    }

    /// Serves `active`, with `rollout` beside it; returns the active version it replaces.
    pub fn serve(&self, active: Arc<Live>, rollout: Option<Split>) -> Option<Arc<Live>> {
        let k = key(&active.name);
        let served = Served { active, rollout: rollout.map(Arc::new) };
        self.live.write().unwrap_or_else(|p| p.into_inner()).insert(k, served).map(|s| s.active)
    }

    /// Stops serving an extension (calls in flight finish).
    pub fn remove(&self, name: &str) {
        if let Some(gone) = self.live.write().unwrap_or_else(|p| p.into_inner()).remove(&key(name)) {
            self.metrics.forget_extension(gone.active.extension_id);
        }
        self.settings.write().unwrap_or_else(|p| p.into_inner()).remove(&key(name));
    }

    /// The lock that serializes uploads, publishes and deletions of one extension.
    pub fn lock_for(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().unwrap_or_else(|p| p.into_inner()).entry(key(name)).or_default().clone()
    }

    /// Replaces the settings of an extension.
    pub fn set_settings(&self, name: &str, settings: ExtensionSettings) {
        self.settings.write().unwrap_or_else(|p| p.into_inner()).insert(key(name), Arc::new(settings));
    }

    /// The settings of an extension (none set: empty).
    pub fn settings(&self, name: &str) -> Arc<ExtensionSettings> {
        self.settings.read().unwrap_or_else(|p| p.into_inner()).get(&key(name)).cloned().unwrap_or_default()
    }

    /// The context of a call to `live`, with the extension's current settings.
    pub fn context(&self, live: &Live) -> CallContext {
        let mut ctx = live.context.clone();
        if let Some(s) = self.settings.read().unwrap_or_else(|p| p.into_inner()).get(&key(&live.name)) {
            ctx.settings = s.values.clone();
            if !s.unavailable.is_empty() {
                ctx.unavailable_settings = Arc::new(s.unavailable.keys().cloned().collect());
            }
        }
        ctx
    }

    /// The call slots of an extension: at most `per_extension` of its calls run at once (made
    /// on first use; the size is fixed then, as the server's limits are).
    pub fn call_slots(&self, name: &str, per_extension: u32) -> Arc<CallSlots> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .entry(key(name))
            .or_insert_with(|| {
                Arc::new(CallSlots {
                    running: Arc::new(Semaphore::new(per_extension.max(1) as usize)),
                    waiting: AtomicU32::new(0),
                    size: per_extension.max(1),
                    log_queued: Arc::default(),
                })
            })
            .clone()
    }

    /// The names of the live extensions.
    pub fn names(&self) -> Vec<String> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).values().map(|s| s.active.name.clone()).collect()
    }

    /// The gauges of `/metrics`, read now.
    pub fn gauges(&self) -> crate::metrics::Gauges {
        let live: Vec<String> = self.names();
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let mut per: Vec<(String, u32, u32)> = live
            .into_iter()
            .map(|name| {
                let (running, queued) = slots.get(&key(&name)).map_or((0, 0), |s| {
                    let free = u32::try_from(s.running.available_permits()).unwrap_or(u32::MAX);
                    (s.size.saturating_sub(free), s.waiting.load(Ordering::Relaxed))
                });
                (name, running, queued)
            })
            .collect();
        per.sort();
        crate::metrics::Gauges { active_versions: per.len(), slots: per, log_lines: (0, 0) }
    }

    /// Whether version `key` (extension id, version) may be loaded now: not while the wait after
    /// its last failure runs.
    pub fn may_load(&self, key: (i64, i64)) -> bool {
        let failures = self.load_failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.get(&key).is_none_or(|(next, _)| std::time::Instant::now() >= *next)
    }

    /// Version `key` failed to load: the wait before the next try, 5 s doubling per failure up
    /// to 5 minutes.
    pub fn load_failed(&self, key: (i64, i64)) -> std::time::Duration {
        let mut failures = self.load_failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= 4096 {
            failures.clear();
        }
        let n = failures.get(&key).map_or(0, |(_, n)| *n).saturating_add(1);
        let wait = std::time::Duration::from_secs(5u64.saturating_mul(1 << (n - 1).min(6)).min(300));
        failures.insert(key, (std::time::Instant::now() + wait, n));
        wait
    }

    /// Version `key` loaded: no wait before it next time.
    pub fn load_succeeded(&self, key: (i64, i64)) {
        self.load_failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    }

    /// How many extensions are live.
    pub fn len(&self) -> usize {
        self.live.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// One extension's share of the call slots, and its queue; and its lines waiting for the log
/// writer (see [`crate::logs::MAX_QUEUED_PER_EXTENSION`]).
pub struct CallSlots {
    running: Arc<Semaphore>,
    waiting: AtomicU32,
    size: u32,
    /// Its calls' log lines queued or being written now.
    pub log_queued: Arc<std::sync::atomic::AtomicUsize>,
}

/// Why a call got no slot (a 503 with `Retry-After`).
#[derive(Debug)]
pub enum Refused {
    /// `queue` calls of this extension are waiting already.
    QueueFull {
        /// Its calls that may run at once.
        running: u32,
        /// Its calls that may wait.
        queue: u32,
    },
    /// No slot (or memory) came free within the wait.
    Waited(Duration),
    /// The call alone needs more memory than the budget has.
    TooLarge {
        /// What it needs, in bytes.
        needed: u64,
        /// The budget, in bytes.
        budget: u64,
    },
}

impl CallSlots {
    /// Takes a slot: at once when one is free, else waits up to `wait` unless `queue` calls of
    /// this extension wait already.
    pub async fn enter(&self, queue: u32, wait: Duration) -> Result<OwnedSemaphorePermit, Refused> {
        if let Ok(permit) = self.running.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _queued = Queued(&self.waiting);
        if waiting >= queue {
            return Err(Refused::QueueFull { running: self.size, queue });
        }
        match tokio::time::timeout(wait, self.running.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Refused::Waited(wait)),
        }
    }
}

/// Leaves the queue when dropped.
struct Queued<'a>(&'a AtomicU32);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Units of the memory budget's semaphores.
const UNIT: u64 = 1024;
/// A reservation of at most this much goes through a lane's small reserve when the lane is
/// full, so that small calls are never starved by large ones waiting ahead of them.
const SMALL: u64 = 256 * 1024;

/// One kind of memory (bodies being read, inputs being converted): its budget, plus an eighth
/// of it kept for small reservations.
struct Lane {
    main: Arc<Semaphore>,
    small: Arc<Semaphore>,
    bytes: u64,
}

impl Lane {
    fn new(bytes: u64) -> Lane {
        let units = (bytes / UNIT).max(1);
        Lane {
            main: Arc::new(Semaphore::new(units as usize)),
            small: Arc::new(Semaphore::new((units / 8).max(1) as usize)),
            bytes: units * UNIT,
        }
    }

    /// Takes `bytes` (rounded up to KiB), waiting at most `wait`.
    async fn take(&self, bytes: u64, wait: Duration) -> Result<OwnedSemaphorePermit, Refused> {
        let units = bytes.div_ceil(UNIT).max(1);
        if units * UNIT > self.bytes {
            return Err(Refused::TooLarge { needed: bytes, budget: self.bytes });
        }
        let n = u32::try_from(units).map_err(|_| Refused::TooLarge { needed: bytes, budget: self.bytes })?;
        if let Ok(p) = self.main.clone().try_acquire_many_owned(n) {
            return Ok(p);
        }
        let lane = if bytes <= SMALL { &self.small } else { &self.main };
        match tokio::time::timeout(wait, lane.clone().acquire_many_owned(n)).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Refused::Waited(wait)),
        }
    }
}

/// The memory budget of call inputs in flight (`Limits::call_input_memory`): a quarter for the
/// bodies being read, three quarters for the inputs being converted and then kept for their
/// calls (each plus an eighth for small ones). Separate lanes, so that a call holding its body
/// while it waits for conversion memory never waits on another body.
pub struct InputBudget {
    bodies: Lane,
    inputs: Lane,
}

/// Memory of one call's input, given back when dropped.
#[derive(Default)]
pub struct Reservation {
    body: Vec<OwnedSemaphorePermit>,
    body_bytes: u64,
    input: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    /// Bytes of body reserved so far.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// The body has been dropped.
    pub fn release_body(&mut self) {
        self.body.clear();
        self.body_bytes = 0;
    }

    /// Keeps only `bytes` of the input's reservation (what stays for the call).
    pub fn keep_input(&mut self, bytes: u64) {
        let keep = u32::try_from(bytes.div_ceil(UNIT).max(1)).unwrap_or(u32::MAX);
        if let Some(p) = self.input.as_mut()
            && (keep as usize) < p.num_permits()
        {
            let kept = p.split(keep as usize);
            self.input = kept;
        }
    }
}

impl InputBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> InputBudget {
        let bytes = bytes as u64;
        InputBudget { bodies: Lane::new(bytes / 4), inputs: Lane::new(bytes - bytes / 4) }
    }

    /// Reserves `more` bytes of body.
    pub async fn body(&self, r: &mut Reservation, more: u64, wait: Duration) -> Result<(), Refused> {
        let p = self.bodies.take(more, wait).await?;
        r.body_bytes += p.num_permits() as u64 * UNIT;
        r.body.push(p);
        Ok(())
    }

    /// Reserves the memory to convert an input.
    pub async fn input(&self, r: &mut Reservation, bytes: u64, wait: Duration) -> Result<(), Refused> {
        r.input = Some(self.inputs.take(bytes, wait).await?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{caller_bucket, one_line};

    #[test]
    fn caller_buckets_are_stable_and_spread() {
        assert_eq!(caller_bucket("Greetings", "ada"), caller_bucket("GREETINGS", "ada"));
        let mut seen = [0u32; 100];
        for i in 0..10_000 {
            seen[caller_bucket("Greetings", &format!("user{i}")) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (50..=150).contains(&n)), "{seen:?}");
    }

    #[test]
    fn one_line_escapes_control_characters() {
        assert_eq!(one_line("plain text"), "plain text");
        assert_eq!(one_line("a\nFAKE"), "a\\nFAKE");
        assert_eq!(one_line("a\r\u{1b}[2J\\"), "a\\r\\u{1b}[2J\\\\");
        assert!(!one_line("x\u{7}y\u{0}").chars().any(char::is_control));
    }
}
