/**
 * SPDM sessions and IDE streams: each leaf's success and error paths with exact statuses, the wrong
 * hosts and the wrong module of issue "the page lists that come back", and whole bring-up/teardown runs
 * with interrupts and one-at-a-time fault injection.
 */
import { describe, expect, it } from "vitest";
import { decodeHpaArray, encodeHpaArray, encodeListEntry } from "../../src/common/formats.js";
import { LEAF, STATUS } from "../../src/common/status.js";
import { type U64, U64_ONES, u64FromNumber } from "../../src/common/u64.js";
import { extensionsBringUp } from "../../src/host/flows/extensions.js";
import { ideStreamSetup, ideStreamTeardown } from "../../src/host/flows/ide.js";
import { iommuSetupAll } from "../../src/host/flows/iommu.js";
import { spdmSessionConnect } from "../../src/host/flows/spdm.js";
import { platformTeardown, tdxConnectBringUp } from "../../src/host/flows/tdx-connect.js";
import { tdxPageArrayCreate } from "../../src/host/page-array.js";
import {
  ideStreamBlock,
  ideStreamDelete,
  MNG_OP,
  spdmConnect,
  spdmMng,
} from "../../src/host/seamcalls/index.js";
import { functionId, HOST_SPDM_CONF, selectiveStream, writeSpdmConf } from "../../src/host/spdm.js";
import { deviceInfoOf, doeWrap } from "../../src/hw/devices.js";
import { defaultPlatform, type Platform } from "../../src/hw/platform.js";
import type { Machine, MachineOptions } from "../../src/machine.js";
import { PT } from "../../src/module/index.js";
import { checkConservation } from "../../src/observe/conservation.js";
import { fullRun } from "../support/flows.js";
import { mngRegs } from "../support/leaf-fixtures.js";
import {
  call,
  hpa,
  machine,
  pages,
  platformWith,
  REG,
  rootWith,
  statusOf,
  want,
} from "../support/machine.js";

/** A machine on the default platform with a small extension pool, so whole runs stay fast. */
const mk = (opts: MachineOptions = {}, over: Partial<Platform["metadata"]> = {}) =>
  machine(opts, platformWith({ MEMORY_POOL_REQUIRED_PAGES: 512, ...over }));

/** An HPA_ARRAY_T of `n` fresh pages (singleton when 1). */
function array(m: Machine, n: number) {
  const ps = pages(m, n, "t");
  const operand =
    n === 1
      ? encodeHpaArray({ count: 1, pageHpa: ps[0]!.hpa })
      : encodeHpaArray({
          count: n,
          rootHpa: rootWith(
            m,
            ps.map((p) => encodeListEntry(p.hpa)),
          ),
        });
  return { operand, pages: ps };
}

const dev = (m: Machine, i = 0) => m.platform.devices![i]!;

function created(m: Machine, i = 0) {
  const a = array(m, m.platform.metadata.SPDM_MT_PAGE_COUNT);
  const r = call(m, "TDH.SPDM.CREATE", { [REG.RCX]: functionId(dev(m, i)), [REG.RDX]: a.operand });
  expect(statusOf(r)).toBe("TDX_SUCCESS");
  return { id: r.get(REG.RCX), ...a };
}

function connected(m: Machine, i = 0) {
  const c = spdmSessionConnect(m.kernel, dev(m, i));
  expect(c.result.ok).toBe(true);
  return c.session!;
}

/**
 * Message pages and a spdm_conf page for raw CONNECT calls (the register table: RDX = spdm_conf, R8 =
 * response page, R9 = request page).
 */
function msgRegs(m: Machine) {
  const [req, rsp, conf] = pages(m, 3, "msg");
  writeSpdmConf(m.kernel, conf!.pfn);
  return {
    req: req!,
    rsp: rsp!,
    regs: { [REG.RDX]: hpa(conf!.hpa), [REG.R8]: hpa(rsp!.hpa), [REG.R9]: hpa(req!.hpa) },
  };
}

describe("TDH.SPDM.CREATE", () => {
  it("claims SPDM_MT_PAGE_COUNT pages as PT_SPDM_MT of the new session; RCX = SPDM id", () => {
    const m = mk();
    const s = created(m);
    for (const p of s.pages) {
      expect(m.module.pamt.type(p.pfn)).toBe(PT.SPDM_MT);
      expect(m.module.pamt.owner(p.pfn)).toBe(s.id.lo);
    }
  });

  it.each([
    ["unknown device", { lo: 0x0100_0000 | 0x1234, hi: 0 }],
    ["reserved bit 25", { lo: 0x0200_0000 | 0x1700, hi: 0 }],
    ["high half", { lo: 0x1700, hi: 1 }],
  ])("%s → OPERAND_INVALID(RCX)", (_n, fid) => {
    const m = mk();
    const a = array(m, 8);
    expect(statusOf(call(m, "TDH.SPDM.CREATE", { [REG.RCX]: fid, [REG.RDX]: a.operand }))).toBe(
      want("TDX_OPERAND_INVALID", "RCX"),
    );
  });

  it("wrong page count → OPERAND_INVALID(RDX); a page not free → PAGE_METADATA_INCORRECT(RDX), rolled back", () => {
    const m = mk();
    const fid = functionId(dev(m));
    expect(statusOf(call(m, "TDH.SPDM.CREATE", { [REG.RCX]: fid, [REG.RDX]: array(m, 7).operand }))).toBe(
      want("TDX_OPERAND_INVALID", "RDX"),
    );
    const taken = created(m, 1);
    const ps = pages(m, 7, "t");
    const list = [...ps.map((p) => p.hpa), taken.pages[0]!.hpa];
    const op = encodeHpaArray({
      count: 8,
      rootHpa: rootWith(
        m,
        list.map((h) => encodeListEntry(h)),
      ),
    });
    expect(statusOf(call(m, "TDH.SPDM.CREATE", { [REG.RCX]: fid, [REG.RDX]: op }))).toBe(
      want("TDX_PAGE_METADATA_INCORRECT", "RDX"),
    );
    for (const p of ps) expect(m.module.pamt.type(p.pfn)).toBe(PT.NDA);
  });

  it("a second session for the same device → OP_STATE_INCORRECT(RCX)", () => {
    const m = mk();
    created(m);
    const r = call(m, "TDH.SPDM.CREATE", { [REG.RCX]: functionId(dev(m)), [REG.RDX]: array(m, 8).operand });
    expect(statusOf(r)).toBe(want("TDX_OP_STATE_INCORRECT", "RCX"));
  });
});

describe("TDH.SPDM.CONNECT and the exchange", () => {
  it("connects: device info read back equals the device's data; RCX = its length", () => {
    const m = mk();
    const s = connected(m);
    expect(s.deviceInfoBytes).toBe(deviceInfoOf(dev(m)).length);
    expect(m.module.objects.get(s.spdmId.lo)!.state).toBe("connected");
    expect(m.cache.hazards).toEqual([]);
  });

  it("returns TDX_SPDM_REQUEST with GET_VERSION (SPDM 1.0 header) in a DOE object in the request page", () => {
    const m = mk();
    const s = created(m);
    const msg = msgRegs(m);
    const info = array(m, 4);
    const r = call(m, "TDH.SPDM.CONNECT", { [REG.RCX]: s.id, ...msg.regs, [REG.R10]: info.operand });
    expect(statusOf(r)).toBe("TDX_SPDM_REQUEST");
    // A raw DOE frame, header included: vendor 1, type 1, length 3 DWs, then GET_VERSION (SPDM 1.0).
    const b = m.mem.page(msg.req.pfn);
    expect([...b.subarray(0, 12)]).toEqual([1, 0, 1, 0, 3, 0, 0, 0, 0x10, 0x84, 0, 0]);
    // Another extension call while this one is in flight → OPERAND_BUSY; different inputs → INVALID_RESUMPTION.
    expect(statusOf(call(m, "TDH.SPDM.MNG", { [REG.RCX]: s.id }))).toBe("TDX_OPERAND_BUSY(SYS)");
    expect(statusOf(call(m, "TDH.SPDM.CREATE", { [REG.RCX]: functionId(dev(m, 1)) }))).toBe(
      "TDX_OPERAND_BUSY(SYS)",
    );
    const other = call(m, "TDH.SPDM.CONNECT", { [REG.RCX]: s.id, ...msg.regs, [REG.R10]: U64_ONES });
    expect(statusOf(other)).toBe(want("TDX_INVALID_RESUMPTION"));
    // A response with the wrong code → OPERAND_INVALID(R8, CONNECT's response page), the slot is free again.
    m.mem.page(msg.rsp.pfn).set(doeWrap(new Uint8Array([0x10, 0x61, 0, 0])));
    const bad = call(m, "TDH.SPDM.CONNECT", { [REG.RCX]: s.id, ...msg.regs, [REG.R10]: info.operand });
    expect(statusOf(bad)).toBe(want("TDX_OPERAND_INVALID", "R8"));
    expect(m.module.extSlot).toBeNull();
    expect(m.module.objects.get(s.id.lo)!.state).toBe("created");
  });

  it.each([
    ["unknown session", "RCX"],
    ["spdm_conf page with a private KeyID", "RDX"],
    ["spdm_conf with certificate_slot_mask 0", "RDX"],
    ["spdm_conf with raw_bitstream_requested 2", "RDX"],
    ["response page with a private KeyID", "R8"],
    ["request page = response page", "R9"],
    ["device-info buffer of 3 pages", "R10"],
  ] as const)("%s → OPERAND_INVALID(%s)", (name, reg) => {
    const m = mk();
    const s = created(m);
    const msg = msgRegs(m);
    const inputs = { [REG.RCX]: s.id, ...msg.regs, [REG.R10]: array(m, 4).operand };
    const conf = m.mem.page(inputs[REG.RDX]!.lo / 4096 + inputs[REG.RDX]!.hi * 2 ** 20);
    if (name === "unknown session") inputs[REG.RCX] = u64FromNumber(999);
    if (name.includes("private KeyID")) {
      const v = inputs[REG[reg]]!;
      inputs[REG[reg]] = hpa(v.lo + v.hi * 2 ** 32 + 49 * 2 ** 46);
    }
    if (name.includes("slot_mask")) conf[5] = 0;
    if (name.includes("raw_bitstream")) conf[6] = 2;
    if (reg === "R9") inputs[REG.R9] = inputs[REG.R8]!;
    if (reg === "R10") inputs[REG.R10] = array(m, 3).operand;
    expect(statusOf(call(m, "TDH.SPDM.CONNECT", inputs))).toBe(want("TDX_OPERAND_INVALID", reg));
  });

  it("an already connected session → OP_STATE_INCORRECT(RCX)", () => {
    const m = mk();
    const s = connected(m);
    const r = call(m, "TDH.SPDM.CONNECT", {
      [REG.RCX]: s.spdmId,
      ...msgRegs(m).regs,
      [REG.R10]: array(m, 4).operand,
    });
    expect(statusOf(r)).toBe(want("TDX_OP_STATE_INCORRECT", "RCX"));
  });
});

describe("TDH.SPDM.MNG / DISCONNECT", () => {
  it("heartbeat and recollection (into a buffer, equal to the device's data)", () => {
    const m = mk();
    const s = connected(m);
    expect(statusOf(spdmMng(m.kernel, s.channel, s.spdmId, MNG_OP.HEARTBEAT).regs)).toBe("TDX_SUCCESS");
    const buf = pages(m, 4, "buf");
    const a = tdxPageArrayCreate(m.kernel, buf, 4)!;
    const r = spdmMng(m.kernel, s.channel, s.spdmId, MNG_OP.RECOLLECT, a);
    expect(statusOf(r.regs)).toBe("TDX_SUCCESS");
    const want0 = deviceInfoOf(dev(m));
    expect(r.regs.lo(REG.RCX)).toBe(want0.length);
    expect([...m.mem.page(buf[0]!.pfn).subarray(0, 64)]).toEqual([...want0.subarray(0, 64)]);
  });

  it("bad operation → OPERAND_INVALID(RDX); bad param / output → R8 / R11; not connected → OP_STATE_INCORRECT(RCX)", () => {
    const m = mk();
    const s = connected(m);
    expect(statusOf(call(m, "TDH.SPDM.MNG", mngRegs(s, 3)))).toBe(want("TDX_OPERAND_INVALID", "RDX"));
    expect(statusOf(call(m, "TDH.SPDM.MNG", { ...mngRegs(s, 0), [REG.R8]: hpa(0x1234) }))).toBe(
      want("TDX_OPERAND_INVALID", "R8"),
    );
    expect(statusOf(call(m, "TDH.SPDM.MNG", { ...mngRegs(s, 2), [REG.R11]: array(m, 3).operand }))).toBe(
      want("TDX_OPERAND_INVALID", "R11"),
    );
    const c = created(m, 1);
    expect(statusOf(call(m, "TDH.SPDM.MNG", { ...mngRegs(s, 0), [REG.RCX]: c.id }))).toBe(
      want("TDX_OP_STATE_INCORRECT", "RCX"),
    );
    expect(statusOf(call(m, "TDH.SPDM.DISCONNECT", { [REG.RCX]: c.id }))).toBe(
      want("TDX_OP_STATE_INCORRECT", "RCX"),
    );
  });

  it("spdm_conf is honoured: no HBEAT → heartbeat refused, no KEY_UPD → key update refused and no refresh asked", () => {
    const m = mk({ behaviours: { spdmKeyRefreshAfter: 1 } });
    const s = created(m);
    const msg = msgRegs(m);
    const confPfn = msg.regs[REG.RDX].lo / 4096;
    writeSpdmConf(m.kernel, confPfn, { ...HOST_SPDM_CONF, vmmSpdmCap: 0 });
    const ch = {
      device: dev(m),
      requestPage: msg.req,
      responsePage: msg.rsp,
      confPage: m.alloc.pfnToPage(confPfn),
    };
    const info = tdxPageArrayCreate(m.kernel, pages(m, 4, "i"), 4)!;
    expect(statusOf(spdmConnect(m.kernel, ch, s.id, info).regs)).toBe("TDX_SUCCESS");
    // The GET_CAPABILITIES request carried the host's (empty) vmm_spdm_cap as its flags.
    const ss = { spdmId: s.id, channel: ch };
    expect(statusOf(call(m, "TDH.SPDM.MNG", mngRegs(ss, 0)))).toBe(want("TDX_OPERAND_INVALID", "RDX"));
    expect(statusOf(call(m, "TDH.SPDM.MNG", mngRegs(ss, 1)))).toBe(want("TDX_OPERAND_INVALID", "RDX"));
    // The refresh knob is past its count, but KEY_UPD was not granted: RECOLLECT runs without a refresh.
    expect(statusOf(call(m, "TDH.SPDM.MNG", mngRegs(ss, 2)))).toBe("TDX_SPDM_REQUEST");
  });

  it("key refresh knob: SESSION_KEY_REQUIRE_REFRESH until MNG KEY_UPDATE; the host wrapper does it", () => {
    const m = mk({ behaviours: { spdmKeyRefreshAfter: 5 } });
    const s = connected(m);
    // CONNECT resets the count; five heartbeats (one message each) reach it.
    for (let i = 0; i < 5; i++)
      expect(spdmMng(m.kernel, s.channel, s.spdmId, MNG_OP.HEARTBEAT).keyUpdates).toBe(0);
    expect(statusOf(call(m, "TDH.SPDM.MNG", mngRegs(s, 0)))).toBe(
      want("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH"),
    );
    const r = spdmMng(m.kernel, s.channel, s.spdmId, MNG_OP.HEARTBEAT);
    expect(statusOf(r.regs)).toBe("TDX_SUCCESS");
    expect(r.keyUpdates).toBe(1);
  });
});

describe("TDH.SPDM.DELETE", () => {
  it("releases every page, writes the list into the RDX page, RCX = HPA_ARRAY_T of it", () => {
    const m = mk();
    const s = created(m);
    const listPage = pages(m, 1, "list")[0]!;
    const r = call(m, "TDH.SPDM.DELETE", { [REG.RCX]: s.id, [REG.RDX]: hpa(listPage.hpa) });
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    const out = decodeHpaArray(r.lo(REG.RCX), r.hi(REG.RCX)).fields;
    expect(out).toMatchObject({ count: 8, rootHpa: listPage.hpa });
    const w = m.mem.words(listPage.pfn);
    s.pages.forEach((p, i) => {
      expect(w[2 * i]! + w[2 * i + 1]! * 2 ** 32).toBe(p.hpa);
      expect(m.module.pamt.type(p.pfn)).toBe(PT.NDA);
    });
  });

  it("release input 0 for an 8-page session → OPERAND_INVALID(RDX); unknown id → OPERAND_INVALID(RCX)", () => {
    const m = mk();
    const s = created(m);
    expect(statusOf(call(m, "TDH.SPDM.DELETE", { [REG.RCX]: s.id, [REG.RDX]: hpa(0) }))).toBe(
      want("TDX_OPERAND_INVALID", "RDX"),
    );
    expect(statusOf(call(m, "TDH.SPDM.DELETE", { [REG.RCX]: u64FromNumber(77) }))).toBe(
      want("TDX_OPERAND_INVALID", "RCX"),
    );
  });

  it("a connected session, or one with a stream → OP_STATE_INCORRECT(RCX)", () => {
    const m = mk();
    const s = connected(m);
    const del = () => call(m, "TDH.SPDM.DELETE", { [REG.RCX]: s.spdmId, [REG.RDX]: hpa(s.array.rootHpa) });
    expect(statusOf(del())).toBe(want("TDX_OP_STATE_INCORRECT", "RCX"));
    expect(ideStreamSetup(m.kernel, s, m.platform.rootPorts!, 0).result.ok).toBe(true);
    expect(statusOf(del())).toBe(want("TDX_OP_STATE_INCORRECT", "RCX"));
  });

  it("singleton rule: root PA for a 1-page session → OPERAND_INVALID(RDX) strict; accepted when relaxed", () => {
    for (const strict of [true, false]) {
      const m = mk({ behaviours: { releaseSingletonStrict: strict } }, { SPDM_MT_PAGE_COUNT: 1 });
      const s = created(m);
      expect(decodeHpaArray(s.operand.lo, s.operand.hi).fields.singleton).toBe(true);
      const root = pages(m, 1, "root")[0]!;
      const r = call(m, "TDH.SPDM.DELETE", { [REG.RCX]: s.id, [REG.RDX]: hpa(root.hpa) });
      expect(statusOf(r)).toBe(strict ? want("TDX_OPERAND_INVALID", "RDX") : "TDX_SUCCESS");
      if (!strict) expect(r.get(REG.RCX)).toEqual(encodeHpaArray({ count: 1, pageHpa: s.pages[0]!.hpa }));
      const z = call(m, "TDH.SPDM.DELETE", { [REG.RCX]: s.id, [REG.RDX]: hpa(0) });
      expect(statusOf(z)).toBe(strict ? "TDX_SUCCESS" : want("TDX_OPERAND_INVALID", "RCX"));
    }
  });
});

describe("IDE stream leaves", () => {
  const PORTS = () => defaultPlatform().rootPorts!;

  it("CREATE → PT_IDE_MT, RDX = root-port IDE id; KM SETUP → keyed; STOP; BLOCK; DELETE frees it", () => {
    const m = mk();
    const s = connected(m);
    const st = ideStreamSetup(m.kernel, s, PORTS(), 0);
    expect(st.result.ok).toBe(true);
    expect(st.stream!.slot).toBe(0);
    const id = st.stream!.streamId;
    for (const p of st.stream!.pages) expect(m.module.pamt.type(p.pfn)).toBe(PT.IDE_MT);
    expect(m.module.objects.get(id.lo)!.state).toBe("keyed");
    // A second stream of the same port gets the next register block.
    const st2 = ideStreamSetup(m.kernel, s, PORTS(), 0);
    expect(st2.stream!.slot).toBe(1);
    expect(ideStreamTeardown(m.kernel, st.stream!).ok).toBe(true);
    for (const p of st.stream!.pages) expect(m.module.pamt.type(p.pfn)).toBe(PT.NDA);
    expect(ideStreamSetup(m.kernel, s, PORTS(), 0).stream!.slot).toBe(0);
  });

  it("CREATE errors, each on its register: stream_info, SPDM id, page count, stream_ctrl, associations, no free block", () => {
    const m = mk();
    const s = connected(m);
    const c = created(m, 1);
    const d = dev(m);
    const good = selectiveStream(d, PORTS()[0]!.devfn!);
    const regs = (over: Record<number, U64> = {}, n = 4) => ({
      [REG.RCX]: u64FromNumber(good.streamInfo),
      [REG.RDX]: s.spdmId,
      [REG.R8]: array(m, n).operand,
      [REG.R9]: u64FromNumber(good.streamCtrl),
      [REG.R10]: u64FromNumber(good.rid[0]),
      [REG.R11]: u64FromNumber(good.rid[1]),
      [REG.R12]: u64FromNumber(0),
      [REG.R13]: u64FromNumber(0),
      [REG.R14]: u64FromNumber(0),
      ...over,
    });
    const create = (over: Record<number, U64> = {}, n = 4) =>
      statusOf(call(m, "TDH.IDE.STREAM.CREATE", regs(over, n)));
    const v = u64FromNumber;
    expect(create({ [REG.RDX]: c.id })).toBe(want("TDX_OP_STATE_INCORRECT", "RDX"));
    expect(create({ [REG.RDX]: v(99) })).toBe(want("TDX_OPERAND_INVALID", "RDX"));
    expect(create({ [REG.RCX]: v(PORTS()[1]!.devfn! | 0x100) })).toBe(want("TDX_OPERAND_INVALID", "RCX"));
    expect(create({ [REG.RCX]: v(good.streamInfo | 0x200) })).toBe(want("TDX_OPERAND_INVALID", "RCX"));
    expect(create({ [REG.R9]: v(1) })).toBe(want("TDX_OPERAND_INVALID", "R9"));
    expect(create({ [REG.R9]: { lo: 0, hi: 1 } })).toBe(want("TDX_OPERAND_INVALID", "R9"));
    expect(create({ [REG.R10]: v(good.rid[0] | 0xff) })).toBe(want("TDX_OPERAND_INVALID", "R10"));
    expect(create({ [REG.R11]: v(good.rid[1] & ~1) })).toBe(want("TDX_OPERAND_INVALID", "R11"));
    // A RID range that does not hold the device.
    expect(
      create({ [REG.R11]: v(1 | ((d.requesterId + 1) << 8)), [REG.R10]: v((d.requesterId + 2) << 8) }),
    ).toBe(want("TDX_OPERAND_INVALID", "R11"));
    expect(create({ [REG.R12]: v(0x100) })).toBe(want("TDX_OPERAND_INVALID", "R12"));
    expect(create({ [REG.R13]: v(5) })).toBe(want("TDX_OPERAND_INVALID", "R13"));
    // An address association with base above limit.
    expect(create({ [REG.R12]: v(1 | (0x200 << 8) | (0x100 << 20)) })).toBe(
      want("TDX_OPERAND_INVALID", "R12"),
    );
    // A link stream has no associations.
    expect(create({ [REG.RCX]: v(PORTS()[0]!.devfn!) })).toBe(want("TDX_OPERAND_INVALID", "R10"));
    expect(create({}, 3)).toBe(want("TDX_OPERAND_INVALID", "R8"));
    // A valid address association is accepted (and recorded); the port's 4 blocks fill up.
    expect(create({ [REG.R12]: v(1 | (0x100 << 8) | (0x1ff << 20)), [REG.R13]: v(0), [REG.R14]: v(0) })).toBe(
      "TDX_SUCCESS",
    );
    for (let i = 1; i < 4; i++) expect(create()).toBe("TDX_SUCCESS");
    expect(create()).toBe(want("TDX_OP_STATE_INCORRECT", "RCX"));
  });

  it("KM / BLOCK / DELETE: stream of the named session only, operation in R8, state rules on RDX", () => {
    const m = mk();
    const s = connected(m);
    const st = ideStreamSetup(m.kernel, s, PORTS(), 0).stream!;
    const other = connected(m, 2);
    const km = (op: number, sid: U64 = s.spdmId) =>
      statusOf(
        call(m, "TDH.IDE.STREAM.KM", {
          [REG.RCX]: sid,
          [REG.RDX]: st.streamId,
          [REG.R8]: u64FromNumber(op),
          [REG.R9]: hpa(s.channel.responsePage.hpa),
          [REG.R10]: hpa(s.channel.requestPage.hpa),
        }),
      );
    expect(km(0)).toBe(want("TDX_OP_STATE_INCORRECT", "RDX"));
    expect(km(7)).toBe(want("TDX_OPERAND_INVALID", "R8"));
    expect(km(1, other.spdmId)).toBe(want("TDX_OPERAND_INVALID", "RDX"));
    expect(km(1, u64FromNumber(4242))).toBe(want("TDX_OPERAND_INVALID", "RCX"));
    expect(km(1)).toBe("TDX_SPDM_REQUEST"); // REFRESH from keyed starts an exchange
    const block = (sid: U64, id: U64) =>
      statusOf(call(m, "TDH.IDE.STREAM.BLOCK", { [REG.RCX]: sid, [REG.RDX]: id }));
    expect(block(s.spdmId, u64FromNumber(5000))).toBe(want("TDX_OPERAND_INVALID", "RDX"));
    expect(block(other.spdmId, st.streamId)).toBe(want("TDX_OPERAND_INVALID", "RDX"));
  });

  it("BLOCK of a keyed stream (its KM STOP failed) is allowed; a second BLOCK → OP_STATE_INCORRECT(RDX)", () => {
    const m = mk();
    const s = connected(m);
    const st = ideStreamSetup(m.kernel, s, PORTS(), 0).stream!;
    expect(m.module.objects.get(st.streamId.lo)!.state).toBe("keyed");
    expect(statusOf(ideStreamBlock(m.kernel, s.spdmId, st.streamId).regs)).toBe("TDX_SUCCESS");
    expect(statusOf(ideStreamBlock(m.kernel, s.spdmId, st.streamId).regs)).toBe(
      want("TDX_OP_STATE_INCORRECT", "RDX"),
    );
  });

  it("wrong host: DELETE before BLOCK → OP_STATE_INCORRECT(RDX), nothing released", () => {
    const m = mk();
    const s = connected(m);
    const st = ideStreamSetup(m.kernel, s, PORTS(), 0).stream!;
    const r = ideStreamDelete(m.kernel, s.spdmId, st.streamId, st.array);
    expect(statusOf(r.regs)).toBe(want("TDX_OP_STATE_INCORRECT", "RDX"));
    for (const p of st.pages) expect(m.module.pamt.type(p.pfn)).toBe(PT.IDE_MT);
  });
});

describe("wrong hosts and the wrong module, caught", () => {
  it("device-info buffer handed over in the session's own (private) pages → report, hazard; rejected when strict", () => {
    const m = mk({ policy: { devInfoInMetadata: true } });
    const c = spdmSessionConnect(m.kernel, dev(m));
    expect(m.module.reports.filter((r) => r.kind === "module-owned-shared-page").length).toBe(4);
    expect(m.module.reports[0]!.cause).toMatch(/^TDH\.SPDM\.CONNECT #\d+$/);
    expect(m.cache.hazards.filter((h) => h.kind === "host-access-to-private").length).toBe(4);
    expect(c.result.ok).toBe(true);
    const strict = mk({
      policy: { devInfoInMetadata: true },
      behaviours: { moduleOwnedSharedPage: "reject" },
    });
    const r = spdmSessionConnect(strict.kernel, dev(strict));
    expect(r.result.failedStatus).toBe("TDX_OPERAND_INVALID(R10)");
    expect(checkConservation(strict).violations).toEqual([]);
  });

  it("create wrappers forget the flush flag → destroy skips the write-back → private lines on host pages", () => {
    const m = mk({ policy: { forgetFlushFlag: true } });
    const r = fullRun(m);
    expect(r.down.ok).toBe(true);
    const h = m.cache.hazards.filter((x) => x.kind === "private-lines-on-host-page");
    expect(h.length).toBe(3 * (8 + 4));
    expect(h[0]!.keyIds).toEqual([m.platform.keyIds.global]);
  });

  it("deleteOmitsOnePage: release check reports it, conservation flags it, WBINVD fails and strands the page", () => {
    const m = mk({ behaviours: { deleteOmitsOnePage: true } });
    const r = fullRun(m);
    const short = m.module.reports.filter((x) => x.kind === "release-list-short");
    expect(short.length).toBe(6); // 3 streams + 3 sessions
    expect(short[0]!.cause).toBe("host release check");
    expect(r.down.ok).toBe(false);
    // checkConservation: each kept page belongs to an object the module dropped.
    expect(r.end.violations.length).toBe(6);
    expect(r.end.violations.every((v) => /which the module no longer has/.test(v))).toBe(true);
    expect(r.end.totals.stranded).toBe(6);
    for (const p of m.kernel.ledger.stranded.keys()) expect(m.module.pamt.isPrivate(p)).toBe(true);
  });

  it("deleteOmitsOnePage with a host that frees before the write-back → conservation flags the kept pages", () => {
    const m = mk({ behaviours: { deleteOmitsOnePage: true }, policy: { freeBeforeWriteBack: true } });
    const r = fullRun(m);
    expect(r.end.ok).toBe(false);
    expect(r.end.violations.filter((v) => /but free in the host allocator/.test(v)).length).toBe(6);
  });
});

describe("full bring-up and teardown of every device", () => {
  it.each([
    ["no interrupts", { kind: "none" } as const],
    ["every 1 unit", { kind: "every", k: 1 } as const],
    ["every 2 units", { kind: "every", k: 2 } as const],
    ["every 3 units", { kind: "every", k: 3 } as const],
  ])("%s: sessions, streams, conservation, no hazard", (_n, interrupts) => {
    const m = mk({ interrupts });
    const r = fullRun(m);
    expect(r.up.result.ok).toBe(true);
    expect(r.up.result.details).toMatchObject({ sessions: 3, streams: 3 });
    expect(r.afterUp.violations).toEqual([]);
    expect(r.afterUp.byObject["spdm gpu0"]).toBe(8);
    expect(r.down.ok).toBe(true);
    expect(r.end.violations).toEqual([]);
    expect(r.end.totals).toMatchObject({ moduleOwned: 512, hostHeld: 0, stranded: 0 });
    expect(m.cache.hazards).toEqual([]);
    expect(m.module.reports).toEqual([]);
    if (interrupts.kind === "every" && interrupts.k === 1) expect(r.up.result.interrupts).toBeGreaterThan(0);
    expect(m.cache.evictNow()).toBe(0);
  });

  describe("fault injection, one at a time", () => {
    const clean = mk();
    extensionsBringUp(clean.kernel);
    iommuSetupAll(clean.kernel, clean.platform.iommus);
    const allocBase = clean.alloc.allocCount;
    const base = new Map(clean.module.callsByLeaf);
    const up = tdxConnectBringUp(clean.kernel, clean.platform.devices!, clean.platform.rootPorts!);
    platformTeardown(clean.kernel, { connect: up.built, iommus: [] });
    const allocEnd = clean.alloc.allocCount;
    const spdmLeaves = [
      "TDH.SPDM.CREATE",
      "TDH.SPDM.CONNECT",
      "TDH.SPDM.DISCONNECT",
      "TDH.SPDM.DELETE",
      "TDH.IDE.STREAM.CREATE",
      "TDH.IDE.STREAM.KM",
      "TDH.IDE.STREAM.BLOCK",
      "TDH.IDE.STREAM.DELETE",
    ] as const;

    it("every SPDM/IDE call failing in turn: stranded pages reported, the rest conserved", () => {
      let points = 0;
      let stranded = 0;
      for (const name of spdmLeaves) {
        const leaf = LEAF[name];
        const count = (clean.module.callsByLeaf.get(leaf) ?? 0) - (base.get(leaf) ?? 0);
        expect(count, name).toBeGreaterThan(0);
        for (let nth = 1; nth <= count; nth++) {
          const m = mk();
          m.module.forceStatus({ leaf, nth, status: { lo: 1, hi: STATUS.TDX_OPERAND_INVALID.hi } });
          const r = fullRun(m);
          points++;
          // The kernel ignores a failed KM STOP (BLOCK and DELETE still run): that run ends clean.
          const ignored =
            m.module.reports.length === 0 && r.end.totals.stranded === 0 && name === "TDH.IDE.STREAM.KM";
          if (!ignored) expect(r.up.result.ok && r.down.ok, `${name} call ${nth}`).toBe(false);
          expect(r.end.violations, `${name} call ${nth}`).toEqual([]);
          expect(m.cache.hazards, `${name} call ${nth}`).toEqual([]);
          expect(r.end.totals.stranded).toBe(
            m.kernel.ledger.strandReports.reduce((s, x) => s + x.pfns.length, 0),
          );
          stranded += r.end.totals.stranded;
        }
      }
      expect(points).toBeGreaterThan(30);
      expect(stranded).toBeGreaterThan(0);
    });

    it("every allocation of the TDX Connect flows failing in turn: conservation holds, no hazard", () => {
      expect(allocEnd - allocBase).toBeGreaterThan(3 * 15);
      for (let n = allocBase + 1; n <= allocEnd; n++) {
        const m = mk();
        m.alloc.failNth(n);
        const r = fullRun(m);
        expect(r.up.result.ok, `allocation ${n}`).toBe(false);
        expect(r.end.violations, `allocation ${n}`).toEqual([]);
        expect(m.cache.hazards, `allocation ${n}`).toEqual([]);
      }
    });
  });
});
