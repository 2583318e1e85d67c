/**
 * Issue 15, session 5 (docs/PERFORMANCE.md, "`tdxpa compare`: deoptimisations, machine building and
 * the conservation marks"):
 * - `smallInt` (src/hw/physmem.ts) hands back the very number it was given (`Object.is`), only perhaps
 *   in V8's small-integer form; PFNs and page counts pass through it in the allocator, `Page`, PhysMem's
 *   ranges and the module's run list, so a changed value would change every result;
 * - PhysMem's line table and the PAMT lock table's levels are made on first use: a memory or a lock
 *   table that was never written answers as an empty one, and the first writes (and the table's growth
 *   past its first size) keep every line and every lock findable.
 */
import { describe, expect, it } from "vitest";
import { Page } from "../../src/host/page.js";
import { PageAllocator } from "../../src/host/page-alloc.js";
import { PhysMem, smallInt } from "../../src/hw/physmem.js";
import { PamtLocks } from "../../src/module/locks.js";

const BASE = 0x1_0000_0000;

describe("smallInt keeps the value", () => {
  const cases: number[] = [
    0,
    -0,
    1,
    2,
    1023,
    BASE / 4096,
    Math.floor((BASE + 5 * 4096) / 4096),
    2 ** 30 - 1,
    2 ** 30,
    2 ** 31,
    2 ** 32 + 7,
    2 ** 40,
    1.5,
    0.5,
    -1,
    -(2 ** 31),
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
  ];
  it.each(cases)("%d", (n) => {
    expect(Object.is(smallInt(n), n)).toBe(true);
  });

  it("a page handle and a memory's ranges keep their PFNs", () => {
    const mem = new PhysMem([{ base: 2 ** 44, size: 2 ** 32 }]);
    expect(mem.ranges[0]).toEqual({ startPfn: 2 ** 32, pages: 2 ** 20 });
    const alloc = new PageAllocator(mem);
    for (const pfn of [2 ** 32, 2 ** 32 + 1.5, 2 ** 29, 7, 0])
      expect(Object.is(new Page(alloc, pfn).pfn, pfn)).toBe(true);
    // A contiguous run whose length comes from a division: the same pages as an integer literal gives.
    const a = new PageAllocator(new PhysMem([{ base: BASE, size: 2 ** 26 }]));
    const b = new PageAllocator(new PhysMem([{ base: BASE, size: 2 ** 26 }]));
    const n = (3 * 2 ** 32) / 2 ** 32 + 12;
    expect(a.allocContigPages(n)?.pfn).toBe(b.allocContigPages(15)?.pfn);
    expect(a.stats()).toEqual(b.stats());
  });
});

describe("tables made on first use", () => {
  it("a memory never written reads zeros, zeroes and snapshots nothing, stores no line", () => {
    const mem = new PhysMem([{ base: BASE, size: 64 * 4096 }]);
    const out = { lo: 1, hi: 1 };
    mem.readU64(BASE + 8, out);
    expect(out).toEqual({ lo: 0, hi: 0 });
    mem.zero(BASE / 4096);
    expect(mem.snapshot(BASE / 4096 + 1)).toBeNull();
    expect(mem.storedLines).toBe(0);
    expect(mem.touchedPages).toBe(0);
  });

  it("the first lines and the growth past the first table keep every line", () => {
    const mem = new PhysMem([{ base: BASE, size: 64 * 4096 }]);
    // 3,000 lines (the table starts at 1,024 buckets, half full at 512): every one read back.
    const hpaOf = (i: number) => BASE + (i % 64) * 4096 + Math.floor(i / 64) * 64;
    for (let i = 0; i < 3000; i++) mem.writeU64(hpaOf(i), i + 1, i ^ 0x5a5a);
    expect(mem.storedLines).toBe(3000);
    const out = { lo: 0, hi: 0 };
    for (let i = 0; i < 3000; i++) {
      mem.readU64(hpaOf(i), out);
      if (out.lo !== i + 1 || out.hi !== (i ^ 0x5a5a))
        expect({ i, ...out }).toEqual({ i, lo: i + 1, hi: i ^ 0x5a5a });
    }
    // Zeroing every other page drops its lines; the rest stay findable.
    for (let p = 0; p < 64; p += 2) mem.zero(BASE / 4096 + p);
    expect(mem.storedLines).toBe(1500);
    for (let i = 0; i < 3000; i++) {
      mem.readU64(hpaOf(i), out);
      const want = i % 2 === 0 ? { lo: 0, hi: 0 } : { lo: i + 1, hi: i ^ 0x5a5a };
      if (out.lo !== want.lo || out.hi !== want.hi) expect({ i, ...out }).toEqual({ i, ...want });
    }
  });

  it("a lock table never written is free; its first locks and their release work on every level", () => {
    const locks = new PamtLocks();
    const free = { exclusive: -1, shared: 0, hostPriority: false };
    const pfn = 0x100000 + 3 * 512 + 7;
    expect(locks.entry(pfn)).toEqual(free);
    expect(locks.heldBy(0)).toBe(0);
    expect(locks.acquire(0, pfn, "exclusive")).toBe("ok");
    // Another CPU's walk makes the tables real (the first walk was kept pending on the idle table).
    expect(locks.acquire(1, pfn, "exclusive")).toBe("busy");
    expect(locks.acquire(1, pfn + 1, "exclusive")).toBe("ok");
    // The refused host request set the entry's host-priority bit (the module's rule for host requesters).
    expect(locks.entry(pfn)).toEqual({ exclusive: 0, shared: 0, hostPriority: true });
    expect(locks.entry(pfn + 1)).toEqual({ exclusive: 1, shared: 0, hostPriority: false });
    expect(locks.heldBy(0)).toBe(3);
    expect(locks.releaseAll(0)).toBe(3);
    expect(locks.releaseAll(1)).toBe(3);
    expect(locks.entry(pfn)).toEqual({ ...free, hostPriority: true });
    expect(locks.entry(pfn + 1)).toEqual(free);
    // The host's next walk to the entry takes it and clears the bit.
    expect(locks.acquire(1, pfn, "exclusive")).toBe("ok");
    expect(locks.releaseAll(1)).toBe(3);
    expect(locks.entry(pfn)).toEqual(free);
  });
});
