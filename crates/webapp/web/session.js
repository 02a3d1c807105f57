// Signing in and out: what the page shows of the session.

import { api, can, session } from "./api.js";
import { route } from "./router.js";
import { main } from "./ui.js";

export function signedOut() {
  session.user = session.csrf = null;
  session.operations = new Set();
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  if (location.hash !== "#/login") location.hash = "#/login";
  else route();
}

/** Takes the answer of a sign-in or of `GET /api/v1/session`; the menu
 * shows each page whose operation (`data-operation`) the session may call. */
export function signedIn(info) {
  session.user = info.user;
  session.csrf = info.csrf_token || null;
  session.operations = new Set(info.operations || []);
  const role = info.region ? `${info.role}, ${info.region}` : info.role;
  document.getElementById("who").textContent = `${info.user} (${role})`;
  document.getElementById("logout").hidden = false;
  const nav = document.getElementById("nav");
  nav.hidden = false;
  for (const a of nav.querySelectorAll("a[data-operation]")) {
    a.hidden = !can(a.dataset.operation);
  }
}

/** Wires the header every app has: the sign-out button and the skip link
 * (whose "#main" the router would take for a page address). */
export function wireHeader() {
  document.getElementById("logout").addEventListener("click", async () => {
    try {
      await api("POST", "/api/v1/logout");
    } catch {
      // Signed out either way.
    }
    signedOut();
  });
  document.querySelector("a.skip").addEventListener("click", (e) => {
    e.preventDefault();
    main.focus();
  });
}
