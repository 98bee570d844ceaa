//! How long the Service Center's pages take with 100 extensions and 1,000 versions.
//!
//! `cargo xtask fixtures && cargo run -p xif-server --example console_bench`
//!
//! Starts a real server on a temporary data directory, uploads 1,000 versions of 100 extensions
//! (ServerTest renamed; Bench000 has 109 versions, the others 9) through the API, publishes the
//! latest of each, logs in to the console, and times each page over loopback HTTP (so the
//! figures are an upper bound of the time spent in the server). Prints a Markdown table.
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

const EXTENSIONS: usize = 100;
const VERSIONS: usize = 1000;
const RUNS: usize = 30;

fn package(definition: &str, component: &[u8], name: &str, version: usize) -> anyhow::Result<Vec<u8>> {
    let definition = definition.replace("name = \"ServerTest\"", &format!("name = \"{name}\""));
    let resource = format!("{version}\n");
    Ok(xif_package::write(&xif_package::PackageInput {
        extension: name,
        // The manifest's description is the definition's (the server checks).
        description: &xif_model::parse(&definition).0.and_then(|d| d.description.map(|d| d.value)).unwrap_or_default(),
        toolchain: "rustc (bench)",
        definition: definition.as_bytes(),
        component,
        sources: &[("src/lib.rs".to_string(), b"// bench\n".to_vec())],
        resources: &[("resources/version.txt".to_string(), resource.into_bytes())],
        stubs: &[],
    })?
    .bytes)
}

fn attr(html: &str, name: &str) -> anyhow::Result<String> {
    let start = html.find(&format!("{name}=\"")).with_context(|| format!("no {name} in the page"))? + name.len() + 2;
    Ok(html[start..].split('"').next().unwrap_or_default().to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/extensions/ServerTest");
    let component = std::fs::read(root.join(".xif/build/component.wasm"))
        .context("the ServerTest component is missing: run `cargo xtask fixtures` first")?;
    let definition = std::fs::read_to_string(root.join("extension.toml"))?;

    let dir = tempfile::tempdir()?;
    let mut config = xif_server::Config::new(dir.path());
    config.listen = "127.0.0.1:0".parse()?;
    config.admin_password = Some("bench-password".into());
    config.insecure_fast_password_hashing = true;
    let server = xif_server::start(config).await?;
    let url = server.url();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let login: serde_json::Value = http
        .post(format!("{url}/api/v1/login"))
        .json(&serde_json::json!({"user": "admin", "password": "bench-password"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().context("no token")?.to_string();

    let seeding = Instant::now();
    let mut made = 0;
    for e in 0..EXTENSIONS {
        let name = format!("Bench{e:03}");
        let count = if e == 0 { VERSIONS - 9 * (EXTENSIONS - 1) } else { 9 };
        for v in 1..=count {
            let bytes = package(&definition, &component, &name, v)?;
            let resp = http
                .post(format!("{url}/api/v1/extensions/{name}/versions"))
                .bearer_auth(&token)
                .body(bytes)
                .send()
                .await?;
            if !resp.status().is_success() {
                bail!("upload {name} {v}: {}", resp.text().await?);
            }
            made += 1;
        }
        let resp = http
            .post(format!("{url}/api/v1/extensions/{name}/versions/{count}/publish"))
            .bearer_auth(&token)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("publish {name}: {}", resp.text().await?);
        }
    }
    eprintln!("seeded {EXTENSIONS} extensions, {made} versions in {:.1} s", seeding.elapsed().as_secs_f64());

    // Log in to the console as a browser does.
    let page = http.get(format!("{url}/login")).send().await?;
    let login_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("xif_login=").map(|r| r.split(';').next().unwrap_or("").to_string()))
        .context("no login cookie")?;
    let resp = http
        .post(format!("{url}/login"))
        .header("cookie", format!("xif_login={login_cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={login_cookie}&user=admin&password=bench-password"))
        .send()
        .await?;
    let session = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("xif_session=").map(|r| r.split(';').next().unwrap_or("").to_string()))
        .context("no session cookie")?;
    let cookie = format!("xif_session={session}");

    println!("| page | size | median | p95 | max |");
    println!("|---|---:|---:|---:|---:|");
    let pages = [
        ("/extensions", "Extensions list (100)"),
        ("/extensions?q=bench05", "Extensions list, search"),
        ("/extensions/Bench000", "Extension page, 109 versions"),
        ("/extensions/Bench050", "Extension page, 9 versions"),
        ("/upload", "Upload & Publish"),
        ("/users", "Users & permissions"),
        ("/log", "Log"),
    ];
    let mut worst = Duration::ZERO;
    for (path, label) in pages {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let resp = http.get(format!("{url}{path}")).header("cookie", &cookie).send().await?;
            let status = resp.status();
            let body = resp.text().await?;
            times.push(t.elapsed());
            if !status.is_success() {
                bail!("{path}: {status}");
            }
            size = body.len();
            attr(&body, "data-csrf")?;
        }
        times.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
        let max = *times.last().unwrap_or(&Duration::ZERO);
        worst = worst.max(p95);
        println!(
            "| {label} (`{path}`) | {} KB | {} | {} | {} |",
            size / 1024,
            ms(times[times.len() / 2]),
            ms(p95),
            ms(max)
        );
    }
    println!("\nworst p95: {:.1} ms (target: under 50 ms)", worst.as_secs_f64() * 1000.0);
    server.shutdown().await;
    Ok(())
}
