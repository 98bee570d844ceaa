//! What this node counts, and `GET /metrics` in the Prometheus text format (version 0.0.4).
//!
//! Counted on the call path with relaxed atomics only: no lock, allocation or database write per
//! call. Each loaded version has its [`VersionMetrics`] (one [`ActionMetrics`] per action of its
//! definition, made when the version is loaded), so every label comes from a name the server
//! defined: a call to an extension that is not live is counted under `extension="unknown"`, one
//! to an action its version lacks under `action="unknown"`, and no caller can grow the label set.
//! A version's counts outlive its replacement (a rollback to it counts on) and go with its
//! extension's deletion; with several nodes each node exports its own.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xif_model::Definition;

/// The upper bounds of the duration histograms' buckets, in seconds (`+Inf` follows).
pub const BUCKETS: [f64; 16] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A duration histogram of atomics: per bucket (not cumulative; `+Inf` last) and the sum.
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Counts one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = BUCKETS.partition_point(|b| *b < s);
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    /// The counts per bucket (not cumulative) and the sum in seconds.
    pub fn snapshot(&self) -> ([u64; BUCKETS.len() + 1], f64) {
        let counts = std::array::from_fn(|i| self.counts[i].load(Relaxed));
        (counts, self.sum_nanos.load(Relaxed) as f64 / 1e9)
    }
}

/// The kinds a failed call is counted under: the `error` of its answer (DESIGN.md), each a
/// fixed label value; any other is `other`.
pub const FAILURE_KINDS: [&str; 14] = [
    "action_failed",
    "trap",
    "timeout",
    "out_of_memory",
    "bad_input",
    "bad_json",
    "bad_output",
    "output_too_large",
    "too_large",
    "busy",
    "unknown_action",
    "not_found",
    "unavailable",
    "other",
];

fn failure_index(kind: &str) -> usize {
    FAILURE_KINDS.iter().position(|k| *k == kind).unwrap_or(FAILURE_KINDS.len() - 1)
}

/// One action's counts.
#[derive(Default)]
pub struct ActionMetrics {
    calls: AtomicU64,
    failures: [AtomicU64; FAILURE_KINDS.len()],
    duration: Histogram,
}

impl ActionMetrics {
    /// Counts a call that took `took` and failed with the error kind `failed` (none: it answered).
    pub fn record(&self, took: Duration, failed: Option<&str>) {
        self.calls.fetch_add(1, Relaxed);
        if let Some(kind) = failed {
            self.failures[failure_index(kind)].fetch_add(1, Relaxed);
        }
        self.duration.observe(took);
    }

    /// Calls counted so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Relaxed)
    }
}

/// One loaded version's counts: one [`ActionMetrics`] per action of its definition, in order,
/// plus one for the names it lacks.
pub struct VersionMetrics {
    extension: String,
    extension_id: i64,
    version: i64,
    actions: Vec<(String, ActionMetrics)>,
    unknown: ActionMetrics,
}

impl VersionMetrics {
    /// Counters for every action of `def`, all zero.
    pub fn new(extension: &str, extension_id: i64, version: i64, def: &Definition) -> VersionMetrics {
        VersionMetrics {
            extension: extension.to_string(),
            extension_id,
            version,
            actions: def.actions.iter().map(|a| (a.name.text.clone(), ActionMetrics::default())).collect(),
            unknown: ActionMetrics::default(),
        }
    }

    /// The counts of the action at `index` of the definition (out of range: the unknown one's).
    pub fn action(&self, index: Option<usize>) -> &ActionMetrics {
        index.and_then(|i| self.actions.get(i)).map_or(&self.unknown, |(_, m)| m)
    }
}

/// Publish outcomes, as the publish log spells them.
const PUBLISH_OUTCOMES: [&str; 2] = ["published", "failed"];

/// This node's counts.
#[derive(Default)]
pub struct Metrics {
    /// Every version loaded since the start, by (extension id, version).
    versions: Mutex<HashMap<(i64, i64), Arc<VersionMetrics>>>,
    /// Calls to an extension that is not live.
    unknown: ActionMetrics,
    publishes: [AtomicU64; PUBLISH_OUTCOMES.len()],
    publish_duration: Histogram,
    uploads: AtomicU64,
    upload_failures: AtomicU64,
    /// What [`Metrics::minute_deltas`] last saw, per (extension id, version, action index).
    flushed: Mutex<HashMap<(i64, i64, usize), Totals>>,
}

/// What [`Metrics::minute_deltas`] gives, for [`xif_store::Db::add_call_minutes`].
#[derive(Debug, Default)]
pub struct MinuteDeltas {
    /// Calls and their time, failures by kind.
    pub rows: Vec<xif_store::CallMinute>,
    /// Calls per duration bucket.
    pub durations: Vec<xif_store::CallDurations>,
}

/// The duration below which a share `q` (0.5, 0.99) of the calls counted in `buckets` (per
/// bucket of [`BUCKETS`], the last past them all) ended, in seconds, interpolated within its
/// bucket as Prometheus' `histogram_quantile` does; a quantile past the last bound is that bound.
/// None without calls.
pub fn quantile(q: f64, buckets: &[u64; BUCKETS.len() + 1]) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0u64;
    for (i, &n) in buckets.iter().enumerate() {
        if n > 0 && (seen + n) as f64 >= rank {
            let Some(&upper) = BUCKETS.get(i) else { return Some(BUCKETS[BUCKETS.len() - 1]) };
            let lower = if i == 0 { 0.0 } else { BUCKETS[i - 1] };
            return Some(lower + (upper - lower) * ((rank - seen as f64) / n as f64).clamp(0.0, 1.0));
        }
        seen += n;
    }
    Some(BUCKETS[BUCKETS.len() - 1])
}

/// An action's counts at one moment: calls, failures by kind, total duration in ns, calls per
/// duration bucket.
#[derive(Clone, Copy, Default)]
struct Totals {
    calls: u64,
    failures: [u64; FAILURE_KINDS.len()],
    nanos: u64,
    buckets: [u64; BUCKETS.len() + 1],
}

impl ActionMetrics {
    fn totals(&self) -> Totals {
        Totals {
            calls: self.calls.load(Relaxed),
            failures: std::array::from_fn(|i| self.failures[i].load(Relaxed)),
            nanos: self.duration.sum_nanos.load(Relaxed),
            buckets: std::array::from_fn(|i| self.duration.counts[i].load(Relaxed)),
        }
    }
}

impl Metrics {
    /// The counts of a version being activated: the ones it had if it was active before (a
    /// rollback counts on), else `fresh`, which is kept from now on.
    pub fn version(&self, fresh: Arc<VersionMetrics>) -> Arc<VersionMetrics> {
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        versions.entry((fresh.extension_id, fresh.version)).or_insert(fresh).clone()
    }

    /// Forgets the counts of a deleted extension.
    pub fn forget_extension(&self, extension_id: i64) {
        self.versions.lock().unwrap_or_else(|p| p.into_inner()).retain(|(id, _), _| *id != extension_id);
    }

    /// Forgets the counts of a deleted version.
    pub fn forget_version(&self, extension_id: i64, version: i64) {
        self.versions.lock().unwrap_or_else(|p| p.into_inner()).remove(&(extension_id, version));
    }

    /// Counts a call to an extension that is not live.
    pub fn unknown_call(&self, took: Duration, failed: Option<&str>) {
        self.unknown.record(took, failed);
    }

    /// Counts a publish or rollback that ended `outcome` (`published` or `failed`).
    pub fn publish(&self, outcome: &str, took: Duration) {
        let i = PUBLISH_OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(1);
        self.publishes[i].fetch_add(1, Relaxed);
        self.publish_duration.observe(took);
    }

    /// Counts an upload, stored or refused.
    pub fn upload(&self, stored: bool) {
        if stored { &self.uploads } else { &self.upload_failures }.fetch_add(1, Relaxed);
    }

    /// What every loaded version's actions counted since the last call, as rows of `minute`
    /// for [`xif_store::Db::add_call_minutes`] (a row `""` of all calls and their time, one per
    /// failure kind; and one per duration bucket that calls fell in); none for an action that
    /// was not called.
    pub fn minute_deltas(&self, minute: i64) -> MinuteDeltas {
        let versions: Vec<Arc<VersionMetrics>> =
            self.versions.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        let mut flushed = self.flushed.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen = std::collections::HashSet::new();
        let mut rows = Vec::new();
        let mut durations = Vec::new();
        for v in &versions {
            let unknown = ("unknown".to_string(), &v.unknown);
            let actions = v.actions.iter().map(|(n, m)| (n.clone(), m)).chain(std::iter::once(unknown));
            for (i, (action, m)) in actions.enumerate() {
                let key = (v.extension_id, v.version, i);
                seen.insert(key);
                let now = m.totals();
                let before = flushed.insert(key, now).unwrap_or_default();
                let calls = now.calls.saturating_sub(before.calls);
                if calls == 0 {
                    continue;
                }
                let row = |outcome: &str, calls: u64, nanos: u64| xif_store::CallMinute {
                    extension_id: v.extension_id,
                    version: v.version,
                    action: action.clone(),
                    minute,
                    outcome: outcome.to_string(),
                    calls: i64::try_from(calls).unwrap_or(i64::MAX),
                    micros: i64::try_from(nanos / 1000).unwrap_or(i64::MAX),
                };
                rows.push(row("", calls, now.nanos.saturating_sub(before.nanos)));
                for (k, kind) in FAILURE_KINDS.iter().enumerate() {
                    let n = now.failures[k].saturating_sub(before.failures[k]);
                    if n > 0 {
                        rows.push(row(kind, n, 0));
                    }
                }
                for (b, (now, before)) in now.buckets.iter().zip(before.buckets).enumerate() {
                    let n = now.saturating_sub(before);
                    if n > 0 {
                        durations.push(xif_store::CallDurations {
                            extension_id: v.extension_id,
                            version: v.version,
                            action: action.clone(),
                            minute,
                            bucket: b as i64,
                            calls: i64::try_from(n).unwrap_or(i64::MAX),
                        });
                    }
                }
            }
        }
        flushed.retain(|k, _| seen.contains(k));
        MinuteDeltas { rows, durations }
    }

    /// The text format of every count, with the gauges read now.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let mut versions: Vec<Arc<VersionMetrics>> =
            self.versions.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        versions.sort_by(|a, b| (&a.extension, a.version).cmp(&(&b.extension, b.version)));
        // Every action's series, then the unknown ones.
        let mut series: Vec<(String, &ActionMetrics)> = Vec::new();
        for v in &versions {
            let labels = |action: &str| {
                format!(
                    "extension=\"{}\",version=\"{}\",action=\"{}\"",
                    escape(&v.extension),
                    v.version,
                    escape(action)
                )
            };
            for (name, m) in &v.actions {
                series.push((labels(name), m));
            }
            if v.unknown.calls() > 0 {
                series.push((labels("unknown"), &v.unknown));
            }
        }
        if self.unknown.calls() > 0 {
            series.push(("extension=\"unknown\",version=\"unknown\",action=\"unknown\"".into(), &self.unknown));
        }

        header(&mut out, "xif_action_calls_total", "counter", "Calls of an action, answered or failed.");
        for (l, m) in &series {
            let _ = writeln!(out, "xif_action_calls_total{{{l}}} {}", m.calls());
        }
        header(
            &mut out,
            "xif_action_failures_total",
            "counter",
            "Failed calls of an action, by the error kind of the answer.",
        );
        for (l, m) in &series {
            for (i, kind) in FAILURE_KINDS.iter().enumerate() {
                let n = m.failures[i].load(Relaxed);
                if n > 0 {
                    let _ = writeln!(out, "xif_action_failures_total{{{l},kind=\"{kind}\"}} {n}");
                }
            }
        }
        header(
            &mut out,
            "xif_action_duration_seconds",
            "histogram",
            "How long calls of an action took, from the request to the answer.",
        );
        for (l, m) in &series {
            histogram(&mut out, "xif_action_duration_seconds", l, &m.duration);
        }

        header(&mut out, "xif_publishes_total", "counter", "Publishes and rollbacks, by outcome.");
        for (i, o) in PUBLISH_OUTCOMES.iter().enumerate() {
            let _ = writeln!(out, "xif_publishes_total{{outcome=\"{o}\"}} {}", self.publishes[i].load(Relaxed));
        }
        header(&mut out, "xif_publish_duration_seconds", "histogram", "How long publishes and rollbacks took.");
        histogram(&mut out, "xif_publish_duration_seconds", "", &self.publish_duration);
        header(&mut out, "xif_uploads_total", "counter", "Packages uploaded and stored.");
        let _ = writeln!(out, "xif_uploads_total {}", self.uploads.load(Relaxed));
        header(&mut out, "xif_upload_failures_total", "counter", "Uploads refused or failed.");
        let _ = writeln!(out, "xif_upload_failures_total {}", self.upload_failures.load(Relaxed));
        header(&mut out, "xif_log_lines_written_total", "counter", "Extension log lines written to the log store.");
        let _ = writeln!(out, "xif_log_lines_written_total {}", gauges.log_lines.0);
        header(
            &mut out,
            "xif_log_lines_dropped_total",
            "counter",
            "Extension log lines dropped because the log store fell behind.",
        );
        let _ = writeln!(out, "xif_log_lines_dropped_total {}", gauges.log_lines.1);

        header(&mut out, "xif_active_versions", "gauge", "Extensions with an active version loaded on this node.");
        let _ = writeln!(out, "xif_active_versions {}", gauges.active_versions);
        header(&mut out, "xif_call_slots_in_use", "gauge", "Calls running, per extension.");
        for (name, running, _) in &gauges.slots {
            let _ = writeln!(out, "xif_call_slots_in_use{{extension=\"{}\"}} {running}", escape(name));
        }
        header(&mut out, "xif_calls_queued", "gauge", "Calls waiting for a call slot, per extension.");
        for (name, _, queued) in &gauges.slots {
            let _ = writeln!(out, "xif_calls_queued{{extension=\"{}\"}} {queued}", escape(name));
        }
        out
    }
}

/// What is read at a scrape rather than counted.
pub struct Gauges {
    /// Live extensions.
    pub active_versions: usize,
    /// Per live extension: its name, calls running and calls waiting.
    pub slots: Vec<(String, u32, u32)>,
    /// Extension log lines written and dropped.
    pub log_lines: (u64, u64),
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let (counts, sum) = h.snapshot();
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0;
    for (i, n) in counts.iter().enumerate() {
        cumulative += n;
        let le = BUCKETS.get(i).map_or_else(|| "+Inf".to_string(), |b| b.to_string());
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}");
    }
    let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
    let _ = writeln!(out, "{name}_sum{braces} {sum}");
    let _ = writeln!(out, "{name}_count{braces} {cumulative}");
}

/// A label value as the text format writes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// How long the calls per minute are kept: 24 hours.
pub const MINUTES_KEPT: i64 = 24 * 60;

/// Adds this node's counts to the calls per minute in the database every
/// `Config::minutes_flush_interval`, for as long as the server's state lives.
pub fn spawn_flusher(state: &crate::state::AppState) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(&state.0);
    let every = state.config.minutes_flush_interval;
    let mut closing = state.closing.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = false;
        while !last {
            // Closing: the counts since the last tick, then the end.
            tokio::select! {
                _ = tick.tick() => {}
                _ = closing.wait_for(|c| *c) => last = true,
            }
            let Some(inner) = weak.upgrade() else { break };
            let state = crate::state::AppState(inner);
            let minute = xif_store::now_ms() / 60_000;
            let MinuteDeltas { rows, durations } = state.registry.metrics.minute_deltas(minute);
            if rows.is_empty() {
                continue;
            }
            if let Err(e) = state.db.add_call_minutes(&rows, &durations, minute - MINUTES_KEPT).await {
                // These counts are lost for the charts; /metrics still has them.
                tracing::warn!(error = %e, rows = rows.len(), "could not add the calls per minute");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observation_lands_in_the_first_bucket_that_holds_it() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let (counts, sum) = h.snapshot();
        assert_eq!(counts[0], 1, "100 µs is ≤ 0.0001 s");
        assert_eq!(counts[BUCKETS.iter().position(|b| *b == 0.005).unwrap()], 1);
        assert_eq!(counts[BUCKETS.len()], 1, "a minute is only under +Inf");
        assert!((sum - 60.0031).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn quantiles_interpolate_within_their_bucket() {
        let mut b = [0u64; BUCKETS.len() + 1];
        assert_eq!(quantile(0.5, &b), None);
        // 10 calls between 1 and 2.5 ms (bucket 4), 10 between 5 and 10 ms (bucket 6).
        b[4] = 10;
        b[6] = 10;
        let p50 = quantile(0.5, &b).expect("calls");
        assert!((p50 - 0.0025).abs() < 1e-12, "{p50}");
        let p99 = quantile(0.99, &b).expect("calls");
        assert!((p99 - (0.005 + 0.005 * 0.98)).abs() < 1e-12, "{p99}");
        b[BUCKETS.len()] = 100;
        assert_eq!(quantile(0.99, &b), Some(10.0), "past the last bound: the bound");
    }

    #[test]
    fn an_unknown_failure_kind_is_counted_as_other() {
        let m = ActionMetrics::default();
        m.record(Duration::ZERO, Some("made_up"));
        assert_eq!(m.failures[FAILURE_KINDS.len() - 1].load(Relaxed), 1);
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn minute_deltas_give_what_was_counted_since_the_last_flush_once() {
        let def = xif_model::parse("[extension]\nname = \"Ext\"\n[actions.A]\n[actions.B]\n").0.expect("parses");
        let m = Metrics::default();
        let v = m.version(Arc::new(VersionMetrics::new("Ext", 7, 2, &def)));
        v.action(Some(0)).record(Duration::from_millis(2), None);
        v.action(Some(0)).record(Duration::from_millis(4), Some("timeout"));
        let MinuteDeltas { rows, durations } = m.minute_deltas(100);
        let got: Vec<(&str, &str, i64, i64)> =
            rows.iter().map(|r| (r.action.as_str(), r.outcome.as_str(), r.calls, r.micros)).collect();
        assert_eq!(got, [("A", "", 2, 6000), ("A", "timeout", 1, 0)]);
        assert!(rows.iter().all(|r| (r.extension_id, r.version, r.minute) == (7, 2, 100)));
        // 2 ms in the bucket up to 2.5 ms (index 4), 4 ms in the one up to 5 ms (index 5).
        let got: Vec<(&str, i64, i64)> = durations.iter().map(|d| (d.action.as_str(), d.bucket, d.calls)).collect();
        assert_eq!(got, [("A", 4, 1), ("A", 5, 1)]);
        let again = m.minute_deltas(101);
        assert!(again.rows.is_empty() && again.durations.is_empty(), "nothing new, nothing to add");
        v.action(None).record(Duration::from_millis(1), Some("unknown_action"));
        let rows = m.minute_deltas(101).rows;
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].action.as_str(), rows[0].calls), ("unknown", 1));
    }
}
