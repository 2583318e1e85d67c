/**
 * Host wrappers of the quote family (docs/spec/02-kapi.md 2.3–2.5, the June 2026 series), the leaves the
 * module has in `module/leaves-quote.ts`: `tdh_quote_get` with its retry rule, and the minimal TD calls
 * the quote flow needs (`tdh_mng_create`, `tdh_phymem_page_reclaim`). The quote buffer they name is
 * built by `buildQuoteBuffer` (`../quote.ts`).
 */
import type { Regs } from "../../common/seamcall.js";
import { isStatus, REG, STATUS } from "../../common/status.js";
import { hpaToU64, pfnToHpa, type U64 } from "../../common/u64.js";
import type { HostKernel } from "../kernel.js";
import type { QuoteBuffer } from "../quote.js";
import { callRegs, MAX_RESUMES, tdxCall } from "./call.js";

/** What `tdh_quote_get` did. */
export interface QuoteGetResult {
  readonly status: U64;
  readonly regs: Regs;
  /** TDX_INTERRUPTED_RESUMABLE returns re-issued with the original inputs. */
  readonly interrupts: number;
  /** TDX_INTERRUPTED_RESTARTABLE returns re-issued from the start. */
  readonly restarts: number;
  /** The quote's length (RCX) on success, else 0. */
  readonly quoteBytes: number;
}

/**
 * `tdh_quote_get`: TDH.QUOTE.GET for the TD whose TDR is at `tdrHpa`, input data at `inputHpa`
 * (`inputLen` bytes), into `buf`. Re-issues with its saved copy of the original inputs on
 * TDX_INTERRUPTED_RESUMABLE (the module keeps the progress) and on TDX_INTERRUPTED_RESTARTABLE (it keeps
 * none), at most MAX_RESUMES times.
 */
export function quoteGet(
  k: HostKernel,
  tdrHpa: number,
  inputHpa: number,
  inputLen: number,
  buf: QuoteBuffer,
  idMask = 1,
): QuoteGetResult {
  const regs = callRegs("TDH.QUOTE.GET", {
    [REG.RCX]: hpaToU64(tdrHpa),
    [REG.RDX]: { lo: idMask >>> 0, hi: 0 },
    [REG.R8]: hpaToU64(inputHpa),
    [REG.R9]: { lo: inputLen >>> 0, hi: 0 },
    [REG.R10]: hpaToU64(buf.list[0]!.hpa),
    [REG.R11]: { lo: buf.bytes >>> 0, hi: 0 },
  });
  const saved = regs.clone();
  let interrupts = 0;
  let restarts = 0;
  for (;;) {
    k.seamcall(regs);
    const status = regs.get(REG.RAX);
    const resumable = isStatus(status, STATUS.TDX_INTERRUPTED_RESUMABLE);
    const restartable = isStatus(status, STATUS.TDX_INTERRUPTED_RESTARTABLE);
    if ((!resumable && !restartable) || interrupts + restarts >= MAX_RESUMES) {
      const done = status.hi >>> 31 === 0;
      return { status, regs, interrupts, restarts, quoteBytes: done ? regs.lo(REG.RCX) : 0 };
    }
    if (resumable) interrupts++;
    else restarts++;
    regs.copyFrom(saved);
  }
}

/** `tdh_mng_create` (minimal): makes the page at `tdrPfn` the TDR of a TD with `hkid`. */
export function mngCreate(k: HostKernel, tdrPfn: number, hkid: number): U64 {
  return tdxCall(k, "TDH.MNG.CREATE", {
    [REG.RCX]: hpaToU64(pfnToHpa(tdrPfn)),
    [REG.RDX]: { lo: hkid, hi: 0 },
  }).status;
}

/** `tdh_phymem_page_reclaim`: takes the TDR page at `pfn` back (the host then writes it back). */
export function pageReclaim(k: HostKernel, pfn: number): U64 {
  return tdxCall(k, "TDH.PHYMEM.PAGE.RECLAIM", {
    [REG.RCX]: hpaToU64(pfnToHpa(pfn)),
  }).status;
}
