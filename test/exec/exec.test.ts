/**
 * `tdxpa exec` and the C harness (docs/C-HARNESS.md, docs/PROTOCOL.md): the example host in C built
 * warning-clean and with ASan+UBSan, run clean; each wrong build caught with its finding and exit 1;
 * the C host and the TypeScript flows agree call for call (leaf, operands, root page contents, status,
 * outputs) and on the end state; hostile clients end with one line, the report so far and their exit
 * status, never a hang. The C is built once per file into a temporary directory, with `cc` and the
 * flags of c/Makefile.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateTdxHeader } from "../../scripts/gen-c-header.js";
import { EXEC_EXIT, type ExecOutcome, execProgram, serveOnce } from "../../src/cli/exec-host.js";
import { fromDoc } from "../../src/cli/scenario-file.js";
import type { Machine } from "../../src/machine.js";
import { checkConservation } from "../../src/observe/conservation.js";
import type { ModelEvent } from "../../src/observe/events.js";
import { DEFAULT_SCENARIO_DOC } from "../../src/scenario/default.js";
import { runScenario } from "../../src/scenario/runner.js";
import type { Scenario } from "../../src/scenario/schema.js";
import { runCli } from "../support/cli.js";

const ROOT = new URL("../../", import.meta.url);
const C_DIR = new URL("c/", ROOT).pathname;
const SAN = "-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined";
let dir = "";
const bin = (name: string) => join(dir, "b", name);

/** `cc` with the Makefile's flags (c/Makefile); the tests do not need `make`. */
function cc(out: string, sources: string[], extra: string[] = []): void {
  execFileSync(
    "cc",
    [
      "-std=gnu11",
      "-Wall",
      "-Wextra",
      "-Werror",
      ...extra,
      "-I",
      join(C_DIR, "include"),
      "-o",
      out,
      ...sources,
    ],
    { stdio: "pipe" },
  );
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tdxpa-exec-"));
  mkdirSync(join(dir, "b"));
  mkdirSync(join(dir, "a"));
  const lib = join(C_DIR, "lib/tdxpa.c");
  const host = join(C_DIR, "example/tdx_host.c");
  cc(bin("tdxpa.o"), [lib], ["-O2", "-c"]);
  const variants: [string, string[]][] = [
    ["tdx_host", []],
    ["tdx_host_head_page_only", ["-DTDXPA_WRONG_HEAD_PAGE_ONLY"]],
    ["tdx_host_original_operand", ["-DTDXPA_WRONG_ORIGINAL_OPERAND"]],
    ["tdx_host_no_clflush", ["-DTDXPA_WRONG_NO_CLFLUSH"]],
  ];
  for (const [name, flags] of variants) cc(bin(name), [host, bin("tdxpa.o")], ["-O2", ...flags]);
  cc(join(dir, "a", "tdx_host"), [host, lib], ["-O1", "-g", ...SAN.split(" ")]);
  cc(bin("hostile_client"), [new URL("test/c/hostile_client.c", ROOT).pathname, bin("tdxpa.o")], ["-O1"]);
}, 120_000);

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

const scenario = (doc: object): Scenario =>
  fromDoc("test", { name: "exec test", steps: [{ flow: "extensions" }], ...doc });
const DEFAULT = fromDoc("default", DEFAULT_SCENARIO_DOC);

async function run(program: string, args: string[] = [], s: Scenario = DEFAULT, events?: ModelEvent[]) {
  let output = "";
  const o = await execProgram({
    scenario: s,
    program,
    args,
    timeoutMs: 60_000,
    onOutput: (t) => {
      output += t;
    },
    ...(events === undefined ? {} : { onEvent: (e: ModelEvent) => events.push(e) }),
  });
  return { ...o, output };
}

describe("C harness build", () => {
  it("asm/tdx_generated.h is what scripts/gen-c-header.ts generates from the TypeScript tables", () => {
    expect(readFileSync(join(C_DIR, "include/asm/tdx_generated.h"), "utf8")).toBe(generateTdxHeader());
  });

  it("the example and its wrong builds compiled with -Wall -Wextra -Werror (and ASan+UBSan)", () => {
    for (const n of [
      "tdx_host",
      "tdx_host_head_page_only",
      "tdx_host_original_operand",
      "tdx_host_no_clflush",
    ])
      expect(existsSync(bin(n)), n).toBe(true);
    expect(existsSync(join(dir, "a", "tdx_host"))).toBe(true);
  });
});

describe("the example host under tdxpa exec", () => {
  it.each([
    ["plain", () => bin("tdx_host")],
    ["ASan+UBSan", () => join(dir, "a", "tdx_host")],
  ])("%s build: clean, conserved, 0 hazards, exit 0", async (_, path) => {
    const o = await run(path());
    expect(o.output).toContain("IOMMU 4 set up, 2 skipped, 4 cleared: ok");
    expect(o.report.unexpected).toEqual([]);
    expect(o.report.conservation.ok).toBe(true);
    expect(o.report.conservation.totals.hostHeld).toBe(0);
    expect(o.report.conservation.byObject).toEqual({ "extension memory pool": 12_800 });
    expect(o.report.totals.hazards).toBe(0);
    expect(o.report.phases.map((p) => p.label)).toEqual([
      "tdx_ext_bringup",
      "tdx_iommu_setup_all",
      "tdx_iommu_clear_all",
    ]);
    expect(o.exitCode).toBe(EXEC_EXIT.OK);
    expect(o.verdict).toBe("program exited 0; clean");
  });

  it("head-page-only write-back: 8 queue-block tail pages freed with dirty module lines, exit 1", async () => {
    const o = await run(bin("tdx_host_head_page_only"));
    const kinds = o.report.hazards.map((h) => h.kind);
    // Each tail page is named when it is freed dirty, and again by the end-of-run cache sweep.
    expect(kinds.filter((k) => k === "private-lines-on-host-page")).toHaveLength(8);
    expect(kinds.filter((k) => k === "private-lines-left-at-end")).toHaveLength(8);
    expect(kinds).toHaveLength(16);
    expect(o.report.hazards[0]!.cause).toBe("host (tdx_iommu_clear_all)");
    expect(o.exitCode).toBe(EXEC_EXIT.FINDINGS);
  });

  it("original-operand retry: the module refuses the re-added page, the host warns and strands 12,800 pages, exit 1", async () => {
    const o = await run(bin("tdx_host_original_operand"));
    expect(o.report.warnings).toHaveLength(1);
    expect(o.report.warnings[0]!.message).toContain("0xc000030000000001");
    expect(o.report.conservation.totals.stranded).toBe(12_800);
    expect(o.report.conservation.ok).toBe(true);
    expect(o.exitCode).toBe(EXEC_EXIT.FINDINGS);
  });

  it("the kernel's probe rule: TDX_OPERAND_INVALID on any operand (here RDX, a queue size the module does not take) skips the unit, and its pages are written back", async () => {
    const o = await run(bin("tdx_host"), [], scenario({ platform: { metadata: { iqOrder: 2 } } }));
    expect(o.output).toContain("IOMMU 0 set up, 6 skipped, 0 cleared: ok");
    const setup = o.report.phases.find((p) => p.label === "tdx_iommu_setup_all")!;
    expect(setup.calls["TDH.IOMMU.SETUP"]).toEqual({
      "TDX_OPERAND_INVALID(RDX)": 4,
      "TDX_OPERAND_INVALID(RCX)": 2,
    });
    expect(setup.calls["TDH.PHYMEM.PAGE.WBINVD"]).toEqual({ TDX_SUCCESS: 6 * 20 });
    expect(o.exitCode).toBe(EXEC_EXIT.OK);
  });

  it("no CLFLUSH although the module asks: every IOMMU page becomes private dirty, exit 1", async () => {
    const o = await run(bin("tdx_host_no_clflush"));
    expect(o.report.totals.hazards).toBe(80);
    expect(o.report.hazards.every((h) => h.kind === "dirty-host-lines-on-private")).toBe(true);
    expect(o.exitCode).toBe(EXEC_EXIT.FINDINGS);
  });
});

/** The SEAMCALL events of a run, without the virtual time and the C function name. */
function calls(events: readonly ModelEvent[]): object[] {
  return events
    .filter((e) => e.type === "seamcall")
    .map((e) => {
      const { t: _t, fn: _fn, ...rest } = e as ModelEvent & { fn?: string };
      return rest;
    });
}

function endState(machine: Machine) {
  const c = checkConservation(machine);
  return {
    conservation: { ok: c.ok, totals: c.totals, byObject: c.byObject },
    alloc: { free: machine.alloc.stats().freePages, allocated: machine.alloc.stats().allocatedPages },
    pamtOwned: machine.module.pamt.ownedPages,
    hazards: machine.cache.hazards.map((h) => [h.kind, h.pfn]),
    stranded: [...machine.kernel.ledger.stranded.keys()].sort((a, b) => a - b),
    dirtyPages: machine.cache.dirtyPages,
  };
}

describe("the C host and the TypeScript flows agree", () => {
  const cases: [string, string, object][] = [
    ["clean, interrupts every 64", "tdx_host", { module: { interrupts: { every: 64 } } }],
    ["clean, seeded random interrupts", "tdx_host", { module: { interrupts: { random: 0.02, seed: 7 } } }],
    ["head-page-only", "tdx_host_head_page_only", { host: { policy: { writeBack: "head-page-only" } } }],
    [
      "original-operand retry",
      "tdx_host_original_operand",
      {
        module: { interrupts: { every: 100 } },
        host: { policy: { extAddResume: "original" } },
        // The C host, like the kernel, does not set up IOMMUs after the extensions failed.
        steps: [{ flow: "extensions" }],
      },
    ],
    ["no CLFLUSH", "tdx_host_no_clflush", { host: { policy: { clflush: "never" } } }],
    [
      "no TDX-capable IOMMU",
      "tdx_host",
      {
        platform: {
          iommus: [
            { name: "dmar0", regBase: 0xfed90000, tdxCapable: false },
            { name: "dmar1", regBase: 0xfed91000, tdxCapable: false },
          ],
        },
      },
    ],
  ];
  it.each(cases)(
    "%s: same SEAMCALLs (leaf, operands, root pages, status, outputs), same end state",
    async (_, program, doc) => {
      const ts = scenario({
        steps: [{ flow: "extensions" }, { flow: "iommu-setup" }, { flow: "iommu-teardown" }],
        ...doc,
      });
      const tsEvents: ModelEvent[] = [];
      let tsMachine: Machine | null = null;
      runScenario(ts, {
        onEvent: (e) => tsEvents.push(e),
        onDone: (machine) => {
          tsMachine = machine;
        },
      });
      const cEvents: ModelEvent[] = [];
      const o: ExecOutcome = await run(bin(program), [], ts, cEvents);
      const a = calls(tsEvents);
      const b = calls(cEvents);
      expect(b.length).toBeGreaterThanOrEqual(5);
      // One call at a time, so a difference names its place.
      for (let i = 0; i < Math.max(a.length, b.length); i++) expect(b[i], `call ${i}`).toEqual(a[i]);
      expect(endState(o.machine)).toEqual(endState(tsMachine!));
    },
  );
});

describe("hostile and careless clients", () => {
  const hostile = (mode: string, timeoutMs = 30_000) =>
    execProgram({
      scenario: DEFAULT,
      program: bin("hostile_client"),
      args: [mode],
      timeoutMs,
      maxBacklog: 256 << 10,
      onOutput: () => {},
    });

  it.each([
    ["garbage", "oversized"],
    ["unknown-type", "unknown_type"],
    ["no-hello", "no_hello"],
    ["oversized", "oversized"],
    ["bad-version", "bad_version"],
    ["truncated", "truncated"],
    ["not-reading", "not_reading"],
  ])("%s: protocol error (%s), exit 6", async (mode, name) => {
    const o = await hostile(mode);
    expect(o.report.protocolError?.name).toBe(name);
    expect(o.verdict).toMatch(new RegExp(`^protocol error \\(${name}\\): `));
    expect(o.exitCode).toBe(EXEC_EXIT.PROTOCOL);
  });

  // "refused-late": the call comes after the server closed the channel, so its send fails first (the
  // race that made "refused" read "closed while sending" on a busy machine); the reason is the same.
  it.each(["refused", "refused-late"])(
    "%s: a library call answered with the error reply: the program gives the server's reason in one line and exits 125, the run exits 6",
    async (mode) => {
      let out = "";
      const o = await execProgram({
        scenario: DEFAULT,
        program: bin("hostile_client"),
        args: [mode],
        timeoutMs: 30_000,
        onOutput: (t) => {
          out += t;
        },
      });
      expect(out).toBe("tdxpa: the emulator refused a request (code 3): unknown request type 77\n");
      expect(o.program?.code).toBe(125);
      expect(o.report.protocolError?.name).toBe("unknown_type");
      expect(o.exitCode).toBe(EXEC_EXIT.PROTOCOL);
    },
  );

  it("a client that crashes mid-SEAMCALL: the signal is named, exit 4, the report is there", async () => {
    const o = await hostile("crash-mid-seamcall");
    expect(o.verdict).toBe("program killed by signal SIGSEGV");
    expect(o.exitCode).toBe(EXEC_EXIT.PROGRAM_SIGNALED);
    expect(o.report.protocolError?.name).toBe("truncated");
    expect(o.report.conservation.ok).toBe(true);
  });

  it("a client that never sends: killed at --timeout, exit 5", async () => {
    const o = await hostile("never-sends", 1500);
    expect(o.program?.timedOut).toBe(true);
    expect(o.exitCode).toBe(EXEC_EXIT.TIMED_OUT);
  });

  it("a client that forks and leaves a child holding the channel: the run ends with the parent, exit 0", async () => {
    const o = await hostile("fork");
    expect(o.exitCode).toBe(EXEC_EXIT.OK);
    expect(o.report.conservation.totals.hostHeld).toBe(0);
  });

  it.each([
    ["no-free", "page(s) still held by the host"],
    ["double-free", "__free_pages"],
    ["use-after-free", "use after free"],
    ["warn", "WARNING in program: WARN_ON(argc > 0)"],
  ])("%s: a finding, exit 1", async (mode, text) => {
    const o = await hostile(mode);
    expect(o.report.unexpected.join("\n")).toContain(text);
    expect(o.exitCode).toBe(EXEC_EXIT.FINDINGS);
  });

  it("the host reads what the module wrote into its page (the mirror is refreshed after a SEAMCALL)", async () => {
    let out = "";
    const o = await execProgram({
      scenario: DEFAULT,
      program: bin("hostile_client"),
      args: ["release-list"],
      timeoutMs: 30_000,
      onOutput: (t) => {
        out += t;
      },
    });
    expect(out).toContain("release list seen");
    expect(o.exitCode).toBe(EXEC_EXIT.OK);
  });

  it("every allocator shim, with the kernel's page arithmetic, freeing all it took: clean, exit 0", async () => {
    const o = await hostile("tour");
    expect(o.report.unexpected).toEqual([]);
    expect(o.report.conservation.totals.hostHeld).toBe(0);
    expect(o.report.requests.alloc).toBe(5);
    expect(o.exitCode).toBe(EXEC_EXIT.OK);
  });

  it("a crash with --trace: exit 4, the trace is written whole (every line JSON), no temporary file left", async () => {
    const trace = join(dir, "crash.jsonl");
    const r = await runCli(["exec", "--trace", trace, "--", bin("hostile_client"), "crash-after-calls"]);
    expect(r.code).toBe(EXEC_EXIT.PROGRAM_SIGNALED);
    const lines = r.out.join("\n").split("\n");
    expect(lines.at(-1)).toBe("exec: program killed by signal SIGSEGV (exit 4)");
    expect(lines).toContain(
      "totals: 1 SEAMCALLs by the host, 0 interrupts resumed, 0 hazards, 0 model reports",
    );
    const events = readFileSync(trace, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.type)).toEqual(["alloc", "seamcall"]);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("a program that exits non-zero: exit 3", async () => {
    const o = await hostile("exit-3");
    expect(o.verdict).toBe("program exited with status 3");
    expect(o.exitCode).toBe(EXEC_EXIT.PROGRAM_FAILED);
  });

  it("a program run outside tdxpa exec says how to run it", () => {
    let err = "";
    try {
      execFileSync(bin("tdx_host"), [], { stdio: "pipe", env: { PATH: process.env.PATH ?? "" } });
    } catch (e) {
      err = String((e as { stderr?: Buffer }).stderr);
      expect((e as { status?: number }).status).toBe(125);
    }
    expect(err).toMatch(/^tdxpa: no channel to the emulator: run this program under 'tdxpa exec/);
  });
});

describe("tdxpa exec and serve on the command line", () => {
  it.each(["tdx_host_head_page_only", "tdx_host_original_operand"])(
    "exec --json of %s: the same report with no listener (no events decoded) as with a trace",
    async (name) => {
      const trace = join(dir, `${name}.jsonl`);
      const report = async (extra: string[]) => {
        const r = await runCli(["exec", "--json", ...extra, "--timeout", "60", "--", bin(name)]);
        const { wallMs: _w, trace: _t, traceEvents: _e, ...rest } = JSON.parse(r.out.join("\n"));
        return { code: r.code, rest };
      };
      const quiet = await report([]);
      const traced = await report(["--trace", trace]);
      expect(quiet.code).toBe(1);
      expect(quiet.rest.unexpected.length).toBeGreaterThan(0);
      expect(quiet).toEqual(traced);
    },
  );

  it("exec --json --trace: the run report, the verdict, a complete trace naming C functions", async () => {
    const trace = join(dir, "run.jsonl");
    const r = await runCli(["exec", "--json", "--trace", trace, "--timeout", "60", "--", bin("tdx_host")]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out.join("\n"));
    expect(j.exitStatus).toBe(0);
    expect(j.conservation.ok).toBe(true);
    const lines = readFileSync(trace, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.length).toBe(j.traceEvents);
    expect(lines.find((e) => e.type === "seamcall" && e.leaf === "TDH.EXT.MEM.ADD").fn).toBe(
      "tdh_ext_mem_add",
    );
    expect(lines.filter((e) => e.type === "phase").map((e) => `${e.edge} ${e.name}`)).toEqual([
      "begin tdx_ext_bringup",
      "end tdx_ext_bringup",
      "begin tdx_iommu_setup_all",
      "end tdx_iommu_setup_all",
      "begin tdx_iommu_clear_all",
      "end tdx_iommu_clear_all",
    ]);
  });

  it("exec prints the run report and a last line with the verdict and exit status", async () => {
    const r = await runCli(["exec", "--", bin("hostile_client"), "no-free"]);
    expect(r.code).toBe(1);
    const lines = r.out.join("\n").split("\n");
    expect(lines[0]).toBe(`scenario: exec ${bin("hostile_client")}`);
    expect(lines).toContain(
      "unexpected: 4 page(s) still held by the host when the session ended (not freed)",
    );
    expect(lines.at(-1)).toBe("exec: program exited 0; problems found (exit 1)");
  });

  it.each([
    [["exec"], "give the program after '--'"],
    [["exec", "--"], "give the program after '--'"],
    [["exec", "--timeout", "0", "--", "x"], "--timeout"],
    [["exec", "--", join("/nonexistent", "prog")], "cannot run"],
    [["serve"], "--socket PATH is required"],
  ])("usage errors: %j → one line, exit 2", async (argv, text) => {
    const r = await runCli(argv as string[]);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain(text);
  });

  it("exec --report writes the HTML report (when the page bundle is built)", async () => {
    if (!existsSync(new URL("dist/report/page.bundle.js", ROOT))) return;
    const out = join(dir, "r.html");
    const r = await runCli(["exec", "--report", out, "--", bin("tdx_host_head_page_only")]);
    expect(r.code).toBe(1);
    const html = readFileSync(out, "utf8");
    expect(html).toContain("<html");
    expect(html).toContain('"hazards":16');
    expect(html).toContain("tdx_iommu_clear_all");
  });

  it("serve: a program started separately attaches with TDXPA_SOCKET and gets the same report", async () => {
    const sock = join(dir, "s.sock");
    const { spawn } = await import("node:child_process");
    const served = serveOnce({
      scenario: DEFAULT,
      socketPath: sock,
      timeoutMs: 60_000,
      onListening: () => {
        spawn(bin("tdx_host"), [], { stdio: "ignore", env: { ...process.env, TDXPA_SOCKET: sock } });
      },
    });
    const o = await served;
    expect(o.exitCode).toBe(EXEC_EXIT.OK);
    expect(o.report.totals.calls).toBeGreaterThan(500);
    expect(existsSync(sock)).toBe(false);
  });
});
