/**
 * What every design of the comparison shares: the SEAMCALL wrappers at the operand level (a design
 * passes the u64 its own encoder built), and the flows of docs/spec/02-kapi.md 2.5 written once against a small
 * binding, so the designs differ only in their own data structure and life cycle.
 *
 * The wrappers are the kernel's `tdh_*` functions with the descriptor argument replaced by the operand
 * it encodes to; they reuse src/host/seamcalls/ and src/host/spdm.ts for everything that takes no
 * page list (retry rules, the DOE loop, KM, BLOCK, DISCONNECT), on the register table of
 * docs/spec/03-module.md 3.3. The failure policy is the kernel's as the draft's flows apply it
 * (docs/spec/02-kapi.md 2.5, 2.6): a refused CREATE/SETUP gives the pages back, written back first when
 * the flush flag is set before the call (policy `flushFlag`); the IOMMU probe skips a unit on
 * TDX_OPERAND_INVALID with any operand id and stops at any other failure; a failed KM STOP or
 * DISCONNECT is ignored; a failed BLOCK/DELETE/CLEAR strands the pages; the design decides what a
 * successful release does.
 */
import { isStatus, REG, STATUS } from "../common/status.js";
import { hpaToU64, PAGE_SIZE, pfnToHpa, type U64 } from "../common/u64.js";
import { tdxConnectGate } from "../host/connect-state.js";
import { EXT_POOL_OWNER, EXT_POOL_TAG } from "../host/flows/extensions.js";
import { IDE_MT_TAG } from "../host/flows/ide.js";
import { IOMMU_TAG } from "../host/flows/iommu.js";
import {
  checkReleased,
  pagesStartWith,
  readPages,
  SPDM_DEVINFO_TAG,
  SPDM_MSG_TAG,
  SPDM_MT_TAG,
} from "../host/flows/spdm.js";
import { allocZeroed, freeEach, type HostKernel, strandDonated, withExtLock } from "../host/kernel.js";
import type { Page } from "../host/page.js";
import { coveredPfns } from "../host/page.js";
import { MAX_ORDER } from "../host/page-alloc.js";
import {
  type CallResult,
  callRegs,
  type ExchangeResult,
  extInit,
  flushBeforeHandoff,
  ideStreamBlock,
  ideStreamKm,
  isExactly,
  KM_OP,
  ok,
  pageWbinvd,
  type RetryResult,
  retryWithOriginal,
  retryWithReturned,
  spdmDisconnect,
  spdmExchange,
  streamCreateRegs,
  sysRd,
} from "../host/seamcalls/index.js";
import {
  functionId,
  lockOwner,
  type SpdmChannel,
  type StreamCreateInputs,
  selectiveStream,
  withExtLockFor,
  writeSpdmConf,
} from "../host/spdm.js";
import { deviceInfoOf, type PcieDeviceSpec, rootPortDevfn } from "../hw/devices.js";
import { FEATURE_BITS } from "../hw/platform.js";
import type { Machine } from "../machine.js";
import { type FlowOutcome, outcome } from "./design.js";

export { coveredPfns, EXT_POOL_TAG, IDE_MT_TAG, IOMMU_TAG, SPDM_DEVINFO_TAG, SPDM_MT_TAG };

// ---------------------------------------------------------------------------------------------------
// Operand-level SEAMCALL wrappers (02-kapi.md 2.3, 2.4)

const hpaReg = (hpa: number): U64 => hpaToU64(hpa);

/** TDH.EXT.MEM.ADD of one HPA_LIST_INFO, resumed with the returned operand (the right rule). */
export function extMemAddOp(k: HostKernel, listInfo: U64): RetryResult {
  const regs = callRegs("TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo });
  return k.policy.extAddResume === "returned" ? retryWithReturned(k, regs) : retryWithOriginal(k, regs);
}

/** TDH.IOMMU.SETUP of the unit at `regBase` with an IOMMU_MT operand; RCX out = IOMMU id. */
export function iommuSetupOp(k: HostKernel, regBase: number, mt: U64): RetryResult {
  return retryWithOriginal(k, callRegs("TDH.IOMMU.SETUP", { [REG.RCX]: hpaReg(regBase), [REG.RDX]: mt }));
}

/** TDH.IOMMU.CLEAR: the same IOMMU_MT operand as at setup. */
export function iommuClearOp(k: HostKernel, iommuId: U64, mt: U64): RetryResult {
  return retryWithOriginal(k, callRegs("TDH.IOMMU.CLEAR", { [REG.RCX]: iommuId, [REG.RDX]: mt }));
}

function once(k: HostKernel, leaf: Parameters<typeof callRegs>[0], inputs: Record<number, U64>): CallResult {
  const regs = callRegs(leaf, inputs);
  k.seamcall(regs);
  return { status: regs.get(REG.RAX), regs };
}

/** TDH.SPDM.CREATE with an HPA_ARRAY_T of metadata pages; RCX out = SPDM id. */
export function spdmCreateOp(k: HostKernel, device: PcieDeviceSpec, array: U64): CallResult {
  return once(k, "TDH.SPDM.CREATE", {
    [REG.RCX]: functionId(device, k.policy.segmentValid),
    [REG.RDX]: array,
  });
}

/** TDH.SPDM.CONNECT with the channel's spdm_conf page and an HPA_ARRAY_T device-info buffer; RCX out = bytes. */
export function spdmConnectOp(k: HostKernel, ch: SpdmChannel, spdmId: U64, devInfo: U64): ExchangeResult {
  const conf = ch.confPage === undefined ? { lo: 0, hi: 0 } : hpaReg(ch.confPage.hpa);
  return spdmExchange(
    k,
    ch,
    "TDH.SPDM.CONNECT",
    spdmId,
    { [REG.RCX]: spdmId, [REG.RDX]: conf, [REG.R10]: devInfo },
    { rsp: REG.R8, req: REG.R9 },
  );
}

/** TDH.SPDM.DELETE with a release input (0 or a page for the released list); RCX out = the list. */
export function spdmDeleteOp(k: HostKernel, spdmId: U64, release: U64): CallResult {
  return once(k, "TDH.SPDM.DELETE", { [REG.RCX]: spdmId, [REG.RDX]: release });
}

/** TDH.IDE.STREAM.CREATE with an HPA_ARRAY_T of metadata pages; RCX out = stream id, RDX = root-port IDE id. */
export function ideStreamCreateOp(
  k: HostKernel,
  spdmId: U64,
  inputs: StreamCreateInputs,
  array: U64,
): CallResult {
  return once(k, "TDH.IDE.STREAM.CREATE", streamCreateRegs(spdmId, inputs, array));
}

/** TDH.IDE.STREAM.DELETE (RCX = SPDM id, RDX = stream id) with a release input in R8; RCX out = the list. */
export function ideStreamDeleteOp(k: HostKernel, spdmId: U64, streamId: U64, release: U64): CallResult {
  return once(k, "TDH.IDE.STREAM.DELETE", { [REG.RCX]: spdmId, [REG.RDX]: streamId, [REG.R8]: release });
}

/**
 * A `kvcalloc`'d pointer array in page-allocator memory: one block of 2^order pages (kmalloc's
 * `alloc_pages`), or, above the allocator's largest order, order-0 pages (the vmalloc fallback).
 */
export interface PointerArea {
  readonly pages: readonly Page[];
  readonly order: number;
}

/**
 * `kvcalloc(n, sizeof(struct page *))` for a page-pointer array: a slab object up to 4 KiB (not
 * page-allocator memory: returns undefined), beyond that kvmalloc's first attempt, one `alloc_pages` of
 * the next power-of-two order (12,800 entries = 100 KiB = an order-5 block of 32 pages); when that
 * order is above MAX_ORDER (1,048,576 entries = 8 MiB would be order 11) kmalloc cannot serve it and
 * kvmalloc falls back to vmalloc: ceil(bytes / 4096) order-0 pages. Null on -ENOMEM (nothing kept).
 */
export function kvcallocPointers(k: HostKernel, n: number, tag: string): PointerArea | null | undefined {
  const bytes = n * 8;
  if (bytes <= PAGE_SIZE) return undefined;
  const pages = Math.ceil(bytes / PAGE_SIZE);
  const order = 32 - Math.clz32(pages - 1); // the next power of two's order
  if (order <= MAX_ORDER) {
    const block = k.alloc.allocPages(order, { tag });
    return block === null ? null : { pages: [block], order };
  }
  const vm = k.alloc.allocPagesBulk(pages, { tag });
  if (vm.length < pages) {
    freeEach(k, vm);
    return null;
  }
  return { pages: vm, order: 0 };
}

/** `kvfree` of a {@link kvcallocPointers} area (undefined: a slab object, nothing to free here). */
export function kvfreePointers(k: HostKernel, area: PointerArea | null | undefined): void {
  if (area === null || area === undefined) return;
  for (const p of area.pages) k.alloc.freePages(p, area.order);
}

// ---------------------------------------------------------------------------------------------------
// Extensions bring-up, written once over a design's pool feeder

/** How a design describes the extension pool to TDH.EXT.MEM.ADD. */
export interface PoolFeeder<H> {
  /** Allocates the `n` pool pages and the design's description of them; null on -ENOMEM. */
  open(k: HostKernel, n: number): H | null;
  /** PFN of pool page `i`. */
  pfnAt(h: H, i: number): number;
  /** HPA_LIST_INFO of pool pages [offset, offset+count), count ≤ 512; null on -ENOMEM. */
  chunk(k: HostKernel, h: H, offset: number, count: number): U64 | null;
  /** CLFLUSH before the hand-off of that chunk (a design without it does nothing). */
  flush(k: HostKernel, h: H, offset: number, count: number): void;
  /** Fatal failure: strand every pool page (and whatever else the design cannot trust), free the rest. */
  strand(k: HostKernel, h: H, reason: string): void;
  /** Success: free the description; the pool pages stay with the module. */
  close(k: HostKernel, h: H): void;
  /** Nothing reached the module (the first chunk could not be built): free the pool and the description. */
  discard(k: HostKernel, h: H): void;
}

/**
 * The extensions flow: TDX_FEATURES0, MEMORY_POOL_REQUIRED_PAGES, EXT_REQUIRED; the pool fed in
 * chunks of at most 512 entries (one root page holds 512, 01-formats.md 1.1); then TDH.EXT.INIT.
 */
export function extensionsFlow<H>(k: HostKernel, d: PoolFeeder<H>): FlowOutcome {
  const gate = tdxConnectGate(k, FEATURE_BITS.EXTENSIONS);
  if (!gate.run) return outcome("skipped" in gate ? null : gate.failedStep);
  const req = sysRd(k, "MEMORY_POOL_REQUIRED_PAGES");
  if (!ok(req.status)) return outcome("TDH.SYS.RD MEMORY_POOL_REQUIRED_PAGES");
  const extReq = sysRd(k, "EXT_REQUIRED");
  if (!ok(extReq.status)) return outcome("TDH.SYS.RD EXT_REQUIRED");
  if (k.policy.poolGate === "ext-required" && extReq.value.lo === 0) return outcome(null);
  const n = req.value.lo;
  const who = "extensions";
  const result = withExtLock(k, who, (): FlowOutcome => {
    if (n > 0) {
      const h = d.open(k, n);
      if (h === null) return outcome(`allocate ${n} pool pages`);
      for (let off = 0; off < n; off += 512) {
        const count = Math.min(512, n - off);
        const op = d.chunk(k, h, off, count);
        if (op === null) {
          // Before the first chunk no page reached the module: give the pool back (as the draft does).
          if (off === 0) d.discard(k, h);
          else d.strand(k, h, "extensions: root page allocation failed");
          return outcome("root page");
        }
        d.flush(k, h, off, count);
        const r = extMemAddOp(k, op);
        if (!ok(r.status) || isExactly(r.status, STATUS.TDX_EXT_MEMORY_POOL_FULL)) {
          d.strand(k, h, `extensions: TDH.EXT.MEM.ADD at page ${off} failed`);
          return outcome(`TDH.EXT.MEM.ADD at page ${off}`);
        }
        // A chunk of consecutive PFNs goes into the ledger as one run (as the draft's flow records it),
        // anything else page by page: the same effect either way.
        const head = d.pfnAt(h, off);
        let consecutive = true;
        for (let i = 1; i < count && consecutive; i++) consecutive = d.pfnAt(h, off + i) === head + i;
        if (consecutive) k.ledger.donateRun(head, count, EXT_POOL_OWNER);
        else for (let i = off; i < off + count; i++) k.ledger.donated.set(d.pfnAt(h, i), EXT_POOL_OWNER);
      }
      d.close(k, h);
    }
    if (extReq.value.lo !== 0 && !ok(extInit(k).status)) {
      strandDonated(k, EXT_POOL_OWNER, "extensions: TDH.EXT.INIT failed");
      return outcome("TDH.EXT.INIT");
    }
    return outcome(null);
  });
  return result ?? outcome("extension lock");
}

// ---------------------------------------------------------------------------------------------------
// Control-page hand-offs (IOMMU_MT, SPDM and IDE metadata, the device-info buffer)

/** The format of a hand-off operand. */
export type HandoffFormat = "iommu-mt" | "hpa-array";

/** How a design allocates, describes, hands over and takes back one set of control pages. */
export interface Handoff<H> {
  /** Two 2^iq_order queue blocks and `count` order-0 pages; null on -ENOMEM (nothing kept). */
  allocIommuMt(k: HostKernel, count: number): H | null;
  /** `count` zeroed order-0 pages tagged `tag`; null on -ENOMEM (nothing kept). */
  allocArray(k: HostKernel, count: number, tag: string): H | null;
  /** The data pages (heads of blocks), in entry order. */
  pages(h: H): readonly Page[];
  /** The hand-off operand in `fmt`; null on -ENOMEM. May be called again for CLEAR (same root). */
  operand(k: HostKernel, h: H, fmt: HandoffFormat): U64 | null;
  /** The call that took the pages as private succeeded: destroy now owes a write-back. */
  handedOver(k: HostKernel, h: H): void;
  /** DELETE's release input (0 for one page, else a page the module writes the list into); null on -ENOMEM. */
  releaseInput(k: HostKernel, h: H): U64 | null;
  /**
   * After a successful DELETE/CLEAR (`released`: RCX out of DELETE, null for CLEAR): whatever the design
   * checks, write-back, free. Returns false when it stranded pages instead.
   */
  release(k: HostKernel, h: H, released: U64 | null): boolean;
  /** A failed teardown: strand the pages per the design's policy. */
  abandon(k: HostKernel, h: H, reason: string): void;
  /** Never taken by the module (or rolled back): free without write-back. */
  free(k: HostKernel, h: H): void;
  /**
   * The PFNs the design's destroy writes back when the flush flag was set (a refused hand-off under
   * the kernel's flag-before-call rule); default: every 4 KiB page the hand-off covers.
   */
  writeBackPfns?(h: H): readonly number[];
}

function donate(k: HostKernel, pages: readonly Page[], owner: string): void {
  for (const pfn of coveredPfns(pages)) k.ledger.donated.set(pfn, owner);
}

function undonate(k: HostKernel, pages: readonly Page[]): void {
  for (const pfn of coveredPfns(pages)) k.ledger.donated.delete(pfn);
}

/** Hand-off of `h` by `call` (with CLFLUSH first); true when the module took the pages. */
function handOver<H>(
  k: HostKernel,
  b: Handoff<H>,
  h: H,
  fmt: HandoffFormat,
  owner: string,
  call: (op: U64) => CallResult | null,
): CallResult | null {
  const op = b.operand(k, h, fmt);
  if (op === null) return null;
  flushBeforeHandoff(k, coveredPfns(b.pages(h)));
  const r = call(op);
  if (r === null || !ok(r.status)) return r;
  b.handedOver(k, h);
  donate(k, b.pages(h), owner);
  return r;
}

/**
 * Gives back the pages of a hand-off the module refused (`r`, null when no SEAMCALL was issued). When
 * the kernel's rule set the flush flag before the call (policy `flushFlag: "before-call"`), every page
 * is written back first, as the draft's destroy does; a failed write-back abandons the pages (the
 * design's failure policy) instead of freeing them.
 */
function dropRefused<H>(k: HostKernel, b: Handoff<H>, h: H, r: CallResult | null, what: string): void {
  if (r !== null && k.policy.flushFlag === "before-call") {
    for (const pfn of b.writeBackPfns?.(h) ?? coveredPfns(b.pages(h))) {
      if (!ok(pageWbinvd(k, pfn))) {
        b.abandon(k, h, `${what}: PAGE.WBINVD of 0x${(pfnToHpa(pfn)).toString(16)} failed`);
        return;
      }
    }
  }
  b.free(k, h);
}

/** Takes `h` back with `call` (given the release input when `needsList`), then releases it. */
function takeBack<H>(
  k: HostKernel,
  b: Handoff<H>,
  h: H,
  what: string,
  call: (release: U64) => CallResult | null,
  needsList: boolean,
): boolean {
  const rel = needsList ? b.releaseInput(k, h) : { lo: 0, hi: 0 };
  const r = rel === null ? null : call(rel);
  if (r === null || !ok(r.status)) {
    b.abandon(k, h, `${what} failed`);
    return false;
  }
  const out = needsList ? r.regs.get(REG.RCX) : null;
  // The model's check (not a kernel check): a successful DELETE must list every page it was given.
  if (out !== null) checkReleased(k, out, b.pages(h), what);
  undonate(k, b.pages(h));
  return b.release(k, h, out);
}

/** The IOMMU flow: set up every TDX-capable unit, then clear each and release its pages. */
export function iommuFlow<H>(m: Machine, b: Handoff<H>): FlowOutcome {
  const k = m.kernel;
  const gate = tdxConnectGate(k);
  if (!gate.run) return outcome("skipped" in gate ? null : gate.failedStep);
  const md = sysRd(k, "IOMMU_MT_PAGE_COUNT");
  if (!ok(md.status)) return outcome("TDH.SYS.RD IOMMU_MT_PAGE_COUNT");
  const units: { name: string; id: U64; h: H }[] = [];
  let failed: string | null = null;
  for (const u of m.platform.iommus) {
    const h = b.allocIommuMt(k, md.value.lo);
    if (h === null) {
      failed = `allocate IOMMU_MT for ${u.name}`;
      break;
    }
    const r = handOver(k, b, h, "iommu-mt", `iommu ${u.name}`, (op) => iommuSetupOp(k, u.regBase, op));
    if (r !== null && ok(r.status)) {
      units.push({ name: u.name, id: r.regs.get(REG.RCX), h });
      continue;
    }
    dropRefused(k, b, h, r, `TDH.IOMMU.SETUP ${u.name}`);
    // The kernel's probe: TDX_OPERAND_INVALID with any operand id (under the status mask) is a skip.
    if (r !== null && isStatus(r.status, STATUS.TDX_OPERAND_INVALID)) continue;
    failed = `TDH.IOMMU.SETUP ${u.name}`;
    break;
  }
  for (const u of units) {
    const mt = () => b.operand(k, u.h, "iommu-mt");
    const clear = (_: U64) => {
      const op = mt();
      return op === null ? null : iommuClearOp(k, u.id, op);
    };
    if (!takeBack(k, b, u.h, `TDH.IOMMU.CLEAR ${u.name}`, clear, false)) failed ??= `teardown ${u.name}`;
  }
  return outcome(failed);
}

/** One SPDM session as the shared flows keep it. */
interface Session<H> {
  readonly device: PcieDeviceSpec;
  readonly channel: SpdmChannel;
  readonly msg: readonly Page[];
  readonly id: U64;
  readonly h: H;
  connected: boolean;
}

/** Creates and connects a session; on a failure after CREATE it is taken down again. */
function sessionUp<H>(k: HostKernel, b: Handoff<H>, device: PcieDeviceSpec): Session<H> | string {
  const gate = tdxConnectGate(k);
  if (!gate.run) return "skipped" in gate ? gate.skipped : gate.failedStep;
  const mt = sysRd(k, "SPDM_MT_PAGE_COUNT");
  const info = sysRd(k, "SPDM_MAX_DEV_INFO_PAGES");
  if (!ok(mt.status) || !ok(info.status)) return "TDH.SYS.RD SPDM page counts";
  const who = lockOwner(device);
  const msg = allocZeroed(k, 3, SPDM_MSG_TAG);
  if (msg === null) return `allocate SPDM message pages for ${device.name}`;
  const h = b.allocArray(k, mt.value.lo, SPDM_MT_TAG);
  if (h === null) {
    freeEach(k, msg);
    return `allocate SPDM_MT for ${device.name}`;
  }
  const channel: SpdmChannel = { device, requestPage: msg[0]!, responsePage: msg[1]!, confPage: msg[2]! };
  writeSpdmConf(k, msg[2]!.pfn);
  const c = handOver(k, b, h, "hpa-array", who, (op) =>
    withExtLockFor(k, "TDH.SPDM.CREATE", who, () => spdmCreateOp(k, device, op)),
  );
  if (c === null || !ok(c.status)) {
    dropRefused(k, b, h, c, `TDH.SPDM.CREATE ${device.name}`);
    freeEach(k, msg);
    return `TDH.SPDM.CREATE ${device.name}`;
  }
  const s: Session<H> = { device, channel, msg, id: c.regs.get(REG.RCX), h, connected: false };
  const step = connect(k, b, s, info.value.lo);
  if (step === null) return s;
  sessionDown(k, b, s);
  return step;
}

/** CONNECT with a temporary device-info buffer, read back and checked; returns the failing step or null. */
function connect<H>(k: HostKernel, b: Handoff<H>, s: Session<H>, infoPages: number): string | null {
  const name = s.device.name;
  const info = b.allocArray(k, infoPages, SPDM_DEVINFO_TAG);
  if (info === null) return `allocate device-info buffer for ${name}`;
  const op = b.operand(k, info, "hpa-array");
  const r =
    op === null
      ? null
      : withExtLockFor(k, "TDH.SPDM.CONNECT", lockOwner(s.device), () =>
          spdmConnectOp(k, s.channel, s.id, op),
        );
  let step: string | null = r === null || !ok(r.status) ? `TDH.SPDM.CONNECT ${name}` : null;
  if (r !== null && step === null) {
    s.connected = true;
    const want = deviceInfoOf(s.device);
    const got = readPages(k, b.pages(info));
    if (r.regs.lo(REG.RCX) !== want.length || !pagesStartWith(got, want))
      step = `device info of ${name} differs from the device's data`;
  }
  b.free(k, info);
  return step;
}

/** DISCONNECT (when connected; a failure only warns, as v2), DELETE, release; the message pages are freed. */
function sessionDown<H>(k: HostKernel, b: Handoff<H>, s: Session<H>): boolean {
  const who = lockOwner(s.device);
  if (s.connected) {
    withExtLockFor(k, "TDH.SPDM.DISCONNECT", who, () => spdmDisconnect(k, s.channel, s.id));
    s.connected = false;
  }
  const del = (rel: U64) => withExtLockFor(k, "TDH.SPDM.DELETE", who, () => spdmDeleteOp(k, s.id, rel));
  const good = takeBack(k, b, s.h, `TDH.SPDM.DELETE ${s.device.name}`, del, true);
  freeEach(k, s.msg);
  return good;
}

/** The SPDM flow: a session with every device, then each torn down. */
export function spdmFlow<H>(m: Machine, b: Handoff<H>): FlowOutcome {
  const k = m.kernel;
  const sessions: Session<H>[] = [];
  let failed: string | null = null;
  for (const d of m.platform.devices ?? []) {
    const s = sessionUp(k, b, d);
    if (typeof s === "string") failed ??= s;
    else sessions.push(s);
  }
  for (const s of sessions) if (!sessionDown(k, b, s)) failed ??= `teardown ${s.device.name}`;
  return outcome(failed);
}

/** One IDE stream. */
interface Stream<H> {
  readonly session: Session<H>;
  readonly id: U64;
  readonly h: H;
  keyed: boolean;
}

function streamUp<H>(k: HostKernel, b: Handoff<H>, s: Session<H>, devfn: number): Stream<H> | string {
  const name = s.device.name;
  const count = sysRd(k, "IDE_MT_PAGE_COUNT");
  if (!ok(count.status)) return "TDH.SYS.RD IDE_MT_PAGE_COUNT";
  const h = b.allocArray(k, count.value.lo, IDE_MT_TAG);
  if (h === null) return `allocate IDE_MT for ${name}`;
  const inputs = selectiveStream(s.device, devfn);
  const c = handOver(k, b, h, "hpa-array", `ide ${name}`, (op) => ideStreamCreateOp(k, s.id, inputs, op));
  if (c === null || !ok(c.status)) {
    dropRefused(k, b, h, c, `TDH.IDE.STREAM.CREATE ${name}`);
    return `TDH.IDE.STREAM.CREATE ${name}`;
  }
  const st: Stream<H> = { session: s, id: c.regs.get(REG.RCX), h, keyed: false };
  const km = withExtLockFor(k, "TDH.IDE.STREAM.KM", lockOwner(s.device), () =>
    ideStreamKm(k, s.channel, s.id, st.id, KM_OP.SETUP),
  );
  if (km !== null && ok(km.status)) {
    st.keyed = true;
    return st;
  }
  streamDown(k, b, st);
  return `TDH.IDE.STREAM.KM SETUP ${name}`;
}

function streamDown<H>(k: HostKernel, b: Handoff<H>, st: Stream<H>): boolean {
  const s = st.session;
  const name = s.device.name;
  if (st.keyed) {
    // A failed KM STOP is ignored (v2): BLOCK and DELETE still run.
    withExtLockFor(k, "TDH.IDE.STREAM.KM", lockOwner(s.device), () =>
      ideStreamKm(k, s.channel, s.id, st.id, KM_OP.STOP),
    );
    st.keyed = false;
  }
  if (!ok(ideStreamBlock(k, s.id, st.id).status)) {
    b.abandon(k, st.h, `TDH.IDE.STREAM.BLOCK ${name} failed`);
    return false;
  }
  const del = (rel: U64) => ideStreamDeleteOp(k, s.id, st.id, rel);
  return takeBack(k, b, st.h, `TDH.IDE.STREAM.DELETE ${name}`, del, true);
}

/** The IDE flow: per device a session and a stream in the next slot of its root port; then all down. */
export function ideFlow<H>(m: Machine, b: Handoff<H>): FlowOutcome {
  const k = m.kernel;
  const ports = m.platform.rootPorts ?? [];
  const sessions: Session<H>[] = [];
  const streams: Stream<H>[] = [];
  let failed: string | null = null;
  for (const d of m.platform.devices ?? []) {
    const s = sessionUp(k, b, d);
    if (typeof s === "string") {
      failed ??= s;
      continue;
    }
    sessions.push(s);
    const port = ports.findIndex((p) => p.name === d.rootPort);
    const st = streamUp(k, b, s, rootPortDevfn(ports, port));
    if (typeof st === "string") failed ??= st;
    else streams.push(st);
  }
  for (const st of streams) if (!streamDown(k, b, st)) failed ??= `stream teardown ${st.session.device.name}`;
  for (const s of sessions) if (!sessionDown(k, b, s)) failed ??= `teardown ${s.device.name}`;
  return outcome(failed);
}
