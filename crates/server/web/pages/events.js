// Motion and tampering events.

import { el, empty, page, table, when } from "../ui.js";
import { api } from "../api.js";

export async function eventsPage(params) {
  const q = new URLSearchParams({ limit: "100" });
  if (params.get("camera")) q.set("camera", params.get("camera"));
  if (params.get("kind")) q.set("kind", params.get("kind"));
  const data = await api("GET", `/api/v1/events?${q}`);
  const rows = data.events.map((e) =>
    el(
      "tr",
      {},
      el("td", {}, e.snapshot
        ? el("img", { class: "snap", src: e.snapshot, alt: `Snapshot of ${e.kind} on ${e.camera}`, loading: "lazy" })
        : ""),
      el("td", {}, e.camera),
      el("td", {}, e.kind),
      el("td", {}, when(e.start_ms)),
      el("td", {}, e.end_ms ? when(e.end_ms) : "going on"),
      el("td", {}, e.zones.join(", ")),
    ));
  const filtered = params.get("camera") || params.get("kind");
  page(
    "Events",
    table(["", "Camera", "Kind", "Start", "End", "Zones"], rows, filtered
      ? empty("No events match this filter. ", el("a", { href: "#/events" }, "Show every event"), ".")
      : "No events yet. Motion and tampering seen by cameras with analysis on appear here, with a snapshot."),
  );
}
