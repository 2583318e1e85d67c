/**
 * Trusted IOMMU leaves (docs/spec/03-module.md 3.3): TDH.IOMMU.SETUP takes an IOMMU_MT (two queue blocks of
 * 2^iq_order pages plus IOMMU_MT_PAGE_COUNT order-0 pages) as control pages of one DMA remapping unit;
 * TDH.IOMMU.CLEAR gives them back. Both keep their progress inside the module and must be re-issued
 * with the original inputs.
 */
import { checkEntries } from "../common/formats.js";
import { LEAF, REG, STATUS } from "../common/status.js";
import type { U64 } from "../common/u64.js";
import { low52, PAGE_SIZE, u64FromNumber } from "../common/u64.js";
import {
  type CallContext,
  type InFlight,
  type ModuleObject,
  perModule,
  SUCCESS,
  st,
  type TdxModule,
} from "./emulator.js";
import {
  type FailingStatus,
  fail,
  failWithEffects,
  type LeafTable,
  privatePageChecks,
} from "./leaf-table.js";
import { decodeMtOperand, rootWords } from "./operands.js";
import { PT } from "./pamt.js";

/** Per-module IOMMU state: unit register base → object id of its live (or in-progress) setup. */
const units = perModule(() => new Map<number, number>());

interface SetupData {
  readonly obj: ModuleObject;
  /** The entries as read at the first call: [hpa, pages] each. */
  readonly entries: readonly (readonly [number, number])[];
  readonly rootHpa: number;
}

/** Root page recorded for each live IOMMU object (CLEAR must name the same root). */
const rootOf = new WeakMap<ModuleObject, number>();

/**
 * TDH.IOMMU.SETUP: RCX = unit register base, RDX = IOMMU_MT root. Unknown or non-TDX-capable unit →
 * OPERAND_INVALID (RCX); a unit already set up → OP_STATE_INCORRECT (ledger `iommu-setup-twice`); bad
 * operand or entries → OPERAND_INVALID (RDX); then every page as a private operand page (RDX), claimed
 * one entry per unit of work. On an error every page this setup claimed is released again (ledger
 * `setup-rollback`). Out RCX = IOMMU id.
 */
function tdhIommuSetup(mod: TdxModule, c: CallContext): U64 {
  // An interrupted SETUP is resumed only by a re-issue with identical inputs (03-module.md 3.4). Its
  // progress is kept per unit (keyed by RCX), so SETUP of another unit meanwhile is a new call.
  const key = `iommu-setup:${c.regs.hi(REG.RCX)}:${c.regs.lo(REG.RCX)}`;
  const f = mod.beginResumable(c, key, [REG.RCX, REG.RDX]);
  if (!("progress" in f)) return f;
  const refuse = (s: ReturnType<typeof st>) => {
    mod.endResumable(f, key);
    return s;
  };
  const regBase = low52(c.regs.lo(REG.RCX), c.regs.hi(REG.RCX));
  const unit = mod.platform.iommus.find((u) => u.regBase === regBase && c.regs.hi(REG.RCX) < 0x10_0000);
  if (unit === undefined || !unit.tdxCapable) return refuse(st(STATUS.TDX_OPERAND_INVALID, REG.RCX));
  const live = units(mod).get(regBase);
  if (live !== undefined && mod.objects.get(live)?.state !== "setting-up")
    return refuse(st(STATUS.TDX_OP_STATE_INCORRECT, REG.RCX));
  const d = decodeMtOperand(mod, c.regs.get(REG.RDX));
  if (d.violation !== null) return refuse(st(STATUS.TDX_OPERAND_INVALID, REG.RDX));
  const queuePages = 2 ** mod.platform.metadata.iqOrder;
  if (f.data === undefined) {
    const count = mod.platform.metadata.IOMMU_MT_PAGE_COUNT + 2;
    // Read at once below (checked, then copied out as entries): no copy of the page first.
    const root = rootWords(mod, d.fields.rootHpa);
    if (checkEntries("iommu-mt", root, 0, count - 1, queuePages) !== null) {
      mod.endResumable(f, key);
      return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
    }
    const entries: [number, number][] = [];
    for (let i = 0; i < count; i++) {
      // Rule 4 held: bits 63:52 are zero and bits 11:0 hold NUM_PAGES, which the address drops.
      const hpa = root[2 * i + 1]! * 0x1_0000_0000 + ((root[2 * i]! & 0xffff_f000) >>> 0);
      entries.push([hpa, i < 2 ? queuePages : 1]);
    }
    const obj = mod.newObject("iommu", unit.name);
    obj.state = "setting-up";
    units(mod).set(regBase, obj.id);
    f.data = { obj, entries, rootHpa: d.fields.rootHpa } satisfies SetupData;
  }
  const data = f.data as SetupData;
  while (f.progress < data.entries.length) {
    const [hpa, pages] = data.entries[f.progress]!;
    const bad = mod.privatePageStatus(hpa, pages, REG.RDX);
    if (bad !== null) {
      abortSetup(mod, f);
      mod.endResumable(f, key);
      return bad;
    }
    mod.checkRootListsItself(data.rootHpa, hpa, pages, f.progress);
    for (let i = 0; i < pages; i++) {
      const pfn = hpa / PAGE_SIZE + i;
      mod.claimPage(pfn, PT.IOMMU_MT, data.obj);
    }
    f.progress++;
    c.units++;
    if (f.progress < data.entries.length && mod.interrupts.afterUnit())
      return mod.interrupted(c, [REG.RCX, REG.RDX]);
  }
  // The module initialises the queues and tables through its global KeyID.
  for (const pfn of data.obj.pages) {
    if (!mod.writePrivate(pfn, c.cause)) {
      mod.endResumable(f, key);
      return st(STATUS.TDX_SYS_SHUTDOWN);
    }
  }
  data.obj.state = "live";
  rootOf.set(data.obj, data.rootHpa);
  mod.endResumable(f, key);
  c.regs.set(REG.RCX, u64FromNumber(data.obj.id));
  return SUCCESS;
}

/** Undoes an interrupted SETUP: the pages it claimed go back to PT_NDA (as `setup-rollback`). */
function abortSetup(mod: TdxModule, f: InFlight): void {
  const data = f.data as SetupData | undefined;
  if (data === undefined) return;
  for (const p of data.obj.pages) mod.releasePage(p);
  for (const [base, oid] of units(mod)) if (oid === data.obj.id) units(mod).delete(base);
  mod.dropObject(data.obj.id);
}

/**
 * TDH.IOMMU.CLEAR: RCX = IOMMU id, RDX = the same root PA as at setup (else OPERAND_INVALID RDX, ledger
 * `iommu-clear-root`). Pages return to PT_NDA one entry per unit of work, with the module's dirty lines
 * still cached. Resumable with the original inputs.
 */
function tdhIommuClear(mod: TdxModule, c: CallContext): U64 {
  const key = "iommu-clear";
  const f = mod.beginResumable(c, key, [REG.RCX, REG.RDX]);
  if (!("progress" in f)) return f;
  if (f.progress > 0) return clearPages(mod, c, f, key, f.data as ModuleObject);
  const id = c.regs.hi(REG.RCX) === 0 ? c.regs.lo(REG.RCX) : -1;
  const obj = mod.objects.get(id);
  if (obj === undefined || obj.kind !== "iommu" || obj.state !== "live") {
    mod.endResumable(f, key);
    return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  }
  const d = decodeMtOperand(mod, c.regs.get(REG.RDX));
  if (d.violation !== null || d.fields.rootHpa !== rootOf.get(obj)) {
    mod.endResumable(f, key);
    return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
  }
  obj.state = "clearing";
  f.data = obj;
  return clearPages(mod, c, f, key, obj);
}

function clearPages(mod: TdxModule, c: CallContext, f: InFlight, key: string, obj: ModuleObject): U64 {
  // A released page leaves the object's list at once: mid-clear, the list is what the unit still owns.
  const pages = obj.pages;
  while (pages.length > 0) {
    mod.releasePage(pages.shift()!);
    f.progress++;
    c.units++;
    if (pages.length > 0 && mod.interrupts.afterUnit()) return mod.interrupted(c, [REG.RCX, REG.RDX]);
  }
  for (const [base, oid] of units(mod)) if (oid === obj.id) units(mod).delete(base);
  mod.dropObject(obj.id);
  mod.endResumable(f, key);
  return SUCCESS;
}

/**
 * Statuses of a leaf that keeps its progress under its own resumption key (03-module.md 3.4): not an
 * extension call, so never BUSY on the extension slot.
 */
const keptProgress: readonly FailingStatus[] = [
  fail("TDX_INTERRUPTED_RESUMABLE"),
  failWithEffects("TDX_INTERRUPTED_RESUMABLE"),
  fail("TDX_INVALID_RESUMPTION"),
];

/** The descriptors of this file's leaves (gathered by `leaves.ts`). */
export const IOMMU_LEAVES = {
  "TDH.IOMMU.SETUP": {
    name: "TDH.IOMMU.SETUP",
    number: LEAF["TDH.IOMMU.SETUP"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "hpa"],
      [REG.RDX, "iommu-mt"],
    ],
    outputs: [[REG.RCX, "id"]],
    // Unknown or incapable unit (RCX), unit already set up (RCX), IOMMU_MT rules and the private page
    // checks (RDX); resumable with the original inputs (its own resumption key, not the extension slot),
    // and BUSY naming the unit (RCX) when its interrupted setup is being resumed on another logical CPU
    // (`beginResumable`; the private page checks are the leaf's yield points).
    fails: [
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OP_STATE_INCORRECT", REG.RCX),
      ...privatePageChecks(REG.RDX),
      ...keptProgress,
      fail("TDX_OPERAND_BUSY", REG.RCX),
    ],
    resume: "interruptible",
    extensionQueue: false,
    run: tdhIommuSetup,
    abort: abortSetup,
  },
  "TDH.IOMMU.CLEAR": {
    name: "TDH.IOMMU.CLEAR",
    number: LEAF["TDH.IOMMU.CLEAR"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "id"],
      [REG.RDX, "iommu-mt"],
    ],
    outputs: [],
    // Unknown id (RCX), a different root (RDX); resumable with the original inputs (no yield point: no
    // other CPU's call runs inside it, so no BUSY).
    fails: [fail("TDX_OPERAND_INVALID", REG.RCX), fail("TDX_OPERAND_INVALID", REG.RDX), ...keptProgress],
    resume: "interruptible",
    extensionQueue: false,
    run: tdhIommuClear,
    abort: null,
  },
} satisfies Partial<LeafTable>;
