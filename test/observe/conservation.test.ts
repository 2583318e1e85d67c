/**
 * The conservation check's fast page walk (`ownedPagesAgree`, src/observe/conservation.ts) against the
 * detailed walk it stands in for (`checkConservationInDetail`): on clean machines the fast walk decides
 * (and gives the same counts), on every corruption of a page-walk rule it refuses to decide, and in every
 * state the report of `checkConservation` is the detailed one, message for message. test/observe/judge.test.ts
 * checks that each rule names what it should; this file checks that the shortcut never hides one.
 */
import { describe, expect, it } from "vitest";
import { EXT_POOL_OWNER } from "../../src/host/flows/extensions.js";
import { iommuClearAll } from "../../src/host/flows/iommu.js";
import { strandPages } from "../../src/host/kernel.js";
import type { Machine } from "../../src/machine.js";
import type { ModuleObject } from "../../src/module/emulator.js";
import { PT } from "../../src/module/pamt.js";
import {
  checkConservation,
  checkConservationInDetail,
  ownedPagesAgree,
} from "../../src/observe/conservation.js";
import { forget, freePage, hostPage, judgedMachine } from "../support/judged.js";

/** A machine after the extensions bring-up (`poolPages` pool pages) and IOMMU setup. */
const fixture = (poolPages = 16) => judgedMachine({}, poolPages);

type Fixture = ReturnType<typeof fixture>;
const own = (m: Machine, obj: ModuleObject, pfn: number) => {
  m.module.pamt.set(pfn, PT.EXT_POOL, obj.id);
  obj.pages.push(pfn);
};

/** Each breaks one rule of the page walk (the lists, the PAMT, the allocator, the donated ledger). */
const PAGE_WALK_CORRUPTIONS: readonly [string, (f: Fixture) => void][] = [
  ["owner object dropped", ({ m, unit }) => m.module.dropObject(unit.id)],
  ["a page missing from its object's list", ({ unit }) => void unit.pages.pop()],
  ["an object listing a host page", ({ m, pool }) => void pool.pages.push(hostPage(m))],
  ["a page listed by two objects", ({ pool, unit }) => void unit.pages.push(pool.pages[0]!)],
  ["a page listed twice by one object", ({ pool }) => void pool.pages.push(pool.pages[3]!)],
  [
    "a listed page swapped for an unlisted duplicate",
    ({ pool }) => {
      pool.pages[1] = pool.pages[0]!;
    },
  ],
  ["a non-integer PFN in a list", ({ pool }) => void pool.pages.push(0.5)],
  ["a wrong page type", ({ m, pool }) => m.module.pamt.set(pool.pages[0]!, PT.IOMMU_MT, pool.id)],
  [
    "a page owned by the wrong object",
    ({ m, pool, unit }) => m.module.pamt.set(pool.pages[2]!, PT.EXT_POOL, unit.id),
  ],
  ["a module-owned reserved page", ({ m, pool }) => own(m, pool, 5)],
  ["a module-owned free page", ({ m, pool }) => own(m, pool, freePage(m))],
  [
    "a pool page freed behind the host's back",
    ({ m, pool }) => {
      const hooks = m.alloc.hooks;
      m.alloc.hooks = {};
      m.alloc.freeContigRange(pool.pages[0]!, 1);
      m.alloc.hooks = hooks;
    },
  ],
  [
    "a pool page outside every TDMR",
    ({ m, pool }) => {
      // The pool's first page, which starts a run (the fast walk asks about the ends of each run of
      // consecutive pages: TDMRs are intervals) through tdmrIndex; the detailed walk asks isPrivate,
      // which asks inTdmr (that remembers the TDMR that answered last): both are told.
      const pamt = m.module.pamt;
      const tdmrIndex = pamt.tdmrIndex.bind(pamt);
      const inTdmr = pamt.inTdmr.bind(pamt);
      pamt.tdmrIndex = (pfn) => (pfn === pool.pages[0] ? -1 : tdmrIndex(pfn));
      pamt.inTdmr = (pfn) => pfn !== pool.pages[0] && inTdmr(pfn);
    },
  ],
  [
    "a pool page the allocator calls reserved",
    ({ m, pool }) => {
      // Both of the allocator's questions say so: about one page, and about a run of pages.
      const target = pool.pages[0]!;
      const reserved = m.alloc.isReserved.bind(m.alloc);
      m.alloc.isReserved = (pfn) => pfn === target || reserved(pfn);
      const inRange = m.alloc.reservedInRange.bind(m.alloc);
      m.alloc.reservedInRange = (pfn, n) => (target >= pfn && target < pfn + n) || inRange(pfn, n);
    },
  ],
  [
    "a module-owned page the host holds",
    ({ m, pool }) => {
      forget(m, pool.pages[0]!);
      m.kernel.ledger.held.set(pool.pages[0]!, "test");
    },
  ],
  ["a module-owned page with no host record", ({ m, pool }) => void forget(m, pool.pages[0]!)],
  [
    "donated to another object",
    ({ m, pool, unit }) => void m.kernel.ledger.donated.set(pool.pages[0]!, `iommu ${unit.name}`),
  ],
  ["donated but not module-owned", ({ m }) => void m.kernel.ledger.donated.set(hostPage(m), EXT_POOL_OWNER)],
  ["donated but free", ({ m }) => void m.kernel.ledger.donated.set(freePage(m), EXT_POOL_OWNER)],
  [
    "the PAMT's owned count off by one",
    ({ m }) => void (m.module.pamt as unknown as { ownedCount: number }).ownedCount++,
  ],
];

/** Each breaks a rule outside the page walk, or sets a donated page aside (the detailed walk decides then). */
const OTHER_STATES: readonly [string, (f: Fixture) => void][] = [
  ["a held page that is free", ({ m }) => void m.kernel.ledger.held.set(freePage(m), "test")],
  [
    "a page in two places of the host's ledger",
    ({ m, pool }) => void m.kernel.ledger.held.set(pool.pages[0]!, "test"),
  ],
  [
    "a free of a donated page",
    ({ m, setups }) => {
      const p = setups[0]!.pages[2]!;
      m.alloc.freePages(p, p.order);
    },
  ],
  ["a reported stranded host page", ({ m }) => void strandPages(m.kernel, [hostPage(m)], "test")],
  [
    "a stranded page never reported",
    ({ m }) => {
      strandPages(m.kernel, [hostPage(m)], "test");
      m.kernel.ledger.strandReports.length = 0;
    },
  ],
  [
    "a donated page also lent",
    ({ m, pool }) => void m.kernel.ledger.lent.set(pool.pages[4]!, "TDH.EXT.MEM.ADD"),
  ],
  [
    "a host page leaked at teardown",
    ({ m, setups }) => {
      iommuClearAll(m.kernel, setups);
      hostPage(m);
    },
  ],
];

const sameReport = (m: Machine) => {
  for (const endOfTeardown of [false, true])
    expect(checkConservation(m, { endOfTeardown })).toEqual(checkConservationInDetail(m, { endOfTeardown }));
};

describe("conservation: the fast page walk against the detailed one", () => {
  it.each([16, 1500])("decides a clean %i-page pool, with the detailed walk's counts", (poolPages) => {
    const { m, setups } = fixture(poolPages);
    const agreed = ownedPagesAgree(m);
    const detail = checkConservationInDetail(m);
    expect(detail.ok).toBe(true);
    expect(agreed).toEqual({ byObject: detail.byObject, moduleOwned: detail.totals.moduleOwned });
    expect(Object.keys(agreed!.byObject)).toEqual(Object.keys(detail.byObject));
    sameReport(m);
    expect(iommuClearAll(m.kernel, setups).ok).toBe(true);
    expect(ownedPagesAgree(m)).not.toBeNull();
    sameReport(m);
  });

  // 1,100 pool pages: the allocator is asked about full batches of 1,024 pages, not only the last one.
  it.each(
    PAGE_WALK_CORRUPTIONS.flatMap(([name, corrupt]) => [16, 1100].map((n) => [name, n, corrupt] as const)),
  )("refuses to decide: %s (%i-page pool)", (_, poolPages, corrupt) => {
    const f = fixture(poolPages);
    expect(ownedPagesAgree(f.m)).not.toBeNull();
    corrupt(f);
    expect(ownedPagesAgree(f.m)).toBeNull();
    expect(checkConservation(f.m).ok).toBe(false);
    sameReport(f.m);
  });

  it.each(OTHER_STATES)("reports what the detailed check reports: %s", (_, change) => {
    const f = fixture();
    change(f);
    sameReport(f.m);
  });
});
