// The desk, where custody is recorded.

import { el, page, say } from "../ui.js";
import { api } from "../api.js";

/** The desk: a USB scanner types the barcode and Enter. */
export function deskPage() {
  const mode = el("select", { id: "mode" },
    el("option", { value: "check_out" }, "Check out"),
    el("option", { value: "check_in" }, "Check in"));
  const person = el("input", { id: "person", placeholder: "staff id", autocomplete: "off" });
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
  tomorrow.setMinutes(tomorrow.getMinutes() - tomorrow.getTimezoneOffset());
  const due = el("input", { id: "due", type: "datetime-local", value: tomorrow.toISOString().slice(0, 16) });
  const barcode = el("input", { id: "barcode", placeholder: "scan a barcode", autocomplete: "off" });
  const log = el("ul", { id: "desk-log", "aria-live": "polite" });
  const form = el(
    "form",
    { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      const code = barcode.value.trim();
      if (!code) return;
      const body = mode.value === "check_out"
        ? { action: "check_out", to: person.value.trim(), due_ms: new Date(due.value).getTime() }
        : { action: "check_in" };
      try {
        const r = await api("POST", `/api/v1/items/${encodeURIComponent(code)}/custody`, body);
        log.prepend(el("li", { class: "ok" }, `${code}: ${r.event.action.replace("_", " ")} recorded (${r.item.status})`));
        say(`${code} done.`);
      } catch (err) {
        log.prepend(el("li", { class: "refused" }, `${code}: ${err.message}`));
        say(err.message, true);
      }
      barcode.value = "";
      barcode.focus();
    } },
    el("label", { for: "mode" }, "Action", mode),
    el("label", { for: "person" }, "Person", person),
    el("label", { for: "due" }, "Due", due),
    el("label", { for: "barcode" }, "Barcode", barcode),
    el("button", { type: "submit" }, "Record"),
  );
  page("Desk", form, log);
  person.focus();
}
