// The Custos web app: plain modules, no build step, no third-party code.
// This entry module wires them: the routes, the session's start and end,
// and the header's buttons. Every page reads the same JSON API as other
// clients (api.js); router.js renders one page at a time; each page is a
// module under pages/.

import { api, onUnauthorized } from "./api.js";
import { route, setRoutes } from "./router.js";
import { signedIn, signedOut, wireHeader } from "./session.js";
import { loginPage } from "./pages/login.js";
import { dashboard } from "./pages/dashboard.js";
import { alertsPage } from "./pages/alerts.js";
import { eventsPage } from "./pages/events.js";
import { itemPage, itemsPage } from "./pages/items.js";
import { deskPage } from "./pages/desk.js";
import { auditPage } from "./pages/audit.js";
import { adminPage } from "./pages/users.js";
import { cameraSettingsPage, settingsPage } from "./pages/settings.js";
import { locationPage, locationsPage } from "./pages/locations.js";
import { peoplePage, personPage } from "./pages/people.js";
import { inventoriesPage, inventoryPage } from "./pages/inventories.js";
import { playbackPage } from "./pages/playback.js";
import { livePage, stopLive } from "./pages/live.js";

// First match wins, in this order.
setRoutes([
  { path: "/login", open: true, page: () => loginPage() },
  { path: "/", page: () => dashboard() },
  { path: "/alerts", page: (_, params) => alertsPage(params) },
  { path: "/events", page: (_, params) => eventsPage(params) },
  { path: "/items", page: (_, params) => itemsPage(params) },
  { prefix: "/items/", page: (rest) => itemPage(decodeURIComponent(rest)) },
  { path: "/desk", page: () => deskPage() },
  { path: "/audit", page: (_, params) => auditPage(params) },
  { path: "/admin", page: () => adminPage() },
  { path: "/settings", page: () => settingsPage() },
  { prefix: "/settings/cameras/", page: (rest) => cameraSettingsPage(decodeURIComponent(rest)) },
  { path: "/locations", page: (_, params) => locationsPage(params) },
  { prefix: "/locations/", page: (rest) => locationPage(decodeURIComponent(rest)) },
  { path: "/people", page: () => peoplePage() },
  { prefix: "/people/", page: (rest) => personPage(decodeURIComponent(rest)) },
  { path: "/inventories", page: () => inventoriesPage() },
  { prefix: "/inventories/", page: (rest) => inventoryPage(Number(rest)) },
  { prefix: "/playback/", page: (rest, params) => playbackPage(decodeURIComponent(rest), params) },
  { path: "/live", page: () => livePage(null) },
  { prefix: "/live/", page: (rest) => livePage(decodeURIComponent(rest)) },
], {
  leave: stopLive,
  resume: async () => signedIn(await api("GET", "/api/v1/session")),
});
onUnauthorized(signedOut);

wireHeader();
window.addEventListener("hashchange", () => route());
route();
