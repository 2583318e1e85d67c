/**
 * Hostile input at every boundary of the `tdxpa` command: a catalogue of argv vectors for every
 * subcommand (empty strings, huge numbers, 2^64, negative, NaN text, unicode, very long arguments,
 * unknown, repeated and value-less flags, paths that are directories, missing or unwritable), scenario
 * files (deep nesting, huge numbers, a YAML alias bomb, binary junk, an empty file, a 5 MB file, wrong
 * types everywhere), traces read back by `inspect --trace` (truncated, garbage, one huge line), and no
 * partial output file left behind by `run --trace` or `vectors --out` when they fail.
 *
 * Every vector must end with a non-zero exit that is not 70 (internal error), at most one line on
 * stderr (exactly one for a usage error, exit 2), and no stack trace anywhere. `decode` reports an
 * unparsable value on stdout with exit 1 (its documented "some value invalid" status), not on stderr.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SUBCOMMANDS } from "../../src/cli/main.js";
import { type CliRun, runCli } from "../support/cli.js";

type Run = CliRun;
const run = runCli;

const dir = mkdtempSync(join(tmpdir(), "tdxpa-hostile-"));
const LONG = "9".repeat(100_000);
const UNI = "𝟘x𝟙٣\u200b\u202e";

/** Values thrown at every numeric or path argument. */
const VALUES = [
  "",
  " ",
  "18446744073709551616",
  "0x10000000000000000",
  "-1",
  "NaN",
  "Infinity",
  "1e3",
  "0b101",
  UNI,
  LONG,
  "0x",
  "\u0000",
  "--",
];

/** argv vectors per subcommand: each must fail cleanly. */
function catalogue(): [string, string[]][] {
  const c: [string, string[]][] = [];
  const add = (argv: string[]) => c.push([argv.join(" ").slice(0, 60), argv]);
  for (const name of SUBCOMMANDS.map((s) => s.name)) {
    add([name, "--no-such-flag"]);
    add([name, "--no-such-flag=1"]);
    add([name, "-Z"]);
    add([name, `--${UNI}`]);
    add([name, `--${"x".repeat(10_000)}`]);
  }
  add([""]);
  add([UNI]);
  add(["nope"]);
  add(["--nope"]);
  add([LONG]);
  for (const v of VALUES) {
    add(["decode", v]);
    add(["encode", "hpa-list-info", "--root", v, "--count", "1"]);
    add(["encode", "hpa-list-info", "--root", "0x1000", "--count", v]);
    add(["encode", "hpa-array", "--count", v]);
    add(["encode", "iommu-mt", "--root", v]);
    add(["vectors", "--seed", v, "--out", join(dir, "never")]);
    add(["inspect", "--call", v]);
    add(["inspect", "--step", v]);
    add(["inspect", "--pamt", v]);
    add(["run", "--trace-format", v]);
  }
  add(["encode"]);
  add(["encode", "nope"]);
  add(["encode", "hpa-list-info"]);
  add(["encode", "hpa-list-info", "--root"]);
  add(["encode", "hpa-list-info", "--root", "0x1000", "--root", "0x2000", "--count"]);
  add(["encode", "hpa-list-info", "--root", "0x1001", "--count", "512"]);
  add(["encode", "hpa-list-info", "--root", "0x1000", "--count", "513"]);
  add(["encode", "hpa-list-info", "--root", "0x10000000000000", "--count", "1"]);
  add(["decode"]);
  add(["decode", "nope", "1"]);
  add(["decode", "status", "--json", "--json", "--bogus"]);
  add(["vectors", "--out"]);
  add(["vectors", "--out", ""]);
  add(["vectors", "extra"]);
  add(["vectors", "--out", "/proc/tdxpa-nope"]);
  add(["vectors", "--out", "/etc/passwd"]);
  add(["vectors", "--out", "/etc/passwd/x"]);
  add(["inspect", "--trace"]);
  add(["inspect", "--trace", dir]);
  add(["inspect", "--trace", join(dir, "missing.jsonl")]);
  add(["inspect", "--trace", "/proc/self/mem"]);
  add(["inspect", "--trace", join(dir, "x"), "--step", "1"]);
  add(["inspect", "--call", "99999999"]);
  add(["inspect", "--step", "99999999"]);
  add(["inspect", "--pamt", "0x1000:99999999"]);
  add(["inspect", join(dir, "missing.yaml")]);
  add(["run", join(dir, "missing.yaml")]);
  add(["run", dir]);
  add(["run", "a.yaml", "b.yaml"]);
  add(["run", "--trace"]);
  add(["run", "--trace", ""]);
  add(["run", "--trace", dir]);
  add(["run", "--trace", "/proc/nope/x.jsonl"]);
  add(["run", "--trace-format", "chrome"]);
  add(["run", "--trace", join(dir, "t.jsonl"), "--trace-format", "xml"]);
  return c;
}

/** The shared verdict: a failure, not internal, one line on stderr at most, no stack trace. */
function expectCleanFailure(r: Run, what: string): void {
  expect(r.code, `${what}: exit`).not.toBe(0);
  expect(r.code, `${what}: internal error ${r.err.join(" ")}`).not.toBe(70);
  expect(r.err.length, `${what}: stderr lines ${JSON.stringify(r.err)}`).toBeLessThanOrEqual(1);
  if (r.code === 2) expect(r.err, what).toHaveLength(1);
  for (const line of [...r.err, ...r.out]) {
    expect(line, what).not.toMatch(/\n\s+at |node:internal|\.ts:\d+:\d+\)/);
    expect(line.split("\n").length).toBeLessThanOrEqual(r.code === 1 ? 50 : 1);
  }
}

describe("argv catalogue", () => {
  const vectors = catalogue();
  it(`${vectors.length} argv vectors over ${SUBCOMMANDS.length} subcommands each fail cleanly`, async () => {
    for (const [what, argv] of vectors) expectCleanFailure(await run(argv), what);
    expect(vectors.length).toBeGreaterThan(150);
    // Failed runs left no temporary or partial file (`run --trace DIR` renames onto a directory and fails).
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });
});

describe("scenario files", () => {
  const files: [string, string | Uint8Array][] = [
    ["empty.yaml", ""],
    ["empty.json", ""],
    ["null.yaml", "null\n"],
    ["scalar.yaml", "42\n"],
    ["list.yaml", "- 1\n- 2\n"],
    ["deep.json", `${"[".repeat(5000)}${"]".repeat(5000)}`],
    [
      "deep.yaml",
      `${"a:\n".split("").join("")}${Array.from({ length: 2000 }, (_, i) => `${"  ".repeat(i)}k${i}:`).join("\n")} 1\n`,
    ],
    [
      "huge-number.yaml",
      `name: x\nsteps:\n  - flow: extensions\nplatform:\n  metadata:\n    MEMORY_POOL_REQUIRED_PAGES: 1e400\n`,
    ],
    ["huge-int.json", '{"name":"x","steps":[{"alloc":{"name":"a","pages":18446744073709551616}}]}'],
    [
      "laughs.yaml",
      `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n`,
    ],
    ["junk.yaml", Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)],
    ["junk.json", Uint8Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) % 256)],
    ["bom.yaml", "\ufeff\u0000name: x"],
    ["big.yaml", `name: big\nsteps:\n${"  - flow: nope\n".repeat(350_000)}`],
    ["types.yaml", "name: 1\ndescription: []\nplatform: 7\nmodule: x\nhost: [1]\nsteps: {}\n"],
    [
      "types2.json",
      JSON.stringify({ name: "x", steps: [{ flow: 1 }, { seamcall: [] }, { alloc: "x" }, null, 3] }),
    ],
    [
      "types3.json",
      JSON.stringify({ name: "x", platform: { memory: "all" }, steps: [{ flow: "extensions" }] }),
    ],
    ["dup.yaml", "name: a\nname: b\nsteps: []\n"],
    ["tabs.yaml", "name:\tx\n\tsteps:\n"],
  ];
  it.each(files.map(([n, c]) => [n, c] as const))("%s → one line, exit 2", async (name, content) => {
    const f = join(dir, name);
    writeFileSync(f, content);
    const r = await run(["run", f]);
    expect(r.code, r.err.join("|")).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^tdxpa: /);
    expect(r.err[0]!.length).toBeLessThan(2000);
    expect(r.out).toEqual([]);
  });

  it("the 5 MB file is really 5 MB", () => {
    expect(`name: big\nsteps:\n${"  - flow: nope\n".repeat(350_000)}`.length).toBeGreaterThan(5_000_000);
  });
});

describe("traces read back", () => {
  const traces: [string, string][] = [
    ["truncated.jsonl", '{"type":"seamcall","seq":1,"leaf":"TDH.EXT.MEM.ADD","regs'],
    ["garbage.jsonl", "\u0000\u0001garbage\n{}\n"],
    ["huge-line.jsonl", `{"type":"x","pad":"${"a".repeat(3_000_000)}"`],
    ["wrong.jsonl", '{"type":"seamcall","seq":1,"root":5}\n'],
    ["wrong-entries.jsonl", '{"type":"seamcall","seq":1,"root":{"entries":[1]}}\n'],
    ["array.jsonl", "[1,2,3]\n"],
  ];
  it.each(traces)("inspect --trace %s → one clear error", async (name, content) => {
    const f = join(dir, name);
    writeFileSync(f, content);
    const r = await run(["inspect", "--trace", f]);
    expectCleanFailure(r, name);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain(name);
  });
});

describe("no partial output file is left behind", () => {
  it("run --trace with an invalid scenario writes nothing", async () => {
    const d = join(dir, "trace-out");
    mkdirSync(d);
    writeFileSync(join(d, "bad.yaml"), "name: x\nsteps: 3\n");
    const r = await run(["run", join(d, "bad.yaml"), "--trace", join(d, "t.jsonl")]);
    expect(r.code).toBe(2);
    expect(readdirSync(d)).toEqual(["bad.yaml"]);
  });

  it("run --trace into a missing directory writes nothing", async () => {
    const r = await run(["run", "--trace", join(dir, "no-dir", "t.jsonl")]);
    expectCleanFailure(r, "missing dir");
    expect(readdirSync(dir)).not.toContain("no-dir");
  });

  it("vectors --out where a file name is taken by a directory writes nothing", async () => {
    const d = join(dir, "vec-out");
    mkdirSync(join(d, "tdx-page-array-vectors.json"), { recursive: true });
    const r = await run(["vectors", "--out", d]);
    expectCleanFailure(r, "vectors blocked");
    expect(readdirSync(d)).toEqual(["tdx-page-array-vectors.json"]);
  });
});
