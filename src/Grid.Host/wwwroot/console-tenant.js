// Grid console, a tenant's running things: a reservation's workloads (state, reason, endpoints, logs) and the
// tenant's gateway names (URL, backends' health, traffic, bills). Shares console.js's helpers (loaded before it).
"use strict";

// Rows keyed by id are updated in place, so a poll never takes the keyboard focus from a row's button: the cells
// are rendered again, the last (action) cell is made once per row.
function syncRows(tbody, attr, items, keyOf, cells, action) {
  const existing = new Map([...tbody.rows].map((row) => [row.getAttribute(attr), row]));
  const rows = items.map((item) => {
    const key = String(keyOf(item));
    const row = existing.get(key) || el("tr", { [attr]: key });
    row.replaceChildren(...cells(item), row.querySelector("td.action") || el("td", { class: "action" }, action(item)));
    return row;
  });
  tbody.replaceChildren(...rows);
}

// Any byte count in human units (traffic is often far below a GiB).
function size(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(n) || 0;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit === 0 ? `${value} B` : `${+value.toFixed(1)} ${units[unit]}`;
}

const hostPort = (address, port) => `${address.includes(":") ? `[${address}]` : address}:${port}`;

// A reservation's workloads: state, why it does not run (reason and message), its published endpoints as links,
// and the tail of its logs on demand. Refreshed with every poll while the detail is open.
async function showWorkloads(id) {
  const reservation = await api("GET", `/api/v1/reservations/${id}`);
  const workloads = await Promise.all((reservation.workloadIds || []).map((w) => api("GET", `/api/v1/workloads/${w}`)));
  if (state.detailId !== id) return;
  syncRows($("workloads").tBodies[0], "data-workload-id", workloads, (w) => w.workloadId, (w) => [
    el("th", { scope: "row" }, `${w.spec.name} #${w.workloadId}`), el("td", {}, w.spec.type),
    el("td", { class: "workload-state" }, status(w.state)),
    el("td", { class: "workload-reason" }, w.reason ? el("code", {}, w.reason) : null, w.reason && w.message ? " " : null, w.message || null),
    el("td", { class: "workload-endpoints" }, (w.endpoints || []).map((e) => {
      const where = hostPort(e.address, e.port);
      return el("a", { href: `http://${where}/`, target: "_blank", rel: "noopener" }, `${e.name}: ${where}`);
    }))],
  (w) => el("button", { type: "button", class: "secondary", "aria-controls": "workload-logs",
    "aria-label": `Show the logs of workload ${w.spec.name} #${w.workloadId}`, onclick: () => showLogs(w) }, "Logs"));
  $("detail-workloads").hidden = workloads.length === 0;
}

async function showLogs(w) {
  const box = $("workload-logs");
  let text;
  try {
    const response = await fetch(`/api/v1/workloads/${w.workloadId}/logs?tail=200`, { headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` } });
    text = response.ok ? await response.text() : `logs unavailable (HTTP ${response.status})`;
  } catch (error) {
    text = `logs unavailable: ${error.message}`;
  }
  $("workload-logs-title").textContent = `Logs of ${w.spec.name} #${w.workloadId} (last 200 lines)`;
  box.textContent = text || "(no output yet)";
  $("workload-logs-box").hidden = false;
  box.scrollTop = box.scrollHeight;
}

// The tenant's gateway names: URL, each backend's health (state and reason) and the traffic gateways carried.
async function refreshNames() {
  const section = $("names");
  if (!state.features.names) { section.hidden = true; return; }
  const list = await api("GET", "/api/v1/names");
  // The list leaves backend states out; each name's own answer has them.
  const names = (await Promise.all(list.map((n) => api("GET", `/api/v1/names/${encodeURIComponent(n.name)}`).catch(() => n))))
    .sort((a, b) => a.name.localeCompare(b.name));
  syncRows($("names-table").tBodies[0], "data-name", names, (n) => n.name, (n) => [
    el("th", { scope: "row" }, n.name),
    el("td", { class: "name-url" }, el("a", { href: n.url, target: "_blank", rel: "noopener" }, n.url)),
    el("td", { class: "name-backends" }, el("ul", { class: "backends" }, n.backends.map((b) => el("li", { class: "backend" },
      el("span", { class: "backend-target" }, b.url || `workload #${b.workloadId} port ${b.port}`), " ",
      b.state ? status(b.state) : null, b.reason ? el("small", { class: "backend-reason" }, ` ${b.reason}`) : null)))),
    el("td", { class: "name-traffic", "data-bytes-in": n.bytesIn, "data-bytes-out": n.bytesOut }, `${size(n.bytesIn)} in / ${size(n.bytesOut)} out`)],
  (n) => state.features.nameBills ? el("button", { type: "button", class: "secondary", "aria-controls": "name-bills",
    "aria-label": `Show the bills of name ${n.name}`, onclick: () => showNameBills(n.name) }, "Bills") : null);
  $("names-empty").hidden = names.length > 0;
  section.hidden = false;
}

// A name's bills, one row per line: the hours it was held ("name") and the bytes each gateway node carried ("traffic").
async function showNameBills(name) {
  let bills;
  try {
    bills = await api("GET", `/api/v1/names/${encodeURIComponent(name)}/bills`);
  } catch (error) {
    notify(`No bills for ${name}: ${error.message}`, true);
    return;
  }
  $("name-bills-title").textContent = `Bills of ${name}`;
  const lineText = (l) => l.kind === "traffic" ? `traffic via node #${l.nodeId}` : l.kind === "name" ? "name held" : l.kind || "usage";
  const usage = (l) => l.kind === "traffic" ? size(l.bytes) : `${l.seconds} s`;
  $("name-bills-table").tBodies[0].replaceChildren(...bills.flatMap((b) => b.lines.map((l) => el("tr", { "data-bill-id": b.billId, "data-kind": l.kind },
    el("td", {}, b.billId), el("td", {}, `${dateTime(b.from)} – ${dateTime(b.to)}`), el("td", { class: "line-kind" }, lineText(l)),
    el("td", { class: "usage", "data-bytes": l.kind === "traffic" ? l.bytes : null }, usage(l)),
    el("td", { class: "amount", "data-amount": l.amount }, money(l.amount))))));
  $("name-bills-empty").hidden = bills.length > 0;
  $("name-bills").hidden = false;
}
