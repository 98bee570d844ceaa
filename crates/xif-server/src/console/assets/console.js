// The Xif Service Center's script: confirmations, and the Upload & Publish page (drag and drop,
// upload progress, the publish stages streamed by the server). Plain JavaScript, no build.
"use strict";

document.addEventListener("submit", (e) => {
  const form = e.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) e.preventDefault();
});

// "Go back" links (no javascript: URL: the Content-Security-Policy allows no inline script).
document.addEventListener("click", (e) => {
  const link = e.target.closest && e.target.closest("a[data-back]");
  if (link && window.history.length > 1) {
    e.preventDefault();
    window.history.back();
  }
});

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  if (form) uploadPage(form);
  const log = document.getElementById("live-log");
  if (log) liveLog(log);
});

// The extension page's log: each new line as the server sends it (server-sent events of
// ExtensionLogLine; EventSource reconnects by itself, from the last event id). At most 200 lines
// are kept on the page; lines are text, never HTML.
function liveLog(list) {
  if (!window.EventSource) return;
  const source = new EventSource(list.dataset.follow);
  source.onmessage = (e) => {
    let l;
    try { l = JSON.parse(e.data); } catch (_) { return; }
    const empty = document.getElementById("live-log-empty");
    if (empty) empty.remove();
    const li = document.createElement("li");
    li.className = "lvl-" + String(l.level).replace(/[^a-z]/g, "");
    const time = document.createElement("time");
    time.dateTime = l.at;
    time.textContent = String(l.at).slice(11, 23);
    const lvl = document.createElement("span");
    lvl.className = "lvl";
    lvl.textContent = l.level;
    const where = document.createElement("span");
    where.className = "muted";
    where.textContent = "v" + l.version + " " + l.action;
    const call = document.createElement("code");
    call.className = "call";
    call.title = "call id (X-Request-Id)";
    call.textContent = l.call_id;
    const msg = document.createElement("span");
    msg.className = "msg";
    msg.textContent = l.message;
    li.append(time, " ", lvl, " ", where, " ", call, " ", msg);
    li.classList.add("new");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.append(li);
    while (list.children.length > 200) list.firstElementChild.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  };
}

function uploadPage(form) {
  const csrf = document.body.dataset.csrf;
  const drop = document.getElementById("drop");
  const input = document.getElementById("file");
  const chosen = document.getElementById("chosen");
  const button = document.getElementById("publish");
  const progress = document.getElementById("progress");
  const bar = document.getElementById("upload-bar");
  const pct = document.getElementById("upload-pct");
  const outcome = document.getElementById("outcome");
  let file = null;

  function choose(f) {
    file = f || null;
    outcome.textContent = "";
    if (!file) {
      chosen.textContent = "";
      button.disabled = true;
      return;
    }
    const kb = (file.size / 1024).toFixed(1);
    chosen.textContent = `${file.name} (${kb} KB)`;
    button.disabled = false;
    if (!file.name.toLowerCase().endsWith(".xif")) {
      chosen.textContent += " — not a .xif file? The server will say.";
    }
    button.focus();
  }

  input.addEventListener("change", () => choose(input.files[0]));
  ["dragenter", "dragover"].forEach((t) =>
    document.addEventListener(t, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    }),
  );
  ["dragleave", "dragend"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) choose(files[0]);
  });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (file) start(file);
  });

  function say(kind, html) {
    outcome.innerHTML = "";
    const div = document.createElement("div");
    div.className = `notice ${kind}`;
    div.setAttribute("role", kind === "error" ? "alert" : "status");
    div.innerHTML = html;
    outcome.appendChild(div);
  }

  function text(s) {
    const span = document.createElement("span");
    span.textContent = s;
    return span.innerHTML;
  }

  function setStage(step, status, message, ms) {
    const li = document.querySelector(`#stages li[data-step="${step}"]`);
    if (!li) return;
    li.className = `st-${status}`;
    const state = li.querySelector(".state");
    const words = { started: "running…", finished: "done", unchanged: "cached", skipped: "skipped", failed: "failed" };
    state.textContent = (words[status] || status) + (ms ? ` · ${ms} ms` : "") + (message && status !== "started" ? ` — ${message}` : "");
  }

  function reset() {
    progress.hidden = false;
    bar.value = 0;
    pct.textContent = "0%";
    document.querySelectorAll("#stages li").forEach((li) => {
      li.className = "st-pending";
      li.querySelector(".state").textContent = "waiting";
    });
  }

  function start(f) {
    button.disabled = true;
    outcome.textContent = "";
    reset();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/upload");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const p = Math.floor((e.loaded / e.total) * 100);
      bar.value = p;
      pct.textContent = `${p}%`;
    };
    xhr.onerror = () => fail("The upload failed: the server could not be reached.");
    xhr.onload = () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch (_) {
        body = { message: xhr.responseText };
      }
      if (xhr.status === 200 || xhr.status === 201) {
        bar.value = 100;
        pct.textContent = "100%";
        publish(body.extension, body.version);
      } else {
        fail(`The upload was refused (HTTP ${xhr.status}): ${body.message || "no reason given"}`);
      }
    };
    xhr.send(f);
  }

  function fail(message) {
    say("error", text(message));
    button.disabled = !file;
  }

  async function publish(name, version) {
    let summary = null;
    try {
      const allow = document.getElementById("allow-breaking");
      const query = allow && allow.checked ? "?allow_breaking=true" : "";
      const res = await fetch(`/extensions/${encodeURIComponent(name)}/versions/${version}/publish/stream${query}`, {
        method: "POST",
        headers: { Accept: "text/event-stream", "X-CSRF-Token": csrf },
        credentials: "same-origin",
      });
      if (!res.ok || !res.body) {
        const t = await res.text();
        let m = t;
        try {
          m = JSON.parse(t).message;
        } catch (_) {}
        return fail(`Publishing was refused (HTTP ${res.status}): ${m}`);
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = chunk
            .split("\n")
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trimStart())
            .join("\n");
          if (!data) continue;
          const ev = JSON.parse(data);
          if (ev.summary) summary = ev.summary;
          else setStage(ev.step, ev.status, ev.message, ev.ms);
        }
      }
    } catch (err) {
      return fail(`Publishing stopped: ${err}`);
    }
    if (!summary) return fail("Publishing stopped without an outcome: see the Log page.");
    if (summary.outcome === "published") {
      const href = `/extensions/${encodeURIComponent(summary.extension)}`;
      say("ok", `Published <a href="${href}">${text(summary.extension)} version ${summary.version}</a> in ${summary.ms} ms. Opening its page…`);
      setTimeout(() => (window.location.href = href), 700);
    } else {
      const m = summary.error && summary.error.message ? summary.error.message : "the server refused it";
      fail(`Version ${summary.version} of ${summary.extension} was not published: ${m}`);
    }
  }
}
