//! `xif verify`: the definition rules of `xif_model::verify` plus the rules that need the folder —
//! resource files present (E070), an implementation for every action (E060), implementations
//! whose action is gone (W061), and actions still stubs (W063, an error E063 before a publish).
use std::collections::BTreeSet;

use xif_model::{Diagnostic, Severity};

use crate::project::Project;

/// What Verify found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Every diagnostic, errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl VerifyReport {
    /// True when there is no error (warnings never fail).
    pub fn ok(&self) -> bool {
        !self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
    /// True when the only errors are missing implementations (E060), which Update Source Code
    /// resolves by writing stubs; the steps that run it first use this.
    pub fn ok_before_update_source(&self) -> bool {
        !self.diagnostics.iter().any(|d| d.severity == Severity::Error && d.code != "E060")
    }

    /// `2 errors, 1 warning`.
    pub fn count_line(&self) -> String {
        xif_model::diag::count_line(&self.diagnostics)
    }
}

/// Runs every Verify rule on the project, for the steps that build and run it: an action still
/// the stub `xif update-source` wrote is a warning (W063).
pub fn verify(project: &Project) -> VerifyReport {
    verify_as(project, false)
}

/// Runs every Verify rule on the project, for `xif publish` and `xif upload`: a stub is an error
/// (E063), and so is an action without an implementation (E060), which Update Source Code would
/// only stub.
pub fn verify_for_publish(project: &Project) -> VerifyReport {
    verify_as(project, true)
}

fn verify_as(project: &Project, publish: bool) -> VerifyReport {
    let mut diags = project.parse_diagnostics.clone();
    if let Some(def) = &project.definition {
        diags.extend(xif_model::verify::verify(def));
        ensure_resources_exist(project, &mut diags);
        ensure_actions_implemented(project, &mut diags);
        refuse_stubs(project, publish, &mut diags);
    }
    diags
        .sort_by_key(|d| (d.file != xif_model::DEFINITION_FILE, d.span.as_ref().map(|s| s.start).unwrap_or(0), d.code));
    VerifyReport { diagnostics: diags }
}

fn ensure_resources_exist(project: &Project, diags: &mut Vec<Diagnostic>) {
    let Some(def) = &project.definition else { return };
    for r in &def.resources {
        if xif_model::verify::check_resource_path(&r.value).is_err() {
            continue; // E071 already says so
        }
        let path = project.dir.join(&r.value);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => diags.push(
                Diagnostic::error(
                    "E070",
                    format!("resource \"{}\" is not a regular file", r.value),
                    Some(r.span.clone()),
                )
                .help("list files only (not folders or symbolic links)"),
            ),
            Err(_) => diags.push(
                Diagnostic::error(
                    "E070",
                    format!("resource file \"{}\" does not exist", r.value),
                    Some(r.span.clone()),
                )
                .help(format!("create {} in the extension folder, or remove it from [resources]", r.value)),
            ),
        }
    }
}

/// Finds `pub fn NAME(` in Rust source, ignoring spacing.
pub(crate) fn defines_fn(src: &str, name: &str) -> bool {
    let squashed: String = src.split_whitespace().collect::<Vec<_>>().join(" ");
    squashed.contains(&format!("pub fn {name}(")) || squashed.contains(&format!("pub fn {name} ("))
}

fn ensure_actions_implemented(project: &Project, diags: &mut Vec<Diagnostic>) {
    let Some(def) = &project.definition else { return };
    let mut expected = BTreeSet::new();
    for a in &def.actions {
        if xif_model::names::check(&a.name.text, xif_model::names::MAX_NAME).is_err() {
            continue;
        }
        let file = Project::action_file(a);
        expected.insert(file.clone());
        let ident = a.name.rust_ident();
        match std::fs::read_to_string(project.dir.join(&file)) {
            Ok(src) if defines_fn(&src, &ident) => {}
            Ok(_) => diags.push(
                Diagnostic::error(
                    "E060",
                    format!("{file} does not define `pub fn {ident}` for action {}", a.name.text),
                    Some(a.name.span.clone()),
                )
                .help(format!("implement it there: {}", crate::codegen::signature(def, a))),
            ),
            Err(_) => diags.push(
                Diagnostic::error(
                    "E060",
                    format!("action {} has no implementation ({file} is missing)", a.name.text),
                    Some(a.name.span.clone()),
                )
                .help("run `xif update-source`, which writes a stub for it, then implement it"),
            ),
        }
    }
    if let Ok(entries) = std::fs::read_dir(project.dir.join("src/actions")) {
        let mut orphans: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| format!("src/actions/{}", e.file_name().to_string_lossy()))
            .filter(|f| f.ends_with(".rs") && f != "src/actions/mod.rs" && !expected.contains(f))
            .collect();
        orphans.sort();
        for f in orphans {
            diags.push(
                Diagnostic::warning("W061", format!("{f} implements no action of the definition"), None)
                    .in_file(f.clone())
                    .help(
                        "its action was removed or renamed: delete the file, or move its code into the renamed action",
                    ),
            );
        }
    }
}

/// Every call to `ActionError::not_implemented` under `src/` (outside the generated files): a
/// warning while the extension is being written, an error when it is to be published.
fn refuse_stubs(project: &Project, publish: bool, diags: &mut Vec<Diagnostic>) {
    for (rel, call) in stub_calls(project) {
        let message = match &call.action {
            Some(action) => format!("action {action} is still the stub `xif update-source` wrote"),
            None => format!("{rel} calls `ActionError::not_implemented`"),
        };
        let help = if publish {
            format!(
                "implement it in {rel}, in place of the `ActionError::not_implemented` call: a stub is never published (`xif compile` and `xif run` work with it)"
            )
        } else {
            format!(
                "implement it in {rel}, in place of the `ActionError::not_implemented` call, before `xif publish`: a stub is never published"
            )
        };
        let d = if publish {
            Diagnostic::error("E063", message, Some(call.span))
        } else {
            Diagnostic::warning("W063", message, Some(call.span))
        };
        diags.push(d.in_file(rel.clone()).label("not implemented yet").help(help));
    }
}

/// The stub calls of the project's code: every Rust file under `src/` but the generated ones and
/// those of actions that are gone (`xif_package::stubs::is_orphan`), in path order.
pub(crate) fn stub_calls(project: &Project) -> Vec<(String, xif_package::stubs::StubCall)> {
    let Some(def) = &project.definition else { return Vec::new() };
    let Ok(mut files) = crate::fsutil::walk(&project.dir, &project.dir.join("src")) else { return Vec::new() };
    files.sort();
    let action_files: Vec<String> = def.actions.iter().map(Project::action_file).collect();
    let mut calls = Vec::new();
    for (rel, path) in files {
        if !xif_package::stubs::is_scanned(&rel) || xif_package::stubs::is_orphan(&rel, &action_files) {
            continue;
        }
        let Ok(src) = std::fs::read_to_string(&path) else { continue };
        calls.extend(xif_package::stubs::stub_calls(&src).into_iter().map(|c| (rel.clone(), c)));
    }
    calls
}
