// Live view: fMP4 over a WebSocket into Media Source Extensions.

import { cameraShape, el, page } from "../ui.js";
import { api, ApiError, can } from "../api.js";

const liveSockets = new Set();
/** How long a playing video may stand still with media ahead of it. */
const STALL_MS = 700;
/** How much media ahead makes standing still a stall, not a wait. */
const STALL_AHEAD_S = 0.5;

export function stopLive() {
  for (const ws of liveSockets) ws.close();
  liveSockets.clear();
}

/**
 * Plays camera `id` in `video`: fMP4 over a WebSocket into Media Source
 * Extensions. Stays at most ~2 s behind: when the buffer runs ahead of the
 * playhead, it jumps to the live edge; old media is removed.
 */
function playLive(video, id, status) {
  const media = new MediaSource();
  video.src = URL.createObjectURL(media);
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/v1/cameras/${encodeURIComponent(id)}/live`);
  ws.binaryType = "arraybuffer";
  liveSockets.add(ws);
  let buffer = null;
  const queue = [];
  const pump = () => {
    if (!buffer || buffer.updating || !queue.length) return;
    try {
      buffer.appendBuffer(queue.shift());
    } catch (err) {
      status.textContent = `cannot play: ${err.message}`;
      ws.close();
    }
  };
  const keepUp = () => {
    if (!buffer || buffer.updating || !video.buffered.length) return;
    const end = video.buffered.end(video.buffered.length - 1);
    const behind = end - video.currentTime;
    // A live view has no pause button: whatever paused it (a browser's
    // power saving, a source that ran dry) must not freeze the picture.
    if (video.paused && document.visibilityState === "visible" && document.body.contains(video)) {
      video.play().catch(() => {});
    }
    // Far behind (a stall, a hidden tab): jump to the live edge. A little
    // behind (the browser's playout buffer grows after early stalls):
    // play slightly faster until caught up, which nobody notices.
    if (behind > 1.5) video.currentTime = Math.max(0, end - 0.2);
    else video.playbackRate = behind > 0.3 ? 1.25 : 1.0;
    const start = video.buffered.start(0);
    if (video.currentTime - start > 30) buffer.remove(start, video.currentTime - 10);
  };
  // A player that stands still although the media is there (Chromium's
  // sometimes creeps a few milliseconds a second near the live edge of a
  // B-frame stream) is moved on to the live edge, as players of live
  // streams do: less than a fifth of real time played over STALL_MS, with
  // half a second of media ahead, is a stall.
  let mark = { at: Date.now(), time: video.currentTime };
  const watchdog = setInterval(() => {
    const now = Date.now();
    if (!buffer || video.paused || !video.buffered.length || buffer.updating) {
      mark = { at: now, time: video.currentTime };
      return;
    }
    const end = video.buffered.end(video.buffered.length - 1);
    const played = video.currentTime - mark.time;
    if (end - video.currentTime < STALL_AHEAD_S || played > (now - mark.at) / 5000) {
      if (now - mark.at > STALL_MS) mark = { at: now, time: video.currentTime };
      return;
    }
    if (now - mark.at > STALL_MS) {
      video.currentTime = end - 0.2;
      mark = { at: now, time: video.currentTime };
    }
  }, 250);
  let picture = null;
  let pictureUrl = null;
  ws.onmessage = (m) => {
    if (picture) {
      // An MJPEG camera: each message is the next picture.
      if (typeof m.data === "string") return;
      const url = URL.createObjectURL(new Blob([m.data], { type: "image/jpeg" }));
      picture.src = url;
      if (pictureUrl) URL.revokeObjectURL(pictureUrl);
      pictureUrl = url;
      return;
    }
    if (typeof m.data === "string") {
      const info = JSON.parse(m.data);
      if (info.format === "jpeg") {
        // No browser plays MJPEG through Media Source: show the pictures.
        picture = el("img", { class: video.className, "data-live": video.dataset.live,
          alt: video.getAttribute("aria-label") || "Live picture" });
        cameraShape(picture, info.width, info.height);
        video.replaceWith(picture);
        status.textContent = can("list_camera_settings") ? `live · MJPEG · ${info.width}×${info.height}` : "live";
        return;
      }
      const type = `video/mp4; codecs="${info.codec}"`;
      if (!MediaSource.isTypeSupported(type)) {
        status.textContent = `this browser cannot play ${info.codec}`;
        ws.close();
        return;
      }
      const start = () => {
        buffer = media.addSourceBuffer(type);
        buffer.mode = "segments";
        buffer.addEventListener("updateend", () => { keepUp(); pump(); });
        pump();
      };
      if (media.readyState === "open") start();
      else media.addEventListener("sourceopen", start, { once: true });
      cameraShape(video, info.width, info.height);
      status.textContent = can("list_camera_settings") ? `live · ${info.codec} · ${info.width}×${info.height}` : "live";
      return;
    }
    queue.push(m.data);
    if (queue.length > 100) queue.splice(0, queue.length - 100);
    pump();
  };
  ws.onclose = () => {
    clearInterval(watchdog);
    liveSockets.delete(ws);
    if (pictureUrl) URL.revokeObjectURL(pictureUrl);
    // An MJPEG picture goes back to being the video element it replaced.
    if (picture && document.body.contains(picture)) picture.replaceWith(video);
    if (!document.body.contains(video)) return;
    status.textContent = "reconnecting…";
    setTimeout(() => { if (document.body.contains(video)) playLive(video, id, status); }, 2000);
  };
  video.play().catch(() => {});
}

export async function livePage(id) {
  const cams = (await api("GET", "/api/v1/cameras")).cameras;
  const shown = id ? cams.filter((c) => c.id === id) : cams;
  if (id && !shown.length) throw new ApiError(404, `no camera ${id}`);
  const tiles = shown.map((c) => {
    const video = el("video", { muted: true, autoplay: true, playsinline: true, "data-live": c.id,
      "aria-label": `Live view of ${c.name}` });
    video.muted = true;
    // The camera's own shape: a 4:3 camera is not boxed into 16:9.
    cameraShape(video, c.width, c.height);
    const status = el("div", { class: "muted", role: "status" }, "connecting…");
    const tile = el("section", { class: "card live" },
      el("h3", {}, id ? c.name : el("a", { href: `#/live/${encodeURIComponent(c.id)}` }, c.name)),
      video, status);
    return { tile, video, status, id: c.id };
  });
  page(id ? `Live: ${shown[0].name}` : "Live", el("div", { class: id ? "" : "cards" }, tiles.map((t) => t.tile)));
  // A page rendered again keeps no stream for the pictures it replaced.
  stopLive();
  for (const t of tiles) playLive(t.video, t.id, t.status);
}
