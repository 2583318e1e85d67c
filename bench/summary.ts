/**
 * The one table `npm run bench` prints: every path of the performance goals (the issue's table), its
 * figure, the reference it is compared with in the same run (C, the bare flow, or an empty node
 * process), the ratio, the aim and whether it is met. Sections 1-5 (bench/populate.ts, alloc.ts,
 * memory.ts, bringup.ts, cli.ts) supply most figures; this file measures the rest in process:
 *
 * - the 12,800-page extensions bring-up as `tdxpa run` drives it (scenario runner, every event on and
 *   consumed) against the bare flow (`createMachine` + `extensionsBringUp`), runs interleaved;
 * - memory per page touched: one u64 written into each of 262,144 pages of a 1 TiB PhysMem, (heap +
 *   array buffers) after forced GCs, per page;
 * - the decoder fuzz targets' executions per second (fuzz/driver.ts, 1 s per run);
 * - one bring-up of a 4,194,304-page pool (full mode), as cost per page against 12,800 pages.
 *
 * Figures are medians of ≥ 3 runs or rounds unless the row says otherwise; nothing is asserted.
 */
import { fuzz } from "../fuzz/driver.js";
import { extensionsBringUp } from "../src/host/flows/extensions.js";
import { PhysMem } from "../src/hw/physmem.js";
import { defaultPlatform } from "../src/hw/platform.js";
import { createMachine } from "../src/machine.js";
import { runScenario } from "../src/scenario/runner.js";
import { parseScenario } from "../src/scenario/schema.js";
import { consume, fmt, hasGc, memSnap, nowMs, printTable, type Spread, spread } from "./harness.js";

/** One row of the summary table. */
export interface SummaryRow {
  readonly path: string;
  /** The figure (median unless `note` says otherwise), or null when not measured. */
  readonly figure: number | null;
  readonly unit: string;
  /** What the figure is compared with, and its value in the same unit. */
  readonly refName: string;
  readonly ref: number | null;
  /** figure / ref. */
  readonly ratio: number | null;
  /** The aim as text, and the test of it. */
  readonly aim: string;
  readonly met: boolean | null;
  readonly note?: string;
}

/** Builds a row; `aimOf` decides `met` from the figure and the ratio. */
export function row(
  path: string,
  figure: number | null,
  unit: string,
  refName: string,
  ref: number | null,
  aim: string,
  aimOf: (figure: number, ratio: number | null) => boolean,
  note?: string,
): SummaryRow {
  const ratio = figure !== null && ref !== null && ref > 0 ? figure / ref : null;
  const r: SummaryRow = {
    path,
    figure,
    unit,
    refName,
    ref,
    ratio,
    aim,
    met: figure === null ? null : aimOf(figure, ratio),
  };
  return note === undefined ? r : { ...r, note };
}

/** Prints the summary table. */
export function printSummary(title: string, rows: readonly SummaryRow[]): void {
  printTable(
    title,
    ["path", "figure", "reference (same run)", "ratio", "aim", "met"],
    rows.map((r) => [
      r.path,
      r.figure === null
        ? (r.note ?? "not measured")
        : `${fmt(r.figure, 2)}${r.unit === "x" ? "x" : ` ${r.unit}`}`,
      r.ref === null ? r.refName : `${r.refName} ${fmt(r.ref, 2)} ${r.unit}`,
      r.ratio === null ? "-" : `${fmt(r.ratio, 2)}x`,
      r.aim,
      r.met === null ? "-" : r.met ? "yes" : "NO",
    ]),
  );
  for (const r of rows) if (r.note !== undefined && r.figure !== null) console.log(`   ${r.path}: ${r.note}`);
}

// ---------------------------------------------------------------------------------------------------

/** Bring-up as `tdxpa run` drives it vs the bare flow, interleaved; ms per run. */
export function bringUpEventsVsBare(runs: number, warmMs: number): { events: Spread; bare: Spread } {
  const scenario = parseScenario({ name: "bench", steps: [{ flow: "extensions", expect: { ok: true } }] });
  let events = 0;
  const viaRunner = (): number => {
    const t0 = nowMs();
    const rep = runScenario(scenario, { pageEvents: true, onEvent: () => events++ });
    const dt = nowMs() - t0;
    if (rep.unexpected.length > 0) throw new Error(`bench: runner bring-up: ${rep.unexpected[0]}`);
    return dt;
  };
  const bare = (): number => {
    const t0 = nowMs();
    const m = createMachine(defaultPlatform());
    const r = extensionsBringUp(m.kernel);
    const dt = nowMs() - t0;
    if (!r.ok) throw new Error(`bench: bare bring-up failed at ${r.failedStep}`);
    return dt;
  };
  const t0 = nowMs();
  while (nowMs() - t0 < warmMs) {
    viaRunner();
    bare();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    a.push(viaRunner());
    b.push(bare());
  }
  consume(events);
  return { events: spread(a), bare: spread(b) };
}

/** The bare flow alone on a machine built outside the timed span (warm), ms per run. */
export function bareFlowWarm(runs: number): Spread {
  const v: number[] = [];
  for (let i = 0; i < runs; i++) {
    const m = createMachine(defaultPlatform());
    const t0 = nowMs();
    const r = extensionsBringUp(m.kernel);
    v.push(nowMs() - t0);
    if (!r.ok) throw new Error(`bench: bare bring-up failed at ${r.failedStep}`);
  }
  return spread(v);
}

/** Bytes (heap + array buffers) per page when one u64 is written into each of `pages` pages. */
export function memoryPerTouchedPage(pages: number): number {
  const mem = new PhysMem([{ base: 2 ** 32, size: 2 ** 40 }]);
  const base = memSnap();
  const first = 2 ** 20;
  for (let i = 0; i < pages; i++) mem.writeU64((first + i) * 4096 + 8 * (i & 511), i >>> 0, 1);
  const after = memSnap();
  consume(mem.touchedPages);
  return (after.heapUsed + after.arrayBuffers - base.heapUsed - base.arrayBuffers) / pages;
}

/** The fuzz targets that decode input (not the SEAMCALL program or scenario-document targets). */
export const DECODER_TARGETS = ["status", "formats", "entries", "linked-list", "u64-text"] as const;

/** Executions per second of each decoder target: `runs` runs of `seconds` each. */
export function fuzzRates(runs: number, seconds: number): Record<string, Spread> {
  const out: Record<string, Spread> = {};
  for (const t of DECODER_TARGETS) {
    const v: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = fuzz({ seconds, seed: 1234 + i, targets: [t] });
      const f = r.figures[0]!;
      if (f.failures > 0) throw new Error(`bench: fuzz target ${t} found a failure`);
      v.push(f.perSecond);
    }
    out[t] = spread(v);
  }
  return out;
}

/** Whether figures include garbage (no --expose-gc). */
export const memoryReliable = hasGc;
