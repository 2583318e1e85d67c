/**
 * Section 5, "CLI processes": CPU and wall time of whole `tdxpa` processes (run, report, compare), each
 * against the CPU of an empty `node` process measured in the same run.
 *
 * The CLI runs from JavaScript compiled here, without bundling: every file of src/ is transpiled one to
 * one with esbuild into bench/out/dist/ (what `npm run build` does with tsc, minus type checking), and
 * the report page script is bundled as scripts/build-report-page.mjs does. A small preload script makes
 * each child write its own `process.cpuUsage()` (user + system) at exit, so CPU is the child's alone.
 * Every command is run `runs` times; figures are min / median / max over runs. A command that exits
 * with a status other than the expected one is recorded as failed with its first stderr line.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Spread, spread } from "./harness.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench/out");
const DIST = join(OUT, "dist");
const PROBE = join(OUT, "cpu-probe.mjs");
const ENTRY = join(OUT, "tdxpa.mjs");

/** One measured command. */
export interface ProcessRow {
  readonly name: string;
  readonly args: readonly string[];
  readonly runs: number;
  /** CPU seconds (user + system) of the child, null when it failed. */
  readonly cpuS: Spread | null;
  readonly wallS: Spread | null;
  /** Why the command failed (exit status and first stderr line), or null. */
  readonly failure: string | null;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Transpiles src/ into bench/out/dist/ and writes the entry and the CPU probe. */
export async function buildCli(): Promise<void> {
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(DIST, { recursive: true });
  await build({
    entryPoints: tsFiles(join(ROOT, "src")),
    outdir: DIST,
    outbase: join(ROOT, "src"),
    bundle: false,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "warning",
  });
  await build({
    entryPoints: [join(ROOT, "src/report/page.ts")],
    outfile: join(DIST, "report/page.bundle.js"),
    bundle: true,
    format: "iife",
    platform: "browser",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
  });
  writeFileSync(
    PROBE,
    `import { writeFileSync } from "node:fs";\n` +
      `process.on("exit", () => { const u = process.cpuUsage(); ` +
      `writeFileSync(process.env.TDXPA_BENCH_CPU, String((u.user + u.system) / 1e6)); });\n`,
  );
  writeFileSync(ENTRY, `import { runFromProcess } from "./dist/cli/main.js";\nrunFromProcess();\n`);
}

interface OneRun {
  cpu: number;
  wall: number;
  status: number | null;
  stderr: string;
}

function runOnce(args: readonly string[]): OneRun {
  const cpuFile = join(OUT, `cpu-${process.pid}.txt`);
  rmSync(cpuFile, { force: true });
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", PROBE, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, TDXPA_BENCH_CPU: cpuFile },
    maxBuffer: 256 << 20,
  });
  const wall = (performance.now() - t0) / 1000;
  let cpu = Number.NaN;
  try {
    cpu = Number(readFileSync(cpuFile, "utf8"));
  } catch {}
  rmSync(cpuFile, { force: true });
  return { cpu, wall, status: r.status, stderr: r.stderr ?? "" };
}

/** Runs `node` with `args` (after the probe) `runs` times; `okStatus` is the expected exit status. */
export function measureProcess(
  name: string,
  args: readonly string[],
  runs: number,
  okStatus = 0,
): ProcessRow {
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = runOnce(args);
    if (r.status !== okStatus || !Number.isFinite(r.cpu)) {
      const line = r.stderr.trim().split("\n")[0] ?? "";
      return { name, args, runs, cpuS: null, wallS: null, failure: `exit ${r.status}: ${line}` };
    }
    cpu.push(r.cpu);
    wall.push(r.wall);
  }
  return { name, args, runs, cpuS: spread(cpu), wallS: spread(wall), failure: null };
}

/** Arguments that run `tdxpa` with `cliArgs` from the transpiled tree. */
export function tdxpa(...cliArgs: string[]): string[] {
  return [ENTRY, ...cliArgs];
}

/** A scratch output file under bench/out/. */
export function scratch(name: string): string {
  return join(OUT, name);
}
