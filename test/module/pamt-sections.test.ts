/**
 * The PAMT's lazily created sections (src/module/pamt.ts) mark reserved areas as runs when a section is
 * created; a page the PAMT never stored reads through the per-page layout rule instead. Both must say the
 * same for every page: reserved areas that start and end inside sections, cross section boundaries, touch
 * a TDMR's edge, and lie in a TDMR next to one without any.
 */
import { describe, expect, it } from "vitest";
import { Pamt, PT } from "../../src/module/pamt.js";

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
