/**
 * The host side of DICE-based quoting (docs/spec/02-kapi.md 2.3–2.5, the June 2026 series): the quote
 * buffer builder (vmalloc'd pages, one `vmalloc_to_pfn` per page, up to MAX_QUOTE_SIZE ≈ 4 MiB) with its
 * HPA_LINKED_LIST (docs/spec/01-formats.md 1.3), the `tdh_quote_get` wrapper with its retry rule, and
 * the minimal TD calls the flow needs (`tdh_mng_create`, `tdh_phymem_page_reclaim`).
 */
import { LINKED_DATA_PER_PAGE, layoutLinkedList } from "../common/formats.js";
import type { Regs } from "../common/seamcall.js";
import { isStatus, REG, STATUS } from "../common/status.js";
import { hpaHi, hpaLo, hpaToU64, PAGE_SIZE, pfnToHpa, type U64 } from "../common/u64.js";
import { freeEach, type HostKernel, mapPageForWrite } from "./kernel.js";
import type { Page } from "./page.js";
import { callRegs, MAX_RESUMES, tdxCall } from "./seamcalls/index.js";

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

/** What `tdh_quote_get` did. */
export interface QuoteGetResult {
  readonly status: U64;
  readonly regs: Regs;
  /** TDX_INTERRUPTED_RESUMABLE returns re-issued with the original inputs. */
  readonly interrupts: number;
  /** TDX_INTERRUPTED_RESTARTABLE returns re-issued from the start. */
  readonly restarts: number;
  /** The quote's length (RCX) on success, else 0. */
  readonly quoteBytes: number;
}

/**
 * `tdh_quote_get`: TDH.QUOTE.GET for the TD whose TDR is at `tdrHpa`, input data at `inputHpa`
 * (`inputLen` bytes), into `buf`. Re-issues with its saved copy of the original inputs on
 * TDX_INTERRUPTED_RESUMABLE (the module keeps the progress) and on TDX_INTERRUPTED_RESTARTABLE (it keeps
 * none), at most MAX_RESUMES times.
 */
export function quoteGet(
  k: HostKernel,
  tdrHpa: number,
  inputHpa: number,
  inputLen: number,
  buf: QuoteBuffer,
  idMask = 1,
): QuoteGetResult {
  const regs = callRegs("TDH.QUOTE.GET", {
    [REG.RCX]: hpaToU64(tdrHpa),
    [REG.RDX]: { lo: idMask >>> 0, hi: 0 },
    [REG.R8]: hpaToU64(inputHpa),
    [REG.R9]: { lo: inputLen >>> 0, hi: 0 },
    [REG.R10]: hpaToU64(buf.list[0]!.hpa),
    [REG.R11]: { lo: buf.bytes >>> 0, hi: 0 },
  });
  const saved = regs.clone();
  let interrupts = 0;
  let restarts = 0;
  for (;;) {
    k.seamcall(regs);
    const status = regs.get(REG.RAX);
    const resumable = isStatus(status, STATUS.TDX_INTERRUPTED_RESUMABLE);
    const restartable = isStatus(status, STATUS.TDX_INTERRUPTED_RESTARTABLE);
    if ((!resumable && !restartable) || interrupts + restarts >= MAX_RESUMES) {
      const done = status.hi >>> 31 === 0;
      return { status, regs, interrupts, restarts, quoteBytes: done ? regs.lo(REG.RCX) : 0 };
    }
    if (resumable) interrupts++;
    else restarts++;
    regs.copyFrom(saved);
  }
}

/** `tdh_mng_create` (minimal): makes the page at `tdrPfn` the TDR of a TD with `hkid`. */
export function mngCreate(k: HostKernel, tdrPfn: number, hkid: number): U64 {
  return tdxCall(k, "TDH.MNG.CREATE", {
    [REG.RCX]: hpaToU64(pfnToHpa(tdrPfn)),
    [REG.RDX]: { lo: hkid, hi: 0 },
  }).status;
}

/** `tdh_phymem_page_reclaim`: takes the TDR page at `pfn` back (the host then writes it back). */
export function pageReclaim(k: HostKernel, pfn: number): U64 {
  return tdxCall(k, "TDH.PHYMEM.PAGE.RECLAIM", {
    [REG.RCX]: hpaToU64(pfnToHpa(pfn)),
  }).status;
}
