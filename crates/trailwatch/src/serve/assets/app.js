// The dashboard's script: signs requests with the session's CSRF token
// (the session itself rides in an HttpOnly cookie this script never sees),
// runs SQL through /api/query and renders results as text nodes only.
"use strict";

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
  const data = await r.json();
  if (!r.ok) {
    status.textContent = data.error || ("error " + r.status);
    status.className = "error";
    return;
  }
  last = data;
  render(data);
  status.className = "muted";
  status.textContent = data.rows.length + " rows in " + Math.round(performance.now() - started) + " ms";
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

document.getElementById("run").addEventListener("click", run);
document.getElementById("csv").addEventListener("click", downloadCsv);
document.getElementById("signout").addEventListener("click", signOut);
session();
