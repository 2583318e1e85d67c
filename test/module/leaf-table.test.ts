/**
 * The leaf table (src/module/leaves.ts), checked two ways:
 * - its descriptors agree with the rest of the model (numbers, resume rules, what the transcript decoder and
 *   the fault table derive from them);
 * - every (leaf, failing status) a descriptor lists has a row: registers in → status and operand id,
 *   registers out, PAMT change (runner and row format: test/support/leaf-table.ts). The rows a fresh
 *   machine shows are here; those that need a device, an interrupted call or a quote buffer are in
 *   test/support/leaf-rows-*.ts, run by leaf-table-spdm-ide.test.ts and leaf-table-resume.test.ts. A
 *   status no real call can return is in {@link ELSEWHERE} with why; adding a status to a descriptor
 *   without either, or dropping a row, fails the walk below.
 */
import { describe, expect, it } from "vitest";
import {
  encodeHpaListInfo,
  encodeIommuMt,
  encodeIommuMtEntry,
  withFirstEntry,
} from "../../src/common/formats.js";
import { callRegs } from "../../src/common/seamcall.js";
import { LEAF, type LeafName, REG, STATUS, statusText } from "../../src/common/status.js";
import { type U64, U64_ONES } from "../../src/common/u64.js";
import { LEAF_FAILURES } from "../../src/faults/fault-table.js";
import type { Machine } from "../../src/machine.js";
import { PT } from "../../src/module/index.js";
import { LEAVES } from "../../src/module/leaves.js";
import { OPERANDS } from "../../src/observe/describe-call.js";
import { RESUME_ROWS } from "../support/leaf-rows-resume.js";
import { SPDM_IDE_ROWS } from "../support/leaf-rows-spdm-ide.js";
import { cases, keyOf, poolPage, privatePageRows, type Row, rowKey, runRow } from "../support/leaf-table.js";
import {
  call,
  hpa,
  iommuMt,
  listInfo,
  machine,
  pages,
  platformWith,
  rootWith,
  units,
} from "../support/machine.js";

const GiB = 2 ** 30;
const NAMES = Object.keys(LEAVES) as LeafName[];

/** A private KeyID other than the global one (for TDH.MNG.CREATE's HKID). */
const hkid = (m: Machine): U64 => {
  const k = m.platform.keyIds;
  return { lo: k.global === k.firstPrivate ? k.firstPrivate + 1 : k.firstPrivate, hi: 0 };
};
/** A page with the module's global KeyID in its HPA (WBINVD's operand). */
const withGlobalKeyId = (m: Machine, a: number) =>
  hpa(a + m.platform.keyIds.global * 2 ** m.platform.keyIds.shift);
/** A machine whose extension pool needs only `n` pages. */
const smallPool = (n: number) => (): Machine => machine({}, platformWith({ MEMORY_POOL_REQUIRED_PAGES: n }));
/** A TD created on `m`: its TDR page's HPA. */
const tdr = (m: Machine): number => {
  const p = pages(m, 1)[0]!;
  const r = call(m, "TDH.MNG.CREATE", { [REG.RCX]: hpa(p.hpa), [REG.RDX]: hkid(m) });
  expect(statusText(r.get(REG.RAX))).toBe("TDX_SUCCESS");
  return p.hpa;
};

/** The rows a fresh machine (or a few raw calls on one) can show; the others are in test/support/leaf-rows-*.ts. */
const ROWS: readonly Row[] = [
  // ---- leaves-core.ts
  {
    leaf: "TDH.PHYMEM.PAGE.WBINVD",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RCX,
    what: "KeyID 0 (not a private KeyID)",
    arrange: (m) => {
      const p = pages(m, 1)[0]!;
      return { inputs: { [REG.RCX]: hpa(p.hpa) }, watch: [p.pfn] };
    },
  },
  {
    leaf: "TDH.PHYMEM.PAGE.WBINVD",
    status: "TDX_OPERAND_ADDR_RANGE_ERROR",
    operand: REG.RCX,
    what: "outside every TDMR",
    arrange: (m) => ({ inputs: { [REG.RCX]: withGlobalKeyId(m, 600 * GiB) } }),
  },
  {
    leaf: "TDH.PHYMEM.PAGE.WBINVD",
    status: "TDX_PAGE_METADATA_INCORRECT",
    operand: REG.RCX,
    what: "a pool page",
    arrange: (m) => {
      const a = poolPage(m);
      return { inputs: { [REG.RCX]: withGlobalKeyId(m, a) }, watch: [a / 4096] };
    },
  },
  {
    leaf: "TDH.PHYMEM.PAGE.RDMD",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RCX,
    what: "bits 11:0 set; outputs cleared on entry",
    arrange: (m) => {
      const p = pages(m, 1)[0]!;
      return { inputs: { [REG.RCX]: hpa(p.hpa + 1), [REG.RDX]: U64_ONES }, watch: [p.pfn] };
    },
    out: () => ({ [REG.RCX]: { lo: 0, hi: 0 }, [REG.RDX]: { lo: 0, hi: 0 } }),
  },
  {
    leaf: "TDH.PHYMEM.PAGE.RDMD",
    status: "TDX_OPERAND_ADDR_RANGE_ERROR",
    operand: REG.RCX,
    what: "outside every TDMR; outputs cleared on entry",
    arrange: () => ({ inputs: { [REG.RCX]: hpa(600 * GiB), [REG.RDX]: U64_ONES } }),
    out: () => ({ [REG.RCX]: { lo: 0, hi: 0 }, [REG.RDX]: { lo: 0, hi: 0 } }),
  },
  // ---- metadata.ts
  {
    leaf: "TDH.SYS.RD",
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
    operand: 0,
    what: "an unknown field id",
    arrange: () => ({ inputs: { [REG.RDX]: { lo: 0x1234, hi: 0x0abc_0000 } } }),
  },
  {
    leaf: "TDH.SYS.CONFIG",
    status: "TDX_OP_STATE_INCORRECT",
    operand: 0,
    what: "a second SYS.CONFIG",
    arrange: (m) => {
      const inputs = { [REG.R8]: { lo: m.platform.keyIds.global, hi: 0 } };
      expect(statusText(call(m, "TDH.SYS.CONFIG", inputs).get(REG.RAX))).toBe("TDX_SUCCESS");
      return { inputs };
    },
  },
  {
    leaf: "TDH.SYS.CONFIG",
    status: "TDX_OPERAND_INVALID",
    operand: REG.R8,
    what: "not the global KeyID",
    arrange: (m) => ({ inputs: { [REG.R8]: { lo: m.platform.keyIds.global + 1, hi: 0 } } }),
  },
  {
    leaf: "TDH.SYS.CONFIG",
    status: "TDX_OPERAND_INVALID",
    operand: REG.R9,
    what: "version 1, a feature bit the module does not offer",
    arrange: (m) => ({
      inputs: { [REG.R8]: { lo: m.platform.keyIds.global, hi: 0 }, [REG.R9]: { lo: 0, hi: 0x8000_0000 } },
      version: 1,
    }),
  },
  // ---- leaves-ext.ts
  // The entry is written raw (a misaligned HPA sets its reserved bits 11:0: entry rule 4).
  ...privatePageRows("TDH.EXT.MEM.ADD", REG.RCX, (m, a) => ({
    [REG.RCX]: encodeHpaListInfo({ rootHpa: rootWith(m, [hpa(a)]), count: 1 }),
  })),
  {
    leaf: "TDH.EXT.MEM.ADD",
    status: "TDX_EXT_MEMORY_POOL_FULL",
    operand: 0,
    what: "a pool needing 2 pages, a list of 3: the rest stays with the host, RCX FIRST_ENTRY = 2",
    machine: smallPool(2),
    arrange: (m) => {
      const ps = pages(m, 3);
      const op = listInfo(
        m,
        ps.map((p) => p.hpa),
      );
      return {
        inputs: { [REG.RCX]: op },
        watch: ps.map((p) => p.pfn),
        out: () => ({ [REG.RCX]: withFirstEntry(op, 2) }),
      };
    },
    pamtAfter: [PT.EXT_POOL, PT.EXT_POOL, null],
  },
  {
    leaf: "TDH.EXT.INIT",
    status: "TDX_OP_STATE_INCORRECT",
    operand: 0,
    what: "the pool is not full",
    arrange: () => ({ inputs: {} }),
  },
  // ---- leaves-iommu.ts
  {
    leaf: "TDH.IOMMU.SETUP",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RCX,
    what: "a unit that is not TDX-capable",
    arrange: (m) => {
      const mt = iommuMt(m);
      return {
        inputs: { [REG.RCX]: hpa(units(m).incapable), [REG.RDX]: mt.operand },
        watch: [mt.singles[0]!.pfn],
      };
    },
  },
  {
    leaf: "TDH.IOMMU.SETUP",
    status: "TDX_OP_STATE_INCORRECT",
    operand: REG.RCX,
    what: "a unit set up already",
    arrange: (m) => {
      const u = hpa(units(m).capable);
      expect(
        statusText(call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: u, [REG.RDX]: iommuMt(m).operand }).get(REG.RAX)),
      ).toBe("TDX_SUCCESS");
      const mt = iommuMt(m);
      return { inputs: { [REG.RCX]: u, [REG.RDX]: mt.operand }, watch: [mt.singles[0]!.pfn] };
    },
  },
  ...privatePageRows("TDH.IOMMU.SETUP", REG.RDX, (m, a) => {
    // The IOMMU_MT of the default metadata with its first order-0 entry (entry 2) naming `a` instead, raw:
    // a misaligned HPA there is a NUM_PAGES the entry's block cannot have.
    const mt = iommuMt(m);
    const root = m.mem.words(Math.floor(mt.rootHpa / 4096));
    const numPages = encodeIommuMtEntry(mt.singles[0]!.hpa, 1).lo & 0xfff;
    root[4] = (hpa(a).lo | numPages) >>> 0;
    root[5] = hpa(a).hi;
    return { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand };
  }),
  {
    leaf: "TDH.IOMMU.CLEAR",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RCX,
    what: "no such IOMMU id",
    arrange: (m) => ({ inputs: { [REG.RCX]: { lo: 999, hi: 0 }, [REG.RDX]: iommuMt(m).operand } }),
  },
  {
    leaf: "TDH.IOMMU.CLEAR",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RDX,
    what: "a root other than the one given at setup; the unit keeps its pages",
    arrange: (m) => {
      const mt = iommuMt(m);
      const r = call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand });
      expect(statusText(r.get(REG.RAX))).toBe("TDX_SUCCESS");
      return {
        inputs: { [REG.RCX]: r.get(REG.RCX), [REG.RDX]: encodeIommuMt(rootWith(m, [])) },
        watch: [mt.singles[0]!.pfn],
      };
    },
  },
  // ---- leaves-quote.ts (the minimal TD)
  ...privatePageRows("TDH.MNG.CREATE", REG.RCX, (m, a) => ({ [REG.RCX]: hpa(a), [REG.RDX]: hkid(m) })),
  {
    leaf: "TDH.MNG.CREATE",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RDX,
    what: "the global KeyID as the HKID",
    arrange: (m) => {
      const p = pages(m, 1)[0]!;
      return {
        inputs: { [REG.RCX]: hpa(p.hpa), [REG.RDX]: { lo: m.platform.keyIds.global, hi: 0 } },
        watch: [p.pfn],
      };
    },
  },
  {
    leaf: "TDH.PHYMEM.PAGE.RECLAIM",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RCX,
    what: "bits 11:0 set",
    arrange: (m) => {
      const a = tdr(m);
      return { inputs: { [REG.RCX]: hpa(a + 8) }, watch: [a / 4096] };
    },
  },
  {
    leaf: "TDH.PHYMEM.PAGE.RECLAIM",
    status: "TDX_OPERAND_ADDR_RANGE_ERROR",
    operand: REG.RCX,
    what: "outside every TDMR",
    arrange: () => ({ inputs: { [REG.RCX]: hpa(600 * GiB) } }),
  },
  {
    leaf: "TDH.PHYMEM.PAGE.RECLAIM",
    status: "TDX_PAGE_METADATA_INCORRECT",
    operand: REG.RCX,
    what: "a pool page, not a TDR",
    arrange: (m) => {
      const a = poolPage(m);
      return { inputs: { [REG.RCX]: hpa(a) }, watch: [a / 4096] };
    },
  },
  // ---- leaves-spdm.ts, leaves-ide.ts: what a fresh machine can show (no device connected)
  {
    leaf: "TDH.SPDM.CREATE",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RCX,
    what: "function id bit 25 (reserved) set",
    arrange: (m) => ({ inputs: { [REG.RCX]: { lo: 1 << 25, hi: 0 }, [REG.RDX]: hpa(pages(m, 1)[0]!.hpa) } }),
  },
  ...(["TDH.SPDM.CONNECT", "TDH.SPDM.DISCONNECT", "TDH.SPDM.MNG", "TDH.SPDM.DELETE"] as const).map(
    (leaf): Row => ({
      leaf,
      status: "TDX_OPERAND_INVALID",
      operand: REG.RCX,
      what: "no such SPDM session; the extension slot is free again",
      arrange: () => ({ inputs: { [REG.RCX]: { lo: 999, hi: 0 } } }),
      after: (m) => expect(m.module.extSlot).toBeNull(),
    }),
  ),
  {
    leaf: "TDH.IDE.STREAM.CREATE",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RCX,
    what: "stream_info bit 9 (reserved) set",
    arrange: () => ({ inputs: { [REG.RCX]: { lo: 0x200, hi: 0 } } }),
  },
  {
    leaf: "TDH.IDE.STREAM.CREATE",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RDX,
    what: "no such SPDM session",
    arrange: () => ({ inputs: { [REG.RCX]: { lo: 0x100, hi: 0 }, [REG.RDX]: { lo: 999, hi: 0 } } }),
  },
  ...(["TDH.IDE.STREAM.KM", "TDH.IDE.STREAM.BLOCK", "TDH.IDE.STREAM.DELETE"] as const).map(
    (leaf): Row => ({
      leaf,
      status: "TDX_OPERAND_INVALID",
      operand: REG.RCX,
      what: "no such SPDM session",
      arrange: () => ({ inputs: { [REG.RCX]: { lo: 999, hi: 0 }, [REG.RDX]: { lo: 1, hi: 0 } } }),
    }),
  ),
];

/** Every row: this file's and those of test/support/leaf-rows-*.ts (run by leaf-table-*.test.ts). */
const ALL_ROWS: readonly Row[] = [...ROWS, ...SPDM_IDE_ROWS, ...RESUME_ROWS];

/**
 * The (leaf, status) pairs a descriptor lists that no real call of the model can return, so no row can
 * show them: each with why, and the test that forces it (the fault campaign forces every listed status
 * on every call of the flows: `faults/campaign.ts` `enumeratePoints`).
 */
const CAMPAIGN = "test/faults/campaign.long.test.ts (every injection point once)";
const ELSEWHERE: Readonly<Record<string, string>> = {
  "TDH.EXT.INIT TDX_INVALID_RESUMPTION(0)": `no inputs, so a re-issue cannot differ: ${CAMPAIGN}`,
  "TDH.SPDM.DISCONNECT TDX_INTERRUPTED_RESUMABLE(0)": `END_SESSION is its one message: no unit boundary with work left: ${CAMPAIGN}`,
  "TDH.SPDM.DISCONNECT TDX_INTERRUPTED_RESUMABLE(0) effects": `as above, the forced interrupt lapses: ${CAMPAIGN}`,
};

describe("the leaf table: descriptors agree with the model", () => {
  it("one descriptor per LEAF name, its number LEAF[name], every number distinct", () => {
    expect(new Set(NAMES)).toEqual(new Set(Object.keys(LEAF)));
    for (const n of NAMES) {
      expect(LEAVES[n].name).toBe(n);
      expect(LEAVES[n].number).toBe(LEAF[n]);
    }
    expect(new Set(NAMES.map((n) => LEAVES[n].number)).size).toBe(NAMES.length);
  });

  it("implementations are named functions (stack traces name the leaf)", () => {
    for (const n of NAMES) expect(LEAVES[n].run.name, n).toMatch(/^tdh[A-Z][A-Za-z]+$/);
  });

  it("a leaf that lists TDX_INTERRUPTED_RESUMABLE is interruptible, and only such a leaf", () => {
    for (const n of NAMES) {
      const lists = LEAVES[n].fails.some((f) => f.name === "TDX_INTERRUPTED_RESUMABLE");
      expect(lists, n).toBe(LEAVES[n].resume === "interruptible");
    }
  });

  it("the transcript decoder and the fault table read the descriptors", () => {
    for (const n of NAMES) {
      expect(OPERANDS[LEAF[n]]).toBe(LEAVES[n].inputs);
      expect(LEAF_FAILURES[n]).toBe(LEAVES[n].fails);
    }
  });

  it("every status named in a descriptor is a known status kind", () => {
    for (const n of NAMES)
      for (const f of LEAVES[n].fails) expect(STATUS[f.name], `${n} ${f.name}`).toBeDefined();
  });

  it("above a leaf's highest version, and with a reserved RAX bit, every leaf is OPERAND_INVALID(RAX)", () => {
    const m = machine();
    const INVALID_RAX = { lo: REG.RAX, hi: STATUS.TDX_OPERAND_INVALID.hi };
    for (const n of NAMES) {
      const d = LEAVES[n];
      const over = callRegs(d.number, {}, d.maxVersion + 1);
      m.module.seamcall(over);
      expect(over.get(REG.RAX), n).toEqual(INVALID_RAX);
      const reserved = callRegs(d.number).set(REG.RAX, { lo: d.number, hi: 1 });
      m.module.seamcall(reserved);
      expect(reserved.get(REG.RAX), n).toEqual(INVALID_RAX);
    }
  });
});

describe("every (leaf, failing status) of the table has a row", () => {
  it("the rows and the ledger of statuses no call can return cover every descriptor's fails, and name nothing else", () => {
    const listed = new Set(NAMES.flatMap((n) => LEAVES[n].fails.map((f) => keyOf(n, f))));
    const rows = ALL_ROWS.map(rowKey);
    expect(
      rows.filter((k, i) => rows.indexOf(k) !== i),
      "a status with two rows",
    ).toEqual([]);
    const missing = [...listed].filter((k) => !rows.includes(k) && !(k in ELSEWHERE));
    expect(missing).toEqual([]);
    expect(rows.filter((k) => !listed.has(k))).toEqual([]);
    expect(Object.keys(ELSEWHERE).filter((k) => !listed.has(k) || rows.includes(k))).toEqual([]);
  });
});

describe("leaf rows: registers in → status, operand, registers out, PAMT", () => {
  it.each(cases(ROWS))("%s", (_t, row) => runRow(row));
});
