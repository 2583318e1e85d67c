/**
 * The v2 design as the kernel's v2 code has it (src/designs/v2.ts; docs/spec/02-kapi.md 2.7):
 * `ctrl_release` compares whole root entries (PFN and NUM_PAGES bits) and accepts a one-page array's
 * release as the page or as the root; its write-back is one PAGE.WBINVD per `pages[i]`;
 * `hpa_array_t_release_raw` is 0 when the current window holds one entry; `ctrl_leak` frees the root
 * and the descriptor and strands only the data pages.
 */
import { describe, expect, it } from "vitest";
import { u64ToHex } from "../../src/common/u64.js";
import { runFlow } from "../../src/designs/compare.js";
import {
  V2_DESIGN,
  V2_ROOT_TAG,
  v2AllocBulk,
  v2AllocContig,
  v2AllocIommuMt,
  v2Create,
  v2CtrlLeak,
  v2CtrlRelease,
  v2Populate,
  v2ToReleaseInput,
} from "../../src/designs/v2.js";
import { mapPageForWrite } from "../../src/host/kernel.js";
import { defaultPlatform } from "../../src/hw/platform.js";
import { machine } from "../support/machine.js";

const PLATFORM = defaultPlatform();

function fresh() {
  return machine({}, PLATFORM);
}

describe("v2 ctrl_release", () => {
  it("compares the whole entry: the same PFN with other NUM_PAGES bits is a mismatch", () => {
    const machine = fresh();
    const a = v2Create(machine.kernel, 3, v2AllocIommuMt, "test:mt")!;
    expect(a.pages[0]!.nrPages).toBe(2);
    // The module's released list names the queue block with NUM_PAGES 4 instead of 2.
    const w = mapPageForWrite(machine.kernel, a.root.pfn);
    w[0] = ((w[0]! & 0xffff_f000) | 4) >>> 0;
    expect(v2CtrlRelease(machine.kernel, a, 3, a.root.hpa)).toBe(false);
    expect(machine.kernel.ledger.stranded.size).toBe(2 + 2 + 1);
  });

  it("the unchanged entries match and are released", () => {
    const machine = fresh();
    const a = v2Create(machine.kernel, 3, v2AllocIommuMt, "test:mt")!;
    expect(v2CtrlRelease(machine.kernel, a, 3, a.root.hpa)).toBe(true);
    expect(machine.kernel.ledger.stranded.size).toBe(0);
    expect(machine.alloc.stats().allocatedPages).toBe(0);
  });

  it("a one-page array matches when the released address is its page or its root", () => {
    for (const via of ["page", "root"] as const) {
      const machine = fresh();
      const a = v2Create(machine.kernel, 1, v2AllocBulk, "test:one")!;
      const hpa = via === "page" ? a.pages[0]!.hpa : a.root.hpa;
      expect(v2CtrlRelease(machine.kernel, a, 1, hpa), via).toBe(true);
      expect(machine.kernel.ledger.stranded.size, via).toBe(0);
    }
  });

  it("writes back one page per pages[i]: a block's tail pages are not written back", () => {
    const machine = fresh();
    const a = v2Create(machine.kernel, 3, v2AllocIommuMt, "test:mt")!;
    const before = machine.cache.stats.pageWbinvds;
    expect(v2CtrlRelease(machine.kernel, a, 3, a.root.hpa)).toBe(true);
    expect(machine.cache.stats.pageWbinvds - before).toBe(3);
  });

  it("the IOMMU flow leaves the queue blocks' tail pages dirty (one hazard per tail page)", () => {
    const units = PLATFORM.iommus.filter((u) => u.tdxCapable).length;
    const tails = units * 2 * (2 ** PLATFORM.metadata.iqOrder - 1);
    const r = runFlow(V2_DESIGN, "iommu", { platform: PLATFORM }).figures;
    expect(tails).toBeGreaterThan(0);
    expect(r.hazards).toBe(tails);
    expect(r.conservationOk).toBe(true);
  });
});

describe("v2 hpa_array_t_release_raw", () => {
  it("is 0 when the current window holds one entry, even of a larger array", () => {
    const machine = fresh();
    const a = v2Create(machine.kernel, 513, v2AllocBulk, "test:big")!;
    expect(u64ToHex(v2ToReleaseInput(a).lo, v2ToReleaseInput(a).hi)).toBe(
      `0x${a.root.hpa.toString(16).padStart(16, "0")}`,
    );
    expect(v2Populate(machine.kernel, a, 512)).toBe(1);
    const r = v2ToReleaseInput(a);
    expect([r.lo, r.hi]).toEqual([0, 0]);
  });
});

describe("v2 ctrl_leak", () => {
  it("frees the root and the pointer array, strands only the data pages", () => {
    const machine = fresh();
    const a = v2Create(machine.kernel, 600, v2AllocContig, "test:pool")!;
    v2CtrlLeak(machine.kernel, a, "test");
    expect(machine.kernel.ledger.stranded.size).toBe(600);
    expect(machine.kernel.ledger.stranded.has(a.root.pfn)).toBe(false);
    const byTag = machine.alloc.stats().byTag;
    expect(byTag[V2_ROOT_TAG]).toBeUndefined();
    expect(byTag["v2:pages-array"]).toBeUndefined();
  });

  it("a failed extensions bring-up strands the pool and not the root", () => {
    const platform = { ...PLATFORM, metadata: { ...PLATFORM.metadata, MEMORY_POOL_REQUIRED_PAGES: 1024 } };
    const r = runFlow(V2_DESIGN, "extensions", { platform }, { leaf: 61, nth: 2 }).figures;
    expect(r.ok).toBe(false);
    expect(r.strandedPages).toBe(1024);
    expect(r.conservationOk).toBe(true);
  });
});

describe("v2 extension pool", () => {
  it("CLFLUSHes every pool page once, window by window, in PFN order", () => {
    const m = fresh();
    const flushed: number[] = [];
    const clflush = m.cache.clflushPage.bind(m.cache);
    m.cache.clflushPage = (pfn: number) => {
      flushed.push(pfn);
      clflush(pfn);
    };
    const r = (V2_DESIGN.flows.extensions as (x: typeof m) => { ok: boolean })(m);
    expect(r.ok).toBe(true);
    const pool = m.platform.metadata.MEMORY_POOL_REQUIRED_PAGES;
    expect(pool).toBeGreaterThan(512); // several windows
    expect(flushed).toEqual(Array.from({ length: pool }, (_, i) => flushed[0]! + i));
    expect(m.alloc.tagOf(flushed[0]!)).toBe("tdx:ext-pool");
  });
});
