/**
 * The IDE stream flows (02-kapi.md 2.5): setup = TDH.IDE.STREAM.CREATE (IDE_MT_PAGE_COUNT pages) →
 * TDH.IDE.STREAM.KM SETUP; teardown = KM STOP → TDH.IDE.STREAM.BLOCK → TDH.IDE.STREAM.DELETE → the
 * model's release check → destroy (write-back) → free. A failed STOP, BLOCK or DELETE strands the
 * stream's pages and root forever (2.6).
 */
import { REG } from "../../common/status.js";
import type { U64 } from "../../common/u64.js";
import { cleanRefusal } from "../claim-rule.js";
import { allocZeroed, freeEach, type HostKernel, strandPages, withExtLock } from "../kernel.js";
import type { Page } from "../page.js";
import { coveredPfns } from "../page.js";
import { type TdxPageArray, tdxPageArrayCreate, tdxPageArrayDestroy } from "../page-array.js";
import { ok, sysRd } from "../seamcalls.js";
import {
  ideStreamBlock,
  ideStreamCreate,
  ideStreamDelete,
  ideStreamKm,
  KM_OP,
  streamSelector,
} from "../spdm.js";
import { releaseAndFree } from "./iommu.js";
import { FlowRecorder, type FlowResult } from "./result.js";
import { checkReleased, type SpdmSessionRecord } from "./spdm.js";

/** Allocator tag of IDE stream metadata pages. */
export const IDE_MT_TAG = "tdx:ide-mt";

/** A stream the host created. */
export interface IdeStreamRecord {
  readonly session: SpdmSessionRecord;
  readonly streamId: U64;
  readonly rootPortIndex: number;
  readonly slot: number;
  readonly array: TdxPageArray;
  readonly pages: readonly Page[];
  keyed: boolean;
}

/**
 * Creates a stream for `session` in slot `slot` of root port `rootPortIndex` and programs its keys. On a
 * KM failure the stream is torn down again. Returns the flow result and the stream (null on failure).
 */
export function ideStreamSetup(
  k: HostKernel,
  session: SpdmSessionRecord,
  rootPortIndex: number,
  slot: number,
): { result: FlowResult; stream: IdeStreamRecord | null } {
  const name = session.device.name;
  const rec = new FlowRecorder(`ide-setup ${name}`);
  const count = sysRd(k, "IDE_MT_PAGE_COUNT");
  if (!ok(count.status))
    return { result: rec.fail("TDH.SYS.RD IDE_MT_PAGE_COUNT", count.status), stream: null };
  const pages = allocZeroed(k, count.value.lo, IDE_MT_TAG);
  const array = pages === null ? null : tdxPageArrayCreate(k, pages, pages.length);
  if (pages === null || array === null) {
    if (pages !== null) freeEach(k, pages);
    return { result: rec.fail(`allocate IDE_MT for ${name}`, null), stream: null };
  }
  const c = ideStreamCreate(k, session.spdmId, streamSelector(rootPortIndex, slot), array);
  if (!ok(c.status)) {
    tdxPageArrayDestroy(k, array);
    if (!cleanRefusal(c.status)) {
      // Not a known clean refusal: the module may hold any of the pages (claim-failure-strands).
      strandPages(k, coveredPfns(pages), `TDH.IDE.STREAM.CREATE ${name} failed: not a clean refusal`);
      rec.stranded += coveredPfns(pages).length;
    } else freeEach(k, pages);
    return { result: rec.fail(`TDH.IDE.STREAM.CREATE ${name}`, c.status), stream: null };
  }
  for (const pfn of coveredPfns(pages)) k.ledger.donated.set(pfn, `ide ${name}`);
  const stream: IdeStreamRecord = {
    session,
    streamId: c.regs.get(REG.RCX),
    rootPortIndex,
    slot,
    array,
    pages,
    keyed: false,
  };
  const km = withExtLock(k, `ide ${name}`, () =>
    ideStreamKm(k, session.channel, session.spdmId, stream.streamId, KM_OP.SETUP),
  );
  if (km !== null) rec.interrupts += km.interrupts;
  if (km === null || !ok(km.status)) {
    const t = ideStreamTeardown(k, stream);
    rec.stranded += t.strandedPages;
    rec.interrupts += t.interrupts;
    return { result: rec.fail(`TDH.IDE.STREAM.KM SETUP ${name}`, km?.status ?? null), stream: null };
  }
  stream.keyed = true;
  rec.details.messages = km.messages;
  return { result: rec.ok(), stream };
}

/** Tears a stream down: KM STOP (when keyed), BLOCK, DELETE, release check, destroy, free. */
export function ideStreamTeardown(k: HostKernel, s: IdeStreamRecord): FlowResult {
  const name = s.session.device.name;
  const rec = new FlowRecorder(`ide-teardown ${name}`);
  const pfns = coveredPfns(s.pages);
  const strand = (step: string, status: U64 | null) => {
    strandPages(k, [...pfns, s.array.rootPage.pfn], `${step} failed`);
    rec.stranded += pfns.length + 1;
    return rec.fail(step, status);
  };
  if (s.keyed) {
    const km = withExtLock(k, `ide ${name}`, () =>
      ideStreamKm(k, s.session.channel, s.session.spdmId, s.streamId, KM_OP.STOP),
    );
    if (km !== null) rec.interrupts += km.interrupts;
    if (km === null || !ok(km.status)) return strand(`TDH.IDE.STREAM.KM STOP ${name}`, km?.status ?? null);
    s.keyed = false;
  }
  const b = ideStreamBlock(k, s.streamId);
  if (!ok(b.status)) return strand(`TDH.IDE.STREAM.BLOCK ${name}`, b.status);
  const d = ideStreamDelete(k, s.streamId, s.array);
  if (!ok(d.status)) return strand(`TDH.IDE.STREAM.DELETE ${name}`, d.status);
  const missing = checkReleased(k, d.regs.get(REG.RCX), s.pages, `TDH.IDE.STREAM.DELETE ${name}`);
  rec.details.missingFromRelease = missing.length;
  for (const pfn of pfns) k.ledger.donated.delete(pfn);
  return releaseAndFree(k, s.array, s.pages, rec)
    ? rec.ok()
    : rec.fail(`TDH.PHYMEM.PAGE.WBINVD ${name}`, null);
}
