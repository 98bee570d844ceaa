//! The Service Center's pages, as maud templates: one layout, one function per page.
use std::collections::HashMap;

use maud::{DOCTYPE, Markup, html};
use xif_model::{Definition, Field};

use super::store::{ActionErrorRow, ListedExtension, RecentPublish, UserLine};
use super::{Flash, Session, TryResult};
use crate::auth::Permission;
use crate::changes::{class, summary};
use crate::db::{ExtensionRow, PublishRow, VersionRow};
use crate::ops::wire::{VersionDiff, VersionInfo};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Extensions,
    Upload,
    Log,
    Users,
}

/// A time for people: `2026-11-28 05:40 UTC`.
fn when(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn literal(l: &xif_model::Literal) -> String {
    use xif_model::Literal;
    match l {
        Literal::Text(t) => format!("{t:?}"),
        Literal::Integer(i) => i.to_string(),
        Literal::Float(f) | Literal::Other(f) => f.clone(),
        Literal::Boolean(b) => b.to_string(),
    }
}

fn size(n: i64) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 {
        format!("{:.1} MB", n / (1024.0 * 1024.0))
    } else if n >= 1024.0 {
        format!("{:.1} KB", n / 1024.0)
    } else {
        format!("{n} B")
    }
}

fn url_part(s: &str) -> String {
    super::percent_encode(s)
}

fn head(title: &str) -> Markup {
    html! {
        (DOCTYPE)
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · Xif Service Center" }
        link rel="stylesheet" href="/assets/console.css";
        script src="/assets/console.js" defer {}
    }
}

fn layout(session: &Session, title: &str, nav: Nav, crumbs: Markup, body: Markup) -> Markup {
    let item = |n: Nav, href: &str, label: &str| {
        html! {
            a href=(href) aria-current=[(nav == n).then_some("page")] { (label) }
        }
    };
    html! {
        (head(title))
        body data-csrf=(session.csrf) {
            a.skip href="#main" { "Skip to content" }
            header.top {
                a.brand href="/extensions" {
                    span.logo aria-hidden="true" { "X" }
                    span { "Xif " b { "Service Center" } }
                }
                nav.main aria-label="Main" {
                    (item(Nav::Extensions, "/extensions", "Extensions"))
                    (item(Nav::Upload, "/upload", "Upload & Publish"))
                    (item(Nav::Log, "/log", "Log"))
                    @if session.admin() { (item(Nav::Users, "/users", "Users")) }
                }
                form.who method="post" action="/logout" {
                    span.user { "Logged in as " b { (session.auth.name) } }
                    input type="hidden" name="csrf" value=(session.csrf);
                    button.link type="submit" { "Log out" }
                }
            }
            main #main {
                nav.crumbs aria-label="Breadcrumb" { (crumbs) }
                (body)
            }
            footer.foot { "Xif Platform Server · " a href="/api/v1/openapi.json" { "HTTP API" } }
        }
    }
}

fn notice(flash: Option<&Flash>) -> Markup {
    html! {
        @if let Some(f) = flash {
            @if f.error {
                div.notice.error role="alert" { (f.text) }
            } @else {
                div.notice.ok role="status" { (f.text) }
            }
        }
    }
}

/// A page for an error, without the navigation (the session may be the problem).
pub fn error_page(title: &str, message: &str) -> Markup {
    html! {
        (head(title))
        body.bare {
            main.narrow #main {
                a.brand.dark href="/extensions" { span.logo aria-hidden="true" { "X" } span { "Xif " b { "Service Center" } } }
                div.card {
                    h1 { (title) }
                    p.error-text role="alert" { (message) }
                    p { a href="/extensions" data-back { "Go back" } " · " a href="/extensions" { "Extensions" } }
                }
            }
        }
    }
}

/// The login page.
pub fn login(csrf: &str, next: &str, error: Option<&str>) -> Markup {
    html! {
        (head("Log in"))
        body.bare {
            main.narrow #main {
                a.brand.dark href="/extensions" { span.logo aria-hidden="true" { "X" } span { "Xif " b { "Service Center" } } }
                form.card method="post" action="/login" {
                    h1 { "Log in" }
                    @if let Some(e) = error { p.notice.error role="alert" { (e) } }
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    label for="user" { "User name" }
                    input #user name="user" autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                    button.primary type="submit" { "Log in" }
                }
            }
        }
    }
}

/// A row of the extensions list.
pub struct ListItem {
    /// The row.
    pub row: ListedExtension,
    /// The active version's entities (None: nothing active, so not known).
    pub entities: Option<Vec<String>>,
}

/// Factory › Extensions.
pub fn extensions(session: &Session, list: &[ListItem], totals: &[xif_store::CallTotals], search: &str) -> Markup {
    let of = |name: &str| totals.iter().find(|t| t.extension == name);
    let busiest: Vec<&xif_store::CallTotals> = totals.iter().filter(|t| t.calls > 0).take(5).collect();
    let mut failing: Vec<&xif_store::CallTotals> = totals.iter().filter(|t| t.failures > 0).collect();
    failing.sort_by(|a, b| {
        let share = |t: &xif_store::CallTotals| t.failures as f64 / t.calls.max(1) as f64;
        b.failures.cmp(&a.failures).then(share(b).total_cmp(&share(a))).then_with(|| a.extension.cmp(&b.extension))
    });
    failing.truncate(5);
    let body = html! {
        div.title-row {
            h1 { "Extensions" }
            a.button.primary href="/upload" { "Upload & Publish an Extension" }
        }
        (notice(session.flash.as_ref()))
        form.search role="search" method="get" action="/extensions" {
            label.sr for="q" { "Search extensions by name" }
            input #q type="search" name="q" value=(search) placeholder="Search by name";
            button type="submit" { "Search" }
            @if !search.is_empty() { a href="/extensions" { "Clear" } }
        }
        @if !busiest.is_empty() {
            div.charts #activity {
                section.card aria-labelledby="h-busiest" {
                    h2 #h-busiest { "Busiest " span.muted { "(last hour)" } }
                    ol.ranking #busiest { @for t in &busiest {
                        li { a href={ "/extensions/" (url_part(&t.extension)) } { (t.extension) } " " span.muted.calls { (t.calls) " calls" } }
                    } }
                }
                section.card aria-labelledby="h-failing" {
                    h2 #h-failing { "Most failing " span.muted { "(last hour)" } }
                    @if failing.is_empty() { p.muted #no-failing { "No failed call." } } @else {
                        ol.ranking #most-failing { @for t in &failing {
                            li { a href={ "/extensions/" (url_part(&t.extension)) } { (t.extension) } " "
                                span.bad.failures { (t.failures) " failed" } span.muted { " of " (t.calls) " (" (format!("{:.1}", t.failures as f64 * 100.0 / t.calls.max(1) as f64)) "%)" } }
                        } }
                    }
                }
            }
        }
        @if list.is_empty() {
            div.card.empty {
                @if search.is_empty() {
                    p { "No extension yet. " a href="/upload" { "Upload & publish one" } ", or run " code { "xif publish" } " in an extension's folder." }
                } @else {
                    p { "No extension's name contains “" (search) "”." }
                }
            }
        } @else {
            p.count { (list.len()) " extension" @if list.len() != 1 { "s" } }
            div.table-wrap {
                table.list {
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Active version" }
                        th scope="col" { "Published" }
                        th scope="col" { "Entities" }
                        th scope="col" class="num" { "Versions" }
                        th scope="col" class="num" { "Calls (1 h)" }
                    } }
                    tbody {
                        @for item in list {
                            @let r = &item.row;
                            tr {
                                td data-label="Name" {
                                    a.strong href={ "/extensions/" (url_part(&r.name)) } { (r.name) }
                                    @if let Some(d) = &r.description { @if !d.is_empty() { div.muted.small { (d) } } }
                                }
                                td data-label="Active version" {
                                    @match r.active_version {
                                        Some(v) => span.badge.live { "v" (v) },
                                        None => span.badge.idle { "not published" },
                                    }
                                }
                                td data-label="Published" {
                                    @if let Some(at) = r.activated_at {
                                        (when(at))
                                        @if let Some(by) = &r.published_by { span.muted { " by " (by) } }
                                    } @else { span.muted { "—" } }
                                }
                                td data-label="Entities" {
                                    @match &item.entities {
                                        Some(e) if !e.is_empty() => span.badge.entity title=(e.join(", ")) { "exports " (e.len()) },
                                        Some(_) => span.muted { "none" },
                                        None => span.muted { "—" },
                                    }
                                }
                                td.num data-label="Versions" { (r.versions) }
                                td.num data-label="Calls (1 h)" {
                                    @match of(&r.name) {
                                        Some(t) => { (t.calls) @if t.failures > 0 { " " span.bad { "(" (t.failures) " failed)" } } },
                                        None => span.muted { "0" },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let crumbs = html! { span { "Factory" } " › " span aria-current="page" { "Extensions" } };
    layout(session, "Extensions", Nav::Extensions, crumbs, body)
}

/// What the extension page shows.
pub struct ExtensionData<'a> {
    /// The extension.
    pub ext: &'a ExtensionRow,
    /// Its versions, oldest first.
    pub versions: &'a [VersionRow],
    /// The publish log by version, newest first.
    pub log: &'a HashMap<i64, Vec<PublishRow>>,
    /// Each version's API changes against the previous stored version (or why they are unknown).
    pub changes: &'a HashMap<i64, Result<VersionDiff, String>>,
    /// The version whose definition is shown, and the definition.
    pub definition: Option<(i64, &'a Definition)>,
    /// The settings set (when a version is active).
    pub settings: Option<&'a HashMap<String, String>>,
    /// The settings whose values are never shown (the definition's secrets and those the server
    /// keeps secret).
    pub secret: &'a std::collections::HashSet<String>,
    /// The last "try an action" answer.
    pub tried: Option<&'a TryResult>,
    /// A message.
    pub notice: Option<&'a Flash>,
    /// Its calls over the chosen span.
    pub activity: &'a crate::ops::logs::Activity,
    /// Its latest failed calls.
    pub failures: &'a [ActionErrorRow],
    /// The newest lines of its log (none: the user may not read it).
    pub log_lines: Option<&'a [xif_wire::ExtensionLogLine]>,
    /// The rollout that runs, with both versions' counts.
    pub rollout: Option<&'a xif_wire::RolloutInfo>,
}

fn field_type(f: &Field) -> Markup {
    html! {
        code.type { (f.ty.value) }
        @if let Some(l) = &f.length { span.muted { " (" (l.value) @if let Some(d) = &f.decimals { ", " (d.value) } ")" } }
    }
}

fn fields(list: &[Field], empty: &str, inputs: bool) -> Markup {
    html! {
        @if list.is_empty() { span.muted { (empty) } } @else {
            ul.fields {
                @for f in list {
                    li {
                        span.fname { (f.name.text) } ": " (field_type(f))
                        @if inputs && !f.is_mandatory() { span.tag { "optional" } }
                        @if let Some(d) = &f.default { span.muted.small { " = " (literal(&d.value)) } }
                    }
                }
            }
        }
    }
}

/// An extension's page.
pub fn extension(session: &Session, d: &ExtensionData<'_>) -> Markup {
    let ext = d.ext;
    let name = url_part(&ext.name);
    let def = d.definition.map(|(_, def)| def);
    let published: std::collections::HashSet<i64> =
        d.log.values().flatten().filter(|p| p.outcome == "published").map(|p| p.version).collect();
    let body = html! {
        div.title-row {
            div {
                h1 { (ext.name) }
                @if let Some(desc) = def.and_then(|d| d.description.as_ref()) { p.lead { (desc.value) } }
            }
            div.badges {
                @match ext.active_version {
                    Some(v) => span.badge.live { "Active: version " (v) },
                    None => span.badge.idle { "Not published" },
                }
                @if let Some(r) = d.rollout { span.badge.rolling { "Rolling out: version " (r.version) " at " (r.percent) "%" } }
                @if let Some(def) = def { @if !def.entities.is_empty() { span.badge.entity { "Exports entities" } } }
            }
        }
        (notice(d.notice))
        @if let Some((n, _)) = d.definition { @if Some(n) != ext.active_version {
            p.notice.info { "Nothing is active: this shows what version " (n) " declares." }
        } }
        div.grid {
            section.card #actions aria-labelledby="h-actions" {
                h2 #h-actions { "Actions" }
                @match def {
                    Some(def) if !def.actions.is_empty() => {
                        div.table-wrap { table.defs {
                            thead { tr { th scope="col" { "Action" } th scope="col" { "Inputs" } th scope="col" { "Outputs" } } }
                            tbody { @for a in &def.actions { tr {
                                td data-label="Action" { span.strong { (a.name.text) } @if let Some(desc) = &a.description { div.muted.small { (desc.value) } } }
                                td data-label="Inputs" { (fields(&a.inputs, "none", true)) }
                                td data-label="Outputs" { (fields(&a.outputs, "none", false)) }
                            } } }
                        } }
                    }
                    _ => p.muted { "No actions." },
                }
            }
            @if let Some(def) = def { @if !def.actions.is_empty() && ext.active_version.is_some() {
                section.card #try aria-labelledby="h-try" {
                    h2 #h-try { "Try an action" }
                    form method="post" action={ "/extensions/" (name) "/try#try" } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        label for="try-action" { "Action" }
                        select #try-action name="action" {
                            @for a in &def.actions {
                                option value=(a.name.text) selected[d.tried.is_some_and(|t| t.action == a.name.text)] { (a.name.text) }
                            }
                        }
                        label for="try-input" { "Input (JSON object)" }
                        textarea #try-input name="input" rows="4" spellcheck="false" { (d.tried.map(|t| t.input.as_str()).unwrap_or("{}")) }
                        button.primary type="submit" { "Call" }
                    }
                    @if let Some(t) = d.tried {
                        div.result.failed[t.failed] #try-result role="status" {
                            h3 { @if t.failed { "Error" } @else { "Output" } " · " (t.action) span.muted { " HTTP " (t.status) } }
                            pre { code { (t.output) } }
                        }
                    }
                }
            } }
            section.card #entities aria-labelledby="h-entities" {
                h2 #h-entities { "Entities" }
                @match def {
                    Some(def) if !def.entities.is_empty() => {
                        @for e in &def.entities {
                            h3 { (e.name.text) " " a.small href={ "/extensions/" (url_part(&d.ext.name)) "/entities/" (url_part(&e.name.text)) } { "Browse records" } }
                            @if let Some(desc) = &e.description { p.muted.small { (desc.value) } }
                            div.table-wrap { table.defs {
                                thead { tr { th scope="col" { "Attribute" } th scope="col" { "Type" } th scope="col" { "" } } }
                                tbody { @for a in &e.attributes { tr {
                                    td data-label="Attribute" { span.fname { (a.name.text) } }
                                    td data-label="Type" { (field_type(a)) }
                                    td {
                                        @if a.identifier { span.tag { "identifier" } }
                                        @if a.auto_number.as_ref().is_some_and(|v| v.value) { span.tag { "auto number" } }
                                        @if !a.is_mandatory() { span.tag { "optional" } }
                                    }
                                } } }
                            } }
                        }
                    }
                    _ => p.muted { "This extension exports no entities." },
                }
            }
            section.card #resources aria-labelledby="h-resources" {
                h2 #h-resources { "Resources" }
                @match def {
                    Some(def) if !def.resources.is_empty() => ul.plain { @for r in &def.resources { li { code { (r.value) } } } },
                    _ => p.muted { "No resource files." },
                }
            }
            section.card #settings aria-labelledby="h-settings" {
                h2 #h-settings { "Settings" }
                (settings(session, d, &name))
            }
        }
        (monitoring(d, &name))
        @if let Some(r) = d.rollout { (rollout_panel(session, &name, r)) }
        section.card #versions aria-labelledby="h-versions" {
            h2 #h-versions { "Versions " span.muted { "(" (d.versions.len()) ")" } }
            div.table-wrap { table.list.versions {
                thead { tr {
                    th scope="col" { "Version" }
                    th scope="col" { "Description" }
                    th scope="col" { "Digest" }
                    th scope="col" class="num" { "Size" }
                    th scope="col" { "Uploaded" }
                    th scope="col" { "API changes" }
                    th scope="col" { "Actions" }
                } }
                tbody { @for v in d.versions.iter().rev() {
                    @let active = Some(v.number) == ext.active_version;
                    @let rolling = d.rollout.filter(|r| r.version == v.number);
                    @let entries = d.log.get(&v.number);
                    tr.active[active] id={ "version-" (v.number) } {
                        td data-label="Version" {
                            span.strong { (v.number) }
                            @if active { " " span.badge.live { "published" } }
                            @if let Some(r) = rolling { " " span.badge.rolling { "rolling out " (r.percent) "%" } }
                        }
                        td data-label="Description" { (v.description) }
                        td data-label="Digest" { code.digest title=(v.digest) { (v.digest.get(..12).unwrap_or(&v.digest)) "…" } }
                        td.num data-label="Size" { (size(v.size)) }
                        td data-label="Uploaded" { (when(v.uploaded_at)) div.muted.small { "by " (v.uploaded_by) } }
                        td.api-changes data-label="API changes" { (change_summary(d.changes.get(&v.number))) }
                        td.buttons data-label="Actions" {
                            @if !active && d.rollout.is_none() {
                                @let (verb, route) = if published.contains(&v.number) { ("Roll back", "rollback") } else { ("Publish", "publish") };
                                form method="post" action={ "/extensions/" (name) "/versions/" (v.number) "/" (route) } {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    button.small type="submit" aria-label={ (verb) " to version " (v.number) } { (verb) }
                                }
                                @if ext.active_version.is_some_and(|a| a < v.number) {
                                    form.inline method="post" action={ "/extensions/" (name) "/versions/" (v.number) "/publish" } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        label.visually-hidden for={ "gradual-" (v.number) } { "Share of calls for version " (v.number) }
                                        input.percent type="number" min="1" max="99" value="10" name="gradual" id={ "gradual-" (v.number) };
                                        button.small type="submit" aria-label={ "Roll out version " (v.number) } { "Roll out %" }
                                    }
                                }
                            }
                            a.button.small href={ "/extensions/" (name) "/versions/" (v.number) "/download" } download aria-label={ "Download version " (v.number) } { "Download" }
                            @if !active {
                                form method="post" action={ "/extensions/" (name) "/versions/" (v.number) "/delete" } data-confirm={ "Delete version " (v.number) "?" } {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    button.small.danger type="submit" aria-label={ "Delete version " (v.number) } { "Delete" }
                                }
                            }
                        }
                    }
                    @if let Some(Ok(diff)) = d.changes.get(&v.number) { @if let (Some(from), false) = (diff.from, diff.changes.is_empty()) {
                        tr.log-row.diff-row id={ "changes-" (v.number) } { td colspan="7" {
                            details.api-diff {
                                summary { "API changes of version " (v.number) " against version " (from) " (" (summary(&diff.changes)) ")" }
                                (change_list(diff))
                            }
                        } }
                    } }
                    @if let Some(entries) = entries {
                        tr.log-row { td colspan="7" {
                            details {
                                summary { "Publish log of version " (v.number) " (" (entries.len()) ")" }
                                ul.log { @for p in entries { li {
                                    @let bad = p.outcome == "failed" || p.outcome == "aborted";
                                    span.badge.ok[!bad].bad[bad] { (p.outcome) }
                                    " " (p.kind) " by " (p.user_name) " · " (when(p.started_at)) " · " (p.ms) " ms"
                                    @if let Some(m) = &p.message {
                                        @if p.outcome == "failed" { div.error-text { (m) } } @else { div.small { (m) } }
                                    }
                                    (stages(&p.stages))
                                } } }
                            }
                        } }
                    }
                } }
            } }
            @if d.versions.len() >= 2 {
                @let numbers: Vec<i64> = d.versions.iter().map(|v| v.number).collect();
                @let last = numbers.len() - 1;
                (compare_form(&ext.name, &numbers, numbers[last - 1], numbers[last]))
            }
        }
    };
    let crumbs = html! { span { "Factory" } " › " a href="/extensions" { "Extensions" } " › " span aria-current="page" { (ext.name) } };
    layout(session, &ext.name, Nav::Extensions, crumbs, body)
}

/// The running rollout: both versions side by side (share, calls, failures, error rate, every
/// node's, since the minute it began), and the forms that move it on, activate it or abort it.
fn rollout_panel(session: &Session, name: &str, r: &xif_wire::RolloutInfo) -> Markup {
    let rate = |calls: i64, failed: i64| {
        if calls == 0 { "–".to_string() } else { format!("{:.1}%", failed as f64 * 100.0 / calls as f64) }
    };
    html! {
        section.card #rollout aria-labelledby="h-rollout" {
            h2 #h-rollout { "Rollout of version " (r.version) }
            p.muted {
                "Version " (r.version) " takes " strong { (r.percent) "%" } " of calls, chosen "
                (if r.per_caller { "per caller" } else { "per call" }) "; version " (r.active_version)
                " takes the rest and stays active. Started by " (r.started_by) " " (r.started_at) ". Error-rate guard "
                (if r.guard { "on" } else { "off" }) "."
            }
            div.table-wrap { table.list.rollout {
                thead { tr {
                    th scope="col" { "Version" } th scope="col" { "Role" } th scope="col" class="num" { "Share" }
                    th scope="col" class="num" { "Calls" } th scope="col" class="num" { "Failed" } th scope="col" class="num" { "Error rate" }
                } }
                tbody { @for v in &r.versions {
                    @let new = v.version == r.version;
                    tr id={ "rollout-" (v.version) } {
                        td data-label="Version" { span.strong { (v.version) } }
                        td data-label="Role" { @if new { span.badge.rolling { "rolling out" } } @else { span.badge.live { "active" } } }
                        td.num data-label="Share" { (if new { r.percent } else { 100 - r.percent }) "%" }
                        td.num.calls data-label="Calls" { (v.calls) }
                        td.num.failed data-label="Failed" { (v.failures) }
                        td.num.rate data-label="Error rate" { (rate(v.calls, v.failures)) }
                    }
                } }
            } }
            div.buttons {
                form.inline method="post" action={ "/extensions/" (name) "/rollout" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="version" value=(r.version);
                    label for="rollout-percent" { "Share" }
                    input.percent #rollout-percent type="number" min="1" max="100" value=(r.percent) name="percent";
                    button.small type="submit" { "Move" }
                }
                form.inline method="post" action={ "/extensions/" (name) "/rollout" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="version" value=(r.version);
                    input type="hidden" name="percent" value="100";
                    button.small.primary type="submit" { "Make version " (r.version) " active" }
                }
                form.inline method="post" action={ "/extensions/" (name) "/rollout" } data-confirm={ "Abort the rollout of version " (r.version) "?" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="version" value=(r.version);
                    input type="hidden" name="abort" value="1";
                    button.small.danger type="submit" { "Abort" }
                }
            }
        }
    }
}

/// A version's API changes in a word: against which version, how many, how many break.
fn change_summary(changes: Option<&Result<VersionDiff, String>>) -> Markup {
    html! {
        @match changes {
            None => span.muted { "—" },
            Some(Err(why)) => span.error-text.small { "not compared: " (why) },
            Some(Ok(d)) => @match d.from {
                None => span.muted { "first version" },
                Some(from) => {
                    span.diff-summary.breaking[d.breaking > 0].none[d.changes.is_empty()] { (summary(&d.changes)) } " "
                    div.muted.small { "against version " (from) }
                }
            },
        }
    }
}

/// The changes, one line each: place, class (breaking ones marked), message, what callers see.
fn change_list(d: &VersionDiff) -> Markup {
    html! {
        ul.changes {
            @for c in &d.changes {
                li.breaking[c.breaking] data-kind=(c.kind) {
                    span.badge.bad[c.breaking].ok[!c.breaking] { (class(c)) } " "
                    code.place { (c.place) } " "
                    span.message { (c.message) } " "
                    div.muted.small { "callers: " (c.caller) }
                }
            }
        }
    }
}

/// Two selects, from and to, leading to the compare page of an extension.
fn compare_form(extension: &str, versions: &[i64], from: i64, to: i64) -> Markup {
    html! {
        form.compare method="get" action={ "/extensions/" (url_part(extension)) "/diff" } {
            span.strong { "Compare versions" }
            label for="compare-from" { "From" }
            select #compare-from name="from" {
                @for n in versions { option value=(n) selected[*n == from] { "version " (n) } }
            }
            label for="compare-to" { "To" }
            select #compare-to name="to" {
                @for n in versions { option value=(n) selected[*n == to] { "version " (n) } }
            }
            button.small type="submit" { "Compare" }
        }
    }
}

/// What changed for callers between two versions of an extension.
pub fn compare(session: &Session, versions: &[VersionInfo], d: &VersionDiff) -> Markup {
    let name = url_part(&d.extension);
    let numbers: Vec<i64> = versions.iter().map(|v| v.version).collect();
    let body = html! {
        div.title-row {
            div {
                h1 { (d.extension) ": API changes" }
                p.lead {
                    @match d.from {
                        Some(from) => { "From version " (from) " to version " (d.to) },
                        None => { "Version " (d.to) " has no lower version to compare with" },
                    }
                }
            }
            div.badges {
                span.badge.bad[d.breaking > 0].ok[d.breaking == 0] #diff-summary { (summary(&d.changes)) }
            }
        }
        section.card #diff aria-labelledby="h-diff" {
            h2 #h-diff { "Changes for callers " span.muted { "(" (d.changes.len()) ")" } }
            @if d.changes.is_empty() {
                p.muted { "Callers see the same actions, inputs, outputs and structures." }
            } @else {
                p.muted.small { "A breaking change can fail calls written for the older version; a place names the file it is in (the older one for what was removed)." }
                (change_list(d))
            }
            @if numbers.len() >= 2 { (compare_form(&d.extension, &numbers, d.from.unwrap_or(d.to), d.to)) }
            p { a href={ "/extensions/" (name) "#versions" } { "‹ Back to " (d.extension) } }
        }
    };
    let crumbs = html! {
        span { "Factory" } " › " a href="/extensions" { "Extensions" } " › "
        a href={ "/extensions/" (name) } { (d.extension) } " › " span aria-current="page" { "API changes" }
    };
    layout(session, &format!("{}: API changes", d.extension), Nav::Extensions, crumbs, body)
}

/// The chart's size in SVG units.
const CHART_W: f64 = 600.0;
const CHART_H: f64 = 100.0;

/// One bar chart: a bar per entry of `values`, `total` with `part` of it stacked at the bottom
/// in `part_class`, scaled to the largest total; `title` says a bar's two figures.
struct Chart<'a> {
    label: &'a str,
    id: &'a str,
    unit: &'a str,
    values: &'a [(f64, f64)],
    part_class: &'a str,
    title: &'a dyn Fn(f64, f64) -> String,
}

fn fmt_figure(v: f64) -> String {
    if v >= 10.0 || v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.2}") }
}

/// How long ago `minutes` is, in words.
fn ago(minutes: i64) -> String {
    match minutes {
        0 => "this minute".into(),
        m if m < 60 => format!("{m} min ago"),
        m if m % 60 == 0 => format!("{} h ago", m / 60),
        m => format!("{} h {} min ago", m / 60, m % 60),
    }
}

fn bars(c: &Chart<'_>, span: crate::ops::logs::Span) -> Markup {
    let (minutes, per_bar) = span.minutes();
    let max = c.values.iter().map(|v| v.0).fold(0.0_f64, f64::max);
    let scale = if max > 0.0 { CHART_H / max } else { 0.0 };
    let w = CHART_W / c.values.len().max(1) as f64;
    let gap = if w > 4.0 { 1.0 } else { 0.25 };
    let whole = ago(minutes);
    html! {
        figure.chart id=(c.id) {
            figcaption { (c.label) span.muted { " · peak " (fmt_figure(max)) " " (c.unit) } }
            svg viewBox={ "0 0 " (CHART_W) " " (CHART_H + 14.0) } role="img" aria-label={ (c.label) ", since " (whole) ", peak " (fmt_figure(max)) " " (c.unit) } preserveAspectRatio="none" {
                line.axis x1="0" y1=(CHART_H) x2=(CHART_W) y2=(CHART_H) {}
                @for (i, (total, part)) in c.values.iter().enumerate() {
                    @if *total > 0.0 {
                        @let h = (total * scale).max(1.0);
                        rect.bar x=(format!("{:.1}", i as f64 * w + gap)) y=(format!("{:.1}", CHART_H - h)) width=(format!("{:.2}", w - 2.0 * gap)) height=(format!("{h:.1}")) {
                            title { ((c.title)(*total, *part)) " · " (ago((c.values.len() - 1 - i) as i64 * per_bar)) }
                        }
                        @if *part > 0.0 {
                            @let hp = (part * scale).max(1.0);
                            rect class={ "bar " (c.part_class) } x=(format!("{:.1}", i as f64 * w + gap)) y=(format!("{:.1}", CHART_H - hp)) width=(format!("{:.2}", w - 2.0 * gap)) height=(format!("{hp:.1}")) {}
                        }
                    }
                }
                text.tick x="0" y=(CHART_H + 12.0) { (whole) }
                text.tick x=(CHART_W) y=(CHART_H + 12.0) text-anchor="end" { "now" }
            }
        }
    }
}

/// Calls per minute (or per 15 minutes over a day), their p50/p99 durations, failures by kind
/// with the latest messages, and the live log.
fn monitoring(d: &ExtensionData<'_>, name: &str) -> Markup {
    use crate::ops::logs::Span;
    let a = d.activity;
    let calls: u64 = a.minutes.iter().map(|m| m.calls).sum();
    let failed: u64 = a.minutes.iter().map(|m| m.failures).sum();
    let counts: Vec<(f64, f64)> = a.minutes.iter().map(|m| (m.calls as f64, m.failures as f64)).collect();
    let times: Vec<(f64, f64)> = a.minutes.iter().map(|m| (m.p99_ms, m.p50_ms)).collect();
    let last_id = d.log_lines.and_then(|l| l.last()).map_or(0, |l| l.id);
    let (span_words, per) = match a.span {
        Span::Hour => ("last hour", "minute"),
        Span::Day => ("last 24 hours", "15 minutes"),
    };
    let calls_label = format!("Calls per {per}");
    let ms = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{} ms", fmt_figure(v)));
    html! {
        section.card #monitoring aria-labelledby="h-monitoring" {
            div.title-row {
                h2 #h-monitoring { "Calls " span.muted { "(" (span_words) ", every node)" } }
                nav.span-switch aria-label="Time span" {
                    a href={ "/extensions/" (name) "#monitoring" } aria-current=[(a.span == Span::Hour).then_some("true")] { "Hour" }
                    " · "
                    a #span-day href={ "/extensions/" (name) "?range=day#monitoring" } aria-current=[(a.span == Span::Day).then_some("true")] { "Day" }
                }
            }
            p.totals {
                span.strong #calls-total { (calls) } " calls · "
                span.strong.bad[failed > 0] #failures-total { (failed) } " failed"
                @if calls > 0 { span.muted { " (" (format!("{:.1}", failed as f64 * 100.0 / calls as f64)) "%)" } }
                " · p50 " span.strong #p50-total { (ms(a.p50_ms)) } " · p99 " span.strong #p99-total { (ms(a.p99_ms)) }
            }
            div.charts {
                (bars(&Chart { label: &calls_label, id: "chart-calls", unit: "calls", values: &counts, part_class: "failed",
                    title: &|t, p| if p > 0.0 { format!("{} calls, {} failed", fmt_figure(t), fmt_figure(p)) } else { format!("{} calls", fmt_figure(t)) } }, a.span))
                (bars(&Chart { label: "Duration, p99 over p50", id: "chart-duration", unit: "ms", values: &times, part_class: "p50",
                    title: &|t, p| format!("p99 {} ms, p50 {} ms", fmt_figure(t), fmt_figure(p)) }, a.span))
            }
            @if !a.failures.is_empty() {
                div.table-wrap { table.defs #failure-kinds {
                    thead { tr { th scope="col" { "Failure" } th scope="col" class="num" { "Calls" } } }
                    tbody { @for (kind, n) in &a.failures { tr { td data-label="Failure" { code { (kind) } } td.num data-label="Calls" { (n) } } } }
                } }
            }
            @if !d.failures.is_empty() {
                h3 { "Latest failures" }
                div.table-wrap { table.list #latest-failures {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Action" } th scope="col" { "Caller" } th scope="col" { "Error" } } }
                    tbody { @for e in d.failures { tr {
                        td data-label="When" { (when(e.at)) }
                        td data-label="Action" { "v" (e.version) " · " (e.action) }
                        td data-label="Caller" { (e.user_name) }
                        td data-label="Error" { span.badge.bad { (e.kind) } div.error-text.small { (e.message) } }
                    } } }
                } }
                p.muted.small { "All failed calls: " a href="/log" { "Log" } "." }
            }
            h3 { "Log" }
            @match d.log_lines {
                Some(lines) => {
                    p.muted.small { "What its calls log (host log, stdout, stderr), newest last; new lines appear as they are written. Also: " code { "xif logs " (d.ext.name) " --follow" } }
                    ol.live-log #live-log data-follow={ "/extensions/" (name) "/logs/follow?after=" (last_id) } aria-live="polite" {
                        @for l in lines { (log_line(l)) }
                    }
                    @if lines.is_empty() { p.muted.small #live-log-empty { "Nothing logged yet." } }
                }
                None => p.muted.small { "Only administrators and users who may publish this extension read its log." },
            }
        }
    }
}

fn log_line(l: &xif_wire::ExtensionLogLine) -> Markup {
    html! {
        li class={ "lvl-" (l.level) } {
            time datetime=(l.at) { (l.at.get(11..23).unwrap_or(&l.at)) }
            " " span.lvl { (l.level) } " " span.muted { "v" (l.version) " " (l.action) } " "
            code.call title="call id (X-Request-Id)" { (l.call_id) } " " span.msg { (l.message) }
        }
    }
}

fn stages(json: &str) -> Markup {
    let list: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
    html! {
        ol.stages.compact {
            @for s in list.iter().filter(|s| s["status"] != "started") {
                li class={ "st-" (s["status"].as_str().unwrap_or("")) } {
                    (s["step"].as_str().unwrap_or("?")) " " span.muted { (s["status"].as_str().unwrap_or("")) " " (s["ms"]) " ms" }
                }
            }
        }
    }
}

fn settings(session: &Session, d: &ExtensionData<'_>, name: &str) -> Markup {
    let Some((_, def)) = d.definition else { return html! { p.muted { "No settings." } } };
    if def.settings.is_empty() {
        return html! { p.muted { "This extension has no settings." } };
    }
    let values = d.settings;
    let editable = session.admin() && values.is_some();
    html! {
        @if values.is_none() { p.muted.small { "Settings can be set once a version is published." } }
        form method="post" action={ "/extensions/" (name) "/settings" } {
            input type="hidden" name="csrf" value=(session.csrf);
            div.table-wrap { table.defs {
                thead { tr { th scope="col" { "Setting" } th scope="col" { "Type" } th scope="col" { "Value" } } }
                tbody { @for s in &def.settings {
                    @let value = values.and_then(|v| v.get(&s.name.text));
                    @let secret = s.secret || d.secret.contains(&s.name.text);
                    @let id = format!("setting-{}", s.name.text);
                    tr {
                        td data-label="Setting" {
                            label.fname for=(id) { (s.name.text) }
                            @if let Some(desc) = &s.description { div.muted.small { (desc.value) } }
                        }
                        td data-label="Type" { (field_type(s)) @if secret { " " span.tag { "secret" } } }
                        td data-label="Value" {
                            @if secret {
                                @if editable {
                                    input id=(id) name={ "setting." (s.name.text) } type="password" autocomplete="off"
                                        placeholder=(if value.is_some() { "•••••••• (set; leave empty to keep)" } else { "not set" });
                                    @if value.is_some() { label.check { input type="checkbox" name={ "clear." (s.name.text) }; " clear" } }
                                } @else {
                                    span #(id) { @if value.is_some() { "•••••••• (set)" } @else { span.muted { "not set" } } }
                                }
                            } @else {
                                @let default = s.default.as_ref().map(|d| literal(&d.value));
                                @if editable {
                                    input id=(id) name={ "setting." (s.name.text) } value=(value.map(String::as_str).unwrap_or(""))
                                        placeholder=(default.as_deref().map(|d| format!("default: {d}")).unwrap_or_default());
                                } @else {
                                    span #(id) { @match value { Some(v) => (v), None => span.muted { "default" @if let Some(d) = &default { ": " (d) } } } }
                                }
                            }
                        }
                    }
                } }
            } }
            @if editable { button.primary type="submit" { "Save settings" } }
            @else if !session.admin() { p.muted.small { "Only an administrator may change settings." } }
        }
    }
}

/// "Upload & Publish an Extension".
pub fn upload(session: &Session) -> Markup {
    let steps = [
        ("validate", "Validate the package"),
        ("permissions", "Check permissions"),
        ("compile", "Compile to native code"),
        ("contract", "Check the contract"),
        ("entities", "Provision entities"),
        ("activate", "Activate"),
    ];
    let body = html! {
        div.title-row { h1 { "Upload & Publish an Extension" } }
        div.card.upload {
            form #upload-form {
                div #drop.drop tabindex="-1" {
                    p.big { "Drag a " code { ".xif" } " file here" }
                    p.muted { "or" }
                    label.button for="file" { "Choose a file…" }
                    input #file.visually-hidden type="file" name="file" accept=".xif,application/octet-stream";
                    p #chosen.chosen aria-live="polite" {}
                }
                label.check {
                    input #allow-breaking type="checkbox" name="allow_breaking";
                    " Publish even if it breaks what callers of the active version use (an action, input or output removed, an input made mandatory, a type changed)"
                }
                button #publish.primary.big type="submit" disabled { "1-Click Publish" }
            }
            noscript { p.notice.error { "This page needs JavaScript. Without it, use " code { "xif publish" } "." } }
            div #progress.progress hidden {
                h2 { "Upload" }
                div.bar-row {
                    progress #upload-bar max="100" value="0" aria-label="Upload progress" {}
                    span #upload-pct { "0%" }
                }
                h2 { "Publish" }
                ol #stages.stages {
                    @for (step, label) in steps {
                        li data-step=(step) class="st-pending" {
                            span.icon aria-hidden="true" {}
                            span.label { (label) }
                            span.state.muted { "waiting" }
                        }
                    }
                }
            }
            div #outcome aria-live="assertive" {}
        }
        p.muted.small { "The server checks the package, your permissions (uploading needs what publishing needs), compiles it and activates it atomically: calls in flight finish on the old version." }
    };
    let crumbs = html! { span { "Factory" } " › " a href="/extensions" { "Extensions" } " › " span aria-current="page" { "Upload & Publish" } };
    layout(session, "Upload & Publish", Nav::Upload, crumbs, body)
}

/// Users & permissions.
/// What the users page shows.
pub struct UsersPage<'a> {
    /// Every user.
    pub users: &'a [UserLine],
    /// Their permissions, by user id.
    pub granted: &'a HashMap<i64, Vec<String>>,
    /// The scrape tokens of `GET /metrics`.
    pub scrape: &'a [xif_wire::TokenInfo],
    /// A scrape token just made (shown this once).
    pub fresh: Option<&'a xif_wire::NewToken>,
}

pub fn users(session: &Session, page: &UsersPage<'_>, flash: Option<&Flash>) -> Markup {
    let (users, granted) = (page.users, page.granted);
    let body = html! {
        div.title-row { h1 { "Users & permissions" } }
        (notice(flash))
        div.table-wrap { table.list.users {
            thead { tr {
                th scope="col" { "User" }
                @for p in Permission::ALL { th scope="col" { (p.name()) } }
                th scope="col" { "" }
                th scope="col" { "API tokens" }
            } }
            tbody { @for u in users {
                @let perms = granted.get(&u.id);
                @let form_id = format!("perm-{}", u.id);
                tr {
                    td data-label="User" {
                        span.strong { (u.name) } @if u.is_admin { " " span.badge.live { "administrator" } }
                        div.muted.small { "since " (when(u.created_at)) }
                    }
                    @for p in Permission::ALL {
                        td.center data-label=(p.name()) {
                            @let has = perms.is_some_and(|l| l.iter().any(|x| x == p.name()));
                            label.check {
                                input type="checkbox" form=(form_id) name="permission" value=(p.name()) checked[has];
                                span.sr { (p.name()) " for " (u.name) }
                            }
                        }
                    }
                    td {
                        form id=(form_id) method="post" action={ "/users/" (url_part(&u.name)) "/permissions" } {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button.small type="submit" aria-label={ "Save permissions of " (u.name) } { "Save" }
                        }
                    }
                    td data-label="API tokens" {
                        (u.api_tokens) " "
                        form.inline method="post" action={ "/users/" (url_part(&u.name)) "/tokens/revoke" } data-confirm={ "End every session and token of " (u.name) "?" } {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button.small.danger type="submit" aria-label={ "End every session and token of " (u.name) } { "Revoke all" }
                        }
                    }
                }
            } }
        } }
        p.muted.small { "Administrators hold every permission. " "“Change & Deploy Applications” allows publishing any extension; “Allow Extensions” one without entities; with “Allow Foreign Entities” also one that exports entities." }
        section.card aria-labelledby="h-new" {
            h2 #h-new { "Create a user" }
            form.stack method="post" action="/users" {
                input type="hidden" name="csrf" value=(session.csrf);
                div.two {
                    div { label for="new-name" { "User name" } input #new-name name="name" required autocomplete="off"; }
                    div { label for="new-password" { "Password (8 characters at least)" } input #new-password name="password" type="password" required minlength="8" autocomplete="new-password"; }
                }
                fieldset {
                    legend { "Permissions" }
                    @for p in Permission::ALL { label.check { input type="checkbox" name="permission" value=(p.name()); " " (p.name()) } }
                    label.check { input type="checkbox" name="admin"; " Administrator" }
                }
                button.primary type="submit" { "Create user" }
            }
        }
        section.card aria-labelledby="h-reset" {
            h2 #h-reset { "Reset a password" }
            p.muted.small { "A new password ends every session and API token of the user." }
            form.stack method="post" action="/users/password" {
                input type="hidden" name="csrf" value=(session.csrf);
                div.two {
                    div {
                        label for="reset-user" { "User" }
                        select #reset-user name="user" { @for u in users { option value=(u.name) { (u.name) } } }
                    }
                    div { label for="reset-password" { "New password (8 characters at least)" } input #reset-password name="password" type="password" required minlength="8" autocomplete="new-password"; }
                }
                button.danger type="submit" { "Set the password" }
            }
        }
        section.card #scrape-tokens aria-labelledby="h-scrape" {
            h2 #h-scrape { "Metrics scrape tokens" }
            p.muted.small { "A scrape token reads " code { "GET /metrics" } " (the Prometheus text format) and nothing else. Give it to your Prometheus as its bearer token. It stops working when revoked, or when the administrator who made it is no longer one." }
            @if let Some(t) = page.fresh {
                div.notice.ok #fresh-scrape-token {
                    p { "The token " strong { (t.name) } ", shown this once:" }
                    pre { code #fresh-token { (t.token) } }
                    p.small { "For example: " code { "authorization: { credentials: <token> }" } " in the scrape job. It expires " (t.expires_at) "." }
                }
            }
            @if !page.scrape.is_empty() {
                div.table-wrap { table.list {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Made by" } th scope="col" { "Made" } th scope="col" { "Expires" } th scope="col" { "" } } }
                    tbody { @for t in page.scrape { tr {
                        td data-label="Name" { (t.name) }
                        td data-label="Made by" { (t.user) }
                        td data-label="Made" { (t.created_at) }
                        td data-label="Expires" { (t.expires_at) }
                        td {
                            @match &t.revoked_at {
                                Some(at) => span.muted { "revoked " (at) },
                                None => form.inline method="post" action={ "/metrics-tokens/" (t.id) "/revoke" } data-confirm={ "Revoke the scrape token " (t.name) "?" } {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    button.small.danger type="submit" aria-label={ "Revoke the scrape token " (t.name) } { "Revoke" }
                                },
                            }
                        }
                    } } }
                } }
            }
            form.stack method="post" action="/metrics-tokens" {
                input type="hidden" name="csrf" value=(session.csrf);
                div.two {
                    div { label for="scrape-name" { "Name" } input #scrape-name name="name" required maxlength="100" placeholder="prometheus"; }
                    div { label for="scrape-days" { "Expires in (days, default 365)" } input #scrape-days name="days" inputmode="numeric" placeholder="365"; }
                }
                button type="submit" { "Make a scrape token" }
            }
        }
    };
    let crumbs = html! { span { "Administration" } " › " span aria-current="page" { "Users & permissions" } };
    layout(session, "Users & permissions", Nav::Users, crumbs, body)
}

/// The log of recent publishes and action errors.
pub fn log(session: &Session, publishes: &[RecentPublish], errors: &[ActionErrorRow]) -> Markup {
    let body = html! {
        div.title-row { h1 { "Log" } }
        section.card aria-labelledby="h-pub" {
            h2 #h-pub { "Recent publishes" }
            @if publishes.is_empty() { p.muted { "Nothing published yet." } } @else {
                div.table-wrap { table.list {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Extension" } th scope="col" { "What" } th scope="col" { "Outcome" } th scope="col" class="num" { "Time" } } }
                    tbody { @for p in publishes { tr {
                        td data-label="When" { (when(p.started_at)) }
                        td data-label="Extension" { a href={ "/extensions/" (url_part(&p.extension)) } { (p.extension) } " v" (p.version) }
                        td data-label="What" { (p.kind) " by " (p.user_name) }
                        td data-label="Outcome" {
                            span.badge.ok[p.outcome == "published"].bad[p.outcome != "published"] { (p.outcome) }
                            @if let Some(m) = &p.message { div.error-text.small { (m) } }
                        }
                        td.num data-label="Time" { (p.ms) " ms" }
                    } } }
                } }
            }
        }
        section.card aria-labelledby="h-err" {
            h2 #h-err { "Action errors" }
            @if errors.is_empty() { p.muted { "No failed action call." } } @else {
                div.table-wrap { table.list {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Action" } th scope="col" { "Caller" } th scope="col" { "Error" } } }
                    tbody { @for e in errors { tr {
                        td data-label="When" { (when(e.at)) }
                        td data-label="Action" { a href={ "/extensions/" (url_part(&e.extension)) } { (e.extension) } " v" (e.version) " · " (e.action) }
                        td data-label="Caller" { (e.user_name) }
                        td data-label="Error" { span.badge.bad { (e.kind) } div.error-text.small { (e.message) } }
                    } } }
                } }
            }
        }
    };
    let crumbs = html! { span { "Monitoring" } " › " span aria-current="page" { "Log" } };
    layout(session, "Log", Nav::Log, crumbs, body)
}

/// An entity's records, a page at a time (the record API's list, read with the session's user).
pub fn records(session: &Session, extension: &str, page: &crate::ops::wire::RecordPage) -> Markup {
    let columns: Vec<String> =
        page.records.first().and_then(|r| r.as_object()).map(|o| o.keys().cloned().collect()).unwrap_or_default();
    let cell = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let base = format!("/extensions/{}/entities/{}", url_part(extension), url_part(&page.entity));
    let body = html! {
        div.title-row { h1 { (page.entity) } }
        section.card aria-labelledby="h-records" {
            h2 #h-records { "Records " span.muted { "(" (page.offset + 1) "–" (page.offset as usize + page.records.len()) ")" } }
            @if page.records.is_empty() { p.muted { "No records." } } @else {
                div.table-wrap { table.list {
                    thead { tr { @for c in &columns { th scope="col" { (c) } } } }
                    tbody { @for r in &page.records { tr {
                        @for c in &columns { td data-label=(c) { (cell(r.get(c))) } }
                    } } }
                } }
            }
            p {
                @if page.offset > 0 {
                    a href={ (base) "?offset=" (page.offset.saturating_sub(page.limit)) } { "‹ Previous" } " "
                }
                @if page.more { a href={ (base) "?offset=" (page.offset + page.limit) } { "Next ›" } }
            }
        }
    };
    let crumbs = html! {
        span { "Factory" } " › " a href="/extensions" { "Extensions" } " › "
        a href={ "/extensions/" (url_part(extension)) } { (extension) } " › " span aria-current="page" { (page.entity) }
    };
    layout(session, &page.entity, Nav::Extensions, crumbs, body)
}
