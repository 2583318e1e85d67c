/**
 * The host's side of a TDX Connect device link (docs/spec/02-kapi.md 2.3, 2.4; the register table of
 * docs/spec/03-module.md 3.3): the channel (the device's DOE mailbox and the two message pages it lends
 * the module), the spdm_conf page the host writes, the forwarding of one DOE request to the device, the
 * selectors the host packs (SPDM function id, selective IDE stream inputs) and which SPDM/IDE leaves the
 * policy runs under the extension lock.
 *
 * The SEAMCALL wrappers of these leaves are in `seamcalls/spdm.ts` (with the exchange loop that forwards
 * requests until the module is done) and `seamcalls/ide.ts`; the flows that chain them are in
 * `flows/spdm.ts`, `flows/ide.ts` and `flows/tdx-connect.ts`.
 */
import {
  IDE_RID_ASSOC_1,
  IDE_RID_ASSOC_2,
  IDE_STREAM_INFO,
  packFields,
  SPDM_FUNCTION_ID,
} from "../common/fields.js";
import { LEAF, type LeafName } from "../common/status.js";
import { PAGE_SIZE, type U64 } from "../common/u64.js";
import { doeExchange, get32, type PcieDeviceSpec } from "../hw/devices.js";
import { type HostKernel, mapPageForRead, mapPageForWrite, withExtLock } from "./kernel.js";
import type { Page } from "./page.js";

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
  // The mailbox reads the frame and keeps nothing of it (it answers from a copy): a view, not a copy.
  const answer = doeExchange(ch.device, req.subarray(0, Math.min(bytes0, PAGE_SIZE)));
  const w = mapPageForWrite(k, ch.responsePage.pfn);
  const bytes = new Uint8Array(w.buffer, w.byteOffset, PAGE_SIZE);
  const a = answer.subarray(0, PAGE_SIZE);
  bytes.set(a);
  bytes.fill(0, a.length);
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
