// Signing in.

import { clock, duration, el, page, say } from "../ui.js";
import { api } from "../api.js";
import { signedIn } from "../session.js";

export function loginPage() {
  const user = el("input", { id: "user", name: "user", autocomplete: "username", required: true });
  const pass = el("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password", required: true,
  });
  const form = el(
    "form",
    { class: "login", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const info = await api("POST", "/api/v1/login", { user: user.value, password: pass.value });
        signedIn(info);
        say("");
        location.hash = "#/";
      } catch (err) {
        const until = err.data && err.data.locked_until_ms;
        say(until
          ? `Too many failed sign-ins: this account is locked until ${clock(until)} `
            + `(${duration(until - Date.now())} from now). An admin can unlock it sooner.`
          : err.message, true);
        pass.value = "";
        pass.focus();
      }
    } },
    el("label", { for: "user" }, "User", user),
    el("label", { for: "password" }, "Password", pass),
    el("button", { type: "submit" }, "Sign in"),
  );
  page("Sign in", form);
  user.focus();
}
