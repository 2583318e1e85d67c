/**
 * Section 5, "CLI processes": CPU and wall time of whole `tdxpa` processes (run, report, compare), each
 * against the CPU of an empty `node` process measured in the same run.
 *
 * The CLI measured is the real built command: `node bin/tdxpa.js …`, which loads the one-file bundle
 * (dist/cli/tdxpa.bundle.cjs with its V8 code cache; dist/cli/tdxpa.bundle.js without them).
 * {@link buildCli} rebuilds that bundle and the report page from src/ with the build's own scripts
 * (scripts/build-cli-bundle.mjs, scripts/build-report-page.mjs: what `npm run build` runs after tsc),
 * so the figures are of the current sources. A small preload script makes each child write its own
 * `process.cpuUsage()` (user + system) at exit, so CPU is the child's alone. Every command is run
 * `runs` times; figures are min / median / max over runs. A command that exits with a status
 * other than the expected one is recorded as failed with its first stderr line.
 *
 * Run alone (`node --import tsx bench/cli.ts [runs]`, default 5) it prints the startup rows only: an
 * empty `node`, `tdxpa --version` and `tdxpa run` from the bundle, and the same two from tsc's one file
 * per module output (dist/cli/main.js, when built) to show what bundling saves.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Spread, spread } from "./harness.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench/out");
const PROBE = join(OUT, "cpu-probe.mjs");
const BIN = join(ROOT, "bin/tdxpa.js");
/** An entry that runs tsc's unbundled dist/cli/main.js, for the standalone comparison. */
const UNBUNDLED = join(OUT, "tdxpa-unbundled.mjs");

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

/** Runs one of the build's scripts; throws with its stderr when it fails. */
function buildScript(name: string): void {
  const r = spawnSync(process.execPath, [join(ROOT, "scripts", name)], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, npm_config_loglevel: "silent" },
  });
  if (r.status !== 0) throw new Error(`bench: scripts/${name} failed (exit ${r.status}): ${r.stderr.trim()}`);
}

/** Rebuilds the CLI bundle and the report page into dist/ from src/, and writes the CPU probe. */
export async function buildCli(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  buildScript("build-report-page.mjs");
  buildScript("build-cli-bundle.mjs");
  writeFileSync(
    PROBE,
    `import { writeFileSync } from "node:fs";\n` +
      `process.on("exit", () => { const u = process.cpuUsage(); ` +
      `writeFileSync(process.env.TDXPA_BENCH_CPU, String((u.user + u.system) / 1e6)); });\n`,
  );
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

/** Arguments that run the built `tdxpa` (bin/tdxpa.js, the bundle) with `cliArgs`. */
export function tdxpa(...cliArgs: string[]): string[] {
  return [BIN, ...cliArgs];
}

/** A scratch output file under bench/out/. */
export function scratch(name: string): string {
  return join(OUT, name);
}

/** Median CPU in seconds, or the failure. */
function cpuText(r: ProcessRow): string {
  if (r.cpuS === null) return `FAILS: ${r.failure}`;
  const { min, median, max } = r.cpuS;
  return `${median.toFixed(3)} s (min ${min.toFixed(3)}, max ${max.toFixed(3)})`;
}

/** Standalone: startup rows only, bundled against unbundled, against an empty `node`. */
async function startupRows(runs: number): Promise<void> {
  await buildCli();
  const rows: ProcessRow[] = [];
  const unbuilt = !existsSync(join(ROOT, "dist/cli/main.js"));
  if (!unbuilt)
    writeFileSync(UNBUNDLED, `import { runFromProcess } from "../../dist/cli/main.js";\nrunFromProcess();\n`);
  // Interleaved, so that load on the machine falls on every row alike.
  const cmds: [string, string[]][] = [
    ["node -e 0", ["-e", "0"]],
    ["tdxpa --version (bundle)", tdxpa("--version")],
    ["tdxpa run (bundle)", tdxpa("run")],
    ...(unbuilt
      ? []
      : ([
          ["tdxpa --version (tsc, unbundled)", [UNBUNDLED, "--version"]],
          ["tdxpa run (tsc, unbundled)", [UNBUNDLED, "run"]],
        ] as [string, string[]][])),
  ];
  const per = cmds.map(() => ({ cpu: [] as number[], wall: [] as number[], failure: null as string | null }));
  for (let i = 0; i < runs; i++)
    cmds.forEach(([, args], k) => {
      const r = runOnce(args);
      if (r.status !== 0 || !Number.isFinite(r.cpu))
        per[k]!.failure ??= `exit ${r.status}: ${r.stderr.trim().split("\n")[0] ?? ""}`;
      per[k]!.cpu.push(r.cpu);
      per[k]!.wall.push(r.wall);
    });
  cmds.forEach(([name, args], k) => {
    const p = per[k]!;
    rows.push({
      name,
      args,
      runs,
      cpuS: p.failure === null ? spread(p.cpu) : null,
      wallS: p.failure === null ? spread(p.wall) : null,
      failure: p.failure,
    });
  });
  const node = rows[0]!.cpuS?.median ?? Number.NaN;
  console.log(`CPU (user + system) of ${runs} runs each, interleaved; medians, and as a ratio to node -e 0`);
  for (const r of rows) {
    const ratio = r.cpuS === null ? "" : `  ${(r.cpuS.median / node).toFixed(2)}x node`;
    console.log(`${r.name.padEnd(34)} ${cpuText(r)}${ratio}`);
  }
  if (unbuilt) console.log("(dist/cli/main.js not built: no unbundled rows; run 'npm run build')");
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const runs = Number(process.argv[2] ?? 5);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`bench/cli.ts: runs must be a positive integer, got ${process.argv[2]}`);
    process.exit(2);
  }
  await startupRows(runs);
}

/**
 * `npm test` as the bench runs it, followed by the CPU time of its whole process tree: the shell waits
 * for `npx vitest run` (and so for every worker under it), after which the kernel has added their user
 * and system time to the shell's `cutime` and `cstime`, fields 16 and 17 of /proc/<shell>/stat (in clock
 * ticks). The line is printed after the tests' own output; the shell exits with vitest's status.
 */
export const NPM_TEST_WITH_CPU =
  'npx vitest run; s=$?; echo "bench-cpu-ticks $(cut -d" " -f16,17 /proc/$$/stat 2>/dev/null) $(getconf CLK_TCK 2>/dev/null)"; exit $s';

/** The CPU seconds (user + system) that {@link NPM_TEST_WITH_CPU} printed, or null when it could not. */
export function childCpuSeconds(stdout: string): number | null {
  const m = /^bench-cpu-ticks (\d+) (\d+) (\d+)$/m.exec(stdout);
  if (m === null || Number(m[3]) <= 0) return null;
  return (Number(m[1]) + Number(m[2])) / Number(m[3]);
}
