// The site's settings: cameras (with zones and masks) and opening hours.

import { badge, el, empty, field, page, roomList, say, svg, table } from "../ui.js";
import { api, ApiError } from "../api.js";

export async function settingsPage() {
  const [cams, hours] = await Promise.all([
    api("GET", "/api/v1/settings/cameras"),
    api("GET", "/api/v1/settings/hours"),
  ]);
  const rows = cams.cameras.map((c) => el("tr", { "data-settings-camera": c.id },
    el("td", {}, el("a", { href: `#/settings/cameras/${encodeURIComponent(c.id)}` }, c.id)),
    el("td", {}, c.name), el("td", {}, c.url),
    el("td", {}, c.enabled ? "" : badge("offline", "disabled")),
    el("td", {}, c.analysis.enabled
      ? `${c.analysis.zones.length} zones, ${c.analysis.masks.length} masks` : "no analysis")));
  page("Settings",
    el("h2", {}, "Cameras"),
    table(["Id", "Name", "Stream", "", "Analysis"], rows,
      "No cameras yet: add one below, test its stream, and save it to start recording."),
    el("p", {}, el("a", { href: "#/settings/cameras/new" }, "Add a camera")),
    el("h2", {}, "Opening hours"),
    hoursForm(hours),
    el("p", { class: "muted" }, "Changes are written to the configuration file (checked first, comments kept), "
      + "logged, and applied by restarting the recording pipeline: every camera reconnects within seconds."));
}

/** After a change the server restarts its pipeline: wait until it answers. */
async function waitForRestart() {
  say("Saved. The recorder is restarting…");
  await new Promise((r) => setTimeout(r, 1000));
  for (let i = 0; i < 60; i += 1) {
    try {
      const r = await fetch("/api/v1/health");
      if (r.ok) {
        say("Saved and applied.");
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  say("Saved, but the server has not come back yet; see its log.", true);
}

function hoursForm(h) {
  const tz = el("input", { value: h.time_zone || "", placeholder: "Europe/Berlin", autocomplete: "off" });
  const days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const names = { mon: "Monday", tue: "Tuesday", wed: "Wednesday", thu: "Thursday", fri: "Friday", sat: "Saturday", sun: "Sunday" };
  const inputs = Object.fromEntries(days.map((d) => [d, el("input", {
    value: h[d] || "", placeholder: "08:00-17:00 or closed", autocomplete: "off",
  })]));
  const closed = el("input", { value: h.closed.join(", "), placeholder: "2026-12-25, …", autocomplete: "off" });
  return el("form", { class: "inline", "data-hours": "", onsubmit: async (e) => {
    e.preventDefault();
    const body = { time_zone: tz.value.trim() || null, closed: roomList(closed.value) };
    for (const d of days) body[d] = inputs[d].value.trim() || null;
    try {
      await api("PUT", "/api/v1/settings/hours", body);
      await waitForRestart();
    } catch (err) {
      say(err.message, true);
    }
  } },
  field("hours-tz", "Time zone (empty: never closed)", tz),
  days.map((d) => field(`hours-${d}`, names[d], inputs[d])),
  field("hours-closed", "Closed days", closed),
  el("button", { type: "submit" }, "Save the hours"));
}

const pointsText = (points) => points.map(([x, y]) => `${x.toFixed(3)},${y.toFixed(3)}`).join(" ");

function parsePoints(text) {
  return text.trim().split(/\s+/).filter(Boolean).map((p) => p.split(",").map(Number));
}

export async function cameraSettingsPage(id) {
  const isNew = id === "new";
  const all = await api("GET", "/api/v1/settings/cameras");
  const c = isNew
    ? { id: "", name: "", url: "rtsp://", transport: "tcp", enabled: true, segment_seconds: 60,
      analysis: { enabled: true, fps: 5, sensitivity: 0.5, min_area: 0.002, merge_seconds: 3, tamper: true, zones: [], masks: [] } }
    : all.cameras.find((x) => x.id === id);
  if (!c) throw new ApiError(404, `No camera ${id}.`);
  const input = (v, attrs = {}) => el("input", { value: v ?? "", autocomplete: "off", ...attrs });
  const f = {
    id: input(c.id, { readonly: !isNew, pattern: "[a-z0-9-]+" }),
    name: input(c.name),
    url: input(c.url, { size: 40 }),
    username: input(c.username),
    passwordEnv: input(c.password_env, { placeholder: "CAMERA_PASSWORD" }),
    transport: el("select", {}, ["tcp", "udp"].map((t) => el("option", { value: t, selected: t === c.transport }, t))),
    enabled: el("input", { type: "checkbox", checked: c.enabled }),
    segment: input(c.segment_seconds, { type: "number", min: 1, max: 3600 }),
    retainDays: input(c.retain_days, { type: "number", min: 1 }),
    analysis: el("input", { type: "checkbox", checked: c.analysis.enabled }),
    fps: input(c.analysis.fps, { type: "number", min: 1, max: 30 }),
    sensitivity: input(c.analysis.sensitivity, { type: "number", min: 0, max: 1, step: 0.05 }),
    tamper: el("input", { type: "checkbox", checked: c.analysis.tamper }),
  };

  // Regions: one row each (kind, name, corners as text, editable by
  // keyboard); clicks on the picture add corners to the selected row.
  const regions = [
    ...c.analysis.zones.map((z) => ({ kind: "zone", name: z.name, points: z.points })),
    ...c.analysis.masks.map((m) => ({ kind: "mask", name: m.name, points: m.points })),
  ];
  let selected = null;
  const overlay = svg("svg", { viewBox: "0 0 1 1", preserveAspectRatio: "none", class: "regions", "aria-hidden": "true" });
  const list = el("tbody", {});
  const regionsTable = el("table", { class: "regions" },
    el("thead", {}, el("tr", {}, ["Kind", "Name", "Corners", ""].map((h) => el("th", { scope: "col" }, h)))), list);
  const noRegions = empty("No zones or masks: motion counts anywhere in the picture. "
    + "Add a zone to watch only part of it, or a mask to ignore a part (a clock, a window).");
  const redraw = () => {
    overlay.replaceChildren();
    regions.forEach((r, i) => {
      const pts = r.points.map(([x, y]) => `${x},${y}`).join(" ");
      overlay.append(svg(r.points.length >= 3 ? "polygon" : "polyline", {
        points: pts, class: `${r.kind}${i === selected ? " selected" : ""}`,
      }));
    });
    regionsTable.hidden = !regions.length;
    noRegions.hidden = regions.length > 0;
    list.replaceChildren(...regions.map((r, i) => {
      const name = el("input", { value: r.name, "aria-label": `Name of region ${i + 1}`, size: 12 });
      name.addEventListener("change", () => { r.name = name.value; });
      const pts = el("input", { value: pointsText(r.points), "aria-label": `Corners of region ${i + 1}`, size: 36 });
      pts.addEventListener("change", () => { r.points = parsePoints(pts.value); redraw(); });
      return el("tr", { "data-region": i, class: i === selected ? "selected" : "" },
        el("td", { "data-label": "Kind" }, r.kind), el("td", { "data-label": "Name" }, name),
        el("td", { "data-label": "Corners" }, pts),
        el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => { selected = i; redraw(); } },
          i === selected ? "Drawing" : "Draw"),
        " ",
        el("button", { type: "button", class: "secondary", onclick: () => {
          regions.splice(i, 1);
          selected = null;
          redraw();
        } }, "Remove")));
    }));
  };
  const picture = el("div", { class: "picture" });
  if (!isNew) {
    const img = el("img", { alt: `Latest picture of ${c.name}`, src: `/api/v1/cameras/${encodeURIComponent(c.id)}/snapshot.jpg?at=${Date.now()}` });
    img.addEventListener("error", () => img.replaceWith(el("div", { class: "thumb none" }, "No picture yet")));
    picture.append(img, overlay);
    overlay.addEventListener("click", (e) => {
      if (selected === null) {
        say("Choose “Add a zone” or “Add a mask” (or Draw on a region) first.", true);
        return;
      }
      const box = overlay.getBoundingClientRect();
      const x = Math.min(1, Math.max(0, (e.clientX - box.left) / box.width));
      const y = Math.min(1, Math.max(0, (e.clientY - box.top) / box.height));
      regions[selected].points.push([Number(x.toFixed(4)), Number(y.toFixed(4))]);
      redraw();
    });
  }
  const addRegion = (kind) => {
    regions.push({ kind, name: kind === "zone" ? `zone ${regions.filter((r) => r.kind === "zone").length + 1}` : "", points: [] });
    selected = regions.length - 1;
    redraw();
  };
  redraw();

  const probePassword = el("input", { type: "password", autocomplete: "off" });
  const probeResult = el("p", { class: "muted", role: "status", "data-probe": "" });
  const probe = el("button", { type: "button", class: "secondary", onclick: async () => {
    probeResult.textContent = "Connecting…";
    try {
      const r = await api("POST", "/api/v1/settings/probe", {
        url: f.url.value.trim(), username: f.username.value.trim() || undefined,
        password: probePassword.value || undefined, transport: f.transport.value,
      });
      probeResult.textContent = `${r.codec} ${r.width}×${r.height}, ${r.fps} fps, `
        + `key frame every ${r.gop_frames ?? "?"} frames, ${Math.round(r.bitrate_bps / 1000)} kbit/s`;
    } catch (err) {
      probeResult.textContent = `Cannot use this stream: ${err.message}`;
    }
  } }, "Test the stream");

  const num = (input) => (input.value === "" ? null : Number(input.value));
  const save = async (e) => {
    e.preventDefault();
    const body = {
      id: f.id.value.trim(), name: f.name.value.trim(), url: f.url.value.trim(),
      username: f.username.value.trim() || null, password_env: f.passwordEnv.value.trim() || null,
      transport: f.transport.value, enabled: f.enabled.checked, segment_seconds: num(f.segment) ?? 60,
      retain_days: num(f.retainDays), retain_bytes: c.retain_bytes ?? null, analysis_url: c.analysis_url ?? null,
      analysis: {
        enabled: f.analysis.checked, fps: num(f.fps) ?? 5, sensitivity: num(f.sensitivity) ?? 0.5,
        min_area: c.analysis.min_area, merge_seconds: c.analysis.merge_seconds, tamper: f.tamper.checked,
        zones: regions.filter((r) => r.kind === "zone").map((r) => ({ name: r.name, points: r.points })),
        masks: regions.filter((r) => r.kind === "mask").map((r) => ({ name: r.name, points: r.points })),
      },
    };
    try {
      await api("PUT", `/api/v1/settings/cameras/${encodeURIComponent(body.id)}`, body);
      await waitForRestart();
      if (isNew) location.hash = `#/settings/cameras/${encodeURIComponent(body.id)}`;
    } catch (err) {
      say(err.message, true);
    }
  };
  page(isNew ? "Add a camera" : `Camera ${c.id}`,
    el("form", { onsubmit: save, "data-camera-form": "" },
      el("div", { class: "row" }, field("cam-id", "Id", f.id), field("cam-name", "Name", f.name),
        field("cam-url", "Stream URL (no password)", f.url), field("cam-transport", "Transport", f.transport)),
      el("div", { class: "row" }, field("cam-username", "User name", f.username),
        field("cam-password-env", "Password variable", f.passwordEnv),
        field("probe-password", "Password (for the test only)", probePassword), probe),
      probeResult,
      el("div", { class: "row" }, field("cam-enabled", "Recording", f.enabled),
        field("cam-segment", "Segment seconds", f.segment), field("cam-retain", "Keep days", f.retainDays)),
      el("h2", {}, "Analysis"),
      el("div", { class: "row" }, field("cam-analysis", "Motion and tamper detection", f.analysis),
        field("cam-fps", "Pictures per second", f.fps), field("cam-sensitivity", "Motion sensitivity", f.sensitivity),
        field("cam-tamper", "Tamper detection", f.tamper)),
      el("h2", {}, "Zones and masks"),
      el("p", { class: "muted" }, "Motion counts only inside zones (none: everywhere) and never inside masks. "
        + "Add one, then click its corners on the picture, or type them as x,y pairs from 0 to 1."),
      picture,
      el("div", { class: "row" },
        el("button", { type: "button", class: "secondary", onclick: () => addRegion("zone") }, "Add a zone"),
        el("button", { type: "button", class: "secondary", onclick: () => addRegion("mask") }, "Add a mask")),
      noRegions,
      regionsTable,
      el("p", {}, el("button", { type: "submit" }, "Save and apply"), " ",
        el("a", { href: "#/settings" }, "Back to the settings"))));
}
