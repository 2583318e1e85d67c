/**
 * The leaf table (src/module/leaves.ts), checked two ways:
 * - its descriptors agree with the rest of the model (numbers, resume rules, what the transcript decoder and
 *   the fault table derive from them);
 * - every (leaf, failing status) a descriptor lists has a row here: registers in → status and operand id,
 *   registers out, PAMT change, run on a fresh machine. A status the table cannot reach with a few raw
 *   calls is in {@link ELSEWHERE} with the test that reaches it; adding a status to a descriptor without
 *   either fails the walk below.
 */
import { describe, expect, it } from "vitest";
import { encodeHpaListInfo, encodeIommuMt, encodeIommuMtEntry } from "../../src/common/formats.js";
import { callRegs } from "../../src/common/seamcall.js";
import {
  LEAF,
  type LeafName,
  REG,
  RESOURCE_OPERAND,
  STATUS,
  type StatusName,
  statusText,
} from "../../src/common/status.js";
import { type U64, U64_ONES } from "../../src/common/u64.js";
import { LEAF_FAILURES } from "../../src/faults/fault-table.js";
import type { Machine } from "../../src/machine.js";
import { PT } from "../../src/module/index.js";
import type { FailingStatus } from "../../src/module/leaf-table.js";
import { LEAVES } from "../../src/module/leaves.js";
import { OPERANDS } from "../../src/observe/describe-call.js";
import { call, hpa, iommuMt, listInfo, machine, pages, rootWith, units } from "../support/machine.js";

const GiB = 2 ** 30;
const NAMES = Object.keys(LEAVES) as LeafName[];

/** One row: the machine state and inputs that make `leaf` return `status`, and what must hold after. */
interface Row {
  readonly leaf: LeafName;
  readonly status: StatusName;
  /** Operand id in bits 31:0 (a register id or a resource id; 0 for none). */
  readonly operand: number;
  readonly what: string;
  /** Prepares the machine; returns the input registers and the pages whose PAMT entries to watch. */
  readonly arrange: (m: Machine) => {
    inputs: Record<number, U64>;
    watch?: readonly number[];
    version?: number;
  };
  /** Output registers after the call (checked exactly). */
  readonly out?: (m: Machine) => Record<number, U64>;
  /** Further checks on the machine after the call. */
  readonly after?: (m: Machine) => void;
  /** PAMT type of each watched page after the call; null (or none given): unchanged. */
  readonly pamtAfter?: readonly (number | null)[];
}

const keyOf = (leaf: LeafName, f: { name: StatusName; operand: number; effects?: boolean }) =>
  `${leaf} ${f.name}(${f.operand})${f.effects === true ? " effects" : ""}`;

/** A private KeyID other than the global one (for TDH.MNG.CREATE's HKID). */
const hkid = (m: Machine): U64 => {
  const k = m.platform.keyIds;
  return { lo: k.global === k.firstPrivate ? k.firstPrivate + 1 : k.firstPrivate, hi: 0 };
};
/** A page with the module's global KeyID in its HPA (WBINVD's operand). */
const withGlobalKeyId = (m: Machine, a: number) =>
  hpa(a + m.platform.keyIds.global * 2 ** m.platform.keyIds.shift);
/** A page the pool already holds (no longer PT_NDA). */
const poolPage = (m: Machine): number => {
  const q = pages(m, 1)[0]!;
  expect(statusText(call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [q.hpa]) }).get(REG.RAX))).toBe(
    "TDX_SUCCESS",
  );
  return q.hpa;
};
/** A page whose PAMT entry logical CPU 1 holds exclusively (the running call, on CPU 0, finds it busy). */
const lockedPage = (m: Machine): number => {
  const p = pages(m, 1)[0]!;
  expect(m.module.pamtLocks.acquire(1, p.pfn, "exclusive")).toBe("ok");
  return p.hpa;
};
/** A machine whose extension pool needs only `n` pages. */
const smallPool = (n: number): Machine => {
  const base = machine().platform;
  return machine({}, { ...base, metadata: { ...base.metadata, MEMORY_POOL_REQUIRED_PAGES: n } });
};
/** A TD created on `m`: its TDR page's HPA. */
const tdr = (m: Machine): number => {
  const p = pages(m, 1)[0]!;
  const r = call(m, "TDH.MNG.CREATE", { [REG.RCX]: hpa(p.hpa), [REG.RDX]: hkid(m) });
  expect(statusText(r.get(REG.RAX))).toBe("TDX_SUCCESS");
  return p.hpa;
};
/**
 * The four private-operand-page rows of one leaf (03-module.md 3.2), on register `reg`: `wrap` builds the
 * inputs naming the page at `pageHpa` (misaligned in the OPERAND_INVALID row).
 */
function privatePageRows(
  leaf: LeafName,
  reg: number,
  wrap: (m: Machine, pageHpa: number) => Record<number, U64>,
) {
  const row = (status: StatusName, what: string, page: (m: Machine) => number): Row => ({
    leaf,
    status,
    operand: reg,
    what,
    arrange: (m) => {
      const a = page(m);
      const pfn = Math.floor(a / 4096);
      return { inputs: wrap(m, a), watch: m.module.pamt.inTdmr(pfn) ? [pfn] : [] };
    },
  });
  return [
    row("TDX_OPERAND_INVALID", "a misaligned page", (m) => pages(m, 1)[0]!.hpa + 0x800),
    row("TDX_OPERAND_ADDR_RANGE_ERROR", "a page outside every TDMR", () => 600 * GiB),
    row("TDX_OPERAND_BUSY", "a page whose PAMT entry another CPU holds", lockedPage),
    row("TDX_PAGE_METADATA_INCORRECT", "a page the pool holds already", poolPage),
  ];
}

const ROWS: readonly Row[] = [
  // ---- leaves-core.ts
  {
    leaf: "TDH.PHYMEM.PAGE.WBINVD",
    status: "TDX_OPERAND_INVALID",
    operand: REG.RCX,
    what: "KeyID 0 (not a private KeyID)",
    arrange: (m) => ({ inputs: { [REG.RCX]: hpa(pages(m, 1)[0]!.hpa) } }),
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
    arrange: (m) => ({ inputs: { [REG.RCX]: hpa(pages(m, 1)[0]!.hpa + 1), [REG.RDX]: U64_ONES } }),
    out: () => ({ [REG.RCX]: { lo: 0, hi: 0 }, [REG.RDX]: { lo: 0, hi: 0 } }),
  },
  {
    leaf: "TDH.PHYMEM.PAGE.RDMD",
    status: "TDX_OPERAND_ADDR_RANGE_ERROR",
    operand: REG.RCX,
    what: "outside every TDMR",
    arrange: () => ({ inputs: { [REG.RCX]: hpa(600 * GiB) } }),
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
    what: "a list longer than the pool still needs: the rest stays with the host",
    arrange: (m) => {
      const ps = pages(m, 3);
      return {
        inputs: {
          [REG.RCX]: listInfo(
            m,
            ps.map((p) => p.hpa),
          ),
        },
        watch: ps.map((p) => p.pfn),
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
    arrange: (m) => ({ inputs: { [REG.RCX]: hpa(tdr(m) + 8) } }),
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

/**
 * (leaf, status) pairs reached by other tests, not by one raw call on a fresh machine: the interrupt and
 * resumption statuses need an interrupt plan and a re-issue, the SPDM/IDE ones a connected device, the
 * quote ones a quote buffer list. Each names where it is tested.
 */
const ELSEWHERE: Readonly<Record<string, string>> = (() => {
  const out: Record<string, string> = {};
  const add = (leaf: LeafName, fs: readonly FailingStatus[], where: string) => {
    for (const f of fs) out[keyOf(leaf, f)] = where;
  };
  const rowKeys = new Set(ROWS.map((r) => keyOf(r.leaf, { name: r.status, operand: r.operand })));
  /** Every status of `leaf` that no row reaches. */
  const rest = (leaf: LeafName) => LEAVES[leaf].fails.filter((f) => !rowKeys.has(keyOf(leaf, f)));
  const resumption = (leaf: LeafName, where: string) =>
    add(
      leaf,
      LEAVES[leaf].fails.filter(
        (f) =>
          f.name === "TDX_INTERRUPTED_RESUMABLE" ||
          f.name === "TDX_INVALID_RESUMPTION" ||
          (f.name === "TDX_OPERAND_BUSY" && f.operand === RESOURCE_OPERAND.SYS),
      ),
      where,
    );
  resumption("TDH.EXT.MEM.ADD", "module.test.ts TDH.EXT.MEM.ADD interrupted; judge.test.ts extension slot");
  resumption("TDH.EXT.INIT", "module.test.ts TDH.EXT.INIT interrupted, resumed with the original inputs");
  resumption("TDH.IOMMU.SETUP", "module.test.ts TDH.IOMMU.SETUP / CLEAR interrupted");
  resumption("TDH.IOMMU.CLEAR", "module.test.ts TDH.IOMMU.SETUP / CLEAR interrupted");
  add(
    "TDH.SYS.RD",
    [LEAVES["TDH.SYS.RD"].fails[1]!],
    "sys-config.test.ts: a feature field before SYS.CONFIG",
  );
  for (const leaf of [
    "TDH.SPDM.CREATE",
    "TDH.SPDM.DELETE",
    "TDH.SPDM.CONNECT",
    "TDH.SPDM.DISCONNECT",
    "TDH.SPDM.MNG",
  ] as const)
    add(leaf, rest(leaf), "test/host/spdm-ide.test.ts (a connected device and its exchange)");
  for (const leaf of [
    "TDH.IDE.STREAM.CREATE",
    "TDH.IDE.STREAM.BLOCK",
    "TDH.IDE.STREAM.DELETE",
    "TDH.IDE.STREAM.KM",
  ] as const)
    add(leaf, rest(leaf), "test/host/spdm-ide.test.ts (IDE stream leaves)");
  add("TDH.QUOTE.GET", LEAVES["TDH.QUOTE.GET"].fails, "test/host/quote.test.ts (ledger quote-checks)");
  add(
    "TDH.PHYMEM.PAGE.RECLAIM",
    [LEAVES["TDH.PHYMEM.PAGE.RECLAIM"].fails[3]!],
    "test/host/quote.test.ts (a TD with a quote in flight)",
  );
  return out;
})();

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
  it("the rows and the ledger of statuses tested elsewhere cover every descriptor's fails, and name nothing else", () => {
    const listed = new Set(NAMES.flatMap((n) => LEAVES[n].fails.map((f) => keyOf(n, f))));
    const rows = new Set(ROWS.map((r) => keyOf(r.leaf, { name: r.status, operand: r.operand })));
    const missing = [...listed].filter((k) => !rows.has(k) && !(k in ELSEWHERE));
    expect(missing).toEqual([]);
    expect([...rows].filter((k) => !listed.has(k))).toEqual([]);
    expect(Object.keys(ELSEWHERE).filter((k) => !listed.has(k) || rows.has(k))).toEqual([]);
  });
});

describe("leaf rows: registers in → status, operand, registers out, PAMT", () => {
  it.each(ROWS.map((r) => [`${r.leaf} ${r.status}(${r.operand}): ${r.what}`, r] as const))(
    "%s",
    (_t, row) => {
      const m =
        row.leaf === "TDH.EXT.MEM.ADD" && row.status === "TDX_EXT_MEMORY_POOL_FULL"
          ? smallPool(2)
          : machine();
      const { inputs, watch = [], version = 0 } = row.arrange(m);
      const before = watch.map((pfn) => [m.module.pamt.type(pfn), m.module.pamt.owner(pfn)]);
      const r = callRegs(LEAF[row.leaf], inputs, version);
      m.module.seamcall(r);
      expect(statusText(r.get(REG.RAX))).toBe(statusText({ lo: row.operand, hi: STATUS[row.status].hi }));
      for (const [reg, v] of Object.entries(row.out?.(m) ?? {}))
        expect(r.get(Number(reg)), `R${reg}`).toEqual(v);
      const after = watch.map((pfn) => [m.module.pamt.type(pfn), m.module.pamt.owner(pfn)]);
      row.after?.(m);
      after.forEach(([type, owner], i) => {
        const want = row.pamtAfter?.[i] ?? null;
        if (want === null) expect([type, owner], `PAMT of watched page ${i}`).toEqual(before[i]);
        else expect(type, `PAMT type of watched page ${i}`).toBe(want);
      });
    },
  );
});
