//! The in-process cost of one action call as the server makes it: a fresh instance from the
//! pooling allocator, JSON input typed by the definition, the call, JSON output.
//!
//! `cargo run --release -p xif-server --example call_bench -- PACKAGE.xif ACTION 'JSON' [CALLS]`
//! prints, each the mean over CALLS sequential calls after a warm-up:
//! - `instantiate+call: 12.34 us` — the action, as the server calls it;
//! - `minor faults per call: 0.01` — the process's minor page faults during those calls;
//! - `floor component, bare store: 3.21 us` and `floor component, call store: 5.67 us` — the
//!   floor's trivial component (`../shared/floor`) on the same engine, in a store holding
//!   nothing, then in a store holding a call's whole state (WASI context, limiter, epochs, async);
//! - `resident per instance slot: 123 KiB` — the process's RSS growth after 64 calls held at
//!   their first host log line until all 64 run at once (64 instance slots used, then reset in
//!   place and kept), divided by 64. The action must write a host log line (`Greet` does).
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [package, action, input, rest @ ..] = args.as_slice() else {
        eprintln!("usage: call_bench PACKAGE.xif ACTION JSON [CALLS]");
        std::process::exit(2);
    };
    let calls: u32 = rest.first().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let bytes = std::fs::read(package)?;
    let package = xif_package::read(&bytes, &xif_package::Limits::default())?;
    let source = String::from_utf8(package.definition.clone())?;
    let def = Arc::new(xif_model::parse(&source).0.ok_or("the definition does not parse")?);
    let input: serde_json::Value = serde_json::from_str(input)?;
    let runtime = xif_runtime::Runtime::new(xif_runtime::Limits::default())?;
    println!("reset: {}", runtime.reset_in_effect().as_str());
    let native = runtime.compile(&package.component)?;
    let ext = runtime.load(def, xif_runtime::Loadable::Native(&native))?;
    let ctx = xif_runtime::CallContext::new("bench", 1).with_resources(package.resources.into_iter().collect());
    for _ in 0..calls / 10 {
        ext.call(action, &input, ctx.clone()).await?;
    }
    let faults = minor_faults()?;
    let started = Instant::now();
    for _ in 0..calls {
        ext.call(action, &input, ctx.clone()).await?;
    }
    let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(calls);
    let faults = (minor_faults()? - faults) as f64 / f64::from(calls);
    println!("instantiate+call: {us:.2} us");
    println!("minor faults per call: {faults:.2}");
    let bare = xif_runtime::bench::floor_component(&runtime, calls, false).await?;
    let store = xif_runtime::bench::floor_component(&runtime, calls, true).await?;
    println!("floor component, bare store: {bare:.2} us");
    println!("floor component, call store: {store:.2} us");

    // 64 instances alive at once: each call waits at its first log line for the others.
    let slots = xif_runtime::Limits::default().max_instances as usize;
    let barrier = Arc::new(tokio::sync::Barrier::new(slots));
    let hook: xif_runtime::LogHook = Arc::new(move |_| {
        let barrier = barrier.clone();
        Some(Box::pin(async move {
            barrier.wait().await;
        }))
    });
    let before = rss_kib()?;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..slots {
        let (ext, action, input) = (ext.clone(), action.clone(), input.clone());
        let ctx = ctx.clone().with_log_hook(hook.clone());
        calls.spawn(async move { ext.call(&action, &input, ctx).await.map(drop) });
    }
    while let Some(done) = calls.join_next().await {
        done??;
    }
    let after = rss_kib()?;
    println!("resident per instance slot: {:.0} KiB", (after.saturating_sub(before)) as f64 / slots as f64);
    Ok(())
}

/// The process's resident memory (`VmRSS` of `/proc/self/status`), KiB.
fn rss_kib() -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).ok_or("no VmRSS")?;
    Ok(line.split_whitespace().next().ok_or("no VmRSS")?.parse()?)
}

/// The process's minor page faults so far (`/proc/self/stat`, field 10).
fn minor_faults() -> Result<u64, Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).ok_or("no ) in /proc/self/stat")?;
    let field = after.split_whitespace().nth(7).ok_or("/proc/self/stat is short")?;
    Ok(field.parse()?)
}
