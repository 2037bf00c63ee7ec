// Browser test of /home: Debian's Chromium driven by playwright-core (no browser
// download). Starts the real `spinfer up` on a free loopback port and a loopback image
// server for the URL case, then uploads a photo, submits a URL and a non-image the way
// a person would, reading the answers off the page. Screenshots go to tests-output/.
// The 200 MP phone photo is made before the test by `scripts/photos.py --big` (the
// Makefile's test-browser target does it), never committed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { readFileSync, mkdirSync, writeFileSync, existsSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const data = process.env.SPINFER_TEST_DATA || join(root, "tests/data");
const out = join(root, "tests-output");
mkdirSync(out, { recursive: true });
const cat = join(data, "images/chelsea.png");
const bigPhoto = process.env.BIG_PHOTO || join(root, "target/photos/phone200.jpg");

let host, images, browser, base;

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

function startHost(allow) {
  const bin = process.env.SPINFER_BIN;
  assert.ok(bin, "SPINFER_BIN must point at the spinfer binary");
  // The page's own check (the app variable) and the host's address policy (the flag)
  // must both let the loopback image server through.
  const args = ["up", "-f", join(root, "spin.toml"), "--listen", "127.0.0.1:0"];
  if (allow) args.push("--allow-private-host", allow);
  const child = spawn(bin, args, {
    env: { ...process.env, SPIN_VARIABLE_FETCH_ALLOW_HOSTS: allow },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = [];
  child.stderr.on("data", (d) => log.push(d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("spinfer did not start in 300 s")), 300_000);
    child.on("exit", (code) => reject(new Error(`spinfer exited with ${code}:\n${log.join("")}`)));
    child.stdout.on("data", (d) => {
      const m = /Serving (http:\/\/\S+)/.exec(d.toString());
      if (m) { clearTimeout(timer); resolve({ child, url: m[1] }); }
    });
  });
}

before(async () => {
  const png = readFileSync(cat);
  images = createServer((req, res) => {
    if (req.url === "/cat.png") { res.writeHead(200, { "content-type": "image/png" }); res.end(png); }
    else { res.writeHead(404); res.end(); }
  });
  const port = await listen(images);
  host = await startHost(`127.0.0.1:${port}`);
  base = host.url;
  images.imageUrl = `http://127.0.0.1:${port}/cat.png`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  host?.child.kill("SIGTERM");
  images?.close();
});

async function page(viewport = { width: 1100, height: 900 }) {
  const p = await browser.newPage({ viewport });
  await p.goto(`${base}/home`);
  await p.waitForSelector("body[data-ready]", { state: "attached" });
  return p;
}

const topLabels = (p) => p.locator("#predictions .name").allTextContents();

test("uploading a photo shows Egyptian cat in the top-5", async () => {
  const p = await page();
  await p.setInputFiles("#file", cat);
  await p.waitForSelector("#predictions li");
  const labels = await topLabels(p);
  assert.equal(labels.length, 5);
  assert.ok(labels.includes("Egyptian cat"), `top-5 was ${labels}`);
  assert.match(await p.textContent("#status"), /Top 5 from mobilenetv2/);
  assert.match(await p.textContent("#meta"), /inference [\d.]+ ms/);
  await p.waitForTimeout(500); // let the bars animate in
  writeFileSync(join(out, "home-result.png"), await p.screenshot({ fullPage: true }));
  await p.close();
});

test("a URL served on loopback is fetched and classified", async () => {
  const p = await page();
  await p.fill("#url", images.imageUrl);
  await p.click("#url-form button");
  await p.waitForSelector("#predictions li");
  assert.ok((await topLabels(p)).includes("Egyptian cat"));
  await p.close();
});

test("a non-image gets a message in words", async () => {
  const p = await page();
  await p.setInputFiles("#file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("just some text") });
  await p.waitForSelector("#error:not([hidden])");
  assert.equal(await p.textContent("#error"), "That file is not an image.");
  assert.equal(await p.locator("#predictions li").count(), 0);
  writeFileSync(join(out, "home-error.png"), await p.screenshot());
  await p.close();
});

test("a sample click works on a phone-sized screen, keyboard reachable", async () => {
  const p = await page({ width: 390, height: 844 });
  await p.focus("#drop");
  assert.equal(await p.evaluate(() => document.activeElement.id), "drop");
  await p.click('[data-sample="/static/samples/strawberry.jpg"]');
  await p.waitForSelector("#predictions li");
  assert.equal((await topLabels(p))[0], "strawberry");
  writeFileSync(join(out, "home-phone.png"), await p.screenshot({ fullPage: true }));
  await p.close();
});

test("the size limit shown is the API's, and a file over it is refused in words", async () => {
  const p = await page();
  const limits = await p.evaluate(async () => (await (await fetch("/api/models")).json()).limits);
  assert.equal(limits.max_body_bytes, 40 * 1024 * 1024);
  assert.equal(await p.textContent("#max-size"), "40 MiB");
  const over = join(out, "over-the-limit.jpg");
  writeFileSync(over, Buffer.alloc(limits.max_body_bytes + 1, 0xff));
  await p.setInputFiles("#file", over);
  await p.waitForSelector("#error:not([hidden])");
  assert.equal(await p.textContent("#error"), "That image is too big (the limit is 40 MiB).");
  await p.close();
});

test("a 200 MP phone photo is uploaded and classified", { timeout: 120_000 }, async () => {
  assert.ok(existsSync(bigPhoto), `${bigPhoto} is missing: run scripts/photos.py --big first`);
  const size = statSync(bigPhoto).size;
  assert.ok(size >= 10 * 1024 * 1024 && size <= 40 * 1024 * 1024, `${size} bytes`);
  const p = await page();
  await p.setInputFiles("#file", bigPhoto);
  await p.waitForSelector("#predictions li", { timeout: 100_000 });
  assert.equal((await topLabels(p))[0], "bald eagle");
  writeFileSync(join(out, "home-200mp.png"), await p.screenshot());
  await p.close();
});
