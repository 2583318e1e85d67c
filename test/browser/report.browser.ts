/**
 * The HTML report in a real browser: Debian's Chromium (/usr/bin/chromium) driven by playwright-core.
 * Opens the reports of the default scenario and of a hazard scenario from disk (file://), checks the
 * map, legend and timeline counts against the run report's figures, clicks a call and checks its root
 * page decoded, scrubs the slider and checks the map's states after each scenario step, and writes the
 * screenshots docs/report-default.png and docs/report-hazard.png. Then measures the 1,048,576-page
 * pool's report: HTML size, time to first render, time to redraw after a scrub.
 *
 * Run: `npm run test:browser` (node:test; not part of `npm test`). Skips when /usr/bin/chromium is
 * missing and CI is unset; with CI set it runs (and fails without Chromium).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { loadScenario } from "../../src/cli/scenario-file.js";
import type { ModelEvent } from "../../src/observe/events.js";
import type { RootView } from "../../src/observe/root-pages.js";
import { buildReport } from "../../src/report/build.js";
import { renderReportHtml } from "../../src/report/html.js";
import type { ReportModel } from "../../src/report/model.js";
import type { RunReport } from "../../src/scenario/runner.js";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = new URL("../../", import.meta.url);
const SKIP = !existsSync(CHROMIUM) && !process.env.CI;
const fmt = (n: number) => n.toLocaleString("en-US");

interface Report {
  file: string;
  bytes: number;
  model: ReportModel;
  run: RunReport;
  /** Root view of the first call of each leaf that takes a list (from the event stream). */
  roots: Map<string, { seq: number; root: RootView }>;
  hazardPfns: Set<number>;
}

let dir = "";
let browser: Browser | null = null;

function report(name: string): Report {
  const roots = new Map<string, { seq: number; root: RootView }>();
  const hazardPfns = new Set<number>();
  const { model, run } = buildReport(loadScenario(new URL(`scenarios/${name}.yaml`, ROOT).pathname), {
    onEvent: (e: ModelEvent) => {
      const root = e.type === "seamcall" ? (e.root?.view() ?? null) : null;
      if (e.type === "seamcall" && root !== null && !roots.has(e.leaf))
        roots.set(e.leaf, { seq: e.seq, root });
      if (e.type === "hazard") hazardPfns.add(e.pfn);
    },
  });
  const html = renderReportHtml(model, readFileSync(new URL("dist/report/page.bundle.js", ROOT), "utf8"));
  const file = join(dir, `${name}.html`);
  writeFileSync(file, html);
  return { file, bytes: Buffer.byteLength(html), model, run, roots, hazardPfns };
}

async function open(
  r: Report,
  viewport = { width: 1440, height: 1300 },
): Promise<{ page: Page; ms: number }> {
  const page = await browser!.newPage({ viewport });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  // Any request but the file itself would mean the report is not self-contained.
  const requests: string[] = [];
  page.on("request", (q) => {
    if (!q.url().startsWith("file://")) requests.push(q.url());
  });
  const t0 = Date.now();
  await page.goto(`file://${r.file}`);
  await page.waitForSelector("body[data-ready]", { timeout: 60_000 });
  const ms = Date.now() - t0;
  assert.deepEqual(errors, [], "no page errors");
  assert.deepEqual(requests, [], "no requests beyond the file");
  assert.equal(await page.getAttribute("body", "data-error"), null);
  return { page, ms };
}

/** The legend's page count for a category (`host free`, `module: PT_EXT_POOL`, `hazard`, …). */
async function legend(page: Page): Promise<Record<string, number>> {
  return page.$$eval("#legend [data-cat]", (els) =>
    Object.fromEntries(els.map((e) => [e.getAttribute("data-cat")!, Number(e.getAttribute("data-count"))])),
  );
}

const moduleOwned = (l: Record<string, number>) =>
  Object.entries(l)
    .filter(([k]) => k.startsWith("module: "))
    .reduce((s, [, n]) => s + n, 0);

/** Moves the slider to `pos` and waits for the map to be redrawn there. */
async function scrub(page: Page, pos: number): Promise<void> {
  await page.locator("#slider").fill(String(pos));
  await page.waitForSelector(`#map[data-pos="${pos}"]`);
}

/** Clicks the timeline row of position `pos`, scrolling the virtualised list until it exists. */
async function clickRow(page: Page, pos: number): Promise<void> {
  const sel = `#timeline .row[data-pos="${pos}"]`;
  for (let y = 0; y < 200_000; y += 300) {
    if ((await page.$(sel)) !== null) break;
    await page.$eval(
      "#timeline",
      (e, top) => {
        e.scrollTop = top;
        e.dispatchEvent(new Event("scroll"));
      },
      y,
    );
  }
  await page.click(sel);
  await page.waitForSelector(`#map[data-pos="${pos}"]`);
}

/** Checks the summary, the map and the timeline against the run report. */
async function checkCounts(page: Page, r: Report): Promise<void> {
  const t = r.run.totals;
  assert.equal(await page.textContent('[data-fig="calls"]'), fmt(t.calls));
  assert.equal(await page.textContent('[data-fig="hazards"]'), fmt(t.hazards));
  assert.equal(await page.textContent('[data-fig="interrupts"]'), fmt(t.interrupts));
  assert.equal(await page.getAttribute("#timeline", "data-calls"), String(t.calls));
  assert.equal(
    Number(await page.getAttribute("#timeline", "data-rows")),
    r.model.steps.length + r.model.phases.length,
  );
  assert.equal(Number(await page.getAttribute("#map", "data-pages")), r.model.figures.pagesInvolved);
  // At the end, the legend counts what the conservation check counts.
  const l = await legend(page);
  const c = r.run.conservation.totals;
  assert.equal(moduleOwned(l), c.moduleOwned, "module-owned at the end");
  assert.equal(l["host held"], c.hostHeld, "host held at the end");
  assert.equal(l.stranded, c.stranded, "stranded at the end");
  assert.equal(l.hazard, r.hazardPfns.size, "hazard pages");
  // Scrubbing: after each scenario step the map shows the run report's module-held count.
  await scrub(page, 0);
  assert.equal((await legend(page))["host free"], r.model.figures.pagesInvolved, "all free at 0");
  for (const [i, ph] of r.model.phases.entries()) {
    await scrub(page, ph[2]!);
    assert.equal(moduleOwned(await legend(page)), r.run.phases[i]!.pages.moduleOwned, `after step ${i}`);
  }
}

/** Clicks the first call of `leaf` and checks its root page decoded against the event's RootView. */
async function checkCall(page: Page, r: Report, leaf: string): Promise<void> {
  const first = r.roots.get(leaf);
  assert.ok(first, `${leaf} was called`);
  const k = r.model.calls.seq.indexOf(first.seq);
  const pos = r.model.calls.pos[k]!;
  await clickRow(page, pos);
  assert.match(
    (await page.textContent("#detail h2")) ?? "",
    new RegExp(`^#${first.seq} ${leaf.replace(/\./g, "\\.")}`),
  );
  const rows = await page.$$eval("#detail table.entries tr.entry", (trs) =>
    trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
  );
  const entries = first.root.entries;
  assert.equal(rows.length, Math.min(entries.length, 64));
  rows.forEach((row, i) => {
    const e = entries[i]!;
    assert.equal(row[0], String(e.index));
    assert.equal(row[1], e.raw);
    assert.equal(row[2], e.hpa);
    assert.equal(row[4], e.error === null ? "ok" : row[4]);
  });
  assert.ok(Number(await page.getAttribute("#map", "data-highlighted")) > 0, "touched pages highlighted");
  assert.equal(await page.inputValue("#slider"), String(pos));
}

describe("HTML report in Chromium", { skip: SKIP ? `${CHROMIUM} missing and CI unset` : false }, () => {
  before(async () => {
    execFileSync(process.execPath, [new URL("scripts/build-report-page.mjs", ROOT).pathname], {
      stdio: "pipe",
    });
    dir = mkdtempSync(join(tmpdir(), "tdxpa-report-browser-"));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });
  after(async () => {
    await browser?.close();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("default scenario: counts, a call's root page, scrubbing; screenshot", async () => {
    const r = report("default");
    const { page, ms } = await open(r);
    await checkCounts(page, r);
    await checkCall(page, r, "TDH.EXT.MEM.ADD");
    await checkCall(page, r, "TDH.IOMMU.SETUP");
    assert.equal(await page.getAttribute(".verdict", "data-verdict"), "clean");
    assert.equal(await page.getAttribute(".verdict", "class"), "verdict ok");
    console.log(
      `default: ${fmt(r.bytes)} bytes, ready in ${ms} ms (page: ${await page.getAttribute("body", "data-render-ms")} ms)`,
    );
    await page.screenshot({ path: new URL("docs/report-default.png", ROOT).pathname, fullPage: true });
    await page.close();
  });

  it("hazard scenario: hazards listed with page and call; screenshot", async () => {
    const r = report("no-clflush");
    const { page } = await open(r);
    await checkCounts(page, r);
    assert.equal(await page.getAttribute("table.hz", "data-hazards"), String(r.run.totals.hazards));
    const first = r.model.hazards[0]!;
    const call = first[3]!;
    const rows = await page.$$eval("table.hz tr.hazard", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
    );
    const firstRow = rows[0]!;
    // 80 hazards, 20 pages under each of 4 IOMMU.SETUP calls: identical rows collapse to 4 with a count.
    assert.equal(rows.length, 4);
    assert.deepEqual(
      rows.map((x) => x[1]),
      ["×20", "×20", "×20", "×20"],
    );
    assert.equal(firstRow[0], r.run.hazards[0]!.kind);
    assert.match(
      firstRow[2]!,
      new RegExp(`^0x${(r.run.hazards[0]!.pfn * 4096).toString(16)} … 0x[0-9a-f]+$`),
    );
    assert.equal(firstRow[3], `#${r.model.calls.seq[call]} ${r.run.hazards[0]!.cause.split(" ")[0]}`);
    // Findings the scenario expected: an amber badge, never the green clean one beside red hazards.
    assert.equal(await page.getAttribute(".verdict", "data-verdict"), "findings, all expected");
    assert.equal(await page.getAttribute(".verdict", "class"), "verdict warn");
    await page.click("table.hz tr.hazard");
    await page.waitForSelector(`#map[data-pos="${first[0]}"]`);
    assert.match((await page.textContent("#detail h2")) ?? "", /^#\d+ TDH\.IOMMU\.SETUP/);
    assert.ok((await legend(page)).hazard! > 0, "hazard pages on the map at the hazard's step");
    await checkCall(page, r, "TDH.IOMMU.SETUP");
    await page.screenshot({ path: new URL("docs/report-hazard.png", ROOT).pathname, fullPage: true });
    await page.close();
  });

  for (const width of [1400, 1000]) {
    it(`the map grouped by object, nothing clipped at ${width} px; screenshot`, async () => {
      const r = report("default");
      const { page } = await open(r, { width, height: 1100 });
      const groups = ((await page.getAttribute("#map", "data-groups")) ?? "").split("|");
      assert.equal(groups[0], "extension memory pool");
      assert.deepEqual(
        groups.filter((g) => g.startsWith("IOMMU ")),
        [
          "IOMMU dmar0-socket0-pcie0",
          "IOMMU dmar1-socket0-pcie1",
          "IOMMU dmar3-socket1-pcie0",
          "IOMMU dmar4-socket1-pcie1",
        ],
      );
      assert.equal(groups.filter((g) => g.startsWith("SPDM session ")).length, 3);
      assert.equal(groups.filter((g) => g.startsWith("IDE stream ")).length, 3);
      assert.equal(groups.at(-1), "host pages (never handed to the module)");
      // Nothing wider than the window, no section wider than its box, the map inside its panel.
      // (Run in the page, as text: the tests compile without the DOM library.)
      const over = (await page.evaluate(`(() => {
        const out = [];
        const root = document.scrollingElement;
        if (root.scrollWidth > window.innerWidth) out.push("page " + root.scrollWidth + " > " + window.innerWidth);
        for (const e of document.querySelectorAll("section, header"))
          if (e.scrollWidth > e.clientWidth + 1) out.push((e.id || e.tagName) + " " + e.scrollWidth + " > " + e.clientWidth);
        const map = document.getElementById("map").getBoundingClientRect();
        const panel = document.getElementById("map-panel").getBoundingClientRect();
        if (map.right > panel.right) out.push("map " + map.right + " > panel " + panel.right);
        return out;
      })()`)) as string[];
      assert.deepEqual(over, [], `clipped at ${width} px`);
      await page.locator("#map-panel").screenshot({
        path: new URL(`docs/report-map-${width}.png`, ROOT).pathname,
      });
      await page.close();
    });
  }

  it("1,048,576-page pool: size and render time", async () => {
    const r = report("pool-1m");
    const { page, ms } = await open(r);
    const cells = Number(await page.getAttribute("#map", "data-cells"));
    assert.ok(cells <= 16384, `${cells} cells`);
    assert.equal(moduleOwned(await legend(page)), 1_048_576);
    const mid = r.model.steps.length >> 1;
    const t0 = Date.now();
    await scrub(page, mid);
    const scrubMs = Date.now() - t0;
    const l = await legend(page);
    assert.ok(moduleOwned(l) > 0 && moduleOwned(l) < 1_048_576, "half the pool donated mid-run");
    await checkCall(page, r, "TDH.EXT.MEM.ADD");
    const line = `pool-1m: HTML ${fmt(r.bytes)} bytes, ${fmt(cells)} cells of ${await page.getAttribute("#map", "data-pages-per-cell")} pages, ready in ${ms} ms (parse ${await page.getAttribute("body", "data-parse-ms")} ms, first render done at ${await page.getAttribute("body", "data-render-ms")} ms), scrub to the middle ${scrubMs} ms`;
    console.log(line);
    assert.ok(r.bytes < 2_000_000, line);
    assert.ok(ms < 15_000, line);
    await page.close();
  });
});
