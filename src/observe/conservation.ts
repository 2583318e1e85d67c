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

/** Runs the check on a machine. */
export function checkConservation(m: Machine, opts: ConservationOptions = {}): ConservationReport {
  const { alloc, module, kernel } = m;
  const violations: string[] = [];
  let count = 0;
  const flag = (s: string) => {
    count++;
    if (violations.length < MAX_LISTED) violations.push(s);
  };
  const hex = (pfn: number) => `0x${pfnToHpa(pfn).toString(16)}`;
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
  for (const [pfn, tag] of ledger.held) {
    if (alloc.isFree(pfn)) flag(`page ${hex(pfn)}: the host believes it holds it (${tag}) but it is free`);
    if (ledger.donated.has(pfn) || ledger.stranded.has(pfn) || ledger.lent.has(pfn))
      flag(`page ${hex(pfn)} is in two places of the host's ledger`);
  }
  for (const [pfn, what] of ledger.lent) {
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
    for (const [pfn, tag] of ledger.held)
      flag(
        `page ${hex(pfn)} (${tag}) is still held by the host after teardown: never freed and never reported stranded`,
      );
    for (const [pfn, what] of ledger.lent) flag(`page ${hex(pfn)} is still lent to ${what} after teardown`);
  }

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
