/**
 * The page allocator's free memory: buddy free lists of orders 0..{@link MAX_ORDER}, pristine
 * (never carved) memory, and the search for a contiguous free run (`alloc_contig_pages`).
 *
 * - untouched memory stays in "pristine" PFN intervals (order-10 aligned); an order-10 block is carved
 *   from the front of one only when the order-10 free list is empty. The unaligned head and tail of each
 *   usable interval are split into naturally aligned blocks on the free lists;
 * - a free block is marked on its head frame in the {@link FrameTable} ("free head of order k"), which
 *   gives an O(1) buddy test and removal; a LIFO stack per order with lazy deletion picks the block to
 *   hand out. (A `Set` per order was tried: V8 rehashes a large Set under delete/add churn, several µs
 *   per operation);
 * - a freed block merges with its free buddy, order by order up to 10, inside its own memory range, so
 *   fragmentation is real and freeing everything restores the initial free-list shape.
 *
 * Internal to {@link PageAllocator} (src/host/page-alloc.ts), which checks arguments first.
 */
import { TdxpaError } from "../common/errors.js";
import { smallInt } from "../hw/physmem.js";
import { type FrameTable, MAX_ORDER, MAX_ORDER_PAGES, offOf, POW } from "./page-alloc-frames.js";

/** Rebuild a free-list stack when stale entries make it this much longer than twice the live set. */
const STACK_SLACK = 256;

/** A part of a usable interval never yet carved: [cur, end), both multiples of 1024. */
interface Pristine {
  cur: number;
  readonly end: number;
}

function hex(pfn: number): string {
  return `0x${pfn.toString(16)}`;
}

/** Largest k ≤ MAX_ORDER with `p` aligned to 2^k and p + 2^k ≤ end (p < end). */
function fitOrder(p: number, end: number): number {
  let k = MAX_ORDER;
  while (k > 0 && (p % POW[k]! !== 0 || p + POW[k]! > end)) k--;
  return k;
}

/** Index of the interval of sorted, disjoint [starts[i], ends[i]) holding `pfn`, or −1. */
export function findInterval(starts: readonly number[], ends: readonly number[], pfn: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (pfn < starts[mid]!) hi = mid - 1;
    else if (pfn >= ends[mid]!) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/**
 * True when one of the `n` integers from `pfn` lies in one of the sorted, disjoint intervals
 * [starts[i], ends[i]): one binary search for the first interval ending after `pfn`, which the run
 * meets when it starts before the run ends.
 */
export function meetsInterval(
  starts: readonly number[],
  ends: readonly number[],
  pfn: number,
  n: number,
): boolean {
  if (n <= 0) return false;
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ends[mid]! <= pfn) lo = mid + 1;
    else hi = mid;
  }
  return lo < starts.length && starts[lo]! < pfn + n;
}

/** Free lists and pristine memory over the memory ranges [rStart[i], rEnd[i]). */
export class FreeLists {
  private readonly freeCount: number[] = [];
  private readonly freeStacks: number[][] = [];
  private readonly pristine: Pristine[] = [];
  private pristineNext = 0;
  /** Start of the free stretch the last {@link findRun} chose (at or before the run it returned). */
  runBase = -1;

  constructor(
    private readonly frames: FrameTable,
    private readonly rStart: readonly number[],
    private readonly rEnd: readonly number[],
  ) {
    for (let k = 0; k <= MAX_ORDER; k++) {
      this.freeCount.push(0);
      this.freeStacks.push([]);
    }
  }

  /** Index of the memory range holding `pfn`, or −1. */
  rangeIndex(pfn: number): number {
    return findInterval(this.rStart, this.rEnd, pfn);
  }

  /** Pages on the free lists or still pristine. */
  freePages(): number {
    let free = 0;
    for (let k = 0; k <= MAX_ORDER; k++) free += this.freeCount[k]! * POW[k]!;
    for (const pr of this.pristine) free += pr.end - pr.cur;
    return free;
  }

  /** Number of free blocks per order 0..10 (pristine memory counts as order-10 blocks). */
  blocksByOrder(): number[] {
    const out = [...this.freeCount];
    let pristine = 0;
    for (const pr of this.pristine) pristine += (pr.end - pr.cur) / MAX_ORDER_PAGES;
    out[MAX_ORDER] = out[MAX_ORDER]! + pristine;
    return out;
  }

  /** Puts the usable interval [a, b) on the free lists (head and tail) and the pristine list (middle). */
  seedUsable(first: number, end: number): void {
    // Small integers where they can be (same values, see `smallInt`): `Math.ceil` and `Math.floor` hand
    // back heap numbers, which then reached the free lists and the allocator's PFNs (issue 15).
    const a = smallInt(first);
    const b = smallInt(end);
    const A = smallInt(Math.ceil(a / MAX_ORDER_PAGES) * MAX_ORDER_PAGES);
    const B = smallInt(Math.floor(b / MAX_ORDER_PAGES) * MAX_ORDER_PAGES);
    if (A < B) {
      this.seedBlocks(a, A);
      this.pristine.push({ cur: A, end: B });
      this.seedBlocks(B, b);
    } else {
      this.seedBlocks(a, b);
    }
  }

  /** Splits [a, b) into the largest naturally aligned blocks and puts them on the free lists as they are. */
  private seedBlocks(a: number, b: number): void {
    while (a < b) {
      const k = fitOrder(a, b);
      this.pushFree(a, k);
      a += POW[k]!;
    }
  }

  /** Puts block [p, p + 2^k) on the order-k free list as it is (no merging). */
  private pushFree(p: number, k: number): void {
    this.frames.ensureSec(p).free[offOf(p)] = k + 1;
    this.freeCount[k]!++;
    const stack = this.freeStacks[k]!;
    stack.push(p);
    if (stack.length > 2 * this.freeCount[k]! + STACK_SLACK) this.compactStack(k);
  }

  /** Takes block `p` off the order-k free list if it is there; says whether it was. */
  private removeFree(p: number, k: number): boolean {
    const sec = this.frames.sec(p);
    const off = offOf(p);
    if (sec === undefined || sec.free[off] !== k + 1) return false;
    sec.free[off] = 0;
    this.freeCount[k]!--;
    return true; // its stack entry stays behind, stale, until popped or compacted
  }

  /** Drops stale and duplicate entries of the order-k stack, keeping the order of the live ones. */
  private compactStack(k: number): void {
    const seen = new Set<number>();
    const out: number[] = [];
    for (const p of this.freeStacks[k]!) {
      if (!seen.has(p) && this.frames.isFreeHead(p, k)) {
        seen.add(p);
        out.push(p);
      }
    }
    this.freeStacks[k] = out;
  }

  /** The block {@link popFree} would take next, left on the list; −1 when the list is empty. */
  private peekFree(k: number): number {
    if (this.freeCount[k] === 0) return -1;
    const stack = this.freeStacks[k]!;
    while (stack.length > 0) {
      const p = stack[stack.length - 1]!;
      if (this.frames.isFreeHead(p, k)) return p;
      stack.pop(); // stale
    }
    return -1;
  }

  /** Takes a block off the order-k free list (last in, first out), or −1 when the list is empty. */
  private popFree(k: number): number {
    if (this.freeCount[k] === 0) return -1;
    const stack = this.freeStacks[k]!;
    while (stack.length > 0) {
      const p = stack.pop()!;
      if (this.removeFree(p, k)) return p;
    }
    return -1; // unreachable: every free block has an entry on its stack
  }

  /** Frees block [p, p + 2^k), merging with free buddies inside its memory range. */
  insertFree(p: number, k: number): void {
    const ri = this.rangeIndex(p);
    const rs = this.rStart[ri]!;
    const re = this.rEnd[ri]!;
    while (k < MAX_ORDER) {
      const size = POW[k]!;
      const lower = (p / size) % 2 === 0;
      const buddy = lower ? p + size : p - size;
      const merged = lower ? p : buddy;
      if (merged < rs || merged + 2 * size > re) break;
      if (!this.removeFree(buddy, k)) break;
      p = merged;
      k++;
    }
    this.pushFree(p, k);
  }

  /** Frees [a, b) as the largest aligned blocks, merging each. */
  freeRange(a: number, b: number): void {
    while (a < b) {
      const k = fitOrder(a, b);
      this.insertFree(a, k);
      a += POW[k]!;
    }
  }

  /** Takes a free block of exactly `order` (splitting a bigger one, or carving pristine memory), or −1. */
  takeBlock(order: number): number {
    for (let j = order; j <= MAX_ORDER; j++) {
      const p = this.popFree(j);
      if (p >= 0) {
        for (let i = j - 1; i >= order; i--) this.pushFree(p + POW[i]!, i);
        return p;
      }
    }
    const p = this.carvePristine();
    if (p < 0) return -1;
    for (let i = MAX_ORDER - 1; i >= order; i--) this.pushFree(p + POW[i]!, i);
    return p;
  }

  /** The next order-10 block of pristine memory (lowest address first), or −1. */
  private carvePristine(): number {
    for (; this.pristineNext < this.pristine.length; this.pristineNext++) {
      const pr = this.pristine[this.pristineNext]!;
      if (pr.cur < pr.end) {
        const p = pr.cur;
        pr.cur += MAX_ORDER_PAGES;
        return p;
      }
    }
    return -1;
  }

  /** Pristine interval whose remaining part starts at `q`, or undefined. */
  private pristineAt(q: number): Pristine | undefined {
    for (const pr of this.pristine) if (pr.cur === q && pr.cur < pr.end) return pr;
    return undefined;
  }

  /**
   * Start of a free run of `n` pages inside one memory range, or −1. Tried in turn: the smallest free
   * block that holds `n` pages by itself (best fit); pristine memory with the free blocks next to it;
   * runs of free blocks. Free blocks are always fully merged, so a run of n ≥ 2^(k+1) − 1 pages holds a
   * free block of order ≥ k: only those seed the last search, and each maximal run is explored once.
   */
  findRun(n: number): number {
    for (let k = 0; k <= MAX_ORDER; k++) {
      if (POW[k]! >= n && this.freeCount[k]! > 0) {
        this.runBase = this.peekFree(k);
        return this.runBase;
      }
    }
    let kmin = 0;
    while (kmin < MAX_ORDER && POW[kmin + 1]! * 2 <= n + 1) kmin++;
    const visited = new Set<number>();
    const seen = new Set<Pristine>();
    // A power-of-two run starts at a multiple of its size, as the kernel's alloc_contig_pages does.
    const pow2 = (n & (n - 1)) === 0 && n < 2 ** 31;
    const align = (q: number) => (pow2 ? Math.ceil(q / n) * n : q);
    const explore = (seed: number): number => {
      const ri = this.rangeIndex(seed);
      const rs = this.rStart[ri]!;
      const re = this.rEnd[ri]!;
      let lo = seed;
      while (lo > rs) {
        const next = this.stepLeft(lo, kmin, visited, seen);
        if (next < 0) break;
        lo = next;
      }
      let hi = seed;
      while (hi < re && hi - align(lo) < n) {
        const next = this.stepRight(hi, kmin, visited, seen);
        if (next < 0) break;
        hi = next;
      }
      if (hi - align(lo) < n) return -1;
      this.runBase = lo;
      return align(lo);
    };
    for (const pr of this.pristine) {
      if (pr.cur >= pr.end || seen.has(pr)) continue;
      const s = explore(pr.cur);
      if (s >= 0) return s;
    }
    for (let k = kmin; k <= MAX_ORDER; k++) {
      for (const p of this.freeStacks[k]!) {
        if (visited.has(p) || !this.frames.isFreeHead(p, k)) continue;
        const s = explore(p);
        if (s >= 0) return s;
      }
    }
    return -1;
  }

  /** End of the free block or pristine part starting at `q`, or −1; marks seeds seen. */
  private stepRight(q: number, kmin: number, visited: Set<number>, seen: Set<Pristine>): number {
    for (let k = MAX_ORDER; k >= 0; k--) {
      const size = POW[k]!;
      if (q % size === 0 && this.frames.isFreeHead(q, k)) {
        if (k >= kmin) visited.add(q);
        return q + size;
      }
    }
    const pr = this.pristineAt(q);
    if (pr === undefined) return -1;
    seen.add(pr);
    return pr.end;
  }

  /** Start of the free block or pristine part ending at `q`, or −1; marks seeds seen. */
  private stepLeft(q: number, kmin: number, visited: Set<number>, seen: Set<Pristine>): number {
    for (let k = MAX_ORDER; k >= 0; k--) {
      const size = POW[k]!;
      if (q % size === 0 && this.frames.isFreeHead(q - size, k)) {
        if (k >= kmin) visited.add(q - size);
        return q - size;
      }
    }
    for (const pr of this.pristine) {
      if (pr.end === q && pr.cur < pr.end) {
        seen.add(pr);
        return pr.cur;
      }
    }
    return -1;
  }

  /** Removes the free run [s, e) from the free lists and pristine memory; frees the overhang of the last block. */
  takeRun(s: number, e: number): void {
    let q = s;
    while (q < e) {
      let next = -1;
      for (let k = MAX_ORDER; k >= 0; k--) {
        const size = POW[k]!;
        if (q % size === 0 && this.removeFree(q, k)) {
          next = q + size;
          break;
        }
      }
      if (next < 0) {
        const pr = this.pristineAt(q);
        if (pr === undefined)
          throw new TdxpaError("bad-state", `page allocator: run at pfn ${hex(q)} is not free`);
        next = Math.min(pr.end, q + Math.ceil((e - q) / MAX_ORDER_PAGES) * MAX_ORDER_PAGES);
        pr.cur = next;
      }
      if (next > e) this.freeRange(e, next);
      q = next;
    }
  }
}
