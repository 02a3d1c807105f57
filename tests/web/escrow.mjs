// The playback timeline of a site that escrows its footage: which segments
// are copied off site and which still wait, in chromium. Run from
// crates/custos/tests/escrow.rs against a running site.
//
// Environment: CUSTOS_URL, ADMIN_USER, ADMIN_PASSWORD, CAMERA, START_MS,
// END_MS (the window to show), ESCROWED (how many of its segments are
// copied), SHOTS, CHROMIUM.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { check, env, launch, unnamed } from "./checks.mjs";

const base = env("CUSTOS_URL");
const shots = env("SHOTS");
mkdirSync(shots, { recursive: true });
const browser = await launch();
const problems = [];
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 401 /.test(m.text())) problems.push(m.text());
  });
  await page.goto(`${base}/#/login`);
  await page.getByLabel("User").fill(env("ADMIN_USER"));
  await page.getByLabel("Password").fill(env("ADMIN_PASSWORD"));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector("#nav:not([hidden])");
  const span = Number(env("END_MS")) - Number(env("START_MS"));
  await page.goto(`${base}/#/playback/${env("CAMERA")}?span=${span}&end=${env("END_MS")}`);
  await page.locator("svg.timeline").waitFor();
  const marks = await page.locator("svg.timeline rect.escrowed").count();
  check(marks === Number(env("ESCROWED")), `the timeline marks the ${env("ESCROWED")} segments copied off site (found ${marks})`);
  const legend = await page.locator(".legend").innerText();
  check(/copied off site/.test(legend), `the legend names the copies off site (${legend})`);
  const summary = await page.locator("[data-window]").innerText();
  check(/off site: \d+ segments? copied, 0 waiting/.test(summary), `the window's summary counts them (${summary})`);
  await page.screenshot({ path: join(shots, "playback-escrow.png"), fullPage: true });
  const found = await unnamed(page);
  check(found.length === 0, `playback with escrow: every control has a name (${found.join("; ")})`);
  check(problems.length === 0, `no errors in the page (${problems.join("; ")})`);
} finally {
  await browser.close();
}
