//! Definitions a hostile package may carry (found by fuzzing the parser and Verify, see
//! `fuzz/` and docs/RELIABILITY.md): long chains of structures and deeply nested lists must be
//! refused quickly, with a clear error, and without deep recursion — the server parses and
//! verifies every uploaded definition, and a stack overflow would end the whole process.
use std::time::{Duration, Instant};

use xif_model::diag::Diagnostic;

/// Parse + Verify on a thread with a small stack (256 KiB: a tenth of tokio's worker threads),
/// answering the diagnostics and how long they took.
fn diagnostics_on_small_stack(src: String) -> (Vec<Diagnostic>, Duration) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let start = Instant::now();
            let (def, mut diags) = xif_model::parse(&src);
            if let Some(def) = &def {
                diags.extend(xif_model::verify::verify(def));
            }
            (diags, start.elapsed())
        })
        .expect("a thread")
        .join()
        .expect("parse and verify do not panic")
}

/// `n` structures, each holding the next: S0 → S1 → … → Sn (→ S0 again when `closed`).
fn chain(n: usize, closed: bool) -> String {
    let mut s = String::from("[extension]\nname = \"Chain\"\n\n[actions.Go]\ninputs = { X = \"S0\" }\n");
    for i in 0..n {
        s += &format!("[structures.S{i}]\nA = \"S{}\"\n", i + 1);
    }
    s += &format!("[structures.S{n}]\nA = \"{}\"\n", if closed { "S0" } else { "Text" });
    s
}

fn codes(diags: &[Diagnostic]) -> Vec<&str> {
    let mut c: Vec<&str> = diags.iter().filter(|d| d.is_error()).map(|d| d.code).collect();
    c.dedup();
    c
}

/// Guards the cubic recursion check (1,000 chained structures took 61 s in release, 5,000 hours)
/// and its recursion depth: 5,000 chained structures are refused with E024 in seconds.
#[test]
fn a_long_chain_of_structures_is_refused_quickly_with_e024() {
    let (diags, took) = diagnostics_on_small_stack(chain(5_000, false));
    assert_eq!(codes(&diags), ["E024"], "{diags:?}");
    let d = diags.iter().find(|d| d.code == "E024").expect("E024");
    assert!(d.message.contains("structure S0 nests 5001 levels deep, more than the 32 allowed"), "{}", d.message);
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

/// A cycle through 5,000 structures: every attribute on it is E022, as for a short cycle.
#[test]
fn a_long_cycle_of_structures_is_e022_on_each_attribute_quickly() {
    let (diags, took) = diagnostics_on_small_stack(chain(5_000, true));
    assert_eq!(codes(&diags), ["E022"]);
    assert_eq!(diags.iter().filter(|d| d.code == "E022").count(), 5_001);
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

/// The limit itself: 32 levels of structures verify, 33 do not.
#[test]
fn structures_nest_up_to_32_levels() {
    let (diags, _) = diagnostics_on_small_stack(chain(31, false));
    assert!(codes(&diags).is_empty(), "{diags:?}");
    let (diags, _) = diagnostics_on_small_stack(chain(32, false));
    assert_eq!(codes(&diags), ["E024"], "{diags:?}");
}

/// Guards the recursive `List of` parser: 200,000 nested lists overflowed the stack (a crash
/// of the server); now more than 32 are an error naming the limit.
#[test]
fn deeply_nested_lists_are_refused_without_recursion() {
    let deep = |n: usize| {
        format!("[extension]\nname = \"Deep\"\n\n[actions.Go]\ninputs = {{ X = \"{}Text\" }}\n", "List of ".repeat(n))
    };
    let (diags, _) = diagnostics_on_small_stack(deep(200_000));
    let e = diags.iter().find(|d| d.is_error()).expect("an error");
    assert!(e.message.contains("\"List of\" is nested 200000 times, more than the 32 allowed"), "{diags:?}");
    let (diags, _) = diagnostics_on_small_stack(deep(32));
    assert!(codes(&diags).is_empty(), "{diags:?}");
    assert_eq!(
        xif_model::Type::parse("List of  List of Text").map(|t| t.display()).as_deref(),
        Ok("List of List of Text")
    );
}
