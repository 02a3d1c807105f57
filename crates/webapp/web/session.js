// Signing in and out: what the page shows of the session.

import { can, session } from "./api.js";
import { route } from "./router.js";

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
