/**
 * Design "hpa_list" (the 2026-06 TDX Module Extensions series, docs/spec/02-kapi.md 2.7): no generic descriptor;
 * a plain array of 512 HPAs in one page, refilled for each chunk of the extension pool and passed as
 * HPA_LIST_INFO. It issues no CLFLUSH (the series dropped it for extension memory) and has no release
 * path: no flag, no write-back, no released list, because the pool is never returned.
 *
 * It expresses the extensions flow only. The other flows are listed with the reason it cannot express
 * them; writing them would mean giving the type the entry bits, the write-back and the release path of
 * the draft, i.e. another design.
 */
import { encodeHpaListInfo, MAX_ENTRIES } from "../common/formats.js";
import { hpaHi, hpaLo, pfnToHpa, type U64 } from "../common/u64.js";
import { type HostKernel, mapPageForWrite, strandPages } from "../host/kernel.js";
import type { Page } from "../host/page.js";
import { EXT_POOL_TAG, extensionsFlow, type PoolFeeder } from "./_harness.js";
import type { Design } from "./design.js";

/** Allocator tag of the HPA array page. */
export const HPA_LIST_TAG = "hpa-list:array";

/** The 2026-06 type: one page of 512 u64 HPAs and how many are in use. */
export interface HpaList {
  readonly page: Page;
  nents: number;
}

/** `tdx_hpa_list_alloc`: one zeroed page. Null on -ENOMEM. */
export function hpaListAlloc(k: HostKernel): HpaList | null {
  const page = k.alloc.allocPage({ tag: HPA_LIST_TAG, zero: true });
  return page === null ? null : { page, nents: 0 };
}

/**
 * `tdx_hpa_list_fill`: entries 0..count-1 = the HPAs of `count` physically contiguous pages from
 * `firstPfn` (count ≤ 512: the array is one page); the rest zeroed. Returns the HPA_LIST_INFO operand.
 */
export function hpaListFill(k: HostKernel, l: HpaList, firstPfn: number, count: number): U64 {
  const n = Math.min(count, MAX_ENTRIES);
  const w = mapPageForWrite(k, l.page.pfn);
  for (let i = 0; i < MAX_ENTRIES; i++) {
    const hpa = i < n ? pfnToHpa(firstPfn + i) : 0;
    w[2 * i] = hpaLo(hpa);
    w[2 * i + 1] = hpaHi(hpa);
  }
  l.nents = n;
  return encodeHpaListInfo({ rootHpa: l.page.hpa, count: n });
}

/** `tdx_hpa_list_free`. */
export function hpaListFree(k: HostKernel, l: HpaList): void {
  k.alloc.freePages(l.page, 0);
}

interface Pool {
  readonly first: Page;
  readonly n: number;
  list: HpaList | null;
}

const pool: PoolFeeder<Pool> = {
  open: (k, n) => {
    const first = k.alloc.allocContigPages(n, { tag: EXT_POOL_TAG });
    return first === null ? null : { first, n, list: null };
  },
  pfnAt: (state, i) => state.first.pfn + i,
  chunk: (k, state, offset, count) => {
    state.list ??= hpaListAlloc(k);
    return state.list === null ? null : hpaListFill(k, state.list, state.first.pfn + offset, count);
  },
  flush: () => {},
  strand: (k, state, reason) => {
    strandPages(
      k,
      Array.from({ length: state.n }, (_, i) => state.first.pfn + i),
      `hpa_list: ${reason}`,
    );
    if (state.list !== null) hpaListFree(k, state.list);
  },
  close: (k, state) => {
    if (state.list !== null) hpaListFree(k, state.list);
  },
  discard: (k, state) => {
    if (state.list !== null) hpaListFree(k, state.list);
    k.alloc.freeContigRange(state.first.pfn, state.n);
  },
};

/** Why hpa_list cannot express the control-page flows. */
export const HPA_LIST_GAPS = Object.freeze({
  iommu:
    "IOMMU_MT entries 0 and 1 are multi-page queue blocks carrying NUM_PAGES in bits 11:0; a plain HPA " +
    "array has no entry bits, and the pages come back at CLEAR needing PAGE.WBINVD, which the type " +
    "cannot record or issue",
  spdm:
    "TDH.SPDM.DELETE needs a release input (0 or a page for the released list) and the metadata pages " +
    "need PAGE.WBINVD when they come back; the type has no release list, no flag and no write-back",
  ide:
    "TDH.IDE.STREAM.DELETE returns a released list and the stream's metadata pages need PAGE.WBINVD; " +
    "the type has no release path (and the flow needs an SPDM session, which it cannot express either)",
});

/** The hpa_list design. */
export const HPA_LIST_DESIGN: Design = {
  name: "hpa_list",
  description: "2026-06: a plain 512-entry HPA array page refilled per chunk, no CLFLUSH, no release path",
  rootTags: [HPA_LIST_TAG],
  metaTags: [],
  sources: ["src/designs/hpa-list.ts"],
  sharedSources: ["src/designs/_harness.ts"],
  flows: {
    extensions: (machine) => extensionsFlow(machine.kernel, pool),
    iommu: { unsupported: HPA_LIST_GAPS.iommu },
    spdm: { unsupported: HPA_LIST_GAPS.spdm },
    ide: { unsupported: HPA_LIST_GAPS.ide },
  },
};
