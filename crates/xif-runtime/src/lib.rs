//! The sandbox that runs an extension's actions: wasmtime with the component model.
//!
//! - A [`Runtime`] owns the engine (async, epoch interruption, pooling allocator sized from
//!   [`Limits`]) and a thread that ticks the epoch every 10 ms.
//! - [`Runtime::compile`] turns a component into native code (cache it by package digest and
//!   [`Runtime::compatibility_hash`]); [`Runtime::load`] makes an [`Extension`] from either,
//!   after [`Extension::check`] has verified the component against the WIT contract.
//! - [`Extension::call`] runs one action in a fresh instance with its own WASI context (no files,
//!   no sockets, no environment; clocks and random work; stdout and stderr captured), a time limit
//!   and a memory limit. JSON in, JSON out, typed by the definition.
//!
//! **Architecture Invariant:** no state survives a call: each call gets a fresh store and
//! instance, so one call can neither see nor break another.
//!
//! **Architecture Invariant:** a call never blocks its thread for more than one epoch tick: the
//! running guest yields to the async executor every tick, and is stopped when its time is up,
//! so a runaway action never stalls other requests.
#![deny(missing_docs)]

#[doc(hidden)]
pub mod bench;
mod call;
mod contract;
mod convert;
mod entities;
mod host;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Val};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline};
use xif_model::definition::Action;
use xif_model::value::InputShape;
use xif_model::wit::ACTIONS_INTERFACE;
use xif_model::{Definition, Value};

pub use call::{CallContext, CallError, CallOutput, LogHook, LogLevel, LogLine, LogSink, LogSource, ResourceReader};
pub use entities::{Comparison, EntityAccess, EntityStore, Filter, Query, StoreFuture, coerce};
pub use host::OUTPUT_CAPACITY;

use host::{CallState, Capture};

/// Whether this build's calls skip the sandbox (the benchmark-only feature `stub-sandbox`): every
/// call answers its outputs' defaults without running the component.
pub const STUB_SANDBOX: bool = cfg!(feature = "stub-sandbox");

/// How often the epoch advances: the granularity of the time limit, and how long a running
/// guest keeps its thread before yielding to the executor.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The limits of every call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long one call may run (default 10 s).
    pub call_time: Duration,
    /// How much linear memory one call may use, all its memories together (default 256 MiB).
    pub call_memory: usize,
    /// How many calls may run at once; more wait for a free slot (default 64).
    pub max_instances: u32,
    /// How long a call waits for a free slot before it is refused with [`CallError::Busy`]
    /// (default 10 s).
    pub slot_wait: Duration,
    /// Most records one `xif:host/entities` query may ask for (default 1000); a bigger `limit`
    /// is an error that names this cap.
    pub query_rows: u32,
    /// Largest JSON output of a call, in bytes (default 10 MiB, the call body limit); a bigger
    /// one is [`CallError::OutputTooLarge`]. An action error's message is cut at this size.
    pub output_bytes: usize,
    /// How an ended call's instance slot is made ready for the next call (default
    /// [`Reset::InPlace`]).
    pub reset: Reset,
}

/// How the memory and tables of an ended call's instance slot are brought back to the
/// component's initial state for the next call. Every choice gives each call a fresh instance:
/// they differ in cost, not in isolation (tests/runtime.rs, `a_call_finds_nothing_of_the_calls_before`,
/// runs under each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reset {
    /// The first 2 MiB of memory and 64 KiB of tables are reset in place, the rest decommitted:
    /// only the pages the call wrote, found with `PAGEMAP_SCAN` where the kernel has it (Linux
    /// 6.7+) and no swap is configured, else the low pages by `memset` ([`Reset::Memset`]).
    /// See [`Runtime::reset_in_effect`].
    #[default]
    InPlace,
    /// As [`Reset::InPlace`], always by `memset` of the low pages (no `PAGEMAP_SCAN`).
    Memset,
    /// Nothing kept: memories and tables decommitted with `madvise` when a call ends, and
    /// faulted in again by the next (wasmtime's default; the most page-table work per call).
    Decommit,
}

/// The reset a [`Runtime`] applies: what [`Reset`] became on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResetInEffect {
    /// In place, the written pages found with `PAGEMAP_SCAN`.
    PagemapScan,
    /// In place, the low pages by `memset`.
    Memset,
    /// Decommitted with `madvise`.
    Decommit,
}

impl ResetInEffect {
    /// A short name for logs and reports: `pagemap-scan`, `memset`, `decommit`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResetInEffect::PagemapScan => "pagemap-scan",
            ResetInEffect::Memset => "memset",
            ResetInEffect::Decommit => "decommit",
        }
    }
}

impl Reset {
    /// What this choice becomes here. `PAGEMAP_SCAN` finds the pages a call wrote among those
    /// *present*: a written page swapped out would be missed and keep the call's data for the
    /// next one, so with swap configured (any line in `/proc/swaps`) the reset is by `memset`.
    /// Swap turned on after the runtime started is not seen: restart the server after `swapon`.
    fn in_effect(self) -> ResetInEffect {
        match self {
            Reset::Decommit => ResetInEffect::Decommit,
            Reset::Memset => ResetInEffect::Memset,
            Reset::InPlace if PoolingAllocationConfig::is_pagemap_scan_available() && !swap_configured() => {
                ResetInEffect::PagemapScan
            }
            Reset::InPlace => ResetInEffect::Memset,
        }
    }
}

/// Whether any swap area is configured (`/proc/swaps` lists one); unreadable counts as yes.
fn swap_configured() -> bool {
    std::fs::read_to_string("/proc/swaps").map_or(true, |text| swap_listed(&text))
}

/// Whether the text of `/proc/swaps` lists a swap area (a line after its header).
fn swap_listed(proc_swaps: &str) -> bool {
    proc_swaps.lines().skip(1).any(|l| !l.trim().is_empty())
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            call_time: Duration::from_secs(10),
            call_memory: 256 << 20,
            max_instances: 64,
            slot_wait: Duration::from_secs(10),
            query_rows: 1000,
            output_bytes: 10 << 20,
            reset: Reset::InPlace,
        }
    }
}

/// What reading a call's input takes in memory, estimated from its [`InputShape`] before anything
/// is built (see [`input_memory`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputMemory {
    /// While the input is converted: the JSON tree, the definition's values and the component
    /// values, all at once.
    pub converting: u64,
    /// Afterwards, until the call ends: the component values given to the action.
    pub kept: u64,
}

/// Bytes per JSON value while converting: `serde_json::Value` (80 bytes with `preserve_order`)
/// with its share of the containers' slack and object entries, a [`Value`] (32) and a component
/// value (40) with theirs. Measured against the process's memory by the server's tests.
const CONVERTING_PER_NODE: u64 = 256;
/// Bytes per component value kept for the call.
const KEPT_PER_NODE: u64 = 48;
/// Bytes per byte of Binary Data as a component value (`list<u8>` is one 40-byte value a byte),
/// plus the decoded bytes themselves.
const PER_BINARY_BYTE: u64 = 48;

/// The memory that converting an input of this shape takes, and what stays until its call ends.
pub fn input_memory(shape: &InputShape) -> InputMemory {
    let converting = shape
        .nodes
        .saturating_mul(CONVERTING_PER_NODE)
        .saturating_add(shape.text_bytes.saturating_mul(3))
        .saturating_add(shape.binary_bytes.saturating_mul(PER_BINARY_BYTE + 1));
    let kept = shape
        .nodes
        .saturating_mul(KEPT_PER_NODE)
        .saturating_add(shape.text_bytes)
        .saturating_add(shape.binary_bytes.saturating_mul(PER_BINARY_BYTE));
    InputMemory { converting, kept }
}

/// A call's input, converted for its action by [`Extension::prepare`] and ready to
/// [`run`](Extension::run).
pub struct Prepared {
    index: usize,
    params: Vec<Val>,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared").field("action", &self.index).field("params", &self.params.len()).finish()
    }
}

/// Why the runtime could not start, or could not load a component.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The limits cannot be used.
    #[error("invalid runtime limits: {0}")]
    Limits(String),
    /// The engine could not be set up.
    #[error("could not set up the WebAssembly engine: {0}")]
    Engine(String),
    /// The bytes are not a valid component.
    #[error("the component is not valid: {0}")]
    Compile(String),
    /// The native code was made by another build or configuration of the runtime.
    #[error("the compiled code cannot be loaded by this runtime (recompile it): {0}")]
    Incompatible(String),
    /// The component imports something extensions are not given.
    #[error("component imports `{import}` which is not granted")]
    NotGranted {
        /// The import's name (`foo:bar/baz`).
        import: String,
    },
    /// The component's exports do not match its definition.
    #[error("{message}")]
    Exports {
        /// What does not match, naming the export.
        message: String,
    },
    /// The component's imports have the granted names but not the granted types.
    #[error("the component's imports do not match what the runtime provides: {0}")]
    Link(String),
}

/// What [`Runtime::load`] loads.
#[derive(Clone, Copy, Debug)]
pub enum Loadable<'a> {
    /// A component binary (or its text form): compiled now.
    Wasm(&'a [u8]),
    /// Native code from [`Runtime::compile`] of this runtime (same [`Runtime::compatibility_hash`]).
    /// Only ever pass bytes that this program produced and stored where nobody else can write:
    /// loading native code runs it without validation.
    Native(&'a [u8]),
}

/// The engine, the pool and the epoch ticker, shared by every [`Extension`] loaded from it.
struct Shared {
    engine: Engine,
    limits: Limits,
    linker: wasmtime::component::Linker<CallState>,
    /// One permit per instance the pool holds: calls beyond it wait instead of failing.
    permits: tokio::sync::Semaphore,
    /// How ended instances are reset, as decided at start.
    reset: ResetInEffect,
    ticker: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.ticker.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}

/// The sandbox: an engine and the limits of every call. Cheap to clone; the epoch ticker
/// thread stops when the runtime and every extension loaded from it are dropped.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").field("limits", &self.shared.limits).finish_non_exhaustive()
    }
}

/// Most core instances, memories and tables one component may have. A Rust extension made a
/// component with the preview 1 adapter has 4 core instances (the module, the adapter, and
/// wit-component's shim and fixup modules), 1 memory (the adapter uses the module's) and 2 tables.
/// The pool holds `max_instances` times each; a component that needs more is refused at load.
///
/// Address space: each memory slot reserves wasmtime's default 4 GiB (so compiled code needs no
/// bounds checks) plus a 32 MiB guard, all of it inaccessible until used: 64 instances take about
/// 260 GiB of the 128 TiB of virtual address space, and nothing of the 24 GiB of memory until
/// a call touches its pages (which are returned when the call ends).
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;
/// Bytes of each linear memory reset in place rather than decommitted when its instance ends.
const KEEP_RESIDENT_MEMORY: usize = 2 << 20;
/// Bytes of each table reset in place rather than decommitted.
const KEEP_RESIDENT_TABLE: usize = 64 << 10;
const MEMORIES_PER_COMPONENT: u32 = 1;
const TABLES_PER_COMPONENT: u32 = 4;

fn engine(limits: &Limits, reset: ResetInEffect) -> wasmtime::Result<Engine> {
    let n = limits.max_instances;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(n)
        .total_core_instances(n * CORE_INSTANCES_PER_COMPONENT)
        .total_memories(n * MEMORIES_PER_COMPONENT)
        .total_tables(n * TABLES_PER_COMPONENT)
        .total_stacks(n)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memory_size(limits.call_memory);
    // In place (the default): when an instance ends, its memory's first 2 MiB and its tables'
    // first 64 KiB are reset to their initial contents where they lie (only the pages written,
    // found with PAGEMAP_SCAN, or the low pages by memset) instead of being decommitted with
    // madvise: the next call takes no page faults there and no other core is interrupted to
    // flush its TLB. Cost: up to 2 MiB stays resident per slot used (128 MiB for 64 slots).
    if reset != ResetInEffect::Decommit {
        pool.linear_memory_keep_resident(KEEP_RESIDENT_MEMORY).table_keep_resident(KEEP_RESIDENT_TABLE);
    }
    pool.pagemap_scan(if reset == ResetInEffect::PagemapScan { wasmtime::Enabled::Yes } else { wasmtime::Enabled::No });
    let mut config = Config::new();
    config.epoch_interruption(true).allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

impl Runtime {
    /// Sets up the engine and starts the epoch ticker.
    pub fn new(limits: Limits) -> Result<Runtime, RuntimeError> {
        if limits.call_time.is_zero() {
            return Err(RuntimeError::Limits("the call time must be more than zero".into()));
        }
        if limits.call_memory < (1 << 20) || limits.call_memory > (4 << 30) {
            return Err(RuntimeError::Limits(format!(
                "the call memory must be from 1 MiB to 4 GiB, not {}",
                call::bytes(limits.call_memory)
            )));
        }
        if limits.max_instances == 0 || limits.max_instances > 10_000 {
            return Err(RuntimeError::Limits(format!(
                "the number of instances must be from 1 to 10000, not {}",
                limits.max_instances
            )));
        }
        let reset = limits.reset.in_effect();
        let engine = engine(&limits, reset).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let linker = host::linker(&engine).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let (stop, ticks) = mpsc::channel::<()>();
        let ticking = engine.clone();
        let thread = std::thread::Builder::new()
            .name("xif-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = ticks.recv_timeout(EPOCH_TICK) {
                    ticking.increment_epoch();
                }
            })
            .map_err(|e| RuntimeError::Engine(format!("could not start the epoch thread: {e}")))?;
        Ok(Runtime {
            shared: Arc::new(Shared {
                engine,
                limits,
                linker,
                permits: tokio::sync::Semaphore::new(limits.max_instances as usize),
                reset,
                ticker: Some((stop, thread)),
            }),
        })
    }

    /// The limits this runtime applies.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// How this runtime resets an ended call's instance slot ([`Limits::reset`] as it turned
    /// out on this machine).
    pub fn reset_in_effect(&self) -> ResetInEffect {
        self.shared.reset
    }

    /// Names the compiler settings and version native code depends on: cache compiled code by
    /// (package digest, this hash), and a runtime upgrade recompiles instead of failing.
    pub fn compatibility_hash(&self) -> String {
        let mut h = Fnv64::default();
        self.shared.engine.precompile_compatibility_hash().hash(&mut h);
        format!("{:016x}", h.0)
    }

    /// Compiles a component to native code for this runtime ([`Loadable::Native`]).
    pub fn compile(&self, component_wasm: &[u8]) -> Result<Vec<u8>, RuntimeError> {
        let component =
            Component::new(&self.shared.engine, component_wasm).map_err(|e| RuntimeError::Compile(format!("{e:#}")))?;
        component.serialize().map_err(|e| RuntimeError::Compile(format!("{e:#}")))
    }

    /// Loads an extension: compiles or deserializes its component, [checks](Extension::check)
    /// it against the definition, and links it.
    pub fn load(&self, def: Arc<Definition>, native_or_wasm: Loadable<'_>) -> Result<Extension, RuntimeError> {
        let engine = &self.shared.engine;
        let component = match native_or_wasm {
            Loadable::Wasm(bytes) => {
                Component::new(engine, bytes).map_err(|e| RuntimeError::Compile(format!("{e:#}")))?
            }
            // SAFETY: `Loadable::Native` is documented to carry only bytes `Runtime::compile`
            // produced and the caller stored safely; wasmtime checks they were made by a
            // compatible engine and refuses them otherwise.
            Loadable::Native(bytes) => unsafe { Component::deserialize(engine, bytes) }
                .map_err(|e| RuntimeError::Incompatible(format!("{e:#}")))?,
        };
        contract::check(engine, &def, &component.component_type())?;
        let pre = self.shared.linker.instantiate_pre(&component).map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
        let iface = component.get_export_index(None, ACTIONS_INTERFACE).ok_or_else(|| RuntimeError::Exports {
            message: format!("component does not export `{ACTIONS_INTERFACE}`"),
        })?;
        let exports = def
            .actions
            .iter()
            .map(|a| {
                component.get_export_index(Some(&iface), a.name.wit()).ok_or_else(|| RuntimeError::Exports {
                    message: format!(
                        "component does not export function `{}` for action {}",
                        a.name.wit(),
                        a.name.text
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Extension { inner: Arc::new(ExtensionInner { def, component, pre, exports, shared: self.shared.clone() }) })
    }
}

/// FNV-1a: a small hash that is the same in every build and process (std's is not promised to be).
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// A loaded extension: its definition and its linked component, ready to call. Cheap to clone;
/// calls may run concurrently.
#[derive(Clone)]
pub struct Extension {
    inner: Arc<ExtensionInner>,
}

struct ExtensionInner {
    def: Arc<Definition>,
    component: Component,
    pre: InstancePre<CallState>,
    /// The export of each action, in definition order.
    exports: Vec<ComponentExportIndex>,
    shared: Arc<Shared>,
}

impl fmt::Debug for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension").field("name", &self.inner.def.name.text).finish_non_exhaustive()
    }
}

impl Extension {
    /// The definition the extension was loaded with.
    pub fn definition(&self) -> &Arc<Definition> {
        &self.inner.def
    }

    /// Checks the component against its definition (done by [`Runtime::load`]): every import is
    /// a WASI preview 2 interface (`wasi:cli`, `clocks`, `filesystem`, `io`, `random`, `sockets`,
    /// all sandboxed) or one of [`xif_model::wit::HOST_INTERFACES`]; it exports
    /// `xif:extension/actions@1.0.0` with one function per action, by the action's WIT name, with
    /// the parameters and result the definition gives; nothing else. The error names the
    /// offending import or export.
    pub fn check(&self) -> Result<(), RuntimeError> {
        let inner = &self.inner;
        contract::check(&inner.shared.engine, &inner.def, &inner.component.component_type())
    }

    /// Calls an action: `input` is a JSON object of its inputs (missing optional inputs take
    /// their defaults); the answer is a JSON object of its outputs. [`prepare`](Self::prepare)
    /// then [`run`](Self::run).
    ///
    /// Runs in a fresh instance; waits for a free one when [`Limits::max_instances`] calls are
    /// running (at most [`Limits::slot_wait`]). Must be polled inside a Tokio runtime with its
    /// timer: the guest yields to it every [`EPOCH_TICK`]. Dropping the future stops the call and
    /// frees its instance.
    pub async fn call(
        &self,
        action: &str,
        input: &serde_json::Value,
        ctx: CallContext,
    ) -> Result<CallOutput, CallError> {
        let prepared = self.prepare(action, input)?;
        self.run(prepared, ctx).await
    }

    /// The action of this name (exact, else case-insensitively), or [`CallError::UnknownAction`].
    pub fn action(&self, action: &str) -> Result<&Action, CallError> {
        let def = &self.inner.def;
        self.action_index(action).map(|i| &def.actions[i])
    }

    /// The index in the definition's actions of `action` (its exact name, else the one that
    /// matches it case-insensitively).
    pub fn action_index(&self, action: &str) -> Result<usize, CallError> {
        let def = &self.inner.def;
        def.actions
            .iter()
            .position(|a| a.name.text == action)
            .or_else(|| def.actions.iter().position(|a| a.name.text.eq_ignore_ascii_case(action)))
            .ok_or_else(|| CallError::UnknownAction {
                name: action.to_string(),
                known: def.actions.iter().map(|a| a.name.text.clone()).collect(),
            })
    }

    /// Converts a call's JSON input for its action (the values the action will be given); the
    /// JSON can be dropped afterwards. Takes no call slot.
    pub fn prepare(&self, action: &str, input: &serde_json::Value) -> Result<Prepared, CallError> {
        let index = self.action_index(action)?;
        let def = &self.inner.def;
        let act = &def.actions[index];
        let values = xif_model::value::inputs_from_json(def, act, input).map_err(CallError::BadInput)?;
        let mut params = Vec::with_capacity(values.len());
        for (field, value) in act.inputs.iter().zip(values) {
            let ty = convert::field_type(def, field).map_err(CallError::Internal)?;
            params.push(convert::to_val(def, &ty, value).map_err(CallError::Internal)?);
        }
        Ok(Prepared { index, params })
    }

    /// Runs a prepared call: waits for a call slot (at most [`Limits::slot_wait`], else
    /// [`CallError::Busy`]), then runs the action in a fresh instance.
    pub async fn run(&self, prepared: Prepared, ctx: CallContext) -> Result<CallOutput, CallError> {
        let started = Instant::now();
        let inner = &*self.inner;
        let def = &inner.def;
        let Prepared { index, params } = prepared;
        let act = &def.actions[index];
        let shared = &inner.shared;
        let limits = shared.limits;
        let _permit = match tokio::time::timeout(limits.slot_wait, shared.permits.acquire()).await {
            Ok(permit) => permit.map_err(|e| CallError::Internal(e.to_string()))?,
            Err(_) => return Err(CallError::Busy { waited: limits.slot_wait }),
        };
        if cfg!(feature = "stub-sandbox") {
            // Benchmarks only (the feature is off in every shipped build): the outputs' defaults,
            // without the component, so the cost of everything around the sandbox is measured.
            drop(params);
            let outputs: Vec<Value> = act.outputs.iter().map(|f| xif_model::value::field_default(def, f)).collect();
            let json = xif_model::value::outputs_to_json(act, &outputs);
            return Ok(CallOutput { json, stdout: String::new(), stderr: String::new(), elapsed: started.elapsed() });
        }
        let stdout = Capture::new();
        let stderr = Capture::new();
        let mut store = call_store(shared, def.clone(), ctx, &stdout, &stderr);
        let run = async {
            let instance = inner.pre.instantiate_async(&mut store).await?;
            let func = instance
                .get_func(&mut store, inner.exports[index])
                .ok_or_else(|| wasmtime::format_err!("the instance has no function `{}`", act.name.wit()))?;
            let mut results = [Val::Bool(false)];
            func.call_async(&mut store, &params, &mut results).await?;
            wasmtime::Result::Ok(results)
        };
        // The epoch stops the guest; this also stops a call stuck in the host.
        let outcome = tokio::time::timeout(limits.call_time + Duration::from_secs(1), run).await;
        drop(params);

        let (out, out_truncated) = stdout.text();
        let (err, err_truncated) = stderr.text();
        let ctx = store.data().context();
        host::forward_lines(ctx, &out, out_truncated, LogSource::Stdout);
        host::forward_lines(ctx, &err, err_truncated, LogSource::Stderr);
        let results = match outcome {
            Err(_) => return Err(CallError::Timeout { limit: limits.call_time }),
            Ok(Err(e)) => return Err(failure(e, store.data().limiter.exceeded.is_some(), &limits, &err)),
            Ok(Ok([result])) => result,
        };
        drop(store);
        // Refuse an output that cannot fit before building anything more from it.
        if matches!(results, Val::Result(Ok(_))) && json_size_floor(&results) > limits.output_bytes as u64 {
            return Err(CallError::OutputTooLarge { limit: limits.output_bytes });
        }
        let outputs = decode_result(def, act, results, limits.output_bytes)?;
        let json = xif_model::value::outputs_to_json(act, &outputs);
        drop(outputs);
        let mut size = SizeLimit { written: 0, limit: limits.output_bytes };
        if serde_json::to_writer(&mut size, &json).is_err() {
            return Err(CallError::OutputTooLarge { limit: limits.output_bytes });
        }
        Ok(CallOutput { json, stdout: out, stderr: err, elapsed: started.elapsed() })
    }
}

/// A call's store, its time counted from now: a fresh state (the sandboxed WASI context writing
/// to the captures), the memory limiter, and the epoch deadline that yields to the executor every
/// tick and stops the guest when the call's time is up.
fn call_store(
    shared: &Shared,
    def: Arc<Definition>,
    ctx: CallContext,
    stdout: &Capture,
    stderr: &Capture,
) -> Store<CallState> {
    let limits = shared.limits;
    let running = Instant::now();
    let state = CallState::new(def, ctx, &limits, running + limits.call_time, stdout, stderr);
    let mut store = Store::new(&shared.engine, state);
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if running.elapsed() >= limits.call_time {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))
        })
    });
    store
}

/// Counts the bytes of JSON written through it; fails past `limit`.
struct SizeLimit {
    written: usize,
    limit: usize,
}

impl std::io::Write for SizeLimit {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written += buf.len();
        if self.written > self.limit {
            return Err(std::io::Error::other("the output is over its limit"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The fewest bytes the JSON of a component value can take (a string its bytes, a byte of
/// Binary Data 4/3 of a base64 character, any other value one character plus a separator).
fn json_size_floor(v: &Val) -> u64 {
    match v {
        Val::String(s) => s.len() as u64 + 2,
        Val::List(items) if items.iter().all(|i| matches!(i, Val::U8(_))) => (items.len() as u64).div_ceil(3) * 4 + 2,
        Val::List(items) | Val::Tuple(items) => items.iter().map(json_size_floor).sum::<u64>() + 2,
        Val::Record(fields) => fields.iter().map(|(_, v)| json_size_floor(v) + 3).sum::<u64>() + 2,
        Val::Option(Some(v)) | Val::Variant(_, Some(v)) => json_size_floor(v),
        Val::Result(Ok(Some(v)) | Err(Some(v))) => json_size_floor(v),
        _ => 2,
    }
}

/// The outputs in a function's `result<outputs, action-error>`, or the action's error.
fn decode_result(def: &Definition, act: &Action, result: Val, max_message: usize) -> Result<Vec<Value>, CallError> {
    Ok(match result {
        Val::Result(Ok(None)) if act.outputs.is_empty() => Vec::new(),
        Val::Result(Ok(Some(record))) if !act.outputs.is_empty() => {
            let Val::Record(mut fields) = *record else {
                return Err(CallError::BadOutput { message: "the outputs are not a record".into() });
            };
            let mut values = Vec::with_capacity(act.outputs.len());
            for out in &act.outputs {
                let wit = out.name.wit();
                let pos = fields
                    .iter()
                    .position(|(k, _)| *k == wit)
                    .ok_or_else(|| CallError::BadOutput { message: format!("output {} is missing", out.name.text) })?;
                let (_, val) = fields.swap_remove(pos);
                let ty = convert::field_type(def, out).map_err(CallError::Internal)?;
                let value = convert::from_val(def, &ty, &val, &out.name.text)
                    .map_err(|message| CallError::BadOutput { message })?;
                values.push(value);
            }
            values
        }
        Val::Result(Err(Some(error))) => {
            let message = match *error {
                Val::Record(fields) => fields.into_iter().find_map(|(k, v)| match (k.as_str(), v) {
                    ("message", Val::String(s)) => Some(s),
                    _ => None,
                }),
                _ => None,
            };
            return Err(match message {
                Some(mut message) => {
                    if message.len() > max_message {
                        let mut cut = max_message;
                        while !message.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        message.truncate(cut);
                        message.push_str(" [cut at the output limit]");
                    }
                    CallError::ActionFailed { message }
                }
                None => CallError::BadOutput { message: "the action-error has no message".into() },
            });
        }
        Val::Result(Ok(_)) => {
            let expected = if act.outputs.is_empty() { "no outputs" } else { "a record of outputs" };
            return Err(CallError::BadOutput { message: format!("the result does not hold {expected}") });
        }
        _ => return Err(CallError::BadOutput { message: "the function did not return a `result`".into() }),
    })
}

/// Tells a timeout, running out of memory and a trap apart.
fn failure(e: wasmtime::Error, out_of_memory: bool, limits: &Limits, stderr: &str) -> CallError {
    if out_of_memory {
        return CallError::OutOfMemory { limit: limits.call_memory };
    }
    let trap = e.downcast_ref::<wasmtime::Trap>().copied();
    if trap == Some(wasmtime::Trap::Interrupt) {
        return CallError::Timeout { limit: limits.call_time };
    }
    let Some(trap) = trap else {
        return CallError::Internal(format!("{e:#}"));
    };
    let (panic, location) = match call::panic_from_stderr(stderr) {
        Some((message, location)) => (Some(message), location),
        None => (None, None),
    };
    CallError::Trap {
        message: trap.to_string(),
        panic,
        location,
        backtrace: e.downcast_ref::<wasmtime::WasmBacktrace>().map(|b| b.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::swap_listed;

    #[test]
    fn swap_is_what_proc_swaps_lists_after_its_header() {
        let header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
        assert!(!swap_listed(header), "only the header: no swap");
        assert!(!swap_listed(""), "empty: no swap");
        assert!(swap_listed(&format!("{header}/swapfile                               file\t\t2097148\t\t0\t\t-2\n")));
        assert!(swap_listed(&format!(
            "{header}/dev/zram0                              partition\t4194300\t\t0\t\t100\n"
        )));
    }
}
