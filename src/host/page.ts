/**
 * The `struct page` analogue: a handle on one 4 KiB page frame of the simulated host.
 *
 * The kernel keeps a `struct page` per frame; a caller holds pointers to them and asks for the PFN, the
 * reference count and, for a multi-page ("compound") block, its order and head. Here a {@link Page} is a
 * small handle (the allocator that owns the frame database plus the PFN); the per-frame state lives in
 * the allocator's lazily created tables, so a 1 TiB host costs nothing until its pages are used.
 * Two handles with the same PFN denote the same page (compare `pfn`, not object identity).
 */
import { pfnToHpa } from "../common/u64.js";
import { smallInt } from "../hw/physmem.js";

/** What a {@link Page} asks of the frame database (the page allocator implements it). */
export interface PageFrameDb {
  /** Reference count of the frame; 0 when free. */
  refCount(pfn: number): number;
  /** Order of the allocated block `pfn` heads (0 for an order-0 page or a page inside a block). */
  compoundOrder(pfn: number): number;
  /** PFN of the head of the allocated block containing `pfn` (`pfn` itself when not in a block). */
  compoundHead(pfn: number): number;
  /** The caller tag given when the frame was allocated, or null when free. */
  tagOf(pfn: number): string | null;
}

/** Every 4 KiB PFN the pages cover (a 2^k block counts 2^k), in order. */
export function coveredPfns(pages: readonly Page[]): number[] {
  const out: number[] = [];
  for (const p of pages) for (let i = 0; i < p.nrPages; i++) out.push(p.pfn + i);
  return out;
}

/** A handle on one page frame. */
export class Page {
  /** The frame database (the allocator) that describes this frame. */
  readonly db: PageFrameDb;
  /** Page frame number: the HPA divided by the page size (`hpaToPfn`). */
  readonly pfn: number;

  constructor(db: PageFrameDb, pfn: number) {
    this.db = db;
    // A small integer whenever it can be (the same value): see `smallInt`.
    this.pfn = smallInt(pfn);
  }

  /** Host physical address of the frame (`page_to_phys`). */
  get hpa(): number {
    return pfnToHpa(this.pfn);
  }

  /** Order of the block this page heads: 0 for a single page, k for a 2^k-page block. */
  get order(): number {
    return this.db.compoundOrder(this.pfn);
  }

  /** Number of 4 KiB pages in the block this page heads (1 for a single page). */
  get nrPages(): number {
    return 2 ** this.db.compoundOrder(this.pfn);
  }

  /** Current reference count (`page_ref_count`). */
  get refCount(): number {
    return this.db.refCount(this.pfn);
  }

  /** The head page of the block containing this page (`compound_head`). */
  head(): Page {
    const h = this.db.compoundHead(this.pfn);
    return h === this.pfn ? this : new Page(this.db, h);
  }

  /** The page `n` frames after this one (`nth_page`). */
  nth(n: number): Page {
    return new Page(this.db, this.pfn + n);
  }

  /** The allocation tag of the frame, or null when free. */
  get tag(): string | null {
    return this.db.tagOf(this.pfn);
  }

  toString(): string {
    return `page(pfn=0x${this.pfn.toString(16)})`;
  }
}
