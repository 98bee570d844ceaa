//! Keeps a secret where the next call would find it if its instance were not fresh: a static, the
//! heap, and a static buffer; then looks for a pattern everywhere in linear memory.
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::types::*;

static PREVIOUS: Mutex<String> = Mutex::new(String::new());
static CALLS: AtomicI32 = AtomicI32::new(0);
static mut BUFFER: [u8; 256] = [0; 256];

/// Stores `secret` (unless empty) in three places, then answers what the static held before, how
/// many calls this instance has seen, and how many times the reverse of `probe` occurs in the
/// whole linear memory (a fresh instance: once, the copy this call made to search for).
pub fn remember(secret: String, probe: String) -> Result<RememberOutput, ActionError> {
    let calls = CALLS.fetch_add(1, Ordering::SeqCst);
    let previous = {
        let mut slot = PREVIOUS.lock().map_err(|_| ActionError { message: "poisoned".into() })?;
        std::mem::replace(&mut *slot, secret.clone())
    };
    if !secret.is_empty() {
        // On the heap, never freed.
        std::mem::forget(secret.clone().into_bytes().into_boxed_slice());
        // In a static buffer.
        let bytes = secret.as_bytes();
        let n = bytes.len().min(256);
        // SAFETY: one call at a time runs in an instance; nothing else touches BUFFER.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), std::ptr::addr_of_mut!(BUFFER).cast::<u8>(), n) };
    }
    let pattern: Vec<u8> = probe.bytes().rev().collect();
    Ok(RememberOutput { previous, calls, copies: copies_in_memory(&pattern) })
}

/// How many times `pattern` occurs in linear memory 0, read byte by byte from address 1 up.
#[cfg(target_arch = "wasm32")]
fn copies_in_memory(pattern: &[u8]) -> i32 {
    if pattern.is_empty() {
        return 0;
    }
    let size = core::arch::wasm32::memory_size(0) * 65536;
    let mut copies = 0;
    let mut at = 1;
    while at + pattern.len() <= size {
        // SAFETY: every address below memory_size is readable linear memory.
        let matched = pattern.iter().enumerate().all(|(i, b)| unsafe { std::ptr::read_volatile((at + i) as *const u8) } == *b);
        if matched {
            copies += 1;
        }
        at += 1;
    }
    copies
}

#[cfg(not(target_arch = "wasm32"))]
fn copies_in_memory(_pattern: &[u8]) -> i32 {
    0
}
