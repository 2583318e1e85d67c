/**
 * Codecs of the three page-list operands: HPA_LIST_INFO, HPA_ARRAY_T (with singleton mode) and IOMMU_MT
 * (docs/spec/01-formats.md 1.1–1.2, 1.4 rules 1–3). Part of src/common/formats.ts, which re-exports
 * everything here; the file comment there says which shape of codec to use where.
 */
import { rangeError, typeError } from "./errors.js";
import { fieldOf, HPA_ARRAY_T, HPA_LIST_INFO, IOMMU_MT, IOMMU_MT_ENTRY, LIST_ENTRY } from "./fields.js";
import { checkCount, checkHpa, MAX_ENTRIES } from "./formats-args.js";
import {
  RULE_ENTRY_ALIGNMENT,
  RULE_ENTRY_NUM_PAGES,
  RULE_ENTRY_RESERVED_BITS,
  RULE_FIRST_AFTER_LAST,
  RULE_OK,
  RULE_RESERVED_BITS,
  type RuleCode,
  reservedViolation,
  rootViolation,
  type SharedPageCheck,
  type Violation,
  violation,
} from "./rules.js";
import {
  checkHalves,
  halfBits,
  hpaHi,
  hpaLo,
  isPageHpa,
  PAGE_SIZE,
  pageAddress,
  setBits,
  type U64,
} from "./u64.js";

const PFN_LIST = fieldOf(HPA_LIST_INFO, "PFN");
const FIRST = fieldOf(HPA_LIST_INFO, "FIRST_ENTRY");
const LAST = fieldOf(HPA_LIST_INFO, "LAST_ENTRY");
const PFN_ARRAY = fieldOf(HPA_ARRAY_T, "PFN");
const SIZE = fieldOf(HPA_ARRAY_T, "SIZE");
const PFN_MT = fieldOf(IOMMU_MT, "PFN");
const PFN_ENTRY = fieldOf(LIST_ENTRY, "PFN");
const NUM_PAGES = fieldOf(IOMMU_MT_ENTRY, "NUM_PAGES");
// pageAddress (u64.ts) reads bits 51:12: every layout's PFN must sit there.
for (const pfn of [PFN_LIST, PFN_ARRAY, PFN_MT, PFN_ENTRY, fieldOf(IOMMU_MT_ENTRY, "PFN")])
  if (pfn.lsb !== 12 || pfn.width !== 40)
    throw new Error(`formats: PFN field at ${pfn.lsb}/${pfn.width}, expected 51:12`);

// The hot paths (encode…Into, field readers, …Rule) write their shifts, masks and rule codes as
// literals: a module-level constant is a context load and a hole check per use, which doubled the
// decode rows (measured: 7.0 against 3.5 ns per HPA_LIST_INFO decode, 2 shared cores). The table below
// ties every literal to the layout it comes from (fields.ts, 01-formats.md 1.1–1.2) and to rules.ts, and
// fails at load time when one disagrees.
const LAST_HI = LAST.lsb - 32;
const SIZE_HI = SIZE.lsb - 32;
const fieldMask = (width: number): number => halfBits(0xffff_ffff, 0, width);
const LITERALS: readonly (readonly [what: string, literal: number, fromTable: number])[] = [
  ["FIRST_ENTRY lsb (3)", 3, FIRST.lsb],
  ["FIRST_ENTRY mask (0x1ff)", 0x1ff, fieldMask(FIRST.width)],
  ["LAST_ENTRY lsb in the high half (23)", 23, LAST_HI],
  ["LAST_ENTRY mask (0x1ff)", 0x1ff, fieldMask(LAST.width)],
  ["LAST_ENTRY top bit (63)", 32, LAST_HI + LAST.width],
  ["SIZE lsb in the high half (23)", 23, SIZE_HI],
  ["SIZE mask (0x1ff)", 0x1ff, fieldMask(SIZE.width)],
  ["SIZE top bit (63)", 32, SIZE_HI + SIZE.width],
  ["NUM_PAGES lsb (0)", 0, NUM_PAGES.lsb],
  ["NUM_PAGES mask (0xfff)", 0xfff, fieldMask(NUM_PAGES.width)],
  ["HPA_LIST_INFO reserved, low half", 0x7, HPA_LIST_INFO.reservedLo],
  ["HPA_LIST_INFO reserved, high half", 0x70_0000, HPA_LIST_INFO.reservedHi],
  ["HPA_ARRAY_T reserved, low half", 0xfff, HPA_ARRAY_T.reservedLo],
  ["HPA_ARRAY_T reserved, high half", 0x70_0000, HPA_ARRAY_T.reservedHi],
  ["IOMMU_MT reserved, low half", 0xfff, IOMMU_MT.reservedLo],
  ["IOMMU_MT reserved, high half", 0xfff0_0000, IOMMU_MT.reservedHi >>> 0],
  ["list entry reserved, low half", 0xfff, LIST_ENTRY.reservedLo],
  ["list entry reserved, high half", 0xfff0_0000, LIST_ENTRY.reservedHi >>> 0],
  ["IOMMU_MT entry reserved, low half", 0, IOMMU_MT_ENTRY.reservedLo],
  ["IOMMU_MT entry reserved, high half", 0xfff0_0000, IOMMU_MT_ENTRY.reservedHi >>> 0],
  ["page offset mask (0xfff)", 0xfff, PAGE_SIZE - 1],
  ["last index (511)", 511, MAX_ENTRIES - 1],
  ["2^-32", 2.3283064365386963e-10, 1 / 0x1_0000_0000],
  ["RULE_OK", 0, RULE_OK],
  ["RULE_RESERVED_BITS", 1, RULE_RESERVED_BITS],
  ["RULE_FIRST_AFTER_LAST", 2, RULE_FIRST_AFTER_LAST],
  ["RULE_ENTRY_RESERVED_BITS", 3, RULE_ENTRY_RESERVED_BITS],
  ["RULE_ENTRY_NUM_PAGES", 4, RULE_ENTRY_NUM_PAGES],
  ["RULE_ENTRY_ALIGNMENT", 5, RULE_ENTRY_ALIGNMENT],
];
for (const [what, literal, fromTable] of LITERALS)
  if (literal !== fromTable)
    throw new Error(`formats: ${what} is ${fromTable} in the layout table, ${literal} in the codecs`);

// The encoders' fast accept test works on the halves an HPA number splits into (lo = hpa >>> 0,
// hi = (hpa - lo) * 2^-32, both exact): hpa is an integer in 0..2^52−1 exactly when hi is an integer in
// 0..2^20−1, that is `(hi & 0xfffff) === hi` (false for NaN, ±Infinity, fractions, negatives). The
// same test on `count - 1` and 511 says "an integer in 1..512". It replaces Number.isInteger, typeof
// per value and range pairs, which cost about half the encode time (measured, 2 shared cores). Any
// value the fast test refuses goes to the full check, which throws the typed error; the fast test
// accepts nothing the full check refuses. Addresses below 4096 (0, and the fractions too small for
// the 2^-32 scaling, which underflows to 0) always take the full check.

// ---------------------------------------------------------------------------------------------------
// HPA_LIST_INFO

/** Fields of an HPA_LIST_INFO operand. `count` is LAST_ENTRY + 1. */
export interface HpaListInfo {
  readonly firstEntry: number;
  readonly lastEntry: number;
  readonly count: number;
  readonly rootHpa: number;
}

/**
 * Encodes an HPA_LIST_INFO operand into `out[at]` (low half) and `out[at + 1]` (high half); throws a
 * typed error naming a value that cannot be encoded. Allocates nothing.
 * @example encodeHpaListInfoInto(regs, 0, 0x12345000, 512, 0) // regs[0] = 0x12345000, regs[1] = 0xff800000
 */
export function encodeHpaListInfoInto(
  out: Uint32Array,
  at: number,
  rootHpa: number,
  count: number,
  firstEntry = 0,
): void {
  if (typeof rootHpa !== "number" || typeof count !== "number" || typeof firstEntry !== "number")
    checkHpaListInfoArgs(rootHpa, count, firstEntry);
  const lo = rootHpa >>> 0;
  const hi = (rootHpa - lo) * 2.3283064365386963e-10;
  // The accepted set, as tests on numbers only (see the note above the encoders): anything else
  // takes the full check, which throws the typed error naming the first bad value.
  if (
    !(rootHpa >= 0x1000) ||
    (hi & 0xf_ffff) !== hi ||
    (lo & 0xfff) !== 0 ||
    ((count - 1) & 0x1ff) !== count - 1 ||
    (firstEntry & 0x1ff) !== firstEntry ||
    firstEntry >= count
  )
    checkHpaListInfoArgs(rootHpa, count, firstEntry);
  // The high word first: its bounds check covers the low word's (measured ~0.2 ns per encode).
  out[at + 1] = hi | ((count - 1) << 23);
  out[at] = lo | (firstEntry << 3);
}

/** The full argument check of {@link encodeHpaListInfoInto} (its slow path): throws for the first bad value. */
function checkHpaListInfoArgs(rootHpa: unknown, count: unknown, firstEntry: unknown): void {
  if (!isPageHpa(rootHpa)) checkHpa("hpa-list-info.root", rootHpa);
  const n = checkCount("hpa-list-info.count", count);
  if (typeof firstEntry !== "number" || (firstEntry | 0) !== firstEntry || firstEntry < 0 || firstEntry >= n)
    throw rangeError("hpa-list-info.first", firstEntry, `0..${n - 1} (count - 1)`);
}

const SCRATCH = new Uint32Array(2);

/**
 * Encodes an HPA_LIST_INFO operand (the object form of {@link encodeHpaListInfoInto}).
 * @example encodeHpaListInfo({ rootHpa: 0x12345000, count: 512 }) // { lo: 0x12345000, hi: 0xff800000 }
 */
export function encodeHpaListInfo(a: { rootHpa: number; count: number; firstEntry?: number }): U64 {
  if (typeof a !== "object" || a === null)
    throw typeError("hpa-list-info", a, "{ rootHpa, count, firstEntry? }");
  encodeHpaListInfoInto(SCRATCH, 0, a.rootHpa, a.count, a.firstEntry ?? 0);
  return { lo: SCRATCH[0]!, hi: SCRATCH[1]! };
}

/** FIRST_ENTRY (bits 11:3) of an HPA_LIST_INFO operand. Valid for lo in 0..2^32−1. */
export function hpaListInfoFirstEntry(lo: number): number {
  return (lo >>> 3) & 0x1ff;
}

/** LAST_ENTRY (bits 63:55) of an HPA_LIST_INFO operand; the count is this + 1. Valid for hi a u32. */
export function hpaListInfoLastEntry(hi: number): number {
  return (hi >>> 23) & 0x1ff;
}

/** The root page (bits 51:12) of an HPA_LIST_INFO operand. Valid for lo, hi in 0..2^32−1. */
export function hpaListInfoRootHpa(lo: number, hi: number): number {
  // pageAddress (u64.ts) written out: the nested call across modules cost ~0.5 ns per decode (measured).
  return (hi & 0xf_ffff) * 0x1_0000_0000 + ((lo & 0xffff_f000) >>> 0);
}

/** Rules 1 and 2 of an HPA_LIST_INFO operand as a {@link RuleCode}. Valid for lo, hi u32. */
export function hpaListInfoRule(lo: number, hi: number): RuleCode {
  if (((lo & 0x7) | (hi & 0x70_0000)) !== 0) return 1; // RULE_RESERVED_BITS
  // RULE_FIRST_AFTER_LAST, else RULE_OK
  return hpaListInfoFirstEntry(lo) > hpaListInfoLastEntry(hi) ? 2 : 0;
}

/** Decodes an HPA_LIST_INFO operand and checks rules 1–3. */
export function decodeHpaListInfo(
  lo: number,
  hi: number,
  checkRoot?: SharedPageCheck,
): { fields: HpaListInfo; violation: Violation | null } {
  checkHalves("hpa-list-info", lo, hi);
  const firstEntry = hpaListInfoFirstEntry(lo);
  const lastEntry = hpaListInfoLastEntry(hi);
  const rootHpa = hpaListInfoRootHpa(lo, hi);
  const fields = { firstEntry, lastEntry, count: lastEntry + 1, rootHpa };
  const rule = hpaListInfoRule(lo, hi);
  let v: Violation | null = null;
  if (rule === RULE_RESERVED_BITS) v = reservedViolation(lo, hi, HPA_LIST_INFO);
  else if (rule === RULE_FIRST_AFTER_LAST) {
    v = violation(
      "first-after-last",
      `HPA_LIST_INFO: FIRST_ENTRY (bits 11:3) is ${firstEntry}, above LAST_ENTRY (bits 63:55) ${lastEntry}`,
      { field: FIRST },
    );
  }
  v ??= rootViolation("HPA_LIST_INFO", rootHpa, checkRoot);
  return { fields, violation: v };
}

/** Byte address of entry `firstEntry` inside the root page: bits 51:3 of the operand (01-formats.md 1.1). */
export function hpaListInfoCursor(info: HpaListInfo): number {
  return info.rootHpa + info.firstEntry * 8;
}

/**
 * The operand as the module returns it with FIRST_ENTRY = `next` (512 wraps to 0, 01-formats.md 1.1).
 * Valid for next in 0..512.
 */
export function withFirstEntry(op: U64, next: number): U64 {
  return setBits(op.lo, op.hi, FIRST.lsb, FIRST.width, next & (MAX_ENTRIES - 1));
}

// ---------------------------------------------------------------------------------------------------
// HPA_ARRAY_T

/** Fields of an HPA_ARRAY_T operand. Exactly one of rootHpa / pageHpa is non-null. */
export interface HpaArray {
  readonly count: number;
  readonly singleton: boolean;
  /** The root page, or null in singleton mode. */
  readonly rootHpa: number | null;
  /** The one page in singleton mode, else null. */
  readonly pageHpa: number | null;
}

/**
 * Encodes an HPA_ARRAY_T operand into `out[at]`, `out[at + 1]`: `hpa` is the root page for count
 * 2..512, the one page for count 1 (singleton mode). Throws a typed error naming a bad value.
 * Allocates nothing.
 * @example encodeHpaArrayInto(regs, 0, 3, 0x100000) // regs[0] = 0x00100000, regs[1] = 0x01000000
 */
export function encodeHpaArrayInto(out: Uint32Array, at: number, count: number, hpa: number): void {
  if (typeof count !== "number" || typeof hpa !== "number") checkHpaArrayArgs(count, hpa);
  const lo = hpa >>> 0;
  const hi = (hpa - lo) * 2.3283064365386963e-10;
  if (((count - 1) & 0x1ff) !== count - 1 || !(hpa >= 0x1000) || (hi & 0xf_ffff) !== hi || (lo & 0xfff) !== 0)
    checkHpaArrayArgs(count, hpa);
  out[at + 1] = hi | ((count - 1) << 23);
  out[at] = lo;
}

/** The full argument check of {@link encodeHpaArrayInto} (its slow path): throws for the first bad value. */
function checkHpaArrayArgs(count: unknown, hpa: unknown): void {
  const n = checkCount("hpa-array.count", count);
  if (!isPageHpa(hpa)) checkHpa(n === 1 ? "hpa-array.page" : "hpa-array.root", hpa);
}

/**
 * Encodes an HPA_ARRAY_T operand: `{count: n ≥ 2, rootHpa}` or singleton `{count: 1, pageHpa}` (the
 * object form of {@link encodeHpaArrayInto}).
 * @example encodeHpaArray({ count: 3, rootHpa: 0x100000 }) // 0x0100000000100000
 * @example encodeHpaArray({ count: 1, pageHpa: 0x76543000 }) // 0x0000000076543000
 */
export function encodeHpaArray(a: { count: number; rootHpa?: number; pageHpa?: number }): U64 {
  if (typeof a !== "object" || a === null) throw typeError("hpa-array", a, "{ count, rootHpa | pageHpa }");
  const count = checkCount("hpa-array.count", a.count);
  let hpa: number;
  if (count === 1) {
    if (a.pageHpa === undefined)
      throw rangeError(
        "hpa-array.page",
        a.rootHpa === undefined ? undefined : "a root",
        "the one page's HPA: count 1 is singleton mode",
      );
    hpa = a.pageHpa;
  } else {
    if (a.rootHpa === undefined)
      throw rangeError("hpa-array.count", count, "1 with a page HPA (singleton), 2..512 with a root HPA");
    hpa = a.rootHpa;
  }
  encodeHpaArrayInto(SCRATCH, 0, count, hpa);
  return { lo: SCRATCH[0]!, hi: SCRATCH[1]! };
}

/** SIZE (bits 63:55) of an HPA_ARRAY_T operand: count − 1, 0 in singleton mode. Valid for hi a u32. */
export function hpaArraySize(hi: number): number {
  return (hi >>> 23) & 0x1ff;
}

/** The page (bits 51:12) an HPA_ARRAY_T names: the root, or the one page when SIZE is 0. Valid for u32 halves. */
export function hpaArrayHpa(lo: number, hi: number): number {
  return (hi & 0xf_ffff) * 0x1_0000_0000 + ((lo & 0xffff_f000) >>> 0);
}

/** Rule 1 of an HPA_ARRAY_T operand as a {@link RuleCode}. Valid for lo, hi u32. */
export function hpaArrayRule(lo: number, hi: number): RuleCode {
  return ((lo & 0xfff) | (hi & 0x70_0000)) !== 0 ? 1 : 0; // RULE_RESERVED_BITS, RULE_OK
}

/** Decodes an HPA_ARRAY_T operand; rule 3 is checked on the root page only (not in singleton mode). */
export function decodeHpaArray(
  lo: number,
  hi: number,
  checkRoot?: SharedPageCheck,
): { fields: HpaArray; violation: Violation | null } {
  checkHalves("hpa-array", lo, hi);
  const size = hpaArraySize(hi);
  const hpa = hpaArrayHpa(lo, hi);
  const singleton = size === 0;
  const fields = {
    count: size + 1,
    singleton,
    rootHpa: singleton ? null : hpa,
    pageHpa: singleton ? hpa : null,
  };
  let v = hpaArrayRule(lo, hi) === RULE_OK ? null : reservedViolation(lo, hi, HPA_ARRAY_T);
  if (v === null && !singleton) v = rootViolation("HPA_ARRAY_T", hpa, checkRoot);
  return { fields, violation: v };
}

// ---------------------------------------------------------------------------------------------------
// IOMMU_MT

/** Encodes an IOMMU_MT operand: the root page address only. */
export function encodeIommuMt(rootHpa: number): U64 {
  const root = checkHpa("iommu-mt.root", rootHpa);
  return { lo: hpaLo(root), hi: hpaHi(root) };
}

/** Decodes an IOMMU_MT operand (rules 1 and 3). */
export function decodeIommuMt(
  lo: number,
  hi: number,
  checkRoot?: SharedPageCheck,
): { fields: { rootHpa: number }; violation: Violation | null } {
  checkHalves("iommu-mt", lo, hi);
  const rootHpa = pageAddress(lo, hi);
  const v =
    ((lo & 0xfff) | (hi & 0xfff0_0000)) !== 0
      ? reservedViolation(lo, hi, IOMMU_MT)
      : rootViolation("IOMMU_MT", rootHpa, checkRoot);
  return { fields: { rootHpa }, violation: v };
}
