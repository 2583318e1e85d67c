/**
 * The host's rule after a failed call that hands pages over as private memory (TDH.IOMMU.SETUP,
 * TDH.SPDM.CREATE, TDH.IDE.STREAM.CREATE; 02-kapi.md 2.5–2.6, 03-module.md 3.2–3.3): the pages go back
 * to the allocator only when the status is a *known clean refusal*, one the module returns before it
 * claims anything or after rolling its claims back (the operand and page checks of 3.2, a wrong state).
 * Anything else (TDX_SYS_SHUTDOWN in the middle of a claim, an interruption the host gave up on, a status
 * it does not know) may have left pages private: the host strands them and reports it (ledger
 * `claim-failure-strands`).
 */
import { isStatus, STATUS, type StatusKind } from "../common/status.js";
import type { U64 } from "../common/u64.js";

/** Statuses after which a claiming call is known to have kept no page. */
export const CLEAN_REFUSALS: readonly StatusKind[] = Object.freeze([
  STATUS.TDX_OPERAND_INVALID,
  STATUS.TDX_OPERAND_ADDR_RANGE_ERROR,
  STATUS.TDX_OPERAND_BUSY,
  STATUS.TDX_PAGE_METADATA_INCORRECT,
  STATUS.TDX_OP_STATE_INCORRECT,
]);

/**
 * True when `status` (of a failed claiming call) is a known clean refusal: the pages are the host's
 * again. False means strand them.
 * @example cleanRefusal(status(STATUS.TDX_SYS_SHUTDOWN)) // false
 */
export function cleanRefusal(status: U64): boolean {
  return CLEAN_REFUSALS.some((kind) => isStatus(status, kind));
}
