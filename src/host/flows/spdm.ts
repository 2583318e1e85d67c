/**
 * The SPDM session flows (docs/spec/02-kapi.md 2.5): connect = TDH.SPDM.CREATE (SPDM_MT_PAGE_COUNT
 * pages) → TDH.SPDM.CONNECT (the spdm_conf page, and a temporary device-info buffer of
 * SPDM_MAX_DEV_INFO_PAGES shared pages, read back and checked against what the device holds, then
 * freed); teardown = TDH.SPDM.DISCONNECT → TDH.SPDM.DELETE → destroy (write-back) → free. The extension
 * lock is taken per the policy's scope (v2: CONNECT, DISCONNECT, MNG).
 *
 * Failure policy (v2, 2.5 and 2.6): a failed DISCONNECT only warns and DELETE still runs; a failed
 * DELETE strands the session's pages and root forever. A failed CREATE is destroyed (written back when
 * the flush flag was set before the call) and freed. The model, unlike the kernel, also checks that a
 * successful DELETE returned every page given at CREATE ({@link checkReleased}) and records a
 * `release-list-short` model report when it did not.
 */
import { decodeHpaArray } from "../../common/formats.js";
import { REG, statusText } from "../../common/status.js";
import { hpaToPfn, pagesToBytes, pfnToHpa, type U64, u64ToNumber } from "../../common/u64.js";
import { deviceInfoOf, type PcieDeviceSpec } from "../../hw/devices.js";
import { tdxConnectGate } from "../connect-state.js";
import { allocZeroed, freeEach, type HostKernel, mapPageForRead, strandPages } from "../kernel.js";
import type { Page } from "../page.js";
import { coveredPfns } from "../page.js";
import { type TdxPageArray, tdxPageArrayCreate, tdxPageArrayDestroy } from "../page-array.js";
import { ok, spdmConnect, spdmCreate, spdmDelete, spdmDisconnect, sysRd } from "../seamcalls/index.js";
import { lockOwner, type SpdmChannel, withExtLockFor, writeSpdmConf } from "../spdm.js";
import { giveBackRefused, releaseAndFree } from "./iommu.js";
import { FlowRecorder, type FlowResult } from "./result.js";

/** Allocator tags. */
export const SPDM_MT_TAG = "tdx:spdm-mt";
export const SPDM_MSG_TAG = "tdx:spdm-msg";
export const SPDM_DEVINFO_TAG = "tdx:spdm-devinfo";

/** A session the host created: what it needs to use and tear it down. */
export interface SpdmSessionRecord {
  readonly device: PcieDeviceSpec;
  readonly channel: SpdmChannel;
  readonly spdmId: U64;
  readonly array: TdxPageArray;
  readonly pages: readonly Page[];
  connected: boolean;
  /** Device-info bytes the module wrote at CONNECT. */
  deviceInfoBytes: number;
}

/**
 * The model's release check: the list a successful DELETE returned in RCX (singleton: the page; else
 * entries in the root page the module wrote) must name every page of `array`. Reports the first missing
 * page through `k.modelReport` and returns the missing PFNs.
 */
export function checkReleased(k: HostKernel, out: U64, pages: readonly Page[], what: string): number[] {
  const d = decodeHpaArray(out.lo, out.hi);
  const got = new Set<number>();
  if (out.lo !== 0 || out.hi !== 0) {
    if (d.fields.singleton) got.add(hpaToPfn(d.fields.pageHpa!));
    else {
      const w = mapPageForRead(k, hpaToPfn(d.fields.rootHpa!));
      const words = new Uint32Array(w.buffer, w.byteOffset, 1024);
      for (let i = 0; i < d.fields.count; i++) {
        // An entry at or above 2^53 names no page the array could hold: it stays out of `got`.
        const hpa = u64ToNumber(words[2 * i]!, words[2 * i + 1]!);
        if (hpa !== null) got.add(hpaToPfn(hpa));
      }
    }
  }
  const missing = coveredPfns(pages).filter((p) => !got.has(p));
  if (missing.length > 0)
    k.modelReport(
      "release-list-short",
      missing[0]!,
      `${what}: DELETE succeeded but its released list lacks ${missing.length} page(s), first 0x${pfnToHpa(missing[0]!).toString(16)}`,
    );
  return missing;
}

/**
 * Creates and connects a session with `device`: message pages, metadata pages, CREATE, a temporary
 * device-info buffer, CONNECT, read-back check, buffer freed. On a failure after CREATE the session is
 * torn down again. Returns the flow result and the session (null when it failed, or when the TDX
 * Connect gate skipped it: then the result is ok with `details.skipped`).
 */
export function spdmSessionConnect(
  k: HostKernel,
  device: PcieDeviceSpec,
): { result: FlowResult; session: SpdmSessionRecord | null } {
  const rec = new FlowRecorder(`spdm-connect ${device.name}`);
  const stopped = rec.stopAtGate(tdxConnectGate(k));
  if (stopped !== null) return { result: stopped, session: null };
  const mtCount = sysRd(k, "SPDM_MT_PAGE_COUNT");
  if (!ok(mtCount.status))
    return { result: rec.fail("TDH.SYS.RD SPDM_MT_PAGE_COUNT", mtCount.status), session: null };
  const infoCount = sysRd(k, "SPDM_MAX_DEV_INFO_PAGES");
  if (!ok(infoCount.status))
    return { result: rec.fail("TDH.SYS.RD SPDM_MAX_DEV_INFO_PAGES", infoCount.status), session: null };
  const msg = allocZeroed(k, 3, SPDM_MSG_TAG);
  if (msg === null) return { result: rec.fail("allocate SPDM message pages", null), session: null };
  const pages = allocZeroed(k, mtCount.value.lo, SPDM_MT_TAG);
  const array = pages === null ? null : tdxPageArrayCreate(k, pages, pages.length);
  if (pages === null || array === null) {
    if (pages !== null) freeEach(k, pages);
    freeEach(k, msg);
    return { result: rec.fail(`allocate SPDM_MT for ${device.name}`, null), session: null };
  }
  const channel: SpdmChannel = { device, requestPage: msg[0]!, responsePage: msg[1]!, confPage: msg[2]! };
  writeSpdmConf(k, msg[2]!.pfn);
  const who = lockOwner(device);
  const c = withExtLockFor(k, "TDH.SPDM.CREATE", who, () => spdmCreate(k, device, array));
  if (c === null || !ok(c.status)) {
    // Not taken (or the lock was not had): destroy writes back per the flag set before the call, then
    // the pages go; a failure that is not a known clean refusal strands them (claim-failure-strands).
    const clean =
      c === null
        ? releaseAndFree(k, array, pages, rec)
        : giveBackRefused(k, array, pages, rec, c.status, `TDH.SPDM.CREATE ${device.name}`);
    freeEach(k, msg);
    const step = clean ? `TDH.SPDM.CREATE ${device.name}` : `TDH.PHYMEM.PAGE.WBINVD ${device.name}`;
    return { result: rec.fail(step, c?.status ?? null), session: null };
  }
  for (const pfn of coveredPfns(pages)) k.ledger.donated.set(pfn, who);
  const s: SpdmSessionRecord = {
    device,
    channel,
    spdmId: c.regs.get(REG.RCX),
    array,
    pages,
    connected: false,
    deviceInfoBytes: 0,
  };
  const unwind = (step: string, status: U64 | null) => {
    const t = spdmSessionTeardown(k, s);
    rec.stranded += t.strandedPages;
    rec.interrupts += t.interrupts;
    return { result: rec.fail(step, status), session: null };
  };
  // The temporary device-info buffer: fresh shared pages (the wrong host reuses its metadata pages).
  const wrong = k.policy.devInfoInMetadata;
  const infoPages = wrong
    ? pages.slice(0, infoCount.value.lo)
    : allocZeroed(k, infoCount.value.lo, SPDM_DEVINFO_TAG);
  const info = infoPages === null ? null : tdxPageArrayCreate(k, infoPages, infoPages.length);
  if (infoPages === null || info === null) {
    if (infoPages !== null && !wrong) freeEach(k, infoPages);
    return unwind(`allocate device-info buffer for ${device.name}`, null);
  }
  const r = withExtLockFor(k, "TDH.SPDM.CONNECT", who, () => spdmConnect(k, channel, s.spdmId, info));
  const dropInfo = () => {
    tdxPageArrayDestroy(k, info);
    if (!wrong) freeEach(k, infoPages);
  };
  if (r === null || !ok(r.status)) {
    dropInfo();
    if (r !== null) rec.interrupts += r.interrupts;
    return unwind(`TDH.SPDM.CONNECT ${device.name}`, r?.status ?? null);
  }
  rec.interrupts += r.interrupts;
  s.connected = true;
  s.deviceInfoBytes = r.regs.lo(REG.RCX);
  rec.details.messages = r.messages;
  rec.details.deviceInfoBytes = s.deviceInfoBytes;
  // Read the device information back and check it is what the device holds.
  const got = readPages(k, infoPages);
  const want = deviceInfoOf(device);
  const same = s.deviceInfoBytes === want.length && pagesStartWith(got, want);
  dropInfo();
  if (!same) return unwind(`device info of ${device.name} differs from the device's data`, null);
  return { result: rec.ok(), session: s };
}

/**
 * The host reads `pages` back, in order (each read is a host access the cache model checks): their
 * bytes as the kernel's mappings show them, one view per page (nothing copied).
 */
export function readPages(k: HostKernel, pages: readonly Page[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of pages) out.push(mapPageForRead(k, p.pfn));
  return out;
}

/**
 * True when the pages read by {@link readPages}, one after another, start with the bytes of `want`
 * (compared in place, a loop per page: no copy of the buffer and no call per byte).
 */
export function pagesStartWith(pages: readonly Uint8Array[], want: Uint8Array): boolean {
  if (want.length > pagesToBytes(pages.length)) return false;
  let at = 0;
  for (const v of pages) {
    if (at >= want.length) break;
    const n = Math.min(v.length, want.length - at);
    for (let j = 0; j < n; j++) if (v[j] !== want[at + j]) return false;
    at += n;
  }
  return true;
}

/** The channel's pages (request, response, spdm_conf), to free at the end of a session. */
function channelPages(ch: SpdmChannel): Page[] {
  return [ch.requestPage, ch.responsePage, ...(ch.confPage === undefined ? [] : [ch.confPage])];
}

/**
 * Tears a session down: DISCONNECT (when connected; a failure only warns, recorded in
 * `details.warning`), DELETE, the model's release check, destroy (write-back) and free; the channel's
 * pages are freed. A failed DELETE strands the metadata pages and the root page forever.
 */
export function spdmSessionTeardown(k: HostKernel, s: SpdmSessionRecord): FlowResult {
  const rec = new FlowRecorder(`spdm-teardown ${s.device.name}`);
  const who = lockOwner(s.device);
  const pfns = coveredPfns(s.pages);
  const strand = (step: string, status: U64 | null) => {
    strandPages(k, [...pfns, s.array.rootPage.pfn], `${step} failed`);
    rec.stranded += pfns.length + 1;
    freeEach(k, channelPages(s.channel));
    return rec.fail(step, status);
  };
  if (s.connected) {
    const d = withExtLockFor(k, "TDH.SPDM.DISCONNECT", who, () => spdmDisconnect(k, s.channel, s.spdmId));
    if (d !== null) rec.interrupts += d.interrupts;
    if (d === null || !ok(d.status))
      rec.details.warning = `TDH.SPDM.DISCONNECT ${s.device.name} failed${d === null ? "" : `: ${statusText(d.status)}`}`;
    s.connected = false;
  }
  const r = withExtLockFor(k, "TDH.SPDM.DELETE", who, () => spdmDelete(k, s.spdmId, s.array));
  if (r === null || !ok(r.status)) return strand(`TDH.SPDM.DELETE ${s.device.name}`, r?.status ?? null);
  const missing = checkReleased(k, r.regs.get(REG.RCX), s.pages, `TDH.SPDM.DELETE ${s.device.name}`);
  rec.details.missingFromRelease = missing.length;
  // The kernel trusts a successful DELETE (2.6): every page is the host's again.
  for (const pfn of pfns) k.ledger.donated.delete(pfn);
  const clean = releaseAndFree(k, s.array, s.pages, rec);
  freeEach(k, channelPages(s.channel));
  return clean ? rec.ok() : rec.fail(`TDH.PHYMEM.PAGE.WBINVD ${s.device.name}`, null);
}
