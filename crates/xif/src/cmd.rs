//! One function per command: fill the options, call the operation, render its report.
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;
use xif_build::compile::{CompileOptions, CompileStatus};
use xif_build::save::SaveOptions;
use xif_build::{Project, verify};

use crate::remote;
use crate::ui::Ui;
use crate::{Command, ExtArgs};

pub fn run(command: Command, ui: &Ui) -> anyhow::Result<ExitCode> {
    // With --json nothing on either stream carries ANSI codes.
    let json_flag = matches!(&command, Command::Publish(a) | Command::Upload(a) if a.ext.json);
    let plain = Ui::new(false);
    let quiet = if json_flag { &plain } else { ui };
    match command {
        Command::New { name, path, minimal } => new(&name, &path, minimal, ui),
        Command::Verify(ext) => verify_cmd(&ext, ui),
        Command::UpdateSource(ext) => update_source(&ext, ui),
        Command::Compile { ext, force, target_dir } => compile(&ext, force, target_dir, ui),
        Command::Save { ext, output } => save(&ext, output, ui),
        Command::Inspect { file, json } => inspect(&file, json, ui),
        Command::Serve(args) => serve(*args, ui),
        Command::Login { url, user, password_stdin } => remote::login(&url, user, password_stdin, ui),
        Command::Logout { server } => remote::logout(server.as_deref(), ui),
        Command::Servers { action } => remote::servers(action.unwrap_or(crate::ServersCmd::List { json: false }), ui),
        Command::Publish(args) => remote::publish(args, false, quiet),
        Command::Upload(args) => remote::publish(args, true, quiet),
        Command::Call(args) => remote::call(args, ui),
        Command::Logs(args) => remote::logs(args, ui),
        Command::Download { extension, version, path, force, server } => {
            remote::download(&extension, version, path, force, server.server.as_deref(), ui)
        }
        Command::Versions { extension, server, json } => {
            remote::versions(&extension, server.server.as_deref(), json, ui)
        }
        Command::Rollback { extension, number, server, json } => {
            remote::rollback(&extension, number, server.server.as_deref(), json, ui)
        }
        Command::Rollout { extension, to, if_version, server, json } => {
            remote::rollout(&extension, to.as_deref(), if_version, server.server.as_deref(), json, ui)
        }
        Command::Token { action } => remote::token(action, ui),
        Command::Settings(args) => remote::settings(args, ui),
        Command::Completions { shell } => {
            let mut cli = <crate::Cli as clap::CommandFactory>::command();
            // Written in one go, so a closed pipe is an error (quietly ended), not a panic.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cli, "xif", &mut script);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &script).context("writing the script")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage { dir } => manpage(dir, ui),
        Command::Admin { action } => crate::admin::run(action, ui),
        Command::Run { action, input, settings, time_limit, memory_limit, ext, target_dir } => {
            let limits = xif_runtime::Limits {
                call_time: std::time::Duration::from_millis(time_limit),
                call_memory: memory_limit << 20,
                ..xif_runtime::Limits::default()
            };
            run_action(&ext, RunArgs { action, input, settings, limits, target_dir }, ui)
        }
    }
}

fn open(ext: &ExtArgs) -> anyhow::Result<Project> {
    Ok(Project::open(&ext.path)?)
}

/// `1 file written`, `2 files written`.
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

fn new(name: &str, parent: &std::path::Path, minimal: bool, ui: &Ui) -> anyhow::Result<ExitCode> {
    use xif_build::scaffold::Template;
    ui.status("Creating", &format!("extension {name}"));
    let (template, action) = if minimal { (Template::Minimal, "Hello") } else { (Template::Example, "Greet") };
    let dir = xif_build::scaffold::new_extension_from(parent, name, template)?;
    ui.status("Created", &format!("{} (try: cd {} && xif compile && xif run {action})", dir.display(), dir.display()));
    Ok(ExitCode::SUCCESS)
}

/// Prints a Verify report; returns whether it passed.
fn report_verify(project: &Project, report: &verify::VerifyReport, json: bool, ui: &Ui) -> bool {
    if json {
        let diags = project.diagnostics_json(&report.diagnostics);
        print_json(&json!({ "diagnostics": diags, "ok": report.ok(), "summary": report.count_line() }));
    } else {
        eprint!("{}", project.render(&report.diagnostics));
    }
    if report.ok() {
        ui.status("Verified", &format!("{}: {}", project.name(), report.count_line()));
    } else {
        ui.error(&format!("{} has {}", project.name(), report.count_line()));
    }
    report.ok()
}

fn verify_cmd(ext: &ExtArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = open(ext)?;
    ui.status("Verifying", project.name());
    let report = verify::verify(&project);
    Ok(if report_verify(&project, &report, ext.json, ui) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn render_update(report: &xif_build::update_source::UpdateReport, ui: &Ui) {
    for f in &report.stubs {
        ui.status("Stubbed", &format!("{f} (a new action: implement it)"));
    }
    for f in &report.orphans {
        ui.warn(&format!("{f} implements no action of the definition (left as it is; delete it or rename its action)"));
    }
    for (action, file, sig) in &report.changed_signatures {
        ui.warn(&format!("the signature of action {action} changed; {file} must now read:\n    {sig} {{ … }}"));
    }
}

fn update_source(ext: &ExtArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = open(ext)?;
    let verify = verify::verify(&project);
    if !verify.ok_before_update_source() {
        report_verify(&project, &verify, false, ui);
        return Ok(ExitCode::from(1));
    }
    let report = xif_build::update_source::update_source(&project)?;
    render_update(&report, ui);
    let warnings = report.orphans.len() + report.changed_signatures.len();
    if ext.json {
        print_json(&json!({
            "written": report.written, "unchanged": report.unchanged, "stubs": report.stubs,
            "orphans": report.orphans,
            "changed_signatures": report.changed_signatures.iter().map(|(a, f, s)| json!({"action": a, "file": f, "expected": s})).collect::<Vec<_>>(),
        }));
    }
    let stubs = match report.stubs.len() {
        0 => String::new(),
        n => format!("; {} to implement", count(n, "new action stub", "new action stubs")),
    };
    let tail = format!("{stubs}; 0 errors, {}", count(warnings, "warning", "warnings"));
    if report.written.is_empty() {
        ui.status("Unchanged", &format!("{} up to date{tail}", count(report.unchanged.len(), "file", "files")));
    } else {
        ui.status(
            "Wrote",
            &format!("{}, {} unchanged{tail}", count(report.written.len(), "file", "files"), report.unchanged.len()),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn compile(ext: &ExtArgs, force: bool, target_dir: Option<std::path::PathBuf>, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = open(ext)?;
    let verify = verify::verify(&project);
    if !verify.ok() {
        report_verify(&project, &verify, false, ui);
        return Ok(ExitCode::from(1));
    }
    let opts =
        CompileOptions { target_dir, force, stream_output: !ext.json, rustc_wrapper: std::env::current_exe().ok() };
    // Looked for once: for the note, then for the build.
    let tc = xif_build::toolchain::find();
    let note = if tc.as_ref().is_ok_and(|tc| xif_build::compile::builds_std_first(&project, &opts, tc)) {
        " (a first build also builds the standard library: about a minute)"
    } else {
        ""
    };
    ui.status("Compiling", &format!("{}{note}", project.name()));
    let report = match xif_build::compile::compile_with(&project, &opts, tc) {
        Ok(r) => r,
        Err(e) => {
            ui.error(&format!("{e}"));
            ui.error("1 error, 0 warnings");
            return Ok(ExitCode::from(1));
        }
    };
    render_update(&report.update, ui);
    let status = match report.status {
        CompileStatus::Built => "built",
        CompileStatus::Unchanged => "unchanged",
    };
    if ext.json {
        print_json(
            &json!({"status": status, "component": report.component, "size": report.size, "toolchain": report.toolchain, "ms": report.ms}),
        );
    }
    let verb = if report.status == CompileStatus::Built { "Compiled" } else { "Fresh" };
    let what = if report.status == CompileStatus::Built { "" } else { " (nothing changed: skipped the build)" };
    ui.status(
        verb,
        &format!("{} → {} ({} bytes, {} ms){what}", project.name(), rel(&report.component), report.size, report.ms),
    );
    ui.status("Finished", "0 errors, 0 warnings");
    Ok(ExitCode::SUCCESS)
}

fn rel(p: &std::path::Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|d| p.strip_prefix(d).ok().map(|r| r.display().to_string()))
        .unwrap_or_else(|| p.display().to_string())
}

fn save(ext: &ExtArgs, output: Option<std::path::PathBuf>, ui: &Ui) -> anyhow::Result<ExitCode> {
    let project = open(ext)?;
    ui.status("Packaging", project.name());
    let report = match xif_build::save::save(&project, &SaveOptions { output }) {
        Ok(r) => r,
        Err(e) => {
            ui.error(&format!("{e}"));
            ui.error("1 error, 0 warnings");
            return Ok(ExitCode::from(1));
        }
    };
    if ext.json {
        print_json(
            &json!({"path": report.path, "digest": report.digest, "size": report.size, "entries": report.entries}),
        );
    }
    ui.status("Packaged", &format!("{} ({} entries, {} bytes)", rel(&report.path), report.entries, report.size));
    ui.status("Digest", &format!("sha256:{}", report.digest));
    ui.status("Finished", "0 errors, 0 warnings");
    Ok(ExitCode::SUCCESS)
}

fn inspect(file: &std::path::Path, json_out: bool, ui: &Ui) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let limits = xif_package::Limits::default();
    let insp = match xif_package::inspect(&bytes, &limits) {
        Ok(i) => i,
        Err(e) => {
            ui.error(&format!("{} is not a valid package: {e}", file.display()));
            ui.error("1 error, 0 warnings");
            return Ok(ExitCode::from(1));
        }
    };
    let bad: Vec<&xif_package::InspectedEntry> =
        insp.entries.iter().filter(|e| !matches!(e.status, xif_package::EntryStatus::Ok)).collect();
    // The full read also validates the component and the manifest's shape.
    let full = if bad.is_empty() { xif_package::read(&bytes, &limits).err() } else { None };
    if json_out {
        let entries: Vec<serde_json::Value> = insp
            .entries
            .iter()
            .map(|e| json!({"path": e.path, "size": e.size, "sha256": e.sha256, "status": format!("{:?}", e.status)}))
            .collect();
        print_json(&json!({
            "extension": insp.manifest.extension, "description": insp.manifest.description,
            "toolchain": insp.manifest.toolchain, "format": insp.manifest.format, "digest": insp.digest,
            "entries": entries, "ok": bad.is_empty() && full.is_none(),
        }));
    } else {
        println!("extension  {}", insp.manifest.extension);
        println!("toolchain  {}", insp.manifest.toolchain);
        println!("digest     sha256:{}", insp.digest);
        println!("{:<10} {:>10}  {:<64}  path", "status", "size", "sha256");
        for e in &insp.entries {
            let status = match &e.status {
                xif_package::EntryStatus::Ok => "ok".to_string(),
                xif_package::EntryStatus::SizeMismatch { .. } => "SIZE".to_string(),
                xif_package::EntryStatus::DigestMismatch { .. } => "DIGEST".to_string(),
                xif_package::EntryStatus::NotInManifest => "UNLISTED".to_string(),
                xif_package::EntryStatus::MissingFromArchive => "MISSING".to_string(),
            };
            println!("{status:<10} {:>10}  {:<64}  {}", e.size, e.sha256, e.path);
        }
    }
    for e in &bad {
        let why = match &e.status {
            xif_package::EntryStatus::SizeMismatch { expected } => {
                format!("its size is {} but the manifest says {expected}", e.size)
            }
            xif_package::EntryStatus::DigestMismatch { expected } => {
                format!("its SHA-256 is {} but the manifest says {expected}", e.sha256)
            }
            xif_package::EntryStatus::NotInManifest => "it is in the archive but not in the manifest".into(),
            xif_package::EntryStatus::MissingFromArchive => "the manifest lists it but the archive lacks it".into(),
            xif_package::EntryStatus::Ok => continue,
        };
        ui.error(&format!("entry {} does not match: {why}", e.path));
    }
    if let Some(e) = &full {
        ui.error(&format!("{e}"));
    }
    let errors = bad.len() + usize::from(full.is_some());
    if errors == 0 {
        ui.status("Checked", &format!("{} entries: every digest matches; 0 errors, 0 warnings", insp.entries.len()));
        Ok(ExitCode::SUCCESS)
    } else {
        ui.error(&format!("{errors} error{}, 0 warnings", if errors == 1 { "" } else { "s" }));
        Ok(ExitCode::from(1))
    }
}

struct RunArgs {
    action: String,
    input: Option<String>,
    settings: Vec<String>,
    limits: xif_runtime::Limits,
    target_dir: Option<std::path::PathBuf>,
}

fn run_action(ext: &ExtArgs, args: RunArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let text = match args.input.as_deref() {
        None => None,
        Some("-") => Some(std::io::read_to_string(std::io::stdin()).context("reading the input from stdin")?),
        Some(arg) => match arg.strip_prefix('@') {
            Some(file) => {
                Some(std::fs::read_to_string(file).with_context(|| format!("reading the input from {file}"))?)
            }
            None => Some(arg.to_string()),
        },
    };
    let input: serde_json::Value = match text.as_deref() {
        None => json!({}),
        Some(text) => match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                ui.error(&format!("the input is not valid JSON: {e}\n  help: {}", input_help(ext, &args.action)));
                return Ok(ExitCode::from(2));
            }
        },
    };
    let mut settings = std::collections::HashMap::new();
    for s in &args.settings {
        let Some((k, v)) = s.split_once('=') else {
            ui.error(&format!("--setting {s:?} is not NAME=VALUE"));
            return Ok(ExitCode::from(2));
        };
        settings.insert(k.to_string(), v.to_string());
    }
    let project = open(ext)?;
    let verify = verify::verify(&project);
    if !verify.ok_before_update_source() {
        report_verify(&project, &verify, false, ui);
        return Ok(ExitCode::from(1));
    }
    let opts = xif_build::run::RunOptions {
        action: args.action.clone(),
        input,
        settings,
        compile: CompileOptions {
            target_dir: args.target_dir,
            force: false,
            stream_output: !ext.json,
            rustc_wrapper: std::env::current_exe().ok(),
        },
        limits: args.limits,
    };
    let report = match xif_build::run::run(&project, &opts) {
        Ok(r) => r,
        Err(e) => {
            ui.error(&format!("{e}"));
            ui.error("1 error, 0 warnings");
            return Ok(ExitCode::from(1));
        }
    };
    for line in &report.log {
        eprintln!("{:>5} {}", line.level.as_str(), line.message);
    }
    match report.result {
        Ok(out) => {
            if ext.json {
                print_json(&json!({"ok": true, "outputs": out.json, "ms": out.elapsed.as_secs_f64() * 1000.0}));
            } else {
                println!("{}", serde_json::to_string_pretty(&out.json)?);
            }
            ui.status(
                "Finished",
                &format!("{} in {:.2} ms; 0 errors, 0 warnings", args.action, out.elapsed.as_secs_f64() * 1000.0),
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let kind = call_error_kind(&e);
            if ext.json {
                print_json(&json!({"ok": false, "error": kind, "message": e.to_string()}));
            }
            ui.error(&format!("{} failed: {e}", args.action));
            ui.error("1 error, 0 warnings");
            Ok(ExitCode::from(1))
        }
    }
}

fn call_error_kind(e: &xif_runtime::CallError) -> &'static str {
    use xif_runtime::CallError as E;
    match e {
        E::UnknownAction { .. } => "unknown_action",
        E::BadInput(_) => "bad_input",
        E::ActionFailed { .. } => "action_failed",
        E::Trap { .. } => "trap",
        E::Timeout { .. } => "timeout",
        E::OutOfMemory { .. } => "out_of_memory",
        E::BadOutput { .. } => "bad_output",
        E::OutputTooLarge { .. } => "output_too_large",
        E::Busy { .. } => "busy",
        E::Internal(_) => "internal",
    }
}

fn serve(args: crate::ServeArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("XIF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let _ = match args.log_format {
        crate::LogFormat::Text => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init()
        }
        crate::LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .try_init(),
    };
    let mut config = xif_server::Config::new(&args.data);
    config.listen = args.listen;
    config.database_url = args.database;
    config.reconcile_interval = std::time::Duration::from_millis(args.reconcile_ms);
    config.admin_password = std::env::var("XIF_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
    config.insecure_fast_password_hashing = args.insecure_fast_password_hashing;
    config.trusted_proxies = args.trusted_proxies;
    config.max_token_lifetime = std::time::Duration::from_secs(u64::from(args.max_token_days) * 86_400);
    if let Some(n) = args.max_password_checks {
        config.max_password_checks = n as usize;
    }
    config.secret_key_file = args.secret_key_file;
    config.secret_key = std::env::var("XIF_SECRET_KEY").ok().filter(|k| !k.trim().is_empty());
    config.limits.package_bytes = args.package_limit << 20;
    config.limits.call_body_bytes = args.call_body_limit << 20;
    config.limits.call_time = std::time::Duration::from_millis(args.call_time_limit);
    config.limits.call_memory = args.call_memory_limit << 20;
    config.header_read_timeout = std::time::Duration::from_millis(args.header_read_timeout);
    config.idle_timeout = std::time::Duration::from_millis(args.idle_timeout);
    config.max_connections = args.max_connections;
    config.max_connections_per_address = args.max_connections_per_address;
    config.tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(xif_server::TlsFiles { cert, key }),
        _ => None,
    };
    config.public_url = args.public_url.filter(|u| !u.is_empty());
    config.max_unpacks = args.max_unpacks;
    config.limits.call_input_memory = args.call_input_memory << 20;
    if let Some(n) = args.calls_per_extension {
        config.limits.calls_per_extension = n;
    }
    config.limits.call_queue_per_extension = args.call_queue;
    config.limits.call_queue_wait = std::time::Duration::from_millis(args.call_queue_wait);
    config.limits.query_rows = args.query_rows;
    config.limits.reset = match args.instance_reset {
        crate::InstanceReset::InPlace => xif_runtime::Reset::InPlace,
        crate::InstanceReset::Memset => xif_runtime::Reset::Memset,
        crate::InstanceReset::Decommit => xif_runtime::Reset::Decommit,
    };
    config.limits.call_output_bytes = args.call_output_limit << 20;
    config.limits.failed_calls_kept = args.failed_calls_kept;
    config.limits.log_lines_kept = args.log_lines_kept;
    config.observe = args.observe == crate::OnOff::On;
    config.metrics_token = match &args.metrics_token_file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading the metrics token from {}", file.display()))?;
            Some(text.lines().next().unwrap_or_default().trim().to_string())
        }
        None => std::env::var("XIF_METRICS_TOKEN").ok().filter(|t| !t.trim().is_empty()).map(|t| t.trim().to_string()),
    };
    config.limits.failed_calls_max_age =
        std::time::Duration::from_secs(args.failed_calls_days.saturating_mul(24 * 3600));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting Tokio")?;
    runtime.block_on(async {
        let server = xif_server::start_with_signal(config, xif_server::shutdown_signal())
            .await
            .with_context(|| format!("starting the Platform Server with data in {}", args.data.display()))?;
        if let Some(password) = &server.admin_password {
            println!("admin password: {password}");
            ui.warn("created the administrator `admin` with the password above: it is shown only this once");
        }
        ui.status("Listening", &format!("on {} (data in {}; Ctrl-C stops)", server.url(), args.data.display()));
        server.wait().await;
        ui.status("Stopped", "every call in flight finished");
        Ok(ExitCode::SUCCESS)
    })
}

/// `xif manpage [--dir DIR]`: the manual page on stdout, or every command's page into DIR.
fn manpage(dir: Option<std::path::PathBuf>, ui: &Ui) -> anyhow::Result<ExitCode> {
    let cli = <crate::Cli as clap::CommandFactory>::command();
    match dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cli).render(&mut out).context("writing the manual page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cli, &dir).with_context(|| format!("writing the pages into {}", dir.display()))?;
            ui.status("Wrote", &format!("the manual pages into {} (man -l {}/xif.1)", dir.display(), dir.display()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How to pass an action's input, naming the action's own inputs when the definition has it.
fn input_help(ext: &ExtArgs, action: &str) -> String {
    let inputs: Option<Vec<String>> = Project::open(&ext.path).ok().and_then(|p| {
        let def = p.definition.as_ref()?;
        let a = def.actions.iter().find(|a| a.name.text == action)?;
        Some(a.inputs.iter().map(|i| format!("\"{}\": …", i.name.text)).collect())
    });
    let example = match inputs {
        Some(names) if names.is_empty() => format!("{action} takes no inputs: pass '{{}}' or nothing"),
        Some(names) => format!("pass the inputs of {action} as a JSON object, '{{{}}}'", names.join(", ")),
        None => "pass the inputs as a JSON object, for example '{\"Who\": \"Ada\"}'".to_string(),
    };
    format!("{example}; text that is hard to quote for the shell reads better from a file (@FILE) or stdin (-)")
}
