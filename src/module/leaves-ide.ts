/**
 * IDE stream leaves (docs/spec/03-module.md 3.3, docs/spec/02-kapi.md 2.3): TDH.IDE.STREAM.CREATE takes IDE_MT_PAGE_COUNT
 * metadata pages for a stream of a connected SPDM session in one root port stream slot;
 * TDH.IDE.STREAM.KM programs, refreshes or stops its keys through the device (an extension call that
 * returns TDX_SPDM_REQUEST like TDH.SPDM.CONNECT, carrying PCIe IDE_KM objects in SPDM VENDOR_DEFINED
 * messages, no cryptography); TDH.IDE.STREAM.BLOCK blocks it; TDH.IDE.STREAM.DELETE gives the pages back.
 *
 * Register convention (ledger `ide-regs`): CREATE RCX = SPDM id, RDX = slot selector (bits 7:0 index of
 * the root port in the platform's list, 15:8 stream slot, 63:16 reserved), R8 = HPA_ARRAY_T; KM RCX =
 * stream id, RDX = operation (0 SETUP, 1 REFRESH, 2 STOP), R8/R9 message pages; BLOCK RCX = stream id;
 * DELETE RCX = stream id, RDX = release input.
 *
 * Stream states (ledger `ide-states`): created → (KM SETUP) keyed → (KM REFRESH) keyed → (KM STOP)
 * stopped → (BLOCK) blocked → (DELETE) gone. BLOCK is also allowed from created (never keyed), refused
 * from keyed (keys still live); DELETE requires blocked.
 */
import { LEAF, REG, STATUS } from "../common/status.js";
import { u64FromNumber } from "../common/u64.js";
import { IDE_KM, SPDM } from "../hw/devices.js";
import {
  type CallContext,
  type ModuleObject,
  registerLeaf,
  SUCCESS,
  st,
  type TdxModule,
} from "./emulator.js";
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

/**
 * TDH.IDE.STREAM.CREATE: RCX = SPDM id (unknown → OPERAND_INVALID RCX; not connected →
 * OP_STATE_INCORRECT RCX); RDX = slot selector (reserved bits, a port the session's device is not behind
 * or a slot beyond the port's count → OPERAND_INVALID RDX; a slot in use → OPERAND_BUSY RDX); R8 =
 * HPA_ARRAY_T of exactly IDE_MT_PAGE_COUNT pages → PT_IDE_MT of the new stream. Out RCX = stream id.
 */
registerLeaf(LEAF["TDH.IDE.STREAM.CREATE"], (m, c) => {
  const session = objectIn(m, c, REG.RCX, "spdm");
  const s = session === null ? undefined : tables(m).sessions.get(session);
  if (session === null || s === undefined) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  if (session.state !== "connected") return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RCX);
  const sel = c.regs.lo(REG.RDX);
  const portIndex = sel & 0xff;
  const slot = (sel >>> 8) & 0xff;
  const port = (m.platform.rootPorts ?? [])[portIndex];
  if (c.regs.hi(REG.RDX) !== 0 || sel >>> 16 !== 0 || port === undefined || portIndex !== s.rootPortIndex)
    return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
  if (slot >= port.streamSlots) return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
  const key = `${portIndex}:${slot}`;
  if (tables(m).slots.has(key)) return st(STATUS.TDX_OPERAND_BUSY, REG.RDX);
  const obj = claimArray(
    m,
    c,
    REG.R8,
    m.platform.metadata.IDE_MT_PAGE_COUNT,
    PT.IDE_MT,
    "ide",
    `ide ${s.device.name} ${port.name}/${slot}`,
  );
  if (!("pages" in obj)) return obj;
  tables(m).streams.set(obj, { session, rootPortIndex: portIndex, slot });
  tables(m).slots.set(key, obj.id);
  s.streams.add(obj.id);
  c.regs.set(REG.RCX, u64FromNumber(obj.id));
  return SUCCESS;
});

function streamIn(m: TdxModule, c: CallContext): { obj: ModuleObject; d: StreamData } | null {
  const obj = objectIn(m, c, REG.RCX, "ide");
  const d = obj === null ? undefined : tables(m).streams.get(obj);
  return obj === null || d === undefined ? null : { obj, d };
}

/** TDH.IDE.STREAM.KM operations (RDX). */
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

const KM_INPUTS = [REG.RCX, REG.RDX, REG.R8, REG.R9];

/**
 * TDH.IDE.STREAM.KM: RCX = stream id (unknown → OPERAND_INVALID RCX), RDX = operation (else
 * OPERAND_INVALID RDX), R8/R9 message pages. SETUP from created, REFRESH from keyed: KEY_PROG for the
 * receive and transmit directions, then K_SET_GO for both → keyed; STOP from keyed: K_SET_STOP for both →
 * stopped; any other state → OP_STATE_INCORRECT (RCX). Resumable with the original inputs.
 */
registerLeaf(LEAF["TDH.IDE.STREAM.KM"], (m, c) => {
  const f = m.beginResumable(c, null, KM_INPUTS);
  if (!("progress" in f)) return f;
  return runExchange(m, c, f, KM_INPUTS, () => {
    const sd = streamIn(m, c);
    if (sd === null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
    const op = c.regs.hi(REG.RDX) === 0 ? c.regs.lo(REG.RDX) : -1;
    if (op !== 0 && op !== 1 && op !== 2) return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
    const need = op === IDE_KM_OP.SETUP ? "created" : "keyed";
    if (sd.obj.state !== need) return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RCX);
    const session = tables(m).sessions.get(sd.d.session)!;
    if (needsKeyRefresh(m, session)) return st(STATUS.TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH);
    const pages = messagePages(m, c);
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
      reqPfn: pages.req,
      rspPfn: pages.rsp,
      next: () => steps[i++] ?? null,
      finish: () => {
        sd.obj.state = op === IDE_KM_OP.STOP ? "stopped" : "keyed";
        return SUCCESS;
      },
    };
  });
});

/**
 * TDH.IDE.STREAM.BLOCK: RCX = stream id (unknown → OPERAND_INVALID RCX); from created or stopped →
 * blocked; from keyed or blocked → OP_STATE_INCORRECT (RCX).
 */
registerLeaf(LEAF["TDH.IDE.STREAM.BLOCK"], (m, c) => {
  const sd = streamIn(m, c);
  if (sd === null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  if (sd.obj.state !== "created" && sd.obj.state !== "stopped")
    return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RCX);
  sd.obj.state = "blocked";
  return SUCCESS;
});

/**
 * TDH.IDE.STREAM.DELETE: RCX = stream id (unknown → OPERAND_INVALID RCX); must be blocked (else
 * OP_STATE_INCORRECT RCX); RDX = release input as for TDH.SPDM.DELETE. Frees the stream slot and detaches
 * the stream from its session.
 */
registerLeaf(LEAF["TDH.IDE.STREAM.DELETE"], (m, c) => {
  const sd = streamIn(m, c);
  if (sd === null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  if (sd.obj.state !== "blocked") return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RCX);
  const id = sd.obj.id;
  const bad = releaseObject(m, c, sd.obj);
  if (bad !== null) return bad;
  tables(m).slots.delete(`${sd.d.rootPortIndex}:${sd.d.slot}`);
  tables(m).sessions.get(sd.d.session)?.streams.delete(id);
  return SUCCESS;
});
