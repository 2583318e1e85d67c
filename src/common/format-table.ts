/**
 * The one list of page-list formats (docs/spec/01-formats.md 1.1–1.2): every u64 kind the project
 * encodes or decodes, its layout, what it decodes to, and — for the three operand formats that name a
 * root page — how to find that page and which entry format it holds. Everything else that lists formats
 * derives from {@link FORMATS}: the {@link FormatKind} and {@link ListFormat} types, `tdxpa decode` and
 * `tdxpa encode` kinds, the vector tables and the C enum of `tdxpa vectors`, the root-page view of traces
 * (`observe/root-pages.ts`), the scenario schema's `format` choices ({@link LIST_FORMATS}) and the fuzz
 * targets. The order of the table is the order of the C enum `tdxpa_kind` (1-based): append, never insert.
 *
 * HPA_LINKED_LIST (1.3) is not a u64 kind: it is a chain of pages whose entries are `list-entry` values
 * (see `common/linked-list.ts`), so it has no row here.
 *
 * No dependencies beyond `common/`: part of the browser entry `src/formats.ts`.
 */
import { HPA_ARRAY_T, HPA_LIST_INFO, IOMMU_MT, IOMMU_MT_ENTRY, type Layout, LIST_ENTRY } from "./fields.js";
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
  type Violation,
} from "./formats.js";
import type { U64 } from "./u64.js";

/** A decoded field value: a number (an HPA below 2^52, a count, an index), a flag, or null (absent). */
export type FieldValue = number | boolean | null;

/** How tools show one decoded field. */
export interface ShownField {
  /** JSON key (vectors, `tdxpa decode --json`). */
  readonly key: string;
  /** Label in readable output. */
  readonly label: string;
  /** `hpa`: shown as `0x` + 16 hex digits; `number`: decimal; `flag`: yes / no. */
  readonly type: "hpa" | "number" | "flag";
  /** Readable text when the value is null (an HPA that does not apply). */
  readonly noneText?: string;
  /** Readable text when the value is 0. */
  readonly zeroText?: string;
}

/** Where an operand's page list is: the root page (or the singleton page), its count and start. */
export interface RootRef {
  /** The root page, or the one page of a singleton HPA_ARRAY_T. */
  readonly hpa: number;
  /** True for a singleton HPA_ARRAY_T: `hpa` is the page itself and there is no root page. */
  readonly singleton: boolean;
  /** Entries in the list, or null when only the module knows it (IOMMU_MT). */
  readonly count: number | null;
  /** FIRST_ENTRY of an HPA_LIST_INFO, else null. */
  readonly firstEntry: number | null;
}

/** One row of {@link FORMATS}. */
export interface FormatDef {
  /** The specification's name. */
  readonly title: string;
  readonly layout: Layout;
  /** One line for `tdxpa decode --help`. */
  readonly summary: string;
  /** Suffix of the C enum constant `TDXPA_KIND_…` in the vectors header. */
  readonly cName: string;
  /** The decoded fields in output order. */
  readonly shown: readonly ShownField[];
  /** Decodes any u64 (never throws for u32 halves): values by {@link ShownField.key}, and the broken rule. */
  decode(lo: number, hi: number): { values: Record<string, FieldValue>; violation: Violation | null };
  /** Encodes decoded values back (the inverse of `decode` on a valid value); throws a typed error on a bad one. */
  encode(values: Readonly<Record<string, FieldValue>>): U64;
  /** For an operand that names a page list: the entry kind its root page holds and how to find it. */
  readonly list?: {
    readonly entries: "list-entry" | "iommu-mt-entry";
    /** The page list of an operand, or null when the operand does not decode to one. */
    root(lo: number, hi: number): RootRef | null;
  };
}

const hpaField = (key: string, label: string, noneText?: string): ShownField =>
  noneText === undefined ? { key, label, type: "hpa" } : { key, label, type: "hpa", noneText };
// The encoders check every argument and throw a typed error naming a missing or bad one.
const num = (v: FieldValue | undefined): number => v as number;

/** The page-list formats, in C enum order. */
export const FORMATS = {
  "hpa-list-info": {
    title: "HPA_LIST_INFO",
    layout: HPA_LIST_INFO,
    summary: "HPA_LIST_INFO operand: FIRST_ENTRY 11:3, root PFN 51:12, LAST_ENTRY 63:55",
    cName: "HPA_LIST_INFO",
    shown: [
      { key: "firstEntry", label: "first entry", type: "number" },
      { key: "lastEntry", label: "last entry", type: "number" },
      { key: "count", label: "count", type: "number" },
      hpaField("rootHpa", "root HPA"),
    ],
    decode(lo, hi) {
      const { fields: f, violation } = decodeHpaListInfo(lo, hi);
      return {
        values: { firstEntry: f.firstEntry, lastEntry: f.lastEntry, count: f.count, rootHpa: f.rootHpa },
        violation,
      };
    },
    encode: (v) =>
      encodeHpaListInfo({ rootHpa: num(v.rootHpa), count: num(v.count), firstEntry: num(v.firstEntry) }),
    list: {
      entries: "list-entry",
      root(lo, hi) {
        // A resumed operand past its last entry still names its root page (traces show it).
        const d = decodeHpaListInfo(lo, hi);
        if (d.violation !== null && d.violation.rule !== "first-after-last") return null;
        const f = d.fields;
        return { hpa: f.rootHpa, singleton: false, count: f.count, firstEntry: f.firstEntry };
      },
    },
  },
  "hpa-array": {
    title: "HPA_ARRAY_T",
    layout: HPA_ARRAY_T,
    summary: "HPA_ARRAY_T operand: PFN 51:12 (root page, or the page itself when SIZE is 0), SIZE 63:55",
    cName: "HPA_ARRAY",
    shown: [
      { key: "count", label: "count", type: "number" },
      { key: "singleton", label: "singleton", type: "flag" },
      hpaField("rootHpa", "root HPA", "(none: singleton mode)"),
      hpaField("pageHpa", "page HPA", "(none: entries are in the root page)"),
    ],
    decode(lo, hi) {
      const { fields: f, violation } = decodeHpaArray(lo, hi);
      return {
        values: { count: f.count, singleton: f.singleton, rootHpa: f.rootHpa, pageHpa: f.pageHpa },
        violation,
      };
    },
    encode: (v) =>
      v.singleton === true
        ? encodeHpaArray({ count: 1, pageHpa: num(v.pageHpa) })
        : encodeHpaArray({ count: num(v.count), rootHpa: num(v.rootHpa) }),
    list: {
      entries: "list-entry",
      root(lo, hi) {
        const d = decodeHpaArray(lo, hi);
        if (d.violation !== null) return null;
        const f = d.fields;
        return f.singleton
          ? { hpa: f.pageHpa!, singleton: true, count: 1, firstEntry: null }
          : { hpa: f.rootHpa!, singleton: false, count: f.count, firstEntry: null };
      },
    },
  },
  "iommu-mt": {
    title: "IOMMU_MT",
    layout: IOMMU_MT,
    summary: "IOMMU_MT operand: root PFN 51:12, everything else reserved",
    cName: "IOMMU_MT",
    shown: [hpaField("rootHpa", "root HPA")],
    decode(lo, hi) {
      const { fields: f, violation } = decodeIommuMt(lo, hi);
      return { values: { rootHpa: f.rootHpa }, violation };
    },
    encode: (v) => encodeIommuMt(num(v.rootHpa)),
    list: {
      entries: "iommu-mt-entry",
      root(lo, hi) {
        const d = decodeIommuMt(lo, hi);
        if (d.violation !== null) return null;
        return { hpa: d.fields.rootHpa, singleton: false, count: null, firstEntry: null };
      },
    },
  },
  "iommu-mt-entry": {
    title: "IOMMU_MT entry",
    layout: IOMMU_MT_ENTRY,
    summary: "a lone IOMMU_MT root-page entry: NUM_PAGES 11:0 (0, or a power of two >= 2), PFN 51:12",
    cName: "IOMMU_MT_ENTRY",
    shown: [
      hpaField("hpa", "HPA"),
      { key: "numPages", label: "NUM_PAGES", type: "number", zeroText: "0 (one order-0 page)" },
    ],
    decode(lo, hi) {
      const { fields: f, violation } = decodeIommuMtEntry(lo, hi);
      return { values: { hpa: f.hpa, numPages: f.numPages }, violation };
    },
    encode: (v) => encodeIommuMtEntry(num(v.hpa), num(v.numPages) === 0 ? 1 : num(v.numPages)),
  },
  "list-entry": {
    title: "HPA_LIST_INFO / HPA_ARRAY_T entry",
    layout: LIST_ENTRY,
    summary: "an HPA_LIST_INFO / HPA_ARRAY_T root-page entry: PFN 51:12, everything else reserved",
    cName: "LIST_ENTRY",
    shown: [hpaField("hpa", "HPA"), { key: "numPages", label: "NUM_PAGES", type: "number" }],
    decode(lo, hi) {
      const { fields: f, violation } = decodeListEntry(lo, hi);
      return { values: { hpa: f.hpa, numPages: f.numPages }, violation };
    },
    encode: (v) => encodeListEntry(num(v.hpa)),
  },
} as const satisfies Record<string, FormatDef>;

/** The u64 kinds of {@link FORMATS}. */
export type FormatKind = keyof typeof FORMATS;

/** The operand formats that name a page list (a root page, or a singleton page). */
export type ListFormat = {
  [K in FormatKind]: (typeof FORMATS)[K] extends { readonly list: object } ? K : never;
}[FormatKind];

/** Every format kind, in table (C enum) order. */
export const FORMAT_KINDS: readonly FormatKind[] = Object.freeze(Object.keys(FORMATS) as FormatKind[]);

/** The {@link ListFormat}s, in table order (the scenario schema's `format` choices). */
export const LIST_FORMATS: readonly ListFormat[] = Object.freeze(
  FORMAT_KINDS.filter((k): k is ListFormat => "list" in FORMATS[k]),
);

/** The row of `kind` (typed as the general {@link FormatDef}). */
export function formatDef(kind: FormatKind): FormatDef {
  return FORMATS[kind];
}

/** True when `s` names a format kind. */
export function isFormatKind(s: unknown): s is FormatKind {
  return typeof s === "string" && Object.hasOwn(FORMATS, s);
}

/** True when `s` names a {@link ListFormat}. */
export function isListFormat(s: unknown): s is ListFormat {
  return isFormatKind(s) && "list" in FORMATS[s];
}
