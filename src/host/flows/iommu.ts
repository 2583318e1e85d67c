/**
 * The trusted IOMMU flows (docs/spec/02-kapi.md 2.5): behind the TDX Connect gate (`connect-state.ts`),
 * for every DMA remapping unit, build an IOMMU_MT (two 2^iq_order queue blocks + IOMMU_MT_PAGE_COUNT
 * order-0 pages) and probe it with TDH.IOMMU.SETUP, as the kernel does: TDX_OPERAND_INVALID with any
 * operand id (compared under the status mask, on purpose) means "not TDX-capable", skip it; any other
 * failure clears every unit already set up and fails TDX Connect initialisation. The create's flush flag
 * is set before the call, so a skipped or failed unit's pages are written back before they are freed.
 * Teardown: TDH.IOMMU.CLEAR, destroy (write-back of every 4 KiB page), free. A failed CLEAR strands the
 * unit's pages and its root page forever (2.6).
 */

import { encodeIommuMt } from "../../common/formats.js";
import { isStatus, REG, STATUS } from "../../common/status.js";
import { hpaToU64, pfnToHpa, type U64 } from "../../common/u64.js";
import { cleanRefusal } from "../claim-rule.js";
import { failTdxConnect, tdxConnectGate } from "../connect-state.js";
import { allocZeroed, freeEach, type HostKernel, strandPages } from "../kernel.js";
import { coveredPfns, type Page } from "../page.js";
import { type TdxPageArray, tdxPageArrayCreate, tdxPageArrayDestroy } from "../page-array.js";
import { callRegs, iommuClear, iommuSetup, ok, retryWithOriginal, sysRd } from "../seamcalls/index.js";
import { FlowRecorder, type FlowResult } from "./result.js";

/** Allocator tag of IOMMU metadata pages. */
export const IOMMU_TAG = "tdx:iommu-mt";

/** A unit the host set up: what it needs to tear it down. */
export interface IommuSetupRecord {
  readonly name: string;
  readonly regBase: number;
  readonly iommuId: U64;
  readonly array: TdxPageArray;
  /** The data pages (queue block heads and order-0 pages), to free after teardown. */
  readonly pages: readonly Page[];
}

/**
 * Allocates an IOMMU_MT's pages: two 2^iqOrder queue blocks (zeroed) and `count` zeroed order-0
 * pages. Returns null (freeing what it got) when an allocation fails.
 */
export function allocIommuMtPages(k: HostKernel, count: number): Page[] | null {
  const got: Page[] = [];
  const fail = () => {
    freeEach(k, got);
    return null;
  };
  for (let q = 0; q < 2; q++) {
    const b = k.alloc.allocPages(k.policy.iqOrder, { tag: IOMMU_TAG, zero: true });
    if (b === null) return fail();
    got.push(b);
  }
  const singles = allocZeroed(k, count, IOMMU_TAG);
  if (singles === null) return fail();
  return [...got, ...singles];
}

/**
 * Wrong host `staleRoot`: issues TDH.IOMMU.SETUP with a page it already donated to the module (an
 * extension pool page, say) as the root, as a stale pointer would. Falls back to the right root when it
 * has donated nothing.
 */
function iommuSetupStaleRoot(
  k: HostKernel,
  regBase: number,
  array: TdxPageArray,
): ReturnType<typeof iommuSetup> {
  const stale = k.ledger.donated.keys().next();
  if (stale.done === true) return iommuSetup(k, regBase, array);
  // The descriptor is still the host's own: its flush flag follows the same rule as `iommuSetup`.
  if (k.policy.flushFlag === "before-call") array.markFlushOnFree();
  return retryWithOriginal(
    k,
    callRegs("TDH.IOMMU.SETUP", {
      [REG.RCX]: hpaToU64(regBase),
      [REG.RDX]: encodeIommuMt(pfnToHpa(stale.value)),
    }),
  );
}

/** Sets up every TDX-capable unit among `units`; returns the flow result and the records to tear down. */
export function iommuSetupAll(
  k: HostKernel,
  units: readonly { name: string; regBase: number }[],
): { result: FlowResult; setups: IommuSetupRecord[] } {
  const rec = new FlowRecorder("iommu-setup");
  const setups: IommuSetupRecord[] = [];
  const stopped = rec.stopAtGate(tdxConnectGate(k));
  if (stopped !== null) return { result: stopped, setups };
  const md = sysRd(k, "IOMMU_MT_PAGE_COUNT");
  if (!ok(md.status)) return { result: rec.fail("TDH.SYS.RD IOMMU_MT_PAGE_COUNT", md.status), setups };
  let skipped = 0;
  let wbFailed: string | null = null;
  for (const u of units) {
    const pages = allocIommuMtPages(k, md.value.lo);
    if (pages === null) return { result: rec.fail(`allocate IOMMU_MT for ${u.name}`, null), setups };
    // Wrong host `duplicatePage`: the last order-0 page appears twice (the list keeps its length).
    const listed =
      k.policy.duplicatePage && pages.length > 3 ? [...pages.slice(0, -1), pages[pages.length - 2]!] : pages;
    const array = tdxPageArrayCreate(k, listed, listed.length);
    if (array === null) {
      freeEach(k, pages);
      return { result: rec.fail(`tdx_page_array_create for ${u.name}`, null), setups };
    }
    const r = k.policy.staleRoot ? iommuSetupStaleRoot(k, u.regBase, array) : iommuSetup(k, u.regBase, array);
    rec.interrupts += r.interrupts;
    if (ok(r.status)) {
      for (const pfn of coveredPfns(pages)) k.ledger.donated.set(pfn, `iommu ${u.name}`);
      setups.push({ name: u.name, regBase: u.regBase, iommuId: r.regs.get(REG.RCX), array, pages });
      continue;
    }
    // Not taken. A known clean refusal: destroy writes back per the flush flag, then the pages go (those
    // whose write-back failed are stranded instead; the probe goes on). Anything else may have left pages
    // private: they are stranded (claim-failure-strands), and it counts as "any other failure" below.
    if (!giveBackRefused(k, array, pages, rec, r.status, `TDH.IOMMU.SETUP ${u.name}`))
      wbFailed ??= `TDH.PHYMEM.PAGE.WBINVD ${u.name}`;
    // The kernel's probe compares under the status mask (any operand id): not TDX-capable, skip.
    if (isStatus(r.status, STATUS.TDX_OPERAND_INVALID)) {
      skipped++;
      continue;
    }
    // Any other failure: clear every unit set up so far, and TDX Connect initialisation fails.
    rec.details.unitsSetUp = 0;
    rec.details.unitsCleared = setups.length;
    const cleared = iommuClearAll(k, setups);
    rec.interrupts += cleared.interrupts;
    rec.stranded += cleared.strandedPages;
    failTdxConnect(k, `TDH.IOMMU.SETUP ${u.name} failed`);
    return { result: rec.fail(`TDH.IOMMU.SETUP ${u.name}`, r.status), setups: [] };
  }
  rec.details.unitsSetUp = setups.length;
  rec.details.unitsSkipped = skipped;
  return { result: wbFailed === null ? rec.ok() : rec.fail(wbFailed, null), setups };
}

/**
 * Tears down units: CLEAR, destroy (PAGE.WBINVD of every covered page, unless the policy skips it),
 * free. A failed CLEAR or write-back strands the affected pages; the flow goes on with the next unit.
 */
export function iommuClearAll(k: HostKernel, setups: readonly IommuSetupRecord[]): FlowResult {
  const rec = new FlowRecorder("iommu-clear");
  let firstFail: { step: string; status: U64 | null } | null = null;
  let cleared = 0;
  for (const s of setups) {
    const r = iommuClear(k, s.iommuId, s.array);
    rec.interrupts += r.interrupts;
    const pfns = coveredPfns(s.pages);
    if (!ok(r.status)) {
      strandPages(k, [...pfns, s.array.rootPage.pfn], `TDH.IOMMU.CLEAR ${s.name} failed`);
      rec.stranded += pfns.length + 1;
      firstFail ??= { step: `TDH.IOMMU.CLEAR ${s.name}`, status: r.status };
      continue;
    }
    for (const pfn of pfns) k.ledger.donated.delete(pfn);
    if (releaseAndFree(k, s.array, s.pages, rec)) cleared++;
    else firstFail ??= { step: `TDH.PHYMEM.PAGE.WBINVD ${s.name}`, status: null };
  }
  rec.details.unitsCleared = cleared;
  return firstFail === null ? rec.ok() : rec.fail(firstFail.step, firstFail.status);
}

/**
 * After a create (TDH.IOMMU.SETUP, SPDM.CREATE, IDE.STREAM.CREATE) that failed with `status`: on a known
 * clean refusal (claim-rule.ts) the module kept nothing, so {@link releaseAndFree} (write-back per the
 * flush flag, set before the call) and false when a write-back failed; on anything else the module may
 * hold any of the pages, so the descriptor is destroyed and every page stranded (ledger
 * `claim-failure-strands`), and true (no write-back failure of its own to report).
 */
export function giveBackRefused(
  k: HostKernel,
  array: TdxPageArray,
  pages: readonly Page[],
  rec: FlowRecorder,
  status: U64,
  what: string,
): boolean {
  if (cleanRefusal(status)) return releaseAndFree(k, array, pages, rec);
  tdxPageArrayDestroy(k, array);
  const pfns = coveredPfns(pages);
  strandPages(k, pfns, `${what} failed: not a clean refusal`);
  rec.stranded += pfns.length;
  return true;
}

/**
 * After a successful release: destroy the descriptor (write-back per policy) and free the data pages;
 * pages whose write-back failed are stranded instead. Returns true when nothing was stranded. The
 * wrong host of policy `freeBeforeWriteBack` frees the pages first and writes back too late.
 */
export function releaseAndFree(
  k: HostKernel,
  array: TdxPageArray,
  pages: readonly Page[],
  rec: FlowRecorder,
): boolean {
  if (k.policy.freeBeforeWriteBack) {
    freeEach(k, pages);
    tdxPageArrayDestroy(k, array);
    return true;
  }
  const d = tdxPageArrayDestroy(k, array);
  const bad = new Set(d.failedPfns);
  if (bad.size > 0) {
    strandPages(k, [...bad], "PAGE.WBINVD failed: caches may hold private lines");
    rec.stranded += bad.size;
  }
  for (const p of pages) {
    let blockBad = false;
    for (let i = 0; i < p.nrPages; i++) if (bad.has(p.pfn + i)) blockBad = true;
    if (blockBad) strandPages(k, coveredPfns([p]), "block with a failed write-back");
    else k.alloc.freePages(p, p.order);
  }
  return bad.size === 0;
}
