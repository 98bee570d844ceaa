#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up, build the test extensions once, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo xtask test
