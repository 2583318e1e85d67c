/**
 * The host's side of handing pages over as private memory (docs/spec/02-kapi.md 2.3): the CLFLUSH before the
 * SEAMCALL and the descriptor's flush flag. Takes the page list structurally, so the descriptor
 * (`page-array.ts`) and these helpers do not import each other.
 */
import type { U64 } from "../../common/u64.js";
import type { HostKernel } from "../kernel.js";
import { ok } from "./call.js";

/**
 * What a hand-off needs of a descriptor (`TdxPageArray`): its entries (PFN and block order of each,
 * read without page handles: a run's descriptor makes none) and its flush flag.
 */
export interface HandoffPages {
  readonly nrPages: number;
  pfnAt(i: number): number;
  orderAt(i: number): number;
  markFlushOnFree(): void;
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
  array: HandoffPages,
  status: U64 | null,
  wrongHostForgets = true,
): void {
  if (wrongHostForgets && k.policy.forgetFlushFlag) return;
  if (status === null ? k.policy.flushFlag === "before-call" : ok(status)) array.markFlushOnFree();
}

/**
 * CLFLUSH of every 4 KiB page about to be handed over as private memory (a descriptor's, or any list
 * of PFNs), as the host policy says: when the module asks (CLFLUSH_BEFORE_ALLOC), always, or never.
 * Returns pages flushed.
 */
export function flushBeforeHandoff(k: HostKernel, what: HandoffPages | Iterable<number>): number {
  const p = k.policy.clflush;
  if (p === "never" || (p === "if-required" && k.sysinfo.clflushBeforeAlloc === false)) return 0;
  let n = 0;
  if ("pfnAt" in what) {
    // Block by block, one order lookup per entry: no array of every covered PFN (that array and the
    // per-PFN walk were 4-6 % of a 12,800-page bring-up, measured). `1 << order` is `nrPages` (orders
    // are 0..MAX_ORDER) without its float `2 **`.
    for (let i = 0, count = what.nrPages; i < count; i++) {
      const first = what.pfnAt(i);
      const end = first + (1 << what.orderAt(i));
      for (let pfn = first; pfn < end; pfn++) k.cpu.clflushPage(pfn);
      n += end - first;
    }
    return n;
  }
  for (const pfn of what) {
    k.cpu.clflushPage(pfn);
    n++;
  }
  return n;
}
