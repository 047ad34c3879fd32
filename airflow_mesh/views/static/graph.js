// Layered DAG drawing shared by the mesh map and the backfill plan: columns by layer, boxes, curved edges.
"use strict";
const PALETTE = ["#4e79a7", "#59a14f", "#b07aa1", "#f28e2b", "#76b7b2", "#edc948", "#e15759", "#9c755f", "#bab0ac", "#ff9da7"];
function teamColors(teams) { const m = {}; teams.forEach((t, i) => { m[t] = PALETTE[i % PALETTE.length]; }); return m; }
function el(tag, attrs, text) {
  const n = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
}
// A label cut to ``chars`` characters (with "…"): a box is 210 px wide whatever the name's length.
function fit(text, chars) { return text.length > chars ? text.slice(0, chars - 1) + "…" : text; }
// nodes: [{id, label, sub, layer, color, cls}], edges: [{from, to, cls}]; onClick(id)
function drawLayered(container, nodes, edges, onClick) {
  const W = 210, H = 44, GX = 48, GY = 14;
  const layers = {};
  nodes.forEach(n => { (layers[n.layer] = layers[n.layer] || []).push(n); });
  const pos = {};
  let maxRows = 0;
  Object.keys(layers).map(Number).sort((a, b) => a - b).forEach((layer, col) => {
    layers[layer].forEach((n, row) => { pos[n.id] = { x: 10 + col * (W + GX), y: 10 + row * (H + GY) }; });
    maxRows = Math.max(maxRows, layers[layer].length);
  });
  const cols = Object.keys(layers).length;
  const svg = el("svg", { width: 20 + cols * (W + GX), height: 20 + maxRows * (H + GY), role: "img" });
  for (const e of edges) {
    const a = pos[e.from], b = pos[e.to];
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    svg.appendChild(el("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, class: "edge " + (e.cls || ""),
      "data-from": e.from, "data-to": e.to }));
  }
  for (const n of nodes) {
    const p = pos[n.id];
    const g = el("g", { class: "node " + (n.cls || ""), "data-id": n.id, transform: `translate(${p.x},${p.y})` });
    g.appendChild(el("title", {}, n.sub ? `${n.label}\n${n.sub}` : n.label));  // the full text, when cut to fit
    g.appendChild(el("rect", { width: W, height: H, fill: n.color }));
    g.appendChild(el("text", { x: 8, y: 18, fill: "#fff", "font-weight": "600" }, fit(n.label, 27)));
    g.appendChild(el("text", { x: 8, y: 34, fill: "#fff" }, fit(n.sub || "", 31)));
    g.addEventListener("click", () => onClick && onClick(n.id));
    svg.appendChild(g);
  }
  container.replaceChildren(svg);
  return svg;
}
// "2026-11-24 06:24 UTC" from an ISO timestamp (seconds only when not zero): what a person reads at a glance.
function when(iso) {
  if (!iso) return "—";
  // a date-time without a zone is UTC here (the mesh's ranges are UTC), never the browser's zone
  const d = new Date(/T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(String(iso)) ? iso + "Z" : iso);
  if (isNaN(d)) return String(iso);
  const t = d.toISOString(), secs = t.slice(17, 19) !== "00" ? t.slice(16, 19) : "";
  return `${t.slice(0, 10)} ${t.slice(11, 16)}${secs} UTC`;
}
function esc(s) { return String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function stateBadge(state, none = "no runs") { return state ? `<span class="state ${esc(state)}">${esc(state)}</span>` : `<span class="muted">${esc(none)}</span>`; }
// "1 run", "2 runs": counts read as a person writes them.
function plural(n, word) { return `${Number(n).toLocaleString()} ${word}${n === 1 ? "" : "s"}`; }
// A UTC range [start, end) in words: what data it covers.
function period(start, end) { return `from ${when(start)} up to, not including, ${when(end)}`; }
// Replace an element's content only when it changed: a poll that re-renders the same figures leaves links
// and buttons under the pointer alone.
const lastHTML = new WeakMap();
function setHTML(node, html) { if (lastHTML.get(node) !== html) { node.innerHTML = html; lastHTML.set(node, html); } }
// Badge colour of a job status: paused and cancelling are not "running".
const JOB_BADGE = { succeeded: "success", failed: "failed", cancelled: "failed", interrupted: "failed", paused: "paused",
  cancelling: "cancelling", queued: "queued", materializing: "queued", running: "running" };
function jobBadge(status) { return JOB_BADGE[status] || "running"; }
