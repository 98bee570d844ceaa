#!/usr/bin/env bash
# Renders a successful and a failed 1-Click Publish, as a terminal shows them, to
# docs/publish-success.png and docs/publish-failed.png: `xif publish` runs in a tmux pane against a
# real `xif serve`; the pane (with its colours) goes through aha to HTML and headless Chromium
# takes the screenshot. Needs tmux, aha and chromium (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
xif=${XIF:-$root/target/release/xif}
[ -x "$xif" ] || cargo build --release --locked -p xif
work=$(mktemp -d)
socket="xif-pictures-$$"
server_pid=
cleanup() {
  tmux -L "$socket" kill-server 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work/home XDG_CONFIG_HOME=$work/home/config XIF_TARGET_DIR=$root/target/xif-ext
unset XIF_SERVER XIF_TOKEN NO_COLOR
password=pictures-admin-password

# A server on a free port.
XIF_ADMIN_PASSWORD=$password "$xif" serve --listen 127.0.0.1:0 --data "$work/data" 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 100); do grep -q 'Listening on' "$work/serve.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)
echo "$password" | "$xif" login "$url" --user admin --password-stdin

"$xif" new Greetings --path "$work" 2>/dev/null
ext=$work/Greetings

# Runs `xif publish` in a fresh tmux pane; renders the pane to $1 once the command ends.
picture() {
  local png=$1 title=$2
  tmux -L "$socket" -f /dev/null new-session -d -x 104 -y 30 \
    "cd '$ext' && printf '\033[1;32m~/Greetings\033[0m \$ xif publish\n' && TERM=xterm-256color '$xif' publish; echo __END__; sleep 600"
  for _ in $(seq 3000); do tmux -L "$socket" capture-pane -p | grep -q __END__ && break; sleep 0.1; done
  tmux -L "$socket" capture-pane -p -e | grep -v __END__ | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' > "$work/pane.txt"
  tmux -L "$socket" kill-server
  local lines
  lines=$(wc -l < "$work/pane.txt")
  aha --black --title "$title" < "$work/pane.txt" \
    | sed 's|<pre>|<pre style="font-family: DejaVu Sans Mono, monospace; font-size: 15px; line-height: 1.35; margin: 18px;">|' \
    > "$work/pane.html"
  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$work/chromium" --hide-scrollbars \
    --window-size=960,$((lines * 21 + 40)) --screenshot="$png" "file://$work/pane.html" 2>/dev/null
  echo "wrote $png"
}

# Compile once (the first build of a folder takes longer than a picture should show).
"$xif" compile --path "$ext" 2>/dev/null
# Success: a one-line change, so every step has work to do.
sed -i 's/dear {name}!")/dearest {name}!")/' "$ext/src/actions/greet.rs"
picture "$root/docs/publish-success.png" "xif publish: success"
# Failure: a misspelt type in extension.toml stops the publish at Verify.
sed -i 's/Length = "Integer"/Length = "Intger"/' "$ext/extension.toml"
picture "$root/docs/publish-failed.png" "xif publish: failure at Verify"
