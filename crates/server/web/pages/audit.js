// The audit trail, read from the signed log, in plain words.

import { badge, bytes, clock, count, duration, el, empty, page, table, when } from "../ui.js";
import { api } from "../api.js";

const ACTION_WORDS = {
  check_out: "checked out", check_in: "checked in", transfer: "transferred", view: "consulted",
  copy: "copied", move: "moved", inventory_seen: "seen in an inventory", disposal: "disposed of",
};
const CHANGE_WORDS = { created: "added", updated: "changed", imported: "imported" };

/** A span of a camera's footage: "5 min of Stacks from 14:32", or
 * "Stacks at 14:32" for a moment. */
function spanText(e, cam) {
  const len = e.end_ms - e.start_ms;
  return len >= 1000 ? `${duration(len)} of ${cam} from ${clock(e.start_ms, true)}` : `${cam} at ${clock(e.start_ms, true)}`;
}

/** What a log entry says, in plain words; `camName` turns an id into a name. */
function describeEntry(e, camName) {
  const cam = e.camera ? camName(e.camera) : "";
  const quoted = (t) => (t ? ` (“${t}”)` : "");
  switch (e.type) {
    case "footage.viewed":
      if (e.thumbnail) return `looked at the live thumbnails of ${cam}`;
      if (e.live) return `watched ${cam} live`;
      if (e.event !== undefined) return `looked at the snapshot of event ${e.event} on ${cam}`;
      if (e.download) return `downloaded ${spanText(e, cam)}`;
      return `played back ${spanText(e, cam)}`;
    case "footage.exported":
      return `exported ${spanText(e, cam)} as an evidence bundle`
        + `${e.segments !== undefined ? ` (${count(e.segments, "segment")})` : ""}${quoted(e.reason)}`;
    case "evidence.downloaded": return `downloaded evidence bundle ${e.export}`;
    case "auth.login": return `signed in from ${e.source}`;
    case "auth.login_failed":
      return `${e.user ? "" : "someone (a name that is no one's) "}failed to sign in from ${e.source}: ${e.reason}`;
    case "auth.logout": return "signed out";
    case "config.loaded":
      return `the site started${e.cameras !== undefined ? ` with ${count(e.cameras, "camera")}` : ""}`;
    case "config.changed":
      return e.section === "hours" ? "changed the opening hours" : `changed the settings of ${e.section}`;
    case "user.created":
      return `added user ${e.name} as ${e.role}${e.rooms && e.rooms.length ? `, rooms ${e.rooms.join(", ")}` : ""}`;
    case "user.changed": {
      const what = [];
      if (e.role) what.push(`role ${e.role}`);
      if (e.disabled === true) what.push("disabled");
      if (e.disabled === false) what.push("enabled");
      if (e.password_changed) what.push("new password");
      if (e.rooms) what.push(e.rooms.length ? `rooms ${e.rooms.join(", ")}` : "no rooms");
      if (e.unlocked) {
        what.push(`unlocked${e.locked_until_ms ? ` (locked by failed sign-ins until ${clock(e.locked_until_ms)})` : ""}`);
      }
      return `changed user ${e.name}: ${what.join(", ") || "nothing"}`;
    }
    case "token.created": return `made an API token for ${e.user}`;
    case "token.revoked": return `revoked API token ${e.id}${e.user ? ` of ${e.user}` : ""}`;
    case "segment.sealed":
      return `recorded ${spanText(e, cam)} (${bytes(e.bytes)})`;
    case "segment.deleted": return `deleted recorded footage of ${cam}${quoted(e.reason)}`;
    case "segment.held": return `put a hold on recorded footage of ${cam}`;
    case "segment.released": return `released the hold on recorded footage of ${cam}`;
    case "segment.missing": return `found recorded footage of ${cam} missing`;
    case "camera.state": return `${cam}: ${e.state}${e.detail ? ` (${e.detail})` : ""}`;
    case "analysis.started": return `${cam}: ${e.kind} began`;
    case "analysis.event": return `${cam}: ${e.kind}, ${duration(e.end_ms - e.start_ms)} from ${clock(e.start_ms)}`;
    case "register.location": return `${CHANGE_WORDS[e.change] || e.change} location ${e.code} (${e.name})`;
    case "register.person": return `${CHANGE_WORDS[e.change] || e.change} person ${e.staff_id} (${e.name})`;
    case "register.item": return `${CHANGE_WORDS[e.change] || e.change} item ${e.barcode} (${e.title})`;
    case "register.import": return `imported ${count(e.rows, e.kind.replace(/s$/, ""), e.kind)} from a CSV file`;
    case "custody.event": {
      const d = e.details || {};
      const to = d.to ? ` to ${d.to}` : "";
      const by = !d.to && e.person ? ` by ${e.person}` : "";
      const at = e.location ? ` at ${e.location}` : "";
      return `${e.barcode} ${ACTION_WORDS[e.action] || e.action}${to}${by}${at}`
        + `${d.due_ms ? `, due ${clock(d.due_ms)}` : ""}${e.at_ms !== e.time_ms ? ` (happened ${clock(e.at_ms)})` : ""}`;
    }
    case "inventory.started": return `started inventory ${e.inventory} of ${e.location}`;
    case "inventory.closed": {
      const r = e.report || {};
      return `closed inventory ${e.inventory} of ${e.location}: ${(r.missing || []).length} missing, `
        + `${(r.unexpected || []).length} unexpected, ${(r.misplaced || []).length} misplaced`;
    }
    case "alert.raised": return `alert ${e.alert} raised: ${e.summary}`;
    case "alert.changed": return `${e.state} alert ${e.alert} (${e.kind})${quoted(e.note)}`;
    case "central.enrolled":
      return `enrolled with the central office ${e.url} as ${e.site}`
        + `${e.replaces_key ? `, replacing key ${e.replaces_key} (allowed by ${e.rotated_by}${quoted(e.reason)})` : ""}`;
    case "central.tls_pinned": return `trusts the central office's certificates ${e.fingerprints} (before: ${e.previous || "none"})`;
    case "witness.refused": return `witness ${e.witness} refused to co-sign the log at size ${e.tree_size} (HTTP ${e.status}): ${e.reason}`;
    default: return e.type.replace(/[._]/g, " ");
  }
}

export async function auditPage(params) {
  const cat = params.get("category") || "views";
  const [log, audit, cams] = await Promise.all([
    api("GET", "/api/v1/log"),
    api("GET", `/api/v1/audit?limit=200${cat === "all" ? "" : `&category=${encodeURIComponent(cat)}`}`),
    api("GET", "/api/v1/cameras"),
  ]);
  const names = new Map(cams.cameras.map((c) => [c.id, c.name]));
  const camName = (id) => names.get(id) || `camera ${id}`;
  const result = el("div", { id: "verify-result", role: "status" });
  const verify = el("button", { type: "button", onclick: async () => {
    result.replaceChildren("Verifying…");
    try {
      const v = (await api("POST", "/api/v1/log/verify")).verified;
      result.replaceChildren(badge(v.ok ? "recorded" : "missing", v.ok ? "verified" : "FAILED"),
        el("ul", {}, v.findings.map((f) => el("li", {}, f))));
    } catch (err) {
      result.replaceChildren(err.message);
    }
  } }, "Verify the log");
  const select = el("select", { id: "audit-category",
    onchange: (e) => { location.hash = `#/audit?category=${e.target.value}`; } },
  [["views", "views and exports of footage"], ["logins", "sign-ins"], ["changes", "changes"],
    ["custody", "custody"], ["all", "everything"]].map(([v, t]) => el("option", { value: v, selected: v === cat }, t)));
  // Plain words first; the entry itself, as the signed log holds it, one
  // click away.
  const rows = audit.entries.map((a) =>
    el("tr", { "data-entry": a.index },
      el("td", {}, when(a.entry.time_ms)),
      el("td", {}, a.entry.user || a.entry.by || ""),
      el("td", {}, describeEntry(a.entry, camName)),
      el("td", {}, el("details", {}, el("summary", {}, `Entry ${a.index}`),
        el("pre", { class: "entry" }, JSON.stringify(a.entry, null, 1))))));
  page(
    "Audit",
    el("h2", {}, "The log"),
    el("p", {}, `${log.size} entries; latest checkpoint at ${log.checkpoint_size ?? "—"} entries, signed ${when(log.checkpoint_ms)}.`),
    el("p", { class: "muted" }, `Verifier key: ${log.verifier_key}`),
    verify,
    result,
    el("h2", {}, "Entries"),
    el("label", { for: "audit-category" }, "Show", select),
    table(["When", "Who", "What", "Log entry"], rows, cat === "all"
      ? "The log has no entries yet."
      : empty("No entries of this kind yet. ", el("a", { href: "#/audit?category=all" }, "Show every entry"), ".")),
  );
}
