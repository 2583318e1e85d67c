/**
 * Host-side wrappers of the SPDM and IDE leaves (docs/spec/02-kapi.md 2.3, 2.4) and the DOE forwarding
 * loop, on the exact register table of docs/spec/03-module.md 3.3 (request and response registers differ
 * per leaf).
 *
 * The create wrappers hand metadata pages to the module as private memory: they CLFLUSH first (per
 * policy) and set the descriptor's flush flag before the SEAMCALL, whatever the result (the kernel;
 * policy `flushFlag`). The device-info buffer of TDH.SPDM.CONNECT is a temporary shared buffer the module
 * writes and the host reads back: no flush, no flag.
 *
 * Extension calls (CONNECT, DISCONNECT, MNG, IDE.STREAM.KM) are re-issued with the host's saved copy of
 * the inputs after TDX_INTERRUPTED_RESUMABLE and after TDX_SPDM_REQUEST, for which the host first
 * forwards the raw DOE frame in the request page to the device's DOE mailbox and puts the device's raw
 * answer frame into the response page; TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH runs TDH.SPDM.MNG KEY_UPDATE
 * (taking the extension lock as MNG does), then re-issues. Statuses are compared in full, as the kernel
 * does. {@link withExtLockFor} takes the extension lock for the calls the policy's scope names.
 */
import {
  IDE_RID_ASSOC_1,
  IDE_RID_ASSOC_2,
  IDE_STREAM_INFO,
  packFields,
  SPDM_FUNCTION_ID,
} from "../common/fields.js";
import { isStatus, LEAF, type LeafName, REG, STATUS } from "../common/status.js";
import { hpaToU64, PAGE_SIZE, type U64, U64_ONES, u64FromNumber } from "../common/u64.js";
import { doeExchange, get32, type PcieDeviceSpec } from "../hw/devices.js";
import { kapiSpan } from "./kapi-trace.js";
import { type HostKernel, mapPageForRead, mapPageForWrite, withExtLock } from "./kernel.js";
import type { Page } from "./page.js";
import type { TdxPageArray } from "./page-array.js";
import {
  type CallResult,
  callRegs,
  flushBeforeHandoff,
  isExactly,
  MAX_BUSY_RETRIES,
  MAX_RESUMES,
  markHandoff,
  ok,
  type RetryResult,
} from "./seamcalls/index.js";

/**
 * The host's link to one device: the device's DOE mailbox, the two message pages it lends the module
 * and the spdm_conf page CONNECT reads.
 */
export interface SpdmChannel {
  readonly device: PcieDeviceSpec;
  readonly requestPage: Page;
  readonly responsePage: Page;
  /** The spdm_conf page (`spdm_config_info_t`); absent: CONNECT cannot be issued. */
  readonly confPage?: Page;
}

/** TDH.SPDM.MNG operations (RDX). */
export const MNG_OP = Object.freeze({ HEARTBEAT: 0, KEY_UPDATE: 1, RECOLLECT: 2 });
/** TDH.IDE.STREAM.KM operations (R8). */
export const KM_OP = Object.freeze({ SETUP: 0, REFRESH: 1, STOP: 2 });

/**
 * The spdm_conf the host writes (`spdm_config_info_t`, 03-module.md 3.3): vmm_spdm_cap with HBEAT (bit
 * 13) and KEY_UPD (bit 14), session_policy 0, certificate_slot_mask 0xff, raw_bitstream_requested 0.
 */
export const HOST_SPDM_CONF = Object.freeze({
  vmmSpdmCap: (1 << 13) | (1 << 14),
  sessionPolicy: 0,
  certSlotMask: 0xff,
  rawBitstream: 0,
});

/** Writes {@link HOST_SPDM_CONF} (or `conf`) into page `pfn` through the kernel's mapping. */
export function writeSpdmConf(k: HostKernel, pfn: number, conf = HOST_SPDM_CONF): void {
  const w = mapPageForWrite(k, pfn);
  w.fill(0);
  w[0] = conf.vmmSpdmCap >>> 0;
  w[1] = (conf.sessionPolicy & 0xff) | ((conf.certSlotMask & 0xff) << 8) | ((conf.rawBitstream & 0xff) << 16);
}

/** What an extension call through the device did. */
export interface ExchangeResult extends RetryResult {
  /** SPDM messages forwarded to the device. */
  readonly messages: number;
  /** Key updates run because the module asked for a refresh. */
  readonly keyUpdates: number;
}

const hpaReg = (hpa: number): U64 => hpaToU64(hpa);

/**
 * SPDM function id: bits 15:0 requester id, 23:16 segment, bit 24 segment valid: set always (the
 * kernel) or only for a non-zero segment (policy `segmentValid`, the other reading).
 */
export function functionId(d: PcieDeviceSpec, segmentValid: "always" | "non-zero-segment" = "always"): U64 {
  return packFields(SPDM_FUNCTION_ID, {
    REQUESTER_ID: d.requesterId,
    SEGMENT: d.segment,
    SEGMENT_VALID: segmentValid === "always" || d.segment !== 0 ? 1 : 0,
  });
}

/** The extension lock's holder name for calls about `device` (one per device: KM's refresh runs MNG). */
export function lockOwner(device: PcieDeviceSpec): string {
  return `spdm ${device.name}`;
}

const V2_LOCKED = new Set<number>([
  LEAF["TDH.SPDM.CONNECT"],
  LEAF["TDH.SPDM.DISCONNECT"],
  LEAF["TDH.SPDM.MNG"],
]);
const ALL_SPDM_LOCKED = new Set<number>([
  ...V2_LOCKED,
  LEAF["TDH.SPDM.CREATE"],
  LEAF["TDH.SPDM.DELETE"],
  LEAF["TDH.IDE.STREAM.KM"],
]);

/**
 * Runs `fn` (a wrapper of `leaf`) under the extension lock when the policy's `extLockScope` locks that
 * leaf (v2: CONNECT, DISCONNECT, MNG), else directly. Null when the lock was not taken.
 */
export function withExtLockFor<T>(k: HostKernel, leaf: LeafName, who: string, fn: () => T): T | null {
  const scope = k.policy.extLockScope === "v2" ? V2_LOCKED : ALL_SPDM_LOCKED;
  return scope.has(LEAF[leaf]) ? withExtLock(k, who, fn) : fn();
}

/**
 * Forwards one request: reads the raw DOE frame the module left in the request page, `length` bytes
 * (RCX of the TDX_SPDM_REQUEST return; without it, the length in the frame header's DW1), passes it
 * unchanged to the device's DOE mailbox and writes the raw answer frame into the response page.
 */
export function forwardToDevice(k: HostKernel, ch: SpdmChannel, length?: number): void {
  const req = mapPageForRead(k, ch.requestPage.pfn);
  const bytes0 = length ?? Math.max(get32(req, 4) & 0x3_ffff, 2) * 4;
  const answer = doeExchange(ch.device, req.slice(0, Math.min(bytes0, PAGE_SIZE)));
  const w = mapPageForWrite(k, ch.responsePage.pfn);
  const bytes = new Uint8Array(w.buffer, w.byteOffset, PAGE_SIZE);
  bytes.fill(0);
  bytes.set(answer.subarray(0, PAGE_SIZE));
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
    [msg.rsp]: hpaReg(ch.responsePage.hpa),
    [msg.req]: hpaReg(ch.requestPage.hpa),
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
    const conf = ch.confPage === undefined ? U64_ONES : hpaReg(ch.confPage.hpa);
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
        [REG.R8]: param === null ? U64_ONES : hpaReg(param.hpa),
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

/** The non-page inputs of TDH.IDE.STREAM.CREATE (RCX and R9–R14 of the register table). */
export interface StreamCreateInputs {
  /** Bits 7:0 root-port devfn, bit 8 selective stream. */
  readonly streamInfo: number;
  /** The Selective IDE Stream Control register value (Enable clear). */
  readonly streamCtrl: number;
  /** RID association registers 1 and 2. */
  readonly rid: readonly [number, number];
  /** Address association registers 1–3 (all zero: none). */
  readonly addr: readonly [number, number, number];
}

/**
 * The inputs the host gives a selective stream for `device` behind the root port `rootPortDevfn`:
 * stream_info = devfn | selective, stream_ctrl 0, a RID range holding just the device (RID association
 * 1 = limit << 8, association 2 = V | base << 8 | segment << 24), no address association.
 */
export function selectiveStream(device: PcieDeviceSpec, rootPortDevfn: number): StreamCreateInputs {
  const rid = device.requesterId;
  return {
    streamInfo: packFields(IDE_STREAM_INFO, { ROOT_PORT_DEVFN: rootPortDevfn, SELECTIVE: 1 }).lo,
    streamCtrl: 0,
    rid: [
      packFields(IDE_RID_ASSOC_1, { RID_LIMIT: rid }).lo,
      packFields(IDE_RID_ASSOC_2, { V: 1, RID_BASE: rid, SEGMENT: device.segment }).lo,
    ],
    addr: [0, 0, 0],
  };
}

/**
 * TDH.IDE.STREAM.CREATE's inputs (docs/spec/03-module.md 3.3): RCX = stream_info, RDX = SPDM id, R8 =
 * the metadata pages (`array`, an HPA_ARRAY_T), R9 = stream_ctrl, R10–R11 = RID associations, R12–R14
 * = address associations.
 */
export function streamCreateRegs(spdmId: U64, inputs: StreamCreateInputs, array: U64): Record<number, U64> {
  const n = u64FromNumber;
  return {
    [REG.RCX]: n(inputs.streamInfo),
    [REG.RDX]: spdmId,
    [REG.R8]: array,
    [REG.R9]: n(inputs.streamCtrl),
    [REG.R10]: n(inputs.rid[0]),
    [REG.R11]: n(inputs.rid[1]),
    [REG.R12]: n(inputs.addr[0]),
    [REG.R13]: n(inputs.addr[1]),
    [REG.R14]: n(inputs.addr[2]),
  };
}

/**
 * `tdh_ide_stream_create`: RCX = stream_info, RDX = SPDM id, R8 = the descriptor's pages as stream
 * metadata (HPA_ARRAY_T), R9 = stream_ctrl, R10–R14 = associations; the flush flag is set per
 * {@link markHandoff}. Out RCX = stream id, RDX = root-port IDE id.
 */
export function ideStreamCreate(
  k: HostKernel,
  spdmId: U64,
  inputs: StreamCreateInputs,
  array: TdxPageArray,
): CallResult {
  return kapiSpan(k, "tdh_ide_stream_create", () => {
    flushBeforeHandoff(k, array);
    markHandoff(k, array, null);
    const regs = callRegs("TDH.IDE.STREAM.CREATE", streamCreateRegs(spdmId, inputs, array.toHpaArray()));
    k.seamcall(regs);
    const status = regs.get(REG.RAX);
    if (k.policy.flushFlag === "on-success") markHandoff(k, array, status);
    return { status, regs };
  });
}

/**
 * `tdh_ide_stream_km`: RCX = SPDM id, RDX = stream id, R8 = SETUP, REFRESH or STOP, R9 = response page,
 * R10 = request page, through the stream's session's device.
 */
export function ideStreamKm(
  k: HostKernel,
  ch: SpdmChannel,
  spdmId: U64,
  streamId: U64,
  op: number,
): ExchangeResult {
  return kapiSpan(k, "tdh_ide_stream_km", () => {
    return spdmExchange(
      k,
      ch,
      "TDH.IDE.STREAM.KM",
      spdmId,
      { [REG.RCX]: spdmId, [REG.RDX]: streamId, [REG.R8]: u64FromNumber(op) },
      { rsp: REG.R9, req: REG.R10 },
    );
  });
}

/** `tdh_ide_stream_block`: RCX = SPDM id, RDX = stream id. */
export function ideStreamBlock(k: HostKernel, spdmId: U64, streamId: U64): CallResult {
  return kapiSpan(k, "tdh_ide_stream_block", () => {
    const regs = callRegs("TDH.IDE.STREAM.BLOCK", { [REG.RCX]: spdmId, [REG.RDX]: streamId });
    k.seamcall(regs);
    return { status: regs.get(REG.RAX), regs };
  });
}

/** `tdh_ide_stream_delete`: RCX = SPDM id, RDX = stream id, R8 = release input. RCX out = the released list. */
export function ideStreamDelete(k: HostKernel, spdmId: U64, streamId: U64, array: TdxPageArray): CallResult {
  return kapiSpan(k, "tdh_ide_stream_delete", () => {
    const regs = callRegs("TDH.IDE.STREAM.DELETE", {
      [REG.RCX]: spdmId,
      [REG.RDX]: streamId,
      [REG.R8]: array.toReleaseInput(),
    });
    k.seamcall(regs);
    return { status: regs.get(REG.RAX), regs };
  });
}
