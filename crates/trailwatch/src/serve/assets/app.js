// The dashboard's script: signs requests with the session's CSRF token
// (the session itself rides in an HttpOnly cookie this script never sees),
// draws the overview from /api/summary, lists alerts with their evidence,
// and runs SQL through /api/query. Everything from the server is shown as
// text nodes only: record fields are attacker-controlled.
//
// Every view has its own URL, so Back, Forward, reload and a shared link
// work: #overview, #alerts?severity=P1&rule=ID&since=7d (the alert list
// and its filters), #alert/ID (one alert), #sql?q=SQL (a query, run when
// the URL is opened), #investigate?access_key=KEY (or principal, session,
// ip, alert; an investigation, drawn by report.js).
"use strict";

// report.js, loaded first, draws investigations; its element helpers
// serve here too.
const SVG = TW_SVG;
const el = twEl;

// The table with this id filled with rows; values wrap at separators.
function table(id, columns, rows, onClick) {
  twFill(document.getElementById(id), columns, rows, v => breakable(cellText(v)), onClick);
}

// Text that may wrap only after ARN and path separators (":" "/" ","),
// never inside an account id or a name: text nodes with <wbr> between.
// Short values (times, ids) stay whole.
function breakable(text) {
  if (String(text).length <= 24) return document.createTextNode(String(text));
  const f = document.createDocumentFragment();
  for (const part of String(text).split(/(?<=[:\/,])/)) {
    if (f.childNodes.length) f.appendChild(document.createElement("wbr"));
    f.appendChild(document.createTextNode(part));
  }
  return f;
}

// A link to the investigation of `value` (kind: access_key, principal,
// session, ip, alert), or the plain text when there is nothing to follow.
// A click on it is not a click on its table row.
function investigateLink(kind, value) {
  if (value === null || value === undefined || value === "") return "";
  if (kind === "principal" && !String(value).startsWith("arn:")) return String(value);
  const a = el("a", null, "investigate-link");
  a.appendChild(breakable(String(value)));
  a.href = "#investigate?" + new URLSearchParams({ [kind]: value });
  a.title = "Investigate";
  a.addEventListener("click", ev => ev.stopPropagation());
  return a;
}

// "480138883 bytes" as "458 MiB": for messages from the server and its
// engine, which count in bytes.
function humanBytes(text) {
  return String(text).replace(/\b(\d{4,}) bytes\b/g, (_, n) => {
    let v = Number(n), u = 0;
    const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return (u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)) + " " + units[u];
  });
}

function card(parent, value, label, cls) {
  const c = el("div", null, "card-figure");
  c.appendChild(el("div", value, "value " + (cls || "")));
  c.appendChild(el("div", label, "label"));
  parent.appendChild(c);
}

// A bar chart of [{label, value}] as SVG, drawn here with no library.
function bars(id, points) {
  const box = document.getElementById(id);
  box.replaceChildren();
  const w = 600, h = 150, pad = 24;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("role", "img");
  const max = Math.max(1, ...points.map(p => p.value));
  const bw = (w - pad) / Math.max(1, points.length);
  for (const frac of [0.5, 1]) {
    const y = h - pad - (h - 2 * pad) * frac;
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("x1", pad); line.setAttribute("x2", w);
    line.setAttribute("y1", y); line.setAttribute("y2", y);
    line.setAttribute("class", "grid");
    svg.appendChild(line);
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", 0); t.setAttribute("y", y + 3); t.setAttribute("class", "axis");
    t.textContent = String(Math.round(max * frac));
    svg.appendChild(t);
  }
  points.forEach((p, i) => {
    const bh = (h - 2 * pad) * p.value / max;
    const r = document.createElementNS(SVG, "rect");
    r.setAttribute("x", pad + i * bw + 1);
    r.setAttribute("y", h - pad - bh);
    r.setAttribute("width", Math.max(1, bw - 2));
    r.setAttribute("height", bh);
    r.setAttribute("class", "bar");
    const tip = document.createElementNS(SVG, "title");
    tip.textContent = `${p.label}: ${p.value}`;
    r.appendChild(tip);
    svg.appendChild(r);
    if (i % 4 === 0) {
      const t = document.createElementNS(SVG, "text");
      t.setAttribute("x", pad + i * bw); t.setAttribute("y", h - 6); t.setAttribute("class", "axis");
      t.textContent = p.label.slice(11, 16);
      svg.appendChild(t);
    }
  });
  box.appendChild(svg);
}

// Hours from `asOf` back 24, each with its count from rows keyed by hour.
function hours(asOf, rows, field) {
  const end = new Date(asOf);
  end.setUTCMinutes(0, 0, 0);
  const counts = {};
  for (const r of rows) counts[r.hour] = (counts[r.hour] || 0) + Number(r[field] || 0);
  const out = [];
  for (let i = 23; i >= 0; i--) {
    const t = new Date(end.getTime() - i * 3600e3).toISOString().slice(0, 13) + ":00Z";
    out.push({ label: t, value: counts[t] || 0 });
  }
  return out;
}

async function overview() {
  const r = await fetch("/api/summary", { credentials: "same-origin" });
  if (!r.ok) return;
  const s = await r.json();
  document.getElementById("asof").textContent =
    s.ready === false ? "coming up: reading the lake" : "as of " + s.as_of;
  const sev = document.getElementById("severity-cards");
  sev.replaceChildren();
  const bySev = Object.fromEntries(s.attack.alerts_by_severity.map(x => [x.severity, x.alerts]));
  for (const p of ["P1", "P2", "P3", "P4"]) card(sev, bySev[p] || 0, p + " alerts, 24 h", "sev-" + p);
  bars("alert-timeline", hours(s.as_of, s.attack.timeline, "alerts"));
  table("anomalies", [["alert_time", "when"], [a => el("span", a.severity, "sev-" + a.severity), "sev"],
    ["title", "anomaly"], [a => investigateLink("principal", a.who), "who"]], s.attack.anomalies, a => go("#alert/" + encodeURIComponent(a.alert_id)));
  table("top-rules", [["title", "rule"], ["severity", "severity"], ["alerts", "alerts"], ["last", "last"]],
    s.attack.top_rules, r => go("#alerts?rule=" + encodeURIComponent(r.rule_id)));
  table("change-list", [["time", "when"], [c => el("span", c.area, "tag"), "area"], ["action", "what"],
    [c => investigateLink("principal", c.who), "who"], [c => investigateLink("ip", c.ip), "from"],
    ["region", "region"]], s.changes);
  const comp = document.getElementById("compliance-cards");
  comp.replaceChildren();
  const logins = s.compliance.console_logins || { logins: 0, with_mfa: 0 };
  const share = logins.logins ? Math.round(100 * logins.with_mfa / logins.logins) + "%" : "–";
  card(comp, share, "console sign-ins with MFA");
  card(comp, s.compliance.signing_in_without_mfa.length, "identities signing in without MFA");
  const cis = s.compliance.cis_monitoring;
  card(comp, cis.controls_with_a_rule + " / " + cis.of, "CIS monitoring controls with a rule");
  const st = s.compliance.state;
  // The server is still bringing up the security state and the activity
  // from the lake: ask again shortly.
  if (!st || s.ready === false) setTimeout(overview, 2000);
  const exposed = [];
  if (st) {
    const made = st.created_with_encryption + st.created_without_encryption.length;
    card(comp, st.public_buckets.length, "public buckets");
    card(comp, st.security_groups_open_to_world.length, "security groups open to the world");
    card(comp, st.users_without_mfa.length + " / " + st.users, "IAM users without MFA");
    card(comp, made ? Math.round(100 * st.created_with_encryption / made) + "%" : "–",
      "resources created encrypted");
    card(comp, st.trails_not_logging.length, "trails not logging");
    card(comp, st.kms_keys_pending_deletion.length, "KMS keys pending deletion");
    for (const b of st.public_buckets) exposed.push({ what: "public bucket", name: b });
    for (const g of st.security_groups_open_to_world) exposed.push({ what: "security group open to the world", name: g });
    for (const t of st.trails_not_logging) exposed.push({ what: "trail not logging", name: t });
    for (const k of st.kms_keys_pending_deletion) exposed.push({ what: "KMS key pending deletion", name: k });
    for (const u of st.users_without_mfa) exposed.push({ what: "IAM user without MFA", name: u });
  }
  table("exposed", [["what", "what"], ["name", "resource"]], exposed);
  table("no-mfa", [[r => investigateLink("principal", r.who), "who"], ["logins", "sign-ins"]],
    s.compliance.signing_in_without_mfa);
  bars("events-chart", hours(s.as_of, s.activity.events_per_hour, "events"));
  table("top-callers", [[r => investigateLink("principal", r.who), "who"], ["events", "events"]],
    s.activity.top_callers);
}

// The alert list's filters, as the URL gives them: severity, rule, since.
const FILTERS = ["severity", "rule", "since"];

async function showAlerts(params) {
  show("alerts");
  const form = document.getElementById("alert-filter");
  const q = new URLSearchParams({ limit: "500" });
  for (const f of FILTERS) {
    const v = params.get(f) || "";
    form.elements[f].value = v;
    if (v) q.set(f, v);
  }
  const r = await fetch("/api/alerts?" + q, { credentials: "same-origin" });
  const note = document.getElementById("alert-note");
  note.textContent = r.ok ? "" : humanBytes((await r.json().catch(() => ({}))).error || "error " + r.status);
  // Alarm returns to OK are in the API; the list shows what needs a look.
  const list = (r.ok ? await r.json() : []).filter(a => a.state !== "OK");
  list.reverse();
  table("alert-list", [["alert_time", "when"], [a => el("span", a.severity, "sev-" + a.severity), "sev"],
    ["title", "alert"], [a => (a.principals || []).join(", "), "who"], ["event_count", "events"]],
    list, a => go("#alert/" + encodeURIComponent(a.alert_id)));
}

// The filters changed: a new URL for the list (so Back undoes it).
function filterChanged() {
  const form = document.getElementById("alert-filter");
  const q = new URLSearchParams();
  for (const f of FILTERS) if (form.elements[f].value) q.set(f, form.elements[f].value.trim());
  go("#alerts" + (q.toString() ? "?" + q : ""));
}

async function fillRuleChoices() {
  const r = await fetch("/api/rules", { credentials: "same-origin" });
  if (!r.ok) return;
  const list = document.getElementById("rule-ids");
  list.replaceChildren();
  for (const rule of await r.json()) {
    const o = document.createElement("option");
    o.value = rule.id;
    o.label = rule.title || rule.id;
    list.appendChild(o);
  }
}

async function showAlert(id) {
  show("alerts", "alert/" + id);
  const detail = document.getElementById("alert-detail");
  const r = await fetch("/api/alerts/" + encodeURIComponent(id), { credentials: "same-origin" });
  if (!r.ok) {
    detail.hidden = false;
    document.getElementById("alert-title").textContent = "No such alert";
    document.getElementById("alert-meta").textContent = id;
    document.getElementById("alert-description").textContent = "";
    table("alert-events", [["eventtime", "when"]], []);
    return;
  }
  const { alert, events } = await r.json();
  document.getElementById("alert-detail").hidden = false;
  document.getElementById("alert-title").textContent = alert.title;
  document.getElementById("alert-meta").textContent =
    `${alert.severity} · ${alert.kind} · ${alert.rule_id} · ${alert.alert_time} · ${alert.event_count} events`;
  document.getElementById("alert-description").textContent = alert.description;
  table("alert-events", [["eventtime", "when"], ["eventname", "action"],
    [e => e.useridentity && (e.useridentity.arn ? investigateLink("principal", e.useridentity.arn) : e.useridentity.type), "who"],
    [e => e.useridentity && investigateLink("access_key", e.useridentity.accesskeyid), "key"],
    [e => investigateLink("ip", e.sourceipaddress), "from"], ["awsregion", "region"]], events);
  const ids = (alert.event_ids || []).map(i => "'" + String(i).replace(/'/g, "''") + "'");
  const sql = alert.query || (ids.length
    ? "SELECT * FROM cloudtrail_logs WHERE eventid IN (" + ids.join(", ") + ") ORDER BY eventtime"
    : "SELECT * FROM alerts WHERE alert_id = '" + String(alert.alert_id).replace(/'/g, "''") + "'");
  document.getElementById("alert-sql").onclick = () => go("#sql?q=" + encodeURIComponent(sql));
  document.getElementById("investigate-alert").onclick =
    () => go("#investigate?" + new URLSearchParams({ alert: alert.alert_id }));
  showResponse(alert.alert_id, false);
  window.scrollTo(0, 0);
}

// The alert's response: the plan (nothing changed), or, after the person
// confirms, the plan applied (POST /api/respond); each action's status,
// target, reason and the aws command a person could run instead.
async function showResponse(id, apply) {
  const status = document.getElementById("response-status");
  const button = document.getElementById("response-apply");
  button.hidden = true;
  status.textContent = apply ? "applying…" : "planning…";
  status.className = "muted";
  const r = await post("/api/respond", { alert_id: id, apply });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    table("response-plan", [["action", "action"]], []);
    status.textContent = data.error || ("error " + r.status);
    status.className = r.status === 404 ? "muted" : "error";
    return;
  }
  const acts = data.actions || [];
  table("response-plan", [["status", "status"], ["action", "action"], ["target", "target"],
    ["account", "account"], ["region", "region"], ["reason", "why"],
    [a => el("code", a.error || a.aws_cli || "", "command"), "aws command (or error)"]], acts);
  const planned = acts.filter(a => a.status === "planned");
  const counts = {};
  for (const a of acts) counts[a.status] = (counts[a.status] || 0) + 1;
  status.textContent = Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ") +
    (planned.length ? " · nothing changed yet" : "");
  status.className = acts.some(a => a.status === "failed") ? "error" : "muted";
  button.hidden = planned.length === 0;
  button.onclick = () => {
    const list = planned.map(a => `${a.action} on ${a.target}`).join("\n");
    if (confirm(`Apply ${planned.length} change(s) in AWS?\n\n${list}`)) showResponse(id, true);
  };
}

// Show one view (the alert detail only on an alert's own URL).
function show(view, sub) {
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== view;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === view);
  if (!sub || !sub.startsWith("alert/")) document.getElementById("alert-detail").hidden = true;
}

// Go to a URL of the page: a new history entry, then the view it names.
function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

// Draw the view the URL names.
function route() {
  const hash = location.hash.slice(1);
  const cut = hash.indexOf("?");
  const path = cut < 0 ? hash : hash.slice(0, cut);
  const params = new URLSearchParams(cut < 0 ? "" : hash.slice(cut + 1));
  if (path === "alerts") return showAlerts(params);
  if (path.startsWith("alert/")) {
    showAlerts(new URLSearchParams());
    return showAlert(decodeURIComponent(path.slice("alert/".length)));
  }
  if (path === "investigate") return showInvestigation(params);
  if (path === "sql") {
    show("sql");
    const sql = params.get("q");
    if (sql !== null) {
      document.getElementById("sql-text").value = sql;
      return run();
    }
    return;
  }
  show("overview");
}

const SUBJECTS = ["access_key", "principal", "session", "ip", "alert"];

// The investigation the URL names: the form filled in, the report drawn.
async function showInvestigation(params) {
  show("investigate");
  const form = document.getElementById("investigate-form");
  const status = document.getElementById("investigate-status");
  const box = document.getElementById("investigation");
  const kind = SUBJECTS.find(k => params.has(k));
  if (!kind) { box.replaceChildren(); status.textContent = ""; return; }
  form.elements.kind.value = kind;
  form.elements.value.value = params.get(kind);
  if (params.has("depth")) form.elements.depth.value = params.get("depth");
  status.textContent = "following the credentials…";
  status.className = "muted";
  const started = performance.now();
  const r = await fetch("/api/investigate?" + params, { credentials: "same-origin" });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    box.replaceChildren();
    status.textContent = humanBytes(data.error || ("error " + r.status));
    status.className = "error";
    return;
  }
  status.textContent = `${data.events.length} events in ${Math.round(performance.now() - started)} ms`;
  renderInvestigation(box, data, (k, v) => "#investigate?" + new URLSearchParams({ [k]: v }));
}

function investigateSubmitted(ev) {
  ev.preventDefault();
  const form = document.getElementById("investigate-form");
  const value = form.elements.value.value.trim();
  if (!value) return;
  const q = new URLSearchParams({ [form.elements.kind.value]: value });
  if (form.elements.depth.value && form.elements.depth.value !== "5") q.set("depth", form.elements.depth.value);
  go("#investigate?" + q);
}

let csrf = null;
let last = null;

async function session() {
  const r = await fetch("/api/session", { credentials: "same-origin" });
  if (r.status === 401) { location.href = "/login"; return; }
  csrf = (await r.json()).csrf;
}

async function post(path, body) {
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || "" },
    body: JSON.stringify(body),
  });
}

function cellText(v) {
  if (v === null || v === undefined) return "NULL";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function render(result) {
  const table = document.getElementById("result");
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const c of result.columns) {
    const th = document.createElement("th");
    th.textContent = c;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const row of result.rows) {
    const tr = body.insertRow();
    for (const c of result.columns) tr.insertCell().textContent = cellText(row[c]);
  }
}

function csvField(v) {
  const s = cellText(v);
  return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

async function run() {
  const status = document.getElementById("status");
  status.textContent = "running…";
  const started = performance.now();
  const r = await post("/api/query", { sql: document.getElementById("sql-text").value });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    // The old rows are not this query's: they go.
    last = null;
    document.getElementById("result").replaceChildren();
    document.getElementById("csv").disabled = true;
    status.textContent = humanBytes(data.error || ("error " + r.status));
    status.className = "error";
    return;
  }
  last = data;
  render(data);
  status.className = "muted";
  status.textContent = data.rows.length + " rows in " + Math.round(performance.now() - started) + " ms" +
    (data.truncated ? " (the first " + data.limit + "; there are more: narrow the query or add a LIMIT)" : "");
  document.getElementById("csv").disabled = false;
}

function downloadCsv() {
  if (!last) return;
  const lines = [last.columns.map(csvField).join(",")];
  for (const row of last.rows) lines.push(last.columns.map(c => csvField(row[c])).join(","));
  const url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = "trailwatch-query.csv";
  a.click();
  URL.revokeObjectURL(url);
}

async function signOut() {
  await post("/logout", {});
  location.href = "/login";
}

// Running a query gives it its URL (so Back returns to the one before).
document.getElementById("run").addEventListener("click",
  () => go("#sql?q=" + encodeURIComponent(document.getElementById("sql-text").value)));
document.getElementById("alert-filter").addEventListener("change", filterChanged);
document.getElementById("alert-filter").addEventListener("submit", ev => { ev.preventDefault(); filterChanged(); });
document.getElementById("csv").addEventListener("click", downloadCsv);
document.getElementById("investigate-form").addEventListener("submit", investigateSubmitted);
document.getElementById("signout").addEventListener("click", signOut);
// The nav links are plain #links: the browser keeps their history.
window.addEventListener("hashchange", route);
session().then(() => {
  overview();
  fillRuleChoices();
  route();
});
