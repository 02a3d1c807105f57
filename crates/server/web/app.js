// The Custos web app: plain modules, no build step, no third-party code.
// Every page reads the same JSON API as other clients; text from the API
// is always set as text (never as HTML), so names and titles cannot inject.

const session = { user: null, role: null, csrf: null };
const main = document.getElementById("main");
const message = document.getElementById("message");
let refreshTimer = null;

// ---------------------------------------------------------------- helpers

/** Builds an element: el("a", {href: "#/"}, "text", child, …). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  // Wide enough for its hint: a cut-off placeholder helps no one.
  if (tag === "input" && attrs.placeholder && !attrs.size) node.size = Math.max(20, attrs.placeholder.length + 3);
  return node;
}

function say(text, isError = false) {
  message.textContent = text || "";
  message.className = isError ? "error" : "";
}

function when(ms) {
  if (ms === null || ms === undefined) return "";
  const d = new Date(ms);
  return d.toLocaleString();
}

/** A time of day, with the date when it is not today: "14:32" or "3 Dec, 14:32"
 * (with `seconds`, "14:32:05"). */
function clock(ms, seconds = false) {
  const d = new Date(ms);
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined });
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.toLocaleDateString([], { day: "numeric", month: "short" })}, ${time}`;
}

/** A length of time as people say it: "45 s", "5 min", "1 h 20 min", "3 days". */
function duration(ms) {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  return `${Math.round(h / 24)} days`;
}

/** "1 event", "2 events". */
function count(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

class ApiError extends Error {
  constructor(status, text, data = null) {
    super(text);
    this.status = status;
    this.data = data;
  }
}

/** Calls the API; state-changing calls carry the session's CSRF token. */
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session.csrf) headers["X-CSRF-Token"] = session.csrf;
  const r = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (r.status === 401 && path !== "/api/v1/login") {
    signedOut();
    throw new ApiError(401, "Please sign in.");
  }
  if (!r.ok) throw new ApiError(r.status, (data && data.error) || `${r.status} ${r.statusText}`, data);
  return data;
}

function may(...roles) {
  return roles.includes(session.role);
}

function page(title, ...children) {
  main.replaceChildren(el("h1", {}, title), ...children);
  document.title = `${title} · Custos`;
}

function badge(kind, text) {
  return el("span", { class: `badge ${kind}` }, text ?? kind);
}

/** What an empty list says instead of bare column names: what is missing
 * and what to do next. */
function empty(...children) {
  return el("p", { class: "empty" }, ...children);
}

/**
 * A table with its column names, or `whenEmpty` when there are no rows.
 * Each cell carries its column's name, which narrow screens show beside
 * it (they lay rows out as blocks, without the header row).
 */
function table(headers, rows, whenEmpty, attrs = {}) {
  if (!rows.length) return whenEmpty instanceof Node ? whenEmpty : empty(whenEmpty);
  for (const row of rows) {
    [...row.children].forEach((cell, i) => {
      if (headers[i]) cell.dataset.label = headers[i];
    });
  }
  return el("table", attrs,
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
}

// ---------------------------------------------------------------- session

function signedOut() {
  session.user = session.role = session.csrf = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  if (location.hash !== "#/login") location.hash = "#/login";
  else route();
}

function signedIn(info) {
  session.user = info.user;
  session.role = info.role;
  session.csrf = info.csrf_token || null;
  document.getElementById("who").textContent = `${info.user} (${info.role})`;
  document.getElementById("logout").hidden = false;
  const nav = document.getElementById("nav");
  nav.hidden = false;
  for (const a of nav.querySelectorAll("a[data-roles]")) {
    a.hidden = !a.dataset.roles.split(" ").includes(info.role);
  }
}

function loginPage() {
  const user = el("input", { id: "user", name: "user", autocomplete: "username", required: true });
  const pass = el("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password", required: true,
  });
  const form = el(
    "form",
    { class: "login", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const info = await api("POST", "/api/v1/login", { user: user.value, password: pass.value });
        signedIn(info);
        say("");
        location.hash = "#/";
      } catch (err) {
        const until = err.data && err.data.locked_until_ms;
        say(until
          ? `Too many failed sign-ins: this account is locked until ${clock(until)} `
            + `(${duration(until - Date.now())} from now). An admin can unlock it sooner on the Users page.`
          : err.message, true);
        pass.value = "";
        pass.focus();
      }
    } },
    el("label", { for: "user" }, "User", user),
    el("label", { for: "password" }, "Password", pass),
    el("button", { type: "submit" }, "Sign in"),
  );
  page("Sign in", form);
  user.focus();
}

// ---------------------------------------------------------------- pages

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return `${n.toFixed(n < 10 && i ? 1 : 0)} ${units[i]}`;
}

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
      may("admin") ? ["No camera records yet: ", el("a", { href: "#/settings/cameras/new" }, "add a camera"), "."]
        : "No camera records yet; an admin adds cameras in the settings."),
  ];
}

/** Gives `node` the camera's own picture shape once its size is known
 * (the stylesheet's 16:9 is only the shape before that). */
function cameraShape(node, width, height) {
  if (!(width > 0 && height > 0)) return;
  node.style.aspectRatio = `${width} / ${height}`;
  node.style.setProperty("--aspect", String(width / height));
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

async function dashboard() {
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
      may("admin")
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
      c.recording && may("admin") ? pictureCounts(c.recording) : null,
      c.analysis && may("admin")
        ? el("div", { class: "muted", "data-analysis": "" },
          `analysed ${c.analysis.frames_analysed}, dropped ${c.analysis.frames_dropped}`)
        : null,
      el("div", { class: "row" },
        el("a", { href: `#/live/${encodeURIComponent(c.id)}` }, "Live"),
        may("admin", "auditor", "archivist")
          ? el("a", { href: `#/playback/${encodeURIComponent(c.id)}` }, "Playback") : null,
        el("a", { href: `#/events?camera=${encodeURIComponent(c.id)}` }, "Events")),
    );
  });
  page(
    "Dashboard",
    el("h2", {}, "Cameras"),
    cards.length ? el("div", { class: "cards" }, cards)
      : may("admin") ? empty("No cameras yet: ", el("a", { href: "#/settings/cameras/new" }, "add the first camera"), ".")
        : empty("No cameras yet; an admin adds them in the settings."),
    el("h2", {}, `Open alerts (${alerts.alerts.length})`),
    alertTable(alerts.alerts, "Nothing needs attention: no alert is open. New alerts appear here as they are raised."),
    ...storageSection(storage),
  );
  // Refresh every 5 s, but not under someone typing a note, and only while
  // the dashboard is still the page asked for.
  const generation = renderingGeneration;
  const tick = () => {
    if (!stillCurrent(generation)) return;
    if (document.activeElement && document.activeElement.tagName === "INPUT") {
      refreshTimer = setTimeout(tick, 5000);
    } else {
      route(true);
    }
  };
  refreshTimer = setTimeout(tick, 5000);
}

function alertTable(alerts, whenEmpty) {
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
    if (a.state === "open" && may("admin", "auditor", "archivist")) {
      actions.push(note, el("button", { type: "button", onclick: () => act("acknowledge") }, "Acknowledge"));
    }
    if (a.state !== "resolved" && may("admin", "auditor")) {
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

async function alertsPage(params) {
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

async function eventsPage(params) {
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

async function itemsPage(params) {
  const q = params.get("q") || "";
  const input = el("input", { id: "q", type: "search", value: q, placeholder: "barcode, title or reference" });
  const form = el(
    "form",
    { class: "inline", role: "search", onsubmit: (e) => {
      e.preventDefault();
      location.hash = `#/items?q=${encodeURIComponent(input.value)}`;
    } },
    el("label", { for: "q" }, "Search items", input),
    el("button", { type: "submit" }, "Search"),
  );
  const data = await api("GET", `/api/v1/items?limit=100${q ? `&q=${encodeURIComponent(q)}` : ""}`);
  const rows = data.items.map((i) =>
    el(
      "tr",
      {},
      el("td", {}, el("a", { href: `#/items/${encodeURIComponent(i.barcode)}` }, i.barcode)),
      el("td", {}, i.title),
      el("td", {}, i.reference),
      el("td", {}, badge(i.status)),
      el("td", {}, i.status === "out" ? `${i.holder}, due ${when(i.due_ms)}` : i.location),
    ));
  page(
    "Register",
    form,
    table(["Barcode", "Title", "Reference", "Status", "Where"], rows, q
      ? empty(`No item matches “${q}”. Search for part of a barcode, title or reference, or `,
        el("a", { href: "#/items" }, "show every item"), ".")
      : empty("The register has no items yet. Import them from a spreadsheet: ",
        el("code", {}, "custos register import --config custos.toml items.csv"),
        " (locations and people first), or add them through the API.")),
  );
  input.focus();
}

function footageCell(f) {
  if (!f.footage.length) return badge("missing", "no camera covers this place");
  return f.footage.map((w) => {
    // A window that has not ended yet is still being recorded.
    const open = w.end_ms > Date.now();
    const state = open
      ? badge("connecting", "window still open")
      : badge(w.recorded ? "recorded" : "missing", w.recorded ? "recorded" : "not recorded");
    const label = `${w.camera} ${when(w.start_ms)}`;
    const video = `/api/v1/cameras/${encodeURIComponent(w.camera)}/video.mp4?start_ms=${w.start_ms}&end_ms=${w.end_ms}`;
    return el("div", {}, state, " ", w.recorded_ms > 0 ? el("a", { href: video }, label) : label);
  });
}

async function itemPage(barcode) {
  const data = await api("GET", `/api/v1/items/${encodeURIComponent(barcode)}`);
  const i = data.item;
  const chain = data.custody.map((c) =>
    el(
      "tr",
      {},
      el("td", {}, when(c.at_ms)),
      el("td", {}, c.action),
      el("td", {}, c.person || ""),
      el("td", {}, c.holder || ""),
      el("td", {}, c.location || ""),
      el("td", {}, c.recorded_by),
      el("td", {}, footageCell(c)),
    ));
  page(
    `${i.barcode} — ${i.title}`,
    el("p", {}, badge(i.status), " ",
      i.status === "out" ? `held by ${i.holder}, due ${when(i.due_ms)}` : `at ${i.location} (home ${i.home_location})`),
    el("p", { class: "muted" }, `Reference ${i.reference || "—"} · ${i.classification || "unclassified"}`),
    el("p", {}, el("a", { href: `/api/v1/items/${encodeURIComponent(i.barcode)}/label.svg` }, "Label"), " · ",
      el("a", { href: `/api/v1/reports/item-custody?barcode=${encodeURIComponent(i.barcode)}&format=html` }, "Printable chain of custody")),
    el("h2", {}, "Chain of custody"),
    table(["When", "Action", "Person", "Holder after", "Where", "Recorded by", "Footage"], chain,
      may("admin", "archivist")
        ? empty("No custody events yet. Record a check-out or check-in at the ", el("a", { href: "#/desk" }, "desk"), ".")
        : "No custody events yet; archivists record them at the desk."),
  );
}

// ---------------------------------------------------------------- places and people

function coverageText(coverage) {
  return coverage.map((c) => (c.zone ? `${c.camera}:${c.zone}` : c.camera)).join(", ");
}

/** "cam, cam2:door" → [{camera, zone}]; the server checks the cameras. */
function parseCoverage(text) {
  return text.split(",").map((p) => p.trim()).filter(Boolean).map((p) => {
    const [camera, zone] = p.split(":").map((x) => x.trim());
    return zone ? { camera, zone } : { camera };
  });
}

function field(id, label, input) {
  input.id = id;
  return el("label", { for: id }, label, input);
}

async function locationsPage(params) {
  const data = await api("GET", "/api/v1/locations");
  const blindOnly = params.get("blind") === "1";
  const shown = data.locations.filter((l) => !blindOnly || l.blind_spot);
  const rows = shown.map((l) => el("tr", { "data-location": l.code },
    el("td", {}, el("a", { href: `#/locations/${encodeURIComponent(l.code)}` }, l.code)),
    el("td", {}, l.name),
    el("td", {}, l.kind.replace("_", " ")),
    el("td", {}, l.room || ""),
    el("td", {}, l.coverage.length ? coverageText(l.coverage) : ""),
    el("td", {}, l.blind_spot ? badge("missing", "blind spot") : badge("recorded", "covered"),
      l.retired ? [" ", badge("disposed", "retired")] : null)));
  const children = [
    el("p", {}, blindOnly
      ? el("a", { href: "#/locations" }, "Show every location")
      : el("a", { href: "#/locations?blind=1" }, "Show blind spots only"),
    " · ", el("a", { href: "/api/v1/reports/blind-spots?format=html" }, "Printable blind-spot report")),
    table(["Code", "Name", "Kind", "In room", "Cameras", "Coverage"], rows, blindOnly
      ? "No blind spots: a camera sees every location."
      : may("admin", "archivist")
        ? "No locations yet. Add the rooms below first, then the shelves and tables in them."
        : "No locations yet; an archivist or admin adds them."),
  ];
  if (may("admin", "archivist")) {
    const code = el("input", { required: true, autocomplete: "off" });
    const name = el("input", { required: true, autocomplete: "off" });
    const kind = el("select", {}, ["room", "shelf", "reading_table", "other"].map((k) => el("option", { value: k }, k.replace("_", " "))));
    const room = el("input", { autocomplete: "off" });
    const cams = el("input", { autocomplete: "off", placeholder: "camera or camera:zone, …" });
    children.push(el("h2", {}, "Add a location"), el("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("POST", "/api/v1/locations", {
          code: code.value.trim(), name: name.value.trim(), kind: kind.value,
          room: room.value.trim() || undefined, coverage: parseCoverage(cams.value),
        });
        say(`Location ${code.value.trim()} added.`);
        route(true);
      } catch (err) {
        say(err.message, true);
      }
    } },
    field("loc-code", "Code", code), field("loc-name", "Name", name), field("loc-kind", "Kind", kind),
    field("loc-room", "In room", room), field("loc-cameras", "Cameras", cams),
    el("button", { type: "submit" }, "Add")));
  }
  page(blindOnly ? "Blind spots" : "Locations", ...children);
}

async function locationPage(code) {
  const [l, items, custody] = await Promise.all([
    api("GET", `/api/v1/locations/${encodeURIComponent(code)}`),
    api("GET", `/api/v1/items?location=${encodeURIComponent(code)}&limit=200`),
    api("GET", `/api/v1/custody?location=${encodeURIComponent(code)}&limit=50`),
  ]);
  const cams = l.coverage.map((c) => el("li", {},
    c.zone ? `${c.camera} (zone ${c.zone}) · ` : `${c.camera} · `,
    el("a", { href: `#/live/${encodeURIComponent(c.camera)}` }, "live"), " · ",
    el("a", { href: `#/playback/${encodeURIComponent(c.camera)}` }, "playback")));
  page(`${l.code} — ${l.name}`,
    el("p", {}, l.kind.replace("_", " "), l.room ? ` in ${l.room}` : "", " ",
      l.blind_spot ? badge("missing", "blind spot: no camera sees it") : badge("recorded", "covered"),
      l.retired ? [" ", badge("disposed", "retired")] : null),
    el("h2", {}, "Cameras"),
    cams.length ? el("ul", {}, cams)
      : el("p", {}, l.room ? `Only through the cameras of room ${l.room}, if it has any.` : "No camera covers it."),
    el("h2", {}, `Items here (${items.items.length})`),
    table(["Barcode", "Title", "Status"], items.items.map((i) => el("tr", {},
      el("td", {}, el("a", { href: `#/items/${encodeURIComponent(i.barcode)}` }, i.barcode)),
      el("td", {}, i.title), el("td", {}, badge(i.status)))),
    "No items are kept here. An item's home location is set when it is added to the register."),
    el("h2", {}, "Recent custody events here"),
    custodyTable(custody.events));
}

function custodyTable(events) {
  return table(["When", "Item", "Action", "Person", "Where", "Footage"], events.map((c) => el("tr", {},
    el("td", {}, when(c.at_ms)),
    el("td", {}, el("a", { href: `#/items/${encodeURIComponent(c.barcode)}` }, c.barcode)),
    el("td", {}, c.action),
    el("td", {}, c.person ? el("a", { href: `#/people/${encodeURIComponent(c.person)}` }, c.person) : ""),
    el("td", {}, c.location || ""),
    el("td", {}, footageCell(c)))),
  may("admin", "archivist")
    ? empty("No custody events yet. They are recorded at the ", el("a", { href: "#/desk" }, "desk"), ".")
    : "No custody events yet; archivists record them at the desk.");
}

async function peoplePage() {
  const data = await api("GET", "/api/v1/people");
  const rows = data.people.map((p) => el("tr", { "data-person": p.staff_id },
    el("td", {}, el("a", { href: `#/people/${encodeURIComponent(p.staff_id)}` }, p.staff_id)),
    el("td", {}, p.name), el("td", {}, p.role), el("td", {}, p.badge || ""),
    el("td", {}, p.retired ? badge("disposed", "retired") : "")));
  const children = [table(["Staff id", "Name", "Role", "Badge", ""], rows, may("admin", "archivist")
    ? "No people yet. Add the staff and readers who handle items below."
    : "No people yet; an archivist or admin adds them.")];
  if (may("admin", "archivist")) {
    const id = el("input", { required: true, autocomplete: "off" });
    const name = el("input", { required: true, autocomplete: "off" });
    const role = el("select", {}, ["staff", "researcher", "contractor", "other"].map((r) => el("option", { value: r }, r)));
    const card = el("input", { autocomplete: "off" });
    children.push(el("h2", {}, "Add a person"), el("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("POST", "/api/v1/people", {
          staff_id: id.value.trim(), name: name.value.trim(), role: role.value, badge: card.value.trim() || undefined,
        });
        say(`${name.value.trim()} added.`);
        route(true);
      } catch (err) {
        say(err.message, true);
      }
    } },
    field("person-id", "Staff id", id), field("person-name", "Name", name), field("person-role", "Role", role),
    field("person-badge", "Badge", card), el("button", { type: "submit" }, "Add")));
  }
  page("People", ...children);
}

async function personPage(staffId) {
  const [p, held, custody] = await Promise.all([
    api("GET", `/api/v1/people/${encodeURIComponent(staffId)}`),
    api("GET", `/api/v1/items?holder=${encodeURIComponent(staffId)}&limit=200`),
    api("GET", `/api/v1/custody?person=${encodeURIComponent(staffId)}&limit=100`),
  ]);
  page(`${p.name} (${p.staff_id})`,
    el("p", {}, p.role, p.badge ? ` · badge ${p.badge}` : "", p.retired ? [" ", badge("disposed", "retired")] : null),
    el("p", {}, el("a", { href: `/api/v1/reports/person-history?staff_id=${encodeURIComponent(p.staff_id)}&format=html` },
      "Printable history")),
    el("h2", {}, `Holds now (${held.items.length})`),
    table(["Barcode", "Title", "Due"], held.items.map((i) => el("tr", {},
      el("td", {}, el("a", { href: `#/items/${encodeURIComponent(i.barcode)}` }, i.barcode)),
      el("td", {}, i.title),
      el("td", {}, i.due_ms ? when(i.due_ms) : "", i.due_ms && i.due_ms < Date.now() ? [" ", badge("open", "overdue")] : null))),
    "Holds nothing now: items checked out to them appear here."),
    el("h2", {}, "Custody events"),
    custodyTable(custody.events));
}

// ---------------------------------------------------------------- live view

const liveSockets = new Set();

function stopLive() {
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
        status.textContent = may("admin") ? `live · MJPEG · ${info.width}×${info.height}` : "live";
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
      status.textContent = may("admin") ? `live · ${info.codec} · ${info.width}×${info.height}` : "live";
      return;
    }
    queue.push(m.data);
    if (queue.length > 100) queue.splice(0, queue.length - 100);
    pump();
  };
  ws.onclose = () => {
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

async function livePage(id) {
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

// ---------------------------------------------------------------- playback

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

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
async function playbackPage(id, params) {
  if (!may("admin", "auditor", "archivist")) throw new ApiError(403, "Playback is not for your role.");
  const cam = encodeURIComponent(id);
  const camera = await api("GET", `/api/v1/cameras/${cam}`);
  const opened = recordedWindow(camera.recorded, Date.now());
  const end = Number(params.get("end")) || (params.get("span") ? Date.now() : opened.end);
  const span = Number(params.get("span")) || opened.end - opened.start;
  const start = end - span;
  const [rec, events, custody] = await Promise.all([
    api("GET", `/api/v1/cameras/${cam}/recordings?start_ms=${start}&end_ms=${end}`),
    api("GET", `/api/v1/events?camera=${cam}&start_ms=${start}&end_ms=${end}&limit=1000`),
    may("admin", "auditor", "archivist")
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
  }
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
      + `${count(events.events.length, "event")}, ${count(ours.length, "custody event")}`),
    line,
    el("ul", { class: "legend muted" },
      el("li", { class: "recorded" }, "recorded"), el("li", { class: "gap" }, "not recorded"),
      el("li", { class: "motion" }, "motion"), el("li", { class: "tamper" }, "tampering"),
      el("li", { class: "custody" }, "custody event")),
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
 * as an evidence bundle that a third party can verify (auditor, admin).
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
      const made = await api("POST", "/api/v1/exports", {
        camera: id, start_ms: startMs, end_ms: endMs, reason: reason.value.trim(),
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
      may("admin", "auditor") ? field("dl-reason", "Reason (bundle)", reason) : null,
      mp4, may("admin", "auditor") ? bundle : null),
    result);
  if (!anything) result.textContent = "Nothing is recorded in this window to download.";
  section.setFrom = (ms) => { from.value = localInput(ms); };
  return section;
}

// ---------------------------------------------------------------- inventories

async function inventoriesPage() {
  const [locs, invs] = await Promise.all([
    api("GET", "/api/v1/locations"),
    api("GET", "/api/v1/inventories?limit=50"),
  ]);
  const where = el("select", { id: "inv-location" },
    locs.locations.filter((l) => !l.retired).map((l) => el("option", { value: l.code }, `${l.code} — ${l.name}`)));
  const start = el("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const inv = await api("POST", "/api/v1/inventories", { location: where.value });
      location.hash = `#/inventories/${inv.id}`;
    } catch (err) {
      say(err.message, true);
    }
  } }, el("label", { for: "inv-location" }, "Location", where), el("button", { type: "submit" }, "Start an inventory"));
  const rows = invs.inventories.map((i) => el("tr", {},
    el("td", {}, el("a", { href: `#/inventories/${i.id}` }, String(i.id))),
    el("td", {}, i.location),
    el("td", {}, `${when(i.started_ms)} by ${i.started_by}`),
    el("td", {}, i.closed_ms ? `closed ${when(i.closed_ms)}` : badge("connecting", "open"))));
  page("Inventories", may("admin", "archivist") ? start : null,
    table(["Inventory", "Location", "Started", "State"], rows, may("admin", "archivist")
      ? "No inventories yet. Choose a location above and start one, then scan what is on its shelves."
      : "No inventories yet; an archivist or admin starts them."));
}

function reportLists(report) {
  const list = (title, items, text) => el("section", {}, el("h2", {}, `${title} (${items.length})`),
    items.length ? el("ul", { "data-report": title.toLowerCase() }, items.map((i) => el("li", {}, text(i)))) : el("p", {}, "None."));
  return [
    list("Missing", report.missing, (b) => b),
    list("Unexpected", report.unexpected, (u) => `${u.barcode}: ${u.reason}`),
    list("Misplaced", report.misplaced, (m) => `${m.barcode} belongs in ${m.home_location}`),
  ];
}

async function inventoryPage(id) {
  const inv = await api("GET", `/api/v1/inventories/${id}`);
  if (inv.closed_ms) {
    page(`Inventory ${id} of ${inv.location}`,
      el("p", {}, `Closed ${when(inv.closed_ms)} by ${inv.closed_by}; ${inv.scanned.length} scanned.`),
      el("p", {}, el("a", { href: `/api/v1/reports/inventory?id=${id}&format=html` }, "Printable report")),
      ...reportLists(inv.report));
    return;
  }
  const barcode = el("input", { id: "scan", autocomplete: "off", placeholder: "scan a barcode" });
  const scanned = el("ul", { id: "scanned", "aria-live": "polite" },
    inv.scanned.map((b) => el("li", {}, b)));
  const form = el("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    const code = barcode.value.trim();
    barcode.value = "";
    if (!code) return;
    try {
      const r = await api("POST", `/api/v1/inventories/${id}/scans`, { barcode: code });
      const note = !r.item ? "not in the register" : r.item.status !== "in_place" ? `register says ${r.item.status}` : "seen";
      scanned.prepend(el("li", {}, `${code}: ${r.first_scan ? note : "already scanned"}`));
    } catch (err) {
      say(err.message, true);
    }
    barcode.focus();
  } }, el("label", { for: "scan" }, "Barcode", barcode), el("button", { type: "submit" }, "Scan"));
  const close = el("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      await api("POST", `/api/v1/inventories/${id}/close`);
      route();
    } catch (err) {
      say(err.message, true);
    }
  } }, "Close the inventory");
  page(`Inventory ${id} of ${inv.location}`, form, scanned, close);
  barcode.focus();
}

// ---------------------------------------------------------------- admin

const ROLES = ["admin", "auditor", "archivist", "viewer"];

async function adminPage() {
  const data = await api("GET", "/api/v1/users");
  const rows = data.users.map((u) => {
    const role = el("select", { "aria-label": `Role of ${u.name}` },
      ROLES.map((r) => el("option", { value: r, selected: r === u.role }, r)));
    const disabled = el("input", { type: "checkbox", "aria-label": `${u.name} disabled`, checked: u.disabled });
    const rooms = el("input", { "aria-label": `Rooms of ${u.name}`, value: u.rooms.join(", "), autocomplete: "off",
      placeholder: u.role === "archivist" ? "no footage" : "every camera" });
    const save = el("button", { type: "button", class: "secondary", onclick: async () => {
      try {
        await api("PATCH", `/api/v1/users/${encodeURIComponent(u.name)}`, {
          role: role.value, disabled: disabled.checked, rooms: roomList(rooms.value),
        });
        say(`${u.name} saved.`);
        route(true);
      } catch (err) {
        say(err.message, true);
      }
    } }, "Save");
    // Failed sign-ins lock an account for a while; an admin who knows the
    // person can end the lock at once (the unlock is logged).
    const signIn = u.locked_until_ms
      ? [badge("missing", `locked until ${clock(u.locked_until_ms)}`), " ",
        el("button", { type: "button", class: "secondary", "aria-label": `Unlock ${u.name}`, onclick: async () => {
          try {
            await api("POST", `/api/v1/users/${encodeURIComponent(u.name)}/unlock`);
            say(`${u.name} is unlocked and may sign in again.`);
            route(true);
          } catch (err) {
            say(err.message, true);
          }
        } }, "Unlock")]
      : u.disabled ? "disabled" : "may sign in";
    return el("tr", { "data-user": u.name }, el("td", {}, u.name), el("td", {}, role),
      el("td", {}, el("label", {}, disabled)), el("td", { "data-sign-in": "" }, signIn), el("td", {}, rooms),
      el("td", {}, when(u.created_ms)), el("td", {}, save));
  });
  const name = el("input", { id: "new-name", autocomplete: "off" });
  const role = el("select", { id: "new-role" }, ROLES.map((r) => el("option", { value: r, selected: r === "viewer" }, r)));
  const password = el("input", { id: "new-password", type: "password", autocomplete: "new-password", minlength: 12 });
  const add = el("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api("POST", "/api/v1/users", { name: name.value, role: role.value, password: password.value });
      say(`${name.value} added.`);
      route(true);
    } catch (err) {
      say(err.message, true);
    }
  } },
  el("label", { for: "new-name" }, "Name", name),
  el("label", { for: "new-role" }, "Role", role),
  el("label", { for: "new-password" }, "Password (12 or more characters)", password),
  el("button", { type: "submit" }, "Add user"));
  page("Users", add,
    table(["Name", "Role", "Disabled", "Sign-in", "Rooms (archivists)", "Since", ""], rows,
      "No users yet: add one above."),
    el("p", { class: "muted" }, "An archivist sees the footage of the cameras covering their rooms "
      + "(location codes, comma-separated) and of the places inside them; other roles see every camera."));
}

function roomList(text) {
  return text.split(",").map((r) => r.trim()).filter(Boolean);
}

// ---------------------------------------------------------------- settings

async function settingsPage() {
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

async function cameraSettingsPage(id) {
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

// ---------------------------------------------------------------- audit

const ACTION_WORDS = {
  check_out: "checked out", check_in: "checked in", transfer: "transferred", view: "consulted",
  copy: "copied", move: "moved", inventory_seen: "seen in an inventory", disposal: "disposed of",
};
const CHANGE_WORDS = { created: "added", updated: "changed", imported: "imported" };

/** A span of a camera's footage: "5 min of Stacks from 14:32", or
 * "Stacks at 14:32" for a moment. */
function spanText(e, cam) {
  const len = e.end_ms - e.start_ms;
  return len >= 1000 ? `${duration(len)} of ${cam} from ${clock(e.start_ms, true)}` : `${cam} at ${clock(e.start_ms, true)}`;
}

/** What a log entry says, in plain words; `camName` turns an id into a name. */
function describeEntry(e, camName) {
  const cam = e.camera ? camName(e.camera) : "";
  const quoted = (t) => (t ? ` (“${t}”)` : "");
  switch (e.type) {
    case "footage.viewed":
      if (e.thumbnail) return `looked at the live thumbnails of ${cam}`;
      if (e.live) return `watched ${cam} live`;
      if (e.event !== undefined) return `looked at the snapshot of event ${e.event} on ${cam}`;
      if (e.download) return `downloaded ${spanText(e, cam)}`;
      return `played back ${spanText(e, cam)}`;
    case "footage.exported":
      return `exported ${spanText(e, cam)} as an evidence bundle`
        + `${e.segments !== undefined ? ` (${count(e.segments, "segment")})` : ""}${quoted(e.reason)}`;
    case "evidence.downloaded": return `downloaded evidence bundle ${e.export}`;
    case "auth.login": return `signed in from ${e.source}`;
    case "auth.login_failed":
      return `${e.user ? "" : "someone (a name that is no one's) "}failed to sign in from ${e.source}: ${e.reason}`;
    case "auth.logout": return "signed out";
    case "config.loaded":
      return `the site started${e.cameras !== undefined ? ` with ${count(e.cameras, "camera")}` : ""}`;
    case "config.changed":
      return e.section === "hours" ? "changed the opening hours" : `changed the settings of ${e.section}`;
    case "user.created":
      return `added user ${e.name} as ${e.role}${e.rooms && e.rooms.length ? `, rooms ${e.rooms.join(", ")}` : ""}`;
    case "user.changed": {
      const what = [];
      if (e.role) what.push(`role ${e.role}`);
      if (e.disabled === true) what.push("disabled");
      if (e.disabled === false) what.push("enabled");
      if (e.password_changed) what.push("new password");
      if (e.rooms) what.push(e.rooms.length ? `rooms ${e.rooms.join(", ")}` : "no rooms");
      if (e.unlocked) {
        what.push(`unlocked${e.locked_until_ms ? ` (locked by failed sign-ins until ${clock(e.locked_until_ms)})` : ""}`);
      }
      return `changed user ${e.name}: ${what.join(", ") || "nothing"}`;
    }
    case "token.created": return `made an API token for ${e.user}`;
    case "token.revoked": return `revoked API token ${e.id}${e.user ? ` of ${e.user}` : ""}`;
    case "segment.sealed":
      return `recorded ${spanText(e, cam)} (${bytes(e.bytes)})`;
    case "segment.deleted": return `deleted recorded footage of ${cam}${quoted(e.reason)}`;
    case "segment.held": return `put a hold on recorded footage of ${cam}`;
    case "segment.released": return `released the hold on recorded footage of ${cam}`;
    case "segment.missing": return `found recorded footage of ${cam} missing`;
    case "camera.state": return `${cam}: ${e.state}${e.detail ? ` (${e.detail})` : ""}`;
    case "analysis.started": return `${cam}: ${e.kind} began`;
    case "analysis.event": return `${cam}: ${e.kind}, ${duration(e.end_ms - e.start_ms)} from ${clock(e.start_ms)}`;
    case "register.location": return `${CHANGE_WORDS[e.change] || e.change} location ${e.code} (${e.name})`;
    case "register.person": return `${CHANGE_WORDS[e.change] || e.change} person ${e.staff_id} (${e.name})`;
    case "register.item": return `${CHANGE_WORDS[e.change] || e.change} item ${e.barcode} (${e.title})`;
    case "register.import": return `imported ${count(e.rows, e.kind.replace(/s$/, ""), e.kind)} from a CSV file`;
    case "custody.event": {
      const d = e.details || {};
      const to = d.to ? ` to ${d.to}` : "";
      const by = !d.to && e.person ? ` by ${e.person}` : "";
      const at = e.location ? ` at ${e.location}` : "";
      return `${e.barcode} ${ACTION_WORDS[e.action] || e.action}${to}${by}${at}`
        + `${d.due_ms ? `, due ${clock(d.due_ms)}` : ""}${e.at_ms !== e.time_ms ? ` (happened ${clock(e.at_ms)})` : ""}`;
    }
    case "inventory.started": return `started inventory ${e.inventory} of ${e.location}`;
    case "inventory.closed": {
      const r = e.report || {};
      return `closed inventory ${e.inventory} of ${e.location}: ${(r.missing || []).length} missing, `
        + `${(r.unexpected || []).length} unexpected, ${(r.misplaced || []).length} misplaced`;
    }
    case "alert.raised": return `alert ${e.alert} raised: ${e.summary}`;
    case "alert.changed": return `${e.state} alert ${e.alert} (${e.kind})${quoted(e.note)}`;
    default: return e.type.replace(/[._]/g, " ");
  }
}

async function auditPage(params) {
  const cat = params.get("category") || "views";
  const [log, audit, cams] = await Promise.all([
    api("GET", "/api/v1/log"),
    api("GET", `/api/v1/audit?limit=200${cat === "all" ? "" : `&category=${encodeURIComponent(cat)}`}`),
    api("GET", "/api/v1/cameras"),
  ]);
  const names = new Map(cams.cameras.map((c) => [c.id, c.name]));
  const camName = (id) => names.get(id) || `camera ${id}`;
  const result = el("div", { id: "verify-result", role: "status" });
  const verify = el("button", { type: "button", onclick: async () => {
    result.replaceChildren("Verifying…");
    try {
      const v = (await api("POST", "/api/v1/log/verify")).verified;
      result.replaceChildren(badge(v.ok ? "recorded" : "missing", v.ok ? "verified" : "FAILED"),
        el("ul", {}, v.findings.map((f) => el("li", {}, f))));
    } catch (err) {
      result.replaceChildren(err.message);
    }
  } }, "Verify the log");
  const select = el("select", { id: "audit-category",
    onchange: (e) => { location.hash = `#/audit?category=${e.target.value}`; } },
  [["views", "views and exports of footage"], ["logins", "sign-ins"], ["changes", "changes"],
    ["custody", "custody"], ["all", "everything"]].map(([v, t]) => el("option", { value: v, selected: v === cat }, t)));
  // Plain words first; the entry itself, as the signed log holds it, one
  // click away.
  const rows = audit.entries.map((a) =>
    el("tr", { "data-entry": a.index },
      el("td", {}, when(a.entry.time_ms)),
      el("td", {}, a.entry.user || a.entry.by || ""),
      el("td", {}, describeEntry(a.entry, camName)),
      el("td", {}, el("details", {}, el("summary", {}, `Entry ${a.index}`),
        el("pre", { class: "entry" }, JSON.stringify(a.entry, null, 1))))));
  page(
    "Audit",
    el("h2", {}, "The log"),
    el("p", {}, `${log.size} entries; latest checkpoint at ${log.checkpoint_size ?? "—"} entries, signed ${when(log.checkpoint_ms)}.`),
    el("p", { class: "muted" }, `Verifier key: ${log.verifier_key}`),
    verify,
    result,
    el("h2", {}, "Entries"),
    el("label", { for: "audit-category" }, "Show", select),
    table(["When", "Who", "What", "Log entry"], rows, cat === "all"
      ? "The log has no entries yet."
      : empty("No entries of this kind yet. ", el("a", { href: "#/audit?category=all" }, "Show every entry"), ".")),
  );
}

/** The desk: a USB scanner types the barcode and Enter. */
function deskPage() {
  const mode = el("select", { id: "mode" },
    el("option", { value: "check_out" }, "Check out"),
    el("option", { value: "check_in" }, "Check in"));
  const person = el("input", { id: "person", placeholder: "staff id", autocomplete: "off" });
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
  tomorrow.setMinutes(tomorrow.getMinutes() - tomorrow.getTimezoneOffset());
  const due = el("input", { id: "due", type: "datetime-local", value: tomorrow.toISOString().slice(0, 16) });
  const barcode = el("input", { id: "barcode", placeholder: "scan a barcode", autocomplete: "off" });
  const log = el("ul", { id: "desk-log", "aria-live": "polite" });
  const form = el(
    "form",
    { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      const code = barcode.value.trim();
      if (!code) return;
      const body = mode.value === "check_out"
        ? { action: "check_out", to: person.value.trim(), due_ms: new Date(due.value).getTime() }
        : { action: "check_in" };
      try {
        const r = await api("POST", `/api/v1/items/${encodeURIComponent(code)}/custody`, body);
        log.prepend(el("li", { class: "ok" }, `${code}: ${r.event.action.replace("_", " ")} recorded (${r.item.status})`));
        say(`${code} done.`);
      } catch (err) {
        log.prepend(el("li", { class: "refused" }, `${code}: ${err.message}`));
        say(err.message, true);
      }
      barcode.value = "";
      barcode.focus();
    } },
    el("label", { for: "mode" }, "Action", mode),
    el("label", { for: "person" }, "Person", person),
    el("label", { for: "due" }, "Due", due),
    el("label", { for: "barcode" }, "Barcode", barcode),
    el("button", { type: "submit" }, "Record"),
  );
  page("Desk", form, log);
  person.focus();
}

// ---------------------------------------------------------------- routing

// Pages render one at a time, in the order they were asked for: a page
// still loading when the user moves on (the dashboard after signing in)
// must not replace the newer page when its answers come in. A request
// overtaken by a newer one before it starts is skipped.
let routeGeneration = 0;
let renderingGeneration = 0;
let routing = Promise.resolve();

function route(refresh = false) {
  const generation = ++routeGeneration;
  const run = () => (generation === routeGeneration ? routeNow(refresh, generation) : undefined);
  routing = routing.then(run, run);
  return routing;
}

/** Whether the page that rendering started as `generation` is still the
 * newest one asked for (a timer it set is stale otherwise). */
function stillCurrent(generation) {
  return generation === routeGeneration;
}

async function routeNow(refresh, generation) {
  renderingGeneration = generation;
  clearTimeout(refreshTimer);
  if (!refresh) stopLive();
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  for (const a of document.querySelectorAll("#nav a")) {
    const target = a.getAttribute("href").slice(1);
    const current = target === "/" ? path === "/" : path.startsWith(target);
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!refresh) say("");
  if (path === "/login") return loginPage();
  if (!session.user) {
    try {
      signedIn(await api("GET", "/api/v1/session"));
    } catch {
      return;
    }
  }
  try {
    if (path === "/") await dashboard();
    else if (path === "/alerts") await alertsPage(params);
    else if (path === "/events") await eventsPage(params);
    else if (path === "/items") await itemsPage(params);
    else if (path.startsWith("/items/")) await itemPage(decodeURIComponent(path.slice(7)));
    else if (path === "/desk") deskPage();
    else if (path === "/audit") await auditPage(params);
    else if (path === "/admin") await adminPage();
    else if (path === "/settings") await settingsPage();
    else if (path.startsWith("/settings/cameras/")) await cameraSettingsPage(decodeURIComponent(path.slice(18)));
    else if (path === "/locations") await locationsPage(params);
    else if (path.startsWith("/locations/")) await locationPage(decodeURIComponent(path.slice(11)));
    else if (path === "/people") await peoplePage();
    else if (path.startsWith("/people/")) await personPage(decodeURIComponent(path.slice(8)));
    else if (path === "/inventories") await inventoriesPage();
    else if (path.startsWith("/inventories/")) await inventoryPage(Number(path.slice(13)));
    else if (path.startsWith("/playback/")) await playbackPage(decodeURIComponent(path.slice(10)), params);
    else if (path === "/live") await livePage(null);
    else if (path.startsWith("/live/")) await livePage(decodeURIComponent(path.slice(6)));
    else page("Not found", el("p", {}, "There is no such page."), el("a", { href: "#/" }, "Dashboard"));
  } catch (err) {
    if (err.status === 403) page("Not allowed", el("p", {}, "Your role does not give access to this page."));
    else if (err.status !== 401) say(err.message, true);
  }
  if (!refresh) main.focus();
}

document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/api/v1/logout");
  } catch {
    // Signed out either way.
  }
  signedOut();
});
// The skip link's #main would be taken for a page address by the router:
// it moves the focus itself.
document.querySelector("a.skip").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", () => route());
route();
