/**
 * IDE stream leaves (docs/spec/03-module.md 3.3, docs/spec/02-kapi.md 2.3): TDH.IDE.STREAM.CREATE takes IDE_MT_PAGE_COUNT
 * metadata pages for a stream of a connected SPDM session in one root port stream slot;
 * TDH.IDE.STREAM.KM programs, refreshes or stops its keys through the device (an extension call that
 * returns TDX_SPDM_REQUEST like TDH.SPDM.CONNECT, carrying PCIe IDE_KM objects in SPDM VENDOR_DEFINED
 * messages, no cryptography); TDH.IDE.STREAM.BLOCK blocks it; TDH.IDE.STREAM.DELETE gives the pages back.
 *
 * Registers: the exact table of docs/spec/03-module.md 3.3 (v2 patch 29). CREATE RCX = stream_info (bits
 * 7:0 root-port devfn, bit 8 selective stream, 63:9 reserved), RDX = SPDM id, R8 = HPA_ARRAY_T, R9 =
 * stream_ctrl, R10/R11 = RID association 1/2, R12–R14 = address association 1–3; out RCX = stream id,
 * RDX = root-port IDE id. KM RCX = SPDM id, RDX = stream id, R8 = operation (0 SETUP, 1 REFRESH, 2 STOP),
 * R9 = response page, R10 = request page. BLOCK RCX = SPDM id, RDX = stream id. DELETE the same two and
 * R8 = release input.
 *
 * stream_ctrl and the associations are the values of the PCIe Selective IDE Stream registers of the
 * same names (PCIe 6.x 7.9.26; bit positions as Linux `pci_regs.h` names them); how the module uses them
 * is not public, so it validates their layout and records them (ledger `ide-stream-inputs`). The module
 * picks the stream's register block in the root port, the lowest free one (ledger `ide-slot`), and
 * returns its index as the root-port IDE id.
 *
 * Stream states (ledger `ide-states`): created → (KM SETUP) keyed → (KM REFRESH) keyed → (KM STOP)
 * stopped → (BLOCK) blocked → (DELETE) gone. BLOCK is also allowed from created (never keyed) and from
 * keyed (the kernel ignores a failed KM STOP and blocks anyway); DELETE requires blocked.
 */
import {
  fieldOf,
  firstReservedSet,
  IDE_ADDR_ASSOC_1,
  IDE_RID_ASSOC_1,
  IDE_RID_ASSOC_2,
  IDE_STREAM_INFO,
  readField,
} from "../common/fields.js";
import { LEAF, REG, STATUS } from "../common/status.js";
import type { U64 } from "../common/u64.js";
import { u64FromNumber } from "../common/u64.js";
import { IDE_KM, type PcieDeviceSpec, rootPortDevfn, SPDM } from "../hw/devices.js";
import { type CallContext, type ModuleObject, SUCCESS, st, type TdxModule } from "./emulator.js";
import {
  exchangeFailures,
  extensionResumable,
  fail,
  type LeafTable,
  privatePageChecks,
} from "./leaf-table.js";
import { needsKeyRefresh } from "./leaves-spdm.js";
import { PT } from "./pamt.js";
import {
  claimArray,
  type ExchangeStep,
  messagePages,
  objectIn,
  releaseObject,
  runExchange,
  type StreamData,
  spdmRequest,
  tables,
} from "./spdm-common.js";

/** A u32 register value (bits 63:32 clear), or null. */
const RID1_LIMIT = fieldOf(IDE_RID_ASSOC_1, "RID_LIMIT");
const RID2 = {
  V: fieldOf(IDE_RID_ASSOC_2, "V"),
  BASE: fieldOf(IDE_RID_ASSOC_2, "RID_BASE"),
  SEGMENT: fieldOf(IDE_RID_ASSOC_2, "SEGMENT"),
};
const ADDR1 = {
  V: fieldOf(IDE_ADDR_ASSOC_1, "V"),
  BASE: fieldOf(IDE_ADDR_ASSOC_1, "MEM_BASE_LOWER"),
  LIMIT: fieldOf(IDE_ADDR_ASSOC_1, "MEM_LIMIT_LOWER"),
};
const INFO = {
  DEVFN: fieldOf(IDE_STREAM_INFO, "ROOT_PORT_DEVFN"),
  SELECTIVE: fieldOf(IDE_STREAM_INFO, "SELECTIVE"),
};

function u32In(c: CallContext, reg: number): number | null {
  return c.regs.hi(reg) === 0 ? c.regs.lo(reg) : null;
}

/**
 * Validates stream_ctrl (R9) and the associations (R10–R14) of TDH.IDE.STREAM.CREATE for `device`:
 * each a u32; stream_ctrl with Enable (bit 0) clear (the module enables the stream); a link stream
 * (stream_info bit 8 clear) has no associations (all zero); a selective stream's RID association 1 has
 * only RID Limit (23:8), association 2 has V set, RID Base (23:8) and the segment (31:24), and the range
 * must hold the device's requester id in its segment; an address association with V clear is all zero,
 * with V set its base must not exceed its limit. The first bad register → OPERAND_INVALID on it.
 */
function streamInputs(
  c: CallContext,
  device: PcieDeviceSpec,
  selective: boolean,
): StreamData["inputs"] | U64 {
  const bad = (r: number) => st(STATUS.TDX_OPERAND_INVALID, r);
  const ctrl = u32In(c, REG.R9);
  if (ctrl === null || (ctrl & 1) !== 0) return bad(REG.R9);
  const v = [REG.R10, REG.R11, REG.R12, REG.R13, REG.R14].map((r) => u32In(c, r));
  for (const [i, x] of v.entries()) if (x === null) return bad(REG.R10 + i);
  const [rid1, rid2, a1, a2, a3] = v as number[] as [number, number, number, number, number];
  if (!selective) {
    for (const [i, x] of v.entries()) if (x !== 0) return bad(REG.R10 + i);
  } else {
    if (firstReservedSet(rid1, 0, IDE_RID_ASSOC_1) !== null) return bad(REG.R10);
    if (readField(rid2, 0, RID2.V) !== 1 || firstReservedSet(rid2, 0, IDE_RID_ASSOC_2) !== null)
      return bad(REG.R11);
    const limit = readField(rid1, 0, RID1_LIMIT);
    const base = readField(rid2, 0, RID2.BASE);
    if (
      base > limit ||
      device.requesterId < base ||
      device.requesterId > limit ||
      readField(rid2, 0, RID2.SEGMENT) !== device.segment
    )
      return bad(REG.R11);
    if (firstReservedSet(a1, 0, IDE_ADDR_ASSOC_1) !== null) return bad(REG.R12);
    if (readField(a1, 0, ADDR1.V) === 0) {
      if (a1 !== 0) return bad(REG.R12);
      if (a2 !== 0) return bad(REG.R13);
      if (a3 !== 0) return bad(REG.R14);
    } else {
      const memBase = a3 * 2 ** 32 + readField(a1, 0, ADDR1.BASE) * 2 ** 20;
      const memLimit = a2 * 2 ** 32 + readField(a1, 0, ADDR1.LIMIT) * 2 ** 20 + 0xf_ffff;
      if (memBase > memLimit) return bad(REG.R12);
    }
  }
  return { streamInfo: c.regs.lo(REG.RCX), streamCtrl: ctrl, rid: [rid1, rid2], addr: [a1, a2, a3] };
}

/**
 * TDH.IDE.STREAM.CREATE: RCX = stream_info (reserved bits, or a devfn that is not the root port of the
 * session's device → OPERAND_INVALID RCX); RDX = SPDM id (unknown → OPERAND_INVALID RDX; not connected →
 * OP_STATE_INCORRECT RDX); R9–R14 as `streamInputs` checks them; no free stream register block in the
 * port → OP_STATE_INCORRECT (RCX); R8 = HPA_ARRAY_T of exactly IDE_MT_PAGE_COUNT pages → PT_IDE_MT of
 * the new stream. Out RCX = stream id, RDX = root-port IDE id.
 */
function tdhIdeStreamCreate(mod: TdxModule, c: CallContext): U64 {
  const info = c.regs.lo(REG.RCX);
  if (firstReservedSet(info, c.regs.hi(REG.RCX), IDE_STREAM_INFO) !== null)
    return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const session = objectIn(mod, c, REG.RDX, "spdm");
  const s = session === null ? undefined : tables(mod).sessions.get(session);
  if (session === null || s === undefined) return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
  if (session.state !== "connected") return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RDX);
  const ports = mod.platform.rootPorts ?? [];
  const port = ports[s.rootPortIndex];
  if (port === undefined || readField(info, 0, INFO.DEVFN) !== rootPortDevfn(ports, s.rootPortIndex))
    return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const inputs = streamInputs(c, s.device, readField(info, 0, INFO.SELECTIVE) === 1);
  if (!("streamCtrl" in inputs)) return inputs;
  let slot = 0;
  while (slot < port.streamSlots && tables(mod).slots.has(`${s.rootPortIndex}:${slot}`)) slot++;
  if (slot >= port.streamSlots) return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RCX);
  const obj = claimArray(
    mod,
    c,
    REG.R8,
    mod.platform.metadata.IDE_MT_PAGE_COUNT,
    PT.IDE_MT,
    "ide",
    `ide ${s.device.name} ${port.name}/${slot}`,
  );
  if (!("pages" in obj)) return obj;
  tables(mod).streams.set(obj, { session, rootPortIndex: s.rootPortIndex, slot, inputs });
  tables(mod).slots.set(`${s.rootPortIndex}:${slot}`, obj.id);
  s.streams.add(obj.id);
  c.regs.set(REG.RCX, u64FromNumber(obj.id));
  c.regs.set(REG.RDX, u64FromNumber(slot));
  return SUCCESS;
}

/**
 * The stream named by RCX = SPDM id and RDX = stream id: an unknown session → OPERAND_INVALID (RCX); an
 * unknown stream, or one of another session → OPERAND_INVALID (RDX).
 */
function streamIn(mod: TdxModule, c: CallContext): { obj: ModuleObject; d: StreamData } | U64 {
  const session = objectIn(mod, c, REG.RCX, "spdm");
  if (session === null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const obj = objectIn(mod, c, REG.RDX, "ide");
  const d = obj === null ? undefined : tables(mod).streams.get(obj);
  if (obj === null || d === undefined || d.session !== session)
    return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
  return { obj, d };
}

/** TDH.IDE.STREAM.KM operations (R8). */
export const IDE_KM_OP = Object.freeze({ SETUP: 0, REFRESH: 1, STOP: 2 });

/** An IDE_KM object in a VENDOR_DEFINED_REQUEST (PCI-SIG standard id 3, no vendor id bytes). */
function ideKmRequest(object: number, streamId: number, subStream: number): Uint8Array {
  // StandardID (2) = 3, Len (1) = 0, ReqLength (2), payload: protocol id, object id, reserved (2),
  // stream id, reserved, key sub-stream / direction, port index.
  const payload = [IDE_KM.PROTOCOL_ID, object, 0, 0, streamId & 0xff, 0, subStream, 0];
  return spdmRequest(SPDM.VENDOR_DEFINED_REQUEST, 0, 0, [0x03, 0x00, 0x00, payload.length, 0x00, ...payload]);
}

function ideKmStep(object: number, ack: number, streamId: number, subStream: number): ExchangeStep {
  return {
    request: ideKmRequest(object, streamId, subStream),
    // VENDOR_DEFINED_RESPONSE: StandardID (2), Len (1), RspLength (2), protocol id, object id.
    take: (rsp) => (rsp[10] === ack ? null : st(STATUS.TDX_OPERAND_INVALID, REG.R9)),
  };
}

const KM_INPUTS = [REG.RCX, REG.RDX, REG.R8, REG.R9, REG.R10];

/**
 * TDH.IDE.STREAM.KM: RCX = SPDM id, RDX = stream id (see `streamIn`), R8 = operation (else
 * OPERAND_INVALID R8), R9 = response page, R10 = request page. SETUP from created, REFRESH from keyed:
 * KEY_PROG for the receive and transmit directions, then K_SET_GO for both → keyed; STOP from keyed:
 * K_SET_STOP for both → stopped; any other state → OP_STATE_INCORRECT (RDX). Resumable with the original
 * inputs.
 */
function tdhIdeStreamKm(mod: TdxModule, c: CallContext): U64 {
  const f = mod.beginResumable(c, null, KM_INPUTS);
  if (!("progress" in f)) return f;
  return runExchange(mod, c, f, KM_INPUTS, () => {
    const sd = streamIn(mod, c);
    if (!("obj" in sd)) return sd;
    const op = c.regs.hi(REG.R8) === 0 ? c.regs.lo(REG.R8) : -1;
    if (op !== 0 && op !== 1 && op !== 2) return st(STATUS.TDX_OPERAND_INVALID, REG.R8);
    const need = op === IDE_KM_OP.SETUP ? "created" : "keyed";
    if (sd.obj.state !== need) return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RDX);
    const session = tables(mod).sessions.get(sd.d.session)!;
    if (needsKeyRefresh(mod, session)) return st(STATUS.TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH);
    const pages = messagePages(mod, c, { rsp: REG.R9, req: REG.R10 });
    if (!("req" in pages)) return pages;
    const id = sd.d.slot;
    const steps =
      op === IDE_KM_OP.STOP
        ? [
            ideKmStep(IDE_KM.K_SET_STOP, IDE_KM.K_GOSTOP_ACK, id, 0),
            ideKmStep(IDE_KM.K_SET_STOP, IDE_KM.K_GOSTOP_ACK, id, 1),
          ]
        : [
            ideKmStep(IDE_KM.KEY_PROG, IDE_KM.KP_ACK, id, 0),
            ideKmStep(IDE_KM.KEY_PROG, IDE_KM.KP_ACK, id, 1),
            ideKmStep(IDE_KM.K_SET_GO, IDE_KM.K_GOSTOP_ACK, id, 0),
            ideKmStep(IDE_KM.K_SET_GO, IDE_KM.K_GOSTOP_ACK, id, 1),
          ];
    let i = 0;
    return {
      session,
      rspReg: REG.R9,
      reqPfn: pages.req,
      rspPfn: pages.rsp,
      next: () => steps[i++] ?? null,
      finish: () => {
        sd.obj.state = op === IDE_KM_OP.STOP ? "stopped" : "keyed";
        return SUCCESS;
      },
    };
  });
}

/**
 * TDH.IDE.STREAM.BLOCK: RCX = SPDM id, RDX = stream id (see `streamIn`); from created, keyed (the
 * kernel blocks a stream whose KM STOP failed) or stopped → blocked; blocked again → OP_STATE_INCORRECT
 * (RDX).
 */
function tdhIdeStreamBlock(mod: TdxModule, c: CallContext): U64 {
  const sd = streamIn(mod, c);
  if (!("obj" in sd)) return sd;
  if (sd.obj.state === "blocked") return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RDX);
  sd.obj.state = "blocked";
  return SUCCESS;
}

/**
 * TDH.IDE.STREAM.DELETE: RCX = SPDM id, RDX = stream id (see `streamIn`); must be blocked (else
 * OP_STATE_INCORRECT RDX); R8 = release input as for TDH.SPDM.DELETE. Frees the stream register block and
 * detaches the stream from its session.
 */
function tdhIdeStreamDelete(mod: TdxModule, c: CallContext): U64 {
  const sd = streamIn(mod, c);
  if (!("obj" in sd)) return sd;
  if (sd.obj.state !== "blocked") return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RDX);
  const id = sd.obj.id;
  const bad = releaseObject(mod, c, sd.obj, REG.R8);
  if (bad !== null) return bad;
  tables(mod).slots.delete(`${sd.d.rootPortIndex}:${sd.d.slot}`);
  tables(mod).sessions.get(sd.d.session)?.streams.delete(id);
  return SUCCESS;
}

/** The descriptors of this file's leaves (gathered by `leaves.ts`). */
export const IDE_LEAVES = {
  "TDH.IDE.STREAM.CREATE": {
    name: "TDH.IDE.STREAM.CREATE",
    number: LEAF["TDH.IDE.STREAM.CREATE"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "u64"],
      [REG.RDX, "id"],
      [REG.R8, "hpa-array"],
      [REG.R9, "u64"],
      [REG.R10, "u64"],
      [REG.R11, "u64"],
    ],
    outputs: [
      [REG.RCX, "id"],
      [REG.RDX, "id"],
    ],
    // stream_info or no free register block (RCX), unknown or unconnected session (RDX), HPA_ARRAY_T
    // rules and the private page checks (R8), stream_ctrl (R9), associations (R10–R14).
    fails: [
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OP_STATE_INCORRECT", REG.RCX),
      fail("TDX_OPERAND_INVALID", REG.RDX),
      fail("TDX_OP_STATE_INCORRECT", REG.RDX),
      ...privatePageChecks(REG.R8),
      fail("TDX_OPERAND_INVALID", REG.R9),
      fail("TDX_OPERAND_INVALID", REG.R10),
      fail("TDX_OPERAND_INVALID", REG.R11),
      fail("TDX_OPERAND_INVALID", REG.R12),
      fail("TDX_OPERAND_INVALID", REG.R13),
      fail("TDX_OPERAND_INVALID", REG.R14),
    ],
    resume: "call-once",
    extensionQueue: false,
    run: tdhIdeStreamCreate,
    abort: null,
  },
  "TDH.IDE.STREAM.BLOCK": {
    name: "TDH.IDE.STREAM.BLOCK",
    number: LEAF["TDH.IDE.STREAM.BLOCK"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "id"],
      [REG.RDX, "id"],
    ],
    outputs: [],
    // Unknown session (RCX), unknown stream (RDX), blocked already (RDX).
    fails: [
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OPERAND_INVALID", REG.RDX),
      fail("TDX_OP_STATE_INCORRECT", REG.RDX),
    ],
    resume: "call-once",
    extensionQueue: false,
    run: tdhIdeStreamBlock,
    abort: null,
  },
  "TDH.IDE.STREAM.DELETE": {
    name: "TDH.IDE.STREAM.DELETE",
    number: LEAF["TDH.IDE.STREAM.DELETE"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "id"],
      [REG.RDX, "id"],
      [REG.R8, "hpa"],
    ],
    outputs: [[REG.RCX, "hpa-array"]],
    // This file + `releaseObject`: unknown session (RCX) or stream (RDX), not blocked (RDX), a bad
    // release input (R8).
    fails: [
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OPERAND_INVALID", REG.RDX),
      fail("TDX_OP_STATE_INCORRECT", REG.RDX),
      fail("TDX_OPERAND_INVALID", REG.R8),
    ],
    resume: "call-once",
    extensionQueue: false,
    run: tdhIdeStreamDelete,
    abort: null,
  },
  "TDH.IDE.STREAM.KM": {
    name: "TDH.IDE.STREAM.KM",
    number: LEAF["TDH.IDE.STREAM.KM"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "id"],
      [REG.RDX, "id"],
      [REG.R8, "id"],
      [REG.R9, "hpa"],
      [REG.R10, "hpa"],
    ],
    outputs: [],
    // An exchange in the extension slot; unknown session (RCX), unknown stream (RDX), bad operation
    // (R8), wrong state (RDX), a key refresh due; R9 response, R10 request.
    fails: [
      ...extensionResumable,
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OPERAND_INVALID", REG.RDX),
      fail("TDX_OPERAND_INVALID", REG.R8),
      fail("TDX_OP_STATE_INCORRECT", REG.RDX),
      fail("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH"),
      ...exchangeFailures(REG.R9, REG.R10),
    ],
    resume: "interruptible",
    extensionQueue: true,
    run: tdhIdeStreamKm,
    abort: null,
  },
} satisfies Partial<LeafTable>;
