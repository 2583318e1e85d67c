/**
 * `tdx_page_array`: a thin, exact descriptor of one TDX Module page list (docs/spec/02-kapi.md 2.1–2.2), as the
 * 2026-04-14 draft defines it.
 *
 * The caller allocates the pages; a descriptor names 1..512 of them (one root page holds 512 entries,
 * docs/spec/01-formats.md 1.1), owns one root page that lists their HPAs, and remembers whether a SEAMCALL wrapper
 * handed the pages to the module as private memory (`flushOnFree`, the kernel's
 * `need_phymem_page_wbinvd`). Destroy writes back those pages' caches with PAGE.WBINVD, one call per
 * 4 KiB page, then frees the root. It never frees the data pages: their owner is whoever allocated them.
 *
 * Allocation failure of the root page is a runtime condition (the kernel's -ENOMEM): create returns
 * null. Misuse (0 or 513 pages, a missing page, a destroyed descriptor, repopulate while a write-back is
 * owed) throws a typed error naming the value and the allowed range.
 */
import { rangeError, stateError, typeError } from "../common/errors.js";
import { encodeHpaArray, encodeHpaListInfo, encodeIommuMt, MAX_ENTRIES } from "../common/formats.js";
import { type U64, U64_ZERO } from "../common/u64.js";
import { type HostKernel, mapPageForWrite } from "./kernel.js";
import { Page } from "./page.js";
import { offOf, SECTION_PAGES, type Section } from "./page-alloc-frames.js";
import { ok } from "./seamcalls/call.js";
import { pageWbinvd } from "./seamcalls/core.js";

/** Tag of root pages in the allocator's accounting. */
export const ROOT_TAG = "tdx-page-array:root";

/** How destroy writes back a flagged descriptor's caches. */
export type WriteBackMode =
  /** Every 4 KiB page the descriptor covers (this project's rule, 02-kapi.md 2.2). */
  | "every-page"
  /** Once per `pages[i]`, i.e. only the head page of a multi-page block (the 2026-04-16 kernel diff). */
  | "head-page-only"
  /** Never: the wrong host that forgets the write-back altogether (every page it took back stays dirty). */
  | "none";

/**
 * Where destroy finds each block's size: what create recorded (this project's rule), or the allocator's
 * answer at destroy time (`read-at-destroy`, the kernel's `compound_nr`: a block the caller freed first
 * reads as one page, so destroy silently becomes head-page-only; host variant `destroyOrders` in
 * docs/ASSUMPTIONS.md).
 */
export type DestroyOrders = "recorded" | "read-at-destroy";

/** What destroy did. */
export interface DestroyResult {
  /** PAGE.WBINVD calls issued. */
  readonly writeBacks: number;
  /** PFNs whose write-back failed (their caches may still hold private lines: never free them). */
  readonly failedPfns: readonly number[];
}

const NO_DESTROY: DestroyResult = Object.freeze({
  writeBacks: 0,
  failedPfns: Object.freeze([]) as readonly number[],
});

type State = "live" | "destroyed";

/** One page-list descriptor. Create with {@link tdxPageArrayCreate}. */
export class TdxPageArray {
  /** The caller's pages; null for a run of consecutive frames ({@link forEachChunk}'s `{ first, count }`), made on the first read of {@link pages}. */
  #pages: readonly Page[] | null;
  /** Number of entries. */
  #n: number;
  /** For a run: entry i is the page `#runHead.nth(i)`. */
  #runHead: Page | null = null;
  /**
   * Each page's block order as create (or repopulate) found it: what destroy writes back. Entries
   * 0..nrPages−1 hold them; the buffer has room for 512, so repopulate never allocates one.
   */
  #orders: Int8Array;
  /** The other order buffer: repopulate's allocator check writes the new orders here, then the two swap. */
  #spareOrders: Int8Array = new Int8Array(MAX_ENTRIES);
  #root: Page;
  #flushOnFree = false;
  #state: State = "live";

  /** @internal use {@link tdxPageArrayCreate}. `orders[i]` is page i's block order (copied). */
  constructor(pages: readonly Page[], root: Page, orders?: Int8Array) {
    this.#pages = pages;
    this.#n = pages.length;
    this.#root = root;
    this.#orders = new Int8Array(MAX_ENTRIES);
    for (let i = 0; i < pages.length; i++)
      this.#orders[i] = orders === undefined ? pages[i]!.order : orders[i]!;
  }

  /** Number of entries, 1..512. */
  get nrPages(): number {
    return this.#n;
  }

  /** The caller's pages, in entry order (a multi-page block appears as its head page). The descriptor keeps the caller's array, as the kernel's does: do not change it while the descriptor uses it. */
  get pages(): readonly Page[] {
    if (this.#pages === null) {
      // A run: its handles are made on the first read (the same array on every later read).
      const head = this.#runHead!;
      const out: Page[] = new Array(this.#n);
      for (let i = 0; i < this.#n; i++) out[i] = head.nth(i);
      this.#pages = out;
    }
    return this.#pages;
  }

  /** The PFN of entry `i` (0..nrPages−1): `pages[i].pfn` without making page handles. */
  pfnAt(i: number): number {
    this.#checkEntry("pfnAt", i);
    return this.#pages === null ? this.#runHead!.pfn + i : this.#pages[i]!.pfn;
  }

  /**
   * The order of the block entry `i` (0..nrPages−1) heads, as the allocator says now: `pages[i].order`
   * without making page handles (not the order create recorded, which destroy uses).
   */
  orderAt(i: number): number {
    this.#checkEntry("orderAt", i);
    return this.#pages === null
      ? this.#runHead!.db.compoundOrder(this.#runHead!.pfn + i)
      : this.#pages[i]!.order;
  }

  #checkEntry(op: string, i: number): void {
    if (typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= this.#n)
      throw rangeError(`tdx_page_array.${op}.i`, i, `0..${this.#n - 1}`);
  }

  /** Physical address of the root page. */
  get rootHpa(): number {
    this.#checkLive("rootHpa");
    return this.#root.hpa;
  }

  /** True when destroy owes a write-back (set by wrappers that hand the pages over as private). */
  get flushOnFree(): boolean {
    return this.#flushOnFree;
  }

  /** True once destroyed. */
  get destroyed(): boolean {
    return this.#state === "destroyed";
  }

  /** Number of 4 KiB pages the descriptor covers (a 2^k block counts 2^k). */
  get coveredPages(): number {
    let n = 0;
    for (const p of this.pages) n += p.nrPages;
    return n;
  }

  /**
   * Records that the pages were handed to the module as private memory, so destroy must write back
   * their caches (what a wrapper does after TDH.IOMMU.SETUP, TDH.SPDM.CREATE, TDH.IDE.STREAM.CREATE).
   */
  markFlushOnFree(): void {
    this.#checkLive("markFlushOnFree");
    this.#flushOnFree = true;
  }

  /** HPA_LIST_INFO operand: FIRST_ENTRY 0, LAST_ENTRY nrPages − 1, the root page. */
  toHpaListInfo(): U64 {
    this.#checkLive("toHpaListInfo");
    return encodeHpaListInfo({ rootHpa: this.#root.hpa, count: this.#n });
  }

  /** HPA_ARRAY_T operand: singleton (page 0 itself) when nrPages is 1, else the root page. */
  toHpaArray(): U64 {
    this.#checkLive("toHpaArray");
    const n = this.#n;
    return n === 1
      ? encodeHpaArray({ count: 1, pageHpa: this.pages[0]!.hpa })
      : encodeHpaArray({ count: n, rootHpa: this.#root.hpa });
  }

  /** Release input of a DELETE call: 0 when singleton, else the root page (the module writes the released list there). */
  toReleaseInput(): U64 {
    this.#checkLive("toReleaseInput");
    return this.#n === 1 ? U64_ZERO : encodeIommuMt(this.#root.hpa);
  }

  /** IOMMU_MT operand: the root page only. */
  toIommuMt(): U64 {
    this.#checkLive("toIommuMt");
    return encodeIommuMt(this.#root.hpa);
  }

  /** The root page handle (for tests and tools that inspect what the host handed over). */
  get rootPage(): Page {
    this.#checkLive("rootPage");
    return this.#root;
  }

  /**
   * @internal scratch for repopulate's argument check: the new pages' orders go here (512 entries,
   * nothing the descriptor reads), and {@link _repoint} makes it the descriptor's orders.
   */
  get _spareOrders(): Int8Array {
    return this.#spareOrders;
  }

  /**
   * @internal repopulate's body, after argument checks (which wrote the new pages' orders into
   * {@link _spareOrders} and their root entries into `entries`): the two order buffers swap, the
   * entries are copied into the root page, nothing is allocated.
   */
  _repoint(k: HostKernel, pages: readonly Page[], entries: Uint32Array): void {
    this._repointTo(k, pages, null, pages.length, entries);
  }

  /**
   * @internal {@link _repoint} for a run of `n` consecutive frames from `head` (checked by
   * {@link checkRun}): the handles are made only if {@link pages} is read.
   */
  _repointRun(k: HostKernel, head: Page, n: number, entries: Uint32Array): void {
    this._repointTo(k, null, head, n, entries);
  }

  /** @internal the body of {@link _repoint} and {@link _repointRun}. */
  _repointTo(
    k: HostKernel,
    pages: readonly Page[] | null,
    head: Page | null,
    n: number,
    entries: Uint32Array,
  ): void {
    this.#checkLive("repopulate");
    if (this.#flushOnFree) {
      throw stateError(
        "tdx_page_array_repopulate",
        "refused while a write-back is owed (flushOnFree is set): destroy the descriptor first",
      );
    }
    const old = this.#n;
    const orders = this.#spareOrders;
    this.#pages = pages;
    this.#runHead = head;
    this.#n = n;
    this.#spareOrders = this.#orders;
    this.#orders = orders;
    populateRoot(k, this.#root.pfn, entries, n, old);
  }

  /** @internal destroy's body. */
  _destroy(k: HostKernel, mode: WriteBackMode, orders: DestroyOrders): DestroyResult {
    if (this.#state === "destroyed")
      throw stateError("tdx_page_array_destroy", "descriptor already destroyed (double destroy)");
    let writeBacks = 0;
    const failedPfns: number[] = [];
    if (this.#flushOnFree) {
      for (const [i, p] of this.pages.entries()) {
        // The block size create recorded, or (the kernel's compound_nr) what the allocator says now:
        // 1 for a block the caller already freed.
        const pages = orders === "recorded" ? 2 ** this.#orders[i]! : p.nrPages;
        const span = mode === "every-page" ? pages : mode === "head-page-only" ? 1 : 0;
        for (let i = 0; i < span; i++) {
          writeBacks++;
          if (!ok(pageWbinvd(k, p.pfn + i))) failedPfns.push(p.pfn + i);
        }
      }
    }
    k.alloc.freePages(this.#root, 0);
    this.#state = "destroyed";
    this.#flushOnFree = false;
    return { writeBacks, failedPfns };
  }

  #checkLive(op: string): void {
    if (this.#state === "destroyed")
      throw stateError(`tdx_page_array.${op}`, "descriptor was destroyed (use after free)");
  }
}

/**
 * Writes the root page: entries 0..n−1 from `entries` (entry i is words 2i, 2i+1, as
 * {@link checkPages} computed them: the HPA of page i, OR-ed with the block's page count when it heads
 * a block of more than one page, 01-formats.md 1.2); entries from `n` up to `clearUpTo` are zeroed (an
 * encoder leaves unused entries zero). Exported for the benchmark only.
 * @internal
 */
export function populateRoot(
  k: HostKernel,
  rootPfn: number,
  entries: Uint32Array,
  n: number,
  clearUpTo: number,
): void {
  const w = mapPageForWrite(k, rootPfn);
  w.set(n === MAX_ENTRIES ? entries : entries.subarray(0, 2 * n));
  if (clearUpTo > n) w.fill(0, 2 * n, 2 * clearUpTo);
}

/** Reused per call: the root entries of the pages being checked, entry i in words 2i (low), 2i+1 (high). */
const ENTRIES = new Uint32Array(2 * MAX_ENTRIES);

// The check loop below tests section offsets against a literal 1024 (a module constant is a context
// load and a hole check per use): it must be the frame table's section size.
if (SECTION_PAGES !== 1024) throw new Error("page-array: the check loop assumes 1024-frame sections");

/**
 * Checks the caller's arguments and returns the pages (a copy of the first `nrPages`, or the caller's
 * array when it is exact); their block orders go to `orders` and their root entries to {@link ENTRIES}
 * (valid until the next call). Nothing else is written: a refused call leaves the descriptor and its
 * root page as they were. One loop per page: the handle (a {@link Page} of this host's allocator), the
 * frame (allocated: the allocator's `liveOrder` rule, read from the frame table section in hand for an
 * allocated head without flags, from `liveOrder` itself for anything else), then the entry.
 */
function checkPages(
  fn: string,
  k: HostKernel,
  pages: unknown,
  nrPages: unknown,
  orders: Int8Array,
): readonly Page[] {
  if (typeof nrPages !== "number" || !Number.isInteger(nrPages) || nrPages < 1 || nrPages > MAX_ENTRIES) {
    // The limit is the root page: 4096 bytes hold 512 eight-byte entries, and one operand names one root.
    throw rangeError(
      `${fn}.nr_pages`,
      nrPages,
      `1..${MAX_ENTRIES} (one root page holds ${MAX_ENTRIES} entries)`,
    );
  }
  if (!Array.isArray(pages)) throw typeError(`${fn}.pages`, pages, `an array of ${nrPages} pages`);
  if (pages.length < nrPages)
    throw rangeError(`${fn}.pages.length`, pages.length, `at least nr_pages (${nrPages})`);
  // Like the kernel's descriptor, this one keeps the caller's array (not a copy) when it is exact.
  const out: readonly Page[] = pages.length === nrPages ? pages : pages.slice(0, nrPages);
  const alloc = k.alloc;
  // Locals for the loop: an imported binding (Page) or a module-level const (ENTRIES) is a module-context
  // load and a hole check per use (hoisted, a loop went from 3.7 to 3.0 ns per page, measured).
  const PageClass = Page;
  const w = ENTRIES;
  // The frame table section in hand: frames base..base+1023. NO_BASE: none yet (every PFN, never
  // negative, is outside); a small integer, so `pfn - base` stays integer arithmetic.
  let base = NO_BASE;
  let headOrder = NO_HEAD_ORDER;
  for (let i = 0; i < nrPages; i++) {
    const p = out[i] as Page | null | undefined;
    // The same two checks as `instanceof` then `db`, in the order V8 folds best: loading `db` first
    // (null and undefined go to the slow path before any load) checks the handle's hidden class, after
    // which `instanceof` is a constant; `instanceof` first is a prototype walk per page (2.9 against
    // 2.3 ns per page, measured). Any page refused here is diagnosed by the slow path, same errors.
    if (p == null || p.db !== alloc || !(p instanceof PageClass)) refusePage(fn, out, i);
    const pfn = p.pfn;
    let d = pfn - base;
    if (!(d >= 0 && d < 1024)) {
      const sec = alloc._frameSection(pfn);
      if (sec === undefined) refuseFree(fn, alloc, out, i); // no frame of this section was ever allocated
      base = pfn - offOf(pfn);
      headOrder = sec.headOrder;
      d = pfn - base;
    }
    const off = d | 0;
    // An allocated compound head (or order-0 page): its order, in one load (liveOrder's first case;
    // see Section.headOrder). Anything else (a tail page, a non-compound block, a free frame) takes the
    // allocator's own rule. Measured against the three loads it replaces (refs, flags, order), 512-page
    // repopulate, three alternating pairs of 3 rounds: 7.6-8.3 against 6.5-7.0 ns per entry.
    // `!(o >= 0)`, not `o < 0`: a read past the section in hand (undefined, were the start base ever
    // inside a real section) must take the slow path too, so NO_BASE only decides speed.
    let o = headOrder[off]!;
    if (!(o >= 0)) {
      o = alloc.liveOrder(pfn);
      if (o < 0) refuseFree(fn, alloc, out, i);
    }
    orders[i] = o;
    // HPA = pfn * 4096: bits 31:12 of the low half are pfn's low 20 bits (`pfn << 12` keeps exactly
    // those: the shift works on pfn mod 2^32); the high half is pfn >> 20, computed as pfn * 2^-20
    // (exact: a power of two) truncated by `| 0`, which is the floor for every PFN below 2^51 with no
    // branch at 2^32. NUM_PAGES is `(1 << order) & -2`: 0 for order 0, 2^order above, no branch. A
    // Uint32Array store takes the value mod 2^32. Measured against the branching form (`order === 0 ?`,
    // `pfn <= 0xffff_ffff ?`): 3.2 against 4.1 ns per entry, same machine and minute.
    w[2 * i] = (pfn << 12) | ((1 << o) & -2);
    w[2 * i + 1] = (pfn * 9.5367431640625e-7) | 0;
  }
  return out;
}

/**
 * {@link checkPages} for a run of `n` (1..512) consecutive frames from `head` (a chunk of a `{ first,
 * count }` source): the same checks, results and errors, without a handle per page. Every page of a
 * run is a {@link Page} of `head`'s allocator, so the handle check is made once; a refusal builds the
 * run's handles and takes the same path as an array.
 */
function checkRun(fn: string, k: HostKernel, head: Page, n: number, orders: Int8Array): void {
  const alloc = k.alloc;
  if (head.db !== alloc) refusePage(fn, runPages(head, n), 0);
  const w = ENTRIES;
  const pfn0 = head.pfn;
  let base = NO_BASE;
  let headOrder = NO_HEAD_ORDER;
  for (let i = 0; i < n; i++) {
    const pfn = pfn0 + i;
    let d = pfn - base;
    if (!(d >= 0 && d < 1024)) {
      const sec = alloc._frameSection(pfn);
      if (sec === undefined) refuseFree(fn, alloc, runPages(head, n), i);
      base = pfn - offOf(pfn);
      headOrder = sec.headOrder;
      d = pfn - base;
    }
    const off = d | 0;
    let o = headOrder[off]!;
    if (!(o >= 0)) {
      o = alloc.liveOrder(pfn);
      if (o < 0) refuseFree(fn, alloc, runPages(head, n), i);
    }
    orders[i] = o;
    // The entry as checkPages writes it (see there).
    w[2 * i] = (pfn << 12) | ((1 << o) & -2);
    w[2 * i + 1] = (pfn * 9.5367431640625e-7) | 0;
  }
}

/** The handles of a run of `n` frames from `head`: what a `{ first, count }` source's chunk holds. */
function runPages(head: Page, n: number): Page[] {
  const out: Page[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = head.nth(i);
  return out;
}

/**
 * {@link tdxPageArrayRepopulate} (or create, with `array` null) for a run of `n` (1..512) consecutive
 * frames from `head`: the same checks, errors and root page, no page handles.
 */
function repopulateRun(
  k: HostKernel,
  array: TdxPageArray | null,
  head: Page,
  n: number,
): TdxPageArray | null {
  if (array === null) {
    checkRun("tdx_page_array_create", k, head, n, CREATE_ORDERS);
    const root = k.alloc.allocPage({ tag: ROOT_TAG, zero: true });
    if (root === null) return null;
    const created = new TdxPageArray([], root);
    created._spareOrders.set(CREATE_ORDERS.subarray(0, n));
    created._repointRun(k, head, n, ENTRIES);
    return created;
  }
  checkRun("tdx_page_array_repopulate", k, head, n, array._spareOrders);
  array._repointRun(k, head, n, ENTRIES);
  return array;
}

/**
 * The check loops' "no frame table section in hand": a base at which no PFN (0 or more) is within the
 * section's 1,024 frames. An integer where -Infinity was: the loop's `pfn - base` and its bounds tests
 * then stay small-integer arithmetic instead of doubles (measured, 512-page repopulate, three
 * alternating pairs of 3 rounds each: 8.2-10.2 against 7.7-8.5 ns per entry).
 */
const NO_BASE = -1024;
/** Stands for "no section in hand yet" (never read: the first page always looks its section up). */
const NO_HEAD_ORDER: Section["headOrder"] = new Int8Array(0);

/** The handle check's slow path: throws the typed error for `pages[i]`, which the fast test refused. */
function refusePage(fn: string, pages: readonly unknown[], i: number): never {
  const p = pages[i];
  if (!(p instanceof Page)) throw typeError(`${fn}.pages[${i}]`, p, "a page");
  // A Page the fast test refused: its `db` was not this allocator.
  throw typeError(`${fn}.pages[${i}]`, p.toString(), "a page of this host's allocator");
}

/**
 * The frame check's refusal: `pages[i]` is not allocated. Every handle is checked before any frame
 * (the order the checks had as two loops), so a bad handle after `i` is reported first.
 */
function refuseFree(fn: string, alloc: unknown, pages: readonly Page[], i: number): never {
  for (let j = i + 1; j < pages.length; j++) {
    const p = pages[j];
    if (p == null || p.db !== alloc || !(p instanceof Page)) refusePage(fn, pages, j);
  }
  throw stateError(`${fn}.pages[${i}]`, `${pages[i]} is free: the caller must allocate the pages first`);
}

/** Create's orders, before there is a descriptor (the constructor copies them). */
const CREATE_ORDERS = new Int8Array(MAX_ENTRIES);

/**
 * `tdx_page_array_create`: a descriptor of the caller's `nrPages` pages, with a zeroed root page
 * populated with their HPAs. Returns null when the root page cannot be allocated (-ENOMEM).
 * @example const arr = tdxPageArrayCreate(k, pages, pages.length); arr?.toHpaListInfo();
 */
export function tdxPageArrayCreate(
  k: HostKernel,
  pages: readonly Page[],
  nrPages: number,
): TdxPageArray | null {
  const checked = checkPages("tdx_page_array_create", k, pages, nrPages, CREATE_ORDERS);
  const root = k.alloc.allocPage({ tag: ROOT_TAG, zero: true });
  if (root === null) return null;
  populateRoot(k, root.pfn, ENTRIES, checked.length, 0);
  return new TdxPageArray(checked, root, CREATE_ORDERS);
}

/**
 * `tdx_page_array_repopulate`: points `array` at a new set of pages and rewrites its root (to feed more
 * than 512 pages through one descriptor). With `array` null it creates one. Refuses while a write-back
 * is owed and refuses a destroyed descriptor. Returns the descriptor, or null when create ran out of memory.
 */
export function tdxPageArrayRepopulate(
  k: HostKernel,
  array: TdxPageArray | null,
  pages: readonly Page[],
  nrPages: number,
): TdxPageArray | null {
  if (array === null || array === undefined) return tdxPageArrayCreate(k, pages, nrPages);
  if (!(array instanceof TdxPageArray))
    throw typeError("tdx_page_array_repopulate.array", array, "a TdxPageArray or null");
  const checked = checkPages("tdx_page_array_repopulate", k, pages, nrPages, array._spareOrders);
  array._repoint(k, checked, ENTRIES);
  return array;
}

/**
 * `tdx_page_array_destroy` (first called free): when the flush flag is set, PAGE.WBINVD with the global
 * KeyID for every 4 KiB page covered (or only each head page, in `head-page-only` mode, to reproduce the
 * 2026-04-16 diff), block sizes as create recorded them (policy `destroyOrders`); then frees the root. Never frees the data pages. Destroy of null is a no-op.
 */
export function tdxPageArrayDestroy(
  k: HostKernel,
  array: TdxPageArray | null,
  mode: WriteBackMode = k.policy.writeBack,
): DestroyResult {
  if (array === null || array === undefined) return NO_DESTROY;
  if (!(array instanceof TdxPageArray))
    throw typeError("tdx_page_array_destroy.array", array, "a TdxPageArray or null");
  if (mode !== "every-page" && mode !== "head-page-only" && mode !== "none")
    throw rangeError("tdx_page_array_destroy.mode", mode, '"every-page", "head-page-only" or "none"');
  return array._destroy(k, mode, k.policy.destroyOrders ?? "recorded");
}

/** Pages to feed in chunks: an array, or a physically contiguous run given by its first page. */
export type PageSource = readonly Page[] | { readonly first: Page; readonly count: number };

function sourceLength(src: PageSource): number {
  if (Array.isArray(src)) return src.length;
  if (typeof src !== "object" || src === null)
    throw typeError("for_each_chunk.pages", src, "an array of pages or { first, count }");
  const run = src as { first?: unknown; count?: unknown };
  if (!(run.first instanceof Page))
    throw typeError("for_each_chunk.pages", src, "an array of pages or { first, count }");
  if (typeof run.count !== "number" || !Number.isSafeInteger(run.count) || run.count < 0) {
    throw rangeError("for_each_chunk.pages.count", run.count, "0..2^53-1");
  }
  return run.count;
}

/**
 * Splits any number of pages into chunks of at most 512 and calls `feed` with each, through one
 * reusable descriptor (what the extensions bring-up does with its 12,800 pages). For a run
 * (`{ first, count }`) no page handle is made unless `feed` reads the descriptor's `pages` (then one
 * chunk's; `pfnAt` reads an entry's PFN without them), so a 1,048,576-page run allocates no handle per page. Stops at the first chunk for
 * which `feed` returns false. Returns the descriptor (the caller destroys it; null when there were no
 * pages or the root page could not be allocated), the chunks fed and whether all were fed.
 */
export function forEachChunk(
  k: HostKernel,
  pages: PageSource,
  feed: (array: TdxPageArray, chunkIndex: number, offset: number) => boolean,
  chunkSize = MAX_ENTRIES,
): { array: TdxPageArray | null; chunks: number; completed: boolean } {
  const total = sourceLength(pages);
  if (
    typeof chunkSize !== "number" ||
    !Number.isInteger(chunkSize) ||
    chunkSize < 1 ||
    chunkSize > MAX_ENTRIES
  ) {
    throw rangeError("for_each_chunk.chunkSize", chunkSize, `1..${MAX_ENTRIES}`);
  }
  let array: TdxPageArray | null = null;
  let chunks = 0;
  const first = Array.isArray(pages) ? null : (pages as { first: Page }).first;
  for (let off = 0; off < total; off += chunkSize) {
    const end = Math.min(total, off + chunkSize);
    if (first === null) {
      const chunk = (pages as readonly Page[]).slice(off, end);
      array = tdxPageArrayRepopulate(k, array, chunk, chunk.length);
    } else array = repopulateRun(k, array, first.nth(off), end - off);
    if (array === null) return { array: null, chunks, completed: false };
    chunks++;
    if (!feed(array, chunks - 1, off)) return { array, chunks, completed: false };
  }
  return { array, chunks, completed: true };
}
