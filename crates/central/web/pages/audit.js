// The centre's audit trail: what admins and auditors did, sign-ins,
// enrolments, key rotations; newest first.

import { el, page, table, when } from "../ui.js";
import { api } from "../api.js";

export async function auditPage() {
  const data = await api("GET", "/api/v1/audit?limit=500");
  const rows = data.lines.map((l) => el("tr", {},
    el("td", {}, when(l.at_ms)),
    el("td", {}, l.actor || "(an unknown name)"),
    el("td", {}, l.action.replace(/[._]/g, " ")),
    el("td", {}, l.site ? el("a", { href: `#/sites/${encodeURIComponent(l.site)}` }, l.site) : "—"),
    el("td", {}, l.detail)));
  page("Audit trail",
    el("p", {}, "The latest 500 lines; ", el("code", {}, "custos central audit"), " prints them all."),
    table(["When", "Who", "What", "Site", "Details"], rows, "Nothing has been done at the centre yet."));
}
