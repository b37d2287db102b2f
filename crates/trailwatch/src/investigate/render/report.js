// Draws an investigation report (the JSON of `trailwatch investigate
// --format json` and of GET /api/investigate) into an element: the
// credential chain as a graph, the timeline as a chart, and the tables.
// Used by the self-contained HTML report and by the dashboard's
// Investigate page. Every value from the report is set as text, never as
// markup: record fields are attacker-controlled.
"use strict";

const TW_SVG = "http://www.w3.org/2000/svg";

function twEl(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function twSvg(tag, attrs, text) {
  const e = document.createElementNS(TW_SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = String(text);
  return e;
}

// Fill table `t` with rows; `columns` is [[key or function, label]]. A
// function may return a Node (a link) or a value; `cell` makes a value a
// Node (text by default); `onClick(row)`, when given, makes rows clickable.
function twFill(t, columns, rows, cell, onClick) {
  t.replaceChildren();
  const text = cell || (v => document.createTextNode(v === null || v === undefined ? "" : String(v)));
  const head = t.createTHead().insertRow();
  for (const [, label] of columns) head.appendChild(twEl("th", label));
  const body = t.createTBody();
  if (rows.length === 0) {
    const empty = body.insertRow();
    empty.className = "empty";
    const td = empty.insertCell();
    td.colSpan = columns.length;
    td.textContent = "none";
    td.className = "muted";
  }
  for (const r of rows) {
    const tr = body.insertRow();
    for (const [key] of columns) {
      const v = typeof key === "function" ? key(r) : r[key];
      tr.insertCell().appendChild(v instanceof Node ? v : text(v));
    }
    if (onClick) { tr.className = "clickable"; tr.addEventListener("click", () => onClick(r)); }
  }
  return t;
}

// A new table of rows (see twFill), with `id` when given.
function twTable(columns, rows, id) {
  const t = twEl("table");
  if (id) t.id = id;
  return twFill(t, columns, rows);
}

// Consecutive alike events as one run, as the terminal shows them.
function twRuns(events) {
  const runs = [];
  const same = (a, b) => ["event_name", "event_source", "access_key_id", "resource", "error_code",
    "source_ip", "account"].every(k => a[k] === b[k]) && (a.alerts || []).join() === (b.alerts || []).join();
  for (const e of events) {
    const last = runs[runs.length - 1];
    if (last && same(last.first, e)) { last.count++; last.lastTime = e.event_time; continue; }
    runs.push({ first: e, count: 1, lastTime: e.event_time });
  }
  return runs;
}

// The credential chain: one column per hop, an arrow from each key to the
// keys it minted.
function twGraph(creds, link) {
  const byDepth = new Map();
  for (const c of creds) {
    if (!byDepth.has(c.depth)) byDepth.set(c.depth, []);
    byDepth.get(c.depth).push(c);
  }
  const colW = 260, rowH = 64, nodeW = 220, nodeH = 44;
  const rows = Math.max(1, ...[...byDepth.values()].map(l => l.length));
  const cols = Math.max(1, byDepth.size);
  const gw = cols * colW, gh = rows * rowH + 10;
  const svg = twSvg("svg", { viewBox: `0 0 ${gw} ${gh}`, width: gw, height: gh, role: "img", class: "tw-graph" });
  const pos = new Map();
  for (const [d, list] of byDepth) list.forEach((c, i) => pos.set(c.access_key_id, { x: d * colW + 10, y: i * rowH + 10 }));
  for (const c of creds) {
    const from = c.parent && pos.get(c.parent), to = pos.get(c.access_key_id);
    if (!from || !to) continue;
    svg.appendChild(twSvg("line", { x1: from.x + nodeW, y1: from.y + nodeH / 2, x2: to.x, y2: to.y + nodeH / 2, class: "tw-edge" }));
  }
  for (const c of creds) {
    const p = pos.get(c.access_key_id);
    const g = twSvg("g", { class: "tw-node tw-" + c.kind });
    g.appendChild(twSvg("rect", { x: p.x, y: p.y, width: nodeW, height: nodeH, rx: 6 }));
    g.appendChild(twSvg("text", { x: p.x + 8, y: p.y + 18, class: "tw-key" }, c.access_key_id));
    const who = (c.principal || "").split(/[:/]/).slice(-2).join("/");
    g.appendChild(twSvg("text", { x: p.x + 8, y: p.y + 35, class: "tw-who" }, `${who} · ${c.events} events`));
    g.appendChild(twSvg("title", {}, `${c.access_key_id} (${c.kind})\n${c.principal || ""}\nminted by ${c.parent || "-"} in ${c.issued_by_event || "-"}`));
    const href = link && link("access_key", c.access_key_id);
    if (href) { const a = twSvg("a", { href }); a.appendChild(g); svg.appendChild(a); } else svg.appendChild(g);
  }
  return svg;
}

// The timeline: one lane per credential, one mark per event (red: an
// error, orange: a write, grey: a read; a tall mark: tampering).
function twChart(report) {
  const events = report.events;
  const lanes = report.credentials.map(c => c.access_key_id);
  if (events.some(e => !e.access_key_id || !lanes.includes(e.access_key_id))) lanes.push("(other)");
  const w = 900, laneH = 26, left = 190, top = 10, bottom = 24;
  const h = top + lanes.length * laneH + bottom;
  const svg = twSvg("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", class: "tw-chart" });
  if (events.length === 0) return svg;
  const t0 = Date.parse(events[0].event_time), t1 = Date.parse(events[events.length - 1].event_time);
  const span = Math.max(1, t1 - t0);
  const x = t => left + (w - left - 10) * (Date.parse(t) - t0) / span;
  lanes.forEach((l, i) => {
    const y = top + i * laneH;
    svg.appendChild(twSvg("line", { x1: left, x2: w - 10, y1: y + laneH / 2, y2: y + laneH / 2, class: "tw-lane" }));
    svg.appendChild(twSvg("text", { x: 0, y: y + laneH / 2 + 4, class: "tw-axis" }, l));
  });
  const tampering = new Set(report.tampering.map(t => t.event_id));
  // At most one mark per pixel and lane and kind: a busy key stays drawable.
  const drawn = new Set();
  for (const e of events) {
    let lane = lanes.indexOf(e.access_key_id);
    if (lane < 0) lane = lanes.length - 1;
    const kind = e.error_code ? "tw-error" : tampering.has(e.event_id) ? "tw-tamper" : e.read_only ? "tw-read" : "tw-write";
    const px = Math.round(x(e.event_time));
    const key = `${px}/${lane}/${kind}`;
    if (drawn.has(key)) continue;
    drawn.add(key);
    const y = top + lane * laneH;
    const tall = kind === "tw-tamper";
    const m = twSvg("rect", { x: px - 1.5, y: y + (tall ? 2 : 7), width: 3, height: tall ? laneH - 4 : laneH - 14, class: "tw-mark " + kind });
    m.appendChild(twSvg("title", {}, `${e.event_time} ${e.event_name}${e.error_code ? " (" + e.error_code + ")" : ""}`));
    svg.appendChild(m);
  }
  svg.appendChild(twSvg("text", { x: left, y: h - 6, class: "tw-axis" }, events[0].event_time));
  svg.appendChild(twSvg("text", { x: w - 10, y: h - 6, class: "tw-axis", "text-anchor": "end" }, events[events.length - 1].event_time));
  return svg;
}

// Render `report` into `root`. `link(kind, value)` gives the address of
// another investigation (kind: access_key, principal, ip, alert), or null.
function renderInvestigation(root, report, link) {
  root.replaceChildren();
  const a = (kind, value) => {
    if (value === null || value === undefined) return "";
    const href = link && link(kind, value);
    if (!href) return String(value);
    const e = twEl("a", value);
    e.href = href;
    return e;
  };
  const [kind, value] = Object.entries(report.subject)[0];
  root.appendChild(twEl("h2", `Investigation of ${kind.replace("_", " ")} ${value}`));
  const scope = report.since || report.until ? `${report.since || "the start"} to ${report.until || "the end"}` : "the whole trail";
  root.appendChild(twEl("p", `${scope}; credentials followed ${report.depth} hops`, "muted"));
  for (const n of report.notes) root.appendChild(twEl("p", n, "tw-note"));
  const cards = twEl("div", null, "tw-cards");
  for (const [v, label] of [[report.credentials.length, "credentials"], [report.events.length, "events"],
    [report.resources.length, "resources"], [report.created.length, "created"],
    [report.tampering.length, "tampering"], [report.alerts.length, "alerts"]]) {
    const c = twEl("div", null, "tw-card");
    c.appendChild(twEl("div", v, "tw-value" + (label === "tampering" && v > 0 ? " tw-bad" : "")));
    c.appendChild(twEl("div", label, "tw-label"));
    cards.appendChild(c);
  }
  root.appendChild(cards);
  const section = (title, node) => {
    const s = twEl("section", null, "tw-section");
    s.appendChild(twEl("h3", title));
    s.appendChild(node);
    root.appendChild(s);
  };
  section("Credential chain", twGraph(report.credentials, link));
  section("Timeline", twChart(report));
  section("Credentials", twTable([
    [c => a("access_key", c.access_key_id), "Key"], ["kind", "Kind"], ["depth", "Hop"],
    [c => a("principal", c.principal), "Principal"], ["account", "Account"], ["parent", "Minted by"],
    ["issued_by_event", "Issuing event"], ["events", "Events"], ["first_seen", "First"], ["last_seen", "Last"]],
  report.credentials, "tw-credentials"));
  section("Events", twTable([
    [r => r.count > 1 ? `${r.first.event_time} – ${r.lastTime}` : r.first.event_time, "Time"],
    [r => r.count > 1 ? `${r.first.event_name} ×${r.count}` : r.first.event_name, "Event"],
    [r => r.first.account, "Account"], [r => r.first.region, "Region"], [r => r.first.resource, "Resource"],
    [r => a("ip", r.first.source_ip), "Source IP"], [r => r.first.access_key_id, "Key"],
    [r => r.first.error_code, "Error"], [r => (r.first.alerts || []).join(", "), "Alerts"]],
  twRuns(report.events), "tw-events"));
  section("Resources touched", twTable([["resource", "Resource"], ["reads", "Reads"], ["writes", "Writes"]], report.resources, "tw-resources"));
  section("Created", twTable([["kind", "Kind"], ["name", "Name"], ["event_id", "Event"]], report.created, "tw-created"));
  section("Tampering", twTable([["event_time", "Time"], ["event_name", "Event"], ["error_code", "Error"], ["event_id", "Event id"]], report.tampering, "tw-tampering"));
  const isNew = s => s.new ? twEl("span", "new", "tw-new") : "";
  section("Source addresses", twTable([[s => a("ip", s.ip), "IP"], ["events", "Events"], ["first_seen", "First"],
    ["last_seen", "Last"], ["first_seen_in_lake", "First in the lake"], [isNew, ""], ["geo", "Place"]], report.source_ips, "tw-ips"));
  for (const [title, list] of [["User agents", report.user_agents], ["Regions", report.regions], ["Accounts", report.accounts]]) {
    section(title, twTable([["value", "Value"], ["events", "Events"], ["first_seen", "First"],
      ["first_seen_in_lake", "First in the lake"], [isNew, ""]], list));
  }
  section("Alerts", twTable([["alert_time", "Time"], ["severity", "Severity"], ["rule_id", "Rule"], ["title", "Title"],
    [r => a("alert", r.alert_id), "Alert"]], report.alerts, "tw-alerts"));
  if (report.not_followed.length) {
    section("Not followed (depth limit)", twTable([["access_key_id", "Key"], ["parent", "Minted by"], ["issued_by_event", "Issuing event"]], report.not_followed));
  }
}
