// One site: its health, cameras, alerts, and the witness's view of its log.

import { ago, bytes, el, field, page, say, table, when } from "../ui.js";
import { api, can } from "../api.js";
import { route } from "../router.js";
import { centreAlertTable, siteAlertTable } from "./alerts.js";
import { statusBadge } from "./sites.js";

function facts(pairs) {
  return el("dl", { class: "facts" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

/** An admin places the site: its region (which limits who sees it) and
 * its coordinates on the map. */
function placeForm(s) {
  const region = el("input", { value: s.region || "", autocomplete: "off", placeholder: "none" });
  const lat = el("input", { value: s.latitude ?? "", inputmode: "decimal", size: 10, placeholder: "59.33" });
  const lon = el("input", { value: s.longitude ?? "", inputmode: "decimal", size: 10, placeholder: "18.07" });
  const number = (input) => (input.value.trim() === "" ? null : Number(input.value));
  return el("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api("POST", `/api/v1/sites/${encodeURIComponent(s.name)}/place`, {
        region: region.value.trim() || null, latitude: number(lat), longitude: number(lon),
      });
      say(`Site ${s.name} placed.`);
      route(true);
    } catch (err) {
      say(err.message, true);
    }
  } },
  field("place-region", "Region", region), field("place-lat", "Latitude", lat), field("place-lon", "Longitude", lon),
  el("button", { type: "submit", class: "secondary" }, "Place"));
}

export async function sitePage(name) {
  const data = await api("GET", `/api/v1/sites/${encodeURIComponent(name)}`);
  const s = data.site;
  const r = s.report;
  const w = s.witness;
  const clockOff = r ? Math.round((r.sent_ms - r.received_ms) / 1000) : null;
  const cameras = data.cameras.map((c) => el("tr", { "data-camera": c.id },
    el("td", {}, c.name || c.id),
    el("td", {}, c.state),
    el("td", {}, c.since_ms ? ago(c.since_ms) : ""),
    el("td", {}, c.tamper || "none"),
    el("td", {}, String(c.pictures_dropped))));
  const refusals = data.refusals.map((x) => el("tr", {},
    el("td", {}, when(x.received_ms)), el("td", {}, String(x.status)), el("td", {}, x.reason)));
  page(`Site ${s.name}`,
    facts([
      ["State", statusBadge(s.status)],
      ["Needs attention", s.problems.length ? el("ul", { class: "problems" }, s.problems.map((p) => el("li", {}, p))) : "nothing"],
      ["Region", s.region || "none"],
      ["Coordinates", s.latitude !== null ? `${s.latitude}, ${s.longitude}` : "none"],
      ["Enrolled", s.enrolled_ms ? when(s.enrolled_ms) : "not yet"],
      ["Last report", r ? `${ago(r.received_ms)} (software ${r.version || "unknown"})` : "none yet"],
      ["Clock", clockOff === null ? null : `${Math.abs(clockOff)} s ${clockOff >= 0 ? "ahead of" : "behind"} the centre's, as last reported`],
      ["Footage kept", r && r.oldest_segment_ms ? `from ${when(r.oldest_segment_ms)} to ${when(r.last_segment_ms)}` : "none reported"],
      ["Disk", r && r.disk_used !== null ? `${bytes(r.disk_used)} of footage, ${bytes(r.disk_free)} free` : null],
      ["Footage off site", r && r.escrow
        ? (r.escrow.pending_segments
          ? `${r.escrow.pending_segments} segments (${bytes(r.escrow.pending_bytes)}) waiting to be copied, the oldest from ${when(r.escrow.oldest_pending_ms)}`
          : "all that matters is copied")
        : null],
    ]),
    can("change_sites") ? placeForm(s) : null,
    el("h2", {}, "Cameras"),
    table(["Camera", "State", "Since", "Tampering", "Pictures dropped"], cameras,
      r ? "The site reports no cameras." : "The site has not reported yet."),
    el("h2", {}, "Alerts at the site"),
    siteAlertTable(data.alerts.site, "The site has raised no alert the centre knows of.", true),
    el("h2", {}, "The centre's alerts about it"),
    centreAlertTable(data.alerts.centre, "None.", true),
    el("h2", {}, "Witness"),
    facts([
      ["Co-signed", w.size === null ? "nothing yet" : `${w.size} entries, ${ago(w.cosigned_ms)}`],
      ["Co-signing", w.suspended_ms ? `suspended since ${when(w.suspended_ms)}: ${w.suspended_reason}` : "going on"],
      ["Mirrored", `${w.mirrored} entries, matched against a co-signed checkpoint up to ${w.mirror_verified}`],
      ["Refused checkpoints", String(w.refusals)],
    ]),
    data.checkpoint ? el("details", {}, el("summary", {}, "Latest co-signed checkpoint"), el("pre", {}, data.checkpoint)) : null,
    table(["Received", "Status", "Why refused"], refusals, "No checkpoint of this site was ever refused."));
}
