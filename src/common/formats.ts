/**
 * The page-list formats: HPA_LIST_INFO, HPA_ARRAY_T (with singleton mode), IOMMU_MT, their root-page
 * entries, and HPA_LINKED_LIST pages (docs/spec/01-formats.md 1.1–1.4).
 *
 * Encoders are host-side helpers: they take numbers (HPAs below 2^52, counts) and throw a typed error
 * naming the value and the allowed range when given one that cannot be encoded. Decoders never throw for
 * any u64: they return the fields and, when a rule of docs/spec/01-formats.md 1.4 fails, a {@link Violation}
 * naming the rule, the field and its bits. The module emulator uses the same decoders, with its own
 * check of rule 3 (the root page must be a shared HPA), so host, module and CLI agree by construction.
 *
 * Two shapes of the same codecs. The hot paths take and return plain numbers and allocate nothing:
 * `encode…Into(out, at, …)` writes the two halves into a Uint32Array (a root page, a register file),
 * field readers such as {@link hpaListInfoRootHpa} return one field, and `…Rule(lo, hi)` returns a
 * {@link RuleCode} (0 when the value is valid). The object API (`encodeHpaListInfo`, `decodeHpaListInfo`,
 * …) is a thin wrapper over them that builds the fields object and, only when a rule fails, the
 * {@link Violation} with its message.
 */
import { rangeError, rangeErrorShown, typeError } from "./errors.js";
import { fieldOf, HPA_ARRAY_T, HPA_LIST_INFO, IOMMU_MT, IOMMU_MT_ENTRY, LIST_ENTRY } from "./fields.js";
import type { ListFormat } from "./format-table.js";
import {
  iommuMtEntryViolation,
  RULE_ENTRY_ALIGNMENT,
  RULE_ENTRY_NUM_PAGES,
  RULE_ENTRY_RESERVED_BITS,
  RULE_FIRST_AFTER_LAST,
  RULE_OK,
  RULE_REF,
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
  isPowerOfTwo,
  PAGE_SIZE,
  pageAddress,
  setBits,
  type U64,
  U64_ONES,
} from "./u64.js";

/** Re-exported for importers of this file (the type lives in the format table). */
export type { ListFormat } from "./format-table.js";
export * from "./rules.js";

/** Most entries one root page holds, and so most pages one operand names (01-formats.md 1.1). */
export const MAX_ENTRIES = 512;

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
// Argument checks for encoders.

function checkHpa(name: string, hpa: unknown): number {
  if (!isPageHpa(hpa)) {
    const allowed = "a 4 KiB aligned address in 0..2^52-4096";
    if (typeof hpa === "number" && Number.isSafeInteger(hpa) && hpa >= 0)
      throw rangeErrorShown(name, `0x${hpa.toString(16)}`, allowed);
    throw rangeError(name, hpa, allowed);
  }
  return hpa;
}

function checkCount(name: string, n: unknown, min = 1): number {
  if (typeof n !== "number" || (n | 0) !== n || n < min || n > MAX_ENTRIES) {
    throw rangeError(name, n, `${min}..${MAX_ENTRIES}`);
  }
  return n;
}

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

// ---------------------------------------------------------------------------------------------------
// Root-page entries

/** Encodes an HPA_LIST_INFO / HPA_ARRAY_T entry (bits 11:0 and 63:52 zero). */
export function encodeListEntry(hpa: number): U64 {
  const p = checkHpa("entry.hpa", hpa);
  return { lo: hpaLo(p), hi: hpaHi(p) };
}

/** Largest NUM_PAGES a 12-bit field holds that is a power of two. */
export const MAX_NUM_PAGES = 2048;

/**
 * Encodes an IOMMU_MT entry into `out[at]`, `out[at + 1]`: `pages` is 1 for an order-0 page
 * (NUM_PAGES 0) or the block's page count, a power of two in 2..2048, with the HPA aligned to that
 * many pages. Throws a typed error naming a bad value. Allocates nothing.
 * @example encodeIommuMtEntryInto(root, 0, 0x20000000, 2) // root[0] = 0x20000002, root[1] = 0
 */
export function encodeIommuMtEntryInto(out: Uint32Array, at: number, hpa: number, pages: number): void {
  if (typeof hpa !== "number" || typeof pages !== "number") checkIommuMtEntryArgs(hpa, pages);
  const lo = hpa >>> 0;
  const hi = (hpa - lo) * 2.3283064365386963e-10;
  // pages * 4096 is at most 2^23, so the block's alignment is a mask of the low half.
  if (
    !(hpa >= 0x1000) ||
    (hi & 0xf_ffff) !== hi ||
    (pages & 0xfff) !== pages ||
    pages === 0 ||
    (pages & (pages - 1)) !== 0 || // a power of two below 0x1000 is at most MAX_NUM_PAGES (2048)
    (lo & ((pages << 12) - 1)) !== 0
  )
    checkIommuMtEntryArgs(hpa, pages);
  out[at + 1] = hi;
  out[at] = lo | (pages & 0xffe); // NUM_PAGES: 0 for one page, else the power of two itself
}

/** The full argument check of {@link encodeIommuMtEntryInto} (its slow path): throws for the first bad value. */
function checkIommuMtEntryArgs(hpa: unknown, pages: unknown): void {
  const h = checkHpa("iommu-mt-entry.hpa", hpa);
  if (typeof pages !== "number" || !isPowerOfTwo(pages) || pages > MAX_NUM_PAGES) {
    throw rangeError("iommu-mt-entry.pages", pages, `1 or a power of two in 2..${MAX_NUM_PAGES}`);
  }
  // pages * 4096 is at most 2^23, so the block's alignment is a mask of the low half.
  if ((hpaLo(h) & (pages * PAGE_SIZE - 1)) !== 0) {
    throw rangeError(
      "iommu-mt-entry.hpa",
      `0x${h.toString(16)}`,
      `a multiple of ${pages} pages (0x${(pages * PAGE_SIZE).toString(16)})`,
    );
  }
}

/**
 * Encodes an IOMMU_MT entry (the object form of {@link encodeIommuMtEntryInto}).
 * @example encodeIommuMtEntry(0x20000000, 2) // 0x0000000020000002
 */
export function encodeIommuMtEntry(hpa: number, pages: number): U64 {
  encodeIommuMtEntryInto(SCRATCH, 0, hpa, pages);
  return { lo: SCRATCH[0]!, hi: SCRATCH[1]! };
}

/** Fields of a root-page entry. `numPages` is 0 for list formats and order-0 IOMMU_MT entries. */
export interface Entry {
  readonly hpa: number;
  readonly numPages: number;
}

/** The page (bits 51:12) a root-page entry names, in any of the three formats. Valid for u32 halves. */
export function entryHpa(lo: number, hi: number): number {
  return (hi & 0xf_ffff) * 0x1_0000_0000 + ((lo & 0xffff_f000) >>> 0);
}

/** NUM_PAGES (bits 11:0) of an IOMMU_MT entry. Valid for lo a u32. */
export function iommuMtEntryNumPages(lo: number): number {
  return lo & 0xfff;
}

/** Rule 4 of an HPA_LIST_INFO / HPA_ARRAY_T entry (reserved bits) as a {@link RuleCode}. Valid for u32 halves. */
export function listEntryRule(lo: number, hi: number): RuleCode {
  return ((lo & 0xfff) | (hi & 0xfff0_0000)) !== 0 ? 3 : 0; // RULE_ENTRY_RESERVED_BITS, RULE_OK
}

/**
 * Rule 4 of an IOMMU_MT entry as a {@link RuleCode}. With `index` ≥ 0 the entry's position applies
 * (entries 0 and 1 carry NUM_PAGES = queuePages, a power of two ≥ 2; the rest 0); with `index` −1 it
 * is a lone entry (NUM_PAGES 0 or a power of two ≥ 2). Valid for u32 halves.
 */
export function iommuMtEntryRule(lo: number, hi: number, index = -1, queuePages = 0): RuleCode {
  if ((hi & 0xfff0_0000) !== 0) return 3; // RULE_ENTRY_RESERVED_BITS
  const numPages = iommuMtEntryNumPages(lo);
  if (index >= 0) {
    const want = index < 2 ? queuePages : 0;
    if (numPages !== want || (index < 2 && numPages < 2)) return 4; // RULE_ENTRY_NUM_PAGES
  } else if (numPages !== 0 && (numPages < 2 || (numPages & (numPages - 1)) !== 0)) {
    return 4; // RULE_ENTRY_NUM_PAGES
  }
  // A power-of-two block (always, in a valid entry) is a mask test of the low half's address bits
  // (bits 11:0 hold NUM_PAGES, not address); any other size (a module configured with an odd queue
  // size) falls back to the division.
  if (
    numPages >= 2 &&
    ((numPages & (numPages - 1)) === 0
      ? (lo & ((numPages << 12) - 0x1000)) !== 0
      : pageAddress(lo, hi) % (numPages * PAGE_SIZE) !== 0)
  )
    return 5; // RULE_ENTRY_ALIGNMENT
  return 0; // RULE_OK
}

/** Decodes an HPA_LIST_INFO / HPA_ARRAY_T entry; `index` names it in the violation. */
export function decodeListEntry(
  lo: number,
  hi: number,
  index?: number,
): { fields: Entry; violation: Violation | null } {
  checkHalves("entry", lo, hi);
  return {
    fields: { hpa: pageAddress(lo, hi), numPages: 0 },
    violation: listEntryRule(lo, hi) === RULE_OK ? null : reservedViolation(lo, hi, LIST_ENTRY, true, index),
  };
}

/**
 * Decodes an IOMMU_MT entry. With `position` (the entry's index and the module's queue block size in
 * pages) the full rule 4 applies: entries 0 and 1 carry NUM_PAGES = queuePages, the rest 0. Without it
 * (a lone entry) NUM_PAGES must be 0 or a power of two ≥ 2, with the HPA aligned to the block.
 */
export function decodeIommuMtEntry(
  lo: number,
  hi: number,
  position?: { index: number; queuePages: number },
): { fields: Entry; violation: Violation | null } {
  checkHalves("iommu-mt-entry", lo, hi);
  const fields = { hpa: pageAddress(lo, hi), numPages: iommuMtEntryNumPages(lo) };
  const rule =
    position === undefined
      ? iommuMtEntryRule(lo, hi)
      : iommuMtEntryRule(lo, hi, position.index, position.queuePages);
  return { fields, violation: rule === RULE_OK ? null : iommuMtEntryViolation(lo, hi, rule, position) };
}

/**
 * Rule 4 over a root page's entries [first, last]: returns the first violation or null. `words` is the
 * root page as 1024 u32 words (entry i = words 2i, 2i+1). `queuePages` is needed for IOMMU_MT.
 */
export function checkEntries(
  format: ListFormat,
  words: Uint32Array,
  first: number,
  last: number,
  queuePages = 0,
): Violation | null {
  // Fast pass on plain numbers; the Violation (and its message) is built only for the entry that fails.
  const mt = format === "iommu-mt";
  for (let i = first; i <= last; i++) {
    const lo = words[2 * i]!;
    const hi = words[2 * i + 1]!;
    const rule = mt ? iommuMtEntryRule(lo, hi, i, queuePages) : listEntryRule(lo, hi);
    if (rule !== RULE_OK)
      return mt
        ? iommuMtEntryViolation(lo, hi, rule, { index: i, queuePages })
        : reservedViolation(lo, hi, LIST_ENTRY, true, i);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------
// HPA_LINKED_LIST (01-formats.md 1.3)

/** Data entries per list page; entry 511 links to the next list page. */
export const LINKED_DATA_PER_PAGE = 511;

/**
 * Lays out an HPA_LINKED_LIST: returns, for each list page, its 512 entries as u64 halves. `listHpas`
 * must hold ceil(dataHpas.length / 511) pages (at least one). Unused entries and the last link are NULL
 * (all ones).
 */
export function layoutLinkedList(listHpas: readonly number[], dataHpas: readonly number[]): U64[][] {
  if (!Array.isArray(dataHpas)) throw typeError("linked-list.data", dataHpas, "an array of page HPAs");
  const need = Math.max(1, Math.ceil(dataHpas.length / LINKED_DATA_PER_PAGE));
  if (!Array.isArray(listHpas) || listHpas.length !== need) {
    throw rangeError(
      "linked-list.listPages",
      Array.isArray(listHpas) ? listHpas.length : listHpas,
      `exactly ${need} for ${dataHpas.length} data pages`,
    );
  }
  for (const [i, h] of listHpas.entries()) checkHpa(`linked-list.listPages[${i}]`, h);
  for (const [i, h] of dataHpas.entries()) checkHpa(`linked-list.data[${i}]`, h);
  return listHpas.map((_, p) => {
    const page: U64[] = [];
    for (let e = 0; e < LINKED_DATA_PER_PAGE; e++) {
      const d = dataHpas[p * LINKED_DATA_PER_PAGE + e];
      page.push(d === undefined ? U64_ONES : encodeListEntry(d));
    }
    const next = listHpas[p + 1];
    page.push(next === undefined ? U64_ONES : encodeListEntry(next));
    return page;
  });
}

/**
 * Reads an HPA_LINKED_LIST starting at `firstHpa` through `readEntry` (which returns entry e of the
 * list page at `hpa`). Stops at the first NULL data entry or NULL link. Never throws: a loop, more than
 * `maxListPages` pages, or an entry that is neither NULL nor a clean page address is a violation.
 */
export function readLinkedList(
  readEntry: (listHpa: number, e: number) => U64,
  firstHpa: number,
  maxListPages: number,
): { listHpas: number[]; dataHpas: number[]; violation: Violation | null } {
  const listHpas: number[] = [];
  const dataHpas: number[] = [];
  const seen = new Set<number>();
  let cur: number | null = firstHpa;
  while (cur !== null) {
    if (seen.has(cur) || listHpas.length >= maxListPages) {
      return {
        listHpas,
        dataHpas,
        violation: violation(
          "list-cycle",
          `HPA_LINKED_LIST: list page 0x${cur.toString(16)} makes the chain loop or exceed ${maxListPages} pages`,
        ),
      };
    }
    seen.add(cur);
    listHpas.push(cur);
    let ended = false;
    for (let e = 0; e < LINKED_DATA_PER_PAGE && !ended; e++) {
      const x = readEntry(cur, e);
      if (x.lo === 0xffff_ffff && x.hi === 0xffff_ffff) {
        ended = true;
        break;
      }
      // Fast path: a clean entry is one mask test; the Violation is built only for a bad one.
      if (listEntryRule(x.lo, x.hi) !== RULE_OK) {
        const d = decodeListEntry(x.lo, x.hi, e);
        return {
          listHpas,
          dataHpas,
          violation: { ...d.violation!, rule: "list-entry", ref: RULE_REF["list-entry"] },
        };
      }
      dataHpas.push(entryHpa(x.lo, x.hi));
    }
    const link = readEntry(cur, LINKED_DATA_PER_PAGE);
    if (ended || (link.lo === 0xffff_ffff && link.hi === 0xffff_ffff)) {
      cur = null;
    } else {
      const d = decodeListEntry(link.lo, link.hi, LINKED_DATA_PER_PAGE);
      if (d.violation !== null)
        return {
          listHpas,
          dataHpas,
          violation: { ...d.violation, rule: "list-entry", ref: RULE_REF["list-entry"] },
        };
      cur = d.fields.hpa;
    }
  }
  return { listHpas, dataHpas, violation: null };
}
