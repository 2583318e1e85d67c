/**
 * The host kernel's view of the machine: what `tdx_page_array` and the TDX host driver use.
 *
 * A {@link HostKernel} bundles the page allocator, the kernel's mapping of physical memory
 * (`page_address`/`kmap`), the CPU's cache-line flush instruction, the SEAMCALL instruction and the
 * facts the driver learned from the module at initialisation (the global KeyID and where KeyID bits sit
 * in a physical address). Host code receives one of these and touches memory and the module only
 * through it, so the hardware layer can watch every host access (the cache model of docs/spec/03-module.md 3.5).
 */
import { checkInt } from "../common/errors.js";
import { PfnLabelMap } from "../common/pfn-map.js";
import type { SeamcallFn } from "../common/seamcall.js";
import { PAGE_SIZE } from "../common/u64.js";
import type { PhysMem } from "../hw/physmem.js";
import type { Page } from "./page.js";
import type { PageAllocator } from "./page-alloc.js";

/** What the host needs from the CPU beyond plain memory: notice of accesses, and CLFLUSH. */
export interface HostCpu {
  /** The host is about to read (`write` false) or write page `pfn` through KeyID 0. */
  hostAccess(pfn: number, write: boolean): void;
  /** CLFLUSH of every line of page `pfn` under KeyID 0 (write back and drop). */
  clflushPage(pfn: number): void;
}

/** A CPU with no cache model: accesses and flushes have no effect (used before the emulator exists). */
export const PLAIN_CPU: HostCpu = Object.freeze({
  hostAccess(): void {},
  clflushPage(): void {},
});

/** Facts the driver learns from the module and the platform once at initialisation. */
export interface TdxSysInfo {
  /** The module's global (private) KeyID, used for PAGE.WBINVD of module-owned pages. */
  readonly globalKeyId: number;
  /** Lowest bit of the KeyID field in a physical address (the platform's physical address width). */
  readonly keyIdShift: number;
  /** Whether the module advertises CLFLUSH_BEFORE_ALLOC (learned at module initialisation). */
  readonly clflushBeforeAlloc?: boolean;
}

/**
 * How this host behaves where hosts differ. The defaults are the correct host of 02-kapi.md; each other
 * value is a real variant (a design choice or a bug) the model must be able to show.
 */
export interface HostPolicy {
  /** CLFLUSH before handing pages over as private: when the module asks, always, or never (the 2026-06 kernel for extension memory). */
  readonly clflush: "if-required" | "always" | "never";
  /**
   * How destroy writes back a flagged descriptor: every page (right), `head-page-only` (the 2026-04-16
   * kernel diff) or `none` (the write-back forgotten).
   */
  readonly writeBack: "every-page" | "head-page-only" | "none";
  /** How an interrupted TDH.EXT.MEM.ADD is re-issued: with the operand as returned (right) or the original (wrong). */
  readonly extAddResume: "returned" | "original";
  /** Free released pages before destroy writes back their caches (wrong: they reach the allocator dirty). */
  readonly freeBeforeWriteBack: boolean;
  /** Queue block order the host uses for IOMMU_MT entries 0 and 1 (Linux: 1). */
  readonly iqOrder: number;
  /** Wrong host: lists one order-0 page twice in each IOMMU_MT (the same page handed over twice). */
  readonly duplicatePage: boolean;
  /** Wrong host: passes a stale pointer, a page it already gave the module, as the IOMMU_MT root. */
  readonly staleRoot: boolean;
  /** Wrong host: the SPDM/IDE create wrappers do not set the flush flag, so destroy skips the write-back. */
  readonly forgetFlushFlag: boolean;
  /**
   * Wrong host: passes the session's own metadata pages (already private) as TDH.SPDM.CONNECT's
   * device-info buffer, instead of fresh shared pages.
   */
  readonly devInfoInMetadata: boolean;
  /**
   * When a create wrapper (IOMMU.SETUP, SPDM.CREATE, IDE.STREAM.CREATE) sets the descriptor's flush flag:
   * `"before-call"`, whatever the result (the kernel, 02-kapi.md 2.3), so a failed or partly done create
   * is destroyed with PAGE.WBINVD; `"on-success"` only when the call succeeded (an earlier design: a
   * failed create is freed without a write-back, trusting the module's rollback).
   */
  readonly flushFlag: "before-call" | "on-success";
  /**
   * Which SPDM/IDE calls take the extension lock (02-kapi.md 2.4): `"v2"` CONNECT, DISCONNECT and MNG
   * only (the kernel); `"all-spdm"` also SPDM.CREATE, SPDM.DELETE and IDE.STREAM.KM (an earlier design).
   */
  readonly extLockScope: "v2" | "all-spdm";
  /**
   * Whether the extension lock is re-entrant for its holder. `false` is v2's mutex: a
   * KEY_REQUIRE_REFRESH during CONNECT makes the wrapper's MNG KEY_UPDATE take the lock CONNECT holds —
   * a deadlock in the kernel, reported here as a host-bug finding (model report `ext-lock-deadlock`).
   */
  readonly extLockReentrant: boolean;
  /**
   * Bit 24 (segment valid) of TDH.SPDM.CREATE's function id: `"always"` (the kernel sets it whatever
   * the segment), or `"non-zero-segment"` (the other reading of the kernel's code). Ledger `spdm-segment-valid`.
   */
  readonly segmentValid: "always" | "non-zero-segment";
  /**
   * The extensions bring-up's gate (02-kapi.md 2.5): `"ext-required"` skips everything when EXT_REQUIRED
   * is 0 (the 04-16 diff and the June 2026 series); `"pool-count"` adds memory whenever
   * MEMORY_POOL_REQUIRED_PAGES is non-zero and runs EXT.INIT only when EXT_REQUIRED (v2).
   */
  readonly poolGate: "ext-required" | "pool-count";
  /**
   * Which ids the host reads the pool fields at (03-module.md 3.3): `"june"` (the June 2026 series'
   * ids, MEMORY_POOL_REQUIRED_PAGES a u32; the default, so pools beyond 65,535 pages work) or
   * `"rfc-v2"` (the RFC–v2 TDX Connect series the 04-14/04-16 kAPI belongs to: MEMORY_POOL_REQUIRED_PAGES
   * a u16 at 0x3100000100000000, EXT_REQUIRED at 0x3100000100000001).
   */
  readonly metadataIds: "rfc-v2" | "june";
  /**
   * Where destroy reads each block's size: as create recorded it (right), or from the allocator at
   * destroy time (`read-at-destroy`, the kernel's `compound_nr`; a block freed first reads as one page).
   */
  readonly destroyOrders?: "recorded" | "read-at-destroy";
}

/** The correct host. */
export const DEFAULT_POLICY: HostPolicy = Object.freeze({
  clflush: "if-required",
  writeBack: "every-page",
  extAddResume: "returned",
  freeBeforeWriteBack: false,
  iqOrder: 1,
  duplicatePage: false,
  staleRoot: false,
  forgetFlushFlag: false,
  devInfoInMetadata: false,
  flushFlag: "before-call",
  extLockScope: "v2",
  extLockReentrant: true,
  segmentValid: "always",
  poolGate: "ext-required",
  metadataIds: "june",
  destroyOrders: "recorded",
});

/**
 * Ranges of the policy's numeric fields, the one definition the kernel checks and the scenario schema
 * offers: `iqOrder` 0..10 (a queue block of up to 2^10 pages; IOMMU_MT NUM_PAGES, 01-formats.md 1.2).
 */
export const POLICY_RANGES = Object.freeze({ iqOrder: Object.freeze({ min: 0, max: 10 }) });

/** Tag the allocator shows for pages stranded forever by the failure policy (02-kapi.md 2.6). */
export const STRANDED_TAG = "tdx:stranded";

/** One stranding event: which pages, and why (the kernel's loud warning). */
export interface StrandReport {
  readonly pfns: readonly number[];
  readonly reason: string;
}

/**
 * The host's own record of every page it touched (02-kapi.md 2.6): which it allocated and holds for its
 * own use (`held`), which it handed to the module and for which object (`donated`), which are lent to a
 * call the module interrupted (`lent`, raw SEAMCALL steps only), and which it stranded (`stranded`, with
 * the loud warnings in `strandReports`). A page is in at most one of these. Only the host side writes
 * it: the allocator's own hooks (allocation and free, wired by the machine), the flows and the raw-call
 * recorder. The model's conservation check (src/observe/conservation.ts) compares it with the allocator,
 * the PAMT and each module object's page list; the host never reads the PAMT.
 */
/**
 * The ledger's `donated` map: setting a page moves it out of `held` and `lent`, deleting it moves it
 * into `held`. One class for every ledger (a class made per ledger gave each machine's map its own
 * shape, and the call sites that use it went megamorphic across the machines of a comparison).
 */
class DonatedMap extends PfnLabelMap {
  constructor(
    private readonly held: PfnLabelMap,
    private readonly lent: PfnLabelMap,
  ) {
    super();
  }
  override set(pfn: number, label: string): this {
    this.held.delete(pfn);
    this.lent.delete(pfn);
    return super.set(pfn, label);
  }
  override delete(pfn: number): boolean {
    const had = super.delete(pfn);
    if (had) this.held.set(pfn, "returned by the module");
    return had;
  }
}

export class HostLedger {
  /** PFN → allocation tag, for pages the host allocated and holds for its own use. */
  readonly held = new PfnLabelMap();
  /**
   * PFN → name of the module object the host gave the page to. Setting a page moves it out of `held`;
   * deleting it (the module gave it back) moves it into `held` again.
   */
  readonly donated: PfnLabelMap;
  /** PFN → what the pages were lent to: named by a call the module interrupted (raw SEAMCALL steps). */
  readonly lent = new PfnLabelMap();
  /** PFN → reason, for pages stranded forever. */
  readonly stranded = new Map<number, string>();
  /** Every stranding, in order. */
  readonly strandReports: StrandReport[] = [];
  /** Frees the host made of a page it had not got back (donated, lent or stranded), in order. */
  readonly misfrees: { readonly pfn: number; readonly was: string }[] = [];

  constructor() {
    this.donated = new DonatedMap(this.held, this.lent);
  }

  /**
   * `donated.set(p, label)` for each of the `n` pages from `pfn` (out of `held` and `lent`, into
   * `donated`), as one run: one section lookup per 1024 pages in each map instead of three per page.
   */
  donateRun(pfn: number, n: number, label: string): void {
    this.held.deleteRun(pfn, n);
    this.lent.deleteRun(pfn, n);
    PfnLabelMap.prototype.setRun.call(this.donated, pfn, n, label);
  }

  /** The allocator handed out `pages` pages from `pfn` with `tag` (the machine wires this to the allocator). */
  allocated(pfn: number, pages: number, tag: string): void {
    this.held.setRun(pfn, pages, tag);
  }

  /** Page `pfn` went back to the allocator (the machine wires this to the allocator). */
  freed(pfn: number): void {
    if (this.held.delete(pfn)) return;
    const d = this.donated.get(pfn);
    const l = this.lent.get(pfn);
    const s = this.stranded.get(pfn);
    const was =
      d !== undefined
        ? `donated to ${d}`
        : l !== undefined
          ? `lent to ${l}`
          : s !== undefined
            ? `stranded (${s})`
            : "not in the ledger";
    this.misfrees.push({ pfn, was });
    if (d !== undefined) PfnLabelMap.prototype.delete.call(this.donated, pfn);
    this.lent.delete(pfn);
  }

  /** Pages named by an interrupted call: neither held nor donated until the call ends. */
  lend(pfn: number, label: string): void {
    this.held.delete(pfn);
    PfnLabelMap.prototype.delete.call(this.donated, pfn);
    this.lent.set(pfn, label);
  }

  /** A lent page came back to the host (the call ended without taking it). */
  unlend(pfn: number): void {
    if (this.lent.delete(pfn)) this.held.set(pfn, "returned by the module");
  }
}

/**
 * The extension lock: extension calls go through one request slot in the module, so the host serialises
 * them (02-kapi.md 2.4). Re-entry by another holder is a host bug. With `reentrant` false (v2's mutex)
 * the holder taking it again is a deadlock: {@link ExtLock.tryAcquire} returns `"deadlock"`.
 */
export class ExtLock {
  holder: string | null = null;
  private depth = 0;

  constructor(readonly reentrant = true) {}

  /** Takes the lock for `who`: true, false when someone else holds it, or "deadlock" (see the class doc). */
  tryAcquire(who: string): boolean | "deadlock" {
    if (this.holder !== null && this.holder !== who) return false;
    if (this.holder === who && !this.reentrant) return "deadlock";
    this.holder = who;
    this.depth++;
    return true;
  }

  /** Releases one hold of the lock by `who`. */
  release(who: string): void {
    if (this.holder !== who) return;
    this.depth--;
    if (this.depth <= 0) {
      this.holder = null;
      this.depth = 0;
    }
  }
}

/** The host kernel context. */
export interface HostKernel {
  readonly mem: PhysMem;
  readonly alloc: PageAllocator;
  readonly cpu: HostCpu;
  readonly seamcall: SeamcallFn;
  readonly sysinfo: TdxSysInfo;
  readonly policy: HostPolicy;
  readonly ledger: HostLedger;
  readonly extLock: ExtLock;
  /**
   * The model's channel for checks the kernel does not make (a successful DELETE that did not return
   * every page, 02-kapi.md 2.6): the machine wires it to the module's model reports. Not a kernel API.
   */
  readonly modelReport: (
    kind: "release-list-short" | "ext-lock-deadlock",
    pfn: number,
    message: string,
  ) => void;
  /**
   * `cpu_relax()` between the re-issues of a call the module refused with TDX_OPERAND_BUSY: other
   * logical CPUs run meanwhile (the machine's CPU scheduler sets it; a no-op with one CPU).
   */
  cpuRelax: () => void;
}

/** Builds a {@link HostKernel}; `cpu` defaults to {@link PLAIN_CPU}, `policy` to {@link DEFAULT_POLICY}. */
export function createHostKernel(parts: {
  mem: PhysMem;
  alloc: PageAllocator;
  seamcall: SeamcallFn;
  sysinfo: TdxSysInfo;
  cpu?: HostCpu;
  policy?: Partial<HostPolicy>;
  modelReport?: HostKernel["modelReport"];
}): HostKernel {
  checkInt("sysinfo.keyIdShift", parts.sysinfo.keyIdShift, 12, 51);
  checkInt("sysinfo.globalKeyId", parts.sysinfo.globalKeyId, 0, 2 ** (52 - parts.sysinfo.keyIdShift) - 1);
  const policy = { ...DEFAULT_POLICY, ...parts.policy };
  checkInt("policy.iqOrder", policy.iqOrder, POLICY_RANGES.iqOrder.min, POLICY_RANGES.iqOrder.max);
  return {
    mem: parts.mem,
    alloc: parts.alloc,
    seamcall: parts.seamcall,
    sysinfo: parts.sysinfo,
    cpu: parts.cpu ?? PLAIN_CPU,
    policy,
    ledger: new HostLedger(),
    extLock: new ExtLock(policy.extLockReentrant),
    modelReport: parts.modelReport ?? (() => {}),
    cpuRelax: () => {},
  };
}

/** Frees each page (a block by its own order): `__free_pages` over a caller's list. */
export function freeEach(k: HostKernel, pages: readonly Page[]): void {
  for (const p of pages) k.alloc.freePages(p, p.order);
}

/** Allocates `n` zeroed order-0 pages with `tag`, or null (freeing what it got). */
export function allocZeroed(k: HostKernel, n: number, tag: string): Page[] | null {
  const got: Page[] = [];
  for (let i = 0; i < n; i++) {
    const p = k.alloc.allocPage({ tag, zero: true });
    if (p === null) {
      freeEach(k, got);
      return null;
    }
    got.push(p);
  }
  return got;
}

/**
 * Runs `fn` holding the extension lock as `who`; null when someone else holds it, or when taking it
 * again would deadlock the kernel's non-re-entrant lock (reported as model report `ext-lock-deadlock`).
 */
export function withExtLock<T>(k: HostKernel, who: string, fn: () => T): T | null {
  const got = k.extLock.tryAcquire(who);
  if (got === "deadlock") {
    k.modelReport(
      "ext-lock-deadlock",
      0,
      `host bug: ${who} takes the extension lock it already holds (v2's mutex is not re-entrant): the kernel deadlocks here`,
    );
    return null;
  }
  if (!got) return null;
  try {
    return fn();
  } finally {
    k.extLock.release(who);
  }
}

/** Strands every page the host's ledger says it donated to `owner`; returns how many. */
export function strandDonated(k: HostKernel, owner: string, reason: string): number {
  const pfns = [...k.ledger.donated].filter(([, o]) => o === owner).map(([p]) => p);
  strandPages(k, pfns, reason);
  return pfns.length;
}

/**
 * The failure policy (02-kapi.md 2.6): warn as fatal and leave the pages allocated forever. The pages
 * are retagged so accounting shows them and the leak check names them; they are never freed. A page
 * inside a multi-page block strands the whole block.
 */
export function strandPages(k: HostKernel, pfns: readonly number[], reason: string): void {
  // A page inside a multi-page block strands the whole block: it can never be freed in part.
  const all = new Set<number>();
  for (const p of pfns) {
    all.add(p);
    if (!k.mem.contains(p) || k.alloc.refCount(p) === 0) continue;
    const head = k.alloc.compoundHead(p);
    for (let i = 0; i < 2 ** k.alloc.compoundOrder(head); i++) all.add(head + i);
  }
  const fresh = [...all].filter((p) => !k.ledger.stranded.has(p));
  for (const pfn of fresh) {
    k.ledger.stranded.set(pfn, reason);
    k.ledger.donated.delete(pfn);
    k.ledger.lent.delete(pfn);
    k.ledger.held.delete(pfn);
    const head = k.alloc.compoundHead(pfn);
    if (k.alloc.refCount(head) > 0) k.alloc.retag(k.alloc.pfnToPage(head), STRANDED_TAG);
  }
  if (fresh.length > 0) k.ledger.strandReports.push({ pfns: fresh, reason });
}

/**
 * `page_address` for writing: the page's 1024 u32 words (512 u64 entries), after telling the CPU model
 * that the host writes it through KeyID 0.
 */
export function mapPageForWrite(k: HostKernel, pfn: number): Uint32Array {
  k.cpu.hostAccess(pfn, true);
  return k.mem.words(pfn);
}

/** `page_address` for reading: the page's bytes, after telling the CPU model the host reads it. */
export function mapPageForRead(k: HostKernel, pfn: number): Uint8Array {
  k.cpu.hostAccess(pfn, false);
  return k.mem.page(pfn);
}

/** A physical address carrying `keyId` in its KeyID bits (what PAGE.WBINVD takes in RCX). */
export function hpaWithKeyId(k: HostKernel, hpa: number, keyId: number): number {
  return hpa + keyId * 2 ** k.sysinfo.keyIdShift;
}

export { PAGE_SIZE };
