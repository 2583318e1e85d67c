/**
 * Leaf rows of the SPDM session and IDE stream leaves (src/module/leaves-spdm.ts, leaves-ide.ts) that
 * need a device: a session created or connected through the host flows, a stream keyed, an exchange in
 * flight; then the row's one raw call. Run by test/module/leaf-table-spdm-ide.test.ts.
 */
import { expect } from "vitest";
import { REG, RESOURCE_OPERAND } from "../../src/common/status.js";
import { type U64, u64FromNumber } from "../../src/common/u64.js";
import { spdmMng } from "../../src/host/seamcalls/spdm.js";
import { functionId } from "../../src/host/spdm.js";
import { doeWrap, SPDM } from "../../src/hw/devices.js";
import type { Machine } from "../../src/machine.js";
import { PT } from "../../src/module/index.js";
import {
  channelFor,
  clobbered,
  connectedSession,
  connectMachine,
  connectRegs,
  createdSession,
  device,
  disconnectRegs,
  exchangeInFlight,
  hpaArray,
  keyedStream,
  kmRegs,
  mngRegs,
  type SessionRegs,
  slotHeldByConnect,
  streamCreateInputs,
} from "./leaf-fixtures.js";
import { type Arranged, privatePageRows, type Row } from "./leaf-table.js";
import { call, hpa, pages } from "./machine.js";

const v = u64FromNumber;
const pfnsOf = (ps: readonly { pfn: number }[]) => ps.map((p) => p.pfn);
/** `hpa` with the platform's first private KeyID: not a shared page. */
const privateKeyId = (m: Machine, a: number): U64 =>
  hpa(a + m.platform.keyIds.firstPrivate * 2 ** m.platform.keyIds.shift);
/** The extension slot is free again (a failed exchange ends its call). */
const slotFree = (m: Machine) => () => expect(m.module.extSlot).toBeNull();
/** The object's state. */
const stateOf = (m: Machine, id: U64) => m.module.objects.get(id.lo)?.state;
/** The length of the DOE frame in the request page (DW1 bits 17:0, in dwords) as RCX reports it. */
const frameBytes = (m: Machine, pfn: number): U64 => {
  const b = m.mem.page(pfn);
  return v(((b[4]! | (b[5]! << 8) | ((b[6]! & 3) << 16)) >>> 0) * 4);
};
/** The SPDM request code in the request page's DOE frame. */
const requestCode = (m: Machine, pfn: number) => m.mem.page(pfn)[9];

const EVERY_UNIT = () => connectMachine({ interrupts: { kind: "every", k: 1 } });
const REFRESH_AFTER_1 = () => connectMachine({ behaviours: { spdmKeyRefreshAfter: 1 } });

/** A connected session whose key refresh is due (knob 1, one heartbeat since CONNECT). */
function refreshDue(m: Machine) {
  const s = connectedSession(m);
  const hb = spdmMng(m.kernel, s.channel, s.spdmId, 0);
  expect(hb.keyUpdates).toBe(0);
  return s;
}

/** The extension slot held by a DISCONNECT of device 1's session in flight (for CONNECT's BUSY row). */
function slotHeldByDisconnect(m: Machine): void {
  const s = connectedSession(m, 1);
  exchangeInFlight(m, "TDH.SPDM.DISCONNECT", disconnectRegs(s), s.channel);
}

// ---- TDH.SPDM.CREATE / DELETE ---------------------------------------------------------------------

const CREATE: Row[] = [
  {
    leaf: "TDH.SPDM.CREATE",
    status: "TDX_OPERAND_BUSY",
    operand: RESOURCE_OPERAND.SYS,
    what: "a CONNECT in flight holds the extension slot; no page claimed",
    arrange: (m) => {
      slotHeldByConnect(m);
      const a = hpaArray(m, 8);
      return { inputs: { [REG.RCX]: functionId(device(m)), [REG.RDX]: a.operand }, watch: pfnsOf(a.pages) };
    },
  },
  {
    leaf: "TDH.SPDM.CREATE",
    status: "TDX_OP_STATE_INCORRECT",
    operand: REG.RCX,
    what: "the device has a session already; no page claimed",
    arrange: (m) => {
      createdSession(m);
      const a = hpaArray(m, 8);
      return { inputs: { [REG.RCX]: functionId(device(m)), [REG.RDX]: a.operand }, watch: pfnsOf(a.pages) };
    },
  },
  // The bad page last: the seven claimed before it are rolled back (ledger `setup-rollback`).
  ...privatePageRows(
    "TDH.SPDM.CREATE",
    REG.RDX,
    (m, a) => {
      const ps = pages(m, 7);
      const arr = hpaArray(m, 8, [...ps.map((p) => p.hpa), a]);
      return { inputs: { [REG.RCX]: functionId(device(m)), [REG.RDX]: arr.operand }, watch: pfnsOf(ps) };
    },
    { machine: () => connectMachine() },
  ),
];

const DELETE: Row[] = [
  {
    leaf: "TDH.SPDM.DELETE",
    status: "TDX_OPERAND_BUSY",
    operand: RESOURCE_OPERAND.SYS,
    what: "a CONNECT in flight holds the extension slot; the session keeps its pages",
    arrange: (m) => {
      const s = createdSession(m);
      slotHeldByConnect(m);
      const list = pages(m, 1)[0]!;
      return { inputs: { [REG.RCX]: s.id, [REG.RDX]: hpa(list.hpa) }, watch: pfnsOf(s.pages) };
    },
  },
  {
    leaf: "TDH.SPDM.DELETE",
    status: "TDX_OP_STATE_INCORRECT",
    operand: REG.RCX,
    what: "a connected session; it keeps its pages",
    arrange: (m) => {
      const s = connectedSession(m);
      return {
        inputs: { [REG.RCX]: s.spdmId, [REG.RDX]: hpa(s.array.rootPage.hpa) },
        watch: pfnsOf(s.pages),
        after: () => expect(stateOf(m, s.spdmId)).toBe("connected"),
      };
    },
  },
  {
    leaf: "TDH.SPDM.DELETE",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RDX,
    what: "release input 0 for an 8-page session; it keeps its pages",
    arrange: (m) => {
      const s = createdSession(m);
      return { inputs: { [REG.RCX]: s.id, [REG.RDX]: hpa(0) }, watch: pfnsOf(s.pages) };
    },
  },
];

// ---- TDH.SPDM.CONNECT -----------------------------------------------------------------------------

/** A created session, a channel and CONNECT's inputs; the session's pages watched. */
function connectCase(
  m: Machine,
  edit: (inputs: Record<number, U64>, ch: ReturnType<typeof channelFor>) => void = () => {},
) {
  const s = createdSession(m);
  const ch = channelFor(m);
  const inputs = connectRegs(m, s.id, ch);
  edit(inputs, ch);
  return { s, ch, inputs };
}

const CONNECT_INPUTS = [REG.RCX, REG.RDX, REG.R8, REG.R9, REG.R10];

/** CONNECT's failing rows that refuse before or during the exchange: slot freed, session still created. */
const connectRefused = (
  status: Row["status"],
  operand: number,
  what: string,
  edit: (m: Machine, inputs: Record<number, U64>, ch: ReturnType<typeof channelFor>) => void,
): Row => ({
  leaf: "TDH.SPDM.CONNECT",
  status,
  operand,
  what: `${what}; the slot is free, the session still created`,
  arrange: (m) => {
    const c = connectCase(m, (i, ch) => edit(m, i, ch));
    return {
      inputs: c.inputs,
      watch: pfnsOf(c.s.pages),
      after: () => {
        slotFree(m)();
        expect(stateOf(m, c.s.id)).toBe("created");
      },
    };
  },
});

const CONNECT: Row[] = [
  {
    leaf: "TDH.SPDM.CONNECT",
    status: "TDX_SPDM_REQUEST",
    operand: 0,
    what: "the first entry: GET_VERSION (SPDM 1.0) in a DOE frame in the request page, RCX = its bytes",
    arrange: (m) => {
      const c = connectCase(m);
      return {
        inputs: c.inputs,
        watch: pfnsOf(c.s.pages),
        out: () => ({ [REG.RCX]: v(12) }),
        after: () => {
          expect([...m.mem.page(c.ch.requestPage.pfn).subarray(0, 12)]).toEqual([
            1, 0, 1, 0, 3, 0, 0, 0, 0x10, 0x84, 0, 0,
          ]);
          expect(m.module.extSlot).not.toBeNull();
        },
      };
    },
  },
  {
    leaf: "TDH.SPDM.CONNECT",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    what: "every-unit interrupts: the re-issue takes VERSION, then is interrupted; inputs come back clobbered",
    machine: EVERY_UNIT,
    arrange: (m) => connectInterrupted(m),
  },
  {
    leaf: "TDH.SPDM.CONNECT",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    effects: true,
    what: "forced with effects on the re-issue: VERSION taken, interrupted at the next unit boundary",
    arrange: (m) => connectInterrupted(m),
  },
  {
    leaf: "TDH.SPDM.CONNECT",
    status: "TDX_INVALID_RESUMPTION",
    operand: 0,
    what: "a re-issue with another device-info buffer; the call stays in flight",
    arrange: (m) => {
      const c = connectCase(m);
      exchangeInFlight(m, "TDH.SPDM.CONNECT", c.inputs, c.ch);
      const slot = m.module.extSlot;
      return {
        inputs: { ...c.inputs, [REG.R10]: hpaArray(m, 4).operand },
        watch: pfnsOf(c.s.pages),
        after: () => expect(m.module.extSlot).toBe(slot),
      };
    },
  },
  {
    leaf: "TDH.SPDM.CONNECT",
    status: "TDX_OPERAND_BUSY",
    operand: RESOURCE_OPERAND.SYS,
    what: "a DISCONNECT in flight holds the extension slot",
    arrange: (m) => {
      const c = connectCase(m);
      slotHeldByDisconnect(m);
      return {
        inputs: c.inputs,
        watch: pfnsOf(c.s.pages),
        after: () => expect(stateOf(m, c.s.id)).toBe("created"),
      };
    },
  },
  {
    leaf: "TDH.SPDM.CONNECT",
    status: "TDX_OP_STATE_INCORRECT",
    operand: REG.RCX,
    what: "a session connected already; the slot is free",
    arrange: (m) => {
      const s = connectedSession(m);
      return { inputs: connectRegs(m, s.spdmId, channelFor(m)), watch: pfnsOf(s.pages), after: slotFree(m) };
    },
  },
  connectRefused("TDX_OPERAND_INVALID", REG.RDX, "spdm_conf with certificate_slot_mask 0", (m, _i, ch) => {
    m.mem.page(ch.confPage!.pfn)[5] = 0;
  }),
  {
    leaf: "TDH.SPDM.CONNECT",
    status: "TDX_OPERAND_INVALID",
    operand: REG.R8,
    what: "the device's answer has the wrong response code; the slot is free, the session still created",
    arrange: (m) => {
      const c = connectCase(m);
      exchangeInFlight(m, "TDH.SPDM.CONNECT", c.inputs, c.ch);
      const rsp = m.mem.page(c.ch.responsePage.pfn);
      rsp.fill(0);
      rsp.set(doeWrap(new Uint8Array([0x10, 0x61, 0, 0])));
      return {
        inputs: c.inputs,
        watch: pfnsOf(c.s.pages),
        after: () => {
          slotFree(m)();
          expect(stateOf(m, c.s.id)).toBe("created");
        },
      };
    },
  },
  connectRefused("TDX_OPERAND_INVALID", REG.R9, "request page = response page", (_m, i) => {
    i[REG.R9] = i[REG.R8]!;
  }),
  connectRefused("TDX_OPERAND_INVALID", REG.R10, "a device-info buffer of 3 pages", (m, i) => {
    i[REG.R10] = hpaArray(m, 3).operand;
  }),
];

/** CONNECT in flight with VERSION's answer forwarded; the row's call is the re-issue. */
function connectInterrupted(m: Machine): Arranged {
  const c = connectCase(m);
  exchangeInFlight(m, "TDH.SPDM.CONNECT", c.inputs, c.ch);
  return {
    inputs: c.inputs,
    watch: pfnsOf(c.s.pages),
    out: () => clobbered(m, CONNECT_INPUTS),
    after: () => {
      expect(m.module.extSlot).not.toBeNull();
      expect(stateOf(m, c.s.id)).toBe("created");
    },
  };
}

// ---- TDH.SPDM.DISCONNECT --------------------------------------------------------------------------

const DISCONNECT: Row[] = [
  {
    leaf: "TDH.SPDM.DISCONNECT",
    status: "TDX_SPDM_REQUEST",
    operand: 0,
    what: "END_SESSION in the request page, RCX = the frame's bytes; still connected",
    arrange: (m) => {
      const s = connectedSession(m);
      return {
        watch: pfnsOf(s.pages),
        inputs: disconnectRegs(s),
        out: () => ({ [REG.RCX]: frameBytes(m, s.channel.requestPage.pfn) }),
        after: () => {
          expect(requestCode(m, s.channel.requestPage.pfn)).toBe(SPDM.END_SESSION);
          expect(m.mem.page(s.channel.requestPage.pfn)[4]).toBe(3);
          expect(stateOf(m, s.spdmId)).toBe("connected");
        },
      };
    },
  },
  {
    leaf: "TDH.SPDM.DISCONNECT",
    status: "TDX_INVALID_RESUMPTION",
    operand: 0,
    what: "a re-issue with another request page; the call stays in flight",
    arrange: (m) => {
      const s = connectedSession(m);
      exchangeInFlight(m, "TDH.SPDM.DISCONNECT", disconnectRegs(s), s.channel);
      const slot = m.module.extSlot;
      return {
        watch: pfnsOf(s.pages),
        inputs: { ...disconnectRegs(s), [REG.R8]: hpa(pages(m, 1)[0]!.hpa) },
        after: () => expect(m.module.extSlot).toBe(slot),
      };
    },
  },
  {
    leaf: "TDH.SPDM.DISCONNECT",
    status: "TDX_OPERAND_BUSY",
    operand: RESOURCE_OPERAND.SYS,
    what: "a CONNECT in flight holds the extension slot; still connected",
    arrange: (m) => {
      const s = connectedSession(m);
      slotHeldByConnect(m);
      return {
        watch: pfnsOf(s.pages),
        inputs: disconnectRegs(s),
        after: () => expect(stateOf(m, s.spdmId)).toBe("connected"),
      };
    },
  },
  {
    leaf: "TDH.SPDM.DISCONNECT",
    status: "TDX_OP_STATE_INCORRECT",
    operand: REG.RCX,
    what: "a session created, never connected; the slot is free",
    arrange: (m) => {
      const c = createdSession(m, 1);
      const ch = channelFor(m, 1);
      return {
        inputs: { [REG.RCX]: c.id, [REG.RDX]: hpa(ch.responsePage.hpa), [REG.R8]: hpa(ch.requestPage.hpa) },
        after: slotFree(m),
      };
    },
  },
  {
    leaf: "TDH.SPDM.DISCONNECT",
    status: "TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH",
    operand: 0,
    what: "refresh knob 1, one heartbeat since CONNECT; still connected, the slot is free",
    machine: REFRESH_AFTER_1,
    arrange: (m) => {
      const s = refreshDue(m);
      return {
        watch: pfnsOf(s.pages),
        inputs: disconnectRegs(s),
        after: () => {
          slotFree(m)();
          expect(stateOf(m, s.spdmId)).toBe("connected");
        },
      };
    },
  },
  {
    leaf: "TDH.SPDM.DISCONNECT",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RDX,
    what: "a response page with a private KeyID; still connected",
    arrange: (m) => {
      const s = connectedSession(m);
      return {
        watch: pfnsOf(s.pages),
        inputs: { ...disconnectRegs(s), [REG.RDX]: privateKeyId(m, s.channel.responsePage.hpa) },
        after: () => expect(stateOf(m, s.spdmId)).toBe("connected"),
      };
    },
  },
  {
    leaf: "TDH.SPDM.DISCONNECT",
    status: "TDX_OPERAND_INVALID",
    operand: REG.R8,
    what: "request page = response page; the slot is free",
    arrange: (m) => {
      const s = connectedSession(m);
      return {
        watch: pfnsOf(s.pages),
        inputs: { ...disconnectRegs(s), [REG.R8]: hpa(s.channel.responsePage.hpa) },
        after: slotFree(m),
      };
    },
  },
];

// ---- TDH.SPDM.MNG ---------------------------------------------------------------------------------

const MNG_INPUTS = [REG.RCX, REG.RDX, REG.R8, REG.R9, REG.R10, REG.R11];

/** MNG RECOLLECT in flight with the GET_DIGESTS answer forwarded; the row's call is the re-issue. */
function mngInterrupted(m: Machine): Arranged {
  const s = connectedSession(m);
  exchangeInFlight(m, "TDH.SPDM.MNG", mngRegs(s, 2), s.channel);
  return {
    watch: pfnsOf(s.pages),
    inputs: mngRegs(s, 2),
    out: () => clobbered(m, MNG_INPUTS),
    after: () => expect(m.module.extSlot).not.toBeNull(),
  };
}

/** An MNG row on a connected session with `edit` applied to heartbeat's inputs: refused, slot free. */
const mngRefused = (
  status: Row["status"],
  operand: number,
  what: string,
  edit: (m: Machine, i: Record<number, U64>) => void,
  machine = () => connectMachine(),
  session: (m: Machine) => SessionRegs & { pages: readonly { pfn: number }[] } = connectedSession,
): Row => ({
  leaf: "TDH.SPDM.MNG",
  status,
  operand,
  what: `${what}; the slot is free`,
  machine,
  arrange: (m) => {
    const s = session(m);
    const i = mngRegs(s, 0);
    edit(m, i);
    return { inputs: i, watch: pfnsOf(s.pages), after: slotFree(m) };
  },
});

const MNG: Row[] = [
  {
    leaf: "TDH.SPDM.MNG",
    status: "TDX_SPDM_REQUEST",
    operand: 0,
    what: "HEARTBEAT in the request page, RCX = the frame's bytes",
    arrange: (m) => {
      const s = connectedSession(m);
      return {
        watch: pfnsOf(s.pages),
        inputs: mngRegs(s, 0),
        out: () => ({ [REG.RCX]: frameBytes(m, s.channel.requestPage.pfn) }),
        after: () => expect(requestCode(m, s.channel.requestPage.pfn)).toBe(SPDM.HEARTBEAT),
      };
    },
  },
  {
    leaf: "TDH.SPDM.MNG",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    what: "every-unit interrupts, RECOLLECT: the re-issue takes DIGESTS, then is interrupted; inputs clobbered",
    machine: EVERY_UNIT,
    arrange: mngInterrupted,
  },
  {
    leaf: "TDH.SPDM.MNG",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    effects: true,
    what: "forced with effects on RECOLLECT's re-issue: DIGESTS taken, interrupted at the next boundary",
    arrange: mngInterrupted,
  },
  {
    leaf: "TDH.SPDM.MNG",
    status: "TDX_INVALID_RESUMPTION",
    operand: 0,
    what: "HEARTBEAT in flight, re-issued as RECOLLECT; the call stays in flight",
    arrange: (m) => {
      const s = connectedSession(m);
      exchangeInFlight(m, "TDH.SPDM.MNG", mngRegs(s, 0), s.channel);
      const slot = m.module.extSlot;
      return {
        watch: pfnsOf(s.pages),
        inputs: mngRegs(s, 2),
        after: () => expect(m.module.extSlot).toBe(slot),
      };
    },
  },
  {
    leaf: "TDH.SPDM.MNG",
    status: "TDX_OPERAND_BUSY",
    operand: RESOURCE_OPERAND.SYS,
    what: "a CONNECT in flight holds the extension slot",
    arrange: (m) => {
      const s = connectedSession(m);
      slotHeldByConnect(m);
      return { watch: pfnsOf(s.pages), inputs: mngRegs(s, 0) };
    },
  },
  mngRefused("TDX_OPERAND_INVALID", REG.RDX, "operation 3", (_m, i) => {
    i[REG.RDX] = v(3);
  }),
  mngRefused("TDX_OPERAND_INVALID", REG.R8, "a param page that is not a page (0x1234)", (_m, i) => {
    i[REG.R8] = hpa(0x1234);
  }),
  mngRefused(
    "TDX_OP_STATE_INCORRECT",
    REG.RCX,
    "a session created, never connected",
    () => {},
    () => connectMachine(),
    (m) => {
      const c = createdSession(m, 1);
      return { spdmId: c.id, channel: channelFor(m, 1), pages: c.pages };
    },
  ),
  mngRefused(
    "TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH",
    0,
    "refresh knob 1, one heartbeat since CONNECT",
    () => {},
    REFRESH_AFTER_1,
    refreshDue,
  ),
  mngRefused("TDX_OPERAND_INVALID", REG.R9, "a response page with a private KeyID", (m, i) => {
    i[REG.R9] = privateKeyId(m, i[REG.R9]!.lo + i[REG.R9]!.hi * 2 ** 32);
  }),
  mngRefused("TDX_OPERAND_INVALID", REG.R10, "request page = response page", (_m, i) => {
    i[REG.R10] = i[REG.R9]!;
  }),
  mngRefused("TDX_OPERAND_INVALID", REG.R11, "RECOLLECT into a 3-page buffer", (m, i) => {
    i[REG.RDX] = v(2);
    i[REG.R11] = hpaArray(m, 3).operand;
  }),
];

// ---- TDH.IDE.STREAM.CREATE ------------------------------------------------------------------------

/** A CREATE row on a connected session: inputs edited by `over`, the new array's pages watched. */
const streamRefused = (
  status: Row["status"],
  operand: number,
  what: string,
  over: Record<number, U64>,
): Row => ({
  leaf: "TDH.IDE.STREAM.CREATE",
  status,
  operand,
  what: `${what}; no page claimed`,
  arrange: (m) => {
    const s = connectedSession(m);
    const a = hpaArray(m, 4);
    return { inputs: streamCreateInputs(m, s.spdmId, over, a.operand), watch: pfnsOf(a.pages) };
  },
});

const STREAM_CREATE: Row[] = [
  {
    leaf: "TDH.IDE.STREAM.CREATE",
    status: "TDX_OP_STATE_INCORRECT",
    operand: REG.RCX,
    what: "every stream register block of the root port taken; no page claimed",
    arrange: (m) => {
      const s = connectedSession(m);
      for (let i = 0; i < m.platform.rootPorts![0]!.streamSlots; i++)
        expect(call(m, "TDH.IDE.STREAM.CREATE", streamCreateInputs(m, s.spdmId)).lo(REG.RAX)).toBe(0);
      const a = hpaArray(m, 4);
      return { inputs: streamCreateInputs(m, s.spdmId, {}, a.operand), watch: pfnsOf(a.pages) };
    },
  },
  {
    leaf: "TDH.IDE.STREAM.CREATE",
    status: "TDX_OP_STATE_INCORRECT",
    operand: REG.RDX,
    what: "a session created, never connected; no page claimed",
    arrange: (m) => {
      const c = createdSession(m);
      const a = hpaArray(m, 4);
      return { inputs: streamCreateInputs(m, c.id, {}, a.operand), watch: pfnsOf(a.pages) };
    },
  },
  // The bad page last: the three claimed before it are rolled back.
  ...privatePageRows(
    "TDH.IDE.STREAM.CREATE",
    REG.R8,
    (m, a) => {
      const s = connectedSession(m);
      const ps = pages(m, 3);
      const arr = hpaArray(m, 4, [...ps.map((p) => p.hpa), a]);
      return { inputs: streamCreateInputs(m, s.spdmId, {}, arr.operand), watch: pfnsOf(ps) };
    },
    { machine: () => connectMachine() },
  ),
  streamRefused("TDX_OPERAND_INVALID", REG.R9, "stream_ctrl with Enable set", { [REG.R9]: v(1) }),
  streamRefused("TDX_OPERAND_INVALID", REG.R10, "RID association 1 with reserved bits 7:0 set", {
    [REG.R10]: v(0xff),
  }),
  streamRefused("TDX_OPERAND_INVALID", REG.R11, "RID association 2 without V", { [REG.R11]: v(0) }),
  streamRefused("TDX_OPERAND_INVALID", REG.R12, "address association 1 not valid but not zero", {
    [REG.R12]: v(0x100),
  }),
  streamRefused("TDX_OPERAND_INVALID", REG.R13, "address association 2 set without association 1", {
    [REG.R13]: v(5),
  }),
  streamRefused("TDX_OPERAND_INVALID", REG.R14, "address association 3 set without association 1", {
    [REG.R14]: v(5),
  }),
];

// ---- TDH.IDE.STREAM.BLOCK / DELETE / KM -----------------------------------------------------------

/** A connected session with a keyed stream. */
function withStream(m: Machine) {
  const s = connectedSession(m);
  return { s, st: keyedStream(m, s) };
}

const BLOCK_DELETE: Row[] = [
  {
    leaf: "TDH.IDE.STREAM.BLOCK",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RDX,
    what: "no such stream",
    arrange: (m) => {
      const { s, st } = withStream(m);
      return {
        inputs: { [REG.RCX]: s.spdmId, [REG.RDX]: v(5000) },
        watch: pfnsOf(st.pages),
        after: () => expect(stateOf(m, st.streamId)).toBe("keyed"),
      };
    },
  },
  {
    leaf: "TDH.IDE.STREAM.BLOCK",
    status: "TDX_OP_STATE_INCORRECT",
    operand: REG.RDX,
    what: "blocked already",
    arrange: (m) => {
      const { s, st } = withStream(m);
      const inputs = { [REG.RCX]: s.spdmId, [REG.RDX]: st.streamId };
      expect(call(m, "TDH.IDE.STREAM.BLOCK", inputs).lo(REG.RAX)).toBe(0);
      return {
        inputs,
        watch: pfnsOf(st.pages),
        after: () => expect(stateOf(m, st.streamId)).toBe("blocked"),
      };
    },
  },
  {
    leaf: "TDH.IDE.STREAM.DELETE",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RDX,
    what: "a stream of another session",
    arrange: (m) => {
      const { st } = withStream(m);
      const other = connectedSession(m, 1);
      return {
        inputs: { [REG.RCX]: other.spdmId, [REG.RDX]: st.streamId, [REG.R8]: hpa(st.array.rootPage.hpa) },
        watch: pfnsOf(st.pages),
      };
    },
  },
  {
    leaf: "TDH.IDE.STREAM.DELETE",
    status: "TDX_OP_STATE_INCORRECT",
    operand: REG.RDX,
    what: "a keyed stream, not blocked; it keeps its pages",
    arrange: (m) => {
      const { s, st } = withStream(m);
      return {
        inputs: { [REG.RCX]: s.spdmId, [REG.RDX]: st.streamId, [REG.R8]: hpa(st.array.rootPage.hpa) },
        watch: pfnsOf(st.pages),
      };
    },
  },
  {
    leaf: "TDH.IDE.STREAM.DELETE",
    status: "TDX_OPERAND_INVALID",
    operand: REG.R8,
    what: "release input 0 for a 4-page stream; it keeps its pages and its state",
    arrange: (m) => {
      const { s, st } = withStream(m);
      const ids = { [REG.RCX]: s.spdmId, [REG.RDX]: st.streamId };
      expect(call(m, "TDH.IDE.STREAM.BLOCK", ids).lo(REG.RAX)).toBe(0);
      return {
        inputs: { ...ids, [REG.R8]: hpa(0) },
        watch: pfnsOf(st.pages),
        pamtAfter: st.pages.map(() => PT.IDE_MT),
        after: () => expect(stateOf(m, st.streamId)).toBe("blocked"),
      };
    },
  },
];

const KM_INPUTS = [REG.RCX, REG.RDX, REG.R8, REG.R9, REG.R10];

/** KM REFRESH in flight with the first KEY_PROG answer forwarded; the row's call is the re-issue. */
function kmInterrupted(m: Machine): Arranged {
  const { s, st } = withStream(m);
  exchangeInFlight(m, "TDH.IDE.STREAM.KM", kmRegs(s, st, 1), s.channel);
  return {
    watch: [...pfnsOf(s.pages), ...pfnsOf(st.pages)],
    inputs: kmRegs(s, st, 1),
    out: () => clobbered(m, KM_INPUTS),
    after: () => {
      expect(m.module.extSlot).not.toBeNull();
      expect(stateOf(m, st.streamId)).toBe("keyed");
    },
  };
}

/** A KM row on a keyed stream with `edit` applied to REFRESH's inputs: refused, slot free, still keyed. */
const kmRefused = (
  status: Row["status"],
  operand: number,
  what: string,
  edit: (m: Machine, i: Record<number, U64>) => void,
  machine = () => connectMachine(),
  prepare: (m: Machine) => void = () => {},
): Row => ({
  leaf: "TDH.IDE.STREAM.KM",
  status,
  operand,
  what: `${what}; the slot is free, the stream still keyed`,
  machine,
  arrange: (m) => {
    const { s, st } = withStream(m);
    prepare(m);
    const i = kmRegs(s, st, 1);
    edit(m, i);
    return {
      watch: [...pfnsOf(s.pages), ...pfnsOf(st.pages)],
      inputs: i,
      after: () => {
        slotFree(m)();
        expect(stateOf(m, st.streamId)).toBe("keyed");
      },
    };
  },
});

const KM: Row[] = [
  {
    leaf: "TDH.IDE.STREAM.KM",
    status: "TDX_SPDM_REQUEST",
    operand: 0,
    what: "REFRESH of a keyed stream: KEY_PROG in a VENDOR_DEFINED_REQUEST, RCX = the frame's bytes",
    arrange: (m) => {
      const { s, st } = withStream(m);
      return {
        watch: [...pfnsOf(s.pages), ...pfnsOf(st.pages)],
        inputs: kmRegs(s, st, 1),
        out: () => ({ [REG.RCX]: frameBytes(m, s.channel.requestPage.pfn) }),
        after: () => expect(requestCode(m, s.channel.requestPage.pfn)).toBe(SPDM.VENDOR_DEFINED_REQUEST),
      };
    },
  },
  {
    leaf: "TDH.IDE.STREAM.KM",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    what: "every-unit interrupts: the re-issue takes one KEY_PROG answer, then is interrupted; inputs clobbered",
    machine: EVERY_UNIT,
    arrange: kmInterrupted,
  },
  {
    leaf: "TDH.IDE.STREAM.KM",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    effects: true,
    what: "forced with effects on the re-issue: one answer taken, interrupted at the next boundary",
    arrange: kmInterrupted,
  },
  {
    leaf: "TDH.IDE.STREAM.KM",
    status: "TDX_INVALID_RESUMPTION",
    operand: 0,
    what: "REFRESH in flight, re-issued as STOP; the call stays in flight",
    arrange: (m) => {
      const { s, st } = withStream(m);
      exchangeInFlight(m, "TDH.IDE.STREAM.KM", kmRegs(s, st, 1), s.channel);
      const slot = m.module.extSlot;
      return {
        watch: [...pfnsOf(s.pages), ...pfnsOf(st.pages)],
        inputs: kmRegs(s, st, 2),
        after: () => expect(m.module.extSlot).toBe(slot),
      };
    },
  },
  {
    leaf: "TDH.IDE.STREAM.KM",
    status: "TDX_OPERAND_BUSY",
    operand: RESOURCE_OPERAND.SYS,
    what: "a CONNECT in flight holds the extension slot",
    arrange: (m) => {
      const { s, st } = withStream(m);
      slotHeldByConnect(m);
      return { watch: [...pfnsOf(s.pages), ...pfnsOf(st.pages)], inputs: kmRegs(s, st, 1) };
    },
  },
  {
    leaf: "TDH.IDE.STREAM.KM",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RDX,
    what: "the stream of another session; the slot is free",
    arrange: (m) => {
      const { s, st } = withStream(m);
      const other = connectedSession(m, 1);
      return {
        watch: [...pfnsOf(s.pages), ...pfnsOf(st.pages)],
        inputs: { ...kmRegs(s, st, 1), [REG.RCX]: other.spdmId },
        after: slotFree(m),
      };
    },
  },
  kmRefused("TDX_OPERAND_INVALID", REG.R8, "operation 7", (_m, i) => {
    i[REG.R8] = v(7);
  }),
  kmRefused("TDX_OP_STATE_INCORRECT", REG.RDX, "SETUP of a keyed stream", (_m, i) => {
    i[REG.R8] = v(0);
  }),
  kmRefused(
    "TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH",
    0,
    "refresh knob 1, KM SETUP's messages since CONNECT",
    () => {},
    REFRESH_AFTER_1,
  ),
  kmRefused("TDX_OPERAND_INVALID", REG.R9, "a response page with a private KeyID", (m, i) => {
    i[REG.R9] = privateKeyId(m, i[REG.R9]!.lo + i[REG.R9]!.hi * 2 ** 32);
  }),
  kmRefused("TDX_OPERAND_INVALID", REG.R10, "request page = response page", (_m, i) => {
    i[REG.R10] = i[REG.R9]!;
  }),
];

/** Every SPDM/IDE row that needs a device; a row that names no machine runs on {@link connectMachine}. */
export const SPDM_IDE_ROWS: readonly Row[] = [
  ...CREATE,
  ...DELETE,
  ...CONNECT,
  ...DISCONNECT,
  ...MNG,
  ...STREAM_CREATE,
  ...BLOCK_DELETE,
  ...KM,
].map((r) => ({ machine: () => connectMachine(), ...r }));
