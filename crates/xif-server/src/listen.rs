//! The accept loop: every TCP connection of the server, from `accept` to `close`.
//!
//! What it guarantees (docs/RELIABILITY.md, "Connections and TLS"):
//! - **Bounded connections.** At most [`Options::max_connections`] connections are open (plus a
//!   small slack while evicted ones close), and at most [`Options::max_connections_per_address`]
//!   from one IP address (exempt addresses aside). A connection beyond a cap is accepted and
//!   closed at once, so it never holds a file descriptor; at the global cap a new connection
//!   first evicts the connection that has been idle (no request in flight) the longest.
//! - **Timeouts.** A connection must send its first request's head within the header-read
//!   timeout, and once a request's head has started, all of it within that timeout; between
//!   requests a keep-alive connection may stay idle for the idle timeout. A request body that
//!   stalls (no bytes for the idle timeout) fails. hyper's own `header_read_timeout` is not used:
//!   it also runs while a keep-alive connection is idle, so it cannot tell the two apart.
//! - **Lingering close.** When an answer was sent before the request's body was read to its end
//!   (a 413, a 401...), the connection's write side is shut and the rest of the body is read and
//!   discarded for at most [`LINGER_TIME`] / [`LINGER_BYTES`] before the socket closes, so a
//!   client that writes its whole body before reading (Python's urllib, curl) reads the answer
//!   instead of a reset ("broken pipe").
//! - **Draining.** On shutdown the listener closes (new connections are refused), idle
//!   connections close, and connections with a request in flight close after its answer, or
//!   after [`Options::drain_timeout`] when the answer does not finish (a client that stopped
//!   reading).
//!
//! Handlers see the peer as `ConnectInfo<SocketAddr>`, as with axum's
//! `into_make_service_with_connect_info`.
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use http_body::{Body as _, Frame};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt as _;

use crate::error::ServerError;

/// How long a connection answered before its request body was read to the end keeps being read
/// (and the bytes discarded) before it is closed.
pub const LINGER_TIME: Duration = Duration::from_secs(5);
/// How many bytes such a connection may still send before it is closed anyway.
pub const LINGER_BYTES: u64 = 64 << 20;
/// File descriptors kept for everything but connections (database, packages, compiled code,
/// logs) when the connection cap is fitted under `RLIMIT_NOFILE`.
pub const RESERVED_FDS: u64 = 256;

/// Decides whether an address is exempt from the per-address cap (a trusted proxy).
pub type Exempt = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// How the accept loop treats connections.
#[derive(Clone)]
pub struct Options {
    /// The longest time to receive a request's head (and a fresh connection's first request).
    pub header_read_timeout: Duration,
    /// The longest time a keep-alive connection stays open between requests, and the longest
    /// pause within a request body.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_connections_per_address: usize,
    /// Addresses the per-address cap does not apply to.
    pub exempt: Exempt,
    /// TLS, when the server terminates it.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// How long a connection with a request in flight may take to finish once the server
    /// drains (longer than any call may run); past it the connection is closed, so a client that
    /// stopped reading an answer cannot hold the shutdown up.
    pub drain_timeout: Duration,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_address", &self.max_connections_per_address)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; answers the soft limit now in force
/// (`None` where it cannot be read).
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "could not raise the open-file limit");
                rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The connection cap that fits under `fd_limit` open files: `wanted`, or less when the limit
/// leaves no room for it beside [`RESERVED_FDS`] and the eviction slack.
pub fn fit_connection_cap(wanted: usize, fd_limit: Option<u64>) -> usize {
    let Some(limit) = fd_limit else { return wanted.max(1) };
    let room = limit.saturating_sub(RESERVED_FDS) * 15 / 16;
    let room = usize::try_from(room).unwrap_or(usize::MAX).max(16);
    wanted.clamp(1, room)
}

/// The TLS acceptor for a certificate chain and a private key, both PEM files; a clear error
/// naming the file when one cannot be used.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, ServerError> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &Path, why: String| ServerError::Tls { path: path.to_path_buf(), why };
    let cert_text = std::fs::read(cert).map_err(|e| bad(cert, format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&cert_text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, format!("it is not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(bad(cert, "it holds no certificate (expected PEM `-----BEGIN CERTIFICATE-----` blocks)".into()));
    }
    let key_text = std::fs::read(key).map_err(|e| bad(key, format!("cannot read it: {e}")))?;
    let private = PrivateKeyDer::from_pem_slice(&key_text)
        .map_err(|e| bad(key, format!("it holds no usable private key (expected a PEM `PRIVATE KEY` block): {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| bad(key, format!("it does not fit the certificate {}: {e}", cert.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` until `shutdown` completes, then drains: answers when every
/// connection has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let options = Arc::new(options);
    let slots = Arc::new(Slots::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (close_tx, close_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    let mut accept_errors = RateLimitedLog::default();
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // EMFILE/ENFILE and the like: wait a little instead of spinning.
                    if let Some(more) = accept_errors.due() {
                        tracing::error!(error = %e, more, "cannot accept connections");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match slots.admit(peer.ip(), &options) {
            Ok(slot) => slot,
            Err(why) => {
                drop(tcp);
                slots.refused(peer.ip(), why);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let task = Connection {
            peer,
            slot,
            router: router.clone(),
            options: options.clone(),
            stop: stop_rx.clone(),
            _open: close_rx.clone(),
        };
        tokio::spawn(task.run(tcp));
    }
    drop(listener);
    tracing::info!(connections = slots.open(), "shutting down: no new connections; draining requests in flight");
    let _ = stop_tx.send(true);
    drop(close_rx);
    close_tx.closed().await;
    Ok(())
}

/// Errors of one connection that `accept` reports and that say nothing about the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

/// A warning at most every 10 s, with how many were left out.
#[derive(Default)]
struct RateLimitedLog {
    last: Option<Instant>,
    skipped: u64,
}

impl RateLimitedLog {
    fn due(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(10)) {
            self.skipped += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.skipped))
    }
}

// ---- the connection table ----

#[derive(Clone, Copy, Debug)]
enum Refused {
    PerAddress,
    Full,
}

#[derive(Default)]
struct Slots {
    table: Mutex<Table>,
    log: Mutex<RateLimitedLog>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    conns: HashMap<u64, Arc<ConnState>>,
    per_address: HashMap<IpAddr, usize>,
}

impl Slots {
    fn open(&self) -> usize {
        self.table.lock().unwrap_or_else(PoisonError::into_inner).conns.len()
    }

    /// A slot for a new connection from `ip`, or why there is none.
    fn admit(self: &Arc<Self>, ip: IpAddr, options: &Options) -> Result<Slot, Refused> {
        let mut t = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = t.per_address.get(&ip).copied().unwrap_or(0);
        if mine >= options.max_connections_per_address && !(options.exempt)(ip) {
            return Err(Refused::PerAddress);
        }
        let open = t.conns.len();
        if open >= options.max_connections {
            // Evicted connections close at once, but not within this call: allow a few more
            // than the cap while they do, never more.
            let slack = (options.max_connections / 16).max(8);
            if open >= options.max_connections + slack {
                return Err(Refused::Full);
            }
            let victim = t.conns.values().filter(|c| c.evictable()).min_by_key(|c| c.idle_since()).cloned();
            match victim {
                Some(v) => v.evict(),
                None => return Err(Refused::Full),
            }
        }
        let conn = Arc::new(ConnState::new());
        t.next_id += 1;
        let id = t.next_id;
        t.conns.insert(id, conn.clone());
        *t.per_address.entry(ip).or_default() += 1;
        Ok(Slot { slots: self.clone(), id, ip, conn })
    }

    fn release(&self, id: u64, ip: IpAddr) {
        let mut t = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        t.conns.remove(&id);
        if let Some(n) = t.per_address.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                t.per_address.remove(&ip);
            }
        }
    }

    fn refused(&self, ip: IpAddr, why: Refused) {
        let due = self.log.lock().unwrap_or_else(PoisonError::into_inner).due();
        if let Some(more) = due {
            match why {
                Refused::PerAddress => {
                    tracing::warn!(%ip, more, "connection refused: this address has as many connections open as it may")
                }
                Refused::Full => {
                    tracing::warn!(%ip, more, "connection refused: the server has as many connections open as it may")
                }
            }
        }
    }
}

/// One open connection's place in the table, given back when dropped.
struct Slot {
    slots: Arc<Slots>,
    id: u64,
    ip: IpAddr,
    conn: Arc<ConnState>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.release(self.id, self.ip);
    }
}

/// What the accept loop and the connection's task know of one connection.
struct ConnState {
    started: Instant,
    /// Requests being answered (0 or 1 on HTTP/1.1).
    in_flight: AtomicUsize,
    /// Requests received so far.
    requests: AtomicU64,
    /// Milliseconds after `started` when the last answer ended (0 before the first).
    last_done: AtomicU64,
    /// 1 + milliseconds after `started` when the first byte of the next request arrived; 0 = none.
    head_started: AtomicU64,
    /// A request body was dropped before its end: the client may still be sending it.
    body_unfinished: AtomicBool,
    evicted: AtomicBool,
    evict: Notify,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            last_done: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            body_unfinished: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
    }

    fn evictable(&self) -> bool {
        self.idle() && !self.evicted.load(Ordering::SeqCst)
    }

    fn idle_since(&self) -> Instant {
        self.started + Duration::from_millis(self.last_done.load(Ordering::SeqCst))
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::SeqCst);
        self.evict.notify_one();
    }

    /// Bytes arrived: between requests they start the next request's head.
    fn on_read(&self) {
        if self.idle() && self.head_started.load(Ordering::SeqCst) == 0 {
            self.head_started.store(self.now_ms() + 1, Ordering::SeqCst);
        }
    }

    fn begin_request(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.head_started.store(0, Ordering::SeqCst);
    }

    fn end_request(&self) {
        self.last_done.store(self.now_ms(), Ordering::SeqCst);
        self.head_started.store(0, Ordering::SeqCst);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// Why the connection is to be closed now, if it is.
    fn expired(&self, options: &Options) -> Option<&'static str> {
        if !self.idle() {
            return None;
        }
        let now = self.now_ms();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let head = self.head_started.load(Ordering::SeqCst);
        if head != 0 {
            return (now.saturating_sub(head - 1) >= ms(options.header_read_timeout))
                .then_some("the request's head did not arrive within the header-read timeout");
        }
        if self.requests.load(Ordering::SeqCst) == 0 {
            return (now >= ms(options.header_read_timeout))
                .then_some("no request arrived within the header-read timeout");
        }
        (now.saturating_sub(self.last_done.load(Ordering::SeqCst)) >= ms(options.idle_timeout))
            .then_some("idle for the idle timeout")
    }
}

// ---- one connection ----

struct Connection {
    peer: SocketAddr,
    slot: Slot,
    router: Router,
    options: Arc<Options>,
    stop: watch::Receiver<bool>,
    /// Held until the connection closes: the drain waits for every one.
    _open: watch::Receiver<()>,
}

/// How a connection's HTTP part ended.
enum Ended {
    /// hyper finished: the socket is handed back for a clean (or lingering) close.
    Finished(Io),
    /// Closed by a timeout, an eviction, the drain or an error.
    Dropped,
}

impl Connection {
    async fn run(mut self, tcp: TcpStream) {
        let conn = self.slot.conn.clone();
        let socket = Socket { tcp, conn: conn.clone() };
        let io = match self.options.tls.clone() {
            None => Io::Plain(socket),
            Some(acceptor) => {
                let handshake = tokio::time::timeout(self.options.header_read_timeout, acceptor.accept(socket));
                tokio::select! {
                    done = handshake => match done {
                        Ok(Ok(tls)) => Io::Tls(Box::new(tls)),
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(peer = %self.peer, "TLS handshake timed out");
                            return;
                        }
                    },
                    () = conn.evict.notified() => return,
                    _ = self.stop.wait_for(|s| *s) => return,
                }
            }
        };
        let io = match self.http(io).await {
            Ended::Finished(io) => io,
            Ended::Dropped => return,
        };
        if conn.body_unfinished.load(Ordering::SeqCst) && !*self.stop.borrow() {
            self.linger(io).await;
        } else {
            let mut io = io;
            let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
        }
    }

    /// Serves HTTP/1.1 on `io` until the connection ends.
    async fn http(&mut self, io: Io) -> Ended {
        let conn = self.slot.conn.clone();
        let service = ConnService {
            router: self.router.clone(),
            peer: self.peer,
            conn: conn.clone(),
            body_stall: self.options.idle_timeout,
        };
        let mut http = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service);
        let tick = (self.options.header_read_timeout.min(self.options.idle_timeout) / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut ticks = tokio::time::interval(tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut draining = false;
        let mut drain_deadline: Option<tokio::time::Instant> = None;
        loop {
            let past_deadline = async {
                match drain_deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                done = std::future::poll_fn(|cx| http.poll_without_shutdown(cx)) => {
                    if let Err(e) = done {
                        tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
                        return Ended::Dropped;
                    }
                    return Ended::Finished(http.into_parts().io.into_inner());
                }
                () = conn.evict.notified() => {
                    if conn.idle() {
                        tracing::debug!(peer = %self.peer, "idle connection evicted: the server is at its connection cap");
                        return Ended::Dropped;
                    }
                    Pin::new(&mut http).graceful_shutdown();
                }
                _ = self.stop.wait_for(|s| *s), if !draining => {
                    draining = true;
                    if conn.idle() {
                        return Ended::Dropped;
                    }
                    drain_deadline = Some(tokio::time::Instant::now() + self.options.drain_timeout);
                    Pin::new(&mut http).graceful_shutdown();
                }
                () = past_deadline => {
                    tracing::warn!(peer = %self.peer, "connection closed: its answer did not finish within the drain timeout");
                    return Ended::Dropped;
                }
                _ = ticks.tick() => {
                    if let Some(why) = conn.expired(&self.options) {
                        tracing::debug!(peer = %self.peer, why, "connection closed");
                        return Ended::Dropped;
                    }
                }
            }
        }
    }

    /// Shuts the write side (the answer is complete), then reads and discards what the client
    /// still sends, for a bounded time and amount, so it can read the answer.
    async fn linger(&mut self, mut io: Io) {
        let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
        let conn = self.slot.conn.clone();
        let tcp = io.tcp();
        let drain = async {
            let mut buf = vec![0u8; 64 << 10];
            let mut total = 0u64;
            while total < LINGER_BYTES {
                if tcp.readable().await.is_err() {
                    return;
                }
                match tcp.try_read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => total += n as u64,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        };
        tokio::select! {
            _ = tokio::time::timeout(LINGER_TIME, drain) => {}
            () = conn.evict.notified() => {}
            _ = self.stop.wait_for(|s| *s) => {}
        }
    }
}

// ---- the socket ----

/// A TCP connection that tells its [`ConnState`] when bytes arrive.
struct Socket {
    tcp: TcpStream,
    conn: Arc<ConnState>,
}

impl AsyncRead for Socket {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.on_read();
        }
        polled
    }
}

impl AsyncWrite for Socket {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// The connection's byte stream: plain or TLS.
enum Io {
    Plain(Socket),
    Tls(Box<tokio_rustls::server::TlsStream<Socket>>),
}

impl Io {
    fn tcp(&self) -> &TcpStream {
        match self {
            Io::Plain(s) => &s.tcp,
            Io::Tls(t) => &t.get_ref().0.tcp,
        }
    }
}

impl AsyncRead for Io {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(t) => Pin::new(t.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(t) => t.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
        }
    }
}

// ---- requests ----

/// The router as hyper's service for one connection: adds `ConnectInfo`, counts the request
/// in flight until its answer's body is done, watches the request body.
#[derive(Clone)]
struct ConnService {
    router: Router,
    peer: SocketAddr,
    conn: Arc<ConnState>,
    body_stall: Duration,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnService {
    type Response = hyper::Response<AnswerBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::begin(self.conn.clone());
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        let body = RequestBody::new(body, self.conn.clone(), self.body_stall);
        let req = axum::http::Request::from_parts(parts, Body::new(body));
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(req).await.unwrap_or_else(|e| match e {});
            Ok(response.map(|body| AnswerBody { body, _in_flight: in_flight }))
        })
    }
}

/// A request counted in flight until dropped.
struct InFlight(Arc<ConnState>);

impl InFlight {
    fn begin(conn: Arc<ConnState>) -> InFlight {
        conn.begin_request();
        InFlight(conn)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

/// An answer's body; the request stops being in flight when it is done (or dropped).
struct AnswerBody {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for AnswerBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error(transparent)]
    Hyper(#[from] hyper::Error),
    #[error("the request body stalled: no bytes for {0} s")]
    Stalled(u64),
}

/// A request body that fails when it stalls, and tells the connection when it was dropped
/// before its end (so the connection lingers before closing).
struct RequestBody {
    inner: Incoming,
    conn: Arc<ConnState>,
    done: bool,
    stall: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The stall timer is to start over at the next wait (a frame came since it last ran).
    fresh: bool,
}

impl RequestBody {
    fn new(inner: Incoming, conn: Arc<ConnState>, stall: Duration) -> RequestBody {
        RequestBody { inner, conn, done: false, stall, timer: None, fresh: true }
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => {
                this.fresh = true;
                Poll::Ready(Some(frame.map_err(BodyError::from)))
            }
            Poll::Pending => {
                // The stall counts from when the reader asked for more, not from the last frame:
                // a handler busy between two reads is not a stalled client.
                let stall = this.stall;
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
                if std::mem::take(&mut this.fresh) {
                    timer.as_mut().reset(tokio::time::Instant::now() + stall);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(BodyError::Stalled(stall.as_secs()))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        if !self.done && !self.inner.is_end_stream() {
            self.conn.body_unfinished.store(true, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_under_the_file_limit() {
        assert_eq!(fit_connection_cap(1024, None), 1024);
        assert_eq!(fit_connection_cap(1024, Some(1 << 20)), 1024);
        let small = fit_connection_cap(1024, Some(1024));
        assert!(small < 1024 - RESERVED_FDS as usize, "{small}");
        assert_eq!(fit_connection_cap(1024, Some(10)), 16, "never zero");
    }
}
