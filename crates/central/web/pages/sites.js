// Every site the user may see, with its health: a map of the sites that
// have coordinates, and a table of all of them.

import { ago, badge, bytes, count, el, empty, field, page, say, svg, table } from "../ui.js";
import { api, can } from "../api.js";
import { refreshLater, renderingNow, route, stillCurrent } from "../router.js";

const REFRESH_MS = 15000;

/** The badge class of a site's status. */
export function statusBadge(status) {
  const kind = { ok: "recording", attention: "offline", "not enrolled": "connecting" }[status] || "connecting";
  return badge(kind, status);
}

/** A map of the sites with coordinates, drawn from them alone (no tiles
 * from elsewhere): longitude across, latitude up, with a degree grid. */
function siteMap(sites) {
  const placed = sites.filter((s) => s.latitude !== null && s.longitude !== null);
  if (!placed.length) return null;
  const lats = placed.map((s) => s.latitude);
  const lons = placed.map((s) => s.longitude);
  const pad = 0.5;
  const [south, north] = [Math.min(...lats) - pad, Math.max(...lats) + pad];
  const [west, east] = [Math.min(...lons) - pad, Math.max(...lons) + pad];
  // A degree of longitude is shorter than one of latitude away from the
  // equator: scale it so the map keeps its shape.
  const squeeze = Math.cos(((north + south) / 2) * Math.PI / 180);
  const width = (east - west) * squeeze;
  const height = north - south;
  const x = (lon) => (lon - west) * squeeze;
  const y = (lat) => north - lat;
  const map = svg("svg", {
    class: "sitemap", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Map of ${count(placed.length, "site")} with coordinates`,
  });
  for (let lon = Math.ceil(west); lon <= east; lon += 1) {
    map.append(svg("line", { class: "grid", x1: x(lon), x2: x(lon), y1: 0, y2: height }));
  }
  for (let lat = Math.ceil(south); lat <= north; lat += 1) {
    map.append(svg("line", { class: "grid", x1: 0, x2: width, y1: y(lat), y2: y(lat) }));
  }
  const r = Math.max(width, height) / 60;
  for (const s of placed) {
    const link = svg("a", { href: `#/sites/${encodeURIComponent(s.name)}`, "aria-label": `${s.name}: ${s.status}` });
    link.dataset.site = s.name;
    const dot = svg("circle", { class: `site ${s.status.replace(" ", "-")}`, cx: x(s.longitude), cy: y(s.latitude), r });
    const title = svg("title");
    title.textContent = `${s.name}: ${s.status}${s.problems.length ? ` (${s.problems.join("; ")})` : ""}`;
    dot.append(title);
    const label = svg("text", { x: x(s.longitude) + r * 1.4, y: y(s.latitude) + r / 2, "font-size": r * 2.2 });
    label.textContent = s.name;
    link.append(dot, label);
    map.append(link);
  }
  return el("figure", { class: "sitemap" }, map,
    el("figcaption", {}, "Sites by their coordinates; red needs attention. Choose one to open it."));
}

function witnessText(w) {
  const refused = w.refusals ? `; ${count(w.refusals, "checkpoint")} refused` : "";
  if (w.suspended_ms) return `suspended${refused}`;
  if (w.size === null) return `not yet${refused}`;
  return `${w.size} entries, ${ago(w.cosigned_ms)}${refused}`;
}

/** An admin adds a site: its one-time enrolment code is shown once, with
 * what to put in the site's configuration. */
function addSiteForm() {
  const name = el("input", { autocomplete: "off", required: true, placeholder: "village-3" });
  const shown = el("div", { id: "new-site-code" });
  const form = el("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const site = await api("POST", "/api/v1/sites", { name: name.value.trim() });
      const config = `[central]\nurl = "${site.url}"\nenrol_code = "${site.code}"\n`
        + (site.tls_fingerprint ? `tls_fingerprint = "${site.tls_fingerprint}"\n` : "");
      shown.replaceChildren(
        el("p", {}, `Site ${site.site} added. Its one-time enrolment code is shown only now; `
          + "put this in the site's configuration:"),
        el("pre", {}, config));
      say(`Site ${site.site} added.`);
    } catch (err) {
      say(err.message, true);
    }
  } }, field("new-site", "New site", name), el("button", { type: "submit" }, "Add site"));
  return el("section", {}, form, shown);
}

/** The order of the list: what needs attention first. */
const STATUS_ORDER = { attention: 0, "not enrolled": 1, ok: 2 };

/** Which sites to show, and the controls that choose them (kept in the
 * address, so a view can be bookmarked). */
function filterControls(show, find) {
  const go = (next) => {
    const query = new URLSearchParams({ show: next.show ?? show, find: next.find ?? find });
    location.hash = `#/?${query}`;
  };
  const select = el("select", { id: "sites-show", onchange: (e) => go({ show: e.target.value }) },
    [["all", "every site"], ["attention", "needing attention"], ["not-enrolled", "not enrolled"]]
      .map(([v, t]) => el("option", { value: v, selected: v === show }, t)));
  const input = el("input", { value: find, autocomplete: "off", placeholder: "name or region" });
  return el("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); go({ find: input.value.trim() }); } },
    field("sites-show", "Show", select), field("sites-find", "Find", input),
    el("button", { type: "submit", class: "secondary" }, "Find"));
}

export async function sitesPage(params = new URLSearchParams()) {
  const generation = renderingNow();
  const show = params.get("show") || "all";
  const find = (params.get("find") || "").trim();
  const data = await api("GET", "/api/v1/sites");
  const all = data.sites;
  const attention = all.filter((s) => s.status === "attention").length;
  const needle = find.toLowerCase();
  const sites = all
    .filter((s) => show === "all" || s.status === show.replace("-", " "))
    .filter((s) => !needle || s.name.toLowerCase().includes(needle) || (s.region || "").toLowerCase().includes(needle))
    .sort((a, b) => (STATUS_ORDER[a.status] ?? 3) - (STATUS_ORDER[b.status] ?? 3) || a.name.localeCompare(b.name));
  const rows = sites.map((s) => {
    const r = s.report;
    return el("tr", { "data-site": s.name },
      el("td", {}, el("a", { href: `#/sites/${encodeURIComponent(s.name)}` }, s.name)),
      el("td", {}, s.region || "—"),
      el("td", {}, statusBadge(s.status)),
      el("td", {}, r ? `${r.recording} of ${r.cameras} recording` : "no report yet"),
      el("td", {}, r ? ago(r.received_ms) : "never"),
      el("td", {}, r && r.last_segment_ms ? ago(r.last_segment_ms) : "none"),
      el("td", {}, r && r.disk_free !== null ? `${bytes(r.disk_free)} free` : ""),
      el("td", {}, String(s.open_alerts)),
      el("td", {}, witnessText(s.witness)),
      el("td", {}, s.problems.length ? el("ul", { class: "problems" }, s.problems.map((p) => el("li", {}, p))) : "none"));
  });
  const none = all.length
    ? empty("No site matches. ", el("a", { href: "#/" }, "Show every site"), ".")
    : empty("No sites yet. An admin adds one here or with ", el("code", {}, "custos central site add NAME"),
      "; it shows its state once it enrols.");
  page("Sites",
    el("p", { id: "sites-summary" }, all.length
      ? `${count(all.length, "site")}: ${all.length - attention} without trouble, ${attention} needing attention.`
      : ""),
    all.length ? filterControls(show, find) : null,
    siteMap(sites),
    table(["Site", "Region", "State", "Cameras", "Last report", "Newest footage", "Disk", "Alerts", "Witnessed", "Needs attention"],
      rows, none),
    can("change_sites") ? addSiteForm() : null);
  // Refreshed while the page is shown, but not under someone typing, and
  // not over a code just shown.
  const tick = () => {
    if (!stillCurrent(generation)) return;
    const busy = (document.activeElement && document.activeElement.tagName === "INPUT")
      || document.querySelector("#new-site-code pre");
    if (busy) refreshLater(tick, REFRESH_MS);
    else route(true);
  };
  refreshLater(tick, REFRESH_MS);
}
