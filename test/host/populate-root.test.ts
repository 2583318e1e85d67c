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
    for (let i = 0; i < 512; i++) expect(e[i]).toBe(i < pages.length ? oracle(pfns[i]!, orders[i]!) : 0n);
    const fewer = pages.slice(100, 150);
    tdxPageArrayRepopulate(k, a, fewer, fewer.length);
    const f = rootEntries(mem, a.rootPage.pfn);
    for (let i = 0; i < 512; i++) expect(f[i]).toBe(i < 50 ? oracle(pfns[100 + i]!, orders[100 + i]!) : 0n);
  });
});
