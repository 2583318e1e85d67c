/**
 * Shared benchmark plumbing (measures nothing by itself): round-based timing with calibration, the
 * min/median/max spread of rounds, a sink that keeps results alive so V8 cannot drop the work, heap
 * snapshots after a forced GC, and plain-text tables.
 *
 * Method used by every timed row: calibrate the number of iterations so one round takes about
 * `targetMs` (this also warms the JIT), then time `rounds` rounds and report the spread of the per-unit
 * figure over the rounds. Timings are printed, never asserted.
 */

/** Min, median and max of a figure over rounds, and how much work the rounds did. */
export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
  /** Per-round values, in the order they were taken. */
  readonly values: readonly number[];
}

/** Spread of a list of numbers (non-empty). */
export function spread(values: readonly number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { min: s[0]!, median, max: s[n - 1]!, values: [...values] };
}

let sinkValue = 0;

/** Folds a number into the global sink, so the JIT must compute it. */
export function consume(x: number): void {
  sinkValue = (sinkValue + (x | 0)) | 0;
}

/** The sink's value (printed into results.json so it is observably used). */
export function sinkOf(): number {
  return sinkValue;
}

/** A timed workload: `run(iters)` does `iters` iterations and returns a value for the sink. */
export interface Workload {
  readonly name: string;
  /** Units of work per iteration (e.g. 512 entries per populate); figures are ns per unit. */
  readonly unitsPerIter: number;
  readonly run: (iters: number) => number;
}

let cpuClock = false;

/**
 * Chooses what {@link nowMs} (and so {@link calibrate} and {@link timeRound}) measures: wall time
 * (default) or this process's CPU time (user + system, 1 µs resolution). CPU time is what section 1
 * compares with C's CLOCK_PROCESS_CPUTIME_ID: on a shared machine the wall time of a busy loop grows
 * with every other process's load, its CPU time much less (measured: 9-20 ns wall against 3 ns CPU for
 * the same decode loop at load average 12 on 2 cores).
 */
export function useCpuClock(on: boolean): void {
  cpuClock = on;
}

/** Milliseconds since an arbitrary origin: wall time (sub-µs) or CPU time (see {@link useCpuClock}). */
export function nowMs(): number {
  if (cpuClock) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  return performance.now();
}

/**
 * Picks the iteration count for one round of about `targetMs`. First warms up: the iteration count grows
 * until one run takes at least targetMs / 8 and at least `warmMs` were spent in total (V8 needs that long
 * to tier a loop up to optimized code; estimating from cold runs picks far too few iterations). Then
 * two runs at the estimated count refine the estimate on warm code. Returns at least `minIters`.
 */
export function calibrate(
  w: Workload,
  targetMs: number,
  warmMs = Math.max(targetMs, 50),
  minIters = 1,
): number {
  const time = (n: number): number => {
    const t0 = nowMs();
    consume(w.run(n));
    return Math.max(nowMs() - t0, 1e-3);
  };
  let iters = 1;
  let spent = 0;
  let dt = 0;
  for (;;) {
    dt = time(iters);
    spent += dt;
    if ((dt >= targetMs / 8 && spent >= warmMs) || iters >= 2 ** 30) break;
    if (dt < targetMs / 8) iters *= dt < targetMs / 64 ? 8 : 2;
  }
  // Refine on warm code; keep the fastest rate seen, since a GC or a deopt inside one pass would
  // otherwise shrink the rounds to a few milliseconds.
  let msPerIter = dt / iters;
  for (let pass = 0; pass < 2; pass++) {
    iters = Math.max(1, Math.ceil(targetMs / msPerIter));
    msPerIter = Math.min(msPerIter, time(iters) / iters);
  }
  return Math.max(minIters, Math.ceil(targetMs / msPerIter));
}

/** Times one round of `iters` iterations; returns ns per unit. */
export function timeRound(w: Workload, iters: number): number {
  const t0 = nowMs();
  consume(w.run(iters));
  const dt = nowMs() - t0;
  return (dt * 1e6) / (iters * w.unitsPerIter);
}

/** Result of {@link measure}: ns per unit over rounds. */
export interface Measured {
  readonly name: string;
  readonly nsPerUnit: Spread;
  readonly itersPerRound: number;
  readonly rounds: number;
}

/** Calibrates and times `rounds` rounds of one workload. */
export function measure(w: Workload, rounds: number, targetMs: number): Measured {
  const iters = calibrate(w, targetMs);
  const values: number[] = [];
  for (let r = 0; r < rounds; r++) values.push(timeRound(w, iters));
  return { name: w.name, nsPerUnit: spread(values), itersPerRound: iters, rounds };
}

// ---------------------------------------------------------------------------------------------------
// Memory

/** Heap figures in bytes. `external` includes `arrayBuffers` (typed-array stores live there, off-heap). */
export interface MemSnap {
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly rss: number;
}

const gcFn = (globalThis as { gc?: () => void }).gc;

/** True when `global.gc` is available (node ran with --expose-gc). */
export const hasGc = typeof gcFn === "function";

/** Forces full GCs (when available) and reads process.memoryUsage(). */
export function memSnap(): MemSnap {
  if (gcFn !== undefined) {
    gcFn();
    gcFn();
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss };
}

/** `b − a`, field by field. */
export function memDelta(a: MemSnap, b: MemSnap): MemSnap {
  return {
    heapUsed: b.heapUsed - a.heapUsed,
    external: b.external - a.external,
    arrayBuffers: b.arrayBuffers - a.arrayBuffers,
    rss: b.rss - a.rss,
  };
}

// ---------------------------------------------------------------------------------------------------
// Formatting

/** A number with `digits` significant-ish decimals, grouped thousands for large values. */
export function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(Math.max(0, digits - 2));
  if (a >= 10) return x.toFixed(Math.max(0, digits - 1));
  return x.toFixed(digits);
}

/** Bytes as MiB with 2 decimals (signed). */
export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

/** `min / median / max` of a spread. */
export function fmtSpread(s: Spread, digits = 2): string {
  return `${fmt(s.min, digits)} / ${fmt(s.median, digits)} / ${fmt(s.max, digits)}`;
}

/** Prints a plain-text table; columns after the first are right-aligned. */
export function printTable(
  title: string,
  header: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}
