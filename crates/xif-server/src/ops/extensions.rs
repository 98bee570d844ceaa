//! Extensions and their versions: upload, publish, rollback, download, delete, what changed for
//! callers between versions, the publish log, and settings (validated here against the active
//! version's definition).
use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::{Stream, StreamExt as _};
use tokio::sync::mpsc;
use xif_model::Definition;

use super::wire::{
    ActionInfo, ExtensionDetail, ExtensionInfo, FieldInfo, PublishLogEntry, SetSettings, SettingInfo, Uploaded,
    VersionDiff, VersionInfo,
};
use super::{Error, Principal, Result, size, time};
use crate::auth::{Permission, check_publish};
use crate::db::{ExtensionRow, NewVersion, VersionFacts, VersionRow, key};
use crate::publish::{self, Kind, StepEvent};
use crate::registry::one_line;
use crate::state::AppState;

async fn extension_row(state: &AppState, name: &str) -> Result<ExtensionRow> {
    state.db.extension(name).await?.ok_or_else(|| Error::NotFound(format!("there is no extension named {name}")))
}

async fn version_row(state: &AppState, ext: &ExtensionRow, number: i64) -> Result<VersionRow> {
    state
        .db
        .version(ext.id, number)
        .await?
        .ok_or_else(|| Error::NotFound(format!("extension {} has no version {number}", ext.name)))
}

async fn info(state: &AppState, ext: &ExtensionRow) -> Result<ExtensionInfo> {
    let versions = state.db.versions(ext.id).await?;
    let description = ext
        .active_version
        .and_then(|n| versions.iter().find(|v| v.number == n))
        .or(versions.last())
        .map(|v| v.description.clone())
        .unwrap_or_default();
    Ok(ExtensionInfo {
        name: ext.name.clone(),
        description,
        active_version: ext.active_version,
        latest_version: versions.last().map(|v| v.number),
        versions: versions.len(),
        activated_at: ext.activated_at.map(time),
        url: format!("/api/v1/extensions/{}", ext.name),
        rolling_out: ext.rollout_version,
        rollout_percent: ext.rollout().map(|r| r.percent),
    })
}

/// Who may change an extension (delete it or its versions, download its source): what
/// publishing its active version needs, or "Allow Extensions" when nothing is active.
fn check_manage(who: &Principal, name: &str, def: Option<&Definition>) -> Result<()> {
    match def {
        Some(def) => Ok(check_publish(who, def)?),
        None if who.has(Permission::ChangeAndDeployApplications) || who.has(Permission::AllowExtensions) => Ok(()),
        None => Err(Error::Forbidden(format!(
            "missing permission \"{}\": changing extension {name} needs it (or \"{}\")",
            Permission::AllowExtensions.name(),
            Permission::ChangeAndDeployApplications.name()
        ))),
    }
}

/// Who may delete an extension or one of its versions: what publishing it needs, judged on every
/// version (its stored facts) and on every entity table it has, so that a version without
/// entities never makes the tables (and records) of another deletable without "Allow Foreign
/// Entities". A version whose facts are unknown counts as exporting entities.
async fn check_delete(state: &AppState, who: &Principal, ext: &ExtensionRow) -> Result<()> {
    if who.has(Permission::ChangeAndDeployApplications) {
        return Ok(());
    }
    let mut entities: BTreeMap<String, String> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (number, facts) in state.db.all_version_facts(ext.id).await? {
        match facts {
            Some(f) => entities.extend(f.entities.into_iter().map(|e| (key(&e), e))),
            None => unknown.push(number),
        }
    }
    entities.extend(state.db.entity_names(&ext.name).await?.into_iter().map(|e| (key(&e), e)));
    let mut missing = Vec::new();
    if !who.has(Permission::AllowExtensions) {
        missing.push(format!(
            "missing permission \"{}\": changing extension {} needs it (or \"{}\")",
            Permission::AllowExtensions.name(),
            ext.name,
            Permission::ChangeAndDeployApplications.name()
        ));
    }
    if (!entities.is_empty() || !unknown.is_empty()) && !who.has(Permission::AllowForeignEntities) {
        let mut what: Vec<String> = entities.into_values().collect();
        if !unknown.is_empty() {
            let list: Vec<String> = unknown.iter().map(i64::to_string).collect();
            what.push(format!("maybe more: the definition of version {} is not known", list.join(", ")));
        }
        missing.push(format!(
            "missing permission \"{}\": extension {} has entities ({})",
            Permission::AllowForeignEntities.name(),
            ext.name,
            what.join(", ")
        ));
    }
    if missing.is_empty() { Ok(()) } else { Err(Error::Forbidden(missing.join("; "))) }
}

/// Every extension.
pub(crate) async fn list_extensions(state: &AppState, _who: &Principal) -> Result<Vec<ExtensionInfo>> {
    let mut out = Vec::new();
    for ext in state.db.extensions().await? {
        out.push(info(state, &ext).await?);
    }
    Ok(out)
}

/// One extension and the actions of its active version.
pub(crate) async fn get_extension(state: &AppState, _who: &Principal, name: &str) -> Result<ExtensionDetail> {
    let ext = extension_row(state, name).await?;
    let live = state.registry.get(&ext.name).filter(|l| Some(l.version) == ext.active_version);
    let field = |f: &xif_model::Field| FieldInfo {
        name: f.name.text.clone(),
        ty: f.ty.value.clone(),
        mandatory: f.is_mandatory(),
    };
    let actions = live
        .as_ref()
        .map(|l| {
            l.definition()
                .actions
                .iter()
                .map(|a| ActionInfo {
                    name: a.name.text.clone(),
                    description: a.description.as_ref().map(|d| d.value.clone()),
                    inputs: a.inputs.iter().map(field).collect(),
                    outputs: a.outputs.iter().map(field).collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ExtensionDetail { info: info(state, &ext).await?, actions, serving: live.is_some() })
}

/// Deletes an extension: every version, its settings, its entity tables and their records (in
/// one transaction); calls in flight finish. The publish log is kept. Needs what publishing any
/// of its versions needs, and "Allow Foreign Entities" when it has entity tables.
pub(crate) async fn delete_extension(state: &AppState, who: &Principal, name: &str) -> Result<()> {
    // Looked up and judged before taking its lock, so unknown names and refused users never get
    // one; judged again under it (a publish may have added entities meanwhile).
    let ext = extension_row(state, name).await?;
    check_delete(state, who, &ext).await?;
    let _serialized = state.lock_extension(name).await?;
    let ext = extension_row(state, name).await?;
    check_delete(state, who, &ext).await?;
    let versions = state.db.versions(ext.id).await?;
    state.db.delete_extension(ext.id, &ext.name).await?;
    state.registry.remove(&ext.name);
    crate::cluster::announce(state, crate::cluster::Change::Extension(ext.name.clone())).await;
    for v in versions {
        remove_unused_package(state, &v.digest).await?;
    }
    tracing::info!(by = %one_line(&who.name), extension = %ext.name, "extension deleted");
    Ok(())
}

/// Removes a package's file unless a version (of any extension) still has its digest: the one
/// cleanup after a delete, and the compensation of a failed upload.
async fn remove_unused_package(state: &AppState, digest: &str) -> Result<()> {
    if !state.db.digest_in_use(digest).await? {
        state.files.remove_package(digest).await?;
    }
    Ok(())
}

fn version_info(v: VersionRow, ext: &ExtensionRow) -> VersionInfo {
    VersionInfo {
        active: Some(v.number) == ext.active_version,
        rollout_percent: ext.rollout().filter(|r| r.version == v.number).map(|r| r.percent),
        version: v.number,
        digest: v.digest,
        size: v.size,
        description: v.description,
        toolchain: v.toolchain,
        uploaded_by: v.uploaded_by,
        uploaded_at: time(v.uploaded_at),
    }
}

/// The versions of an extension, oldest first.
pub(crate) async fn list_versions(state: &AppState, _who: &Principal, name: &str) -> Result<Vec<VersionInfo>> {
    let ext = extension_row(state, name).await?;
    let versions = state.db.versions(ext.id).await?;
    Ok(versions.into_iter().map(|v| version_info(v, &ext)).collect())
}

/// A stored version's `extension.toml`: its text and its definition.
struct StoredDefinition {
    version: i64,
    source: String,
    def: Definition,
}

/// Reads a stored version's definition again (its package through the hardened reader). A
/// package or definition that no longer reads is `Unavailable`, naming the version; the
/// detail goes to the server's log.
async fn stored_definition(state: &AppState, ext: &ExtensionRow, v: &VersionRow) -> Result<StoredDefinition> {
    let what = format!("version {}", v.number);
    let read = match state.files.stored_definition(&v.digest, publish::package_limits(state)).await {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(format!("the stored package of {what} is damaged: {e}")),
        Err(e) => Err(e.to_string()),
    };
    let source = read.map_err(|e| {
        tracing::warn!(extension = %ext.name, version = v.number, error = %one_line(&e), "cannot read a stored package to compare versions");
        Error::Unavailable(format!(
            "the stored package of version {} of {} cannot be read, so it cannot be compared (the server's log has the details)",
            v.number, ext.name
        ))
    })?;
    let source = source.to_string();
    let def = xif_model::parse(&source).0.ok_or_else(|| {
        Error::Unavailable(format!(
            "the extension.toml of version {} of {} no longer parses, so it cannot be compared",
            v.number, ext.name
        ))
    })?;
    Ok(StoredDefinition { version: v.number, source, def })
}

/// The changes from `from` (none: no changes) to `to`, each placed in its version's file.
fn compare(extension: &str, from: Option<&StoredDefinition>, to: &StoredDefinition) -> VersionDiff {
    let changes: Vec<_> = match from {
        None => Vec::new(),
        Some(from) => {
            let old = crate::changes::File { version: from.version, source: &from.source, named: true };
            let new = crate::changes::File { version: to.version, source: &to.source, named: true };
            xif_model::api::diff(&from.def, &to.def).iter().map(|c| crate::changes::locate(c, &old, &new)).collect()
        }
    };
    VersionDiff {
        extension: extension.to_string(),
        from: from.map(|f| f.version),
        to: to.version,
        breaking: changes.iter().filter(|c| c.breaking).count(),
        changes,
    }
}

/// What changed for callers from version `from` of an extension to version `to`: every change
/// of its actions, inputs, outputs and the structures callers send or read, each compatible or
/// breaking, placed in the `extension.toml` of the version it is in (the older one for what
/// was removed). Without `from`, the nearest lower version number that exists (none: no
/// changes); `from` may be any stored version, higher or the same. Readable by whoever may
/// list the versions.
pub(crate) async fn version_diff(
    state: &AppState,
    _who: &Principal,
    name: &str,
    to: i64,
    from: Option<i64>,
) -> Result<VersionDiff> {
    let ext = extension_row(state, name).await?;
    let to_row = version_row(state, &ext, to).await?;
    let from_row = match from {
        Some(n) => Some(version_row(state, &ext, n).await?),
        None => state.db.versions(ext.id).await?.into_iter().filter(|v| v.number < to).max_by_key(|v| v.number),
    };
    let new = stored_definition(state, &ext, &to_row).await?;
    Ok(match from_row {
        Some(r) if r.number == to => compare(&ext.name, Some(&new), &new),
        Some(r) => compare(&ext.name, Some(&stored_definition(state, &ext, &r).await?), &new),
        None => compare(&ext.name, None, &new),
    })
}

/// Each version's changes against the previous stored version, oldest first (the first against
/// none), reading each package once: [`version_diff`] without `from` for every version. A
/// version whose package, or its predecessor's, cannot be read has the error instead.
pub(crate) async fn version_history(
    state: &AppState,
    _who: &Principal,
    name: &str,
) -> Result<Vec<(i64, Result<VersionDiff>)>> {
    let ext = extension_row(state, name).await?;
    let mut versions = state.db.versions(ext.id).await?;
    versions.sort_by_key(|v| v.number);
    let mut out = Vec::with_capacity(versions.len());
    // The error of an unreadable one is kept by its message, for the next version too.
    let mut previous: Option<std::result::Result<StoredDefinition, String>> = None;
    for v in &versions {
        let this = stored_definition(state, &ext, v).await.map_err(|e| e.to_string());
        let diff = match (&previous, &this) {
            (_, Err(e)) | (Some(Err(e)), _) => Err(Error::Unavailable(e.clone())),
            (None, Ok(new)) => Ok(compare(&ext.name, None, new)),
            (Some(Ok(old)), Ok(new)) => Ok(compare(&ext.name, Some(old), new)),
        };
        out.push((v.number, diff));
        previous = Some(this);
    }
    Ok(out)
}

/// Uploads a `.xif` (the body, at most the package limit): checked by the hardened reader and
/// the definition's Verify, stored by digest, numbered. A package the extension already has
/// answers its existing number (`created` false). Needs what publishing it needs. The upload
/// is of `expected`, which the package must be, or of the extension the package names when
/// `expected` is `None` (the Service Center's upload page).
///
/// A caller who may upload nothing (neither "Change & Deploy Applications" nor "Allow
/// Extensions") is refused before the body is read; otherwise the body streams into a scratch
/// file (refused once past the package limit, or at once when `at_least`, the length the body
/// is known to have, is over it) and the package is read from there, at most
/// `Config::max_unpacks` at a time. Under the extension's lock the file is stored, then the
/// version; when the version cannot be added, the file is removed again (unless another version
/// has it).
pub(crate) async fn upload<B: AsRef<[u8]>, E: std::fmt::Display>(
    state: &AppState,
    auth: &Principal,
    expected: Option<&str>,
    at_least: u64,
    body: impl Stream<Item = std::result::Result<B, E>>,
) -> Result<Uploaded> {
    let result = store_upload(state, auth, expected, at_least, body).await;
    state.registry.metrics.upload(result.is_ok());
    result
}

/// [`upload`] without the count.
async fn store_upload<B: AsRef<[u8]>, E: std::fmt::Display>(
    state: &AppState,
    auth: &Principal,
    expected: Option<&str>,
    at_least: u64,
    body: impl Stream<Item = std::result::Result<B, E>>,
) -> Result<Uploaded> {
    // Whoever may upload anything has one of these two: refuse the others before reading.
    if !auth.has(Permission::ChangeAndDeployApplications) && !auth.has(Permission::AllowExtensions) {
        let what = expected.map(|n| format!("extension {n}")).unwrap_or_else(|| "an extension".to_string());
        return Err(Error::Forbidden(format!(
            "missing permission \"{}\": uploading {what} needs it (or \"{}\")",
            Permission::AllowExtensions.name(),
            Permission::ChangeAndDeployApplications.name()
        )));
    }
    let scratch = receive(state, at_least, body).await?;
    let limits = publish::package_limits(state);
    let package = state
        .files
        .unpack(scratch.path(), limits)
        .await?
        .map_err(|e| Error::bad("bad_package", format!("the package is refused: {e}")))?;
    let name = package.manifest.extension.clone();
    if let Some(expected) = expected
        && name != expected
    {
        return Err(Error::bad(
            "bad_package",
            format!(
                "the package is extension {name}, but the URL names {expected}: upload it to /api/v1/extensions/{name}/versions"
            ),
        ));
    }
    let (def, _warnings) = publish::definition(&package)?;
    check_publish(auth, &def)?;
    // A package whose actions are still stubs is refused before anything is stored.
    publish::refuse_stubs(&package, &def)?;
    let digest = package.digest.clone();
    let (description, toolchain) = (package.manifest.description.clone(), package.manifest.toolchain.clone());
    drop(package);

    let _serialized = state.lock_extension(&name).await?;
    if let Some(ext) = state.db.extension(&name).await?
        && ext.name != name
    {
        return Err(Error::Conflict(format!(
            "an extension named {} exists; names differ only in case: rename the extension",
            ext.name
        )));
    }
    let size = i64::try_from(scratch.len()).unwrap_or(i64::MAX);
    state.files.put_package_file(&digest, scratch).await?;
    let added = state
        .db
        .add_version(&NewVersion {
            extension: &name,
            digest: &digest,
            size,
            description: &description,
            toolchain: &toolchain,
            uploaded_by: &auth.name,
            facts: &VersionFacts::of(&def),
        })
        .await;
    let (version, created) = match added {
        Ok(v) => v,
        Err(e) => {
            // Nothing stored on failure: the file goes unless another version has it.
            let _ = remove_unused_package(state, &digest).await;
            return Err(e.into());
        }
    };
    tracing::info!(by = %auth.name, extension = %name, version, created, "uploaded");
    Ok(Uploaded { extension: name, version, digest, created })
}

/// Streams an upload's body into a scratch file, refusing it as soon as it is larger than the
/// package limit: by the length it is known to have before reading, else by the bytes received.
async fn receive<B: AsRef<[u8]>, E: std::fmt::Display>(
    state: &AppState,
    at_least: u64,
    body: impl Stream<Item = std::result::Result<B, E>>,
) -> Result<crate::files::Scratch> {
    let limit = state.config.limits.package_bytes;
    let too_large = || Error::TooLarge(format!("the package is larger than the limit of {}", size(limit)));
    if at_least > limit {
        return Err(too_large());
    }
    let mut scratch = state.files.scratch().await?;
    let mut stream = std::pin::pin!(body);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::bad("bad_request", format!("could not read the package: {e}")))?;
        let chunk = chunk.as_ref();
        if scratch.len() + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        scratch.write(chunk).await?;
    }
    scratch.finish().await?;
    Ok(scratch)
}

/// One version.
pub(crate) async fn get_version(state: &AppState, _who: &Principal, name: &str, number: i64) -> Result<VersionInfo> {
    let ext = extension_row(state, name).await?;
    let v = version_row(state, &ext, number).await?;
    Ok(version_info(v, &ext))
}

/// Deletes a version that is not active. Needs what deleting the extension needs (judged on
/// every version and entity table, not on the active version alone).
pub(crate) async fn delete_version(state: &AppState, auth: &Principal, name: &str, number: i64) -> Result<()> {
    let ext = extension_row(state, name).await?;
    check_delete(state, auth, &ext).await?;
    let _serialized = state.lock_extension(name).await?;
    let ext = extension_row(state, name).await?;
    let v = version_row(state, &ext, number).await?;
    check_delete(state, auth, &ext).await?;
    if ext.active_version == Some(number) {
        return Err(Error::Conflict(format!(
            "version {number} of {} is active: roll back to another version first, or delete the extension",
            ext.name
        )));
    }
    if ext.rollout_version == Some(number) {
        return Err(Error::Conflict(format!(
            "version {number} of {} is rolling out: abort the rollout first (xif rollout {} abort)",
            ext.name, ext.name
        )));
    }
    state.db.delete_version(ext.id, number).await?;
    state.registry.metrics.forget_version(ext.id, number);
    remove_unused_package(state, &v.digest).await?;
    tracing::info!(by = %one_line(&auth.name), extension = %ext.name, version = number, "version deleted");
    Ok(())
}

/// Downloads a version's `.xif`, byte for byte as uploaded. Needs "Allow Extensions" or
/// "Change & Deploy Applications" (the package holds the source).
pub(crate) async fn download(state: &AppState, who: &Principal, name: &str, number: i64) -> Result<Download> {
    let ext = extension_row(state, name).await?;
    check_manage(who, &ext.name, None)?;
    let v = version_row(state, &ext, number).await?;
    let bytes = state.files.get_package(&v.digest).await?;
    Ok(Download { file_name: format!("{}-{number}.xif", ext.name), digest: v.digest, bytes })
}

/// A version's package, as uploaded.
pub(crate) struct Download {
    /// `NAME-N.xif`.
    pub file_name: String,
    /// Its digest.
    pub digest: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Publishes (or, with [`Kind::Rollback`], re-activates) a version: validate, permissions,
/// compile (cached), contract, entities, activate (see [`publish`]). The permissions come first:
/// a refused caller gets the error at once, with no lock taken, no package read and no
/// publish-log row. Otherwise the publish runs as its own task (a caller that goes away does not
/// stop it halfway), sending its stage events to `events` when given; the task answers the
/// [`publish::Outcome`].
pub(crate) async fn publish(
    state: &AppState,
    who: Arc<Principal>,
    name: String,
    number: i64,
    kind: Kind,
    options: publish::Options,
    events: Option<mpsc::UnboundedSender<StepEvent>>,
) -> Result<tokio::task::JoinHandle<publish::Outcome>> {
    publish::authorize(state, &who, &name, number).await?;
    Ok(tokio::spawn(publish::run_with(state.clone(), who, name, number, kind, events, options)))
}

/// The publish log of an extension, newest first (`?limit=`, default 50).
pub(crate) async fn publishes(
    state: &AppState,
    _who: &Principal,
    name: &str,
    limit: Option<i64>,
) -> Result<Vec<PublishLogEntry>> {
    let limit = limit.unwrap_or(50).clamp(1, 1000);
    let rows = state.db.publishes(name, limit).await?;
    Ok(rows
        .into_iter()
        .map(|r| PublishLogEntry {
            id: r.id,
            version: r.version,
            digest: r.digest,
            kind: r.kind,
            user: r.user_name,
            at: time(r.started_at),
            ms: r.ms,
            outcome: r.outcome,
            message: r.message,
            stages: serde_json::from_str(&r.stages).unwrap_or_default(),
            warnings: serde_json::from_str(&r.warnings).unwrap_or_default(),
        })
        .collect())
}

fn live_definition(state: &AppState, name: &str) -> Result<Arc<crate::registry::Live>> {
    state.registry.get(name).ok_or_else(|| {
        Error::Conflict(format!("extension {name} has no active version: publish one first, then set its settings"))
    })
}

/// The settings the served versions read, each with the version that declares it: the active
/// version's, then, while a rollout runs, those only the rolling version declares (so they can
/// be set before it takes the calls that read them).
fn setting_fields(state: &AppState, name: &str) -> Result<Vec<(Arc<crate::registry::Live>, usize)>> {
    let active = live_definition(state, name)?;
    let mut fields: Vec<_> = (0..active.definition().settings.len()).map(|i| (active.clone(), i)).collect();
    if let Some(split) = state.registry.rollout(name) {
        let rolling = &split.live;
        for (i, s) in rolling.definition().settings.iter().enumerate() {
            if !active.definition().settings.iter().any(|a| a.name.text == s.name.text) {
                fields.push((rolling.clone(), i));
            }
        }
    }
    Ok(fields)
}

/// The settings of the active version's definition; secrets show whether they are set, never
/// their value. A setting is secret when the definition says so, or when it was stored as a
/// secret or declared secret by any stored version: a package cannot make a secret visible.
pub(crate) async fn get_settings(state: &AppState, _who: &Principal, name: &str) -> Result<Vec<SettingInfo>> {
    let ext = extension_row(state, name).await?;
    let live = live_definition(state, &ext.name)?;
    let stored = state.registry.settings(&ext.name);
    let secret = publish::secret_names(state, ext.id, &ext.name, live.definition()).await?;
    Ok(setting_fields(state, &ext.name)?
        .iter()
        .map(|(live, i)| {
            let s = &live.definition().settings[*i];
            let name = &s.name.text;
            let value = stored.values.get(name);
            let unavailable = stored.unavailable.get(name).cloned();
            let is_secret = s.secret || secret.contains(name);
            SettingInfo {
                name: name.clone(),
                ty: s.ty.value.clone(),
                secret: is_secret,
                set: value.is_some() || unavailable.is_some(),
                value: if is_secret { None } else { value.cloned() },
                description: s.description.as_ref().map(|d| d.value.clone()),
                unavailable,
            }
        })
        .collect())
}

/// Sets settings (administrators only): each value is checked against the setting's type;
/// `null` unsets. Calls that start afterwards see the new values.
pub(crate) async fn set_settings(
    state: &AppState,
    auth: &Principal,
    name: &str,
    req: &SetSettings,
) -> Result<Vec<SettingInfo>> {
    auth.require_admin("set extension settings")?;
    let ext = extension_row(state, name).await?;
    let _serialized = state.lock_extension(&ext.name).await?;
    let live = live_definition(state, &ext.name)?;
    let secret = publish::secret_names(state, ext.id, &ext.name, live.definition()).await?;
    let fields = setting_fields(state, &ext.name)?;
    let mut changes = Vec::new();
    for (setting, json) in &req.values {
        let (live, i) =
            fields.iter().find(|(l, i)| l.definition().settings[*i].name.text == *setting).ok_or_else(|| {
                Error::BadInput {
                    kind: "bad_input",
                    message: format!(
                        "extension {} has no setting {setting}; its settings are {}",
                        ext.name,
                        if fields.is_empty() {
                            "none".to_string()
                        } else {
                            fields
                                .iter()
                                .map(|(l, i)| l.definition().settings[*i].name.text.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                    parameter: Some(setting.clone()),
                }
            })?;
        let def = live.definition();
        let field = &def.settings[*i];
        if json.is_null() {
            changes.push((setting.clone(), None, field.secret));
            continue;
        }
        let text = match (&field.parsed, json) {
            (Some(ty), _) => {
                let value =
                    xif_model::value::from_json(def, ty, json, setting, Some(field)).map_err(|e| Error::BadInput {
                        kind: "bad_input",
                        message: format!("bad value for setting {setting}: {}", e.message),
                        parameter: Some(setting.clone()),
                    })?;
                match xif_model::value::to_json(&value) {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                }
            }
            (None, serde_json::Value::String(s)) => s.clone(),
            (None, other) => other.to_string(),
        };
        changes.push((setting.clone(), Some(text), field.secret));
    }
    // Secrets are sealed before they reach the database.
    let mut stored = Vec::with_capacity(changes.len());
    for (setting, value, declared_secret) in &changes {
        let value = match value {
            Some(v) if *declared_secret || secret.contains(setting) => {
                let context = crate::secrets::setting_context(&key(&ext.name), setting);
                Some((state.secrets.seal(&context, v).map_err(Error::Internal)?, true))
            }
            Some(v) => Some((v.clone(), false)),
            None => None,
        };
        stored.push((setting.clone(), value));
    }
    state.db.set_settings(&ext.name, &stored, &auth.name).await?;
    // What calls read now is what the database holds (with other nodes' changes too).
    crate::cluster::read_settings(state, &ext.name).await?;
    crate::cluster::announce(state, crate::cluster::Change::Settings(ext.name.clone())).await;
    tracing::info!(by = %one_line(&auth.name), extension = %ext.name, "settings changed");
    get_settings(state, auth, name).await
}

/// A setting as a form edits it: its name, its type, and whether it is secret (as the server
/// decides it, see [`get_settings`]).
pub(crate) struct EditableSetting {
    /// Name.
    pub name: String,
    /// Type, as written in extension.toml.
    pub ty: String,
    /// Secret: an empty field keeps its value.
    pub secret: bool,
}

/// The settings of the active version of `name`, for a form that sets them (the active version
/// is looked up first: without one there is nothing to set).
pub(crate) async fn editable_settings(state: &AppState, name: &str) -> Result<Vec<EditableSetting>> {
    let live = live_definition(state, name)?;
    let ext = extension_row(state, name).await?;
    let secret = publish::secret_names(state, ext.id, &ext.name, live.definition()).await?;
    Ok(setting_fields(state, name)?
        .iter()
        .map(|(live, i)| {
            let s = &live.definition().settings[*i];
            EditableSetting {
                name: s.name.text.clone(),
                ty: s.ty.value.clone(),
                secret: s.secret || secret.contains(&s.name.text),
            }
        })
        .collect())
}
