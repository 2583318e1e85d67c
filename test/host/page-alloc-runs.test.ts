/**
 * The allocator's questions about a run of pages (src/host/page-alloc.ts), which the conservation
 * check asks once per run of module-owned pages, against the per-page answers they stand for:
 * `allAllocated(pfn, n)` is `liveOrders` finding no free page among the n PFNs, and
 * `reservedInRange(pfn, n)` is `isReserved` of some page. Random allocator states: blocks of orders
 * 0..5 (compound and not), contiguous runs, frees, over two memory ranges with reserved areas; random
 * runs that start and end inside blocks, across section boundaries and across reserved areas.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Page } from "../../src/host/page.js";
import { PageAllocator } from "../../src/host/page-alloc.js";
import { PhysMem } from "../../src/hw/physmem.js";

const PAGE = 4096;
const RANGES: readonly [number, number][] = [
  [0, 3000],
  [4096, 1500],
];
const RESERVED: readonly [number, number][] = [
  [100, 7],
  [1020, 9],
  [2048, 1],
  [4500, 30],
];

type Op =
  | { kind: "block"; order: number; compound: boolean }
  | { kind: "contig"; n: number }
  | { kind: "free"; i: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("block" as const),
    order: fc.integer({ min: 0, max: 5 }),
    compound: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("contig" as const), n: fc.integer({ min: 1, max: 700 }) }),
  fc.record({ kind: fc.constant("free" as const), i: fc.nat(50) }),
);
const runArb = fc.record({ start: fc.integer({ min: 0, max: 5700 }), n: fc.integer({ min: 0, max: 1500 }) });

function build(ops: readonly Op[]): PageAllocator {
  const mem = new PhysMem(RANGES.map(([s, n]) => ({ base: s * PAGE, size: n * PAGE })));
  const alloc = new PageAllocator(mem, {
    reserved: RESERVED.map(([startPfn, pages]) => ({ startPfn, pages })),
  });
  const held: { page: Page; order: number; contig: number }[] = [];
  for (const o of ops) {
    if (o.kind === "block") {
      const page = alloc.allocPages(o.order, { compound: o.compound });
      if (page !== null) held.push({ page, order: o.order, contig: 0 });
    } else if (o.kind === "contig") {
      const page = alloc.allocContigPages(o.n);
      if (page !== null) held.push({ page, order: 0, contig: o.n });
    } else if (held.length > 0) {
      const h = held.splice(o.i % held.length, 1)[0]!;
      if (h.contig === 0) alloc.freePages(h.page, h.order);
      else for (let i = 0; i < h.contig; i++) alloc.freePages(h.page.nth(i), 0);
    }
  }
  return alloc;
}

describe("the allocator's run questions against its per-page answers", () => {
  it("allAllocated and reservedInRange agree with liveOrders and isReserved page by page", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 40 }),
        fc.array(runArb, { minLength: 1, maxLength: 30 }),
        (ops, runs) => {
          const alloc = build(ops);
          for (const { start, n } of runs) {
            const pfns = Float64Array.from({ length: n }, (_, i) => start + i);
            const live = alloc.liveOrders(pfns, n, new Int8Array(n)) === -1;
            expect(alloc.allAllocated(start, n), `allAllocated(${start}, ${n})`).toBe(live);
            let reserved = false;
            for (let i = 0; i < n; i++) reserved ||= alloc.isReserved(start + i);
            expect(alloc.reservedInRange(start, n), `reservedInRange(${start}, ${n})`).toBe(reserved);
          }
        },
      ),
      { numRuns: 300, seed: 1503 },
    );
  });

  it("a contiguous run and a compound block: true over them, false one page past either end", () => {
    const alloc = build([]);
    const run = alloc.allocContigPages(800)!;
    const block = alloc.allocPages(5)!;
    for (const [first, n] of [
      [run.pfn, 800],
      [block.pfn, 32],
    ] as const) {
      expect(alloc.allAllocated(first, n)).toBe(true);
      expect(alloc.allAllocated(first + 7, n - 7)).toBe(true);
      expect(alloc.allAllocated(first - 1, n + 1)).toBe(alloc.liveOrder(first - 1) >= 0);
      expect(alloc.allAllocated(first, n + 1)).toBe(alloc.liveOrder(first + n) >= 0);
    }
    expect(alloc.allAllocated(run.pfn, 0)).toBe(true);
    expect(alloc.reservedInRange(95, 5)).toBe(false);
    expect(alloc.reservedInRange(95, 6)).toBe(true);
    expect(alloc.reservedInRange(106, 1)).toBe(true);
    expect(alloc.reservedInRange(107, 900)).toBe(false);
    expect(alloc.reservedInRange(2048, 0)).toBe(false);
  });
});

describe("the frame table's derived head order (Section.headOrder, what the descriptor's page check reads)", () => {
  type RefOp = { kind: "get" | "put"; i: number };
  const refOpArb: fc.Arbitrary<RefOp> = fc.record({
    kind: fc.constantFrom("get" as const, "put" as const),
    i: fc.nat(50),
  });

  it("is refs > 0 && flags === 0 ? order : -1 on every frame of every section, through allocations, frees, get_page and put_page", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 40 }),
        fc.array(refOpArb, { maxLength: 20 }),
        (ops, refOps) => {
          const alloc = build(ops);
          const sections = [0, 1, 2, 3, 4, 5].map((key) => alloc._frameSection(key * 1024));
          // Heads of allocated blocks (refcount > 0), for get_page and put_page (`__free_pages` with the
          // block's order); a put that frees its block drops it from the list.
          const heads: { pfn: number; order: number }[] = [];
          sections.forEach((sec, key) => {
            for (let off = 0; sec !== undefined && off < 1024; off++)
              if (sec.refs[off]! > 0) heads.push({ pfn: key * 1024 + off, order: sec.order[off]! });
          });
          for (const r of refOps) {
            if (heads.length === 0) break;
            const j = r.i % heads.length;
            const h = heads[j]!;
            const page = alloc.pfnToPage(h.pfn);
            if (r.kind === "get") alloc.getPage(page);
            else {
              alloc.freePages(page, h.order);
              if (sections[Math.floor(h.pfn / 1024)]!.refs[h.pfn % 1024] === 0) heads.splice(j, 1);
            }
          }
          let frames = 0;
          for (let key = 0; key * 1024 < 5700; key++) {
            const sec = alloc._frameSection(key * 1024);
            if (sec === undefined) continue;
            for (let off = 0; off < 1024; off++) {
              const want = sec.refs[off]! > 0 && sec.flags[off] === 0 ? sec.order[off]! : -1;
              if (sec.headOrder[off] !== want)
                expect(sec.headOrder[off], `headOrder of pfn ${key * 1024 + off}`).toBe(want);
              frames++;
            }
          }
          expect(frames).toBeGreaterThan(0);
        },
      ),
      { numRuns: 200, seed: 1504 },
    );
  });
});
