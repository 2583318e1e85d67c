/** The emulator, leaf by leaf: success and every error path with its exact status and operand id. */
import { describe, expect, it } from "vitest";
import { encodeHpaListInfo, encodeIommuMt, encodeListEntry } from "../../src/common/formats.js";
import { parseU64, u64ToBigint } from "../../src/common/u64.js";
import { METADATA_FIELD_IDS } from "../../src/hw/platform.js";
import { PT } from "../../src/module/index.js";
import {
  call,
  hpa,
  iommuMt,
  listInfo,
  machine,
  pages,
  REG,
  rootWith,
  statusOf,
  units,
  want,
} from "../support/machine.js";

const GiB = 2 ** 30;

describe("SEAMCALL entry (RAX)", () => {
  it.each([
    ["reserved bits 63:24", { lo: 34 | (1 << 24), hi: 0 }],
    ["reserved high half", { lo: 34, hi: 1 }],
    ["unknown leaf 9999", { lo: 9999, hi: 0 }],
    ["version 1", { lo: 34 | (1 << 16), hi: 0 }],
  ])("%s → OPERAND_INVALID(RAX)", (_n, rax) => {
    const m = machine();
    const r = call(m, "TDH.SYS.RD");
    r.set(REG.RAX, rax);
    m.module.seamcall(r);
    expect(statusOf(r)).toBe(want("TDX_OPERAND_INVALID", "RAX"));
  });

  it("leaves registers the leaf does not write unchanged", () => {
    const m = machine({ behaviours: { startConfigured: true } });
    const inputs = {
      [REG.RDX]: parseU64(METADATA_FIELD_IDS.IOMMU_MT_PAGE_COUNT),
      [REG.R9]: hpa(0x1234_5000),
      [REG.R14]: hpa(77),
    };
    const r = call(m, "TDH.SYS.RD", inputs);
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    expect(r.get(REG.R8)).toEqual({ lo: 16, hi: 0 });
    expect(r.get(REG.R9)).toEqual(hpa(0x1234_5000));
    expect(r.get(REG.R14)).toEqual(hpa(77));
    // RDX out: the next field id (TDX Module 1.5), SPDM_MAX_DEV_INFO_PAGES after IOMMU_MT_PAGE_COUNT.
    expect(r.get(REG.RDX)).toEqual(parseU64(METADATA_FIELD_IDS.SPDM_MAX_DEV_INFO_PAGES));
  });
});

describe("TDH.SYS.RD", () => {
  it("reads every configured field (after SYS.CONFIG)", () => {
    const m = machine({ behaviours: { startConfigured: true } });
    const md = m.platform.metadata;
    const read = (id: string) =>
      u64ToBigint(
        ...(Object.values(call(m, "TDH.SYS.RD", { [REG.RDX]: parseU64(id) }).get(REG.R8)) as [
          number,
          number,
        ]),
      );
    expect(read(METADATA_FIELD_IDS.MEMORY_POOL_REQUIRED_PAGES)).toBe(BigInt(md.MEMORY_POOL_REQUIRED_PAGES));
    expect(read(METADATA_FIELD_IDS.EXT_REQUIRED)).toBe(1n);
    expect(read(METADATA_FIELD_IDS.SPDM_MT_PAGE_COUNT)).toBe(BigInt(md.SPDM_MT_PAGE_COUNT));
    expect(read(METADATA_FIELD_IDS.IDE_MT_PAGE_COUNT)).toBe(BigInt(md.IDE_MT_PAGE_COUNT));
    expect(read(METADATA_FIELD_IDS.SPDM_MAX_DEV_INFO_PAGES)).toBe(BigInt(md.SPDM_MAX_DEV_INFO_PAGES));
    expect(read(METADATA_FIELD_IDS.TDX_FEATURES0)).toBe((1n << 6n) | (1n << 39n) | (1n << 50n));
  });
  it("unknown field → METADATA_FIELD_ID_INCORRECT, 0xC0000C0000000000, no operand id", () => {
    const m = machine();
    const r = call(m, "TDH.SYS.RD", { [REG.RDX]: parseU64("0x3100000200000001") });
    expect(r.get(REG.RAX)).toEqual({ lo: 0, hi: 0xc0000c00 });
  });
});

describe("TDH.EXT.MEM.ADD", () => {
  it("adds pages, writes FIRST_ENTRY back (wrapping 512 to 0) and marks them PT_EXT_POOL", () => {
    const m = machine();
    const ps = pages(m, 3);
    const r = call(m, "TDH.EXT.MEM.ADD", {
      [REG.RCX]: listInfo(
        m,
        ps.map((p) => p.hpa),
      ),
    });
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    expect((r.lo(REG.RCX) >>> 3) & 0x1ff).toBe(3);
    for (const p of ps) expect(m.module.pamt.type(p.pfn)).toBe(PT.EXT_POOL);
    const full = pages(m, 512);
    const r2 = call(m, "TDH.EXT.MEM.ADD", {
      [REG.RCX]: listInfo(
        m,
        full.map((p) => p.hpa),
      ),
    });
    expect(statusOf(r2)).toBe("TDX_SUCCESS");
    expect((r2.lo(REG.RCX) >>> 3) & 0x1ff).toBe(0);
    expect(m.module.ext.poolPages).toBe(515);
  });

  it("interrupted: returns FIRST_ENTRY of the next entry; re-issue as returned finishes", () => {
    const m = machine({ interrupts: { kind: "every", k: 2 } });
    const ps = pages(m, 5);
    const r = call(m, "TDH.EXT.MEM.ADD", {
      [REG.RCX]: listInfo(
        m,
        ps.map((p) => p.hpa),
      ),
    });
    expect(statusOf(r)).toBe("TDX_INTERRUPTED_RESUMABLE");
    expect((r.lo(REG.RCX) >>> 3) & 0x1ff).toBe(2);
    const r2 = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: r.get(REG.RCX) });
    expect(statusOf(r2)).toBe("TDX_INTERRUPTED_RESUMABLE");
    const r3 = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: r2.get(REG.RCX) });
    expect(statusOf(r3)).toBe("TDX_SUCCESS");
    expect(m.module.ext.poolPages).toBe(5);
  });

  it("re-issue with the original operand re-adds page 0 → PAGE_METADATA_INCORRECT(RCX)", () => {
    const m = machine({ interrupts: { kind: "every", k: 2 } });
    const ps = pages(m, 5);
    const op = listInfo(
      m,
      ps.map((p) => p.hpa),
    );
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: op }))).toBe("TDX_INTERRUPTED_RESUMABLE");
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: op }))).toBe(
      want("TDX_PAGE_METADATA_INCORRECT", "RCX"),
    );
  });

  const operandCases: [string, (m: ReturnType<typeof machine>) => ReturnType<typeof listInfo>][] = [
    [
      "reserved bits 2:0",
      (m) => ({ ...listInfo(m, [pages(m, 1)[0]!.hpa]), lo: listInfo(m, [pages(m, 1)[0]!.hpa]).lo | 1 }),
    ],
    [
      "FIRST > LAST",
      (m) =>
        encodeHpaListInfo({ rootHpa: rootWith(m, []), count: 3, firstEntry: 2 }) && {
          lo: (rootWith(m, []) | (5 << 3)) >>> 0,
          hi: 0x0100_0000,
        },
    ],
    [
      "root with a private KeyID",
      (m) => encodeHpaListInfo({ rootHpa: rootWith(m, []) + 48 * 2 ** 46, count: 1 }),
    ],
    [
      "root inside the module's range",
      (m) => encodeHpaListInfo({ rootHpa: m.platform.moduleRange.base, count: 1 }),
    ],
    [
      "entry with bits 11:0 set",
      (m) => encodeHpaListInfo({ rootHpa: rootWith(m, [{ lo: pages(m, 1)[0]!.hpa + 2, hi: 0 }]), count: 1 }),
    ],
    [
      "entry with bits 63:52 set",
      (m) =>
        encodeHpaListInfo({ rootHpa: rootWith(m, [{ lo: pages(m, 1)[0]!.hpa, hi: 0x0010_0000 }]), count: 1 }),
    ],
    ["entry with a private KeyID", (m) => listInfo(m, [pages(m, 1)[0]!.hpa + 48 * 2 ** 46])],
    ["root outside memory (reads all ones)", () => encodeHpaListInfo({ rootHpa: 3 * GiB, count: 1 })],
  ];
  it.each(operandCases)("%s → OPERAND_INVALID(RCX)", (_n, make) => {
    const m = machine();
    const r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: make(m) });
    expect(statusOf(r)).toBe(want("TDX_OPERAND_INVALID", "RCX"));
    expect(m.module.ext.poolPages).toBe(0);
  });

  it("page outside every TDMR → OPERAND_ADDR_RANGE_ERROR(RCX), earlier pages stay added", () => {
    const m = machine();
    const ps = pages(m, 2);
    const r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [ps[0]!.hpa, 600 * GiB, ps[1]!.hpa]) });
    expect(statusOf(r)).toBe(want("TDX_OPERAND_ADDR_RANGE_ERROR", "RCX"));
    expect((r.lo(REG.RCX) >>> 3) & 0x1ff).toBe(1);
    expect(m.module.ext.poolPages).toBe(1);
  });

  it("with extAddKeepsPartial off, a bad entry rolls the call back", () => {
    const m = machine({ behaviours: { extAddKeepsPartial: false } });
    const ps = pages(m, 2);
    const r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [ps[0]!.hpa, 600 * GiB, ps[1]!.hpa]) });
    expect(statusOf(r)).toBe(want("TDX_OPERAND_ADDR_RANGE_ERROR", "RCX"));
    expect(m.module.ext.poolPages).toBe(0);
    expect(m.module.pamt.type(ps[0]!.pfn)).toBe(PT.NDA);
  });

  it("reserved-area page (PT_RSVD) and a page given twice → PAGE_METADATA_INCORRECT(RCX)", () => {
    const m = machine();
    const rsvd = m.platform.tdmrs[1]!.reserved[0]!.base;
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [rsvd]) }))).toBe(
      want("TDX_PAGE_METADATA_INCORRECT", "RCX"),
    );
    const p = pages(m, 1)[0]!;
    const r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [p.hpa, p.hpa]) });
    expect(statusOf(r)).toBe(want("TDX_PAGE_METADATA_INCORRECT", "RCX"));
    expect((r.lo(REG.RCX) >>> 3) & 0x1ff).toBe(1);
  });

  it("a page claimed by an interrupted IOMMU.SETUP is no longer PT_NDA → PAGE_METADATA_INCORRECT(RCX)", () => {
    // TDX Module 1.5: the interrupted call released its locks before returning; the page is claimed.
    const m = machine({ interrupts: { kind: "every", k: 3 } });
    const mt = iommuMt(m);
    const r = call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand });
    expect(statusOf(r)).toBe("TDX_INTERRUPTED_RESUMABLE");
    expect(m.module.pamtLocks.heldBy(0)).toBe(0);
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [mt.singles[0]!.hpa]) }))).toBe(
      want("TDX_PAGE_METADATA_INCORRECT", "RCX"),
    );
  });

  it("pool full → TDX_EXT_MEMORY_POOL_FULL, success-class, remaining pages left with the host", () => {
    const m = machine(
      {},
      { ...machine().platform, metadata: { ...machine().platform.metadata, MEMORY_POOL_REQUIRED_PAGES: 2 } },
    );
    const ps = pages(m, 4);
    const r = call(m, "TDH.EXT.MEM.ADD", {
      [REG.RCX]: listInfo(
        m,
        ps.map((p) => p.hpa),
      ),
    });
    expect(statusOf(r)).toBe("TDX_EXT_MEMORY_POOL_FULL");
    expect(r.hi(REG.RAX) >>> 31).toBe(0);
    expect((r.lo(REG.RCX) >>> 3) & 0x1ff).toBe(2);
    expect(m.module.pamt.type(ps[2]!.pfn)).toBe(PT.NDA);
  });
});

describe("TDH.EXT.INIT", () => {
  const small = () => {
    const base = machine().platform;
    return machine(
      { interrupts: { kind: "every", k: 4 } },
      { ...base, metadata: { ...base.metadata, MEMORY_POOL_REQUIRED_PAGES: 10 } },
    );
  };
  it("before the pool is full → OP_STATE_INCORRECT", () => {
    const m = small();
    expect(statusOf(call(m, "TDH.EXT.INIT"))).toBe(want("TDX_OP_STATE_INCORRECT"));
  });
  it("interrupted, resumed with the original inputs, then refuses a second INIT", () => {
    const m = small();
    const ps = pages(m, 10);
    let r = call(m, "TDH.EXT.MEM.ADD", {
      [REG.RCX]: listInfo(
        m,
        ps.map((p) => p.hpa),
      ),
    });
    while (statusOf(r) === "TDX_INTERRUPTED_RESUMABLE")
      r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: r.get(REG.RCX) });
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    expect(statusOf(call(m, "TDH.EXT.INIT"))).toBe("TDX_INTERRUPTED_RESUMABLE");
    // Another extension call while INIT is in flight: the queue has depth 1.
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [pages(m, 1)[0]!.hpa]) }))).toBe(
      "TDX_OPERAND_BUSY(SYS)",
    );
    expect(statusOf(call(m, "TDH.EXT.INIT"))).toBe("TDX_INTERRUPTED_RESUMABLE");
    expect(statusOf(call(m, "TDH.EXT.INIT"))).toBe("TDX_SUCCESS");
    expect(m.module.ext.initialized).toBe(true);
    for (const p of ps) expect(m.cache.dirtyKeyIds(p.pfn)).toContain(m.platform.keyIds.global);
    expect(statusOf(call(m, "TDH.EXT.INIT"))).toBe(want("TDX_OP_STATE_INCORRECT"));
  });
});

describe("TDH.IOMMU.SETUP / CLEAR", () => {
  it("sets up a unit, returns its id, pages PT_IOMMU_MT; CLEAR returns them with dirty global lines", () => {
    const m = machine();
    const mt = iommuMt(m);
    const r = call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand });
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    const id = r.get(REG.RCX);
    const all = [
      mt.blocks[0]!.pfn,
      mt.blocks[0]!.pfn + 1,
      mt.blocks[1]!.pfn + 1,
      ...mt.singles.map((p) => p.pfn),
    ];
    for (const pfn of all) expect(m.module.pamt.type(pfn)).toBe(PT.IOMMU_MT);
    expect(m.module.pamt.owner(mt.singles[0]!.pfn)).toBe(id.lo);
    expect(
      statusOf(
        call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: iommuMt(m).operand }),
      ),
    ).toBe(want("TDX_OP_STATE_INCORRECT", "RCX"));
    expect(
      statusOf(call(m, "TDH.IOMMU.CLEAR", { [REG.RCX]: id, [REG.RDX]: encodeIommuMt(mt.rootHpa + 4096) })),
    ).toBe(want("TDX_OPERAND_INVALID", "RDX"));
    expect(
      statusOf(call(m, "TDH.IOMMU.CLEAR", { [REG.RCX]: { lo: 999, hi: 0 }, [REG.RDX]: mt.operand })),
    ).toBe(want("TDX_OPERAND_INVALID", "RCX"));
    expect(statusOf(call(m, "TDH.IOMMU.CLEAR", { [REG.RCX]: id, [REG.RDX]: mt.operand }))).toBe(
      "TDX_SUCCESS",
    );
    for (const pfn of all) {
      expect(m.module.pamt.type(pfn)).toBe(PT.NDA);
      expect(m.cache.dirtyKeyIds(pfn)).toEqual([m.platform.keyIds.global]);
    }
  });

  it("unknown unit and non-TDX-capable unit → OPERAND_INVALID(RCX)", () => {
    const m = machine();
    const mt = iommuMt(m);
    expect(statusOf(call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(0xfee0_0000), [REG.RDX]: mt.operand }))).toBe(
      want("TDX_OPERAND_INVALID", "RCX"),
    );
    expect(
      statusOf(call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(units(m).incapable), [REG.RDX]: mt.operand })),
    ).toBe(want("TDX_OPERAND_INVALID", "RCX"));
  });

  it("bad operand, wrong NUM_PAGES, a used page → RDX statuses; pages rolled back", () => {
    const m = machine();
    const u = hpa(units(m).capable);
    expect(statusOf(call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: u, [REG.RDX]: { lo: 0x1001, hi: 0 } }))).toBe(
      want("TDX_OPERAND_INVALID", "RDX"),
    );
    const flat = pages(m, 18);
    const wrongNum = encodeIommuMt(
      rootWith(
        m,
        flat.map((p) => encodeListEntry(p.hpa)),
      ),
    );
    expect(statusOf(call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: u, [REG.RDX]: wrongNum }))).toBe(
      want("TDX_OPERAND_INVALID", "RDX"),
    );
    const mt = iommuMt(m);
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [mt.singles[5]!.hpa]) }))).toBe(
      "TDX_SUCCESS",
    );
    expect(statusOf(call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: u, [REG.RDX]: mt.operand }))).toBe(
      want("TDX_PAGE_METADATA_INCORRECT", "RDX"),
    );
    expect(m.module.pamt.type(mt.singles[0]!.pfn)).toBe(PT.NDA);
    expect(m.module.pamt.type(mt.blocks[0]!.pfn)).toBe(PT.NDA);
  });

  it("interrupted: re-issue with returned (clobbered) registers → INVALID_RESUMPTION; original inputs finish", () => {
    const m = machine({ interrupts: { kind: "every", k: 5 } });
    const mt = iommuMt(m);
    const inputs = { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand };
    const r = call(m, "TDH.IOMMU.SETUP", inputs);
    expect(statusOf(r)).toBe("TDX_INTERRUPTED_RESUMABLE");
    expect(r.get(REG.RDX)).not.toEqual(mt.operand);
    expect(
      statusOf(call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: inputs[REG.RCX], [REG.RDX]: r.get(REG.RDX) })),
    ).toBe(want("TDX_INVALID_RESUMPTION"));
    let s = "";
    for (let i = 0; i < 10 && s !== "TDX_SUCCESS"; i++) s = statusOf(call(m, "TDH.IOMMU.SETUP", inputs));
    expect(s).toBe("TDX_SUCCESS");
  });
});

describe("a forced error on the re-issue of an interrupted call", () => {
  it("ends the call and rolls back what it claimed (ledger forced-status-aborts)", () => {
    const m = machine({ interrupts: { kind: "every", k: 5 } });
    const mt = iommuMt(m);
    const inputs = { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand };
    expect(statusOf(call(m, "TDH.IOMMU.SETUP", inputs))).toBe("TDX_INTERRUPTED_RESUMABLE");
    expect(m.module.pamt.type(mt.blocks[0]!.pfn)).toBe(PT.IOMMU_MT);
    m.module.forceStatus({ leaf: 128, nth: 2, status: { lo: 0, hi: 0xc000_0300 } });
    expect(statusOf(call(m, "TDH.IOMMU.SETUP", inputs))).toBe("TDX_PAGE_METADATA_INCORRECT");
    for (const p of [mt.blocks[0]!.pfn, mt.blocks[0]!.pfn + 1, mt.singles[0]!.pfn])
      expect(m.module.pamt.type(p)).toBe(PT.NDA);
    expect(m.module.pamtLocks.heldBy(0)).toBe(0);
    // The unit is free for a new setup.
    let s = statusOf(call(m, "TDH.IOMMU.SETUP", inputs));
    while (s === "TDX_INTERRUPTED_RESUMABLE") s = statusOf(call(m, "TDH.IOMMU.SETUP", inputs));
    expect(s).toBe("TDX_SUCCESS");
  });
});

describe("TDH.PHYMEM.PAGE.WBINVD / RDMD", () => {
  it("WBINVD drops the page's lines of that KeyID; checks KeyID, TDMR and PT_NDA", () => {
    const m = machine();
    const p = pages(m, 1)[0]!;
    const g = m.platform.keyIds.global;
    m.cache.moduleWrite(p.pfn, g);
    expect(statusOf(call(m, "TDH.PHYMEM.PAGE.WBINVD", { [REG.RCX]: hpa(p.hpa) }))).toBe(
      want("TDX_OPERAND_INVALID", "RCX"),
    );
    expect(statusOf(call(m, "TDH.PHYMEM.PAGE.WBINVD", { [REG.RCX]: hpa(p.hpa + 1) }))).toBe(
      want("TDX_OPERAND_INVALID", "RCX"),
    );
    expect(statusOf(call(m, "TDH.PHYMEM.PAGE.WBINVD", { [REG.RCX]: hpa(600 * GiB + g * 2 ** 46) }))).toBe(
      want("TDX_OPERAND_ADDR_RANGE_ERROR", "RCX"),
    );
    expect(statusOf(call(m, "TDH.PHYMEM.PAGE.WBINVD", { [REG.RCX]: hpa(p.hpa + g * 2 ** 46) }))).toBe(
      "TDX_SUCCESS",
    );
    expect(m.cache.dirtyKeyIds(p.pfn)).toEqual([]);
    const q = pages(m, 1)[0]!;
    call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [q.hpa]) });
    expect(statusOf(call(m, "TDH.PHYMEM.PAGE.WBINVD", { [REG.RCX]: hpa(q.hpa + g * 2 ** 46) }))).toBe(
      want("TDX_PAGE_METADATA_INCORRECT", "RCX"),
    );
  });
  it("RDMD reports type and owner; outside TDMRs → ADDR_RANGE_ERROR(RCX)", () => {
    const m = machine();
    const q = pages(m, 1)[0]!;
    call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [q.hpa]) });
    const r = call(m, "TDH.PHYMEM.PAGE.RDMD", { [REG.RCX]: hpa(q.hpa) });
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    expect(r.lo(REG.RCX)).toBe(PT.EXT_POOL);
    expect(r.lo(REG.RDX)).toBe(m.module.ext.poolObject);
    expect(
      call(m, "TDH.PHYMEM.PAGE.RDMD", { [REG.RCX]: hpa(m.platform.tdmrs[1]!.reserved[0]!.base) }).lo(REG.RCX),
    ).toBe(PT.RSVD);
    expect(statusOf(call(m, "TDH.PHYMEM.PAGE.RDMD", { [REG.RCX]: hpa(600 * GiB) }))).toBe(
      want("TDX_OPERAND_ADDR_RANGE_ERROR", "RCX"),
    );
  });
});

describe("forced statuses", () => {
  it("replace the nth call of a leaf with no effect", () => {
    const m = machine();
    m.module.forceStatus({ leaf: 61, nth: 2, status: { lo: 0, hi: 0xc000_0202 } });
    const ps = pages(m, 2);
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [ps[0]!.hpa]) }))).toBe(
      "TDX_SUCCESS",
    );
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [ps[1]!.hpa]) }))).toBe(
      "0xc000020200000000",
    );
    expect(m.module.pamt.type(ps[1]!.pfn)).toBe(PT.NDA);
  });
});
