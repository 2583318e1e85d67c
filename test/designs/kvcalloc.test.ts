/**
 * `kvcallocPointers` of src/designs/_harness.ts (the page-pointer arrays of the v2 and split designs,
 * docs/spec/02-kapi.md 2.7): slab below 4 KiB, one power-of-two block up to MAX_ORDER, and the vmalloc
 * fallback of order-0 pages above it (a 1,048,576-page pool needs 8 MiB of pointers: order 11).
 */
import { describe, expect, it } from "vitest";
import { kvcallocPointers, kvfreePointers } from "../../src/designs/_harness.js";
import { MAX_ORDER } from "../../src/host/page-alloc.js";
import { machine } from "../support/machine.js";

describe("kvcallocPointers", () => {
  it("slab, one block, then order-0 pages above MAX_ORDER; kvfree returns every page", () => {
    const m = machine();
    const k = m.kernel;
    const before = k.alloc.stats().allocatedPages;
    expect(kvcallocPointers(k, 512, "ptrs")).toBeUndefined();
    const small = kvcallocPointers(k, 513, "ptrs")!;
    expect(small.order).toBe(1);
    expect(small.pages).toHaveLength(1);
    const mid = kvcallocPointers(k, 12_800, "ptrs")!;
    expect([mid.order, mid.pages.length]).toEqual([5, 1]);
    const top = kvcallocPointers(k, 512 * 2 ** MAX_ORDER, "ptrs")!;
    expect([top.order, top.pages.length]).toEqual([MAX_ORDER, 1]);
    const big = kvcallocPointers(k, 1_048_576, "ptrs")!;
    expect(big.order).toBe(0);
    expect(big.pages).toHaveLength(2048);
    expect(k.alloc.stats().allocatedPages - before).toBe(2 + 32 + 2 ** MAX_ORDER + 2048);
    for (const a of [small, mid, top, big]) kvfreePointers(k, a);
    expect(k.alloc.stats().allocatedPages).toBe(before);
  });
});
