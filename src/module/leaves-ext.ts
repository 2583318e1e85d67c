/**
 * Extension leaves (docs/spec/03-module.md 3.3): TDH.EXT.MEM.ADD donates pages to the extension memory pool from
 * an HPA_LIST_INFO, resuming from the FIRST_ENTRY it writes back; TDH.EXT.INIT initialises the
 * extensions once the pool is full, keeping its progress inside the module.
 */
import { listEntryRule, withFirstEntry } from "../common/formats.js";
import { RULE_OK } from "../common/rules.js";
import { LEAF, REG, RESOURCE_OPERAND, STATUS } from "../common/status.js";
import type { U64 } from "../common/u64.js";
import { hpaToPfn, PAGE_SIZE } from "../common/u64.js";
import { type CallContext, EXT_QUEUE_BUSY, SUCCESS, st, type TdxModule } from "./emulator.js";
import {
  extensionResumable,
  fail,
  failWithEffects,
  type LeafTable,
  privatePageChecks,
} from "./leaf-table.js";
import { decodeListInfoOperand, readRoot } from "./operands.js";
import { PT } from "./pamt.js";
import { RunListObject } from "./records.js";

/**
 * TDH.EXT.MEM.ADD: RCX = HPA_LIST_INFO. Operand rules 1–3 first (OPERAND_INVALID, RCX), then entries
 * FIRST_ENTRY..LAST_ENTRY one at a time: rule 4 on the entry (OPERAND_INVALID, RCX), the private operand
 * page checks, and the page becomes a pool page. RCX comes back
 * with FIRST_ENTRY = the next unprocessed entry on every return (success, error, interruption, pool
 * full). Pages already added stay added when an entry fails (behaviour `extAddKeepsPartial`). An
 * interrupted add holds the extension slot (ledger `ext-add-holds-slot`): other extension calls get
 * TDX_OPERAND_BUSY, another list TDX_INVALID_RESUMPTION, until the add of this list ends.
 */
function tdhExtMemAdd(mod: TdxModule, c: CallContext): U64 {
  const op = c.regs.get(REG.RCX);
  const d = decodeListInfoOperand(mod, op);
  if (d.violation !== null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const { firstEntry, lastEntry, rootHpa } = d.fields;
  // The extension slot: another extension call in flight → BUSY; an interrupted add of another list
  // holds it until it ends (ledger `ext-add-holds-slot`); the resume of this list continues.
  const held = mod.extSlot;
  if (held !== null) {
    if (held.leaf !== c.leaf) return EXT_QUEUE_BUSY;
    if (
      held.inputs[0] !== rootHpa % 2 ** 32 ||
      held.inputs[1] !== Math.floor(rootHpa / 2 ** 32) ||
      held.progress !== lastEntry
    )
      return st(STATUS.TDX_INVALID_RESUMPTION);
  }
  const slot = held ?? {
    leaf: c.leaf,
    inputs: Uint32Array.of(rootHpa % 2 ** 32, Math.floor(rootHpa / 2 ** 32)),
    progress: lastEntry,
    locked: [],
  };
  mod.extSlot = null;
  const root = readRoot(mod, rootHpa);
  const pool = mod.objects.get(mod.ext.poolObject)!;
  const required = mod.platform.metadata.MEMORY_POOL_REQUIRED_PAGES;
  // The pages this call added, kept only for a module that takes them back on a failed entry.
  const addedHere: number[] | null = mod.behaviours.extAddKeepsPartial ? null : [];
  // The root's own PFN, once per call: an entry of one page holds the root exactly when its PFN is this
  // one, so the per-entry report check below runs only then (ledger `root-lists-itself`).
  const rootPfn = hpaToPfn(mod.stripKeyId(rootHpa));
  for (let i = firstEntry; i <= lastEntry; i++) {
    if (mod.ext.poolPages >= required) {
      c.regs.set(REG.RCX, withFirstEntry(op, i));
      return st(STATUS.TDX_EXT_MEMORY_POOL_FULL);
    }
    // Entry i is validated here, inside the loop, as TDX Module 1.5 does (docs/spec/01-formats.md 1.4):
    // a bad entry stops the call at i with every earlier entry already added.
    // Entry i: words 2i (bits 31:0) and 2i + 1 (bits 63:32); its bits 11:0 and 63:52 are zero.
    // privatePageStatus(hpa, 1, RCX) by PFN: the HPA (a double above 2^31) stays in this function and
    // the calls take the PFN (a small integer; an HPA passed on was a heap number per entry). An entry
    // the rule accepts is aligned and below 2^52, so of OPERAND_INVALID's checks only the KeyID's is left.
    const hpa = root[2 * i + 1]! * 0x1_0000_0000 + root[2 * i]!;
    const pfn = hpa / PAGE_SIZE;
    const bad2 =
      listEntryRule(root[2 * i]!, root[2 * i + 1]!) !== RULE_OK || mod.keyIdOfPfn(pfn) !== 0
        ? st(STATUS.TDX_OPERAND_INVALID, REG.RCX)
        : mod.privatePfnStatus(pfn, 1, REG.RCX);
    if (bad2 !== null) {
      if (addedHere !== null) for (const p of addedHere) unaddPoolPage(mod, p);
      c.regs.set(REG.RCX, withFirstEntry(op, mod.behaviours.extAddKeepsPartial ? i : firstEntry));
      return bad2;
    }
    if (pfn === rootPfn) mod.checkRootListsItself(rootHpa, hpa, 1, i);
    mod.claimPage(pfn, PT.EXT_POOL, pool);
    mod.ext.poolPages++;
    addedHere?.push(pfn);
    c.units++;
    if (i < lastEntry && mod.interrupts.afterUnit()) {
      c.regs.set(REG.RCX, withFirstEntry(op, i + 1));
      mod.extSlot = slot;
      return st(STATUS.TDX_INTERRUPTED_RESUMABLE);
    }
  }
  c.regs.set(REG.RCX, withFirstEntry(op, lastEntry + 1));
  return SUCCESS;
}

function unaddPoolPage(mod: TdxModule, pfn: number): void {
  const pool = mod.objects.get(mod.ext.poolObject)!;
  mod.releasePage(pfn);
  const i = pool.pages.lastIndexOf(pfn);
  if (i >= 0) pool.pages.splice(i, 1);
  mod.ext.poolPages--;
}

/**
 * TDH.EXT.INIT: no operands. Needs at least MEMORY_POOL_REQUIRED_PAGES in the pool, else
 * TDX_OP_STATE_INCORRECT (ledger `ext-init-state`), as is a second INIT. Writes every pool page with the
 * global KeyID, one unit per page, resumable with the original (empty) inputs via the extension slot.
 */
function tdhExtInit(mod: TdxModule, c: CallContext): U64 {
  const f = mod.beginResumable(c, null, []);
  if (!("progress" in f)) return f;
  const pool = mod.objects.get(mod.ext.poolObject)!;
  if (
    f.progress === 0 &&
    (mod.ext.initialized || mod.ext.poolPages < mod.platform.metadata.MEMORY_POOL_REQUIRED_PAGES)
  ) {
    mod.endResumable(f, null);
    return st(STATUS.TDX_OP_STATE_INCORRECT);
  }
  // The pool's list as runs (RunListObject) walked by index without building the array; a pool object
  // that is not one (none today) is walked as its plain array.
  const runs = pool instanceof RunListObject ? pool : null;
  const count = runs !== null ? runs.pageCount : pool.pages.length;
  while (f.progress < count) {
    const pfn = runs !== null ? runs.pfnAt(f.progress) : pool.pages[f.progress]!;
    if (!mod.writePrivate(pfn, c.cause)) {
      mod.endResumable(f, null);
      return st(STATUS.TDX_SYS_SHUTDOWN);
    }
    f.progress++;
    c.units++;
    if (f.progress < count && mod.interrupts.afterUnit()) return mod.interrupted(c, []);
  }
  mod.ext.initialized = true;
  pool.state = "initialized";
  mod.endResumable(f, null);
  return SUCCESS;
}

/** The descriptors of this file's leaves (gathered by `leaves.ts`). */
export const EXT_LEAVES = {
  "TDH.EXT.MEM.ADD": {
    name: "TDH.EXT.MEM.ADD",
    number: LEAF["TDH.EXT.MEM.ADD"],
    maxVersion: 0,
    inputs: [[REG.RCX, "hpa-list-info"]],
    outputs: [[REG.RCX, "hpa-list-info"]],
    // Operand rules 1–4, the extension slot busy, the private page checks per entry, an interruption
    // between entries, an add of another list while one is interrupted (ledger `ext-add-holds-slot`),
    // and the (success-class) pool-full status.
    fails: [
      ...privatePageChecks(REG.RCX),
      fail("TDX_OPERAND_BUSY", RESOURCE_OPERAND.SYS),
      fail("TDX_INTERRUPTED_RESUMABLE"),
      failWithEffects("TDX_INTERRUPTED_RESUMABLE"),
      fail("TDX_INVALID_RESUMPTION"),
      fail("TDX_EXT_MEMORY_POOL_FULL"),
    ],
    resume: "interruptible",
    extensionQueue: true,
    run: tdhExtMemAdd,
    abort: null,
  },
  "TDH.EXT.INIT": {
    name: "TDH.EXT.INIT",
    number: LEAF["TDH.EXT.INIT"],
    maxVersion: 0,
    inputs: [],
    outputs: [],
    // Pool not full or a second INIT; resumable in the extension slot.
    fails: [fail("TDX_OP_STATE_INCORRECT"), ...extensionResumable],
    resume: "interruptible",
    extensionQueue: true,
    run: tdhExtInit,
    abort: null,
  },
} satisfies Partial<LeafTable>;
