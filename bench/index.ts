/**
 * `npm run bench` (`-- --quick` for a short smoke run, `-- --npm-test` to also time `npm test`,
 * `-- --detail` to print the section tables too, `-- --only populate` to run section 1 alone and print its
 * table, nothing saved): the project's benchmark suite. Runs, in one process,
 * 1. root-page populate and operand encode/decode against a C baseline, 2. page allocator throughput,
 * 3. memory of a 1 TiB host model, 4. extensions bring-up time, SEAMCALL rate and cost per page,
 * 5. whole `tdxpa` processes (bench/cli.ts), and the rows of bench/summary.ts; then prints ONE table,
 * one row per path of the performance goals (docs/PERFORMANCE.md), with its figure, its reference from
 * the same run, the ratio and the aim. Every figure goes to bench/out/results.json, the section tables
 * to bench/out/details.txt.
 *
 * Figures are printed, never asserted (the machine is shared and noisy; spreads over rounds show how
 * much). Each comparison is against a baseline measured in the same run. The only failures are broken
 * work: a bring-up that does not succeed or breaks page conservation exits non-zero after a FAIL line.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { benchAlloc } from "./alloc.js";
import { BenchFailure, benchBringUp, oneRun, type SamePagesFigures, SMALL, samePagesRun } from "./bringup.js";
import {
  buildCli,
  childCpuSeconds,
  measureProcess,
  NPM_TEST_WITH_CPU,
  type ProcessRow,
  scratch,
  tdxpa,
} from "./cli.js";
import { benchExec } from "./exec.js";
import { fmt, hasGc, sinkOf } from "./harness.js";
import { benchMemory } from "./memory.js";
import { benchPopulate, ESM_SUFFIX } from "./populate.js";
import {
  bareFlowWarm,
  bringUpEventsVsBare,
  fuzzRates,
  memoryPerTouchedPage,
  printSummary,
  row,
  type SummaryRow,
} from "./summary.js";

const FLAGS = ["--quick", "--npm-test", "--detail"];
/** Sections `--only` can run on their own (the section's table is printed; nothing else runs or is saved). */
const ONLY = ["populate"];
const USAGE = "usage: npm run bench [-- --quick] [--npm-test] [--detail] [--only populate]";
const argv = process.argv.slice(2);
const onlyAt = argv.indexOf("--only");
const only = onlyAt < 0 ? null : (argv[onlyAt + 1] ?? "");
if (only !== null && !ONLY.includes(only)) {
  console.error(
    `bench: --only ${JSON.stringify(only)} is not a section; allowed: ${ONLY.join(", ")}; ${USAGE}`,
  );
  process.exit(2);
}
const quick = argv.includes("--quick");
const withNpmTest = argv.includes("--npm-test");
const detail = argv.includes("--detail") || only !== null;
const unknown = argv.filter(
  (a, i) => !FLAGS.includes(a) && (onlyAt < 0 || (i !== onlyAt && i !== onlyAt + 1)),
);
if (unknown.length > 0) {
  console.error(`bench: unknown argument(s) ${unknown.join(" ")}; ${USAGE}`);
  process.exit(2);
}

const cfg = quick
  ? {
      populate: { rounds: 3, jsTargetMs: 25, cTargetMs: 15, minPopulates: 0 },
      alloc: { rounds: 3, targetMs: 25 },
      bringUp: { largePages: 262_144, smallRuns: 5, largeRuns: 1, warmMs: 1000 },
      exec: { roundTrips: 2000, bringUpRuns: 3 },
      hugePages: 0,
      hugeRuns: 0,
      runnerRuns: 3,
      processRuns: 3,
      bigProcessRuns: 1,
      fuzz: { runs: 3, seconds: 0.3 },
      touchedPages: 65_536,
    }
  : {
      populate: { rounds: 7, jsTargetMs: 150, cTargetMs: 80, minPopulates: 200_000 },
      alloc: { rounds: 7, targetMs: 100 },
      bringUp: { largePages: 1_048_576, smallRuns: 15, largeRuns: 3, warmMs: 1500 },
      exec: { roundTrips: 20_000, bringUpRuns: 9 },
      hugePages: 4_194_304,
      hugeRuns: 3,
      runnerRuns: 9,
      processRuns: 5,
      bigProcessRuns: 3,
      fuzz: { runs: 3, seconds: 1 },
      touchedPages: 262_144,
    };

const started = performance.now();
const meta = {
  date: new Date().toISOString(),
  mode: quick ? "quick" : "full",
  node: process.version,
  v8: process.versions.v8,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "unknown",
  loadAverageAtStart: loadavg(),
  gcExposed: hasGc,
  config: cfg,
};

// Section output goes to bench/out/details.txt (and to the terminal with --detail).
const details: string[] = [];
const realLog = console.log;
console.log = (...args: unknown[]) => {
  details.push(args.map(String).join(" "));
  if (detail) realLog(...args);
};
const say = (line: string): void => {
  details.push(line);
  realLog(line);
};
say(
  `tdx-page-array bench (${meta.mode}) — node ${meta.node}, ${meta.cpus} x ${meta.cpuModel}, load average ${meta.loadAverageAtStart.map((x) => x.toFixed(1)).join(" ")}` +
    `${hasGc ? "" : " — WARNING: no --expose-gc, memory figures include garbage"}`,
);

const results: Record<string, unknown> = { meta };
const outDir = fileURLToPath(new URL("./out/", import.meta.url));
function save(): void {
  results.totalSeconds = (performance.now() - started) / 1000;
  results.sink = sinkOf();
  mkdirSync(outDir, { recursive: true });
  writeFileSync(`${outDir}results.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${outDir}details.txt`, `${details.join("\n")}\n`);
}

const step = (what: string): void =>
  say(`  ... ${what} (${((performance.now() - started) / 1000).toFixed(0)} s)`);

try {
  step("1. populate and codecs vs C");
  const pop = benchPopulate(cfg.populate);
  results.populate = pop;
  if (only === "populate") process.exit(Object.values(pop.checks).every((c) => c) ? 0 : 1);
  step("2. allocator");
  results.allocator = benchAlloc(cfg.alloc);
  step("3. memory of a 1 TiB model");
  results.memory = benchMemory();
  step("4. extensions bring-up");
  const bu = benchBringUp(cfg.bringUp);
  results.bringUp = bu;

  step("bring-up via the scenario runner vs the bare flow");
  const viaRunner = bringUpEventsVsBare(cfg.runnerRuns, quick ? 500 : 1500);
  const warm = bareFlowWarm(cfg.runnerRuns);
  step("memory per touched page");
  const perTouched = memoryPerTouchedPage(cfg.touchedPages);
  step("fuzz decoder targets");
  const rates = fuzzRates(cfg.fuzz.runs, cfg.fuzz.seconds);
  let huge: { usPerPage: number; small: number } | null = null;
  let samePages: SamePagesFigures | null = null;
  if (cfg.hugePages > 0) {
    step(`bring-up of ${cfg.hugePages.toLocaleString("en-US")} pages`);
    // The fastest of a few runs, as on the 12,800-page side: noise (another tenant, a GC that one run
    // happens to take) only ever adds time, so one run against the fastest small run read high.
    let fastest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < cfg.hugeRuns; i++)
      fastest = Math.min(fastest, oneRun(cfg.hugePages, { kind: "none" }, "none").wall);
    const small = bu.rows.find((r) => r.pages === SMALL && r.interrupts === "none")!;
    huge = { usPerPage: (fastest * 1000) / cfg.hugePages, small: small.usPerPage.min };
    // The same pages on both sides, GC included on both (bench/bringup.ts samePagesRun): kept beside the
    // row above, which sets the large run against the fastest single small run, one no GC fell into.
    step(
      `same pages both sides: batches of 12,800-page runs vs ${cfg.hugePages.toLocaleString("en-US")} pages`,
    );
    samePages = samePagesRun(cfg.hugePages, { kind: "none" }, "none", { warm: 0, rounds: cfg.hugeRuns });
  }
  step("tdxpa exec: C host round trips and bring-up");
  const ex = (await benchExec(cfg.exec)) as {
    floor: { medianUs: number };
    seamcall: { medianUs: number };
    bringUp: Record<string, { cMs: { median: number }; tsMs: { median: number } }>;
  };
  results.exec = ex;
  results.extra = {
    viaRunner,
    bareFlowWarm: warm,
    bytesPerTouchedPage: perTouched,
    fuzz: rates,
    huge,
    samePages,
  };

  step("5. tdxpa processes");
  await buildCli();
  const procs: Record<string, ProcessRow> = {};
  const proc = (key: string, args: string[], runs: number, ok = 0): ProcessRow => {
    const r = measureProcess(key, args, runs, ok);
    procs[key] = r;
    return r;
  };
  const nodeRef = proc("node -e 0", ["-e", "0"], cfg.processRuns);
  const runDefault = proc("tdxpa run", tdxpa("run"), cfg.processRuns);
  const run1m = proc("tdxpa run pool-1m", tdxpa("run", "scenarios/pool-1m.yaml"), cfg.bigProcessRuns);
  const report1m = proc(
    "tdxpa report pool-1m",
    tdxpa("report", "scenarios/pool-1m.yaml", "--out", scratch("pool-1m.html")),
    cfg.bigProcessRuns,
  );
  const compare = proc("tdxpa compare", tdxpa("compare"), cfg.bigProcessRuns);
  const compare1m = proc(
    "tdxpa compare pool-1m",
    tdxpa("compare", "scenarios/pool-1m.yaml"),
    1, // one run: about a minute of CPU on a loaded machine (noted in the row)
  );
  results.processes = procs;
  let npmTest: number | null = null;
  let npmTestCpu: number | null = null;
  if (withNpmTest) {
    step("npm test");
    const t0 = performance.now();
    const r = spawnSync("sh", ["-c", NPM_TEST_WITH_CPU], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    npmTest = r.status === 0 ? (performance.now() - t0) / 1000 : null;
    npmTestCpu = r.status === 0 ? childCpuSeconds(r.stdout) : null;
    results.npmTest = { seconds: npmTest, cpuSeconds: npmTestCpu, status: r.status };
  }

  // ---- the one table -------------------------------------------------------------------------------
  const P = (name: string) => pop.rows.find((r) => r.name === name)!;
  // Judged: the code bundled, as the CLI ships it; the note gives the same row as ES modules (see
  // bench/populate-work.ts), timed in the same rounds.
  const vsC = (path: string, name: string, aim: number): SummaryRow => {
    const r = P(name);
    const esm = pop.rows.find((x) => x.name === `${name}${ESM_SUFFIX}`);
    const esmNote =
      esm === undefined
        ? undefined
        : `bundled; as ES modules ${fmt(esm.js.median, 2)} ${r.unit}` +
          (esm.ratio === null ? "" : `, ${fmt(esm.ratio, 2)}x C`);
    return row(
      path,
      r.js.median,
      r.unit,
      "C",
      r.c?.median ?? null,
      `<= ${aim}x C`,
      (_, q) => q !== null && q <= aim,
      esmNote,
    );
  };
  const cpu = (r: ProcessRow) => r.cpuS?.median ?? null;
  const wall = (r: ProcessRow) => r.wallS?.median ?? null;
  const failNote = (r: ProcessRow) => (r.failure === null ? undefined : `FAILS: ${r.failure}`);
  const flat = (label: string) => bu.flatness.find((f) => f.interrupts === label)!;
  const large = cfg.bringUp.largePages.toLocaleString("en-US");
  const rows: SummaryRow[] = [
    vsC("whole tdxPageArrayRepopulate, 512 entries", "populate: tdxPageArrayRepopulate", 2),
    {
      ...vsC(
        "populateRoot only (copy of checked entries)",
        "populate: root write (populateRoot, copy of checked entries)",
        1.5,
      ),
      // Not a populate any more, so not judged against the populate aim.
      met: null,
      note: "the copy only: since 2026-12-03 the check loop computes the entries (their cost is in the whole-API row)",
    },
    vsC("HPA_LIST_INFO encode", "encode HPA_LIST_INFO", 3),
    vsC("HPA_LIST_INFO decode", "decode HPA_LIST_INFO", 3),
    vsC("HPA_ARRAY_T encode", "encode HPA_ARRAY_T", 3),
    vsC("HPA_ARRAY_T decode", "decode HPA_ARRAY_T", 3),
    vsC("IOMMU_MT entry encode", "encode IOMMU_MT entry", 3),
    vsC("IOMMU_MT entry decode", "decode IOMMU_MT entry", 3),
    row(
      "12,800-page bring-up as tdxpa run drives it (events on)",
      viaRunner.events.median,
      "ms",
      "bare flow",
      viaRunner.bare.median,
      "<= 1.5x bare",
      (_, q) => q !== null && q <= 1.5,
      "both include createMachine; runs interleaved",
    ),
    row("bare flow warm, 12,800 pages", warm.median, "ms", "-", null, "<= 5 ms", (f) => f <= 5),
    row(
      "tdxpa run process, default scenario (CPU)",
      cpu(runDefault),
      "s",
      "node -e 0",
      cpu(nodeRef),
      "<= 0.25 s",
      (f) => f <= 0.25,
      failNote(runDefault),
    ),
    row(
      "tdxpa run, 1,048,576-page pool (CPU)",
      cpu(run1m),
      "s",
      "node -e 0",
      cpu(nodeRef),
      "<= 1 s",
      (f) => f <= 1,
      failNote(run1m),
    ),
    row(
      "tdxpa report, 1,048,576-page pool (wall)",
      wall(report1m),
      "s",
      "-",
      null,
      "<= 3 s",
      (f) => f <= 3,
      failNote(report1m),
    ),
    row(
      "tdxpa compare, default with faults (CPU)",
      cpu(compare),
      "s",
      "-",
      null,
      "<= 2 s",
      (f) => f <= 2,
      failNote(compare),
    ),
    row(
      "tdxpa compare scenarios/pool-1m.yaml (wall)",
      wall(compare1m),
      "s",
      "-",
      null,
      "works, <= 10 s",
      (f) => f <= 10,
      failNote(compare1m) ?? "one run",
    ),
    row("memory per page touched (one u64 written)", perTouched, "B", "-", null, "<= 128 B", (f) => f <= 128),
    ...Object.entries(rates).map(([t, s]) =>
      row(`fuzz, decoder target ${t}`, s.median, "exec/s", "-", null, ">= 500k exec/s", (f) => f >= 500_000),
    ),
    ...(["none", "every 64"] as const).map((label) =>
      row(
        `per-page cost, ${large} vs 12,800 pages (${label === "none" ? "no interrupts" : "interrupts every 64"})`,
        flat(label).ratioOfMins,
        "x",
        "-",
        null,
        "<= 1.1x",
        (f) => f <= 1.1,
        "ratio of fastest runs",
      ),
    ),
    row(
      "per-page cost, 4,194,304 vs 12,800 pages (no interrupts)",
      huge === null ? null : huge.usPerPage / huge.small,
      "x",
      "-",
      null,
      "<= 1.1x",
      (f) => f <= 1.1,
      huge === null ? "not run in --quick" : `fastest of ${cfg.hugeRuns} runs vs the fastest 12,800-page run`,
    ),
    row(
      "per-page cost, 4,194,304 vs 12,800 pages, same pages both sides, GC included (no interrupts)",
      samePages === null ? null : samePages.ratio,
      "x",
      "-",
      null,
      "<= 1.1x",
      (f) => f <= 1.1,
      samePages === null
        ? "not run in --quick"
        : `fastest of ${cfg.hugeRuns} large runs vs the fastest of ${cfg.hugeRuns} batches of ${samePages.smallRunsPerBatch} runs of 12,800 pages (summed)`,
    ),
    row(
      "npm test (wall)",
      npmTest,
      "s",
      "-",
      null,
      "<= 60 s",
      (f) => f <= 60,
      // The note is printed in place of a missing figure and under the table beside a present one.
      !withNpmTest
        ? "run with --npm-test"
        : npmTest === null
          ? "FAILED (a test failed)"
          : "one run of npx vitest run",
    ),
    {
      // Beside the wall row, not judged (the aim is wall time): user + system of the same run.
      ...row(
        "npm test (CPU of the whole process tree)",
        npmTestCpu,
        "s",
        "-",
        null,
        "-",
        () => false,
        !withNpmTest
          ? "run with --npm-test"
          : npmTestCpu === null
            ? "not measured (a test failed, or no /proc)"
            : "same run; user + system of vitest and its workers: less swayed by the neighbours than wall",
      ),
      met: null,
    },
    row(
      "tdxpa exec: SEAMCALL round trip (C host)",
      ex.seamcall.medianUs,
      "us",
      "C-to-C ping-pong",
      ex.floor.medianUs,
      "<= 1.5x floor",
      (_, q) => q !== null && q <= 1.5,
    ),
    ...Object.entries(ex.bringUp).map(([name, b]) =>
      row(
        `tdxpa exec: C 12,800-page bring-up (${name})`,
        b.cMs.median,
        "ms",
        "in-process TS flow",
        b.tsMs.median,
        "<= 3x",
        (_, q) => q !== null && q <= 3,
      ),
    ),
  ];
  results.summary = rows;
  const title = `tdx-page-array performance (${meta.mode}; medians; references measured in the same run)`;
  console.log = realLog;
  details.push(title);
  printSummary(title, rows);
} catch (e) {
  console.log = realLog;
  results.failure = e instanceof Error ? e.message : String(e);
  save();
  if (!(e instanceof BenchFailure)) throw e;
  say(
    `\nbench: FAILED (${((performance.now() - started) / 1000).toFixed(1)} s); partial figures in bench/out/results.json`,
  );
  process.exit(1);
}
save();
console.log(
  `\nbench: done in ${((performance.now() - started) / 1000).toFixed(1)} s; all figures in bench/out/results.json, section tables in bench/out/details.txt`,
);
