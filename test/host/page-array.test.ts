/**
 * The tdx_page_array descriptor (docs/spec/02-kapi.md 2.1–2.2) on simulated memory, with a recording double of
 * the SEAMCALL interface (the only place the double is used: descriptor tests need no module).
 */
import { describe, expect, it } from "vitest";
import { isTdxpaError } from "../../src/common/errors.js";
import {
  decodeHpaArray,
  decodeHpaListInfo,
  decodeIommuMt,
  decodeIommuMtEntry,
  decodeListEntry,
} from "../../src/common/formats.js";
import type { Regs } from "../../src/common/seamcall.js";
import { LEAF, REG } from "../../src/common/status.js";
import { low52 } from "../../src/common/u64.js";
import { createHostKernel, type HostKernel } from "../../src/host/kernel.js";
import { Page } from "../../src/host/page.js";
import { PageAllocator } from "../../src/host/page-alloc.js";
import {
  forEachChunk,
  ROOT_TAG,
  type TdxPageArray,
  tdxPageArrayCreate,
  tdxPageArrayDestroy,
  tdxPageArrayRepopulate,
} from "../../src/host/page-array.js";
import { PhysMem } from "../../src/hw/physmem.js";

/** A host with 1 GiB of memory and a SEAMCALL double that records calls and answers per `answer`. */
function host(answer: (r: Regs) => { lo: number; hi: number } = () => ({ lo: 0, hi: 0 })) {
  const mem = new PhysMem([{ base: 0x1_0000_0000, size: 2 ** 30 }]);
  const alloc = new PageAllocator(mem);
  const calls: { leaf: number; rcx: number }[] = [];
  const seamcall = (r: Regs) => {
    calls.push({ leaf: r.lo(REG.RAX) & 0xffff, rcx: low52(r.lo(REG.RCX), r.hi(REG.RCX)) });
    r.set(REG.RAX, answer(r));
  };
  const k = createHostKernel({ mem, alloc, seamcall, sysinfo: { globalKeyId: 48, keyIdShift: 46 } });
  return { k, mem, alloc, calls };
}

const order0 = (k: HostKernel, n: number) => k.alloc.allocPagesBulk(n, { tag: "data" });

function entries(k: HostKernel, a: TdxPageArray): { lo: number; hi: number }[] {
  const w = k.mem.words(a.rootPage.pfn);
  return Array.from({ length: 512 }, (_, i) => ({ lo: w[2 * i]!, hi: w[2 * i + 1]! }));
}

describe("create", () => {
  it.each([1, 2, 511, 512])("%i pages: root lists their HPAs in order, unused entries zero", (n) => {
    const { k } = host();
    const ps = order0(k, n);
    const a = tdxPageArrayCreate(k, ps, n)!;
    expect(a.nrPages).toBe(n);
    const e = entries(k, a);
    for (let i = 0; i < 512; i++) {
      if (i < n) {
        expect(decodeListEntry(e[i]!.lo, e[i]!.hi, i)).toEqual({
          fields: { hpa: ps[i]!.hpa, numPages: 0 },
          violation: null,
        });
      } else expect(e[i]).toEqual({ lo: 0, hi: 0 });
    }
    const li = a.toHpaListInfo();
    expect(decodeHpaListInfo(li.lo, li.hi)).toEqual({
      fields: { firstEntry: 0, lastEntry: n - 1, count: n, rootHpa: a.rootHpa },
      violation: null,
    });
    const arr = decodeHpaArray(a.toHpaArray().lo, a.toHpaArray().hi).fields;
    if (n === 1) {
      expect(arr).toEqual({ count: 1, singleton: true, rootHpa: null, pageHpa: ps[0]!.hpa });
      expect(a.toReleaseInput()).toEqual({ lo: 0, hi: 0 });
    } else {
      expect(arr).toEqual({ count: n, singleton: false, rootHpa: a.rootHpa, pageHpa: null });
      expect(low52(a.toReleaseInput().lo, a.toReleaseInput().hi)).toBe(a.rootHpa);
    }
    expect(decodeIommuMt(a.toIommuMt().lo, a.toIommuMt().hi).fields.rootHpa).toBe(a.rootHpa);
    expect(k.alloc.tagOf(a.rootPage.pfn)).toBe(ROOT_TAG);
  });

  it("multi-page blocks carry NUM_PAGES = 2^order in the entry; coveredPages counts them", () => {
    const { k } = host();
    const q0 = k.alloc.allocPages(1)!;
    const q1 = k.alloc.allocPages(3)!;
    const p = k.alloc.allocPage()!;
    const a = tdxPageArrayCreate(k, [q0, q1, p], 3)!;
    const e = entries(k, a);
    expect(decodeIommuMtEntry(e[0]!.lo, e[0]!.hi).fields).toEqual({ hpa: q0.hpa, numPages: 2 });
    expect(decodeIommuMtEntry(e[1]!.lo, e[1]!.hi).fields).toEqual({ hpa: q1.hpa, numPages: 8 });
    expect(decodeIommuMtEntry(e[2]!.lo, e[2]!.hi).fields).toEqual({ hpa: p.hpa, numPages: 0 });
    expect(a.coveredPages).toBe(11);
  });

  const refusals: [string, (k: HostKernel) => unknown, RegExp][] = [
    [
      "0 pages",
      (k) => tdxPageArrayCreate(k, order0(k, 1), 0),
      /nr_pages: 0 is out of range; allowed 1\.\.512/,
    ],
    [
      "513 pages",
      (k) => tdxPageArrayCreate(k, order0(k, 513), 513),
      /nr_pages: 513 is out of range; allowed 1\.\.512 \(one root page holds 512 entries\)/,
    ],
    [
      "no pointer array",
      (k) => tdxPageArrayCreate(k, null as unknown as Page[], 1),
      /pages: expected an array of 1 pages, got null/,
    ],
    [
      "array shorter than nr_pages",
      (k) => tdxPageArrayCreate(k, order0(k, 2), 3),
      /pages\.length: 2 is out of range/,
    ],
    [
      "a missing page",
      (k) => tdxPageArrayCreate(k, [order0(k, 1)[0]!, undefined as unknown as Page], 2),
      /pages\[1\]: expected a page, got undefined/,
    ],
    [
      "a free page",
      (k) => tdxPageArrayCreate(k, [new Page(k.alloc, k.alloc.pfnToPage(0x100100).pfn)], 1),
      /is free: the caller must allocate/,
    ],
    [
      "another host's page",
      (k) => tdxPageArrayCreate(k, [host().k.alloc.allocPage()!], 1),
      /a page of this host's allocator/,
    ],
    [
      "a null page",
      (k) => tdxPageArrayCreate(k, [order0(k, 1)[0]!, null as unknown as Page], 2),
      /pages\[1\]: expected a page, got null/,
    ],
    [
      // The handle check reads `db` before `instanceof` (for speed): an object that is not a Page but
      // carries this allocator and an allocated PFN must still be refused as "not a page".
      "a look-alike object carrying this allocator and an allocated PFN",
      (k) => {
        const real = order0(k, 1)[0]!;
        return tdxPageArrayCreate(k, [real, { db: k.alloc, pfn: real.pfn } as unknown as Page], 2);
      },
      /pages\[1\]: expected a page, got/,
    ],
    [
      "a number instead of a page (repopulate)",
      (k) => {
        const ps = order0(k, 2);
        const a = tdxPageArrayCreate(k, ps, 2)!;
        try {
          return tdxPageArrayRepopulate(k, a, [ps[0]!, 7 as unknown as Page], 2);
        } finally {
          tdxPageArrayDestroy(k, a);
        }
      },
      /tdx_page_array_repopulate\.pages\[1\]: expected a page, got 7/,
    ],
    [
      "another host's page (repopulate)",
      (k) => {
        const ps = order0(k, 2);
        const a = tdxPageArrayCreate(k, ps, 2)!;
        try {
          return tdxPageArrayRepopulate(k, a, [ps[0]!, host().k.alloc.allocPage()!], 2);
        } finally {
          tdxPageArrayDestroy(k, a);
        }
      },
      /tdx_page_array_repopulate\.pages\[1\]: .*a page of this host's allocator/,
    ],
    [
      "a freed page next to allocated ones (its frame table section is live)",
      (k) => {
        const ps = order0(k, 3);
        k.alloc.freePages(ps[1]!, 0);
        return tdxPageArrayCreate(k, ps, 3);
      },
      /pages\[1\]: .* is free: the caller must allocate/,
    ],
    [
      // Every handle is checked before any frame (one loop now, two before): a bad handle after a free
      // page is the error reported.
      "a free page, then a non-page: the non-page is reported",
      (k) => {
        const ps = order0(k, 3);
        k.alloc.freePages(ps[0]!, 0);
        return tdxPageArrayCreate(k, [ps[0]!, ps[1]!, "x" as unknown as Page], 3);
      },
      /pages\[2\]: expected a page, got "?x"?/,
    ],
    ["NaN pages", (k) => tdxPageArrayCreate(k, order0(k, 1), Number.NaN), /NaN/],
    ["fractional", (k) => tdxPageArrayCreate(k, order0(k, 2), 1.5), /1\.5/],
  ];
  it.each(refusals)("refuses %s with a typed error", (_n, fn, msg) => {
    const { k } = host();
    const before = k.alloc.stats().byTag[ROOT_TAG] ?? 0;
    try {
      fn(k);
      expect.unreachable();
    } catch (e) {
      expect(isTdxpaError(e)).toBe(true);
      expect((e as Error).message).toMatch(msg);
    }
    expect(k.alloc.stats().byTag[ROOT_TAG] ?? 0).toBe(before);
  });

  it("returns null when the root page cannot be allocated (-ENOMEM)", () => {
    const { k } = host();
    const ps = order0(k, 4);
    k.alloc.failTag(ROOT_TAG, 1);
    expect(tdxPageArrayCreate(k, ps, 4)).toBeNull();
    expect(tdxPageArrayCreate(k, ps, 4)).not.toBeNull();
  });
});

describe("repopulate", () => {
  it("rewrites the root for a new chunk and zeroes entries past the new count", () => {
    const { k } = host();
    const a = tdxPageArrayCreate(k, order0(k, 512), 512)!;
    const root = a.rootHpa;
    const next = order0(k, 3);
    expect(tdxPageArrayRepopulate(k, a, next, 3)).toBe(a);
    expect(a.rootHpa).toBe(root);
    const e = entries(k, a);
    expect(e.slice(0, 3).map((x) => x.lo)).toEqual(next.map((p) => p.hpa % 2 ** 32));
    expect(e.slice(3).every((x) => x.lo === 0 && x.hi === 0)).toBe(true);
  });
  it("destroy writes back the blocks of the last accepted repopulate; a refused one changes nothing", () => {
    // Repopulate keeps two order buffers and swaps them (no allocation per call): this checks that the
    // descriptor's orders follow each accepted repopulate and that a refused one (its allocator check
    // wrote one order before it found the free page) leaves both the orders and the root as they were.
    const { k } = host();
    const blocks = (...orders: number[]) => orders.map((o) => k.alloc.allocPages(o, { tag: "data" })!);
    const a = tdxPageArrayCreate(k, blocks(1, 1, 1), 3)!; // 6 pages
    tdxPageArrayRepopulate(k, a, blocks(2, 2), 2); // 8 pages
    const last = blocks(3, 0); // 9 pages
    tdxPageArrayRepopulate(k, a, last, 2);
    const before = entries(k, a);
    expect(before[0]).toEqual({ lo: (last[0]!.hpa % 2 ** 32) | 8, hi: Math.floor(last[0]!.hpa / 2 ** 32) });
    const refused = blocks(2, 0);
    k.alloc.freePages(refused[1]!, 0);
    expect(() => tdxPageArrayRepopulate(k, a, refused, 2)).toThrow(/pages\[1\].* is free/);
    expect(entries(k, a)).toEqual(before);
    expect(a.pages).toBe(last);
    a.markFlushOnFree();
    expect(tdxPageArrayDestroy(k, a).writeBacks).toBe(9);
  });
  it("with no descriptor behaves like create", () => {
    const { k } = host();
    const a = tdxPageArrayRepopulate(k, null, order0(k, 2), 2);
    expect(a?.nrPages).toBe(2);
  });
  it("refuses while a write-back is owed, and refuses a destroyed descriptor", () => {
    const { k } = host();
    const a = tdxPageArrayCreate(k, order0(k, 2), 2)!;
    a.markFlushOnFree();
    expect(() => tdxPageArrayRepopulate(k, a, order0(k, 2), 2)).toThrow(/refused while a write-back is owed/);
    tdxPageArrayDestroy(k, a);
    expect(() => tdxPageArrayRepopulate(k, a, order0(k, 2), 2)).toThrow(/destroyed/);
    expect(() => a.toHpaListInfo()).toThrow(/use after free/);
    expect(() => tdxPageArrayDestroy(k, a)).toThrow(/double destroy/);
  });
});

describe("destroy", () => {
  it("of null is a no-op", () => {
    const { k, calls } = host();
    expect(tdxPageArrayDestroy(k, null)).toEqual({ writeBacks: 0, failedPfns: [] });
    expect(calls).toEqual([]);
  });
  it("without the flag: no SEAMCALL, root freed, data pages untouched", () => {
    const { k, calls } = host();
    const ps = order0(k, 5);
    const a = tdxPageArrayCreate(k, ps, 5)!;
    const rootPfn = a.rootPage.pfn;
    expect(tdxPageArrayDestroy(k, a)).toEqual({ writeBacks: 0, failedPfns: [] });
    expect(calls).toEqual([]);
    expect(k.alloc.isFree(rootPfn)).toBe(true);
    for (const p of ps) expect(p.refCount).toBe(1);
  });
  it("with the flag: PAGE.WBINVD with the global KeyID for every 4 KiB page, in order", () => {
    const { k, calls } = host();
    const q = k.alloc.allocPages(1)!;
    const ps = [q, ...order0(k, 2)];
    const a = tdxPageArrayCreate(k, ps, 3)!;
    a.markFlushOnFree();
    expect(tdxPageArrayDestroy(k, a)).toEqual({ writeBacks: 4, failedPfns: [] });
    const key = 48 * 2 ** 46;
    expect(calls).toEqual(
      [q.pfn, q.pfn + 1, ps[1]!.pfn, ps[2]!.pfn].map((pfn) => ({
        leaf: LEAF["TDH.PHYMEM.PAGE.WBINVD"],
        rcx: pfn * 4096 + key,
      })),
    );
  });
  it("head-page-only mode (the 2026-04-16 diff) misses the tail of a block", () => {
    const { k, calls } = host();
    const q = k.alloc.allocPages(1)!;
    const a = tdxPageArrayCreate(k, [q], 1)!;
    a.markFlushOnFree();
    expect(tdxPageArrayDestroy(k, a, "head-page-only").writeBacks).toBe(1);
    expect(calls.map((c) => c.rcx % 2 ** 46)).toEqual([q.hpa]);
  });
  it("reports pages whose write-back failed", () => {
    const { k } = host((r) => (r.lo(REG.RCX) % 0x2000 === 0 ? { lo: 1, hi: 0xc000_0300 } : { lo: 0, hi: 0 }));
    const ps = order0(k, 4);
    const a = tdxPageArrayCreate(k, ps, 4)!;
    a.markFlushOnFree();
    const d = tdxPageArrayDestroy(k, a);
    expect(d.writeBacks).toBe(4);
    expect(d.failedPfns).toEqual(ps.filter((p) => p.hpa % 0x2000 === 0).map((p) => p.pfn));
    expect(d.failedPfns.length).toBeGreaterThan(0);
  });
});

describe("forEachChunk", () => {
  it.each([1, 511, 512, 513, 12_800])("%i pages in chunks of at most 512 through one descriptor", (n) => {
    const { k } = host();
    const first = k.alloc.allocContigPages(n, { tag: "pool" })!;
    const seen: number[] = [];
    const roots = new Set<number>();
    const r = forEachChunk(k, { first, count: n }, (a, i, off) => {
      expect(off).toBe(i * 512);
      roots.add(a.rootHpa);
      const e = entries(k, a);
      for (let j = 0; j < a.nrPages; j++) seen.push(e[j]!.lo / 4096 + e[j]!.hi * 2 ** 20);
      return true;
    });
    expect(r.completed).toBe(true);
    expect(r.chunks).toBe(Math.ceil(n / 512));
    expect(roots.size).toBe(1);
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => first.pfn + i));
    tdxPageArrayDestroy(k, r.array);
    expect(k.alloc.stats().byTag[ROOT_TAG] ?? 0).toBe(0);
  });
  it("stops when feed says so, and with no pages makes no descriptor", () => {
    const { k } = host();
    const ps = order0(k, 1500);
    const r = forEachChunk(k, ps, (_a, i) => i < 1);
    expect(r).toMatchObject({ chunks: 2, completed: false });
    tdxPageArrayDestroy(k, r.array);
    expect(forEachChunk(k, [], () => true)).toEqual({ array: null, chunks: 0, completed: true });
    expect(() => forEachChunk(k, ps, () => true, 513)).toThrow(/chunkSize: 513/);
  });
});
