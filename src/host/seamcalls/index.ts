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
 * One file per leaf family, as the module has: `call.ts` (issuing, status comparisons, retry rules),
 * `handoff.ts` (CLFLUSH and the flush flag), `core.ts`, `ext.ts`, `iommu.ts`; the SPDM/IDE wrappers are in
 * `../spdm.ts` and the quote wrappers in `../quote.ts`.
 */
export * from "./call.js";
export * from "./core.js";
export * from "./ext.js";
export * from "./handoff.js";
export * from "./iommu.js";
