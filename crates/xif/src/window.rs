//! The 1-Click Publish window in a terminal: the six steps, a spinner on the running one, a
//! progress bar for the upload, the server's stages under Publish; redrawn in place on a
//! terminal, one line per outcome elsewhere, JSON lines with `--json`.
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use xif_client::pipeline::{Event, Progress, Status, Step, Summary};

/// How the window shows itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Redrawn in place with spinners (a terminal); colours unless `NO_COLOR`.
    Live { color: bool },
    /// One line per outcome, no colours (a pipe or a file).
    Plain,
    /// DESIGN.md's events on stdout, one object a line.
    Json,
}

#[derive(Default, Clone)]
struct Row {
    status: Option<Status>,
    started: Option<Instant>,
    ms: u64,
    message: Option<String>,
}

#[derive(Default)]
struct State {
    rows: [Row; 6],
    stages: Vec<(String, Row)>,
    upload: Option<(u64, u64)>,
    failed: Option<Event>,
    drawn: usize,
    frame: usize,
}

/// The window of one run.
pub struct Window {
    mode: Mode,
    title: String,
    state: Arc<Mutex<State>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
    width: usize,
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

fn index(step: Step) -> usize {
    Step::ALL.iter().position(|s| *s == step).unwrap_or(0)
}

/// `12 ms`, `1.23 s`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 { format!("{ms} ms") } else { format!("{:.2} s", ms as f64 / 1000.0) }
}

fn kib(n: u64) -> String {
    if n < 1024 { format!("{n} B") } else { format!("{:.1} KiB", n as f64 / 1024.0) }
}

/// The width of the terminal the window draws on (stderr), or 100.
fn terminal_width() -> usize {
    terminal_size::terminal_size_of(std::io::stderr())
        .map(|(w, _)| usize::from(w.0))
        .filter(|w| *w >= 40)
        .unwrap_or(100)
}

impl Window {
    /// Opens the window (draws the six steps on a terminal).
    pub fn open(mode: Mode, title: String, steps: usize) -> Window {
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let width = if matches!(mode, Mode::Live { .. }) { terminal_width() } else { 100 };
        let mut w = Window { mode, title, state, stop, ticker: None, width };
        match mode {
            Mode::Live { color } => {
                eprintln!("{}", w.bold(&w.title, color));
                let (state, stop, width) = (w.state.clone(), w.stop.clone(), w.width);
                w.ticker = Some(std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        if let Ok(mut s) = state.lock() {
                            s.frame += 1;
                            draw(&mut s, color, width, steps);
                        }
                        std::thread::sleep(Duration::from_millis(80));
                    }
                }));
            }
            Mode::Plain => eprintln!("{}", w.title),
            Mode::Json => {}
        }
        w
    }

    fn bold(&self, text: &str, color: bool) -> String {
        if color { format!("\x1b[1m{text}\x1b[0m") } else { text.to_string() }
    }

    /// Takes one progress report of the pipeline.
    pub fn progress(&self, p: Progress<'_>) {
        let Ok(mut s) = self.state.lock() else { return };
        match p {
            Progress::Upload { sent, total } => s.upload = Some((sent, total)),
            Progress::Event(e) => {
                if self.mode == Mode::Json {
                    println!("{}", serde_json::to_string(e).unwrap_or_default());
                }
                let row = Row {
                    status: Some(e.status),
                    started: (e.status == Status::Started).then(Instant::now),
                    ms: e.ms,
                    message: e.message.clone(),
                };
                match &e.stage {
                    Some(stage) => match s.stages.iter_mut().find(|(n, _)| n == stage) {
                        Some((_, r)) => *r = row,
                        None => s.stages.push((stage.clone(), row)),
                    },
                    None => s.rows[index(e.step)] = row,
                }
                if e.status == Status::Failed && e.stage.is_none() {
                    s.failed = Some(e.clone());
                }
                if self.mode == Mode::Plain && e.status != Status::Started {
                    eprintln!("{}", line(e.step, e.stage.as_deref(), &s, false, self.width));
                }
            }
        }
    }

    /// Closes the window: the last drawing, then the outcome (the errors in full on failure).
    pub fn close(mut self, summary: &Summary, ui: &crate::ui::Ui, steps: usize) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        let Ok(mut s) = self.state.lock() else { return };
        if let Mode::Live { color } = self.mode {
            draw(&mut s, color, self.width, steps);
        }
        if self.mode == Mode::Json {
            println!("{}", serde_json::json!({ "summary": summary }));
        }
        match (&summary.failed, &s.failed) {
            (Some(step), failed) => {
                let what = failed
                    .as_ref()
                    .map(|e| e.detail.clone().or_else(|| e.message.clone()).unwrap_or_default())
                    .unwrap_or_default();
                // The step's line above already shows the first line: it is not told twice.
                let shown = failed
                    .as_ref()
                    .filter(|_| self.mode != Mode::Json)
                    .and_then(|e| e.message.as_deref())
                    .and_then(|m| m.lines().next());
                let what = match what.split_once('\n') {
                    Some((first, rest)) if Some(first) == shown && !rest.trim().is_empty() => rest.to_string(),
                    _ => what,
                };
                eprintln!();
                ui.error(&format!("{} failed:\n{}", step.title(), what.trim_end()));
                let count = match failed.as_ref().and_then(|e| e.message.clone()) {
                    Some(m) if *step == Step::Verify && m.contains(" warning") => m,
                    _ => format!("1 error, {}", plural(summary.warnings.len(), "warning")),
                };
                ui.error(&count);
            }
            (None, _) => {
                eprintln!();
                let verb = if summary.outcome == "uploaded" { "Uploaded" } else { "Published" };
                let how = if summary.unchanged { " (unchanged: already active, nothing sent)" } else { "" };
                ui.status(
                    verb,
                    &format!(
                        "{} version {} in {}{how}",
                        summary.extension,
                        summary.version.unwrap_or_default(),
                        duration(summary.ms)
                    ),
                );
                if let Some(d) = &summary.digest {
                    ui.status("Digest", &format!("sha256:{d}"));
                }
                for w in &summary.warnings {
                    ui.warn(w);
                }
                ui.status("Open", &format!("{} (the Service Center)", summary.url));
                ui.status("Finished", &format!("0 errors, {}", plural(summary.warnings.len(), "warning")));
            }
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

fn paint(text: &str, code: &str, color: bool) -> String {
    if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
}

/// One line of the window: a step, or (with `stage`) one of the server's stages.
fn line(step: Step, stage: Option<&str>, s: &State, color: bool, width: usize) -> String {
    let row = match stage {
        Some(n) => s.stages.iter().find(|(x, _)| x == n).map(|(_, r)| r.clone()).unwrap_or_default(),
        None => s.rows[index(step)].clone(),
    };
    let (mark, code) = match row.status {
        None => ("·", "2"),
        Some(Status::Started) => (SPINNER[s.frame % SPINNER.len()], "1;36"),
        Some(Status::Finished) => ("✔", "1;32"),
        Some(Status::Failed) => ("✘", "1;31"),
        Some(Status::Skipped) => ("↷", "1;34"),
        Some(Status::Unchanged) => ("=", "1;34"),
    };
    let running = row.status == Some(Status::Started);
    let ms = match (row.status, row.started) {
        (None, _) => String::new(),
        (Some(Status::Started), Some(t)) => duration(u64::try_from(t.elapsed().as_millis()).unwrap_or(0)),
        _ => duration(row.ms),
    };
    let mut message = row.message.unwrap_or_default().lines().next().unwrap_or("").to_string();
    if running
        && step == Step::Upload
        && stage.is_none()
        && let Some((sent, total)) = s.upload
    {
        let filled = (sent * 20).checked_div(total).map_or(20, |f| usize::try_from(f).unwrap_or(20).min(20));
        message = format!("[{}{}] {} / {}", "#".repeat(filled), "-".repeat(20 - filled), kib(sent), kib(total));
    }
    let (indent, name) = match stage {
        Some(n) => ("    ", format!("{n:<16}")),
        None => ("  ", format!("{:<18}", step.title())),
    };
    let head = format!("{indent}{mark} {name} {ms:>9}  ");
    // Never wrap: a wrapped line would break the redraw.
    let room = width.saturating_sub(1 + head.chars().count());
    if message.chars().count() > room {
        message = message.chars().take(room.saturating_sub(1)).collect::<String>() + "…";
    }
    if !color {
        return format!("{head}{message}");
    }
    let name = if stage.is_none() && row.status.is_some() { paint(&name, "1", true) } else { name };
    let message = if row.status == Some(Status::Failed) { paint(&message, "31", true) } else { message };
    match row.status {
        None => paint(&format!("{indent}{mark} {name}"), "2", true),
        _ => format!("{indent}{} {name} {}  {message}", paint(mark, code, true), paint(&format!("{ms:>9}"), "2", true)),
    }
}

/// Redraws the steps in place (moving up over the previous drawing).
fn draw(s: &mut State, color: bool, width: usize, steps: usize) {
    let mut out = String::new();
    if s.drawn > 0 {
        out.push_str(&format!("\x1b[{}F", s.drawn));
    }
    let mut n = 0;
    for step in &Step::ALL[..steps] {
        out.push_str("\x1b[2K");
        out.push_str(&line(*step, None, s, color, width));
        out.push('\n');
        n += 1;
        if *step == Step::Publish {
            let names: Vec<String> = s.stages.iter().map(|(n, _)| n.clone()).collect();
            for name in names {
                out.push_str("\x1b[2K");
                out.push_str(&line(*step, Some(&name), s, color, width));
                out.push('\n');
                n += 1;
            }
        }
    }
    s.drawn = n;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(out.as_bytes());
    let _ = err.flush();
}
