/**
 * The module side: the PAMT, one { page type, owner } entry per 4 KiB page of every TDMR (docs/spec/03-module.md
 * 3.2), kept in lazily created sections of 1024 pages so a 1 TiB platform costs nothing until pages
 * change state.
 *
 * Reserved areas read as PT_RSVD and everything else starts PT_NDA (free). The page types of the
 * extension pool, SPDM session metadata and IDE stream metadata are model-defined (numbers ≥ 32, ledger
 * `model-page-types`), the others are the prototype source's.
 */
import { PAGE_SIZE } from "../common/u64.js";
import type { TdmrSpec } from "../hw/platform.js";

/** PAMT page types. */
export const PT = Object.freeze({
  NDA: 0,
  RSVD: 1,
  REG: 3,
  TDR: 4,
  TDCX: 5,
  TDVPR: 6,
  EPT: 8,
  IOMMU_MT: 11,
  /** Model-defined: extension memory pool page. */
  EXT_POOL: 32,
  /** Model-defined: SPDM session metadata page. */
  SPDM_MT: 33,
  /** Model-defined: IDE stream metadata page. */
  IDE_MT: 34,
});

/** `PT_<name>` by type value, built once (ptName runs per page event: no Object.entries per call). */
const PT_NAMES = new Map<number, string>(Object.entries(PT).map(([n, v]) => [v, `PT_${n}`]));

/** Name of a page type. */
export function ptName(t: number): string {
  return PT_NAMES.get(t) ?? `PT_${t}`;
}

const SECTION = 1024;

/**
 * `pfn % SECTION` for a PFN ≥ 0 without the float `%` (a PFN computed as `hpa / 4096` is a double, and
 * `%` on doubles calls fmod: about 10 ns, measured, on every PAMT read and write of a bring-up).
 */
function offOf(pfn: number): number {
  return pfn - Math.floor(pfn / 1024) * 1024;
}

interface Section {
  readonly type: Uint8Array;
  readonly owner: Uint32Array;
}

interface TdmrPfns {
  readonly start: number;
  readonly end: number;
  readonly reserved: readonly { start: number; end: number }[];
}

/** The PAMT over a platform's TDMRs. */
export class Pamt {
  private readonly tdmrs: readonly TdmrPfns[];
  private readonly sections = new Map<number, Section>();
  /** The section looked up last (walks touch one section for 1024 pages in a row). */
  private lastKey = -1;
  private lastSec: Section | undefined = undefined;
  /**
   * A section key with no section and no reserved page in its 1024 pages (−1: none): {@link type} answers
   * PT_NDA there without asking the layout per page (a host writing a 4 GiB block before it is donated
   * asks a million times, measured 3 % of `compare scenarios/pool-1m.yaml`).
   */
  private bareKey = -1;
  /** The TDMR {@link inTdmr} found last (null: none yet). */
  private lastTdmr: TdmrPfns | null = null;
  /** Pages not PT_NDA and not PT_RSVD (module-owned), for conservation checks. */
  private ownedCount = 0;
  /** Observer of every entry change (traces); null when nobody listens. */
  onChange: ((pfn: number, from: number, to: number, owner: number) => void) | null = null;

  constructor(tdmrs: readonly TdmrSpec[]) {
    this.tdmrs = tdmrs.map((t) => ({
      start: t.base / PAGE_SIZE,
      end: (t.base + t.size) / PAGE_SIZE,
      reserved: t.reserved.map((r) => ({ start: r.base / PAGE_SIZE, end: (r.base + r.size) / PAGE_SIZE })),
    }));
  }

  /** Index of the TDMR covering `pfn`, or −1. */
  tdmrIndex(pfn: number): number {
    for (let i = 0; i < this.tdmrs.length; i++) {
      const t = this.tdmrs[i]!;
      if (pfn >= t.start && pfn < t.end) return i;
    }
    return -1;
  }

  /** True when a TDMR covers `pfn`. */
  inTdmr(pfn: number): boolean {
    // The TDMR that answered last first: walks and checks stay inside one TDMR for many pages.
    const last = this.lastTdmr;
    if (last !== null && pfn >= last.start && pfn < last.end) return true;
    const i = this.tdmrIndex(pfn);
    if (i < 0) return false;
    this.lastTdmr = this.tdmrs[i]!;
    return true;
  }

  private reservedByLayout(pfn: number): boolean {
    for (const t of this.tdmrs) {
      if (pfn < t.start || pfn >= t.end) continue;
      for (const r of t.reserved) if (pfn >= r.start && pfn < r.end) return true;
    }
    return false;
  }

  /** Calls `fn` with each reserved interval inside section `key`, as offsets in the section (from < to). */
  private reservedIn(key: number, fn: (from: number, to: number) => void): void {
    const base = key * SECTION;
    const end = base + SECTION;
    for (const t of this.tdmrs) {
      if (t.end <= base || t.start >= end) continue;
      for (const r of t.reserved) {
        // PFN q is reserved when r.start <= q < r.end inside the TDMR (ceil: bounds need not be whole).
        const from = Math.ceil(Math.max(r.start, t.start, base));
        const to = Math.ceil(Math.min(r.end, t.end, end));
        if (from < to) fn(from - base, to - base);
      }
    }
  }

  private section(pfn: number, create: boolean): Section | undefined {
    const key = Math.floor(pfn / SECTION);
    // The last answer, a missing section included; sections are never removed, so only a creation
    // changes it.
    if (key === this.lastKey && (this.lastSec !== undefined || !create)) return this.lastSec;
    let s = this.sections.get(key);
    if (s === undefined) {
      if (!create) {
        this.lastKey = key;
        this.lastSec = undefined;
        return undefined;
      }
      const type = new Uint8Array(SECTION);
      s = { type, owner: new Uint32Array(SECTION) };
      // Reserved areas as runs: one fill per reserved area overlapping the section (asking
      // `reservedByLayout` per page was most of a section's creation, 13 per 12,800-page bring-up).
      this.reservedIn(key, (from, to) => type.fill(PT.RSVD, from, to));
      this.sections.set(key, s);
    }
    this.lastKey = key;
    this.lastSec = s;
    return s;
  }

  /**
   * True when section `key` has no reserved page; remembered as {@link bareKey}. Apart from {@link type}:
   * the closure would make `type` allocate a context on every call (56 bytes a page, measured).
   */
  private isBare(key: number): boolean {
    let reserved = false;
    this.reservedIn(key, () => {
      reserved = true;
    });
    if (!reserved) this.bareKey = key;
    return !reserved;
  }

  /** Page type of `pfn` (PT_NDA for untouched pages, PT_RSVD in reserved areas). Valid for pfn in a TDMR. */
  type(pfn: number): number {
    const s = this.section(pfn, false);
    if (s !== undefined) return s.type[offOf(pfn)]!;
    const key = Math.floor(pfn / SECTION);
    if (key === this.bareKey || this.isBare(key)) return PT.NDA;
    return this.reservedByLayout(pfn) ? PT.RSVD : PT.NDA;
  }

  /** Owner object id of `pfn` (0: none). */
  owner(pfn: number): number {
    return this.section(pfn, false)?.owner[offOf(pfn)] ?? 0;
  }

  /** True when `pfn` is module-owned: in a TDMR and neither PT_NDA nor PT_RSVD. */
  isPrivate(pfn: number): boolean {
    const t = this.type(pfn);
    return t !== PT.NDA && t !== PT.RSVD && this.inTdmr(pfn);
  }

  /**
   * True when all `n` pages from `pfn` (n ≥ 1) are module-owned ({@link isPrivate} of each): the run lies
   * in one TDMR (its first and last pages do: TDMRs are intervals) and no page is PT_NDA or PT_RSVD.
   * False when a page is not, and also for a run across two TDMRs (ask page by page then).
   */
  privateRun(pfn: number, n: number): boolean {
    const t = this.tdmrIndex(pfn);
    if (t < 0 || this.tdmrIndex(pfn + n - 1) !== t) return false;
    for (let q = pfn, end = pfn + n; q < end; ) {
      const s = this.section(q, false);
      if (s === undefined) return false;
      const i0 = offOf(q);
      const lim = Math.min(SECTION, i0 + (end - q));
      const type = s.type;
      for (let i = i0; i < lim; i++) {
        const ty = type[i]!;
        if (ty === PT.NDA || ty === PT.RSVD) return false;
      }
      q += lim - i0;
    }
    return true;
  }

  /** Sets a page's type and owner. Valid for pfn in a TDMR and not reserved. */
  set(pfn: number, type: number, owner: number): void {
    const s = this.section(pfn, true)!;
    const i = offOf(pfn);
    const was = s.type[i]!;
    const wasOwned = was !== PT.NDA && was !== PT.RSVD;
    const isOwned = type !== PT.NDA && type !== PT.RSVD;
    if (wasOwned !== isOwned) this.ownedCount += isOwned ? 1 : -1;
    s.type[i] = type;
    s.owner[i] = owner;
    this.onChange?.(pfn, was, type, owner);
  }

  /** Number of module-owned pages. */
  get ownedPages(): number {
    return this.ownedCount;
  }

  /**
   * Calls `fn` for every module-owned page (pfn, type, owner) in section order, without an array per page (a
   * 1,048,576-page conservation check spent much of its time collecting those arrays, measured).
   */
  forEachOwned(fn: (pfn: number, type: number, owner: number) => void): void {
    for (const [key, s] of this.sections) {
      const base = key * SECTION;
      const type = s.type;
      for (let i = 0; i < SECTION; i++) {
        const t = type[i]!;
        if (t !== PT.NDA && t !== PT.RSVD) fn(base + i, t, s.owner[i]!);
      }
    }
  }

  /**
   * Calls `fn` once per run of consecutive module-owned pages with one type and one owner (first PFN, page
   * count, type, owner), in the order {@link forEachOwned} meets the pages: the same pages, grouped. A run
   * continues across sections when the next section in that order starts where it ended. The conservation
   * check's fast walk decides a run at a time (a pool is a few runs, not a million calls).
   */
  forEachOwnedRun(fn: (pfn: number, n: number, type: number, owner: number) => void): void {
    let start = -1;
    let n = 0;
    let rt = 0;
    let ro = 0;
    for (const [key, s] of this.sections) {
      const base = key * SECTION;
      const type = s.type;
      const owner = s.owner;
      let i = 0;
      while (i < SECTION) {
        const t = type[i]!;
        if (t === PT.NDA || t === PT.RSVD) {
          i++;
          continue;
        }
        const o = owner[i]!;
        let j = i + 1;
        while (j < SECTION && type[j] === t && owner[j] === o) j++;
        if (n > 0 && start + n === base + i && t === rt && o === ro) n += j - i;
        else {
          if (n > 0) fn(start, n, rt, ro);
          start = base + i;
          n = j - i;
          rt = t;
          ro = o;
        }
        i = j;
      }
    }
    if (n > 0) fn(start, n, rt, ro);
  }

  /** Number of sections allocated (memory the PAMT spends). */
  get sectionCount(): number {
    return this.sections.size;
  }
}
