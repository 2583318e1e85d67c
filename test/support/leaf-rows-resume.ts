/**
 * Leaf rows that need an interrupt plan and a re-issue (TDX_INTERRUPTED_RESUMABLE, its forced-with-effects
 * variant, TDX_INVALID_RESUMPTION, the extension slot's BUSY(SYS)) for the extension and IOMMU leaves, the
 * quote leaves (a TD with a quote buffer), and TDH.SYS.RD before SYS.CONFIG. Rows may call first: the
 * arrange interrupts a call, the row's call is the resumption or the wrong one. Run by
 * test/module/leaf-table-resume.test.ts.
 */
import { expect } from "vitest";
import { encodeIommuMt, withFirstEntry } from "../../src/common/formats.js";
import { REG, RESOURCE_OPERAND, statusText } from "../../src/common/status.js";
import { parseU64, type U64 } from "../../src/common/u64.js";
import { METADATA_FIELD_IDS } from "../../src/hw/platform.js";
import type { Machine, MachineOptions } from "../../src/machine.js";
import { PT } from "../../src/module/index.js";
import { clobbered, connectMachine, quoteSetup, slotHeldByConnect } from "./leaf-fixtures.js";
import type { Arranged, Row } from "./leaf-table.js";
import { call, hpa, iommuMt, listInfo, machine, pages, platformWith, rootWith, units } from "./machine.js";

const GiB = 2 ** 30;
const ok = (r: { get(reg: number): U64 }) => expect(statusText(r.get(REG.RAX))).toBe("TDX_SUCCESS");
const every = (k: number) => () => machine({ interrupts: { kind: "every", k } });

// ---- TDH.EXT.MEM.ADD / TDH.EXT.INIT ---------------------------------------------------------------

/** A machine whose pool needs only 10 pages. */
const smallPool = (opts: MachineOptions = {}) =>
  machine(opts, platformWith({ MEMORY_POOL_REQUIRED_PAGES: 10 }));

/** Fills the pool of a {@link smallPool} machine (re-issuing as returned); returns the pages' PFNs. */
function fillPool(m: Machine): number[] {
  const ps = pages(m, 10);
  let r = call(m, "TDH.EXT.MEM.ADD", {
    [REG.RCX]: listInfo(
      m,
      ps.map((p) => p.hpa),
    ),
  });
  while (statusText(r.get(REG.RAX)) === "TDX_INTERRUPTED_RESUMABLE")
    r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: r.get(REG.RCX) });
  ok(r);
  return ps.map((p) => p.pfn);
}

/** INIT interrupted after `done` pages: those are written through the global KeyID, the next is not. */
function initInterrupted(m: Machine, done: number): Arranged {
  const pfns = fillPool(m);
  const g = m.platform.keyIds.global;
  return {
    inputs: {},
    watch: pfns,
    after: () => {
      expect(m.module.extSlot?.progress).toBe(done);
      expect(m.module.ext.initialized).toBe(false);
      for (const pfn of pfns.slice(0, done)) expect(m.cache.dirtyKeyIds(pfn)).toContain(g);
      expect(m.cache.dirtyKeyIds(pfns[done]!)).not.toContain(g);
    },
  };
}

/** MEM.ADD of `n` pages whose call is interrupted after `done` entries: FIRST_ENTRY = done, slot held. */
function memAddInterrupted(m: Machine, n: number, done: number): Arranged {
  const ps = pages(m, n);
  const op = listInfo(
    m,
    ps.map((p) => p.hpa),
  );
  return {
    inputs: { [REG.RCX]: op },
    watch: ps.map((p) => p.pfn),
    out: () => ({ [REG.RCX]: withFirstEntry(op, done) }),
    pamtAfter: ps.map((_, i) => (i < done ? PT.EXT_POOL : null)),
    after: () => {
      expect(m.module.ext.poolPages).toBe(done);
      expect(m.module.extSlot).not.toBeNull();
    },
  };
}

const EXT: Row[] = [
  {
    leaf: "TDH.EXT.MEM.ADD",
    status: "TDX_OPERAND_BUSY",
    operand: RESOURCE_OPERAND.SYS,
    what: "a CONNECT in flight holds the extension slot; RCX as given, nothing added",
    machine: () => connectMachine(),
    arrange: (m) => {
      slotHeldByConnect(m);
      const p = pages(m, 1)[0]!;
      return { inputs: { [REG.RCX]: listInfo(m, [p.hpa]) }, watch: [p.pfn] };
    },
  },
  {
    leaf: "TDH.EXT.MEM.ADD",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    what: "every 2 units, 5 entries: two added, RCX FIRST_ENTRY = 2, the slot held",
    machine: every(2),
    arrange: (m) => memAddInterrupted(m, 5, 2),
  },
  {
    leaf: "TDH.EXT.MEM.ADD",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    effects: true,
    what: "forced with effects, 3 entries: interrupted at the first boundary, RCX FIRST_ENTRY = 1",
    arrange: (m) => memAddInterrupted(m, 3, 1),
  },
  {
    leaf: "TDH.EXT.MEM.ADD",
    status: "TDX_INVALID_RESUMPTION",
    operand: 0,
    what: "an add of another list while one is interrupted: nothing added, the slot still the first add's",
    machine: every(2),
    arrange: (m) => {
      const first = pages(m, 5);
      const r = call(m, "TDH.EXT.MEM.ADD", {
        [REG.RCX]: listInfo(
          m,
          first.map((p) => p.hpa),
        ),
      });
      expect(statusText(r.get(REG.RAX))).toBe("TDX_INTERRUPTED_RESUMABLE");
      const slot = m.module.extSlot;
      const other = pages(m, 3);
      return {
        inputs: {
          [REG.RCX]: listInfo(
            m,
            other.map((p) => p.hpa),
          ),
        },
        watch: [first[1]!.pfn, first[2]!.pfn, ...other.map((p) => p.pfn)],
        after: () => {
          expect(m.module.extSlot).toBe(slot);
          expect(m.module.ext.poolPages).toBe(2);
        },
      };
    },
  },
  {
    leaf: "TDH.EXT.INIT",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    what: "every 4 units: four pool pages written through the global KeyID, the slot held",
    machine: () => smallPool({ interrupts: { kind: "every", k: 4 } }),
    arrange: (m) => initInterrupted(m, 4),
  },
  {
    leaf: "TDH.EXT.INIT",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    effects: true,
    what: "forced with effects: one pool page written, interrupted at the first boundary",
    machine: () => smallPool(),
    arrange: (m) => initInterrupted(m, 1),
  },
  {
    leaf: "TDH.EXT.INIT",
    status: "TDX_OPERAND_BUSY",
    operand: RESOURCE_OPERAND.SYS,
    what: "a CONNECT in flight holds the extension slot; the slot stays the CONNECT's",
    machine: () => connectMachine(),
    arrange: (m) => {
      slotHeldByConnect(m);
      const slot = m.module.extSlot;
      return { inputs: {}, after: () => expect(m.module.extSlot).toBe(slot) };
    },
  },
];

// ---- TDH.IOMMU.SETUP / TDH.IOMMU.CLEAR ------------------------------------------------------------

/**
 * SETUP of the capable unit interrupted after `done` entries (entries 0 and 1 are the 2-page queue
 * blocks, then the order-0 pages): the watched pages are the last claimed one and the next.
 */
function setupInterrupted(m: Machine, done: number): Arranged {
  const mt = iommuMt(m);
  const entryPfn = (i: number) => (i < 2 ? mt.blocks[i]!.pfn : mt.singles[i - 2]!.pfn);
  return {
    inputs: { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand },
    watch: [entryPfn(0), entryPfn(done - 1), entryPfn(done)],
    pamtAfter: [PT.IOMMU_MT, PT.IOMMU_MT, null],
    out: () => clobbered(m, [REG.RCX, REG.RDX]),
    after: () => expect(m.module.resumables.size).toBe(1),
  };
}

/** The capable unit set up (re-issued until done): its id, the IOMMU_MT and the inputs. */
function setUp(m: Machine) {
  const mt = iommuMt(m);
  const inputs = { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand };
  let r = call(m, "TDH.IOMMU.SETUP", inputs);
  while (statusText(r.get(REG.RAX)) === "TDX_INTERRUPTED_RESUMABLE") r = call(m, "TDH.IOMMU.SETUP", inputs);
  ok(r);
  return { id: r.get(REG.RCX), mt };
}

/** CLEAR interrupted after `done` pages (released in order: the two blocks' pages, then the rest). */
function clearInterrupted(m: Machine, done: number): Arranged {
  const { id, mt } = setUp(m);
  const owned = [mt.blocks[0]!.pfn, mt.blocks[0]!.pfn + 1, mt.blocks[1]!.pfn, mt.blocks[1]!.pfn + 1];
  const order = [...owned, ...mt.singles.map((p) => p.pfn)];
  return {
    inputs: { [REG.RCX]: id, [REG.RDX]: mt.operand },
    watch: [order[0]!, order[done - 1]!, order[done]!],
    pamtAfter: [PT.NDA, PT.NDA, null],
    out: () => clobbered(m, [REG.RCX, REG.RDX]),
    after: () => expect(m.module.resumables.size).toBe(1),
  };
}

const IOMMU: Row[] = [
  {
    leaf: "TDH.IOMMU.SETUP",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    what: "every 5 units: five entries claimed, inputs clobbered, progress kept",
    machine: every(5),
    arrange: (m) => setupInterrupted(m, 5),
  },
  {
    leaf: "TDH.IOMMU.SETUP",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    effects: true,
    what: "forced with effects: the first queue block claimed, interrupted at the first boundary",
    arrange: (m) => setupInterrupted(m, 1),
  },
  {
    leaf: "TDH.IOMMU.SETUP",
    status: "TDX_INVALID_RESUMPTION",
    operand: 0,
    what: "interrupted, re-issued with another IOMMU_MT: what it claimed stays claimed, progress kept",
    machine: every(5),
    arrange: (m) => {
      const mt = iommuMt(m);
      const inputs = { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand };
      expect(statusText(call(m, "TDH.IOMMU.SETUP", inputs).get(REG.RAX))).toBe("TDX_INTERRUPTED_RESUMABLE");
      return {
        inputs: { ...inputs, [REG.RDX]: iommuMt(m).operand },
        watch: [mt.blocks[0]!.pfn, mt.singles[2]!.pfn, mt.singles[3]!.pfn],
        after: () => {
          expect(m.module.pamt.type(mt.blocks[0]!.pfn)).toBe(PT.IOMMU_MT);
          expect(m.module.resumables.size).toBe(1);
        },
      };
    },
  },
  {
    leaf: "TDH.IOMMU.SETUP",
    status: "TDX_OPERAND_BUSY",
    operand: REG.RCX,
    what: "its interrupted setup being resumed on CPU 0: CPU 1's re-issue runs at a yield point, refused",
    machine: every(5),
    arrange: (m) => {
      const mt = iommuMt(m);
      const inputs = { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand };
      expect(statusText(call(m, "TDH.IOMMU.SETUP", inputs).get(REG.RAX))).toBe("TDX_INTERRUPTED_RESUMABLE");
      let ran = false;
      return {
        inputs,
        watch: [mt.blocks[0]!.pfn, mt.singles[8]!.pfn],
        issue: (regs) => {
          m.module.onYieldPoint = () => {
            m.module.onYieldPoint = null;
            ran = true;
            m.module.onCpu(1, () => m.module.seamcall(regs));
          };
          // CPU 0's resumption takes five more entries and is interrupted again; CPU 1 ran inside it.
          expect(statusText(call(m, "TDH.IOMMU.SETUP", inputs).get(REG.RAX))).toBe(
            "TDX_INTERRUPTED_RESUMABLE",
          );
          expect(ran).toBe(true);
        },
        after: () => {
          expect(m.module.resumables.size).toBe(1);
          expect(m.module.pamt.type(mt.singles[7]!.pfn)).toBe(PT.IOMMU_MT);
        },
      };
    },
  },
  {
    leaf: "TDH.IOMMU.CLEAR",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    what: "every 5 units: five pages back to PT_NDA, inputs clobbered, progress kept",
    machine: every(5),
    arrange: (m) => clearInterrupted(m, 5),
  },
  {
    leaf: "TDH.IOMMU.CLEAR",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    effects: true,
    what: "forced with effects: one page back to PT_NDA, interrupted at the first boundary",
    arrange: (m) => clearInterrupted(m, 1),
  },
  {
    leaf: "TDH.IOMMU.CLEAR",
    status: "TDX_INVALID_RESUMPTION",
    operand: 0,
    what: "interrupted, re-issued with another root: the unit keeps the rest of its pages",
    machine: every(5),
    arrange: (m) => {
      const { id, mt } = setUp(m);
      const inputs = { [REG.RCX]: id, [REG.RDX]: mt.operand };
      expect(statusText(call(m, "TDH.IOMMU.CLEAR", inputs).get(REG.RAX))).toBe("TDX_INTERRUPTED_RESUMABLE");
      return {
        inputs: { ...inputs, [REG.RDX]: encodeIommuMt(rootWith(m, [])) },
        watch: [mt.blocks[0]!.pfn, mt.singles[1]!.pfn, mt.singles[2]!.pfn],
        after: () => {
          expect(m.module.pamt.type(mt.singles[1]!.pfn)).toBe(PT.IOMMU_MT);
          expect(m.module.resumables.size).toBe(1);
        },
      };
    },
  },
];

// ---- TDH.QUOTE.GET, TDH.PHYMEM.PAGE.RECLAIM (a TD with a quote buffer) ------------------------------

const QUOTE_INPUTS = [REG.RCX, REG.RDX, REG.R8, REG.R9, REG.R10, REG.R11];

/** A QUOTE.GET row with the setup's registers edited by `edit`: refused, nothing kept, the TDR unchanged. */
const quoteRefused = (
  operandName: keyof typeof REG,
  status: Row["status"],
  what: string,
  edit: (m: Machine, s: ReturnType<typeof quoteSetup>) => Record<number, U64>,
): Row => ({
  leaf: "TDH.QUOTE.GET",
  status,
  operand: REG[operandName],
  what: `${what}; nothing kept`,
  arrange: (m) => {
    const s = quoteSetup(m);
    return {
      inputs: { ...s.regs, ...edit(m, s) },
      watch: [s.tdr.pfn],
      after: () => {
        expect(m.module.resumables.size).toBe(0);
        expect(m.mem.page(s.buf.data[0]!.pfn)[0]).toBe(0);
      },
    };
  },
});

/** The first 8 bytes of the quote buffer's first data page, as text. */
const magicOf = (m: Machine, s: ReturnType<typeof quoteSetup>) =>
  String.fromCharCode(...m.mem.page(s.buf.data[0]!.pfn).subarray(0, 8));

const QUOTE: Row[] = [
  {
    leaf: "TDH.QUOTE.GET",
    status: "TDX_INTERRUPTED_RESUMABLE",
    operand: 0,
    what: "every unit: the quote's first page written, inputs clobbered, progress kept",
    machine: every(1),
    arrange: (m) => {
      const s = quoteSetup(m);
      return {
        inputs: s.regs,
        watch: [s.tdr.pfn],
        out: () => clobbered(m, QUOTE_INPUTS),
        after: () => {
          expect(m.module.resumables.size).toBe(1);
          expect(magicOf(m, s)).toBe("TDXQMODL");
          expect(m.mem.page(s.buf.data[1]!.pfn).every((b) => b === 0)).toBe(true);
        },
      };
    },
  },
  {
    leaf: "TDH.QUOTE.GET",
    status: "TDX_INTERRUPTED_RESTARTABLE",
    operand: 0,
    what: "an interrupt pending at entry (seeded plan, p = 1): nothing kept, nothing written",
    machine: () => machine({ interrupts: { kind: "random", p: 1, seed: 3 } }),
    arrange: (m) => {
      const s = quoteSetup(m);
      return {
        inputs: s.regs,
        watch: [s.tdr.pfn],
        after: () => {
          expect(m.module.resumables.size).toBe(0);
          expect(m.mem.page(s.buf.data[0]!.pfn)[0]).toBe(0);
        },
      };
    },
  },
  {
    leaf: "TDH.QUOTE.GET",
    status: "TDX_INVALID_RESUMPTION",
    operand: 0,
    what: "interrupted, re-issued with another input length: the call stays in flight",
    machine: every(1),
    arrange: (m) => {
      const s = quoteSetup(m);
      expect(statusText(call(m, "TDH.QUOTE.GET", s.regs).get(REG.RAX))).toBe("TDX_INTERRUPTED_RESUMABLE");
      return {
        inputs: { ...s.regs, [REG.R9]: { lo: 32, hi: 0 } },
        watch: [s.tdr.pfn],
        after: () => expect(m.module.resumables.size).toBe(1),
      };
    },
  },
  quoteRefused("RCX", "TDX_OPERAND_INVALID", "a misaligned TDR address", (_m, s) => ({
    [REG.RCX]: hpa(s.tdr.hpa + 8),
  })),
  quoteRefused("RCX", "TDX_OPERAND_ADDR_RANGE_ERROR", "a TDR address outside every TDMR", () => ({
    [REG.RCX]: hpa(600 * GiB),
  })),
  quoteRefused("RCX", "TDX_PAGE_METADATA_INCORRECT", "the input page, not a TDR", (_m, s) => ({
    [REG.RCX]: hpa(s.input.hpa),
  })),
  quoteRefused("RDX", "TDX_OPERAND_INVALID", "quote id 1, which the module does not offer", () => ({
    [REG.RDX]: { lo: 2, hi: 0 },
  })),
  quoteRefused("R8", "TDX_OPERAND_INVALID", "input data through a private KeyID", (m, s) => ({
    [REG.R8]: hpa(s.input.hpa + m.platform.keyIds.firstPrivate * 2 ** m.platform.keyIds.shift),
  })),
  quoteRefused("R9", "TDX_OPERAND_INVALID", "input data past its page", (_m, s) => ({
    [REG.R8]: hpa(s.input.hpa + 4064),
  })),
  quoteRefused("R10", "TDX_OPERAND_INVALID", "a misaligned list head", (_m, s) => ({
    [REG.R10]: hpa(s.buf.list[0]!.hpa + 8),
  })),
  quoteRefused("R11", "TDX_OPERAND_INVALID", "R11 longer than the buffer's data pages", () => ({
    [REG.R11]: { lo: 128 * 1024, hi: 0 },
  })),
  {
    leaf: "TDH.PHYMEM.PAGE.RECLAIM",
    status: "TDX_OPERAND_BUSY",
    operand: REG.RCX,
    what: "the TD has a quote in flight: the TDR stays PT_TDR",
    machine: every(1),
    arrange: (m) => {
      const s = quoteSetup(m);
      expect(statusText(call(m, "TDH.QUOTE.GET", s.regs).get(REG.RAX))).toBe("TDX_INTERRUPTED_RESUMABLE");
      return {
        inputs: { [REG.RCX]: hpa(s.tdr.hpa) },
        watch: [s.tdr.pfn],
        after: () => expect(m.module.pamt.type(s.tdr.pfn)).toBe(PT.TDR),
      };
    },
  },
];

// ---- TDH.SYS.RD before TDH.SYS.CONFIG --------------------------------------------------------------

const SYS: Row[] = [
  {
    leaf: "TDH.SYS.RD",
    status: "TDX_METADATA_FIELD_NOT_READABLE",
    operand: 0,
    what: "a feature field (IOMMU_MT_PAGE_COUNT) before SYS.CONFIG; RDX and R8 as given",
    machine: () => machine({}, platformWith({ MEMORY_POOL_REQUIRED_PAGES: 512 })),
    arrange: () => ({ inputs: { [REG.RDX]: parseU64(METADATA_FIELD_IDS.IOMMU_MT_PAGE_COUNT) } }),
  },
];

/** Every resumption, quote and SYS.RD row. */
export const RESUME_ROWS: readonly Row[] = [...EXT, ...IOMMU, ...QUOTE, ...SYS];
