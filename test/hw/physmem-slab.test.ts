/**
 * Dense pages and register files are views of shared slabs (src/hw/physmem.ts, src/common/seamcall.ts):
 * each view must be exactly its own zeroed region, whichever machine or call made it, and survive the
 * slab being shared with others. These tests write through every view and check no other view changed.
 */
import { describe, expect, it } from "vitest";
import { NR_REGS, Regs } from "../../src/common/seamcall.js";
import { PhysMem } from "../../src/hw/physmem.js";

const BASE_PFN = 0x200000;

describe("dense pages from shared slabs", () => {
  it("every page, across two memories and several slabs, is its own zeroed 4 KiB", () => {
    const a = new PhysMem([{ base: BASE_PFN * 4096, size: 100 * 4096 }]);
    const b = new PhysMem([{ base: BASE_PFN * 4096, size: 100 * 4096 }]);
    // 2 × 100 pages, interleaved between the memories: more than two slabs, each shared by both.
    const pages: { mem: PhysMem; pfn: number; w: Uint32Array }[] = [];
    for (let i = 0; i < 100; i++) {
      for (const [m, mem] of [a, b].entries()) {
        const pfn = BASE_PFN + i;
        const w = mem.words(pfn);
        expect(w.length).toBe(1024);
        expect(w.every((x) => x === 0)).toBe(true);
        const bytes = mem.page(pfn);
        expect(bytes.byteLength).toBe(4096);
        expect(bytes.byteOffset).toBe(w.byteOffset);
        expect(bytes.buffer).toBe(w.buffer);
        // Stamp the first and last word of the page with who owns it.
        w[0] = (i << 1) | m;
        w[1023] = 0x8000_0000 | (i << 1) | m;
        pages.push({ mem, pfn, w });
      }
    }
    for (const [j, p] of pages.entries()) {
      expect(p.w[0]).toBe(j);
      expect(p.w[1023]).toBe((0x8000_0000 | j) >>> 0);
      // Every other word stays zero, and the byte view reads the same memory.
      expect(p.w.subarray(1, 1023).every((x) => x === 0)).toBe(true);
      const out = { lo: -1, hi: -1 };
      p.mem.readU64(p.pfn * 4096, out);
      expect(out).toEqual({ lo: j, hi: 0 });
    }
    // A memory made afterwards starts from zeros, though the slab it draws from was written.
    const c = new PhysMem([{ base: BASE_PFN * 4096, size: 4096 }]);
    expect(c.words(BASE_PFN).every((x) => x === 0)).toBe(true);
  });
});

describe("register files from a shared slab", () => {
  it("every Regs is its own zeroed 32 words, across slabs", () => {
    const all: Regs[] = [];
    for (let i = 0; i < 300; i++) {
      const r = new Regs();
      expect(r.w.length).toBe(NR_REGS * 2);
      expect(r.w.every((x) => x === 0)).toBe(true);
      r.setHalves(0, i, ~i >>> 0);
      r.setHalves(NR_REGS - 1, i + 1, i + 2);
      all.push(r);
    }
    all.push(all[7]!.clone());
    for (const [i, r] of all.entries()) {
      const j = i === 300 ? 7 : i;
      expect(r.get(0)).toEqual({ lo: j, hi: ~j >>> 0 });
      expect(r.get(NR_REGS - 1)).toEqual({ lo: j + 1, hi: j + 2 });
      for (let k = 1; k < NR_REGS - 1; k++) expect(r.get(k)).toEqual({ lo: 0, hi: 0 });
    }
  });
});
