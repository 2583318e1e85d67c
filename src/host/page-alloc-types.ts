/**
 * The public types of the page allocator (src/host/page-alloc.ts): allocation options, observer hooks,
 * constructor options and the accounting it reports.
 */
import type { PfnRange } from "../hw/physmem.js";

/** Options of one allocation call. */
export interface AllocOptions {
  /** Caller tag recorded with the allocation (accounting, leak checks); "untagged" when absent. */
  readonly tag?: string;
  /** Zero the page contents (`__GFP_ZERO`); without it a reused page keeps its old bytes. */
  readonly zero?: boolean;
  /**
   * For {@link PageAllocator.allocPages} of order ≥ 1: `__GFP_COMP` (default true), one compound page
   * whose head reports the order (`compound_order`, `compound_nr`). False: `alloc_pages` without
   * `__GFP_COMP`, 2^order pages that are each a page of their own (`compound_nr` 1, no head/tail
   * relation), freed only by `__free_pages` with the order.
   */
  readonly compound?: boolean;
}

/** Observers of page-content events, so a cache model can see the kernel's writes and frees. */
export interface PageAllocHooks {
  /** Called for each page the allocator zeroes (a write through the kernel's direct map), after zeroing. */
  readonly onZero?: (pfn: number) => void;
  /** Called for each page of a block that went back to the free lists, after it was freed. */
  readonly onFree?: (pfn: number) => void;
  /** Called once per successful allocation: first PFN, number of 4 KiB pages, tag. */
  readonly onAlloc?: (pfn: number, pages: number, tag: string) => void;
}

/** Options of the {@link PageAllocator} constructor. */
export interface PageAllocatorOptions {
  /** PFN ranges never handed out (firmware, the kernel image...). Parts outside memory are ignored. */
  readonly reserved?: readonly PfnRange[];
}

/** Page accounting returned by {@link PageAllocator.stats}; all counts are 4 KiB pages. */
export interface PageAllocStats {
  /** Pages of all memory ranges. */
  readonly totalPages: number;
  /** Pages of reserved ranges inside memory. */
  readonly reservedPages: number;
  /** Pages on the free lists or still pristine. */
  readonly freePages: number;
  /** Pages in allocated blocks (a 2^k block counts 2^k). */
  readonly allocatedPages: number;
  /** Allocated pages per tag; untagged allocations are under "untagged". Tags with no pages are absent. */
  readonly byTag: Record<string, number>;
}

/** One allocated block (or one order-0 page) as listed by {@link PageAllocator.allocatedBlocks}. */
export interface AllocatedBlock {
  /** PFN of the block's head page. */
  readonly pfn: number;
  /** Block order (0 for a single page). */
  readonly order: number;
  /** Allocation tag ("untagged" when none was given). */
  readonly tag: string;
  /** Reference count of the head. */
  readonly refCount: number;
}

/** An allocated block whose tag a leak check does not allow. */
export interface LeakedBlock {
  /** PFN of the block's head page. */
  readonly pfn: number;
  /** Block order. */
  readonly order: number;
  /** Allocation tag. */
  readonly tag: string;
}
