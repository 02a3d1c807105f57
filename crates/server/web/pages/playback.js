// Playback: a camera's timeline, and downloads of a span.

import { bytes, count, duration, el, field, page, say, svg, when } from "../ui.js";
import { api, ApiError, can, runJob } from "../api.js";
import { route } from "../router.js";

/**
 * The window playback opens on: what is recorded (the last day of it at
 * most), with a little room on each side, so the footage fills the
 * timeline instead of being a sliver at its edge. Nothing recorded: the
 * last hour.
 */
function recordedWindow(recorded, now) {
  const first = recorded.first_start_ms;
  const last = recorded.last_end_ms === null || recorded.last_end_ms === undefined
    ? null : Math.min(recorded.last_end_ms, now);
  if (first === null || first === undefined || last === null || last <= first) {
    return { start: now - 3600 * 1000, end: now };
  }
  const from = Math.max(first, last - 24 * 3600 * 1000);
  const pad = Math.max(1000, (last - from) * 0.03);
  // A camera recording now: up to now, where its footage keeps growing.
  const end = now - last < 60 * 1000 ? now : last + pad;
  return { start: Math.max(from - pad, end - 24 * 3600 * 1000), end };
}

/**
 * A camera's timeline: recorded spans, gaps, analysis events and custody
 * events over a window (`span` ms ending at `end`; by default what is
 * recorded); click to play from that moment, or step between events.
 */
export async function playbackPage(id, params) {
  if (!can("get_video")) throw new ApiError(403, "Playback is not for your role.");
  const cam = encodeURIComponent(id);
  const camera = await api("GET", `/api/v1/cameras/${cam}`);
  const opened = recordedWindow(camera.recorded, Date.now());
  const end = Number(params.get("end")) || (params.get("span") ? Date.now() : opened.end);
  const span = Number(params.get("span")) || opened.end - opened.start;
  const start = end - span;
  const [rec, events, custody] = await Promise.all([
    api("GET", `/api/v1/cameras/${cam}/recordings?start_ms=${start}&end_ms=${end}`),
    api("GET", `/api/v1/events?camera=${cam}&start_ms=${start}&end_ms=${end}&limit=1000`),
    can("list_custody")
      ? api("GET", `/api/v1/custody?start_ms=${start}&end_ms=${end}&limit=1000`)
      : Promise.resolve({ events: [] }),
  ]);
  const ours = custody.events.filter((e) => e.cameras.some((c) => c.camera === id));
  const width = 1000;
  const x = (ms) => ((ms - start) / span) * width;
  const line = svg("svg", {
    viewBox: `0 0 ${width} 60`, class: "timeline", role: "img",
    "aria-label": `Timeline of camera ${camera.name}`, "data-start-ms": start, "data-end-ms": end,
  });
  line.append(svg("rect", { x: 0, y: 10, width, height: 24, class: "gap" }));
  for (const seg of rec.segments) {
    const a = Math.max(seg.start_ms, start);
    const b = Math.min(seg.end_ms, end);
    if (b > a) line.append(svg("rect", { x: x(a), y: 10, width: Math.max(1, x(b) - x(a)), height: 24, class: "recorded" }));
    // Above it, whether the segment is copied off site yet.
    if (b > a && seg.escrow) {
      const cls = seg.escrow.state === "verified" ? "escrowed" : "escrow-pending";
      line.append(svg("rect", { x: x(a), y: 4, width: Math.max(1, x(b) - x(a)), height: 4, class: cls, "data-segment": seg.id }));
    }
  }
  const escrowed = rec.segments.filter((g) => g.escrow && g.escrow.state === "verified").length;
  const pending = rec.segments.filter((g) => g.escrow && g.escrow.state === "pending").length;
  const marks = [];
  for (const e of events.events) {
    const cls = e.kind === "motion" ? "motion" : "tamper";
    line.append(svg("rect", { x: x(Math.max(e.start_ms, start)), y: 36, width: Math.max(2, x(Math.min(e.end_ms || end, end)) - x(Math.max(e.start_ms, start))), height: 8, class: cls }));
    marks.push({ at: e.start_ms, what: e.kind });
  }
  for (const c of ours) {
    line.append(svg("rect", { x: x(c.at_ms) - 1, y: 46, width: 3, height: 12, class: "custody" }));
    marks.push({ at: c.at_ms, what: `${c.action} ${c.barcode}` });
  }
  marks.sort((a, b) => a.at - b.at);
  const cursor = svg("rect", { x: -10, y: 4, width: 2, height: 56, class: "cursor" });
  line.append(cursor);

  const video = el("video", { controls: true, playsinline: true, muted: true, "data-playback": id });
  video.muted = true;
  const status = el("p", { class: "muted", role: "status" }, "Click the timeline to play from that moment.");
  let fileStart = null;
  const playFrom = async (ms) => {
    const from = Math.max(start, Math.min(ms, end - 1000));
    const url = `/api/v1/cameras/${cam}/video.mp4?start_ms=${Math.round(from)}&end_ms=${Math.round(Math.min(from + 10 * 60 * 1000, Date.now()))}`;
    // The file starts at the key frame before `from`; HEAD says where.
    const head = await fetch(url, { method: "HEAD", credentials: "same-origin" });
    if (!head.ok) {
      status.textContent = head.status === 404 ? `Nothing recorded at ${when(from)}.` : `Cannot play (${head.status}).`;
      return;
    }
    fileStart = Number(head.headers.get("X-Custos-Start-Ms"));
    if (!fileStart) {
      status.textContent = "The server did not say where the video starts.";
      return;
    }
    video.src = url;
    video.addEventListener("loadedmetadata", () => {
      video.currentTime = Math.max(0, (from - fileStart) / 1000);
      video.play().catch(() => {});
    }, { once: true });
    status.textContent = `Playing from ${when(from)}.`;
    downloads.setFrom(from);
  };
  video.addEventListener("timeupdate", () => {
    if (fileStart === null) return;
    const wall = fileStart + video.currentTime * 1000;
    video.dataset.wallMs = String(Math.round(wall));
    cursor.setAttribute("x", x(wall));
  });
  line.addEventListener("click", (e) => {
    const box = line.getBoundingClientRect();
    playFrom(start + ((e.clientX - box.left) / box.width) * span);
  });
  const step = (dir) => {
    const now = fileStart === null ? start : fileStart + video.currentTime * 1000;
    const next = dir > 0 ? marks.find((m) => m.at > now + 1000) : [...marks].reverse().find((m) => m.at < now - 1000);
    if (next) playFrom(next.at - 2000);
    else status.textContent = dir > 0 ? "No later event." : "No earlier event.";
  };
  const zoom = (ms) => { location.hash = `#/playback/${cam}?span=${ms}&end=${end}`; };
  // The download starts, until something plays, at what exists: the last
  // minutes recorded in the window, not a moment with nothing in it.
  const inView = rec.segments.map((g) => [Math.max(g.start_ms, start), Math.min(g.end_ms, end)]).filter(([a, b]) => b > a);
  const recordedFrom = inView.length ? Math.min(...inView.map(([a]) => a)) : null;
  const recordedTo = inView.length ? Math.max(...inView.map(([, b]) => b)) : null;
  const downloads = downloadForm(id, () => {
    if (fileStart !== null) return fileStart + video.currentTime * 1000;
    return recordedTo === null ? start : Math.max(recordedFrom, recordedTo - 5 * 60 * 1000);
  }, recordedTo !== null);
  if (recordedTo === null) status.textContent = "Nothing is recorded in this window; choose a longer one.";
  page(
    `Playback: ${camera.name}`,
    el("div", { class: "row" },
      el("button", { type: "button", class: "secondary", onclick: () => {
        const all = `#/playback/${cam}`;
        if (location.hash === all) route();
        else location.hash = all;
      } }, "Recorded"),
      el("button", { type: "button", class: "secondary", onclick: () => zoom(24 * 3600 * 1000) }, "24 h"),
      el("button", { type: "button", class: "secondary", onclick: () => zoom(3600 * 1000) }, "1 h"),
      el("button", { type: "button", class: "secondary", onclick: () => zoom(600 * 1000) }, "10 min"),
      el("button", { type: "button", onclick: () => step(-1) }, "Previous event"),
      el("button", { type: "button", onclick: () => step(1) }, "Next event")),
    el("p", { class: "muted", "data-window": "" }, `${when(start)} – ${when(end)} (${duration(span)}) · `
      + `${count(rec.segments.length, "segment")}, ${count(rec.gaps.length, "gap")}, `
      + `${count(events.events.length, "event")}, ${count(ours.length, "custody event")}`
      + (escrowed || pending ? `; off site: ${count(escrowed, "segment")} copied, ${pending} waiting` : "")),
    line,
    el("ul", { class: "legend muted" },
      el("li", { class: "recorded" }, "recorded"), el("li", { class: "gap" }, "not recorded"),
      el("li", { class: "motion" }, "motion"), el("li", { class: "tamper" }, "tampering"),
      el("li", { class: "custody" }, "custody event"),
      ...(escrowed || pending
        ? [el("li", { class: "escrowed" }, "copied off site"), el("li", { class: "escrow-pending" }, "waiting to be copied off site")]
        : [])),
    video,
    status,
    downloads,
  );
}

/** "2026-11-29T08:15" in local time, as datetime-local inputs want it. */
function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 19);
}

/**
 * Download the span from a moment: as MP4 (every role that may watch), or
 * as an evidence bundle that a third party can verify (for the roles that
 * may create exports).
 * Both are logged by the server before a byte is sent.
 */
function downloadForm(id, playing, anything = true) {
  const cam = encodeURIComponent(id);
  const from = el("input", { type: "datetime-local", step: 1, required: true });
  const minutes = el("input", { type: "number", min: 1, max: 360, value: 5, required: true });
  const reason = el("input", { autocomplete: "off", placeholder: "why (kept in the log)" });
  const result = el("p", { class: "muted", role: "status" });
  const span = () => {
    const startMs = new Date(from.value).getTime();
    const endMs = startMs + Number(minutes.value) * 60000;
    if (!Number.isFinite(startMs) || !(endMs > startMs)) throw new Error("Choose a start and a length.");
    return { startMs, endMs };
  };
  const fromNow = el("button", { type: "button", class: "secondary", onclick: () => {
    from.value = localInput(playing());
  } }, "From the playing moment");
  from.value = localInput(playing());
  const mp4 = el("button", { type: "button", onclick: () => {
    try {
      const { startMs, endMs } = span();
      const a = el("a", {
        href: `/api/v1/cameras/${cam}/video.mp4?start_ms=${startMs}&end_ms=${endMs}&download=true`,
        download: `${id}-${startMs}.mp4`,
      });
      document.body.append(a);
      a.click();
      a.remove();
      result.textContent = `MP4 of ${when(startMs)} – ${when(endMs)} requested; the download is logged.`;
    } catch (err) {
      say(err.message, true);
    }
  } }, "Download MP4");
  const bundle = el("button", { type: "button", onclick: async () => {
    try {
      const { startMs, endMs: asked } = span();
      if (!reason.value.trim()) throw new Error("An evidence bundle needs a reason.");
      // A bundle holds sealed segments only: a span reaching into the
      // segment still being written ends where the sealed footage does,
      // rather than claiming footage it cannot contain.
      const rec = await api("GET", `/api/v1/cameras/${cam}/recordings?start_ms=${startMs}&end_ms=${asked}`);
      const sealedEnd = Math.max(0, ...rec.segments.filter((g) => g.state === "sealed").map((g) => g.end_ms));
      if (sealedEnd <= startMs) throw new Error("Nothing in this span is sealed yet; try again in a minute.");
      const endMs = Math.min(asked, sealedEnd);
      result.textContent = "Building the bundle…";
      // Built as a job: a day of footage takes a while, and the page says so.
      const made = await runJob("POST", "/api/v1/exports", {
        camera: id, start_ms: startMs, end_ms: endMs, reason: reason.value.trim(),
      }, (job) => {
        if (job.state === "running") result.textContent = `Building the bundle… (${Math.round((Date.now() - job.started_ms) / 1000)} s)`;
      });
      result.replaceChildren(`Bundle ${made.id}: ${when(made.start_ms)} – ${when(made.end_ms)}, ${made.segments} segments, `
        + `${bytes(made.bytes)}, log size ${made.tree_size}. `,
        el("a", { href: made.download, download: `${made.id}.tar`, "data-bundle": made.id }, "Download the bundle"));
    } catch (err) {
      result.textContent = "";
      say(err.message, true);
    }
  } }, "Evidence bundle");
  const section = el("section", { "aria-label": "Download" },
    el("h2", {}, "Download"),
    el("form", { class: "inline", onsubmit: (e) => e.preventDefault() },
      field("dl-from", "From", from), fromNow, field("dl-minutes", "Minutes", minutes),
      can("create_export") ? field("dl-reason", "Reason (bundle)", reason) : null,
      mp4, can("create_export") ? bundle : null),
    result);
  if (!anything) result.textContent = "Nothing is recorded in this window to download.";
  section.setFrom = (ms) => { from.value = localInput(ms); };
  return section;
}
