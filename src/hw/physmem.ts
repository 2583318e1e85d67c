/**
 * Simulated host physical memory (DRAM): a set of address ranges whose page contents exist only once
 * a page is used.
 *
 * Follows docs/spec/03-module.md 3.2 ("a real host has terabytes; the model must handle that without touching
 * every page"): a 1 TiB machine costs a few objects until pages are written, and a written page costs
 * the 64-byte lines written (the cache-line granularity of 03-module.md 3.5) until someone maps it whole. Reading a page that was
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

/** u32 words per 64-byte cache line. */
const LINE_WORDS = 16;
/** 64-byte lines per 4 KiB page. */
export const LINES_PER_PAGE = 64;
/** Pages per slab of dense pages (256 KiB). */
const DENSE_SLAB_PAGES = 64;

/**
 * Dense pages are carved from zeroed slabs of {@link DENSE_SLAB_PAGES} pages, shared by every PhysMem of
 * the process: a typed array costs about 4.5 µs to allocate whatever its size, so one per page (or per
 * machine, when a comparison builds thousands of short-lived machines) cost more than the pages' use
 * (measured in a loop: 4.7 µs per page one by one, 0.46-0.63 µs from 64-page slabs). Each page's view is
 * exactly its 4 KiB (`byteOffset` into the slab) and a region is handed out once, so it is zero and
 * nobody else's; a slab lives while any page of it does.
 */
let slab: Uint32Array | null = null;
let slabUsed = DENSE_SLAB_PAGES;

function densePageWords(): Uint32Array {
  if (slabUsed === DENSE_SLAB_PAGES) {
    slab = new Uint32Array(DENSE_SLAB_PAGES * (PAGE_SIZE / 4));
    slabUsed = 0;
  }
  const at = slabUsed++ * (PAGE_SIZE / 4);
  return slab!.subarray(at, at + PAGE_SIZE / 4);
}
/**
 * A page stored whole: its words and a byte view of the same memory. `shared`: the words are a
 * read-only pattern shared by every page restored to it with nothing else in it (the ciphertext a
 * scrambled write-back of a page that held only zeros leaves), until the page is written: a write, a
 * zeroing, or a view handed out by {@link PhysMem.page} / {@link PhysMem.words} first gives the page
 * words of its own, a copy.
 */
interface DensePage {
  readonly w: Uint32Array;
  readonly b: Uint8Array;
  readonly shared: boolean;
}

/** Per pattern array given to {@link PhysMem.restore}, the shared read-only page of its words (a copy). */
const SHARED_PATTERNS = new WeakMap<Uint32Array, DensePage>();

function sharedPattern(pattern: Uint32Array): DensePage {
  let d = SHARED_PATTERNS.get(pattern);
  if (d === undefined) {
    const w = pattern.slice();
    d = { w, b: new Uint8Array(w.buffer, w.byteOffset, PAGE_SIZE), shared: true };
    SHARED_PATTERNS.set(pattern, d);
  }
  return d;
}

/** Lines per storage chunk (256 KiB of line data each). */
const CHUNK_LINES = 4096;
const CHUNK_SHIFT = 12;

/**
 * The non-zero 64-byte lines of a page at one moment (what {@link PhysMem.snapshot} returns): bit l
 * of `mask` (l in 0..63, `mask[0]` lines 0..31) says line l is kept, and `data` holds the kept lines
 * in ascending order, 16 u32 words each. A page that reads as all zeros has no snapshot (null).
 */
export interface PageSnapshot {
  readonly mask: Uint32Array;
  readonly data: Uint32Array;
}

/** Buckets of the line table when its first line is written (a power of two). */
const LINE_TABLE_FIRST = 1024;
/** The line table of a memory that has no line yet: never written (the first line grows it). */
const NO_KEYS = new Float64Array(0);
const NO_SLOTS = new Int32Array(0);

/**
 * `n` as a V8 small integer when it is a whole number in 1..2^30-1, else `n` itself: the same value
 * either way. A PFN or page count computed by a division (`base / 4096`) is a heap number even when it
 * is whole (the byte address is above 2^31); stored in an object field or an array it made V8 change
 * that field or the array's elements from small integer to double, and throw away the optimised code
 * that had seen the old map (issue 15: "wrong map" and "not a Smi" deoptimisations, each followed by a
 * recompile).
 */
export function smallInt(n: number): number {
  return n >= 1 && n < 0x4000_0000 && Number.isInteger(n) ? n | 0 : n;
}

/**
 * The simulated DRAM. Page contents are stored two ways, both created on first write:
 * - *lines*: a page written only through {@link writeU64} keeps just the 64-byte lines written (lines
 *   allocated on first write, from chunks of 4096 lines, found through an open-addressing table keyed
 *   by pfn × 64 + line), so touching a page costs about one line, not 4 KiB;
 * - *dense*: a page someone maps whole ({@link page}, {@link words}: root pages, message buffers) is
 *   4 KiB of words, its lines folded in on the first such call; the views stay valid for good.
 * Readers see the same bytes either way; untouched lines read as zeros.
 */
export class PhysMem {
  /** The ranges as PFNs, sorted and non-overlapping. */
  readonly ranges: readonly PfnRange[];
  /** Number of 4 KiB pages the ranges cover. */
  readonly totalPages: number;
  /** Pages mapped whole: their words and a byte view of the same memory (see {@link DensePage}). */
  private readonly dense = new Map<number, DensePage>();
  /** Line table: key + 1 per bucket (0 empty), and the line's storage slot. */
  /** Made on the first line written (most machines of a comparison never write one: 12 KiB saved each). */
  private keys = NO_KEYS;
  private slots = NO_SLOTS;
  private lines = 0;
  private readonly chunks: Uint32Array[] = [];
  private nextSlot = 0;
  private readonly freeSlots: number[] = [];

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
      if (base % PAGE_SIZE !== 0)
        throw rangeError(`physmem.ranges[${i}].base`, base, `a multiple of ${PAGE_SIZE}`);
      if (size % PAGE_SIZE !== 0)
        throw rangeError(`physmem.ranges[${i}].size`, size, `a multiple of ${PAGE_SIZE}`);
      return { startPfn: smallInt(base / PAGE_SIZE), pages: smallInt(size / PAGE_SIZE) };
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

  // ---- the line table -----------------------------------------------------------------------------

  /** Bucket of line key `key` (pfn × 64 + line, below 2^46). */
  private bucket(key: number): number {
    const lo = key >>> 0;
    const hi = (key - lo) / 0x1_0000_0000;
    return (Math.imul(lo ^ Math.imul(hi, 0x85eb_ca6b), 0x9e37_79b1) >>> 0) & (this.keys.length - 1);
  }

  /** Storage slot of line `key`, or −1 when the line was never written. */
  private findLine(key: number): number {
    if (this.lines === 0) return -1;
    const keys = this.keys;
    const mask = keys.length - 1;
    const want = key + 1;
    for (let i = this.bucket(key); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === want) return this.slots[i]!;
      if (k === 0) return -1;
    }
  }

  /** Storage slot of line `key`, allocated (zeroed) on first use. */
  private lineFor(key: number): number {
    const found = this.findLine(key);
    if (found >= 0) return found;
    if ((this.lines + 1) * 2 > this.keys.length) this.grow();
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.nextSlot++;
      if (slot >>> CHUNK_SHIFT >= this.chunks.length)
        this.chunks.push(new Uint32Array(CHUNK_LINES * LINE_WORDS));
    } else {
      this.chunk(slot).fill(0, this.offset(slot), this.offset(slot) + LINE_WORDS);
    }
    const mask = this.keys.length - 1;
    let i = this.bucket(key);
    while (this.keys[i] !== 0) i = (i + 1) & mask;
    this.keys[i] = key + 1;
    this.slots[i] = slot;
    this.lines++;
    return slot;
  }

  /** Forgets line `key` (backward-shift deletion keeps every probe chain intact). */
  private dropLine(key: number): void {
    if (this.lines === 0) return;
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = this.bucket(key);
    for (; keys[i] !== key + 1; i = (i + 1) & mask) if (keys[i] === 0) return;
    this.freeSlots.push(this.slots[i]!);
    this.lines--;
    keys[i] = 0;
    for (let j = (i + 1) & mask; keys[j] !== 0; j = (j + 1) & mask) {
      const home = this.bucket(keys[j]! - 1);
      // The entry at j may move to the hole at i unless its home lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      keys[i] = keys[j]!;
      this.slots[i] = this.slots[j]!;
      keys[j] = 0;
      i = j;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldSlots = this.slots;
    const size = oldKeys.length === 0 ? LINE_TABLE_FIRST : oldKeys.length * 2;
    this.keys = new Float64Array(size);
    this.slots = new Int32Array(size);
    const mask = this.keys.length - 1;
    for (let j = 0; j < oldKeys.length; j++) {
      const k = oldKeys[j]!;
      if (k === 0) continue;
      let i = this.bucket(k - 1);
      while (this.keys[i] !== 0) i = (i + 1) & mask;
      this.keys[i] = k;
      this.slots[i] = oldSlots[j]!;
    }
  }

  private chunk(slot: number): Uint32Array {
    return this.chunks[slot >>> CHUNK_SHIFT]!;
  }

  private offset(slot: number): number {
    return (slot & (CHUNK_LINES - 1)) * LINE_WORDS;
  }

  /** Copies page `pfn`'s stored lines into `w` (1024 words, zero where no line is stored). */
  private gatherLines(pfn: number, w: Uint32Array, drop: boolean): void {
    if (this.lines === 0) return;
    const base = pfn * LINES_PER_PAGE;
    for (let l = 0; l < LINES_PER_PAGE; l++) {
      const slot = this.findLine(base + l);
      if (slot < 0) continue;
      const c = this.chunk(slot);
      const o = this.offset(slot);
      w.set(c.subarray(o, o + LINE_WORDS), l * LINE_WORDS);
      if (drop) this.dropLine(base + l);
    }
  }

  // ---- pages --------------------------------------------------------------------------------------

  /** Page `pfn` stored whole in words of its own (made, or copied from a shared pattern, on first use). */
  private densePage(pfn: number): DensePage {
    let d = this.dense.get(pfn);
    if (d === undefined || d.shared) {
      if (d === undefined && !this.contains(pfn))
        throw rangeError("physmem.pfn", pfn, "a page inside a memory range");
      const w = densePageWords();
      if (d === undefined) this.gatherLines(pfn, w, true);
      else w.set(d.w);
      d = { w, b: new Uint8Array(w.buffer, w.byteOffset, PAGE_SIZE), shared: false };
      this.dense.set(pfn, d);
    }
    return d;
  }

  /**
   * The bytes of page `pfn`, created zeroed on first use (the page is then stored whole). Throws when
   * no range covers it (callers that may see such an address use {@link readU64} or {@link contains}).
   */
  page(pfn: number): Uint8Array {
    return this.densePage(pfn).b;
  }

  /**
   * The page's bytes if it was ever written, else undefined (never allocates storage). For a page kept
   * as lines this is a fresh copy: read it, do not write it (writes go through {@link page}).
   */
  peek(pfn: number): Uint8Array | undefined {
    const d = this.dense.get(pfn);
    if (d !== undefined) return d.b;
    if (this.lines === 0) return undefined;
    const w = new Uint32Array(PAGE_SIZE / 4);
    let any = false;
    const base = pfn * LINES_PER_PAGE;
    for (let l = 0; l < LINES_PER_PAGE && !any; l++) any = this.findLine(base + l) >= 0;
    if (!any) return undefined;
    this.gatherLines(pfn, w, false);
    return new Uint8Array(w.buffer);
  }

  /** The page as 1024 u32 words (little-endian halves of 512 u64 entries). Created on first use. */
  words(pfn: number): Uint32Array {
    return this.densePage(pfn).w;
  }

  /** Sets a page back to zeros (cheaply: an untouched page or line reads as zeros). */
  zero(pfn: number): void {
    const d = this.dense.get(pfn);
    if (d !== undefined) {
      if (!d.shared) d.w.fill(0);
      else {
        const w = densePageWords();
        this.dense.set(pfn, { w, b: new Uint8Array(w.buffer, w.byteOffset, PAGE_SIZE), shared: false });
      }
    } else if (this.lines > 0) {
      const base = pfn * LINES_PER_PAGE;
      for (let l = 0; l < LINES_PER_PAGE; l++) this.dropLine(base + l);
    }
  }

  /**
   * The non-zero lines of page `pfn` now, or null when it reads as all zeros. Tests whole words, never
   * bytes, and copies only the lines that hold something.
   */
  snapshot(pfn: number): PageSnapshot | null {
    const d = this.dense.get(pfn);
    const w = d === undefined ? this.peekWords(pfn) : d.w;
    if (w === undefined) return null;
    const mask = new Uint32Array(2);
    let n = 0;
    for (let l = 0; l < LINES_PER_PAGE; l++) {
      const o = l * LINE_WORDS;
      let or = 0;
      for (let j = 0; j < LINE_WORDS; j++) or |= w[o + j]!;
      if (or !== 0) {
        mask[l >>> 5] = (mask[l >>> 5]! | (1 << (l & 31))) >>> 0;
        n++;
      }
    }
    if (n === 0) return null;
    const data = new Uint32Array(n * LINE_WORDS);
    let k = 0;
    for (let l = 0; l < LINES_PER_PAGE; l++) {
      if (((mask[l >>> 5]! >>> (l & 31)) & 1) === 0) continue;
      data.set(w.subarray(l * LINE_WORDS, (l + 1) * LINE_WORDS), k * LINE_WORDS);
      k++;
    }
    return { mask, data };
  }

  /**
   * Page `pfn` becomes `snap` (null: all zeros) XOR-ed word by word with `pattern` (1024 words; none:
   * the snapshot as it was). With a pattern every word is written, so the page is stored whole. A page
   * not stored whole that becomes the pattern alone (`snap` null) shares one read-only copy of it with
   * every such page until it is written (see {@link DensePage}): that copy is taken at the pattern
   * array's first use, so pass a pattern array whose words do not change afterwards.
   */
  restore(pfn: number, snap: PageSnapshot | null, pattern?: Uint32Array): void {
    const whole = pattern !== undefined && snap === null && pattern.length === PAGE_SIZE / 4;
    const d = whole ? this.dense.get(pfn) : undefined;
    if (whole && (d === undefined || d.shared)) {
      // Nobody holds a view of this page's words to write through: its lines (all overwritten) go,
      // and it takes the shared pattern, which is what the words below would hold, without a page
      // allocated and filled per write-back.
      if (d === undefined) {
        if (!this.contains(pfn)) throw rangeError("physmem.pfn", pfn, "a page inside a memory range");
        if (this.lines > 0) {
          const base = pfn * LINES_PER_PAGE;
          for (let l = 0; l < LINES_PER_PAGE; l++) this.dropLine(base + l);
        }
      }
      this.dense.set(pfn, sharedPattern(pattern));
      return;
    }
    if (pattern === undefined && !this.dense.has(pfn)) {
      this.zero(pfn);
      if (snap === null) return;
      let k = 0;
      for (let l = 0; l < LINES_PER_PAGE; l++) {
        if (((snap.mask[l >>> 5]! >>> (l & 31)) & 1) === 0) continue;
        const slot = this.lineFor(pfn * LINES_PER_PAGE + l);
        this.chunk(slot).set(snap.data.subarray(k * LINE_WORDS, (k + 1) * LINE_WORDS), this.offset(slot));
        k++;
      }
      return;
    }
    const w = this.words(pfn);
    if (pattern === undefined) w.fill(0);
    else w.set(pattern);
    if (snap === null) return;
    let k = 0;
    for (let l = 0; l < LINES_PER_PAGE; l++) {
      if (((snap.mask[l >>> 5]! >>> (l & 31)) & 1) === 0) continue;
      const o = l * LINE_WORDS;
      const s = k * LINE_WORDS;
      // The page already holds the pattern (or zeros): XOR the kept words into it.
      for (let j = 0; j < LINE_WORDS; j++) w[o + j] = (w[o + j]! ^ snap.data[s + j]!) >>> 0;
      k++;
    }
  }

  /** The page's words if anything of it is stored (a copy for a page kept as lines), else undefined. */
  private peekWords(pfn: number): Uint32Array | undefined {
    const b = this.peek(pfn);
    return b === undefined ? undefined : new Uint32Array(b.buffer, b.byteOffset, PAGE_SIZE / 4);
  }

  /**
   * Reads the u64 at byte address `hpa` (8-byte aligned, below 2^52) into `out`. An address no range
   * covers reads as all ones. Valid for hpa a multiple of 8 in 0..2^52−8 (not checked: hot path).
   */
  readU64(hpa: number, out: { lo: number; hi: number }): void {
    const pfn = Math.floor(hpa / PAGE_SIZE);
    const off = (hpa - pfn * PAGE_SIZE) >>> 2;
    const d = this.dense.get(pfn);
    if (d !== undefined) {
      out.lo = d.w[off]!;
      out.hi = d.w[off + 1]!;
      return;
    }
    const slot = this.lines === 0 ? -1 : this.findLine(pfn * LINES_PER_PAGE + (off >>> 4));
    if (slot < 0) {
      const v = this.contains(pfn) ? 0 : 0xffff_ffff;
      out.lo = v;
      out.hi = v;
      return;
    }
    const c = this.chunk(slot);
    const o = this.offset(slot) + (off & (LINE_WORDS - 1));
    out.lo = c[o]!;
    out.hi = c[o + 1]!;
  }

  /**
   * Writes a u64 at byte address `hpa`: into the page's words when it is stored whole, else into its
   * 64-byte line (allocated on first write). Valid for hpa a multiple of 8 inside a range.
   */
  writeU64(hpa: number, lo: number, hi: number): void {
    const pfn = Math.floor(hpa / PAGE_SIZE);
    const off = (hpa - pfn * PAGE_SIZE) >>> 2;
    const d = this.dense.get(pfn);
    if (d !== undefined) {
      const w = d.shared ? this.densePage(pfn).w : d.w;
      w[off] = lo >>> 0;
      w[off + 1] = hi >>> 0;
      return;
    }
    if (!this.contains(pfn)) throw rangeError("physmem.pfn", pfn, "a page inside a memory range");
    const slot = this.lineFor(pfn * LINES_PER_PAGE + (off >>> 4));
    const c = this.chunk(slot);
    const o = this.offset(slot) + (off & (LINE_WORDS - 1));
    c[o] = lo >>> 0;
    c[o + 1] = hi >>> 0;
  }

  /** Number of pages whose contents exist, whole or as lines (the memory the model spends on page bytes). */
  get touchedPages(): number {
    if (this.lines === 0) return this.dense.size;
    const pages = new Set<number>(this.dense.keys());
    for (const k of this.keys) if (k !== 0) pages.add(Math.floor((k - 1) / LINES_PER_PAGE));
    return pages.size;
  }

  /** Number of 64-byte lines stored for pages not stored whole. */
  get storedLines(): number {
    return this.lines;
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
