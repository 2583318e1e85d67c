/**
 * What a SEAMCALL's root page said: for each leaf that takes a page list, which register names the list,
 * in which format, and the entries as the page holds them after the call (decoded, with any rule a
 * module would apply to them). Used by traces and `tdxpa inspect` so a user sees exactly what a host
 * handed over. Reads simulated memory from the model's vantage point (no cache effects).
 */
import { FORMATS, isListFormat, type ListFormat } from "../common/format-table.js";
import { decodeIommuMtEntry, decodeListEntry } from "../common/formats.js";
import { regName } from "../common/status.js";
import { hpaToPfn, u64ToHex } from "../common/u64.js";
import type { PhysMem } from "../hw/physmem.js";
import type { Platform } from "../hw/platform.js";
import { OPERANDS } from "./describe-call.js";

/** Register holding the page list, and its format, per leaf: the list-format operands of {@link OPERANDS}. */
export const LIST_OPERANDS: Readonly<Record<number, { readonly reg: number; readonly format: ListFormat }>> =
  Object.fromEntries(
    Object.entries(OPERANDS).flatMap(([leaf, ops]) =>
      ops.flatMap(([reg, kind]) => (isListFormat(kind) ? [[leaf, { reg, format: kind }]] : [])),
    ),
  );

/** One decoded root entry. */
export interface RootEntry {
  readonly index: number;
  readonly raw: string;
  readonly hpa: string;
  readonly numPages: number;
  /** The rule the entry breaks, or null. */
  readonly error: string | null;
}

/** A call's page list as the root page holds it. */
export interface RootView {
  readonly register: string;
  readonly format: ListFormat;
  /** The operand exactly as the register held it on entry (`0x` + 16 hex digits). */
  readonly operand: string;
  /** FIRST_ENTRY of an HPA_LIST_INFO operand (where the module starts or resumes), else null. */
  readonly firstEntry: number | null;
  /** The root page, or null when the list is a singleton (no root page). */
  readonly rootHpa: string | null;
  readonly count: number;
  readonly entries: readonly RootEntry[];
}

/**
 * The page list of a call with input registers `regsIn`, read from `mem`; null when the leaf takes no
 * list or the operand does not decode. At most `limit` entries are decoded.
 */
export function readRootView(
  mem: PhysMem,
  platform: Platform,
  leaf: number,
  regsIn: Uint32Array,
  limit = 512,
): RootView | null {
  const spec = LIST_OPERANDS[leaf];
  if (spec === undefined) return null;
  const lo = regsIn[2 * spec.reg]!;
  const hi = regsIn[2 * spec.reg + 1]!;
  const operand = u64ToHex(lo, hi);
  const ref = FORMATS[spec.format].list.root(lo, hi);
  if (ref === null) return null;
  const firstEntry = ref.firstEntry;
  if (ref.singleton) {
    return {
      register: regName(spec.reg)!,
      format: spec.format,
      operand,
      firstEntry,
      rootHpa: null,
      count: 1,
      entries: [
        {
          index: 0,
          raw: u64ToHex(lo & 0xffff_f000, hi & 0x000f_ffff),
          hpa: `0x${ref.hpa.toString(16)}`,
          numPages: 0,
          error: null,
        },
      ],
    };
  }
  const rootHpa = ref.hpa;
  const count = ref.count ?? platform.metadata.IOMMU_MT_PAGE_COUNT + 2;
  const pfn = hpaToPfn(rootHpa % 2 ** platform.keyIds.shift);
  const page = mem.contains(pfn) ? mem.peek(pfn) : undefined;
  const words = page === undefined ? null : new Uint32Array(page.buffer, page.byteOffset, 1024);
  const queuePages = 2 ** platform.metadata.iqOrder;
  const entries: RootEntry[] = [];
  for (let i = 0; i < Math.min(count, limit); i++) {
    const elo = words === null ? (mem.contains(pfn) ? 0 : 0xffff_ffff) : words[2 * i]!;
    const ehi = words === null ? (mem.contains(pfn) ? 0 : 0xffff_ffff) : words[2 * i + 1]!;
    const d =
      FORMATS[spec.format].list.entries === "iommu-mt-entry"
        ? decodeIommuMtEntry(elo, ehi, { index: i, queuePages })
        : decodeListEntry(elo, ehi, i);
    entries.push({
      index: i,
      raw: u64ToHex(elo, ehi),
      hpa: `0x${d.fields.hpa.toString(16)}`,
      numPages: d.fields.numPages,
      error: d.violation?.message ?? null,
    });
  }
  return {
    register: regName(spec.reg)!,
    format: spec.format,
    operand,
    firstEntry,
    rootHpa: `0x${rootHpa.toString(16)}`,
    count,
    entries,
  };
}
