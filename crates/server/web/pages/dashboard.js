// The dashboard: every camera's picture and state, open alerts, disk use.

import { ago, badge, bytes, cameraShape, el, empty, page, table, when } from "../ui.js";
import { api, can } from "../api.js";
import { refreshLater, renderingNow, route, stillCurrent } from "../router.js";
import { alertTable } from "./alerts.js";

const HORIZON_REASON = {
  retain_days: "age limit",
  retain_bytes: "size limit at the current rate",
  disk: "until the disk is full",
};

function storageSection(storage) {
  const disk = storage.disk
    ? el("p", { "data-disk": "" },
      el("meter", { min: 0, max: 100, low: 80, high: 90, optimum: 0, value: storage.disk.used_percent,
        "aria-label": "Disk use" }),
      ` ${storage.disk.used_percent.toFixed(0)} % used: ${bytes(storage.disk.used_bytes)} of `
        + `${bytes(storage.disk.total_bytes)}, ${bytes(storage.disk.available_bytes)} free`)
    : el("p", {}, "The data disk cannot be read.");
  const rows = storage.cameras.map((c) => el("tr", { "data-storage": c.id },
    el("td", {}, c.id),
    el("td", {}, bytes(c.bytes)),
    el("td", {}, c.oldest_ms ? when(c.oldest_ms) : "nothing yet"),
    el("td", {}, c.bytes_per_day ? `${bytes(c.bytes_per_day)}/day` : ""),
    el("td", {}, c.horizon_days === null
      ? "not known yet"
      : `${c.horizon_days} days (${HORIZON_REASON[c.horizon_set_by] || c.horizon_set_by})`)));
  return [
    el("h2", {}, "Storage"),
    disk,
    table(["Camera", "Kept", "Oldest footage", "Written", "Retention horizon"], rows,
      can("put_camera_settings") ? ["No camera records yet: ", el("a", { href: "#/settings/cameras/new" }, "add a camera"), "."]
        : "No camera records yet; an admin adds cameras in the settings."),
  ];
}

function thumbnail(c) {
  // The time in the address defeats caching; the server logs the view.
  const img = el("img", {
    class: "thumb", alt: `Latest picture of ${c.name}`, width: 320,
    height: c.width && c.height ? Math.round((320 * c.height) / c.width) : 180,
    src: `/api/v1/cameras/${encodeURIComponent(c.id)}/snapshot.jpg?at=${Date.now()}`,
  });
  cameraShape(img, c.width, c.height);
  img.addEventListener("error", () => {
    const none = el("div", { class: "thumb none" }, "No picture yet");
    cameraShape(none, c.width, c.height);
    img.replaceWith(none);
  });
  return el("a", { href: `#/live/${encodeURIComponent(c.id)}`, "aria-label": `Watch ${c.name} live` }, img);
}

/** Pictures stored and dropped since the recorder started, with reasons. */
function pictureCounts(r) {
  const d = r.pictures_dropped || {};
  const reasons = [
    ["clock_jump", "clock jumps"], ["write_error", "disk errors"],
    ["lost_in_transit", "lost on the network"], ["frame_too_large", "too large"],
  ].filter(([k]) => d[k] > 0).map(([k, words]) => `${d[k]} ${words}`);
  const lost = reasons.length ? `; lost ${reasons.join(", ")}` : "; none lost";
  return el("div", { class: reasons.length ? "warn" : "muted", "data-pictures": "" },
    `${r.pictures_stored} pictures stored${lost}`);
}

export async function dashboard() {
  const [cams, alerts, storage] = await Promise.all([
    api("GET", "/api/v1/cameras"),
    api("GET", "/api/v1/alerts?state=unresolved&limit=50"),
    api("GET", "/api/v1/storage"),
  ]);
  const cards = cams.cameras.map((c) => {
    const state = c.tamper ? "tampered" : c.state;
    return el(
      "section",
      { class: "card", "data-camera": c.id, "aria-label": `Camera ${c.name}` },
      thumbnail(c),
      el("h3", {}, c.name, " ", badge(state, c.tamper ? c.tamper : c.state)),
      // Stream details and analysis counters are for whoever runs the
      // site; a guard needs the picture and whether it is recording.
      can("list_camera_settings")
        ? el("div", { class: "muted", "data-stream": "" }, `${c.id} · ${c.codec || "no stream yet"}`,
          c.width ? ` · ${c.width}×${c.height}` : "")
        : null,
      el("div", { class: "muted" }, `last frame ${ago(c.last_frame_ms)}`),
      c.error ? el("div", { class: "muted" }, c.error) : null,
      // Everyone sees that recording is failing; pictures are being lost.
      c.recording_error
        ? el("div", { class: "warn", role: "alert", "data-recording-error": "" },
          `Recording is failing: ${c.recording_error}`)
        : null,
      c.recording && can("list_camera_settings") ? pictureCounts(c.recording) : null,
      c.analysis && can("list_camera_settings")
        ? el("div", { class: "muted", "data-analysis": "" },
          `analysed ${c.analysis.frames_analysed}, dropped ${c.analysis.frames_dropped}`)
        : null,
      el("div", { class: "row" },
        el("a", { href: `#/live/${encodeURIComponent(c.id)}` }, "Live"),
        can("get_video")
          ? el("a", { href: `#/playback/${encodeURIComponent(c.id)}` }, "Playback") : null,
        el("a", { href: `#/events?camera=${encodeURIComponent(c.id)}` }, "Events")),
    );
  });
  page(
    "Dashboard",
    el("h2", {}, "Cameras"),
    cards.length ? el("div", { class: "cards" }, cards)
      : can("put_camera_settings") ? empty("No cameras yet: ", el("a", { href: "#/settings/cameras/new" }, "add the first camera"), ".")
        : empty("No cameras yet; an admin adds them in the settings."),
    el("h2", {}, `Open alerts (${alerts.alerts.length})`),
    alertTable(alerts.alerts, "Nothing needs attention: no alert is open. New alerts appear here as they are raised."),
    ...storageSection(storage),
  );
  // Refresh every 5 s, but not under someone typing a note, and only while
  // the dashboard is still the page asked for.
  const generation = renderingNow();
  const tick = () => {
    if (!stillCurrent(generation)) return;
    if (document.activeElement && document.activeElement.tagName === "INPUT") {
      refreshLater(tick, 5000);
    } else {
      route(true);
    }
  };
  refreshLater(tick, 5000);
}
