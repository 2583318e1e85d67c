/** Host wrappers of the trusted IOMMU leaves (docs/spec/02-kapi.md 2.3): TDH.IOMMU.SETUP and TDH.IOMMU.CLEAR. */
import { REG } from "../../common/status.js";
import { hpaHi, hpaLo, type U64 } from "../../common/u64.js";
import { kapiSpan } from "../kapi-trace.js";
import type { HostKernel } from "../kernel.js";
import type { TdxPageArray } from "../page-array.js";
import { callRegs, type RetryResult, retryWithOriginal } from "./call.js";
import { flushBeforeHandoff, markHandoff } from "./handoff.js";

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
