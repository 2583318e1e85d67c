/**
 * The HTML report (src/report, `tdxpa report`) without a browser: the report model's figures equal the
 * run report's (SEAMCALLs, interrupts, hazards, pages by state at the end and after every step), root
 * entries survive the model's compression bit for bit, the map covers every page, the HTML is
 * self-contained and safe against hostile names, and the CLI writes atomically with one-line errors.
 * The browser test (test/browser/report.browser.ts, `npm run test:browser`) drives the page itself.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromDoc, loadScenario } from "../../src/cli/scenario-file.js";
import { STATUS, type StatusName } from "../../src/common/status.js";
import { u64ToHex } from "../../src/common/u64.js";
import type { ModelEvent } from "../../src/observe/events.js";
import type { RootView } from "../../src/observe/root-pages.js";
import { buildReport } from "../../src/report/build.js";
import { renderReportHtml } from "../../src/report/html.js";
import { categories, mapFrame, mapLayout } from "../../src/report/map.js";
import { BASE, countsAt, entryRuns, expandEntryRuns, type ReportModel } from "../../src/report/model.js";
import { DEFAULT_SCENARIO_DOC } from "../../src/scenario/default.js";
import type { RunReport } from "../../src/scenario/runner.js";
import { toBe, toEqual } from "../support/assert.js";
import { runCli } from "../support/cli.js";

const ROOT = new URL("../../", import.meta.url);
const SCENARIOS = [
  "default",
  "no-clflush",
  "head-page-only",
  "free-before-writeback",
  "ext-add-original-operand",
  "stale-root",
  "alloc-failure",
  "duplicate-page",
] as const;

let dir = "";
beforeAll(() => {
  // The CLI inlines the built page script: build it now so the tests see this tree's page code.
  execFileSync(process.execPath, [new URL("scripts/build-report-page.mjs", ROOT).pathname], {
    stdio: "pipe",
  });
  dir = mkdtempSync(join(tmpdir(), "tdxpa-report-"));
});
afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

interface Built {
  model: ReportModel;
  run: RunReport;
  roots: RootView[];
  hazardPfns: Set<number>;
}

const cache = new Map<string, Built>();
function built(name: string): Built {
  let b = cache.get(name);
  if (b === undefined) {
    const roots: RootView[] = [];
    const hazardPfns = new Set<number>();
    const { model, run } = buildReport(loadScenario(new URL(`scenarios/${name}.yaml`, ROOT).pathname), {
      onEvent: (e: ModelEvent) => {
        const root = e.type === "seamcall" ? (e.root?.view() ?? null) : null;
        if (root !== null) roots.push(root);
        if (e.type === "hazard") hazardPfns.add(e.pfn);
      },
    });
    b = { model, run, roots, hazardPfns };
    cache.set(name, b);
  }
  return b;
}

describe("report model figures equal the run report's", () => {
  it.each(SCENARIOS)("%s: totals and pages by state at the end", (name) => {
    const { model, run, hazardPfns } = built(name);
    const f = model.figures;
    expect(f.calls).toBe(run.totals.calls);
    expect(f.interrupts).toBe(run.totals.interrupts);
    expect(f.hazards).toBe(run.totals.hazards);
    expect(f.reports).toBe(run.totals.reports);
    expect(model.run.totals).toEqual(run.totals);
    const c = run.conservation.totals;
    expect(f.final[BASE.MODULE]).toBe(c.moduleOwned);
    expect(f.final[BASE.HELD]).toBe(c.hostHeld);
    expect(f.final[BASE.STRANDED]).toBe(c.stranded);
    expect(f.finalHazard).toBe(hazardPfns.size);
    expect(f.final.reduce((a, b) => a + b, 0)).toBe(f.pagesInvolved);
    expect(countsAt(model, model.steps.length)).toEqual([...f.final, f.finalHazard]);
    expect(Object.values(f.finalByType).reduce((a, b) => a + b, 0)).toBe(f.final[BASE.MODULE]);
  });

  it.each(SCENARIOS)("%s: after every step, calls and module-held pages match", (name) => {
    const { model, run } = built(name);
    expect(model.phases).toHaveLength(run.phases.length);
    model.phases.forEach((ph, i) => {
      const rp = run.phases[i]!;
      const [, begin, end] = ph as [number, number, number];
      let calls = 0;
      for (let p = begin + 1; p <= end; p++) if (model.steps[p - 1]! >= 0) calls++;
      const want = Object.values(rp.calls).reduce(
        (s, st) => s + Object.values(st).reduce((a, b) => a + b, 0),
        0,
      );
      expect(calls, `step ${i} calls`).toBe(want);
      const at = countsAt(model, end);
      // The PAMT count includes stranded pages the module still owns; the map shows them stranded.
      if (rp.pages.stranded === 0)
        expect(at[BASE.MODULE], `step ${i} module-held`).toBe(rp.pages.moduleOwned);
      else expect(at[BASE.STRANDED], `step ${i} stranded`).toBe(rp.pages.stranded);
      expect(ph[3], `step ${i} ok`).toBe(rp.ok ? 1 : 0);
    });
  });

  it.each(SCENARIOS)("%s: every root page's entries survive compression bit for bit", (name) => {
    const { model, roots } = built(name);
    const withRoot = model.calls.root.filter((r) => r >= 0);
    expect(withRoot).toHaveLength(roots.length);
    withRoot.forEach((ri, k) => {
      const rec = model.roots[ri]!;
      const want = roots[k]!;
      toBe(rec.rootHpa, want.rootHpa);
      toBe(rec.count, want.count);
      toEqual(
        expandEntryRuns(rec.runs).map(([lo, hi]) => u64ToHex(lo, hi)),
        want.entries.map((e) => e.raw),
      );
    });
  });

  it.each(SCENARIOS)("%s: the map covers every page once, within the cell limit", (name) => {
    const { model } = built(name);
    const l = mapLayout(model);
    expect(l.cellPfn.length).toBeLessThanOrEqual(16384);
    expect(l.cellPages.reduce((a, b) => a + b, 0)).toBe(model.figures.pagesInvolved);
    const cats = categories(model);
    for (const pos of [0, model.steps.length >> 1, model.steps.length]) {
      const fr = mapFrame(model, l, cats, pos);
      const counts = countsAt(model, pos);
      expect(fr.pagesByCat.reduce((a, b) => a + b, 0)).toBe(model.figures.pagesInvolved);
      expect(fr.pagesByCat[1]).toBe(counts[BASE.HELD]);
      expect(fr.pagesByCat[2]).toBe(counts[BASE.STRANDED]);
      expect(fr.hazardPages).toBe(counts[4]);
    }
    expect(countsAt(model, 0)[BASE.FREE]).toBe(model.figures.pagesInvolved);
  });

  it("classes each call's status as its text says (the collector reads the status code)", () => {
    // Oracle: the status text's name looked up in the status table; unnamed statuses are raw hex, whose
    // bit 63 is the error bit.
    const classOf = (text: string): number => {
      const name = text.split("(")[0]!;
      if (name === "TDX_INTERRUPTED_RESUMABLE") return 1;
      const k = STATUS[name as StatusName];
      const hi = k !== undefined ? k.hi : Number.parseInt(text.slice(2, 10), 16);
      return hi >>> 31 === 1 ? 2 : 0;
    };
    const seen = new Set<number>();
    for (const name of SCENARIOS) {
      const { model } = built(name);
      model.calls.cls.forEach((cls, i) => {
        expect(cls, `${name} call ${i}`).toBe(classOf(model.strings[model.calls.status[i]!]!));
        seen.add(cls);
      });
    }
    expect([...seen].sort()).toEqual([0, 1, 2]);
  });

  it("marks interrupts and the call each resumption resumes", () => {
    const { model } = built("default");
    const c = model.calls;
    let resumed = 0;
    c.resumes.forEach((r, i) => {
      if (r < 0) return;
      resumed++;
      expect(c.cls[r]).toBe(1);
      expect(c.leaf[r]).toBe(c.leaf[i]);
    });
    expect(resumed).toBe(model.figures.interrupts);
  });

  it("places a hazard on its page and the call that caused it", () => {
    const { model } = built("no-clflush");
    const hz = model.hazards[0]!;
    const call = hz[3]!;
    expect(model.strings[model.calls.leaf[call]!]).toBe("TDH.IOMMU.SETUP");
    expect(model.strings[hz[4]!]).toBe(`TDH.IOMMU.SETUP #${model.calls.seq[call]}`);
    expect(hz[0]).toBe(model.calls.pos[call]);
  });

  it("keeps the 1,048,576-page pool compact", () => {
    const { model, run } = built("pool-1m");
    expect(model.figures.calls).toBe(run.totals.calls);
    expect(model.figures.final[BASE.MODULE]).toBe(1_048_576);
    expect(model.runs.length / 3).toBeLessThanOrEqual(2100);
    expect(JSON.stringify(model).length).toBeLessThan(1_500_000);
    expect(mapLayout(model).cellPfn.length).toBeLessThanOrEqual(16384);
  });
});

describe("entry runs", () => {
  it("round-trips any list of u64 values", () => {
    const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
    const pair = fc.tuple(u32, u32);
    const progression = fc
      .tuple(pair, fc.integer({ min: 1, max: 40 }), fc.constantFrom(0, 4096, 8192, 0x7fff_ffff))
      .map(([[lo, hi], n, step]) => {
        const out: [number, number][] = [];
        let l = lo;
        let h = hi;
        for (let i = 0; i < n; i++) {
          out.push([l, h]);
          l += step;
          if (l >= 2 ** 32) {
            l -= 2 ** 32;
            h = (h + 1) >>> 0;
          }
        }
        return out;
      });
    fc.assert(
      fc.property(
        fc.array(fc.oneof(progression, fc.array(pair, { maxLength: 5 })), { maxLength: 8 }),
        (parts) => {
          const values = parts.flat().map(([lo, hi]) => u64ToHex(lo, hi));
          expect(expandEntryRuns(entryRuns(parts.flat().flat())).map(([lo, hi]) => u64ToHex(lo, hi))).toEqual(
            values,
          );
        },
      ),
    );
  });

  it("stores a contiguous 512-entry list as one run", () => {
    const values = Array.from({ length: 512 }, (_, i) => u64ToHex(0xffff_f000 + i * 4096 - 2 ** 32 * 0, 0));
    // Crosses the 2^32 boundary of the low half.
    const halves = Array.from({ length: 512 }, (_, i) => {
      const a = 0xfff0_0000 + i * 4096;
      return [a % 2 ** 32, Math.floor(a / 2 ** 32)];
    }).flat();
    const v2 = expandEntryRuns(halves.flatMap((x, i) => (i % 2 === 0 ? [x, halves[i + 1]!, 1, 0] : []))).map(
      ([lo, hi]) => u64ToHex(lo, hi),
    );
    expect(entryRuns(halves)).toHaveLength(4);
    expect(expandEntryRuns(entryRuns(halves)).map(([lo, hi]) => u64ToHex(lo, hi))).toEqual(v2);
    expect(v2[511]).toBe(u64ToHex((0xfff0_0000 + 511 * 4096) % 2 ** 32, 1));
    expect(values).toHaveLength(512);
  });
});

describe("HTML is self-contained", () => {
  const bundle = () => readFileSync(new URL("dist/report/page.bundle.js", ROOT), "utf8");

  it.each(["default", "no-clflush"])("%s: no URL, no external resource", (name) => {
    const html = renderReportHtml(built(name).model, bundle());
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\s(src|href|srcset|action|poster)\s*=/i);
    expect(html).not.toMatch(/<(link|img|iframe|object|embed|base)\b/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html.match(/<script\b/gi)).toHaveLength(2);
    expect(html.match(/<\/script>/gi)).toHaveLength(2);
    expect(html).toContain('id="tdxpa-data"');
  });

  it("escapes a hostile scenario name and description", () => {
    const doc = {
      ...DEFAULT_SCENARIO_DOC,
      name: "</script><script>alert(1)</script><!--",
      description: "a </SCRIPT> and <b>bold</b> & 'quotes' \u2028",
      steps: [{ flow: "extensions" }],
    };
    const { model } = buildReport(fromDoc("hostile", doc));
    const html = renderReportHtml(model, bundle());
    expect(html.match(/<\/script>/gi)).toHaveLength(2);
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("<title>tdxpa report: &#60;/script&#62;");
    const json = /<script type="application\/json" id="tdxpa-data">(.*?)<\/script>/s.exec(html)![1]!;
    expect((JSON.parse(json) as ReportModel).scenario).toBe(doc.name);
  });
});

const cli = runCli;

describe("tdxpa report", () => {
  it("writes the report of the default scenario atomically", async () => {
    const out = join(dir, "default.html");
    const r = await cli(["report", "--out", out, "--json"]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out[0]!) as { bytes: number; calls: number; ok: boolean };
    expect(s.ok).toBe(true);
    expect(s.calls).toBe(built("default").run.totals.calls);
    const html = readFileSync(out, "utf8");
    expect(Buffer.byteLength(html)).toBe(s.bytes);
    expect(html).not.toMatch(/https?:\/\//);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("writes a hazard scenario's report and says how the run went", async () => {
    const out = join(dir, "hazard.html");
    const r = await cli(["report", new URL("scenarios/no-clflush.yaml", ROOT).pathname, "-o", out]);
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    // 160 = 120 + the 40 PAGE.WBINVD of the two skipped IOMMU units (flag set before TDH.IOMMU.SETUP).
    expect(r.out[0]).toMatch(
      /^report: .*hazard\.html \(\d+ KiB\): 7 scenario steps, 161 SEAMCALLs by the host, .* 80 hazards; result: findings, all expected \(exit 0\)$/,
    );
    expect(existsSync(out)).toBe(true);
  });

  it("counts the scenario's steps, not the slider's positions, and the host's calls apart from the runner's", async () => {
    const out = join(dir, "raw.html");
    const r = await cli(["report", "raw-seamcalls", "-o", out, "--json"]);
    const j = JSON.parse(r.out[0]!);
    expect(j.schemaVersion).toBe(1);
    expect(j.steps).toBe(16);
    expect(j.positions).not.toBe(j.steps);
    expect(j.calls).toBe(8); // 2 SYS.RD, 5 EXT.MEM.ADD, 1 RDMD: the scenario's own calls
    // The runner issues no SEAMCALL of its own (raw calls are recorded from their operands and status).
    expect(j.bookkeepingCalls).toBe(0);
    expect(j.verdict).toBe("findings, all expected");
  });

  it.each([
    [
      ["report", "missing.yaml", "--out", "x.html"],
      /^tdxpa: missing\.yaml: cannot read scenario: no such file or directory \(ENOENT\)$/,
    ],
    [["report"], /^tdxpa: report: --out FILE is required/],
    [["report", "a.yaml", "b.yaml", "--out", "x.html"], /^tdxpa: report: one scenario file at most, got 2/],
    [["report", "--bogus"], /^tdxpa: report: unknown option '--bogus'/],
  ])("%j: exit 2 with one line", async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(message);
  });

  it("an unwritable --out is one line, exit 2, and leaves nothing behind", async () => {
    const out = join(dir, "no-such-dir", "r.html");
    const r = await cli(["report", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(
      /^tdxpa: report: --out .*r\.html: cannot write: no such file or directory \(ENOENT\)$/,
    );
    expect(existsSync(join(dir, "no-such-dir"))).toBe(false);
  });

  it("has help with examples", async () => {
    const r = await cli(["report", "--help"]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out.join("\n")).toMatch(
      /^Usage: tdxpa report .*Examples:\n {2}tdxpa report --out report\.html/s,
    );
  });
});
