/**
 * Section 4, "extensions bring-up": wall time, SEAMCALLs per second (TdxModule.seq counts calls) and
 * cost per page (µs per pool page) of `extensionsBringUp` at 12,800 pages (the default platform) and at
 * a large pool (1,048,576 pages; 262,144 with --quick) on a platform whose MEMORY_POOL_REQUIRED_PAGES
 * says so, without interrupts and with `{ kind: "every", k: 64 }`. The 12,800-page runs are the
 * baseline: the large runs report µs/page as a ratio to them, which says whether cost per page is flat
 * (judged on the fastest run of each, since machine noise only adds time; the ratio of medians is shown too).
 *
 * Each run uses a fresh machine (built outside the timed span); the small size is warmed up first. Every run must
 * succeed and pass `checkConservation`; otherwise a loud FAIL line is printed and the bench exits
 * non-zero, since figures of a broken run mean nothing. The conservation check is timed separately.
 *
 * Also measured: memory of a 1 TiB platform machine (`createMachine(uniformPlatform(2 ** 40))`) before
 * and after a bring-up (default 12,800 pages, and the large pool), as deltas against a baseline taken
 * just before in the same process.
 *
 * Run on its own, `node --import tsx bench/bringup.ts [rounds] [--quick]` measures only the summary's
 * two bring-up rows (bench/summary.ts: the bring-up as `tdxpa run` drives it against the bare flow,
 * interleaved, and the bare flow warm), with the configuration `npm run bench` uses, `rounds` times in
 * one process (default 3), and prints each round and the medians of the rounds: the quick way to
 * compare a change to the bring-up path without the whole bench.
 *
 * `node --import tsx bench/bringup.ts --flat [pages] [--every 64]` measures only cost-per-page flatness,
 * the focused micro-run of issue #15 ({@link flatRun}): 8 warm-up runs at 12,800 pages, then 3 rounds of
 * 5 runs at 12,800 pages and 1 at `pages` (default 4,194,304), each on a fresh machine with its
 * conservation check; it prints the ratio of the fastest µs/page of each size, and the same ratio with
 * each run's main-thread GC pauses taken out (the fastest 2.5 ms run at 12,800 pages is one no GC fell
 * in, while a 4,194,304-page run always carries its share of GC: docs/PERFORMANCE.md, 2026-12-03 h5);
 * then {@link samePagesRun}: the same pages on both sides (batches of 12,800-page runs as many pages as
 * the large run), GC included on both.
 */
import { loadavg } from "node:os";
import { PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { extensionsBringUp } from "../src/host/flows/extensions.js";
import { defaultPlatform, type Platform, uniformPlatform } from "../src/hw/platform.js";
import { createMachine, type Machine } from "../src/machine.js";
import type { InterruptPlan } from "../src/module/index.js";
import { checkConservation } from "../src/observe/conservation.js";
import {
  consume,
  fmt,
  fmtSpread,
  type MemSnap,
  memDelta,
  memSnap,
  mib,
  nowMs,
  printTable,
  type Spread,
  spread,
} from "./harness.js";
import { bareFlowWarm, bringUpEventsVsBare } from "./summary.js";

/** Thrown when a bring-up run is broken; the bench reports it and exits non-zero. */
export class BenchFailure extends Error {}

/** Options of the section. */
export interface BringUpOptions {
  readonly largePages: number;
  readonly smallRuns: number;
  readonly largeRuns: number;
  /** Minimum time of untimed warm-up runs at the small size, per interrupt plan. */
  readonly warmMs: number;
}

/** Figures of one (pages, interrupts) configuration over its runs. */
export interface BringUpRow {
  readonly pages: number;
  readonly interrupts: string;
  readonly runs: number;
  readonly wallMs: Spread;
  readonly seamcalls: number;
  readonly interruptsTaken: number;
  readonly chunks: number;
  readonly callsPerSec: Spread;
  readonly usPerPage: Spread;
  readonly conservationMs: Spread;
}

/** Memory of a 1 TiB machine around one bring-up. */
export interface BringUpMemoryRow {
  readonly pages: number;
  readonly created: MemSnap;
  readonly afterBringUp: MemSnap;
  /** (heap + arrayBuffers) added by the bring-up, per pool page. */
  readonly bytesPerPoolPage: number;
}

/** The default platform's pool: the baseline size of cost per page. */
export const SMALL = 12_800;
const PLANS: readonly { label: string; plan: InterruptPlan }[] = [
  { label: "none", plan: { kind: "none" } },
  { label: "every 64", plan: { kind: "every", k: 64 } },
];

/** `p` with MEMORY_POOL_REQUIRED_PAGES = `pages`. */
export function withPool(p: Platform, pages: number): Platform {
  return { ...p, metadata: { ...p.metadata, MEMORY_POOL_REQUIRED_PAGES: pages } };
}

/** Checks that a bring-up really did its work; throws BenchFailure (after a loud FAIL line) if not. */
function verify(m: Machine, pages: number, what: string, r: ReturnType<typeof extensionsBringUp>): number {
  const problems: string[] = [];
  if (!r.ok) problems.push(`flow failed at ${r.failedStep} (${r.failedStatus ?? "no status"})`);
  if (r.details.poolPages !== pages) problems.push(`poolPages ${r.details.poolPages}, expected ${pages}`);
  if (m.module.ext.poolPages !== pages)
    problems.push(`module pool holds ${m.module.ext.poolPages} pages, expected ${pages}`);
  if (!m.module.ext.initialized) problems.push("TDH.EXT.INIT did not complete");
  const t0 = nowMs();
  const c = checkConservation(m);
  const consMs = nowMs() - t0;
  if (!c.ok) problems.push(`conservation: ${c.violationCount} violations, first: ${c.violations[0]}`);
  if (c.totals.moduleOwned !== pages)
    problems.push(`conservation: ${c.totals.moduleOwned} pages module-owned, expected ${pages}`);
  if (problems.length > 0) {
    const msg = `FAIL: extensions bring-up ${what}: ${problems.join("; ")}`;
    console.log(`\n${"!".repeat(msg.length)}\n${msg}\n${"!".repeat(msg.length)}`);
    throw new BenchFailure(msg);
  }
  return consMs;
}

/** Memory of a 1 TiB machine before and after a bring-up of `pages` pool pages. */
function memoryAround(pages: number): BringUpMemoryRow {
  const base = memSnap();
  const m = createMachine(withPool(uniformPlatform(2 ** 40), pages));
  const created = memDelta(base, memSnap());
  const r = extensionsBringUp(m.kernel);
  verify(m, pages, `1 TiB machine, ${pages} pages`, r);
  const after = memDelta(base, memSnap());
  consume(m.module.seq);
  return {
    pages,
    created,
    afterBringUp: after,
    bytesPerPoolPage: (after.heapUsed + after.arrayBuffers - created.heapUsed - created.arrayBuffers) / pages,
  };
}

/**
 * One timed bring-up on a fresh machine (exported for the summary's 4,194,304-page row). No forced GC first: measured, a `global.gc()` right before a
 * run made 12,800-page runs about 2x slower and more erratic (the heap shrinks and must regrow), which
 * is not what a running host sees; garbage of earlier runs is left to V8 as in any long-lived process.
 */
export function oneRun(pages: number, plan: InterruptPlan, label: string) {
  const m = createMachine(withPool(defaultPlatform(), pages), { interrupts: plan });
  const seq0 = m.module.seq;
  const t0 = nowMs();
  const r = extensionsBringUp(m.kernel);
  const wall = nowMs() - t0;
  const calls = m.module.seq - seq0;
  const consMs = verify(m, pages, `${pages} pages, interrupts ${label}`, r);
  return { wall, calls, interrupts: r.interrupts, chunks: Number(r.details.chunks ?? 0), consMs };
}

/** Runs section 4 and prints its tables. Throws BenchFailure on a broken run. */
export function benchBringUp(o: BringUpOptions): {
  rows: BringUpRow[];
  flatness: { interrupts: string; ratio: number; ratioOfMins: number; verdict: string }[];
  warmRuns: Record<string, number>;
  memory: BringUpMemoryRow[];
} {
  // Warm-up, not reported: early runs are 2-5x slower while V8 tiers the flow's code up, so each plan
  // runs at the small size for at least `warmMs` first.
  const warmRuns: Record<string, number> = {};
  for (const { plan, label } of PLANS) {
    const t0 = nowMs();
    let n = 0;
    while (n < 3 || nowMs() - t0 < o.warmMs) {
      oneRun(SMALL, plan, label);
      n++;
    }
    warmRuns[label] = n;
  }
  const rows: BringUpRow[] = [];
  for (const [pages, runs] of [
    [SMALL, o.smallRuns],
    [o.largePages, o.largeRuns],
  ] as const) {
    for (const { plan, label } of PLANS) {
      const rs = Array.from({ length: runs }, () => oneRun(pages, plan, label));
      rows.push({
        pages,
        interrupts: label,
        runs,
        wallMs: spread(rs.map((r) => r.wall)),
        seamcalls: rs[0]!.calls,
        interruptsTaken: rs[0]!.interrupts,
        chunks: rs[0]!.chunks,
        callsPerSec: spread(rs.map((r) => (r.calls / r.wall) * 1000)),
        usPerPage: spread(rs.map((r) => (r.wall * 1000) / pages)),
        conservationMs: spread(rs.map((r) => r.consMs)),
      });
    }
  }
  const flatness = PLANS.map(({ label }) => {
    const small = rows.find((r) => r.pages === SMALL && r.interrupts === label)!;
    const large = rows.find((r) => r.pages === o.largePages && r.interrupts === label)!;
    const ratio = large.usPerPage.median / small.usPerPage.median;
    const ratioOfMins = large.usPerPage.min / small.usPerPage.min;
    // The verdict uses the fastest runs: noise on this shared machine only ever adds time, and it swings
    // the median of the short 12,800-page runs by 2x from one bench run to the next.
    const verdict =
      ratioOfMins <= 1.25 && ratioOfMins >= 0.8
        ? "flat (within 0.8-1.25x)"
        : ratioOfMins > 1.25
          ? "GROWS with pool size"
          : "falls with pool size (fixed per-run costs amortised)";
    return { interrupts: label, ratio, ratioOfMins, verdict };
  });

  printTable(
    "4. extensions bring-up (fresh machine per run; min / median / max over runs; conservation check ok on every run)",
    [
      "pages",
      "interrupts",
      "runs",
      "wall ms",
      "SEAMCALLs",
      "resumes",
      "calls/s (med)",
      "us/page min / med / max",
      "conservation ms (med)",
    ],
    rows.map((r) => [
      r.pages.toLocaleString("en-US"),
      r.interrupts,
      String(r.runs),
      fmtSpread(r.wallMs, 1),
      r.seamcalls.toLocaleString("en-US"),
      r.interruptsTaken.toLocaleString("en-US"),
      Math.round(r.callsPerSec.median).toLocaleString("en-US"),
      fmtSpread(r.usPerPage, 2),
      fmt(r.conservationMs.median, 1),
    ]),
  );
  console.log(
    `   warm-up before timing (not reported): ${PLANS.map((p) => `${warmRuns[p.label]} runs with interrupts ${p.label}`).join(", ")} at ${SMALL.toLocaleString("en-US")} pages`,
  );
  for (const f of flatness) {
    console.log(
      `   cost per page, ${o.largePages.toLocaleString("en-US")} vs ${SMALL.toLocaleString("en-US")} pages, interrupts ${f.interrupts}: ${fmt(f.ratioOfMins, 2)}x of mins (${fmt(f.ratio, 2)}x of medians) -> ${f.verdict}`,
    );
  }

  // Memory of a 1 TiB machine around a bring-up; one call per size so no frame keeps an old machine alive.
  const memory = [memoryAround(SMALL), memoryAround(o.largePages)];
  printTable(
    "   memory of createMachine(uniformPlatform(2^40)) around a bring-up (deltas vs a baseline taken just before)",
    ["pool pages", "step", "heapUsed", "arrayBuffers", "rss", "bytes/pool page (heap+ab)"],
    memory.flatMap((r) => [
      [
        r.pages.toLocaleString("en-US"),
        "machine created",
        mib(r.created.heapUsed),
        mib(r.created.arrayBuffers),
        mib(r.created.rss),
        "-",
      ],
      [
        r.pages.toLocaleString("en-US"),
        "after bring-up",
        mib(r.afterBringUp.heapUsed),
        mib(r.afterBringUp.arrayBuffers),
        mib(r.afterBringUp.rss),
        fmt(r.bytesPerPoolPage, 1),
      ],
    ]),
  );
  return { rows, flatness, warmRuns, memory };
}

/** One round of the summary's two bring-up rows, with `npm run bench`'s configuration (ms, medians). */
export function bringUpRows(quick: boolean): { runner: number; bare: number; ratio: number; warm: number } {
  const runs = quick ? 3 : 9;
  const via = bringUpEventsVsBare(runs, quick ? 500 : 1500);
  const warm = bareFlowWarm(runs);
  return {
    runner: via.events.median,
    bare: via.bare.median,
    ratio: via.events.median / via.bare.median,
    warm: warm.median,
  };
}

/** One size's figures in {@link flatRun}: fastest µs/page over its runs, with and without GC pauses. */
export interface FlatSide {
  readonly pages: number;
  readonly runs: number;
  readonly minUsPerPage: number;
  /** Fastest (wall − main-thread GC pause time in the run) per page. */
  readonly minUsPerPageNoGc: number;
  /** GC pause time per run, as a share of the run's wall time (median over the runs). */
  readonly gcShare: number;
}

/**
 * Cost-per-page flatness as issue #15 asks it measured: `warm` runs at {@link SMALL} pages, then `rounds`
 * rounds of `smallPerRound` runs at SMALL and one at `pages`, interleaved so both sizes see the same
 * machine. Each run is {@link oneRun} (fresh machine, conservation checked). GC pauses come from a
 * `gc` PerformanceObserver; its entries arrive asynchronously, so the loop yields once after each run.
 */
export async function flatRun(
  pages: number,
  plan: InterruptPlan,
  label: string,
  o: { warm: number; rounds: number; smallPerRound: number; log?: (line: string) => void } = {
    warm: 8,
    rounds: 3,
    smallPerRound: 5,
  },
): Promise<{ small: FlatSide; large: FlatSide; ratio: number; ratioNoGc: number }> {
  const obs = new PerformanceObserver(() => {});
  obs.observe({ entryTypes: ["gc"] });
  const tick = () => new Promise<void>((r) => setImmediate(r));
  const timed = async (n: number) => {
    const t0 = performance.now();
    const r = oneRun(n, plan, label);
    const t1 = performance.now();
    await tick();
    let gc = 0;
    for (const e of obs.takeRecords()) if (e.startTime >= t0 && e.startTime < t1) gc += e.duration;
    // oneRun's wall is the bring-up alone; the pauses are those that started inside the bring-up's span
    // or the conservation check after it, so count only the share that fits in the bring-up's wall.
    return { wall: r.wall, gc: Math.min(gc, r.wall) };
  };
  try {
    for (let i = 0; i < o.warm; i++) await timed(SMALL);
    const runs = new Map<number, { wall: number; gc: number }[]>([
      [SMALL, []],
      [pages, []],
    ]);
    for (let round = 0; round < o.rounds; round++) {
      for (let i = 0; i < o.smallPerRound; i++) runs.get(SMALL)!.push(await timed(SMALL));
      const big = await timed(pages);
      runs.get(pages)!.push(big);
      o.log?.(
        `  round ${round + 1}: ${pages.toLocaleString("en-US")} pages ${fmt((big.wall * 1000) / pages, 4)} us/page (GC ${fmt(big.gc, 1)} ms of ${fmt(big.wall, 1)} ms)`,
      );
    }
    const side = (n: number): FlatSide => {
      const rs = runs.get(n)!;
      return {
        pages: n,
        runs: rs.length,
        minUsPerPage: Math.min(...rs.map((r) => (r.wall * 1000) / n)),
        // A run whose GC pauses cover its whole span says nothing about the work without them (it read
        // 0 µs/page and made the ratio infinite): left out, unless every run is such a run.
        minUsPerPageNoGc: Math.min(
          ...(rs.some((r) => r.gc < r.wall) ? rs.filter((r) => r.gc < r.wall) : rs).map(
            (r) => ((r.wall - r.gc) * 1000) / n,
          ),
        ),
        gcShare: spread(rs.map((r) => r.gc / r.wall)).median,
      };
    };
    const small = side(SMALL);
    const large = side(pages);
    return {
      small,
      large,
      ratio: large.minUsPerPage / small.minUsPerPage,
      ratioNoGc: large.minUsPerPageNoGc / small.minUsPerPageNoGc,
    };
  } finally {
    obs.disconnect();
  }
}

/** Figures of {@link samePagesRun}: µs per page of each arm, GC pauses included on both sides. */
export interface SamePagesFigures {
  readonly pages: number;
  /** 12,800-page runs per batch: together at least `pages` pages. */
  readonly smallRunsPerBatch: number;
  /** Fastest batch: the summed wall of its runs per page. */
  readonly smallUsPerPage: number;
  /** Fastest large run, per page. */
  readonly largeUsPerPage: number;
  readonly ratio: number;
}

/**
 * Cost per page with the same pages on both sides: each round times a batch of consecutive
 * {@link SMALL}-page runs that together bring up at least `pages` pages (the sum of their walls, so the
 * GC that the batch's garbage sets off is paid inside it, as the large run pays its own), then one run
 * of `pages`; the ratio is of the fastest batch and the fastest large run, per page. The row of
 * {@link flatRun} compares the large run with the fastest single small run, which is one that no GC fell
 * into (docs/PERFORMANCE.md, "Million-page paths", 2026-12-03): that row is kept; this one says what a
 * host pays per page when it brings up the same number of pages either way.
 */
export function samePagesRun(
  pages: number,
  plan: InterruptPlan,
  label: string,
  o: { warm: number; rounds: number; log?: (line: string) => void } = { warm: 8, rounds: 3 },
): SamePagesFigures {
  const perBatch = Math.ceil(pages / SMALL);
  for (let i = 0; i < o.warm; i++) oneRun(SMALL, plan, label);
  let small = Number.POSITIVE_INFINITY;
  let large = Number.POSITIVE_INFINITY;
  for (let round = 0; round < o.rounds; round++) {
    let sum = 0;
    for (let i = 0; i < perBatch; i++) sum += oneRun(SMALL, plan, label).wall;
    const batch = (sum * 1000) / (perBatch * SMALL);
    const big = (oneRun(pages, plan, label).wall * 1000) / pages;
    small = Math.min(small, batch);
    large = Math.min(large, big);
    o.log?.(
      `  same pages, round ${round + 1}: ${perBatch} runs of ${SMALL.toLocaleString("en-US")} pages ${fmt(batch, 4)} us/page, one of ${pages.toLocaleString("en-US")} ${fmt(big, 4)} us/page`,
    );
  }
  return {
    pages,
    smallRunsPerBatch: perBatch,
    smallUsPerPage: small,
    largeUsPerPage: large,
    ratio: large / small,
  };
}

/** `--flat [pages] [--every k]`: prints {@link flatRun}'s figures; exit 2 on a bad argument. */
async function flatMain(args: readonly string[], load: () => string): Promise<void> {
  const ei = args.indexOf("--every");
  const every = ei >= 0 ? Number(args[ei + 1]) : 0;
  const rest = args.filter((a, i) => a !== "--flat" && (ei < 0 || (i !== ei && i !== ei + 1)));
  const pages = rest.length === 0 ? 4_194_304 : Number(rest[0]);
  if (rest.length > 1 || !Number.isInteger(pages) || pages < SMALL || pages > 8_388_608) {
    console.error(
      `bench/bringup.ts --flat: pages must be an integer in ${SMALL}..8388608, got ${rest.join(" ")}`,
    );
    process.exit(2);
  }
  if (ei >= 0 && (!Number.isInteger(every) || every < 1 || every > 512)) {
    console.error(`bench/bringup.ts --flat: --every must be an integer in 1..512, got ${args[ei + 1]}`);
    process.exit(2);
  }
  const plan: InterruptPlan = ei >= 0 ? { kind: "every", k: every } : { kind: "none" };
  const label = ei >= 0 ? `every ${every}` : "none";
  console.log(
    `cost per page, ${pages.toLocaleString("en-US")} vs ${SMALL.toLocaleString("en-US")} pages, interrupts ${label}; load average ${load()}`,
  );
  const r = await flatRun(pages, plan, label, { warm: 8, rounds: 3, smallPerRound: 5, log: console.log });
  for (const s of [r.small, r.large])
    console.log(
      `  ${s.pages.toLocaleString("en-US")} pages, ${s.runs} runs: fastest ${fmt(s.minUsPerPage, 4)} us/page, without GC pauses ${fmt(s.minUsPerPageNoGc, 4)} us/page; GC ${fmt(100 * s.gcShare, 1)} % of a run (median)`,
    );
  console.log(
    `  ratio of fastest runs ${fmt(r.ratio, 3)}x; without GC pauses ${fmt(r.ratioNoGc, 3)}x (aim <= 1.1x); load average ${load()}`,
  );
  const same = samePagesRun(pages, plan, label, { warm: 0, rounds: 3, log: console.log });
  console.log(
    `  same pages both sides, GC included: ${fmt(same.largeUsPerPage, 4)} / ${fmt(same.smallUsPerPage, 4)} us/page, ratio ${fmt(same.ratio, 3)}x (aim <= 1.1x); load average ${load()}`,
  );
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(1))
      .join(" ");
  if (args.includes("--flat")) {
    // A broken run has printed its FAIL line (oneRun); anything else is a bug worth its stack.
    const failed = await flatMain(args, load).then(
      () => false,
      (e: unknown) => {
        if (e instanceof BenchFailure) return true;
        throw e;
      },
    );
    process.exit(failed ? 1 : 0);
  }
  const quick = args.includes("--quick");
  const rest = args.filter((a) => a !== "--quick");
  const rounds = rest.length === 0 ? 3 : Number(rest[0]);
  if (rest.length > 1 || !Number.isInteger(rounds) || rounds < 1 || rounds > 100) {
    console.error(`bench/bringup.ts: rounds must be an integer in 1..100, got ${rest.join(" ")}`);
    process.exit(2);
  }
  console.log(`bring-up rows, ${rounds} round(s)${quick ? " (quick)" : ""}; load average ${load()}`);
  const all: ReturnType<typeof bringUpRows>[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = bringUpRows(quick);
    all.push(r);
    console.log(
      `  round ${i + 1}: via runner ${fmt(r.runner, 2)} ms, bare flow ${fmt(r.bare, 2)} ms, ratio ${fmt(r.ratio, 2)}x; bare flow warm ${fmt(r.warm, 2)} ms`,
    );
  }
  const med = (f: (r: ReturnType<typeof bringUpRows>) => number) => spread(all.map(f)).median;
  console.log(
    `  median of rounds: via runner ${fmt(
      med((r) => r.runner),
      2,
    )} ms, ratio ${fmt(
      med((r) => r.ratio),
      2,
    )}x (aim <= 1.5x); bare flow warm ${fmt(
      med((r) => r.warm),
      2,
    )} ms (aim <= 5 ms); load average ${load()}`,
  );
}
