/**
 * `npm run bench` (`-- --quick` for a short CI smoke run): the project's benchmark suite. Runs, in one
 * process, 1. root-page populate and operand encode/decode against a C baseline, 2. page allocator
 * throughput, 3. memory of a 1 TiB host model, 4. extensions bring-up time, SEAMCALL rate and cost per
 * page; prints plain-text tables and writes every figure to bench/out/results.json.
 *
 * Figures are printed, never asserted (the machine is shared and noisy; spreads over rounds show how
 * much). Each comparison is against a baseline measured in the same run. The only failures are broken
 * work: a bring-up that does not succeed or breaks page conservation exits non-zero after a FAIL line.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { benchAlloc } from "./alloc.js";
import { BenchFailure, benchBringUp } from "./bringup.js";
import { benchExec } from "./exec.js";
import { hasGc, sinkOf } from "./harness.js";
import { benchMemory } from "./memory.js";
import { benchPopulate } from "./populate.js";

const quick = process.argv.includes("--quick");
const unknown = process.argv.slice(2).filter((a) => a !== "--quick");
if (unknown.length > 0) {
  console.error(`bench: unknown argument(s) ${unknown.join(" ")}; usage: npm run bench [-- --quick]`);
  process.exit(2);
}

const cfg = quick
  ? {
      populate: { rounds: 3, jsTargetMs: 25, cTargetMs: 15, minPopulates: 0 },
      alloc: { rounds: 3, targetMs: 25 },
      bringUp: { largePages: 262_144, smallRuns: 5, largeRuns: 1, warmMs: 1000 },
      exec: { roundTrips: 2000, bringUpRuns: 3 },
    }
  : {
      populate: { rounds: 7, jsTargetMs: 150, cTargetMs: 80, minPopulates: 200_000 },
      alloc: { rounds: 7, targetMs: 100 },
      bringUp: { largePages: 1_048_576, smallRuns: 15, largeRuns: 3, warmMs: 1500 },
      exec: { roundTrips: 20_000, bringUpRuns: 9 },
    };

const started = performance.now();
const meta = {
  date: new Date().toISOString(),
  mode: quick ? "quick" : "full",
  node: process.version,
  v8: process.versions.v8,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "unknown",
  gcExposed: hasGc,
  config: cfg,
};
console.log(
  `tdx-page-array bench (${meta.mode}) — node ${meta.node}, ${meta.cpus} x ${meta.cpuModel}` +
    `${hasGc ? "" : " — WARNING: no --expose-gc, memory figures include garbage"}`,
);

const results: Record<string, unknown> = { meta };
const outDir = fileURLToPath(new URL("./out/", import.meta.url));
function save(): void {
  results.totalSeconds = (performance.now() - started) / 1000;
  results.sink = sinkOf();
  mkdirSync(outDir, { recursive: true });
  writeFileSync(`${outDir}results.json`, `${JSON.stringify(results, null, 2)}\n`);
}

try {
  results.populate = benchPopulate(cfg.populate);
  results.allocator = benchAlloc(cfg.alloc);
  results.memory = benchMemory();
  results.bringUp = benchBringUp(cfg.bringUp);
  results.exec = await benchExec(cfg.exec);
} catch (e) {
  results.failure = e instanceof Error ? e.message : String(e);
  save();
  if (!(e instanceof BenchFailure)) throw e;
  console.log(
    `\nbench: FAILED (${((performance.now() - started) / 1000).toFixed(1)} s); partial figures in bench/out/results.json`,
  );
  process.exit(1);
}
save();
console.log(
  `\nbench: done in ${((performance.now() - started) / 1000).toFixed(1)} s; all figures in bench/out/results.json`,
);
