/**
 * The host kernel's page allocator (the `alloc_pages` / `__free_pages` family): a buddy allocator of
 * orders 0..{@link MAX_ORDER} over every range of a {@link PhysMem}, and the frame database
 * ({@link PageFrameDb}) that {@link Page} handles read.
 *
 * Built for hosts of a terabyte and more without touching every page, in three parts:
 * - this file: the public API (argument checks, page accounting, tags, fault injection);
 * - src/host/page-alloc-frames.ts: per-frame state (reference count, block order, tag, flags) in typed
 *   arrays of lazily created 1024-frame sections, so bookkeeping grows with the memory in use, not with
 *   the memory installed; walks over many pages look a section up once per run, not once per page;
 * - src/host/page-alloc-free.ts: buddy free lists, pristine (never carved) memory and the search for
 *   contiguous runs; a freed block merges with its free buddy, order by order up to 10, so
 *   fragmentation is real and freeing everything restores the initial free-list shape.
 *
 * Misuse (double free, freeing a tail page, a PFN outside memory, bad orders) throws a typed error
 * naming the PFN or value: in the kernel these are BUG_ONs, here the library was called wrongly.
 * Running out of memory is not misuse: allocations then return null, as the kernel returns NULL.
 * Fault injection (`failNth`, `failTag`) makes chosen allocations fail so callers' error paths run;
 * `hooks` lets a cache model observe the kernel's zeroing writes and frees.
 */
import { checkInt, stateError, TdxpaError, typeError } from "../common/errors.js";
import { PFN_LIMIT } from "../common/u64.js";
import { type PfnRange, type PhysMem, smallInt } from "../hw/physmem.js";
import { Page, type PageFrameDb } from "./page.js";
import { FrameTable, MAX_ORDER, offOf, POW, type Section } from "./page-alloc-frames.js";
import { FreeLists, findInterval, meetsInterval } from "./page-alloc-free.js";
import type {
  AllocatedBlock,
  AllocOptions,
  LeakedBlock,
  PageAllocatorOptions,
  PageAllocHooks,
  PageAllocStats,
} from "./page-alloc-types.js";

export { MAX_ORDER, MAX_ORDER_PAGES } from "./page-alloc-frames.js";
export type {
  AllocatedBlock,
  AllocOptions,
  LeakedBlock,
  PageAllocatorOptions,
  PageAllocHooks,
  PageAllocStats,
} from "./page-alloc-types.js";

function hex(pfn: number): string {
  return `0x${pfn.toString(16)}`;
}

/** The buddy page allocator of the simulated host, and its frame database. */
export class PageAllocator implements PageFrameDb {
  /** The memory this allocator manages. */
  readonly mem: PhysMem;
  /** Pages of all memory ranges. */
  readonly totalPages: number;
  /** Pages of reserved ranges inside memory. */
  readonly reservedPages: number;
  /** Observers of zeroing and freeing (none by default); assign to install. */
  hooks: PageAllocHooks = {};

  private readonly rStart: number[] = [];
  private readonly rEnd: number[] = [];
  private readonly resStart: number[] = [];
  private readonly resEnd: number[] = [];
  private readonly frames = new FrameTable();
  private readonly free: FreeLists;
  private readonly tagIds = new Map<string, number>([["untagged", 0]]);
  private readonly tagNames: string[] = ["untagged"];
  private readonly tagPages: number[] = [0];
  private allocated = 0;
  private calls = 0;
  private injected = 0;
  private readonly failAt = new Set<number>();
  private readonly failTags = new Map<string, number>();

  /**
   * @param mem the simulated DRAM; every range is managed.
   * @param opts `reserved`: PFN ranges never handed out (they count as reserved, not free).
   * @example new PageAllocator(new PhysMem([{ base: 0x1_0000_0000, size: 2 ** 40 }])) // instant
   */
  constructor(mem: PhysMem, opts?: PageAllocatorOptions) {
    if (typeof mem !== "object" || mem === null || !Array.isArray(mem.ranges)) {
      throw typeError("PageAllocator.mem", mem, "a PhysMem");
    }
    if (opts !== undefined && (typeof opts !== "object" || opts === null)) {
      throw typeError("PageAllocator.opts", opts, "an options object");
    }
    this.mem = mem;
    for (const r of mem.ranges) {
      this.rStart.push(r.startPfn);
      this.rEnd.push(r.startPfn + r.pages);
    }
    this.totalPages = mem.totalPages;
    this.free = new FreeLists(this.frames, this.rStart, this.rEnd);

    // Reserved ranges: validated, clipped to memory, sorted and merged.
    const reserved = opts?.reserved ?? [];
    if (!Array.isArray(reserved))
      throw typeError("PageAllocator.reserved", reserved, "an array of PFN ranges");
    const clipped: [number, number][] = [];
    reserved.forEach((r: PfnRange, i: number) => {
      // Small integers where they can be (same values, see `smallInt`): a platform's reserved PFNs are
      // computed by division, and they seed the free lists.
      const s = smallInt(checkInt(`PageAllocator.reserved[${i}].startPfn`, r?.startPfn, 0, PFN_LIMIT - 1));
      const n = smallInt(checkInt(`PageAllocator.reserved[${i}].pages`, r?.pages, 1, PFN_LIMIT));
      for (let j = 0; j < this.rStart.length; j++) {
        const a = Math.max(s, this.rStart[j]!);
        const b = Math.min(s + n, this.rEnd[j]!);
        if (a < b) clipped.push([a, b]);
      }
    });
    clipped.sort((x, y) => x[0] - y[0]);
    let reservedPages = 0;
    for (const [a, b] of clipped) {
      const last = this.resEnd.length - 1;
      if (last >= 0 && a <= this.resEnd[last]!) {
        if (b > this.resEnd[last]!) {
          reservedPages += b - this.resEnd[last]!;
          this.resEnd[last] = b;
        }
      } else {
        this.resStart.push(a);
        this.resEnd.push(b);
        reservedPages += b - a;
      }
    }
    this.reservedPages = reservedPages;

    // Usable intervals = ranges minus reserved; each becomes head blocks, a pristine middle, tail blocks.
    let ri = 0;
    for (let j = 0; j < this.rStart.length; j++) {
      const rs = this.rStart[j]!;
      const re = this.rEnd[j]!;
      let cursor = rs;
      while (ri < this.resStart.length && this.resStart[ri]! < re) {
        const a = this.resStart[ri]!;
        const b = this.resEnd[ri]!;
        if (a > cursor) this.free.seedUsable(cursor, Math.min(a, re));
        cursor = Math.max(cursor, Math.min(b, re));
        if (b > re) break; // a merged reserved interval spanning into the next range
        ri++;
      }
      if (cursor < re) this.free.seedUsable(cursor, re);
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Public allocation API

  /** Number of allocation calls so far (a bulk call counts one per page requested). */
  get allocCount(): number {
    return this.calls;
  }

  /** Number of allocation calls made to fail by {@link failNth} or {@link failTag}. */
  get injectedFailures(): number {
    return this.injected;
  }

  /** Number of 1024-frame bookkeeping sections created so far (a measure of the memory spent on state). */
  get sectionCount(): number {
    return this.frames.size;
  }

  /**
   * `alloc_pages`: a naturally aligned block of 2^order pages, refcount 1 on its head, recorded as one
   * compound block (or, with `compound: false`, as 2^order pages that are not a compound page: see
   * {@link AllocOptions.compound}). Returns null when no block is free (or a fault was injected).
   * Throws a typed error for an order outside 0..10 or not an integer.
   */
  allocPages(order: number, opts?: AllocOptions): Page | null {
    checkInt("allocPages.order", order, 0, MAX_ORDER);
    const tagId = this.tagIdOf("allocPages", opts);
    if (this.injectFault(tagId)) return null;
    const p = this.free.takeBlock(order);
    if (p < 0) return null;
    this.markBlock(p, order, tagId, order > 0 && opts?.compound === false);
    if (opts?.zero === true) for (let i = 0; i < POW[order]!; i++) this.zeroPage(p + i);
    this.hooks.onAlloc?.(p, POW[order]!, this.tagNames[tagId]!);
    return new Page(this, p);
  }

  /** `alloc_page`: {@link allocPages} of order 0. */
  allocPage(opts?: AllocOptions): Page | null {
    return this.allocPages(0, opts);
  }

  /**
   * `alloc_pages_bulk`: up to `n` order-0 pages (n in 1..2^31). Returns fewer when memory runs out or an
   * injected fault hits one page (that page and the rest are then not allocated). Counts `n` calls.
   */
  allocPagesBulk(count: number, opts?: AllocOptions): Page[] {
    const n = smallInt(checkInt("allocPagesBulk.n", count, 1, 2 ** 31));
    const tagId = this.tagIdOf("allocPagesBulk", opts);
    const zero = opts?.zero === true;
    const base = this.calls;
    const out: Page[] = [];
    for (let i = 0; i < n; i++) {
      if (this.injectFault(tagId)) break;
      const p = this.free.takeBlock(0);
      if (p < 0) break;
      this.markBlock(p, 0, tagId, false);
      if (zero) this.zeroPage(p);
      this.hooks.onAlloc?.(p, 1, this.tagNames[tagId]!);
      out.push(new Page(this, p));
    }
    this.calls = base + n;
    return out;
  }

  /**
   * `alloc_contig_pages`: `n` physically contiguous order-0 pages (each its own page with refcount 1,
   * not a compound block) inside one memory range; returns the first. Whole free blocks covering the
   * run are taken and the unused remainder goes back to the free lists. When `n` is a power of two the
   * run starts at a multiple of `n` (the kernel's rule: a 1 GiB request is 1 GiB aligned); otherwise it
   * is only page aligned. Returns null when no free run of `n` pages (aligned so) exists (pages are never migrated to make one). Prefers runs on the free lists to
   * pristine memory. Cost: the free blocks examined plus the `n` pages, never the whole host.
   */
  allocContigPages(count: number, opts?: AllocOptions): Page | null {
    // A small integer when it can be (same value, see `smallInt`): a count computed by a caller's
    // division is a heap number, which made the run's end, the free lists and the counters doubles.
    const n = smallInt(checkInt("allocContigPages.n", count, 1, PFN_LIMIT));
    const tagId = this.tagIdOf("allocContigPages", opts);
    if (this.injectFault(tagId)) return null;
    const s = this.free.findRun(n);
    if (s < 0) return null;
    const e = s + n;
    // The free stretch starts at `runBase`; an aligned run leaves [runBase, s) free again.
    const base = this.free.runBase;
    this.free.takeRun(base, e);
    if (base < s) this.free.freeRange(base, s);
    this.frames.markRun(s, e, tagId);
    this.allocated += n;
    this.tagPages[tagId] = this.tagPages[tagId]! + n;
    if (opts?.zero === true) for (let q = s; q < e; q++) this.zeroPage(q);
    this.hooks.onAlloc?.(s, n, this.tagNames[tagId]!);
    return new Page(this, s);
  }

  /**
   * `__free_pages` / `put_page`: drops one reference to the block `page` heads; at zero the block goes
   * back to the free lists, merging with free buddies. `order`, when given, must be the block's order;
   * a block allocated without `__GFP_COMP` must be given it (its head reports order 0).
   * Throws a typed error naming the PFN for a free page (double free), a tail page, a reserved page,
   * a non-compound block freed without its order, or a PFN outside memory.
   */
  freePages(page: Page, order?: number): void {
    const pfn = this.headPfn("freePages", page);
    const sec = this.frames.sec(pfn)!;
    const off = offOf(pfn);
    const blockOrder = sec.order[off]!;
    if (order === undefined && this.frames.isNonCompound(pfn)) {
      throw stateError(
        "freePages",
        `pfn ${hex(pfn)} heads a non-compound order-${blockOrder} block: give its order (__free_pages(page, ${blockOrder}))`,
      );
    }
    if (order !== undefined) {
      checkInt("freePages.order", order, 0, MAX_ORDER);
      if (order !== blockOrder) {
        throw stateError(
          "freePages",
          `order ${order} given but pfn ${hex(pfn)} heads an order-${blockOrder} block`,
        );
      }
    }
    this.putRef(sec, off, pfn);
  }

  /** `get_page`: one more reference to the allocated block `page` heads. */
  getPage(page: Page): void {
    const pfn = this.headPfn("getPage", page);
    const sec = this.frames.sec(pfn)!;
    const off = offOf(pfn);
    const r = sec.refs[off]!;
    if (r >= 0x7fff_ffff) throw stateError("getPage", `refcount of pfn ${hex(pfn)} would overflow`);
    sec.refs[off] = r + 1;
  }

  /**
   * `free_contig_range`: puts each of the `n` order-0 pages from `pfn` (as {@link freePages} does).
   * Every page is checked first; if one is not an allocated order-0 page nothing is freed.
   */
  freeContigRange(pfn: number, n: number): void {
    checkInt("freeContigRange.pfn", pfn, 0, PFN_LIMIT - 1);
    checkInt("freeContigRange.n", n, 1, PFN_LIMIT);
    const e = pfn + n;
    for (let q = pfn; q < e; q++) {
      const sec = this.frames.sec(q);
      const off = offOf(q);
      if (sec === undefined || sec.refs[off]! <= 0 || sec.order[off]! !== 0) {
        this.headPfnOf("freeContigRange", q); // throws the precise reason
        throw stateError(
          "freeContigRange",
          `pfn ${hex(q)} heads an order-${sec?.order[off]} block, not one page`,
        );
      }
    }
    for (let q = pfn; q < e; q++) this.putRef(this.frames.sec(q)!, offOf(q), q);
  }

  /** Changes the tag of the allocated block `page` heads (e.g. to mark its pages stranded forever). */
  retag(page: Page, tag: string): void {
    const pfn = this.headPfn("retag", page);
    const id = this.tagId("retag.tag", tag);
    const sec = this.frames.sec(pfn)!;
    const off = offOf(pfn);
    const old = sec.tag[off]!;
    const pages = POW[sec.order[off]!]!;
    this.tagPages[old] = this.tagPages[old]! - pages;
    this.tagPages[id] = this.tagPages[id]! + pages;
    sec.tag[off] = id;
  }

  /** The {@link Page} handle of frame `pfn`; throws a typed error for a PFN outside memory. */
  pfnToPage(pfn: number): Page {
    this.checkMemPfn("pfnToPage.pfn", pfn);
    return new Page(this, pfn);
  }

  // -------------------------------------------------------------------------------------------------
  // Frame database (PageFrameDb). Valid for every PFN in memory, touched or not.

  /**
   * Reference count of the block holding `pfn` (`page_count`: a tail page reports its head's count);
   * 0 for a free or reserved frame. Throws for a PFN outside memory.
   */
  refCount(pfn: number): number {
    this.checkMemPfn("refCount.pfn", pfn);
    const h = this.frames.headOf(pfn);
    // A page inside a non-compound block is not a tail: its own count (the block's is on the first).
    if (h < 0 || (h !== pfn && this.frames.isNonCompound(h))) return 0;
    return this.frames.sec(h)!.refs[offOf(h)]!;
  }

  /**
   * One lookup for callers that walk many pages (the descriptor's check loop, for any frame that is not
   * an allocated head without flags): the order of the block
   * `pfn` heads when it is allocated (0 for an order-0 page, a tail page of an allocated block or any
   * page of a non-compound block), or −1
   * when the frame is free, reserved or outside memory. Never throws; valid for any integer `pfn`.
   */
  liveOrder(pfn: number): number {
    return this.frames.liveOrder(pfn);
  }

  /**
   * @internal the frame table section holding `pfn` (1024 frames from `pfn − offOf(pfn)`), or undefined
   * when none of its frames was ever allocated; for the descriptor's check loop (src/host/page-array.ts),
   * which reads an allocated head's order from it and asks {@link liveOrder} about anything else.
   * Read only.
   */
  _frameSection(pfn: number): Section | undefined {
    return this.frames.sec(pfn);
  }

  /**
   * {@link liveOrder} of `pfns[0..n)` into `out`, once per run of PFNs inside one 1024-frame section
   * (the conservation check walks a batch of pages with a handful of section lookups). Returns the index
   * of the first PFN that is not allocated, or −1 when all are. Each `pfns[i]` must be an integer in
   * 0..2^40 − 1 (the caller read it from a {@link Page} of this allocator).
   */
  liveOrders(pfns: Float64Array, n: number, out: Int8Array): number {
    return this.frames.liveOrders(pfns, n, out);
  }

  /**
   * True when each of the `n` pages from `pfn` is allocated ({@link liveOrders} finds none free), decided a
   * block at a time. `pfn` must be an integer in 0..2^40 − 1 and `n` ≥ 0 (the caller read them from the
   * PAMT of a machine over this allocator).
   */
  allAllocated(pfn: number, n: number): boolean {
    return this.frames.allLive(pfn, n);
  }

  /**
   * `compound_order`: order of the compound block `pfn` heads; 0 for an order-0 page, a tail page, a
   * free frame or any page of a block allocated without `__GFP_COMP` (its `compound_nr` is 1).
   */
  compoundOrder(pfn: number): number {
    this.checkMemPfn("compoundOrder.pfn", pfn);
    return this.frames.compoundOrder(pfn);
  }

  /**
   * `compound_head`: head PFN of the compound block holding `pfn`; `pfn` itself when it is not inside
   * one (a page of a non-compound block is its own head).
   */
  compoundHead(pfn: number): number {
    this.checkMemPfn("compoundHead.pfn", pfn);
    const h = this.frames.headOf(pfn);
    return h < 0 || this.frames.isNonCompound(h) ? pfn : h;
  }

  /** True when `pfn` heads an allocated block of order ≥ 1 allocated without `__GFP_COMP`. */
  isNonCompoundHead(pfn: number): boolean {
    return this.frames.isNonCompound(pfn);
  }

  /** Tag of the allocated block holding `pfn` ("untagged" when none was given); null when free or reserved. */
  tagOf(pfn: number): string | null {
    this.checkMemPfn("tagOf.pfn", pfn);
    const h = this.frames.headOf(pfn);
    return h < 0 ? null : this.tagNames[this.frames.sec(h)!.tag[offOf(h)]!]!;
  }

  /** True when `pfn` is in memory, not reserved and not inside an allocated block. */
  isFree(pfn: number): boolean {
    return (
      Number.isInteger(pfn) &&
      this.rangeIndex(pfn) >= 0 &&
      !this.isReserved(pfn) &&
      this.frames.headOf(pfn) < 0
    );
  }

  /**
   * True when one of the `n` pages from `pfn` lies in a reserved range ({@link isReserved} of any of
   * them): one binary search over the sorted, disjoint reserved ranges, not one per page.
   */
  reservedInRange(pfn: number, n: number): boolean {
    return meetsInterval(this.resStart, this.resEnd, pfn, n);
  }

  /** True when `pfn` lies in a reserved range inside memory. */
  isReserved(pfn: number): boolean {
    return Number.isInteger(pfn) && findInterval(this.resStart, this.resEnd, pfn) >= 0;
  }

  // -------------------------------------------------------------------------------------------------
  // Accounting

  /** Page accounting. `freePages` is summed from the free lists, so free + allocated + reserved = total checks them. */
  stats(): PageAllocStats {
    const free = this.free.freePages();
    const byTag: Record<string, number> = {};
    for (let i = 0; i < this.tagNames.length; i++) {
      if (this.tagPages[i]! > 0) byTag[this.tagNames[i]!] = this.tagPages[i]!;
    }
    return {
      totalPages: this.totalPages,
      reservedPages: this.reservedPages,
      freePages: free,
      allocatedPages: this.allocated,
      byTag,
    };
  }

  /** Number of free blocks per order 0..10 (pristine memory counts as order-10 blocks). */
  freeBlocksByOrder(): number[] {
    return this.free.blocksByOrder();
  }

  /** Every allocated block (and every order-0 page of contiguous runs), in PFN order. */
  *allocatedBlocks(): IterableIterator<AllocatedBlock> {
    for (const h of this.frames.heads()) {
      yield { pfn: h.pfn, order: h.order, tag: this.tagNames[h.tagId]!, refCount: h.refCount };
    }
  }

  /** Allocated blocks whose tag is not in `allowedTags` (untagged ones have tag "untagged"). */
  leakCheck(allowedTags: readonly string[] = []): LeakedBlock[] {
    const allowed = new Set(allowedTags);
    const out: LeakedBlock[] = [];
    for (const b of this.allocatedBlocks()) {
      if (!allowed.has(b.tag)) out.push({ pfn: b.pfn, order: b.order, tag: b.tag });
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------------
  // Fault injection

  /** Makes the allocation call whose 1-based {@link allocCount} is `n` fail (return null). */
  failNth(n: number): void {
    checkInt("failNth.n", n, 1, Number.MAX_SAFE_INTEGER);
    this.failAt.add(n);
  }

  /** Makes the next `count` allocations tagged `tag` fail ("untagged" matches untagged ones). */
  failTag(tag: string, count = Number.POSITIVE_INFINITY): void {
    if (typeof tag !== "string") throw typeError("failTag.tag", tag, "a string");
    if (count !== Number.POSITIVE_INFINITY) checkInt("failTag.count", count, 0, Number.MAX_SAFE_INTEGER);
    if (count === 0) this.failTags.delete(tag);
    else this.failTags.set(tag, count);
  }

  /** Removes every pending injected fault (the counters stay). */
  clearFaults(): void {
    this.failAt.clear();
    this.failTags.clear();
  }

  // -------------------------------------------------------------------------------------------------
  // Internals

  /** Counts one allocation call and says whether an injected fault makes it fail. */
  private injectFault(tagId: number): boolean {
    const n = ++this.calls;
    if (this.failAt.size > 0 && this.failAt.delete(n)) {
      this.injected++;
      return true;
    }
    if (this.failTags.size > 0) {
      const name = this.tagNames[tagId]!;
      const left = this.failTags.get(name);
      if (left !== undefined) {
        if (left <= 1) this.failTags.delete(name);
        else this.failTags.set(name, left - 1);
        this.injected++;
        return true;
      }
    }
    return false;
  }

  /** Validates allocation options and returns the tag id. */
  private tagIdOf(fn: string, opts: AllocOptions | undefined): number {
    if (opts === undefined) return 0;
    if (typeof opts !== "object" || opts === null) throw typeError(`${fn}.opts`, opts, "an options object");
    if (opts.zero !== undefined && typeof opts.zero !== "boolean") {
      throw typeError(`${fn}.opts.zero`, opts.zero, "a boolean");
    }
    return opts.tag === undefined ? 0 : this.tagId(`${fn}.opts.tag`, opts.tag);
  }

  private tagId(name: string, tag: unknown): number {
    if (typeof tag !== "string") throw typeError(name, tag, "a string");
    let id = this.tagIds.get(tag);
    if (id === undefined) {
      if (this.tagNames.length > 0xffff)
        throw new TdxpaError("no-memory", `${name}: more than 65536 distinct tags`);
      id = this.tagNames.length;
      this.tagNames.push(tag);
      this.tagPages.push(0);
      this.tagIds.set(tag, id);
    }
    return id;
  }

  /** Index of the memory range holding `pfn`, or −1. */
  private rangeIndex(pfn: number): number {
    return this.free.rangeIndex(pfn);
  }

  private checkMemPfn(name: string, pfn: unknown): number {
    const p = checkInt(name, pfn, 0, PFN_LIMIT - 1);
    if (this.rangeIndex(p) < 0)
      throw new TdxpaError("out-of-range", `${name}: pfn ${hex(p)} is outside memory`);
    return p;
  }

  /** Checks that `page` is a handle of this allocator on the head of an allocated block; returns its PFN. */
  private headPfn(fn: string, page: Page): number {
    if (!(page instanceof Page)) throw typeError(`${fn}.page`, page, "a Page");
    if (page.db !== this) throw stateError(fn, `page ${hex(page.pfn)} belongs to another allocator`);
    return this.headPfnOf(fn, page.pfn);
  }

  private headPfnOf(fn: string, pfn: number): number {
    this.checkMemPfn(`${fn}.pfn`, pfn);
    if (this.isReserved(pfn)) throw stateError(fn, `pfn ${hex(pfn)} is reserved memory, never allocated`);
    const h = this.frames.headOf(pfn);
    if (h < 0) throw stateError(fn, `pfn ${hex(pfn)} is not allocated (double free?)`);
    if (h !== pfn) {
      const o = this.frames.sec(h)!.order[offOf(h)]!;
      throw stateError(fn, `pfn ${hex(pfn)} is a tail page of the order-${o} block at ${hex(h)}`);
    }
    return pfn;
  }

  private markBlock(p: number, order: number, tagId: number, nonCompound: boolean): void {
    this.frames.markBlock(p, order, tagId, nonCompound);
    this.allocated += POW[order]!;
    this.tagPages[tagId] = this.tagPages[tagId]! + POW[order]!;
  }

  private zeroPage(pfn: number): void {
    this.mem.zero(pfn);
    this.hooks.onZero?.(pfn);
  }

  /** Drops one reference of the head at `off` of `sec`; at zero frees its block. */
  private putRef(sec: Section, off: number, pfn: number): void {
    const r = sec.refs[off]! - 1;
    sec.refs[off] = r;
    if (r > 0) return;
    const order = sec.order[off]!;
    const tag = sec.tag[off]!;
    this.frames.clearHead(sec, off);
    this.allocated -= POW[order]!;
    this.tagPages[tag] = this.tagPages[tag]! - POW[order]!;
    this.free.insertFree(pfn, order);
    const onFree = this.hooks.onFree;
    if (onFree !== undefined) for (let i = 0; i < POW[order]!; i++) onFree(pfn + i);
  }
}
