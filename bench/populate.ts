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
 * same populate; the section prints the whole-API row against it as a second, like-for-like ratio.
 *
 * The JavaScript rows run bundled (bench/populate-work.ts and the src modules it reaches in one CommonJS
 * file, as the CLI ships): the C program is one translation unit whose codecs are `static inline`, and a
 * bundle is JavaScript's one unit. The summary table judges that form. The whole-API and codec rows are
 * also timed as ES modules, in the same rounds, with " (ES modules)" after their names: there each call
 * of an imported function pays for reading the import's binding (bench/populate-work.ts says how much).
 *
 * Rounds of JS and C are interleaved (JS round r, then C
 * round r in a fresh child) so a burst of machine noise hits both sides of a ratio alike, and both sides
 * time CPU time of their own process (process.cpuUsage, CLOCK_PROCESS_CPUTIME_ID), not wall time. A full run
 * times at least 200,000 populates per JS populate row (the C side does more in the same time).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
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
} from "./harness.js";
import { N, type PopulateWork, populateWork } from "./populate-work.js";

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
// The JavaScript side, in its two forms (see bench/populate-work.ts)

/** The suffix of a row timed in the ES-module form. */
export const ESM_SUFFIX = " (ES modules)";
/** The rows also timed in the ES-module form: those the summary table judges against C. */
const ESM_ROWS: readonly string[] = [
  "populate: tdxPageArrayRepopulate",
  "encode HPA_LIST_INFO",
  "decode HPA_LIST_INFO",
  "encode HPA_ARRAY_T",
  "decode HPA_ARRAY_T",
  "encode IOMMU_MT entry",
  "decode IOMMU_MT entry",
];

/**
 * The workloads bundled (bench/populate-work.ts and the src modules it reaches, bundled by esbuild as
 * scripts/build-cli-bundle.mjs bundles the CLI: CommonJS, Node 20) and as ES modules (imported as they
 * are). Each form has its own machine and descriptor, so neither warms the other's functions.
 */
function loadWork(): { bundled: PopulateWork; esm: PopulateWork } {
  const file = `${BENCH_DIR}out/populate-work.cjs`;
  mkdirSync(`${BENCH_DIR}out`, { recursive: true });
  buildSync({
    entryPoints: [`${BENCH_DIR}populate-work.ts`],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: file,
    logLevel: "warning",
  });
  const mod = createRequire(import.meta.url)(file) as { populateWork: () => PopulateWork };
  return { bundled: mod.populateWork(), esm: populateWork() };
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
  const work = loadWork();
  const checks: Record<string, boolean> = { ...work.bundled.checks };
  for (const [name, ok] of Object.entries(work.esm.checks)) checks[`${name}${ESM_SUFFIX}`] = ok;
  // Every row bundled (judged), then the ES-module form of the rows the summary table judges.
  const workloads = [
    ...work.bundled.workloads,
    ...work.esm.workloads
      .filter((w) => ESM_ROWS.includes(w.name))
      .map((w) => ({ ...w, name: `${w.name}${ESM_SUFFIX}` })),
  ];

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
    for (const [form, w] of [
      ["", work.bundled],
      [ESM_SUFFIX, work.esm],
    ] as const) {
      const js = w.checksums;
      checks[`C root page == JS raw loop${form}`] = cChecksums.root === js.root;
      checks[`C HPA_LIST_INFO operands == JS${form}`] = cChecksums.hpaListInfo === js.hpaListInfo;
      checks[`C HPA_ARRAY_T operands == JS${form}`] = cChecksums.hpaArray === js.hpaArray;
      checks[`C IOMMU_MT entries == JS${form}`] = cChecksums.iommuMtEntry === js.iommuMtEntry;
      checks[`C IOMMU_MT entries == JS one-number form${form}`] =
        cChecksums.iommuMtEntry === js.iommuMtEntryValue;
    }
    checks["C populate-checked root == C populate root"] = cChecksums.rootChecked === cChecksums.root;
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
  consume(work.bundled.keepAlive() + work.esm.keepAlive());
  return {
    rounds: o.rounds,
    rows,
    c: cStatus,
    checks,
    populateWithin3x: within,
    repopulateVsCheckedC: vsChecked,
  };
}
