/**
 * The main job: `tdxpa run` on the default scenario and on every shipped scenario, the catalogue of
 * invalid scenarios, traces (JSON Lines and Chrome), and `tdxpa inspect`.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadScenario } from "../../src/cli/scenario-file.js";
import { DEFAULT_SCENARIO_DOC, parseScenario, runScenario } from "../../src/scenario/index.js";
import { runCli } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "tdxpa-scen-"));

/** The shared in-process `runCli`, with stdout as one string (the `out` calls joined by newlines). */
async function cli(args: string[]) {
  const { code, out, err } = await runCli(args);
  return { code, out: out.join("\n"), err };
}

describe("tdxpa run (default scenario)", () => {
  it("prints each phase, totals, conservation and exits 0", async () => {
    const r = await cli(["run"]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\[0\] flow bring-up: ok$/m);
    expect(r.out).toMatch(/TDH\.EXT\.MEM\.ADD\s+TDX_INTERRUPTED_RESUMABLE x\d+, TDX_SUCCESS x25/);
    expect(r.out).toMatch(/TDH\.SPDM\.CONNECT\s+TDX_SPDM_REQUEST x\d+, TDX_SUCCESS x3/);
    expect(r.out).toMatch(/TDH\.IOMMU\.SETUP\s+TDX_SUCCESS x4, TDX_OPERAND_INVALID\(RCX\) x2/);
    expect(r.out).toMatch(
      /^conservation: ok; .*module-owned 12800 \[extension memory pool 12800\], stranded 0/m,
    );
    expect(r.out).toMatch(/pages: donated \d+ \([\d.]+ MiB\), module-owned 12800 \(50 MiB\)/);
    expect(r.out).toMatch(/^result: clean \(exit 0\)$/m);
  });
  it("--json prints the report as one object", async () => {
    const r = await cli(["run", "--json"]);
    const rep = JSON.parse(r.out);
    expect(rep.exitCode).toBe(0);
    expect(rep.totals.hazards).toBe(0);
    expect(rep.conservation.ok).toBe(true);
    expect(rep.phases.length).toBe(4);
  });
  it("scenarios/default.yaml is the built-in default scenario", () => {
    expect(parse(readFileSync("scenarios/default.yaml", "utf8"))).toEqual(
      JSON.parse(JSON.stringify(DEFAULT_SCENARIO_DOC)),
    );
  });
});

describe("every shipped scenario meets its expectations", () => {
  const files = readdirSync("scenarios").filter((f) => f.endsWith(".yaml"));
  it("ships the required examples", () => {
    for (const f of [
      "default",
      "no-clflush",
      "head-page-only",
      "ext-add-original-operand",
      "free-before-writeback",
      "duplicate-page",
      "stale-root",
      "pool-1m",
      "no-tdx-iommu",
    ]) {
      expect(files).toContain(`${f}.yaml`);
    }
  });
  it.each(files)(
    "%s",
    (f) => {
      const r = runScenario(loadScenario(join("scenarios", f)));
      expect(r.unexpected).toEqual([]);
      expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
      expect(r.expectations.length).toBeGreaterThan(0);
      expect(r.exitCode).toBe(0);
    },
    60_000,
  );
  it("a scenario whose expectation fails exits 1 and says which", async () => {
    const f = join(dir, "wrong.yaml");
    writeFileSync(
      f,
      "name: wrong\nhost: { policy: { clflush: never } }\nsteps:\n  - flow: iommu-setup\n  - expect: { hazards: 0 }\n",
    );
    const r = await cli(["run", f]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/NOT MET at step 1: 0 hazard\(s\) \(got 80\)/);
    expect(r.out).toMatch(/^result: problems found \(exit 1\)$/m);
  });
  it("an unexpected hazard exits 1", async () => {
    const f = join(dir, "hazard.yaml");
    writeFileSync(
      f,
      "name: hazard\nhost: { policy: { writeBack: head-page-only } }\nsteps:\n  - flow: iommu-setup\n  - flow: iommu-teardown\n",
    );
    const r = await cli(["run", f]);
    expect(r.code).toBe(1);
    // 8 at the free (hazard 2) and the same 8 pages again in the end-of-run sweep.
    expect(r.out).toMatch(/unexpected: 16 hazard\(s\) found/);
  });
});

describe("a clflush step", () => {
  const raw = (flush: boolean) =>
    runScenario(
      parseScenario({
        name: "raw EXT.MEM.ADD of zeroed pages",
        platform: { metadata: { MEMORY_POOL_REQUIRED_PAGES: 8 } },
        steps: [
          { alloc: "pool", pages: 4, zero: true },
          { root: "pool-list", format: "hpa-list-info", of: "pool" },
          ...(flush ? [{ clflush: "pool" }] : []),
          { seamcall: "TDH.EXT.MEM.ADD", regs: { RCX: "@pool-list" }, expect: { status: "TDX_SUCCESS" } },
        ],
      }),
    );

  it("writes the host's lines back before a raw hand-over: no hazard; without it, hazard 1 on every page", () => {
    const without = raw(false);
    expect(without.hazards.map((h) => h.kind)).toEqual(Array(4).fill("dirty-host-lines-on-private"));
    const flushed = raw(true);
    expect(flushed.totals.hazards).toBe(0);
    expect(flushed.phases[2]!.detail).toBe("4 page(s) flushed");
  });

  it("names an alloc step's set, else one line with the names it could be", () => {
    expect(() => parseScenario({ name: "x", steps: [{ alloc: "a", pages: 1 }, { clflush: "b" }] })).toThrow(
      /steps\[1\]\.clflush: expected a name defined by an earlier alloc step \(a\), got "b"/,
    );
  });
});

describe("invalid scenarios: one clear line, exit 2", () => {
  const cases: [string, string, RegExp][] = [
    ["missing file", "", /nope\.yaml: cannot read scenario: no such file or directory \(ENOENT\)$/],
    ["bad YAML", "name: x\nsteps: [\n", /bad YAML/],
    ["duplicate key", "name: x\nname: y\nsteps: []\n", /bad YAML/],
    ["bad JSON", "{ nope", /bad JSON/],
    ["not a mapping", "- 1\n- 2\n", /\(top\): expected a mapping, got an array of 2/],
    ["no name", "steps:\n  - flow: extensions\n", /name: expected a non-empty string, got undefined/],
    ["no steps", "name: x\nsteps: []\n", /steps: expected a non-empty list of steps/],
    [
      "unknown top key",
      "name: x\nfoo: 1\nsteps: [ { flow: extensions } ]\n",
      /foo: expected one of the keys name, description/,
    ],
    [
      "unknown step",
      "name: x\nsteps:\n  - jump: 3\n",
      /steps\[0\]: expected a step with one of the keys flow, seamcall/,
    ],
    [
      "unknown flow",
      "name: x\nsteps:\n  - flow: warp\n",
      /steps\[0\]\.flow: expected one of extensions, iommu-setup.*got "warp"/,
    ],
    [
      "wrong type",
      "name: x\nsteps:\n  - alloc: p\n    pages: three\n",
      /steps\[0\]\.pages: expected an integer in 1\.\.4194304, got "three"/,
    ],
    [
      "out of range",
      "name: x\nsteps:\n  - alloc: p\n    pages: 0\n",
      /steps\[0\]\.pages: expected an integer in 1\.\.\d+, got 0/,
    ],
    [
      "unknown leaf",
      "name: x\nsteps:\n  - seamcall: TDH.FOO\n",
      /steps\[0\]\.seamcall: expected one of TDH\./,
    ],
    [
      "bad register",
      "name: x\nsteps:\n  - seamcall: TDH.SYS.RD\n    regs: { RQX: 1 }\n",
      /steps\[0\]\.regs\.RQX: expected one of the keys/,
    ],
    [
      "u64 too big",
      "name: x\nsteps:\n  - seamcall: TDH.SYS.RD\n    regs: { RDX: '18446744073709551616' }\n",
      /steps\[0\]\.regs\.RDX: expected a u64/,
    ],
    [
      "undefined reference",
      "name: x\nsteps:\n  - seamcall: TDH.EXT.MEM.ADD\n    regs: { RCX: '@nope' }\n",
      /steps\[0\]\.regs\.RCX: expected a name defined by an earlier alloc or root step/,
    ],
    [
      "unknown status",
      "name: x\nsteps:\n  - inject: { leaf: TDH.SYS.RD, nth: 1, status: TDX_NOPE }\n",
      /steps\[0\]\.inject\.status: expected a status name/,
    ],
    [
      "bad interrupts",
      "name: x\nmodule: { interrupts: { every: 0 } }\nsteps: [ { flow: extensions } ]\n",
      /module\.interrupts\.every: expected an integer in 1\.\./,
    ],
    [
      "bad probability",
      "name: x\nsteps:\n  - interrupts: { random: 2 }\n",
      /steps\[0\]\.interrupts\.random: expected a probability in 0\.\.1, got 2/,
    ],
    [
      "bad policy value",
      "name: x\nhost: { policy: { clflush: sometimes } }\nsteps: [ { flow: extensions } ]\n",
      /host\.policy\.clflush: expected one of if-required, always, never, got "sometimes"/,
    ],
    [
      "bad flush-flag rule",
      "name: x\nhost: { policy: { flushFlag: sometimes } }\nsteps: [ { flow: extensions } ]\n",
      /host\.policy\.flushFlag: expected one of before-call, on-success, got "sometimes"/,
    ],
    [
      "bad metadata vintage",
      "name: x\nplatform: { metadata: { fieldIds: v3 } }\nsteps: [ { flow: extensions } ]\n",
      /platform\.metadata\.fieldIds/,
    ],
    [
      "unknown behaviour",
      "name: x\nmodule: { behaviours: { lenient: true } }\nsteps: [ { flow: extensions } ]\n",
      /module\.behaviours\.lenient: expected one of the keys/,
    ],
    [
      "bad platform",
      "name: x\nplatform: { metadata: { iqOrder: 99 } }\nsteps: [ { flow: extensions } ]\n",
      /platform\.metadata\.iqOrder: 99 is out of range; allowed 1\.\.10/,
    ],
    [
      "bad platform key",
      "name: x\nplatform: { cores: 4 }\nsteps: [ { flow: extensions } ]\n",
      /platform\.cores: expected one of the keys/,
    ],
    [
      "bad expectation",
      "name: x\nsteps:\n  - expect: { pages: { lost: 1 } }\n",
      /steps\[0\]\.expect\.pages\.lost: expected one of the keys free, hostHeld/,
    ],
    ["evict false", "name: x\nsteps:\n  - evict: false\n", /steps\[0\]\.evict: expected true, got false/],
  ];
  it.each(cases)("%s", async (label, text, msg) => {
    const f = join(
      dir,
      label === "missing file"
        ? "nope.yaml"
        : `${label.replace(/ /g, "-")}.${label === "bad JSON" ? "json" : "yaml"}`,
    );
    if (label !== "missing file") writeFileSync(f, text);
    const r = await cli(["run", f]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err.length).toBe(1);
    expect(r.err[0]).toMatch(/^tdxpa: /);
    expect(r.err[0]).toContain(f);
    expect(r.err[0]).not.toMatch(/\n/);
    expect(r.err[0]).toMatch(msg);
  });
});

describe("traces", () => {
  it("JSON Lines: every event, one per line, SEAMCALLs matching the report", async () => {
    const f = join(dir, "t.jsonl");
    const r = await cli(["run", "scenarios/no-clflush.yaml", "--trace", f, "--json"]);
    const rep = JSON.parse(r.out);
    const events = readFileSync(f, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const by = (t: string) => events.filter((e) => e.type === t);
    expect(by("seamcall").length).toBe(rep.totals.calls);
    expect(by("hazard").length).toBe(80);
    expect(by("hazard")[0]).toMatchObject({ kind: "dirty-host-lines-on-private", keyIds: [0] });
    expect(by("page").length).toBeGreaterThan(12_800);
    expect(by("alloc").some((e) => e.tag === "tdx:ext-pool" && e.pages === 12_800)).toBe(true);
    expect(by("phase").length).toBe(2 * 7);
    const add = by("seamcall").find((e) => e.leaf === "TDH.EXT.MEM.ADD");
    expect(add.inputs.RCX).toMatch(/^HPA_LIST_INFO\{root=0x[0-9a-f]+ first=0 last=511\}$/);
    expect(add.root.entries.length).toBe(512);
    expect(rep.traceEvents).toBe(events.length);
  });
  it("Chrome trace: a track per CPU, IOMMU unit and device; kAPI spans; resume arrows; counters", async () => {
    const f = join(dir, "t.json");
    // The format is inferred from the .json name (no --trace-format).
    const r = await cli(["run", "--trace", f]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/trace: .*t\.json \(chrome, \d+ events\)/);
    const t = JSON.parse(readFileSync(f, "utf8"));
    expect(t.displayTimeUnit).toBe("ns");
    expect(t.otherData.clock).toMatch(/1 ns of trace time = 1 unit/);
    const ev: Record<string, unknown>[] = t.traceEvents;
    const names = new Map<string, string>();
    for (const e of ev.filter((e) => e.name === "thread_name"))
      names.set(`${e.pid}/${e.tid}`, (e.args as { name: string }).name);
    const trackOf = (e: Record<string, unknown>) => names.get(`${e.pid}/${e.tid}`);
    // One SEAMCALL = one X on the CPU track (658 calls in the default run: 617, + the 40 PAGE.WBINVD of the two skipped IOMMU units, + TDH.SYS.CONFIG).
    const onCpu = ev.filter((e) => e.ph === "X" && e.cat === "seamcall");
    expect(onCpu).toHaveLength(658);
    expect(onCpu.every((e) => trackOf(e) === "CPU 0" && (e.dur as number) >= 0.001)).toBe(true);
    const ts = onCpu.map((e) => e.ts as number);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    // Object tracks: the four TDX-capable IOMMU units (and the two probed ones), three devices.
    const objTracks = new Set(ev.filter((e) => e.cat === "object").map((e) => trackOf(e)));
    for (const n of [
      "dmar0-socket0-pcie0",
      "dmar1-socket0-pcie1",
      "dmar3-socket1-pcie0",
      "dmar4-socket1-pcie1",
    ])
      expect(objTracks.has(n)).toBe(true);
    expect(
      [...objTracks].filter((n) => n !== undefined && ev.some((e) => e.pid === 3 && trackOf(e) === n)).length,
    ).toBe(3);
    // IOMMU.CLEAR lands on the unit's track (learned from SETUP's returned id).
    const clears = ev.filter((e) => e.cat === "object" && e.name === "TDH.IOMMU.CLEAR");
    expect(clears.map(trackOf).sort()).toEqual([
      "dmar0-socket0-pcie0",
      "dmar1-socket0-pcie1",
      "dmar3-socket1-pcie0",
      "dmar4-socket1-pcie1",
    ]);
    // kAPI spans balanced on the CPU track, and every SEAMCALL inside one.
    const kapi = ev.filter((e) => e.cat === "kapi");
    expect(kapi.filter((e) => e.ph === "B").length).toBe(kapi.filter((e) => e.ph === "E").length);
    expect(kapi.some((e) => e.name === "tdh_ext_mem_add")).toBe(true);
    let depth = 0;
    let outside = 0;
    for (const e of ev) {
      if (e.cat === "kapi") depth += e.ph === "B" ? 1 : -1;
      if (e.cat === "seamcall" && depth === 0) outside++;
    }
    expect(outside).toBe(0);
    // Resume arrows: one start per TDX_INTERRUPTED_RESUMABLE (374), each finished once.
    const starts = ev.filter((e) => e.cat === "resume" && e.ph === "s");
    const finishes = ev.filter((e) => e.cat === "resume" && e.ph === "f");
    expect(starts).toHaveLength(374);
    expect(finishes.map((e) => e.id).sort()).toEqual(starts.map((e) => e.id).sort());
    // Steps are balanced on their own track; counters end with the pool.
    const steps = ev.filter((e) => e.cat === "step");
    expect(steps.filter((e) => e.ph === "B")).toHaveLength(4);
    expect(steps.filter((e) => e.ph === "E")).toHaveLength(4);
    const counters = ev.filter((e) => e.ph === "C");
    expect((counters.at(-1)!.args as Record<string, number>)["module-owned"]).toBe(12_800);
  });
  it("--trace x.jsonl stays JSON Lines, with kAPI events", async () => {
    const f = join(dir, "t.jsonl");
    expect((await cli(["run", "--trace", f, "--no-page-events"])).code).toBe(0);
    const lines = readFileSync(f, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.filter((e) => e.type === "seamcall")).toHaveLength(658);
    expect(lines.some((e) => e.type === "kapi" && e.name === "tdh_iommu_setup" && e.edge === "begin")).toBe(
      true,
    );
  });
  it("an unwritable trace path is a usage error and leaves nothing behind", async () => {
    const f = join(dir, "no-such-dir", "t.jsonl");
    const r = await cli(["run", "--trace", f]);
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/^tdxpa: run: --trace .*no-such-dir\/t.jsonl: cannot write: .*ENOENT/);
    expect(existsSync(join(dir, "no-such-dir"))).toBe(false);
  });
  it("--trace-format without --trace, and an unknown format, are usage errors", async () => {
    expect((await cli(["run", "--trace-format", "chrome"])).code).toBe(2);
    expect((await cli(["run", "--trace", join(dir, "x"), "--trace-format", "svg"])).err[0]).toMatch(
      /"svg" is not jsonl or chrome/,
    );
  });
});

describe("tdxpa inspect", () => {
  it("decodes a call's root page from a scenario run", async () => {
    const r = await cli(["inspect", "scenarios/duplicate-page.yaml", "--step", "0", "--all", "--json"]);
    const j = JSON.parse(r.out);
    const setup = j.calls[0];
    expect(setup.leaf).toBe("TDH.IOMMU.SETUP");
    expect(setup.status).toBe("TDX_PAGE_METADATA_INCORRECT(RDX)");
    expect(setup.root.count).toBe(18);
    expect(setup.root.entries[0].numPages).toBe(2);
    // The duplicate: the last two entries name the same page.
    expect(setup.root.entries[17].hpa).toBe(setup.root.entries[16].hpa);
  });
  it("shows the PAMT state of a range after a step", async () => {
    const r = await cli(["inspect", "--step", "0", "--pamt", "0x100000:2", "--json"]);
    const j = JSON.parse(r.out);
    expect(j.pamt).toEqual([
      {
        hpa: "0x100000",
        type: "PT_EXT_POOL",
        owner: "1 extension memory pool",
        allocator: "allocated (tdx:ext-pool)",
        dirtyKeyIds: [48],
      },
      {
        hpa: "0x101000",
        type: "PT_EXT_POOL",
        owner: "1 extension memory pool",
        allocator: "allocated (tdx:ext-pool)",
        dirtyKeyIds: [48],
      },
    ]);
  });
  it("reads a JSON Lines trace", async () => {
    const f = join(dir, "i.jsonl");
    await cli(["run", "scenarios/raw-seamcalls.yaml", "--trace", f]);
    const r = await cli(["inspect", "--trace", f, "--call", "3"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^#3 TDH\.EXT\.MEM\.ADD -> TDX_SUCCESS$/m);
    expect(r.out).toMatch(/RCX hpa-list-info: root page 0x[0-9a-f]+, FIRST_ENTRY 0, 3 entries/);
    const bad = await cli(["inspect", "--trace", "scenarios/default.yaml"]);
    expect(bad.code).toBe(2);
    expect(bad.err[0]).toMatch(/not a JSON Lines trace/);
  });
});
