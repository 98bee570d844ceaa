//! An extension's log lines (the log store, [`crate::logs`]) and `/metrics`: who may read them,
//! a page of them, and following them as they are written.
//!
//! Log lines can hold users' data: administrators and users who may publish the extension may
//! read them (the same rule as publishing its active version, or any version when none is
//! active), nobody else.
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::Stream;
use xif_store::{LogQuery, LogRow};

use super::wire::{ExtensionLogLine, ExtensionLogPage, ExtensionLogQuery};
use super::{Error, Principal, Result, time};
use crate::state::AppState;

/// The most lines one page holds.
pub const MAX_PAGE: u32 = 1000;
/// How long a follower waits for a change before it reads the store anyway (lines another node
/// wrote while its notification was lost).
const POLL: Duration = Duration::from_secs(2);
/// How often a follower's right to read is checked again (and at once after any change of
/// tokens, users or permissions): a deleted extension ends the stream within this.
const RECHECK: Duration = Duration::from_secs(5);
/// The `Retry-After` of a follow refused for want of a place.
const FOLLOW_RETRY_AFTER: u64 = 5;

/// An extension's log, checked and filtered.
pub(crate) struct Reader {
    state: AppState,
    who: Principal,
    name: String,
    extension_id: i64,
    query: LogQuery,
}

/// Whether `who` may read the log of `ext`: administrators, and users who may publish it.
async fn may_read(state: &AppState, who: &Principal, ext: &xif_store::ExtensionRow) -> Result<()> {
    if who.admin {
        return Ok(());
    }
    let judged = match state.registry.get(&ext.name) {
        Some(live) if live.extension_id == ext.id => crate::auth::check_publish(who, live.definition()),
        _ => crate::publish::check_publish_facts(who, &ext.name, &state.db.entity_names(&ext.name).await?),
    };
    judged.map_err(|e| match e {
        crate::error::AppError::Forbidden(m) => {
            Error::Forbidden(format!("reading the log of extension {} needs what publishing it needs: {m}", ext.name))
        }
        other => other.into(),
    })
}

/// Checks that `who` may read `name`'s log and turns `q` into the store's query.
pub(crate) async fn reader(state: &AppState, who: &Principal, name: &str, q: &ExtensionLogQuery) -> Result<Reader> {
    let ext = state
        .db
        .extension(name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("there is no extension named {name}")))?;
    may_read(state, who, &ext).await?;
    let min_level = match &q.level {
        None => 0,
        Some(l) => crate::logs::parse_level(l).ok_or_else(|| {
            Error::bad_parameter("level", format!("unknown level {l:?}: use trace, debug, info, warn or error"))
        })?,
    };
    let follow = q.follow.unwrap_or(false);
    let limit = q.limit.unwrap_or(if follow { 20 } else { 100 });
    if limit > MAX_PAGE {
        return Err(Error::bad_parameter("limit", format!("limit is at most {MAX_PAGE}")));
    }
    let query = LogQuery {
        after: q.after,
        action: q.action.clone().filter(|a| !a.is_empty()),
        min_level,
        call_id: q.call.clone().filter(|c| !c.is_empty()),
        limit,
    };
    Ok(Reader { state: state.clone(), who: who.clone(), name: ext.name, extension_id: ext.id, query })
}

impl Reader {
    /// One page: the newest `limit` lines, or the oldest after `after`.
    pub(crate) async fn page(&self) -> Result<ExtensionLogPage> {
        let rows = self.state.db.read_logs(self.extension_id, &self.query).await?;
        Ok(ExtensionLogPage { lines: rows.into_iter().map(line).collect() })
    }

    /// Every line from `after` on (without it, the newest `limit` first), as they are written.
    /// Ends when the server begins to stop, when the caller's right to read ends (checked again
    /// every [`RECHECK`]), or when the store cannot be read (a client reconnects from the last
    /// line it had, `Last-Event-ID`). `None`: the log store is off (`--observe off`). Refused
    /// (busy) past [`crate::logs::MAX_FOLLOWERS`] follows on this node, or
    /// [`crate::logs::MAX_FOLLOWERS_PER_USER`] of one user.
    pub(crate) fn follow(self) -> Result<Option<impl Stream<Item = ExtensionLogLine> + Send + 'static>> {
        let Some(logs) = self.state.logs.as_ref() else { return Ok(None) };
        let place = logs
            .admit_follower(self.who.user_id)
            .map_err(|message| Error::Busy { message, retry_after: FOLLOW_RETRY_AFTER })?;
        let changed = logs.changed();
        let stopping = self.state.stopping.subscribe();
        let generation = self.state.auth_cache.generation();
        let start = Following {
            r: self,
            changed,
            stopping,
            ready: VecDeque::new(),
            checked: Instant::now(),
            generation,
            _place: place,
        };
        Ok(Some(futures_util::stream::unfold(start, |mut f| async move {
            loop {
                if let Some(row) = f.ready.pop_front() {
                    return Some((line(row), f));
                }
                if *f.stopping.borrow() {
                    return None;
                }
                // Checked again every RECHECK, and at once after any change of tokens, users or
                // permissions (on any node: they all clear the principals' cache).
                if !f.may_go_on(f.checked.elapsed() >= RECHECK).await {
                    return None;
                }
                // Seen before reading: a batch written after this read wakes the wait below.
                f.changed.borrow_and_update();
                let stamp = f.r.stamp();
                let q = match f.r.query.after {
                    // The first read, without `after`: the newest `limit` lines, and on from the
                    // newest line there is (of any level or action).
                    None => f.r.query.clone(),
                    Some(_) => LogQuery { limit: MAX_PAGE, ..f.r.query.clone() },
                };
                let (rows, scanned) = match f.r.state.db.read_logs_scanned(f.r.extension_id, &q).await {
                    Ok(read) => read,
                    Err(e) => {
                        tracing::warn!(extension = %f.r.name, error = %crate::registry::one_line(&e.to_string()), "a log follower ends: the store cannot be read");
                        return None;
                    }
                };
                // Every line up to `scanned` was looked at: lines the filter skipped are not read again.
                f.r.query.after = Some(scanned);
                // A change of rights while it read: checked before anything read is sent.
                if !rows.is_empty() && !f.may_go_on(false).await {
                    return None;
                }
                if rows.is_empty() {
                    // Until this extension has new lines (or another node wrote), or POLL.
                    let poll_at = tokio::time::Instant::now() + POLL;
                    loop {
                        tokio::select! {
                            woke = tokio::time::timeout_at(poll_at, f.changed.changed()) => match woke {
                                Ok(Err(_)) => return None,
                                Err(_) => break,
                                Ok(Ok(())) if f.r.stamp() != stamp => break,
                                Ok(Ok(())) => {}
                            },
                            _ = f.stopping.wait_for(|s| *s) => return None,
                        }
                    }
                }
                f.ready.extend(rows);
            }
        })))
    }

    /// Where this extension's log stands ([`crate::logs::Logs::stamp`]).
    fn stamp(&self) -> (u64, u64) {
        self.state.logs.as_ref().map_or((0, 0), |l| l.stamp(self.extension_id))
    }

    /// Whether the caller may still read this log: its token or session is neither revoked nor
    /// expired, it still has the right, and the extension is still the one it began to follow.
    async fn still_allowed(&self) -> bool {
        let state = &self.state;
        let owner = match state.db.token_owner_by_id(self.who.token_id, crate::db::now_ms()).await {
            Ok(Some(owner)) => owner,
            _ => return false,
        };
        let kind = self.who.token_kind;
        let who =
            match super::account::principal(state, owner.user_id, owner.name, owner.is_admin, owner.token_id, kind)
                .await
            {
                Ok(who) => who,
                Err(_) => return false,
            };
        match state.db.extension(&self.name).await {
            Ok(Some(ext)) if ext.id == self.extension_id => may_read(state, &who, &ext).await.is_ok(),
            _ => false,
        }
    }
}

/// A follower's place: what it reads, the signals it waits on, the lines read and not yet sent,
/// and when its right was last checked.
struct Following {
    r: Reader,
    changed: tokio::sync::watch::Receiver<u64>,
    stopping: tokio::sync::watch::Receiver<bool>,
    ready: VecDeque<LogRow>,
    checked: Instant,
    /// The principals' cache generation at that check.
    generation: u64,
    /// Its place among this node's follows.
    _place: crate::logs::Follower,
}

impl Following {
    /// Whether the follow may go on: its reader's right is checked again when `due`, or when
    /// the principals' cache changed since the last check.
    async fn may_go_on(&mut self, due: bool) -> bool {
        let generation = self.r.state.auth_cache.generation();
        if !due && generation == self.generation {
            return true;
        }
        if !self.r.still_allowed().await {
            return false;
        }
        (self.checked, self.generation) = (Instant::now(), generation);
        true
    }
}

fn line(r: LogRow) -> ExtensionLogLine {
    ExtensionLogLine {
        id: r.id,
        version: r.version,
        action: r.action,
        level: crate::logs::level_name(r.level).to_string(),
        source: r.source,
        at: time(r.at),
        call_id: r.call_id,
        message: r.message,
    }
}

/// `GET /metrics`: the text format, for an administrator's bearer token, a scrape token an
/// administrator made, or the server's scrape token (`--metrics-token-file`).
pub(crate) async fn scrape(state: &AppState, token: &str) -> Result<String> {
    use sha2::Digest as _;
    let scrape_token = state.config.metrics_token.as_deref().is_some_and(|t| {
        // Compared as digests, so the comparison's time says nothing about the token.
        sha2::Sha256::digest(t.as_bytes()) == sha2::Sha256::digest(token.as_bytes())
    });
    if !scrape_token && !super::account::is_scrape_token(state, token).await? {
        let who = super::account::bearer(state, token).await?;
        if !who.admin {
            return Err(Error::Forbidden(
                "reading /metrics needs an administrator's token or a scrape token (POST /api/v1/metrics/tokens, the Service Center's Users page, or xif serve --metrics-token-file)"
                    .into(),
            ));
        }
    }
    let mut gauges = state.registry.gauges();
    if let Some(logs) = &state.logs {
        use std::sync::atomic::Ordering::Relaxed;
        gauges.log_lines = (logs.written.load(Relaxed), logs.dropped.load(Relaxed));
    }
    Ok(state.registry.metrics.render(&gauges))
}

/// One bar of the charts: some minutes of an extension's calls, on every node.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Minute {
    /// Its first minute, minutes since the epoch.
    pub minute: i64,
    /// Calls that ended in it.
    pub calls: u64,
    /// Of which failed.
    pub failures: u64,
    /// Their mean duration, ms (0 without calls).
    pub mean_ms: f64,
    /// Their median and 99th percentile duration, ms (from the duration buckets; 0 without).
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
}

/// The span the charts show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Span {
    /// The last hour, a bar per minute.
    #[default]
    Hour,
    /// The last 24 hours, a bar per 15 minutes.
    Day,
}

impl Span {
    /// (minutes in all, minutes per bar).
    pub fn minutes(self) -> (i64, i64) {
        match self {
            Span::Hour => (60, 1),
            Span::Day => (24 * 60, 15),
        }
    }
}

/// An extension's calls over a [`Span`] (oldest first, one entry per bar, the current one
/// last), its failures by kind over it, most first, and the median and 99th percentile of its
/// calls' durations over it. Counts hold no user data: whoever may see the extension may see
/// them.
pub(crate) struct Activity {
    pub span: Span,
    pub minutes: Vec<Minute>,
    pub failures: Vec<(String, u64)>,
    /// ms, none without calls.
    pub p50_ms: Option<f64>,
    /// ms, none without calls.
    pub p99_ms: Option<f64>,
}

/// [`Activity`] of the extension with id `extension_id`, from the database's calls per minute
/// (what each node added at its last flush).
pub(crate) async fn activity(state: &AppState, extension_id: i64, span: Span) -> Result<Activity> {
    use crate::metrics::{BUCKETS, quantile};
    let (minutes, per_bar) = span.minutes();
    let now = xif_store::now_ms() / 60_000;
    // Bars start at multiples of their width, the last one holding the current minute.
    let last = now - now.rem_euclid(per_bar);
    let first = last - (minutes / per_bar - 1) * per_bar;
    let rows = state.db.call_minutes(extension_id, first).await?;
    let durations = state.db.call_durations(extension_id, first).await?;
    let bars = (minutes / per_bar) as usize;
    let mut out: Vec<Minute> =
        (0..bars).map(|i| Minute { minute: first + i as i64 * per_bar, ..Minute::default() }).collect();
    let index = |minute: i64| usize::try_from((minute - first) / per_bar).ok().filter(|&i| i < bars);
    let mut kinds: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let mut micros = vec![0i64; bars];
    for r in rows {
        let Some(i) = index(r.minute) else { continue };
        let m = &mut out[i];
        let calls = u64::try_from(r.calls).unwrap_or(0);
        if r.outcome.is_empty() {
            m.calls += calls;
            micros[i] += r.micros;
            m.mean_ms = micros[i] as f64 / 1000.0 / m.calls.max(1) as f64;
        } else {
            m.failures += calls;
            *kinds.entry(r.outcome).or_default() += calls;
        }
    }
    let mut per_bar_buckets = vec![[0u64; BUCKETS.len() + 1]; bars];
    let mut all = [0u64; BUCKETS.len() + 1];
    for d in durations {
        let (Some(i), Ok(b)) = (index(d.minute), usize::try_from(d.bucket)) else { continue };
        if b > BUCKETS.len() {
            continue;
        }
        let n = u64::try_from(d.calls).unwrap_or(0);
        per_bar_buckets[i][b] += n;
        all[b] += n;
    }
    for (m, b) in out.iter_mut().zip(&per_bar_buckets) {
        m.p50_ms = quantile(0.5, b).unwrap_or(0.0) * 1000.0;
        m.p99_ms = quantile(0.99, b).unwrap_or(0.0) * 1000.0;
    }
    let mut failures: Vec<(String, u64)> = kinds.into_iter().collect();
    failures.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Activity {
        span,
        minutes: out,
        failures,
        p50_ms: quantile(0.5, &all).map(|s| s * 1000.0),
        p99_ms: quantile(0.99, &all).map(|s| s * 1000.0),
    })
}
