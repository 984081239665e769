// Shared by the pages: the token (sessionStorage), API calls, the header with the notification bell.
"use strict";
const TOKEN_KEY = "routines.token";

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function requireLogin() {
  if (!token()) { location.href = "/paginas/entrar?proxima=" + encodeURIComponent(location.pathname); return false; }
  return true;
}

// A page's refreshes overlap (a timer, a click): `const current = turn(); ...await...; if (!current()) return;`
// renders only the newest call's answer, so a slower, older answer never overwrites a newer one.
function turns() {
  let last = 0;
  return () => { const mine = ++last; return () => mine === last; };
}

async function api(method, path, body) {
  const options = { method, headers: { Authorization: "Bearer " + token() } };
  if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
  const response = await fetch(path, options);
  if (response.status === 401) { sessionStorage.removeItem(TOKEN_KEY); requireLogin(); throw new Error("sessão expirada"); }
  const data = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(data?.erro || "erro " + response.status);
  return data;
}

// Downloads go through fetch (the token is a header, never in the URL), then a temporary link saves the file.
async function download(path, fallbackName) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  if (!response.ok) { const data = await response.json(); throw new Error(data.erro); }
  const disposition = response.headers.get("content-disposition") || "";
  const match = /filename\*=utf-8''([^;]+)/i.exec(disposition) || /filename="([^"]+)"/.exec(disposition);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = match ? decodeURIComponent(match[1]) : fallbackName;
  document.body.appendChild(link); link.click(); link.remove();
}

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString("pt-BR", { timeZone: "America/Sao_Paulo" }) : "-";
}

function say(text, isError) {
  const box = document.getElementById("message");
  if (box) { box.textContent = text; box.className = isError ? "error" : ""; }
}

const bellTurn = turns();
async function refreshBell() {
  const current = bellTurn();
  try {
    const data = await api("GET", "/api/notifications/unread_count/");
    if (!current()) return;
    const badge = document.getElementById("unread-count");
    badge.textContent = data.count; badge.hidden = data.count === 0;
  } catch (e) { /* shown on the next action */ }
}

async function toggleNotifications() {
  const panel = document.getElementById("notifications");
  if (!panel.hidden) { panel.hidden = true; return; }
  const items = await api("GET", "/api/notifications/?limit=20");
  panel.innerHTML = (items.length ? "" : '<div class="item">Nenhuma notificação.</div>') + items.map(n =>
    `<div class="item ${n.is_read ? "" : "unread"}"><strong>${esc(n.title)}</strong><br>${esc(n.message)}<br>` +
    `<small>${when(n.created_at)}</small></div>`).join("") +
    '<div class="item"><button id="mark-all" type="button">Marcar todas como lidas</button></div>';
  panel.hidden = false;
  document.getElementById("mark-all").onclick = async () => {
    await api("POST", "/api/notifications/mark_all_read/"); panel.hidden = true; refreshBell();
  };
}

async function header(active) {
  const pages = [["processamento", "Processamento"], ["faturas", "Aprovação de faturas"], ["relatorios", "Relatórios"]];
  const bar = document.createElement("header");
  bar.innerHTML = "<strong>routines</strong>" + pages.map(([slug, label]) =>
    `<a href="/paginas/${slug}" class="${slug === active ? "active" : ""}">${label}</a>`).join("") +
    '<span class="spacer"></span><span id="who"></span>' +
    '<button class="bell" id="bell" type="button" title="Notificações" aria-label="Notificações">' +
    '<svg width="20" height="20" viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"/></svg>' +
    '<span class="count" id="unread-count" hidden>0</span></button>' +
    '<a href="#" id="logout">Sair</a><div id="notifications" hidden></div>';
  document.body.prepend(bar);
  document.getElementById("bell").onclick = toggleNotifications;
  document.getElementById("logout").onclick = (e) => { e.preventDefault(); sessionStorage.removeItem(TOKEN_KEY); location.href = "/paginas/entrar"; };
  const me = await api("GET", "/api/users/me/");
  document.getElementById("who").textContent = `${me.name} (${me.company}, ${me.role})`;
  refreshBell();
  setInterval(refreshBell, 5000);
  return me;
}
