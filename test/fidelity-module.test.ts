/**
 * Module fidelity against TDX Module 1.5 (docs/spec/03-module.md 3.1–3.4): per-entry validation of
 * TDH.EXT.MEM.ADD, the SEAMCALL entry order, BUSY naming its resource, TDH.PHYMEM.PAGE.RDMD's
 * registers, IOMMU.SETUP progress per unit, TDX_INTERRUPTED_RESTARTABLE.
 */
import { describe, expect, it } from "vitest";
import { encodeHpaListInfo, encodeListEntry } from "../src/common/formats.js";
import { PT } from "../src/module/index.js";
import { call, machine, pages, REG, rootWith, statusOf, want } from "./support/machine.js";

const firstEntryOf = (lo: number) => (lo >>> 3) & 0x1ff;

describe("TDH.EXT.MEM.ADD validates entry i inside its loop (docs/spec/01-formats.md 1.4)", () => {
  it("[good, good, reserved bits] → OPERAND_INVALID(RCX) at entry 2, pages 0 and 1 already added", () => {
    const m = machine();
    const ps = pages(m, 3);
    const bad = encodeListEntry(ps[2]!.hpa);
    const root = rootWith(m, [
      encodeListEntry(ps[0]!.hpa),
      encodeListEntry(ps[1]!.hpa),
      { lo: bad.lo | 1, hi: bad.hi },
    ]);
    const r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: encodeHpaListInfo({ rootHpa: root, count: 3 }) });
    expect(statusOf(r)).toBe(want("TDX_OPERAND_INVALID", "RCX"));
    expect(firstEntryOf(r.lo(REG.RCX))).toBe(2);
    expect(m.module.ext.poolPages).toBe(2);
    expect(m.module.pamt.type(ps[0]!.pfn)).toBe(PT.EXT_POOL);
    expect(m.module.pamt.type(ps[1]!.pfn)).toBe(PT.EXT_POOL);
    expect(m.module.pamt.type(ps[2]!.pfn)).toBe(PT.NDA);
  });

  it("a host re-issuing from the returned RCX after fixing entry 2 donates each page once", () => {
    const m = machine();
    const ps = pages(m, 3);
    const root = rootWith(m, [
      encodeListEntry(ps[0]!.hpa),
      encodeListEntry(ps[1]!.hpa),
      { lo: 0xfff, hi: 0 },
    ]);
    const r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: encodeHpaListInfo({ rootHpa: root, count: 3 }) });
    expect(firstEntryOf(r.lo(REG.RCX))).toBe(2);
    const w = m.mem.words(root / 4096);
    const e = encodeListEntry(ps[2]!.hpa);
    w[4] = e.lo;
    w[5] = e.hi;
    const r2 = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: r.get(REG.RCX) });
    expect(statusOf(r2)).toBe("TDX_SUCCESS");
    expect(m.module.ext.poolPages).toBe(3);
  });

  it("a bad entry at FIRST_ENTRY itself adds nothing", () => {
    const m = machine();
    const ps = pages(m, 1);
    const root = rootWith(m, [{ lo: ps[0]!.hpa + 8, hi: 0 }]);
    const r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: encodeHpaListInfo({ rootHpa: root, count: 1 }) });
    expect(statusOf(r)).toBe(want("TDX_OPERAND_INVALID", "RCX"));
    expect(firstEntryOf(r.lo(REG.RCX))).toBe(0);
    expect(m.module.ext.poolPages).toBe(0);
  });
});
