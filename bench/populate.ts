/**
 * Section 1, "populate vs C": ns per entry to populate a 512-entry root page, and ns per operand to
 * encode and decode HPA_LIST_INFO / HPA_ARRAY_T operands and IOMMU_MT entries, side by side with the C
 * program bench/populate.c doing the same work (compiled here with `cc -O2`, run as a child process).
 *
 * The codec rows use the allocation-free forms (encode…Into a Uint32Array, the IOMMU_MT entry as one
 * number with iommuMtEntryValue, field readers and rule codes on plain numbers), the work the C
 * functions do; the object API wraps them. They are the API a
 * hot-path caller should use, and they check every argument per operand as the C encoders do; the
 * encode rows read their arguments from typed arrays, as such a caller holds them. Decode rows sum
 * their fields into a double, as the C rows sum into a u64 (an int32 `^=` of a 52-bit address would
 * add a truncation per operand that C does not pay).
 *
 * Populate rows, from the whole API down to the bare loop:
 * - `tdxPageArrayRepopulate`: an existing descriptor repointed at 512 allocated order-0 pages of a
 *   default-platform machine (argument checks of every page, then the root write);
 * - `root write (populateRoot)`: populateRoot of src/host/page-array.ts itself (exported for this
 *   bench): map the root and copy into it the entries the argument check computed (since 2026-12-03
 *   afternoon the check loop computes each entry as it checks the page, so this row is the copy only;
 *   the entry formula's cost is in the whole-API row, and the raw loop below is its JS floor);
 * - `raw loop`: (pfn, order) records into a Uint32Array, the exact work of the C row.
 * All three are compared with the same C row. The C program also times `populate-checked`, the
 * per-page checks tdxPageArrayRepopulate makes (handle, frame table, orders recorded) followed by the
 * same populate; the section prints the whole-API row against it as a second, like-for-like ratio. Rounds of JS and C are interleaved (JS round r, then C
 * round r in a fresh child) so a burst of machine noise hits both sides of a ratio alike, and both sides
 * time CPU time of their own process (process.cpuUsage, CLOCK_PROCESS_CPUTIME_ID), not wall time. A full run
 * times at least 200,000 populates per JS populate row (the C side does more in the same time).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  encodeHpaArray,
  encodeHpaArrayInto,
  encodeHpaListInfo,
  encodeHpaListInfoInto,
  encodeIommuMtEntry,
  encodeIommuMtEntryInto,
  entryHpa,
  hpaArrayHpa,
  hpaArrayRule,
  hpaArraySize,
  hpaListInfoFirstEntry,
  hpaListInfoLastEntry,
  hpaListInfoRootHpa,
  hpaListInfoRule,
  iommuMtEntryNumPages,
  iommuMtEntryRule,
  iommuMtEntryValue,
} from "../src/common/formats.js";
import {
  populateRoot,
  type TdxPageArray,
  tdxPageArrayCreate,
  tdxPageArrayRepopulate,
} from "../src/host/page-array.js";
import { createMachine } from "../src/machine.js";
import {
  calibrate,
  consume,
  fmt,
  fmtSpread,
  printTable,
  type Spread,
  spread,
  timeRound,
  useCpuClock,
  type Workload,
} from "./harness.js";

const N = 512;

/** Options of the section. */
export interface PopulateOptions {
  readonly rounds: number;
  /** Target duration of one JS round of one row. */
  readonly jsTargetMs: number;
  /** Target duration of one C round of one row. */
  readonly cTargetMs: number;
  /** Least number of populates each JS populate row times over all rounds (rounds grow to reach it). */
  readonly minPopulates: number;
}

/** One row of the table (and of results.json). */
export interface PopulateRow {
  readonly name: string;
  readonly unit: string;
  readonly js: Spread;
  readonly jsItersPerRound: number;
  readonly cRow: string;
  readonly c: Spread | null;
  readonly cItersPerRound: number | null;
  /** median(JS) / median(C), null when C was skipped. */
  readonly ratio: number | null;
}

/** What the section returns. */
export interface PopulateResult {
  readonly rounds: number;
  readonly rows: readonly PopulateRow[];
  readonly c: { readonly status: "ran" | "skipped"; readonly reason?: string; readonly compiler?: string };
  /** Checks that JS and C computed identical root pages and operands (and that repopulate matches the raw loop). */
  readonly checks: Record<string, boolean>;
  readonly populateWithin3x: boolean | null;
  /**
   * The whole-API row against the C row `populate-checked` (the same checks per page, then the same
   * populate; see bench/populate.c): median / median, null when C was skipped. The table's rows keep
   * the bare C populate as their reference.
   */
  readonly repopulateVsCheckedC: number | null;
}

// ---------------------------------------------------------------------------------------------------
// Inputs: the same formulas as make_inputs() in populate.c.

interface Rec {
  readonly pfn: number;
  readonly order: number;
}

function inputs() {
  const recs: Rec[] = [];
  const roots: number[] = [];
  const counts: number[] = [];
  const mtHpas: number[] = [];
  const mtPages: number[] = [];
  for (let i = 0; i < N; i++) {
    recs.push({ pfn: 0x100000 + 2 * i, order: 0 });
    roots.push((0x100000 + 37 * i) * 4096);
    counts.push(2 + (i % 511));
    mtHpas.push((0x100000 + 2048 * i) * 4096);
    mtPages.push(1 << (i % 12));
  }
  const encList = roots.map((r, i) => encodeHpaListInfo({ rootHpa: r, count: counts[i]! }));
  const encArr = roots.map((r, i) => encodeHpaArray({ count: counts[i]!, rootHpa: r }));
  const encMt = mtHpas.map((h, i) => encodeIommuMtEntry(h, mtPages[i]!));
  // The same operands as flat (lo, hi) words, what the decode rows read (C reads a uint64_t array).
  const flat = (xs: readonly { lo: number; hi: number }[]) =>
    Uint32Array.from(xs.flatMap((v) => [v.lo, v.hi]));
  return {
    recs,
    roots,
    counts,
    mtHpas,
    mtPages,
    encList,
    encArr,
    encMt,
    // The encode rows' arguments as a hot-path caller holds them (and as C holds them): typed arrays of
    // numbers, so every element read is a plain double or u32 without a JS array's element-kind checks.
    rootsF: Float64Array.from(roots),
    countsU: Uint32Array.from(counts),
    mtHpasF: Float64Array.from(mtHpas),
    mtPagesU: Uint32Array.from(mtPages),
    listW: flat(encList),
    arrW: flat(encArr),
    mtW: flat(encMt),
  };
}

/** The C row's entry formula, over records, into 1024 u32 words. */
function rawPopulate(w: Uint32Array, recs: readonly Rec[]): void {
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i]!;
    const pfn = r.pfn;
    const order = r.order;
    w[2 * i] = (((pfn % 0x10_0000) << 12) | (order === 0 ? 0 : 1 << order)) >>> 0;
    w[2 * i + 1] = Math.floor(pfn / 0x10_0000);
  }
}

const MASK64 = (1n << 64n) - 1n;

/** The checksum of populate.c: h = h * 31 + v over u64 values, mod 2^64, as 0x + 16 hex digits. */
function hash64(values: Iterable<{ lo: number; hi: number }>): string {
  let h = 0n;
  for (const v of values) h = (h * 31n + ((BigInt(v.hi >>> 0) << 32n) | BigInt(v.lo >>> 0))) & MASK64;
  return `0x${h.toString(16).padStart(16, "0")}`;
}

function wordsAsU64(w: Uint32Array, n: number): { lo: number; hi: number }[] {
  return Array.from({ length: n }, (_, i) => ({ lo: w[2 * i]!, hi: w[2 * i + 1]! }));
}

// ---------------------------------------------------------------------------------------------------
// The C side

interface CRun {
  rows: Record<string, { iters: number; ns: number[] }>;
  checksums: Record<string, string>;
}

const BENCH_DIR = fileURLToPath(new URL("./", import.meta.url));
const C_SRC = `${BENCH_DIR}populate.c`;
const C_BIN = `${BENCH_DIR}out/populate`;

/** Compiles populate.c; returns null and a reason when that is not possible. */
function compileC(): { ok: true; compiler: string } | { ok: false; reason: string } {
  mkdirSync(`${BENCH_DIR}out`, { recursive: true });
  const v = spawnSync("cc", ["--version"], { encoding: "utf8" });
  if (v.error !== undefined) {
    const code = (v.error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      reason: code === "ENOENT" ? "no `cc` on PATH" : `cc --version failed: ${v.error.message}`,
    };
  }
  const r = spawnSync("cc", ["-O2", "-o", C_BIN, C_SRC], { encoding: "utf8" });
  if (r.error !== undefined || r.status !== 0) {
    return {
      ok: false,
      reason: `cc -O2 failed: ${r.error?.message ?? r.stderr.trim().split("\n").slice(0, 3).join(" | ")}`,
    };
  }
  return { ok: true, compiler: (v.stdout.split("\n")[0] ?? "cc").trim() };
}

function runC(targetMs: number, rounds: number, iters: readonly number[] | null): CRun {
  const args = [String(targetMs), String(rounds)];
  if (iters !== null) args.push(iters.join(","));
  const r = spawnSync(C_BIN, args, { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(`bench/out/populate failed: ${r.error?.message ?? `exit ${r.status}: ${r.stderr}`}`);
  }
  return JSON.parse(r.stdout) as CRun;
}

// ---------------------------------------------------------------------------------------------------

/** Runs section 1 and prints its table. */
export function benchPopulate(o: PopulateOptions): PopulateResult {
  useCpuClock(true);
  try {
    return populateSection(o);
  } finally {
    useCpuClock(false);
  }
}

function populateSection(o: PopulateOptions): PopulateResult {
  const inp = inputs();

  // A descriptor over 512 order-0 pages of a default-platform machine (with its cache model wired in).
  const m = createMachine();
  const k = m.kernel;
  const pages = m.alloc.allocPagesBulk(N, { tag: "bench:populate" });
  if (pages.length !== N) throw new Error("bench: could not allocate 512 pages");
  const created = tdxPageArrayCreate(k, pages, N);
  if (created === null) throw new Error("bench: tdxPageArrayCreate returned null");
  const arr: TdxPageArray = created;
  const rootPfn = arr.rootPage.pfn;
  // The entries the check loop computes for these pages (order 0: entry = HPA), as populateRoot takes them.
  const entries = new Uint32Array(2 * N);
  for (let i = 0; i < N; i++) {
    const hpa = pages[i]!.hpa;
    if (m.alloc.liveOrder(pages[i]!.pfn) !== 0) throw new Error("bench: expected order-0 pages");
    entries[2 * i] = hpa >>> 0;
    entries[2 * i + 1] = Math.floor(hpa / 0x1_0000_0000);
  }
  const scratch = new Uint32Array(2 * N);
  /** Where the encode rows write each operand (a register pair), as the C rows return a u64. */
  const out = new Uint32Array(2);

  const workloads: (Workload & { cRow: string; unit: string })[] = [
    {
      name: "populate: tdxPageArrayRepopulate",
      cRow: "populate",
      unit: "ns/entry",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          const a = tdxPageArrayRepopulate(k, arr, pages, N);
          s ^= a === null ? 1 : a.nrPages;
        }
        return s;
      },
    },
    {
      name: "populate: root write (populateRoot, copy of checked entries)",
      cRow: "populate",
      unit: "ns/entry",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          populateRoot(k, rootPfn, entries, N, N);
          s ^= k.mem.words(rootPfn)[(it * 7) & 1023]!;
        }
        return s;
      },
    },
    {
      name: "populate: raw loop (pfn, order) records",
      cRow: "populate",
      unit: "ns/entry",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          rawPopulate(scratch, inp.recs);
          s ^= scratch[(it * 7) & 1023]!;
        }
        return s;
      },
    },
    {
      name: "encode HPA_LIST_INFO",
      cRow: "encode-hpa-list-info",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        const roots = inp.rootsF;
        const counts = inp.countsU;
        for (let it = 0; it < iters; it++) {
          for (let i = 0; i < N; i++) {
            encodeHpaListInfoInto(out, 0, roots[i]!, counts[i]!, 0);
            s ^= out[1]!;
          }
        }
        return s;
      },
    },
    {
      name: "decode HPA_LIST_INFO",
      cRow: "decode-hpa-list-info",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          const w = inp.listW;
          for (let i = 0; i < N; i++) {
            const lo = w[2 * i]!;
            const hi = w[2 * i + 1]!;
            s +=
              hpaListInfoRootHpa(lo, hi) +
              hpaListInfoLastEntry(hi) +
              1 +
              hpaListInfoFirstEntry(lo) +
              hpaListInfoRule(lo, hi);
          }
        }
        return s;
      },
    },
    {
      name: "encode HPA_ARRAY_T",
      cRow: "encode-hpa-array",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        const roots = inp.rootsF;
        const counts = inp.countsU;
        for (let it = 0; it < iters; it++) {
          for (let i = 0; i < N; i++) {
            encodeHpaArrayInto(out, 0, counts[i]!, roots[i]!);
            s ^= out[1]!;
          }
        }
        return s;
      },
    },
    {
      name: "decode HPA_ARRAY_T",
      cRow: "decode-hpa-array",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          const w = inp.arrW;
          for (let i = 0; i < N; i++) {
            const lo = w[2 * i]!;
            const hi = w[2 * i + 1]!;
            const size = hpaArraySize(hi);
            s += hpaArrayHpa(lo, hi) + size + 1 + (size === 0 ? 1 : 0) + hpaArrayRule(lo, hi);
          }
        }
        return s;
      },
    },
    {
      // The one-number form: an IOMMU_MT entry is below 2^52, so it is returned as its value and summed,
      // as the C row returns a u64 and sums it.
      name: "encode IOMMU_MT entry",
      cRow: "encode-iommu-mt-entry",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        const hpas = inp.mtHpasF;
        const pages = inp.mtPagesU;
        for (let it = 0; it < iters; it++) {
          for (let i = 0; i < N; i++) s += iommuMtEntryValue(hpas[i]!, pages[i]!);
        }
        return s;
      },
    },
    {
      name: "encode IOMMU_MT entry (halves: encode…Into)",
      cRow: "encode-iommu-mt-entry",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        const hpas = inp.mtHpasF;
        const pages = inp.mtPagesU;
        for (let it = 0; it < iters; it++) {
          for (let i = 0; i < N; i++) {
            encodeIommuMtEntryInto(out, 0, hpas[i]!, pages[i]!);
            s ^= out[0]!;
          }
        }
        return s;
      },
    },
    {
      name: "decode IOMMU_MT entry",
      cRow: "decode-iommu-mt-entry",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          const w = inp.mtW;
          for (let i = 0; i < N; i++) {
            const lo = w[2 * i]!;
            const hi = w[2 * i + 1]!;
            s += entryHpa(lo, hi) + iommuMtEntryNumPages(lo) + iommuMtEntryRule(lo, hi);
          }
        }
        return s;
      },
    },
  ];

  // Correctness first: a benchmark of code that computes something else is meaningless.
  const checks: Record<string, boolean> = {};
  tdxPageArrayRepopulate(k, arr, pages, N);
  const viaApi = wordsAsU64(m.mem.words(rootPfn), N);
  rawPopulate(
    scratch,
    pages.map((p) => ({ pfn: p.pfn, order: 0 })),
  );
  checks["repopulate root == raw loop over the same pages"] =
    hash64(viaApi) === hash64(wordsAsU64(scratch, N));

  const comp = compileC();
  const cStatus: PopulateResult["c"] = comp.ok
    ? { status: "ran", compiler: comp.compiler }
    : { status: "skipped", reason: comp.reason };
  if (!comp.ok) console.log(`\n[populate] C baseline skipped: ${comp.reason}`);

  const minPopIters = Math.ceil(o.minPopulates / o.rounds);
  const jsIters = workloads.map((w) =>
    calibrate(w, o.jsTargetMs, undefined, w.cRow === "populate" ? minPopIters : 1),
  );
  const jsValues: number[][] = workloads.map(() => []);
  const cValues = new Map<string, number[]>();
  let cIters: number[] | null = null;
  let cRowOrder: string[] = [];
  let cChecksums: Record<string, string> | null = null;
  for (let r = 0; r < o.rounds; r++) {
    for (let i = 0; i < workloads.length; i++) jsValues[i]!.push(timeRound(workloads[i]!, jsIters[i]!));
    if (comp.ok) {
      const run = runC(o.cTargetMs, 1, cIters);
      if (cIters === null) {
        cRowOrder = Object.keys(run.rows);
        cIters = cRowOrder.map((name) => run.rows[name]!.iters);
      }
      for (const [name, row] of Object.entries(run.rows)) {
        const list = cValues.get(name) ?? [];
        list.push(...row.ns);
        cValues.set(name, list);
      }
      cChecksums = run.checksums;
    }
  }

  if (cChecksums !== null) {
    rawPopulate(scratch, inp.recs);
    checks["C root page == JS raw loop"] = cChecksums.root === hash64(wordsAsU64(scratch, N));
    checks["C populate-checked root == C populate root"] = cChecksums.rootChecked === cChecksums.root;
    checks["C HPA_LIST_INFO operands == JS"] = cChecksums.hpaListInfo === hash64(inp.encList);
    checks["C HPA_ARRAY_T operands == JS"] = cChecksums.hpaArray === hash64(inp.encArr);
    checks["C IOMMU_MT entries == JS"] = cChecksums.iommuMtEntry === hash64(inp.encMt);
    const mtValues = inp.mtHpas.map((h, i) => {
      const v = iommuMtEntryValue(h, inp.mtPages[i]!);
      const lo = v >>> 0;
      return { lo, hi: (v - lo) / 0x1_0000_0000 };
    });
    checks["C IOMMU_MT entries == JS one-number form"] = cChecksums.iommuMtEntry === hash64(mtValues);
  }

  const rows: PopulateRow[] = workloads.map((w, i) => {
    const js = spread(jsValues[i]!);
    const cv = cValues.get(w.cRow);
    const c = cv === undefined ? null : spread(cv);
    const ci = cIters === null ? null : (cIters[cRowOrder.indexOf(w.cRow)] ?? null);
    return {
      name: w.name,
      unit: w.unit,
      js,
      jsItersPerRound: jsIters[i]!,
      cRow: w.cRow,
      c,
      cItersPerRound: ci,
      ratio: c === null ? null : js.median / c.median,
    };
  });

  printTable(
    `1. populate and operand codecs vs C (${o.rounds} interleaved rounds; figures are min / median / max over rounds)`,
    ["row", "unit", "JS min / med / max", "C min / med / max", "JS/C (med)", "JS units timed"],
    rows.map((r) => [
      r.name,
      r.unit,
      fmtSpread(r.js, 2),
      r.c === null ? "skipped" : fmtSpread(r.c, 2),
      r.ratio === null ? "-" : `${fmt(r.ratio, 2)}x`,
      (r.jsItersPerRound * N * o.rounds).toLocaleString("en-US"),
    ]),
  );
  const pops = rows.filter((r) => r.cRow === "populate");
  for (const r of pops) {
    console.log(
      `   ${r.name}: ${(r.jsItersPerRound * o.rounds).toLocaleString("en-US")} populates of 512 timed` +
        (r.cItersPerRound === null ? "" : `; C: ${(r.cItersPerRound * o.rounds).toLocaleString("en-US")}`),
    );
  }
  for (const [name, ok] of Object.entries(checks))
    console.log(`   check: ${name}: ${ok ? "yes" : "NO (MISMATCH)"}`);
  const full = rows[0]!;
  const raw = rows[2]!;
  let within: boolean | null = null;
  if (full.ratio !== null && raw.ratio !== null) {
    within = full.ratio <= 3;
    console.log(
      `   target "populate within 3x of C": tdxPageArrayRepopulate ${fmt(full.ratio, 1)}x -> ${within ? "MET" : "NOT MET"}; ` +
        `root write ${fmt(rows[1]!.ratio ?? Number.NaN, 1)}x; raw loop ${fmt(raw.ratio, 1)}x -> ${raw.ratio <= 3 ? "met" : "not met"}`,
    );
  }
  const checkedC = cValues.get("populate-checked");
  const vsChecked = checkedC === undefined ? null : full.js.median / spread(checkedC).median;
  if (checkedC !== undefined && vsChecked !== null) {
    console.log(
      `   tdxPageArrayRepopulate vs C doing the same per-page checks (handle, frame table, orders) then the populate: ` +
        `${fmt(full.js.median, 2)} / ${fmt(spread(checkedC).median, 2)} ns/entry = ${fmt(vsChecked, 2)}x`,
    );
  }
  consume(arr.nrPages);
  return {
    rounds: o.rounds,
    rows,
    c: cStatus,
    checks,
    populateWithin3x: within,
    repopulateVsCheckedC: vsChecked,
  };
}
