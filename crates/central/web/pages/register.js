// The register across sites: where an item is, what a person handled,
// and custody events no camera recorded. Each row names its site and the
// log entry it comes from, which the site's witnessed log proves.

import { el, field, page, say, table, when } from "../ui.js";
import { api } from "../api.js";

function cameraText(cameras) {
  if (!Array.isArray(cameras) || !cameras.length) return "none";
  return cameras.map((c) => (typeof c === "string" ? c : c.camera || c.name || c.id || JSON.stringify(c))).join(", ");
}

function eventTable(events, whenEmpty) {
  const rows = events.map((e) => el("tr", { "data-event": `${e.site}/${e.event}` },
    el("td", {}, el("a", { href: `#/sites/${encodeURIComponent(e.site)}` }, e.site)),
    el("td", {}, when(e.at_ms)),
    el("td", {}, e.barcode),
    el("td", {}, e.action.replace("_", " ")),
    el("td", {}, e.person || ""),
    el("td", {}, e.holder || e.location || ""),
    el("td", {}, e.no_footage ? "no camera recorded it" : cameraText(e.cameras)),
    el("td", {}, String(e.log_index))));
  return table(["Site", "When", "Item", "What", "Person", "Now with / at", "Footage", "Log entry"], rows, whenEmpty);
}

function itemTable(items, barcode) {
  const rows = items.map((i) => el("tr", { "data-item": `${i.site}/${i.barcode}` },
    el("td", {}, el("a", { href: `#/sites/${encodeURIComponent(i.site)}` }, i.site)),
    el("td", {}, i.title),
    el("td", {}, i.reference || ""),
    el("td", {}, (i.status || "").replace("_", " ")),
    el("td", {}, i.holder ? `${i.holder_name || i.holder}` : (i.location_name || i.location || "")),
    el("td", {}, String(i.log_index))));
  return table(["Site", "Title", "Reference", "Status", "With / at", "Log entry"], rows,
    `No site's register has ${barcode}.`);
}

export async function registerPage(params) {
  const barcode = params.get("barcode") || "";
  const person = params.get("person") || "";
  const days = params.get("days") || "30";
  const show = params.get("show") || "";
  const go = (query) => { location.hash = `#/register?${new URLSearchParams(query)}`; };
  const itemInput = el("input", { value: barcode, placeholder: "barcode", autocomplete: "off" });
  const personInput = el("input", { value: person, placeholder: "name", autocomplete: "off" });
  const daysInput = el("input", { value: days, type: "number", min: 1, max: 3660, size: 5 });
  const forms = el("div", { class: "row" },
    el("form", { onsubmit: (e) => { e.preventDefault(); go({ barcode: itemInput.value.trim() }); } },
      field("find-item", "Where is item", itemInput), el("button", { type: "submit" }, "Find")),
    el("form", { onsubmit: (e) => { e.preventDefault(); go({ person: personInput.value.trim(), days: daysInput.value }); } },
      field("find-person", "What did person handle", personInput),
      field("find-days", "in the last days", daysInput), el("button", { type: "submit" }, "Find")),
    el("button", { type: "button", class: "secondary", onclick: () => go({ show: "no-footage", days: daysInput.value }) },
      "Custody without footage"));
  let result = null;
  try {
    if (barcode) {
      const data = await api("GET", `/api/v1/register/where/${encodeURIComponent(barcode)}?history=true`);
      result = [el("h2", {}, `Item ${barcode} in the registers`), itemTable(data.items, barcode),
        el("h2", {}, "Its custody events, newest first"),
        eventTable(data.events, `No site has recorded custody of ${barcode}.`)];
    } else if (person) {
      const data = await api("GET", `/api/v1/register/handled?person=${encodeURIComponent(person)}&days=${encodeURIComponent(days)}`);
      const who = data.people.map((p) => `${p.name} (${p.staff_id}) at ${p.site}`).join("; ");
      result = [el("h2", {}, `What ${person} handled in the last ${days} days`),
        who ? el("p", { id: "who-is" }, `In the registers: ${who}.`) : null,
        eventTable(data.events, `${person} handled nothing at any site in the last ${days} days.`)];
    } else if (show === "no-footage") {
      const data = await api("GET", `/api/v1/register/no-footage?days=${encodeURIComponent(days)}`);
      result = [el("h2", {}, `Custody events no camera recorded, last ${days} days`),
        eventTable(data.events, "Every custody event of the period has footage.")];
    }
  } catch (err) {
    say(err.message, true);
  }
  page("Register", forms, ...(result || [el("p", { class: "empty" },
    "Search by item or person across every site you may see, or list the custody events no camera recorded.")]));
}
