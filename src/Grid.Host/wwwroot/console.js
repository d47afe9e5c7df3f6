// Grid console: plain JavaScript over the public /api/v1 endpoints. The API key lives in sessionStorage only
// (gone when the tab closes). Everything is rendered with textContent (farm names are user input).
"use strict";

const KEY = "grid.apiKey";
const GIB = 1024 ** 3;
const MINOR = 10_000_000n;
const $ = (id) => document.getElementById(id);
const state = { features: {}, lastEvent: 0 };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const bytes = (n) => n >= 1024 * GIB ? `${+(n / 1024 / GIB).toFixed(1)} TiB` : `${+(n / GIB).toFixed(1)} GiB`;
const time = (iso) => iso ? new Date(iso).toLocaleTimeString() : "–";
const dateTime = (iso) => iso ? new Date(iso).toLocaleString() : "–";
const status = (name) => el("span", { class: `status ${name}` }, name);

// Money is integer minor units (10^7 per unit): formatted with BigInt so no figure passes through a float.
function money(minor, currency) {
  const v = BigInt(minor);
  const abs = v < 0n ? -v : v;
  const frac = (abs % MINOR).toString().padStart(7, "0").replace(/0{1,5}$/, "");
  return `${v < 0n ? "-" : ""}${abs / MINOR}.${frac.padEnd(2, "0")}${currency ? " " + currency : ""}`;
}

function notify(text, isError) {
  const notice = $("notice");
  notice.textContent = text || "";
  notice.className = isError ? "notice error" : "notice";
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error(data?.detail || data?.title || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// Which optional endpoints this grid serves (the economy arrives separately): read from the OpenAPI document,
// so the page shows bills, earnings and quotes only where the server has them, and never invents figures.
async function detectFeatures() {
  try {
    const paths = Object.keys((await api("GET", "/openapi/v1.json")).paths || {});
    const has = (pattern) => paths.some((p) => pattern.test(p));
    state.features = {
      account: has(/^\/api\/v1\/account$/),
      bills: has(/^\/api\/v1\/reservations\/\{[^}]+\}\/bills$/),
      earnings: has(/^\/api\/v1\/farms\/\{[^}]+\}\/earnings$/),
      quotes: has(/^\/api\/v1\/quotes$/),
      names: has(/^\/api\/v1\/names\/?$/) && has(/^\/api\/v1\/names\/\{[^}]+\}$/),
      nameBills: has(/^\/api\/v1\/names\/\{[^}]+\}\/bills$/),
    };
  } catch {
    state.features = {};
  }
}

function meter(used, total, text) {
  return el("meter", { min: 0, max: Math.max(total, 1), value: Math.min(used, total), "aria-label": text, title: text });
}

function renderCapacity(total, used) {
  const units = [["CRU", "cru", (n) => `${n} cores`], ["MRU", "mru", bytes], ["SRU", "sru", bytes], ["HRU", "hru", bytes], ["IPv4", "ipv4", (n) => `${n} addresses`]];
  $("capacity").replaceChildren(...units.map(([label, unit, fmt]) => {
    const text = `${fmt(used[unit])} of ${fmt(total[unit])} used, ${fmt(total[unit] - used[unit])} free`;
    return el("li", { "data-unit": unit }, el("strong", {}, label), meter(used[unit], total[unit], `${label}: ${text}`), el("span", { class: "label" }, text));
  }));
}

function capacityCell(node, unit, fmt) {
  const text = `${fmt(node.used[unit])} / ${fmt(node.total[unit])}`;
  return el("td", {}, meter(node.used[unit], node.total[unit], `${unit}: ${text}`), el("small", {}, text));
}

async function refreshOverview() {
  const o = await api("GET", "/api/v1/grid/overview");
  for (const name of ["total", "up", "down", "draining", "standby"]) $(`stat-${name}`).textContent = o.nodes[name];
  $("stat-farms").textContent = o.farms.length;
  $("stat-countries").textContent = o.countries.length;
  $("updated").textContent = `updated ${time(o.at)}`;
  renderCapacity(o.capacityTotal, o.capacityUsed);
  $("farms").tBodies[0].replaceChildren(...o.farms.map((f) => el("tr", { "data-farm-id": f.farmId },
    el("th", { scope: "row" }, `${f.name} (#${f.farmId})`), el("td", {}, f.countries.join(", ")),
    el("td", {}, `${f.nodes.up} / ${f.nodes.total}`), el("td", {}, `${f.ipv4Used} / ${f.ipv4Total}`))));
  $("countries").tBodies[0].replaceChildren(...o.countries.map((c) => el("tr", { "data-country": c.country },
    el("th", { scope: "row" }, c.country), el("td", {}, c.nodes.total), el("td", {}, c.nodes.up), el("td", {}, c.nodes.down))));
  const signedIn = Boolean(sessionStorage.getItem(KEY));
  $("nodes").tBodies[0].replaceChildren(...o.nodeList.map((n) => el("tr", { "data-node-id": n.nodeId },
    el("th", { scope: "row" }, `#${n.nodeId}`, signedIn ? rentButton(n.nodeId) : ""), el("td", {}, `#${n.farmId}`), el("td", {}, `${n.city}, ${n.country}`),
    el("td", { class: "node-status" }, status(n.status)),
    capacityCell(n, "cru", String), capacityCell(n, "mru", bytes), capacityCell(n, "sru", bytes), capacityCell(n, "hru", bytes))));
  $("nodes-truncated").hidden = !o.nodeListTruncated;
}

// A signed-in tenant rents a whole node (a rent contract): only its reservations go there, at the dedicated discount.
function rentButton(nodeId) {
  return el("button", { type: "button", class: "rent", "aria-label": `Rent node ${nodeId}`, onclick: async () => {
    try {
      const c = await api("POST", `/api/v1/nodes/${nodeId}/rent`);
      notify(`Rented node #${c.nodeId}: rent contract #${c.id}, ${money(c.pricePerHour, c.currency)} per hour while it is up.`);
    } catch (error) {
      notify(`Could not rent node ${nodeId}: ${error.message}`, true);
    }
  } }, "Rent");
}

async function refreshEvents() {
  const page = await api("GET", `/api/v1/grid/events?after=${state.lastEvent}&limit=50`);
  if (page.last < state.lastEvent) {
    // The events window restarted (a failover): start over.
    state.lastEvent = 0;
    $("events").replaceChildren();
    return;
  }
  const list = $("events");
  for (const e of page.events.filter((e) => e.seq > state.lastEvent)) {
    list.prepend(el("li", { "data-kind": e.kind, "data-seq": e.seq, "data-node-id": e.nodeId }, el("time", { datetime: e.at }, time(e.at)), e.message));
    state.lastEvent = e.seq;
  }
  while (list.children.length > 100) list.lastElementChild.remove();
}

async function refreshAccount() {
  const box = $("account");
  if (!state.features.account) { box.hidden = true; return; }
  const a = await api("GET", "/api/v1/account");
  box.replaceChildren(
    el("div", { class: "card" }, el("span", { class: "num", id: "balance", "data-amount": a.balance }, money(a.balance, a.currency)), el("span", {}, "balance")),
    el("div", { class: "card" }, el("span", { class: "num" }, money(a.spent, a.currency)), el("span", {}, "spent")),
    el("div", { class: "card" }, el("span", { class: "num" }, money(a.earned, a.currency)), el("span", {}, "earned")));
  box.hidden = false;
}

async function refreshFarmer() {
  const nodes = await api("GET", "/api/v1/nodes");
  $("farmer").hidden = nodes.length === 0;
  $("my-nodes").tBodies[0].replaceChildren(...nodes.map((n) => {
    const name = n.draining ? "draining" : n.status;
    const button = el("button", { type: "button", class: n.draining ? "secondary" : null, "data-action": n.draining ? "undrain" : "drain",
      "aria-label": `${n.draining ? "Undrain" : "Drain"} node ${n.nodeId}`, onclick: () => drain(n.nodeId, !n.draining, button) },
      n.draining ? "Undrain" : "Drain");
    return el("tr", { "data-node-id": n.nodeId },
      el("th", { scope: "row" }, `#${n.nodeId}`), el("td", {}, `#${n.farmId}`), el("td", { class: "node-status" }, status(name)),
      el("td", {}, n.lastHeartbeat ? el("time", { datetime: n.lastHeartbeat }, time(n.lastHeartbeat)) : "never"),
      el("td", { class: "allocations" }, n.allocations.length),
      el("td", {}, `${n.used.cru} / ${n.total.cru} cores, ${bytes(n.used.mru)} / ${bytes(n.total.mru)}${gpusText(n)}${n.quarantined ? " · quarantined" : ""}`),
      el("td", {}, button));
  }));
  if (state.features.earnings && nodes.length) await refreshEarnings([...new Set(nodes.map((n) => n.farmId))]);
}

// A node's GPUs (used / total, by model) when it has any: nothing for the many nodes without.
function gpusText(n) {
  const gpus = n.gpus || [];
  if (!gpus.length) return "";
  const models = [...new Set(gpus.map((g) => g.device))].join(", ");
  return `, ${gpus.filter((g) => g.reservationId != null).length} / ${gpus.length} GPUs (${models})`;
}

// Earnings per node and per day over the last 7 days: one call per farm and day, as the API answers per period.
async function refreshEarnings(farmIds) {
  const days = [...Array(7).keys()].reverse().map((back) => {
    const from = new Date(); from.setUTCHours(0, 0, 0, 0); from.setUTCDate(from.getUTCDate() - back);
    return from;
  });
  const rows = new Map();
  for (const farmId of farmIds) {
    const answers = await Promise.all(days.map((from) => {
      const to = new Date(from.getTime() + 86_400_000);
      return api("GET", `/api/v1/farms/${farmId}/earnings?from=${from.toISOString()}&to=${to.toISOString()}`);
    }));
    answers.forEach((answer, day) => {
      for (const n of answer.nodes) {
        if (!rows.has(n.nodeId)) rows.set(n.nodeId, days.map(() => 0n));
        rows.get(n.nodeId)[day] += BigInt(n.amount);
      }
    });
  }
  const table = $("earnings-table");
  table.tHead.replaceChildren(el("tr", {}, el("th", { scope: "col" }, "Node"), days.map((d) => el("th", { scope: "col" }, d.toISOString().slice(5, 10)))));
  table.tBodies[0].replaceChildren(...[...rows].sort((a, b) => a[0] - b[0]).map(([nodeId, amounts]) =>
    el("tr", { "data-node-id": nodeId }, el("th", { scope: "row" }, `#${nodeId}`), amounts.map((a, day) => el("td", { "data-day": days[day].toISOString().slice(0, 10), "data-amount": a }, money(a))))));
  $("earnings").hidden = false;
}

async function drain(nodeId, on, button) {
  button.disabled = true;
  try {
    await api(on ? "POST" : "DELETE", `/api/v1/nodes/${nodeId}/drain`, on ? {} : undefined);
    notify(`Node ${nodeId} ${on ? "is draining: its reservations move away" : "takes placements again"}.`);
    await refreshFarmer();
  } catch (error) {
    notify(`Could not ${on ? "drain" : "undrain"} node ${nodeId}: ${error.message}`, true);
    button.disabled = false;
  }
}

function resourcesText(r) {
  return [`${r.cru} cru`, bytes(r.mru), r.sru ? `${bytes(r.sru)} ssd` : null, r.hru ? `${bytes(r.hru)} hdd` : null, r.ipv4 ? `${r.ipv4} ipv4` : null, r.gpu ? `${r.gpu} gpu` : null]
    .filter(Boolean).join(", ");
}

async function refreshTenant() {
  const page = await api("GET", "/api/v1/reservations?size=100");
  const list = Array.isArray(page) ? page : page.items || page.reservations || [];
  syncRows($("reservations").tBodies[0], "data-reservation-id", list, (r) => r.reservationId, (r) => [
    el("th", { scope: "row" }, `#${r.reservationId}`), el("td", { class: "reservation-state" }, status(r.state)),
    el("td", {}, r.nodeId ? `#${r.nodeId}` : "–"), el("td", {}, r.epoch), el("td", {}, resourcesText(r.resources)),
    r.pricePerHour == null ? el("td", {}, "–") : el("td", { class: "price", "data-amount": r.pricePerHour }, money(r.pricePerHour)),
    el("td", { class: "reservation-priority" }, priorityText(r))],
  (r) => el("button", { type: "button", class: "secondary", "aria-controls": "detail", "aria-label": `Show reservation ${r.reservationId}`,
    onclick: () => showDetail(r.reservationId) }, "Show"));
  // The open detail's workloads follow their states live (pulling, starting, running, …).
  if (state.detailId !== undefined) await showWorkloads(state.detailId);
}

// Priority and spot, as a tenant reads them: "50", "spot · 50", and who preempted it last.
function priorityText(r) {
  const text = `${r.spot ? "spot · " : ""}${r.priority ?? 50}`;
  return r.preemptedBy ? `${text} (preempted by #${r.preemptedBy})` : text;
}

async function showDetail(id) {
  if (state.detailId !== id) {
    // Another reservation: nothing of the previous one's workloads or logs stays on screen.
    state.detailId = id;
    $("workloads").tBodies[0].replaceChildren();
    $("workload-logs-box").hidden = true;
  }
  const events = await api("GET", `/api/v1/reservations/${id}/events`);
  $("detail-title").textContent = `Reservation #${id}`;
  $("detail-events").replaceChildren(...events.map((e) => el("li", { "data-kind": e.kind, class: e.kind === "preempted" ? "preempted" : null },
    el("time", { datetime: e.at }, dateTime(e.at)), e.message)));
  await showWorkloads(id);
  $("detail-bills").hidden = !state.features.bills;
  if (state.features.bills) {
    const bills = await api("GET", `/api/v1/reservations/${id}/bills`);
    $("bills").tBodies[0].replaceChildren(...bills.map((b) => el("tr", { "data-bill-id": b.billId },
      el("td", {}, b.billId), el("td", {}, dateTime(b.from)), el("td", {}, dateTime(b.to)),
      el("td", { class: "amount", "data-amount": b.amount }, money(b.amount)))));
  }
  $("detail").hidden = false;
}

function reservationBody() {
  const f = new FormData($("reserve"));
  const number = (name, scale = 1) => Math.round(Number(f.get(name) || 0) * scale);
  const body = {
    resources: { cru: number("cru"), mru: number("mru", GIB), sru: number("sru", GIB), hru: number("hru", GIB), ipv4: number("ipv4") },
    strategy: f.get("strategy"),
    priority: number("priority") || 0,
  };
  if (f.get("spot")) body.spot = true;
  const gpu = number("gpu");
  if (gpu > 0) body.resources.gpu = gpu;
  const constraints = {};
  const country = String(f.get("country") || "").trim();
  if (country) constraints.country = country;
  // All three or none: a partly filled "near" is sent as it is, so the controller's 400 names the missing field.
  const near = ["near-lat", "near-lon", "near-km"].map((name) => String(f.get(name) || "").trim());
  if (near.some(Boolean)) {
    const [lat, lon, maxKm] = near.map((value) => (value === "" ? null : Number(value)));
    constraints.near = { lat, lon, maxKm };
  }
  if (Object.keys(constraints).length) body.constraints = constraints;
  return body;
}

function placeText(constraints) {
  if (!constraints) return "";
  const near = constraints.near ? ` within ${constraints.near.maxKm} km of ${constraints.near.lat}, ${constraints.near.lon}` : "";
  return `${constraints.country ? ` in ${constraints.country}` : ""}${near}`;
}

async function review(event) {
  event.preventDefault();
  const body = reservationBody();
  let text = `Reserve ${resourcesText(body.resources)}${placeText(body.constraints)}.`;
  if (state.features.quotes) {
    try {
      const q = await api("POST", "/api/v1/quotes", body);
      text += ` Quote: node #${q.nodeId}${q.distanceKm != null ? ` (${q.distanceKm} km away)` : ""}, ${money(q.pricePerHour, q.currency)} per hour, ${money(q.pricePer30Days, q.currency)} per 30 days`
        + `${q.spot ? " (spot price)" : ""}, priority ${q.priority ?? body.priority}.`;
    } catch (error) {
      notify(`No quote: ${error.message}`, true);
      return;
    }
  }
  $("quote-text").textContent = text;
  $("quote").hidden = false;
  $("place-button").focus();
}

async function place() {
  const button = $("place-button");
  button.disabled = true;
  try {
    const r = await api("POST", "/api/v1/reservations", reservationBody());
    notify(`Reservation #${r.reservationId} is ${r.state} on node #${r.nodeId} (epoch ${r.epoch}).`);
    $("quote").hidden = true;
    await refreshTenant();
  } catch (error) {
    notify(`Not placed: ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
}

// A key may carry only some roles (tenant, farmer): a part the key may not see (403) is hidden, not an error.
async function refreshMine() {
  const part = async (id, refresh) => {
    try {
      await refresh();
    } catch (error) {
      if (error.status !== 403) throw error;
      $(id).hidden = true;
    }
  };
  await Promise.all([part("account", refreshAccount), part("farmer", refreshFarmer), part("tenant", refreshTenant), part("names", refreshNames)]);
}

// Polls never overlap: the next one is scheduled when the previous answer has been rendered.
function every(ms, action) {
  const run = async () => {
    try { await action(); } catch (error) { if (error.status === 401) { signOut(); return; } }
    setTimeout(run, ms);
  };
  run();
}

async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  try {
    await api("GET", "/api/v1/farms");
  } catch (error) {
    if (error.status === 403) return signedIn(); // a valid key without the farmer role
    sessionStorage.removeItem(KEY);
    notify(error.status === 401 ? "That API key is not valid." : `Sign-in failed: ${error.message}`, true);
    return;
  }
  signedIn();
}

function signedIn() {
  showSignedIn(true);
  notify("");
  every(2000, refreshMine);
}

function signOut() {
  sessionStorage.removeItem(KEY);
  location.reload();
}

function showSignedIn(on) {
  $("signin").hidden = on;
  $("signedin").hidden = !on;
  $("mine").hidden = !on;
  $("nav-mine").hidden = !on;
  if (on) $("whoami").textContent = `Signed in (${sessionStorage.getItem(KEY).slice(0, 8)}…)`;
}

document.addEventListener("DOMContentLoaded", async () => {
  $("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("apikey");
    signIn(input.value.trim());
    input.value = "";
  });
  $("signout").addEventListener("click", signOut);
  $("reserve").addEventListener("submit", review);
  $("place-button").addEventListener("click", place);
  $("quote-cancel").addEventListener("click", () => { $("quote").hidden = true; });
  await detectFeatures();
  // Live without reloads: the overview and the event feed are polled every second.
  every(1000, refreshOverview);
  every(1000, refreshEvents);
  const key = sessionStorage.getItem(KEY);
  if (key) await signIn(key);
});
