// The centre's users: their roles and regions. They are added and changed
// with `custos central user …` at the centre, which the audit trail keeps.

import { badge, clock, el, page, table } from "../ui.js";
import { api } from "../api.js";

export async function usersPage() {
  const data = await api("GET", "/api/v1/users");
  const now = Date.now();
  const rows = data.users.map((u) => el("tr", { "data-user": u.name },
    el("td", {}, u.name),
    el("td", {}, u.role),
    el("td", {}, u.region || "every site"),
    el("td", {}, u.disabled ? badge("missing", "disabled")
      : u.locked_until_ms && u.locked_until_ms > now ? badge("missing", `locked until ${clock(u.locked_until_ms)}`)
        : badge("recording", "may sign in"))));
  page("Users",
    el("p", {}, "Add, disable and unlock users with ", el("code", {}, "custos central user"), " at the centre."),
    table(["User", "Role", "Sees", "Sign-in"], rows, "No users."));
}
