/**
 * Module fidelity against TDX Module 1.5 (docs/spec/03-module.md 3.1–3.4): per-entry validation of
 * TDH.EXT.MEM.ADD, the SEAMCALL entry order, BUSY naming its resource, TDH.PHYMEM.PAGE.RDMD's
 * registers, IOMMU.SETUP progress per unit, TDX_INTERRUPTED_RESTARTABLE.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { encodeHpaListInfo, encodeListEntry } from "../../src/common/formats.js";
import { PT } from "../../src/module/index.js";
import {
  call,
  hpa,
  iommuMt,
  listInfo as listInfoOf,
  machine,
  pages,
  REG,
  rootWith,
  statusOf,
  want,
} from "../support/machine.js";

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

describe("SEAMCALL entry order (docs/spec/03-module.md 3.1)", () => {
  it("an unknown leaf while shut down → SYS_SHUTDOWN; reserved or version bits still OPERAND_INVALID(RAX)", () => {
    const m = machine();
    m.module.shutdown = true;
    const raw = (rax: { lo: number; hi: number }) => {
      const r = call(m, "TDH.SYS.RD");
      r.set(REG.RAX, rax);
      m.module.seamcall(r);
      return statusOf(r);
    };
    expect(raw({ lo: 9999, hi: 0 })).toBe("TDX_SYS_SHUTDOWN");
    expect(raw({ lo: 34, hi: 0 })).toBe("TDX_SYS_SHUTDOWN");
    expect(raw({ lo: 34 | (1 << 24), hi: 0 })).toBe(want("TDX_OPERAND_INVALID", "RAX"));
    expect(raw({ lo: 34 | (1 << 16), hi: 0 })).toBe(want("TDX_OPERAND_INVALID", "RAX"));
    m.module.shutdown = false;
    expect(raw({ lo: 9999, hi: 0 })).toBe(want("TDX_OPERAND_INVALID", "RAX"));
  });
});

describe("a BUSY names its resource (docs/spec/03-module.md 3.2, 3.4)", () => {
  it("EXT.MEM.ADD while an interrupted EXT.INIT holds the queue → OPERAND_BUSY(SYS 0xB8), not operand 0", () => {
    const base = machine().platform;
    const m = machine(
      { interrupts: { kind: "every", k: 1 } },
      { ...base, metadata: { ...base.metadata, MEMORY_POOL_REQUIRED_PAGES: 4 } },
    );
    let r = call(m, "TDH.EXT.MEM.ADD", {
      [REG.RCX]: listInfoOf(
        m,
        pages(m, 4).map((p) => p.hpa),
      ),
    });
    while (statusOf(r) === "TDX_INTERRUPTED_RESUMABLE")
      r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: r.get(REG.RCX) });
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    expect(statusOf(call(m, "TDH.EXT.INIT"))).toBe("TDX_INTERRUPTED_RESUMABLE");
    const busy = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfoOf(m, [pages(m, 1)[0]!.hpa]) });
    expect(busy.get(REG.RAX)).toEqual({ lo: 0xb8, hi: 0x8000_0200 });
    expect(statusOf(busy)).toBe("TDX_OPERAND_BUSY(SYS)");
  });
});

describe("TDH.IOMMU.SETUP keeps an interrupted call's progress per unit (docs/spec/03-module.md 3.3)", () => {
  it("SETUP of a second unit while the first is interrupted is a new call, and both complete", () => {
    const m = machine({ interrupts: { kind: "every", k: 1 } });
    const [a, b] = m.platform.iommus.filter((u) => u.tdxCapable);
    const mtA = iommuMt(m);
    const mtB = iommuMt(m);
    const setup = (regBase: number, op: { lo: number; hi: number }) =>
      call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(regBase), [REG.RDX]: op });
    expect(statusOf(setup(a!.regBase, mtA.operand))).toBe("TDX_INTERRUPTED_RESUMABLE");
    expect(statusOf(setup(b!.regBase, mtB.operand))).toBe("TDX_INTERRUPTED_RESUMABLE");
    let ra = setup(a!.regBase, mtA.operand);
    while (statusOf(ra) === "TDX_INTERRUPTED_RESUMABLE") ra = setup(a!.regBase, mtA.operand);
    let rb = setup(b!.regBase, mtB.operand);
    while (statusOf(rb) === "TDX_INTERRUPTED_RESUMABLE") rb = setup(b!.regBase, mtB.operand);
    expect([statusOf(ra), statusOf(rb)]).toEqual(["TDX_SUCCESS", "TDX_SUCCESS"]);
    // A re-issue of unit A's call with another root is still refused as a resumption.
    expect(statusOf(setup(a!.regBase, mtB.operand))).not.toBe("TDX_SUCCESS");
  });

  it("a re-issue for the same unit with different inputs → INVALID_RESUMPTION", () => {
    const m = machine({ interrupts: { kind: "every", k: 1 } });
    const [a] = m.platform.iommus.filter((u) => u.tdxCapable);
    const mtA = iommuMt(m);
    const mtB = iommuMt(m);
    expect(statusOf(call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(a!.regBase), [REG.RDX]: mtA.operand }))).toBe(
      "TDX_INTERRUPTED_RESUMABLE",
    );
    expect(statusOf(call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(a!.regBase), [REG.RDX]: mtB.operand }))).toBe(
      "TDX_INVALID_RESUMPTION",
    );
  });
});

describe("TDH.PHYMEM.PAGE.RDMD registers (TDX Module 1.5, docs/spec/03-module.md 3.3)", () => {
  const junk = { lo: 0x1234_5678, hi: 0x9abc };
  const withJunk = (rcx: { lo: number; hi: number }) => ({
    [REG.RCX]: rcx,
    [REG.RDX]: junk,
    [REG.R8]: junk,
    [REG.R9]: junk,
    [REG.R10]: junk,
    [REG.R11]: junk,
    [REG.R12]: junk,
  });

  it("success: RCX type, RDX owner (the IOMMU id), R8 level 0, R9 BEPOCH 0, R10 = R11 = 0; R12 untouched", () => {
    const m = machine();
    const [a] = m.platform.iommus.filter((u) => u.tdxCapable);
    const mt = iommuMt(m);
    const s = call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(a!.regBase), [REG.RDX]: mt.operand });
    expect(statusOf(s)).toBe("TDX_SUCCESS");
    const r = call(m, "TDH.PHYMEM.PAGE.RDMD", withJunk(hpa(mt.singles[0]!.hpa)));
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    expect(r.get(REG.RCX)).toEqual({ lo: PT.IOMMU_MT, hi: 0 });
    expect(r.get(REG.RDX)).toEqual(s.get(REG.RCX));
    for (const reg of [REG.R8, REG.R9, REG.R10, REG.R11]) expect(r.get(reg)).toEqual({ lo: 0, hi: 0 });
    expect(r.get(REG.R12)).toEqual(junk);
  });

  it("error: RCX, RDX and R8–R11 read 0 (cleared on entry)", () => {
    const m = machine();
    const r = call(m, "TDH.PHYMEM.PAGE.RDMD", withJunk({ lo: 0x10_0008, hi: 0 }));
    expect(statusOf(r)).toBe(want("TDX_OPERAND_INVALID", "RCX"));
    for (const reg of [REG.RCX, REG.RDX, REG.R8, REG.R9, REG.R10, REG.R11])
      expect(r.get(reg)).toEqual({ lo: 0, hi: 0 });
  });
});

describe("the ledger", () => {
  it("every ledger id the code cites exists in docs/ASSUMPTIONS.md", () => {
    const ledger = readFileSync(new URL("../../docs/ASSUMPTIONS.md", import.meta.url), "utf8");
    const cited = new Set<string>();
    const walk = (dir: URL): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(new URL(`${e.name}/`, dir));
        else if (e.name.endsWith(".ts"))
          for (const x of readFileSync(new URL(e.name, dir), "utf8").matchAll(/ledger `([a-z0-9-]+)`/g))
            cited.add(x[1]!);
      }
    };
    walk(new URL("../../src/", import.meta.url));
    expect(cited.size).toBeGreaterThan(10);
    expect([...cited].filter((id) => !ledger.includes(`| \`${id}\` |`))).toEqual([]);
  });
});
