// The central office's web app: the site app's modules (api, router,
// session, ui, the sign-in page) with the centre's own pages.

import { api, onUnauthorized } from "./api.js";
import { route, setRoutes } from "./router.js";
import { signedIn, signedOut, wireHeader } from "./session.js";
import { loginPage } from "./pages/login.js";
import { sitesPage } from "./pages/sites.js";
import { sitePage } from "./pages/site.js";
import { alertsPage } from "./pages/alerts.js";
import { registerPage } from "./pages/register.js";
import { usersPage } from "./pages/users.js";
import { auditPage } from "./pages/audit.js";

// First match wins, in this order.
setRoutes([
  { path: "/login", open: true, page: () => loginPage() },
  { path: "/", page: (_, params) => sitesPage(params) },
  { prefix: "/sites/", page: (rest) => sitePage(decodeURIComponent(rest)) },
  { path: "/alerts", page: (_, params) => alertsPage(params) },
  { path: "/register", page: (_, params) => registerPage(params) },
  { path: "/users", page: () => usersPage() },
  { path: "/audit", page: () => auditPage() },
], {
  leave: () => {},
  resume: async () => signedIn(await api("GET", "/api/v1/session")),
});
onUnauthorized(signedOut);

wireHeader();
window.addEventListener("hashchange", () => route());
route();
