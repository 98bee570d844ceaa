#!/usr/bin/env bash
# The main job, from a fresh machine: set up, build xif, create the example extension,
# verify -> update source -> compile -> save -> inspect it, and run one of its actions.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p xif
xif=$PWD/target/release/xif
demo=$PWD/.xif-demo
rm -rf "$demo" && mkdir -p "$demo"
export XIF_TARGET_DIR=$PWD/target/xif-ext
cd "$demo"
"$xif" new Greetings
cd Greetings
"$xif" verify
"$xif" update-source
"$xif" compile
"$xif" save
"$xif" inspect Greetings.xif
"$xif" run Greet '{"Who": {"Name": "Ada", "Age": 36}}'
