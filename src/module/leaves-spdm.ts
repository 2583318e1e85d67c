/**
 * SPDM session leaves (docs/spec/03-module.md 3.3): TDH.SPDM.CREATE takes SPDM_MT_PAGE_COUNT metadata pages for a
 * session with one device; TDH.SPDM.CONNECT / DISCONNECT / MNG are extension calls that talk to the
 * device through the host (TDX_SPDM_REQUEST, see spdm-common.ts); TDH.SPDM.DELETE gives the pages back.
 *
 * Registers: the exact table of docs/spec/03-module.md 3.3 (v2 patches 25 and 29). CREATE RCX = function
 * id, RDX = HPA_ARRAY_T. CONNECT RCX = SPDM id, RDX = spdm_conf page, R8 = response page, R9 = request
 * page, R10 = HPA_ARRAY_T of exactly SPDM_MAX_DEV_INFO_PAGES shared pages the module fills with the device
 * information (u32 cert chain length, cert chain, u32 measurement record length, record, as the device
 * reported them; ledger `spdm-devinfo-size`) through KeyID 0, RCX out = bytes written. DISCONNECT RCX =
 * SPDM id, RDX = response page, R8 = request page. MNG RCX = SPDM id, RDX = operation (0 HEARTBEAT,
 * 1 KEY_UPDATE, 2 device-info recollection), R8 = param page or −1, R9 = response page, R10 = request
 * page, R11 = HPA_ARRAY_T output or −1. DELETE RCX = SPDM id, RDX = release input.
 *
 * The spdm_conf page (ledger `spdm-conf`) is read at CONNECT: its vmm_spdm_cap goes into the
 * GET_CAPABILITIES request as the requester's flags, and the session honours it: MNG HEARTBEAT needs
 * HBEAT (bit 13) and MNG KEY_UPDATE needs KEY_UPD (bit 14), else OPERAND_INVALID (RDX); the module asks
 * for a key refresh only when KEY_UPD was granted. session_policy goes into KEY_EXCHANGE; the
 * certificate slot is the lowest bit of certificate_slot_mask.
 *
 * Session states: created → (CONNECT) connected → (DISCONNECT) disconnected → (CONNECT) connected …;
 * DELETE from created or disconnected with no IDE stream attached (ledger `spdm-delete-state`).
 *
 * The exchange is a fixed sequence of SPDM 1.2 requests with real headers and codes (ledger
 * `spdm-sequence`): CONNECT = GET_VERSION, GET_CAPABILITIES, NEGOTIATE_ALGORITHMS, GET_DIGESTS,
 * GET_CERTIFICATE (1 KiB portions until the remainder is 0), CHALLENGE, GET_MEASUREMENTS (all blocks),
 * KEY_EXCHANGE, FINISH; DISCONNECT = END_SESSION; MNG = HEARTBEAT | KEY_UPDATE | the GET_DIGESTS …
 * GET_MEASUREMENTS part of CONNECT. It does no cryptography: nonces, signatures and key shares are
 * zero-filled fields of the right size (ledger `spdm-no-crypto`).
 */
import { fieldOf, firstReservedSet, readField, SPDM_FUNCTION_ID } from "../common/fields.js";
import { LEAF, REG, RESOURCE_OPERAND, STATUS } from "../common/status.js";
import { PAGE_SIZE, type U64, u64FromNumber } from "../common/u64.js";
import { CERT_PORTION_MAX, get16, SPDM } from "../hw/devices.js";
import {
  type CallContext,
  EXT_QUEUE_BUSY,
  type ModuleObject,
  perModule,
  SUCCESS,
  st,
  type TdxModule,
} from "./emulator.js";
import {
  exchangeFailures,
  extensionResumable,
  fail,
  type LeafTable,
  privatePageChecks,
} from "./leaf-table.js";
import { PT } from "./pamt.js";
import {
  claimArray,
  type Exchange,
  type ExchangeStep,
  isNone,
  messagePages,
  objectIn,
  readSpdmConf,
  releaseObject,
  runExchange,
  type SessionData,
  SPDM_CAP,
  type SpdmConf,
  sharedArrayPages,
  sharedPageIn,
  spdmRequest,
  tables,
  writeShared,
} from "./spdm-common.js";

const FN_REQUESTER_ID = fieldOf(SPDM_FUNCTION_ID, "REQUESTER_ID");
const FN_SEGMENT = fieldOf(SPDM_FUNCTION_ID, "SEGMENT");
const FN_SEGMENT_VALID = fieldOf(SPDM_FUNCTION_ID, "SEGMENT_VALID");

/** Sessions by device ("segment:requester id") → object id: one session per device (ledger `spdm-one-session`). */
const deviceSessions = perModule(() => new Map<string, number>());

/**
 * TDH.SPDM.CREATE: RCX = function id (bits 15:0 requester id, 23:16 segment, 24 segment valid, 63:25
 * reserved); no such device → OPERAND_INVALID (RCX); the device already has a session →
 * OP_STATE_INCORRECT (RCX). RDX = HPA_ARRAY_T of exactly SPDM_MT_PAGE_COUNT pages (else OPERAND_INVALID
 * RDX), each a private operand page that becomes PT_SPDM_MT of the new session. Out RCX = SPDM id.
 * Shares the extension queue: OPERAND_BUSY while an extension call is in flight.
 */
function tdhSpdmCreate(mod: TdxModule, c: CallContext): U64 {
  if (mod.extSlot !== null) return EXT_QUEUE_BUSY;
  const lo = c.regs.lo(REG.RCX);
  const hi = c.regs.hi(REG.RCX);
  if (firstReservedSet(lo, hi, SPDM_FUNCTION_ID) !== null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const rid = readField(lo, hi, FN_REQUESTER_ID);
  const segment = readField(lo, hi, FN_SEGMENT_VALID) === 1 ? readField(lo, hi, FN_SEGMENT) : 0;
  const devices = mod.platform.devices ?? [];
  const device = devices.find((d) => d.requesterId === rid && d.segment === segment);
  if (device === undefined) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const key = `${segment}:${rid}`;
  if (deviceSessions(mod).has(key)) return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RCX);
  const obj = claimArray(
    mod,
    c,
    REG.RDX,
    mod.platform.metadata.SPDM_MT_PAGE_COUNT,
    PT.SPDM_MT,
    "spdm",
    `spdm ${device.name}`,
  );
  if (!("pages" in obj)) return obj;
  const rootPortIndex = (mod.platform.rootPorts ?? []).findIndex((p) => p.name === device.rootPort);
  tables(mod).sessions.set(obj, { device, rootPortIndex, streams: new Set(), messages: 0, conf: null });
  deviceSessions(mod).set(key, obj.id);
  c.regs.set(REG.RCX, u64FromNumber(obj.id));
  return SUCCESS;
}

/** The session named in RCX, with its data, or null. */
function sessionIn(mod: TdxModule, c: CallContext): { obj: ModuleObject; s: SessionData } | null {
  const obj = objectIn(mod, c, REG.RCX, "spdm");
  const s = obj === null ? undefined : tables(mod).sessions.get(obj);
  return obj === null || s === undefined ? null : { obj, s };
}

/**
 * True when the key-refresh knob says the session's keys must be updated before this call; never when
 * the host's spdm_conf did not grant KEY_UPD.
 */
export function needsKeyRefresh(mod: TdxModule, s: SessionData): boolean {
  const n = mod.behaviours.spdmKeyRefreshAfter;
  return n > 0 && s.messages >= n && ((s.conf?.vmmSpdmCap ?? 0) & SPDM_CAP.KEY_UPD) !== 0;
}

/** The certificate slot the session uses: the lowest bit of certificate_slot_mask. */
function slotOf(conf: SpdmConf | null): number {
  const mask = conf?.certSlotMask ?? 1;
  return 31 - Math.clz32(mask & -mask);
}

/**
 * The device-information part of an exchange: GET_DIGESTS, GET_CERTIFICATE in portions, GET_MEASUREMENTS.
 * Returns the step source and the collected info.
 */
function infoSteps(
  rspReg: number,
  slot: number,
): { next: () => ExchangeStep | null; info: () => Uint8Array } {
  let phase = 0;
  const chunks: Uint8Array[] = [];
  let certLen = 0;
  let remainder = 1;
  let record = new Uint8Array(0);
  const next = (): ExchangeStep | null => {
    if (phase === 0) {
      phase = 1;
      return { request: spdmRequest(SPDM.GET_DIGESTS, slot) };
    }
    if (phase === 1 && remainder > 0) {
      const body = [certLen & 0xff, certLen >>> 8, CERT_PORTION_MAX & 0xff, CERT_PORTION_MAX >>> 8];
      return {
        request: spdmRequest(SPDM.GET_CERTIFICATE, slot, 0, body),
        take: (rsp) => {
          const portion = get16(rsp, 4);
          if (portion === 0 || rsp.length < 8 + portion) return st(STATUS.TDX_OPERAND_INVALID, rspReg);
          chunks.push(rsp.slice(8, 8 + portion));
          certLen += portion;
          remainder = get16(rsp, 6);
          return null;
        },
      };
    }
    if (phase === 1) {
      phase = 2;
      return {
        request: spdmRequest(SPDM.GET_MEASUREMENTS, 0, 0xff),
        take: (rsp) => {
          const len = (rsp[5] ?? 0) | ((rsp[6] ?? 0) << 8) | ((rsp[7] ?? 0) << 16);
          if (rsp.length < 8 + len) return st(STATUS.TDX_OPERAND_INVALID, rspReg);
          record = rsp.slice(8, 8 + len);
          return null;
        },
      };
    }
    return null;
  };
  const info = () => {
    const out = new Uint8Array(8 + certLen + record.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, certLen, true);
    let at = 4;
    for (const ch of chunks) {
      out.set(ch, at);
      at += ch.length;
    }
    dv.setUint32(at, record.length, true);
    out.set(record, at + 4);
    return out;
  };
  return { next, info };
}

/** Steps from a fixed list of requests. */
function fixedSteps(steps: readonly ExchangeStep[]): () => ExchangeStep | null {
  let i = 0;
  return () => steps[i++] ?? null;
}

/** Inputs compared on re-issue: every register the table gives the leaf. */
const CONNECT_INPUTS = [REG.RCX, REG.RDX, REG.R8, REG.R9, REG.R10];
const DISCONNECT_INPUTS = [REG.RCX, REG.RDX, REG.R8];
const MNG_INPUTS = [REG.RCX, REG.RDX, REG.R8, REG.R9, REG.R10, REG.R11];

/** GET_CAPABILITIES request body: CTExponent, Flags = the host's vmm_spdm_cap, sizes. */
function capabilitiesBody(conf: SpdmConf): Uint8Array {
  const b = new Uint8Array(16);
  b[1] = 12;
  new DataView(b.buffer).setUint32(4, conf.vmmSpdmCap, true);
  new DataView(b.buffer).setUint32(8, PAGE_SIZE, true);
  new DataView(b.buffer).setUint32(12, PAGE_SIZE, true);
  return b;
}

/**
 * TDH.SPDM.CONNECT: RCX = SPDM id (unknown → OPERAND_INVALID RCX; not created/disconnected →
 * OP_STATE_INCORRECT RCX), RDX = spdm_conf page, R8 = response page, R9 = request page, R10 = device-info
 * buffer (see the file's doc). Runs the CONNECT sequence; on success the session is connected with the
 * spdm_conf's capabilities and RCX = bytes of device info written.
 */
function tdhSpdmConnect(mod: TdxModule, c: CallContext): U64 {
  const f = mod.beginResumable(c, null, CONNECT_INPUTS);
  if (!("progress" in f)) return f;
  return runExchange(mod, c, f, CONNECT_INPUTS, () => {
    const ss = sessionIn(mod, c);
    if (ss === null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
    if (ss.obj.state !== "created" && ss.obj.state !== "disconnected")
      return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RCX);
    const conf = readSpdmConf(mod, c, REG.RDX);
    if (!("vmmSpdmCap" in conf)) return conf;
    const pages = messagePages(mod, c, { rsp: REG.R8, req: REG.R9 });
    if (!("req" in pages)) return pages;
    const buf = sharedArrayPages(mod, c, REG.R10, mod.platform.metadata.SPDM_MAX_DEV_INFO_PAGES);
    if (!Array.isArray(buf)) return buf;
    const keyExchange = new Uint8Array(4 + 32 + 96);
    keyExchange[2] = conf.sessionPolicy;
    const before = fixedSteps([
      { request: spdmRequest(SPDM.GET_VERSION) },
      { request: spdmRequest(SPDM.GET_CAPABILITIES, 0, 0, capabilitiesBody(conf)) },
      { request: spdmRequest(SPDM.NEGOTIATE_ALGORITHMS, 0, 0, new Uint8Array(28)) },
    ]);
    const slot = slotOf(conf);
    const info = infoSteps(REG.R8, slot);
    const after = fixedSteps([
      { request: spdmRequest(SPDM.CHALLENGE, slot, 0, new Uint8Array(32)) },
      { request: spdmRequest(SPDM.KEY_EXCHANGE, 0, slot, keyExchange) },
      { request: spdmRequest(SPDM.FINISH, 0, 0, new Uint8Array(48)) },
    ]);
    const ex: Exchange & { reqPfn: number; rspPfn: number } = {
      session: ss.s,
      rspReg: REG.R8,
      reqPfn: pages.req,
      rspPfn: pages.rsp,
      next: () => before() ?? info.next() ?? after(),
      finish: (out) => {
        const bytes = info.info();
        if (!writeShared(mod, buf, bytes)) return st(STATUS.TDX_OPERAND_INVALID, REG.R10);
        ss.obj.state = "connected";
        ss.s.messages = 0;
        ss.s.conf = conf;
        out.regs.set(REG.RCX, u64FromNumber(bytes.length));
        return SUCCESS;
      },
    };
    return ex;
  });
}

/**
 * TDH.SPDM.DISCONNECT: RCX = SPDM id; the session must be connected with no IDE stream attached (else
 * OP_STATE_INCORRECT RCX, ledger `spdm-delete-state`); RDX = response page, R8 = request page.
 * END_SESSION, then the session is disconnected.
 */
function tdhSpdmDisconnect(mod: TdxModule, c: CallContext): U64 {
  const f = mod.beginResumable(c, null, DISCONNECT_INPUTS);
  if (!("progress" in f)) return f;
  return runExchange(mod, c, f, DISCONNECT_INPUTS, () => {
    const ss = sessionIn(mod, c);
    if (ss === null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
    if (ss.obj.state !== "connected" || ss.s.streams.size > 0)
      return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RCX);
    if (needsKeyRefresh(mod, ss.s)) return st(STATUS.TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH);
    const pages = messagePages(mod, c, { rsp: REG.RDX, req: REG.R8 });
    if (!("req" in pages)) return pages;
    return {
      session: ss.s,
      rspReg: REG.RDX,
      reqPfn: pages.req,
      rspPfn: pages.rsp,
      next: fixedSteps([{ request: spdmRequest(SPDM.END_SESSION) }]),
      finish: () => {
        ss.obj.state = "disconnected";
        return SUCCESS;
      },
    };
  });
}

/** TDH.SPDM.MNG operations (RDX). */
export const SPDM_MNG_OP = Object.freeze({ HEARTBEAT: 0, KEY_UPDATE: 1, RECOLLECT: 2 });

/**
 * TDH.SPDM.MNG: RCX = SPDM id (connected, else OP_STATE_INCORRECT RCX), RDX = operation (else
 * OPERAND_INVALID RDX; HEARTBEAT without HBEAT or KEY_UPDATE without KEY_UPD in the session's spdm_conf
 * → OPERAND_INVALID RDX), R8 = param page or −1 (anything else that is not a shared page →
 * OPERAND_INVALID R8; ledger `spdm-mng-param`), R9 = response page, R10 = request page, R11 = device-info
 * output for RECOLLECT or −1 (else OPERAND_INVALID R11). HEARTBEAT; KEY_UPDATE (resets the key-refresh
 * count); RECOLLECT re-reads digests, certificate and measurements and writes them into R11 when given,
 * RCX = bytes.
 */
function tdhSpdmMng(mod: TdxModule, c: CallContext): U64 {
  const f = mod.beginResumable(c, null, MNG_INPUTS);
  if (!("progress" in f)) return f;
  return runExchange(mod, c, f, MNG_INPUTS, () => {
    const ss = sessionIn(mod, c);
    if (ss === null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
    const op = c.regs.hi(REG.RDX) === 0 ? c.regs.lo(REG.RDX) : -1;
    if (op !== 0 && op !== 1 && op !== 2) return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
    if (ss.obj.state !== "connected") return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RCX);
    const cap = ss.s.conf?.vmmSpdmCap ?? 0;
    if (op === SPDM_MNG_OP.HEARTBEAT && (cap & SPDM_CAP.HBEAT) === 0)
      return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
    if (op === SPDM_MNG_OP.KEY_UPDATE && (cap & SPDM_CAP.KEY_UPD) === 0)
      return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
    if (!isNone(c, REG.R8) && sharedPageIn(mod, c, REG.R8) === null)
      return st(STATUS.TDX_OPERAND_INVALID, REG.R8);
    if (op !== SPDM_MNG_OP.KEY_UPDATE && needsKeyRefresh(mod, ss.s))
      return st(STATUS.TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH);
    const pages = messagePages(mod, c, { rsp: REG.R9, req: REG.R10 });
    if (!("req" in pages)) return pages;
    const base = { session: ss.s, rspReg: REG.R9, reqPfn: pages.req, rspPfn: pages.rsp };
    if (op === SPDM_MNG_OP.HEARTBEAT)
      return { ...base, next: fixedSteps([{ request: spdmRequest(SPDM.HEARTBEAT) }]), finish: () => SUCCESS };
    if (op === SPDM_MNG_OP.KEY_UPDATE) {
      return {
        ...base,
        next: fixedSteps([{ request: spdmRequest(SPDM.KEY_UPDATE, 1, 0x5a) }]),
        finish: () => {
          ss.s.messages = 0;
          return SUCCESS;
        },
      };
    }
    const none = isNone(c, REG.R11);
    const buf = none ? [] : sharedArrayPages(mod, c, REG.R11, mod.platform.metadata.SPDM_MAX_DEV_INFO_PAGES);
    if (!Array.isArray(buf)) return buf;
    const info = infoSteps(REG.R9, slotOf(ss.s.conf));
    return {
      ...base,
      next: info.next,
      finish: (out) => {
        const bytes = info.info();
        if (!none && !writeShared(mod, buf, bytes)) return st(STATUS.TDX_OPERAND_INVALID, REG.R11);
        out.regs.set(REG.RCX, u64FromNumber(none ? 0 : bytes.length));
        return SUCCESS;
      },
    };
  });
}

/**
 * TDH.SPDM.DELETE: RCX = SPDM id (unknown → OPERAND_INVALID RCX); the session must be created or
 * disconnected and have no IDE stream attached (else OP_STATE_INCORRECT RCX); RDX = release input (see
 * `releaseObject`). Pages return to PT_NDA; out RCX = HPA_ARRAY_T of the released pages. Shares the
 * extension queue: OPERAND_BUSY while an extension call is in flight.
 */
function tdhSpdmDelete(mod: TdxModule, c: CallContext): U64 {
  if (mod.extSlot !== null) return EXT_QUEUE_BUSY;
  const ss = sessionIn(mod, c);
  if (ss === null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  if ((ss.obj.state !== "created" && ss.obj.state !== "disconnected") || ss.s.streams.size > 0)
    return st(STATUS.TDX_OP_STATE_INCORRECT, REG.RCX);
  const bad = releaseObject(mod, c, ss.obj, REG.RDX);
  if (bad !== null) return bad;
  deviceSessions(mod).delete(`${ss.s.device.segment}:${ss.s.device.requesterId}`);
  return SUCCESS;
}

/** The descriptors of this file's leaves (gathered by `leaves.ts`); registers as in the file's doc. */
export const SPDM_LEAVES = {
  "TDH.SPDM.CREATE": {
    name: "TDH.SPDM.CREATE",
    number: LEAF["TDH.SPDM.CREATE"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "u64"],
      [REG.RDX, "hpa-array"],
    ],
    outputs: [[REG.RCX, "id"]],
    // Extension slot busy, bad function id or no such device (RCX), a session exists (RCX), HPA_ARRAY_T
    // rules and the private page checks (RDX).
    fails: [
      fail("TDX_OPERAND_BUSY", RESOURCE_OPERAND.SYS),
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OP_STATE_INCORRECT", REG.RCX),
      ...privatePageChecks(REG.RDX),
    ],
    resume: "call-once",
    extensionQueue: true,
    run: tdhSpdmCreate,
    abort: null,
  },
  "TDH.SPDM.DELETE": {
    name: "TDH.SPDM.DELETE",
    number: LEAF["TDH.SPDM.DELETE"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "id"],
      [REG.RDX, "hpa"],
    ],
    outputs: [[REG.RCX, "hpa-array"]],
    // This file + spdm-common.ts `releaseObject`: slot busy, unknown session, wrong state or a stream
    // attached, a bad release input (RDX).
    fails: [
      fail("TDX_OPERAND_BUSY", RESOURCE_OPERAND.SYS),
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OP_STATE_INCORRECT", REG.RCX),
      fail("TDX_OPERAND_INVALID", REG.RDX),
    ],
    resume: "call-once",
    extensionQueue: true,
    run: tdhSpdmDelete,
    abort: null,
  },
  "TDH.SPDM.CONNECT": {
    name: "TDH.SPDM.CONNECT",
    number: LEAF["TDH.SPDM.CONNECT"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "id"],
      [REG.RDX, "hpa"],
      [REG.R8, "hpa"],
      [REG.R9, "hpa"],
      [REG.R10, "hpa-array"],
    ],
    outputs: [[REG.RCX, "u64"]],
    // Unknown session (RCX), wrong state (RCX), spdm_conf (RDX), message pages (R8 response, R9
    // request), device-info buffer (R10).
    fails: [
      ...extensionResumable,
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OP_STATE_INCORRECT", REG.RCX),
      fail("TDX_OPERAND_INVALID", REG.RDX),
      ...exchangeFailures(REG.R8, REG.R9),
      fail("TDX_OPERAND_INVALID", REG.R10),
    ],
    resume: "interruptible",
    extensionQueue: true,
    run: tdhSpdmConnect,
    abort: null,
  },
  "TDH.SPDM.DISCONNECT": {
    name: "TDH.SPDM.DISCONNECT",
    number: LEAF["TDH.SPDM.DISCONNECT"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "id"],
      [REG.RDX, "hpa"],
      [REG.R8, "hpa"],
    ],
    outputs: [],
    // As CONNECT, plus a key refresh due; RDX response, R8 request; no buffer.
    fails: [
      ...extensionResumable,
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OP_STATE_INCORRECT", REG.RCX),
      fail("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH"),
      ...exchangeFailures(REG.RDX, REG.R8),
    ],
    resume: "interruptible",
    extensionQueue: true,
    run: tdhSpdmDisconnect,
    abort: null,
  },
  "TDH.SPDM.MNG": {
    name: "TDH.SPDM.MNG",
    number: LEAF["TDH.SPDM.MNG"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "id"],
      [REG.RDX, "id"],
      [REG.R8, "hpa"],
      [REG.R9, "hpa"],
      [REG.R10, "hpa"],
      [REG.R11, "hpa-array"],
    ],
    outputs: [],
    // As DISCONNECT, plus a bad or not granted operation (RDX), the param page (R8), R9 response, R10
    // request and the RECOLLECT buffer (R11).
    fails: [
      ...extensionResumable,
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OPERAND_INVALID", REG.RDX),
      fail("TDX_OPERAND_INVALID", REG.R8),
      fail("TDX_OP_STATE_INCORRECT", REG.RCX),
      fail("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH"),
      ...exchangeFailures(REG.R9, REG.R10),
      fail("TDX_OPERAND_INVALID", REG.R11),
    ],
    resume: "interruptible",
    extensionQueue: true,
    run: tdhSpdmMng,
    abort: null,
  },
} satisfies Partial<LeafTable>;
