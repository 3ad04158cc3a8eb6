// dash.js: the web dashboard's logic (web/index.html). Every second it fetches this node's
// /status and /metrics (and /ring when the ring's version changed), redraws the ring as a
// circle of partitions coloured by owner (outlined while they move), the members with their
// reachability and the hints held for each, the background work's progress, the partition
// transfers this node sends or receives (from whom to whom, keys and bytes), and sparklines of request rate, p99
// latency and transfer bytes computed from successive /metrics samples. No framework.
"use strict";

const PERIOD_MS = 1000;
const KEEP = 60; // samples in a sparkline
const PALETTE = ["#2f80ed", "#eb5757", "#27ae60", "#f2994a", "#9b51e0", "#56ccf2",
                 "#f2c94c", "#219653", "#bb6bd9", "#828282", "#6fcf97", "#2d9cdb"];
const SVGNS = "http://www.w3.org/2000/svg";

const st = { ringVersion: -1, ring: null, colors: {}, prev: null, series: { rate: [], p99: [], xfer: [] } };

function $(id) { return document.getElementById(id); }

function el(tag, attrs, text) {
  const e = tag === "svg" || tag === "path" || tag === "polyline" || tag === "title" || tag === "circle"
    ? document.createElementNS(SVGNS, tag) : document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

function colorOf(name) {
  if (!(name in st.colors)) st.colors[name] = PALETTE[Object.keys(st.colors).length % PALETTE.length];
  return st.colors[name];
}

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

// ---------- the ring ----------

function wedge(i, q) {
  const a0 = (2 * Math.PI * i) / q - Math.PI / 2, a1 = (2 * Math.PI * (i + 1)) / q - Math.PI / 2;
  const R = 100, r = 62, f = (x) => x.toFixed(3);
  const large = a1 - a0 > Math.PI ? 1 : 0;
  return "M" + f(R * Math.cos(a0)) + "," + f(R * Math.sin(a0)) +
    " A" + R + "," + R + " 0 " + large + " 1 " + f(R * Math.cos(a1)) + "," + f(R * Math.sin(a1)) +
    " L" + f(r * Math.cos(a1)) + "," + f(r * Math.sin(a1)) +
    " A" + r + "," + r + " 0 " + large + " 0 " + f(r * Math.cos(a0)) + "," + f(r * Math.sin(a0)) + " Z";
}

function drawRing(ring) {
  const svg = $("ring");
  svg.textContent = "";
  const q = ring.partitions.length;
  svg.setAttribute("data-q", String(q));
  ring.members.forEach((m) => colorOf(m.name));
  for (const p of ring.partitions) {
    const owner = p.replicas[0] || "";
    const path = el("path", { class: "part", d: wedge(p.partition, q), fill: colorOf(owner),
                              "data-partition": String(p.partition), "data-owner": owner });
    path.appendChild(el("title", {}, "partition " + p.partition + " (slots " + p.slots[0] + "-" + p.slots[1] +
                                      "): " + p.replicas.join(", ")));
    svg.appendChild(path);
  }
  $("q").textContent = String(q);
  const legend = $("legend");
  legend.textContent = "";
  for (const m of ring.members) {
    if (m.status === "removed") continue;
    const li = el("li");
    li.appendChild(el("span", { class: "swatch", style: "background:" + colorOf(m.name) }));
    li.appendChild(document.createTextNode(m.name + " (" + m.partitions_owned + ")"));
    legend.appendChild(li);
  }
}

// Partitions of members this node cannot reach are dimmed.
function dimRing(status) {
  const down = new Set(status.members.filter((m) => m.reachability === "unreachable").map((m) => m.name));
  for (const p of $("ring").querySelectorAll(".part"))
    p.classList.toggle("down", down.has(p.getAttribute("data-owner")));
}

// ---------- members and progress ----------

function drawNodes(status) {
  const tb = $("nodes").querySelector("tbody");
  tb.textContent = "";
  for (const m of status.members) {
    const tr = el("tr", { class: "node", "data-name": m.name, "data-status": m.status, "data-reach": m.reachability });
    const name = el("td");
    name.appendChild(el("span", { class: "swatch", style: "background:" + colorOf(m.name) }));
    name.appendChild(document.createTextNode(m.name));
    tr.appendChild(name);
    tr.appendChild(el("td", { class: "status" }, m.status));
    tr.appendChild(el("td", { class: "reach" }, m.reachability));
    tr.appendChild(el("td", {}, m.reachability === "self" ? "" : Number(m.phi).toFixed(1)));
    tr.appendChild(el("td", {}, String(m.partitions_owned)));
    tr.appendChild(el("td", { class: "hints" }, String(m.hints_waiting || 0)));
    tr.appendChild(el("td", {}, m.client_address));
    tb.appendChild(tr);
  }
}

function bar(label, done, total, extra) {
  const row = el("div", { class: "bar" });
  row.appendChild(el("span", { class: "label" }, label));
  const track = el("span", { class: "track" });
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 100;
  track.appendChild(el("span", { class: "fill", style: "display:block;width:" + pct.toFixed(1) + "%" }));
  row.appendChild(track);
  row.appendChild(el("span", { class: "count" }, done + " / " + total + (extra ? " " + extra : "")));
  return row;
}

function drawProgress(status, rates) {
  const p = status.progress || {};
  const box = $("progress");
  box.textContent = "";
  box.appendChild(bar("anti-entropy: partitions in sync", p.aae_partitions_matched, p.aae_partitions_replicated,
                      p.aae_partitions_queued ? "(" + p.aae_partitions_queued + " queued)" : ""));
  box.appendChild(bar("hints delivered / stored", p.hints_delivered, p.hints_stored,
                      "(" + p.hints_waiting + " waiting)"));
  const line = el("div", { class: "bar" });
  line.appendChild(el("span", { class: "label" }, "handoff"));
  line.appendChild(el("span", {}, p.handoff_keys_sent + " keys, " + human(p.handoff_bytes) + "B sent; " +
                      "anti-entropy: " + p.aae_exchanges + " exchanges, " + p.aae_keys_repaired + " keys repaired" +
                      (rates ? "; now " + human(rates.xfer) + "B/s" : "")));
  box.appendChild(line);
}

// ---------- partition transfers ----------

function ago(ms) { return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + " s"; }

// One row per transfer of /status's "transfers" (newest first): outgoing ones with a bar
// of keys acknowledged of those held when the move began, incoming ones with the keys
// received. Partitions moving now are outlined on the ring.
function drawTransfers(status) {
  const list = status.transfers || [];
  const tb = $("transfers").querySelector("tbody");
  tb.textContent = "";
  const moving = new Set();
  for (const t of list) {
    const live = t.state === "sending" || t.state === "waiting" || t.state === "receiving";
    if (live) moving.add(String(t.partition));
    const tr = el("tr", { class: "xfer", "data-partition": String(t.partition), "data-state": t.state,
                          "data-direction": t.direction, "data-from": t.from, "data-to": t.to.join(" ") });
    tr.appendChild(el("td", {}, String(t.partition)));
    tr.appendChild(el("td", { class: "state" }, t.direction === "in" ? t.state + " (in)" : t.state));
    tr.appendChild(el("td", {}, t.from));
    tr.appendChild(el("td", {}, t.to.join(", ")));
    const keys = el("td", { class: "keys" });
    if (t.direction === "out") {
      keys.setAttribute("data-done", String(t.keys_done));
      keys.setAttribute("data-total", String(t.keys_total));
      keys.appendChild(bar("", t.keys_done, Math.max(t.keys_total, t.keys_done), "(" + t.keys_sent + " sent)"));
    } else {
      keys.setAttribute("data-done", String(t.keys_received));
      keys.textContent = t.keys_received + " received";
    }
    tr.appendChild(keys);
    tr.appendChild(el("td", {}, human(t.bytes) + "B"));
    tr.appendChild(el("td", {}, ago(t.age_ms)));
    tb.appendChild(tr);
  }
  $("no-transfers").hidden = list.length > 0;
  $("xfer-pending").textContent = String((status.progress || {}).handoff_partitions_pending ?? "?");
  for (const p of $("ring").querySelectorAll(".part"))
    p.classList.toggle("moving", moving.has(p.getAttribute("data-partition")));
}

// ---------- metrics ----------

// The samples of a Prometheus text page: [{name, labels: {k: v}, value}].
function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = /^([A-Za-z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) for (const kv of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]] = kv[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function summarize(samples) {
  const s = { requests: 0, xfer: 0, buckets: {} };
  for (const x of samples) {
    if (x.name === "dyna_commands_total") s.requests += x.value;
    else if (x.name === "dyna_transfer_bytes_total") s.xfer += x.value;
    else if (x.name === "dyna_request_duration_seconds_bucket") {
      const le = x.labels.le === "+Inf" ? Infinity : Number(x.labels.le);
      s.buckets[le] = (s.buckets[le] || 0) + x.value;
    }
  }
  return s;
}

// p99 (seconds) of the requests between two summaries, from their histogram buckets'
// difference: the upper bound of the bucket the 99th percentile falls in (null: none).
function p99(prev, cur) {
  const les = Object.keys(cur.buckets).map(Number).sort((a, b) => a - b);
  const d = les.map((le) => (cur.buckets[le] || 0) - (prev.buckets[le] || 0));
  const total = d[d.length - 1];
  if (!total || total <= 0) return null;
  for (let i = 0; i < les.length; i++) if (d[i] >= 0.99 * total) return les[i];
  return null;
}

function human(x) {
  if (x === null || x === undefined || isNaN(x)) return "–";
  const u = ["", "k", "M", "G", "T"];
  let i = 0;
  while (Math.abs(x) >= 1000 && i < u.length - 1) { x /= 1000; i++; }
  return (i ? x.toFixed(1) : String(Math.round(x * 10) / 10)) + u[i];
}

function secs(x) {
  if (x === null) return "–";
  if (x === Infinity) return "> 5 s";
  return x < 1 ? (x * 1000).toFixed(x < 0.001 ? 2 : 0) + " ms" : x.toFixed(1) + " s";
}

function spark(id, series) {
  const svg = $(id);
  svg.textContent = "";
  const vals = series.map((v) => (v === null || !isFinite(v) ? 0 : v));
  if (vals.length < 2) return;
  const max = Math.max(...vals) || 1;
  const pts = vals.map((v, i) => ((i * 300) / (vals.length - 1)).toFixed(1) + "," + (38 - (36 * v) / max).toFixed(1));
  svg.appendChild(el("polyline", { points: pts.join(" ") }));
}

function push(series, v) {
  series.push(v);
  if (series.length > KEEP) series.shift();
}

// ---------- the loop ----------

async function tick() {
  try {
    const [status, mtext] = await Promise.all([getJSON("/status"),
      fetch("/metrics", { cache: "no-store" }).then((r) => r.text())]);
    const node = status.node;
    $("cluster").textContent = node.cluster_name;
    $("self").textContent = node.name;
    $("ringver").textContent = String(node.ring_version);
    $("nrw").textContent = node.n + "/" + node.r + "/" + node.w;
    if (node.ring_version !== st.ringVersion || !st.ring) {
      st.ring = await getJSON("/ring");
      st.ringVersion = st.ring.ring_version;
      drawRing(st.ring);
    }
    drawNodes(status);
    dimRing(status);
    const now = performance.now(), cur = summarize(parseMetrics(mtext));
    let rates = null;
    if (st.prev) {
      const dt = (now - st.prev.t) / 1000;
      if (dt > 0) {
        rates = { rate: (cur.requests - st.prev.s.requests) / dt, p99: p99(st.prev.s, cur),
                  xfer: (cur.xfer - st.prev.s.xfer) / dt };
        push(st.series.rate, rates.rate);
        push(st.series.p99, rates.p99);
        push(st.series.xfer, rates.xfer);
        $("rate").textContent = human(rates.rate) + "/s";
        $("p99").textContent = secs(rates.p99);
        $("xfer").textContent = human(rates.xfer) + "B/s";
        spark("spark-rate", st.series.rate);
        spark("spark-p99", st.series.p99);
        spark("spark-xfer", st.series.xfer);
      }
    }
    st.prev = { t: now, s: cur };
    drawProgress(status, rates);
    drawTransfers(status);
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    $("error").hidden = true;
  } catch (e) {
    $("error").textContent = "cannot reach this node: " + e.message;
    $("error").hidden = false;
  }
  setTimeout(tick, PERIOD_MS);
}

tick();
