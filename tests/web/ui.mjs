// Drives the Custos web app in Debian's chromium (playwright-core), against
// a running site prepared by crates/custos/tests/web.rs. Exits non-zero on
// the first failed check, naming it. Screenshots go to $SHOTS.
//
// Environment: CUSTOS_URL, ADMIN_USER, ADMIN_PASSWORD, VIEWER_USER,
// VIEWER_PASSWORD, SHOTS (a directory), CHROMIUM (default /usr/bin/chromium).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { check, env, launch, unclear as unclearParts, unnamed } from "./checks.mjs";

const base = env("CUSTOS_URL");
const shots = env("SHOTS");
mkdirSync(shots, { recursive: true });

const browser = await launch();
const problems = [];
const external = [];

async function newPage(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on("console", (m) => {
    // Answers the app expects and shows (401 before sign-in, 403 for a
    // role, 409 for a refused action, 429 for a locked account) are not
    // problems; 404 and 5xx are.
    const expected = /status of (401|403|409|422|429) /.test(m.text());
    if (m.type() === "error" && !expected) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("blob:") && !r.url().startsWith("data:")) {
      external.push(r.url());
    }
  });
  return page;
}

/**
 * Keeps a screenshot of the page and checks what a keyboard or screen
 * reader user needs of it: every form control and button has a name,
 * every picture a text, the page a heading, and nothing is a click-only
 * trap (interactive elements are links, buttons or form controls).
 */
async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage });
  const found = await unnamed(page);
  check(found.length === 0, `${name}: every control, link and picture has a name (${found.join("; ")})`);
  const unclear = await unclearParts(page);
  check(unclear.length === 0, `${name}: no bare table, cut-off hint or unnamed cell (${unclear.join("; ")})`);
}

async function submitLogin(page, user, password) {
  await page.goto(`${base}/#/login`);
  await page.getByLabel("User").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function signIn(page, user, password) {
  await submitLogin(page, user, password);
  await page.waitForSelector("#nav:not([hidden])");
}

try {
  // --- the admin: dashboard, register, desk, alerts, events
  const page = await newPage();
  await submitLogin(page, env("ADMIN_USER"), "not the password");
  await page.locator("#message.error").waitFor();
  check(await page.locator("#nav").isHidden(), "a wrong password is refused with a message");
  await shot(page, "sign-in", false);
  await signIn(page, env("ADMIN_USER"), env("ADMIN_PASSWORD"));
  const cookies = await page.context().cookies();
  const sessionCookie = cookies.find((c) => c.httpOnly);
  check(sessionCookie && sessionCookie.sameSite === "Strict", "the session cookie is HttpOnly and SameSite=Strict");
  const card = page.locator("[data-camera=stacks]");
  await card.waitFor();
  await page.locator("[data-camera=stacks] .badge.recording").waitFor({ timeout: 20000 });
  check(true, "the dashboard shows the camera recording");
  await page.waitForFunction(() => {
    const img = document.querySelector("[data-camera=stacks] img.thumb");
    return img && img.complete && img.naturalWidth >= 160;
  }, null, { timeout: 20000 });
  check(true, "the dashboard shows the camera's live thumbnail");
  const storageRow = await page.locator("tr[data-storage=stacks]").innerText();
  check(/days|not known yet/.test(storageRow), `the dashboard shows the retention horizon (${storageRow.replace(/\s+/g, " ")})`);
  check(/% used/.test(await page.locator("[data-disk]").innerText()), "the dashboard shows disk use");
  check((await card.innerText()).includes("320×240"), "an admin sees the camera's stream details");
  await page.waitForFunction(() => {
    const img = document.querySelector("[data-camera=stacks] img.thumb");
    return img && Math.abs(img.clientWidth / img.clientHeight - 4 / 3) < 0.02;
  }, null, { timeout: 5000 }).catch(() => {});
  const thumbShape = await page.evaluate(() => {
    const img = document.querySelector("[data-camera=stacks] img.thumb");
    return img.clientWidth / img.clientHeight;
  });
  check(Math.abs(thumbShape - 4 / 3) < 0.02, `the thumbnail has the camera's shape (${thumbShape.toFixed(3)})`);
  await shot(page, "dashboard");

  // Live view: the video element's time advances, close behind the camera.
  // The fragments the page receives are timed, to tell a stalled stream
  // from a stalled player should it stop.
  const liveFrames = [];
  page.on("websocket", (ws) => ws.on("framereceived", (f) => liveFrames.push({ at: Date.now(), bytes: f.payload.length })));
  await page.getByRole("link", { name: "Live" }).first().click();
  await page.locator("video[data-live=stacks]").waitFor();
  await page.waitForFunction(() => {
    const v = document.querySelector("video[data-live=stacks]");
    return v && v.currentTime > 2;
  }, null, { timeout: 20000 });
  const t1 = await page.evaluate(() => document.querySelector("video[data-live=stacks]").currentTime);
  await page.waitForTimeout(1500);
  const lag = await page.evaluate(() => {
    const v = document.querySelector("video[data-live=stacks]");
    const ranges = [];
    for (let i = 0; i < v.buffered.length; i++) ranges.push(`${v.buffered.start(i).toFixed(2)}–${v.buffered.end(i).toFixed(2)}`);
    return {
      t: v.currentTime,
      behind: v.buffered.end(v.buffered.length - 1) - v.currentTime,
      // What a stall looks like, should there be one.
      state: `buffered ${ranges.join(" ")}, paused ${v.paused}, ready ${v.readyState}, rate ${v.playbackRate}, `
        + `error ${v.error && v.error.message}, status “${document.querySelector("main").innerText.slice(0, 120)}”`,
    };
  });
  const now = Date.now();
  const recent = liveFrames.filter((f) => now - f.at < 1500).length;
  const last = liveFrames.length ? now - liveFrames[liveFrames.length - 1].at : -1;
  check(lag.t > t1 + 0.5, `live video plays (time ${t1.toFixed(2)} → ${lag.t.toFixed(2)} s; ${lag.state}; `
    + `${liveFrames.length} messages, ${recent} in the last 1.5 s, the last ${last} ms ago)`);
  check(lag.behind < 2, `live video stays within 2 s of what arrived (${lag.behind.toFixed(2)} s behind)`);
  const liveShape = await page.evaluate(() => {
    const v = document.querySelector("video[data-live=stacks]");
    return { box: v.clientWidth / v.clientHeight, picture: v.videoWidth / v.videoHeight };
  });
  check(Math.abs(liveShape.box - liveShape.picture) < 0.02,
    `live view has the camera's own shape (${liveShape.box.toFixed(3)} for a ${liveShape.picture.toFixed(3)} picture)`);
  await shot(page, "live");

  // A page still loading when the user moves on must not come back over
  // the newer one (nor its refresh timer): leave for the dashboard and,
  // before it has loaded, come back to the live view. The live picture
  // then shown stays, and plays.
  await page.evaluate(() => {
    document.querySelector("video[data-live=stacks]").dataset.old = "yes";
    location.hash = "#/";
    setTimeout(() => { location.hash = "#/live/stacks"; }, 0);
  });
  await page.waitForFunction(() => location.hash === "#/live/stacks"
    && document.querySelector("main h1")?.textContent.startsWith("Live")
    && document.querySelector("video[data-live=stacks]:not([data-old])"), null, { timeout: 10000 });
  await page.evaluate(() => {
    const v = document.querySelector("video[data-live=stacks]");
    if (v) v.dataset.first = "yes";
  });
  await page.waitForTimeout(6500);
  const kept = await page.evaluate(() => {
    const v = document.querySelector("video[data-live=stacks]");
    return { same: Boolean(v && v.dataset.first === "yes"), paused: v ? v.paused : null,
      title: document.querySelector("main h1")?.textContent };
  });
  check(kept.same && kept.paused === false && kept.title.startsWith("Live"),
    `a page that finished loading late does not replace the live view (${JSON.stringify(kept)})`);

  // Playback opens on what is recorded, under the camera's name, and the
  // download starts at footage that exists.
  await page.goto(`${base}/#/playback/stacks`);
  await page.getByRole("heading", { name: "Playback: Stacks room" }).waitFor();
  const opened = await page.evaluate(async () => {
    const line = document.querySelector("svg.timeline");
    const start = Number(line.dataset.startMs);
    const end = Number(line.dataset.endMs);
    const rec = await (await fetch(`/api/v1/cameras/stacks/recordings?start_ms=${start}&end_ms=${end}`)).json();
    let covered = 0;
    for (const g of rec.segments) covered += Math.max(0, Math.min(g.end_ms, end) - Math.max(g.start_ms, start));
    return {
      start,
      end,
      fraction: covered / (end - start),
      from: new Date(document.getElementById("dl-from").value).getTime(),
      first: Math.min(...rec.segments.map((g) => g.start_ms)),
      last: Math.max(...rec.segments.map((g) => g.end_ms)),
      summary: document.querySelector("[data-window]").textContent,
    };
  });
  const lead = opened.first - opened.start;
  const trail = opened.end - opened.last;
  check(lead >= 0 && lead <= Math.max(1500, 0.05 * (opened.end - opened.start)) && trail < 3000 && opened.fraction > 0.6,
    `playback opens on the recorded span (from ${lead} ms before the first recorded moment to ${trail} ms after `
    + `the last; ${(opened.fraction * 100).toFixed(0)} % of the timeline recorded)`);
  check(opened.from >= opened.first - 1000 && opened.from < opened.last,
    `the download starts where footage exists (${opened.from - opened.first} ms after the first recorded moment)`);
  check(!/\b1 (segments|gaps|events|custody events)\b/.test(opened.summary)
    && /\b(segment|segments), \d+ (gap|gaps)/.test(opened.summary), `counts are in words (${opened.summary})`);

  // Playback: a click on the timeline plays that moment.
  await page.goto(`${base}/#/playback/stacks?span=120000`);
  const timeline = page.locator("svg.timeline");
  await page.waitForFunction(() => {
    const n = document.querySelector("svg.timeline");
    return n && Number(n.dataset.endMs) - Number(n.dataset.startMs) === 120000;
  });
  const { startMs, endMs } = await timeline.evaluate((n) => ({
    startMs: Number(n.dataset.startMs), endMs: Number(n.dataset.endMs) }));
  const target = endMs - 6000;
  const box = await timeline.boundingBox();
  await page.mouse.click(box.x + ((target - startMs) / (endMs - startMs)) * box.width, box.y + box.height / 2);
  await page.waitForFunction((t) => {
    const v = document.querySelector("video[data-playback]");
    return v && v.dataset.wallMs && v.currentTime > 0 && Math.abs(Number(v.dataset.wallMs) - t) < 3000;
  }, target, { timeout: 15000 }).catch(async (err) => {
    const state = await page.evaluate(() => {
      const v = document.querySelector("video[data-playback]");
      return { status: document.querySelector("main [role=status]")?.textContent, src: v?.src,
        t: v?.currentTime, wall: v?.dataset.wallMs, error: v?.error?.message, ready: v?.readyState };
    });
    await page.screenshot({ path: join(shots, "playback-failed.png"), fullPage: true });
    throw new Error(`playback did not reach the clicked moment ${target}: ${JSON.stringify(state)} (${err.message})`);
  });
  const shown = await page.evaluate(() => Number(document.querySelector("video[data-playback]").dataset.wallMs));
  check(Math.abs(shown - target) < 3000, `playback starts at the clicked moment (${shown - target} ms off)`);
  await shot(page, "playback");

  // Downloads from the playing moment: the MP4 and an evidence bundle.
  await page.getByLabel("Minutes").fill("1");
  const [mp4] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download MP4" }).click(),
  ]);
  const mp4Failure = await mp4.failure();
  if (mp4Failure) {
    const r = await page.evaluate(async (u) => { const r = await fetch(u); return `${r.status} ${await r.text()}`; }, mp4.url());
    throw new Error(`the MP4 download failed (${mp4Failure}): ${mp4.url()} answers ${r}`);
  }
  await mp4.saveAs(join(shots, "download.mp4"));
  check(/^stacks-\d+\.mp4$/.test(mp4.suggestedFilename()), `the span downloads as MP4 (${mp4.suggestedFilename()})`);
  await page.getByLabel("Reason (bundle)").fill("browser test: evidence of the reading room");
  await page.getByRole("button", { name: "Evidence bundle" }).click();
  const bundleLink = page.locator("a[data-bundle]");
  await bundleLink.waitFor({ timeout: 20000 }).catch(async (err) => {
    throw new Error(`no bundle: ${await page.textContent("#message")} (${err.message})`);
  });
  const [tar] = await Promise.all([page.waitForEvent("download"), bundleLink.click()]);
  await tar.saveAs(join(shots, "bundle.tar"));
  check(true, `the span exports as an evidence bundle (${tar.suggestedFilename()})`);

  await page.goto(`${base}/#/items`);
  await page.getByLabel("Search items").fill("letters");
  await page.getByRole("button", { name: "Search" }).click();
  // The list before the search shows every item; wait for the answer.
  await page.waitForURL(/q=letters/);
  await page.waitForFunction(() => !document.querySelector("main").textContent.includes("BX2"), null, { timeout: 5000 })
    .catch(() => {});
  await page.getByRole("link", { name: "BX1" }).waitFor();
  check(await page.getByRole("link", { name: "BX2" }).count() === 0, "search finds only matching items");
  await shot(page, "register");
  await page.getByLabel("Search items").fill("no-such-thing");
  await page.getByRole("button", { name: "Search" }).click();
  await page.locator("main p.empty").waitFor();
  check((await page.textContent("main p.empty")).includes("No item matches “no-such-thing”")
    && await page.getByRole("link", { name: "show every item" }).count() === 1,
  "a search that finds nothing says so and how to see every item");
  await shot(page, "register-nothing-found");

  // A register file imports as a job whose progress the page shows. A bad
  // file lists its bad rows and imports nothing; a good one, written as
  // spreadsheets write (byte-order mark, CRLF), imports every row.
  await page.goto(`${base}/#/items`);
  // The whole list again (BX2 was not found by the last search): the
  // page has been drawn anew, and its form is the one to fill.
  await page.getByRole("link", { name: "BX2" }).waitFor();
  const importFile = async (kind, name, text) => {
    const file = join(shots, name);
    writeFileSync(file, text);
    await page.getByLabel("Register file").selectOption(kind);
    await page.getByLabel("CSV file").setInputFiles(file);
    await page.getByRole("button", { name: "Import", exact: true }).click();
  };
  await importFile("items", "bad-items.csv", "barcode,title,reference,classification,home_location\nIM1,Box,F1,open,NOWHERE\n");
  await page.locator("#import-problems li").first().waitFor({ timeout: 20000 }).catch(async (err) => {
    throw new Error(`no bad rows listed: ${await page.textContent("#message")} / ${await page.textContent("#import-status")} (${err.message})`);
  });
  check((await page.textContent("#import-problems")).includes("line 2"), "a bad register file lists its bad rows by line");
  const imported = async (name) => {
    await page.waitForFunction((n) => {
      const status = document.querySelector("#import-status").textContent;
      return status.startsWith("Imported") && status.includes(n);
    }, name, { timeout: 60000 });
    return page.textContent("#import-status");
  };
  // A room of their own (seen by the camera, so no blind spot), so the
  // inventory of R1 below is not changed.
  await importFile("locations", "locations.csv", "code,name,kind,room,coverage\r\nIMP,Import room,room,,stacks\r\n");
  check((await imported("locations.csv")).includes("Imported 1 location from locations.csv"), "locations import from the page");
  let csv = "\ufeffbarcode,title,reference,classification,home_location\r\n";
  for (let n = 0; n < 3000; n++) csv += `IM${n},Imported box ${n},F${n},open,IMP\r\n`;
  await importFile("items", "items.csv", csv);
  const done = await imported("items.csv");
  check(done.includes("Imported 3000 items from items.csv"), `a register file imports as a job (${done})`);
  await shot(page, "register-import");

  // The desk takes a scanner's input: the barcode typed, then Enter.
  await page.goto(`${base}/#/desk`);
  await page.getByLabel("Person").fill("S1");
  const barcode = page.getByLabel("Barcode");
  await barcode.pressSequentially("BX1");
  await barcode.press("Enter");
  await page.locator("#desk-log li.ok").waitFor();
  check((await page.textContent("#desk-log")).includes("BX1: check out recorded"), "check-out by scanner input");
  await barcode.pressSequentially("BX1");
  await barcode.press("Enter");
  await page.locator("#desk-log li.refused").waitFor();
  check((await page.textContent("#desk-log li.refused")).includes("BX1"), "a second check-out is refused with the reason");
  check(await barcode.evaluate((e) => e === document.activeElement), "the barcode field keeps the focus for the next scan");
  await shot(page, "desk");

  await page.goto(`${base}/#/items/BX1`);
  await page.getByRole("heading", { name: "Chain of custody" }).waitFor();
  const chain = await page.textContent("table");
  check(chain.includes("check_out") && chain.includes("S1"), "the item page shows the chain of custody");
  check(chain.includes("stacks"), "the custody event lists its camera's footage window");
  await shot(page, "item");

  await page.goto(`${base}/#/alerts`);
  await page.getByRole("heading", { name: "Alerts" }).waitFor();
  await shot(page, "alerts");
  await page.goto(`${base}/#/events`);
  await page.getByRole("heading", { name: "Events" }).waitFor();
  check((await page.textContent("main")).includes("No events yet. Motion and tampering seen by cameras with analysis on appear here"),
    "the events page says what will appear there");
  await shot(page, "events");

  // Inventory of the reading room: BX2 scanned, BX1 is out, ZZ9 unknown.
  await page.goto(`${base}/#/inventories`);
  await page.getByRole("button", { name: "Start an inventory" }).waitFor();
  check((await page.textContent("main p.empty")).includes("Choose a location above and start one"),
    "with no inventories the page says how to start one");
  await shot(page, "inventories");
  await page.getByLabel("Location").selectOption("R1");
  await page.getByRole("button", { name: "Start an inventory" }).click();
  const scan = page.getByLabel("Barcode");
  await scan.waitFor();
  for (const code of ["BX2", "ZZ9"]) {
    await scan.pressSequentially(code);
    await scan.press("Enter");
    await page.locator("#scanned li", { hasText: code }).waitFor();
  }
  await page.getByRole("button", { name: "Close the inventory" }).click();
  await page.locator("[data-report=unexpected]").waitFor();
  const inv = await page.textContent("main");
  check(inv.includes("ZZ9: no item with this barcode"), "the inventory report lists the unknown label");
  check(inv.includes("Missing (0)"), "the item that is out is not counted missing");
  await shot(page, "inventory");

  // Locations with their coverage and blind spots; people with what they hold.
  await page.goto(`${base}/#/locations`);
  await page.locator("tr[data-location=R1]").waitFor();
  check((await page.textContent("tr[data-location=R1]")).includes("covered"), "a location seen by a camera is covered");
  await page.getByLabel("Code").fill("S9");
  await page.getByLabel("Name").fill("Basement shelf");
  await page.getByLabel("Kind").selectOption("shelf");
  await page.getByRole("button", { name: "Add" }).click();
  await page.locator("tr[data-location=S9]").waitFor();
  check((await page.textContent("tr[data-location=S9]")).includes("blind spot"), "a location no camera sees is a blind spot");
  await page.getByRole("link", { name: "Show blind spots only" }).click();
  await page.getByRole("heading", { name: "Blind spots" }).waitFor();
  check(await page.locator("tr[data-location]").count() === 1, "the blind-spot view lists only the blind spot");
  await shot(page, "locations");
  await page.goto(`${base}/#/people/S1`);
  await page.getByRole("heading", { name: "Holds now (1)" }).waitFor();
  check((await page.textContent("main")).includes("BX1"), "a person's page shows what they hold");
  await shot(page, "person");

  // Five wrong passwords lock an account: the refusal says until when, the
  // users page shows the lock and an admin ends it (logged). A lock that ends
  // after midnight names its day too ("Dec 7, 12:03 AM").
  const guesser = await newPage();
  await guesser.goto(`${base}/#/login`);
  const attempt = async (password) => {
    await guesser.getByLabel("User").fill(env("VIEWER_USER"));
    await guesser.getByLabel("Password").fill(password);
    const [answer] = await Promise.all([
      guesser.waitForResponse((r) => r.url().endsWith("/api/v1/login")),
      guesser.getByRole("button", { name: "Sign in" }).click(),
    ]);
    return answer.status();
  };
  for (let i = 0; i < 5; i += 1) check(await attempt(`wrong guess ${i}`) === 401, `wrong password ${i + 1} is refused`);
  check(await attempt(env("VIEWER_PASSWORD")) === 429, "after five wrong passwords the right one is refused too");
  await guesser.locator("#message.error", { hasText: "locked" }).waitFor();
  const refusal = await guesser.textContent("#message");
  check(/locked until (\w{3} \d{1,2}, )?\d{1,2}:\d{2}/.test(refusal) && refusal.includes("15 min from now") && !refusal.includes("a while"),
    `a locked account is told until when (${refusal})`);
  await shot(guesser, "sign-in-locked", false);
  await guesser.context().close();
  await page.goto(`${base}/#/admin`);
  const lockedRow = page.locator(`tr[data-user=${env("VIEWER_USER")}]`);
  await lockedRow.waitFor();
  check(/locked until (\w{3} \d{1,2}, )?\d{1,2}:\d{2}/.test(await lockedRow.locator("[data-sign-in]").innerText()),
    "the users page shows the locked account and until when");
  await shot(page, "users-locked");
  await lockedRow.getByRole("button", { name: "Unlock" }).click();
  await page.locator("#message", { hasText: "unlocked" }).waitFor();
  await page.waitForFunction(async (name) => {
    const v = await (await fetch("/api/v1/users")).json();
    return v.users.some((u) => u.name === name && u.locked_until_ms === null);
  }, env("VIEWER_USER"));
  check((await lockedRow.locator("[data-sign-in]").innerText()).includes("may sign in"), "an admin unlocks the account");

  // Audit: the live view and the playback are on record; the log verifies.
  await page.goto(`${base}/#/audit`);
  await page.getByRole("heading", { name: "Audit" }).waitFor();
  await page.waitForFunction(async () => {
    const r = await fetch("/api/v1/audit?category=views");
    const v = await r.json();
    return v.entries.some((e) => e.entry.live === true) && v.entries.some((e) => e.entry.live === undefined);
  }, null, { timeout: 20000, polling: 1000 });
  await page.reload();
  await page.getByRole("heading", { name: "Entries" }).waitFor();
  // In plain words: times and durations, not milliseconds and entry types;
  // the raw entry one click away.
  const views = await page.locator("main table").innerText();
  check(views.includes("watched Stacks room live") && /downloaded \d+ (s|min) of Stacks room from (\w{3} \d{1,2}, )?\d{1,2}:\d{2}/.test(views)
    && views.includes("admin"), `the audit page says in plain words who watched and downloaded footage (${views})`);
  check(!/footage\.viewed|start_ms|end_ms/.test(views), "the audit page shows no raw entry types or milliseconds");
  const firstEntry = page.locator("main table tbody tr").first();
  await firstEntry.locator("summary").click();
  const raw = await firstEntry.locator("pre").innerText();
  check(/"type": "(footage|evidence)\.[a-z]+"/.test(raw) && raw.includes("time_ms"), "the raw log entry is one click away");
  await page.getByRole("button", { name: "Verify the log" }).click();
  await page.locator("#verify-result .badge").waitFor();
  check((await page.textContent("#verify-result")).includes("verified"), "the log verifies against its latest checkpoint");
  await shot(page, "audit");
  await page.goto(`${base}/#/audit?category=changes`);
  const unlockText = `changed user ${env("VIEWER_USER")}: unlocked`;
  await page.locator("main table", { hasText: unlockText }).waitFor({ timeout: 10000 }).catch(() => {});
  check((await page.locator("main table").innerText()).includes(unlockText), "the unlock is in the log as a change of the user");

  // Users: an admin adds one, then disables it; they cannot disable
  // themselves.
  await page.goto(`${base}/#/admin`);
  await page.getByLabel("Name").fill("newbie");
  await page.getByLabel("Password (12 or more characters)").fill("a fine long password");
  await page.getByRole("button", { name: "Add user" }).click();
  await page.locator("tr[data-user=newbie]").waitFor();
  await page.getByLabel("newbie disabled").check();
  await page.locator("tr[data-user=newbie]").getByRole("button", { name: "Save" }).click();
  await page.waitForFunction(async () => {
    const v = await (await fetch("/api/v1/users")).json();
    return v.users.some((u) => u.name === "newbie" && u.disabled && u.role === "viewer");
  });
  check(true, "an admin adds a user and disables it");
  await page.getByLabel("admin disabled").check();
  await page.locator("tr[data-user=admin]").getByRole("button", { name: "Save" }).click();
  await page.locator("#message.error").waitFor();
  check((await page.textContent("#message")).includes("own account"), "an admin cannot disable their own account");
  await shot(page, "users");

  // Settings: opening hours, a stream test, and a zone drawn on the
  // picture; each change is saved to the file and applied by a restart.
  await page.goto(`${base}/#/settings`);
  await page.locator("tr[data-settings-camera=stacks]").waitFor();
  await shot(page, "settings");
  await page.getByLabel("Time zone").fill("Europe/Berlin");
  await page.getByLabel("Monday").fill("08:00-17:00");
  await page.getByRole("button", { name: "Save the hours" }).click();
  await page.locator("#message", { hasText: "Saved and applied." }).waitFor({ timeout: 30000 });
  check(true, "an admin sets the opening hours and they are applied");
  await page.goto(`${base}/#/settings/cameras/stacks`);
  await page.getByRole("button", { name: "Test the stream" }).waitFor();
  check((await page.textContent("main")).includes("No zones or masks: motion counts anywhere in the picture"),
    "a camera without zones says what a zone would do");
  await page.getByRole("button", { name: "Test the stream" }).click();
  await page.locator("[data-probe]", { hasText: "×" }).waitFor({ timeout: 20000 });
  const probed = await page.textContent("[data-probe]");
  check(probed.includes("h264 320×240"), `the stream test reports what the camera sends (${probed})`);
  await page.waitForFunction(() => {
    const img = document.querySelector(".picture img");
    return img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 20000 });
  await page.getByRole("button", { name: "Add a zone" }).click();
  const picture = await page.locator(".picture svg.regions").boundingBox();
  for (const [fx, fy] of [[0.1, 0.5], [0.6, 0.5], [0.6, 0.95]]) {
    await page.mouse.click(picture.x + fx * picture.width, picture.y + fy * picture.height);
  }
  const corners = await page.getByLabel("Corners of region 1").inputValue();
  check(corners.split(" ").length === 3, `three clicks make three corners (${corners})`);
  await shot(page, "settings-camera");
  await page.getByRole("button", { name: "Save and apply" }).click();
  await page.locator("#message", { hasText: "Saved and applied." }).waitFor({ timeout: 30000 });
  const saved = await page.evaluate(async () =>
    (await (await fetch("/api/v1/settings/cameras")).json()).cameras.find((c) => c.id === "stacks"));
  check(saved.analysis.zones.length === 1 && saved.analysis.zones[0].points.length === 3
    && Math.abs(saved.analysis.zones[0].points[1][0] - 0.6) < 0.02, "the zone drawn on the picture is saved");

  // An admin on a phone: column names beside each cell, hints not cut off.
  const phone = await newPage({ width: 390, height: 844 });
  await signIn(phone, env("ADMIN_USER"), env("ADMIN_PASSWORD"));
  await phone.locator("tr[data-storage=stacks]").waitFor();
  await shot(phone, "dashboard-admin-phone");
  for (const [path, ready, name] of [
    ["#/items", "#q", "register-phone"],
    ["#/locations", "#loc-cameras", "locations-phone"],
    ["#/settings", "#hours-sun", "settings-phone"],
    ["#/settings/cameras/stacks", "#cam-url", "settings-camera-phone"],
    ["#/admin", "#new-name", "users-phone"],
    ["#/audit", "main table", "audit-phone"],
  ]) {
    await phone.goto(`${base}/${path}`);
    await phone.locator(ready).waitFor();
    await shot(phone, name);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `${path} fits a phone's width for an admin (${overflow} px too wide)`);
  }
  await phone.context().close();

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  const after = await page.evaluate(async () => (await fetch("/api/v1/session")).status);
  check(after === 401, "signing out ends the session");

  // --- a viewer: no register, no desk
  const viewer = await newPage({ width: 390, height: 844 });
  // By keyboard alone: the focus starts on the user name, Tab moves to the
  // password, Enter signs in; the skip link is the first stop and leads
  // into the page without leaving it.
  await viewer.goto(`${base}/#/login`);
  await viewer.locator("#user").waitFor();
  check(await viewer.evaluate(() => document.activeElement.id === "user"), "the sign-in page starts with the focus on the user name");
  await viewer.keyboard.type(env("VIEWER_USER"));
  await viewer.keyboard.press("Tab");
  await viewer.keyboard.type(env("VIEWER_PASSWORD"));
  await viewer.keyboard.press("Enter");
  await viewer.waitForSelector("#nav:not([hidden])");
  check(true, "a viewer signs in by keyboard alone");
  await viewer.locator("[data-camera=stacks]").waitFor();
  const firstStop = await viewer.evaluate(() => {
    const focusable = [...document.querySelectorAll("a[href], button, input, select, textarea, [tabindex]")]
      .filter((e) => e.tabIndex >= 0 && !e.disabled);
    return focusable[0] && focusable[0].className;
  });
  check(firstStop === "skip", `the skip link is the first stop of the Tab order (${firstStop})`);
  await viewer.focus("a.skip");
  await viewer.keyboard.press("Enter");
  check(await viewer.evaluate(() => document.activeElement.id === "main" && location.hash === "#/"),
    "the skip link moves the focus into the page and stays on it");
  check(await viewer.getByRole("link", { name: "Register" }).isHidden(), "a viewer has no Register link");
  await viewer.goto(`${base}/#/items`);
  await viewer.getByRole("heading", { name: "Not allowed" }).waitFor();
  check(true, "a viewer who types the register's address is not allowed");
  const status = await viewer.evaluate(async () =>
    (await fetch("/api/v1/exports", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).status);
  check(status === 403, `a viewer's export request is refused without a CSRF token (got ${status})`);
  await viewer.goto(`${base}/#/`);
  await viewer.locator("[data-camera=stacks]").waitFor();
  await viewer.waitForFunction(() => {
    const img = document.querySelector("[data-camera=stacks] img.thumb");
    return img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 20000 });
  const guardCard = await viewer.locator("[data-camera=stacks]").innerText();
  check(!/avc1|h264|analysed|dropped|×/.test(guardCard), `a viewer sees no codec or analysis counters (${guardCard.replace(/\s+/g, " ")})`);
  await shot(viewer, "dashboard-phone");
  await viewer.goto(`${base}/#/playback/stacks`);
  await viewer.getByRole("heading", { name: "Not allowed" }).waitFor();
  const recorded = await viewer.evaluate(async () =>
    (await fetch(`/api/v1/cameras/stacks/video.mp4?start_ms=${Date.now() - 60000}&end_ms=${Date.now()}`)).status);
  check(recorded === 403, `a viewer watches live but cannot play recorded footage (got ${recorded})`);
  for (const path of ["#/", "#/alerts", "#/events", "#/live/stacks"]) {
    await viewer.goto(`${base}/${path}`);
    await viewer.locator("main h1").waitFor();
    const overflow = await viewer.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `${path} fits a phone's width (${overflow} px too wide)`);
  }
  await viewer.locator("main [role=status]", { hasText: "live" }).waitFor({ timeout: 20000 });
  const guardLive = await viewer.textContent("main [role=status]");
  check(guardLive.trim() === "live", `a viewer's live view shows no codec (${guardLive})`);

  check(external.length === 0, `no request leaves the site (${external.join(", ")})`);
  check(problems.length === 0, `no console errors or CSP violations (${problems.join(" | ")})`);
  console.log("all browser checks passed");
} catch (err) {
  console.error(String(err.stack || err));
  process.exitCode = 1;
} finally {
  await browser.close();
}
