/**
 * The pinned register table of the SPDM and IDE leaves (docs/spec/03-module.md 3.3, "Registers of the
 * SPDM and IDE leaves"): every leaf is issued by a SEAMCALL built by hand from the table, not through the
 * host wrappers, and the DOE forwarding is done here by hand as well, so a change on both sides of the
 * model at once cannot hide a layout that differs from the kernel's. A call whose request and response
 * registers are swapped must fail with TDX_OPERAND_INVALID on the table's response register.
 */
import { describe, expect, it } from "vitest";
import { encodeHpaArray, encodeListEntry } from "../../src/common/formats.js";
import type { Regs } from "../../src/common/seamcall.js";
import { STATUS } from "../../src/common/status.js";
import { type U64, U64_ONES, u64FromNumber } from "../../src/common/u64.js";
import { functionId } from "../../src/host/spdm.js";
import { deviceInfoOf, doeExchange, get32 } from "../../src/hw/devices.js";
import { defaultPlatform } from "../../src/hw/platform.js";
import type { Machine } from "../../src/machine.js";
import { call, hpa, machine, pages, REG, rootWith, statusOf, want } from "../support/machine.js";

const m0 = () => {
  const p = defaultPlatform();
  return machine({}, { ...p, metadata: { ...p.metadata, MEMORY_POOL_REQUIRED_PAGES: 512 } });
};

/** An HPA_ARRAY_T of `n` fresh pages. */
function arrayOf(m: Machine, n: number): U64 {
  const ps = pages(m, n, "t");
  if (n === 1) return encodeHpaArray({ count: 1, pageHpa: ps[0]!.hpa });
  const rootHpa = rootWith(
    m,
    ps.map((p) => encodeListEntry(p.hpa)),
  );
  return encodeHpaArray({ count: n, rootHpa });
}

/** The two message pages and a spdm_conf page (vmm_spdm_cap HBEAT | KEY_UPD, slot mask 0xff). */
function hostPages(m: Machine) {
  const [req, rsp, conf] = pages(m, 3, "msg");
  const c = m.mem.page(conf!.pfn);
  c.fill(0);
  const cap = (1 << 13) | (1 << 14);
  c[0] = cap & 0xff;
  c[1] = (cap >>> 8) & 0xff;
  c[5] = 0xff;
  return { req: req!, rsp: rsp!, conf: conf! };
}

/**
 * Issues `leaf` with `inputs` until it is no longer TDX_SPDM_REQUEST, forwarding by hand: the DOE frame
 * in `reqPfn` (length from its DW1) goes to the device's mailbox and the answer into `rspPfn`.
 */
function exchange(
  m: Machine,
  leaf: Parameters<typeof call>[1],
  inputs: Record<number, U64>,
  reqPfn: number,
  rspPfn: number,
  checkLength = true,
): Regs {
  const d = m.platform.devices![0]!;
  for (let n = 0; n < 200; n++) {
    const r = call(m, leaf, inputs);
    if (r.get(REG.RAX).hi !== STATUS.TDX_SPDM_REQUEST.hi) return r;
    // RCX out: the request length, the whole DOE frame the module wrote (DW1 counts DWs, header
    // included); the host forwards that many bytes of its request page.
    const req = m.mem.page(reqPfn);
    if (checkLength && r.lo(REG.RCX) !== (get32(req, 4) & 0x3_ffff) * 4)
      throw new Error(`RCX ${r.lo(REG.RCX)} is not the request frame's length`);
    const answer = doeExchange(d, req.slice(0, r.lo(REG.RCX)));
    const rsp = m.mem.page(rspPfn);
    rsp.fill(0);
    rsp.set(answer.subarray(0, 4096));
  }
  throw new Error("exchange did not end");
}

const ONES = U64_ONES;
const n = (v: number) => u64FromNumber(v);

/** A created and connected session, built by hand from the table. */
function session(m: Machine) {
  const d = m.platform.devices![0]!;
  const md = m.platform.metadata;
  const c = call(m, "TDH.SPDM.CREATE", {
    [REG.RCX]: functionId(d),
    [REG.RDX]: arrayOf(m, md.SPDM_MT_PAGE_COUNT),
  });
  expect(statusOf(c)).toBe("TDX_SUCCESS");
  const id = c.get(REG.RCX);
  const p = hostPages(m);
  const info = arrayOf(m, md.SPDM_MAX_DEV_INFO_PAGES);
  const connectIn = {
    [REG.RCX]: id,
    [REG.RDX]: hpa(p.conf.hpa),
    [REG.R8]: hpa(p.rsp.hpa),
    [REG.R9]: hpa(p.req.hpa),
    [REG.R10]: info,
  };
  return { d, id, p, connectIn };
}

/** stream_info, the RID associations and stream_ctrl for a selective stream of device 0. */
function streamInputs(m: Machine, id: U64): Record<number, U64> {
  const d = m.platform.devices![0]!;
  const port = m.platform.rootPorts!.find((r) => r.name === d.rootPort)!;
  return {
    [REG.RCX]: n((port.devfn ?? 0) | (1 << 8)),
    [REG.RDX]: id,
    [REG.R8]: arrayOf(m, m.platform.metadata.IDE_MT_PAGE_COUNT),
    [REG.R9]: n(0),
    [REG.R10]: n(d.requesterId << 8),
    [REG.R11]: n((1 | (d.requesterId << 8) | (d.segment << 24)) >>> 0),
    [REG.R12]: n(0),
    [REG.R13]: n(0),
    [REG.R14]: n(0),
  };
}

describe("SPDM/IDE register table, by hand-built SEAMCALLs", () => {
  it("every leaf succeeds with the table's registers", () => {
    const m = m0();
    const s = session(m);
    const { req, rsp } = s.p;
    const con = exchange(m, "TDH.SPDM.CONNECT", s.connectIn, req.pfn, rsp.pfn);
    expect(statusOf(con)).toBe("TDX_SUCCESS");
    expect(con.lo(REG.RCX)).toBe(deviceInfoOf(s.d).length);

    // MNG: RCX id, RDX op, R8 param page or -1, R9 response, R10 request, R11 output or -1.
    for (const op of [0, 1]) {
      const r = exchange(
        m,
        "TDH.SPDM.MNG",
        {
          [REG.RCX]: s.id,
          [REG.RDX]: n(op),
          [REG.R8]: ONES,
          [REG.R9]: hpa(rsp.hpa),
          [REG.R10]: hpa(req.hpa),
          [REG.R11]: ONES,
        },
        req.pfn,
        rsp.pfn,
      );
      expect(statusOf(r)).toBe("TDX_SUCCESS");
    }
    const out = arrayOf(m, m.platform.metadata.SPDM_MAX_DEV_INFO_PAGES);
    const rec = exchange(
      m,
      "TDH.SPDM.MNG",
      {
        [REG.RCX]: s.id,
        [REG.RDX]: n(2),
        [REG.R8]: ONES,
        [REG.R9]: hpa(rsp.hpa),
        [REG.R10]: hpa(req.hpa),
        [REG.R11]: out,
      },
      req.pfn,
      rsp.pfn,
    );
    expect(statusOf(rec)).toBe("TDX_SUCCESS");
    expect(rec.lo(REG.RCX)).toBe(deviceInfoOf(s.d).length);

    // IDE.STREAM.CREATE: out RCX = stream id, RDX = root-port IDE id (the first free one: 0).
    const c = call(m, "TDH.IDE.STREAM.CREATE", streamInputs(m, s.id));
    expect(statusOf(c)).toBe("TDX_SUCCESS");
    const stream = c.get(REG.RCX);
    expect(c.get(REG.RDX)).toEqual(n(0));

    // KM: RCX id, RDX stream, R8 op, R9 response, R10 request.
    const km = (op: number) =>
      exchange(
        m,
        "TDH.IDE.STREAM.KM",
        {
          [REG.RCX]: s.id,
          [REG.RDX]: stream,
          [REG.R8]: n(op),
          [REG.R9]: hpa(rsp.hpa),
          [REG.R10]: hpa(req.hpa),
        },
        req.pfn,
        rsp.pfn,
      );
    expect(statusOf(km(0))).toBe("TDX_SUCCESS");
    expect(statusOf(km(2))).toBe("TDX_SUCCESS");
    // BLOCK: RCX id, RDX stream. DELETE: the same, R8 release input.
    expect(statusOf(call(m, "TDH.IDE.STREAM.BLOCK", { [REG.RCX]: s.id, [REG.RDX]: stream }))).toBe(
      "TDX_SUCCESS",
    );
    const list = pages(m, 1, "list")[0]!;
    const del = call(m, "TDH.IDE.STREAM.DELETE", {
      [REG.RCX]: s.id,
      [REG.RDX]: stream,
      [REG.R8]: hpa(list.hpa),
    });
    expect(statusOf(del)).toBe("TDX_SUCCESS");
    expect(del.get(REG.RCX)).toEqual(
      encodeHpaArray({ count: m.platform.metadata.IDE_MT_PAGE_COUNT, rootHpa: list.hpa }),
    );

    // DISCONNECT: RCX id, RDX response, R8 request.
    const dis = exchange(
      m,
      "TDH.SPDM.DISCONNECT",
      { [REG.RCX]: s.id, [REG.RDX]: hpa(rsp.hpa), [REG.R8]: hpa(req.hpa) },
      req.pfn,
      rsp.pfn,
    );
    expect(statusOf(dis)).toBe("TDX_SUCCESS");
    const list2 = pages(m, 1, "list")[0]!;
    expect(statusOf(call(m, "TDH.SPDM.DELETE", { [REG.RCX]: s.id, [REG.RDX]: hpa(list2.hpa) }))).toBe(
      "TDX_SUCCESS",
    );
  });

  it("request and response registers swapped → TDX_OPERAND_INVALID on the table's response register", () => {
    const m = m0();
    const s = session(m);
    const { req, rsp } = s.p;
    // CONNECT with R8 (response) and R9 (request) swapped.
    const bad = exchange(
      m,
      "TDH.SPDM.CONNECT",
      { ...s.connectIn, [REG.R8]: hpa(req.hpa), [REG.R9]: hpa(rsp.hpa) },
      req.pfn,
      rsp.pfn,
      false,
    );
    expect(statusOf(bad)).toBe(want("TDX_OPERAND_INVALID", "R8"));
    expect(statusOf(exchange(m, "TDH.SPDM.CONNECT", s.connectIn, req.pfn, rsp.pfn))).toBe("TDX_SUCCESS");

    const mng = exchange(
      m,
      "TDH.SPDM.MNG",
      {
        [REG.RCX]: s.id,
        [REG.RDX]: n(0),
        [REG.R8]: ONES,
        [REG.R9]: hpa(req.hpa),
        [REG.R10]: hpa(rsp.hpa),
        [REG.R11]: ONES,
      },
      req.pfn,
      rsp.pfn,
      false,
    );
    expect(statusOf(mng)).toBe(want("TDX_OPERAND_INVALID", "R9"));

    const c = call(m, "TDH.IDE.STREAM.CREATE", streamInputs(m, s.id));
    expect(statusOf(c)).toBe("TDX_SUCCESS");
    const km = exchange(
      m,
      "TDH.IDE.STREAM.KM",
      {
        [REG.RCX]: s.id,
        [REG.RDX]: c.get(REG.RCX),
        [REG.R8]: n(0),
        [REG.R9]: hpa(req.hpa),
        [REG.R10]: hpa(rsp.hpa),
      },
      req.pfn,
      rsp.pfn,
      false,
    );
    expect(statusOf(km)).toBe(want("TDX_OPERAND_INVALID", "R9"));
    expect(statusOf(call(m, "TDH.IDE.STREAM.BLOCK", { [REG.RCX]: s.id, [REG.RDX]: c.get(REG.RCX) }))).toBe(
      "TDX_SUCCESS",
    );
    const list = pages(m, 1, "list")[0]!;
    expect(
      statusOf(
        call(m, "TDH.IDE.STREAM.DELETE", {
          [REG.RCX]: s.id,
          [REG.RDX]: c.get(REG.RCX),
          [REG.R8]: hpa(list.hpa),
        }),
      ),
    ).toBe("TDX_SUCCESS");

    const dis = exchange(
      m,
      "TDH.SPDM.DISCONNECT",
      { [REG.RCX]: s.id, [REG.RDX]: hpa(req.hpa), [REG.R8]: hpa(rsp.hpa) },
      req.pfn,
      rsp.pfn,
      false,
    );
    expect(statusOf(dis)).toBe(want("TDX_OPERAND_INVALID", "RDX"));
  });
});
