/**
 * Design v2 (Linux TDX Connect series v1/v2, 2025-11 and 2026-03; docs/spec/02-kapi.md 2.7): the descriptor
 * allocates its own pages through an allocator callback (bulk order-0 pages, one contiguous run, or an
 * IOMMU_MT of two queue blocks and order-0 pages), can hold more than 512 of them and feeds a sliding
 * 512-entry window into its root page (`offset`, `nents`, `populate(array, offset)`).
 *
 * Release is `ctrl_release(array, nr_released, released_hpa)`: it compares the list the module
 * returned with what the descriptor holds, whole entries (the PFN and the NUM_PAGES bits a block's
 * entry carries), accepting a one-page array's release either as the page itself or as the root; then
 * one TDH.PHYMEM.PAGE.WBINVD per `pages[i]` (there is no flag: everything released is written back;
 * the wrapper flushes one 4 KiB page, so a multi-page queue block's tail pages are not written back) and
 * frees. Any mismatch or error goes to `ctrl_leak`, which frees the root page and the descriptor (and
 * its `pages` pointer array) and orphans only the data pages (stranded, 2.6).
 *
 * The `pages` pointer array is modelled by {@link kvcallocPointers} (12,800 entries: an order-5 block).
 */
import {
  decodeHpaArray,
  encodeHpaArray,
  encodeHpaListInfo,
  encodeIommuMt,
  MAX_ENTRIES,
} from "../common/formats.js";
import { hpaHi, hpaLo, type U64, U64_ZERO } from "../common/u64.js";
import { freeEach, type HostKernel, mapPageForRead, mapPageForWrite, strandPages } from "../host/kernel.js";
import type { Page } from "../host/page.js";
import { flushBeforeHandoff, ok, pageWbinvd } from "../host/seamcalls/index.js";
import type { Machine } from "../machine.js";
import {
  coveredPfns,
  EXT_POOL_TAG,
  extensionsFlow,
  type Handoff,
  IOMMU_TAG,
  ideFlow,
  iommuFlow,
  kvcallocPointers,
  kvfreePointers,
  type PointerArea,
  type PoolFeeder,
  spdmFlow,
} from "./_harness.js";
import type { Design } from "./design.js";

/** Allocator tag of v2 root pages. */
export const V2_ROOT_TAG = "v2:root";
/** Allocator tag of v2's `pages` pointer arrays (when larger than one page). */
export const V2_PAGES_TAG = "v2:pages-array";

/** The allocator callback: `nrPages` entries' pages (a multi-page block is one entry), or null. */
export type V2Allocator = (k: HostKernel, nrPages: number, tag: string) => Page[] | null;

/** Bulk mode: `alloc_pages_bulk` of order-0 zeroed pages. */
export const v2AllocBulk: V2Allocator = (k, n, tag) => {
  const got = k.alloc.allocPagesBulk(n, { tag, zero: true });
  if (got.length === n) return got;
  freeEach(k, got);
  return null;
};

/** Contiguous mode: one `alloc_contig_pages` run (what the extension pool uses). */
export const v2AllocContig: V2Allocator = (k, n, tag) => {
  const first = k.alloc.allocContigPages(n, { tag });
  if (first === null) return null;
  // The handles into an array of the final length: for 1,048,576 pages 114-136 ms against 149-211 ms
  // for `Array.from({ length: n }, map)` (micro-run, three rounds each, same process).
  const pages: Page[] = new Array(n);
  for (let i = 0; i < n; i++) pages[i] = first.nth(i);
  return pages;
};

/** IOMMU_MT mode: entries 0 and 1 are 2^iqOrder queue blocks, the rest order-0 pages, all zeroed. */
export const v2AllocIommuMt: V2Allocator = (k, n, tag) => {
  const got: Page[] = [];
  for (let i = 0; i < n; i++) {
    const p = k.alloc.allocPages(i < 2 ? k.policy.iqOrder : 0, { tag, zero: true });
    if (p === null) {
      freeEach(k, got);
      return null;
    }
    got.push(p);
  }
  return got;
};

/** The v2 descriptor. Create with {@link v2Create}. */
export interface V2PageArray {
  readonly nrPages: number;
  readonly pages: readonly Page[];
  readonly root: Page;
  /** The pointer array's pages (none when it fits a slab object). */
  readonly pointerBlock: PointerArea | null;
  /** First entry of the window in the root page. */
  offset: number;
  /** Entries in the window (≤ 512). */
  nents: number;
}

/**
 * `tdx_page_array_alloc`: the pointer array, `nrPages` pages from `alloc`, a zeroed root populated at
 * offset 0. Null on -ENOMEM, with everything it got freed.
 */
export function v2Create(
  k: HostKernel,
  nrPages: number,
  alloc: V2Allocator,
  tag: string,
): V2PageArray | null {
  const ptrs = kvcallocPointers(k, nrPages, V2_PAGES_TAG);
  if (ptrs === null) return null;
  const dropPtrs = () => kvfreePointers(k, ptrs);
  const pages = alloc(k, nrPages, tag);
  if (pages === null) {
    dropPtrs();
    return null;
  }
  const root = k.alloc.allocPage({ tag: V2_ROOT_TAG, zero: true });
  if (root === null) {
    freeEach(k, pages);
    dropPtrs();
    return null;
  }
  const a: V2PageArray = { nrPages, pages, root, pointerBlock: ptrs ?? null, offset: 0, nents: 0 };
  v2Populate(k, a, 0);
  return a;
}

/**
 * `populate(array, offset)`: moves the window to `offset` and writes its ≤ 512 entries into the root
 * (a block's entry carries its page count in bits 11:0); unused entries are zeroed. Returns `nents`.
 */
export function v2Populate(k: HostKernel, a: V2PageArray, offset: number): number {
  const nents = Math.min(MAX_ENTRIES, a.nrPages - offset);
  const w = mapPageForWrite(k, a.root.pfn);
  // The window's entries, then zeros to the end of the root page (no pair built per entry).
  for (let i = 0; i < nents; i++) {
    const p = a.pages[offset + i]!;
    w[2 * i] = entryLo(p);
    w[2 * i + 1] = hpaHi(p.hpa);
  }
  w.fill(0, 2 * nents, 2 * MAX_ENTRIES);
  a.offset = offset;
  a.nents = nents;
  return nents;
}

/** HPA_LIST_INFO of the window. */
export function v2ToHpaListInfo(a: V2PageArray): U64 {
  return encodeHpaListInfo({ rootHpa: a.root.hpa, count: a.nents });
}

/** HPA_ARRAY_T of the window (singleton: the window's one page). */
export function v2ToHpaArray(a: V2PageArray): U64 {
  return a.nents === 1
    ? encodeHpaArray({ count: 1, pageHpa: a.pages[a.offset]!.hpa })
    : encodeHpaArray({ count: a.nents, rootHpa: a.root.hpa });
}

/**
 * `hpa_array_t_release_raw`: DELETE's release input, 0 when the current window holds one entry, else
 * the root (the module writes the list there).
 */
export function v2ToReleaseInput(a: V2PageArray): U64 {
  return a.nents === 1 ? U64_ZERO : encodeIommuMt(a.root.hpa);
}

function freeDescriptor(k: HostKernel, a: V2PageArray, withRoot: boolean): void {
  if (withRoot) k.alloc.freePages(a.root, 0);
  kvfreePointers(k, a.pointerBlock);
}

/**
 * `tdx_page_array_ctrl_leak`: frees the root page and the descriptor (with its pointer array) and
 * orphans the data pages only (stranded, never reused): the root never reached the module as private
 * memory, so the kernel gives it back.
 */
export function v2CtrlLeak(k: HostKernel, a: V2PageArray, reason: string): void {
  strandPages(k, coveredPfns(a.pages), `v2 ctrl_leak: ${reason}`);
  freeDescriptor(k, a, true);
}

/**
 * The entry v2's populate wrote for a page: its HPA, OR-ed with its page count when it heads a block of
 * more than one page, as [bits 31:0, bits 63:32].
 */
function entryOf(p: Page): [number, number] {
  return [entryLo(p), hpaHi(p.hpa)];
}

/** Bits 31:0 of {@link entryOf} (bits 63:32 are the HPA's). */
function entryLo(p: Page): number {
  const n = p.nrPages;
  return (hpaLo(p.hpa) | (n > 1 ? n : 0)) >>> 0;
}

/**
 * `tdx_page_array_validate_release`: true when the list the module returned (`nrReleased` entries at
 * `releasedHpa`) is the window's. The count must be the window's; a one-page array matches when the
 * released address is its page; otherwise (a one-page array too) the released address must be the root
 * and every entry there must equal, whole, the entry populate wrote (PFN and NUM_PAGES bits).
 */
function sameList(k: HostKernel, a: V2PageArray, nrReleased: number, releasedHpa: number): boolean {
  const nents = Math.min(a.nrPages, MAX_ENTRIES);
  if (nrReleased !== nents) return false;
  if (a.nrPages === 1 && releasedHpa === a.pages[0]!.hpa) return true;
  if (releasedHpa !== a.root.hpa) return false;
  const w = mapPageForRead(k, a.root.pfn);
  const words = new Uint32Array(w.buffer, w.byteOffset, 1024);
  for (let i = 0; i < nents; i++) {
    const [lo, hi] = entryOf(a.pages[i]!);
    if (words[2 * i] !== lo || words[2 * i + 1] !== hi) return false;
  }
  return true;
}

/**
 * `tdx_page_array_ctrl_release`: compares the returned list, issues one PAGE.WBINVD per `pages[i]` (its
 * head page: a block's tail pages keep whatever lines they hold) and frees everything; on any mismatch
 * or failed write-back it calls {@link v2CtrlLeak}. True when released.
 */
export function v2CtrlRelease(
  k: HostKernel,
  a: V2PageArray,
  nrReleased: number,
  releasedHpa: number,
): boolean {
  if (!sameList(k, a, nrReleased, releasedHpa)) {
    v2CtrlLeak(
      k,
      a,
      `released list (${nrReleased} at 0x${releasedHpa.toString(16)}) differs from the descriptor`,
    );
    return false;
  }
  for (const p of a.pages) {
    if (!ok(pageWbinvd(k, p.pfn))) {
      v2CtrlLeak(k, a, `TDH.PHYMEM.PAGE.WBINVD of 0x${p.hpa.toString(16)} failed`);
      return false;
    }
  }
  freeEach(k, a.pages);
  freeDescriptor(k, a, true);
  return true;
}

/** `tdx_page_array_free` of pages the module never took: no write-back. */
export function v2Free(k: HostKernel, a: V2PageArray): void {
  freeEach(k, a.pages);
  freeDescriptor(k, a, true);
}

/** Drops the descriptor of pages donated forever (the extension pool): root and pointer array only. */
export function v2Forget(k: HostKernel, a: V2PageArray): void {
  freeDescriptor(k, a, true);
}

const handoff: Handoff<V2PageArray> = {
  allocIommuMt: (k, count) => v2Create(k, count + 2, v2AllocIommuMt, IOMMU_TAG),
  allocArray: (k, count, tag) => v2Create(k, count, v2AllocBulk, tag),
  pages: (a) => a.pages,
  operand: (_k, a, fmt) => (fmt === "iommu-mt" ? encodeIommuMt(a.root.hpa) : v2ToHpaArray(a)),
  handedOver: () => {},
  releaseInput: (_k, a) => v2ToReleaseInput(a),
  release: (k, a, released) => {
    if (released === null) return v2CtrlRelease(k, a, a.nrPages, a.root.hpa);
    const d = decodeHpaArray(released.lo, released.hi);
    const count = released.lo === 0 && released.hi === 0 ? 0 : d.fields.count;
    return v2CtrlRelease(k, a, count, d.fields.singleton ? d.fields.pageHpa! : d.fields.rootHpa!);
  },
  abandon: (k, a, reason) => v2CtrlLeak(k, a, reason),
  free: (k, a) => v2Free(k, a),
  // v2's write-back is one PAGE.WBINVD per pages[i], the same for a refused hand-off as for a release.
  writeBackPfns: (a) => a.pages.map((p) => p.pfn),
};

const pool: PoolFeeder<V2PageArray> = {
  open: (k, n) => v2Create(k, n, v2AllocContig, EXT_POOL_TAG),
  pfnAt: (a, i) => a.pages[i]!.pfn,
  chunk: (k, a, offset) => {
    if (a.offset !== offset) v2Populate(k, a, offset);
    return v2ToHpaListInfo(a);
  },
  // The window's blocks read in place (no slice, no array of every covered PFN): the same pages, in
  // the same order, as coveredPfns of the window.
  flush: (k, a, offset, count) => {
    flushBeforeHandoff(k, {
      nrPages: count,
      pfnAt: (i) => a.pages[offset + i]!.pfn,
      orderAt: (i) => a.pages[offset + i]!.order,
      markFlushOnFree: () => {},
    });
  },
  strand: (k, a, reason) => v2CtrlLeak(k, a, reason),
  close: (k, a) => v2Forget(k, a),
  discard: (k, a) => v2Free(k, a),
};

/** The v2 design. */
export const V2_DESIGN: Design = {
  name: "v2",
  description: "2026-03: descriptor allocates its pages, > 512 via a sliding window, ctrl_release/ctrl_leak",
  rootTags: [V2_ROOT_TAG],
  metaTags: [V2_PAGES_TAG],
  sources: ["src/designs/v2.ts"],
  sharedSources: ["src/designs/_harness.ts"],
  flows: {
    extensions: (machine: Machine) => extensionsFlow(machine.kernel, pool),
    iommu: (machine: Machine) => iommuFlow(machine, handoff),
    spdm: (machine: Machine) => spdmFlow(machine, handoff),
    ide: (machine: Machine) => ideFlow(machine, handoff),
  },
};
