/**
 * `forEachChunk` over a run (`{ first, count }`) makes no page handle per page: the descriptor reads a
 * chunk's entries by PFN (`pfnAt`, `orderAt`) and makes `pages` only when asked. Everything it does must
 * be what the same pages fed as an array of handles do: root entries, operands, the PFNs and orders,
 * the hand-off flush, destroy's write-backs, and every refusal (same error, same chunks fed before it).
 */
import { describe, expect, it } from "vitest";
import { isTdxpaError } from "../../src/common/errors.js";
import type { Regs } from "../../src/common/seamcall.js";
import { REG } from "../../src/common/status.js";
import { low52 } from "../../src/common/u64.js";
import { createHostKernel, type HostKernel } from "../../src/host/kernel.js";
import { Page } from "../../src/host/page.js";
import { PageAllocator } from "../../src/host/page-alloc.js";
import { forEachChunk, type TdxPageArray, tdxPageArrayDestroy } from "../../src/host/page-array.js";
import { flushBeforeHandoff } from "../../src/host/seamcalls/handoff.js";
import { PhysMem } from "../../src/hw/physmem.js";

/** A host with 256 MiB, a SEAMCALL double that records each call, a CPU that records each CLFLUSH. */
function host() {
  const mem = new PhysMem([{ base: 0x1_0000_0000, size: 2 ** 28 }]);
  const alloc = new PageAllocator(mem);
  const log: string[] = [];
  const seamcall = (r: Regs) => {
    log.push(`call ${r.lo(REG.RAX) & 0xffff} ${low52(r.lo(REG.RCX), r.hi(REG.RCX))}`);
    r.set(REG.RAX, { lo: 0, hi: 0 });
  };
  const cpu = {
    hostAccess: () => {},
    clflushPage: (pfn: number) => log.push(`clflush ${pfn}`),
  };
  const k = createHostKernel({
    mem,
    alloc,
    seamcall,
    cpu,
    policy: { clflush: "always" },
    sysinfo: { globalKeyId: 48, keyIdShift: 46 },
  });
  return { k, log };
}

/** What a feed can observe of one chunk's descriptor (reads `pages` last, after the PFN readers). */
function observe(k: HostKernel, a: TdxPageArray, i: number, off: number): unknown {
  const n = a.nrPages;
  const words = Array.from(k.mem.words(a.rootPage.pfn).subarray(0, 2 * 512));
  const pfns = Array.from({ length: n }, (_, j) => a.pfnAt(j));
  const orders = Array.from({ length: n }, (_, j) => a.orderAt(j));
  const flushed = flushBeforeHandoff(k, a);
  const pages = a.pages;
  return {
    i,
    off,
    n,
    words,
    pfns,
    orders,
    flushed,
    root: a.rootHpa,
    info: a.toHpaListInfo(),
    array: a.toHpaArray(),
    release: a.toReleaseInput(),
    covered: a.coveredPages,
    pages: pages.map((p) => [p instanceof Page, p.db === k.alloc, p.pfn, p.order]),
    samePages: a.pages === pages,
  };
}

type Setup = (k: HostKernel) => { first: Page; count: number };

/** Feeds the run once as `{ first, count }` and once as an array of its handles, on two identical hosts. */
function both(setup: Setup, chunkSize: number, feed: (k: HostKernel, a: TdxPageArray, i: number) => boolean) {
  const sides = (["run", "array"] as const).map((form) => {
    const { k, log } = host();
    const { first, count } = setup(k);
    const src = form === "run" ? { first, count } : Array.from({ length: count }, (_, i) => first.nth(i));
    const seen: unknown[] = [];
    let error: unknown = null;
    let result: unknown = null;
    try {
      const r = forEachChunk(
        k,
        src,
        (a, i, off) => {
          seen.push(observe(k, a, i, off));
          return feed(k, a, i);
        },
        chunkSize,
      );
      const d = tdxPageArrayDestroy(k, r.array);
      result = { chunks: r.chunks, completed: r.completed, destroyed: d };
    } catch (e) {
      error = isTdxpaError(e) ? { message: (e as Error).message, name: (e as Error).name } : e;
    }
    return { seen, error, result, log, free: k.alloc.stats() };
  });
  return { run: sides[0]!, array: sides[1]! };
}

const contig =
  (n: number): Setup =>
  (k) => ({ first: k.alloc.allocContigPages(n, { tag: "pool" })!, count: n });

describe("forEachChunk over a run", () => {
  it.each([
    [1, 512],
    [511, 512],
    [513, 512],
    [3000, 512],
    [1000, 7],
    [1030, 300],
  ])("%i pages in chunks of %i: the same as the array of their handles", (n, chunk) => {
    const { run, array } = both(contig(n), chunk, () => true);
    expect(run.error).toBeNull();
    expect(run.seen).toHaveLength(Math.ceil(n / chunk));
    expect(run).toEqual(array);
  });

  it("blocks of several pages read their orders live, as the array's handles do", () => {
    // Heads of order-2 blocks, one every 4 frames: a run of count n covers heads and tails alike.
    const setup: Setup = (k) => {
      const heads = Array.from({ length: 6 }, () => k.alloc.allocPages(2, { tag: "blk" })!);
      return { first: heads[0]!, count: 1 };
    };
    const { run, array } = both(setup, 512, (_k, a) => {
      a.markFlushOnFree();
      return true;
    });
    expect(run.error).toBeNull();
    expect(run).toEqual(array);
    expect((run.seen[0] as { orders: number[] }).orders).toEqual([2]);
    // Destroy writes back the block create recorded: 4 pages.
    expect(run.result).toMatchObject({ destroyed: { writeBacks: 4 } });
    // Heads and tails alike (a tail is not a block the allocator calls live): whatever it is, the same.
    const wide = both(
      (k) => ({ ...setup(k), count: 8 }),
      512,
      () => true,
    );
    expect(wide.run).toEqual(wide.array);
  });

  it("a free page in the run: the same refusal, after the same chunks", () => {
    const setup: Setup = (k) => {
      const first = k.alloc.allocContigPages(1500, { tag: "pool" })!;
      // Two freed: the descriptor's root page may take one of them.
      k.alloc.freeContigRange(first.pfn + 700, 2);
      return { first, count: 1500 };
    };
    const { run, array } = both(setup, 512, () => true);
    expect(run.error).toMatchObject({ message: expect.stringMatching(/pages\[18[89]\].*is free/) });
    expect(run.seen).toHaveLength(1);
    expect(run).toEqual(array);
  });

  it("a run past the end of its block, and a first page never allocated: the same refusals", () => {
    const past = both(
      (k) => ({ first: k.alloc.allocContigPages(600, { tag: "p" })!, count: 2000 }),
      512,
      () => true,
    );
    expect(past.run.error).not.toBeNull();
    expect(past.run).toEqual(past.array);
    const never = both(
      (k) => ({ first: new Page(k.alloc, 0x1_4000_0000 / 4096 - 1), count: 3 }),
      512,
      () => true,
    );
    expect(never.run.error).toMatchObject({ message: expect.stringMatching(/is free/) });
    expect(never.run).toEqual(never.array);
  });

  it("a run into a section never allocated: the same refusal, at the first page there", () => {
    // Section 0 (frames 0x100000..0x1003ff) allocated whole; the run's last 100 pages are in section 1,
    // which no allocation has touched before the check (the root page comes after it).
    const setup: Setup = (k) => {
      const first = k.alloc.allocContigPages(1024, { tag: "pool" })!;
      expect(first.pfn % 1024).toBe(0);
      return { first: first.nth(800), count: 300 };
    };
    const { run, array } = both(setup, 512, () => true);
    expect(run.error).toMatchObject({ message: expect.stringMatching(/pages\[224\].*is free/) });
    expect(run).toEqual(array);
  });

  it("a first page of another allocator: the same refusal", () => {
    const other = host().k;
    const foreign = other.alloc.allocContigPages(10, { tag: "p" })!;
    const { run, array } = both(
      () => ({ first: foreign, count: 10 }),
      512,
      () => true,
    );
    expect(run.error).toMatchObject({ message: expect.stringMatching(/pages\[0\]/) });
    expect(run).toEqual(array);
  });

  it("a flagged descriptor: repopulate refuses, destroy writes back the same pages", () => {
    const refused = both(contig(700), 512, (_k, a) => {
      a.markFlushOnFree();
      return true;
    });
    expect(refused.run.error).toMatchObject({ message: expect.stringMatching(/write-back is owed/) });
    expect(refused.run).toEqual(refused.array);
    const destroyed = both(contig(300), 512, (_k, a) => {
      a.markFlushOnFree();
      return false;
    });
    expect(destroyed.run.result).toMatchObject({ destroyed: { writeBacks: 300 } });
    expect(destroyed.run).toEqual(destroyed.array);
  });

  it("pfnAt and orderAt refuse an entry outside 0..nrPages-1", () => {
    const { k } = host();
    const first = k.alloc.allocContigPages(5, { tag: "p" })!;
    const r = forEachChunk(k, { first, count: 5 }, (a) => {
      for (const bad of [-1, 5, 1.5, Number.NaN, "0"]) {
        expect(() => a.pfnAt(bad as number)).toThrow(/pfnAt\.i.*0\.\.4/);
        expect(() => a.orderAt(bad as number)).toThrow(/orderAt\.i.*0\.\.4/);
      }
      expect(a.pfnAt(4)).toBe(first.pfn + 4);
      return true;
    });
    expect(r.completed).toBe(true);
    tdxPageArrayDestroy(k, r.array);
  });
});
