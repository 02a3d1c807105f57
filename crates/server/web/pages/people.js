// People who handle items, and what each holds.

import { badge, el, field, page, say, table, when } from "../ui.js";
import { api, can } from "../api.js";
import { route } from "../router.js";
import { custodyTable } from "./locations.js";

export async function peoplePage() {
  const data = await api("GET", "/api/v1/people");
  const rows = data.people.map((p) => el("tr", { "data-person": p.staff_id },
    el("td", {}, el("a", { href: `#/people/${encodeURIComponent(p.staff_id)}` }, p.staff_id)),
    el("td", {}, p.name), el("td", {}, p.role), el("td", {}, p.badge || ""),
    el("td", {}, p.retired ? badge("disposed", "retired") : "")));
  const children = [table(["Staff id", "Name", "Role", "Badge", ""], rows, can("create_person")
    ? "No people yet. Add the staff and readers who handle items below."
    : "No people yet; an archivist or admin adds them.")];
  if (can("create_person")) {
    const id = el("input", { required: true, autocomplete: "off" });
    const name = el("input", { required: true, autocomplete: "off" });
    const role = el("select", {}, ["staff", "researcher", "contractor", "other"].map((r) => el("option", { value: r }, r)));
    const card = el("input", { autocomplete: "off" });
    children.push(el("h2", {}, "Add a person"), el("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("POST", "/api/v1/people", {
          staff_id: id.value.trim(), name: name.value.trim(), role: role.value, badge: card.value.trim() || undefined,
        });
        say(`${name.value.trim()} added.`);
        route(true);
      } catch (err) {
        say(err.message, true);
      }
    } },
    field("person-id", "Staff id", id), field("person-name", "Name", name), field("person-role", "Role", role),
    field("person-badge", "Badge", card), el("button", { type: "submit" }, "Add")));
  }
  page("People", ...children);
}

export async function personPage(staffId) {
  const [p, held, custody] = await Promise.all([
    api("GET", `/api/v1/people/${encodeURIComponent(staffId)}`),
    api("GET", `/api/v1/items?holder=${encodeURIComponent(staffId)}&limit=200`),
    api("GET", `/api/v1/custody?person=${encodeURIComponent(staffId)}&limit=100`),
  ]);
  page(`${p.name} (${p.staff_id})`,
    el("p", {}, p.role, p.badge ? ` · badge ${p.badge}` : "", p.retired ? [" ", badge("disposed", "retired")] : null),
    el("p", {}, el("a", { href: `/api/v1/reports/person-history?staff_id=${encodeURIComponent(p.staff_id)}&format=html` },
      "Printable history")),
    el("h2", {}, `Holds now (${held.items.length})`),
    table(["Barcode", "Title", "Due"], held.items.map((i) => el("tr", {},
      el("td", {}, el("a", { href: `#/items/${encodeURIComponent(i.barcode)}` }, i.barcode)),
      el("td", {}, i.title),
      el("td", {}, i.due_ms ? when(i.due_ms) : "", i.due_ms && i.due_ms < Date.now() ? [" ", badge("open", "overdue")] : null))),
    "Holds nothing now: items checked out to them appear here."),
    el("h2", {}, "Custody events"),
    custodyTable(custody.events));
}
