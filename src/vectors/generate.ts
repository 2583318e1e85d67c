/**
 * Test vectors for other implementations of the page-list formats and the `tdx_page_array` descriptor
 * (docs/spec/01-formats.md 1.1–1.5, docs/spec/02-kapi.md 2.1–2.2), e.g. a kernel KUnit test. `tdxpa vectors` writes them.
 *
 * Three sets, all plain data:
 * - **format vectors**: a u64 per format kind with its expected decode (fields, and for an invalid one
 *   the rule, spec ref and bits): the worked values of 1.5, boundary values, every reserved bit of every
 *   layout of `fields.ts` set alone (and all of them at once), and seeded pseudo-random values;
 * - **status vectors**: every status kind of `STATUS`, unknown values and random ones, decoded;
 * - **descriptor vectors**: pages in, operands and root entries out, produced by running the real
 *   `tdxPageArrayCreate` on a small simulated host.
 *
 * Expected results come from the project's own decoders (this file generates, it does not judge); the
 * test of this module cross-checks them against an independent oracle written from the spec. Output is
 * deterministic for a given seed: the only randomness is a xorshift32 seeded from it. No Node APIs: the
 * CLI (`src/cli/vectors.ts`) does the file writing.
 */
import { checkInt } from "../common/errors.js";
import {
  type Field,
  HPA_ARRAY_T,
  HPA_LIST_INFO,
  IOMMU_MT,
  IOMMU_MT_ENTRY,
  LAYOUTS,
  type Layout,
  LIST_ENTRY,
} from "../common/fields.js";
import {
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
  MAX_ENTRIES,
  MAX_NUM_PAGES,
  RULE_REF,
  type Rule,
  type Violation,
} from "../common/formats.js";
import { decodeStatus, REG, STATUS, type StatusInfo, status } from "../common/status.js";
import {
  hpaHi,
  hpaLo,
  PAGE_SIZE,
  PFN_LIMIT,
  parseU64,
  setBits,
  type U64,
  U64_ONES,
  U64_ZERO,
  u64ToHex,
} from "../common/u64.js";
import { createHostKernel, type HostKernel } from "../host/kernel.js";
import type { Page } from "../host/page.js";
import { PageAllocator } from "../host/page-alloc.js";
import { tdxPageArrayCreate } from "../host/page-array.js";
import { PhysMem } from "../hw/physmem.js";

/** Version of the vector file layout (JSON schema and header structs); bumped on any change to either. */
export const VECTORS_VERSION = 1;
/** Seed used when none is given. */
export const DEFAULT_SEED = 1;
/** File names `tdxpa vectors` writes into its output directory. */
export const JSON_FILE = "tdx-page-array-vectors.json";
export const HEADER_FILE = "tdx_page_array_vectors.h";

/** The u64 kinds a format vector can be. */
export type FormatKind = "hpa-list-info" | "hpa-array" | "iommu-mt" | "iommu-mt-entry" | "list-entry";

/**
 * Where a vector comes from. `random-*` vectors depend on the seed; all others are the same for every
 * seed. `random-valid` is built from random fields by the encoders, `random-raw` is 64 random bits,
 * `random-bitflip` a valid value with one random bit flipped.
 */
export type Origin =
  | "worked"
  | "boundary"
  | "reserved-bit"
  | "random-valid"
  | "random-raw"
  | "random-bitflip";

/** A JSON scalar. */
export type JsonScalar = string | number | boolean | null;

/** The broken rule as a vector records it: formats.ts's {@link Violation}, keys in a fixed order. */
export interface VectorViolation {
  readonly rule: Rule;
  readonly ref: string;
  readonly field?: string;
  readonly bits?: string;
  readonly entry?: number;
  readonly message: string;
}

/** One format vector: a u64 of `kind` and what a decoder must make of it. */
export interface FormatVector {
  readonly kind: FormatKind;
  /** The value, `0x` + 16 lowercase hex digits. */
  readonly raw: string;
  readonly origin: Origin;
  /** One line saying what the value is. */
  readonly note: string;
  /** True when no rule of 01-formats.md 1.4 (1, 2, 4) fails. */
  readonly valid: boolean;
  /** The decoded fields (also for invalid values); addresses as `0x` + 16 hex digits. */
  readonly fields: Readonly<Record<string, JsonScalar>>;
  readonly violation: VectorViolation | null;
}

/** One status vector: a RAX value and its decoded fields (03-module.md 3.1). */
export interface StatusVector {
  readonly raw: string;
  readonly origin: Origin;
  readonly note: string;
  readonly fields: Omit<StatusInfo, "raw">;
}

/** One page handed to `tdx_page_array_create`: its PFN and block order. */
export interface VectorPage {
  readonly pfn: string;
  readonly order: number;
}

/** One descriptor vector: pages in, operands and root entries out (02-kapi.md 2.2). */
export interface DescriptorVector {
  readonly name: string;
  readonly note: string;
  readonly origin: "fixed" | "random";
  /** How a module reads the root: `list` (HPA_LIST_INFO / HPA_ARRAY_T entries) or `iommu-mt`. */
  readonly entryFormat: "list" | "iommu-mt";
  /** IOMMU_MT queue block size in pages (NUM_PAGES of entries 0 and 1); 0 for `list`. */
  readonly queuePages: number;
  readonly nrPages: number;
  /** 4 KiB pages covered (a 2^k block counts 2^k). */
  readonly coveredPages: number;
  readonly pages: readonly VectorPage[];
  readonly rootHpa: string;
  readonly hpaListInfo: string;
  readonly hpaArray: string;
  readonly releaseInput: string;
  readonly iommuMt: string;
  /** Root entries 0..nrPages−1; entries nrPages..511 are zero. */
  readonly rootEntries: readonly string[];
}

/** Vector counts, as the summary and the header report them. */
export interface VectorCounts {
  readonly formats: number;
  readonly valid: number;
  readonly invalid: number;
  readonly random: number;
  readonly statuses: number;
  readonly descriptors: number;
  readonly descriptorPages: number;
}

/** Everything `tdxpa vectors` writes. */
export interface VectorSet {
  readonly version: number;
  readonly seed: number;
  readonly generator: string;
  readonly spec: string;
  readonly counts: VectorCounts;
  readonly formats: readonly FormatVector[];
  readonly statuses: readonly StatusVector[];
  readonly descriptors: readonly DescriptorVector[];
}

/** Options of {@link generateVectors}. */
export interface GenerateOptions {
  /** Seed of the random part, an integer in 0..2^32−1 (default {@link DEFAULT_SEED}). */
  readonly seed?: number;
  /** The `generator` field (the CLI passes its name and version). */
  readonly generator?: string;
}

// ---------------------------------------------------------------------------------------------------
// Randomness: xorshift32 (Marsaglia 2003), seeded through a bijective mix so nearby seeds differ.

/** A deterministic source of u32 values. */
export interface Rng {
  /** The next value, 0..2^32−1. */
  u32(): number;
  /** An integer in 0..n−1 (n in 1..2^32; a slight modulo bias is fine for test vectors). */
  below(n: number): number;
}

/** murmur3's 32-bit finaliser: a bijection of u32, so distinct seeds give distinct states. */
function fmix32(h: number): number {
  let x = h >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85eb_ca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2_ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * xorshift32 seeded with `seed` (0..2^32−1). `stream` (0..2^32−1) picks an independent sequence for the
 * same seed, so each part of the vectors has its own and adding a vector to one does not shift another.
 * @example const r = xorshift32(1); r.u32(); r.below(512);
 */
export function xorshift32(seed: number, stream = 0): Rng {
  checkInt("vectors.seed", seed, 0, 0xffff_ffff);
  checkInt("vectors.stream", stream, 0, 0xffff_ffff);
  let x = fmix32((seed ^ fmix32(stream ^ 0x9e37_79b9)) >>> 0);
  if (x === 0) x = 0x6d2b_79f5; // 0 is xorshift's fixed point
  const u32 = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return { u32, below: (n) => u32() % n };
}

// ---------------------------------------------------------------------------------------------------
// Helpers

const hpaHex = (hpa: number): string => u64ToHex(hpaLo(hpa), hpaHi(hpa));
const hex = (v: U64): string => u64ToHex(v.lo, v.hi);
const pfnHpa = (pfn: number): number => pfn * PAGE_SIZE;
const MAX_PFN = PFN_LIMIT - 1;

/** Kind of the values a layout describes. */
const KIND_OF_LAYOUT = new Map<Layout, FormatKind>([
  [HPA_LIST_INFO, "hpa-list-info"],
  [HPA_ARRAY_T, "hpa-array"],
  [IOMMU_MT, "iommu-mt"],
  [IOMMU_MT_ENTRY, "iommu-mt-entry"],
  [LIST_ENTRY, "list-entry"],
]);

/** Every format kind, in the order vectors list them. */
export const FORMAT_KINDS: readonly FormatKind[] = [
  "hpa-list-info",
  "hpa-array",
  "iommu-mt",
  "iommu-mt-entry",
  "list-entry",
];

function toVectorViolation(v: Violation): VectorViolation {
  // Key order fixed (rule, ref, field, bits, entry, message) so the JSON reads the same way every time.
  return {
    rule: v.rule,
    ref: v.ref,
    ...(v.field === undefined ? {} : { field: v.field }),
    ...(v.bits === undefined ? {} : { bits: v.bits }),
    ...(v.entry === undefined ? {} : { entry: v.entry }),
    message: v.message,
  };
}

/** Decodes `v` as `kind` with the project's decoders (no shared-page check: rule 3 needs a memory map). */
export function decodeAs(
  kind: FormatKind,
  v: U64,
): { fields: Record<string, JsonScalar>; violation: VectorViolation | null } {
  const { lo, hi } = v;
  switch (kind) {
    case "hpa-list-info": {
      const d = decodeHpaListInfo(lo, hi);
      const f = d.fields;
      return {
        fields: {
          firstEntry: f.firstEntry,
          lastEntry: f.lastEntry,
          count: f.count,
          rootHpa: hpaHex(f.rootHpa),
        },
        violation: d.violation && toVectorViolation(d.violation),
      };
    }
    case "hpa-array": {
      const d = decodeHpaArray(lo, hi);
      const f = d.fields;
      return {
        fields: {
          count: f.count,
          singleton: f.singleton,
          rootHpa: f.rootHpa === null ? null : hpaHex(f.rootHpa),
          pageHpa: f.pageHpa === null ? null : hpaHex(f.pageHpa),
        },
        violation: d.violation && toVectorViolation(d.violation),
      };
    }
    case "iommu-mt": {
      const d = decodeIommuMt(lo, hi);
      return {
        fields: { rootHpa: hpaHex(d.fields.rootHpa) },
        violation: d.violation && toVectorViolation(d.violation),
      };
    }
    case "iommu-mt-entry": {
      const d = decodeIommuMtEntry(lo, hi);
      return {
        fields: { hpa: hpaHex(d.fields.hpa), numPages: d.fields.numPages },
        violation: d.violation && toVectorViolation(d.violation),
      };
    }
    case "list-entry": {
      const d = decodeListEntry(lo, hi);
      return {
        fields: { hpa: hpaHex(d.fields.hpa), numPages: d.fields.numPages },
        violation: d.violation && toVectorViolation(d.violation),
      };
    }
  }
}

function formatVector(kind: FormatKind, v: U64, origin: Origin, note: string): FormatVector {
  const d = decodeAs(kind, v);
  return {
    kind,
    raw: hex(v),
    origin,
    note,
    valid: d.violation === null,
    fields: d.fields,
    violation: d.violation,
  };
}

/** v with bit `bit` (0..63) flipped. */
function flipBit(v: U64, bit: number): U64 {
  return bit < 32
    ? { lo: (v.lo ^ (1 << bit)) >>> 0, hi: v.hi }
    : { lo: v.lo, hi: (v.hi ^ (1 << (bit - 32))) >>> 0 };
}

/** v with every bit of `f` set. */
function setField(v: U64, f: Field): U64 {
  // setBits takes values below 2^53; a field is at most 40 bits wide in every layout.
  return setBits(v.lo, v.hi, f.lsb, f.width, 2 ** f.width - 1);
}

// ---------------------------------------------------------------------------------------------------
// Format vectors

/** The worked values of 01-formats.md 1.5, verbatim. */
function workedVectors(): FormatVector[] {
  const w = (kind: FormatKind, raw: string, note: string) =>
    formatVector(kind, parseU64(raw, "worked value"), "worked", `1.5: ${note}`);
  return [
    w("hpa-list-info", "0xFF80000012345000", "HPA_LIST_INFO, root at 0x12345000, 512 entries, first 0"),
    w("hpa-array", "0x0100000000100000", "HPA_ARRAY_T, root at 0x00100000, 3 entries"),
    w(
      "hpa-list-info",
      "0x0100000000100028",
      "the same encoded as HPA_LIST_INFO resumed at entry 5 (FIRST 5 > LAST 2: fails rule 2)",
    ),
    w("hpa-array", "0x0000000076543000", "HPA_ARRAY_T singleton, the one page at 0x76543000"),
    w("iommu-mt-entry", "0x0000000020000002", "IOMMU_MT entry, 2-page block at 0x20000000"),
  ];
}

/** Boundary values of every kind: counts 1 and 512, FIRST_ENTRY 0/511, PFN 0 and 2^40−1, NUM_PAGES edges. */
function boundaryVectors(): FormatVector[] {
  const out: FormatVector[] = [];
  const b = (kind: FormatKind, v: U64, note: string) => out.push(formatVector(kind, v, "boundary", note));
  const maxHpa = pfnHpa(MAX_PFN);

  // HPA_LIST_INFO
  for (const pfn of [0, 1, MAX_PFN]) {
    for (const count of [1, 2, MAX_ENTRIES]) {
      b(
        "hpa-list-info",
        encodeHpaListInfo({ rootHpa: pfnHpa(pfn), count }),
        `PFN 0x${pfn.toString(16)}, count ${count}, first 0`,
      );
    }
  }
  b(
    "hpa-list-info",
    encodeHpaListInfo({ rootHpa: maxHpa, count: 512, firstEntry: 511 }),
    "FIRST_ENTRY 511 = LAST_ENTRY 511, PFN 2^40-1",
  );
  b(
    "hpa-list-info",
    encodeHpaListInfo({ rootHpa: 0x10_0000, count: 7, firstEntry: 6 }),
    "FIRST_ENTRY = LAST_ENTRY = 6",
  );
  b(
    "hpa-list-info",
    encodeHpaListInfo({ rootHpa: 0x10_0000, count: 512, firstEntry: 256 }),
    "FIRST_ENTRY 256 of 512 (resumed)",
  );
  const list = (first: number, last: number, pfn: number): U64 => {
    let v = setBits(hpaLo(pfnHpa(pfn)), hpaHi(pfnHpa(pfn)), 3, 9, first);
    v = setBits(v.lo, v.hi, 55, 9, last);
    return v;
  };
  b("hpa-list-info", list(1, 0, 0x100), "FIRST_ENTRY 1 > LAST_ENTRY 0");
  b("hpa-list-info", list(511, 0, 0x100), "FIRST_ENTRY 511 > LAST_ENTRY 0");
  b("hpa-list-info", list(511, 510, MAX_PFN), "FIRST_ENTRY 511 > LAST_ENTRY 510");
  b("hpa-list-info", list(7, 6, 0x100), "FIRST_ENTRY 7 = LAST_ENTRY + 1");

  // HPA_ARRAY_T
  for (const pfn of [0, 1, MAX_PFN]) {
    b(
      "hpa-array",
      encodeHpaArray({ count: 1, pageHpa: pfnHpa(pfn) }),
      `singleton, page PFN 0x${pfn.toString(16)}`,
    );
    for (const count of [2, MAX_ENTRIES]) {
      b(
        "hpa-array",
        encodeHpaArray({ count, rootHpa: pfnHpa(pfn) }),
        `root PFN 0x${pfn.toString(16)}, count ${count}`,
      );
    }
  }

  // IOMMU_MT
  for (const pfn of [0, 1, MAX_PFN])
    b("iommu-mt", encodeIommuMt(pfnHpa(pfn)), `root PFN 0x${pfn.toString(16)}`);

  // IOMMU_MT entries (lone): every allowed NUM_PAGES, aligned; then each way to break rule 4.
  for (const pfn of [0, MAX_PFN])
    b("iommu-mt-entry", encodeIommuMtEntry(pfnHpa(pfn), 1), `order-0 page, PFN 0x${pfn.toString(16)}`);
  for (let pages = 2; pages <= MAX_NUM_PAGES; pages *= 2) {
    b("iommu-mt-entry", encodeIommuMtEntry(pfnHpa(0x40_0000), pages), `${pages}-page block at PFN 0x400000`);
  }
  b(
    "iommu-mt-entry",
    encodeIommuMtEntry(pfnHpa(MAX_PFN - 1), 2),
    "2-page block at PFN 2^40-2 (the highest aligned)",
  );
  b(
    "iommu-mt-entry",
    encodeIommuMtEntry(pfnHpa(MAX_PFN + 1 - MAX_NUM_PAGES), MAX_NUM_PAGES),
    "2048-page block, the highest aligned",
  );
  const entry = (pfn: number, numPages: number): U64 => ({
    lo: (hpaLo(pfnHpa(pfn)) | numPages) >>> 0,
    hi: hpaHi(pfnHpa(pfn)),
  });
  for (const n of [1, 3, 6, 0x7ff, 0x801, 0xfff])
    b("iommu-mt-entry", entry(0x40_0000, n), `NUM_PAGES ${n} (not 0 nor a power of two >= 2)`);
  b("iommu-mt-entry", entry(0x40_0001, 2), "2-page block at an odd PFN");
  b("iommu-mt-entry", entry(0x40_0002, 4), "4-page block aligned to 2 pages only");
  b("iommu-mt-entry", entry(MAX_PFN, 2), "2-page block at PFN 2^40-1");
  b("iommu-mt-entry", entry(0x40_0400, 2048), "2048-page block aligned to 1024 pages only");

  // List entries
  for (const pfn of [0, 1, MAX_PFN])
    b("list-entry", encodeListEntry(pfnHpa(pfn)), `PFN 0x${pfn.toString(16)}`);
  b(
    "list-entry",
    encodeIommuMtEntry(0x2000_0000, 2),
    "an IOMMU_MT block entry read as a list entry (NUM_PAGES is reserved there)",
  );

  // Zero and all ones, for every kind.
  for (const kind of FORMAT_KINDS) {
    b(kind, U64_ZERO, "zero");
    b(kind, U64_ONES, "all ones");
  }
  return out;
}

/** A valid value of each layout, onto which reserved bits are set. */
function baseOf(l: Layout): U64 {
  switch (KIND_OF_LAYOUT.get(l)) {
    case "hpa-list-info":
      return encodeHpaListInfo({ rootHpa: 0x1_2345_6000, count: 300, firstEntry: 3 });
    case "hpa-array":
      return encodeHpaArray({ count: 300, rootHpa: 0x1_2345_6000 });
    case "iommu-mt":
      return encodeIommuMt(0x1_2345_6000);
    case "iommu-mt-entry":
      return encodeIommuMtEntry(0x1_2345_6000, 2);
    default:
      return encodeListEntry(0x1_2345_6000);
  }
}

/** Every reserved bit of every layout of fields.ts set alone, then all reserved bits of a layout at once. */
function reservedBitVectors(): FormatVector[] {
  const out: FormatVector[] = [];
  for (const l of LAYOUTS) {
    const kind = KIND_OF_LAYOUT.get(l);
    if (kind === undefined) throw new Error(`vectors: layout ${l.name} has no kind`);
    const base = baseOf(l);
    let all = base;
    for (const f of l.fields) {
      if (!f.reserved) continue;
      all = setField(all, f);
      for (let bit = f.lsb; bit < f.lsb + f.width; bit++) {
        out.push(
          formatVector(
            kind,
            flipBit(base, bit),
            "reserved-bit",
            `${l.name}: reserved bit ${bit} (${f.name}) set`,
          ),
        );
      }
    }
    out.push(
      formatVector(
        kind,
        all,
        "reserved-bit",
        `${l.name}: every reserved bit set (the lowest field is reported)`,
      ),
    );
  }
  return out;
}

/** Seeded random vectors: valid ones built from random fields, raw random bits, and one-bit flips. */
function randomVectors(r: Rng): FormatVector[] {
  const out: FormatVector[] = [];
  const pfn = (): number => (r.u32() & 0xff) * 2 ** 32 + r.u32();
  const count = (): number => 1 + r.below(MAX_ENTRIES);
  const valid = (kind: FormatKind): { v: U64; note: string } => {
    switch (kind) {
      case "hpa-list-info": {
        const n = count();
        const first = r.below(n);
        const root = pfnHpa(pfn());
        return {
          v: encodeHpaListInfo({ rootHpa: root, count: n, firstEntry: first }),
          note: `root 0x${root.toString(16)}, count ${n}, first ${first}`,
        };
      }
      case "hpa-array": {
        const n = count();
        const hpa = pfnHpa(pfn());
        return {
          v:
            n === 1 ? encodeHpaArray({ count: 1, pageHpa: hpa }) : encodeHpaArray({ count: n, rootHpa: hpa }),
          note: n === 1 ? `singleton, page 0x${hpa.toString(16)}` : `root 0x${hpa.toString(16)}, count ${n}`,
        };
      }
      case "iommu-mt": {
        const hpa = pfnHpa(pfn());
        return { v: encodeIommuMt(hpa), note: `root 0x${hpa.toString(16)}` };
      }
      case "iommu-mt-entry": {
        const pages = 2 ** r.below(12); // 1 (order 0) .. 2048
        const p = pfn();
        const hpa = pfnHpa(p - (p % pages));
        return { v: encodeIommuMtEntry(hpa, pages), note: `${pages}-page block at 0x${hpa.toString(16)}` };
      }
      case "list-entry": {
        const hpa = pfnHpa(pfn());
        return { v: encodeListEntry(hpa), note: `page 0x${hpa.toString(16)}` };
      }
    }
  };
  for (const kind of FORMAT_KINDS) {
    for (let i = 0; i < 6; i++) {
      const { v, note } = valid(kind);
      out.push(formatVector(kind, v, "random-valid", note));
    }
    for (let i = 0; i < 4; i++) {
      out.push(formatVector(kind, { lo: r.u32(), hi: r.u32() }, "random-raw", "64 random bits"));
    }
    for (let i = 0; i < 4; i++) {
      const { v, note } = valid(kind);
      const bit = r.below(64);
      out.push(formatVector(kind, flipBit(v, bit), "random-bitflip", `${note}, bit ${bit} flipped`));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Status vectors

function statusVector(v: U64, origin: Origin, note: string): StatusVector {
  const s = decodeStatus(v.lo, v.hi);
  return {
    raw: s.raw,
    origin,
    note,
    fields: {
      name: s.name,
      error: s.error,
      nonRecoverable: s.nonRecoverable,
      fatal: s.fatal,
      hostRecoverabilityHint: s.hostRecoverabilityHint,
      class: s.class,
      detail: s.detail,
      operandId: s.operandId,
      info: s.info,
      modelDefined: s.modelDefined,
    },
  };
}

function statusVectors(r: Rng): StatusVector[] {
  const out: StatusVector[] = [];
  const kinds = Object.values(STATUS);
  for (const k of kinds) {
    out.push(statusVector(status(k), "boundary", `${k.name}, operand 0`));
    if (k.hi >>> 31 === 1) out.push(statusVector(status(k, REG.RCX), "boundary", `${k.name}(RCX)`));
  }
  out.push(
    statusVector(
      status(STATUS.TDX_OPERAND_INVALID, 0xffff_ffff),
      "boundary",
      "TDX_OPERAND_INVALID, operand 0xffffffff",
    ),
  );
  out.push(statusVector(U64_ONES, "boundary", "all ones (unknown kind, every flag set)"));
  out.push(statusVector({ lo: 0, hi: 0x8000_0000 }, "boundary", "bit 63 only (unknown error kind)"));
  out.push(statusVector({ lo: 0, hi: 0x1000_0000 }, "boundary", "bit 60 only (unknown success kind)"));
  for (let i = 0; i < 4; i++) {
    const k = kinds[r.below(kinds.length)]!;
    const reg = r.below(16);
    out.push(statusVector(status(k, reg), "random-valid", `${k.name}, operand ${reg}`));
  }
  for (let i = 0; i < 4; i++)
    out.push(statusVector({ lo: r.u32(), hi: r.u32() }, "random-raw", "64 random bits"));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Descriptor vectors

/** Where the simulated host's memory sits: PFNs above 2^20, so entries use both u32 halves. */
const MEM_BASE = 0x12_3440_0000;
const MEM_SIZE = 16 * 2 ** 20;

/** A small host whose SEAMCALLs all succeed (create issues none; the double is never reached). */
function smallHost(): HostKernel {
  const mem = new PhysMem([{ base: MEM_BASE, size: MEM_SIZE }]);
  const alloc = new PageAllocator(mem);
  return createHostKernel({
    mem,
    alloc,
    seamcall: (regs) => {
      regs.setHalves(REG.RAX, 0, 0);
    },
    sysinfo: { globalKeyId: 1, keyIdShift: 46 },
  });
}

function need<T>(v: T | null, what: string): T {
  if (v === null) throw new Error(`vectors: the simulated host ran out of memory for ${what}`);
  return v;
}

/** `n` physically contiguous order-0 pages, picked at `offsets` of the run (in that order). */
function runPages(k: HostKernel, runLength: number, offsets: readonly number[]): Page[] {
  const first = need(k.alloc.allocContigPages(runLength, { tag: "vectors:data" }), `${runLength} pages`);
  return offsets.map((o) => first.nth(o));
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

interface DescriptorPlan {
  readonly name: string;
  readonly note: string;
  readonly origin: "fixed" | "random";
  readonly entryFormat: "list" | "iommu-mt";
  readonly queuePages: number;
  pages(k: HostKernel): Page[];
}

function descriptorPlans(r: Rng): DescriptorPlan[] {
  const list = (name: string, note: string, pages: (k: HostKernel) => Page[]): DescriptorPlan => ({
    name,
    note,
    origin: "fixed",
    entryFormat: "list",
    queuePages: 0,
    pages,
  });
  const randomCount = 1 + r.below(MAX_ENTRIES);
  const picks = range(2 * randomCount);
  for (let i = picks.length - 1; i > 0; i--) {
    const j = r.below(i + 1);
    [picks[i], picks[j]] = [picks[j]!, picks[i]!];
  }
  const randomOffsets = picks.slice(0, randomCount);
  return [
    list("order0-1", "1 order-0 page: HPA_ARRAY_T singleton, release input 0", (k) => runPages(k, 1, [0])),
    list("order0-2-reversed", "2 order-0 pages of a contiguous run, higher PFN first", (k) =>
      runPages(k, 2, [1, 0]),
    ),
    list("order0-3-scattered", "3 order-0 pages at offsets 0, 5, 2 of an 8-page run", (k) =>
      runPages(k, 8, [0, 5, 2]),
    ),
    list("order0-511", "511 order-0 pages, ascending PFNs", (k) => runPages(k, 511, range(511))),
    list("order0-512-reversed", "512 order-0 pages (a full root), descending PFNs", (k) =>
      runPages(k, 512, range(512).reverse()),
    ),
    {
      name: "iommu-mt-2x2+4",
      note: "IOMMU_MT shape: two order-1 queue blocks (NUM_PAGES 2), then 4 order-0 pages",
      origin: "fixed",
      entryFormat: "iommu-mt",
      queuePages: 2,
      pages: (k) => [
        need(k.alloc.allocPages(1, { tag: "vectors:iq" }), "a queue block"),
        need(k.alloc.allocPages(1, { tag: "vectors:iq" }), "a queue block"),
        ...runPages(k, 4, [0, 1, 2, 3]),
      ],
    },
    {
      name: `random-${randomCount}`,
      note: `${randomCount} order-0 pages picked at random from a ${2 * randomCount}-page run (seeded)`,
      origin: "random",
      entryFormat: "list",
      queuePages: 0,
      pages: (k) => runPages(k, 2 * randomCount, randomOffsets),
    },
  ];
}

function descriptorVectors(r: Rng): DescriptorVector[] {
  const k = smallHost();
  return descriptorPlans(r).map((plan) => {
    const pages = plan.pages(k);
    const a = need(tdxPageArrayCreate(k, pages, pages.length), `the root page of ${plan.name}`);
    const w = k.mem.words(a.rootPage.pfn);
    const rootEntries: string[] = [];
    for (let i = 0; i < 512; i++) {
      const lo = w[2 * i]!;
      const hi = w[2 * i + 1]!;
      if (i < pages.length) rootEntries.push(u64ToHex(lo, hi));
      else if (lo !== 0 || hi !== 0)
        throw new Error(
          `vectors: ${plan.name}: root entry ${i} past nr_pages is ${u64ToHex(lo, hi)}, not zero`,
        );
    }
    return {
      name: plan.name,
      note: plan.note,
      origin: plan.origin,
      entryFormat: plan.entryFormat,
      queuePages: plan.queuePages,
      nrPages: a.nrPages,
      coveredPages: a.coveredPages,
      pages: pages.map((p) => ({ pfn: hpaHex(p.pfn), order: p.order })),
      rootHpa: hpaHex(a.rootHpa),
      hpaListInfo: hex(a.toHpaListInfo()),
      hpaArray: hex(a.toHpaArray()),
      releaseInput: hex(a.toReleaseInput()),
      iommuMt: hex(a.toIommuMt()),
      rootEntries,
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// The set

/**
 * Generates every vector for `seed`. Same seed, same result, byte for byte once serialised.
 * @example const set = generateVectors({ seed: 1 }); vectorsJson(set); vectorsHeader(set);
 */
export function generateVectors(opts: GenerateOptions = {}): VectorSet {
  const seed = checkInt("vectors.seed", opts.seed ?? DEFAULT_SEED, 0, 0xffff_ffff);
  // Independent streams per part, so adding a vector to one part does not reshuffle the others.
  const formats = [
    ...workedVectors(),
    ...boundaryVectors(),
    ...reservedBitVectors(),
    ...randomVectors(xorshift32(seed, 0)),
  ];
  const statuses = statusVectors(xorshift32(seed, 1));
  const descriptors = descriptorVectors(xorshift32(seed, 2));
  const valid = formats.filter((f) => f.valid).length;
  return {
    version: VECTORS_VERSION,
    seed,
    generator: opts.generator ?? "tdxpa vectors",
    spec: "docs/spec/01-formats.md 1.1-1.5, docs/spec/02-kapi.md 2.1-2.2, docs/spec/03-module.md 3.1 (statuses)",
    counts: {
      formats: formats.length,
      valid,
      invalid: formats.length - valid,
      random: formats.filter((f) => f.origin.startsWith("random")).length,
      statuses: statuses.length,
      descriptors: descriptors.length,
      descriptorPages: descriptors.reduce((s, d) => s + d.nrPages, 0),
    },
    formats,
    statuses,
    descriptors,
  };
}

/** The JSON file's text: 2-space indented, one trailing newline. */
export function vectorsJson(set: VectorSet): string {
  return `${JSON.stringify(set, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------------
// The C header

const C_KIND: Readonly<Record<FormatKind, string>> = {
  "hpa-list-info": "TDXPA_KIND_HPA_LIST_INFO",
  "hpa-array": "TDXPA_KIND_HPA_ARRAY",
  "iommu-mt": "TDXPA_KIND_IOMMU_MT",
  "iommu-mt-entry": "TDXPA_KIND_IOMMU_MT_ENTRY",
  "list-entry": "TDXPA_KIND_LIST_ENTRY",
};

/** Rules in the order of their C enum (0 is "none"). */
const RULES = Object.keys(RULE_REF) as Rule[];
const cRule = (rule: Rule): string => `TDXPA_RULE_${rule.toUpperCase().replace(/-/g, "_")}`;

/** A C string literal (ASCII; quotes, backslashes and non-printables escaped). */
function cString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else out += "?";
  }
  return `${out}"`;
}

/** `0x…ULL` from a `0x` + 16-digit hex string. */
const ull = (h: string): string => `${h}ULL`;

/** [hi, lo] of a bit range text like "54:52" or "7", or [-1, -1]. */
function bitsPair(bits: string | undefined): [number, number] {
  if (bits === undefined) return [-1, -1];
  const [a, b] = bits.split(":");
  const hi = Number(a);
  return [hi, b === undefined ? hi : Number(b)];
}

function fieldHpa(v: FormatVector): string {
  const f = v.fields;
  const h = (f.rootHpa ?? f.pageHpa ?? f.hpa ?? null) as string | null;
  return h === null ? "0x0000000000000000" : h;
}

/**
 * The C header: include guard, `<stdint.h>` (`<linux/types.h>` under `__KERNEL__`), enums of kinds
 * and rules, `static const` arrays of structs with `0x…ULL` values, and count macros checked against
 * the arrays' sizes.
 */
export function vectorsHeader(set: VectorSet): string {
  const L: string[] = [];
  const c = set.counts;
  L.push(
    "/* SPDX-License-Identifier: MIT */",
    "/*",
    ` * Test vectors for the TDX page-list formats and the Linux tdx_page_array descriptor.`,
    ` * GENERATED by ${set.generator}, seed ${set.seed}, layout version ${set.version}. Do not edit:`,
    " * regenerate with `tdxpa vectors --seed N --out DIR`. See docs/VECTORS.md.",
    ` * Spec: ${set.spec}.`,
    " */",
    "#ifndef TDX_PAGE_ARRAY_VECTORS_H",
    "#define TDX_PAGE_ARRAY_VECTORS_H",
    "",
    "#ifdef __KERNEL__",
    "#include <linux/types.h>",
    "#else",
    "#include <stdint.h>",
    "#endif",
    "",
    "/* The arrays may be partly used by a test; keep -Wunused-const-variable quiet. */",
    "#if defined(__GNUC__) || defined(__clang__)",
    "#define TDXPA_MAYBE_UNUSED __attribute__((__unused__))",
    "#else",
    "#define TDXPA_MAYBE_UNUSED",
    "#endif",
    "",
    "#ifdef __cplusplus",
    "#define TDXPA_STATIC_ASSERT static_assert",
    "#else",
    "#define TDXPA_STATIC_ASSERT _Static_assert",
    "#endif",
    "",
    `#define TDXPA_VECTORS_VERSION ${set.version}`,
    `#define TDXPA_VECTORS_SEED ${set.seed}u`,
    `#define TDXPA_FORMAT_VECTOR_COUNT ${c.formats}`,
    `#define TDXPA_FORMAT_VALID_COUNT ${c.valid}`,
    `#define TDXPA_FORMAT_INVALID_COUNT ${c.invalid}`,
    `#define TDXPA_STATUS_VECTOR_COUNT ${c.statuses}`,
    `#define TDXPA_DESCRIPTOR_VECTOR_COUNT ${c.descriptors}`,
    `#define TDXPA_DESCRIPTOR_PAGE_COUNT ${c.descriptorPages}`,
    "",
    "/* Which u64 a format vector is (docs/spec/01-formats.md 1.1, 1.2). */",
    "enum tdxpa_kind {",
    ...FORMAT_KINDS.map((k, i) => `\t${C_KIND[k]} = ${i + 1},`),
    "};",
    "",
    "/* Why a value is invalid (docs/spec/01-formats.md 1.4); NONE for a valid one. */",
    "enum tdxpa_rule {",
    "\tTDXPA_RULE_NONE = 0,",
    ...RULES.map((r, i) => `\t${cRule(r)} = ${i + 1}, /* ${r}, ${RULE_REF[r]} */`),
    "};",
    "",
    "struct tdxpa_format_vector {",
    "\tuint64_t raw;\t\t/* the value */",
    "\tuint64_t hpa;\t\t/* root HPA; the page's HPA for a singleton HPA_ARRAY_T and for entries */",
    "\tuint16_t count;\t\t/* LAST_ENTRY + 1 or SIZE + 1; 0 for kinds without a count */",
    "\tuint16_t first_entry;\t/* HPA_LIST_INFO FIRST_ENTRY, else 0 */",
    "\tuint16_t num_pages;\t/* entry NUM_PAGES (bits 11:0), else 0 */",
    "\tuint8_t kind;\t\t/* enum tdxpa_kind */",
    "\tuint8_t valid;",
    "\tuint8_t singleton;\t/* HPA_ARRAY_T with SIZE 0 */",
    "\tuint8_t rule;\t\t/* enum tdxpa_rule */",
    "\tint8_t bits_hi;\t\t/* bit range of the offending field, -1 when the rule names none */",
    "\tint8_t bits_lo;",
    "\tconst char *note;",
    "};",
    "",
    "struct tdxpa_status_vector {",
    "\tuint64_t raw;",
    '\tconst char *name;\t/* "" when bits 63:32 match no known status */',
    "\tuint8_t error;\t\t/* bit 63 */",
    "\tuint8_t non_recoverable;\t/* bit 62 */",
    "\tuint8_t fatal;\t\t/* bit 61 */",
    "\tuint8_t host_hint;\t/* bit 60 */",
    "\tuint8_t class_;\t\t/* bits 47:40 */",
    "\tuint8_t detail;\t\t/* bits 39:32 */",
    "\tuint32_t info;\t/* bits 31:0: the operand id on an error, leaf-specific on success */",
    "};",
    "",
    "struct tdxpa_page_vector {",
    "\tuint64_t pfn;",
    "\tuint32_t order;\t\t/* the page heads a block of 2^order pages */",
    "};",
    "",
    "/*",
    " * pages[first .. first + nr_pages - 1] of tdxpa_descriptor_pages went into tdx_page_array_create();",
    " * root entry i is tdxpa_descriptor_root_entries[first + i]; root entries nr_pages..511 are zero.",
    " */",
    "struct tdxpa_descriptor_vector {",
    "\tconst char *name;",
    "\tuint32_t nr_pages;",
    "\tuint32_t covered_pages;\t/* 4 KiB pages, a 2^k block counting 2^k */",
    "\tuint32_t first;",
    "\tuint32_t queue_pages;\t/* IOMMU_MT queue block size (NUM_PAGES of entries 0, 1); 0 for a list */",
    "\tuint8_t iommu_mt;\t/* 1: the root is read as IOMMU_MT entries */",
    "\tuint64_t root_hpa;",
    "\tuint64_t hpa_list_info;",
    "\tuint64_t hpa_array;",
    "\tuint64_t release_input;",
    "\tuint64_t iommu_mt_op;",
    "};",
    "",
  );

  L.push("static const struct tdxpa_format_vector tdxpa_format_vectors[] TDXPA_MAYBE_UNUSED = {");
  for (const v of set.formats) {
    const f = v.fields;
    const [bh, bl] = bitsPair(v.violation?.bits);
    const count = typeof f.count === "number" ? f.count : 0;
    const first = typeof f.firstEntry === "number" ? f.firstEntry : 0;
    const numPages = typeof f.numPages === "number" ? f.numPages : 0;
    const rule = v.violation === null ? "TDXPA_RULE_NONE" : cRule(v.violation.rule);
    L.push(
      `\t{ .raw = ${ull(v.raw)}, .hpa = ${ull(fieldHpa(v))}, .count = ${count}, .first_entry = ${first}, ` +
        `.num_pages = ${numPages}, .kind = ${C_KIND[v.kind]}, .valid = ${v.valid ? 1 : 0}, ` +
        `.singleton = ${f.singleton === true ? 1 : 0}, .rule = ${rule}, .bits_hi = ${bh}, .bits_lo = ${bl}, ` +
        `.note = ${cString(`${v.origin}: ${v.note}`)} },`,
    );
  }
  L.push("};", "");

  L.push("static const struct tdxpa_status_vector tdxpa_status_vectors[] TDXPA_MAYBE_UNUSED = {");
  for (const s of set.statuses) {
    const f = s.fields;
    L.push(
      `\t{ .raw = ${ull(s.raw)}, .name = ${cString(f.name ?? "")}, .error = ${+f.error}, ` +
        `.non_recoverable = ${+f.nonRecoverable}, .fatal = ${+f.fatal}, .host_hint = ${+f.hostRecoverabilityHint}, ` +
        `.class_ = 0x${f.class.toString(16)}, .detail = 0x${f.detail.toString(16)}, .info = 0x${f.info.toString(16)}u },`,
    );
  }
  L.push("};", "");

  L.push("static const struct tdxpa_page_vector tdxpa_descriptor_pages[] TDXPA_MAYBE_UNUSED = {");
  for (const d of set.descriptors) {
    L.push(`\t/* ${d.name} */`);
    for (const p of d.pages) L.push(`\t{ ${ull(p.pfn)}, ${p.order} },`);
  }
  L.push("};", "");

  L.push("static const uint64_t tdxpa_descriptor_root_entries[] TDXPA_MAYBE_UNUSED = {");
  for (const d of set.descriptors) {
    L.push(`\t/* ${d.name} */`);
    for (let i = 0; i < d.rootEntries.length; i += 4) {
      L.push(
        `\t${d.rootEntries
          .slice(i, i + 4)
          .map(ull)
          .join(", ")},`,
      );
    }
  }
  L.push("};", "");

  L.push("static const struct tdxpa_descriptor_vector tdxpa_descriptor_vectors[] TDXPA_MAYBE_UNUSED = {");
  let first = 0;
  for (const d of set.descriptors) {
    L.push(
      `\t{ .name = ${cString(d.name)}, .nr_pages = ${d.nrPages}, .covered_pages = ${d.coveredPages}, ` +
        `.first = ${first}, .queue_pages = ${d.queuePages}, .iommu_mt = ${d.entryFormat === "iommu-mt" ? 1 : 0}, ` +
        `.root_hpa = ${ull(d.rootHpa)}, .hpa_list_info = ${ull(d.hpaListInfo)}, .hpa_array = ${ull(d.hpaArray)}, ` +
        `.release_input = ${ull(d.releaseInput)}, .iommu_mt_op = ${ull(d.iommuMt)} },`,
    );
    first += d.nrPages;
  }
  L.push("};", "");

  const check = (arr: string, n: string) =>
    `TDXPA_STATIC_ASSERT(sizeof(${arr}) / sizeof(${arr}[0]) == ${n}, "${arr} size");`;
  L.push(
    check("tdxpa_format_vectors", "TDXPA_FORMAT_VECTOR_COUNT"),
    check("tdxpa_status_vectors", "TDXPA_STATUS_VECTOR_COUNT"),
    check("tdxpa_descriptor_pages", "TDXPA_DESCRIPTOR_PAGE_COUNT"),
    check("tdxpa_descriptor_root_entries", "TDXPA_DESCRIPTOR_PAGE_COUNT"),
    check("tdxpa_descriptor_vectors", "TDXPA_DESCRIPTOR_VECTOR_COUNT"),
    "",
    "#endif /* TDX_PAGE_ARRAY_VECTORS_H */",
    "",
  );
  return L.join("\n");
}
