// Users, their roles and an archivist's rooms.

import { badge, clock, el, page, roomList, say, table, when } from "../ui.js";
import { api } from "../api.js";
import { route } from "../router.js";

const ROLES = ["admin", "auditor", "archivist", "viewer"];

export async function adminPage() {
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
