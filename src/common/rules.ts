/**
 * The rules of docs/spec/01-formats.md 1.4 a page-list value can break, as the decoders of
 * `formats.ts` report them: a {@link Rule} name with its section, a {@link Violation} naming the field
 * and its bits (the slow path, built only when a rule fails), and a numeric {@link RuleCode} (the fast
 * path, what the allocation-free decoders return).
 */
import { type Field, fieldOf, firstReservedSet, IOMMU_MT_ENTRY, type Layout, readField } from "./fields.js";
import { bitRangeText, PAGE_SIZE, pageAddress } from "./u64.js";

/** Which rule of 01-formats.md 1.4 a value broke. */
export type Rule =
  | "reserved-bits" // 1.4 rule 1: a reserved operand field is non-zero
  | "first-after-last" // 1.4 rule 2: HPA_LIST_INFO FIRST_ENTRY > LAST_ENTRY
  | "root-not-shared" // 1.4 rule 3: the root page is not a valid shared HPA
  | "entry-reserved-bits" // 1.4 rule 4: an entry's reserved bits are set
  | "entry-num-pages" // 1.4 rule 4: IOMMU_MT NUM_PAGES wrong for the entry's position
  | "entry-alignment" // 1.4 rule 4: a multi-page block not aligned to its size
  | "list-cycle" // 1.3: an HPA_LINKED_LIST that loops or is longer than allowed
  | "list-entry"; // 1.3: a linked-list entry that is not a page address or NULL

/** Section of 01-formats.md for each rule. */
export const RULE_REF: Readonly<Record<Rule, string>> = Object.freeze({
  "reserved-bits": "1.4.1",
  "first-after-last": "1.4.2",
  "root-not-shared": "1.4.3",
  "entry-reserved-bits": "1.4.4",
  "entry-num-pages": "1.4.4",
  "entry-alignment": "1.4.4",
  "list-cycle": "1.3",
  "list-entry": "1.3",
});

/** A broken rule: which, where, and a one-line message naming the bits and values. */
export interface Violation {
  readonly rule: Rule;
  /** Section of 01-formats.md. */
  readonly ref: string;
  /** Index of the root-page entry, when the rule is about an entry. */
  readonly entry?: number;
  /** Field name, when one field is at fault. */
  readonly field?: string;
  /** Inclusive bit range of that field, e.g. "2:0". */
  readonly bits?: string;
  readonly message: string;
}

export function violation(
  rule: Rule,
  message: string,
  extra: { entry?: number; field?: Field } = {},
): Violation {
  const v: { -readonly [K in keyof Violation]: Violation[K] } = { rule, ref: RULE_REF[rule], message };
  if (extra.entry !== undefined) v.entry = extra.entry;
  if (extra.field !== undefined) {
    v.field = extra.field.name;
    v.bits = bitRangeText(extra.field.lsb, extra.field.width);
  }
  return v;
}

/** Rule 1 (an operand) or the reserved part of rule 4 (an entry, at index `entry` when its position is known). */
export function reservedViolation(
  lo: number,
  hi: number,
  l: Layout,
  isEntry = false,
  entry?: number,
): Violation | null {
  const fld = firstReservedSet(lo, hi, l);
  if (fld === null) return null;
  const where = entry === undefined ? l.name : `${l.name} ${entry}`;
  const val = readField(lo, hi, fld);
  return violation(
    isEntry ? "entry-reserved-bits" : "reserved-bits",
    `${where}: reserved bits ${bitRangeText(fld.lsb, fld.width)} are 0x${val.toString(16)}, must be 0`,
    entry === undefined ? { field: fld } : { field: fld, entry },
  );
}

/**
 * Rule 3 as the caller knows it: returns why `hpa` is not a valid shared root page, or null when it is.
 * The format layer alone cannot know KeyIDs or the module's range; the emulator passes its own check.
 */
export type SharedPageCheck = (hpa: number) => string | null;

export function rootViolation(name: string, hpa: number, check?: SharedPageCheck): Violation | null {
  const why = check?.(hpa) ?? null;
  return why === null
    ? null
    : violation("root-not-shared", `${name}: root page 0x${hpa.toString(16)} ${why}`);
}

/**
 * The rule a value broke, as a number (the fast decoders' result): 0 valid, then one code per
 * {@link Rule} that a decoder alone can find (rule 3 needs the caller's check and is not coded).
 */
export type RuleCode = 0 | 1 | 2 | 3 | 4 | 5;
/** No rule broken. */
export const RULE_OK = 0;
/** 1.4 rule 1: a reserved operand field is non-zero. */
export const RULE_RESERVED_BITS = 1;
/** 1.4 rule 2: HPA_LIST_INFO FIRST_ENTRY > LAST_ENTRY. */
export const RULE_FIRST_AFTER_LAST = 2;
/** 1.4 rule 4: an entry's reserved bits are set. */
export const RULE_ENTRY_RESERVED_BITS = 3;
/** 1.4 rule 4: IOMMU_MT NUM_PAGES wrong for the entry's position. */
export const RULE_ENTRY_NUM_PAGES = 4;
/** 1.4 rule 4: a multi-page block not aligned to its size. */
export const RULE_ENTRY_ALIGNMENT = 5;

const NUM_PAGES = fieldOf(IOMMU_MT_ENTRY, "NUM_PAGES");

/** The {@link Violation} behind a non-zero {@link iommuMtEntryRule} result (slow path: builds the message). */
export function iommuMtEntryViolation(
  lo: number,
  hi: number,
  rule: RuleCode,
  position?: { index: number; queuePages: number },
): Violation {
  if (rule === RULE_ENTRY_RESERVED_BITS)
    return reservedViolation(lo, hi, IOMMU_MT_ENTRY, true, position?.index) as Violation;
  const numPages = readField(lo, hi, NUM_PAGES);
  const hpa = pageAddress(lo, hi);
  const index = position?.index ?? 0;
  const where = position === undefined ? "IOMMU_MT entry" : `IOMMU_MT entry ${index}`;
  const extra = position === undefined ? { field: NUM_PAGES } : { entry: index, field: NUM_PAGES };
  if (rule === RULE_ENTRY_NUM_PAGES) {
    if (position !== undefined) {
      const want = index < 2 ? position.queuePages : 0;
      // Entries 0 and 1 are queue blocks: NUM_PAGES is a power of two of at least 2 (1.4 rule 4) and the
      // module's configured size, so a queue size below 2 accepts nothing there.
      const what = index < 2 ? `the queue block size ${want} (a power of two >= 2)` : "0 for an order-0 page";
      return violation(
        "entry-num-pages",
        `${where}: NUM_PAGES (bits 11:0) is ${numPages}, must be ${what}`,
        extra,
      );
    }
    return violation(
      "entry-num-pages",
      `${where}: NUM_PAGES (bits 11:0) is ${numPages}, must be 0 or a power of two >= 2`,
      extra,
    );
  }
  return violation(
    "entry-alignment",
    `${where}: block at 0x${hpa.toString(16)} is not aligned to its ${numPages} pages (0x${(numPages * PAGE_SIZE).toString(16)})`,
    position === undefined ? {} : { entry: index },
  );
}
