// What the site's and the centre's browser checks share: their settings,
// the check that stops at the first failure, the browser, and what a
// keyboard or screen reader user needs of a page and what makes a page
// unclear.

import { chromium } from "playwright-core";

/** The environment variable `name`, which must be set. */
export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

/** Stops the run at the first failed check, naming it. */
export function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

/** Debian's chromium (or $CHROMIUM). */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // The sandbox needs user namespaces, which CI containers often lack.
    args: ["--no-sandbox"],
  });
}

/** Form controls and buttons without a name, pictures without a text, no
 * heading, click-only traps (interactive elements must be links, buttons
 * or form controls). */
export async function unnamed(page) {
  return page.evaluate(() => {
    const out = [];
    for (const e of document.querySelectorAll("input, select, textarea")) {
      if (e.type === "hidden") continue;
      const named = (e.labels && e.labels.length) || e.getAttribute("aria-label") || e.getAttribute("aria-labelledby");
      if (!named) out.push(`unlabelled ${e.tagName.toLowerCase()}#${e.id || e.name || "?"}`);
    }
    for (const b of document.querySelectorAll("button, a[href]")) {
      if (!b.hidden && !(b.textContent.trim() || b.getAttribute("aria-label"))) out.push(`unnamed ${b.tagName.toLowerCase()}`);
    }
    for (const i of document.querySelectorAll("img")) if (!i.getAttribute("alt")) out.push(`img without alt ${i.src}`);
    if (!document.querySelector("main h1")) out.push("no h1 in main");
    for (const e of document.querySelectorAll("[onclick], div[tabindex], span[tabindex]")) out.push(`click-only ${e.tagName}`);
    return out;
  });
}

/** Tables with column names and no rows, cut-off hints, cells that do not
 * name their column where the header row is hidden (a phone). */
export async function unclear(page) {
  return page.evaluate(() => {
    const out = [];
    // An empty list says what to do next, not bare column names.
    for (const t of document.querySelectorAll("main table")) {
      if (t.offsetParent && !t.querySelector("tbody tr")) out.push("a table with column names and no rows");
    }
    // A hint in a field is shown whole.
    const ruler = document.createElement("canvas").getContext("2d");
    for (const i of document.querySelectorAll("main input[placeholder]")) {
      if (!i.offsetParent) continue;
      const cs = getComputedStyle(i);
      ruler.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      const needs = ruler.measureText(i.placeholder).width;
      const room = i.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
      if (needs > room + 0.5) {
        out.push(`the hint “${i.placeholder}” of ${i.id || i.getAttribute("aria-label")} is cut off `
          + `(${needs.toFixed(0)} px in ${room.toFixed(0)} px)`);
      }
    }
    // Where the header row is not shown (a phone), each cell names its column.
    for (const t of document.querySelectorAll("main table")) {
      const head = t.querySelector("thead");
      if (!head || !t.offsetParent || getComputedStyle(head).display !== "none") continue;
      const names = [...head.querySelectorAll("th")].map((th) => th.textContent.trim());
      for (const tr of t.querySelectorAll("tbody tr")) {
        [...tr.children].forEach((td, i) => {
          if (!names[i] || !td.textContent.trim()) return;
          const label = getComputedStyle(td, "::before").content;
          if (!label.includes(names[i])) out.push(`a cell of column “${names[i]}” does not say so (${label})`);
        });
      }
    }
    return [...new Set(out)];
  });
}
