/**
 * The page allocator's frame table: per-frame state (reference count, block order, tag, free-block
 * marker, flags) in typed arrays over lazily created sections of {@link SECTION_PAGES} consecutive
 * frames, so bookkeeping grows with the memory in use, not with the memory installed.
 *
 * Internal to {@link PageAllocator} (src/host/page-alloc.ts), which validates arguments and keeps the
 * page accounting; this table only stores and reads frame state. Walks over many frames
 * ({@link FrameTable.liveOrders}, {@link FrameTable.markRun}) look a section up once per run of frames
 * inside it, not once per frame.
 */

/** Highest block order: a block of order 10 is 1024 pages (4 MiB). */
export const MAX_ORDER = 10;

/** Pages in a block of order {@link MAX_ORDER}. */
export const MAX_ORDER_PAGES = 1024;

/** Frames per lazily created bookkeeping section (a multiple of the largest block, so blocks never span two). */
export const SECTION_PAGES = 1024;

/**
 * `pfn % SECTION_PAGES` for a PFN ≥ 0 (integers below 2^53 are exact), without the float `%`: a PFN
 * computed as `hpa / 4096` is a double, and `%` on doubles is a call to fmod (about 10 ns, measured; the
 * bring-up asks it several times per page). Literal 1024: the constant would cost a context load.
 */
export function offOf(pfn: number): number {
  return pfn - Math.floor(pfn / 1024) * 1024;
}

/**
 * 2^k for k in 0..MAX_ORDER. Built with a shift, not `2 ** k`: V8 stores the result of `**` as a heap
 * number, and the allocator's counters that add these (`allocated`, `tagPages`) then changed their field
 * from small integer to double on the first allocation, which deprecated the allocator's map and threw
 * away every optimised function that had seen it (issue 15: "wrong map" deoptimisations).
 */
export const POW: readonly number[] = Array.from({ length: MAX_ORDER + 1 }, (_, k) => 1 << k);

/** Flag bit: the frame heads an allocated block of order ≥ 1 allocated without `__GFP_COMP`. */
const FLAG_NON_COMPOUND = 1;

/** Per-frame state of 1024 consecutive frames. Only a block's head has a non-zero refcount. */
export interface Section {
  /** Reference count of each frame that heads an allocated block; 0 for free frames and tail frames. */
  readonly refs: Int32Array;
  /** Order of the allocated block each head frame heads. */
  readonly order: Uint8Array;
  /** Tag id of the allocated block each head frame heads. */
  readonly tag: Uint16Array;
  /** k + 1 on the head frame of a free block of order k; 0 elsewhere. */
  readonly free: Uint8Array;
  /** Flag bits of each head frame ({@link FLAG_NON_COMPOUND}). */
  readonly flags: Uint8Array;
  /**
   * What the descriptor's per-page check asks, in one load: the order of the block a frame heads when
   * that block is allocated and compound (an order-0 page included), that is `refs > 0 && flags === 0 ?
   * order : -1`; −1 for every other frame (free, a tail, the head of a non-compound block). Derived:
   * written where `refs`, `order` and `flags` are (markBlock, markRun, clearHead; a refcount moving
   * between two positive values changes nothing here).
   */
  readonly headOrder: Int8Array;
  /** Number of allocated blocks headed in this section. */
  live: number;
}

function newSection(): Section {
  // 4 (refs) + 2 (tag) + 1 (order) + 1 (free) + 1 (flags) + 1 (headOrder) bytes per frame, in one buffer.
  const buf = new ArrayBuffer(SECTION_PAGES * 10);
  return {
    refs: new Int32Array(buf, 0, SECTION_PAGES),
    tag: new Uint16Array(buf, SECTION_PAGES * 4, SECTION_PAGES),
    order: new Uint8Array(buf, SECTION_PAGES * 6, SECTION_PAGES),
    free: new Uint8Array(buf, SECTION_PAGES * 7, SECTION_PAGES),
    flags: new Uint8Array(buf, SECTION_PAGES * 8, SECTION_PAGES),
    headOrder: new Int8Array(buf, SECTION_PAGES * 9, SECTION_PAGES).fill(-1),
    live: 0,
  };
}

/** One allocated head frame as {@link FrameTable.heads} lists it. */
export interface HeadFrame {
  readonly pfn: number;
  readonly order: number;
  readonly tagId: number;
  readonly refCount: number;
}

/** Per-frame state of every frame of a host, in sections created on first use. */
export class FrameTable {
  private readonly sections = new Map<number, Section>();
  private lastKey = -1;
  private lastSec: Section | undefined = undefined;

  /** Number of sections created so far. */
  get size(): number {
    return this.sections.size;
  }

  /** Section of `pfn` if it exists. */
  sec(pfn: number): Section | undefined {
    const key = Math.floor(pfn / SECTION_PAGES);
    if (key === this.lastKey) return this.lastSec;
    const s = this.sections.get(key);
    if (s !== undefined) {
      this.lastKey = key;
      this.lastSec = s;
    }
    return s;
  }

  /** Section of `pfn`, created on first use. */
  ensureSec(pfn: number): Section {
    const key = Math.floor(pfn / SECTION_PAGES);
    if (key === this.lastKey) return this.lastSec!;
    let s = this.sections.get(key);
    if (s === undefined) {
      s = newSection();
      this.sections.set(key, s);
    }
    this.lastKey = key;
    this.lastSec = s;
    return s;
  }

  /**
   * Head PFN of the allocated block holding `pfn`, or −1. Blocks are naturally aligned and never span a
   * section, so the head is `pfn` rounded down to 2^k for the smallest k whose candidate heads a block
   * of order ≥ k (a smaller candidate inside a block is one of its tails, never another head).
   */
  headOf(pfn: number): number {
    const sec = this.sec(pfn);
    if (sec === undefined) return -1;
    const off = offOf(pfn);
    const h = headIn(sec, off);
    return h < 0 ? -1 : pfn - off + h;
  }

  /** Records an allocated block headed at `p`: refcount 1, its order and tag. */
  markBlock(p: number, order: number, tagId: number, nonCompound: boolean): void {
    const sec = this.ensureSec(p);
    const off = offOf(p);
    sec.refs[off] = 1;
    sec.order[off] = order;
    sec.tag[off] = tagId;
    sec.flags[off] = nonCompound ? FLAG_NON_COMPOUND : 0;
    sec.headOrder[off] = nonCompound ? -1 : order;
    sec.live++;
  }

  /** Records [s, e) as order-0 pages of refcount 1 with `tagId`, one fill per section. */
  markRun(s: number, e: number, tagId: number): void {
    for (let q = s; q < e; ) {
      const sec = this.ensureSec(q);
      const off = offOf(q);
      const lim = Math.min(SECTION_PAGES, off + (e - q));
      sec.refs.fill(1, off, lim);
      sec.order.fill(0, off, lim);
      sec.tag.fill(tagId, off, lim);
      sec.flags.fill(0, off, lim);
      sec.headOrder.fill(0, off, lim);
      sec.live += lim - off;
      q += lim - off;
    }
  }

  /** Forgets the allocated block headed at `off` of `sec` (its refcount already reached 0). */
  clearHead(sec: Section, off: number): void {
    sec.order[off] = 0;
    sec.tag[off] = 0;
    sec.flags[off] = 0;
    sec.headOrder[off] = -1;
    sec.live--;
  }

  /** `compound_order` of `pfn`: the order of the compound block it heads, else 0 (one section lookup). */
  compoundOrder(pfn: number): number {
    const sec = this.sec(pfn);
    if (sec === undefined) return 0;
    const off = offOf(pfn);
    return sec.refs[off]! > 0 && (sec.flags[off]! & FLAG_NON_COMPOUND) === 0 ? sec.order[off]! : 0;
  }

  /** True when `pfn` heads an allocated block of order ≥ 1 allocated without `__GFP_COMP`. */
  isNonCompound(pfn: number): boolean {
    const sec = this.sec(pfn);
    return sec !== undefined && (sec.flags[offOf(pfn)]! & FLAG_NON_COMPOUND) !== 0;
  }

  /**
   * The order of the block `pfn` heads when it is allocated (0 for an order-0 page, a tail page of an
   * allocated block or any page of a non-compound block), or −1 when the frame is free or has no section.
   */
  liveOrder(pfn: number): number {
    const sec = this.sec(pfn);
    if (sec === undefined) return -1;
    return liveOrderIn(sec, offOf(pfn));
  }

  /**
   * {@link liveOrder} of `pfns[0..n)` into `out`, looking the section up once per run of PFNs that stay
   * inside one section. Returns the index of the first PFN that is not allocated, or −1 when all are.
   * Every `pfns[i]` must be a non-negative integer.
   */
  liveOrders(pfns: Float64Array, n: number, out: Int8Array): number {
    let i = 0;
    while (i < n) {
      const pfn = pfns[i]!;
      const sec = this.sec(pfn);
      if (sec === undefined) return i;
      const base = pfn - offOf(pfn);
      const { refs, order, flags } = sec;
      // The run: this and the following PFNs inside the same section, checked against it only. Literal
      // 1024 (SECTION_PAGES) and 1 (FLAG_NON_COMPOUND): a module constant is a context load and a hole
      // check per use; the offset is a double tested against the section, then an int32 index. Measured
      // against the loop indexing with the double offset and the constants: 3.2 against 3.8 ns per page.
      for (;;) {
        const d = pfns[i]! - base;
        if (!(d >= 0 && d < 1024)) break;
        const off = d | 0;
        if (refs[off]! > 0) out[i] = (flags[off]! & 1) !== 0 ? 0 : order[off]!;
        else if (headIn(sec, off) >= 0) out[i] = 0;
        else return i;
        if (++i === n) return -1;
      }
    }
    return -1;
  }

  /**
   * True when each of the `n` frames from `pfn` (a non-negative integer, n ≥ 0) is allocated: what
   * {@link liveOrders} says of those PFNs, decided a block at a time (a frame heading a block vouches for
   * the 2^order frames of the block; tail frames have no refcount of their own), one section lookup per
   * 1024 frames. The conservation check asks it once per run of module-owned pages.
   */
  allLive(pfn: number, n: number): boolean {
    for (let q = pfn, end = pfn + n; q < end; ) {
      const sec = this.sec(q);
      if (sec === undefined) return false;
      const base = q - offOf(q);
      const lim = Math.min(SECTION_PAGES, end - base);
      let off = q - base;
      while (off < lim) {
        const h = sec.refs[off]! > 0 ? off : headIn(sec, off);
        if (h < 0) return false;
        off = h + POW[sec.order[h]!]!;
      }
      q = base + off;
    }
    return true;
  }

  /** True when `p` heads a free block of order `k`. */
  isFreeHead(p: number, k: number): boolean {
    const sec = this.sec(p);
    return sec !== undefined && sec.free[offOf(p)] === k + 1;
  }

  /** Every allocated head frame (refcount > 0), in PFN order. */
  *heads(): IterableIterator<HeadFrame> {
    const keys = [...this.sections.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      const sec = this.sections.get(key)!;
      if (sec.live === 0) continue;
      const base = key * SECTION_PAGES;
      for (let off = 0; off < SECTION_PAGES; off++) {
        const r = sec.refs[off]!;
        if (r > 0) yield { pfn: base + off, order: sec.order[off]!, tagId: sec.tag[off]!, refCount: r };
      }
    }
  }
}

/** Offset in `sec` of the head of the allocated block holding offset `off`, or −1. */
function headIn(sec: Section, off: number): number {
  const refs = sec.refs;
  const ord = sec.order;
  for (let k = 0; k <= MAX_ORDER; k++) {
    const h = off & ~(POW[k]! - 1);
    if (refs[h]! > 0 && ord[h]! >= k) return h;
  }
  return -1;
}

/** {@link FrameTable.liveOrder} of offset `off` inside `sec`. */
function liveOrderIn(sec: Section, off: number): number {
  if (sec.refs[off]! > 0) return (sec.flags[off]! & FLAG_NON_COMPOUND) !== 0 ? 0 : sec.order[off]!;
  return headIn(sec, off) >= 0 ? 0 : -1;
}
