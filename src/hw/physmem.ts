/**
 * Simulated host physical memory (DRAM): a set of address ranges whose page contents exist only once
 * a page is used.
 *
 * Follows docs/spec/03-module.md 3.2 ("a real host has terabytes; the model must handle that without touching
 * every page"): a 1 TiB machine costs a few objects until pages are written. Reading a page that was
 * never written yields zeros, as freshly booted memory in this model does. Reading an address that no
 * range covers yields all ones, as a read that no memory decodes does on real hardware (ledger entry
 * `unbacked-read-all-ones`).
 *
 * This is the hardware, not the kernel: it knows nothing of allocation, ownership or caches. Host and
 * module reach it through their own layers (the kernel's page mapping, the module's private accesses).
 */
import { checkInt, rangeError, TdxpaError } from "../common/errors.js";
import { PAGE_SHIFT, PAGE_SIZE, PFN_LIMIT } from "../common/u64.js";

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // Root-page entries are little-endian u64s read through Uint32Array views (fast in V8); a big-endian
  // host would need DataView instead. Every JS engine this project targets is little-endian.
  throw new TdxpaError("bad-state", "physmem: this model needs a little-endian host");
}

/** One range of physical memory, in bytes; base and size are 4 KiB aligned. */
export interface MemRange {
  readonly base: number;
  readonly size: number;
}

/** A range as page frame numbers: [startPfn, startPfn + pages). */
export interface PfnRange {
  readonly startPfn: number;
  readonly pages: number;
}

/** Entries of a 4 KiB page seen as 512 little-endian u64s: entry i is words 2i (lo) and 2i+1 (hi). */
export const ENTRIES_PER_PAGE = 512;

/** The simulated DRAM. */
export class PhysMem {
  /** The ranges as PFNs, sorted and non-overlapping. */
  readonly ranges: readonly PfnRange[];
  /** Number of 4 KiB pages the ranges cover. */
  readonly totalPages: number;
  private readonly contents = new Map<number, Uint8Array>();

  /**
   * @param ranges byte ranges, each 4 KiB aligned, non-empty, below 2^52 and not overlapping.
   * @example new PhysMem([{ base: 0x1_0000_0000, size: 2 ** 40 }]) // 1 TiB from 4 GiB up
   */
  constructor(ranges: readonly MemRange[]) {
    if (!Array.isArray(ranges) || ranges.length === 0)
      throw rangeError("physmem.ranges", ranges, "1 or more ranges");
    const pfnRanges = ranges.map((r, i) => {
      const base = checkInt(`physmem.ranges[${i}].base`, r?.base, 0, 2 ** 52 - PAGE_SIZE);
      const size = checkInt(`physmem.ranges[${i}].size`, r?.size, PAGE_SIZE, 2 ** 52 - base);
      if (base % PAGE_SIZE !== 0) throw rangeError(`physmem.ranges[${i}].base`, base, "a multiple of 4096");
      if (size % PAGE_SIZE !== 0) throw rangeError(`physmem.ranges[${i}].size`, size, "a multiple of 4096");
      return { startPfn: base / PAGE_SIZE, pages: size / PAGE_SIZE };
    });
    pfnRanges.sort((a, b) => a.startPfn - b.startPfn);
    for (let i = 1; i < pfnRanges.length; i++) {
      const prev = pfnRanges[i - 1]!;
      const cur = pfnRanges[i]!;
      if (cur.startPfn < prev.startPfn + prev.pages) {
        throw rangeError(
          "physmem.ranges",
          `0x${(cur.startPfn * PAGE_SIZE).toString(16)}`,
          "non-overlapping ranges",
        );
      }
    }
    this.ranges = Object.freeze(pfnRanges.map((r) => Object.freeze(r)));
    this.totalPages = pfnRanges.reduce((s, r) => s + r.pages, 0);
  }

  /** True when a range covers the page `pfn`. */
  contains(pfn: number): boolean {
    for (const r of this.ranges) if (pfn >= r.startPfn && pfn < r.startPfn + r.pages) return true;
    return false;
  }

  /** True when every page of [pfn, pfn + pages) is covered by one range. */
  containsRun(pfn: number, pages: number): boolean {
    for (const r of this.ranges) if (pfn >= r.startPfn && pfn + pages <= r.startPfn + r.pages) return true;
    return false;
  }

  /**
   * The bytes of page `pfn`, created zeroed on first use. Throws when no range covers it (callers that
   * may see such an address use {@link readU64} or {@link contains}).
   */
  page(pfn: number): Uint8Array {
    let p = this.contents.get(pfn);
    if (p === undefined) {
      if (!this.contains(pfn)) throw rangeError("physmem.pfn", pfn, "a page inside a memory range");
      p = new Uint8Array(PAGE_SIZE);
      this.contents.set(pfn, p);
    }
    return p;
  }

  /** The page's bytes if it was ever used, else undefined (never allocates). */
  peek(pfn: number): Uint8Array | undefined {
    return this.contents.get(pfn);
  }

  /** The page as 1024 u32 words (little-endian halves of 512 u64 entries). Created on first use. */
  words(pfn: number): Uint32Array {
    const p = this.page(pfn);
    return new Uint32Array(p.buffer, p.byteOffset, PAGE_SIZE / 4);
  }

  /** Sets a page back to zeros (cheaply: an untouched page reads as zeros). */
  zero(pfn: number): void {
    const p = this.contents.get(pfn);
    if (p !== undefined) p.fill(0);
  }

  /**
   * Reads the u64 at byte address `hpa` (8-byte aligned, below 2^52) into `out`. An address no range
   * covers reads as all ones. Valid for hpa a multiple of 8 in 0..2^52−8 (not checked: hot path).
   */
  readU64(hpa: number, out: { lo: number; hi: number }): void {
    const pfn = Math.floor(hpa / PAGE_SIZE);
    const off = (hpa - pfn * PAGE_SIZE) >>> 2;
    const p = this.contents.get(pfn);
    if (p === undefined) {
      const v = this.contains(pfn) ? 0 : 0xffff_ffff;
      out.lo = v;
      out.hi = v;
      return;
    }
    const w = new Uint32Array(p.buffer, p.byteOffset, PAGE_SIZE / 4);
    out.lo = w[off]!;
    out.hi = w[off + 1]!;
  }

  /** Writes a u64 at byte address `hpa`. Valid for hpa a multiple of 8 inside a range. */
  writeU64(hpa: number, lo: number, hi: number): void {
    const pfn = Math.floor(hpa / PAGE_SIZE);
    const w = this.words(pfn);
    const off = (hpa - pfn * PAGE_SIZE) >>> 2;
    w[off] = lo >>> 0;
    w[off + 1] = hi >>> 0;
  }

  /** Number of pages whose contents exist (the memory the model spends on page bytes). */
  get touchedPages(): number {
    return this.contents.size;
  }
}

/** PFN of the page holding byte address `hpa`. Valid for hpa in 0..2^53−1. */
export function pfnOf(hpa: number): number {
  return Math.floor(hpa / PAGE_SIZE);
}

/** Byte address of page `pfn`. Valid for pfn in 0..2^40−1. */
export function hpaOf(pfn: number): number {
  return pfn * PAGE_SIZE;
}

/** Range check for a PFN argument of a public function. */
export function checkPfn(name: string, pfn: unknown): number {
  return checkInt(name, pfn, 0, PFN_LIMIT - 1);
}

export { PAGE_SHIFT, PAGE_SIZE };
