// What every page builds with: elements, tables, the status line, and the
// words for times, lengths and sizes. Text from the API is always set as
// text (never as HTML), so names and titles cannot inject.

export const main = document.getElementById("main");
const message = document.getElementById("message");

/** Builds an element: el("a", {href: "#/"}, "text", child, …). */
export function el(tag, attrs = {}, ...children) {
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

export function say(text, isError = false) {
  message.textContent = text || "";
  message.className = isError ? "error" : "";
}

export function when(ms) {
  if (ms === null || ms === undefined) return "";
  const d = new Date(ms);
  return d.toLocaleString();
}

/** A time of day, with the date when it is not today: "14:32" or "3 Dec, 14:32"
 * (with `seconds`, "14:32:05"). */
export function clock(ms, seconds = false) {
  const d = new Date(ms);
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined });
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.toLocaleDateString([], { day: "numeric", month: "short" })}, ${time}`;
}

/** A length of time as people say it: "45 s", "5 min", "1 h 20 min", "3 days". */
export function duration(ms) {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  return `${Math.round(h / 24)} days`;
}

/** "1 event", "2 events". */
export function count(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

export function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export function page(title, ...children) {
  // A part the session may not use is passed as null and left out.
  main.replaceChildren(el("h1", {}, title), ...children.filter((c) => c !== null && c !== undefined));
  document.title = `${title} · Custos`;
}

export function badge(kind, text) {
  return el("span", { class: `badge ${kind}` }, text ?? kind);
}

/** What an empty list says instead of bare column names: what is missing
 * and what to do next. */
export function empty(...children) {
  return el("p", { class: "empty" }, ...children);
}

/**
 * A table with its column names, or `whenEmpty` when there are no rows.
 * Each cell carries its column's name, which narrow screens show beside
 * it (they lay rows out as blocks, without the header row).
 */
export function table(headers, rows, whenEmpty, attrs = {}) {
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

export function field(id, label, input) {
  input.id = id;
  return el("label", { for: id }, label, input);
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return `${n.toFixed(n < 10 && i ? 1 : 0)} ${units[i]}`;
}

/** Gives `node` the camera's own picture shape once its size is known
 * (the stylesheet's 16:9 is only the shape before that). */
export function cameraShape(node, width, height) {
  if (!(width > 0 && height > 0)) return;
  node.style.aspectRatio = `${width} / ${height}`;
  node.style.setProperty("--aspect", String(width / height));
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** "a, b , c" → ["a", "b", "c"] (rooms, closed days). */
export function roomList(text) {
  return text.split(",").map((r) => r.trim()).filter(Boolean);
}
