/**
 * The page conservation check: proves, at any point of a run, that every page is in exactly one place
 * (free in the allocator, held by a host caller, owned by the module and by which object, stranded and
 * reported, or reserved) and that no page the PAMT calls private is free in the allocator or held by
 * the host for its own use.
 *
 * This is the model's vantage point: it reads the allocator, the host's ledger and the PAMT together,
 * which neither side can do. Cost is proportional to allocated blocks and module-owned pages, not to
 * the size of memory, so it runs after every step of a flow on a 1 TiB machine.
 */

import { STRANDED_TAG } from "../host/kernel.js";
import type { Machine } from "../machine.js";
import { ptName } from "../module/pamt.js";

/** Counts of 4 KiB pages by place. They add up to `total` when the check passes. */
export interface ConservationTotals {
  readonly total: number;
  readonly free: number;
  readonly reserved: number;
  readonly hostHeld: number;
  readonly moduleOwned: number;
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

const MAX_LISTED = 50;

/** Runs the check on a machine. */
export function checkConservation(m: Machine): ConservationReport {
  const { alloc, module, kernel } = m;
  const violations: string[] = [];
  let count = 0;
  const flag = (s: string) => {
    count++;
    if (violations.length < MAX_LISTED) violations.push(s);
  };
  const hex = (pfn: number) => `0x${(pfn * 4096).toString(16)}`;
  const ledger = kernel.ledger;
  const byObject: Record<string, number> = {};
  let moduleOwned = 0;

  for (const [pfn, type, owner] of module.pamt.owned()) {
    const obj = module.objects.get(owner);
    const name = obj?.name ?? `object ${owner}`;
    byObject[name] = (byObject[name] ?? 0) + 1;
    if (obj === undefined)
      flag(`page ${hex(pfn)} is ${ptName(type)} owned by object ${owner}, which the module no longer has`);
    if (alloc.isReserved(pfn))
      flag(`page ${hex(pfn)} is module-owned (${ptName(type)}) but reserved in the allocator`);
    else if (alloc.isFree(pfn))
      flag(`page ${hex(pfn)} is module-owned (${ptName(type)}, ${name}) but free in the host allocator`);
    if (ledger.stranded.has(pfn)) continue;
    if (!ledger.donated.has(pfn))
      flag(
        `page ${hex(pfn)} is module-owned (${ptName(type)}, ${name}) but the host holds it for its own use`,
      );
    else moduleOwned++;
  }

  for (const pfn of ledger.donated.keys()) {
    if (!module.pamt.isPrivate(pfn))
      flag(
        `page ${hex(pfn)}: the host believes it donated it (${ledger.donated.get(pfn)}) but the module does not own it`,
      );
  }

  const reported = new Set<number>();
  for (const r of ledger.strandReports) for (const p of r.pfns) reported.add(p);
  let strandedTagged = 0;
  for (const pfn of ledger.stranded.keys()) {
    if (!reported.has(pfn)) flag(`page ${hex(pfn)} is stranded but was never reported`);
    if (alloc.isFree(pfn))
      flag(`stranded page ${hex(pfn)} is free in the allocator (a stranded page was reused)`);
    else if (alloc.tagOf(pfn) === STRANDED_TAG) strandedTagged++;
    else flag(`stranded page ${hex(pfn)} carries allocator tag ${alloc.tagOf(pfn)}, not ${STRANDED_TAG}`);
  }

  const s = alloc.stats();
  const stranded = ledger.stranded.size;
  const taggedStranded = s.byTag[STRANDED_TAG] ?? 0;
  if (taggedStranded !== strandedTagged) {
    flag(`allocator shows ${taggedStranded} pages tagged stranded, the host's ledger ${strandedTagged}`);
  }
  const hostHeld = s.allocatedPages - moduleOwned - taggedStranded;
  if (hostHeld < 0)
    flag(
      `more pages module-owned or stranded (${moduleOwned + taggedStranded}) than allocated (${s.allocatedPages})`,
    );
  const totals: ConservationTotals = {
    total: s.totalPages,
    free: s.freePages,
    reserved: s.reservedPages,
    hostHeld,
    moduleOwned,
    stranded,
  };
  if (
    totals.free + totals.reserved + totals.hostHeld + totals.moduleOwned + totals.stranded !==
    totals.total
  ) {
    flag(
      `pages by place add up to ${totals.free + totals.reserved + totals.hostHeld + totals.moduleOwned + totals.stranded}, not ${totals.total}`,
    );
  }
  return { ok: count === 0, totals, byObject, violations, violationCount: count };
}
