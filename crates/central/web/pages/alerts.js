// Alerts across sites: the sites' own (tamper, offline, no footage, …) and
// the centre's about sites (silent, clock skew, log rewritten). An auditor
// acknowledges and resolves them here; a site's alert changes at the site,
// at its next report, and its log says who did it.

import { badge, el, page, say, table, when } from "../ui.js";
import { api, can } from "../api.js";
import { refreshLater, renderingNow, route, stillCurrent } from "../router.js";

const REFRESH_MS = 15000;

/** The note field and buttons of one alert, calling `path` + verb. */
function actions(label, state, path, pending) {
  if (pending) return [el("span", { class: "hint" }, `asked: ${pending}; waits for the site's next report`)];
  if (!can("change_alerts") || state === "resolved") return [];
  const note = el("input", { "aria-label": `Note for ${label}`, placeholder: "note" });
  const act = async (verb) => {
    try {
      await api("POST", `${path}/${verb}`, { note: note.value });
      say(`${label}: ${verb === "resolve" ? "resolved" : "acknowledged"}.`);
      route(true);
    } catch (err) {
      say(err.message, true);
    }
  };
  const buttons = [note];
  if (state === "open") buttons.push(el("button", { type: "button", onclick: () => act("acknowledge") }, "Acknowledge"));
  buttons.push(el("button", { type: "button", class: "secondary", onclick: () => act("resolve") }, "Resolve"));
  return buttons;
}

function centreState(a) {
  if (a.resolved) return "resolved";
  return a.acknowledged ? "acknowledged" : "open";
}

/** The site's own alerts, with the site column unless `oneSite`. */
export function siteAlertTable(alerts, whenEmpty, oneSite = false) {
  const rows = alerts.map((a) => {
    const label = `alert ${a.alert} of ${a.site}`;
    return el("tr", { "data-site-alert": `${a.site}/${a.alert}` },
      oneSite ? null : el("td", {}, el("a", { href: `#/sites/${encodeURIComponent(a.site)}` }, a.site)),
      el("td", {}, when(a.raised_ms)),
      el("td", {}, a.kind),
      el("td", {}, a.summary),
      el("td", {}, badge(a.state)),
      el("td", {}, el("div", { class: "row" },
        actions(label, a.state, `/api/v1/sites/${encodeURIComponent(a.site)}/alerts/${a.alert}`, a.pending))));
  });
  const headers = ["Raised", "Kind", "What", "State", ""];
  return table(oneSite ? headers : ["Site", ...headers], rows, whenEmpty);
}

/** The centre's alerts about sites. */
export function centreAlertTable(alerts, whenEmpty, oneSite = false) {
  const rows = alerts.map((a) => {
    const state = centreState(a);
    return el("tr", { "data-centre-alert": a.id },
      oneSite ? null : el("td", {}, el("a", { href: `#/sites/${encodeURIComponent(a.site)}` }, a.site)),
      el("td", {}, when(a.raised_ms)),
      el("td", {}, a.kind),
      el("td", {}, a.occurrences > 1 ? `${a.detail} (${a.occurrences} times)` : a.detail),
      el("td", {}, badge(state)),
      el("td", {}, el("div", { class: "row" }, actions(`centre alert ${a.id}`, state, `/api/v1/alerts/${a.id}`, null))));
  });
  const headers = ["Raised", "Kind", "What", "State", ""];
  return table(oneSite ? headers : ["Site", ...headers], rows, whenEmpty);
}

export async function alertsPage(params) {
  const generation = renderingNow();
  const state = params.get("state") === "all" ? "all" : "unresolved";
  const data = await api("GET", `/api/v1/alerts?state=${state}`);
  const select = el("select", { id: "alert-state", onchange: (e) => { location.hash = `#/alerts?state=${e.target.value}`; } },
    ["unresolved", "all"].map((s) => el("option", { value: s, selected: s === state }, s)));
  page("Alerts",
    el("label", { for: "alert-state" }, "Show", select),
    el("h2", {}, "At the sites"),
    siteAlertTable(data.site, state === "all"
      ? "No site has raised an alert yet."
      : "No site alert needs attention. Alerts raised at the sites appear here as their logs reach the centre."),
    el("h2", {}, "About the sites"),
    centreAlertTable(data.centre, state === "all"
      ? "The centre has raised no alert about a site yet."
      : "Every site reports on time, with a right clock and a log the witness could co-sign."));
  // New alerts, and the sites carrying out what was asked, show as they
  // come; not under someone typing a note.
  const tick = () => {
    if (!stillCurrent(generation)) return;
    if (document.activeElement && document.activeElement.tagName === "INPUT") refreshLater(tick, REFRESH_MS);
    else route(true);
  };
  refreshLater(tick, REFRESH_MS);
}
