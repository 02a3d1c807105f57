// Camera-to-glass latency of the live view, measured in Debian's chromium
// (playwright-core) against a running site whose camera is a stamp mount of
// tests/support/rtsp_camera.py: every picture carries, in black and white
// blocks, the wall-clock time at which the camera made it. For each frame
// the browser presents (requestVideoFrameCallback) this script draws the
// frame on a canvas, reads the blocks and compares the stamp with the time
// the frame is shown. Camera and browser run on the same machine, so they
// read the same clock. Run by crates/custos/tests/latency.rs.
//
// Each fragment of the live WebSocket starts with a `prft` box: the server's
// wall clock when it sent the frame and the frame's media time. An init
// script notes these and each message's arrival, so the figure splits into
// camera → server sent → browser received → glass.
//
// Prints one JSON line (the last line of stdout) with the figures; exits
// non-zero when too few frames decode or the p95 is over LIMIT_MS.
//
// With MODE=order the camera is a count mount (each picture carries its
// number instead of a time): the script checks that the browser presents
// the pictures in the camera's order — with B-frames the fragments arrive
// in decode order, and only the composition offsets put them right — and
// exits non-zero on any picture shown after a later one, or shown twice.
//
// Environment: CUSTOS_URL, ADMIN_USER, ADMIN_PASSWORD, CAMERA (the camera
// id), FRAMES (samples to take, default 150), WARMUP_MS (frames shown in the
// first WARMUP_MS of playback are not counted, default 1000), LIMIT_MS
// (default 2000), PAUSE_AT_MS (pause the video that long after the
// measurement starts, as a browser's power saving may; default never),
// CHROMIUM (default /usr/bin/chromium).

import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") throw new Error(`${name} is not set`);
  return v;
};
const base = env("CUSTOS_URL");
const camera = env("CAMERA");
const frames = Number(env("FRAMES", "150"));
const warmupMs = Number(env("WARMUP_MS", "1000"));
const limitMs = Number(env("LIMIT_MS", "2000"));
const pauseAtMs = Number(env("PAUSE_AT_MS", "0"));
const mode = env("MODE", "latency");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // The sandbox needs user namespaces, which CI containers often lack.
  args: ["--no-sandbox"],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.addInitScript(noteFragments);

  await page.goto(`${base}/#/login`);
  await page.getByLabel("User").fill(env("ADMIN_USER"));
  await page.getByLabel("Password").fill(env("ADMIN_PASSWORD"));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector("#nav:not([hidden])");
  await page.goto(`${base}/#/live/${encodeURIComponent(camera)}`);
  const selector = `video[data-live="${camera}"]`;
  await page.locator(selector).waitFor();

  const run = await page.evaluate(sample, { selector, frames, warmupMs, pauseAtMs, timeoutMs: 20000 + frames * 200 });
  const s = mode === "order" ? order(run) : summarise(run);
  if (problems.length) s.page_errors = problems;
  // The video element at the end (paused, buffered, playhead).
  s.state = run.state;
  const why = [];
  if (s.decoded < frames) why.push(`only ${s.decoded} of ${frames} frames decoded`);
  if (s.failed > s.decoded) why.push(`the stamp did not decode on most frames (${s.failed} failed)`);
  if (mode === "order") {
    if (s.backwards) why.push(`${s.backwards} pictures shown after a later one`);
    if (s.repeated) why.push(`${s.repeated} pictures shown twice`);
  } else if (s.decoded && s.p95_ms > limitMs) {
    why.push(`p95 ${s.p95_ms} ms is over ${limitMs} ms`);
  }
  if (why.length) {
    failed = true;
    s.failure = why.join("; ");
    s.first_failures = run.failures.slice(0, 5);
  }
  console.log(JSON.stringify(s));
} catch (err) {
  failed = true;
  console.error(`latency measurement failed: ${err.stack || err}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);

/** The order in which the browser showed a count camera's pictures. */
function order(run) {
  const numbers = run.samples.map((x) => x.value);
  let backwards = 0;
  let repeated = 0;
  let consecutive = 0;
  let skipped = 0;
  for (let i = 1; i < numbers.length; i++) {
    const step = numbers[i] - numbers[i - 1];
    if (step < 0) backwards++;
    else if (step === 0) repeated++;
    else if (step === 1) consecutive++;
    else skipped += step - 1;
  }
  return {
    camera,
    mode: "order",
    frames_seen: run.seen,
    decoded: numbers.length,
    failed: run.failures.length,
    first: numbers[0] ?? null,
    last: numbers[numbers.length - 1] ?? null,
    backwards,
    repeated,
    consecutive,
    // Pictures between two shown ones that the browser did not show (a
    // catch-up jump, or a frame it presented between two callbacks).
    skipped,
    frames_not_presented: run.notPresented,
    width: run.width,
    height: run.height,
  };
}

/** Figures from the samples: ms from the camera's stamp to the glass. */
function summarise(run) {
  const q = (xs, p) => {
    if (!xs.length) return null;
    const sorted = [...xs].sort((a, b) => a - b);
    return Math.round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]);
  };
  const glass = run.samples.map((x) => x.glass);
  const callback = run.samples.map((x) => x.callback);
  const sent = run.samples.filter((x) => x.sent !== null).map((x) => x.sent);
  const arrived = run.samples.filter((x) => x.arrived !== null).map((x) => x.arrived);
  const behind = run.samples.map((x) => x.behind * 1000);
  const gaps = [];
  for (let i = 1; i < run.samples.length; i++) gaps.push(run.samples[i].stamp - run.samples[i - 1].stamp);
  return {
    camera,
    frames_seen: run.seen,
    decoded: run.samples.length,
    failed: run.failures.length,
    warmup_frames: run.warmup.length,
    // The first frames after playback started (not in the figures below).
    warmup_first_ms: run.warmup.length ? Math.round(run.warmup[0]) : null,
    warmup_max_ms: q(run.warmup, 1),
    seconds: Math.round(run.seconds * 10) / 10,
    width: run.width,
    height: run.height,
    // Stamp to performance.timeOrigin + expectedDisplayTime.
    median_ms: q(glass, 0.5),
    p95_ms: q(glass, 0.95),
    max_ms: q(glass, 1),
    min_ms: q(glass, 0),
    // Stamp to Date.now() in the frame callback, for comparison.
    callback_median_ms: q(callback, 0.5),
    // Stamp to the server sending the frame (its prft box), and to the
    // frame's WebSocket message arriving in the page.
    sent_median_ms: q(sent, 0.5),
    arrived_median_ms: q(arrived, 0.5),
    arrived_p95_ms: q(arrived, 0.95),
    frames_matched_to_fragments: arrived.length,
    // The playhead behind the end of what Media Source holds.
    buffer_behind_median_ms: q(behind, 0.5),
    buffer_behind_max_ms: q(behind, 1),
    // Stamps between consecutive presented frames (66.7 at 15 fps; more
    // means frames were skipped on the way or not presented).
    stamp_step_median_ms: q(gaps, 0.5),
    stamp_step_max_ms: q(gaps, 1),
    frames_not_presented: run.notPresented,
    clock_skew_ms: run.skew,
  };
}

/**
 * Runs in the page: reads the stamp of every frame the video presents until
 * `frames` have decoded. Layout of the stamp: tests/support/rtsp_camera.py.
 */
function sample({ selector, frames, warmupMs, pauseAtMs, timeoutMs }) {
  const BITS = 40;
  const COLS = 24;
  const START = [1, 0, 1, 1];
  const END = [0, 1, 0];
  const MOD = 2 ** BITS;
  const video = document.querySelector(selector);
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const samples = [];
  const failures = [];
  let seen = 0;
  const warmup = [];
  let playingSince = null;
  let lastPresented = null;
  let notPresented = 0;
  let width = 0;
  let height = 0;
  const t0 = performance.now();
  // What happened to the element while it was measured (a pause, a new
  // source, an error), for the report of a failure; stalls are counted.
  const mediaEvents = [];
  let waits = 0;
  video.addEventListener("waiting", () => { waits++; });
  for (const type of ["pause", "play", "ended", "emptied", "error"]) {
    video.addEventListener(type, () => {
      if (mediaEvents.length < 40) {
        mediaEvents.push({ type, at_s: Math.round((performance.now() - t0) / 100) / 10, media_s: video.currentTime });
      }
    });
  }

  // Averages the luma of the middle half of each block: 1 = white.
  function read(cell) {
    const w = cell * (COLS + 1);
    const h = cell * 5;
    const img = ctx.getImageData(0, 0, w, h).data;
    const bits = [];
    const m = cell / 4;
    for (let i = 0; i < 4 * COLS; i++) {
      const x0 = cell + (i % COLS) * cell + m;
      const y0 = cell + Math.floor(i / COLS) * cell + m;
      let sum = 0;
      let n = 0;
      for (let y = y0; y < y0 + cell / 2; y += 2) {
        for (let x = x0; x < x0 + cell / 2; x += 2) {
          const o = (y * w + x) * 4;
          sum += 0.299 * img[o] + 0.587 * img[o + 1] + 0.114 * img[o + 2];
          n++;
        }
      }
      bits.push(sum / n >= 128 ? 1 : 0);
    }
    const word = bits.slice(0, 2 * COLS);
    const inverted = bits.slice(2 * COLS);
    if (word.some((b, i) => b === inverted[i])) return { error: "a block and its inverse agree", word: word.join("") };
    if (START.some((b, i) => word[i] !== b)) return { error: "no start mark", word: word.join("") };
    if (END.some((b, i) => word[45 + i] !== b)) return { error: "no end mark", word: word.join("") };
    let value = 0;
    let ones = 0;
    for (let i = 0; i < BITS; i++) {
      value = value * 2 + word[4 + i];
      ones += word[4 + i];
    }
    if (ones % 2 !== word[44]) return { error: "parity", word: word.join("") };
    return { value };
  }

  // The fragment (noted by noteFragments) of the frame at `mediaTime` s.
  function fragmentAt(mediaTime) {
    const live = window.__custosLive;
    if (!live || !live.timescale) return null;
    const ticks = Math.round(mediaTime * live.timescale);
    for (const t of [ticks, ticks - 1, ticks + 1]) {
      const f = live.fragments.get(t);
      if (f) return f;
    }
    return null;
  }

  // The stamp is ms mod 2^40: the full time is the one closest to `near`.
  function unwrap(value, near) {
    let t = near - ((((near - value) % MOD) + MOD) % MOD);
    if (near - t > MOD / 2) t += MOD;
    return t;
  }

  return new Promise((resolve) => {
    const state = () => ({
      readyState: video.readyState,
      currentTime: video.currentTime,
      paused: video.paused,
      ended: video.ended,
      error: video.error ? video.error.message || String(video.error.code) : null,
      in_document: document.body.contains(video),
      visibility: document.visibilityState,
      top: Math.round(video.getBoundingClientRect().top),
      events: mediaEvents,
      waits,
      buffered: video.buffered.length ? [video.buffered.start(0), video.buffered.end(video.buffered.length - 1)] : null,
      status: video.parentElement?.querySelector("[role=status]")?.textContent,
    });
    const finish = () => resolve({
      samples, failures, seen, warmup, notPresented, width, height,
      seconds: (performance.now() - t0) / 1000,
      skew: Math.round((Date.now() - (performance.timeOrigin + performance.now())) * 10) / 10,
      state: state(),
    });
    const timer = setTimeout(finish, timeoutMs);
    if (pauseAtMs > 0) setTimeout(() => video.pause(), pauseAtMs);
    const onFrame = (now, meta) => {
      const shown = performance.timeOrigin + meta.expectedDisplayTime;
      const callbackAt = Date.now();
      if (lastPresented !== null && meta.presentedFrames > lastPresented + 1) {
        notPresented += meta.presentedFrames - lastPresented - 1;
      }
      lastPresented = meta.presentedFrames;
      if (playingSince === null) playingSince = now;
      const warming = now - playingSince < warmupMs;
      if (!warming) seen++;
      width = meta.width;
      height = meta.height;
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
      ctx.drawImage(video, 0, 0, width, height);
      const cell = Math.floor(Math.min(64, Math.floor(width / 26)) / 8) * 8;
      const r = read(cell);
      if (warming) {
        if (!r.error) warmup.push(shown - unwrap(r.value, shown));
      } else if (r.error) {
        failures.push({ error: r.error, word: r.word, mediaTime: meta.mediaTime });
      } else {
        const stamp = unwrap(r.value, shown);
        const end = video.buffered.length ? video.buffered.end(video.buffered.length - 1) : meta.mediaTime;
        const fragment = fragmentAt(meta.mediaTime);
        samples.push({
          value: r.value,
          stamp,
          glass: shown - stamp,
          sent: fragment ? fragment.sent - stamp : null,
          arrived: fragment ? fragment.arrived - stamp : null,
          callback: callbackAt - stamp,
          behind: end - video.currentTime,
        });
      }
      if (samples.length >= frames) {
        clearTimeout(timer);
        finish();
        return;
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  });
}

/**
 * Init script: wraps WebSocket so that every binary message of the live
 * stream is noted with its arrival time. The init segment gives the
 * timescale (mdhd); each fragment's prft box gives the server's send time
 * (NTP) and the frame's media time.
 */
function noteFragments() {
  const live = { timescale: 0, fragments: new Map() };
  window.__custosLive = live;
  const find = (bytes, type) => {
    const t = [...type].map((c) => c.charCodeAt(0));
    for (let i = 4; i + 4 <= bytes.length; i++) {
      if (bytes[i] === t[0] && bytes[i + 1] === t[1] && bytes[i + 2] === t[2] && bytes[i + 3] === t[3]) return i + 4;
    }
    return -1;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (m) => {
        const arrived = performance.timeOrigin + performance.now();
        if (!(m.data instanceof ArrayBuffer)) return;
        const bytes = new Uint8Array(m.data);
        const view = new DataView(m.data);
        const mdhd = find(bytes, "mdhd");
        if (mdhd > 0 && find(bytes, "moov") > 0) {
          // version 0: version/flags, creation, modification, timescale
          live.timescale = view.getUint32(mdhd + 12);
          return;
        }
        // prft is the first box: size, type, version/flags, track, NTP, media time
        if (bytes.length < 32 || find(bytes, "prft") !== 8) return;
        const seconds = view.getUint32(16) - 2208988800;
        const sent = seconds * 1000 + (view.getUint32(20) / 2 ** 32) * 1000;
        const media = Number(view.getBigUint64(24));
        if (live.fragments.size > 5000) live.fragments.clear();
        live.fragments.set(media, { sent, arrived });
      });
    }
  };
}
