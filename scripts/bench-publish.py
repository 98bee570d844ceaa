#!/usr/bin/env python3
"""Times the 1-Click Publish of the example extension end to end (docs/BENCHMARKS.md), in one run:
a release `xif serve` on a free loopback port, `xif new Greetings`, one first publish, then
`xif publish` after a one-line code change (N times) and with nothing changed (M times), as wall
time of the whole process, with each step's ms from `--json`.

Usage: scripts/bench-publish.py [N_CHANGED] [N_UNCHANGED]   (defaults 5 and 20)
"""
import json, os, re, shutil, statistics, subprocess, sys, tempfile, time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
n_changed = int(sys.argv[1]) if len(sys.argv) > 1 else 5
n_unchanged = int(sys.argv[2]) if len(sys.argv) > 2 else 20
subprocess.run(["cargo", "build", "--release", "--locked", "-p", "xif"], cwd=root, check=True)
xif = os.path.join(root, "target/release/xif")
work = tempfile.mkdtemp(prefix="xif-bench-publish-")
# A fresh HOME keeps the bench's login out of the user's own config; rustup and cargo are still
# found where the user's HOME has them.
home = os.path.expanduser("~")
env = dict(os.environ, HOME=work, XDG_CONFIG_HOME=os.path.join(work, "config"),
           RUSTUP_HOME=os.environ.get("RUSTUP_HOME", os.path.join(home, ".rustup")),
           CARGO_HOME=os.environ.get("CARGO_HOME", os.path.join(home, ".cargo")),
           XIF_TARGET_DIR=os.path.join(root, "target/xif-ext"))
for k in ("XIF_SERVER", "XIF_TOKEN"):
    env.pop(k, None)
password = "bench-admin-password"
log = open(os.path.join(work, "serve.log"), "w+")
server = subprocess.Popen([xif, "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(work, "data")],
                          env=dict(env, XIF_ADMIN_PASSWORD=password, XIF_LOG="warn"), stdout=log, stderr=log)
try:
    url = None
    for _ in range(300):
        log.seek(0)
        m = re.search(r"Listening on (http://[0-9.:]+)", log.read())
        if m:
            url = m.group(1)
            break
        time.sleep(0.1)
    if not url:
        sys.exit("the server did not start")
    subprocess.run([xif, "login", url, "--user", "admin", "--password-stdin"], input=password + "\n",
                   text=True, env=env, check=True, capture_output=True)
    subprocess.run([xif, "new", "Greetings", "--path", work], env=env, check=True, capture_output=True)
    ext = os.path.join(work, "Greetings")

    def publish():
        t = time.perf_counter()
        out = subprocess.run([xif, "publish", "--json", "--path", ext], env=env, capture_output=True, text=True)
        took = time.perf_counter() - t
        if out.returncode != 0:
            sys.exit(f"xif publish failed:\n{out.stderr}\n{out.stdout}")
        events = [json.loads(l) for l in out.stdout.splitlines()]
        steps = {e["step"]: e for e in events if "step" in e and "stage" not in e and e["status"] != "started"}
        summary = events[-1]["summary"]
        return took, steps, summary

    first, _, _ = publish()
    greet = os.path.join(ext, "src/actions/greet.rs")
    changed = []
    for i in range(n_changed):
        src = open(greet).read()
        src = re.sub(r'format!\("\{word\}, dear[^"]*\{name\}!"\)', f'format!("{{word}}, dear{"!" * (i + 1)} {{name}}!")', src, count=1)
        open(greet, "w").write(src)
        changed.append(publish())
    unchanged = [publish() for _ in range(n_unchanged)]
    versions = json.loads(subprocess.run([xif, "versions", "Greetings", "--json"], env=env, capture_output=True,
                                         text=True, check=True).stdout)["versions"]
finally:
    server.terminate()
    server.wait()

def row(runs):
    runs = sorted(runs, key=lambda r: r[0])
    med = runs[len(runs) // 2]
    steps = ", ".join(f"{k} {v['status'] if v['status'] not in ('finished',) else ''} {v['ms']} ms".replace("  ", " ")
                      for k, v in med[1].items())
    return med[0], runs[0][0], steps, med[2]

c_med, c_min, c_steps, c_sum = row(changed)
u_med, u_min, u_steps, u_sum = row(unchanged)
load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
print(f"Load average at the end: {load}. Versions on the server after the run: {len(versions)} "
      f"(1 first publish + {n_changed} changes; the {n_unchanged} unchanged publishes made none).")
print()
print("| 1-Click Publish of the example (`xif publish`, whole process) | median | min | steps of the median run |")
print("|---|---|---|---|")
print(f"| after a one-line code change, median of {n_changed} | {c_med:.2f} s | {c_min:.2f} s | {c_steps} |")
print(f"| nothing changed (unchanged fast path), median of {n_unchanged} | {u_med * 1000:.0f} ms | {u_min * 1000:.0f} ms | {u_steps} |")
print(f"| first publish of the folder (compile of a new folder, shared target) | {first:.2f} s | | |")
shutil.rmtree(work, ignore_errors=True)
