#!/usr/bin/env bash
# Installs what building and testing Xif needs on Debian 12 with rustup stable, and skips what is
# already there. Safe to run again. Used by scripts/demo.sh and scripts/test.sh.
set -euo pipefail

say() { printf '\033[1;32m%12s\033[0m %s\n' "$1" "$2" >&2; }

need_apt=()

# A toolchain that can build extensions for wasm32-wasip1: a rustup target if there is one,
# else Debian's rustc with the library source (build-std) and wasi-libc.
sysroot=$(rustc --print sysroot 2>/dev/null || true)
if [ -n "$sysroot" ] && [ -d "$sysroot/lib/rustlib/wasm32-wasip1/lib" ]; then
  say Found "rustup target wasm32-wasip1"
elif [ -f /usr/lib/rustlib/src/rust/library/std/Cargo.toml ] && [ -f /usr/lib/wasm32-wasi/libc.a ] \
     && [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] && command -v wasm-ld-22 >/dev/null; then
  say Found "Debian rustc $(/usr/bin/rustc --version | cut -d' ' -f2) with library source and wasi-libc"
else
  # rustup cannot download targets on these machines; try it first where it can.
  if command -v rustup >/dev/null && rustup target add wasm32-wasip1 >/dev/null 2>&1; then
    say Installed "rustup target wasm32-wasip1"
  else
    need_apt+=(rustc-web cargo-web rust-web-src lld-22 wasi-libc)
  fi
fi

# Tools the test suite and benchmarks use: tmux drives `xif publish` at a real terminal in the
# tests; aha and Chromium render its pane to the pictures in docs/ (scripts/publish-pictures.sh).
for tool in python3:python3 git:git tmux:tmux aha:aha; do
  command -v "${tool%%:*}" >/dev/null || need_apt+=("${tool##*:}")
done

# PostgreSQL for the server's suite on PostgreSQL (XIF_TEST_DATABASE=postgres): only its binaries
# are used. The tests start their own server (crates/xif-testpg: initdb into a temporary folder,
# a free loopback port), never the cluster Debian's package may create and start; it is not needed.
if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  say Found "PostgreSQL $(ls -d /usr/lib/postgresql/*/bin/initdb | sed 's|/usr/lib/postgresql/\([^/]*\)/.*|\1|' | sort -n | tail -n 1)"
else
  need_apt+=(postgresql)
fi

# The Service Center's browser tests: Debian's Chromium, Node.js and npm (playwright-core drives
# the installed Chromium; it downloads no browser of its own).
command -v chromium >/dev/null || need_apt+=(chromium)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  say Installing "${need_apt[*]} (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
SUDO_APT() { if [ "$(id -u)" != 0 ]; then sudo apt-get install -y -qq "$@"; else apt-get install -y -qq "$@"; fi >/dev/null; }
browser_tests="$(dirname "$0")/../crates/xif-server/tests/browser"
if [ ! -f "$browser_tests/node_modules/playwright-core/package.json" ]; then
  say Installing "playwright-core for the Service Center's browser tests (npm ci)"
  (cd "$browser_tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
# schemathesis (PyPI, the version pinned in scripts/requirements-schemathesis.txt) for the API
# tests against the OpenAPI document: in its own venv under target/, so it works as root in CI
# and leaves the system's Python alone. crates/xif/tests/all/schemathesis.rs finds it there.
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/schemathesis"
want=$(sed -n 's/^schemathesis==//p' "$root/scripts/requirements-schemathesis.txt")
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null | awk '{print $NF}')" != "$want" ]; then
  say Installing "schemathesis $want (pip, in target/schemathesis)"
  python3 -m venv "$venv" 2>/dev/null || { SUDO_APT python3-venv; python3 -m venv "$venv"; }
  "$venv/bin/pip" install -q -r "$root/scripts/requirements-schemathesis.txt"
fi
say Ready "toolchain for wasm32-wasip1, PostgreSQL, Chromium, playwright-core and schemathesis $want"
