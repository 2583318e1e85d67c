/**
 * Host-side wrappers of the SPDM leaves (docs/spec/02-kapi.md 2.3, 2.4) and the DOE forwarding loop, on
 * the exact register table of docs/spec/03-module.md 3.3 (request and response registers differ per
 * leaf): TDH.SPDM.CREATE, CONNECT, DISCONNECT, MNG and DELETE.
 *
 * The create wrapper hands metadata pages to the module as private memory: it CLFLUSHes first (per
 * policy) and sets the descriptor's flush flag before the SEAMCALL, whatever the result (the kernel;
 * policy `flushFlag`). The device-info buffer of TDH.SPDM.CONNECT is a temporary shared buffer the module
 * writes and the host reads back: no flush, no flag.
 *
 * Extension calls (CONNECT, DISCONNECT, MNG, and IDE.STREAM.KM in `ide.ts`) go through
 * {@link spdmExchange}: re-issued with the host's saved copy of the inputs after
 * TDX_INTERRUPTED_RESUMABLE and after TDX_SPDM_REQUEST, for which the host first forwards the raw DOE
 * frame in the request page to the device's DOE mailbox and puts the device's raw answer frame into the
 * response page (`forwardToDevice` in `../spdm.ts`); TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH runs
 * TDH.SPDM.MNG KEY_UPDATE (taking the extension lock as MNG does), then re-issues. Statuses are compared
 * in full, as the kernel does.
 */
import { isStatus, type LeafName, REG, STATUS } from "../../common/status.js";
import { hpaToU64, PAGE_SIZE, type U64, U64_ONES, u64FromNumber } from "../../common/u64.js";
import type { PcieDeviceSpec } from "../../hw/devices.js";
import { kapiSpan } from "../kapi-trace.js";
import type { HostKernel } from "../kernel.js";
import type { Page } from "../page.js";
import type { TdxPageArray } from "../page-array.js";
import { forwardToDevice, functionId, lockOwner, type SpdmChannel, withExtLockFor } from "../spdm.js";
import {
  type CallResult,
  callRegs,
  isExactly,
  MAX_BUSY_RETRIES,
  MAX_RESUMES,
  ok,
  type RetryResult,
} from "./call.js";
import { flushBeforeHandoff, markHandoff } from "./handoff.js";

/** TDH.SPDM.MNG operations (RDX). */
export const MNG_OP = Object.freeze({ HEARTBEAT: 0, KEY_UPDATE: 1, RECOLLECT: 2 });

/** What an extension call through the device did. */
export interface ExchangeResult extends RetryResult {
  /** SPDM messages forwarded to the device. */
  readonly messages: number;
  /** Key updates run because the module asked for a refresh. */
  readonly keyUpdates: number;
}

/** Which registers hold the response and request pages of a leaf (the register table). */
export interface MessageRegs {
  readonly rsp: number;
  readonly req: number;
}

/**
 * Issues an extension call that may talk to the device: `inputs` plus the channel's message pages in
 * `msg`; re-issues with the original inputs until the module is done (see the file's doc).
 */
export function spdmExchange(
  k: HostKernel,
  ch: SpdmChannel,
  leaf: LeafName,
  spdmId: U64,
  inputs: Readonly<Record<number, U64>>,
  msg: MessageRegs,
): ExchangeResult {
  const regs = callRegs(leaf, {
    ...inputs,
    [msg.rsp]: hpaToU64(ch.responsePage.hpa),
    [msg.req]: hpaToU64(ch.requestPage.hpa),
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
    } else if (isExactly(status, STATUS.TDX_INTERRUPTED_RESUMABLE)) {
      interrupts++;
      again();
    } else if (isExactly(status, STATUS.TDX_SPDM_REQUEST)) {
      forwardToDevice(k, ch, regs.hi(REG.RCX) === 0 ? regs.lo(REG.RCX) : PAGE_SIZE);
      messages++;
      again();
    } else if (isExactly(status, STATUS.TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH) && keyUpdates < 3) {
      const u = withExtLockFor(k, "TDH.SPDM.MNG", lockOwner(ch.device), () =>
        spdmMng(k, ch, spdmId, MNG_OP.KEY_UPDATE),
      );
      if (u === null) return { status, regs, interrupts, messages, keyUpdates, busyRetries };
      interrupts += u.interrupts;
      messages += u.messages;
      keyUpdates++;
      if (!ok(u.status)) return { ...u, interrupts, messages, keyUpdates, busyRetries };
      again();
    } else return { status, regs, interrupts, messages, keyUpdates, busyRetries };
  }
}

/**
 * `tdh_spdm_create`: hands the descriptor's pages (HPA_ARRAY_T in RDX) to the module as a session's
 * metadata, RCX = function id; the flush flag is set per {@link markHandoff}. RCX out = SPDM id.
 */
export function spdmCreate(k: HostKernel, device: PcieDeviceSpec, array: TdxPageArray): CallResult {
  return kapiSpan(k, "tdh_spdm_create", () => {
    flushBeforeHandoff(k, array);
    markHandoff(k, array, null);
    const regs = callRegs("TDH.SPDM.CREATE", {
      [REG.RCX]: functionId(device, k.policy.segmentValid),
      [REG.RDX]: array.toHpaArray(),
    });
    k.seamcall(regs);
    const status = regs.get(REG.RAX);
    if (k.policy.flushFlag === "on-success") markHandoff(k, array, status);
    return { status, regs };
  });
}

/**
 * `tdh_spdm_connect`: RCX = SPDM id, RDX = spdm_conf page, R8 = response page, R9 = request page, R10 =
 * the device-info buffer (shared and temporary: no flush, no flag). RCX out = device-info bytes.
 */
export function spdmConnect(
  k: HostKernel,
  ch: SpdmChannel,
  spdmId: U64,
  devInfo: TdxPageArray,
): ExchangeResult {
  return kapiSpan(k, "tdh_spdm_connect", () => {
    const conf = ch.confPage === undefined ? U64_ONES : hpaToU64(ch.confPage.hpa);
    return spdmExchange(
      k,
      ch,
      "TDH.SPDM.CONNECT",
      spdmId,
      { [REG.RCX]: spdmId, [REG.RDX]: conf, [REG.R10]: devInfo.toHpaArray() },
      { rsp: REG.R8, req: REG.R9 },
    );
  });
}

/** `tdh_spdm_disconnect`: RCX = SPDM id, RDX = response page, R8 = request page. */
export function spdmDisconnect(k: HostKernel, ch: SpdmChannel, spdmId: U64): ExchangeResult {
  return kapiSpan(k, "tdh_spdm_disconnect", () => {
    return spdmExchange(
      k,
      ch,
      "TDH.SPDM.DISCONNECT",
      spdmId,
      { [REG.RCX]: spdmId },
      { rsp: REG.RDX, req: REG.R8 },
    );
  });
}

/**
 * `tdh_spdm_mng`: RCX = SPDM id, RDX = operation `op`, R8 = param page or −1, R9 = response page, R10 =
 * request page, R11 = output buffer (HPA_ARRAY_T) or −1.
 */
export function spdmMng(
  k: HostKernel,
  ch: SpdmChannel,
  spdmId: U64,
  op: number,
  out: TdxPageArray | null = null,
  param: Page | null = null,
): ExchangeResult {
  return kapiSpan(k, "tdh_spdm_mng", () => {
    return spdmExchange(
      k,
      ch,
      "TDH.SPDM.MNG",
      spdmId,
      {
        [REG.RCX]: spdmId,
        [REG.RDX]: u64FromNumber(op),
        [REG.R8]: param === null ? U64_ONES : hpaToU64(param.hpa),
        [REG.R11]: out === null ? U64_ONES : out.toHpaArray(),
      },
      { rsp: REG.R9, req: REG.R10 },
    );
  });
}

/** `tdh_spdm_delete`: RCX = SPDM id, RDX = release input (0 when singleton, else the root). RCX out = the released list. */
export function spdmDelete(k: HostKernel, spdmId: U64, array: TdxPageArray): CallResult {
  return kapiSpan(k, "tdh_spdm_delete", () => {
    const regs = callRegs("TDH.SPDM.DELETE", { [REG.RCX]: spdmId, [REG.RDX]: array.toReleaseInput() });
    k.seamcall(regs);
    return { status: regs.get(REG.RAX), regs };
  });
}
