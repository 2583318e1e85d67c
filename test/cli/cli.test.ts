/**
 * The `tdxpa` command line (src/cli): decode and encode, global options, usage errors and exit statuses.
 *
 * Every test but one calls `main` in-process through the shared `runCli` (test/support/cli.ts); the last spawns the built
 * `bin/tdxpa.js` when `dist/cli/tdxpa.bundle.js` exists. Vectors are the worked values of docs/spec/01-formats.md 1.5 plus
 * one value per rule of 1.4; violation messages are compared with the library decoder's own, since the
 * CLI must relay them unchanged.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/io.js";
import { main, SUBCOMMANDS } from "../../src/cli/main.js";
import {
  decodeHpaArray,
  decodeHpaListInfo,
  decodeIommuMt,
  decodeIommuMtEntry,
} from "../../src/common/formats.js";
import { parseU64 } from "../../src/common/u64.js";
import { type CliRun, runCli } from "../support/cli.js";

const ROOT = new URL("../../", import.meta.url);
const VERSION = (JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")) as { version: string })
  .version;

/** Parses every stdout line as JSON (JSON Lines). */
function jsonLines(r: CliRun): Record<string, unknown>[] {
  return r.lines.map((l) => {
    // Every --json object carries the output schema's version first; the rest is the record.
    const { schemaVersion, ...rest } = JSON.parse(l) as Record<string, unknown>;
    expect(schemaVersion).toBe(1);
    return rest;
  });
}

/** Asserts a usage-style failure: the exit status, nothing on stdout, one line `tdxpa: …` on stderr. */
function expectOneLineError(r: CliRun, code: number, message?: RegExp): void {
  expect(r.code).toBe(code);
  expect(r.stdout).toBe("");
  expect(r.err).toHaveLength(1);
  const line = r.err[0]!;
  expect(line).not.toContain("\n");
  expect(line).not.toContain("    at ");
  expect(line).toMatch(/^tdxpa: \S/);
  if (message !== undefined) expect(line).toMatch(message);
}

// ---------------------------------------------------------------------------------------------------
// decode

type Kind = "hpa-list-info" | "hpa-array" | "iommu-mt" | "iommu-mt-entry" | "status";

interface ValidVector {
  kind: Kind;
  value: string;
  /** The whole JSON object expected. */
  json: Record<string, unknown>;
  /** Lines (after trimming) the readable form must contain. */
  text: RegExp[];
}

const VALID: ValidVector[] = [
  {
    kind: "hpa-list-info",
    value: "0xFF80000012345000",
    json: {
      raw: "0xff80000012345000",
      valid: true,
      firstEntry: 0,
      lastEntry: 511,
      count: 512,
      rootHpa: "0x0000000012345000",
    },
    text: [/^first entry +0$/, /^last entry +511$/, /^count +512$/, /^root HPA +0x0000000012345000$/],
  },
  {
    kind: "hpa-list-info",
    value: "0x0100000000100010", // root 0x100000, 3 entries, resumed at entry 2
    json: {
      raw: "0x0100000000100010",
      valid: true,
      firstEntry: 2,
      lastEntry: 2,
      count: 3,
      rootHpa: "0x0000000000100000",
    },
    text: [/^first entry +2$/, /^count +3$/],
  },
  {
    kind: "hpa-array",
    value: "0x0100000000100000",
    json: {
      raw: "0x0100000000100000",
      valid: true,
      count: 3,
      singleton: false,
      rootHpa: "0x0000000000100000",
      pageHpa: null,
    },
    text: [/^count +3$/, /^singleton +no$/, /^root HPA +0x0000000000100000$/],
  },
  {
    kind: "hpa-array",
    value: "1985228800", // 0x76543000 in decimal: singleton
    json: {
      raw: "0x0000000076543000",
      valid: true,
      count: 1,
      singleton: true,
      rootHpa: null,
      pageHpa: "0x0000000076543000",
    },
    text: [/^singleton +yes$/, /^page HPA +0x0000000076543000$/],
  },
  {
    kind: "iommu-mt",
    value: "0x000F_FFFF_FFFF_F000",
    json: { raw: "0x000ffffffffff000", valid: true, rootHpa: "0x000ffffffffff000" },
    text: [/^root HPA +0x000ffffffffff000$/],
  },
  {
    kind: "iommu-mt-entry",
    value: "0x0000000020000002",
    json: { raw: "0x0000000020000002", valid: true, hpa: "0x0000000020000000", numPages: 2 },
    text: [/^HPA +0x0000000020000000$/, /^NUM_PAGES +2$/],
  },
  {
    kind: "iommu-mt-entry",
    value: "0x20000000",
    json: { raw: "0x0000000020000000", valid: true, hpa: "0x0000000020000000", numPages: 0 },
    text: [/^NUM_PAGES +0 \(one order-0 page\)$/],
  },
  {
    kind: "status",
    value: "0xC000010000000001",
    json: {
      raw: "0xc000010000000001",
      valid: true,
      name: "TDX_OPERAND_INVALID",
      error: true,
      class: 1,
      detail: 0,
      operandId: 1,
    },
    text: [/^error +yes$/, /^class +0x01$/, /^operand id +1 \(RCX\)$/],
  },
  {
    kind: "status",
    value: "0x8000099900000000", // no known kind
    json: {
      raw: "0x8000099900000000",
      valid: true,
      name: null,
      error: true,
      class: 9,
      detail: 0x99,
      operandId: 0,
    },
    text: [/^class +0x09$/, /^detail +0x99$/],
  },
  {
    kind: "status",
    value: "18446744073709551615", // u64 max, exact
    json: {
      raw: "0xffffffffffffffff",
      valid: true,
      name: null,
      error: true,
      class: 255,
      detail: 255,
      operandId: 4294967295,
    },
    text: [/^operand id +4294967295$/],
  },
];

interface InvalidVector {
  kind: Exclude<Kind, "status">;
  value: string;
  rule: string;
  ref: string;
  /** The field values expected beside the violation. */
  fields: Record<string, unknown>;
  /** A piece the message must contain (the bits). */
  bits: string;
}

const INVALID: InvalidVector[] = [
  {
    kind: "hpa-list-info",
    value: "0x0100000000100028", // 01-formats.md 1.5: resumed at entry 5 of 3
    rule: "first-after-last",
    ref: "1.4.2",
    fields: { firstEntry: 5, lastEntry: 2, count: 3, rootHpa: "0x0000000000100000" },
    bits: "bits 11:3",
  },
  {
    kind: "hpa-list-info",
    value: "0xFF80000012345001",
    rule: "reserved-bits",
    ref: "1.4.1",
    fields: { firstEntry: 0, lastEntry: 511, count: 512, rootHpa: "0x0000000012345000" },
    bits: "2:0",
  },
  {
    kind: "hpa-list-info",
    value: "18446744073709551615",
    rule: "reserved-bits",
    ref: "1.4.1",
    fields: { firstEntry: 511, lastEntry: 511, count: 512, rootHpa: "0x000ffffffffff000" },
    bits: "2:0",
  },
  {
    kind: "hpa-array",
    value: "0x0100000000100800",
    rule: "reserved-bits",
    ref: "1.4.1",
    fields: { count: 3, singleton: false, rootHpa: "0x0000000000100000", pageHpa: null },
    bits: "11:0",
  },
  {
    kind: "hpa-array",
    value: "0x0010000076543000",
    rule: "reserved-bits",
    ref: "1.4.1",
    fields: { count: 1, singleton: true, rootHpa: null, pageHpa: "0x0000000076543000" },
    bits: "54:52",
  },
  {
    kind: "iommu-mt",
    value: "0x8000000012345000",
    rule: "reserved-bits",
    ref: "1.4.1",
    fields: { rootHpa: "0x0000000012345000" },
    bits: "63:52",
  },
  {
    kind: "iommu-mt-entry",
    value: "0x20000003",
    rule: "entry-num-pages",
    ref: "1.4.4",
    fields: { hpa: "0x0000000020000000", numPages: 3 },
    bits: "11:0",
  },
  {
    kind: "iommu-mt-entry",
    value: "0x20000001", // NUM_PAGES 1 is not a block size: a single page has 0
    rule: "entry-num-pages",
    ref: "1.4.4",
    fields: { hpa: "0x0000000020000000", numPages: 1 },
    bits: "11:0",
  },
  {
    kind: "iommu-mt-entry",
    value: "0x20001002",
    rule: "entry-alignment",
    ref: "1.4.4",
    fields: { hpa: "0x0000000020001000", numPages: 2 },
    bits: "0x2000",
  },
  {
    kind: "iommu-mt-entry",
    value: "0x0010000020000000",
    rule: "entry-reserved-bits",
    ref: "1.4.4",
    fields: { hpa: "0x0000000020000000", numPages: 0 },
    bits: "63:52",
  },
];

/** The library decoder's own violation message for a vector (the CLI must print exactly this). */
function decoderMessage(kind: InvalidVector["kind"], value: string): string | undefined {
  const { lo, hi } = parseU64(value);
  const d = {
    "hpa-list-info": decodeHpaListInfo,
    "hpa-array": decodeHpaArray,
    "iommu-mt": decodeIommuMt,
    "iommu-mt-entry": (l: number, h: number) => decodeIommuMtEntry(l, h),
  }[kind](lo, hi);
  return d.violation?.message;
}

describe("decode: valid values", () => {
  it.each(VALID)("$kind $value --json", async (v) => {
    const r = await runCli(["decode", v.kind, "--json", v.value]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    const [obj, ...more] = jsonLines(r);
    expect(more).toEqual([]);
    expect(obj).toEqual(v.json);
    // Same key order as documented: raw and valid first.
    expect(Object.keys(obj!).slice(0, 2)).toEqual(["raw", "valid"]);
  });

  it.each(VALID)("$kind $value (readable)", async (v) => {
    const r = await runCli(["decode", v.kind, v.value]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    const [head, ...body] = r.lines;
    expect(head).toMatch(new RegExp(`^${v.json.raw}  ${v.kind}  `));
    if (v.kind === "status") expect(head).toContain(String(v.json.name ?? "unknown status"));
    else expect(head).toMatch(/ valid$/);
    const trimmed = body.map((l) => l.trim());
    for (const re of v.text) expect(trimmed.some((l) => re.test(l))).toBe(true);
    expect(r.stdout).not.toContain("\u001b[");
  });
});

describe("decode: values that break a rule", () => {
  it("0x0100000000100028 as HPA_LIST_INFO: first-after-last with the decoder's exact message", async () => {
    const r = await runCli(["decode", "hpa-list-info", "--json", "0x0100000000100028"]);
    expect(r.code).toBe(1);
    expect(jsonLines(r)).toEqual([
      {
        raw: "0x0100000000100028",
        valid: false,
        firstEntry: 5,
        lastEntry: 2,
        count: 3,
        rootHpa: "0x0000000000100000",
        error: "HPA_LIST_INFO: FIRST_ENTRY (bits 11:3) is 5, above LAST_ENTRY (bits 63:55) 2",
        rule: "first-after-last",
        ref: "1.4.2",
      },
    ]);
  });

  it.each(INVALID)("$kind $value --json: $rule", async (v) => {
    const r = await runCli(["decode", v.kind, "--json", v.value]);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([]);
    const [obj, ...more] = jsonLines(r);
    expect(more).toEqual([]);
    const message = decoderMessage(v.kind, v.value);
    expect(message).toContain(v.bits);
    expect(obj).toEqual({
      raw: `0x${parseU64(v.value).hi.toString(16).padStart(8, "0")}${parseU64(v.value).lo.toString(16).padStart(8, "0")}`,
      valid: false,
      ...v.fields,
      error: message,
      rule: v.rule,
      ref: v.ref,
    });
    expect(Object.keys(obj!).slice(-3)).toEqual(["error", "rule", "ref"]);
  });

  it.each(INVALID)("$kind $value (readable): $rule", async (v) => {
    const r = await runCli(["decode", v.kind, v.value]);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([]);
    expect(r.lines[0]).toContain(`${v.kind}  invalid: rule ${v.rule} (docs/spec/01-formats.md ${v.ref})`);
    expect(r.lines[1]).toMatch(/^ {2}error +/);
    expect(r.lines[1]).toContain(decoderMessage(v.kind, v.value));
  });
});

describe("decode: many values, stdin, unparsable input", () => {
  it("keeps input order, reports unparsable values in place and exits 1 when any is bad", async () => {
    const values = ["0xFF80000012345000", "zz", "0x0100000000100028", "0xff80_0000_1234_5000", ""];
    const r = await runCli(["decode", "hpa-list-info", "--json", ...values]);
    expect(r.code).toBe(1);
    const objs = jsonLines(r);
    expect(objs).toHaveLength(5);
    expect(objs.map((o) => o.raw ?? o.input)).toEqual([
      "0xff80000012345000",
      "zz",
      "0x0100000000100028",
      "0xff80000012345000",
      "",
    ]);
    expect(objs.map((o) => o.valid)).toEqual([true, false, false, true, false]);
    expect(objs[1]).toEqual({
      input: "zz",
      valid: false,
      error: expect.stringContaining('"zz" is not a number'),
    });
    expect(Object.keys(objs[1]!)).toEqual(["input", "valid", "error"]);
  });

  it("exits 0 when every value is valid", async () => {
    const r = await runCli(["decode", "--json", "iommu-mt-entry", "0x20000002", "0x20000000", "4096"]);
    expect(r.code).toBe(0);
    expect(jsonLines(r).map((o) => o.valid)).toEqual([true, true, true]);
  });

  it("separates readable blocks with one blank line and says which value did not parse", async () => {
    const r = await runCli(["decode", "iommu-mt", "0x1000", "0xnope", "0x2000"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      [
        "0x0000000000001000  iommu-mt  valid",
        "  root HPA          0x0000000000001000",
        "",
        '0xnope  iommu-mt  unparsable: value: "0xnope" is not a number; allowed 0x hex or decimal, 0..2^64-1',
        "",
        "0x0000000000002000  iommu-mt  valid",
        "  root HPA          0x0000000000002000",
        "",
      ].join("\n"),
    );
  });

  it("u64 max stays exact and 2^64 is rejected naming the value", async () => {
    const r = await runCli(["decode", "hpa-array", "--json", "18446744073709551615", "18446744073709551616"]);
    expect(r.code).toBe(1);
    const [max, over] = jsonLines(r);
    expect(max!.raw).toBe("0xffffffffffffffff");
    expect(max!.valid).toBe(false);
    expect(over).toEqual({
      input: "18446744073709551616",
      valid: false,
      error: expect.stringMatching(/"18446744073709551616" is out of range; allowed 0\.\.2\^64-1/),
    });
    const t = await runCli(["decode", "status", "0x1_0000_0000_0000_0000"]);
    expect(t.code).toBe(1);
    expect(t.lines).toEqual([
      '0x1_0000_0000_0000_0000  status  unparsable: value: "0x1_0000_0000_0000_0000" is out of range; allowed 0..2^64-1 (0xffffffffffffffff)',
    ]);
  });

  it("reads one value per line from stdin for '-', ignoring blank lines and CRLF", async () => {
    const stdin = "0x20000002\r\n\n   \n  0x20000003  \nzz\n0x20000000";
    const r = await runCli(["decode", "iommu-mt-entry", "--json", "-"], { stdin });
    expect(r.code).toBe(1);
    const objs = jsonLines(r);
    expect(objs.map((o) => o.raw ?? o.input)).toEqual([
      "0x0000000020000002",
      "0x0000000020000003",
      "zz",
      "0x0000000020000000",
    ]);
    expect(objs.map((o) => o.valid)).toEqual([true, false, false, true]);
    expect(objs[1]!.rule).toBe("entry-num-pages");
  });

  it("stdin with only valid values exits 0, readable mode", async () => {
    const r = await runCli(["decode", "status", "-"], { stdin: "0xC000010000000001\n0\n" });
    expect(r.code).toBe(0);
    expect(r.lines[0]).toMatch(/^0xc000010000000001 {2}status {2}TDX_OPERAND_INVALID$/);
    expect(r.lines.filter((l) => l.startsWith("0x"))).toHaveLength(2);
  });

  it.each([
    [["decode", "status", "-", "0x1"], "", /'-' \(read standard input\) must be the only value/],
    [["decode", "status", "-"], "\n  \n", /no values on standard input/],
  ])("stdin misuse %j is a usage error", async (argv, stdin, re) => {
    expectOneLineError(await runCli(argv, { stdin }), 2, re);
  });

  it("a value starting with '-' after '--' is a value, not an option", async () => {
    const r = await runCli(["decode", "status", "--json", "--", "-1"]);
    expect(r.code).toBe(1);
    expect(jsonLines(r)).toEqual([{ input: "-1", valid: false, error: expect.stringContaining('"-1"') }]);
  });

  it("any u64 decodes to one JSON line whose raw is the value, and the exit status follows valid", async () => {
    const kinds: Kind[] = ["hpa-list-info", "hpa-array", "iommu-mt", "iommu-mt-entry", "status"];
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.constantFrom(...kinds),
        async (v, kind) => {
          const r = await runCli(["decode", kind, "--json", v.toString(), `0x${v.toString(16)}`]);
          const objs = jsonLines(r);
          const raw = `0x${v.toString(16).padStart(16, "0")}`;
          expect(objs.map((o) => o.raw)).toEqual([raw, raw]);
          expect(objs[0]).toEqual(objs[1]);
          expect(r.code).toBe(objs[0]!.valid === true ? 0 : 1);
          expect(r.err).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// encode

const ENCODE_OK: { args: string[]; kind: Kind; value: string }[] = [
  {
    args: ["hpa-list-info", "--root", "0x12345000", "--count", "512"],
    kind: "hpa-list-info",
    value: "0xff80000012345000",
  },
  {
    args: ["hpa-list-info", "--root", "305418240", "--count", "0x200"],
    kind: "hpa-list-info",
    value: "0xff80000012345000",
  },
  {
    args: ["hpa-list-info", "--root", "0x100000", "--count", "3", "--first", "2"],
    kind: "hpa-list-info",
    value: "0x0100000000100010",
  },
  {
    args: ["hpa-array", "--count", "3", "--root", "0x100000"],
    kind: "hpa-array",
    value: "0x0100000000100000",
  },
  {
    args: ["hpa-array", "--page", "0x76543000", "--count", "1"],
    kind: "hpa-array",
    value: "0x0000000076543000",
  },
  {
    args: ["hpa-array", "--count", "512", "--root", "0xffffffffff000"],
    kind: "hpa-array",
    value: "0xff8ffffffffff000",
  },
  { args: ["iommu-mt", "--root", "0x12345000"], kind: "iommu-mt", value: "0x0000000012345000" },
  {
    args: ["iommu-mt-entry", "--hpa", "0x20000000", "--pages", "2"],
    kind: "iommu-mt-entry",
    value: "0x0000000020000002",
  },
  {
    args: ["iommu-mt-entry", "--hpa", "0x20000000", "--pages", "1"],
    kind: "iommu-mt-entry",
    value: "0x0000000020000000",
  },
];

describe("encode", () => {
  it.each(ENCODE_OK)("encode $args.0 → $value, which decodes as valid", async (c) => {
    const r = await runCli(["encode", ...c.args]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.lines).toEqual([c.value]);

    const j = await runCli(["encode", ...c.args, "--json"]);
    expect(j.code).toBe(0);
    expect(jsonLines(j)).toEqual([{ kind: c.args[0], value: c.value }]);

    const d = await runCli(["decode", c.kind, "--json", c.value]);
    expect(d.code).toBe(0);
    expect(jsonLines(d)[0]!.valid).toBe(true);
  });

  it.each<[string, string[], RegExp]>([
    ["missing --count", ["hpa-list-info", "--root", "0x1000"], /encode hpa-list-info: missing --count <n>/],
    ["missing --root", ["hpa-list-info", "--count", "1"], /missing --root <hpa>/],
    ["missing --hpa", ["iommu-mt-entry", "--pages", "2"], /missing --hpa <hpa>/],
    ["missing option value", ["hpa-list-info", "--count", "1", "--root"], /--root.*argument missing/],
    [
      "count 0",
      ["hpa-list-info", "--root", "0x1000", "--count", "0"],
      /hpa-list-info\.count: 0 is out of range; allowed 1\.\.512$/,
    ],
    [
      "count 513",
      ["hpa-list-info", "--root", "0x1000", "--count", "513"],
      /hpa-list-info\.count: 513 is out of range; allowed 1\.\.512$/,
    ],
    [
      "hpa-array count 0",
      ["hpa-array", "--count", "0", "--page", "0x1000"],
      /hpa-array\.count: 0 is out of range; allowed 1\.\.512/,
    ],
    [
      "hpa-array count 513",
      ["hpa-array", "--count", "513", "--root", "0x1000"],
      /hpa-array\.count: 513 is out of range/,
    ],
    [
      "count above 2^53",
      ["hpa-list-info", "--root", "0x1000", "--count", "0xffffffffffffffff"],
      /hpa-list-info\.count: "0xffffffffffffffff" is out of range; allowed 1\.\.512/,
    ],
    [
      "first past count",
      ["hpa-list-info", "--root", "0x100000", "--count", "3", "--first", "5"],
      /first: 5 is out of range; allowed 0\.\.2/,
    ],
    [
      "unaligned HPA",
      ["hpa-list-info", "--root", "0x12345001", "--count", "1"],
      /hpa-list-info\.root: 0x12345001 is out of range; allowed a 4 KiB aligned address in 0\.\.2\^52-4096/,
    ],
    [
      "unaligned page",
      ["hpa-array", "--count", "1", "--page", "0x800"],
      /hpa-array\.page: 0x800 is out of range; allowed a 4 KiB/,
    ],
    [
      "HPA = 2^52",
      ["hpa-array", "--count", "2", "--root", "0x10000000000000"],
      /hpa-array\.root: 0x10000000000000 is out of range/,
    ],
    [
      "HPA above 2^53",
      ["iommu-mt-entry", "--hpa", "18446744073709547520", "--pages", "1"],
      /iommu-mt-entry\.hpa: "18446744073709547520" is out of range; allowed a 4 KiB aligned address/,
    ],
    [
      "HPA 2^64",
      ["iommu-mt", "--root", "18446744073709551616"],
      /iommu-mt\.root: "18446744073709551616" is out of range; allowed 0\.\.2\^64-1/,
    ],
    [
      "both --root and --page",
      ["hpa-array", "--count", "3", "--root", "0x1000", "--page", "0x2000"],
      /not both/,
    ],
    [
      "neither --root nor --page",
      ["hpa-array", "--count", "3"],
      /missing --root <hpa> \(count 2\.\.512\) or --page <hpa> \(count 1\)/,
    ],
    [
      "count 1 with --root",
      ["hpa-array", "--count", "1", "--root", "0x1000"],
      /--count 1 is singleton mode and takes --page/,
    ],
    ["count 3 with --page", ["hpa-array", "--count", "3", "--page", "0x1000"], /--count 3 takes --root/],
    [
      "non-number count",
      ["hpa-list-info", "--root", "0x1000", "--count", "three"],
      /hpa-list-info\.count: "three" is not a number/,
    ],
    [
      "non-number HPA",
      ["iommu-mt-entry", "--hpa", "0x2000_000g", "--pages", "2"],
      /iommu-mt-entry\.hpa: "0x2000_000g" is not a number/,
    ],
    [
      "negative number",
      ["iommu-mt-entry", "--hpa", "0x1000", "--pages=-2"],
      /iommu-mt-entry\.pages: "-2" is not a number/,
    ],
    [
      "pages not a power of two",
      ["iommu-mt-entry", "--hpa", "0x20000000", "--pages", "3"],
      /iommu-mt-entry\.pages: 3 is out of range/,
    ],
    [
      "pages 0",
      ["iommu-mt-entry", "--hpa", "0x20000000", "--pages", "0"],
      /iommu-mt-entry\.pages: 0 is out of range/,
    ],
    [
      "block not aligned",
      ["iommu-mt-entry", "--hpa", "0x20001000", "--pages", "2"],
      /iommu-mt-entry\.hpa: "0x20001000" is out of range; allowed a multiple of 2 pages/,
    ],
    [
      "option of another form",
      ["hpa-list-info", "--root", "0x1000", "--count", "1", "--pages", "2"],
      /--pages does not apply/,
    ],
    [
      "unknown option",
      ["hpa-list-info", "--root", "0x1000", "--count", "1", "--bogus"],
      /encode: unknown option '--bogus'/,
    ],
    ["extra argument", ["iommu-mt", "--root", "0x1000", "extra"], /unexpected argument 'extra'/],
    [
      "missing form",
      ["--json"],
      /encode: missing <form>; forms: hpa-list-info, hpa-array, iommu-mt, iommu-mt-entry/,
    ],
    ["unknown form", ["hpa-list", "--count", "1"], /encode: unknown form 'hpa-list'/],
  ])("%s → exit 2 with one line", async (_name, args, re) => {
    expectOneLineError(await runCli(["encode", ...args]), 2, re);
  });
});

// ---------------------------------------------------------------------------------------------------
// Global options, help, usage errors, internal errors

describe("global options and help", () => {
  it("--version and -V print the package.json version", async () => {
    for (const flag of ["--version", "-V"]) {
      const r = await runCli([flag]);
      expect(r.code).toBe(0);
      expect(r.lines).toEqual([VERSION]);
      expect(r.err).toEqual([]);
    }
  });

  it("--help lists every subcommand with its summary, the exit statuses and an example", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.stdout).toMatch(/^ {2}decode +decode u64 operands/m);
    expect(r.stdout).toMatch(/^ {2}encode +encode an HPA_LIST_INFO/m);
    for (const code of ["0", "1", "2", "70"]) expect(r.stdout).toMatch(new RegExp(`^ {2}${code} +\\S`, "m"));
    expect(r.stdout).toContain("tdxpa decode hpa-list-info 0xFF80000012345000");
    expect((await runCli(["-h"])).stdout).toBe(r.stdout);
  });

  it.each([
    [["decode", "--help"], "tdxpa decode hpa-list-info 0xFF80000012345000"],
    [["decode", "status", "-h"], "tdxpa decode status 0xC000010000000001"],
    [["decode", "nonsense", "--help"], "Examples:"],
    [["encode", "--help"], "tdxpa encode hpa-list-info --root 0x12345000 --count 512"],
    [["encode", "hpa-array", "--count", "0", "--help"], "tdxpa encode hpa-array --count 1 --page 0x76543000"],
  ])("%j exits 0 and shows examples", async (argv, example) => {
    const r = await runCli(argv);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.stdout).toContain("Examples:");
    expect(r.stdout).toContain(example);
    expect(r.stdout).toMatch(/^Usage: tdxpa (decode|encode) /);
  });

  it.each<[string[], RegExp]>([
    [[], /^tdxpa: missing subcommand/],
    [
      ["frobnicate"],
      /^tdxpa: unknown subcommand 'frobnicate'; subcommands: (\w+, )*decode, encode(, \w+)*; see 'tdxpa --help'$/,
    ],
    [["--frob"], /^tdxpa: unknown option '--frob'/],
    [
      ["decode"],
      /^tdxpa: decode: missing <kind>; kinds: hpa-list-info, hpa-array, iommu-mt, iommu-mt-entry, list-entry, status$/,
    ],
    [["decode", "hpa-list", "0x0"], /^tdxpa: decode: unknown kind 'hpa-list'/],
    [["decode", "status"], /^tdxpa: decode status: no values/],
    [["decode", "status", "--frob", "0x0"], /^tdxpa: decode: unknown option '--frob'/],
    [["decode", "status", "-x", "0x0"], /^tdxpa: decode: unknown option '-x'/],
    [["decode", "status", "--json=yes", "0x0"], /^tdxpa: decode: Option '--json' does not take an argument$/],
    [["encode"], /^tdxpa: encode: missing <form>/],
  ])("%j is a usage error: exit 2, one line, no stack", async (argv, re) => {
    expectOneLineError(await runCli(argv), 2, re);
  });

  it("styles output only when io.isTTY", async () => {
    const tty = await runCli(["decode", "hpa-list-info", "0xFF80000012345000", "0x0100000000100028"], {
      isTTY: true,
    });
    expect(tty.code).toBe(1);
    expect(tty.stdout).toContain("\u001b[");
    const plain = await runCli(["decode", "hpa-list-info", "0xFF80000012345000", "0x0100000000100028"]);
    expect(plain.stdout).not.toContain("\u001b[");
    // Removing the escapes from the styled text gives the plain text.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes on purpose
    expect(tty.stdout.replace(/\u001b\[\d+m/g, "")).toBe(plain.stdout);
    const json = await runCli(["decode", "hpa-list-info", "--json", "0xFF80000012345000"], { isTTY: true });
    expect(json.stdout).not.toContain("\u001b[");
  });

  it("an unexpected error becomes one 'internal error' line and exit 70, never a throw", async () => {
    const err: string[] = [];
    const io: CliIo = {
      out: () => {
        throw new Error("disk full\n    at somewhere");
      },
      err: (s) => err.push(s),
      readStdin: async () => "",
      isTTY: false,
    };
    await expect(main(["encode", "iommu-mt", "--root", "0x1000"], io)).resolves.toBe(70);
    expect(err).toEqual(["tdxpa: internal error: disk full at somewhere"]);

    const err2: string[] = [];
    const io2: CliIo = {
      ...io,
      out: () => {},
      err: (s) => err2.push(s),
      readStdin: () => Promise.reject(new TypeError("stdin closed")),
    };
    await expect(main(["decode", "status", "-"], io2)).resolves.toBe(70);
    expect(err2).toEqual(["tdxpa: internal error: stdin closed"]);
  });
});

describe("the built command", () => {
  const built = existsSync(new URL("dist/cli/tdxpa.bundle.js", ROOT));
  it.skipIf(!built)("node bin/tdxpa.js --version prints the version and exits 0", () => {
    const r = spawnSync(process.execPath, ["bin/tdxpa.js", "--version"], { cwd: ROOT, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${VERSION}\n`);
    expect(r.status).toBe(0);
  });
});

describe("--help on every subcommand", () => {
  it.each(SUBCOMMANDS.map((c) => c.name))(
    "tdxpa %s --help prints its help with examples and exits 0",
    async (name) => {
      for (const flag of ["--help", "-h"]) {
        const { code, out, err } = await runCli([name, flag]);
        expect(code).toBe(0);
        expect(err).toEqual([]);
        expect(out.join("\n")).toMatch(/usage: tdxpa /i);
        expect(out.join("\n")).toMatch(/examples?:/i);
      }
    },
  );
});
