/**
 * Bit layouts of the page-list operands and root-page entries, as data (docs/spec/01-formats.md 1.1 and 1.2).
 *
 * Each layout lists every bit of the u64 exactly once, low to high, so a test can check coverage and a
 * decoder can report a reserved field by its bit range. Names are the specification's.
 */
import { getBits, setBits, type U64 } from "./u64.js";

/** One field of a 64-bit layout. Reserved fields must be zero. */
export interface Field {
  readonly name: string;
  readonly lsb: number;
  readonly width: number;
  readonly reserved: boolean;
}

/** A named 64-bit layout: fields low to high, covering bits 0..63 with no gap. */
export interface Layout {
  readonly name: string;
  readonly fields: readonly Field[];
  /** Masks of all reserved bits, per half (derived from `fields`, for the fast path of rule checks). */
  readonly reservedLo: number;
  readonly reservedHi: number;
}

const f = (name: string, lsb: number, width: number, reserved = false): Field =>
  Object.freeze({ name, lsb, width, reserved });
function layout(name: string, fields: Field[]): Layout {
  let m = { lo: 0, hi: 0 };
  for (const fld of fields) if (fld.reserved) m = setBits(m.lo, m.hi, fld.lsb, fld.width, 2 ** fld.width - 1);
  return Object.freeze({ name, fields: Object.freeze(fields), reservedLo: m.lo, reservedHi: m.hi });
}

/** HPA_LIST_INFO operand (01-formats.md 1.1). */
export const HPA_LIST_INFO = layout("HPA_LIST_INFO", [
  f("RESERVED_2_0", 0, 3, true),
  f("FIRST_ENTRY", 3, 9),
  f("PFN", 12, 40),
  f("RESERVED_54_52", 52, 3, true),
  f("LAST_ENTRY", 55, 9),
]);

/** HPA_ARRAY_T operand (01-formats.md 1.1); PFN is the root page's, or page 0's in singleton mode. */
export const HPA_ARRAY_T = layout("HPA_ARRAY_T", [
  f("RESERVED_11_0", 0, 12, true),
  f("PFN", 12, 40),
  f("RESERVED_54_52", 52, 3, true),
  f("SIZE", 55, 9),
]);

/** IOMMU_MT operand (01-formats.md 1.1): only the root page's PFN; no count. */
export const IOMMU_MT = layout("IOMMU_MT", [
  f("RESERVED_11_0", 0, 12, true),
  f("PFN", 12, 40),
  f("RESERVED_63_52", 52, 12, true),
]);

/** Root-page entry of HPA_LIST_INFO and HPA_ARRAY_T (01-formats.md 1.2). */
export const LIST_ENTRY = layout("LIST_ENTRY", [
  f("RESERVED_11_0", 0, 12, true),
  f("PFN", 12, 40),
  f("RESERVED_63_52", 52, 12, true),
]);

/** Root-page entry of IOMMU_MT (01-formats.md 1.2): NUM_PAGES for a multi-page block, else 0. */
export const IOMMU_MT_ENTRY = layout("IOMMU_MT_ENTRY", [
  f("NUM_PAGES", 0, 12),
  f("PFN", 12, 40),
  f("RESERVED_63_52", 52, 12, true),
]);

/** Every layout, for tests and tools. */
export const LAYOUTS: readonly Layout[] = [HPA_LIST_INFO, HPA_ARRAY_T, IOMMU_MT, LIST_ENTRY, IOMMU_MT_ENTRY];

/** The field called `name` of `l`; throws when the layout has none (a programming error). */
export function fieldOf(l: Layout, name: string): Field {
  const fld = l.fields.find((x) => x.name === name);
  if (fld === undefined) throw new Error(`layout ${l.name} has no field ${name}`);
  return fld;
}

/** Value of field `fld` in (lo, hi). */
export function readField(lo: number, hi: number, fld: Field): number {
  return getBits(lo, hi, fld.lsb, fld.width);
}

/** (lo, hi) with field `fld` set to `value` (value must fit the field; callers check first). */
export function writeField(v: U64, fld: Field, value: number): U64 {
  return setBits(v.lo, v.hi, fld.lsb, fld.width, value);
}

/** The first reserved field of `l` that is non-zero in (lo, hi), or null. */
export function firstReservedSet(lo: number, hi: number, l: Layout): Field | null {
  if (((lo & l.reservedLo) | (hi & l.reservedHi)) === 0) return null;
  for (const fld of l.fields) if (fld.reserved && getBits(lo, hi, fld.lsb, fld.width) !== 0) return fld;
  return null;
}
