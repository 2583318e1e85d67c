/**
 * High-order pages that are not compound (docs/spec/02-kapi.md 2.1–2.2): `alloc_pages` without
 * `__GFP_COMP` gives 2^order pages that are each a page of their own (`compound_nr` 1, no head/tail
 * relation), freed only with their order. The descriptor treats such a page as the kernel does: one
 * 4 KiB page, no NUM_PAGES in its entry, one PAGE.WBINVD. NUM_PAGES never exceeds 1024 (order 10).
 */
import { describe, expect, it } from "vitest";
import { TdxpaError } from "../../src/common/errors.js";
import { mapPageForRead } from "../../src/host/kernel.js";
import type { Page } from "../../src/host/page.js";
import { MAX_ORDER } from "../../src/host/page-alloc.js";
import { tdxPageArrayCreate, tdxPageArrayDestroy } from "../../src/host/page-array.js";
import type { Machine } from "../../src/machine.js";
import { machine } from "../support/machine.js";

/** Bits 11:0 (NUM_PAGES) and the PFN of root entry `i`. */
function entry(m: Machine, rootPfn: number, i: number) {
  const w = mapPageForRead(m.kernel, rootPfn);
  const words = new Uint32Array(w.buffer, w.byteOffset, 1024);
  return { numPages: words[2 * i]! & 0xfff, pfn: (words[2 * i]! >>> 12) + words[2 * i + 1]! * 0x10_0000 };
}

describe("the allocator offers compound and non-compound high-order pages", () => {
  it("compound (the default): the head reports the order, tails point at the head", () => {
    const m = machine();
    const b = m.alloc.allocPages(2, { tag: "t" })!;
    expect([b.order, b.nrPages]).toEqual([2, 4]);
    expect(b.nth(3).head().pfn).toBe(b.pfn);
    expect(b.nth(3).refCount).toBe(1);
  });

  it("non-compound: every page is its own (compound_nr 1), only the first holds the block's count", () => {
    const m = machine();
    const b = m.alloc.allocPages(2, { tag: "t", compound: false })!;
    expect([b.order, b.nrPages, b.refCount]).toEqual([0, 1, 1]);
    const tail = b.nth(3);
    expect(tail.head().pfn).toBe(tail.pfn);
    expect([tail.order, tail.nrPages, tail.refCount]).toEqual([0, 1, 0]);
    expect(m.alloc.isNonCompoundHead(b.pfn)).toBe(true);
    expect(m.alloc.stats().allocatedPages).toBe(4);
  });

  it("a non-compound block is freed with its order, never by its head alone", () => {
    const m = machine();
    const b = m.alloc.allocPages(3, { tag: "t", compound: false })!;
    expect(() => m.alloc.freePages(b)).toThrow(/non-compound order-3 block: give its order/);
    expect(() => m.alloc.freePages(b, 0)).toThrow(TdxpaError);
    expect(m.alloc.stats().allocatedPages).toBe(8);
    m.alloc.freePages(b, 3);
    expect(m.alloc.stats().allocatedPages).toBe(0);
    expect(m.alloc.isNonCompoundHead(b.pfn)).toBe(false);
    // The frames can come back as a compound block.
    const c = m.alloc.allocPages(3, { tag: "t" })!;
    expect(c.order).toBe(3);
  });
});

describe("the descriptor treats a non-compound page as the kernel does", () => {
  function build(compound: boolean) {
    const m = machine();
    const b = m.alloc.allocPages(2, { tag: "t", compound, zero: true })!;
    const one = m.alloc.allocPage({ tag: "t", zero: true })!;
    const pages: Page[] = [b, one];
    const a = tdxPageArrayCreate(m.kernel, pages, pages.length)!;
    return { m, b, a };
  }

  it("no NUM_PAGES in the entry and one 4 KiB page covered (compound: NUM_PAGES 4, four pages)", () => {
    const c = build(true);
    expect(entry(c.m, c.a.rootPage.pfn, 0)).toEqual({ numPages: 4, pfn: c.b.pfn });
    expect(c.a.coveredPages).toBe(5);
    const n = build(false);
    expect(entry(n.m, n.a.rootPage.pfn, 0)).toEqual({ numPages: 0, pfn: n.b.pfn });
    expect(n.a.coveredPages).toBe(2);
  });

  it("destroy writes back one page for it (compound: each of its four pages)", () => {
    for (const [compound, want] of [
      [true, 5],
      [false, 2],
    ] as const) {
      const { m, a } = build(compound);
      a.markFlushOnFree();
      expect(tdxPageArrayDestroy(m.kernel, a).writeBacks, String(compound)).toBe(want);
    }
  });

  it("every page of a non-compound block can be listed as an entry of its own", () => {
    const m = machine();
    const b = m.alloc.allocPages(2, { tag: "t", compound: false })!;
    const pages = [0, 1, 2, 3].map((i) => b.nth(i));
    const a = tdxPageArrayCreate(m.kernel, pages, 4)!;
    for (let i = 0; i < 4; i++) expect(entry(m, a.rootPage.pfn, i)).toEqual({ numPages: 0, pfn: b.pfn + i });
    expect(a.coveredPages).toBe(4);
  });

  it("NUM_PAGES never exceeds 1024: the largest block is order 10", () => {
    const m = machine();
    const b = m.alloc.allocPages(MAX_ORDER, { tag: "t" })!;
    const a = tdxPageArrayCreate(m.kernel, [b], 1)!;
    expect(entry(m, a.rootPage.pfn, 0).numPages).toBe(1024);
    expect(() => m.alloc.allocPages(MAX_ORDER + 1, { tag: "t" })).toThrow(/0\.\.10/);
  });
});

describe("scenarios allocate non-compound blocks", () => {
  it("`compound: false`: a root lists each block's first page alone (EXT.MEM.ADD donates only those); compound blocks carry NUM_PAGES, which a list entry may not", async () => {
    const { parseScenario } = await import("../../src/scenario/schema.js");
    const { runScenario } = await import("../../src/scenario/runner.js");
    const steps = (compound: boolean) => [
      { alloc: "blocks", pages: 3, order: 2, compound },
      { root: "list", format: "hpa-list-info", of: "blocks" },
      {
        seamcall: "TDH.EXT.MEM.ADD",
        regs: { RCX: "@list" },
        expect: { status: compound ? "TDX_OPERAND_INVALID(RCX)" : "TDX_SUCCESS" },
      },
      { expect: { conservation: "ok", pages: { moduleOwned: compound ? 0 : 3 } } },
    ];
    for (const compound of [true, false]) {
      const r = runScenario(
        parseScenario({
          name: "nc",
          platform: { metadata: { MEMORY_POOL_REQUIRED_PAGES: 64 } },
          steps: steps(compound),
        }),
      );
      expect(
        r.expectations.filter((e) => !e.ok),
        String(compound),
      ).toEqual([]);
      expect(r.phases[0]!.label).toBe(`alloc blocks (3 x order 2${compound ? "" : " non-compound"})`);
    }
  });
});
