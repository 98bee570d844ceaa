//! The commands that talk to a Platform Server: login/logout/servers, upload/publish (the
//! 1-Click Publish window), call, versions, rollback, settings, tokens. The work is in `xif-client`.
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::json;
use xif_client::config::{self, Config};
use xif_client::pipeline;
use xif_client::{Client, ClientError};

use crate::ui::Ui;
use crate::window::{Mode, Window, duration};

/// Whether questions can be asked: stdin and stderr are both a terminal.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting Tokio")
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `--ca-cert FILE` / `XIF_CA_CERT` (set once by `main`).
static CA_CERT: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();

/// Sets the CA certificate file of `--ca-cert` / `XIF_CA_CERT` for this run.
pub fn set_ca_cert(path: Option<std::path::PathBuf>) {
    let _ = CA_CERT.set(path.map(|p| std::path::absolute(&p).unwrap_or(p)));
}

fn ca_cert_flag() -> Option<std::path::PathBuf> {
    CA_CERT.get().cloned().flatten()
}

/// A client for `url`: trusting the CA file of `--ca-cert` / `XIF_CA_CERT`, else the one saved
/// for the server, beside the system's trust store.
fn client_for(url: &str, token: Option<&str>, saved_ca: Option<std::path::PathBuf>) -> anyhow::Result<Client> {
    let ca = ca_cert_flag().or(saved_ca);
    Ok(Client::with_ca_cert(url, token, ca.as_deref())?)
}

/// Asks on stderr, reads one line of stdin (trimmed); an error on end of input.
fn ask(question: &str) -> anyhow::Result<String> {
    eprint!("{question}");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    let n = std::io::stdin().lock().read_line(&mut line).context("reading the answer")?;
    if n == 0 {
        bail!("no answer (end of input)");
    }
    Ok(line.trim().to_string())
}

/// Asks on the terminal without echoing what is typed (rpassword reads /dev/tty).
fn ask_password(question: &str) -> anyhow::Result<String> {
    let answer = rpassword::prompt_password(question).context("reading the answer from the terminal");
    eprintln!();
    answer
}

/// Logs in to `url` as `user` with `password`, saves the token, answers the client.
async fn login_and_save(url: &str, user: &str, password: &str, ui: &Ui) -> anyhow::Result<Client> {
    let mut cfg = Config::load()?;
    let saved_ca = cfg.ca_cert_for(url);
    let client = client_for(url, None, saved_ca.clone())?;
    let token = client.login(user, password).await?;
    let name = cfg.set_login(&client.url, user, &token);
    // The CA file that worked is kept for the server, so later commands need no flag.
    if let Some(ca) = ca_cert_flag() {
        cfg.set_ca_cert(&client.url, ca);
    }
    cfg.save()?;
    ui.status("Logged in", &format!("to {} as {user} (server {name}, saved in {})", client.url, cfg.path.display()));
    client_for(&client.url, Some(&token), cfg.ca_cert_for(&client.url))
}

/// The client for `--server` / `XIF_SERVER` / the current server. When none is connected it
/// asks, at a terminal, which server and then user and password; without one it fails at once.
async fn connect(server: Option<&str>, ui: &Ui) -> anyhow::Result<Client> {
    let cfg = Config::load()?;
    let why = match cfg.connection(server, &env) {
        Ok(c) => return client_for(&c.url, Some(&c.token), c.ca_cert),
        Err(why) => why,
    };
    if !interactive() {
        bail!("{why}");
    }
    ui.warn(&format!("{why}"));
    let known: Vec<&config::Server> = cfg.servers.iter().collect();
    let url = if known.is_empty() {
        match server.filter(|s| s.contains(':') || s.contains('.')) {
            Some(s) => config::normalize_url(s),
            None => config::normalize_url(&ask("Server address (for example http://127.0.0.1:8080): ")?),
        }
    } else {
        eprintln!("Which server?");
        for (i, s) in known.iter().enumerate() {
            let who = s.user.as_deref().map(|u| format!(" (user {u})")).unwrap_or_default();
            eprintln!("  {}) {} {}{who}", i + 1, s.name, s.url);
        }
        eprintln!("  {}) another address…", known.len() + 1);
        let answer = ask(&format!("Server [1-{}]: ", known.len() + 1))?;
        match answer.parse::<usize>() {
            Ok(n) if (1..=known.len()).contains(&n) => known[n - 1].url.clone(),
            Ok(n) if n == known.len() + 1 => config::normalize_url(&ask("Server address: ")?),
            _ if !answer.is_empty() => config::normalize_url(&answer),
            _ => bail!("no server chosen"),
        }
    };
    let default_user = cfg.find(&url).and_then(|s| s.user.clone());
    let user = match &default_user {
        Some(u) => {
            let a = ask(&format!("User [{u}]: "))?;
            if a.is_empty() { u.clone() } else { a }
        }
        None => ask("User: ")?,
    };
    let password = ask_password(&format!("Password for {user} on {url}: "))?;
    login_and_save(&url, &user, &password, ui).await
}

/// `xif login URL [--user NAME] [--password-stdin]`.
pub fn login(url: &str, user: Option<String>, password_stdin: bool, ui: &Ui) -> anyhow::Result<ExitCode> {
    let url = config::normalize_url(url);
    let user = match user {
        Some(u) => u,
        None if interactive() => ask("User: ")?,
        None => bail!("no user name: pass --user NAME (no terminal to ask on)"),
    };
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else if interactive() {
        ask_password(&format!("Password for {user} on {url}: "))?
    } else {
        bail!("no terminal to ask for the password on: pass --password-stdin and write it to stdin");
    };
    runtime()?.block_on(login_and_save(&url, &user, &password, ui))?;
    Ok(ExitCode::SUCCESS)
}

/// `xif logout [SERVER]`: ends the session on the server and forgets the token.
pub fn logout(server: Option<&str>, ui: &Ui) -> anyhow::Result<ExitCode> {
    let mut cfg = Config::load()?;
    let name = match server {
        Some(s) => cfg.find(s).map(|s| s.name.clone()).ok_or_else(|| config::ConfigError::Unknown(s.to_string()))?,
        None => cfg.current.clone().context("not connected to any server (nothing to log out of)")?,
    };
    let Some(entry) = cfg.servers.iter_mut().find(|s| s.name == name) else { bail!("no server named {name}") };
    if let Some(token) = entry.token.take() {
        // The server forgets the session too; an unreachable server does not stop the logout.
        let client = client_for(&entry.url, Some(&token), entry.ca_cert.clone())?;
        if let Err(e) = runtime()?.block_on(client.logout()) {
            ui.warn(&format!("the server did not end the session: {e}"));
        }
    }
    let url = entry.url.clone();
    cfg.save()?;
    ui.status("Logged out", &format!("of {url} (the token is forgotten)"));
    Ok(ExitCode::SUCCESS)
}

/// `xif servers [list|add|use|remove]`.
pub fn servers(action: crate::ServersCmd, ui: &Ui) -> anyhow::Result<ExitCode> {
    let mut cfg = Config::load()?;
    match action {
        crate::ServersCmd::List { json: true } => {
            let list: Vec<serde_json::Value> = cfg
                .servers
                .iter()
                .map(|s| json!({"name": s.name, "url": s.url, "user": s.user, "logged_in": s.token.is_some(), "current": cfg.current.as_deref() == Some(s.name.as_str())}))
                .collect();
            println!("{}", json!({ "servers": list, "config": cfg.path }));
        }
        crate::ServersCmd::List { json: false } => {
            if cfg.servers.is_empty() {
                ui.status("Servers", "none yet: `xif login URL` connects to one");
            }
            for s in &cfg.servers {
                let current = if cfg.current.as_deref() == Some(s.name.as_str()) { "*" } else { " " };
                let who = match (&s.user, &s.token) {
                    (Some(u), Some(_)) => format!("logged in as {u}"),
                    _ => "not logged in".to_string(),
                };
                println!("{current} {:<24} {:<32} {who}", s.name, s.url);
            }
        }
        crate::ServersCmd::Add { url, name } => {
            let name = cfg.upsert(&url, name.as_deref());
            cfg.save()?;
            ui.status("Added", &format!("server {name} ({}); `xif login` to log in", config::normalize_url(&url)));
        }
        crate::ServersCmd::Use { server } => {
            let name = cfg.use_server(&server)?;
            cfg.save()?;
            ui.status("Using", &format!("server {name}"));
        }
        crate::ServersCmd::Remove { server } => {
            let s = cfg.remove(&server)?;
            cfg.save()?;
            ui.status("Removed", &format!("server {} ({}) and its token", s.name, s.url));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `xif publish` / `xif upload`: the 1-Click Publish window.
pub fn publish(args: crate::PublishArgs, upload_only: bool, ui: &Ui) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let client = rt.block_on(connect(args.server.as_deref(), ui))?;
    let mode = if args.ext.json {
        Mode::Json
    } else if std::io::stderr().is_terminal() {
        Mode::Live { color: ui.color() }
    } else {
        Mode::Plain
    };
    let steps = if upload_only { 5 } else { 6 };
    let verb = if upload_only { "Upload" } else { "1-Click Publish" };
    let folder = std::path::absolute(&args.ext.path).unwrap_or(args.ext.path.clone());
    // The extension's name, as its definition gives it; the folder's when it cannot be read.
    let name = xif_build::project::Project::open(&args.ext.path)
        .ok()
        .map(|p| p.name().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| folder.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default());
    let title = format!("{verb} of {name} to {}", client.url);
    let opts = pipeline::Options {
        dir: args.ext.path.clone(),
        target_dir: args.target_dir,
        rustc_wrapper: std::env::current_exe().ok(),
        upload_only,
        force_schema: args.force_schema,
        allow_breaking: args.allow_breaking,
        gradual: args.gradual.map(|percent| xif_client::Gradual {
            percent,
            per_caller: args.per_caller,
            guard: !args.no_guard,
        }),
    };
    // Verify Again: at a terminal, a stop at Verify or Compile waits for the fixed files.
    let again = matches!(mode, Mode::Live { .. }) && interactive();
    let summary = loop {
        let window = Window::open(mode, title.clone(), steps);
        let summary = rt.block_on(pipeline::run(&opts, &client, &mut |p| window.progress(p)));
        window.close(&summary, ui, steps);
        if !again || !matches!(summary.failed, Some(pipeline::Step::Verify | pipeline::Step::Compile)) {
            break summary;
        }
        let retry = if args.watch {
            eprintln!("Watching {} for changes (Ctrl-C to quit)…", folder.display());
            wait_for_change(&opts.dir);
            true
        } else {
            matches!(ask("Fix the files, then press Enter to verify again (q to quit): "), Ok(a) if a != "q")
        };
        if !retry {
            break summary;
        }
        eprintln!();
    };
    if upload_only && summary.failed.is_none() && !args.ext.json {
        println!("{}", summary.version.unwrap_or_default());
    }
    Ok(if summary.failed.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Polls the build inputs of `dir` (definition, manifests, `src/`, `wit/`) until they change.
fn wait_for_change(dir: &std::path::Path) {
    let before = xif_build::compile::inputs_digest(dir).ok();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(300));
        if xif_build::compile::inputs_digest(dir).ok() != before {
            // Let an editor finish writing.
            std::thread::sleep(std::time::Duration::from_millis(200));
            return;
        }
    }
}

fn fail(e: &ClientError, ui: &Ui, json_out: bool) -> ExitCode {
    if json_out {
        // `error` is the API's own kind (`action_failed`, `bad_input`, …) when the server answered.
        let kind = match e {
            ClientError::Http { kind, .. } => Some(kind.as_str()),
            _ => None,
        };
        println!("{}", json!({"ok": false, "status": e.status(), "error": kind, "message": e.to_string()}));
    }
    ui.error(&e.to_string());
    ui.error("1 error, 0 warnings");
    ExitCode::from(1)
}

/// `xif call EXTENSION ACTION [JSON]`: prints the outputs.
pub fn call(args: crate::CallArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let text = match args.input.as_deref() {
        None => "{}".to_string(),
        Some("-") => std::io::read_to_string(std::io::stdin()).context("reading the input from stdin")?,
        Some(arg) => match arg.strip_prefix('@') {
            Some(file) => std::fs::read_to_string(file).with_context(|| format!("reading the input from {file}"))?,
            None => arg.to_string(),
        },
    };
    let input: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            ui.error(&format!("the input is not valid JSON: {e}\n  help: pass the inputs as a JSON object, for example '{{\"Who\": \"Ada\"}}'; text that is hard to quote for the shell reads better from a file (@FILE) or stdin (-)"));
            return Ok(ExitCode::from(2));
        }
    };
    let rt = runtime()?;
    let client = rt.block_on(connect(args.server.server.as_deref(), ui))?;
    let started = std::time::Instant::now();
    match rt.block_on(client.call(&args.extension, &args.action, &input)) {
        Ok(out) => {
            if args.json {
                println!("{}", json!({"ok": true, "outputs": out}));
            } else {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(0);
            ui.status("Finished", &format!("{}.{} on {} in {}", args.extension, args.action, client.url, duration(ms)));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(&e, ui, args.json)),
    }
}

/// `xif versions EXTENSION`.
pub fn versions(extension: &str, server: Option<&str>, json_out: bool, ui: &Ui) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let client = rt.block_on(connect(server, ui))?;
    let list = match rt.block_on(client.versions(extension)) {
        Ok(v) => v,
        Err(e) => return Ok(fail(&e, ui, json_out)),
    };
    if json_out {
        println!("{}", json!({ "extension": extension, "versions": list }));
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        ui.error(&format!("{} has no extension named {extension}", client.url));
        return Ok(ExitCode::from(1));
    }
    println!("{:>7}  {:<6}  {:<12}  {:>9}  {:<12}  uploaded at", "version", "active", "digest", "size", "uploaded by");
    for v in &list {
        println!(
            "{:>7}  {:<6}  {:<12}  {:>9}  {:<12}  {}",
            v.version,
            match (v.active, v.rollout_percent) {
                (true, _) => "*".to_string(),
                (false, Some(p)) => format!("{p}%"),
                (false, None) => String::new(),
            },
            v.digest.get(..12).unwrap_or(&v.digest),
            v.size,
            v.uploaded_by,
            v.uploaded_at
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `xif logs EXTENSION [--follow]`: prints `at level vN action [call ID] message` per line.
pub fn logs(args: crate::LogsArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    use xif_client::client::{ExtensionLogLine, LogFilter};
    let rt = runtime()?;
    let client = rt.block_on(connect(args.server.server.as_deref(), ui))?;
    let level = args.level.map(|l| format!("{l:?}").to_lowercase());
    let mut filter =
        LogFilter { action: args.action.clone(), level, call: args.call.clone(), after: None, limit: Some(args.lines) };
    let json_out = args.json;
    let print = move |l: &ExtensionLogLine| {
        if json_out {
            println!("{}", serde_json::to_string(l).unwrap_or_default());
        } else {
            // What an extension logged, and the names it came with, cannot drive the terminal.
            let safe = crate::ui::one_line;
            println!(
                "{} {:<5} v{} {} [call {}] {}",
                safe(&l.at),
                safe(&l.level),
                l.version,
                safe(&l.action),
                safe(&l.call_id),
                safe(&l.message)
            );
        }
        std::io::stdout().flush().is_ok()
    };
    if !args.follow {
        return match rt.block_on(client.logs(&args.extension, &filter)) {
            Ok(lines) => {
                for l in &lines {
                    print(l);
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Ok(fail(&e, ui, json_out)),
        };
    }
    // The newest lines first as a page, then the follow from the last of them (from the start
    // when none matched): a reconnect before the first new line then misses nothing either.
    if filter.after.is_none() {
        // At least one line, to learn where the log stands, even with `--lines 0`.
        let page = LogFilter { limit: Some(args.lines.max(1)), ..filter.clone() };
        match rt.block_on(client.logs(&args.extension, &page)) {
            Ok(lines) => {
                let shown = lines.len().saturating_sub(args.lines as usize);
                for l in &lines[shown..] {
                    if !print(l) {
                        return Ok(ExitCode::SUCCESS); // stdout closed
                    }
                }
                filter.after = Some(lines.last().map_or(0, |l| l.id));
            }
            Err(e) => return Ok(fail(&e, ui, json_out)),
        }
    }
    let mut connected_once = false;
    loop {
        let mut last = filter.after;
        let mut open = true;
        let result = rt.block_on(client.follow_logs(
            &args.extension,
            &filter,
            &mut || {
                if !connected_once {
                    ui.status("Following", &format!("the log of {} on {} (Ctrl-C stops)", args.extension, client.url));
                }
                connected_once = true;
            },
            &mut |l| {
                last = Some(l.id);
                open = print(&l);
                open
            },
        ));
        if !open {
            return Ok(ExitCode::SUCCESS); // stdout closed
        }
        match result {
            Err(e @ ClientError::Http { .. }) => return Ok(fail(&e, ui, json_out)),
            Err(e) if !connected_once => return Ok(fail(&e, ui, json_out)),
            Err(e) => ui.warn(&format!("{e}; reconnecting in 1 s")),
            Ok(()) => ui.warn("the server closed the log; reconnecting in 1 s"),
        }
        // On from the last line seen, none missed and none twice.
        filter.after = last;
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// `xif download EXTENSION [--version N] [--path DIR] [--force]`.
pub fn download(
    extension: &str,
    version: Option<i64>,
    path: Option<std::path::PathBuf>,
    force: bool,
    server: Option<&str>,
    ui: &Ui,
) -> anyhow::Result<ExitCode> {
    use xif_client::download::{self as dl, DownloadError};
    let rt = runtime()?;
    let client = rt.block_on(connect(server, ui))?;
    let list = match rt.block_on(client.versions(extension)) {
        Ok(v) => v,
        Err(e) => return Ok(fail(&e, ui, false)),
    };
    if list.is_empty() {
        ui.error(&format!("{} has no extension named {extension}", client.url));
        return Ok(ExitCode::from(1));
    }
    let dir = path.unwrap_or_else(|| std::path::PathBuf::from(extension));
    if !force && !dl::is_empty_dir(&dir) {
        ui.error(&DownloadError::NotEmpty(dir).to_string());
        return Ok(ExitCode::from(1));
    }
    let version = match version {
        Some(v) => v,
        None if interactive() => pick_version(extension, &list)?,
        None => match dl::published(&list) {
            Some(v) => v.version,
            None => {
                ui.error(&DownloadError::NonePublished(extension.to_string()).to_string());
                return Ok(ExitCode::from(1));
            }
        },
    };
    match rt.block_on(dl::download(&client, extension, &list, version, &dir, force)) {
        Ok(d) => {
            eprintln!(
                "Downloaded {extension} version {} ({}) into {} — {} files; edit, then `xif publish`.",
                d.version,
                d.digest.get(..12).unwrap_or(&d.digest),
                d.dir.display(),
                d.files.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            ui.error(&e.to_string());
            Ok(ExitCode::from(1))
        }
    }
}

/// Lists the versions on stderr and asks for one (Enter takes the published one).
fn pick_version(extension: &str, list: &[xif_wire::VersionInfo]) -> anyhow::Result<i64> {
    eprintln!("Versions of {extension} (* = published):");
    for v in list {
        eprintln!(
            "  {} {:>4}  {:<20}  {:<12}  {}",
            if v.active { "*" } else { " " },
            v.version,
            v.uploaded_at,
            v.uploaded_by,
            v.description
        );
    }
    let default = xif_client::download::published(list).map(|v| v.version);
    loop {
        let hint = default.map(|d| format!(" [{d}]")).unwrap_or_default();
        let answer = ask(&format!("Version to download{hint}: "))?;
        let chosen = if answer.is_empty() { default } else { answer.parse::<i64>().ok() };
        match chosen {
            Some(n) if list.iter().any(|v| v.version == n) => return Ok(n),
            _ => eprintln!("Type one of the version numbers listed."),
        }
    }
}

/// `xif rollback EXTENSION VERSION`: re-activates a stored version, with the server's stages.
pub fn rollback(
    extension: &str,
    version: i64,
    server: Option<&str>,
    json_out: bool,
    ui: &Ui,
) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let client = rt.block_on(connect(server, ui))?;
    let mut print = |s: &xif_wire::StepEvent| {
        if json_out {
            println!("{}", serde_json::to_string(s).unwrap_or_default());
        } else if s.status != xif_wire::Status::Started {
            eprintln!(
                "    {:<10} {:<12} {:>9}  {}",
                s.status,
                s.step,
                duration(s.ms),
                s.message.as_deref().unwrap_or("")
            );
        }
    };
    match rt.block_on(client.publish(extension, version, true, xif_client::Consent::default(), &mut print)) {
        Ok(summary) => {
            if json_out {
                println!("{}", json!({ "summary": summary }));
            }
            match summary.error_message() {
                None => {
                    ui.status("Rolled back", &format!("{extension} to version {version} ({} ms)", summary.ms));
                    Ok(ExitCode::SUCCESS)
                }
                Some(m) => {
                    ui.error(&format!("rollback of {extension} to version {version} failed: {m}"));
                    ui.error("1 error, 0 warnings");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Err(e) => Ok(fail(&e, ui, json_out)),
    }
}

/// `xif rollout EXTENSION [PERCENT|abort]`: shows the rollout, moves it on or aborts it.
pub fn rollout(
    extension: &str,
    to: Option<&str>,
    version: Option<i64>,
    server: Option<&str>,
    json_out: bool,
    ui: &Ui,
) -> anyhow::Result<ExitCode> {
    let percent = match to {
        None | Some("abort") => None,
        Some(p) => match p.trim_end_matches('%').parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => Some(n),
            _ => {
                ui.error(&format!(
                    "`{p}` is not a share of calls: give 1 to 100 (100 makes the new version active), or `abort`"
                ));
                return Ok(ExitCode::from(2));
            }
        },
    };
    let rt = runtime()?;
    let client = rt.block_on(connect(server, ui))?;
    if to.is_none() {
        return match rt.block_on(client.rollout(extension)) {
            Ok(info) => {
                if json_out {
                    println!("{}", serde_json::to_string(&info).unwrap_or_default());
                } else {
                    print_rollout(&info);
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Ok(fail(&e, ui, json_out)),
        };
    }
    let moved = match percent {
        Some(p) => rt.block_on(client.set_rollout(extension, p, version)),
        None => rt.block_on(client.abort_rollout(extension, version)),
    };
    match moved {
        Ok(m) => {
            if json_out {
                println!("{}", serde_json::to_string(&m).unwrap_or_default());
            }
            let verb = match m.percent {
                0 => "Aborted",
                100 => "Activated",
                _ => "Rolling",
            };
            ui.status(verb, &format!("{extension}: {}", m.message));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(&e, ui, json_out)),
    }
}

/// A rollout for people: who takes what, and each side's calls.
fn print_rollout(info: &xif_wire::RolloutInfo) {
    println!(
        "{} version {} takes {}% of calls ({}), version {} the rest and is active",
        info.extension,
        info.version,
        info.percent,
        if info.per_caller { "per caller" } else { "per call" },
        info.active_version
    );
    println!(
        "started {} by {}; error-rate guard {}",
        info.started_at,
        info.started_by,
        if info.guard { "on" } else { "off" }
    );
    println!("{:>8}  {:>8}  {:>8}  {:>6}", "version", "calls", "failed", "rate");
    for v in &info.versions {
        let rate = if v.calls == 0 { 0.0 } else { v.failures as f64 * 100.0 / v.calls as f64 };
        println!("{:>8}  {:>8}  {:>8}  {:>5.1}%", v.version, v.calls, v.failures, rate);
    }
}

/// `xif token create|list|revoke`.
pub fn token(action: crate::TokenCmd, ui: &Ui) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let (server, json_out) = match &action {
        crate::TokenCmd::Create { server, json, .. }
        | crate::TokenCmd::List { server, json }
        | crate::TokenCmd::Revoke { server, json, .. } => (server.server.clone(), *json),
    };
    let client = rt.block_on(connect(server.as_deref(), ui))?;
    let result = match action {
        crate::TokenCmd::Create { name, days, .. } => rt.block_on(client.create_token(&name, days)).map(|t| {
            if json_out {
                println!("{}", serde_json::to_string(&t).unwrap_or_default());
            } else {
                println!("{}", t.token);
                ui.status(
                    "Created",
                    &format!(
                        "token {} (id {}), expires {}: shown only now; use it as XIF_TOKEN with XIF_SERVER={}",
                        name, t.id, t.expires_at, client.url
                    ),
                );
            }
        }),
        crate::TokenCmd::List { .. } => rt.block_on(client.list_tokens()).map(|list| {
            if json_out {
                println!("{}", json!({ "tokens": list }));
            } else {
                println!("{:>5}  {:<24}  {:<12}  {:<26}  revoked", "id", "name", "user", "expires");
                for t in list {
                    println!(
                        "{:>5}  {:<24}  {:<12}  {:<26}  {}",
                        t.id,
                        t.name,
                        t.user,
                        t.expires_at,
                        t.revoked_at.as_deref().unwrap_or("")
                    );
                }
            }
        }),
        crate::TokenCmd::Revoke { all: true, .. } => rt.block_on(client.revoke_all()).map(|r| {
            if json_out {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
            } else {
                ui.status(
                    "Revoked",
                    &format!(
                        "every credential of yours: {} token(s), {} Service Center session(s); log in again",
                        r.tokens, r.console_sessions
                    ),
                );
            }
        }),
        crate::TokenCmd::Revoke { id, .. } => {
            let id = id.unwrap_or_default();
            rt.block_on(client.revoke_token(id)).map(|()| ui.status("Revoked", &format!("token {id}")))
        }
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Ok(fail(&e, ui, json_out)),
    }
}

/// `xif settings EXTENSION [list | set NAME [VALUE] | unset NAME]`.
pub fn settings(args: crate::SettingsArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let client = rt.block_on(connect(args.server.as_deref(), ui))?;
    let ext = &args.extension;
    let list = match rt.block_on(client.settings(ext)) {
        Ok(list) => list,
        Err(e) => return Ok(fail(&e, ui, args.json)),
    };
    let find = |name: &str| -> Option<&xif_wire::SettingInfo> { list.iter().find(|s| s.name == name) };
    let no_such = |name: &str| {
        let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
        format!(
            "extension {ext} has no setting {name}; its settings are {}",
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        )
    };
    let (name, value) = match args.action.unwrap_or(crate::SettingsCmd::List) {
        crate::SettingsCmd::List => {
            print_settings(&list, args.json);
            return Ok(ExitCode::SUCCESS);
        }
        crate::SettingsCmd::Unset { name } => {
            if find(&name).is_none() {
                ui.error(&no_such(&name));
                return Ok(ExitCode::from(1));
            }
            (name, serde_json::Value::Null)
        }
        crate::SettingsCmd::Set { name, value } => {
            let Some(setting) = find(&name) else {
                ui.error(&no_such(&name));
                return Ok(ExitCode::from(1));
            };
            let text = match value {
                Some(_) if setting.secret => {
                    ui.error(&format!(
                        "{name} is a secret: its value is not taken on the command line, where it would stay in the shell's history and the process list\n  help: run `xif settings {ext} set {name}` and type it (not shown), or pipe it: `printf %s \"$VALUE\" | xif settings {ext} set {name}`"
                    ));
                    return Ok(ExitCode::from(2));
                }
                Some(v) => v,
                None if interactive() && setting.secret => {
                    ask_password(&format!("{name} of {ext} (secret, not shown): "))?
                }
                None if interactive() => ask(&format!("{name} of {ext}: "))?,
                None => {
                    let mut line = String::new();
                    let n = std::io::stdin().lock().read_line(&mut line).context("reading the value from stdin")?;
                    if n == 0 {
                        ui.error(&format!("no value for {name}: give it after the name, or write it to stdin"));
                        return Ok(ExitCode::from(2));
                    }
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            (name.clone(), setting_value(&setting.ty, text))
        }
    };
    let unset = value.is_null();
    let secret = find(&name).is_some_and(|s| s.secret);
    let values = std::collections::BTreeMap::from([(name.clone(), value)]);
    match rt.block_on(client.set_settings(ext, values)) {
        Ok(now) => {
            if args.json {
                print_settings(&now, true);
            }
            let what = match (unset, secret) {
                (true, _) => format!("{name} of {ext}: it reads as its default again"),
                (false, true) => format!("{name} of {ext} (a secret: sealed on the server, never shown)"),
                (false, false) => format!(
                    "{name} of {ext} to {}",
                    now.iter().find(|s| s.name == name).and_then(|s| s.value.clone()).unwrap_or_default()
                ),
            };
            ui.status(if unset { "Unset" } else { "Set" }, &what);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(&e, ui, args.json)),
    }
}

/// A value typed on the command line as the JSON the server checks against the setting's type:
/// numbers and booleans as such when they read as one, everything else as text.
fn setting_value(ty: &str, text: String) -> serde_json::Value {
    match ty {
        "Integer" | "Long Integer" | "Boolean" => serde_json::from_str::<serde_json::Value>(text.trim())
            .ok()
            .filter(|v| v.is_number() || v.is_boolean())
            .unwrap_or(serde_json::Value::String(text)),
        _ => serde_json::Value::String(text),
    }
}

fn print_settings(list: &[xif_wire::SettingInfo], json_out: bool) {
    if json_out {
        println!("{}", json!({ "settings": list }));
        return;
    }
    let width = list.iter().map(|s| s.name.chars().count()).max().unwrap_or(0).max(7);
    let type_width = list.iter().map(|s| s.ty.chars().count()).max().unwrap_or(0).max(4);
    println!("{:<width$}  {:<type_width$}  value", "setting", "type");
    for s in list {
        let value = match (&s.unavailable, s.secret, s.set, &s.value) {
            (Some(why), ..) => format!("(set, but unavailable: {why})"),
            (None, true, true, _) => "(secret, set)".to_string(),
            (None, true, false, _) => "(secret, not set)".to_string(),
            (None, false, true, Some(v)) => v.clone(),
            _ => "(not set: reads as its default)".to_string(),
        };
        let about = s.description.as_deref().map(|d| format!("  # {d}")).unwrap_or_default();
        println!("{:<width$}  {:<type_width$}  {value}{about}", s.name, s.ty);
    }
}
