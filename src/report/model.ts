/**
 * The report model: a compact picture of one scenario run, built from the model's event stream
 * (src/observe/events.ts) and the run report, for the self-contained HTML report (`tdxpa report`).
 *
 * What it holds:
 * - **steps**, the slider's positions: each SEAMCALL is a step, and each batch of host actions between
 *   two SEAMCALLs (allocations, frees, host-caused hazards) is one step. Position `p` is the machine
 *   after step `p` (position 0: before anything).
 * - **pages involved** (every page that was allocated, changed PAMT state or took a hazard), as runs of
 *   consecutive PFNs sharing one history; a history is `[position, state, position, state, …]` and the
 *   state table says host free / host held / module-owned (PAMT type, owner object) / stranded, plus the
 *   hazard flag. The 1,048,576-page pool compresses to about 2,000 runs.
 * - **calls** in columns (not one object each), with operands decoded by src/observe/describe-call.ts,
 *   status classes, interrupts and the call each one resumes, and each call's root page as runs of raw
 *   entries (`[lo, hi, n, step]`: n entries, each `step` above the last) that the page decodes with
 *   src/common/formats.ts, so the page and the CLI cannot disagree.
 * - the run report's figures, the model's own figures, hazards with their page and call.
 *
 * Stranding has no event: the host's ledger is read when the run ends, each stranding is placed in
 * the step whose per-step count rose, at the first failed SEAMCALL at or after the pages' last change
 * (the failure policy runs right after a failed call). That placement is an inference; the counts are
 * exact.
 *
 * This file holds the model's shape and the figures functions the HTML page bundles; the collector that
 * builds a model from events is src/report/collector.ts.
 *
 * Core code: no Node APIs.
 */
import type { RunReport } from "../scenario/runner.js";

/** Format tag of {@link ReportModel}; bump when the shape changes. */
export const REPORT_FORMAT = "tdxpa-report/1";

/** Base states of a page on the map, by index. */
export const BASE = Object.freeze({ FREE: 0, HELD: 1, MODULE: 2, STRANDED: 3 });

/** Names of the base states, indexed by {@link BASE}. */
export const BASE_NAMES: readonly string[] = ["host free", "host held", "module-owned", "stranded"];

/** Status classes of a call: success, interrupted (resumable), error. */
export const CLS = Object.freeze({ OK: 0, INTERRUPTED: 1, ERROR: 2 });

/** One page state: `[allocated 0|1, PAMT type (string index, -1 = not module-owned), owner, hazard 0|1, stranded 0|1]`. */
export type StateTuple = readonly [number, number, number, number, number];

/** The calls, one array per column, indexed by call number (0-based; `seq` is the module's). */
export interface CallColumns {
  readonly seq: number[];
  /** Step position of the call (1-based: the state after it). */
  readonly pos: number[];
  /** Virtual time (units of work before the call). */
  readonly t: number[];
  /** String index of the leaf name. */
  readonly leaf: number[];
  /** String index of the status text. */
  readonly status: number[];
  /** {@link CLS}. */
  readonly cls: number[];
  readonly units: number[];
  readonly forced: number[];
  /** String index of `REG=decoded …` inputs (empty string when none). */
  readonly inputs: number[];
  /** String index of decoded outputs. */
  readonly outputs: number[];
  /** Index into `roots`, or -1 when the leaf takes no page list. */
  readonly root: number[];
  /** Call number of the interrupted call this one resumes, or -1. */
  readonly resumes: number[];
}

/** A call's root page: the list operand's register, format, root and raw entries as runs. */
export interface RootRecord {
  readonly register: string;
  readonly format: "hpa-list-info" | "hpa-array" | "iommu-mt";
  /** The root page as hex, or null for a singleton HPA_ARRAY_T. */
  readonly rootHpa: string | null;
  readonly count: number;
  /** Raw entries as runs `[lo, hi, n, step]`: n entries, the first `hi:lo`, each next `step` above. */
  readonly runs: number[];
}

/** The figures of a run, as counted from the event stream. */
export interface ReportFigures {
  readonly calls: number;
  readonly interrupts: number;
  readonly hazards: number;
  readonly reports: number;
  readonly steps: number;
  readonly pagesInvolved: number;
  /** Pages of the map by base state at the end ({@link BASE_NAMES} order). */
  readonly final: readonly number[];
  /** Pages with the hazard flag at the end. */
  readonly finalHazard: number;
  /** Module-owned pages at the end by PAMT type. */
  readonly finalByType: Readonly<Record<string, number>>;
}

/** What the run report said (the figures `tdxpa run` prints). */
export interface RunSummary {
  readonly ok: boolean;
  /** `clean`, `findings, all expected` or `problems found` (src/scenario/verdict.ts). */
  readonly verdict: RunReport["verdict"];
  readonly exitCode: 0 | 1;
  readonly totals: RunReport["totals"];
  readonly conservation: {
    readonly ok: boolean;
    readonly totals: RunReport["conservation"]["totals"];
    readonly byObject: Readonly<Record<string, number>>;
    readonly violationCount: number;
    readonly violations: readonly string[];
  };
  readonly reports: readonly { kind: string; pfn: number; cause: string; message: string }[];
  readonly expectations: { readonly met: number; readonly total: number; readonly notMet: readonly string[] };
  readonly unexpected: readonly string[];
}

/** The whole model, as embedded (JSON) in the HTML report. */
export interface ReportModel {
  readonly format: typeof REPORT_FORMAT;
  readonly scenario: string;
  readonly description: string;
  readonly platform: string;
  /** Pages of an IOMMU queue block (entries 0 and 1 of an IOMMU_MT), for entry decoding. */
  readonly queuePages: number;
  readonly strings: string[];
  readonly states: StateTuple[];
  /** Per position 1..n: ≥ 0 a call number, < 0 host batch `-(i + 1)`. */
  readonly steps: number[];
  readonly calls: CallColumns;
  /** Host batches: allocations as flat `[pfn, pages, tag string, …]`, and counts of freed pages. */
  readonly hosts: { readonly allocs: number[][]; readonly frees: number[]; readonly hazards: number[] };
  /** Pages each step touched: step `i` (0-based) has ranges `touch[touchOff[i] .. touchOff[i+1])` as `[pfn, count]` pairs. */
  readonly touchOff: number[];
  readonly touch: number[];
  readonly roots: RootRecord[];
  /** Page runs as flat `[first pfn, count, history index, …]`, by PFN. */
  readonly runs: number[];
  /**
   * The objects the map groups pages by, in display order: the extension memory pool, each IOMMU unit,
   * each SPDM session, each IDE stream, other module objects, then the pages never handed to the module.
   */
  readonly groups: string[];
  /** Group index of each run (`runs` has three numbers per run, this one per run). */
  readonly runGroups: number[];
  /** Histories: `[position, state, …]`, ascending; a page is host free before its first entry. */
  readonly histories: number[][];
  /** Scenario steps: `[label string, first position, last position, ok 0|1, detail string or -1]`. */
  readonly phases: number[][];
  /** Hazards (first {@link MAX_HAZARDS}): `[position, pfn, kind string, call number or -1, cause string, message string]`. */
  readonly hazards: number[][];
  readonly figures: ReportFigures;
  readonly run: RunSummary;
}

/** Most hazards listed one by one (all of them mark pages on the map). */
export const MAX_HAZARDS = 2000;

/**
 * Raw entries, given as halves `[lo0, hi0, lo1, hi1, …]`, as runs `[lo, hi, n, step]` (step in 0..2^31,
 * 64-bit add with carry).
 * @example entryRuns([0x1000, 0, 0x2000, 0, 0x3000, 0]) // [0x1000, 0, 3, 0x1000]
 */
export function entryRuns(halves: ArrayLike<number>): number[] {
  const out: number[] = [];
  let pLo = 0;
  let pHi = 0;
  for (let i = 0; i + 1 < halves.length; i += 2) {
    const lo = halves[i]!;
    const hi = halves[i + 1]!;
    const n = out.length;
    if (n > 0) {
      const cnt = out[n - 2]!;
      const diffLo = lo - pLo + (hi - pHi) * 2 ** 32;
      const step = cnt === 1 ? diffLo : out[n - 1]!;
      if (diffLo === step && step >= 0 && step < 2 ** 31) {
        out[n - 2] = cnt + 1;
        out[n - 1] = step;
        pLo = lo;
        pHi = hi;
        continue;
      }
    }
    out.push(lo, hi, 1, 0);
    pLo = lo;
    pHi = hi;
  }
  return out;
}

/** Expands entry runs back to `[lo, hi]` pairs (what the page does before decoding). */
export function expandEntryRuns(runs: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i + 3 < runs.length; i += 4) {
    let lo = runs[i]!;
    let hi = runs[i + 1]!;
    const n = runs[i + 2]!;
    const step = runs[i + 3]!;
    for (let k = 0; k < n; k++) {
      out.push([lo, hi]);
      lo += step;
      if (lo >= 2 ** 32) {
        lo -= 2 ** 32;
        hi = (hi + 1) >>> 0;
      }
    }
  }
  return out;
}

/** The base state ({@link BASE}) of a state tuple: stranded, else module-owned, else held or free. */
export function baseOf(s: StateTuple): number {
  if (s[4] === 1) return BASE.STRANDED;
  if (s[1] >= 0) return BASE.MODULE;
  return s[0] === 1 ? BASE.HELD : BASE.FREE;
}

/** The state index of history `h` at position `pos` (0 = host free before its first entry). */
export function stateAt(h: readonly number[], pos: number): number {
  // Binary search for the last entry with position <= pos.
  let lo = 0;
  let hi = h.length / 2 - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (h[2 * mid]! <= pos) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found < 0 ? 0 : h[2 * found + 1]!;
}

/** Pages of the map by base state at position `pos`, plus the hazard-flagged count (index 4). */
export function countsAt(m: ReportModel, pos: number): number[] {
  const out = [0, 0, 0, 0, 0];
  for (let i = 0; i < m.runs.length; i += 3) {
    const n = m.runs[i + 1]!;
    const st = m.states[stateAt(m.histories[m.runs[i + 2]!]!, pos)]!;
    out[baseOf(st)]! += n;
    if (st[3] === 1) out[4]! += n;
  }
  return out;
}
