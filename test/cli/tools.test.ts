/**
 * The reviewer's tools and the CLI's polish (src/cli): `tdxpa diff`, `tdxpa help <cmd>`, `tdxpa
 * completion bash|zsh`, `run -` from standard input, shipped scenarios by name, one help style, and a
 * `schemaVersion` in every `--json` output.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { optionsOf } from "../../src/cli/completion.js";
import { SUBCOMMANDS } from "../../src/cli/main.js";
import { sortHazards } from "../../src/scenario/runner.js";
import { runCli } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "tdxpa-tools-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tdxpa diff", () => {
  it("two shipped scenarios: first diverging SEAMCALL, pages side by side, hazards only one has", async () => {
    const r = await runCli(["diff", "no-clflush", "default"]);
    expect(r.code).toBe(1);
    const out = r.out.join("\n");
    expect(out).toMatch(/^SEAMCALLs: A 161, B 658$/m);
    // The default platform interrupts EXT.MEM.ADD; without CLFLUSH the same call completes (call 5, after TDH.SYS.CONFIG).
    expect(out).toMatch(/^first diverging SEAMCALL: call 5 of each run$/m);
    expect(out).toMatch(/^ {2}A: #5 TDH\.EXT\.MEM\.ADD .* -> TDX_SUCCESS /m);
    expect(out).toMatch(/^ {2}B: #5 TDH\.EXT\.MEM\.ADD .* -> TDX_INTERRUPTED_RESUMABLE /m);
    expect(out).toMatch(/^ {2}donated +12880 +12916 +\*$/m);
    expect(out).toMatch(/^ {2}module-owned +12800 +12800$/m);
    expect(out).toMatch(/^hazards only in A \(80\):$/m);
    expect(out).toMatch(/^ {2}dirty-host-lines-on-private HPA 0x3300000 \(PFN 0x3300\) KeyID 0$/m);
    expect(out).toMatch(/^hazards only in B \(0\)$/m);
    expect(out).toMatch(/^result: the runs differ \(exit 1\)$/m);
  });

  it("a scenario against itself is no difference, exit 0", async () => {
    const r = await runCli(["diff", "head-page-only", "head-page-only"]);
    expect(r.code).toBe(0);
    expect(r.out.join("\n")).toMatch(/SEAMCALL sequences: identical[\s\S]*result: no difference \(exit 0\)/);
  });

  it("stranded pages one side has: stale-root against default (JSON)", async () => {
    const r = await runCli(["diff", "free-before-writeback", "default", "--json"]);
    const j = JSON.parse(r.out[0]!);
    expect(j.schemaVersion).toBe(1);
    expect(j.same).toBe(false);
    expect(Array.isArray(j.strandedOnlyA)).toBe(true);
    expect(j.pages["module-owned"]).toEqual({ a: 12_800, b: 12_800 });
  });

  it("traces: two JSON Lines traces diff like their scenarios; a saved --json report compares steps", async () => {
    const a = join(dir, "a.jsonl");
    const b = join(dir, "b.jsonl");
    expect((await runCli(["run", "no-clflush", "--trace", a])).code).toBe(0);
    expect((await runCli(["run", "default", "--trace", b])).code).toBe(0);
    const fromTraces = await runCli(["diff", a, b, "--json"]);
    const fromScenarios = await runCli(["diff", "no-clflush", "default", "--json"]);
    const t = JSON.parse(fromTraces.out[0]!);
    const s = JSON.parse(fromScenarios.out[0]!);
    expect(t.firstDivergence).toEqual(s.firstDivergence);
    expect(t.hazardsOnlyA).toEqual(s.hazardsOnlyA);
    expect(t.strandedOnlyA).toBeNull();
    const c = join(dir, "c.json");
    expect((await runCli(["run", "--trace", c])).code).toBe(0);
    const chrome = JSON.parse((await runCli(["diff", c, b, "--json"])).out[0]!);
    expect(chrome.firstDivergence).toBeNull();
    const saved = join(dir, "run.json");
    writeFileSync(saved, (await runCli(["run", "no-clflush", "--json"])).out[0]!);
    const rep = await runCli(["diff", saved, "default"]);
    expect(rep.code).toBe(1);
    expect(rep.out.join("\n")).toMatch(/first step whose calls differ: step 0/);
  });

  it.each([
    [["diff", "default"], /^tdxpa: diff: expected two runs A and B, got 1/],
    [
      ["diff", "default", "nope"],
      /^tdxpa: nope: cannot read scenario: no such file, and no shipped scenario/,
    ],
    [["diff", "default", "default", "--max", "x"], /--max: "x" is not a number/],
  ])("%j: one line, exit 2", async (argv, message) => {
    const r = await runCli(argv);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(message);
  });
});

describe("help, completion, stdin, names", () => {
  it("tdxpa help <cmd> prints the subcommand's help; tdxpa help alone the global help", async () => {
    for (const c of SUBCOMMANDS) {
      const r = await runCli(["help", c.name]);
      expect(r.code).toBe(0);
      expect(r.out).toEqual([c.help]);
    }
    expect((await runCli(["help"])).out[0]).toMatch(/tdxpa help \[subcommand\]/);
    const bad = await runCli(["help", "nope"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toEqual([
      expect.stringMatching(/^tdxpa: help: unknown subcommand 'nope'; subcommands: run, /),
    ]);
  });

  it("one help style: Usage, (sections), Options with -h, --help, Exit status, Examples, in that order", () => {
    for (const c of SUBCOMMANDS) {
      const heads = c.help
        .split("\n")
        .filter((l) => /^[A-Z][A-Za-z ]*:/.test(l))
        .map((l) => l.split(":")[0]);
      expect(heads[0], c.name).toBe("Usage");
      expect(heads.slice(-3), c.name).toEqual(["Options", "Exit status", "Examples"]);
      expect(c.help, c.name).toMatch(/^ {2}-h, --help +show this help$/m);
      expect(c.help, c.name).not.toMatch(/^(usage|options|examples|exit status):/m);
    }
  });

  it("bash completion completes subcommands, options from the help text, and shipped scenarios", async () => {
    const r = await runCli(["completion", "bash"]);
    expect(r.code).toBe(0);
    const script = join(dir, "tdxpa.bash");
    writeFileSync(script, r.out[0]!);
    const complete = (...words: string[]) => {
      const cmd = `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _tdxpa; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return spawnSync("bash", ["-c", cmd], { cwd: dir, encoding: "utf8" }).stdout.trim().split("\n");
    };
    expect(complete("tdxpa", "di")).toEqual(["diff"]);
    expect(complete("tdxpa", "run", "--trace")).toEqual(["--trace", "--trace-format"]);
    expect(complete("tdxpa", "run", "head-")).toEqual(["head-page-only"]);
    expect(complete("tdxpa", "decode", "hpa-")).toEqual(["hpa-list-info", "hpa-array"]);
    expect(complete("tdxpa", "help", "comp")).toEqual(["compare", "completion"]);
  });

  it("zsh completion is a #compdef script naming every subcommand and run's options", async () => {
    const r = await runCli(["completion", "zsh"]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^#compdef tdxpa\n/);
    for (const c of SUBCOMMANDS) expect(r.out[0]).toContain(`'${c.name}:`);
    expect(r.out[0]).toMatch(/run\) opts=\(--trace --trace-format --no-page-events --json -h --help\)/);
    expect((await runCli(["completion", "fish"])).err[0]).toMatch(
      /expected one shell, bash or zsh; got 'fish'/,
    );
  });

  it("optionsOf reads the options column of a help text", () => {
    expect(optionsOf("Options:\n  -o, --out DIR   x\n  --seed N   y\n  not --this\n")).toEqual([
      "-o",
      "--out",
      "--seed",
    ]);
  });

  it("run - reads the scenario from standard input", async () => {
    const r = await runCli(["run", "-"], "name: from stdin\nsteps:\n  - flow: extensions\n");
    expect(r.code).toBe(0);
    expect(r.out.join("\n")).toMatch(/^scenario: from stdin$/m);
    const bad = await runCli(["run", "-"], "name: x\nsteps: [\n");
    expect(bad.code).toBe(2);
    expect(bad.err[0]).toMatch(/^tdxpa: <stdin>:(\d+:\d+:)? bad YAML/);
  });

  it("every --json output carries schemaVersion 1 first", async () => {
    const outs = [
      (await runCli(["run", "raw-seamcalls", "--json"])).out[0]!,
      (await runCli(["inspect", "raw-seamcalls", "--step", "4", "--json"])).out[0]!,
      (await runCli(["decode", "--json", "status", "0x0"])).out[0]!,
      (await runCli(["encode", "hpa-list-info", "--root", "0x1000", "--count", "1", "--json"])).out[0]!,
      (await runCli(["diff", "raw-seamcalls", "raw-seamcalls", "--json"])).out[0]!,
      (await runCli(["vectors", "--out", join(dir, "v"), "--json"])).out[0]!,
    ];
    for (const o of outs) expect(o.startsWith('{"schemaVersion":1,')).toBe(true);
  });
});

describe("tdxpa inspect: operand, FIRST_ENTRY, resume chain, --pamt alone", () => {
  it("an interrupted EXT.MEM.ADD shows its operand as handed over, FIRST_ENTRY and its resume chain", async () => {
    const r = await runCli(["inspect", "--call", "6"]);
    expect(r.code).toBe(0);
    expect(r.out[0]!.split("\n").slice(0, 4)).toEqual([
      "#6 TDH.EXT.MEM.ADD -> TDX_INTERRUPTED_RESUMABLE",
      "  RCX = 0xff80000003300200 (the operand as handed over)",
      "  RCX hpa-list-info: root page 0x3300000, FIRST_ENTRY 64, 512 entries",
      "  resume chain: #5 -> #6 -> … -> #12 (8 calls); this is call 2 of 8",
    ]);
    const j = JSON.parse((await runCli(["inspect", "--call", "12", "--json"])).out[0]!);
    expect(j.calls[0].resumeChain).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    expect(j.calls[0].root.firstEntry).toBe(448);
  });

  it("a trace gives the same chain as the run", async () => {
    const f = join(dir, "i.jsonl");
    await runCli(["run", "--trace", f, "--no-page-events"]);
    const j = JSON.parse((await runCli(["inspect", "--trace", f, "--call", "12", "--json"])).out[0]!);
    expect(j.calls[0].resumeChain).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    expect(j.calls[0].root.operand).toMatch(/^0x[0-9a-f]{16}$/);
  });

  it("a call that was not interrupted has no chain", async () => {
    const r = await runCli(["inspect", "duplicate-page", "--step", "0"]);
    expect(r.out[0]).toMatch(/^ {2}resume chain: none \(not interrupted, resumes nothing\)$/m);
  });

  it("--pamt without --call prints only the PAMT", async () => {
    const r = await runCli(["inspect", "--step", "0", "--pamt", "0x3300000:2"]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe("PAMT:");
    expect(r.out).toHaveLength(3);
    const j = JSON.parse(
      (await runCli(["inspect", "--step", "0", "--pamt", "0x3300000:2", "--json"])).out[0]!,
    );
    expect(j.calls).toEqual([]);
    expect(j.pamt).toHaveLength(2);
  });
});

describe("tdxpa run says what happened", () => {
  it("a step that got the error its scenario expected says so, with the status", async () => {
    const r = await runCli(["run", "raw-seamcalls"]);
    expect(r.code).toBe(0);
    const out = r.out.join("\n");
    expect(out).toMatch(
      /^\[5\] seamcall TDH\.EXT\.MEM\.ADD: failed as expected \(TDX_PAGE_METADATA_INCORRECT\(RCX\)\)$/m,
    );
    expect(out).toMatch(/^\[4\] seamcall TDH\.EXT\.MEM\.ADD: ok \(TDX_SUCCESS\)$/m);
    expect(out).not.toMatch(/^\[5\] .*: ok/m);
    const flow = (await runCli(["run", "duplicate-page"])).out.join("\n");
    expect(flow).toMatch(
      /^\[0\] flow iommu-setup: failed as expected \(TDX_PAGE_METADATA_INCORRECT\(RDX\)\)$/m,
    );
    expect(flow).toMatch(/^ {4}at iommu-setup: TDH\.IOMMU\.SETUP dmar0-socket0-pcie0 -> /m);
  });

  it("the verdict separates clean from findings, all expected", async () => {
    expect((await runCli(["run"])).out.join("\n")).toMatch(/^result: clean \(exit 0\)$/m);
    expect((await runCli(["run", "head-page-only"])).out.join("\n")).toMatch(
      /^result: findings, all expected \(exit 0\)$/m,
    );
    const bad = await runCli(
      ["run", "-"],
      "name: x\nhost: { policy: { writeBack: head-page-only } }\nsteps:\n  - flow: iommu-setup\n  - flow: iommu-teardown\n",
    );
    expect(bad.code).toBe(1);
    expect(bad.out.join("\n")).toMatch(/^result: problems found \(exit 1\)$/m);
  });

  it("the totals count the scenario's own SEAMCALLs: the runner issues none of its own", async () => {
    const out = (await runCli(["run", "raw-seamcalls"])).out.join("\n");
    expect(out).toMatch(/^totals: 8 SEAMCALLs by the host, /m);
    expect(out).not.toMatch(/bookkeeping/);
    // Step 6 is the scenario's own RDMD: one call in the step's table.
    expect(out).toMatch(/^\[6\][^\n]*\n {4}TDH\.PHYMEM\.PAGE\.RDMD {2}TDX_SUCCESS x1$/m);
  });

  it("the clean default run explains the two IOMMU.SETUP OPERAND_INVALID as the probe of non-capable units", async () => {
    const out = (await runCli(["run"])).out.join("\n");
    expect(out).toMatch(/TDH\.IOMMU\.SETUP +TDX_SUCCESS x4, TDX_OPERAND_INVALID\(RCX\) x2/);
    expect(out).toMatch(
      /^ {4}note: TDH\.IOMMU\.SETUP TDX_OPERAND_INVALID\(RCX\) x2: the probe of units that are not TDX-capable \(dmar2-socket0-igfx, dmar5-socket1-legacy\)/m,
    );
  });

  it("one vocabulary: module-owned everywhere, never module-held", async () => {
    const out = (await runCli(["run"])).out.join("\n");
    expect(out).toMatch(/module-owned 12800 \(50 MiB\)/);
    expect(out).not.toMatch(/module-held/);
  });

  it("hazard lines label HPA and PFN and are sorted by page", async () => {
    const r = await runCli(
      ["run", "-"],
      "name: x\nhost: { policy: { writeBack: head-page-only } }\nsteps:\n  - flow: iommu-setup\n  - flow: iommu-teardown\n  - expect: { hazards: 8 }\n",
    );
    const lines = r.out
      .join("\n")
      .split("\n")
      .filter((l) => l.startsWith("  private-lines-on-host-page"));
    expect(lines).toHaveLength(8);
    const pfns = lines.map((l) => {
      const m = /HPA 0x([0-9a-f]+) \(PFN 0x([0-9a-f]+)\)/.exec(l)!;
      expect(Number.parseInt(m[1]!, 16)).toBe(Number.parseInt(m[2]!, 16) * 4096);
      return Number.parseInt(m[2]!, 16);
    });
    expect(pfns).toEqual([...pfns].sort((a, b) => a - b));
  });
});

describe("sortHazards", () => {
  it("orders by PFN, then kind, then cause, whatever order they happened in", () => {
    const h = (pfn: number, kind: string, cause = "host") =>
      ({ kind, pfn, keyIds: [0], cause, message: "" }) as Parameters<typeof sortHazards>[0][number];
    const sorted = sortHazards([h(9, "b"), h(3, "b"), h(9, "a", "z"), h(9, "a", "y"), h(1, "c")]);
    expect(sorted.map((x) => `${x.pfn}${x.kind}${x.cause}`)).toEqual([
      "1chost",
      "3bhost",
      "9ay",
      "9az",
      "9bhost",
    ]);
  });
});
