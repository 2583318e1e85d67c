/**
 * `npm run mutants`: the project's own mutation runner (no Stryker). Applies each mutation of
 * mutants/catalogue.ts to a temporary copy of the tree (never to the working tree), runs the mutation's
 * test files there with vitest's JSON reporter, restores the file, and prints which tests killed each
 * mutation. The aim is every mutation killed; a survivor is listed with the reason it cannot be killed
 * (an expected survivor, `survives` in the catalogue) or makes the run fail.
 *
 * Options: `--only TEXT` (repeatable: mutations whose name contains TEXT), `--group NAME`, `--jobs N`
 * (parallel copies, default 1), `--list`, `--no-baseline` (skip checking that each test set passes
 * unmutated first), `--json FILE` (write the results). Exit 0 when every unexpected mutation was
 * killed, 1 otherwise (a mutant that does not compile counts as a broken entry, not a kill; one that hangs
 * past the timeout counts as killed, named as such), 2 on a usage error or a stale catalogue entry. The temporary copies are removed
 * on every exit path, signals included.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CATALOGUE, type Mutation } from "./catalogue.js";

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const COPY = ["src", "test", "fuzz", "scenarios", "package.json", "tsconfig.json", "vitest.config.ts"];
const TIMEOUT_MS = 240_000;

const { values } = parseArgs({
  options: {
    only: { type: "string", multiple: true },
    group: { type: "string" },
    jobs: { type: "string", default: "1" },
    list: { type: "boolean" },
    "no-baseline": { type: "boolean" },
    json: { type: "string" },
  },
});
const jobs = Number(values.jobs);
if (!Number.isInteger(jobs) || jobs < 1 || jobs > 8) {
  console.error(`mutants: --jobs: ${values.jobs} is not an integer in 1..8`);
  process.exit(2);
}

let chosen = CATALOGUE.filter(
  (m) =>
    (values.only === undefined || values.only.some((t) => m.name.includes(t))) &&
    (values.group === undefined || m.group === values.group),
);
// Every mutation must name text that occurs exactly once: a stale entry is an error, not a survivor.
const stale: string[] = [];
for (const m of values.list === true ? CATALOGUE : chosen) {
  const text = readFileSync(join(ROOT, m.file), "utf8");
  const n = text.split(m.find).length - 1;
  if (n !== 1) stale.push(`${m.name}: its text occurs ${n} times in ${m.file}`);
}
if (stale.length > 0) {
  for (const s of stale) console.error(`mutants: stale catalogue entry: ${s}`);
  process.exit(2);
}
if (values.list === true) {
  for (const m of CATALOGUE) console.log(`${m.group.padEnd(12)} ${m.name}`);
  process.exit(0);
}

if (chosen.length === 0) {
  console.error("mutants: no mutation matches");
  process.exit(2);
}

// ---- temporary copies, removed on every exit path ------------------------------------------------------
const copies: string[] = [];
const children = new Set<ReturnType<typeof spawn>>();
function cleanup(): void {
  for (const c of children) c.kill("SIGKILL");
  for (const d of copies) rmSync(d, { recursive: true, force: true });
  copies.length = 0;
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
process.on("uncaughtException", (e) => {
  cleanup();
  console.error(`mutants: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
});

function makeCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "tdxpa-mutants-"));
  copies.push(dir);
  for (const f of COPY) if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

interface RunResult {
  readonly failed: string[];
  readonly passed: number;
  readonly error: string | null;
  readonly ms: number;
}

/** Runs vitest in `dir` on `tests` (with `filter`): the failing tests' names. */
function runTests(dir: string, tests: readonly string[], filter: string | undefined): Promise<RunResult> {
  const out = join(dir, `.mutant-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  const args = [
    join(dir, "node_modules/vitest/vitest.mjs"),
    "run",
    ...tests,
    ...(filter === undefined ? [] : ["-t", filter]),
    "--reporter=json",
    `--outputFile=${out}`,
  ];
  const t0 = performance.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    children.add(child);
    let err = "";
    child.stderr?.on("data", (d: Buffer) => {
      if (err.length < 4000) err += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      const ms = performance.now() - t0;
      if (signal !== null) {
        done({ failed: [`(timed out after ${TIMEOUT_MS / 1000} s)`], passed: 0, error: "timeout", ms });
        return;
      }
      let failed: string[] = [];
      let passed = 0;
      try {
        const r = JSON.parse(readFileSync(out, "utf8")) as {
          testResults: {
            name: string;
            status: string;
            message?: string;
            assertionResults: { fullName: string; status: string }[];
          }[];
        };
        rmSync(out, { force: true });
        for (const f of r.testResults) {
          const file = f.name.slice(dir.length + 1);
          const bad = f.assertionResults.filter((a) => a.status === "failed");
          passed += f.assertionResults.filter((a) => a.status === "passed").length;
          failed.push(...bad.map((a) => `${file} > ${a.fullName}`));
          if (bad.length === 0 && f.status === "failed") failed.push(`${file} (suite failed: ${f.message ?? "?"})`);
        }
      } catch {
        failed = [`(vitest exit ${code}, no report: ${err.split("\n").find((l) => l.trim() !== "") ?? ""})`];
      }
      done({ failed, passed, error: null, ms });
    });
  });
}

interface Outcome {
  readonly mutation: Mutation;
  readonly killed: boolean;
  readonly killers: readonly string[];
  readonly ms: number;
}

async function main(): Promise<number> {
  const t0 = performance.now();
  console.log(`mutants: ${chosen.length} of ${CATALOGUE.length} mutations, ${jobs} job(s)`);
  const dirs = Array.from({ length: jobs }, makeCopy);

  if (values["no-baseline"] !== true) {
    // Each test set must pass unmutated, or a "kill" would mean nothing.
    const sets = new Map<string, Mutation>();
    for (const m of chosen) sets.set(`${m.tests.join(" ")} -t ${m.filter ?? ""}`, m);
    const keys = [...sets.keys()];
    const broken: string[] = [];
    await Promise.all(
      dirs.map(async (dir, j) => {
        for (let i = j; i < keys.length; i += jobs) {
          const m = sets.get(keys[i]!)!;
          const r = await runTests(dir, m.tests, m.filter);
          if (r.failed.length > 0 || r.passed === 0)
            broken.push(`${keys[i]}: ${r.failed[0] ?? "no test ran"}`);
        }
      }),
    );
    if (broken.length > 0) {
      for (const b of broken) console.error(`mutants: baseline fails: ${b}`);
      return 2;
    }
    console.log(`  baseline: ${keys.length} test sets pass unmutated (${Math.round((performance.now() - t0) / 1000)} s)`);
  }

  const outcomes: Outcome[] = new Array(chosen.length);
  const broken: string[] = [];
  let next = 0;
  await Promise.all(
    dirs.map(async (dir) => {
      for (let i = next++; i < chosen.length; i = next++) {
        const m = chosen[i]!;
        const path = join(dir, m.file);
        const original = readFileSync(path, "utf8");
        writeFileSync(path, original.replace(m.find, m.replace));
        let r: RunResult;
        try {
          r = await runTests(dir, m.tests, m.filter);
        } finally {
          writeFileSync(path, original);
        }
        // A mutant that does not compile or load is a broken catalogue entry, not a kill.
        const invalid = r.failed.some((f) => /Transform failed|PARSE_ERROR|SyntaxError|Expected ".*" but found/.test(f));
        if (invalid) broken.push(`${m.name}: the mutant does not compile (${r.failed[0]?.slice(0, 200)})`);
        const o: Outcome = { mutation: m, killed: r.failed.length > 0 && !invalid, killers: r.failed, ms: r.ms };
        outcomes[i] = o;
        const shown = o.killers.slice(0, 3).join("; ");
        const more = o.killers.length > 3 ? ` (+${o.killers.length - 3} more)` : "";
        console.log(
          `  ${o.killed ? "KILLED  " : "SURVIVED"} [${m.group}] ${m.name} (${(o.ms / 1000).toFixed(1)} s)${o.killed ? `\n           by ${shown}${more}` : m.survives === undefined ? "" : `\n           expected: ${m.survives}`}`,
        );
      }
    }),
  );

  const killed = outcomes.filter((o) => o.killed).length;
  const expected = outcomes.filter((o) => !o.killed && o.mutation.survives !== undefined);
  const unexpected = outcomes.filter((o) => !o.killed && o.mutation.survives === undefined);
  console.log(
    `mutants: ${outcomes.length} tried, ${killed} killed, ${expected.length} survived as expected, ${unexpected.length} survived unexpectedly; ${Math.round((performance.now() - t0) / 1000)} s`,
  );
  for (const o of expected) console.log(`  survivor (expected): ${o.mutation.name}: ${o.mutation.survives}`);
  for (const o of unexpected) console.log(`  SURVIVOR: ${o.mutation.name} (${o.mutation.file})`);
  if (values.json !== undefined)
    writeFileSync(
      values.json,
      `${JSON.stringify(
        outcomes.map((o) => ({ name: o.mutation.name, group: o.mutation.group, killed: o.killed, killers: o.killers, ms: Math.round(o.ms) })),
        null,
        2,
      )}\n`,
    );
  for (const b of broken) console.log(`  INVALID: ${b}`);
  return unexpected.length === 0 && broken.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    cleanup();
    process.exit(code);
  },
  (e: unknown) => {
    cleanup();
    console.error(`mutants: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  },
);
