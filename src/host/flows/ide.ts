/**
 * The IDE stream flows (docs/spec/02-kapi.md 2.5): setup = TDH.IDE.STREAM.CREATE (IDE_MT_PAGE_COUNT
 * pages; a selective stream for the device, in the root port the module picks, which returns the
 * root-port IDE id) → TDH.IDE.STREAM.KM SETUP; teardown = KM STOP → TDH.IDE.STREAM.BLOCK →
 * TDH.IDE.STREAM.DELETE → the model's release check → destroy (write-back) → free.
 *
 * Failure policy (v2): a failed KM STOP is ignored (recorded in `details.warning`) and BLOCK and DELETE
 * still run; a failed BLOCK or DELETE strands the stream's pages and root forever (2.6). A failed CREATE
 * is destroyed (written back when the flush flag was set before the call) and freed.
 */
import { REG, statusText } from "../../common/status.js";
import type { U64 } from "../../common/u64.js";
import { rootPortDevfn } from "../../hw/devices.js";
import { allocZeroed, freeEach, type HostKernel, strandPages } from "../kernel.js";
import type { Page } from "../page.js";
import { coveredPfns } from "../page.js";
import { type TdxPageArray, tdxPageArrayCreate } from "../page-array.js";
import {
  ideStreamBlock,
  ideStreamCreate,
  ideStreamDelete,
  ideStreamKm,
  KM_OP,
  ok,
  sysRd,
} from "../seamcalls/index.js";
import { lockOwner, selectiveStream, withExtLockFor } from "../spdm.js";
import { giveBackRefused, releaseAndFree } from "./iommu.js";
import { FlowRecorder, type FlowResult } from "./result.js";
import { checkReleased, type SpdmSessionRecord } from "./spdm.js";

/** Allocator tag of IDE stream metadata pages. */
export const IDE_MT_TAG = "tdx:ide-mt";

/** A stream the host created. */
export interface IdeStreamRecord {
  readonly session: SpdmSessionRecord;
  readonly streamId: U64;
  readonly rootPortIndex: number;
  /** The root-port IDE id the module returned (RDX of CREATE). */
  readonly slot: number;
  readonly array: TdxPageArray;
  readonly pages: readonly Page[];
  keyed: boolean;
}

/**
 * Creates a selective stream for `session` through root port `rootPortIndex` (the devfn of
 * `ports[rootPortIndex]` in stream_info) and programs its keys. On a KM failure the stream is torn down
 * again. Returns the flow result and the stream (null on failure).
 */
export function ideStreamSetup(
  k: HostKernel,
  session: SpdmSessionRecord,
  ports: Parameters<typeof rootPortDevfn>[0],
  rootPortIndex: number,
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
  const inputs = selectiveStream(session.device, rootPortDevfn(ports, rootPortIndex));
  const c = ideStreamCreate(k, session.spdmId, inputs, array);
  if (!ok(c.status)) {
    const clean = giveBackRefused(k, array, pages, rec, c.status, `TDH.IDE.STREAM.CREATE ${name}`);
    const step = clean ? `TDH.IDE.STREAM.CREATE ${name}` : `TDH.PHYMEM.PAGE.WBINVD ${name}`;
    return { result: rec.fail(step, c.status), stream: null };
  }
  for (const pfn of coveredPfns(pages)) k.ledger.donated.set(pfn, `ide ${name}`);
  const stream: IdeStreamRecord = {
    session,
    streamId: c.regs.get(REG.RCX),
    rootPortIndex,
    slot: c.regs.lo(REG.RDX),
    array,
    pages,
    keyed: false,
  };
  const km = withExtLockFor(k, "TDH.IDE.STREAM.KM", lockOwner(session.device), () =>
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

/**
 * Tears a stream down: KM STOP (when keyed; a failure is ignored, as v2 does), BLOCK, DELETE, release
 * check, destroy, free.
 */
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
    const km = withExtLockFor(k, "TDH.IDE.STREAM.KM", lockOwner(s.session.device), () =>
      ideStreamKm(k, s.session.channel, s.session.spdmId, s.streamId, KM_OP.STOP),
    );
    if (km !== null) rec.interrupts += km.interrupts;
    if (km === null || !ok(km.status))
      rec.details.warning = `TDH.IDE.STREAM.KM STOP ${name} failed (ignored)${km === null ? "" : `: ${statusText(km.status)}`}`;
    s.keyed = false;
  }
  const b = ideStreamBlock(k, s.session.spdmId, s.streamId);
  if (!ok(b.status)) return strand(`TDH.IDE.STREAM.BLOCK ${name}`, b.status);
  const d = ideStreamDelete(k, s.session.spdmId, s.streamId, s.array);
  if (!ok(d.status)) return strand(`TDH.IDE.STREAM.DELETE ${name}`, d.status);
  const missing = checkReleased(k, d.regs.get(REG.RCX), s.pages, `TDH.IDE.STREAM.DELETE ${name}`);
  rec.details.missingFromRelease = missing.length;
  for (const pfn of pfns) k.ledger.donated.delete(pfn);
  return releaseAndFree(k, s.array, s.pages, rec)
    ? rec.ok()
    : rec.fail(`TDH.PHYMEM.PAGE.WBINVD ${name}`, null);
}
