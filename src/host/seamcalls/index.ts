/**
 * Host-side SEAMCALL wrappers (docs/spec/02-kapi.md 2.3): each builds the register file for one leaf, issues the
 * SEAMCALL through the kernel context and returns the status with the output registers.
 *
 * Wrappers that take a page list take a `TdxPageArray` and encode its operand themselves; the
 * ones that hand pages to the module as private memory set the descriptor's flush flag before the
 * SEAMCALL, whatever its result (the kernel; policy `flushFlag`, see `markHandoff`).
 *
 * Status comparisons are the kernel's: the full 64-bit value (`ok`, `isExactly`); only the
 * IOMMU probe compares under the status mask, on purpose (docs/spec/03-module.md 3.3).
 *
 * One file per leaf family, as the module has (`module/leaves-<family>.ts`): `call.ts` (issuing, status
 * comparisons, retry rules) and `handoff.ts` (CLFLUSH and the flush flag), then `core.ts`, `ext.ts`,
 * `iommu.ts`, `spdm.ts` (with the exchange loop that forwards device requests), `ide.ts` and `quote.ts`.
 * What is not a SEAMCALL stays beside the flows: the device channel and selectors in `../spdm.ts`, the
 * quote buffer in `../quote.ts`; the multi-call sequences are in `../flows/`.
 */
export * from "./call.js";
export * from "./core.js";
export * from "./ext.js";
export * from "./handoff.js";
export * from "./ide.js";
export * from "./iommu.js";
export * from "./quote.js";
export * from "./spdm.js";
