/**
 * What the SPDM and IDE leaves share (docs/spec/03-module.md 3.3): the per-module session and stream state,
 * claiming an HPA_ARRAY_T of metadata pages, giving them back through a DELETE's release input, the
 * message pages, and the engine that runs an SPDM exchange through the host.
 *
 * The exchange: an extension call that needs the device writes one SPDM request as a raw DOE frame
 * (PCIe 6.0 6.30.1, header included) into the host's request page (KeyID 0) and returns
 * TDX_SPDM_REQUEST with RCX = the request length in bytes. The host forwards the frame unchanged to the device's DOE mailbox, writes the raw
 * answer frame into the response page and re-issues the call with its original inputs; the module
 * validates the answer's DOE and SPDM headers (a wrong one → TDX_OPERAND_INVALID on the leaf's response
 * register, ledger `spdm-bad-response`) and sends the next request, until the exchange is done. Which
 * register holds which page differs per leaf (docs/spec/03-module.md 3.3, the register table). Progress lives in the extension slot, so the usual resumption rules of 3.4 apply.
 * No cryptography is done anywhere (ledger `spdm-no-crypto`).
 */
import { checkEntries, encodeHpaArray, encodeListEntry } from "../common/formats.js";
import { REG, STATUS } from "../common/status.js";
import {
  hpaToPfn,
  hpaToU64,
  low52,
  PAGE_SIZE,
  pagesToBytes,
  pfnToHpa,
  type U64,
  U64_ZERO,
  u64FromNumber,
} from "../common/u64.js";
import {
  DOE_MAX_BYTES,
  doeUnwrap,
  doeWrap,
  type PcieDeviceSpec,
  responseCode,
  SPDM,
  SPDM_VERSION,
} from "../hw/devices.js";
import {
  type CallContext,
  type InFlight,
  type ModuleObject,
  type ObjectKind,
  perModule,
  SUCCESS,
  st,
  type TdxModule,
} from "./emulator.js";
import { decodeArrayOperand, rootWords } from "./operands.js";

/**
 * The spdm_conf page TDH.SPDM.CONNECT reads (`spdm_config_info_t`, docs/spec/03-module.md 3.3): u32
 * vmm_spdm_cap, u8 session_policy, u8 certificate_slot_mask, u8 raw_bitstream_requested.
 */
export interface SpdmConf {
  readonly vmmSpdmCap: number;
  readonly sessionPolicy: number;
  readonly certSlotMask: number;
  readonly rawBitstream: number;
}

/** vmm_spdm_cap bits the module honours (the SPDM requester capability flags of the same name). */
export const SPDM_CAP = Object.freeze({ HBEAT: 1 << 13, KEY_UPD: 1 << 14 });

/** An SPDM session's module-side state (its object's `state` is created/connected/disconnected). */
export interface SessionData {
  readonly device: PcieDeviceSpec;
  /** Index of the device's root port in `platform.rootPorts`. */
  readonly rootPortIndex: number;
  /** Ids of the IDE streams attached to the session. */
  readonly streams: Set<number>;
  /** SPDM messages exchanged since the last key update (for the key-refresh knob). */
  messages: number;
  /** The spdm_conf of the last CONNECT (null before the first). */
  conf: SpdmConf | null;
}

/** An IDE stream's module-side state (its object's `state` is created/keyed/stopped/blocked). */
export interface StreamData {
  readonly session: ModuleObject;
  readonly rootPortIndex: number;
  /** The root-port IDE id: the stream register block of the port the module gave the stream. */
  readonly slot: number;
  /** The inputs as the host gave them (stream_info, stream_ctrl, RID and address associations). */
  readonly inputs: {
    readonly streamInfo: number;
    readonly streamCtrl: number;
    readonly rid: readonly [number, number];
    readonly addr: readonly [number, number, number];
  };
}

interface Tables {
  readonly sessions: WeakMap<ModuleObject, SessionData>;
  readonly streams: WeakMap<ModuleObject, StreamData>;
  /** "port:slot" → stream object id. */
  readonly slots: Map<string, number>;
}

/** The SPDM/IDE tables of module `mod`. */
export const tables: (mod: TdxModule) => Tables = perModule(() => ({
  sessions: new WeakMap(),
  streams: new WeakMap(),
  slots: new Map(),
}));

/** The live object of `kind` named by a register (an id in its low half), or null. */
export function objectIn(mod: TdxModule, c: CallContext, reg: number, kind: ObjectKind): ModuleObject | null {
  if (c.regs.hi(reg) !== 0) return null;
  const o = mod.objects.get(c.regs.lo(reg));
  return o !== undefined && o.kind === kind ? o : null;
}

// ---- metadata pages ---------------------------------------------------------------------------------

/**
 * Reads the HPA_ARRAY_T in `reg`: rules 1 and 3, exactly `count` entries (singleton when 1), rule 4 on
 * each entry. Returns the page HPAs, or OPERAND_INVALID (reg).
 */
export function arrayPages(mod: TdxModule, c: CallContext, reg: number, count: number): number[] | U64 {
  const d = decodeArrayOperand(mod, c.regs.get(reg));
  if (d.violation !== null || d.fields.count !== count) return st(STATUS.TDX_OPERAND_INVALID, reg);
  if (d.fields.singleton) return [d.fields.pageHpa!];
  // Read at once below (checked, then copied out as HPAs): no copy of the page first.
  const root = rootWords(mod, d.fields.rootHpa!);
  if (checkEntries("hpa-array", root, 0, count - 1) !== null) return st(STATUS.TDX_OPERAND_INVALID, reg);
  const out: number[] = [];
  // Rule 4 held: bits 11:0 and 63:52 are zero.
  for (let i = 0; i < count; i++) out.push(root[2 * i + 1]! * 0x1_0000_0000 + root[2 * i]!);
  return out;
}

/**
 * Claims the `count` pages of the HPA_ARRAY_T in `reg` as private metadata pages of a new object: each
 * page checked as a private operand page (03-module.md 3.2) then claimed, in entry order; on an error the
 * pages claimed so far are released again (ledger `setup-rollback`). The module initialises them with its
 * global KeyID. Returns the object, or the failing status.
 */
export function claimArray(
  mod: TdxModule,
  c: CallContext,
  reg: number,
  count: number,
  type: number,
  kind: ObjectKind,
  name: string,
): ModuleObject | U64 {
  const hpas = arrayPages(mod, c, reg, count);
  if (!Array.isArray(hpas)) return hpas;
  const obj = mod.newObject(kind, name);
  for (const hpa of hpas) {
    const bad = mod.privatePageStatus(hpa, 1, reg);
    if (bad !== null) {
      for (const p of obj.pages) mod.releasePage(p);
      mod.dropObject(obj.id);
      return bad;
    }
    mod.claimPage(hpa / PAGE_SIZE, type, obj);
    c.units++;
  }
  for (const pfn of obj.pages) {
    if (!mod.writePrivate(pfn, c.cause)) return st(STATUS.TDX_SYS_SHUTDOWN);
  }
  obj.state = "created";
  return obj;
}

/** A shared page named by a plain HPA in `reg`, as its PFN: aligned, below 2^52, backed, rule 3. */
export function sharedPageIn(mod: TdxModule, c: CallContext, reg: number): number | null {
  const lo = c.regs.lo(reg);
  const hi = c.regs.hi(reg);
  if (hi >>> 20 !== 0 || (lo & 0xfff) !== 0) return null;
  const hpa = low52(lo, hi);
  const pfn = hpaToPfn(mod.stripKeyId(hpa));
  if (mod.sharedPageProblem(hpa) !== null || mod.keyIdOf(hpa) !== 0 || !mod.mem.contains(pfn)) return null;
  return pfn;
}

/** True when register `reg` holds all ones (the table's "−1": no page given). */
export function isNone(c: CallContext, reg: number): boolean {
  return c.regs.lo(reg) === 0xffff_ffff && c.regs.hi(reg) === 0xffff_ffff;
}

/**
 * Reads the spdm_conf page named in `reg` (a shared page, else OPERAND_INVALID on `reg`): vmm_spdm_cap
 * (u32 at 0), session_policy (u8 at 4), certificate_slot_mask (u8 at 5, 0 names no slot →
 * OPERAND_INVALID), raw_bitstream_requested (u8 at 6, 0 or 1 else OPERAND_INVALID). Ledger `spdm-conf`.
 */
export function readSpdmConf(mod: TdxModule, c: CallContext, reg: number): SpdmConf | U64 {
  const pfn = sharedPageIn(mod, c, reg);
  if (pfn === null) return st(STATUS.TDX_OPERAND_INVALID, reg);
  const b = mod.mem.page(pfn);
  const conf: SpdmConf = {
    vmmSpdmCap: (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0,
    sessionPolicy: b[4]!,
    certSlotMask: b[5]!,
    rawBitstream: b[6]!,
  };
  if (conf.certSlotMask === 0 || conf.rawBitstream > 1) return st(STATUS.TDX_OPERAND_INVALID, reg);
  return conf;
}

/**
 * The release half of TDH.SPDM.DELETE (release input in RDX) / TDH.IDE.STREAM.DELETE (in R8): `reg` =
 * release input, 0 when the object holds one page, else a shared page for the released list (behaviour
 * `releaseSingletonStrict`; a multi-page object with 0, or anything that is not a valid shared page →
 * OPERAND_INVALID on `reg`). Pages return to PT_NDA; the list (HPA entries) is written into that page
 * with KeyID 0; out RCX =
 * HPA_ARRAY_T of the released pages (singleton: the page itself). The wrong module
 * `deleteOmitsOnePage` keeps the last page private and leaves it out of the list.
 * Returns null on success (the object is dropped), or the failing status before anything changed.
 */
export function releaseObject(mod: TdxModule, c: CallContext, obj: ModuleObject, reg: number): U64 | null {
  const single = obj.pages.length === 1;
  const isZero = c.regs.lo(reg) === 0 && c.regs.hi(reg) === 0;
  let listPfn: number | null = null;
  if (isZero) {
    if (!single) return st(STATUS.TDX_OPERAND_INVALID, reg);
  } else {
    if (single && mod.behaviours.releaseSingletonStrict) return st(STATUS.TDX_OPERAND_INVALID, reg);
    listPfn = sharedPageIn(mod, c, reg);
    if (listPfn === null) return st(STATUS.TDX_OPERAND_INVALID, reg);
  }
  const released = mod.behaviours.deleteOmitsOnePage ? obj.pages.slice(0, -1) : obj.pages.slice();
  for (const pfn of released) {
    mod.releasePage(pfn);
    c.units++;
  }
  if (listPfn !== null) {
    const w = mod.mem.words(listPfn);
    w.fill(0);
    released.forEach((pfn, i) => {
      const e = encodeListEntry(pfnToHpa(pfn));
      w[2 * i] = e.lo;
      w[2 * i + 1] = e.hi;
    });
    mod.cache.moduleWrite(listPfn, 0);
  }
  let out: U64 = U64_ZERO;
  if (released.length === 1) out = encodeHpaArray({ count: 1, pageHpa: pfnToHpa(released[0]!) });
  else if (released.length > 1 && listPfn !== null)
    out = encodeHpaArray({ count: released.length, rootHpa: pfnToHpa(listPfn) });
  c.regs.set(REG.RCX, out);
  mod.dropObject(obj.id);
  return null;
}

// ---- the SPDM exchange engine -----------------------------------------------------------------------

/** One request of an exchange and what to do with its answer. */
export interface ExchangeStep {
  /** The SPDM request message. */
  readonly request: Uint8Array;
  /** Takes the validated response; returns a status to fail the call, or null. */
  readonly take?: (rsp: Uint8Array) => U64 | null;
}

/** A scripted exchange: the next request given the answers so far, and the effect at the end. */
export interface Exchange {
  /** The session the messages go to. */
  readonly session: SessionData;
  /** The leaf's response-page register: a bad answer is TDX_OPERAND_INVALID on it. */
  readonly rspReg: number;
  /** The next step, or null when done. */
  next(): ExchangeStep | null;
  /**
   * The call's effect once every answer was taken; returns its status. `out` is the call being
   * completed (a re-issue carries its own register file: outputs go there, not to the first call's).
   */
  finish(out: CallContext): U64;
  /** Undo state changes when the call fails part-way. */
  abort?(): void;
}

interface ExchangeFlight {
  readonly ex: Exchange;
  readonly reqPfn: number;
  readonly rspPfn: number;
  started: boolean;
  /** The step whose request the host holds (its answer is expected in the response page). */
  pending: ExchangeStep | null;
  /** The step to send on the next entry (after an interrupt). */
  queued: ExchangeStep | null;
}

/** An SPDM request message: version (1.0 for GET_VERSION, else 1.2), code, params, body. */
export function spdmRequest(code: number, p1 = 0, p2 = 0, body: readonly number[] | Uint8Array = []) {
  const b = new Uint8Array(4 + body.length);
  b[0] = code === SPDM.GET_VERSION ? SPDM_VERSION.V10 : SPDM_VERSION.V12;
  b[1] = code;
  b[2] = p1;
  b[3] = p2;
  b.set(body, 4);
  return b;
}

/**
 * Checks the message pages (the leaf's request and response registers of the register table: shared
 * pages, else OPERAND_INVALID on that register, the response register checked first as the table lists
 * it first) and returns their PFNs.
 */
export function messagePages(
  mod: TdxModule,
  c: CallContext,
  regs: { readonly req: number; readonly rsp: number },
): { req: number; rsp: number } | U64 {
  const rsp = sharedPageIn(mod, c, regs.rsp);
  if (rsp === null) return st(STATUS.TDX_OPERAND_INVALID, regs.rsp);
  const req = sharedPageIn(mod, c, regs.req);
  if (req === null || rsp === req) return st(STATUS.TDX_OPERAND_INVALID, regs.req);
  return { req, rsp };
}

/**
 * Runs (or resumes) an exchange in the extension slot `f`. `start` is called on the first entry only:
 * it validates the operands and builds the exchange (or returns a status, which ends the call).
 */
export function runExchange(
  mod: TdxModule,
  c: CallContext,
  f: InFlight,
  inputRegs: readonly number[],
  start: () => (Exchange & { reqPfn: number; rspPfn: number }) | U64,
): U64 {
  const fail = (s: U64, x?: ExchangeFlight) => {
    x?.ex.abort?.();
    mod.endResumable(f, null);
    return s;
  };
  if (f.data === undefined) {
    const ex = start();
    if (!("next" in ex)) return fail(ex);
    f.data = { ex, reqPfn: ex.reqPfn, rspPfn: ex.rspPfn, started: false, pending: null, queued: null };
  }
  const x = f.data as ExchangeFlight;
  if (x.pending !== null) {
    const rsp = doeUnwrap(mod.mem.page(x.rspPfn), DOE_MAX_BYTES);
    const sent = x.pending.request;
    const wantVer = sent[1] === SPDM.GET_VERSION ? SPDM_VERSION.V10 : SPDM_VERSION.V12;
    if (rsp === null || rsp.length < 4 || rsp[0] !== wantVer || rsp[1] !== responseCode(sent[1]!))
      return fail(st(STATUS.TDX_OPERAND_INVALID, x.ex.rspReg), x);
    const bad = x.pending.take?.(rsp) ?? null;
    if (bad !== null) return fail(bad, x);
    x.pending = null;
    x.ex.session.messages++;
    c.units++;
    x.queued = x.ex.next();
    if (x.queued !== null && mod.interrupts.afterUnit()) return mod.interrupted(c, inputRegs);
  } else if (!x.started) {
    x.started = true;
    x.queued = x.ex.next();
  }
  if (x.queued === null) {
    const s = x.ex.finish(c);
    if (s.hi >>> 31 !== 0) return fail(s, x);
    mod.endResumable(f, null);
    return s;
  }
  const obj = doeWrap(x.queued.request);
  const page = mod.mem.page(x.reqPfn);
  page.fill(0);
  page.set(obj);
  mod.cache.moduleWrite(x.reqPfn, 0);
  x.pending = x.queued;
  x.queued = null;
  // RCX out: the request length in bytes (the whole DOE frame), which the host forwards.
  c.regs.set(REG.RCX, u64FromNumber(obj.length));
  return st(STATUS.TDX_SPDM_REQUEST);
}

/**
 * Writes `info` across the shared pages `hpas` with KeyID 0 (device information for the host). Returns
 * false when it does not fit.
 */
export function writeShared(mod: TdxModule, hpas: readonly number[], info: Uint8Array): boolean {
  if (info.length > pagesToBytes(hpas.length)) return false;
  hpas.forEach((hpa, i) => {
    const pfn = hpaToPfn(mod.stripKeyId(hpa));
    const page = mod.mem.page(pfn);
    page.fill(0);
    page.set(info.subarray(pagesToBytes(i), (i + 1) * PAGE_SIZE));
    mod.cache.moduleWrite(pfn, 0);
  });
  return true;
}

/** The entries of a shared-buffer HPA_ARRAY_T in `reg` (each a shared page), or OPERAND_INVALID (reg). */
export function sharedArrayPages(mod: TdxModule, c: CallContext, reg: number, count: number): number[] | U64 {
  const hpas = arrayPages(mod, c, reg, count);
  if (!Array.isArray(hpas)) return hpas;
  for (const hpa of hpas) {
    if (mod.sharedPageProblem(hpa) !== null || !mod.mem.contains(hpaToPfn(mod.stripKeyId(hpa))))
      return st(STATUS.TDX_OPERAND_INVALID, reg);
  }
  return hpas;
}

/** `hpa` as a u64 (for outputs). */
export function hpaU64(hpa: number): U64 {
  return hpaToU64(hpa);
}

export { SUCCESS };
