/**
 * Extension leaves (docs/spec/03-module.md 3.3): TDH.EXT.MEM.ADD donates pages to the extension memory pool from
 * an HPA_LIST_INFO, resuming from the FIRST_ENTRY it writes back; TDH.EXT.INIT initialises the
 * extensions once the pool is full, keeping its progress inside the module.
 */
import { checkEntries, withFirstEntry } from "../common/formats.js";
import { LEAF, REG, STATUS } from "../common/status.js";
import { EXT_QUEUE_BUSY, registerLeaf, SUCCESS, st, type TdxModule } from "./emulator.js";
import { PT } from "./pamt.js";

/**
 * TDH.EXT.MEM.ADD: RCX = HPA_LIST_INFO. Operand rules 1–3 first (OPERAND_INVALID, RCX), then entries
 * FIRST_ENTRY..LAST_ENTRY one at a time: rule 4 on the entry (OPERAND_INVALID, RCX), the private operand
 * page checks, and the page becomes a pool page. RCX comes back
 * with FIRST_ENTRY = the next unprocessed entry on every return (success, error, interruption, pool
 * full). Pages already added stay added when an entry fails (behaviour `extAddKeepsPartial`). An
 * interrupted add holds the extension slot (ledger `ext-add-holds-slot`): other extension calls get
 * TDX_OPERAND_BUSY, another list TDX_INVALID_RESUMPTION, until the add of this list ends.
 */
registerLeaf(LEAF["TDH.EXT.MEM.ADD"], (m, c) => {
  const op = c.regs.get(REG.RCX);
  const d = m.decodeListInfo(op);
  if (d.violation !== null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const { firstEntry, lastEntry, rootHpa } = d.fields;
  // The extension slot: another extension call in flight → BUSY; an interrupted add of another list
  // holds it until it ends (ledger `ext-add-holds-slot`); the resume of this list continues.
  const held = m.extSlot;
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
  m.extSlot = null;
  const root = m.readRoot(rootHpa);
  const pool = m.objects.get(m.ext.poolObject)!;
  const required = m.platform.metadata.MEMORY_POOL_REQUIRED_PAGES;
  const addedHere: number[] = [];
  for (let i = firstEntry; i <= lastEntry; i++) {
    if (m.ext.poolPages >= required) {
      c.regs.set(REG.RCX, withFirstEntry(op, i));
      return st(STATUS.TDX_EXT_MEMORY_POOL_FULL);
    }
    // Entry i is validated here, inside the loop, as TDX Module 1.5 does (docs/spec/01-formats.md 1.4):
    // a bad entry stops the call at i with every earlier entry already added.
    // Entry i: words 2i (bits 31:0) and 2i + 1 (bits 63:32); its bits 11:0 and 63:52 are zero.
    const hpa = root[2 * i + 1]! * 0x1_0000_0000 + root[2 * i]!;
    const bad2 =
      checkEntries("hpa-list-info", root, i, i) !== null
        ? st(STATUS.TDX_OPERAND_INVALID, REG.RCX)
        : m.privatePageStatus(hpa, 1, REG.RCX);
    if (bad2 !== null) {
      if (!m.behaviours.extAddKeepsPartial) for (const p of addedHere) unaddPoolPage(m, p);
      c.regs.set(REG.RCX, withFirstEntry(op, m.behaviours.extAddKeepsPartial ? i : firstEntry));
      return bad2;
    }
    m.checkRootListsItself(rootHpa, hpa, 1, i);
    const pfn = hpa / 4096;
    m.claimPage(pfn, PT.EXT_POOL, pool);
    m.ext.poolPages++;
    addedHere.push(pfn);
    c.units++;
    if (i < lastEntry && m.interrupts.afterUnit()) {
      c.regs.set(REG.RCX, withFirstEntry(op, i + 1));
      m.extSlot = slot;
      return st(STATUS.TDX_INTERRUPTED_RESUMABLE);
    }
  }
  c.regs.set(REG.RCX, withFirstEntry(op, lastEntry + 1));
  return SUCCESS;
});

function unaddPoolPage(m: TdxModule, pfn: number): void {
  const pool = m.objects.get(m.ext.poolObject)!;
  m.releasePage(pfn);
  const i = pool.pages.lastIndexOf(pfn);
  if (i >= 0) pool.pages.splice(i, 1);
  m.ext.poolPages--;
}

/**
 * TDH.EXT.INIT: no operands. Needs at least MEMORY_POOL_REQUIRED_PAGES in the pool, else
 * TDX_OP_STATE_INCORRECT (ledger `ext-init-state`), as is a second INIT. Writes every pool page with the
 * global KeyID, one unit per page, resumable with the original (empty) inputs via the extension slot.
 */
registerLeaf(LEAF["TDH.EXT.INIT"], (m, c) => {
  const f = m.beginResumable(c, null, []);
  if (!("progress" in f)) return f;
  const pool = m.objects.get(m.ext.poolObject)!;
  if (
    f.progress === 0 &&
    (m.ext.initialized || m.ext.poolPages < m.platform.metadata.MEMORY_POOL_REQUIRED_PAGES)
  ) {
    m.endResumable(f, null);
    return st(STATUS.TDX_OP_STATE_INCORRECT);
  }
  const pages = pool.pages;
  while (f.progress < pages.length) {
    if (!m.writePrivate(pages[f.progress]!, c.cause)) {
      m.endResumable(f, null);
      return st(STATUS.TDX_SYS_SHUTDOWN);
    }
    f.progress++;
    c.units++;
    if (f.progress < pages.length && m.interrupts.afterUnit()) return m.interrupted(c, []);
  }
  m.ext.initialized = true;
  pool.state = "initialized";
  m.endResumable(f, null);
  return SUCCESS;
});
