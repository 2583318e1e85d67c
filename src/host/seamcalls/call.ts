/**
 * The host's way of issuing a SEAMCALL (docs/spec/02-kapi.md 2.3–2.4): the register file for a leaf, the
 * kernel's status comparisons ({@link ok}, {@link isExactly}: the full 64-bit value) and the two retry
 * rules. Every wrapper in this folder is built on it.
 */
import { callRegs as leafCallRegs, type Regs } from "../../common/seamcall.js";
import { isStatus, LEAF, type LeafName, REG, STATUS, type StatusKind } from "../../common/status.js";
import type { U64 } from "../../common/u64.js";
import type { HostKernel } from "../kernel.js";

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
export function tdxCall(
  k: HostKernel,
  leaf: LeafName,
  inputs: Readonly<Record<number, U64>> = {},
  version = 0,
): CallResult {
  const regs = leafCallRegs(LEAF[leaf], inputs, version);
  k.seamcall(regs);
  return { status: regs.get(REG.RAX), regs };
}

/** True when a status is exactly TDX_SUCCESS (all 64 bits zero), as the kernel compares it. */
export function ok(s: U64): boolean {
  return s.lo === 0 && s.hi === 0;
}

/** True when `s` is exactly status `k` with bits 31:0 zero: the kernel's full 64-bit comparison. */
export function isExactly(s: U64, k: StatusKind): boolean {
  return s.lo === 0 && s.hi >>> 0 === k.hi;
}

// ---------------------------------------------------------------------------------------------------
// Retry helpers (02-kapi.md 2.4). Two rules; using the wrong one is a real bug the emulator catches.

/** What a retry loop did. */
export interface RetryResult extends CallResult {
  /** TDX_INTERRUPTED_RESUMABLE returns taken and re-issued. */
  readonly interrupts: number;
  /** TDX_OPERAND_BUSY returns (contention with another logical CPU) re-issued. */
  readonly busyRetries: number;
}

/** Most re-issues before a retry loop gives up (a module that never finishes is a bug, not a hang). */
export const MAX_RESUMES = 1_000_000;

/** Most OPERAND_BUSY re-issues of one call (contention that never clears is a bug, not a hang). */
export const MAX_BUSY_RETRIES = 10_000;

function interruptedStatus(s: U64): boolean {
  return isExactly(s, STATUS.TDX_INTERRUPTED_RESUMABLE);
}

/**
 * Issues the call in `regs` until it is neither TDX_INTERRUPTED_RESUMABLE (at most MAX_RESUMES
 * re-issues) nor TDX_OPERAND_BUSY (contention: the kernel retries; at most MAX_BUSY_RETRIES, with
 * `cpu_relax()` between, so other logical CPUs run), calling `prepare` before each re-issue.
 */
function retryLoop(k: HostKernel, regs: Regs, prepare: () => void): RetryResult {
  let interrupts = 0;
  let busyRetries = 0;
  for (;;) {
    k.seamcall(regs);
    const status = regs.get(REG.RAX);
    if (isStatus(status, STATUS.TDX_OPERAND_BUSY) && busyRetries < MAX_BUSY_RETRIES) {
      busyRetries++;
      k.cpuRelax();
    } else if (interruptedStatus(status) && interrupts < MAX_RESUMES) interrupts++;
    else return { status, regs, interrupts, busyRetries };
    prepare();
  }
}

/**
 * Resume with the returned operand: re-issues with the register file exactly as the module returned it
 * (TDH.EXT.MEM.ADD, whose RCX carries the advanced FIRST_ENTRY); only RAX gets the leaf back.
 */
export function retryWithReturned(k: HostKernel, regs: Regs): RetryResult {
  const rax = regs.get(REG.RAX);
  return retryLoop(k, regs, () => regs.set(REG.RAX, rax));
}

/**
 * Resume with the original inputs: keeps a copy of the inputs and re-issues from it each time
 * (TDH.EXT.INIT, TDH.IOMMU.SETUP/CLEAR, TDH.SPDM.*, TDH.IDE.STREAM.KM), because the returned
 * registers may have been overwritten.
 */
export function retryWithOriginal(k: HostKernel, regs: Regs): RetryResult {
  const saved = regs.clone();
  return retryLoop(k, regs, () => regs.copyFrom(saved));
}

/** A register file for `leaf` with the given inputs. */
export function callRegs(leaf: LeafName, inputs: Readonly<Record<number, U64>>): Regs {
  return leafCallRegs(LEAF[leaf], inputs);
}
