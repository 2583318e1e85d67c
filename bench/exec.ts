/**
 * `tdxpa exec` figures (docs/C-HARNESS.md): the SEAMCALL round trip of a C host through libtdxpa and
 * the protocol server, side by side with a C-to-C ping-pong over the same kind of channel (a Unix
 * socketpair) in the same run, which is the floor context switches set on this machine; and the C
 * example's 12,800-page extensions bring-up wall time beside the in-process TypeScript flow, with how
 * many requests the C side batched into how many round trips. Figures are printed, never asserted.
 *
 * Alone: `node --import tsx bench/exec.ts [ROUND_TRIPS] [BRING_UPS]` (default 20,000 and 9, as a full
 * `npm run bench`) prints this section's table, the ratios and the load average; nothing is saved.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { execProgram } from "../src/cli/exec-host.js";
import { fromDoc } from "../src/cli/scenario-file.js";
import { extensionsBringUp } from "../src/host/flows/extensions.js";
import { createMachine } from "../src/machine.js";
import { BenchFailure } from "./bringup.js";
import { spread } from "./harness.js";

const C_DIR = fileURLToPath(new URL("../c/", import.meta.url));
const OUT = fileURLToPath(new URL("./out/c/", import.meta.url));
const RTT_SRC = fileURLToPath(new URL("./exec_rtt.c", import.meta.url));

/** Configuration: round trips per measurement and bring-up runs. */
export interface ExecBenchConfig {
  readonly roundTrips: number;
  readonly bringUpRuns: number;
}

interface Rtt {
  readonly medianUs: number;
  readonly p99Us: number;
}

function parseRtt(text: string, mode: string): Rtt {
  const m = new RegExp(`^${mode} n=\\d+ median_ns=(\\d+) p99_ns=(\\d+)$`, "m").exec(text);
  if (m === null) throw new BenchFailure(`exec_rtt ${mode} printed no figures: ${text.slice(0, 200)}`);
  return { medianUs: Number(m[1]) / 1000, p99Us: Number(m[2]) / 1000 };
}

async function underExec(program: string, args: string[], doc: object): Promise<string> {
  let out = "";
  const o = await execProgram({
    scenario: fromDoc("bench", { name: "bench", steps: [{ flow: "extensions" }], ...doc }),
    program,
    args,
    timeoutMs: 300_000,
    onOutput: (t) => {
      out += t;
    },
  });
  if (o.exitCode !== 0) throw new BenchFailure(`${program} ${args.join(" ")} under exec: ${o.verdict}`);
  return out;
}

/** Runs the exec benchmarks and prints their table. */
export async function benchExec(cfg: ExecBenchConfig): Promise<Record<string, unknown>> {
  mkdirSync(OUT, { recursive: true });
  execFileSync("make", ["-s", "-C", C_DIR, `BUILD=${OUT}`, "all"], { stdio: "pipe" });
  const rtt = `${OUT}exec_rtt`;
  execFileSync(
    "cc",
    [
      "-std=gnu11",
      "-O2",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-I",
      `${C_DIR}include`,
      "-o",
      rtt,
      RTT_SRC,
      `${OUT}libtdxpa.a`,
    ],
    { stdio: "pipe" },
  );
  const n = String(cfg.roundTrips);
  const floor = parseRtt(execFileSync(rtt, ["pingpong", n], { encoding: "utf8" }), "pingpong");
  const ping = parseRtt(await underExec(rtt, ["ping", n], {}), "ping");
  const seamcall = parseRtt(await underExec(rtt, ["seamcall", n], {}), "seamcall");

  const plans = [
    { name: "no interrupts", doc: {}, interrupts: { kind: "none" } as const },
    {
      name: "interrupts every 64",
      doc: { module: { interrupts: { every: 64 } } },
      interrupts: { kind: "every", k: 64 } as const,
    },
  ];
  const bringUp: Record<string, unknown> = {};
  for (const p of plans) {
    const cMs: number[] = [];
    let stats = "";
    for (let i = 0; i < cfg.bringUpRuns; i++) {
      const out = await underExec(`${OUT}tdx_host`, [], p.doc);
      const m = /extensions bring-up ([\d.]+) ms; libtdxpa so far: (.*)$/m.exec(out);
      if (m === null) throw new BenchFailure(`tdx_host printed no bring-up time: ${out.slice(0, 200)}`);
      cMs.push(Number(m[1]));
      stats = m[2]!;
    }
    const tsMs: number[] = [];
    for (let i = 0; i < cfg.bringUpRuns + 2; i++) {
      const mach = createMachine(undefined, { interrupts: p.interrupts });
      const t = performance.now();
      const r = extensionsBringUp(mach.kernel);
      tsMs.push(performance.now() - t);
      if (!r.ok) throw new BenchFailure(`in-process bring-up failed: ${r.failedStep}`);
    }
    const c = spread(cMs);
    const ts = spread(tsMs.slice(2));
    bringUp[p.name] = { cMs: c, tsMs: ts, ratio: c.median / ts.median, cBatching: stats };
  }

  console.log("\n## tdxpa exec: a C host over the wire protocol (same run, same machine)\n");
  console.log("| what | median | p99 |");
  console.log("|---|---|---|");
  console.log(
    `| C-to-C ping-pong over a socketpair (the floor) | ${floor.medianUs.toFixed(1)} µs | ${floor.p99Us.toFixed(1)} µs |`,
  );
  console.log(
    `| protocol PING round trip (C → tdxpa → C) | ${ping.medianUs.toFixed(1)} µs (${(ping.medianUs / floor.medianUs).toFixed(1)}× floor) | ${ping.p99Us.toFixed(1)} µs |`,
  );
  console.log(
    `| SEAMCALL round trip (TDH.SYS.RD through libtdxpa) | ${seamcall.medianUs.toFixed(1)} µs (${(seamcall.medianUs / floor.medianUs).toFixed(1)}× floor) | ${seamcall.p99Us.toFixed(1)} µs |`,
  );
  console.log(
    "\n| 12,800-page extensions bring-up | C under exec (min / median / max) | TypeScript in-process | ratio | C requests batched |",
  );
  console.log("|---|---|---|---|---|");
  for (const [name, v] of Object.entries(bringUp)) {
    const b = v as {
      cMs: ReturnType<typeof spread>;
      tsMs: ReturnType<typeof spread>;
      ratio: number;
      cBatching: string;
    };
    console.log(
      `| ${name} | ${b.cMs.min.toFixed(1)} / ${b.cMs.median.toFixed(1)} / ${b.cMs.max.toFixed(1)} ms | ${b.tsMs.median.toFixed(1)} ms | ${b.ratio.toFixed(1)}× | ${b.cBatching} |`,
    );
  }
  return {
    roundTrips: cfg.roundTrips,
    floor,
    ping,
    seamcall,
    ratioSeamcall: seamcall.medianUs / floor.medianUs,
    bringUp,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [trips = "20000", runs = "9"] = process.argv.slice(2);
  const cfg = { roundTrips: Number(trips), bringUpRuns: Number(runs) };
  if (
    !(
      Number.isInteger(cfg.roundTrips) &&
      cfg.roundTrips >= 1 &&
      Number.isInteger(cfg.bringUpRuns) &&
      cfg.bringUpRuns >= 1
    )
  ) {
    console.error(`bench/exec.ts: "${trips} ${runs}" is not ROUND_TRIPS >= 1 and BRING_UPS >= 1`);
    process.exit(2);
  }
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
  const r = (await benchExec(cfg)) as {
    ratioSeamcall: number;
    bringUp: Record<string, { ratio: number }>;
  };
  console.log(
    `\nSEAMCALL round trip ${r.ratioSeamcall.toFixed(2)}x floor; bring-up ${Object.entries(r.bringUp)
      .map(([k, v]) => `${k} ${v.ratio.toFixed(2)}x`)
      .join(", ")}; load average at start ${load}, at end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
}
