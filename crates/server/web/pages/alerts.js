// Alerts, and the table the dashboard shows them in.

import { badge, el, page, say, table, when } from "../ui.js";
import { api, can } from "../api.js";
import { route } from "../router.js";

export function alertTable(alerts, whenEmpty) {
  const rows = alerts.map((a) => {
    const note = el("input", { "aria-label": `Note for alert ${a.id}`, placeholder: "note" });
    const act = async (verb) => {
      try {
        await api("POST", `/api/v1/alerts/${a.id}/${verb}`, { note: note.value });
        say(`Alert ${a.id} ${verb === "resolve" ? "resolved" : "acknowledged"}.`);
        route(true);
      } catch (err) {
        say(err.message, true);
      }
    };
    const actions = [];
    if (a.state === "open" && can("acknowledge_alert")) {
      actions.push(note, el("button", { type: "button", onclick: () => act("acknowledge") }, "Acknowledge"));
    }
    if (a.state !== "resolved" && can("resolve_alert")) {
      if (!actions.length) actions.push(note);
      actions.push(el("button", { type: "button", class: "secondary", onclick: () => act("resolve") }, "Resolve"));
    }
    return el(
      "tr",
      { "data-alert": a.id },
      el("td", {}, when(a.raised_ms)),
      el("td", {}, a.kind),
      el("td", {}, a.summary),
      el("td", {}, badge(a.state)),
      el("td", {}, el("div", { class: "row" }, actions)),
    );
  });
  return table(["Raised", "Kind", "What", "State", ""], rows, whenEmpty);
}

export async function alertsPage(params) {
  const state = params.get("state") || "unresolved";
  const data = await api("GET", `/api/v1/alerts?state=${encodeURIComponent(state)}&limit=200`);
  const select = el(
    "select",
    { id: "alert-state", onchange: (e) => { location.hash = `#/alerts?state=${e.target.value}`; } },
    ["unresolved", "open", "acknowledged", "resolved"].map((s) =>
      el("option", { value: s, selected: s === state }, s)),
  );
  const none = {
    unresolved: "No alert needs attention. New alerts appear here as the rules raise them.",
    open: "No open alerts: every alert has been acknowledged or resolved.",
    acknowledged: "No acknowledged alerts waiting to be resolved.",
    resolved: "No resolved alerts yet. Choose “unresolved” to see the ones that need attention.",
  }[state] || "No alerts in this state.";
  page("Alerts", el("label", { for: "alert-state" }, "Show", select), alertTable(data.alerts, none));
}
