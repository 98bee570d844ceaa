//! Publishing a version (and rolling back to one): validate → permissions → compile → check
//! the contract → entities → activate. Each stage reports `{"step","status","ms","message"}`;
//! the whole writes one entry of the publish log.
//!
//! **Architecture Invariant:** nothing users see changes before the last stage: the database
//! switches the active version in one transaction, then the registry swaps one `Arc`. A publish
//! that fails at any stage leaves the active version as it was.
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use xif_model::Definition;
use xif_runtime::{Loadable, RuntimeError};

use crate::auth::{Permission, Principal, check_publish};
use crate::db::{NewPublish, VersionFacts, now_ms};
use crate::error::AppError;
use crate::registry::{ExtensionSettings, Live, one_line};
use crate::state::AppState;

/// The stage events and the summary are the wire types, shared with the client: [`Kind`] says
/// publish or rollback (re-activating an older version; logged as such), [`Status`] how a stage is
/// going, [`StepEvent`] one progress event, [`Summary`] the outcome (the last event,
/// `{"summary": ...}`, and the log entry).
pub use xif_wire::{PublishKind as Kind, PublishOutcome, Status, StepEvent, Summary};

/// What [`run_with`] returns.
pub struct Outcome {
    /// Every event, in order.
    pub steps: Vec<StepEvent>,
    /// The summary.
    pub summary: Summary,
    /// The error that stopped it.
    pub error: Option<AppError>,
}

/// Records and forwards events.
struct Progress {
    steps: Vec<StepEvent>,
    events: Option<mpsc::UnboundedSender<StepEvent>>,
    current: Option<(&'static str, Instant)>,
}

impl Progress {
    fn send(&mut self, e: StepEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e.clone());
        }
        self.steps.push(e);
    }

    fn start(&mut self, step: &'static str) {
        self.current = Some((step, Instant::now()));
        self.send(StepEvent { step: step.into(), status: Status::Started, ms: 0, message: None });
    }

    fn end(&mut self, status: Status, message: impl Into<String>) {
        if let Some((step, started)) = self.current.take() {
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.send(StepEvent { step: step.into(), status, ms, message: Some(message.into()) });
        }
    }

    fn fail(&mut self, e: &AppError) {
        self.end(Status::Failed, e.public_message());
    }
}

/// Choices of one publish beyond its version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Make entity schema changes that would otherwise be refused (narrowing, an incompatible
    /// type, a different identifier); no stored value is changed or dropped by them.
    pub force: bool,
    /// Publish changes that break the active version's callers (`xif_model::api`).
    pub allow_breaking: bool,
    /// Roll the version out gradually beside the active one rather than activating it.
    pub gradual: Option<Gradual>,
}

impl From<&xif_wire::PublishQuery> for Options {
    fn from(q: &xif_wire::PublishQuery) -> Options {
        Options {
            force: q.force.unwrap_or(false),
            allow_breaking: q.allow_breaking.unwrap_or(false),
            gradual: q.gradual.map(|percent| Gradual {
                percent,
                per_caller: q.per_caller.unwrap_or(false),
                guard: q.guard.unwrap_or(true),
            }),
        }
    }
}

/// How a gradual rollout begins (`?gradual=N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gradual {
    /// The new version's share of calls, 1 to 99.
    pub percent: u32,
    /// Chosen per caller rather than per call.
    pub per_caller: bool,
    /// The error-rate guard may abort it.
    pub guard: bool,
}

impl Gradual {
    /// How the split chooses, in words.
    pub fn describe(per_caller: bool, guard: bool) -> String {
        format!(
            "chosen {}; error-rate guard {}",
            if per_caller { "per caller" } else { "per call" },
            if guard { "on" } else { "off" }
        )
    }
}

/// What publishing needs (DESIGN.md's permissions), judged from what the server stored about the
/// version ([`VersionFacts`]): the same rule and messages as [`check_publish`], without reading
/// the package.
pub fn check_publish_facts(who: &Principal, name: &str, entities: &[String]) -> Result<(), AppError> {
    if who.has(Permission::ChangeAndDeployApplications) {
        return Ok(());
    }
    let mut missing = Vec::new();
    if !who.has(Permission::AllowExtensions) {
        missing.push(format!(
            "missing permission \"{}\": publishing extension {name} needs it (or \"{}\")",
            Permission::AllowExtensions.name(),
            Permission::ChangeAndDeployApplications.name()
        ));
    }
    if !entities.is_empty() && !who.has(Permission::AllowForeignEntities) {
        missing.push(format!(
            "missing permission \"{}\": extension {name} exports entities ({})",
            Permission::AllowForeignEntities.name(),
            entities.join(", ")
        ));
    }
    if missing.is_empty() { Ok(()) } else { Err(AppError::Forbidden(missing.join("; "))) }
}

/// The permission check that comes before anything else of a publish or rollback: it takes no
/// lock, reads no package and writes no publish-log row. A user holding no publish permission is
/// refused at once; one with "Allow Extensions" is judged by the version's stored facts (whether
/// it exports entities). Unknown extensions and versions pass (the stages answer 404); the
/// permissions stage checks the definition itself again.
pub async fn authorize(state: &AppState, who: &Principal, name: &str, number: i64) -> Result<(), AppError> {
    if who.has(Permission::ChangeAndDeployApplications) {
        return Ok(());
    }
    let facts = match state.db.extension(name).await? {
        Some(ext) => state.db.version_facts(ext.id, number).await?.map(|f| (ext.name, f)),
        None => None,
    };
    match facts {
        Some((ext_name, facts)) => check_publish_facts(who, &ext_name, &facts.entities),
        None => check_publish_facts(who, name, &[]),
    }
}

/// Awaits [`Config::publish_stage_hook`](crate::Config), then starts the stage.
async fn start(state: &AppState, p: &mut Progress, extension: &str, step: &'static str) {
    if let Some(hook) = &state.config.publish_stage_hook
        && let Some(wait) = hook(extension, step)
    {
        wait.await;
    }
    p.start(step);
}

/// Runs a publish or rollback of version `number` of `name` for `who`, with [`Options`].
/// Publishes of one extension are serialized by its lock; the function never panics on bad
/// packages.
pub async fn run_with(
    state: AppState,
    who: Arc<Principal>,
    name: String,
    number: i64,
    kind: Kind,
    events: Option<mpsc::UnboundedSender<StepEvent>>,
    options: Options,
) -> Outcome {
    let started = Instant::now();
    let started_at = now_ms();
    // Permissions first: a refusal takes no lock, reads no package and logs nothing.
    let refused = authorize(&state, &who, &name, number).await.err().map(|e| ("permissions", e));
    // Unknown names get no lock (the map of locks only holds extensions that exist).
    let mut refused = match refused {
        Some(r) => Some(r),
        None => match state.db.extension(&name).await {
            Ok(None) => Some(("validate", AppError::NotFound(format!("there is no extension named {name}")))),
            Err(e) => Some(("validate", e.into())),
            Ok(Some(_)) => None,
        },
    };
    // Serialized with every other publish, upload and deletion of the extension, on every node.
    let mut _serialized = None;
    if refused.is_none() {
        match state.lock_extension(&name).await {
            Ok(guard) => _serialized = Some(guard),
            Err(e) => refused = Some(("validate", e)),
        }
    }
    if let Some((step, e)) = refused {
        let mut p = Progress { steps: Vec::new(), events, current: None };
        p.start(step);
        p.fail(&e);
        let summary = Summary {
            url: format!("/api/v1/extensions/{name}"),
            extension: name,
            version: number,
            digest: String::new(),
            kind,
            outcome: PublishOutcome::Failed,
            ms: 0,
            warnings: Vec::new(),
            error: Some(xif_wire::ErrorBody::new(e.kind(), e.public_message())),
        };
        state.registry.metrics.publish("failed", started.elapsed());
        return Outcome { steps: p.steps, summary, error: Some(e) };
    }
    let mut p = Progress { steps: Vec::new(), events, current: None };
    let mut facts = Facts { extension: name.clone(), digest: String::new(), warnings: Vec::new() };
    let done = if options.gradual.is_some() { PublishOutcome::RollingOut } else { PublishOutcome::Published };
    let result = stages(&state, &who, number, kind, options, &mut p, &mut facts, started_at, started).await;
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let error = result.err();
    if error.is_none() {
        crate::cluster::announce(&state, crate::cluster::Change::Extension(facts.extension.clone())).await;
    }
    if let Some(e) = &error {
        p.fail(e);
        let log = NewPublish {
            extension: &facts.extension,
            version: number,
            digest: &facts.digest,
            kind: kind.as_str(),
            user_name: &who.name,
            started_at,
            ms: i64::try_from(ms).unwrap_or(i64::MAX),
            outcome: "failed",
            message: Some(&e.public_message()),
            stages: serde_json::to_string(&p.steps).unwrap_or_else(|_| "[]".into()),
            warnings: serde_json::to_string(&facts.warnings).unwrap_or_else(|_| "[]".into()),
        };
        if let Err(log_error) = state.db.log_publish(&log).await {
            tracing::error!(error = %log_error, "could not write the publish log");
        }
        tracing::warn!(
            extension = %one_line(&facts.extension),
            version = number,
            by = %one_line(&who.name),
            error = %one_line(&e.to_string()),
            "{} failed",
            kind.as_str()
        );
    } else {
        tracing::info!(extension = %facts.extension, version = number, by = %one_line(&who.name), ms, "{}ed", kind.as_str());
    }
    let summary = Summary {
        url: format!("/api/v1/extensions/{}", facts.extension),
        extension: facts.extension,
        version: number,
        digest: facts.digest,
        kind,
        outcome: if error.is_none() { done } else { PublishOutcome::Failed },
        ms,
        warnings: facts.warnings,
        error: error.as_ref().map(|e| xif_wire::ErrorBody::new(e.kind(), e.public_message())),
    };
    state.registry.metrics.publish(if error.is_none() { "published" } else { "failed" }, started.elapsed());
    Outcome { steps: p.steps, summary, error }
}

/// What the stages learn along the way, for the summary and the log.
struct Facts {
    extension: String,
    digest: String,
    warnings: Vec<String>,
}

#[allow(clippy::too_many_arguments, reason = "one call site; the parts of one publish")]
async fn stages(
    state: &AppState,
    who: &Principal,
    number: i64,
    kind: Kind,
    options: Options,
    p: &mut Progress,
    facts: &mut Facts,
    started_at: i64,
    started: Instant,
) -> Result<(), AppError> {
    // Validate: the stored package, read again by the hardened reader, and its definition.
    start(state, p, &facts.extension, "validate").await;
    let ext = state
        .db
        .extension(&facts.extension)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no extension named {}", facts.extension)))?;
    facts.extension = ext.name.clone();
    let version = state.db.version(ext.id, number).await?.ok_or_else(|| {
        AppError::NotFound(format!("extension {} has no version {number} (upload it first)", ext.name))
    })?;
    facts.digest = version.digest.clone();
    let package = stored_package(state, &version.digest, &format!("version {number}")).await?;
    let (def, warnings) = definition(&package)?;
    if def.name.text != ext.name {
        return Err(AppError::bad(
            "bad_package",
            format!("the package defines extension {}, not {}", def.name.text, ext.name),
        ));
    }
    facts.warnings = warnings;
    if let Some(r) = ext.rollout() {
        return Err(AppError::Conflict(format!(
            "version {} of {} is rolling out at {}%: move it to 100% (xif rollout {} 100) or abort it (xif rollout {} abort) before another {}",
            r.version,
            ext.name,
            r.percent,
            ext.name,
            ext.name,
            kind.as_str()
        )));
    }
    // A rollout shares the calls with the active version (loaded after the permissions).
    let share_with = match options.gradual {
        None => None,
        Some(_) if kind != Kind::Publish => {
            return Err(AppError::bad(
                "bad_request",
                format!("a {} takes every call at once: only a publish rolls out gradually", kind.as_str()),
            ));
        }
        Some(g) => Some(gradual_partner(&ext, number, g)?),
    };
    if state.db.version_facts(ext.id, number).await?.is_none() {
        state.db.set_version_facts(ext.id, number, &VersionFacts::of(&def)).await?;
    }
    p.end(
        Status::Finished,
        format!("{} version {number} ({} action(s), {} warning(s))", ext.name, def.actions.len(), facts.warnings.len()),
    );

    start(state, p, &facts.extension, "permissions").await;
    check_publish(who, &def)?;
    refuse_stubs(&package, &def)?;
    p.end(Status::Finished, format!("{} may publish {}", who.name, ext.name));
    let share_with = match share_with {
        Some(active) => Some(serving(state, &ext, active).await?),
        None => None,
    };

    // The callable surface against the active version: breaking changes need consent.
    if kind == Kind::Publish
        && let Some(active) = ext.active_version.filter(|&a| a != number)
    {
        start(state, p, &facts.extension, "callers").await;
        let message = callers_stage(state, &ext, active, number, &package, &def, options.allow_breaking).await?;
        p.end(
            if message.is_none() { Status::Unchanged } else { Status::Finished },
            message.unwrap_or_else(|| format!("what callers of version {active} see is unchanged")),
        );
    }

    // Compile to native code, or take it from the cache.
    start(state, p, &facts.extension, "compile").await;
    let compat = state.runtime.compatibility_hash();
    let (native, cached) = match state.files.get_native(&version.digest, &compat).await? {
        Some(native) => (native, true),
        None => (compile(state, &package.component, &version.digest, &compat).await?, false),
    };
    if cached {
        p.end(Status::Unchanged, "native code from the cache");
    } else {
        p.end(Status::Finished, format!("compiled {} bytes of component to native code", package.component.len()));
    }

    // The contract: imports only what is granted, exports exactly the definition's actions.
    start(state, p, &facts.extension, "contract").await;
    let def = Arc::new(def);
    let extension = match load(state, def.clone(), native).await {
        Err(RuntimeError::Incompatible(why)) => {
            // A damaged cache file, or another build of the runtime: compile again.
            tracing::warn!(digest = %version.digest, "cached native code unusable ({}); compiling again", one_line(&why));
            let native = compile(state, &package.component, &version.digest, &compat).await?;
            load(state, def.clone(), native).await
        }
        other => other,
    }
    .map_err(|e| match e {
        RuntimeError::NotGranted { .. } | RuntimeError::Exports { .. } | RuntimeError::Link(_) => {
            AppError::bad("contract", format!("the component of {} version {number} is refused: {e}", ext.name))
        }
        other => AppError::internal(other),
    })?;
    p.end(
        Status::Finished,
        format!("exports the {} action(s) of the definition; imports only what is granted", def.actions.len()),
    );

    // Entities: the schema changes run in the transaction that also activates the version, so
    // a publish that fails (or a server that dies) before the commit leaves the old schema.
    start(state, p, &facts.extension, "entities").await;
    let source = String::from_utf8_lossy(&package.definition).into_owned();
    let change =
        crate::db::SchemaChange { def: &def, source: &source, rollback: kind == Kind::Rollback, force: options.force };
    let rollout_began = crate::db::now_ms();
    let how = match options.gradual {
        Some(g) => xif_store::Activation::Rollout {
            percent: g.percent,
            per_caller: g.per_caller,
            guard: g.guard,
            by: &who.name,
            started_at: rollout_began,
        },
        None => xif_store::Activation::Activate,
    };
    let live = state
        .db
        .provision_and_activate(change, ext.id, number, how, async |provisioned: &crate::db::Provisioned| {
            crate::entities::failpoint("publish.schema", &state.config.data_dir).await;
            if options.gradual.is_some() && !provisioned.steps.is_empty() {
                return Err(AppError::bad(
                    "gradual_schema",
                    format!(
                        "version {number} changes the entity tables ({}); both versions of a gradual rollout use the same tables: publish it without --gradual",
                        provisioned.steps.join("; ")
                    ),
                ));
            }
            if def.entities.is_empty() && provisioned.steps.is_empty() {
                p.end(Status::Skipped, "exports no entities");
            } else if provisioned.steps.is_empty() {
                p.end(Status::Unchanged, "the entity tables already have this schema");
            } else {
                let mut message = provisioned.steps.join("; ");
                if !provisioned.forced.is_empty() {
                    message.push_str(&format!(" (forced: {})", provisioned.forced.join("; ")));
                }
                p.end(Status::Finished, message);
            }
            let store = if def.entities.is_empty() {
                None
            } else {
                Some(crate::entities::Store(state.db.entity_store(&def, &provisioned.schemas)?))
            };

            // Activate: the database first (with the log entry, in the schema's transaction),
            // then the registry.
            start(state, p, &facts.extension, if options.gradual.is_some() { "rollout" } else { "activate" }).await;
            let mut live =
                Live::new(&ext.name, ext.id, number, extension, package.resources, state.config.call_log_hook.clone());
            if let Some(store) = store {
                live = live.with_entities(store);
            }
            let stages_so_far = {
                let mut s = p.steps.clone();
                let step = if options.gradual.is_some() { "rollout" } else { "activate" };
                s.push(StepEvent { step: step.into(), status: Status::Finished, ms: 0, message: None });
                s
            };
            let log = NewPublish {
                extension: &ext.name,
                version: number,
                digest: &version.digest,
                kind: kind.as_str(),
                user_name: &who.name,
                started_at,
                ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
                outcome: if options.gradual.is_some() { "rolling_out" } else { "published" },
                message: None,
                stages: serde_json::to_string(&stages_so_far).unwrap_or_else(|_| "[]".into()),
                warnings: serde_json::to_string(&facts.warnings).unwrap_or_else(|_| "[]".into()),
            };
            Ok::<_, AppError>((live, log))
        })
        .await?;
    if let (Some(g), Some(active)) = (options.gradual, share_with) {
        let active_number = active.version;
        let split = crate::registry::Split::new(
            state.registry.prepare(live),
            active_number,
            rollout_began,
            (g.percent, g.per_caller, g.guard),
            Default::default(),
        );
        state.registry.serve(active, Some(split));
        p.end(
            Status::Finished,
            format!(
                "version {number} takes {}% of calls, version {active_number} the rest and stays active ({})",
                g.percent,
                Gradual::describe(g.per_caller, g.guard)
            ),
        );
        return Ok(());
    }
    let previous = state.registry.activate(live);
    let message = match previous {
        Some(old) if old.version != number => format!("version {number} serves new calls (was {})", old.version),
        _ => format!("version {number} serves new calls"),
    };
    p.end(Status::Finished, message);
    Ok(())
}

/// The active version a gradual rollout of `number` shares the calls with: refused when there is
/// none, when `number` is it, or when the share is not 1 to 99.
fn gradual_partner(ext: &xif_store::ExtensionRow, number: i64, g: Gradual) -> Result<i64, AppError> {
    if !(1..=99).contains(&g.percent) {
        return Err(AppError::bad(
            "bad_request",
            format!(
                "a gradual rollout takes 1 to 99% of calls, not {}%: publish without --gradual to take them all",
                g.percent
            ),
        ));
    }
    let Some(active) = ext.active_version else {
        return Err(AppError::bad(
            "bad_request",
            format!(
                "{} has no active version to share calls with: publish version {number} without --gradual",
                ext.name
            ),
        ));
    };
    if active == number {
        return Err(AppError::bad("bad_request", format!("version {number} of {} is already active", ext.name)));
    }
    Ok(active)
}

/// Version `active` of `ext` as this node serves it, or loaded now.
async fn serving(state: &AppState, ext: &xif_store::ExtensionRow, active: i64) -> Result<Arc<Live>, AppError> {
    match state.registry.get(&ext.name).filter(|l| l.extension_id == ext.id && l.version == active) {
        Some(live) => Ok(live),
        None => Ok(state.registry.prepare(load_version(state, &ext.name, ext.id, active).await?)),
    }
}

/// Reads a stored package (by digest) with the hardened reader, off the async threads. A stored
/// package that no longer reads is an internal error naming `what` (e.g. "version 3").
pub async fn stored_package(state: &AppState, digest: &str, what: &str) -> Result<xif_package::Package, AppError> {
    let limits = package_limits(state);
    // Read from its file, within the server's bound on packages unpacked at once.
    state
        .files
        .unpack_stored(digest, limits)
        .await?
        .map_err(|e| AppError::Internal(format!("the stored package of {what} is damaged: {e}")))
}

/// The reader's limits, with the server's package limit: an entry may be as large as a package,
/// and all of them together twice that (the defaults: 50 MiB and 100 MiB).
pub fn package_limits(state: &AppState) -> xif_package::Limits {
    let mut limits = xif_package::Limits::default();
    let package = state.config.limits.package_bytes;
    limits.max_package_bytes = package;
    limits.max_entry_bytes = limits.max_entry_bytes.max(package);
    limits.max_total_bytes = limits.max_total_bytes.max(package.saturating_mul(2));
    limits
}

/// The changes of the callable surface from the active version `active` to `number`: `None`
/// when there are none, else their list; a breaking one without `allow` is refused, listing them.
async fn callers_stage(
    state: &AppState,
    ext: &xif_store::ExtensionRow,
    active: i64,
    number: i64,
    package: &xif_package::Package,
    def: &Definition,
    allow: bool,
) -> Result<Option<String>, AppError> {
    let Some(old_version) = state.db.version(ext.id, active).await? else { return Ok(None) };
    // A stored package that cannot be read again must not block every later publish.
    // Only its definition is needed (kept by `Files` once read).
    let why = match state.files.stored_definition(&old_version.digest, package_limits(state)).await {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(format!("the stored package is damaged: {e}")),
        Err(e) => Err(e.to_string()),
    };
    let old_source = match why {
        Ok(text) => text,
        Err(why) => {
            tracing::warn!(extension = %ext.name, version = active, error = %one_line(&why), "cannot compare with the active version");
            return Ok(Some(format!("not compared with version {active}: its package cannot be read ({why})")));
        }
    };
    let Some(old_def) = xif_model::parse(&old_source).0 else { return Ok(None) };
    let new_source = String::from_utf8_lossy(&package.definition).into_owned();
    let changes = xif_model::api::diff(&old_def, def);
    if changes.is_empty() {
        return Ok(None);
    }
    let old_file = crate::changes::File { version: active, source: &old_source, named: true };
    let new_file = crate::changes::File { version: number, source: &new_source, named: false };
    let lines: Vec<String> =
        changes.iter().map(|c| crate::changes::line(&crate::changes::locate(c, &old_file, &new_file))).collect();
    let breaking = changes.iter().filter(|c| c.breaking).count();
    if breaking > 0 && !allow {
        return Err(AppError::bad(
            "breaking_change",
            format!(
                "version {number} of {} breaks what callers of version {active} rely on ({breaking} breaking of {} change(s)):\n{}\nPublish it anyway with --allow-breaking (API: ?allow_breaking=true) once its callers are ready",
                ext.name,
                changes.len(),
                lines.join("\n")
            ),
        ));
    }
    let head = match breaking {
        0 => format!("{} compatible change(s) for callers of version {active}", changes.len()),
        n => format!("{} change(s) for callers of version {active}, {n} breaking (allowed)", changes.len()),
    };
    Ok(Some(format!("{head}:\n{}", lines.join("\n"))))
}

/// Refuses a package whose actions are still the stubs `xif update-source` writes: those its
/// manifest lists and those its source snapshot shows (see `xif_package::stubs`; not in the files
/// of actions that are gone, which are not compiled), each named.
pub fn refuse_stubs(package: &xif_package::Package, def: &Definition) -> Result<(), AppError> {
    let action_files: Vec<String> = def.actions.iter().map(xif_model::Action::source_file).collect();
    let mut found = package.stubs();
    found.retain(|s| !xif_package::stubs::is_orphan(&s.file, &action_files));
    let mut named: Vec<String> = found
        .iter()
        .map(|s| format!("{} ({}:{}:{} calls ActionError::not_implemented)", s.action, s.file, s.line, s.column))
        .collect();
    for listed in &package.manifest.stubs {
        if !found.iter().any(|s| &s.action == listed) {
            named.push(listed.clone());
        }
    }
    if named.is_empty() {
        return Ok(());
    }
    Err(AppError::bad(
        "stubbed_actions",
        format!(
            "extension {} is not published: {}: {}. Implement {}, then publish again",
            package.manifest.extension,
            if named.len() == 1 {
                "1 action is still the stub `xif update-source` wrote".to_string()
            } else {
                format!("{} actions are still the stubs `xif update-source` wrote", named.len())
            },
            named.join(", "),
            if named.len() == 1 { "it" } else { "them" },
        ),
    ))
}

/// Parses and verifies a package's definition: errors are a 400 listing each with its line
/// and column; warnings are returned.
pub fn definition(package: &xif_package::Package) -> Result<(Definition, Vec<String>), AppError> {
    let source = std::str::from_utf8(&package.definition)
        .map_err(|_| AppError::bad("bad_definition", "extension.toml in the package is not UTF-8"))?;
    let (def, mut diags) = xif_model::parse(source);
    if let Some(def) = &def {
        diags.extend(xif_model::verify::verify(def));
    }
    let describe = |d: &xif_model::Diagnostic| match d.line_col(source) {
        Some((line, col)) => format!("extension.toml:{line}:{col}: {} {}: {}", severity(d), d.code, d.message),
        None => format!("extension.toml: {} {}: {}", severity(d), d.code, d.message),
    };
    let errors: Vec<String> = diags.iter().filter(|d| d.is_error()).map(describe).collect();
    match def {
        Some(def) if errors.is_empty() => {
            if def.name.text != package.manifest.extension {
                return Err(AppError::bad(
                    "bad_package",
                    format!(
                        "the manifest names extension {} but extension.toml defines {}",
                        package.manifest.extension, def.name.text
                    ),
                ));
            }
            let described = def.description.as_ref().map(|d| d.value.as_str()).unwrap_or_default();
            if described != package.manifest.description {
                return Err(AppError::bad(
                    "bad_package",
                    format!(
                        "the manifest's description {:?} differs from extension.toml's {described:?}: save the package again with `xif save`",
                        package.manifest.description
                    ),
                ));
            }
            Ok((def, diags.iter().filter(|d| !d.is_error()).map(describe).collect()))
        }
        _ => Err(AppError::bad(
            "bad_definition",
            format!("extension.toml in the package has errors:\n{}", errors.join("\n")),
        )),
    }
}

fn severity(d: &xif_model::Diagnostic) -> &'static str {
    if d.is_error() { "error" } else { "warning" }
}

/// Compiles a component to native code on the blocking pool and caches it.
async fn compile(state: &AppState, component: &[u8], digest: &str, compat: &str) -> Result<Vec<u8>, AppError> {
    let runtime = state.runtime.clone();
    let wasm = component.to_vec();
    let native = tokio::task::spawn_blocking(move || runtime.compile(&wasm))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::bad("compile_failed", format!("the component does not compile: {e}")))?;
    state.files.put_native(digest, compat, native.clone()).await?;
    Ok(native)
}

/// Loads native code (checking the contract) on the blocking pool.
async fn load(state: &AppState, def: Arc<Definition>, native: Vec<u8>) -> Result<xif_runtime::Extension, RuntimeError> {
    let runtime = state.runtime.clone();
    tokio::task::spawn_blocking(move || runtime.load(def, Loadable::Native(&native)))
        .await
        .map_err(|e| RuntimeError::Engine(format!("the loading task failed: {e}")))?
}

/// Loads the active version of every extension, and the version of each rollout that runs (at
/// start). An extension that cannot be loaded is logged and left without a live version (its
/// calls answer 503).
pub async fn load_active(state: &AppState) -> Result<(), AppError> {
    backfill_facts(state).await?;
    seal_plain_secrets(state).await?;
    load_settings(state).await?;
    for ext in state.db.extensions().await? {
        let Some(number) = ext.active_version else { continue };
        // The active version and, while a rollout runs, the rolling one beside it.
        if let Err(e) = crate::cluster::follow(state, &ext.name, "loaded").await {
            tracing::error!(extension = %ext.name, version = number, rollout = ?ext.rollout_version, error = %e, "cannot load the active version");
        }
    }
    Ok(())
}

pub(crate) async fn load_version(state: &AppState, name: &str, ext_id: i64, number: i64) -> Result<Live, AppError> {
    let version = state
        .db
        .version(ext_id, number)
        .await?
        .ok_or_else(|| AppError::Internal(format!("the active version {number} of {name} is missing")))?;
    let package = stored_package(state, &version.digest, &format!("the active version {number} of {name}")).await?;
    let (def, _) = definition(&package)?;
    let def = Arc::new(def);
    let def_entities = def.clone();
    let compat = state.runtime.compatibility_hash();
    let extension = match state.files.get_native(&version.digest, &compat).await? {
        Some(native) => match load(state, def.clone(), native).await {
            Ok(e) => Some(e),
            Err(RuntimeError::Incompatible(_)) => None,
            Err(e) => return Err(AppError::internal(e)),
        },
        None => None,
    };
    let extension = match extension {
        Some(e) => e,
        // Not cached for this runtime (an upgrade): compile on demand.
        None => {
            let native = compile(state, &package.component, &version.digest, &compat).await?;
            load(state, def, native).await.map_err(AppError::internal)?
        }
    };
    let mut live = Live::new(name, ext_id, number, extension, package.resources, state.config.call_log_hook.clone());
    if !def_entities.entities.is_empty() {
        let schemas = state.db.entity_schemas(name).await?;
        live = live.with_entities(crate::entities::Store(state.db.entity_store(&def_entities, &schemas)?));
    }
    Ok(live)
}

/// Start-up step for versions uploaded before their facts were stored (migration 0004): reads
/// each one's package once and stores its [`VersionFacts`]. A package that no longer reads is
/// logged and left without facts (permission checks then assume the worst).
pub async fn backfill_facts(state: &AppState) -> Result<(), AppError> {
    for (ext_id, name, number, digest) in state.db.versions_without_facts().await? {
        let what = format!("version {number} of {name}");
        let facts = match stored_package(state, &digest, &what).await {
            Ok(package) => definition(&package).map(|(def, _)| VersionFacts::of(&def)),
            Err(e) => Err(e),
        };
        match facts {
            Ok(facts) => state.db.set_version_facts(ext_id, number, &facts).await?,
            Err(e) => {
                tracing::error!(extension = %name, version = number, error = %one_line(&e.to_string()), "cannot read the definition facts")
            }
        }
    }
    Ok(())
}

/// Start-up step for settings stored before secrets were sealed: a value in plain text whose
/// name any stored version declares secret is sealed and marked secret.
pub async fn seal_plain_secrets(state: &AppState) -> Result<(), AppError> {
    let secret_names = state.db.secret_setting_names().await?;
    let mut sealed = 0;
    for row in state.db.all_settings().await? {
        if row.secret || !secret_names.get(&row.extension_key).is_some_and(|n| n.contains(&row.name)) {
            continue;
        }
        let context = crate::secrets::setting_context(&row.extension_key, &row.name);
        let value = state.secrets.seal(&context, &row.value).map_err(AppError::Internal)?;
        state.db.seal_setting(&row.extension_key, &row.name, &row.value, &value).await?;
        sealed += 1;
    }
    if sealed > 0 {
        tracing::info!(settings = sealed, "sealed secret settings that were stored in plain text");
    }
    Ok(())
}

/// Reads every extension's settings into the registry, opening the secrets. A secret that does
/// not open (sealed with another key) is left unavailable, with a log line naming the cause.
pub async fn load_settings(state: &AppState) -> Result<(), AppError> {
    let mut all: std::collections::HashMap<String, Vec<crate::db::StoredSetting>> = std::collections::HashMap::new();
    for row in state.db.all_settings().await? {
        all.entry(row.extension_key.clone()).or_default().push(row);
    }
    for (ext, rows) in all {
        state.registry.set_settings(&ext, settings_from_rows(state, rows));
    }
    Ok(())
}

/// One extension's stored settings as calls read them, the secrets opened. A secret that does
/// not open (sealed with another key) is left unavailable, with a log line naming the cause.
pub(crate) fn settings_from_rows(state: &AppState, rows: Vec<crate::db::StoredSetting>) -> ExtensionSettings {
    let mut values = std::collections::HashMap::new();
    let mut settings = ExtensionSettings::default();
    for row in rows {
        if !row.secret {
            values.insert(row.name, row.value);
            continue;
        }
        settings.secret.insert(row.name.clone());
        let context = crate::secrets::setting_context(&row.extension_key, &row.name);
        match state.secrets.open(&context, &row.value) {
            Ok(plain) => {
                values.insert(row.name, plain);
            }
            Err(why) => {
                tracing::error!(
                    extension = %one_line(&row.extension_key),
                    setting = %one_line(&row.name),
                    "the secret setting is unavailable: {why}"
                );
                settings.unavailable.insert(row.name, why.to_string());
            }
        }
    }
    settings.values = Arc::new(values);
    settings
}

/// The names of an extension's settings whose values are never shown: those `def` declares
/// secret, those stored as secrets, and those any stored version declares secret. A package can
/// add to these, never take away.
pub async fn secret_names(
    state: &AppState,
    extension_id: i64,
    extension: &str,
    def: &Definition,
) -> Result<std::collections::HashSet<String>, AppError> {
    let mut names: std::collections::HashSet<String> =
        def.settings.iter().filter(|s| s.secret).map(|s| s.name.text.clone()).collect();
    names.extend(state.registry.settings(extension).secret.iter().cloned());
    names.extend(state.db.secret_settings_of(extension).await?);
    for (_, facts) in state.db.all_version_facts(extension_id).await? {
        names.extend(facts.unwrap_or_default().secret_settings);
    }
    Ok(names)
}
