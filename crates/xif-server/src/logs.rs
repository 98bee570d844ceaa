//! Extension logs: every line a call logs (host `log`, stdout, stderr) goes, tagged with its
//! extension, version, action, level, time and call id, to a bounded channel; one task writes
//! what is there in batches ([`xif_store::Db::write_logs`], each extension trimmed to its newest
//! [`Limits::log_lines_kept`](crate::config::Limits)), off the call path. A line that finds the
//! channel full is dropped and counted (`xif_log_lines_dropped_total`): a call never waits on
//! the database. At most [`CHANNEL`] lines wait and [`BATCH`] more are being written, each of at
//! most [`MAX_LINE`] bytes, so the store holds at most 24 MiB of lines in memory (twice that
//! while a batch is encoded).
//!
//! Followers ([`Logs::changed`]) wake after each batch this node writes and, with several
//! nodes, after another node's (`LOGS` on the cluster channel), then read the database from the
//! last id they sent: the same lines on every node.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use tokio::sync::{mpsc, watch};
use xif_runtime::{LogLevel, LogLine, LogSink, LogSource};
use xif_store::NewLogLine;

use crate::registry::Live;
use crate::state::{AppState, Inner};

/// Lines that may wait for the writer.
pub const CHANNEL: usize = 8192;
/// Lines of one extension that may wait for the writer (or be written) at once: a quarter of
/// [`CHANNEL`], so that one extension logging without pause cannot crowd out every other one's
/// lines.
pub const MAX_QUEUED_PER_EXTENSION: usize = CHANNEL / 4;
/// Logs followed at once on this node, at most (each one reads the database when lines come).
pub const MAX_FOLLOWERS: usize = 256;
/// Logs followed at once by one user on this node, at most.
pub const MAX_FOLLOWERS_PER_USER: usize = 8;
/// The longest line kept, in bytes; the rest is cut and marked.
pub const MAX_LINE: usize = 2048;
/// Lines written in one transaction at most.
const BATCH: usize = 4096;
/// How long the writer lets lines gather after the first before it writes.
const GATHER: std::time::Duration = std::time::Duration::from_millis(100);

/// A line on its way to the store: what a call logged, tagged, with nothing copied that the
/// call's other lines share.
pub struct Pending {
    extension_id: i64,
    version: i64,
    action: Arc<str>,
    level: i32,
    source: &'static str,
    at: i64,
    call_id: Arc<str>,
    message: String,
    /// Its extension's count of queued lines, taken back when the line is written or dropped.
    queued: Arc<AtomicUsize>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.queued.fetch_sub(1, Relaxed);
    }
}

impl Pending {
    fn to_new(&self) -> NewLogLine<'_> {
        NewLogLine {
            extension_id: self.extension_id,
            version: self.version,
            action: &self.action,
            level: self.level,
            source: self.source,
            at: self.at,
            call_id: &self.call_id,
            message: &self.message,
        }
    }
}

/// The log store's front: where calls' lines go, and what followers wait on.
pub struct Logs {
    tx: mpsc::Sender<Pending>,
    changed: watch::Sender<u64>,
    /// Lines written to the database so far.
    pub written: Arc<AtomicU64>,
    /// Lines dropped so far (the channel was full, or a batch could not be written).
    pub dropped: Arc<AtomicU64>,
    /// Follows open now, by user id.
    followers: Arc<std::sync::Mutex<std::collections::HashMap<i64, usize>>>,
    /// Batches written here, per extension id, and lines written by other nodes (any
    /// extension): what a follower compares to know whether its extension has new lines.
    stamps: Arc<std::sync::Mutex<(std::collections::HashMap<i64, u64>, u64)>>,
}

impl Logs {
    /// The front, and the receiving end that [`spawn_writer`] drains.
    pub fn new() -> (Logs, mpsc::Receiver<Pending>) {
        let (tx, rx) = mpsc::channel::<Pending>(CHANNEL);
        let (changed, _) = watch::channel(0u64);
        let logs = Logs {
            tx,
            changed,
            written: Arc::default(),
            dropped: Arc::default(),
            followers: Arc::default(),
            stamps: Arc::default(),
        };
        (logs, rx)
    }

    /// The sink of one call's lines: each goes to `server` (the server's own log) and to the store,
    /// tagged with `live`'s extension and version, `action` and `call_id`.
    /// `queued` is the extension's count of lines waiting: past [`MAX_QUEUED_PER_EXTENSION`] a
    /// line is dropped and counted.
    pub fn sink(&self, live: &Live, action: &str, call_id: &str, queued: Arc<AtomicUsize>, server: LogSink) -> LogSink {
        self.sink_of((live.extension_id, live.version), action, call_id, queued, server)
    }

    /// [`Logs::sink`] for `(extension id, version)`.
    fn sink_of(
        &self,
        (extension_id, version): (i64, i64),
        action: &str,
        call_id: &str,
        queued: Arc<AtomicUsize>,
        server: LogSink,
    ) -> LogSink {
        let tx = self.tx.clone();
        let dropped = self.dropped.clone();
        let (action, call_id): (Arc<str>, Arc<str>) = (action.into(), call_id.into());
        Arc::new(move |mut line: LogLine| {
            // The server's own log gets the line as cut for the store, never more.
            if line.message.len() > MAX_LINE {
                line.message = cut(&line.message);
            }
            server(line.clone());
            if queued.fetch_add(1, Relaxed) >= MAX_QUEUED_PER_EXTENSION {
                queued.fetch_sub(1, Relaxed);
                dropped.fetch_add(1, Relaxed);
                return;
            }
            let row = Pending {
                extension_id,
                version,
                action: action.clone(),
                level: level_rank(line.level),
                source: source_name(line.source),
                at: xif_store::now_ms(),
                call_id: call_id.clone(),
                message: line.message,
                queued: queued.clone(),
            };
            if tx.try_send(row).is_err() {
                dropped.fetch_add(1, Relaxed);
            }
        })
    }

    /// A place for one more follow by `user_id`, held until the guard is dropped; why not when
    /// this node follows [`MAX_FOLLOWERS`] logs already, or this user [`MAX_FOLLOWERS_PER_USER`].
    pub fn admit_follower(&self, user_id: i64) -> Result<Follower, String> {
        let mut open = self.followers.lock().unwrap_or_else(|p| p.into_inner());
        let total: usize = open.values().sum();
        let mine = open.get(&user_id).copied().unwrap_or(0);
        if total >= MAX_FOLLOWERS {
            return Err(format!("this server follows {MAX_FOLLOWERS} logs already, its most: try again later"));
        }
        if mine >= MAX_FOLLOWERS_PER_USER {
            return Err(format!(
                "you follow {MAX_FOLLOWERS_PER_USER} logs on this server already, the most one user may: close one"
            ));
        }
        open.insert(user_id, mine + 1);
        Ok(Follower { followers: self.followers.clone(), user_id })
    }

    /// Changes each time lines were written (here or, with several nodes, on another node).
    pub fn changed(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Where the log of `extension_id` stands: it changes when this node writes lines of it or
    /// another node writes any lines, so a follower of a quiet extension is not woken to read
    /// for every other extension's batch.
    pub fn stamp(&self, extension_id: i64) -> (u64, u64) {
        let stamps = self.stamps.lock().unwrap_or_else(|p| p.into_inner());
        (stamps.0.get(&extension_id).copied().unwrap_or(0), stamps.1)
    }

    /// Another node wrote lines.
    pub fn written_elsewhere(&self) {
        self.stamps.lock().unwrap_or_else(|p| p.into_inner()).1 += 1;
        self.changed.send_modify(|n| *n += 1);
    }
}

/// One open follow's place (see [`Logs::admit_follower`]), given back when dropped.
pub struct Follower {
    followers: Arc<std::sync::Mutex<std::collections::HashMap<i64, usize>>>,
    user_id: i64,
}

impl Drop for Follower {
    fn drop(&mut self) {
        let mut open = self.followers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// Writes what waits in `rx` in batches, for as long as the server's state lives (its [`Logs`]
/// holds the sending end, so the task ends with it), or until [`Inner::closing`]: then it
/// writes everything still queued and ends.
pub fn spawn_writer(state: &AppState, mut rx: mpsc::Receiver<Pending>) -> tokio::task::JoinHandle<()> {
    let weak: std::sync::Weak<Inner> = Arc::downgrade(&state.0);
    let keep = state.config.limits.log_lines_kept;
    let mut closing = state.closing.subscribe();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        let mut last = false;
        while !last {
            // The first line, then what more arrives within GATHER: at most a few batches a second
            // under load, one transaction each. Closing: whatever is queued, at once.
            tokio::select! {
                row = rx.recv() => match row {
                    Some(row) => batch.push(row),
                    None => break,
                },
                _ = closing.wait_for(|c| *c) => last = true,
            }
            if !last {
                tokio::select! {
                    () = tokio::time::sleep(GATHER) => {}
                    _ = closing.wait_for(|c| *c) => last = true,
                }
            }
            // At most a batch; closing, every queued line, a batch at a time.
            loop {
                if batch.len() >= BATCH {
                    if !last {
                        break;
                    }
                    write_batch(&weak, &mut batch, keep).await;
                }
                match rx.try_recv() {
                    Ok(row) => batch.push(row),
                    Err(_) => break,
                }
            }
            if !write_batch(&weak, &mut batch, keep).await {
                break;
            }
        }
    })
}

/// Writes `batch` (then empties it); false when the server's state is gone.
async fn write_batch(weak: &std::sync::Weak<Inner>, batch: &mut Vec<Pending>, keep: u32) -> bool {
    if batch.is_empty() {
        return true;
    }
    let Some(inner) = weak.upgrade() else { return false };
    let state = AppState(inner);
    let Some(logs) = &state.logs else { return false };
    let lines: Vec<NewLogLine<'_>> = batch.iter().map(Pending::to_new).collect();
    let written = state.db.write_logs(&lines, keep).await;
    drop(lines);
    match written {
        Ok(kept) => {
            logs.written.fetch_add(kept as u64, Relaxed);
            {
                let mut stamps = logs.stamps.lock().unwrap_or_else(|p| p.into_inner());
                for p in batch.iter() {
                    *stamps.0.entry(p.extension_id).or_default() += 1;
                }
            }
            logs.changed.send_modify(|n| *n += 1);
            crate::cluster::announce(&state, crate::cluster::Change::Logs).await;
        }
        Err(e) => {
            tracing::warn!(error = %e, lines = batch.len(), "could not write extension log lines");
            logs.dropped.fetch_add(batch.len() as u64, Relaxed);
        }
    }
    batch.clear();
    true
}

/// 0 trace … 4 error: the order `--level` filters by.
pub fn level_rank(l: LogLevel) -> i32 {
    match l {
        LogLevel::Trace => 0,
        LogLevel::Debug => 1,
        LogLevel::Info => 2,
        LogLevel::Warn => 3,
        LogLevel::Error => 4,
    }
}

/// The level of a rank, as WIT spells it.
pub fn level_name(rank: i32) -> &'static str {
    ["trace", "debug", "info", "warn", "error"].get(usize::try_from(rank).unwrap_or(2)).copied().unwrap_or("info")
}

/// The rank of a level's name (any case), or none.
pub fn parse_level(name: &str) -> Option<i32> {
    ["trace", "debug", "info", "warn", "error"].iter().position(|l| l.eq_ignore_ascii_case(name)).map(|i| i as i32)
}

fn source_name(s: LogSource) -> &'static str {
    match s {
        LogSource::Host => "host",
        LogSource::Stdout => "stdout",
        LogSource::Stderr => "stderr",
    }
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_LINE {
        return text.to_string();
    }
    let mut end = MAX_LINE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(message: &str) -> LogLine {
        LogLine {
            extension: "Noisy".into(),
            version: 1,
            level: LogLevel::Info,
            source: LogSource::Host,
            message: message.into(),
        }
    }

    #[test]
    fn one_extension_queues_at_most_its_share_and_gets_room_back_as_lines_are_written() {
        let (logs, mut rx) = Logs::new();
        let server: LogSink = Arc::new(|_| {});
        let (noisy, quiet) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let sink = logs.sink_of((1, 1), "Loop", "c1", noisy.clone(), server.clone());
        for _ in 0..MAX_QUEUED_PER_EXTENSION + 10 {
            sink(line("again"));
        }
        assert_eq!(noisy.load(Relaxed), MAX_QUEUED_PER_EXTENSION);
        assert_eq!(logs.dropped.load(Relaxed), 10, "the lines past its share are dropped and counted");
        // Another extension's lines still find room.
        logs.sink_of((2, 1), "Greet", "c2", quiet.clone(), server.clone())(line("hello"));
        assert_eq!((quiet.load(Relaxed), logs.dropped.load(Relaxed)), (1, 10));
        // A line taken and written gives its place back.
        drop(rx.try_recv().expect("a queued line"));
        assert_eq!(noisy.load(Relaxed), MAX_QUEUED_PER_EXTENSION - 1);
        sink(line("room again"));
        assert_eq!((noisy.load(Relaxed), logs.dropped.load(Relaxed)), (MAX_QUEUED_PER_EXTENSION, 10));
    }
}
