//! An HTTP client for the Platform Server's API (`/api/v1`, bearer tokens).
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::Value;
use xif_wire::{CreateToken, ErrorBody, LoginRequest};

/// What a publish consents to that the server refuses otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Consent {
    /// Entity changes that could lose data (`--force-schema`).
    pub force_schema: bool,
    /// Changes that break the active version's callers (`--allow-breaking`).
    pub allow_breaking: bool,
    /// Roll the version out gradually beside the active one (`--gradual N`).
    pub gradual: Option<Gradual>,
}

/// How a gradual rollout begins (`xif publish --gradual N [--per-caller] [--no-guard]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gradual {
    /// The new version's share of calls, 1 to 99.
    pub percent: u32,
    /// Chosen per caller rather than per call.
    pub per_caller: bool,
    /// The error-rate guard may abort it.
    pub guard: bool,
}

impl Consent {
    /// The publish route's query string (empty, or `?force=true&...`).
    fn query(&self) -> String {
        let mut parts = Vec::new();
        if self.force_schema {
            parts.push("force=true".to_string());
        }
        if self.allow_breaking {
            parts.push("allow_breaking=true".to_string());
        }
        if let Some(g) = self.gradual {
            parts.push(format!("gradual={}", g.percent));
            if g.per_caller {
                parts.push("per_caller=true".into());
            }
            if !g.guard {
                parts.push("guard=false".into());
            }
        }
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach {url}: {why}\n  help: is the server running? (`xif serve` starts one)")]
    Network {
        /// The address.
        url: String,
        /// What the network said.
        why: String,
    },
    /// The server answered with an error.
    #[error("{message}{}", hint(*status, kind))]
    Http {
        /// The HTTP status.
        status: u16,
        /// The error kind (`forbidden`, `unauthorized`, `bad_package`...).
        kind: String,
        /// The server's message.
        message: String,
    },
    /// The server's TLS certificate is not trusted (or does not name the server).
    #[error(
        "the certificate of {url} is not trusted: {why}\n  help: this is a certificate problem: when the server's certificate comes from a private CA \
         (or is self-signed), pass that CA certificate with `--ca-cert FILE` (`xif login URL --ca-cert FILE` keeps it for the server) \
         or set XIF_CA_CERT=FILE; the certificate must also name the address you use"
    )]
    Certificate {
        /// The address.
        url: String,
        /// What TLS said.
        why: String,
    },
    /// The CA certificate file given with `--ca-cert` / `XIF_CA_CERT` cannot be used.
    #[error(
        "cannot use the CA certificate file {path}: {why}\n  help: --ca-cert (or XIF_CA_CERT) takes a PEM file of one or more `-----BEGIN CERTIFICATE-----` blocks"
    )]
    CaCert {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The server answered something this client does not understand.
    #[error("unexpected answer from {url}: {why}")]
    BadResponse {
        /// The address.
        url: String,
        /// What was wrong.
        why: String,
    },
    /// The server sent more than the client accepts.
    #[error("{url} sent {what} larger than the limit of {limit} bytes; the client stopped reading")]
    TooLarge {
        /// The address.
        url: String,
        /// What was being read.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
}

/// Largest server-sent event the client reads (a log line is at most 2 KiB of text).
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Which lines of an extension's log to read.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    /// Only lines after this id.
    pub after: Option<i64>,
    /// Only this action's lines.
    pub action: Option<String>,
    /// Only lines of this level or above.
    pub level: Option<String>,
    /// Only this call's lines.
    pub call: Option<String>,
    /// How many lines (a page), or how many of the newest to start from (following).
    pub limit: Option<u32>,
}

/// Largest package [`Client::package`] downloads: 64 MiB, above the server's default package
/// limit (50 MiB).
pub const MAX_PACKAGE_BYTES: u64 = 64 << 20;

fn hint(status: u16, kind: &str) -> &'static str {
    match (status, kind) {
        (401, _) => "\n  help: log in again with `xif login URL` (or set XIF_TOKEN to a valid token)",
        (403, _) => "\n  help: an administrator can grant it in the Service Center (Users & Permissions)",
        _ => "",
    }
}

impl ClientError {
    /// The HTTP status when the server answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub use xif_wire::{
    ExtensionLogLine, ExtensionLogPage, NewToken, PublishEvent, Revoked, StepEvent, Summary, TokenInfo, Uploaded,
    UserInfo, VersionInfo,
};

/// A client for one server, with one token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `http://host:port`.
    pub url: String,
    token: Option<String>,
}

impl Client {
    /// A client for `url`, with `token` when logged in; https is checked against the system's
    /// trust store.
    pub fn new(url: &str, token: Option<&str>) -> Client {
        match Client::with_ca_cert(url, token, None) {
            Ok(c) => c,
            // Only a CA file can make the builder fail; there is none here.
            Err(_) => Client {
                http: reqwest::Client::new(),
                url: crate::config::normalize_url(url),
                token: token.map(str::to_string),
            },
        }
    }

    /// A client for `url` that also trusts the CA certificates of the PEM file `ca_cert`
    /// (`--ca-cert`, `XIF_CA_CERT`, or the one saved for the server) beside the system's.
    pub fn with_ca_cert(
        url: &str,
        token: Option<&str>,
        ca_cert: Option<&std::path::Path>,
    ) -> Result<Client, ClientError> {
        // No overall timeout: uploads and publishes may take long; connecting may not.
        let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
        if let Some(path) = ca_cert {
            let bad = |why: String| ClientError::CaCert { path: path.to_path_buf(), why };
            let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(format!("it is not PEM: {e}")))?;
            if certs.is_empty() {
                return Err(bad("it holds no certificate".into()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| ClientError::BadResponse {
            url: url.to_string(),
            why: format!("cannot set up the HTTP client: {}", error_chain(&e)),
        })?;
        Ok(Client { http, url: crate::config::normalize_url(url), token: token.map(str::to_string) })
    }

    /// The Service Center page of an extension.
    pub fn service_center_url(&self, extension: &str) -> String {
        format!("{}/extensions/{extension}", self.url)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.url));
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    fn network(&self, e: reqwest::Error) -> ClientError {
        let why = error_chain(&e);
        if let Some(tls) = tls_error(&e) {
            return ClientError::Certificate { url: self.url.clone(), why: tls };
        }
        ClientError::Network { url: self.url.clone(), why }
    }

    /// Sends and checks the status; answers the response of a success.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let resp = req.send().await.map_err(|e| self.network(e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let (kind, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => (body.error, body.message),
            Err(_) if text.is_empty() => ("http".to_string(), format!("the server answered HTTP {status}")),
            Err(_) => ("http".to_string(), text),
        };
        Err(ClientError::Http { status, kind, message })
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, ClientError> {
        let resp = self.send(req).await?;
        let text = resp.text().await.map_err(|e| self.network(e))?;
        serde_json::from_str(&text).map_err(|e| ClientError::BadResponse { url: self.url.clone(), why: e.to_string() })
    }

    /// Logs in; answers the session token.
    pub async fn login(&self, user: &str, password: &str) -> Result<String, ClientError> {
        let body = LoginRequest { user: user.to_string(), password: password.to_string() };
        let answer: NewToken = self.json(self.http.post(format!("{}/api/v1/login", self.url)).json(&body)).await?;
        Ok(answer.token)
    }

    /// Ends this token's session.
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.send(self.request(reqwest::Method::POST, "/api/v1/logout")).await.map(drop)
    }

    /// Who the token belongs to.
    pub async fn me(&self) -> Result<UserInfo, ClientError> {
        self.json(self.request(reqwest::Method::GET, "/api/v1/me")).await
    }

    /// The versions of an extension (empty when the server has no such extension).
    pub async fn versions(&self, extension: &str) -> Result<Vec<VersionInfo>, ClientError> {
        match self.json(self.request(reqwest::Method::GET, &format!("/api/v1/extensions/{extension}/versions"))).await {
            Err(ClientError::Http { status: 404, .. }) => Ok(Vec::new()),
            other => other,
        }
    }

    /// The bytes of a stored version's `.xif` package, at most [`MAX_PACKAGE_BYTES`].
    pub async fn package(&self, extension: &str, version: i64) -> Result<Vec<u8>, ClientError> {
        self.package_within(extension, version, MAX_PACKAGE_BYTES).await
    }

    /// [`Client::package`] with a limit: refused by the `Content-Length` the server announces,
    /// else by counting the bytes as they arrive (never more than `limit` are kept).
    pub async fn package_within(&self, extension: &str, version: i64, limit: u64) -> Result<Vec<u8>, ClientError> {
        let path = format!("/api/v1/extensions/{extension}/versions/{version}/package");
        let resp = self.send(self.request(reqwest::Method::GET, &path)).await?;
        let too_large = || ClientError::TooLarge { url: format!("{}{path}", self.url), what: "a package", limit };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.network(e))?;
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Uploads a package; `sent` counts the bytes handed to the network as they go.
    pub async fn upload(&self, extension: &str, bytes: Vec<u8>, sent: Arc<AtomicU64>) -> Result<Uploaded, ClientError> {
        const CHUNK: usize = 64 << 10;
        let len = bytes.len() as u64;
        let bytes = bytes::Bytes::from(bytes);
        let chunks: Vec<bytes::Bytes> =
            (0..bytes.len()).step_by(CHUNK).map(|i| bytes.slice(i..(i + CHUNK).min(bytes.len()))).collect();
        let stream = futures_util::stream::iter(chunks).map(move |c| {
            sent.fetch_add(c.len() as u64, Ordering::Relaxed);
            Ok::<_, std::io::Error>(c)
        });
        let req = self
            .request(reqwest::Method::POST, &format!("/api/v1/extensions/{extension}/versions"))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(reqwest::Body::wrap_stream(stream));
        self.json(req).await
    }

    /// Publishes (or, with `rollback`, rolls back to) a version, with `consent` to what the
    /// server would otherwise refuse; `on_stage` sees each server stage
    /// as it is streamed. Answers the summary, which says whether it worked.
    pub async fn publish(
        &self,
        extension: &str,
        version: i64,
        rollback: bool,
        consent: Consent,
        on_stage: &mut dyn FnMut(&StepEvent),
    ) -> Result<Summary, ClientError> {
        let verb = if rollback { "rollback" } else { "publish" };
        let query = consent.query();
        let req = self
            .request(reqwest::Method::POST, &format!("/api/v1/extensions/{extension}/versions/{version}/{verb}{query}"))
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let resp = self.send(req).await?;
        let mut summary = None;
        self.read_events(resp, &mut |data| {
            let event: PublishEvent = serde_json::from_str(data).map_err(|e| ClientError::BadResponse {
                url: self.url.clone(),
                why: format!("not a publish event ({e}): {data}"),
            })?;
            match event {
                PublishEvent::Summary { summary: s } => {
                    summary = Some(s);
                    return Ok(false);
                }
                PublishEvent::Step(stage) => on_stage(&stage),
            }
            Ok(true)
        })
        .await?;
        summary.ok_or_else(|| ClientError::BadResponse {
            url: self.url.clone(),
            why: format!("the {verb} stream ended without a summary"),
        })
    }

    /// Reads server-sent events from `resp`, handing each event's data to `on_data` until it
    /// answers `false` or the stream ends. One event may hold at most [`MAX_EVENT_BYTES`].
    async fn read_events(
        &self,
        resp: reqwest::Response,
        on_data: &mut dyn FnMut(&str) -> Result<bool, ClientError>,
    ) -> Result<(), ClientError> {
        let mut stream = resp.bytes_stream();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk.map_err(|e| self.network(e))?);
            // Events end with a blank line.
            while let Some(end) = find_event_end(&buf) {
                let event: Vec<u8> = buf.drain(..end.0 + end.1).collect();
                let text = String::from_utf8_lossy(&event[..end.0]).into_owned();
                let data: String = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:").map(|d| d.strip_prefix(' ').unwrap_or(d)))
                    .collect::<Vec<_>>()
                    .join("\n");
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                if !on_data(&data)? {
                    return Ok(());
                }
            }
            if buf.len() > MAX_EVENT_BYTES {
                return Err(ClientError::TooLarge {
                    url: self.url.clone(),
                    what: "an event",
                    limit: MAX_EVENT_BYTES as u64,
                });
            }
        }
        Ok(())
    }

    /// The path and query of an extension's log.
    fn logs_path(&self, extension: &str, filter: &LogFilter, follow: bool) -> String {
        let mut url = match reqwest::Url::parse("http://x/") {
            Ok(u) => u,
            Err(_) => return format!("/api/v1/extensions/{extension}/logs"),
        };
        url.set_path(&format!("/api/v1/extensions/{extension}/logs"));
        {
            let mut q = url.query_pairs_mut();
            if let Some(after) = filter.after {
                q.append_pair("after", &after.to_string());
            }
            if let Some(a) = &filter.action {
                q.append_pair("action", a);
            }
            if let Some(l) = &filter.level {
                q.append_pair("level", l);
            }
            if let Some(c) = &filter.call {
                q.append_pair("call", c);
            }
            if let Some(n) = filter.limit {
                q.append_pair("limit", &n.to_string());
            }
            if follow {
                q.append_pair("follow", "true");
            }
        }
        match url.query() {
            Some(q) if !q.is_empty() => format!("{}?{q}", url.path()),
            _ => url.path().to_string(),
        }
    }

    /// A page of an extension's log, oldest first: the newest `limit` lines, or those after
    /// `after`.
    pub async fn logs(&self, extension: &str, filter: &LogFilter) -> Result<Vec<ExtensionLogLine>, ClientError> {
        let page: ExtensionLogPage =
            self.json(self.request(reqwest::Method::GET, &self.logs_path(extension, filter, false))).await?;
        Ok(page.lines)
    }

    /// Follows an extension's log: `on_connected` once the server accepted, then `on_line` for
    /// each line as it is written (the newest `limit` first, or those after `after`), until the
    /// connection ends (answers `Ok`: reconnect with `after` set to the last id seen) or
    /// `on_line` answers `false`.
    pub async fn follow_logs(
        &self,
        extension: &str,
        filter: &LogFilter,
        on_connected: &mut dyn FnMut(),
        on_line: &mut dyn FnMut(ExtensionLogLine) -> bool,
    ) -> Result<(), ClientError> {
        let req = self
            .request(reqwest::Method::GET, &self.logs_path(extension, filter, true))
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let resp = self.send(req).await?;
        on_connected();
        self.read_events(resp, &mut |data| {
            let line: ExtensionLogLine = serde_json::from_str(data).map_err(|e| ClientError::BadResponse {
                url: self.url.clone(),
                why: format!("not a log line ({e}): {data}"),
            })?;
            Ok(on_line(line))
        })
        .await
    }

    /// Calls an action; answers its outputs.
    pub async fn call(&self, extension: &str, action: &str, input: &Value) -> Result<Value, ClientError> {
        self.json(
            self.request(reqwest::Method::POST, &format!("/api/v1/extensions/{extension}/actions/{action}"))
                .json(input),
        )
        .await
    }

    /// The rollout that runs for an extension.
    pub async fn rollout(&self, extension: &str) -> Result<xif_wire::RolloutInfo, ClientError> {
        self.json(self.request(reqwest::Method::GET, &format!("/api/v1/extensions/{extension}/rollout"))).await
    }

    /// Moves a rollout on: the rolling version takes `percent` of calls (100: it becomes active).
    /// With `version`, only when that version is the one rolling out (else a 409).
    pub async fn set_rollout(
        &self,
        extension: &str,
        percent: u32,
        version: Option<i64>,
    ) -> Result<xif_wire::RolloutMoved, ClientError> {
        let body = xif_wire::RolloutChange { percent, version };
        self.json(self.request(reqwest::Method::PUT, &format!("/api/v1/extensions/{extension}/rollout")).json(&body))
            .await
    }

    /// Aborts a rollout: every call goes to the active version again. With `version`, only when
    /// that version is the one rolling out (else a 409).
    pub async fn abort_rollout(
        &self,
        extension: &str,
        version: Option<i64>,
    ) -> Result<xif_wire::RolloutMoved, ClientError> {
        let path = match version {
            Some(v) => format!("/api/v1/extensions/{extension}/rollout?version={v}"),
            None => format!("/api/v1/extensions/{extension}/rollout"),
        };
        self.json(self.request(reqwest::Method::DELETE, &path)).await
    }

    /// The settings of an extension's active version (a secret's value is never sent).
    pub async fn settings(&self, extension: &str) -> Result<Vec<xif_wire::SettingInfo>, ClientError> {
        self.json(self.request(reqwest::Method::GET, &format!("/api/v1/extensions/{extension}/settings"))).await
    }

    /// Sets (a value) or unsets (`null`) settings of an extension; answers the settings now.
    pub async fn set_settings(
        &self,
        extension: &str,
        values: std::collections::BTreeMap<String, Value>,
    ) -> Result<Vec<xif_wire::SettingInfo>, ClientError> {
        let body = xif_wire::SetSettings { values };
        self.json(self.request(reqwest::Method::PUT, &format!("/api/v1/extensions/{extension}/settings")).json(&body))
            .await
    }

    /// Creates an API token; answers the server's answer (with the token, shown once).
    pub async fn create_token(&self, name: &str, days: Option<u32>) -> Result<NewToken, ClientError> {
        let body = CreateToken { name: name.to_string(), expires_in_days: days };
        self.json(self.request(reqwest::Method::POST, "/api/v1/tokens").json(&body)).await
    }

    /// The tokens of the user.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, ClientError> {
        self.json(self.request(reqwest::Method::GET, "/api/v1/tokens")).await
    }

    /// Revokes a token.
    pub async fn revoke_token(&self, id: i64) -> Result<(), ClientError> {
        self.send(self.request(reqwest::Method::DELETE, &format!("/api/v1/tokens/{id}"))).await.map(drop)
    }

    /// Ends every credential of the logged-in user (API tokens, login sessions, Service Center
    /// sessions; the token this client uses too); answers the counts the server sends.
    pub async fn revoke_all(&self) -> Result<Revoked, ClientError> {
        let me = self.me().await?;
        let path = format!("/api/v1/users/{}/revoke", url_segment(&me.name));
        self.json(self.request(reqwest::Method::POST, &path)).await
    }
}

/// A user name as one URL path segment (names are letters, digits, `.`, `_`, `-`, `@`; anything
/// else is percent-encoded).
fn url_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The error and its sources, `a: b: c` (each source once).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut why = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !why.contains(&text) {
            why = format!("{why}: {text}");
        }
        source = s.source();
    }
    why
}

/// What TLS said when the failure is a certificate the client does not trust.
fn tls_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return matches!(tls, rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
                .then(|| tls.to_string());
        }
        // io::Error's `source` skips the error it wraps: look inside.
        next = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// The end of the first event in `buf`: (where its text ends, the separator's length).
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    for i in 0..buf.len() {
        if buf[i..].starts_with(b"\n\n") {
            return Some((i, 2));
        }
        if buf[i..].starts_with(b"\r\n\r\n") {
            return Some((i, 4));
        }
    }
    None
}
