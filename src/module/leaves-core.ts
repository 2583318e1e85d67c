/**
 * Module leaves that take no page list: TDH.PHYMEM.PAGE.WBINVD (cache write-back of one page under one
 * KeyID) and TDH.PHYMEM.PAGE.RDMD (read a PAMT entry) (docs/spec/03-module.md 3.3). TDH.SYS.RD and
 * TDH.SYS.CONFIG live in `metadata.ts`.
 */
import { LEAF, REG, STATUS } from "../common/status.js";
import type { U64 } from "../common/u64.js";
import { getBits, low52, PAGE_SIZE, u64FromNumber } from "../common/u64.js";
import { type CallContext, SUCCESS, st, type TdxModule } from "./emulator.js";
import { fail, type LeafTable } from "./leaf-table.js";
import { PT } from "./pamt.js";

/**
 * TDH.PHYMEM.PAGE.WBINVD: RCX = HPA with a private KeyID in its top bits. Bits 11:0 and 63:52 clear
 * and a private KeyID, else OPERAND_INVALID (RCX); in a TDMR, else OPERAND_ADDR_RANGE_ERROR; PT_NDA,
 * else PAGE_METADATA_INCORRECT. Writes back and drops that page's lines for that KeyID.
 */
function tdhPhymemPageWbinvd(mod: TdxModule, c: CallContext): U64 {
  const lo = c.regs.lo(REG.RCX);
  const hi = c.regs.hi(REG.RCX);
  if (getBits(lo, hi, 0, 12) !== 0 || getBits(lo, hi, 52, 12) !== 0)
    return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const hpa = low52(lo, hi);
  const keyId = mod.keyIdOf(hpa);
  if (!mod.isPrivateKeyId(keyId)) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const pfn = mod.stripKeyId(hpa) / PAGE_SIZE;
  if (!mod.pamt.inTdmr(pfn)) return st(STATUS.TDX_OPERAND_ADDR_RANGE_ERROR, REG.RCX);
  // TDX Module 1.5 walks to the page with the 4K entry shared (released before the call returns).
  const busy = mod.lockPage(pfn, "shared", REG.RCX);
  if (busy !== null) return busy;
  if (mod.pamt.type(pfn) !== PT.NDA) return st(STATUS.TDX_PAGE_METADATA_INCORRECT, REG.RCX);
  mod.cache.pageWbinvd(pfn, keyId);
  c.units = 1;
  return SUCCESS;
}

/**
 * TDH.PHYMEM.PAGE.RDMD (docs/spec/03-module.md 3.3, as TDX Module 1.5): RCX = page HPA, KeyID 0, bits 2:0
 * the PAMT level to look at (only 0, 4 KiB: the model has no dynamic PAMT), bits 11:3 and 63:52 reserved.
 * RCX, RDX and R8–R11 are cleared on entry, so they read 0 after an error. Out: RCX = page type, RDX =
 * owner (for PT_IOMMU_MT the IOMMU id), R8 = the level reached (0), R9 = BEPOCH for PT_REG, PT_EPT and
 * PT_IOMMU_MT pages (0: the model keeps no TLB epochs, ledger `rdmd-bepoch`), R10 = R11 = 0.
 */
function tdhPhymemPageRdmd(mod: TdxModule, c: CallContext): U64 {
  const lo = c.regs.lo(REG.RCX);
  const hi = c.regs.hi(REG.RCX);
  for (const r of [REG.RCX, REG.RDX, REG.R8, REG.R9, REG.R10, REG.R11]) c.regs.setHalves(r, 0, 0);
  if (getBits(lo, hi, 0, 12) !== 0 || getBits(lo, hi, 52, 12) !== 0)
    return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const hpa = low52(lo, hi);
  if (mod.keyIdOf(hpa) !== 0) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const pfn = hpa / PAGE_SIZE;
  if (!mod.pamt.inTdmr(pfn)) return st(STATUS.TDX_OPERAND_ADDR_RANGE_ERROR, REG.RCX);
  const busy = mod.lockPage(pfn, "shared", REG.RCX);
  if (busy !== null) return busy;
  c.regs.set(REG.RCX, u64FromNumber(mod.pamt.type(pfn)));
  c.regs.set(REG.RDX, u64FromNumber(mod.pamt.owner(pfn)));
  // R8 = PAMT level 0 (4 KiB) and R9 = BEPOCH 0 stay as cleared on entry.
  return SUCCESS;
}

/** The descriptors of this file's leaves (gathered by `leaves.ts`). */
export const CORE_LEAVES = {
  "TDH.PHYMEM.PAGE.WBINVD": {
    name: "TDH.PHYMEM.PAGE.WBINVD",
    number: LEAF["TDH.PHYMEM.PAGE.WBINVD"],
    maxVersion: 0,
    inputs: [[REG.RCX, "hpa-keyid"]],
    outputs: [],
    // Reserved bits or no private KeyID, outside every TDMR, page not PT_NDA.
    fails: [
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OPERAND_ADDR_RANGE_ERROR", REG.RCX),
      fail("TDX_PAGE_METADATA_INCORRECT", REG.RCX),
    ],
    resume: "uninterrupted",
    extensionQueue: false,
    run: tdhPhymemPageWbinvd,
    abort: null,
  },
  "TDH.PHYMEM.PAGE.RDMD": {
    name: "TDH.PHYMEM.PAGE.RDMD",
    number: LEAF["TDH.PHYMEM.PAGE.RDMD"],
    maxVersion: 0,
    inputs: [[REG.RCX, "hpa"]],
    outputs: [
      [REG.RCX, "u64"],
      [REG.RDX, "id"],
    ],
    // Reserved bits or a KeyID, outside every TDMR.
    fails: [fail("TDX_OPERAND_INVALID", REG.RCX), fail("TDX_OPERAND_ADDR_RANGE_ERROR", REG.RCX)],
    resume: "uninterrupted",
    extensionQueue: false,
    run: tdhPhymemPageRdmd,
    abort: null,
  },
} satisfies Partial<LeafTable>;
