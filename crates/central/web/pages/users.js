// The centre's users: their roles and regions. An admin adds them here
// (or with `custos central user add`), disables and enables them, and ends
// a lock that failed sign-ins put on one; each act is in the audit trail.

import { badge, clock, el, field, page, say, table } from "../ui.js";
import { api, can, session } from "../api.js";
import { route } from "../router.js";

const ROLES = ["viewer", "auditor", "admin"];

function addForm() {
  const name = el("input", { autocomplete: "off", required: true });
  const role = el("select", {}, ROLES.map((r) => el("option", { value: r }, r)));
  const region = el("input", { autocomplete: "off", placeholder: "every site" });
  const password = el("input", { type: "password", autocomplete: "new-password", required: true });
  return el("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api("POST", "/api/v1/users", {
        name: name.value, role: role.value, region: region.value || null, password: password.value,
      });
      say(`${name.value} added as ${role.value}.`);
      route(true);
    } catch (err) {
      say(err.message, true);
    }
  } },
  field("new-user", "Name", name), field("new-role", "Role", role),
  field("new-region", "Region (auditors and viewers)", region),
  field("new-password", "Password (12 characters or more)", password),
  el("button", { type: "submit" }, "Add user"));
}

export async function usersPage() {
  const data = await api("GET", "/api/v1/users");
  const now = Date.now();
  const change = async (user, body, done) => {
    try {
      await api("PATCH", `/api/v1/users/${encodeURIComponent(user)}`, body);
      say(done);
      route(true);
    } catch (err) {
      say(err.message, true);
    }
  };
  const rows = data.users.map((u) => {
    const locked = u.locked_until_ms && u.locked_until_ms > now;
    const actions = [];
    if (can("change_users")) {
      if (locked) {
        actions.push(el("button", { type: "button", class: "secondary", "aria-label": `Unlock ${u.name}`,
          onclick: () => change(u.name, { unlock: true }, `${u.name} is unlocked and may sign in again.`) }, "Unlock"));
      }
      if (u.name !== session.user) {
        actions.push(el("button", { type: "button", class: "secondary",
          "aria-label": `${u.disabled ? "Enable" : "Disable"} ${u.name}`,
          onclick: () => change(u.name, { disabled: !u.disabled },
            u.disabled ? `${u.name} may sign in again.` : `${u.name} is disabled; their sessions have ended.`) },
        u.disabled ? "Enable" : "Disable"));
      }
    }
    return el("tr", { "data-user": u.name },
      el("td", {}, u.name),
      el("td", {}, u.role),
      el("td", {}, u.region || "every site"),
      el("td", {}, u.disabled ? badge("missing", "disabled")
        : locked ? badge("missing", `locked until ${clock(u.locked_until_ms)}`)
          : badge("recording", "may sign in")),
      el("td", {}, el("div", { class: "row" }, actions)));
  });
  page("Users",
    can("change_users") ? addForm() : null,
    table(["User", "Role", "Sees", "Sign-in", ""], rows, "No users."));
}
