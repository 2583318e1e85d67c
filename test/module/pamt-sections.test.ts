/**
 * The PAMT's lazily created sections (src/module/pamt.ts) mark reserved areas as runs when a section is
 * created; a page the PAMT never stored reads through the per-page layout rule instead. Both must say the
 * same for every page: reserved areas that start and end inside sections, cross section boundaries, touch
 * a TDMR's edge, and lie in a TDMR next to one without any.
 */
import { describe, expect, it } from "vitest";
import { Pamt, PT } from "../../src/module/pamt.js";
import { toEqual } from "../support/assert.js";

const GIB = 2 ** 30;
const P = 4096;
const tdmrs = [
  {
    base: 0,
    size: GIB,
    reserved: [
      { base: 0, size: 3 * P },
      { base: 1000 * P, size: 50 * P },
      { base: 2047 * P, size: 2 * P },
      { base: (262144 - 5) * P, size: 5 * P },
    ],
  },
  { base: GIB, size: GIB, reserved: [] },
  { base: 4 * GIB, size: GIB, reserved: [{ base: 4 * GIB + 4096 * P, size: 1024 * P }] },
];

describe("PAMT sections created with reserved areas as runs", () => {
  const sections = [0, 1, 2, 255, 256, 1024, 1028, 1029];
  it.each(sections)("section %i reads as the per-page layout rule before and after it exists", (key) => {
    const fresh = new Pamt(tdmrs);
    const stored = new Pamt(tdmrs);
    const base = key * 1024;
    // Create the section in `stored` by storing its last free page (and putting it back).
    let free = base + 1023;
    while (fresh.type(free) !== PT.NDA) free--;
    stored.set(free, PT.EXT_POOL, 7);
    stored.set(free, PT.NDA, 0);
    let reserved = 0;
    for (let pfn = base; pfn < base + 1024; pfn++) {
      expect(stored.type(pfn), `pfn ${pfn}`).toBe(fresh.type(pfn));
      if (fresh.type(pfn) === PT.RSVD) reserved++;
    }
    expect(stored.sectionCount).toBe(1);
    // The chosen sections hold reserved pages except those of the TDMR without any.
    expect(reserved > 0).toBe(![256, 1024, 1029].includes(key));
  });
});

describe("PAMT.forEachOwnedRun: the pages of forEachOwned, grouped into runs of one type and owner", () => {
  /** forEachOwned's pages, grouped by hand: a page joins the run before it when it follows it directly. */
  const byHand = (pamt: Pamt) => {
    const out: [number, number, number, number][] = [];
    pamt.forEachOwned((pfn, type, owner) => {
      const last = out[out.length - 1];
      if (last !== undefined && last[0] + last[1] === pfn && last[2] === type && last[3] === owner) last[1]++;
      else out.push([pfn, 1, type, owner]);
    });
    return out;
  };
  const runsOf = (pamt: Pamt) => {
    const out: [number, number, number, number][] = [];
    pamt.forEachOwnedRun((pfn, n, type, owner) => void out.push([pfn, n, type, owner]));
    return out;
  };

  it("splits on a change of type, of owner and on a gap, joins across sections, skips reserved pages", () => {
    const pamt = new Pamt(tdmrs);
    for (let pfn = 3; pfn < 2100; pfn++) if (pamt.type(pfn) === PT.NDA) pamt.set(pfn, PT.EXT_POOL, 1);
    pamt.set(500, PT.IOMMU_MT, 1);
    pamt.set(501, PT.EXT_POOL, 2);
    pamt.set(600, PT.NDA, 0);
    // Section 1029 (a TDMR without reserved areas) before section 1028 in the PAMT's own order.
    for (let pfn = 1029 * 1024; pfn < 1029 * 1024 + 10; pfn++) pamt.set(pfn, PT.SPDM_MT, 3);
    for (let pfn = 1029 * 1024 - 4; pfn < 1029 * 1024; pfn++) pamt.set(pfn, PT.SPDM_MT, 3);
    const runs = runsOf(pamt);
    toEqual(runs, byHand(pamt));
    expect(runs.slice(0, 6)).toEqual([
      [3, 497, PT.EXT_POOL, 1],
      [500, 1, PT.IOMMU_MT, 1],
      [501, 1, PT.EXT_POOL, 2],
      [502, 98, PT.EXT_POOL, 1],
      [601, 399, PT.EXT_POOL, 1],
      [1050, 997, PT.EXT_POOL, 1],
    ]);
    expect(runs.reduce((s, r) => s + r[1], 0)).toBe(pamt.ownedPages);
  });

  it("agrees with forEachOwned on 300 random PAMTs", () => {
    let seed = 7;
    const rnd = (k: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 16) % k;
    };
    for (let round = 0; round < 300; round++) {
      const pamt = new Pamt(tdmrs);
      for (let w = rnd(8); w >= 0; w--) {
        const start = rnd(4) === 0 ? 1028 * 1024 + rnd(2048) : rnd(3000);
        const len = 1 + rnd(1200);
        const type = [PT.EXT_POOL, PT.IOMMU_MT, PT.NDA][rnd(3)]!;
        const owner = type === PT.NDA ? 0 : 1 + rnd(2);
        for (let pfn = start; pfn < start + len; pfn++)
          if (pamt.type(pfn) !== PT.RSVD) pamt.set(pfn, type, owner);
      }
      toEqual(runsOf(pamt), byHand(pamt));
    }
  });
});

describe("PAMT.privateRun: every page of the run private, asked once", () => {
  it("agrees with isPrivate page by page on runs inside one TDMR, and is never true wrongly", () => {
    let seed = 3;
    const rnd = (k: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 16) % k;
    };
    const pamt = new Pamt(tdmrs);
    // Owned pages around reserved areas, section edges and the end of the first TDMR (PFN 262,144).
    for (const [from, to] of [
      [3, 999],
      [1050, 2047],
      [2049, 5000],
      [262_100, 262_139],
      [262_144, 262_200],
    ] as const)
      for (let pfn = from; pfn < to; pfn++) pamt.set(pfn, PT.EXT_POOL, 1);
    pamt.set(4000, PT.NDA, 0);
    for (let round = 0; round < 2000; round++) {
      const pfn = rnd(3) === 0 ? 262_080 + rnd(150) : rnd(5200);
      const n = 1 + rnd(rnd(2) === 0 ? 40 : 3000);
      let all = true;
      for (let q = pfn; q < pfn + n && all; q++) all = pamt.isPrivate(q);
      const oneTdmr = pamt.tdmrIndex(pfn) >= 0 && pamt.tdmrIndex(pfn) === pamt.tdmrIndex(pfn + n - 1);
      expect(pamt.privateRun(pfn, n), `${pfn} + ${n}`).toBe(all && oneTdmr);
    }
    expect(pamt.privateRun(262_100, 39)).toBe(true);
    expect(pamt.privateRun(262_100, 40)).toBe(false);
    expect(pamt.privateRun(3, 996)).toBe(true);
    expect(pamt.privateRun(3, 997)).toBe(false);
  });
});

describe("PAMT type of a page never stored: the layout rule, the answer for a section without reserved pages cached", () => {
  const layout = (pfn: number): number =>
    tdmrs.some(
      (t) =>
        pfn >= t.base / P &&
        pfn < (t.base + t.size) / P &&
        t.reserved.some((r) => pfn >= r.base / P && pfn < (r.base + r.size) / P),
    )
      ? PT.RSVD
      : PT.NDA;
  const sections = [0, 1, 2, 3, 255, 256, 257, 1024, 1027, 1028, 1029];

  it("page by page through each section, then round robin across sections", () => {
    const pamt = new Pamt(tdmrs);
    for (const key of sections)
      for (let pfn = key * 1024; pfn < key * 1024 + 1024; pfn++)
        expect(pamt.type(pfn), `pfn ${pfn}`).toBe(layout(pfn));
    const other = new Pamt(tdmrs);
    for (let i = 0; i < 1024; i++)
      for (const key of sections) {
        const pfn = key * 1024 + ((i * 37) % 1024);
        expect(other.type(pfn), `pfn ${pfn}`).toBe(layout(pfn));
      }
    expect(other.sectionCount).toBe(0);
  });

  it("a section created after its pages were read reads what is stored", () => {
    const pamt = new Pamt(tdmrs);
    const pfn = 256 * 1024 + 5;
    expect(pamt.type(pfn)).toBe(PT.NDA);
    pamt.set(pfn, PT.EXT_POOL, 3);
    expect(pamt.type(pfn)).toBe(PT.EXT_POOL);
    expect(pamt.type(pfn + 1)).toBe(PT.NDA);
    expect(pamt.owner(pfn)).toBe(3);
  });
});
