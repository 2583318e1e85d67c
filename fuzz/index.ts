/**
 * `npm run fuzz`: the time-boxed fuzz campaign (default 60 s, `--seconds N`, `--seed S`, `--target
 * NAME` repeatable, `--driver auto|fast-check`: the decoder targets run on the lean driver unless
 * fast-check is asked for), then, unless `--no-faults`, the exhaustive single-fault campaign and seeded
 * multi-fault schedules of src/faults/campaign.ts, and, with `--size`, the size runs of
 * src/faults/size-runs.ts. Prints executions per second and totals per target; saves every
 * counterexample as a regression vector in test/fuzz/regressions.json (replayed by
 * test/fuzz/fuzz.test.ts). Exit 1 when anything was found.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { cleanProfile, defaultFaultConfig, runMultiFaults, runSingleFaults } from "../src/faults/campaign.js";
import { bigPoolRun, manyDevicesRun } from "../src/faults/size-runs.js";
import { fuzz, type RegressionVector } from "./driver.js";
import { seamcallStats } from "./targets.js";

const REGRESSIONS = new URL("../test/fuzz/regressions.json", import.meta.url);

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    seed: { type: "string" },
    target: { type: "string", multiple: true },
    driver: { type: "string", default: "auto" },
    "no-faults": { type: "boolean" },
    size: { type: "boolean" },
    json: { type: "boolean" },
  },
});
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds <= 0) {
  console.error(`fuzz: --seconds: ${values.seconds} is not a positive number`);
  process.exit(2);
}
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
if (!Number.isSafeInteger(seed)) {
  console.error(`fuzz: --seed: ${values.seed} is not an integer`);
  process.exit(2);
}

const driver = values.driver;
if (driver !== "auto" && driver !== "fast-check") {
  console.error(`fuzz: --driver: ${driver} is not auto or fast-check`);
  process.exit(2);
}

const date = new Date().toISOString();
console.log(`fuzz: ${seconds} s, seed ${seed}, ${date}, node ${process.version}`);
const r = fuzz({
  seconds,
  seed,
  driver,
  ...(values.target === undefined ? {} : { targets: values.target }),
});
for (const f of r.figures)
  console.log(
    `  ${f.target.padEnd(13)} ${f.driver.padEnd(10)} ${String(f.executions).padStart(9)} executions  ${String(f.perSecond).padStart(7)}/s  ${f.failures} failing`,
  );
console.log(
  `  total         ${String(r.executions).padStart(9)} executions in ${seconds} s; SEAMCALL programs ${seamcallStats.programs}, SEAMCALLs ${seamcallStats.calls} (${seamcallStats.success} success-class)`,
);
let found = r.vectors.length;
if (r.vectors.length > 0) {
  let saved: (RegressionVector & { found?: string })[] = [];
  try {
    saved = JSON.parse(readFileSync(REGRESSIONS, "utf8")) as RegressionVector[];
  } catch {}
  for (const v of r.vectors) {
    console.log(`  FOUND ${v.target}: ${v.problem}\n        input ${v.input}`);
    // The corpus test asks every vector to say where it was found.
    if (!saved.some((x) => x.target === v.target && x.input === v.input))
      saved.push({ ...v, found: `npm run fuzz, seed ${seed}, ${date.slice(0, 10)}` });
  }
  const tmp = `${REGRESSIONS.pathname}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(saved, null, 2)}\n`);
  renameSync(tmp, REGRESSIONS);
  console.log(`  saved to test/fuzz/regressions.json (${saved.length} vectors)`);
}

if (values["no-faults"] !== true) {
  const cfg = defaultFaultConfig();
  const profile = cleanProfile(cfg);
  const single = runSingleFaults(cfg, { profile });
  const multi = runMultiFaults(cfg, { k: 3, schedules: 1000, seed, profile });
  for (const [name, x] of [
    ["single faults", single],
    ["multi faults (k=3)", multi],
  ] as const) {
    console.log(
      `${name}: ${x.pointsCovered}/${x.pointsTotal} points, ${x.runs} runs in ${Math.round(x.ms)} ms, ${x.faultsFired} faults fired; conservation failures ${x.conservationFailures}, hazards ${x.hazards}, model reports ${x.modelReports}, untyped exceptions ${x.untypedExceptions}, typed ${x.typedExceptions}, unreported stranding ${x.unreportedStranding}, held after teardown ${x.heldAfterTeardown}, sweep ${x.sweepFailures}, policy ${x.policyFailures}; stranded ${x.strandedPages} pages in ${x.runsStranding} runs ${JSON.stringify(x.strandedByFlow)}`,
    );
    for (const f of x.findings) console.log(`  FOUND ${f.faults.join(", ")}: ${f.problem}`);
    found +=
      x.conservationFailures +
      x.hazards +
      x.modelReports +
      x.untypedExceptions +
      x.typedExceptions +
      x.unreportedStranding +
      x.heldAfterTeardown +
      x.sweepFailures +
      x.policyFailures;
  }
}

if (values.size === true) {
  for (const s of [bigPoolRun(), manyDevicesRun()]) {
    console.log(`size ${s.name}: ${JSON.stringify(s)}`);
    if (!s.ok) found++;
  }
}

process.exitCode = found === 0 ? 0 : 1;
