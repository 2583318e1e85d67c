/**
 * Host-side SEAMCALL wrappers (02-kapi.md 2.3): each builds the register file for one leaf, issues the
 * SEAMCALL through the kernel context and returns the status with the output registers.
 *
 * Wrappers that take a page list take a {@link TdxPageArray} and encode its operand themselves; the
 * ones that hand pages to the module as private memory set the descriptor's flush flag on success.
 */
import { type Regs, leafRax, Regs as RegFile } from "../common/seamcall.js";
import { LEAF, type LeafName, REG } from "../common/status.js";
import { hpaHi, hpaLo, type U64 } from "../common/u64.js";
import { type HostKernel, hpaWithKeyId } from "./kernel.js";

/** Status and output registers of one SEAMCALL. */
export interface CallResult {
  /** RAX out: the completion status. */
  readonly status: U64;
  /** The whole register file after the call. */
  readonly regs: Regs;
}

/**
 * Issues leaf `leaf` with the given input registers (by register id) and returns status and outputs.
 * @example tdxCall(k, "TDH.SYS.RD", { [REG.RDX]: fieldId }).regs.get(REG.R8)
 */
export function tdxCall(k: HostKernel, leaf: LeafName, inputs: Readonly<Record<number, U64>> = {}, version = 0): CallResult {
  const regs = new RegFile();
  regs.set(REG.RAX, leafRax(LEAF[leaf], version));
  for (const [r, v] of Object.entries(inputs)) regs.set(Number(r), v);
  k.seamcall(regs);
  return { status: regs.get(REG.RAX), regs };
}

/** Re-issues a call from a saved register file (inputs as they were, or as the module returned them). */
export function tdxCallRegs(k: HostKernel, regs: Regs): CallResult {
  k.seamcall(regs);
  return { status: regs.get(REG.RAX), regs };
}

/** True when a status is TDX_SUCCESS or another success-class status (bit 63 clear). */
export function ok(s: U64): boolean {
  return s.hi >>> 31 === 0;
}

/**
 * TDH.PHYMEM.PAGE.WBINVD of page `pfn` under the module's global KeyID: writes back and drops that
 * page's private cache lines. Returns the status.
 */
export function pageWbinvd(k: HostKernel, pfn: number): U64 {
  const hpa = hpaWithKeyId(k, pfn * 4096, k.sysinfo.globalKeyId);
  return tdxCall(k, "TDH.PHYMEM.PAGE.WBINVD", { [REG.RCX]: { lo: hpaLo(hpa), hi: hpaHi(hpa) } }).status;
}
