//! The 1-Click Publish: Verify → Update Source Code → Compile → Save → Upload → Publish, each
//! reported as DESIGN.md's events (`{"step","status","ms","message","diagnostics"}`) to a callback,
//! stopping at the first step that fails.
//!
//! The server's own publish stages arrive as events of step `publish` with a `stage` field
//! (`validate`, `permissions`, `compile`, `contract`, `entities`, `activate`). The unchanged fast
//! path: when the package's digest is the version already active on the server, Upload and
//! Publish report `unchanged` and nothing is sent. When the server stores that digest as another,
//! inactive version, Upload reports `unchanged` and Publish publishes that version.
//!
//! A run is one call of [`run`] with no state kept between runs, so a caller can offer to run it
//! again after a failure (Verify Again) by calling it again.
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use xif_build::Project;
use xif_build::compile::{CompileOptions, CompileStatus};

use crate::client::Client;

/// The six steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Check the definition and the folder.
    Verify,
    /// Regenerate the bindings, stub new actions.
    UpdateSource,
    /// Rust → wasm → component (skipped when nothing changed).
    Compile,
    /// Pack the `.xif`.
    Save,
    /// Send it to the server.
    Upload,
    /// The server publishes it.
    Publish,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 6] =
        [Step::Verify, Step::UpdateSource, Step::Compile, Step::Save, Step::Upload, Step::Publish];

    /// The name people read: `Update Source Code`.
    pub fn title(self) -> &'static str {
        match self {
            Step::Verify => "Verify",
            Step::UpdateSource => "Update Source Code",
            Step::Compile => "Compile",
            Step::Save => "Save",
            Step::Upload => "Upload",
            Step::Publish => "Publish",
        }
    }
}

/// How a step is going: the spelling of the server's stage events (the wire type), for the
/// client's six steps too.
pub use xif_wire::Status;

/// One event (DESIGN.md's schema; `stage` only for the server's stages within Publish).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// The step.
    pub step: Step,
    /// The server's stage, for events inside Publish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// How it is going.
    pub status: Status,
    /// Milliseconds the step took (0 when it starts).
    pub ms: u64,
    /// What happened, in one line (or the compiler's output, for a failed Compile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Verify's diagnostics: `{severity, code, message, file, line, column, help}`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Value>,
    /// The full text for people (diagnostics rendered with their source lines), when it says
    /// more than `message`.
    #[serde(skip)]
    pub detail: Option<String>,
}

/// What the callback sees.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A step or stage event.
    Event(&'a Event),
    /// Upload progress: bytes sent of the total.
    Upload {
        /// Sent so far.
        sent: u64,
        /// The package size.
        total: u64,
    },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The extension folder.
    pub dir: PathBuf,
    /// Cargo's target folder for Compile.
    pub target_dir: Option<PathBuf>,
    /// The `xif` binary, as Compile's rustc wrapper.
    pub rustc_wrapper: Option<PathBuf>,
    /// Stop after Upload (`xif upload`).
    pub upload_only: bool,
    /// Make entity changes that would otherwise be refused (`xif publish --force-schema`).
    pub force_schema: bool,
    /// Publish changes that break the active version's callers (`xif publish --allow-breaking`).
    pub allow_breaking: bool,
    /// Roll the version out gradually beside the active one (`xif publish --gradual N`).
    pub gradual: Option<crate::client::Gradual>,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The extension (empty when its definition could not be read).
    pub extension: String,
    /// The version uploaded (and published).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The package digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The Service Center page of the extension.
    pub url: String,
    /// Milliseconds, end to end.
    pub ms: u64,
    /// Warnings (never blocking).
    pub warnings: Vec<String>,
    /// Whether the server already had this package active (nothing was sent).
    pub unchanged: bool,
    /// The step that failed, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<Step>,
    /// `published`, `uploaded` or `failed`.
    pub outcome: &'static str,
}

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

struct Run<'a> {
    on: &'a mut dyn FnMut(Progress<'_>),
    step: Step,
    started: Instant,
}

impl Run<'_> {
    fn start(&mut self, step: Step) {
        self.step = step;
        self.started = Instant::now();
        self.emit(Event {
            step,
            stage: None,
            status: Status::Started,
            ms: 0,
            message: None,
            diagnostics: Vec::new(),
            detail: None,
        });
    }

    fn emit(&mut self, e: Event) {
        (self.on)(Progress::Event(&e));
    }

    fn end(&mut self, status: Status, message: impl Into<String>) {
        self.end_with(status, message.into(), Vec::new(), None);
    }

    fn end_with(&mut self, status: Status, message: String, diagnostics: Vec<Value>, detail: Option<String>) {
        let e = Event {
            step: self.step,
            stage: None,
            status,
            ms: ms(self.started),
            message: Some(message),
            diagnostics,
            detail,
        };
        self.emit(e);
    }
}

/// Runs the 1-Click Publish (or, with `upload_only`, steps 1 to 5) of the extension in
/// `opts.dir` to `client`'s server; `on` sees every event as it happens.
pub async fn run(opts: &Options, client: &Client, on: &mut dyn FnMut(Progress<'_>)) -> Summary {
    let begun = Instant::now();
    let mut r = Run { on, step: Step::Verify, started: begun };
    let mut summary = Summary {
        extension: String::new(),
        version: None,
        digest: None,
        url: String::new(),
        ms: 0,
        warnings: Vec::new(),
        unchanged: false,
        failed: None,
        outcome: "failed",
    };
    let result = steps(opts, client, &mut r, &mut summary).await;
    summary.ms = ms(begun);
    match result {
        Ok(()) => {
            summary.outcome = match (opts.upload_only, opts.gradual) {
                (true, _) => "uploaded",
                (false, Some(_)) if !summary.unchanged => "rolling_out",
                (false, _) => "published",
            }
        }
        Err(Failed) => summary.failed = Some(r.step),
    }
    summary
}

/// The definition of the version active on the server: its number and `extension.toml` text,
/// parsed. `None` when it cannot be had (not published yet, no access, offline): Publish checks
/// again on the server in any case.
async fn active_definition(client: &Client, project: &Project) -> Option<(i64, String, xif_model::Definition)> {
    let versions = client.versions(project.name()).await.ok()?;
    let active = versions.iter().find(|v| v.active)?;
    let bytes = client.package(project.name(), active.version).await.ok()?;
    let package = xif_package::read(&bytes, &xif_package::Limits::default()).ok()?;
    let source = String::from_utf8(package.definition).ok()?;
    let old = xif_model::parse(&source).0?;
    Some((active.version, source, old))
}

/// The changes of the folder's definition that break what callers of the active version `n`
/// (`old`, from `old_source`) rely on, each on one line as the server's callers stage words
/// it: `extension.toml[ of version N]:L:C: breaking: MESSAGE; callers: WHAT THEY SEE`. Empty
/// when no change is breaking.
fn breaking_lines(n: i64, old_source: &str, old: &xif_model::Definition, project: &Project) -> Vec<String> {
    let (Some(new), new_source) = (project.definition.as_ref(), &project.source) else { return Vec::new() };
    let changes = xif_model::api::diff(old, new);
    if !changes.iter().any(|c| c.breaking) {
        return Vec::new();
    }
    changes
        .iter()
        .map(|c| {
            let file = if c.in_old { format!("extension.toml of version {n}") } else { "extension.toml".into() };
            let place = match c.location(old_source, new_source) {
                Some((line, col)) => format!("{file}:{line}:{col}"),
                None => file,
            };
            let class = if c.breaking { "breaking" } else { "compatible" };
            format!("{place}: {class}: {}; callers: {}", c.message, c.caller)
        })
        .collect()
}

/// A step failed (its event says why).
struct Failed;

async fn steps(opts: &Options, client: &Client, r: &mut Run<'_>, summary: &mut Summary) -> Result<(), Failed> {
    // 1. Verify.
    r.start(Step::Verify);
    let project = match Project::open(&opts.dir) {
        Ok(p) => p,
        Err(e) => {
            r.end(Status::Failed, e.to_string());
            return Err(Failed);
        }
    };
    summary.extension = project.name().to_string();
    summary.url = client.service_center_url(project.name());
    // Stubs and actions without code are errors here: a publish never puts them live.
    let report = xif_build::verify::verify_for_publish(&project);
    let diagnostics = project.diagnostics_json(&report.diagnostics);
    let detail = (!report.diagnostics.is_empty()).then(|| project.render(&report.diagnostics));
    summary
        .warnings
        .extend(report.diagnostics.iter().filter(|d| !d.is_error()).map(|d| format!("{}: {}", d.code, d.message)));
    if !report.ok() {
        r.end_with(Status::Failed, report.count_line(), diagnostics, detail);
        return Err(Failed);
    }
    // Against the version active on the server (the server checks again at Publish in any
    // case): an entity change that would lose data, and a change that breaks its callers.
    let active =
        if opts.force_schema && opts.allow_breaking { None } else { active_definition(client, &project).await };
    if let Some((number, old_source, old)) = &active {
        let new_def = project.definition.as_ref();
        let refused = match new_def {
            Some(new) if !opts.force_schema && !new.entities.is_empty() => xif_model::schema::check_against(old, new),
            _ => Vec::new(),
        };
        if !refused.is_empty() {
            let mut all = report.diagnostics.clone();
            all.extend(refused.iter().cloned());
            r.end_with(
                Status::Failed,
                format!(
                    "{} (entity changes against the version active on {})",
                    xif_model::diag::count_line(&all),
                    client.url
                ),
                project.diagnostics_json(&all),
                Some(format!(
                    "{}\nThe server keeps records of these entities; publish such a change anyway with --force-schema.",
                    project.render(&all)
                )),
            );
            return Err(Failed);
        }
        let lines = if opts.allow_breaking { Vec::new() } else { breaking_lines(*number, old_source, old, &project) };
        if !lines.is_empty() {
            let breaking = lines.iter().filter(|l| l.contains(": breaking: ")).count();
            r.end_with(
                Status::Failed,
                format!(
                    "{breaking} change(s) break what callers of version {number} on {} rely on:\n{}",
                    client.url,
                    lines.join("\n")
                ),
                diagnostics,
                Some(format!(
                    "{}\nPublish it anyway with --allow-breaking once its callers are ready.",
                    lines.join("\n")
                )),
            );
            return Err(Failed);
        }
    }
    r.end_with(Status::Finished, report.count_line(), diagnostics, detail);

    // 2. Update Source Code.
    r.start(Step::UpdateSource);
    let update = match xif_build::update_source::update_source(&project) {
        Ok(u) => u,
        Err(e) => {
            r.end(Status::Failed, e.to_string());
            return Err(Failed);
        }
    };
    let mut notes = Vec::new();
    for f in &update.orphans {
        notes.push(format!("{f} implements no action of the definition (left as it is)"));
    }
    for (action, file, sig) in &update.changed_signatures {
        notes.push(format!("the signature of action {action} changed; {file} must now read: {sig} {{ … }}"));
    }
    summary.warnings.extend(notes.iter().cloned());
    let message = if update.written.is_empty() && update.stubs.is_empty() {
        "bindings up to date".to_string()
    } else {
        let files = match update.written.len() {
            1 => "1 file written".to_string(),
            n => format!("{n} files written"),
        };
        match update.stubs.len() {
            0 => files,
            1 => format!("{files}, 1 stub for a new action"),
            n => format!("{files}, {n} stubs for new actions"),
        }
    };
    let detail = (!notes.is_empty() || !update.stubs.is_empty()).then(|| {
        update
            .stubs
            .iter()
            .map(|s| format!("stubbed {s} (a new action: implement it)"))
            .chain(notes)
            .collect::<Vec<_>>()
            .join("\n")
    });
    r.end_with(
        if update.written.is_empty() && update.stubs.is_empty() { Status::Unchanged } else { Status::Finished },
        message,
        Vec::new(),
        detail,
    );

    // 3. Compile.
    r.start(Step::Compile);
    let copts = CompileOptions {
        target_dir: opts.target_dir.clone(),
        force: false,
        stream_output: false,
        rustc_wrapper: opts.rustc_wrapper.clone(),
    };
    let project_for_build = match Project::open(&opts.dir) {
        Ok(p) => p,
        Err(e) => {
            r.end(Status::Failed, e.to_string());
            return Err(Failed);
        }
    };
    // The only task of the run: blocking here holds up nothing else.
    let compiled = xif_build::compile::compile(&project_for_build, &copts);
    match compiled {
        Ok(c) if c.status == CompileStatus::Unchanged => r.end(Status::Skipped, "nothing that feeds it changed"),
        Ok(c) => r.end(Status::Finished, format!("component of {} bytes", c.size)),
        Err(e) => {
            r.end(Status::Failed, e.to_string());
            return Err(Failed);
        }
    }

    // 4. Save.
    r.start(Step::Save);
    let saved = match xif_build::save::save(&project_for_build, &xif_build::save::SaveOptions { output: None }) {
        Ok(s) => s,
        Err(e) => {
            r.end(Status::Failed, e.to_string());
            return Err(Failed);
        }
    };
    summary.digest = Some(saved.digest.clone());
    let file = saved.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    r.end(Status::Finished, format!("{file} ({} bytes, sha256:{})", saved.size, saved.digest));

    // 5. Upload, unless this package is already the active version there.
    r.start(Step::Upload);
    let name = project.name().to_string();
    let versions = match client.versions(&name).await {
        Ok(v) => v,
        Err(e) => {
            r.end(Status::Failed, e.to_string());
            return Err(Failed);
        }
    };
    if let Some(active) = versions.iter().find(|v| v.active && v.digest == saved.digest) {
        summary.version = Some(active.version);
        summary.unchanged = true;
        r.end(Status::Unchanged, format!("version {} on {} already has this digest", active.version, client.url));
        if !opts.upload_only {
            r.start(Step::Publish);
            r.end(Status::Unchanged, format!("version {} is already active", active.version));
        }
        return Ok(());
    }
    // A version with this digest but not active: the server has the bytes, publish that one.
    if let Some(stored) = versions.iter().find(|v| v.digest == saved.digest) {
        summary.version = Some(stored.version);
        r.end(Status::Unchanged, format!("version {} on {} already has this digest", stored.version, client.url));
        if opts.upload_only {
            return Ok(());
        }
        return publish_step(client, r, summary, &name, stored.version, consent(opts)).await;
    }
    let total = saved.size;
    let sent = Arc::new(AtomicU64::new(0));
    let upload = client.upload(&name, saved.bytes, sent.clone());
    tokio::pin!(upload);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let uploaded = loop {
        tokio::select! {
            done = &mut upload => break done,
            _ = tick.tick() => (r.on)(Progress::Upload { sent: sent.load(Ordering::Relaxed).min(total), total }),
        }
    };
    (r.on)(Progress::Upload { sent: sent.load(Ordering::Relaxed).min(total), total });
    let uploaded = match uploaded {
        Ok(u) => u,
        Err(e) => {
            r.end(Status::Failed, e.to_string());
            return Err(Failed);
        }
    };
    summary.version = Some(uploaded.version);
    let how = if uploaded.created { "a new version" } else { "uploaded before" };
    r.end(Status::Finished, format!("version {} ({how}; {total} bytes)", uploaded.version));
    if opts.upload_only {
        return Ok(());
    }

    publish_step(client, r, summary, &name, uploaded.version, consent(opts)).await
}

fn consent(opts: &Options) -> crate::client::Consent {
    crate::client::Consent {
        force_schema: opts.force_schema,
        allow_breaking: opts.allow_breaking,
        gradual: if opts.upload_only { None } else { opts.gradual },
    }
}

/// 6. Publish, with the server's stages as they stream.
async fn publish_step(
    client: &Client,
    r: &mut Run<'_>,
    summary: &mut Summary,
    name: &str,
    version: i64,
    consent: crate::client::Consent,
) -> Result<(), Failed> {
    r.start(Step::Publish);
    let published = {
        let on = &mut *r.on;
        let mut forward = |s: &xif_wire::StepEvent| {
            let e = Event {
                step: Step::Publish,
                stage: Some(s.step.clone()),
                status: s.status,
                ms: s.ms,
                message: s.message.clone(),
                diagnostics: Vec::new(),
                detail: None,
            };
            on(Progress::Event(&e));
        };
        let answer = client.publish(name, version, false, consent, &mut forward).await;
        // The server refuses an unpermitted publish before running any stage (a plain 403):
        // shown as its permissions stage failing, as when the stage itself refuses.
        if let Err(crate::client::ClientError::Http { status: 403, message, .. }) = &answer {
            let stage = xif_wire::StepEvent {
                step: "permissions".into(),
                status: Status::Failed,
                ms: 0,
                message: Some(message.clone()),
            };
            forward(&stage);
        }
        answer
    };
    match published {
        Ok(s) => match s.error_message() {
            None => {
                let new: Vec<String> = s
                    .warnings
                    .iter()
                    .filter(|w| !summary.warnings.iter().any(|x| w.contains(x.as_str())))
                    .cloned()
                    .collect();
                summary.warnings.extend(new);
                let done = match (s.outcome, consent.gradual) {
                    (xif_wire::PublishOutcome::RollingOut, Some(g)) => format!(
                        "version {} takes {}% of calls on {}, the active version the rest (move it on: xif rollout {name} 50|100, or xif rollout {name} abort)",
                        s.version, g.percent, client.url
                    ),
                    _ => format!("version {} is active on {}", s.version, client.url),
                };
                r.end(Status::Finished, done);
                Ok(())
            }
            Some(message) => {
                r.end(Status::Failed, message);
                Err(Failed)
            }
        },
        Err(e) => {
            r.end(Status::Failed, e.to_string());
            Err(Failed)
        }
    }
}
