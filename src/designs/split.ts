/**
 * Design "split" (the reviewers' suggestion in the 2026-04 thread, docs/spec/02-kapi.md 2.2 "stays open"): "a
 * list of pages" and "how pages are handed to the module" are two concepts, so two types.
 *
 * - {@link PageList}: a generic list of pages, allocated on its own (order-0 pages, blocks of one order,
 *   or one contiguous run). It knows nothing of formats; it knows whether its pages were handed to the
 *   module as private memory, and its free writes them back (PAGE.WBINVD of every 4 KiB page) first.
 * - One builder per hand-off format, each producing a {@link Built} root page and operand from a list:
 *   {@link buildHpaListInfo} (any ≤ 512 slice, optionally rewriting an earlier root),
 *   {@link buildHpaArray}, {@link buildIommuMt} (the two queue blocks are an explicit input) and
 *   {@link buildReleaseInput} (DELETE's page for the released list).
 *
 * The module never keeps a root, except that TDH.IOMMU.CLEAR must name the same root PA as the SETUP:
 * an IOMMU_MT's Built lives as long as the unit. Like the draft, a successful DELETE is trusted (2.6).
 */
import {
  encodeHpaArray,
  encodeHpaListInfo,
  encodeIommuMt,
  encodeIommuMtEntry,
  encodeListEntry,
  MAX_ENTRIES,
} from "../common/formats.js";
import { hpaToU64, type U64, U64_ZERO } from "../common/u64.js";
import { freeEach, type HostKernel, mapPageForWrite, strandPages } from "../host/kernel.js";
import type { Page } from "../host/page.js";
import { flushBeforeHandoff, ok, pageWbinvd } from "../host/seamcalls/index.js";
import {
  coveredPfns,
  EXT_POOL_TAG,
  extensionsFlow,
  type Handoff,
  type HandoffFormat,
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

/** Allocator tag of the builders' root pages. */
export const SPLIT_ROOT_TAG = "split:root";
/** Allocator tag of a page list's pointer array (when larger than one page). */
export const SPLIT_LIST_TAG = "split:list-array";

/** A generic list of pages. */
export interface PageList {
  readonly pages: readonly Page[];
  /** The pointer array's pages (none when it fits a slab object). */
  readonly pointerBlock: PointerArea | null;
  /** Set when the pages were handed to the module as private: free writes them back first. */
  private: boolean;
}

/** A built hand-off: the root page (null for a singleton or a 0 release input) and the operand. */
export interface Built {
  readonly root: Page | null;
  readonly operand: U64;
}

function newList(k: HostKernel, pages: Page[] | null, ptrs: PointerArea | undefined): PageList | null {
  if (pages !== null) return { pages, pointerBlock: ptrs ?? null, private: false };
  kvfreePointers(k, ptrs);
  return null;
}

/** `page_list_alloc`: `n` zeroed blocks of `order` (order 0: one bulk call). Null on -ENOMEM. */
export function pageListAlloc(k: HostKernel, n: number, tag: string, order = 0): PageList | null {
  const ptrs = kvcallocPointers(k, n, SPLIT_LIST_TAG);
  if (ptrs === null) return null;
  let pages: Page[] | null;
  if (order === 0) pages = k.alloc.allocPagesBulk(n, { tag, zero: true });
  else {
    pages = [];
    for (let i = 0; i < n; i++) {
      const p = k.alloc.allocPages(order, { tag, zero: true });
      if (p === null) break;
      pages.push(p);
    }
  }
  if (pages.length < n) {
    freeEach(k, pages);
    pages = null;
  }
  return newList(k, pages, ptrs);
}

/** `page_list_alloc_contig`: one physically contiguous run of `n` pages. Null on -ENOMEM. */
export function pageListContig(k: HostKernel, n: number, tag: string): PageList | null {
  const ptrs = kvcallocPointers(k, n, SPLIT_LIST_TAG);
  if (ptrs === null) return null;
  const first = k.alloc.allocContigPages(n, { tag });
  return newList(k, first === null ? null : Array.from({ length: n }, (_, i) => first.nth(i)), ptrs);
}

/**
 * `page_list_free`: when the pages were private, PAGE.WBINVD of every 4 KiB page; a block whose
 * write-back failed is stranded, the rest freed. Returns false when something was stranded.
 */
export function pageListFree(k: HostKernel, list: PageList): boolean {
  let clean = true;
  for (const p of list.pages) {
    let good = true;
    if (list.private) for (let i = 0; i < p.nrPages; i++) good = ok(pageWbinvd(k, p.pfn + i)) && good;
    if (good) k.alloc.freePages(p, p.order);
    else strandPages(k, coveredPfns([p]), "split page_list_free: PAGE.WBINVD failed");
    clean &&= good;
  }
  pageListDrop(k, list);
  return clean;
}

/** Drops the list itself (its pointer array); the pages stay where they are. */
export function pageListDrop(k: HostKernel, list: PageList): void {
  kvfreePointers(k, list.pointerBlock);
}

/** Writes `entries` into a root page (reused when `into` has one, else a new zeroed page). */
function writeRoot(k: HostKernel, entries: readonly U64[], into: Page | null): Page | null {
  const root = into ?? k.alloc.allocPage({ tag: SPLIT_ROOT_TAG, zero: true });
  if (root === null) return null;
  const w = mapPageForWrite(k, root.pfn);
  if (into !== null) w.fill(0);
  entries.forEach((e, i) => {
    w[2 * i] = e.lo;
    w[2 * i + 1] = e.hi;
  });
  return root;
}

/** Frees a Built's root page (a no-op for none). */
export function builtFree(k: HostKernel, b: Built | null): void {
  if (b?.root != null) k.alloc.freePages(b.root, 0);
}

/** HPA_LIST_INFO of `list.pages[offset, offset+count)` (count ≤ 512: one root holds 512 entries). */
export function buildHpaListInfo(
  k: HostKernel,
  list: PageList,
  offset: number,
  count: number,
  into: Built | null = null,
): Built | null {
  const slice = list.pages.slice(offset, offset + Math.min(count, MAX_ENTRIES));
  const root = writeRoot(
    k,
    slice.map((p) => encodeListEntry(p.hpa)),
    into?.root ?? null,
  );
  return root === null
    ? null
    : { root, operand: encodeHpaListInfo({ rootHpa: root.hpa, count: slice.length }) };
}

/** HPA_ARRAY_T of the whole list (≤ 512): singleton mode (no root) for one page. */
export function buildHpaArray(k: HostKernel, list: PageList): Built | null {
  const n = list.pages.length;
  if (n === 1) return { root: null, operand: encodeHpaArray({ count: 1, pageHpa: list.pages[0]!.hpa }) };
  const root = writeRoot(
    k,
    list.pages.map((p) => encodeListEntry(p.hpa)),
    null,
  );
  return root === null ? null : { root, operand: encodeHpaArray({ count: n, rootHpa: root.hpa }) };
}

/** IOMMU_MT: entries 0 and 1 the queue blocks (with NUM_PAGES), then the list's order-0 pages. */
export function buildIommuMt(k: HostKernel, queues: PageList, list: PageList): Built | null {
  const entries = [
    ...queues.pages.map((q) => encodeIommuMtEntry(q.hpa, q.nrPages)),
    ...list.pages.map((p) => encodeListEntry(p.hpa)),
  ];
  const root = writeRoot(k, entries, null);
  return root === null ? null : { root, operand: encodeIommuMt(root.hpa) };
}

/** DELETE's release input for `list`: 0 for one page, else a zeroed page for the released list. */
export function buildReleaseInput(k: HostKernel, list: PageList): Built | null {
  if (list.pages.length === 1) return { root: null, operand: U64_ZERO };
  const root = writeRoot(k, [], null);
  return root === null ? null : { root, operand: hpaToU64(root.hpa) };
}

/** The flows' handle: the lists, and the Built that must outlive the call (IOMMU_MT, release list). */
interface SplitObject {
  readonly queues: PageList | null;
  readonly list: PageList;
  fmt: HandoffFormat | null;
  built: Built | null;
  release: Built | null;
}

function lists(o: SplitObject): PageList[] {
  return o.queues === null ? [o.list] : [o.queues, o.list];
}

function dropBuilt(k: HostKernel, o: SplitObject): void {
  builtFree(k, o.built);
  builtFree(k, o.release);
  o.built = null;
  o.release = null;
}

const handoff: Handoff<SplitObject> = {
  allocIommuMt: (k, count) => {
    const queues = pageListAlloc(k, 2, IOMMU_TAG, k.policy.iqOrder);
    const list = queues === null ? null : pageListAlloc(k, count, IOMMU_TAG);
    if (list === null) {
      if (queues !== null) pageListFree(k, queues);
      return null;
    }
    return { queues, list, fmt: null, built: null, release: null };
  },
  allocArray: (k, count, tag) => {
    const list = pageListAlloc(k, count, tag);
    return list === null ? null : { queues: null, list, fmt: null, built: null, release: null };
  },
  pages: (o) => (o.queues === null ? o.list.pages : [...o.queues.pages, ...o.list.pages]),
  operand: (k, o, fmt) => {
    if (o.built !== null && o.fmt === fmt) return o.built.operand;
    builtFree(k, o.built);
    o.built = fmt === "iommu-mt" ? buildIommuMt(k, o.queues!, o.list) : buildHpaArray(k, o.list);
    o.fmt = fmt;
    return o.built?.operand ?? null;
  },
  handedOver: (k, o) => {
    for (const l of lists(o)) l.private = true;
    // The module read the HPA_ARRAY_T root during the call and keeps nothing; IOMMU_MT's root stays.
    if (o.fmt === "hpa-array") {
      builtFree(k, o.built);
      o.built = null;
    }
  },
  releaseInput: (k, o) => {
    o.release = buildReleaseInput(k, o.list);
    return o.release?.operand ?? null;
  },
  release: (k, o) => {
    dropBuilt(k, o);
    let clean = true;
    for (const l of lists(o)) clean = pageListFree(k, l) && clean;
    return clean;
  },
  abandon: (k, o, reason) => {
    const roots = [o.built?.root, o.release?.root].filter((r): r is Page => r != null);
    strandPages(
      k,
      [...coveredPfns(lists(o).flatMap((l) => l.pages)), ...roots.map((r) => r.pfn)],
      `split: ${reason}`,
    );
    for (const l of lists(o)) pageListDrop(k, l);
  },
  free: (k, o) => {
    dropBuilt(k, o);
    for (const l of lists(o)) {
      l.private = false;
      pageListFree(k, l);
    }
  },
};

interface SplitPool {
  readonly list: PageList;
  built: Built | null;
}

const pool: PoolFeeder<SplitPool> = {
  open: (k, n) => {
    const list = pageListContig(k, n, EXT_POOL_TAG);
    return list === null ? null : { list, built: null };
  },
  pfnAt: (state, i) => state.list.pages[i]!.pfn,
  chunk: (k, state, offset, count) => {
    const b = buildHpaListInfo(k, state.list, offset, count, state.built);
    if (b !== null) state.built = b;
    return b?.operand ?? null;
  },
  flush: (k, state, offset, count) => {
    flushBeforeHandoff(k, coveredPfns(state.list.pages.slice(offset, offset + count)));
  },
  strand: (k, state, reason) => {
    strandPages(k, coveredPfns(state.list.pages), `split: ${reason}`);
    builtFree(k, state.built);
    pageListDrop(k, state.list);
  },
  close: (k, state) => {
    builtFree(k, state.built);
    pageListDrop(k, state.list);
  },
  discard: (k, state) => {
    builtFree(k, state.built);
    pageListFree(k, state.list);
  },
};

/** The split design. */
export const SPLIT_DESIGN: Design = {
  name: "split",
  description: "reviewers' suggestion: a generic page list + one root/operand builder per hand-off format",
  rootTags: [SPLIT_ROOT_TAG],
  metaTags: [SPLIT_LIST_TAG],
  sources: ["src/designs/split.ts"],
  sharedSources: ["src/designs/_harness.ts"],
  flows: {
    extensions: (machine) => extensionsFlow(machine.kernel, pool),
    iommu: (machine) => iommuFlow(machine, handoff),
    spdm: (machine) => spdmFlow(machine, handoff),
    ide: (machine) => ideFlow(machine, handoff),
  },
};
