// The admin page: it polls /api/status every second and redraws its tables. No framework,
// no request leaving this listener.
"use strict";

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function fill(id, rows, render) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    render(tr, r);
    body.appendChild(tr);
  }
}

function ms(v) {
  if (v === null || v === undefined) return "–";
  return v < 1 ? v.toFixed(3) + " ms" : v.toFixed(1) + " ms";
}

function draw(st) {
  document.title = st.service + " · microhost admin";
  document.getElementById("service").textContent = st.service;
  document.getElementById("version").textContent = st.version;
  const state = document.getElementById("state");
  state.textContent = st.draining ? "draining" : st.ready ? "ready" : "not ready";
  state.className = "badge " + (st.ready ? "ready" : "notready");
  document.getElementById("updated").textContent = "updated " + new Date(st.time).toLocaleTimeString();
  fill("nodes", st.nodes, (tr, n) => { cell(tr, n.id); cell(tr, n.address); });
  const eps = document.getElementById("endpoints");
  eps.replaceChildren();
  for (const e of st.endpoints) {
    const li = document.createElement("li");
    const code = document.createElement("code");
    code.textContent = e;
    li.appendChild(code);
    eps.appendChild(li);
  }
  fill("modules", st.modules, (tr, m) => {
    tr.dataset.module = m.kind + "/" + m.name;
    if (m.native) tr.className = "native";
    cell(tr, m.kind, "kind");
    cell(tr, m.name, "name");
    cell(tr, m.version || "–", "version");
    const d = cell(tr, m.digest ? m.digest.slice(0, 12) : "–", "digest");
    d.title = m.digest || "";
    cell(tr, m.native ? "native" : "Wasm", "runs-as");
    cell(tr, m.native ? "–" : m.busy + " / " + m.idle, "instances");
    cell(tr, m.native ? "–" : String(m.calls), "calls num");
    cell(tr, m.native ? "–" : String(m.errors), "errors num");
    cell(tr, ms(m.p50_ms), "p50 num");
    cell(tr, ms(m.p99_ms), "p99 num");
  });
  fill("events", st.events, (tr, e) => {
    cell(tr, new Date(e.time).toLocaleTimeString());
    cell(tr, e.type);
    cell(tr, e.kind + "/" + e.module);
    cell(tr, e.detail);
  });
  document.getElementById("no-events").hidden = st.events.length > 0;
  fill("services", st.services, (tr, s) => {
    tr.dataset.service = s.name;
    cell(tr, s.name);
    cell(tr, s.versions.join(", "));
    cell(tr, String(s.nodes), "num");
  });
}

async function poll() {
  try {
    const rsp = await fetch("/api/status", { cache: "no-store" });
    if (rsp.ok) {
      draw(await rsp.json());
    } else {
      document.getElementById("state").textContent = "status " + rsp.status;
    }
  } catch (err) {
    const state = document.getElementById("state");
    state.textContent = "unreachable";
    state.className = "badge notready";
  }
  setTimeout(poll, 1000);
}

poll();
