/**
 * `tdxpa vectors` and src/vectors/generate.ts: determinism, every vector re-checked against the
 * project's decoders and encoders AND an independent bigint oracle written from docs/spec/01-formats.md (so a
 * decoder bug cannot silently enter the vectors), the descriptor vectors against docs/spec/02-kapi.md 2.2, the C
 * header's shape, the CLI's files and errors, and, when `cc` exists, test/c/vectors_test.c compiled
 * against the generated header.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAYOUTS } from "../../src/common/fields.js";
import {
  checkEntries,
  decodeHpaArray,
  decodeHpaListInfo,
  decodeIommuMt,
  decodeIommuMtEntry,
  decodeListEntry,
  encodeHpaArray,
  encodeHpaListInfo,
  encodeIommuMt,
  encodeIommuMtEntry,
  encodeListEntry,
  type Violation,
} from "../../src/common/formats.js";
import { decodeStatus } from "../../src/common/status.js";
import { parseU64, type U64 } from "../../src/common/u64.js";
import {
  type FormatKind,
  type FormatVector,
  generateVectors,
  HEADER_FILE,
  JSON_FILE,
  type JsonScalar,
  type VectorSet,
  vectorsHeader,
  vectorsJson,
  xorshift32,
} from "../../src/vectors/generate.js";
import { type CliRun, runCli } from "../support/cli.js";

const ROOT = new URL("../../", import.meta.url);
const VERSION = (JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")) as { version: string })
  .version;
const C_TEST = new URL("test/c/vectors_test.c", ROOT).pathname;

// ---- An independent oracle, written from 01-formats.md 1.1, 1.2 and 1.4 with bigints. ----
const bits = (v: bigint, hi: number, lo: number): bigint =>
  (v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
const hex16 = (v: bigint): string => `0x${v.toString(16).padStart(16, "0")}`;
/** Reserved (must-be-zero) bit ranges of each kind, low to high, as the spec's tables list them. */
const RESERVED: Record<FormatKind, [number, number][]> = {
  "hpa-list-info": [
    [2, 0],
    [54, 52],
  ],
  "hpa-array": [
    [11, 0],
    [54, 52],
  ],
  "iommu-mt": [
    [11, 0],
    [63, 52],
  ],
  "iommu-mt-entry": [[63, 52]],
  "list-entry": [
    [11, 0],
    [63, 52],
  ],
};
const REF: Record<string, string> = {
  "reserved-bits": "1.4.1",
  "first-after-last": "1.4.2",
  "entry-reserved-bits": "1.4.4",
  "entry-num-pages": "1.4.4",
  "entry-alignment": "1.4.4",
};

interface OracleResult {
  fields: Record<string, JsonScalar>;
  rule: string | null;
  bits: string | undefined;
}

function oracle(kind: FormatKind, v: bigint): OracleResult {
  const hpa = bits(v, 51, 12) << 12n;
  const res = RESERVED[kind].find(([hi, lo]) => bits(v, hi, lo) !== 0n);
  const entry = kind === "iommu-mt-entry" || kind === "list-entry";
  let rule: string | null = res === undefined ? null : entry ? "entry-reserved-bits" : "reserved-bits";
  let b = res === undefined ? undefined : `${res[0]}:${res[1]}`;
  let fields: Record<string, JsonScalar>;
  switch (kind) {
    case "hpa-list-info": {
      const first = Number(bits(v, 11, 3));
      const last = Number(bits(v, 63, 55));
      fields = { firstEntry: first, lastEntry: last, count: last + 1, rootHpa: hex16(hpa) };
      if (rule === null && first > last) {
        rule = "first-after-last";
        b = "11:3";
      }
      break;
    }
    case "hpa-array": {
      const size = Number(bits(v, 63, 55));
      fields = {
        count: size + 1,
        singleton: size === 0,
        rootHpa: size === 0 ? null : hex16(hpa),
        pageHpa: size === 0 ? hex16(hpa) : null,
      };
      break;
    }
    case "iommu-mt":
      fields = { rootHpa: hex16(hpa) };
      break;
    case "iommu-mt-entry": {
      const np = bits(v, 11, 0);
      fields = { hpa: hex16(hpa), numPages: Number(np) };
      if (rule === null) {
        if (np !== 0n && (np < 2n || (np & (np - 1n)) !== 0n)) {
          rule = "entry-num-pages";
          b = "11:0";
        } else if (np >= 2n && (hpa >> 12n) % np !== 0n) {
          rule = "entry-alignment";
        }
      }
      break;
    }
    case "list-entry":
      fields = { hpa: hex16(hpa), numPages: 0 };
      break;
  }
  return { fields, rule, bits: b };
}

// ---- The project's decoders and encoders, called directly (not through the generator). ----
const hpaHexN = (n: number | null): string | null => (n === null ? null : hex16(BigInt(n)));

function projectDecode(
  kind: FormatKind,
  v: U64,
): { fields: Record<string, JsonScalar>; violation: Violation | null } {
  switch (kind) {
    case "hpa-list-info": {
      const d = decodeHpaListInfo(v.lo, v.hi);
      return { violation: d.violation, fields: { ...d.fields, rootHpa: hpaHexN(d.fields.rootHpa) } };
    }
    case "hpa-array": {
      const d = decodeHpaArray(v.lo, v.hi);
      return {
        violation: d.violation,
        fields: { ...d.fields, rootHpa: hpaHexN(d.fields.rootHpa), pageHpa: hpaHexN(d.fields.pageHpa) },
      };
    }
    case "iommu-mt": {
      const d = decodeIommuMt(v.lo, v.hi);
      return { violation: d.violation, fields: { rootHpa: hpaHexN(d.fields.rootHpa) } };
    }
    case "iommu-mt-entry": {
      const d = decodeIommuMtEntry(v.lo, v.hi);
      return { violation: d.violation, fields: { hpa: hpaHexN(d.fields.hpa), numPages: d.fields.numPages } };
    }
    case "list-entry": {
      const d = decodeListEntry(v.lo, v.hi);
      return { violation: d.violation, fields: { hpa: hpaHexN(d.fields.hpa), numPages: d.fields.numPages } };
    }
  }
}

function projectEncode(kind: FormatKind, f: Record<string, JsonScalar>): U64 {
  const n = (x: JsonScalar) => Number(BigInt(x as string));
  switch (kind) {
    case "hpa-list-info":
      return encodeHpaListInfo({
        rootHpa: n(f.rootHpa!),
        count: f.count as number,
        firstEntry: f.firstEntry as number,
      });
    case "hpa-array":
      return f.singleton
        ? encodeHpaArray({ count: 1, pageHpa: n(f.pageHpa!) })
        : encodeHpaArray({ count: f.count as number, rootHpa: n(f.rootHpa!) });
    case "iommu-mt":
      return encodeIommuMt(n(f.rootHpa!));
    case "iommu-mt-entry":
      return encodeIommuMtEntry(n(f.hpa!), (f.numPages as number) || 1);
    case "list-entry":
      return encodeListEntry(n(f.hpa!));
  }
}

// ---- Fixtures ----

type Run = CliRun;
const run = runCli;

function expectUsageError(r: Run, message: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.out).toEqual([]);
  expect(r.err).toHaveLength(1);
  expect(r.err[0]).toMatch(/^tdxpa: vectors: /);
  expect(r.err[0]).not.toContain("\n");
  expect(r.err[0]).toMatch(message);
}

const GENERATOR = `tdxpa ${VERSION} vectors`;
let tmp = "";
let cliDir = "";
let fromFile: VectorSet;
let direct: VectorSet;
let summary: Record<string, unknown>;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "tdxpa-vectors-"));
  cliDir = join(tmp, "cli", "nested"); // created by the command
  const r = await run(["vectors", "--out", cliDir, "--seed", "1", "--json"]);
  expect(r.err).toEqual([]);
  expect(r.code).toBe(0);
  expect(r.out).toHaveLength(1);
  summary = JSON.parse(r.out[0]!) as Record<string, unknown>;
  fromFile = JSON.parse(readFileSync(join(cliDir, JSON_FILE), "utf8")) as VectorSet;
  direct = generateVectors({ seed: 1, generator: GENERATOR });
});

afterAll(() => {
  if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
});

describe("generator", () => {
  it("is deterministic: the same seed gives byte-identical JSON and header", () => {
    const again = generateVectors({ seed: 1, generator: GENERATOR });
    expect(vectorsJson(again)).toBe(vectorsJson(direct));
    expect(vectorsHeader(again)).toBe(vectorsHeader(direct));
  });

  it("a different seed changes the random part only", () => {
    const other = generateVectors({ seed: 2, generator: GENERATOR });
    const part = (s: VectorSet, random: boolean) =>
      JSON.stringify({
        f: s.formats.filter((f) => f.origin.startsWith("random") === random),
        s: s.statuses.filter((f) => f.origin.startsWith("random") === random),
        d: s.descriptors.filter((d) => (d.origin === "random") === random),
      });
    expect(part(other, false)).toBe(part(direct, false));
    expect(part(other, true)).not.toBe(part(direct, true));
    const raws = (s: VectorSet) => s.formats.filter((f) => f.origin.startsWith("random")).map((f) => f.raw);
    const shared = raws(other).filter((r) => raws(direct).includes(r));
    expect(shared.length).toBeLessThan(5);
    expect(other.seed).toBe(2);
  });

  it("xorshift32 is deterministic, never stuck, and refuses bad seeds", () => {
    for (const seed of [0, 1, 0xffff_ffff]) {
      const a = xorshift32(seed);
      const b = xorshift32(seed);
      const xs = Array.from({ length: 100 }, () => a.u32());
      expect(Array.from({ length: 100 }, () => b.u32())).toEqual(xs);
      expect(new Set(xs).size).toBe(100);
      expect(xs.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff)).toBe(true);
    }
    expect(xorshift32(0).u32()).not.toBe(xorshift32(1).u32());
    expect(xorshift32(1, 1).u32()).not.toBe(xorshift32(1, 0).u32());
    expect(xorshift32(1, 1).u32()).not.toBe(xorshift32(2, 0).u32());
    expect(() => xorshift32(-1)).toThrow(/seed/);
    expect(() => generateVectors({ seed: 2 ** 32 })).toThrow(/seed/);
  });

  it("holds the worked values of 01-formats.md 1.5 and the boundary values", () => {
    const has = (kind: FormatKind, raw: string) =>
      direct.formats.some((f) => f.kind === kind && f.raw === raw);
    expect(has("hpa-list-info", "0xff80000012345000")).toBe(true);
    expect(has("hpa-array", "0x0100000000100000")).toBe(true);
    expect(has("hpa-list-info", "0x0100000000100028")).toBe(true);
    expect(has("hpa-array", "0x0000000076543000")).toBe(true);
    expect(has("iommu-mt-entry", "0x0000000020000002")).toBe(true);
    const list = direct.formats.filter((f) => f.kind === "hpa-list-info" && f.valid).map((f) => f.fields);
    for (const count of [1, 512]) expect(list.some((f) => f.count === count)).toBe(true);
    for (const first of [0, 511]) expect(list.some((f) => f.firstEntry === first)).toBe(true);
    for (const root of ["0x0000000000000000", "0x000ffffffffff000"])
      expect(list.some((f) => f.rootHpa === root)).toBe(true);
    const single = direct.formats.filter((f) => f.kind === "hpa-array" && f.valid && f.fields.singleton);
    expect(single.map((f) => f.fields.pageHpa)).toEqual(
      expect.arrayContaining(["0x0000000000000000", "0x000ffffffffff000"]),
    );
    const rules = new Set(direct.formats.map((f) => f.violation?.rule ?? "none"));
    expect([...rules].sort()).toEqual(
      [
        "entry-alignment",
        "entry-num-pages",
        "entry-reserved-bits",
        "first-after-last",
        "none",
        "reserved-bits",
      ].sort(),
    );
  });

  it("sets every reserved bit of every layout alone, derived from fields.ts", () => {
    const rb = direct.formats.filter((f) => f.origin === "reserved-bit");
    let expected = 0;
    for (const l of LAYOUTS) {
      for (const f of l.fields.filter((x) => x.reserved)) {
        for (let bit = f.lsb; bit < f.lsb + f.width; bit++) {
          expected++;
          const v = rb.find((x) => x.note === `${l.name}: reserved bit ${bit} (${f.name}) set`);
          expect(v, `${l.name} bit ${bit}`).toBeDefined();
          expect(v!.valid).toBe(false);
          expect(v!.violation?.bits).toBe(`${f.lsb + f.width - 1}:${f.lsb}`);
        }
      }
      expected++; // all reserved bits at once
    }
    expect(rb).toHaveLength(expected);
  });

  it("counts add up", () => {
    const c = direct.counts;
    expect(c.formats).toBe(direct.formats.length);
    expect(c.valid + c.invalid).toBe(c.formats);
    expect(c.valid).toBe(direct.formats.filter((f) => f.valid).length);
    expect(c.statuses).toBe(direct.statuses.length);
    expect(c.descriptors).toBe(direct.descriptors.length);
    expect(c.descriptorPages).toBe(direct.descriptors.reduce((s, d) => s + d.pages.length, 0));
    expect(c.valid).toBeGreaterThan(50);
    expect(c.invalid).toBeGreaterThan(50);
  });
});

describe("the JSON file, re-read, checked vector by vector", () => {
  it("equals what the generator makes for the same seed, with version, seed and generator", () => {
    expect(readFileSync(join(cliDir, JSON_FILE), "utf8")).toBe(vectorsJson(direct));
    expect(fromFile.version).toBe(1);
    expect(fromFile.seed).toBe(1);
    expect(fromFile.generator).toBe(GENERATOR);
  });

  it("u64 values are 0x + 16 lowercase hex digits", () => {
    const H = /^0x[0-9a-f]{16}$/;
    for (const f of fromFile.formats) {
      expect(f.raw).toMatch(H);
      for (const k of ["rootHpa", "pageHpa", "hpa"])
        if (typeof f.fields[k] === "string") expect(f.fields[k]).toMatch(H);
    }
    for (const s of fromFile.statuses) expect(s.raw).toMatch(H);
    for (const d of fromFile.descriptors) {
      for (const x of [d.rootHpa, d.hpaListInfo, d.hpaArray, d.releaseInput, d.iommuMt, ...d.rootEntries])
        expect(x).toMatch(H);
      for (const p of d.pages) expect(p.pfn).toMatch(H);
    }
  });

  it("every format vector matches the project's decoders and encoders", () => {
    for (const f of fromFile.formats) {
      const v = parseU64(f.raw);
      const d = projectDecode(f.kind, v);
      expect(d.fields, f.note).toEqual(f.fields);
      expect(d.violation, f.note).toEqual(f.violation);
      expect(f.valid).toBe(d.violation === null);
      if (f.valid) expect(projectEncode(f.kind, f.fields), f.note).toEqual(v);
    }
  });

  it("every format vector matches the independent bigint oracle", () => {
    const check = (f: FormatVector) => {
      const o = oracle(f.kind, BigInt(f.raw));
      expect(f.fields, f.note).toEqual(o.fields);
      expect(f.violation?.rule ?? null, f.note).toBe(o.rule);
      expect(f.violation?.bits, f.note).toBe(o.bits);
      if (o.rule !== null) expect(f.violation?.ref).toBe(REF[o.rule]);
      if (f.valid) {
        // The oracle's own encoding of the recorded fields gives the value back.
        const fl = f.fields;
        const hpa = (x: JsonScalar) => BigInt(x as string);
        const enc =
          f.kind === "hpa-list-info"
            ? (BigInt((fl.count as number) - 1) << 55n) |
              (BigInt(fl.firstEntry as number) << 3n) |
              hpa(fl.rootHpa!)
            : f.kind === "hpa-array"
              ? (BigInt((fl.count as number) - 1) << 55n) | hpa(fl.singleton ? fl.pageHpa! : fl.rootHpa!)
              : f.kind === "iommu-mt"
                ? hpa(fl.rootHpa!)
                : hpa(fl.hpa!) | BigInt(fl.numPages as number);
        expect(hex16(enc), f.note).toBe(f.raw);
      }
    };
    for (const f of fromFile.formats) check(f);
    // Other seeds draw other random values: the oracle agrees with those too.
    for (const seed of [0, 7, 0xffff_ffff]) {
      for (const f of generateVectors({ seed }).formats) if (f.origin.startsWith("random")) check(f);
    }
  });

  it("every status vector matches decodeStatus and the bit layout of 03-module.md 3.1", () => {
    for (const s of fromFile.statuses) {
      const v = parseU64(s.raw);
      const d = decodeStatus(v.lo, v.hi);
      const { raw: _raw, ...rest } = d;
      expect(rest).toEqual(s.fields);
      const b = BigInt(s.raw);
      expect(s.fields.error).toBe(bits(b, 63, 63) === 1n);
      expect(s.fields.nonRecoverable).toBe(bits(b, 62, 62) === 1n);
      expect(s.fields.fatal).toBe(bits(b, 61, 61) === 1n);
      expect(s.fields.hostRecoverabilityHint).toBe(bits(b, 60, 60) === 1n);
      expect(s.fields.class).toBe(Number(bits(b, 47, 40)));
      expect(s.fields.detail).toBe(Number(bits(b, 39, 32)));
      expect(s.fields.info).toBe(Number(bits(b, 31, 0)));
      const moduleError = bits(b, 63, 63) === 1n && bits(b, 63, 32) !== 0x8000ff00n;
      expect(s.fields.operandId).toBe(moduleError ? Number(bits(b, 31, 0)) : null);
    }
    expect(fromFile.statuses.some((s) => s.fields.name === null)).toBe(true);
    expect(fromFile.statuses.some((s) => s.fields.name === "TDX_OPERAND_INVALID")).toBe(true);
  });

  it("every descriptor vector: root entry i = pfn<<12 | 2^order (order > 0), operands per 02-kapi.md 2.2", () => {
    const names = fromFile.descriptors.map((d) => d.nrPages);
    expect(names).toEqual(expect.arrayContaining([1, 2, 3, 511, 512]));
    for (const d of fromFile.descriptors) {
      const n = d.nrPages;
      expect(d.pages).toHaveLength(n);
      expect(d.rootEntries).toHaveLength(n);
      const root = BigInt(d.rootHpa);
      expect(root % 4096n).toBe(0n);
      const pfns = d.pages.map((p) => BigInt(p.pfn));
      expect(new Set(pfns).size).toBe(n);
      d.pages.forEach((p, i) => {
        const want = (BigInt(p.pfn) << 12n) | (p.order > 0 ? 1n << BigInt(p.order) : 0n);
        expect(d.rootEntries[i], `${d.name} entry ${i}`).toBe(hex16(want));
      });
      expect(d.coveredPages).toBe(d.pages.reduce((s, p) => s + 2 ** p.order, 0));
      expect(d.hpaListInfo).toBe(hex16((BigInt(n - 1) << 55n) | root));
      expect(d.hpaArray).toBe(hex16(n === 1 ? pfns[0]! << 12n : (BigInt(n - 1) << 55n) | root));
      expect(d.releaseInput).toBe(hex16(n === 1 ? 0n : root));
      expect(d.iommuMt).toBe(hex16(root));
      // The project's own module-side checks accept the root as the format it is meant for.
      const w = new Uint32Array(1024);
      d.rootEntries.forEach((e, i) => {
        const v = parseU64(e);
        w[2 * i] = v.lo;
        w[2 * i + 1] = v.hi;
      });
      const fmt = d.entryFormat === "iommu-mt" ? "iommu-mt" : "hpa-list-info";
      expect(checkEntries(fmt, w, 0, n - 1, d.queuePages)).toBeNull();
      const li = parseU64(d.hpaListInfo);
      expect(decodeHpaListInfo(li.lo, li.hi).fields).toMatchObject({ count: n, firstEntry: 0 });
    }
    const mt = fromFile.descriptors.find((d) => d.entryFormat === "iommu-mt")!;
    expect(mt.pages.map((p) => p.order)).toEqual([1, 1, 0, 0, 0, 0]);
    expect(mt.queuePages).toBe(2);
  });
});

describe("the C header", () => {
  const header = () => readFileSync(join(cliDir, HEADER_FILE), "utf8");

  it("equals the generator's, and is well formed", () => {
    const h = header();
    expect(h).toBe(vectorsHeader(direct));
    expect(h).toMatch(/GENERATED by tdxpa .* vectors, seed 1/);
    expect(h).toMatch(/^#ifndef TDX_PAGE_ARRAY_VECTORS_H\n#define TDX_PAGE_ARRAY_VECTORS_H$/m);
    expect(h.trimEnd().endsWith("#endif /* TDX_PAGE_ARRAY_VECTORS_H */")).toBe(true);
    expect(h).toContain("#include <stdint.h>");
    const c = direct.counts;
    for (const [name, n] of [
      ["TDXPA_FORMAT_VECTOR_COUNT", c.formats],
      ["TDXPA_STATUS_VECTOR_COUNT", c.statuses],
      ["TDXPA_DESCRIPTOR_VECTOR_COUNT", c.descriptors],
      ["TDXPA_DESCRIPTOR_PAGE_COUNT", c.descriptorPages],
    ] as const)
      expect(h).toContain(`#define ${name} ${n}\n`);
    // Every u64 literal is 0x + 16 hex digits + ULL, and there is one per value the JSON holds.
    const literals = h.match(/0x[0-9a-fA-F]+ULL/g) ?? [];
    expect(literals.every((l) => /^0x[0-9a-f]{16}ULL$/.test(l))).toBe(true);
    expect(literals).toHaveLength(c.formats * 2 + c.statuses + c.descriptorPages * 2 + c.descriptors * 5);
    expect(h.match(/^\t\{ \.raw = .*\.note = /gm) ?? []).toHaveLength(c.formats);
    expect((h.match(/\{/g) ?? []).length).toBe((h.match(/\}/g) ?? []).length);
    expect(h).toMatch(
      /static const struct tdxpa_format_vector tdxpa_format_vectors\[\] TDXPA_MAYBE_UNUSED = \{/,
    );
    expect(h).toMatch(/static const uint64_t tdxpa_descriptor_root_entries\[\] TDXPA_MAYBE_UNUSED = \{/);
    expect(h).toContain("TDXPA_STATIC_ASSERT(sizeof(tdxpa_format_vectors)");
    expect([...h].every((ch) => ch === "\t" || ch === "\n" || (ch >= " " && ch <= "~"))).toBe(true); // ASCII
  });

  let hasCc = false;
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    hasCc = true;
  } catch {
    hasCc = false;
  }

  const compileAndRun = (dir: string, name: string) => {
    const exe = join(tmp, `vectors_test-${name}`);
    execFileSync("cc", ["-std=c11", "-Wall", "-Werror", "-O1", "-I", dir, "-o", exe, C_TEST], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    return spawnSync(exe, [], { encoding: "utf8" });
  };

  it.skipIf(!hasCc)("test/c/vectors_test.c, compiled against it, passes every vector", () => {
    const r = compileAndRun(cliDir, "good");
    const c = direct.counts;
    expect(r.stdout).toContain(`C vectors: ${c.formats + c.statuses + c.descriptors} passed, 0 failed`);
    expect(r.status).toBe(0);
  });

  it.skipIf(!hasCc)("the C check is not vacuous: a corrupted header fails", () => {
    const bad = join(tmp, "bad");
    mkdirSync(bad);
    const d = direct.descriptors.find((x) => x.entryFormat === "iommu-mt")!;
    const h = header()
      .replace(".raw = 0xff80000012345000ULL", ".raw = 0xff80000012346000ULL")
      .replace(".rule = TDXPA_RULE_FIRST_AFTER_LAST", ".rule = TDXPA_RULE_RESERVED_BITS")
      .replace(`${d.rootEntries[0]}ULL`, `${hex16(BigInt(d.rootEntries[0]!) ^ 6n)}ULL`);
    writeFileSync(join(bad, HEADER_FILE), h);
    const r = compileAndRun(bad, "bad");
    expect(r.stdout).toMatch(/C vectors: \d+ passed, 3 failed/);
    expect(r.status).toBe(1);
  });
});

describe("tdxpa vectors (CLI)", () => {
  it("--json prints a one-line summary with absolute paths and the counts", () => {
    expect(summary).toEqual({
      schemaVersion: 1,
      json: join(cliDir, JSON_FILE),
      header: join(cliDir, HEADER_FILE),
      kunit: null,
      version: 1,
      seed: 1,
      counts: direct.counts,
    });
  });

  it("leaves no temporary files behind", () => {
    expect(readdirSync(cliDir).sort()).toEqual([JSON_FILE, HEADER_FILE].sort());
  });

  it("text mode says what it wrote; -o and a hex seed work; files are replaced", async () => {
    const dir = join(tmp, "text");
    mkdirSync(dir);
    writeFileSync(join(dir, JSON_FILE), "old");
    const r = await run(["vectors", "-o", dir, "--seed", "0x2a"]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(
      /^wrote .*tdx-page-array-vectors\.json and .*tdx_page_array_vectors\.h \(seed 42\): \d+ format vectors/,
    );
    expect((JSON.parse(readFileSync(join(dir, JSON_FILE), "utf8")) as VectorSet).seed).toBe(42);
    expect(readdirSync(dir).sort()).toEqual([JSON_FILE, HEADER_FILE].sort());
  });

  it("--help shows usage and examples; tdxpa --help lists the subcommand", async () => {
    const r = await run(["vectors", "--help"]);
    expect(r.code).toBe(0);
    expect(r.out.join("\n")).toMatch(/Usage: tdxpa vectors \[--out DIR\]/);
    expect(r.out.join("\n")).toContain("Examples:");
    const g = await run(["--help"]);
    expect(g.out.join("\n")).toMatch(/^\s+vectors\s+write test vectors/m);
  });

  it.each([
    [["--seed", "abc"], /--seed "abc" is not a number/],
    [["--seed", "4294967296"], /--seed 4294967296 is out of range; allowed 0\.\.4294967295/],
    [["--seed=-1"], /--seed "-1" is not a number/],
    [["--bogus"], /unknown option '--bogus'/],
    [["extra"], /unexpected argument 'extra'/],
    [["--out"], /--out/],
    [["--out", ""], /--out needs a directory/],
  ])("usage error %j", async (args, msg) => {
    expectUsageError(await run(["vectors", ...args]), msg);
  });

  it("an output path that is a file, or a directory in a file's place, is a usage error and writes nothing", async () => {
    const file = join(tmp, "a-file");
    writeFileSync(file, "x");
    expectUsageError(await run(["vectors", "--out", file]), /cannot create output directory/);
    expect(readFileSync(file, "utf8")).toBe("x");

    const dir = join(tmp, "blocked");
    mkdirSync(join(dir, HEADER_FILE), { recursive: true });
    writeFileSync(join(dir, JSON_FILE), "old");
    expectUsageError(
      await run(["vectors", "--out", dir]),
      /tdx_page_array_vectors\.h: is a directory; outputs are regular files/,
    );
    expect(readFileSync(join(dir, JSON_FILE), "utf8")).toBe("old");
    expect(readdirSync(dir).sort()).toEqual([JSON_FILE, HEADER_FILE].sort());
    expect(existsSync(join(dir, HEADER_FILE, JSON_FILE))).toBe(false);
  });
});
