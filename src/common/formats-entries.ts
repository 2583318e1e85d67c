/**
 * Codecs of root-page entries: HPA_LIST_INFO / HPA_ARRAY_T entries and IOMMU_MT entries
 * (docs/spec/01-formats.md 1.2, 1.4 rule 4), and the rule-4 pass over a root page. Part of
 * src/common/formats.ts, which re-exports everything here.
 */
import { rangeError } from "./errors.js";
import { LIST_ENTRY } from "./fields.js";
import type { ListFormat } from "./format-table.js";
import { checkHpa } from "./formats-args.js";
import { iommuMtEntryViolation, RULE_OK, type RuleCode, reservedViolation, type Violation } from "./rules.js";
import { checkHalves, hpaHi, hpaLo, isPowerOfTwo, PAGE_SIZE, pageAddress, type U64 } from "./u64.js";

/** Where the object forms of the entry encoders write before building their {lo, hi}. */
const SCRATCH = new Uint32Array(2);

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
 * An IOMMU_MT entry as one number, its exact u64 value: `hpa` plus NUM_PAGES. The entry uses bits
 * 51:0 only (bits 63:52 are reserved, 01-formats.md 1.2), so the value is below 2^52 and a double holds
 * it exactly; split it only where it is stored (lo = `v >>> 0`, hi = `(v - lo) / 2^32`;
 * {@link encodeIommuMtEntryInto} writes those halves). `pages` is 1 for an order-0 page (NUM_PAGES 0) or the block's
 * page count, a power of two in 2..2048, with the HPA aligned to that many pages. Throws a typed error
 * naming a bad value. Allocates nothing.
 * @example iommuMtEntryValue(0x20000000, 2) // 0x20000002
 */
export function iommuMtEntryValue(hpa: number, pages: number): number {
  if (typeof hpa !== "number" || typeof pages !== "number") checkIommuMtEntryArgs(hpa, pages);
  const lo = hpa >>> 0;
  const hi = (hpa - lo) * 2.3283064365386963e-10;
  // The accept test of encodeIommuMtEntryInto, written out again: called through a shared helper both
  // forms ran 14 % and 45 % slower (measured, bench/populate.ts --quick); the property tests of
  // test/common/formats-fast.test.ts hold both to the same exact accept set.
  if (
    !(hpa >= 0x1000) ||
    (hi & 0xf_ffff) !== hi ||
    (pages & 0xfff) !== pages ||
    pages === 0 ||
    (pages & (pages - 1)) !== 0 ||
    (lo & ((pages << 12) - 1)) !== 0
  )
    checkIommuMtEntryArgs(hpa, pages);
  return hpa + (pages & 0xffe); // NUM_PAGES: 0 for one page, else the power of two itself
}

/**
 * Encodes an IOMMU_MT entry into `out[at]`, `out[at + 1]`: the halves of {@link iommuMtEntryValue}.
 * Throws a typed error naming a bad value. Allocates nothing.
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
  out[at] = lo | (pages & 0xffe);
}

/** The full argument check of {@link iommuMtEntryValue} (its slow path): throws for the first bad value. */
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
