//! What one call's [`Store`](wasmtime::Store) holds and the host side of the contract: the
//! sandboxed WASI context, the memory limiter, the captured stdout/stderr and the `xif:host`
//! interfaces (log, resources, settings).
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime::component::{ComponentType, Lift, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, StoreContextMut};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use xif_model::Definition;

use crate::call::{CallContext, LogLevel, LogSource};

/// How many bytes of stdout, of stderr, and of host log messages one call keeps; the rest is
/// dropped (and the drop is logged), so a chatty action cannot exhaust the server's memory.
pub const OUTPUT_CAPACITY: usize = 1 << 20;
/// What each host log line costs against [`OUTPUT_CAPACITY`] beyond its bytes: a call logs at
/// most 16,384 lines.
pub const LOG_LINE_COST: usize = 64;

/// The data of one call's store.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    host: HostState,
    /// When the call's time is up: host calls that wait (the entity store) stop there.
    deadline: std::time::Instant,
    /// [`crate::Limits::query_rows`].
    query_rows: u32,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl CallState {
    /// A fresh state: WASI with no files, no environment, no arguments and no network (all
    /// socket addresses are denied, name lookup is off); clocks and random work; stdout and
    /// stderr go to the given captures.
    pub(crate) fn new(
        def: Arc<Definition>,
        ctx: CallContext,
        limits: &crate::Limits,
        deadline: std::time::Instant,
        stdout: &Capture,
        stderr: &Capture,
    ) -> CallState {
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        CallState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.call_memory),
            host: HostState { def, ctx, logged: 0, log_dropped: false },
            deadline,
            query_rows: limits.query_rows,
        }
    }

    /// The call's context (to forward captured output to its log after the call).
    pub(crate) fn context(&self) -> &CallContext {
        &self.host.ctx
    }

    /// What `xif:host/entities` needs: the calling version's definition, the call's entity
    /// store, its deadline and the most rows a query may ask for.
    pub(crate) fn entities(&self) -> crate::entities::HostCall {
        crate::entities::HostCall {
            def: self.host.def.clone(),
            store: self.host.ctx.entities.clone(),
            deadline: self.deadline,
            query_rows: self.query_rows,
        }
    }
}

/// The host interfaces' view of a call.
struct HostState {
    def: Arc<Definition>,
    ctx: CallContext,
    /// Bytes of host log messages so far.
    logged: usize,
    log_dropped: bool,
}

impl HostState {
    /// Logs a line; returns what the [`LogHook`](crate::LogHook) asks the call to wait for.
    fn log(&mut self, level: LogLevel, message: String) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        if self.log_dropped {
            return None;
        }
        // Each line costs its bytes and a fixed share, so that a call cannot log a million
        // empty lines within the budget either.
        self.logged += message.len() + LOG_LINE_COST;
        if self.logged > OUTPUT_CAPACITY {
            self.log_dropped = true;
            let note = format!(
                "this call logged more than {OUTPUT_CAPACITY} bytes (each line counting {LOG_LINE_COST} more than its text); further log lines are dropped"
            );
            (self.ctx.log)(self.ctx.log_line(LogLevel::Warn, note, LogSource::Host));
            return None;
        }
        let line = self.ctx.log_line(level, message, LogSource::Host);
        let wait = self.ctx.log_hook.as_ref().and_then(|hook| hook(&line));
        (self.ctx.log)(line);
        wait
    }

    fn setting(&self, name: &str) -> Option<String> {
        if self.ctx.unavailable_settings.contains(name) {
            return None;
        }
        if let Some(v) = self.ctx.settings.get(name) {
            return Some(v.clone());
        }
        // Not set: the definition's default, as text.
        let field = self.def.settings.iter().find(|s| s.name.text == name)?;
        Some(match xif_model::value::to_json(&xif_model::value::field_default(&self.def, field)) {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
    }
}

/// A limiter that refuses to let the memories of one call grow past `limit` bytes in total, and
/// remembers that it did, so that the call reports "out of memory" rather than a bare trap.
pub(crate) struct MemoryLimiter {
    limit: usize,
    total: usize,
    /// Set when a growth was refused: the size the call asked for.
    pub(crate) exceeded: Option<usize>,
}

impl MemoryLimiter {
    fn new(limit: usize) -> MemoryLimiter {
        MemoryLimiter { limit, total: 0, exceeded: None }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        if total > self.limit {
            // A trap rather than a failed `memory.grow`: the call ends with a clear "out of
            // memory" instead of whatever the guest does when allocation fails.
            self.exceeded = Some(total);
            return Err(wasmtime::format_err!(
                "the call's memory would grow to {total} bytes, beyond its limit of {} bytes",
                self.limit
            ));
        }
        if maximum.is_some_and(|m| desired > m) {
            // Beyond the memory's own maximum: `memory.grow` fails as the module expects.
            return Ok(false);
        }
        self.total = total;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // Growth within the limit that the system could not satisfy: also out of memory.
        self.exceeded = Some(self.total);
        Err(error.context("memory could not grow"))
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|m| desired <= m))
    }
}

/// Captured stdout or stderr: keeps the first [`OUTPUT_CAPACITY`] bytes and silently drops the
/// rest (the guest never sees a write fail, so `println!` never panics because of it).
#[derive(Clone)]
pub(crate) struct Capture(Arc<Mutex<Captured>>);

struct Captured {
    bytes: Vec<u8>,
    truncated: bool,
}

impl Capture {
    pub(crate) fn new() -> Capture {
        Capture(Arc::new(Mutex::new(Captured { bytes: Vec::new(), truncated: false })))
    }

    fn lock(&self) -> MutexGuard<'_, Captured> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, data: &[u8]) {
        let mut c = self.lock();
        let room = OUTPUT_CAPACITY.saturating_sub(c.bytes.len());
        if data.len() > room {
            c.truncated = true;
        }
        let keep = data.len().min(room);
        c.bytes.extend_from_slice(&data[..keep]);
    }

    /// The text written so far (invalid UTF-8 replaced) and whether some was dropped.
    pub(crate) fn text(&self) -> (String, bool) {
        let c = self.lock();
        (String::from_utf8_lossy(&c.bytes).into_owned(), c.truncated)
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always ready; what does not fit is dropped by `push`.
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// `enum level` of `xif:host/log`.
#[derive(ComponentType, Lift, Clone, Copy)]
#[allow(dead_code, reason = "made by lifting a guest's value, never by name")]
#[component(enum)]
#[repr(u8)]
enum WitLevel {
    #[component(name = "trace")]
    Trace,
    #[component(name = "debug")]
    Debug,
    #[component(name = "info")]
    Info,
    #[component(name = "warn")]
    Warn,
    #[component(name = "error")]
    Error,
}

impl From<WitLevel> for LogLevel {
    fn from(l: WitLevel) -> LogLevel {
        match l {
            WitLevel::Trace => LogLevel::Trace,
            WitLevel::Debug => LogLevel::Debug,
            WitLevel::Info => LogLevel::Info,
            WitLevel::Warn => LogLevel::Warn,
            WitLevel::Error => LogLevel::Error,
        }
    }
}

/// The linker every extension is instantiated with: WASI preview 2 (what the preview 1 adapter
/// imports, sandboxed by [`CallState::new`]) and each of [`xif_model::wit::HOST_INTERFACES`].
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    for interface in xif_model::wit::HOST_INTERFACES {
        let name = interface.split('@').next().unwrap_or(interface);
        let mut instance = linker.instance(interface)?;
        match name {
            "xif:host/log" => instance.func_wrap_async(
                "log",
                |mut store: StoreContextMut<'_, CallState>, (level, message): (WitLevel, String)| {
                    let wait = store.data_mut().host.log(level.into(), message);
                    Box::new(async move {
                        if let Some(wait) = wait {
                            wait.await;
                        }
                        Ok(())
                    })
                },
            )?,
            "xif:host/resources" => {
                instance.func_wrap("read", |store: StoreContextMut<'_, CallState>, (path,): (String,)| {
                    Ok(((store.data().host.ctx.resources)(&path),))
                })?
            }
            "xif:host/settings" => instance
                .func_wrap("get", |store: StoreContextMut<'_, CallState>, (name,): (String,)| {
                    Ok((store.data().host.setting(&name),))
                })?,
            // Its own instance of the linker (functions defined dynamically).
            "xif:host/entities" => crate::entities::add_to_linker(&mut linker, interface)?,
            other => wasmtime::bail!("the runtime does not implement the host interface `{other}`"),
        }
    }
    Ok(linker)
}

/// Sends captured output to the call's log, one line at a time.
pub(crate) fn forward_lines(ctx: &CallContext, text: &str, truncated: bool, source: LogSource) {
    let level = match source {
        LogSource::Stderr => LogLevel::Warn,
        _ => LogLevel::Info,
    };
    // Blank lines say nothing (a panic's report starts with one): none becomes a log line.
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        (ctx.log)(ctx.log_line(level, line.to_string(), source));
    }
    if truncated {
        let note = format!("output beyond {OUTPUT_CAPACITY} bytes was dropped");
        (ctx.log)(ctx.log_line(LogLevel::Warn, note, source));
    }
}
