/**
 * The host side of DICE-based quoting (docs/spec/02-kapi.md 2.3–2.5, the June 2026 series): the quote
 * buffer builder (vmalloc'd pages, one `vmalloc_to_pfn` per page, up to MAX_QUOTE_SIZE ≈ 4 MiB) with its
 * HPA_LINKED_LIST (docs/spec/01-formats.md 1.3). The SEAMCALL wrappers the quote flow (`flows/quote.ts`)
 * issues are in `seamcalls/quote.ts`: `tdh_quote_get` with its retry rule and the minimal TD calls
 * (`tdh_mng_create`, `tdh_phymem_page_reclaim`).
 */
import { LINKED_DATA_PER_PAGE, layoutLinkedList } from "../common/formats.js";
import { hpaHi, hpaLo, PAGE_SIZE, pfnToHpa, type U64 } from "../common/u64.js";
import { freeEach, type HostKernel, mapPageForWrite } from "./kernel.js";
import type { Page } from "./page.js";

/** Allocator tag of quote-buffer data pages (the vmalloc area). */
export const QUOTE_BUF_TAG = "tdx:quote-buf";
/** Allocator tag of the quote buffer's list pages. */
export const QUOTE_LIST_TAG = "tdx:quote-list";

/** A quote buffer: scattered data pages and the HPA_LINKED_LIST that names them. */
export interface QuoteBuffer {
  /** Length in bytes the buffer was built for (R11 of TDH.QUOTE.GET). */
  readonly bytes: number;
  /** Data pages in buffer order (vmalloc gives no physical contiguity). */
  readonly data: readonly Page[];
  /** List pages; `list[0]` is the head (R10 of TDH.QUOTE.GET). */
  readonly list: readonly Page[];
  /** `vmalloc_to_pfn` lookups the builder made: one per data page. */
  readonly pfnLookups: number;
}

/** How the builder may be told to go wrong (wrong-host variants). */
export interface QuoteBufferFault {
  /** The last full list page links back to the first: a list that loops. */
  readonly loop?: boolean;
  /** Data entries named in the list, fewer than the buffer needs (a short list). */
  readonly dataPages?: number;
  /** Names this page (e.g. one the module owns) in place of data page 0. */
  readonly replaceFirst?: number;
}

/**
 * Builds a quote buffer of `bytes` bytes: allocates ceil(bytes / PAGE_SIZE) order-0 pages (scattered, as
 * vmalloc), looks each page's PFN up once, and writes the HPA_LINKED_LIST into ceil(pages / 511) list
 * pages. Returns null when memory runs out (nothing stays allocated).
 * @example buildQuoteBuffer(k, 4 * 2 ** 20) // 1024 data pages, 3 list pages
 */
export function buildQuoteBuffer(
  k: HostKernel,
  bytes: number,
  fault: QuoteBufferFault = {},
): QuoteBuffer | null {
  const n = Math.ceil(bytes / PAGE_SIZE);
  const data = k.alloc.allocPagesBulk(n, { tag: QUOTE_BUF_TAG });
  if (data.length !== n) {
    freeEach(k, data);
    return null;
  }
  const listCount = Math.max(1, Math.ceil(n / LINKED_DATA_PER_PAGE));
  const list: Page[] = [];
  for (let i = 0; i < listCount; i++) {
    const p = k.alloc.allocPage({ tag: QUOTE_LIST_TAG, zero: true });
    if (p === null) {
      freeEach(k, [...data, ...list]);
      return null;
    }
    list.push(p);
  }
  // One vmalloc_to_pfn per page: the HPA of each data page, in buffer order.
  let pfnLookups = 0;
  const hpas = data.map((p) => {
    pfnLookups++;
    return pfnToHpa(p.pfn);
  });
  if (fault.replaceFirst !== undefined) hpas[0] = fault.replaceFirst;
  const named = hpas.slice(0, fault.dataPages ?? hpas.length);
  const listHpas = list
    .map((p) => p.hpa)
    .slice(0, Math.max(1, Math.ceil(named.length / LINKED_DATA_PER_PAGE)));
  const layout = layoutLinkedList(listHpas, named);
  for (const [i, entries] of layout.entries()) writeEntries(k, list[i]!, entries);
  if (fault.loop) {
    // The last full list page links back to the first (a link after a NULL data entry is never read).
    const w = mapPageForWrite(k, list[Math.max(0, listHpas.length - 2)]!.pfn);
    w[2 * LINKED_DATA_PER_PAGE] = hpaLo(list[0]!.hpa);
    w[2 * LINKED_DATA_PER_PAGE + 1] = hpaHi(list[0]!.hpa);
  }
  return { bytes, data, list, pfnLookups };
}

function writeEntries(k: HostKernel, page: Page, entries: readonly U64[]): void {
  const w = mapPageForWrite(k, page.pfn);
  entries.forEach((e, i) => {
    w[2 * i] = e.lo;
    w[2 * i + 1] = e.hi;
  });
}

/** Frees a quote buffer (its pages were never private: no write-back). */
export function freeQuoteBuffer(k: HostKernel, b: QuoteBuffer): void {
  freeEach(k, [...b.data, ...b.list]);
}
