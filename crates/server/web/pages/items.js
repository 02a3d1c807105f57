// The register: items and each one's chain of custody.

import { badge, el, empty, page, table, when } from "../ui.js";
import { api, can } from "../api.js";

export async function itemsPage(params) {
  const q = params.get("q") || "";
  const input = el("input", { id: "q", type: "search", value: q, placeholder: "barcode, title or reference" });
  const form = el(
    "form",
    { class: "inline", role: "search", onsubmit: (e) => {
      e.preventDefault();
      location.hash = `#/items?q=${encodeURIComponent(input.value)}`;
    } },
    el("label", { for: "q" }, "Search items", input),
    el("button", { type: "submit" }, "Search"),
  );
  const data = await api("GET", `/api/v1/items?limit=100${q ? `&q=${encodeURIComponent(q)}` : ""}`);
  const rows = data.items.map((i) =>
    el(
      "tr",
      {},
      el("td", {}, el("a", { href: `#/items/${encodeURIComponent(i.barcode)}` }, i.barcode)),
      el("td", {}, i.title),
      el("td", {}, i.reference),
      el("td", {}, badge(i.status)),
      el("td", {}, i.status === "out" ? `${i.holder}, due ${when(i.due_ms)}` : i.location),
    ));
  page(
    "Register",
    form,
    table(["Barcode", "Title", "Reference", "Status", "Where"], rows, q
      ? empty(`No item matches “${q}”. Search for part of a barcode, title or reference, or `,
        el("a", { href: "#/items" }, "show every item"), ".")
      : empty("The register has no items yet. Import them from a spreadsheet: ",
        el("code", {}, "custos register import --config custos.toml items.csv"),
        " (locations and people first), or add them through the API.")),
  );
  input.focus();
}

export function footageCell(f) {
  if (!f.footage.length) return badge("missing", "no camera covers this place");
  return f.footage.map((w) => {
    // A window that has not ended yet is still being recorded.
    const open = w.end_ms > Date.now();
    const state = open
      ? badge("connecting", "window still open")
      : badge(w.recorded ? "recorded" : "missing", w.recorded ? "recorded" : "not recorded");
    const label = `${w.camera} ${when(w.start_ms)}`;
    const video = `/api/v1/cameras/${encodeURIComponent(w.camera)}/video.mp4?start_ms=${w.start_ms}&end_ms=${w.end_ms}`;
    return el("div", {}, state, " ", w.recorded_ms > 0 ? el("a", { href: video }, label) : label);
  });
}

export async function itemPage(barcode) {
  const data = await api("GET", `/api/v1/items/${encodeURIComponent(barcode)}`);
  const i = data.item;
  const chain = data.custody.map((c) =>
    el(
      "tr",
      {},
      el("td", {}, when(c.at_ms)),
      el("td", {}, c.action),
      el("td", {}, c.person || ""),
      el("td", {}, c.holder || ""),
      el("td", {}, c.location || ""),
      el("td", {}, c.recorded_by),
      el("td", {}, footageCell(c)),
    ));
  page(
    `${i.barcode} — ${i.title}`,
    el("p", {}, badge(i.status), " ",
      i.status === "out" ? `held by ${i.holder}, due ${when(i.due_ms)}` : `at ${i.location} (home ${i.home_location})`),
    el("p", { class: "muted" }, `Reference ${i.reference || "—"} · ${i.classification || "unclassified"}`),
    el("p", {}, el("a", { href: `/api/v1/items/${encodeURIComponent(i.barcode)}/label.svg` }, "Label"), " · ",
      el("a", { href: `/api/v1/reports/item-custody?barcode=${encodeURIComponent(i.barcode)}&format=html` }, "Printable chain of custody")),
    el("h2", {}, "Chain of custody"),
    table(["When", "Action", "Person", "Holder after", "Where", "Recorded by", "Footage"], chain,
      can("record_custody")
        ? empty("No custody events yet. Record a check-out or check-in at the ", el("a", { href: "#/desk" }, "desk"), ".")
        : "No custody events yet; archivists record them at the desk."),
  );
}
