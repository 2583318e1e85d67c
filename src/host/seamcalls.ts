/**
 * Host-side SEAMCALL wrappers (docs/spec/02-kapi.md 2.3): each builds the register file for one leaf, issues the
 * SEAMCALL through the kernel context and returns the status with the output registers.
 *
 * Wrappers that take a page list take a {@link TdxPageArray} and encode its operand themselves; the
 * ones that hand pages to the module as private memory set the descriptor's flush flag before the
 * SEAMCALL, whatever its result (the kernel; policy `flushFlag`, see {@link markHandoff}).
 *
 * Status comparisons are the kernel's: the full 64-bit value ({@link ok}, {@link isExactly}); only the
 * IOMMU probe compares under the status mask, on purpose (docs/spec/03-module.md 3.3).
 */
import { leafRax, Regs as RegFile, type Regs } from "../common/seamcall.js";
import { isStatus, LEAF, type LeafName, REG, STATUS, type StatusKind } from "../common/status.js";
import { hpaHi, hpaLo, parseU64, type U64 } from "../common/u64.js";
import { METADATA_FIELD_IDS, type MetadataFieldName, RFC_V2_FIELD_IDS } from "../hw/platform.js";
import { kapiSpan } from "./kapi-trace.js";
import { type HostKernel, hpaWithKeyId } from "./kernel.js";
import { coveredPfns } from "./page.js";
import type { TdxPageArray } from "./page-array.js";

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
  const regs = new RegFile();
  regs.set(REG.RAX, leafRax(LEAF[leaf], version));
  for (const [r, v] of Object.entries(inputs)) regs.set(Number(r), v);
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

/**
 * TDH.PHYMEM.PAGE.WBINVD of page `pfn` under the module's global KeyID: writes back and drops that
 * page's private cache lines. Returns the status.
 */
export function pageWbinvd(k: HostKernel, pfn: number): U64 {
  return kapiSpan(k, "tdh_phymem_page_wbinvd_hkid", () => {
    const hpa = hpaWithKeyId(k, pfn * 4096, k.sysinfo.globalKeyId);
    return tdxCall(k, "TDH.PHYMEM.PAGE.WBINVD", { [REG.RCX]: { lo: hpaLo(hpa), hi: hpaHi(hpa) } }).status;
  });
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
  const regs = new RegFile();
  regs.set(REG.RAX, leafRax(LEAF[leaf]));
  for (const [r, v] of Object.entries(inputs)) regs.set(Number(r), v);
  return regs;
}

// ---------------------------------------------------------------------------------------------------
// Wrappers

/**
 * TDH.SYS.RD of a metadata field: the status and, on success, the value. The pool fields are read at
 * the ids of the host's vintage (policy `metadataIds`).
 */
export function sysRd(k: HostKernel, field: MetadataFieldName): { status: U64; value: U64 } {
  return kapiSpan(k, "tdh_sys_rd", () => {
    const id =
      k.policy.metadataIds === "rfc-v2" && field in RFC_V2_FIELD_IDS
        ? RFC_V2_FIELD_IDS[field as keyof typeof RFC_V2_FIELD_IDS]
        : METADATA_FIELD_IDS[field];
    const r = tdxCall(k, "TDH.SYS.RD", { [REG.RDX]: parseU64(id) });
    return { status: r.status, value: ok(r.status) ? r.regs.get(REG.R8) : { lo: 0, hi: 0 } };
  });
}

/**
 * `tdh_sys_config` version 1 (03-module.md 3.3): R8 = the module's global KeyID, R9 = the features to
 * enable (TDX_FEATURES0 bits), R11 = wall-clock seconds (the module ignores it; 0 here, so runs replay).
 */
export function sysConfig(k: HostKernel, features: U64): CallResult {
  return kapiSpan(k, "tdh_sys_config", () => {
    return tdxCall(
      k,
      "TDH.SYS.CONFIG",
      { [REG.R8]: { lo: k.sysinfo.globalKeyId, hi: 0 }, [REG.R9]: features, [REG.R11]: { lo: 0, hi: 0 } },
      1,
    );
  });
}

/**
 * Sets the descriptor's flush flag for a create wrapper's hand-off: before the SEAMCALL under the
 * kernel's rule (policy `flushFlag: "before-call"`), so a failed or partly done create is still written
 * back at destroy; after it only on success under `"on-success"`. Call with `status` null before the
 * call and with the status after it. The wrong host `forgetFlushFlag` never sets it in the SPDM/IDE
 * create wrappers (`wrongHostForgets`).
 */
export function markHandoff(
  k: HostKernel,
  array: TdxPageArray,
  status: U64 | null,
  wrongHostForgets = true,
): void {
  if (wrongHostForgets && k.policy.forgetFlushFlag) return;
  if (status === null ? k.policy.flushFlag === "before-call" : ok(status)) array.markFlushOnFree();
}

/** TDH.PHYMEM.PAGE.RDMD of page `pfn`: status, page type and owner (for tools and tests). */
export function pageRdmd(k: HostKernel, pfn: number): { status: U64; type: number; owner: number } {
  return kapiSpan(k, "tdh_phymem_page_rdmd", () => {
    const r = tdxCall(k, "TDH.PHYMEM.PAGE.RDMD", {
      [REG.RCX]: { lo: hpaLo(pfn * 4096), hi: hpaHi(pfn * 4096) },
    });
    const good = ok(r.status);
    return { status: r.status, type: good ? r.regs.lo(REG.RCX) : -1, owner: good ? r.regs.lo(REG.RDX) : -1 };
  });
}

/**
 * CLFLUSH of every 4 KiB page about to be handed over as private memory (a descriptor's, or any list
 * of PFNs), as the host policy says: when the module asks (CLFLUSH_BEFORE_ALLOC), always, or never.
 * Returns pages flushed.
 */
export function flushBeforeHandoff(k: HostKernel, what: TdxPageArray | Iterable<number>): number {
  const p = k.policy.clflush;
  if (p === "never" || (p === "if-required" && k.sysinfo.clflushBeforeAlloc === false)) return 0;
  let n = 0;
  for (const pfn of "pages" in what ? coveredPfns(what.pages) : what) {
    k.cpu.clflushPage(pfn);
    n++;
  }
  return n;
}

/**
 * `tdh_ext_mem_add`: donates the descriptor's pages (HPA_LIST_INFO) to the extension pool, re-issuing
 * interrupted calls per `k.policy.extAddResume`. The pool never returns them, so the flush flag is not
 * set. Needs the extension lock.
 */
export function extMemAdd(k: HostKernel, array: TdxPageArray): RetryResult {
  return kapiSpan(k, "tdh_ext_mem_add", () => {
    flushBeforeHandoff(k, array);
    const regs = callRegs("TDH.EXT.MEM.ADD", { [REG.RCX]: array.toHpaListInfo() });
    return k.policy.extAddResume === "returned" ? retryWithReturned(k, regs) : retryWithOriginal(k, regs);
  });
}

/** `tdh_ext_init`: initialises the extensions; resumed with the original (empty) inputs. */
export function extInit(k: HostKernel): RetryResult {
  return kapiSpan(k, "tdh_ext_init", () => {
    return retryWithOriginal(k, callRegs("TDH.EXT.INIT", {}));
  });
}

/**
 * `tdh_iommu_setup`: hands the descriptor's pages (IOMMU_MT) to the module as the control pages of the
 * unit at `regBase`; sets the flush flag (see {@link markHandoff}) and returns the IOMMU id in RCX.
 */
export function iommuSetup(k: HostKernel, regBase: number, array: TdxPageArray): RetryResult {
  return kapiSpan(k, "tdh_iommu_setup", () => {
    flushBeforeHandoff(k, array);
    markHandoff(k, array, null, false);
    const r = retryWithOriginal(
      k,
      callRegs("TDH.IOMMU.SETUP", {
        [REG.RCX]: { lo: hpaLo(regBase), hi: hpaHi(regBase) },
        [REG.RDX]: array.toIommuMt(),
      }),
    );
    if (k.policy.flushFlag === "on-success") markHandoff(k, array, r.status, false);
    return r;
  });
}

/** `tdh_iommu_clear`: takes the unit's pages back (same root as at setup). */
export function iommuClear(k: HostKernel, iommuId: U64, array: TdxPageArray): RetryResult {
  return kapiSpan(k, "tdh_iommu_clear", () => {
    return retryWithOriginal(
      k,
      callRegs("TDH.IOMMU.CLEAR", { [REG.RCX]: iommuId, [REG.RDX]: array.toIommuMt() }),
    );
  });
}
