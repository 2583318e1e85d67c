/**
 * Format vectors (docs/spec/01-formats.md 1.1–1.5): a u64 per format kind with its expected decode —
 * the worked values of 1.5, boundary values, every reserved bit of every layout set alone (and all at
 * once), and seeded pseudo-random values. Expected results come from the decoders of the format table
 * (`common/format-table.ts`); `test/vectors` checks them against an oracle written from the spec.
 */
import { type Field, fieldOf, HPA_LIST_INFO, IOMMU_MT_ENTRY, LAYOUTS, writeField } from "../common/fields.js";
import { FORMAT_KINDS, FORMATS, type FormatKind, formatDef } from "../common/format-table.js";
import {
  encodeHpaArray,
  encodeHpaListInfo,
  encodeIommuMt,
  encodeIommuMtEntry,
  encodeListEntry,
  MAX_ENTRIES,
  MAX_NUM_PAGES,
  type Violation,
} from "../common/formats.js";
import {
  hpaToU64,
  PFN_LIMIT,
  parseU64,
  pfnToHpa,
  setBits,
  type U64,
  U64_ONES,
  U64_ZERO,
  u64ToHex,
  u64ToNumber,
} from "../common/u64.js";
import type { VectorRng } from "./rng.js";
import type { FormatVector, JsonScalar, Origin, VectorViolation } from "./types.js";

/** An address as `0x` + 16 hex digits. */
export const hpaHex = (hpa: number): string => {
  const v = hpaToU64(hpa);
  return u64ToHex(v.lo, v.hi);
};
/** A u64 as `0x` + 16 hex digits. */
export const hex = (v: U64): string => u64ToHex(v.lo, v.hi);
const MAX_PFN = PFN_LIMIT - 1;

/** What the vectors need of each format kind beyond the format table: a base value and a random valid one. */
interface VectorKind {
  /** A valid value onto which reserved bits are set. */
  base(): U64;
  /** A valid value from random fields, and a note saying what it is. */
  random(r: VectorRng): { v: U64; note: string };
}

/** A random PFN (40 bits). */
function randomPfn(r: VectorRng): number {
  const hi = r.u32() & 0xff; // drawn first: the order is part of the vector file
  return u64ToNumber(r.u32(), hi)!;
}
const randomCount = (r: VectorRng): number => 1 + r.below(MAX_ENTRIES);

/** Per format kind: the values vectors build (a new kind of the table must add its row here). */
const VECTOR_KINDS: Readonly<Record<FormatKind, VectorKind>> = {
  "hpa-list-info": {
    base: () => encodeHpaListInfo({ rootHpa: 0x1_2345_6000, count: 300, firstEntry: 3 }),
    random(r) {
      const n = randomCount(r);
      const first = r.below(n);
      const root = pfnToHpa(randomPfn(r));
      return {
        v: encodeHpaListInfo({ rootHpa: root, count: n, firstEntry: first }),
        note: `root 0x${root.toString(16)}, count ${n}, first ${first}`,
      };
    },
  },
  "hpa-array": {
    base: () => encodeHpaArray({ count: 300, rootHpa: 0x1_2345_6000 }),
    random(r) {
      const n = randomCount(r);
      const hpa = pfnToHpa(randomPfn(r));
      return {
        v: n === 1 ? encodeHpaArray({ count: 1, pageHpa: hpa }) : encodeHpaArray({ count: n, rootHpa: hpa }),
        note: n === 1 ? `singleton, page 0x${hpa.toString(16)}` : `root 0x${hpa.toString(16)}, count ${n}`,
      };
    },
  },
  "iommu-mt": {
    base: () => encodeIommuMt(0x1_2345_6000),
    random(r) {
      const hpa = pfnToHpa(randomPfn(r));
      return { v: encodeIommuMt(hpa), note: `root 0x${hpa.toString(16)}` };
    },
  },
  "iommu-mt-entry": {
    base: () => encodeIommuMtEntry(0x1_2345_6000, 2),
    random(r) {
      const pages = 1 << r.below(12); // 1 (order 0) .. 2048
      const p = randomPfn(r);
      const hpa = pfnToHpa(p - (p % pages));
      return { v: encodeIommuMtEntry(hpa, pages), note: `${pages}-page block at 0x${hpa.toString(16)}` };
    },
  },
  "list-entry": {
    base: () => encodeListEntry(0x1_2345_6000),
    random(r) {
      const hpa = pfnToHpa(randomPfn(r));
      return { v: encodeListEntry(hpa), note: `page 0x${hpa.toString(16)}` };
    },
  },
};

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

/** Decodes `v` as `kind` with the format table's decoder (no shared-page check: rule 3 needs a memory map). */
export function decodeAs(
  kind: FormatKind,
  v: U64,
): { fields: Record<string, JsonScalar>; violation: VectorViolation | null } {
  const def = formatDef(kind);
  const d = def.decode(v.lo, v.hi);
  const fields: Record<string, JsonScalar> = {};
  for (const f of def.shown) {
    const x = d.values[f.key] ?? null;
    fields[f.key] = f.type === "hpa" && typeof x === "number" ? hpaHex(x) : x;
  }
  return { fields, violation: d.violation && toVectorViolation(d.violation) };
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
export function workedVectors(): FormatVector[] {
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
export function boundaryVectors(): FormatVector[] {
  const out: FormatVector[] = [];
  const b = (kind: FormatKind, v: U64, note: string) => out.push(formatVector(kind, v, "boundary", note));
  const maxHpa = pfnToHpa(MAX_PFN);

  // HPA_LIST_INFO
  for (const pfn of [0, 1, MAX_PFN]) {
    for (const count of [1, 2, MAX_ENTRIES]) {
      b(
        "hpa-list-info",
        encodeHpaListInfo({ rootHpa: pfnToHpa(pfn), count }),
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
    const v = writeField(hpaToU64(pfnToHpa(pfn)), fieldOf(HPA_LIST_INFO, "FIRST_ENTRY"), first);
    return writeField(v, fieldOf(HPA_LIST_INFO, "LAST_ENTRY"), last);
  };
  b("hpa-list-info", list(1, 0, 0x100), "FIRST_ENTRY 1 > LAST_ENTRY 0");
  b("hpa-list-info", list(511, 0, 0x100), "FIRST_ENTRY 511 > LAST_ENTRY 0");
  b("hpa-list-info", list(511, 510, MAX_PFN), "FIRST_ENTRY 511 > LAST_ENTRY 510");
  b("hpa-list-info", list(7, 6, 0x100), "FIRST_ENTRY 7 = LAST_ENTRY + 1");

  // HPA_ARRAY_T
  for (const pfn of [0, 1, MAX_PFN]) {
    b(
      "hpa-array",
      encodeHpaArray({ count: 1, pageHpa: pfnToHpa(pfn) }),
      `singleton, page PFN 0x${pfn.toString(16)}`,
    );
    for (const count of [2, MAX_ENTRIES]) {
      b(
        "hpa-array",
        encodeHpaArray({ count, rootHpa: pfnToHpa(pfn) }),
        `root PFN 0x${pfn.toString(16)}, count ${count}`,
      );
    }
  }

  // IOMMU_MT
  for (const pfn of [0, 1, MAX_PFN])
    b("iommu-mt", encodeIommuMt(pfnToHpa(pfn)), `root PFN 0x${pfn.toString(16)}`);

  // IOMMU_MT entries (lone): every allowed NUM_PAGES, aligned; then each way to break rule 4.
  for (const pfn of [0, MAX_PFN])
    b("iommu-mt-entry", encodeIommuMtEntry(pfnToHpa(pfn), 1), `order-0 page, PFN 0x${pfn.toString(16)}`);
  for (let pages = 2; pages <= MAX_NUM_PAGES; pages *= 2) {
    b(
      "iommu-mt-entry",
      encodeIommuMtEntry(pfnToHpa(0x40_0000), pages),
      `${pages}-page block at PFN 0x400000`,
    );
  }
  b(
    "iommu-mt-entry",
    encodeIommuMtEntry(pfnToHpa(MAX_PFN - 1), 2),
    "2-page block at PFN 2^40-2 (the highest aligned)",
  );
  b(
    "iommu-mt-entry",
    encodeIommuMtEntry(pfnToHpa(MAX_PFN + 1 - MAX_NUM_PAGES), MAX_NUM_PAGES),
    "2048-page block, the highest aligned",
  );
  const entry = (pfn: number, numPages: number): U64 =>
    writeField(hpaToU64(pfnToHpa(pfn)), fieldOf(IOMMU_MT_ENTRY, "NUM_PAGES"), numPages);
  for (const n of [1, 3, 6, 0x7ff, 0x801, 0xfff])
    b("iommu-mt-entry", entry(0x40_0000, n), `NUM_PAGES ${n} (not 0 nor a power of two >= 2)`);
  b("iommu-mt-entry", entry(0x40_0001, 2), "2-page block at an odd PFN");
  b("iommu-mt-entry", entry(0x40_0002, 4), "4-page block aligned to 2 pages only");
  b("iommu-mt-entry", entry(MAX_PFN, 2), "2-page block at PFN 2^40-1");
  b("iommu-mt-entry", entry(0x40_0400, 2048), "2048-page block aligned to 1024 pages only");

  // List entries
  for (const pfn of [0, 1, MAX_PFN])
    b("list-entry", encodeListEntry(pfnToHpa(pfn)), `PFN 0x${pfn.toString(16)}`);
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

/** Every reserved bit of every layout of fields.ts set alone, then all reserved bits of a layout at once. */
export function reservedBitVectors(): FormatVector[] {
  const out: FormatVector[] = [];
  for (const l of LAYOUTS) {
    const kind = FORMAT_KINDS.find((k) => FORMATS[k].layout === l);
    if (kind === undefined) throw new Error(`vectors: layout ${l.name} has no kind`);
    const base = VECTOR_KINDS[kind].base();
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
export function randomVectors(r: VectorRng): FormatVector[] {
  const out: FormatVector[] = [];
  const valid = (kind: FormatKind) => VECTOR_KINDS[kind].random(r);
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
