/** Host wrappers of the extension leaves (docs/spec/02-kapi.md 2.3–2.4): TDH.EXT.MEM.ADD and TDH.EXT.INIT. */
import { REG } from "../../common/status.js";
import { kapiSpan } from "../kapi-trace.js";
import type { HostKernel } from "../kernel.js";
import type { TdxPageArray } from "../page-array.js";
import { callRegs, type RetryResult, retryWithOriginal, retryWithReturned } from "./call.js";
import { flushBeforeHandoff } from "./handoff.js";

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
