// Drives the central office's web app in Debian's chromium (playwright-core)
// against a running centre with real sites, prepared by
// crates/custos/tests/central.rs. Exits non-zero on the first failed check,
// naming it. Screenshots go to $SHOTS.
//
// Environment: CENTRAL_URL, ADMIN_USER, ADMIN_PASSWORD, AUDITOR_USER (an
// auditor limited to the region of site alpha), AUDITOR_PASSWORD,
// VIEWER_USER, VIEWER_PASSWORD, ALERT (alpha's tamper alert number), SHOTS,
// CHROMIUM (default /usr/bin/chromium).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { check, env, launch, unclear, unnamed } from "./checks.mjs";

const base = env("CENTRAL_URL");
const shots = env("SHOTS");
mkdirSync(shots, { recursive: true });

const browser = await launch();
const problems = [];
const external = [];

async function newPage() {
  // The centre's certificate is self-signed; the sites pin it, a browser
  // in a test takes it.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on("console", (m) => {
    const expected = /status of (400|401|403|404|409|429) /.test(m.text());
    if (m.type() === "error" && !expected) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) external.push(r.url());
  });
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `central-${name}.png`), fullPage: true });
  const missing = await unnamed(page);
  check(missing.length === 0, `${name}: every control, link and picture has a name (${missing.join("; ")})`);
  const vague = await unclear(page);
  check(vague.length === 0, `${name}: no bare table, cut-off hint or unnamed cell (${vague.join("; ")})`);
}

async function signIn(page, user, password) {
  await page.goto(`${base}/#/login`);
  await page.getByLabel("User").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector("#nav:not([hidden])");
}

/** Reloads `hash` until `test(page)` holds, for what arrives from the
 * sites in their own time. */
let visits = 0;
async function until(page, hash, test, what, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    // A new query each time: the same address would not load the page again.
    visits += 1;
    await page.goto(`${base}/?visit=${visits}${hash}`);
    await page.waitForSelector("main h1");
    await page.waitForLoadState("networkidle");
    if (await test(page)) return;
    if (Date.now() > deadline) throw new Error(`check failed: ${what} (waited ${seconds} s)`);
    await page.waitForTimeout(1000);
  }
}

/** A call to the API from the page, as the app makes it, with or without
 * the session's CSRF token. */
async function post(page, path, body, withCsrf) {
  return page.evaluate(async ({ path, body, withCsrf }) => {
    const session = await (await fetch("/api/v1/session")).json();
    const headers = { "Content-Type": "application/json" };
    if (withCsrf) headers["X-CSRF-Token"] = session.csrf_token;
    const r = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
    return r.status;
  }, { path, body, withCsrf });
}

try {
  const alert = env("ALERT");

  // --- the admin: every site, the map, a site's page, the register, users
  const admin = await newPage();
  await admin.goto(`${base}/#/login`);
  await admin.getByLabel("User").fill(env("ADMIN_USER"));
  await admin.getByLabel("Password").fill("not the password");
  await admin.getByRole("button", { name: "Sign in" }).click();
  await admin.locator("#message.error").waitFor();
  check((await admin.textContent("#message")).includes("wrong user name or password"), "a wrong password is refused");
  await shot(admin, "sign-in");
  const cookies = [];
  admin.context().on("response", async (r) => {
    if (r.url().endsWith("/api/v1/login")) cookies.push(await r.headerValue("set-cookie"));
  });
  await signIn(admin, env("ADMIN_USER"), env("ADMIN_PASSWORD"));
  check(cookies.some((c) => c && /HttpOnly/.test(c) && /SameSite=Strict/.test(c) && /Secure/.test(c)),
    `the session cookie is HttpOnly, SameSite=Strict and Secure over HTTPS (${cookies})`);

  await until(admin, "#/", async (p) => {
    const alpha = await p.locator("tr[data-site=alpha]").innerText();
    return alpha.includes("attention") && alpha.includes("tamper");
  }, "the sites page shows alpha needing attention for its covered camera");
  const row = (name) => admin.locator(`tr[data-site=${name}]`).innerText();
  check((await row("beta")).includes("1 of 1 recording"), `beta is recording (${await row("beta")})`);
  check((await row("gamma")).includes("not enrolled"), "gamma has not enrolled");
  check(/\d+ entries/.test(await row("alpha")), "alpha's log is witnessed");
  const dots = await admin.locator("svg.sitemap a").evaluateAll((as) => as.map((a) => a.dataset.site).sort());
  check(JSON.stringify(dots) === JSON.stringify(["alpha", "beta"]), `the map places the sites with coordinates (${dots})`);
  check(await admin.locator("svg.sitemap circle.attention").count() === 1, "the map shows alpha in trouble");
  await shot(admin, "sites");
  // What needs attention, first and alone; a search by region.
  check((await admin.locator("tr[data-site]").first().getAttribute("data-site")) === "alpha",
    "the site needing attention is listed first");
  await admin.getByLabel("Show").selectOption("attention");
  await admin.waitForFunction(() => document.querySelectorAll("tr[data-site]").length === 1);
  check(await admin.locator("tr[data-site=alpha]").count() === 1, "only the sites needing attention are shown");
  await admin.goto(`${base}/#/?show=all&find=south`);
  await admin.waitForFunction(() => document.querySelectorAll("tr[data-site]").length === 1);
  check(await admin.locator("tr[data-site=beta]").count() === 1, "a search by region finds the region's sites");
  await admin.goto(`${base}/#/?show=all&find=nowhere`);
  await admin.getByText("No site matches.").waitFor();
  check(true, "a search that finds no site says so");

  await admin.goto(`${base}/#/`);
  await admin.locator("svg.sitemap a[data-site=alpha]").click();
  await admin.getByRole("heading", { name: "Site alpha" }).waitFor();
  const sitePage = await admin.locator("main").innerText();
  check(sitePage.includes("tamper.covered") && sitePage.includes("hall"), "alpha's page shows its covered camera and its alert");
  check(/Co-signed\s+\d+ entries/.test(sitePage) && sitePage.includes("going on"), `alpha's page shows its witness state (${sitePage})`);
  check(sitePage.includes("No checkpoint of this site was ever refused."), "alpha's page says no checkpoint was refused");
  await shot(admin, "site");

  await until(admin, "#/register?barcode=B2", async (p) => (await p.locator("main").innerText()).includes("check out"),
    "the register finds box B2 at alpha");
  const found = await admin.locator("tr[data-event]").first().innerText();
  check(found.includes("alpha") && found.includes("S1"), `box B2 is out with S1 at alpha (${found})`);
  const entry = await admin.locator("tr[data-item='alpha/B2']").innerText();
  check(entry.includes("Box B2"), `alpha's register names the box (${entry})`);
  await shot(admin, "register-item");
  // By a person's name: who they are at each site, and what they handled.
  await admin.goto(`${base}/#/register?person=${encodeURIComponent("Ada Reader")}&days=30`);
  await admin.locator("#who-is").waitFor();
  check((await admin.textContent("#who-is")).includes("Ada Reader (S1) at alpha"), "a name is found in the registers");
  check((await admin.locator("tr[data-event]").first().innerText()).includes("B2"), "and what they handled, by their id");
  await admin.goto(`${base}/#/register?person=NOBODY&days=30`);
  await admin.getByText("NOBODY handled nothing").waitFor();
  check(true, "a search that finds nothing says so");

  await admin.goto(`${base}/#/users`);
  await admin.locator(`tr[data-user=${env("AUDITOR_USER")}]`).waitFor();
  check((await admin.locator(`tr[data-user=${env("AUDITOR_USER")}]`).innerText()).includes("north"),
    "the users page shows the auditor's region");
  // An admin adds a viewer of the south, then disables them.
  await admin.getByLabel("Name", { exact: true }).fill("olga");
  await admin.getByLabel("Role").selectOption("viewer");
  await admin.getByLabel("Region (auditors and viewers)").fill("south");
  await admin.getByLabel("Password (12 characters or more)").fill("short");
  await admin.getByRole("button", { name: "Add user" }).click();
  await admin.locator("#message.error").waitFor();
  check((await admin.textContent("#message")).includes("at least 12"), "a short password is refused, saying why");
  await admin.getByLabel("Password (12 characters or more)").fill("olga's long password");
  await admin.getByRole("button", { name: "Add user" }).click();
  await admin.locator("tr[data-user=olga]").waitFor();
  check((await admin.locator("tr[data-user=olga]").innerText()).includes("south"), "the new viewer sees the south");
  await shot(admin, "users");
  await admin.getByRole("button", { name: "Disable olga" }).click();
  await admin.locator("tr[data-user=olga]", { hasText: "disabled" }).waitFor();
  check(await admin.getByRole("button", { name: `Disable ${env("ADMIN_USER")}` }).count() === 0,
    "an admin is not offered to disable themself");

  // A new site from the web: its code shown once, with the configuration.
  await admin.goto(`${base}/#/`);
  await admin.getByLabel("New site").fill("epsilon");
  await admin.getByRole("button", { name: "Add site" }).click();
  await admin.locator("#new-site-code pre").waitFor();
  const config = await admin.textContent("#new-site-code pre");
  check(/enrol_code = "[0-9a-f-]{39}"/.test(config) && config.includes("tls_fingerprint"),
    `the new site's configuration is shown once (${config})`);
  // Gamma placed from its page: on the map, in the south.
  await admin.goto(`${base}/#/sites/gamma`);
  await admin.getByLabel("Region").fill("south");
  await admin.getByLabel("Latitude").fill("57.7");
  await admin.getByLabel("Longitude").fill("11.97");
  await admin.getByRole("button", { name: "Place" }).click();
  await admin.getByText("57.7, 11.97").waitFor();
  check(true, "an admin places a site from its page");
  await admin.goto(`${base}/#/audit`);
  await admin.getByRole("heading", { name: "Audit trail" }).waitFor();
  const trail = await admin.locator("main table").innerText();
  check(trail.includes("user added") && trail.includes("site placed") && trail.includes("site added"),
    "the audit trail shows what the admin did");
  await shot(admin, "audit");
  await admin.getByRole("button", { name: "Sign out" }).click();
  await admin.locator("#user").waitFor();
  check((await admin.evaluate(async () => (await fetch("/api/v1/sites")).status)) === 401, "after signing out the API answers 401");
  await admin.context().close();

  // --- an auditor of the north region: only alpha; acknowledges its alert
  const auditor = await newPage();
  await signIn(auditor, env("AUDITOR_USER"), env("AUDITOR_PASSWORD"));
  await auditor.locator("tr[data-site=alpha]").waitFor();
  check(await auditor.locator("tr[data-site]").count() === 1, "a region's auditor sees only the region's sites");
  check(await auditor.locator("#nav a", { hasText: "Users" }).isHidden(), "an auditor has no users page");
  check((await auditor.evaluate(async () => (await fetch("/api/v1/sites/beta")).status)) === 404,
    "another region's site is not found for the auditor");
  await auditor.goto(`${base}/#/alerts`);
  const alertRow = auditor.locator(`tr[data-site-alert="alpha/${alert}"]`);
  await alertRow.waitFor();
  check((await auditor.locator("tr[data-site-alert]").evaluateAll((rs) => rs.every((r) => r.dataset.siteAlert.startsWith("alpha/")))),
    "the auditor's alerts are the region's only");
  check(await post(auditor, `/api/v1/sites/alpha/alerts/${alert}/acknowledge`, { note: "forged" }, false) === 403,
    "a change without the session's CSRF token is refused");
  await alertRow.getByLabel(`Note for alert ${alert} of alpha`).fill("seen from the centre");
  await alertRow.getByRole("button", { name: "Acknowledge" }).click();
  await auditor.locator(`tr[data-site-alert="alpha/${alert}"] .hint`).waitFor();
  check((await alertRow.innerText()).includes(`acknowledged by ${env("AUDITOR_USER")}`),
    "the acknowledgement waits for the site, by the auditor's name");
  await shot(auditor, "alerts");
  // The page refreshes by itself: the site carries the change out and its
  // log brings it back.
  await auditor.locator(`tr[data-site-alert="alpha/${alert}"] .badge.acknowledged`).waitFor({ timeout: 90000 });
  check(await auditor.locator(`tr[data-site-alert="alpha/${alert}"] .hint`).count() === 0,
    "the site's acknowledgement comes back to the alerts page by itself");
  await auditor.context().close();

  // --- a viewer: reads, changes nothing
  const viewer = await newPage();
  await signIn(viewer, env("VIEWER_USER"), env("VIEWER_PASSWORD"));
  await viewer.goto(`${base}/#/alerts`);
  await viewer.getByRole("heading", { name: "Alerts" }).waitFor();
  await viewer.waitForLoadState("networkidle");
  check(await viewer.getByRole("button", { name: "Resolve" }).count() === 0, "a viewer is offered no alert changes");
  check(await post(viewer, `/api/v1/sites/alpha/alerts/${alert}/resolve`, { note: "x" }, true) === 403,
    "a viewer's alert change is refused");
  check(await viewer.locator("#nav a", { hasText: "Register" }).isHidden(), "a viewer has no register search");
  await viewer.context().close();

  check(problems.length === 0, `no script errors or failed requests (${problems.join("; ")})`);
  check(external.length === 0, `nothing is loaded from elsewhere (${external.join(", ")})`);
} finally {
  await browser.close();
}
