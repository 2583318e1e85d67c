/**
 * The root-page writer of src/host/page-array.ts (populateRoot, through create and repopulate) against a
 * plain bigint oracle of docs/spec/01-formats.md 1.2 (entry = HPA | NUM_PAGES of a multi-page block), on
 * memory placed where the 32-bit shortcuts of the hot loop could go wrong: across PFN 2^32 (16 TiB) and
 * just below the 2^52 address limit.
 */
import { describe, expect, it } from "vitest";
import type { Regs } from "../../src/common/seamcall.js";
import { REG } from "../../src/common/status.js";
import { u64ToBigint } from "../../src/common/u64.js";
import { createHostKernel } from "../../src/host/kernel.js";
import type { Page } from "../../src/host/page.js";
import { PageAllocator } from "../../src/host/page-alloc.js";
import { tdxPageArrayCreate, tdxPageArrayRepopulate } from "../../src/host/page-array.js";
import { PhysMem } from "../../src/hw/physmem.js";
import { toBe } from "../support/assert.js";

function host(base: number, size: number) {
  const mem = new PhysMem([{ base, size }]);
  const alloc = new PageAllocator(mem);
  const seamcall = (r: Regs) => r.set(REG.RAX, { lo: 0, hi: 0 });
  const k = createHostKernel({ mem, alloc, seamcall, sysinfo: { globalKeyId: 48, keyIdShift: 46 } });
  return { k, mem, alloc };
}

/** The oracle: entry of a block of 2^order pages at `pfn`. */
const oracle = (pfn: number, order: number) =>
  (BigInt(pfn) << 12n) | (order === 0 ? 0n : 1n << BigInt(order));

function rootEntries(mem: PhysMem, pfn: number): bigint[] {
  const w = mem.words(pfn);
  return Array.from({ length: 512 }, (_, i) => u64ToBigint(w[2 * i]!, w[2 * i + 1]!));
}

describe("populateRoot against the bigint oracle", () => {
  const places: [string, number][] = [
    ["across PFN 2^32 (16 TiB)", 2 ** 44 - 2 ** 22],
    ["just below 2^52", 2 ** 52 - 2 ** 24],
  ];
  it.each(places)("%s: mixed block orders, then a shorter repopulate zeroes the tail", (_, base) => {
    const { k, mem, alloc } = host(base, 2 ** 24);
    const pages: Page[] = [];
    const orders: number[] = [];
    for (let i = 0; i < 300; i++) {
      const order = i % 5 === 0 ? (i % 4) + 1 : 0;
      const p = alloc.allocPages(order, { tag: "data" });
      if (p === null) throw new Error("test: out of memory");
      pages.push(p);
      orders.push(order);
    }
    // The range really spans the interesting boundary.
    const pfns = pages.map((p) => p.pfn);
    if (base < 2 ** 45) expect(Math.min(...pfns) < 2 ** 32 || Math.max(...pfns) >= 2 ** 32).toBe(true);
    const a = tdxPageArrayCreate(k, pages, pages.length)!;
    const e = rootEntries(mem, a.rootPage.pfn);
    for (let i = 0; i < 512; i++) toBe(e[i], i < pages.length ? oracle(pfns[i]!, orders[i]!) : 0n);
    const fewer = pages.slice(100, 150);
    tdxPageArrayRepopulate(k, a, fewer, fewer.length);
    const f = rootEntries(mem, a.rootPage.pfn);
    for (let i = 0; i < 512; i++) toBe(f[i], i < 50 ? oracle(pfns[100 + i]!, orders[100 + i]!) : 0n);
  });
});

describe("the check loop (handle, frame, entry in one pass) against the allocator's own answers", () => {
  /** A small deterministic generator (xorshift32), so a failure names a reproducible case. */
  function rng(seed: number) {
    let s = seed >>> 0 || 1;
    return (n: number) => {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      return s % n;
    };
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    "seed %i: heads, tails, non-compound pages and freed pages across sections",
    (seed) => {
      const r = rng(seed * 7919);
      const { k, mem, alloc } = host(2 ** 44 - 2 ** 21, 2 ** 24);
      // A mix spanning several 1024-frame sections: order-0 pages, compound and non-compound blocks.
      const live: Page[] = [];
      const singles: Page[] = [];
      for (let i = 0; i < 600; i++) {
        const order = r(3) === 0 ? 1 + r(4) : 0;
        const compound = r(4) !== 0;
        const b = alloc.allocPages(order, { tag: "data", compound });
        if (b === null) throw new Error("test: out of memory");
        if (order === 0) singles.push(b);
        for (let j = 0; j < 2 ** order; j++) live.push(j === 0 ? b : b.nth(j));
      }
      // Some order-0 pages go back: their handles now name free frames inside live sections.
      const freed: Page[] = [];
      for (const p of singles) {
        if (r(10) === 0) {
          alloc.freePages(p, 0);
          freed.push(p);
        }
      }
      expect(freed.length).toBeGreaterThan(0);
      const pfns = live.map((p) => p.pfn);
      expect(Math.max(...pfns) - Math.min(...pfns)).toBeGreaterThan(2048); // at least three sections
      const stillLive = live.filter((p) => !freed.includes(p));
      const a = tdxPageArrayCreate(k, stillLive.slice(0, 1), 1)!;
      let refused = 0;
      for (let round = 0; round < 20; round++) {
        const n = 1 + r(512);
        const pool = round % 4 === 3 ? live : stillLive; // every fourth round may meet a freed page
        const pages = Array.from({ length: n }, () => pool[r(pool.length)]!);
        const before = rootEntries(mem, a.rootPage.pfn);
        const expected = pages.map((p) => alloc.liveOrder(p.pfn));
        const firstFree = expected.findIndex((o) => o < 0);
        if (firstFree >= 0) {
          refused++;
          expect(() => tdxPageArrayRepopulate(k, a, pages, n)).toThrow(
            new RegExp(`pages\\[${firstFree}\\]: .* is free`),
          );
          expect(rootEntries(mem, a.rootPage.pfn)).toEqual(before); // a refused call writes nothing
        } else {
          tdxPageArrayRepopulate(k, a, pages, n);
          const e = rootEntries(mem, a.rootPage.pfn);
          for (let i = 0; i < 512; i++) toBe(e[i], i < n ? oracle(pages[i]!.pfn, expected[i]!) : 0n);
        }
      }
      expect(refused).toBeGreaterThan(0);
      expect(refused).toBeLessThan(20);
    },
  );
});
