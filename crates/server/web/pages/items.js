// The register: items and each one's chain of custody.

import { badge, count, el, empty, field, page, say, table, when } from "../ui.js";
import { api, can, runJob } from "../api.js";

const ROW_NOUNS = { items: ["item", "items"], people: ["person", "people"], locations: ["location", "locations"] };

/** Imports a register file as a job, showing how far it has got; a bad
 * file lists its bad rows by line and column, and nothing is imported. */
function importSection() {
  const kind = el("select", {}, ...Object.keys(ROW_NOUNS).map((k) => el("option", { value: k }, k)));
  const file = el("input", { type: "file", accept: ".csv,text/csv" });
  const status = el("p", { id: "import-status", role: "status" });
  const problems = el("ul", { id: "import-problems" });
  const button = el("button", { type: "submit" }, "Import");
  const form = el("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    problems.replaceChildren();
    const csv = file.files[0];
    if (!csv) {
      say("Choose a CSV file to import.", true);
      return;
    }
    button.disabled = true;
    status.textContent = `Sending ${csv.name}…`;
    try {
      const done = await runJob("POST", `/api/v1/register/import?kind=${kind.value}`, csv, (job) => {
        status.textContent = job.progress
          ? `Importing ${csv.name}: ${job.progress.done.toLocaleString()} of ${job.progress.total.toLocaleString()} rows…`
          : `Reading ${csv.name}…`;
      });
      status.textContent = `Imported ${count(done.rows, ...ROW_NOUNS[kind.value])} from ${csv.name}.`;
    } catch (err) {
      status.textContent = "";
      say(err.message, true);
      const rows = (err.data && err.data.rows) || [];
      problems.replaceChildren(...rows.slice(0, 100).map((r) =>
        el("li", {}, `line ${r.line}${r.column ? `, column ${r.column}` : ""}: ${r.reason}`)));
    } finally {
      button.disabled = false;
    }
  } }, field("import-kind", "Register file", kind), field("import-file", "CSV file", file), button);
  return el("section", { "aria-label": "Import" },
    el("h2", {}, "Import from a spreadsheet"),
    el("p", { class: "muted" }, "Every row or none: a file with a bad row imports nothing and lists every bad row. "
      + "Import locations first, then people, then items."),
    form, status, problems);
}

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
      : empty("The register has no items yet. Import them from a spreadsheet",
        can("import_register") ? " below" : "", " or with ",
        el("code", {}, "custos register import --config custos.toml items.csv"),
        " (locations and people first), or add them through the API.")),
    can("import_register") ? importSection() : null,
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
