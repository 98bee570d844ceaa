//! Figures for `cargo xtask bench-server` (crates/xif-server/examples/call_bench.rs), not an API:
//! the floor's trivial component (`../shared/floor`: one core module, one memory page, `add`, no
//! imports) instantiated and called the way this runtime runs an action, so the benchmark can
//! tell the engine's share of a call from the extension's.
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{Component, Linker};

use crate::host::{CallState, Capture};
use crate::{CallContext, Runtime, call_store};

/// The floor's component, as `../shared/floor/src/main.rs` writes it.
pub const FLOOR_WAT: &str = r#"(component
  (core module $m
    (memory (export "memory") 1)
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
  (core instance $i (instantiate $m))
  (func (export "add") (param "a" s32) (param "b" s32) (result s32) (canon lift (core func $i "add"))))"#;

/// The mean time, in µs, of one instantiate + call of [`FLOOR_WAT`] on `runtime`'s engine (its
/// pool settings and epochs), over `calls` calls after a tenth as many to warm up. With
/// `call_state`, each call gets what an action's call gets: a fresh store holding a call's whole
/// state (the sandboxed WASI context, the memory limiter, the captures), the epoch deadline and
/// its callback, async instantiation and call; without, a store holding nothing, called
/// synchronously as the floor does.
pub async fn floor_component(runtime: &Runtime, calls: u32, call_state: bool) -> Result<f64, String> {
    let shared = &*runtime.shared;
    let engine = &shared.engine;
    let component = Component::new(engine, FLOOR_WAT).map_err(|e| format!("{e:#}"))?;
    let def =
        Arc::new(xif_model::parse("[extension]\nname = \"Floor\"\n").0.ok_or("the floor's definition does not parse")?);
    let with_state = Linker::<CallState>::new(engine).instantiate_pre(&component).map_err(|e| format!("{e:#}"))?;
    let bare = Linker::<()>::new(engine).instantiate_pre(&component).map_err(|e| format!("{e:#}"))?;
    let once = |i: i32| {
        let (def, with_state, bare) = (def.clone(), &with_state, &bare);
        async move {
            if call_state {
                let (stdout, stderr) = (Capture::new(), Capture::new());
                let mut store = call_store(shared, def, CallContext::new("Floor", 1), &stdout, &stderr);
                let instance = with_state.instantiate_async(&mut store).await?;
                let add = instance.get_typed_func::<(i32, i32), (i32,)>(&mut store, "add")?;
                Ok::<i32, wasmtime::Error>(add.call_async(&mut store, (i, 1)).await?.0)
            } else {
                let mut store = wasmtime::Store::new(engine, ());
                // The engine interrupts by epoch: a store with no deadline would trap at once.
                store.set_epoch_deadline(u64::MAX / 2);
                let instance = bare.instantiate(&mut store)?;
                let add = instance.get_typed_func::<(i32, i32), (i32,)>(&mut store, "add")?;
                Ok(add.call(&mut store, (i, 1))?.0)
            }
        }
    };
    for i in 0..(calls / 10) as i32 {
        once(i).await.map_err(|e| format!("{e:#}"))?;
    }
    let started = Instant::now();
    let mut sum = 0i64;
    for i in 0..calls as i32 {
        sum += i64::from(once(i).await.map_err(|e| format!("{e:#}"))?);
    }
    if sum <= 0 {
        return Err("the floor's component added nothing".into());
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / f64::from(calls.max(1)))
}
