/**
 * The page conservation check (02-kapi.md 2.6, 03-module.md 3.2): proves, at any point of a run, that
 * every page is in exactly one consistent place across three independent ledgers and the allocator:
 *
 * - the host's own record (`HostLedger`, src/host/kernel.ts): pages it holds, donated (to which object),
 *   lent to an interrupted call, stranded (and whether each stranding was reported), and frees it made of
 *   pages it had not got back; written by the host side only;
 * - the PAMT: page type and owner object of every module-owned page;
 * - each module object's own page list (the extension pool, every IOMMU, SPDM session and IDE stream);
 * - and the host allocator: free, reserved or allocated.
 *
 * No figure is computed as a remainder: free and reserved pages come from the allocator, held, donated,
 * lent and stranded pages from the host's ledger, module-owned pages from the PAMT, and the check
 * compares them. At the end of a teardown (`endOfTeardown`) the host must hold no page at all: every
 * page it allocated was freed, is still donated to a live object, or was stranded and reported.
 *
 * This is the model's vantage point: it reads the PAMT and the module's objects, which no host can do
 * (both are the model's privileged view). Cost is proportional to allocated and module-owned pages, not
 * to the size of memory.
 */

import { PfnLabelMap } from "../common/pfn-map.js";
import { pfnToHpa } from "../common/u64.js";
import { STRANDED_TAG } from "../host/kernel.js";
import type { Machine } from "../machine.js";
import type { ModuleObject, ObjectKind } from "../module/emulator.js";
import { PT, ptName } from "../module/pamt.js";
import { forEachPfnRun, RunListObject } from "../module/records.js";

/** Counts of 4 KiB pages by place, each read from its own ledger. They add up to `total` when the check passes. */
export interface ConservationTotals {
  readonly total: number;
  /** Free in the allocator (its free lists). */
  readonly free: number;
  /** Reserved in the allocator. */
  readonly reserved: number;
  /** Held by the host for its own use (the host's ledger). */
  readonly hostHeld: number;
  /** Donated by the host (its ledger) and owned by the module (the PAMT). */
  readonly moduleOwned: number;
  /** Stranded by the host (its ledger). */
  readonly stranded: number;
}

/** Result of {@link checkConservation}. */
export interface ConservationReport {
  readonly ok: boolean;
  readonly totals: ConservationTotals;
  /** Module-owned pages by owner object name. */
  readonly byObject: Readonly<Record<string, number>>;
  /** Every rule broken, one line each (at most 50 listed; `violationCount` has the total). */
  readonly violations: readonly string[];
  readonly violationCount: number;
}

/** Options of {@link checkConservation}. */
export interface ConservationOptions {
  /** The run has finished its teardown: the host must hold no page except reported strandings. */
  readonly endOfTeardown?: boolean;
}

const MAX_LISTED = 50;

/** The PAMT page type each kind of module object gives its pages. */
const TYPE_OF_KIND: Readonly<Record<ObjectKind, number>> = {
  "ext-pool": PT.EXT_POOL,
  iommu: PT.IOMMU_MT,
  spdm: PT.SPDM_MT,
  ide: PT.IDE_MT,
  td: PT.TDR,
};

/**
 * True when the host's label for a donated page names `obj`: the object's own name ("extension memory
 * pool", "spdm dev0"), the object's name up to a word ("ide nvme0" for "ide nvme0 rp0/0"), its kind and name ("iommu DMAR0"), or its kind and id ("iommu #3", what the raw
 * call recorder writes).
 */
export function labelNames(label: string, obj: ModuleObject): boolean {
  return (
    label === obj.name ||
    obj.name.startsWith(`${label} `) ||
    label === `${obj.kind} ${obj.name}` ||
    label === `${obj.kind} #${obj.id}`
  );
}

/**
 * Runs the check on a machine. The page walk (each object's list, every module-owned page, the host's
 * donated pages) is first decided without a message per page by {@link ownedPagesAgree}; only when it
 * finds something (or cannot tell) does the detailed walk of {@link checkConservationInDetail} run and
 * name each broken rule. Either way the report is the same (test/observe/conservation.test.ts compares them).
 */
export function checkConservation(m: Machine, opts: ConservationOptions = {}): ConservationReport {
  const agreed = ownedPagesAgree(m);
  if (agreed === null) return checkConservationInDetail(m, opts);
  return checkHostLedger(m, opts, agreed.byObject, agreed.moduleOwned, { violations: [], count: 0 });
}

/** Broken rules found so far: at most {@link MAX_LISTED} listed, all counted. */
interface Findings {
  readonly violations: string[];
  count: number;
}

const hex = (pfn: number) => `0x${pfnToHpa(pfn).toString(16)}`;

/**
 * The check page by page, naming every broken rule: what {@link checkConservation} returns. Exported as
 * the reference its fast path is compared with.
 */
export function checkConservationInDetail(m: Machine, opts: ConservationOptions = {}): ConservationReport {
  const { alloc, module, kernel } = m;
  const found: Findings = { violations: [], count: 0 };
  const flag = (s: string) => {
    found.count++;
    if (found.violations.length < MAX_LISTED) found.violations.push(s);
  };
  const ledger = kernel.ledger;
  const byObject: Record<string, number> = {};
  let moduleOwned = 0;
  let pamtOwned = 0;

  // Each object's own list against the PAMT: the PAMT must say the object owns every page it lists,
  // and no page may be listed twice.
  const listedBy = new PfnLabelMap();
  for (const obj of module.objects.values()) {
    const id = String(obj.id);
    for (const pfn of obj.pages) {
      const other = listedBy.get(pfn);
      if (other !== undefined) {
        flag(`page ${hex(pfn)} is listed by ${obj.name} and by object ${other}`);
        continue;
      }
      listedBy.set(pfn, id);
      if (!module.pamt.isPrivate(pfn) || module.pamt.owner(pfn) !== obj.id)
        flag(
          `page ${hex(pfn)} is listed by ${obj.name} but the PAMT says ${ptName(module.pamt.type(pfn))} owned by object ${module.pamt.owner(pfn)}`,
        );
    }
  }

  // Every module-owned page: its owner object, that object's list, the allocator, the host's record.
  // Consecutive pages nearly always carry the same label and owner: {@link labelNames} (which builds
  // strings) is asked once per change of either, not once per page (garbage at a million pages).
  let lastLabel = "";
  let lastObj: ModuleObject | undefined;
  let lastNames = false;
  const labelNamesObj = (label: string, obj: ModuleObject): boolean => {
    if (label !== lastLabel || obj !== lastObj) {
      lastLabel = label;
      lastObj = obj;
      lastNames = labelNames(label, obj);
    }
    return lastNames;
  };
  module.pamt.forEachOwned((pfn, type, owner) => {
    pamtOwned++;
    const obj = module.objects.get(owner);
    const name = obj?.name ?? `object ${owner}`;
    byObject[name] = (byObject[name] ?? 0) + 1;
    if (obj === undefined)
      flag(`page ${hex(pfn)} is ${ptName(type)} owned by object ${owner}, which the module no longer has`);
    else {
      if (listedBy.get(pfn) !== String(owner))
        flag(
          `page ${hex(pfn)} is ${ptName(type)} owned by ${name} in the PAMT but not in ${name}'s page list`,
        );
      if (TYPE_OF_KIND[obj.kind] !== type)
        flag(`page ${hex(pfn)} is ${ptName(type)} but its owner ${name} is a ${obj.kind} object`);
    }
    if (alloc.isReserved(pfn))
      flag(`page ${hex(pfn)} is module-owned (${ptName(type)}) but reserved in the allocator`);
    else if (alloc.isFree(pfn))
      flag(`page ${hex(pfn)} is module-owned (${ptName(type)}, ${name}) but free in the host allocator`);
    if (ledger.stranded.has(pfn) || ledger.lent.has(pfn)) return;
    const label = ledger.donated.get(pfn);
    if (label !== undefined) {
      moduleOwned++;
      if (obj !== undefined && !labelNamesObj(label, obj))
        flag(`page ${hex(pfn)} is owned by ${name} but the host believes it donated it to ${label}`);
    } else if (ledger.held.has(pfn))
      flag(
        `page ${hex(pfn)} is module-owned (${ptName(type)}, ${name}) but the host holds it for its own use`,
      );
    else flag(`page ${hex(pfn)} is module-owned (${ptName(type)}, ${name}) but the host has no record of it`);
  });
  if (pamtOwned !== module.pamt.ownedPages)
    flag(`the PAMT counts ${module.pamt.ownedPages} module-owned pages but lists ${pamtOwned}`);

  // The host's record against the PAMT and the allocator.
  for (const [pfn, owner] of ledger.donated) {
    if (!module.pamt.isPrivate(pfn))
      flag(`page ${hex(pfn)}: the host believes it donated it (${owner}) but the module does not own it`);
    if (alloc.isFree(pfn))
      flag(`page ${hex(pfn)}: the host believes it donated it (${owner}) but it is free`);
  }
  return checkHostLedger(m, opts, byObject, moduleOwned, found);
}

/**
 * Sections a finished check gave back, all zeros, for the next check's {@link PfnMarks} (at most
 * {@link SPARE_LIMIT}). A design comparison checks about 2,300 machines whose pools span a dozen
 * sections each: a new 4 KiB typed array per section and check was memory outside V8's heap, allocated
 * and collected each time (issue 15).
 */
const spareSections: Uint32Array[] = [];
const SPARE_LIMIT = 64;

/**
 * PFN → a number (here: the id + 1 of the object listing the page), in lazily created sections of 1024
 * frames; 0 means unmarked. Local to one check, which gives its sections back with {@link release}.
 */
class PfnMarks {
  private readonly sections = new Map<number, Uint32Array>();
  private lastKey = -1;
  private lastSec: Uint32Array | undefined;

  private sec(pfn: number, create: boolean): Uint32Array | undefined {
    const key = Math.floor(pfn / 1024);
    if (key === this.lastKey) return this.lastSec;
    let s = this.sections.get(key);
    if (s === undefined) {
      if (!create) return undefined;
      s = spareSections.pop() ?? new Uint32Array(1024);
      this.sections.set(key, s);
    }
    this.lastKey = key;
    this.lastSec = s;
    return s;
  }

  /**
   * Marks the `n` PFNs from `pfn` with `v` (1..2^32 − 1), one `fill` per section; false when they are not
   * all PFNs (safe non-negative integers). A PFN marked again keeps the last mark.
   */
  markRun(pfn: number, n: number, v: number): boolean {
    if (!(Number.isSafeInteger(pfn) && pfn >= 0 && Number.isSafeInteger(pfn + n))) return false;
    for (let q = pfn, end = pfn + n; q < end; ) {
      const s = this.sec(q, true)!;
      const i0 = q - Math.floor(q / 1024) * 1024; // not `%`: fmod on a double PFN (see module/pamt.ts offOf)
      const i1 = Math.min(1024, i0 + (end - q));
      s.fill(v, i0, i1);
      q += i1 - i0;
    }
    return true;
  }

  /** Zeroes the sections and keeps them (up to {@link SPARE_LIMIT} in all) for the next check; empties the marks. */
  release(): void {
    for (const s of this.sections.values()) {
      if (spareSections.length >= SPARE_LIMIT) break;
      spareSections.push(s.fill(0));
    }
    this.sections.clear();
    this.lastKey = -1;
    this.lastSec = undefined;
  }

  /** True when the `n` PFNs from `pfn` (PFNs the PAMT walked, n ≥ 1) all carry the mark `v`. */
  allAre(pfn: number, n: number, v: number): boolean {
    for (let q = pfn, end = pfn + n; q < end; ) {
      const s = this.sec(q, false);
      if (s === undefined) return false;
      const i0 = q - Math.floor(q / 1024) * 1024;
      const i1 = Math.min(1024, i0 + (end - q));
      for (let i = i0; i < i1; i++) if (s[i] !== v) return false;
      q += i1 - i0;
    }
    return true;
  }
}

/** What {@link ownedPagesAgree} returns when the page walk holds. */
export interface OwnedPagesSummary {
  /** Module-owned pages by owner object name, in the order the PAMT walk meets the names. */
  readonly byObject: Record<string, number>;
  /** Module-owned pages the host's ledger says it donated (not stranded, not lent). */
  readonly moduleOwned: number;
}

/**
 * The page walk of {@link checkConservationInDetail} (each object's list against the PAMT, every
 * module-owned page against its object, the allocator and the host's ledger, the host's donated pages
 * against the PAMT and the allocator) decided with numbers only, no string built or compared per page:
 * the per-object counts and `moduleOwned` when every rule of that walk holds, or null when one may not,
 * and the caller then runs the detailed walk, which names each broken rule. Never null for a
 * consistent machine unless a donated page is also stranded or lent (the detailed walk then decides).
 *
 * Why the fewer tests cover the same rules (L listings, P pages the PAMT walk meets):
 * - every listed PFN is marked with its lister's id (the last lister's, for a PFN listed twice);
 * - every walked page must carry its owner's mark: the P owned pages are among the at most L distinct
 *   listed ones, so P = L means no PFN is listed twice and the two sets are equal; then each listed page
 *   carries its only lister's mark, so it is owned by that object and, being walked (type neither PT_NDA
 *   nor PT_RSVD) inside a TDMR, private;
 * - allocated (the allocator's `allAllocated`, the run's blocks) and not reserved implies not free;
 * - the donated pages the walk meets are distinct and all private and allocated; when their number is
 *   the size of the host's donated map, that map holds no other page.
 * The PAMT is walked a run of pages of one type and owner at a time (`forEachOwnedRun`), and each run is
 * checked with loops over typed arrays (its marks, the host's label of the whole run with
 * `PfnLabelMap.runLabel`) and one call per run, the allocator's included (`reservedInRange`, `allAllocated`).
 * 1,048,576 pool pages: 0.36 s per check in the detailed walk; here 0.05 s with a callback per page, now
 * 0.03 s (warm; docs/PERFORMANCE.md).
 */
export function ownedPagesAgree(m: Machine): OwnedPagesSummary | null {
  const marks = new PfnMarks();
  try {
    return walkOwnedPages(m, marks);
  } finally {
    marks.release();
  }
}

/** {@link ownedPagesAgree} with its marks (empty when called). */
function walkOwnedPages(m: Machine, marks: PfnMarks): OwnedPagesSummary | null {
  const { alloc, module, kernel } = m;
  const pamt = module.pamt;
  const ledger = kernel.ledger;
  let listed = 0;
  for (const obj of module.objects.values()) {
    const id = obj.id;
    if (!(Number.isInteger(id) && id >= 0 && id < 0xffff_ffff)) return null;
    // Lists are mostly runs of consecutive PFNs (a chunk of the pool): one mark per run. The pool's list
    // is kept as runs (RunListObject): walked as such, never built as a million-entry array.
    let ok = true;
    const mark = (first: number, n: number): void => {
      if (ok && !marks.markRun(first, n, id + 1)) ok = false;
    };
    if (obj instanceof RunListObject) {
      obj.forEachRun(mark);
      listed += obj.pageCount;
    } else {
      forEachPfnRun(obj.pages, mark);
      listed += obj.pages.length;
    }
    if (!ok) return null;
  }

  let agree = true;
  let walked = 0;
  let moduleOwned = 0;
  // The current run of pages of one owner: its object, the page type its kind gives, its count so far.
  let owner = -1;
  let obj: ModuleObject | undefined;
  let wantType = -1;
  let run = 0;
  const counts = new Map<number, number>();
  let lastLabel: string | undefined;
  let labelObj: ModuleObject | undefined;
  let labelOk = false;
  const mayBeSetAside = ledger.stranded.size > 0 || ledger.lent.size > 0;
  let runStart = -2;
  let runEnd = -2;
  const runInOneTdmr = (): boolean => {
    if (runStart >= 0) {
      const t = pamt.tdmrIndex(runStart);
      if (t < 0 || pamt.tdmrIndex(runEnd) !== t) agree = false;
    }
    return agree;
  };
  const donated = ledger.donated;
  // Per page, only loops over typed arrays; every call below is once per run of pages of one owner.
  const pageByPage = (first: number, count: number): void => {
    for (let pfn = first, end = first + count; pfn < end; pfn++) {
      if (mayBeSetAside && (ledger.stranded.has(pfn) || ledger.lent.has(pfn))) continue;
      const label = donated.get(pfn);
      if (label === undefined) {
        agree = false;
        return;
      }
      moduleOwned++;
      if (label !== lastLabel || obj !== labelObj) {
        lastLabel = label;
        labelObj = obj;
        labelOk = labelNames(label, obj!);
      }
      if (!labelOk) {
        agree = false;
        return;
      }
    }
  };
  pamt.forEachOwnedRun((first, count, type, o) => {
    walked += count;
    if (!agree) return;
    if (o !== owner) {
      if (owner >= 0) counts.set(owner, (counts.get(owner) ?? 0) + run);
      owner = o;
      run = 0;
      obj = module.objects.get(o);
      if (obj === undefined) {
        agree = false;
        return;
      }
      wantType = TYPE_OF_KIND[obj.kind];
    }
    run += count;
    if (type !== wantType || !marks.allAre(first, count, o + 1)) {
      agree = false;
      return;
    }
    const end = first + count;
    if (alloc.reservedInRange(first, count)) {
      agree = false;
      return;
    }
    // A run of consecutive PFNs lies in one TDMR when its first and last pages do (TDMRs are intervals):
    // asked once per run, not per page.
    if (first !== runEnd + 1) {
      if (!runInOneTdmr()) return;
      runStart = first;
    }
    runEnd = end - 1;
    if (!alloc.allAllocated(first, count)) {
      agree = false;
      return;
    }
    // The host's label: one answer for the whole run when every page carries the same one.
    const label = mayBeSetAside ? null : donated.runLabel(first, count);
    if (label === null) {
      pageByPage(first, count);
      return;
    }
    moduleOwned += count;
    if (label !== lastLabel || obj !== labelObj) {
      lastLabel = label;
      labelObj = obj;
      labelOk = labelNames(label, obj!);
    }
    if (!labelOk) agree = false;
  });
  if (!runInOneTdmr()) return null;
  if (walked !== pamt.ownedPages || listed !== walked || moduleOwned !== ledger.donated.size) return null;
  if (owner >= 0) counts.set(owner, (counts.get(owner) ?? 0) + run);
  const byObject: Record<string, number> = {};
  for (const [o, pages] of counts) {
    const name = module.objects.get(o)!.name;
    byObject[name] = (byObject[name] ?? 0) + pages;
  }
  return { byObject, moduleOwned };
}

/**
 * The entries of a PFN map; none, without a walk over its sections, when it is empty (a map keeps the
 * sections of pages it no longer holds: the host's `held` after a 1,048,576-page donation is empty but
 * spans 1,024 sections; skipping them took `tdxpa run scenarios/pool-1m.yaml` from 1.05 to 1.03 s CPU).
 */
const entriesOf = (map: PfnLabelMap): Iterable<[number, string]> => (map.size === 0 ? [] : map);

/**
 * The rest of the check, after the page walk: the host's held, lent and stranded pages and its frees
 * against the allocator, the totals, and the end-of-teardown rule. Adds to `found`.
 */
function checkHostLedger(
  m: Machine,
  opts: ConservationOptions,
  byObject: Record<string, number>,
  moduleOwned: number,
  found: Findings,
): ConservationReport {
  const { alloc, kernel } = m;
  const ledger = kernel.ledger;
  const violations = found.violations;
  const flag = (s: string) => {
    found.count++;
    if (violations.length < MAX_LISTED) violations.push(s);
  };
  for (const [pfn, tag] of entriesOf(ledger.held)) {
    if (alloc.isFree(pfn)) flag(`page ${hex(pfn)}: the host believes it holds it (${tag}) but it is free`);
    if (ledger.donated.has(pfn) || ledger.stranded.has(pfn) || ledger.lent.has(pfn))
      flag(`page ${hex(pfn)} is in two places of the host's ledger`);
  }
  for (const [pfn, what] of entriesOf(ledger.lent)) {
    if (alloc.isFree(pfn)) flag(`page ${hex(pfn)}: the host believes it lent it (${what}) but it is free`);
  }
  for (const f of ledger.misfrees)
    flag(`page ${hex(f.pfn)} was freed while the host's ledger had it ${f.was}`);

  const reported = new Set<number>();
  for (const r of ledger.strandReports) for (const p of r.pfns) reported.add(p);
  for (const pfn of ledger.stranded.keys()) {
    if (!reported.has(pfn)) flag(`page ${hex(pfn)} is stranded but was never reported`);
    if (alloc.isFree(pfn))
      flag(`stranded page ${hex(pfn)} is free in the allocator (a stranded page was reused)`);
    else if (alloc.tagOf(pfn) !== STRANDED_TAG)
      flag(`stranded page ${hex(pfn)} carries allocator tag ${alloc.tagOf(pfn)}, not ${STRANDED_TAG}`);
  }

  const s = alloc.stats();
  const held = ledger.held.size;
  const donated = ledger.donated.size;
  const lent = ledger.lent.size;
  const stranded = ledger.stranded.size;
  const taggedStranded = s.byTag[STRANDED_TAG] ?? 0;
  if (taggedStranded !== stranded)
    flag(`allocator shows ${taggedStranded} pages tagged stranded, the host's ledger ${stranded}`);
  if (s.allocatedPages !== held + donated + lent + stranded)
    flag(
      `the allocator has ${s.allocatedPages} pages allocated, the host's ledger accounts for ${held + donated + lent + stranded} (held ${held}, donated ${donated}, lent ${lent}, stranded ${stranded})`,
    );
  const sum = s.freePages + s.reservedPages + held + donated + lent + stranded;
  if (sum !== s.totalPages) flag(`pages by place add up to ${sum}, not ${s.totalPages}`);

  if (opts.endOfTeardown === true) {
    for (const [pfn, tag] of entriesOf(ledger.held))
      flag(
        `page ${hex(pfn)} (${tag}) is still held by the host after teardown: never freed and never reported stranded`,
      );
    for (const [pfn, what] of entriesOf(ledger.lent))
      flag(`page ${hex(pfn)} is still lent to ${what} after teardown`);
  }

  const count = found.count;
  const totals: ConservationTotals = {
    total: s.totalPages,
    free: s.freePages,
    reserved: s.reservedPages,
    hostHeld: held,
    moduleOwned,
    stranded,
  };
  return { ok: count === 0, totals, byObject, violations, violationCount: count };
}
