/**
 * Tests of the host page allocator (src/host/page-alloc.ts): buddy splitting and merging under random
 * allocate/free sequences checked against a model, contiguous runs, zeroing, fault injection, misuse
 * errors, and a 1 TiB host.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isTdxpaError } from "../../src/common/errors.js";
import type { Page } from "../../src/host/page.js";
import { MAX_ORDER, PageAllocator } from "../../src/host/page-alloc.js";
import { PhysMem } from "../../src/hw/physmem.js";
import { toBe, toEqual } from "../support/assert.js";

const PAGE = 4096;

/** Runs `fn` and returns the TdxpaError it throws (fails the test if it throws nothing or something else). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(isTdxpaError(e)).toBe(true);
    return e as Error;
  }
  throw new Error("expected a TdxpaError, nothing was thrown");
}

/** A host for the random sequences: PFN ranges [startPfn, pages] and reserved PFN ranges. */
interface HostSpec {
  readonly ranges: readonly (readonly [number, number])[];
  readonly reserved: readonly (readonly [number, number])[];
  /** Reserved pages inside memory. */
  readonly reservedPages: number;
}

/** Pristine memory plus an unaligned range, two adjacent ranges (no merging across them) and reserved ranges. */
const SMALL_HOST: HostSpec = {
  ranges: [
    [5, 3000], // [5, 3005): unaligned head and tail
    [4096, 5000], // [4096, 9096)
    [9096, 1100], // [9096, 10196): adjacent to the previous range
  ],
  reserved: [
    [5000, 100], // inside the second range
    [10100, 200], // half outside memory: 96 pages count
  ],
  reservedPages: 196,
};

/** No order-10 aligned memory at all: everything lives on the free lists from the start. */
const TINY_HOST: HostSpec = {
  ranges: [
    [3, 700],
    [1000, 500],
  ],
  reserved: [[200, 10]],
  reservedPages: 10,
};

function makeHost(spec: HostSpec): { mem: PhysMem; alloc: PageAllocator } {
  const mem = new PhysMem(spec.ranges.map(([s, n]) => ({ base: s * PAGE, size: n * PAGE })));
  const alloc = new PageAllocator(mem, {
    reserved: spec.reserved.map(([startPfn, pages]) => ({ startPfn, pages })),
  });
  return { mem, alloc };
}

/** Cheap assertion for per-page loops (vitest's expect costs too much per call there). */
function same(actual: unknown, expected: unknown, what: string): void {
  if (actual !== expected) throw new Error(`${what}: got ${String(actual)}, expected ${String(expected)}`);
}

type Op =
  | { t: "alloc"; order: number; tag: string | undefined }
  | { t: "bulk"; n: number }
  | { t: "contig"; n: number }
  | { t: "get"; i: number }
  | { t: "put"; i: number; withOrder: boolean }
  | { t: "freeRun"; i: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("alloc" as const),
      order: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: MAX_ORDER })),
      tag: fc.constantFrom(undefined, "a", "b"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("bulk" as const), n: fc.integer({ min: 1, max: 40 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("contig" as const),
      n: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 4000 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("get" as const), i: fc.nat() }) },
  {
    weight: 5,
    arbitrary: fc.record({ t: fc.constant("put" as const), i: fc.nat(), withOrder: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("freeRun" as const), i: fc.nat() }) },
);

/**
 * Random allocate/free sequences against a model: no page handed out twice, every page accounted for,
 * blocks aligned, compound head/order right for every page, null only when nothing fits, and freeing
 * everything restores the initial free lists and stats.
 */
function checkRandomSequences(spec: HostSpec, numRuns: number): void {
  const total = spec.ranges.reduce((a, [, n]) => a + n, 0);
  const inMemory = (pfn: number) => spec.ranges.some(([s, n]) => pfn >= s && pfn < s + n);
  const isReservedModel = (pfn: number) =>
    inMemory(pfn) && spec.reserved.some(([s, n]) => pfn >= s && pfn < s + n);
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
      const { mem, alloc } = makeHost(spec);
      const initialOrders = alloc.freeBlocksByOrder();
      const initialStats = alloc.stats();
      toEqual(initialStats, {
        totalPages: total,
        reservedPages: spec.reservedPages,
        freePages: total - spec.reservedPages,
        allocatedPages: 0,
        byTag: {},
      });

      const owner = new Map<number, number>(); // allocated pfn -> head pfn
      const held = new Map<number, { order: number; refs: number; page: Page; tag: string }>();
      const runs: { pfn: number; n: number }[] = [];

      /** True when a free run of `n` pages exists (starting at a multiple of n when n is a power of two). */
      const freeRunExists = (n: number): boolean => {
        const pow2 = (n & (n - 1)) === 0;
        for (const r of mem.ranges) {
          let cur = 0;
          let start = r.startPfn;
          for (let p = r.startPfn; p < r.startPfn + r.pages; p++) {
            if (owner.has(p) || isReservedModel(p)) {
              cur = 0;
              start = p + 1;
              continue;
            }
            if (cur === 0) start = p;
            cur++;
            if (pow2 && (p + 1) % n === 0 && p + 1 - n >= start) return true;
            if (!pow2 && cur >= n) return true;
          }
        }
        return false;
      };
      const record = (page: Page, order: number, tag: string) => {
        const head = page.pfn;
        toBe(head % 2 ** order, 0); // naturally aligned
        toBe(alloc.compoundOrder(head), order);
        toBe(alloc.refCount(head), 1);
        for (let i = 0; i < 2 ** order; i++) {
          const p = head + i;
          same(owner.has(p), false, `pfn ${p} handed out twice`);
          same(inMemory(p), true, `pfn ${p} in memory`);
          same(isReservedModel(p), false, `pfn ${p} reserved`);
          same(alloc.compoundHead(p), head, `compoundHead(${p})`);
          same(alloc.tagOf(p), tag, `tagOf(${p})`);
          same(alloc.isFree(p), false, `isFree(${p})`);
          if (i > 0) same(alloc.compoundOrder(p), 0, `compoundOrder(${p})`);
          owner.set(p, head);
        }
        held.set(head, { order, refs: 1, page, tag });
      };
      const release = (head: number) => {
        const h = held.get(head)!;
        h.refs--;
        if (h.refs === 0) {
          held.delete(head);
          for (let i = 0; i < 2 ** h.order; i++) owner.delete(head + i);
        }
      };
      const nth = <T>(xs: readonly T[], i: number): T | undefined =>
        xs.length ? xs[i % xs.length] : undefined;

      for (const op of ops) {
        switch (op.t) {
          case "alloc": {
            const page = alloc.allocPages(op.order, op.tag === undefined ? undefined : { tag: op.tag });
            if (page === null) {
              // null only when no free block of that order or above exists
              expect(
                alloc
                  .freeBlocksByOrder()
                  .slice(op.order)
                  .every((c) => c === 0),
              ).toBe(true);
            } else {
              record(page, op.order, op.tag ?? "untagged");
            }
            break;
          }
          case "bulk": {
            const before = alloc.stats().freePages;
            const pages = alloc.allocPagesBulk(op.n, { tag: "bulk" });
            toBe(pages.length, Math.min(op.n, before));
            for (const p of pages) record(p, 0, "bulk");
            break;
          }
          case "contig": {
            const first = alloc.allocContigPages(op.n, { tag: "contig" });
            if (first === null) {
              expect(freeRunExists(op.n)).toBe(false);
            } else {
              // A power-of-two run is aligned to its size (the kernel's alloc_contig_pages).
              if ((op.n & (op.n - 1)) === 0) toBe(first.pfn % op.n, 0);
              for (let i = 0; i < op.n; i++) record(alloc.pfnToPage(first.pfn + i), 0, "contig");
              // one memory range holds the whole run
              toBe(mem.containsRun(first.pfn, op.n), true);
              runs.push({ pfn: first.pfn, n: op.n });
            }
            break;
          }
          case "get": {
            const head = nth([...held.keys()], op.i);
            if (head === undefined) break;
            alloc.getPage(held.get(head)!.page);
            held.get(head)!.refs++;
            toBe(alloc.refCount(head), held.get(head)!.refs);
            break;
          }
          case "put": {
            const head = nth([...held.keys()], op.i);
            if (head === undefined) break;
            const h = held.get(head)!;
            alloc.freePages(h.page, op.withOrder ? h.order : undefined);
            release(head);
            toBe(alloc.refCount(head), held.get(head)?.refs ?? 0);
            break;
          }
          case "freeRun": {
            const run = nth(runs, op.i);
            if (run === undefined) break;
            runs.splice(runs.indexOf(run), 1);
            const whole = Array.from({ length: run.n }, (_, i) => run.pfn + i).every(
              (p) => held.get(p)?.order === 0,
            );
            if (whole) {
              alloc.freeContigRange(run.pfn, run.n);
              for (let i = 0; i < run.n; i++) release(run.pfn + i);
            } else {
              // some page of the run is free or part of a bigger block: nothing may be freed
              const before = alloc.stats();
              thrown(() => alloc.freeContigRange(run.pfn, run.n));
              toEqual(alloc.stats(), before);
            }
            break;
          }
        }
        const s = alloc.stats();
        toBe(s.freePages + s.allocatedPages + s.reservedPages, s.totalPages);
        toBe(s.allocatedPages, owner.size);
        toBe(
          Object.values(s.byTag).reduce((a, b) => a + b, 0),
          owner.size,
        );
      }

      // Every page of memory agrees with the model.
      for (const r of mem.ranges) {
        for (let p = r.startPfn; p < r.startPfn + r.pages; p++) {
          const head = owner.get(p);
          same(alloc.isReserved(p), isReservedModel(p), `isReserved(${p})`);
          same(alloc.isFree(p), head === undefined && !isReservedModel(p), `isFree(${p})`);
          same(alloc.compoundHead(p), head ?? p, `compoundHead(${p})`);
          same(alloc.refCount(p), head === undefined ? 0 : held.get(head)!.refs, `refCount(${p})`);
        }
      }
      const blocks = [...alloc.allocatedBlocks()];
      toEqual(
        blocks.map((b) => b.pfn),
        [...held.keys()].sort((a, b) => a - b),
      );
      for (const b of blocks) {
        const h = held.get(b.pfn)!;
        toEqual(b, { pfn: b.pfn, order: h.order, tag: h.tag, refCount: h.refs });
      }

      // Free everything: the free lists merge back to their initial shape.
      for (const [, h] of [...held]) for (let r = h.refs; r > 0; r--) alloc.freePages(h.page);
      toEqual(alloc.freeBlocksByOrder(), initialOrders);
      toEqual(alloc.stats(), initialStats);
      toEqual([...alloc.allocatedBlocks()], []);
    }),
    { numRuns },
  );
}

describe("PageAllocator: random allocate/free sequences against a model", () => {
  it("on a host with pristine memory, unaligned, adjacent and reserved ranges", () => {
    checkRandomSequences(SMALL_HOST, 120);
  });

  it("on a host with no order-10 aligned memory (free lists only)", () => {
    checkRandomSequences(TINY_HOST, 150);
  });
});

describe("PageAllocator: buddy splitting and merging", () => {
  it("an order-0 allocation from a fresh order-10 block leaves one free block at each order 0..9", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 1024 * PAGE, size: 1024 * PAGE }]));
    expect(alloc.freeBlocksByOrder()).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    const p = alloc.allocPage()!;
    expect(p.pfn).toBe(1024);
    expect(alloc.freeBlocksByOrder()).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    alloc.freePages(p);
    expect(alloc.freeBlocksByOrder()).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it("splits a range's unaligned head and tail into naturally aligned blocks", () => {
    // [3, 2053): head 3..1024 = 1+4+8+...+512 pages (orders 0, 2..9), one order-10 block, tail 2048..2053 = 4+1
    const alloc = new PageAllocator(new PhysMem([{ base: 3 * PAGE, size: 2050 * PAGE }]));
    expect(alloc.freeBlocksByOrder()).toEqual([2, 0, 2, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(alloc.stats().freePages).toBe(2050);
    // Order-10 allocations: only the aligned middle block exists.
    const big = alloc.allocPages(10)!;
    expect(big.pfn).toBe(1024);
    expect(big.nrPages).toBe(1024);
    expect(alloc.allocPages(10)).toBeNull();
  });

  it("does not merge buddies across adjacent memory ranges", () => {
    // Two adjacent ranges of 512 pages: together an aligned order-10 block, but never merged into one.
    const alloc = new PageAllocator(
      new PhysMem([
        { base: 0, size: 512 * PAGE },
        { base: 512 * PAGE, size: 512 * PAGE },
      ]),
    );
    expect(alloc.freeBlocksByOrder()).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0]);
    expect(alloc.allocPages(10)).toBeNull();
    const a = alloc.allocPages(9)!;
    const b = alloc.allocPages(9)!;
    alloc.freePages(a, 9);
    alloc.freePages(b, 9);
    expect(alloc.freeBlocksByOrder()).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0]);
  });

  it("reserved pages are never handed out and count as reserved", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0, size: 64 * PAGE }]), {
      reserved: [
        { startPfn: 10, pages: 6 },
        { startPfn: 14, pages: 4 }, // overlaps the first
      ],
    });
    expect(alloc.stats()).toMatchObject({ totalPages: 64, reservedPages: 8, freePages: 56 });
    const pages = alloc.allocPagesBulk(100);
    expect(pages.length).toBe(56);
    for (const p of pages) expect(p.pfn < 10 || p.pfn >= 18).toBe(true);
    expect(alloc.isReserved(12)).toBe(true);
    expect(alloc.isFree(12)).toBe(false);
    expect(alloc.refCount(12)).toBe(0);
    expect(alloc.tagOf(12)).toBeNull();
  });
});

describe("PageAllocator: contiguous runs", () => {
  it("allocates 12,800 consecutive order-0 pages and gives the rest back", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0x4000_0000, size: 64 << 20 }])); // 16,384 pages
    const initial = alloc.freeBlocksByOrder();
    const one = alloc.allocPage({ tag: "one" })!; // a split block next to the run
    const first = alloc.allocContigPages(12_800, { tag: "contig" })!;
    expect(first).not.toBeNull();
    for (let i = 0; i < 12_800; i++) {
      const pfn = first.pfn + i;
      same(alloc.refCount(pfn), 1, `refCount(${pfn})`);
      same(alloc.compoundOrder(pfn), 0, `compoundOrder(${pfn})`);
      same(alloc.compoundHead(pfn), pfn, `compoundHead(${pfn})`);
      same(alloc.tagOf(pfn), "contig", `tagOf(${pfn})`);
    }
    expect(first.pfn <= one.pfn && one.pfn < first.pfn + 12_800).toBe(false);
    expect(alloc.stats()).toMatchObject({ allocatedPages: 12_801, freePages: 16_384 - 12_801 });
    expect(alloc.stats().byTag).toEqual({ one: 1, contig: 12_800 });
    alloc.freeContigRange(first.pfn, 12_800);
    alloc.freePages(one);
    expect(alloc.freeBlocksByOrder()).toEqual(initial);
  });

  it("aligns a power-of-two run to its size, as the kernel's alloc_contig_pages does", () => {
    // PFN 262144 is taken first, so the free stretch starts at 262145: a 1024-page run must not.
    const alloc = new PageAllocator(new PhysMem([{ base: 0x4000_0000, size: 16 << 20 }]));
    const initial = alloc.freeBlocksByOrder();
    const one = alloc.allocPage({ tag: "one" })!;
    expect(one.pfn).toBe(262_144);
    const run = alloc.allocContigPages(1024, { tag: "contig" })!;
    expect(run.pfn % 1024).toBe(0);
    const big = alloc.allocContigPages(2048, { tag: "contig" })!;
    expect(big.pfn % 2048).toBe(0);
    const odd = alloc.allocContigPages(3, { tag: "contig" })!;
    expect(odd).not.toBeNull();
    // The pages skipped for alignment went back to the free lists.
    expect(alloc.stats()).toMatchObject({ allocatedPages: 1 + 1024 + 2048 + 3, freePages: 4096 - 3076 });
    alloc.freeContigRange(run.pfn, 1024);
    alloc.freeContigRange(big.pfn, 2048);
    alloc.freeContigRange(odd.pfn, 3);
    alloc.freePages(one);
    expect(alloc.freeBlocksByOrder()).toEqual(initial);
  });

  it("builds a run from free blocks of several orders", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0, size: 2048 * PAGE }]));
    const all = alloc.allocPagesBulk(2048);
    // free 100..1123 page by page except 600: runs of 500 and 523 pages
    for (const p of all) if (p.pfn >= 100 && p.pfn < 1124 && p.pfn !== 600) alloc.freePages(p);
    expect(alloc.allocContigPages(524)).toBeNull();
    const run = alloc.allocContigPages(523)!;
    expect(run.pfn).toBe(601);
    const run2 = alloc.allocContigPages(500)!;
    expect(run2.pfn).toBe(100);
    expect(alloc.stats().freePages).toBe(0);
  });

  it("returns null when fragmentation leaves no run, and allocates nothing", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0, size: 4096 * PAGE }]));
    const pages = alloc.allocPagesBulk(4096);
    expect(pages.length).toBe(4096);
    for (let i = 0; i < pages.length; i += 2) alloc.freePages(pages[i]!);
    const before = alloc.stats();
    expect(before.freePages).toBe(2048);
    const orders = alloc.freeBlocksByOrder();
    expect(orders).toEqual([2048, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(alloc.allocContigPages(2)).toBeNull();
    expect(alloc.allocPages(1)).toBeNull();
    expect(alloc.stats()).toEqual(before);
    expect(alloc.freeBlocksByOrder()).toEqual(orders);
    expect(alloc.allocContigPages(1)).not.toBeNull();
  });

  it("a reserved range splits memory into runs that cannot be joined", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0, size: 8192 * PAGE }]), {
      reserved: [{ startPfn: 4000, pages: 1 }],
    });
    expect(alloc.allocContigPages(4192)).toBeNull(); // 4001..8191 is 4191 pages
    const r = alloc.allocContigPages(4191)!;
    expect(r.pfn).toBe(4001);
    expect(alloc.allocContigPages(4001)).toBeNull();
    expect(alloc.allocContigPages(4000)!.pfn).toBe(0);
  });
});

describe("PageAllocator: page contents", () => {
  it("a reused page keeps its old bytes unless zeroing is asked for", () => {
    const mem = new PhysMem([{ base: 0, size: 16 * PAGE }]);
    const alloc = new PageAllocator(mem);
    const p = alloc.allocPage()!;
    mem.page(p.pfn).fill(0xab);
    alloc.freePages(p);
    const q = alloc.allocPage()!;
    expect(q.pfn).toBe(p.pfn); // last freed, first reused
    expect(mem.page(q.pfn)[100]).toBe(0xab);
    alloc.freePages(q);
    const z = alloc.allocPage({ zero: true })!;
    expect(z.pfn).toBe(p.pfn);
    expect(mem.page(z.pfn).every((b) => b === 0)).toBe(true);
  });

  it("zeroes every page of a block, a bulk and a contiguous run", () => {
    const mem = new PhysMem([{ base: 0, size: 64 * PAGE }]);
    for (let pfn = 0; pfn < 64; pfn++) mem.page(pfn).fill(7);
    const alloc = new PageAllocator(mem);
    const b = alloc.allocPages(3, { zero: true })!;
    const bulk = alloc.allocPagesBulk(5, { zero: true });
    const run = alloc.allocContigPages(9, { zero: true })!;
    const dirty = alloc.allocPages(2)!;
    const pfns = [
      ...Array.from({ length: 8 }, (_, i) => b.pfn + i),
      ...bulk.map((p) => p.pfn),
      ...Array.from({ length: 9 }, (_, i) => run.pfn + i),
    ];
    for (const pfn of pfns) expect(mem.page(pfn).every((x) => x === 0)).toBe(true);
    for (let i = 0; i < 4; i++) expect(mem.page(dirty.pfn + i)[0]).toBe(7);
  });
});

describe("PageAllocator: hooks", () => {
  it("reports each zeroed page and each page that goes back to the free lists", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0, size: 64 * PAGE }]));
    const zeroed: number[] = [];
    const freed: number[] = [];
    alloc.hooks = { onZero: (pfn) => zeroed.push(pfn), onFree: (pfn) => freed.push(pfn) };
    const b = alloc.allocPages(2, { zero: true })!;
    const c = alloc.allocContigPages(3)!;
    expect(zeroed).toEqual([b.pfn, b.pfn + 1, b.pfn + 2, b.pfn + 3]);
    alloc.getPage(b);
    alloc.freePages(b);
    expect(freed).toEqual([]); // still referenced
    alloc.freePages(b);
    alloc.freeContigRange(c.pfn, 3);
    expect(freed).toEqual([b.pfn, b.pfn + 1, b.pfn + 2, b.pfn + 3, c.pfn, c.pfn + 1, c.pfn + 2]);
    expect(freed.every((pfn) => alloc.isFree(pfn))).toBe(true);
  });
});

describe("PageAllocator: fault injection", () => {
  it("failNth fails exactly that call, and a failed call allocates nothing", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0, size: 64 * PAGE }]));
    alloc.failNth(3);
    expect(alloc.allocPage()).not.toBeNull();
    expect(alloc.allocPages(2)).not.toBeNull();
    const before = alloc.stats();
    const orders = alloc.freeBlocksByOrder();
    expect(alloc.allocPages(1)).toBeNull();
    expect(alloc.stats()).toEqual(before);
    expect(alloc.freeBlocksByOrder()).toEqual(orders);
    expect(alloc.allocPages(1)).not.toBeNull();
    expect(alloc.allocCount).toBe(4);
    expect(alloc.injectedFailures).toBe(1);
    expect(alloc.stats().allocatedPages).toBe(1 + 4 + 2);
  });

  it("failNth inside a bulk call stops the bulk at that page; the call counts every page requested", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0, size: 64 * PAGE }]));
    alloc.allocPage();
    alloc.failNth(6);
    const pages = alloc.allocPagesBulk(10);
    expect(pages.length).toBe(4); // calls 2..5 succeed, 6 fails, 7..11 are not attempted
    expect(alloc.allocCount).toBe(11);
    expect(alloc.injectedFailures).toBe(1);
    expect(alloc.stats().allocatedPages).toBe(5);
    expect(alloc.allocPagesBulk(3).length).toBe(3);
  });

  it("failNth applies to contiguous allocations", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0, size: 64 * PAGE }]));
    alloc.failNth(1);
    expect(alloc.allocContigPages(10)).toBeNull();
    expect(alloc.stats().allocatedPages).toBe(0);
    expect(alloc.allocContigPages(10)).not.toBeNull();
  });

  it("failTag fails the next `count` allocations with that tag only", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0, size: 64 * PAGE }]));
    alloc.failTag("pamt", 2);
    expect(alloc.allocPage({ tag: "pamt" })).toBeNull();
    expect(alloc.allocPage({ tag: "other" })).not.toBeNull();
    expect(alloc.allocPage()).not.toBeNull();
    expect(alloc.allocPages(1, { tag: "pamt" })).toBeNull();
    expect(alloc.allocPage({ tag: "pamt" })).not.toBeNull();
    expect(alloc.injectedFailures).toBe(2);
    expect(alloc.stats().byTag).toEqual({ other: 1, untagged: 1, pamt: 1 });
  });

  it("failTag without a count fails until clearFaults", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0, size: 64 * PAGE }]));
    alloc.failTag("x");
    alloc.failNth(100);
    for (let i = 0; i < 5; i++) expect(alloc.allocPage({ tag: "x" })).toBeNull();
    expect(alloc.allocPagesBulk(3, { tag: "x" })).toEqual([]);
    expect(alloc.injectedFailures).toBe(6);
    alloc.clearFaults();
    expect(alloc.allocPage({ tag: "x" })).not.toBeNull();
    expect(alloc.allocCount).toBe(9);
    expect(alloc.stats().allocatedPages).toBe(1);
  });
});

describe("PageAllocator: misuse throws typed errors naming the value", () => {
  const make = () => new PageAllocator(new PhysMem([{ base: 0x10_0000, size: 64 * PAGE }])); // pfns 0x100..0x13f

  it("double free", () => {
    const alloc = make();
    const p = alloc.allocPage()!;
    alloc.freePages(p);
    expect(thrown(() => alloc.freePages(p)).message).toContain(`0x${p.pfn.toString(16)}`);
    expect(thrown(() => alloc.getPage(p)).message).toContain(`0x${p.pfn.toString(16)}`);
  });

  it("freeing a tail page of a compound block", () => {
    const alloc = make();
    const head = alloc.allocPages(2)!;
    const tail = head.nth(3);
    expect(tail.head().pfn).toBe(head.pfn);
    const e = thrown(() => alloc.freePages(tail));
    expect(e.message).toContain(`0x${tail.pfn.toString(16)}`);
    expect(e.message).toContain("tail");
    expect(alloc.refCount(head.pfn)).toBe(1); // nothing changed
  });

  it("the wrong order", () => {
    const alloc = make();
    const p = alloc.allocPages(2)!;
    expect(thrown(() => alloc.freePages(p, 3)).message).toContain("order 3");
    expect(thrown(() => alloc.freePages(p, 11)).message).toContain("11");
    alloc.freePages(p, 2);
    expect(alloc.stats().allocatedPages).toBe(0);
  });

  it("a PFN outside memory or reserved", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0x10_0000, size: 64 * PAGE }]), {
      reserved: [{ startPfn: 0x101, pages: 1 }],
    });
    expect(thrown(() => alloc.pfnToPage(0x140)).message).toContain("0x140");
    expect(thrown(() => alloc.refCount(0xff)).message).toContain("0xff");
    const outside = alloc.pfnToPage(0x13f).nth(1);
    expect(thrown(() => alloc.freePages(outside)).message).toContain("0x140");
    expect(thrown(() => alloc.freePages(alloc.pfnToPage(0x101))).message).toContain("0x101");
    expect(thrown(() => alloc.freeContigRange(0x13e, 4)).message).toMatch(/0x13e|0x140/);
  });

  it("bad order values", () => {
    const alloc = make();
    for (const [bad, text] of [
      [-1, "-1"],
      [11, "11"],
      [1.5, "1.5"],
      [Number.NaN, "NaN"],
      ["3", '"3"'],
    ] as const) {
      expect(thrown(() => alloc.allocPages(bad as number)).message).toContain(text);
    }
    expect(alloc.allocCount).toBe(0);
    expect(thrown(() => alloc.allocPagesBulk(0)).message).toContain("0");
    expect(thrown(() => alloc.allocContigPages(-5)).message).toContain("-5");
  });

  it("freeContigRange over a free page frees nothing", () => {
    const alloc = make();
    const run = alloc.allocContigPages(8)!;
    alloc.freePages(run.nth(5));
    const before = alloc.stats();
    expect(thrown(() => alloc.freeContigRange(run.pfn, 8)).message).toContain(
      `0x${(run.pfn + 5).toString(16)}`,
    );
    expect(alloc.stats()).toEqual(before);
  });

  it("a page of another allocator", () => {
    const a = make();
    const b = make();
    const p = a.allocPage()!;
    expect(thrown(() => b.freePages(p)).message).toContain("another allocator");
  });
});

describe("PageAllocator: references, tags and leak checks", () => {
  it("get/put, retag, allocatedBlocks and leakCheck", () => {
    const alloc = new PageAllocator(new PhysMem([{ base: 0, size: 256 * PAGE }]));
    const a = alloc.allocPages(3, { tag: "a" })!;
    const b = alloc.allocPage({ tag: "b" })!;
    const c = alloc.allocPage()!;
    alloc.getPage(a);
    expect(a.refCount).toBe(2);
    expect(a.nth(5).refCount).toBe(2); // a tail reports its block's count
    alloc.freePages(a);
    expect(alloc.isFree(a.pfn)).toBe(false);
    alloc.retag(b, "stranded");
    expect(b.tag).toBe("stranded");
    expect(alloc.stats().byTag).toEqual({ a: 8, stranded: 1, untagged: 1 });
    const blocks = [...alloc.allocatedBlocks()];
    expect(blocks.map((x) => x.pfn)).toEqual([a.pfn, b.pfn, c.pfn].sort((x, y) => x - y));
    expect(alloc.leakCheck(["stranded", "untagged"])).toEqual([{ pfn: a.pfn, order: 3, tag: "a" }]);
    alloc.freePages(a, 3);
    alloc.freePages(c);
    expect(alloc.leakCheck(["stranded"])).toEqual([]);
    expect(alloc.leakCheck()).toEqual([{ pfn: b.pfn, order: 0, tag: "stranded" }]);
  });
});

describe("PageAllocator: a 1 TiB host", () => {
  it("constructs instantly, allocates and frees 1 GiB of pages and a 4 GiB run", () => {
    const mem = new PhysMem([{ base: 0x1_0000_0000, size: 2 ** 40 }]);
    const alloc = new PageAllocator(mem);
    const initial = alloc.stats();
    const initialOrders = alloc.freeBlocksByOrder();
    expect(initial).toEqual({
      totalPages: 2 ** 28,
      reservedPages: 0,
      freePages: 2 ** 28,
      allocatedPages: 0,
      byTag: {},
    });
    expect(initialOrders[MAX_ORDER]).toBe(2 ** 18);
    expect(alloc.sectionCount).toBe(0);
    const last = 0x10_0000 + 2 ** 28 - 1;
    expect(alloc.refCount(last)).toBe(0);
    expect(alloc.compoundHead(last)).toBe(last);
    expect(alloc.compoundOrder(last)).toBe(0);
    expect(alloc.tagOf(last)).toBeNull();
    expect(alloc.isFree(last)).toBe(true);

    const pages = alloc.allocPagesBulk(262_144, { tag: "gib" });
    expect(pages.length).toBe(262_144);
    expect(new Set(pages.map((p) => p.pfn)).size).toBe(262_144);
    expect(alloc.stats()).toMatchObject({
      allocatedPages: 262_144,
      freePages: 2 ** 28 - 262_144,
      byTag: { gib: 262_144 },
    });
    expect(alloc.sectionCount).toBe(256); // bookkeeping only for the 1 GiB used
    for (const p of pages) alloc.freePages(p);
    expect(alloc.stats()).toEqual(initial);
    expect(alloc.freeBlocksByOrder()).toEqual(initialOrders);

    const run = alloc.allocContigPages(1_048_576, { tag: "run" })!;
    expect(run.pfn).toBe(0x10_0000); // the freed order-10 blocks in front of pristine memory join the run
    expect(alloc.refCount(run.pfn + 1_048_575)).toBe(1);
    expect(alloc.stats().allocatedPages).toBe(1_048_576);
    alloc.freeContigRange(run.pfn, 1_048_576);
    expect(alloc.stats()).toEqual(initial);
    expect(alloc.freeBlocksByOrder()).toEqual(initialOrders);
  });
});

describe("PageAllocator.liveOrders (the populate check, once per section run)", () => {
  it("agrees with liveOrder page by page, and stops at the first page that is not allocated", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.boolean(), fc.boolean()), {
          minLength: 1,
          maxLength: 24,
        }),
        // Picks: a frame of an allocated block (head or tail), or any frame near memory (often free).
        fc.array(
          fc.oneof(
            fc.nat().map((n) => ({ held: n })),
            fc.integer({ min: -3, max: 3 * 1024 + 3 }),
          ),
          {
            minLength: 1,
            maxLength: 64,
          },
        ),
        fc.boolean(),
        (blocks, picks, sorted) => {
          const mem = new PhysMem([{ base: 0x10_0000, size: 3 * 1024 * PAGE }]);
          const a = new PageAllocator(mem);
          const held: [Page, number][] = [];
          for (const [order, compound, free] of blocks) {
            const p = a.allocPages(order, { compound });
            if (p !== null) held.push([p, order]);
            // Free the oldest block now and then, so free frames sit between allocated ones.
            if (free && held.length > 1) {
              const [q, o] = held.shift()!;
              a.freePages(q, o);
            }
          }
          const frames = held.flatMap(([p, o]) => Array.from({ length: 2 ** o }, (_, i) => p.pfn + i));
          const base = mem.ranges[0]!.startPfn;
          const chosen = picks.map((x) =>
            typeof x === "number" || frames.length === 0
              ? base + (typeof x === "number" ? x : 0)
              : frames[x.held % frames.length]!,
          );
          const pfns = Float64Array.from(sorted ? chosen.sort((x, y) => x - y) : chosen);
          const out = new Int8Array(pfns.length);
          const first = a.liveOrders(pfns, pfns.length, out);
          const each = Array.from(pfns, (p) => a.liveOrder(p));
          const expected = each.findIndex((o) => o < 0);
          expect(first).toBe(expected);
          const upTo = expected < 0 ? pfns.length : expected;
          expect(Array.from(out.subarray(0, upTo))).toEqual(each.slice(0, upTo));
        },
      ),
      { numRuns: 300 },
    );
  });
});
