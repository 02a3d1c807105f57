// Which page the address shows, and rendering pages one at a time.
//
// Pages render one at a time, in the order they were asked for: a page
// still loading when the user moves on (the dashboard after signing in)
// must not replace the newer page when its answers come in. A request
// overtaken by a newer one before it starts is skipped.

import { el, main, page, say } from "./ui.js";
import { session } from "./api.js";

let routeGeneration = 0;
let renderingGeneration = 0;
let routing = Promise.resolve();
let refreshTimer = null;

/** The routes, given once by the entry module: each `{ path, page }` (the
 * address is `path` exactly) or `{ prefix, page }` (the address starts
 * with `prefix`; the page gets the rest, still encoded); `open` routes
 * need no session. Each page gets (rest, query parameters). */
let routes = [];
/** Called before a new page (not a refresh) renders: ends what the old
 * one still runs (live streams). */
let leave = () => {};
/** Finds the session of a page opened afresh; throws when there is none. */
let resume = async () => {};

/** Sets the routes and the hooks (see above); called once, before the
 * first `route()`. */
export function setRoutes(list, hooks) {
  routes = list;
  leave = hooks.leave;
  resume = hooks.resume;
}

/** Renders the page the address names, after the pages asked for before
 * it; with `refresh`, the same page again (its timers and streams go on). */
export function route(refresh = false) {
  const generation = ++routeGeneration;
  const run = () => (generation === routeGeneration ? routeNow(refresh, generation) : undefined);
  routing = routing.then(run, run);
  return routing;
}

/** Whether the page that rendering started as `generation` is still the
 * newest one asked for (a timer it set is stale otherwise). */
export function stillCurrent(generation) {
  return generation === routeGeneration;
}

/** The generation of the page rendering now, for `stillCurrent`. */
export function renderingNow() {
  return renderingGeneration;
}

/** Runs `tick` after `ms`, unless another page renders first. */
export function refreshLater(tick, ms) {
  refreshTimer = setTimeout(tick, ms);
}

/** The route for `path`, with the part of the address after its prefix. */
function find(path) {
  for (const r of routes) {
    if (r.path !== undefined && r.path === path) return { route: r, rest: "" };
    if (r.prefix !== undefined && path.startsWith(r.prefix)) return { route: r, rest: path.slice(r.prefix.length) };
  }
  return null;
}

async function routeNow(refresh, generation) {
  renderingGeneration = generation;
  clearTimeout(refreshTimer);
  if (!refresh) leave();
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  for (const a of document.querySelectorAll("#nav a")) {
    const target = a.getAttribute("href").slice(1);
    const current = target === "/" ? path === "/" : path.startsWith(target);
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!refresh) say("");
  const found = find(path);
  if (found && found.route.open) return found.route.page(found.rest, params);
  if (!session.user) {
    try {
      await resume();
    } catch {
      return;
    }
  }
  try {
    if (found) await found.route.page(found.rest, params);
    else page("Not found", el("p", {}, "There is no such page."), el("a", { href: "#/" }, "Dashboard"));
  } catch (err) {
    if (err.status === 403) page("Not allowed", el("p", {}, "Your role does not give access to this page."));
    else if (err.status !== 401) say(err.message, true);
  }
  if (!refresh) main.focus();
}
