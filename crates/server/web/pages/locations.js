// Locations (rooms, shelves, tables), the cameras that cover them, and
// custody events at a place.

import { badge, el, empty, field, page, say, table, when } from "../ui.js";
import { api, can } from "../api.js";
import { route } from "../router.js";
import { footageCell } from "./items.js";

function coverageText(coverage) {
  return coverage.map((c) => (c.zone ? `${c.camera}:${c.zone}` : c.camera)).join(", ");
}

/** "cam, cam2:door" → [{camera, zone}]; the server checks the cameras. */
function parseCoverage(text) {
  return text.split(",").map((p) => p.trim()).filter(Boolean).map((p) => {
    const [camera, zone] = p.split(":").map((x) => x.trim());
    return zone ? { camera, zone } : { camera };
  });
}

export async function locationsPage(params) {
  const data = await api("GET", "/api/v1/locations");
  const blindOnly = params.get("blind") === "1";
  const shown = data.locations.filter((l) => !blindOnly || l.blind_spot);
  const rows = shown.map((l) => el("tr", { "data-location": l.code },
    el("td", {}, el("a", { href: `#/locations/${encodeURIComponent(l.code)}` }, l.code)),
    el("td", {}, l.name),
    el("td", {}, l.kind.replace("_", " ")),
    el("td", {}, l.room || ""),
    el("td", {}, l.coverage.length ? coverageText(l.coverage) : ""),
    el("td", {}, l.blind_spot ? badge("missing", "blind spot") : badge("recorded", "covered"),
      l.retired ? [" ", badge("disposed", "retired")] : null)));
  const children = [
    el("p", {}, blindOnly
      ? el("a", { href: "#/locations" }, "Show every location")
      : el("a", { href: "#/locations?blind=1" }, "Show blind spots only"),
    " · ", el("a", { href: "/api/v1/reports/blind-spots?format=html" }, "Printable blind-spot report")),
    table(["Code", "Name", "Kind", "In room", "Cameras", "Coverage"], rows, blindOnly
      ? "No blind spots: a camera sees every location."
      : can("create_location")
        ? "No locations yet. Add the rooms below first, then the shelves and tables in them."
        : "No locations yet; an archivist or admin adds them."),
  ];
  if (can("create_location")) {
    const code = el("input", { required: true, autocomplete: "off" });
    const name = el("input", { required: true, autocomplete: "off" });
    const kind = el("select", {}, ["room", "shelf", "reading_table", "other"].map((k) => el("option", { value: k }, k.replace("_", " "))));
    const room = el("input", { autocomplete: "off" });
    const cams = el("input", { autocomplete: "off", placeholder: "camera or camera:zone, …" });
    children.push(el("h2", {}, "Add a location"), el("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("POST", "/api/v1/locations", {
          code: code.value.trim(), name: name.value.trim(), kind: kind.value,
          room: room.value.trim() || undefined, coverage: parseCoverage(cams.value),
        });
        say(`Location ${code.value.trim()} added.`);
        route(true);
      } catch (err) {
        say(err.message, true);
      }
    } },
    field("loc-code", "Code", code), field("loc-name", "Name", name), field("loc-kind", "Kind", kind),
    field("loc-room", "In room", room), field("loc-cameras", "Cameras", cams),
    el("button", { type: "submit" }, "Add")));
  }
  page(blindOnly ? "Blind spots" : "Locations", ...children);
}

export async function locationPage(code) {
  const [l, items, custody] = await Promise.all([
    api("GET", `/api/v1/locations/${encodeURIComponent(code)}`),
    api("GET", `/api/v1/items?location=${encodeURIComponent(code)}&limit=200`),
    api("GET", `/api/v1/custody?location=${encodeURIComponent(code)}&limit=50`),
  ]);
  const cams = l.coverage.map((c) => el("li", {},
    c.zone ? `${c.camera} (zone ${c.zone}) · ` : `${c.camera} · `,
    el("a", { href: `#/live/${encodeURIComponent(c.camera)}` }, "live"), " · ",
    el("a", { href: `#/playback/${encodeURIComponent(c.camera)}` }, "playback")));
  page(`${l.code} — ${l.name}`,
    el("p", {}, l.kind.replace("_", " "), l.room ? ` in ${l.room}` : "", " ",
      l.blind_spot ? badge("missing", "blind spot: no camera sees it") : badge("recorded", "covered"),
      l.retired ? [" ", badge("disposed", "retired")] : null),
    el("h2", {}, "Cameras"),
    cams.length ? el("ul", {}, cams)
      : el("p", {}, l.room ? `Only through the cameras of room ${l.room}, if it has any.` : "No camera covers it."),
    el("h2", {}, `Items here (${items.items.length})`),
    table(["Barcode", "Title", "Status"], items.items.map((i) => el("tr", {},
      el("td", {}, el("a", { href: `#/items/${encodeURIComponent(i.barcode)}` }, i.barcode)),
      el("td", {}, i.title), el("td", {}, badge(i.status)))),
    "No items are kept here. An item's home location is set when it is added to the register."),
    el("h2", {}, "Recent custody events here"),
    custodyTable(custody.events));
}

export function custodyTable(events) {
  return table(["When", "Item", "Action", "Person", "Where", "Footage"], events.map((c) => el("tr", {},
    el("td", {}, when(c.at_ms)),
    el("td", {}, el("a", { href: `#/items/${encodeURIComponent(c.barcode)}` }, c.barcode)),
    el("td", {}, c.action),
    el("td", {}, c.person ? el("a", { href: `#/people/${encodeURIComponent(c.person)}` }, c.person) : ""),
    el("td", {}, c.location || ""),
    el("td", {}, footageCell(c)))),
  can("record_custody")
    ? empty("No custody events yet. They are recorded at the ", el("a", { href: "#/desk" }, "desk"), ".")
    : "No custody events yet; archivists record them at the desk.");
}
