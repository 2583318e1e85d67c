/**
 * Host-side wrappers of the SPDM and IDE leaves (docs/spec/02-kapi.md 2.3, 2.4) and the DOE forwarding loop.
 *
 * The create wrappers hand metadata pages to the module as private memory: they CLFLUSH first (per
 * policy) and set the descriptor's flush flag on success. The device-info buffer of TDH.SPDM.CONNECT is
 * a temporary shared buffer the module writes and the host reads back: no flush, no flag.
 *
 * Extension calls (CONNECT, DISCONNECT, MNG, IDE.STREAM.KM) are re-issued with the host's saved copy of
 * the inputs after TDX_INTERRUPTED_RESUMABLE and after TDX_SPDM_REQUEST, for which the host first
 * forwards the module's request page to the device's DOE mailbox and writes the answer into the response
 * page; TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH runs TDH.SPDM.MNG KEY_UPDATE, then re-issues. The caller
 * holds the extension lock. Register convention: see src/module/leaves-spdm.ts and leaves-ide.ts.
 */
import { isStatus, type LeafName, REG, STATUS } from "../common/status.js";
import { hpaHi, hpaLo, type U64, U64_ONES, u64FromNumber } from "../common/u64.js";
import { doeExchange, get32, type PcieDeviceSpec } from "../hw/devices.js";
import { kapiSpan } from "./kapi-trace.js";
import { type HostKernel, mapPageForRead, mapPageForWrite } from "./kernel.js";
import type { Page } from "./page.js";
import type { TdxPageArray } from "./page-array.js";
import {
  type CallResult,
  callRegs,
  flushBeforeHandoff,
  MAX_BUSY_RETRIES,
  MAX_RESUMES,
  ok,
  type RetryResult,
} from "./seamcalls.js";

/** The host's link to one device: the device's DOE mailbox and the two message pages it lends the module. */
export interface SpdmChannel {
  readonly device: PcieDeviceSpec;
  readonly requestPage: Page;
  readonly responsePage: Page;
}

/** TDH.SPDM.MNG operations (RDX). */
export const MNG_OP = Object.freeze({ HEARTBEAT: 0, KEY_UPDATE: 1, RECOLLECT: 2 });
/** TDH.IDE.STREAM.KM operations (RDX). */
export const KM_OP = Object.freeze({ SETUP: 0, REFRESH: 1, STOP: 2 });

/** What an extension call through the device did. */
export interface ExchangeResult extends RetryResult {
  /** SPDM messages forwarded to the device. */
  readonly messages: number;
  /** Key updates run because the module asked for a refresh. */
  readonly keyUpdates: number;
}

const hpaReg = (hpa: number): U64 => ({ lo: hpaLo(hpa), hi: hpaHi(hpa) });

/** SPDM function id: bits 15:0 requester id, 23:16 segment, bit 24 segment valid. */
export function functionId(d: PcieDeviceSpec): U64 {
  return { lo: ((d.requesterId & 0xffff) | ((d.segment & 0xff) << 16) | (1 << 24)) >>> 0, hi: 0 };
}

/**
 * Forwards one request: reads the DOE data object the module left in the request page, passes it to the
 * device's DOE mailbox, writes the answer into the response page.
 */
export function forwardToDevice(k: HostKernel, ch: SpdmChannel): void {
  const req = mapPageForRead(k, ch.requestPage.pfn);
  const dws = Math.min(get32(req, 4) & 0x3_ffff, 1024);
  const answer = doeExchange(ch.device, req.slice(0, Math.max(dws, 2) * 4));
  const w = mapPageForWrite(k, ch.responsePage.pfn);
  const bytes = new Uint8Array(w.buffer, w.byteOffset, 4096);
  bytes.fill(0);
  bytes.set(answer.subarray(0, 4096));
}

/**
 * Issues an extension call that may talk to the device: `inputs` plus R8/R9 = the channel's message
 * pages; re-issues with the original inputs until the module is done (see the file's doc).
 */
export function spdmExchange(
  k: HostKernel,
  ch: SpdmChannel,
  leaf: LeafName,
  spdmId: U64,
  inputs: Readonly<Record<number, U64>>,
): ExchangeResult {
  const regs = callRegs(leaf, {
    ...inputs,
    [REG.R8]: hpaReg(ch.requestPage.hpa),
    [REG.R9]: hpaReg(ch.responsePage.hpa),
  });
  const saved = regs.clone();
  let interrupts = 0;
  let messages = 0;
  let keyUpdates = 0;
  let busyRetries = 0;
  for (let n = 0; ; n++) {
    k.seamcall(regs);
    const status = regs.get(REG.RAX);
    const again = () => regs.copyFrom(saved);
    if (n >= MAX_RESUMES) return { status, regs, interrupts, messages, keyUpdates, busyRetries };
    if (isStatus(status, STATUS.TDX_OPERAND_BUSY) && busyRetries < MAX_BUSY_RETRIES) {
      // Contention with another logical CPU: retry, as every re-issue loop does.
      busyRetries++;
      k.cpuRelax();
      again();
    } else if (isStatus(status, STATUS.TDX_INTERRUPTED_RESUMABLE)) {
      interrupts++;
      again();
    } else if (isStatus(status, STATUS.TDX_SPDM_REQUEST)) {
      forwardToDevice(k, ch);
      messages++;
      again();
    } else if (isStatus(status, STATUS.TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH) && keyUpdates < 3) {
      const u = spdmMng(k, ch, spdmId, MNG_OP.KEY_UPDATE);
      interrupts += u.interrupts;
      messages += u.messages;
      keyUpdates++;
      if (!ok(u.status)) return { ...u, interrupts, messages, keyUpdates, busyRetries };
      again();
    } else return { status, regs, interrupts, messages, keyUpdates, busyRetries };
  }
}

/**
 * `tdh_spdm_create`: hands the descriptor's pages (HPA_ARRAY_T) to the module as a session's metadata;
 * on success sets the flush flag (unless the wrong host `forgetFlushFlag`) and RCX holds the SPDM id.
 */
export function spdmCreate(k: HostKernel, device: PcieDeviceSpec, array: TdxPageArray): CallResult {
  return kapiSpan(k, "tdh_spdm_create", () => {
    flushBeforeHandoff(k, array);
    const regs = callRegs("TDH.SPDM.CREATE", {
      [REG.RCX]: functionId(device),
      [REG.RDX]: array.toHpaArray(),
    });
    k.seamcall(regs);
    const status = regs.get(REG.RAX);
    if (ok(status) && !k.policy.forgetFlushFlag) array.markFlushOnFree();
    return { status, regs };
  });
}

/** `tdh_spdm_connect`: the device-info buffer is shared and temporary: no flush, no flag. RCX = bytes. */
export function spdmConnect(
  k: HostKernel,
  ch: SpdmChannel,
  spdmId: U64,
  devInfo: TdxPageArray,
): ExchangeResult {
  return kapiSpan(k, "tdh_spdm_connect", () => {
    return spdmExchange(k, ch, "TDH.SPDM.CONNECT", spdmId, {
      [REG.RCX]: spdmId,
      [REG.R10]: devInfo.toHpaArray(),
    });
  });
}

/** `tdh_spdm_disconnect`. */
export function spdmDisconnect(k: HostKernel, ch: SpdmChannel, spdmId: U64): ExchangeResult {
  return kapiSpan(k, "tdh_spdm_disconnect", () => {
    return spdmExchange(k, ch, "TDH.SPDM.DISCONNECT", spdmId, { [REG.RCX]: spdmId });
  });
}

/** `tdh_spdm_mng`: operation `op`, optional output buffer (else all ones). */
export function spdmMng(
  k: HostKernel,
  ch: SpdmChannel,
  spdmId: U64,
  op: number,
  out: TdxPageArray | null = null,
): ExchangeResult {
  return kapiSpan(k, "tdh_spdm_mng", () => {
    return spdmExchange(k, ch, "TDH.SPDM.MNG", spdmId, {
      [REG.RCX]: spdmId,
      [REG.RDX]: u64FromNumber(op),
      [REG.R10]: out === null ? U64_ONES : out.toHpaArray(),
    });
  });
}

/** `tdh_spdm_delete`: release input from the descriptor (0 when singleton, else its root). RCX = released list. */
export function spdmDelete(k: HostKernel, spdmId: U64, array: TdxPageArray): CallResult {
  return kapiSpan(k, "tdh_spdm_delete", () => {
    const regs = callRegs("TDH.SPDM.DELETE", { [REG.RCX]: spdmId, [REG.RDX]: array.toReleaseInput() });
    k.seamcall(regs);
    return { status: regs.get(REG.RAX), regs };
  });
}

/** Slot selector of TDH.IDE.STREAM.CREATE: bits 7:0 root port index, 15:8 stream slot. */
export function streamSelector(rootPortIndex: number, slot: number): U64 {
  return { lo: ((rootPortIndex & 0xff) | ((slot & 0xff) << 8)) >>> 0, hi: 0 };
}

/** `tdh_ide_stream_create`: hands the descriptor's pages over as stream metadata; sets the flush flag. */
export function ideStreamCreate(k: HostKernel, spdmId: U64, selector: U64, array: TdxPageArray): CallResult {
  return kapiSpan(k, "tdh_ide_stream_create", () => {
    flushBeforeHandoff(k, array);
    const regs = callRegs("TDH.IDE.STREAM.CREATE", {
      [REG.RCX]: spdmId,
      [REG.RDX]: selector,
      [REG.R8]: array.toHpaArray(),
    });
    k.seamcall(regs);
    const status = regs.get(REG.RAX);
    if (ok(status) && !k.policy.forgetFlushFlag) array.markFlushOnFree();
    return { status, regs };
  });
}

/** `tdh_ide_stream_km`: SETUP, REFRESH or STOP through the stream's session's device. */
export function ideStreamKm(
  k: HostKernel,
  ch: SpdmChannel,
  spdmId: U64,
  streamId: U64,
  op: number,
): ExchangeResult {
  return kapiSpan(k, "tdh_ide_stream_km", () => {
    return spdmExchange(k, ch, "TDH.IDE.STREAM.KM", spdmId, {
      [REG.RCX]: streamId,
      [REG.RDX]: u64FromNumber(op),
    });
  });
}

/** `tdh_ide_stream_block`. */
export function ideStreamBlock(k: HostKernel, streamId: U64): CallResult {
  return kapiSpan(k, "tdh_ide_stream_block", () => {
    const regs = callRegs("TDH.IDE.STREAM.BLOCK", { [REG.RCX]: streamId });
    k.seamcall(regs);
    return { status: regs.get(REG.RAX), regs };
  });
}

/** `tdh_ide_stream_delete`: release input from the descriptor. RCX = released list. */
export function ideStreamDelete(k: HostKernel, streamId: U64, array: TdxPageArray): CallResult {
  return kapiSpan(k, "tdh_ide_stream_delete", () => {
    const regs = callRegs("TDH.IDE.STREAM.DELETE", {
      [REG.RCX]: streamId,
      [REG.RDX]: array.toReleaseInput(),
    });
    k.seamcall(regs);
    return { status: regs.get(REG.RAX), regs };
  });
}
