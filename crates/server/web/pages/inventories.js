// Inventories: scanning what is on a location's shelves.

import { badge, el, page, say, table, when } from "../ui.js";
import { api, can } from "../api.js";
import { route } from "../router.js";

export async function inventoriesPage() {
  const [locs, invs] = await Promise.all([
    api("GET", "/api/v1/locations"),
    api("GET", "/api/v1/inventories?limit=50"),
  ]);
  const where = el("select", { id: "inv-location" },
    locs.locations.filter((l) => !l.retired).map((l) => el("option", { value: l.code }, `${l.code} — ${l.name}`)));
  const start = el("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const inv = await api("POST", "/api/v1/inventories", { location: where.value });
      location.hash = `#/inventories/${inv.id}`;
    } catch (err) {
      say(err.message, true);
    }
  } }, el("label", { for: "inv-location" }, "Location", where), el("button", { type: "submit" }, "Start an inventory"));
  const rows = invs.inventories.map((i) => el("tr", {},
    el("td", {}, el("a", { href: `#/inventories/${i.id}` }, String(i.id))),
    el("td", {}, i.location),
    el("td", {}, `${when(i.started_ms)} by ${i.started_by}`),
    el("td", {}, i.closed_ms ? `closed ${when(i.closed_ms)}` : badge("connecting", "open"))));
  page("Inventories", can("start_inventory") ? start : null,
    table(["Inventory", "Location", "Started", "State"], rows, can("start_inventory")
      ? "No inventories yet. Choose a location above and start one, then scan what is on its shelves."
      : "No inventories yet; an archivist or admin starts them."));
}

function reportLists(report) {
  const list = (title, items, text) => el("section", {}, el("h2", {}, `${title} (${items.length})`),
    items.length ? el("ul", { "data-report": title.toLowerCase() }, items.map((i) => el("li", {}, text(i)))) : el("p", {}, "None."));
  return [
    list("Missing", report.missing, (b) => b),
    list("Unexpected", report.unexpected, (u) => `${u.barcode}: ${u.reason}`),
    list("Misplaced", report.misplaced, (m) => `${m.barcode} belongs in ${m.home_location}`),
  ];
}

export async function inventoryPage(id) {
  const inv = await api("GET", `/api/v1/inventories/${id}`);
  if (inv.closed_ms) {
    page(`Inventory ${id} of ${inv.location}`,
      el("p", {}, `Closed ${when(inv.closed_ms)} by ${inv.closed_by}; ${inv.scanned.length} scanned.`),
      el("p", {}, el("a", { href: `/api/v1/reports/inventory?id=${id}&format=html` }, "Printable report")),
      ...reportLists(inv.report));
    return;
  }
  const barcode = el("input", { id: "scan", autocomplete: "off", placeholder: "scan a barcode" });
  const scanned = el("ul", { id: "scanned", "aria-live": "polite" },
    inv.scanned.map((b) => el("li", {}, b)));
  const form = el("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    const code = barcode.value.trim();
    barcode.value = "";
    if (!code) return;
    try {
      const r = await api("POST", `/api/v1/inventories/${id}/scans`, { barcode: code });
      const note = !r.item ? "not in the register" : r.item.status !== "in_place" ? `register says ${r.item.status}` : "seen";
      scanned.prepend(el("li", {}, `${code}: ${r.first_scan ? note : "already scanned"}`));
    } catch (err) {
      say(err.message, true);
    }
    barcode.focus();
  } }, el("label", { for: "scan" }, "Barcode", barcode), el("button", { type: "submit" }, "Scan"));
  const close = el("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      await api("POST", `/api/v1/inventories/${id}/close`);
      route();
    } catch (err) {
      say(err.message, true);
    }
  } }, "Close the inventory");
  page(`Inventory ${id} of ${inv.location}`, form, scanned, close);
  barcode.focus();
}
