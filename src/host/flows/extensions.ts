/**
 * The extensions bring-up flow (docs/spec/02-kapi.md 2.5): configure the module (TDH.SYS.CONFIG v1,
 * through the TDX Connect gate of `connect-state.ts`), read the module's requirements at the ids of the
 * host's vintage (policy `metadataIds`), allocate the pool as one contiguous block, feed it through one
 * reusable descriptor in chunks of at most 512 with TDH.EXT.MEM.ADD (resuming interrupted calls with the
 * returned operand), then TDH.EXT.INIT when EXT_REQUIRED. The gate differs by kernel vintage (policy
 * `poolGate`). The pages are never returned; any failure is fatal, strands every page and fails TDX
 * Connect initialisation, so no later TDX Connect flow runs.
 */
import { STATUS } from "../../common/status.js";
import { FEATURE_BITS } from "../../hw/platform.js";
import { failTdxConnect, tdxConnectGate } from "../connect-state.js";
import { type HostKernel, strandDonated, strandPages, withExtLock } from "../kernel.js";
import { forEachChunk, tdxPageArrayDestroy } from "../page-array.js";
import { extInit, extMemAdd, isExactly, ok, sysRd } from "../seamcalls/index.js";
import { FlowRecorder, type FlowResult } from "./result.js";

/** The host ledger's name for what the pool pages were donated to. */
export const EXT_POOL_OWNER = "extension memory pool";

/** Allocator tag of extension pool pages. */
export const EXT_POOL_TAG = "tdx:ext-pool";

/** Options of {@link extensionsBringUp}. */
export interface ExtensionsOptions {
  /** Overrides MEMORY_POOL_REQUIRED_PAGES as the amount to allocate (a host that gets the figure wrong). */
  readonly pages?: number;
  /**
   * The 2026-04-16 diff's `kvcalloc(nr_pages, sizeof(struct page *))` beside the pool: allocates the
   * pointer array for `n` pages and returns what frees it, or null on -ENOMEM. Without it the flow feeds the
   * pool's run one chunk at a time (`forEachChunk`, read by PFN: no page handles) and allocates no
   * pointer array.
   */
  readonly pointerArray?: (n: number) => (() => void) | null;
}

/** Runs the extensions bring-up (see {@link ExtensionsOptions}); a failure fails TDX Connect initialisation. */
export function extensionsBringUp(k: HostKernel, opts: ExtensionsOptions = {}): FlowResult {
  const r = extensionsBringUpInner(k, opts);
  if (!r.ok) failTdxConnect(k, `extensions bring-up: ${r.failedStep ?? "failed"}`);
  return r;
}

function extensionsBringUpInner(k: HostKernel, opts: ExtensionsOptions): FlowResult {
  const rec = new FlowRecorder("extensions");
  const stopped = rec.stopAtGate(tdxConnectGate(k, FEATURE_BITS.EXTENSIONS));
  if (stopped !== null) return stopped;
  const req = sysRd(k, "MEMORY_POOL_REQUIRED_PAGES");
  if (!ok(req.status)) return rec.fail("TDH.SYS.RD MEMORY_POOL_REQUIRED_PAGES", req.status);
  const extReq = sysRd(k, "EXT_REQUIRED");
  if (!ok(extReq.status)) return rec.fail("TDH.SYS.RD EXT_REQUIRED", extReq.status);
  if (k.policy.poolGate === "ext-required" && extReq.value.lo === 0) {
    rec.details.skipped = "EXT_REQUIRED is 0 (gate of the 04-16 diff and the June 2026 series)";
    return rec.ok();
  }
  const n = opts.pages ?? req.value.lo;
  rec.details.poolPages = n;
  const freePointers = n > 0 && opts.pointerArray !== undefined ? opts.pointerArray(n) : () => {};
  if (freePointers === null) return rec.fail(`kvcalloc(${n} page pointers)`, null);
  const result = withExtLock(k, "extensions", (): FlowResult => {
    if (n > 0) {
      const first = k.alloc.allocContigPages(n, { tag: EXT_POOL_TAG });
      if (first === null) return rec.fail(`alloc_contig_pages(${n})`, null);
      let failed: { step: string; status: ReturnType<typeof extMemAdd>["status"] | null } | null = null;
      let full = false;
      const run = forEachChunk(k, { first, count: n }, (array, chunk) => {
        const r = extMemAdd(k, array);
        rec.interrupts += r.interrupts;
        if (isExactly(r.status, STATUS.TDX_EXT_MEMORY_POOL_FULL)) {
          full = true;
          return false;
        }
        if (!ok(r.status)) {
          failed = { step: `TDH.EXT.MEM.ADD chunk ${chunk}`, status: r.status };
          return false;
        }
        // The chunk is a run of consecutive PFNs (one contiguous block, fed in order): the ledger
        // records it as one run; anything else page by page (the same effect either way).
        // (Read by PFN: the descriptor makes no page handles for a run.)
        const count = array.nrPages;
        const head = count > 0 ? array.pfnAt(0) : 0;
        let consecutive = true;
        for (let i = 1; i < count && consecutive; i++) consecutive = array.pfnAt(i) === head + i;
        if (consecutive) k.ledger.donateRun(head, count, EXT_POOL_OWNER);
        else for (let i = 0; i < count; i++) k.ledger.donated.set(array.pfnAt(i), EXT_POOL_OWNER);
        return true;
      });
      tdxPageArrayDestroy(k, run.array);
      rec.details.chunks = run.chunks;
      if (run.array === null && !run.completed) {
        // The root page could not be allocated: no page ever reached the module, so the pool goes
        // back to the allocator instead of being stranded.
        k.alloc.freeContigRange(first.pfn, n);
        return rec.fail("tdx_page_array_create (root page)", null);
      }
      if (failed !== null || full) {
        // Fatal: the module may hold any of these pages; none may ever go back to the allocator.
        const f = failed as { step: string; status: ReturnType<typeof extMemAdd>["status"] | null } | null;
        const why =
          f === null ? "TDH.EXT.MEM.ADD: pool full before all pages were added" : `${f.step} failed`;
        const pfns = Array.from({ length: n }, (_, i) => first.pfn + i);
        strandPages(k, pfns, `extensions bring-up: ${why}`);
        rec.stranded += n;
        return rec.fail(f?.step ?? "TDH.EXT.MEM.ADD (pool full)", f?.status ?? null);
      }
    }
    if (extReq.value.lo !== 0) {
      const r = extInit(k);
      rec.interrupts += r.interrupts;
      if (!ok(r.status)) {
        // The pool pages stay with the module; the host records them stranded and never reuses them.
        rec.stranded += strandDonated(k, EXT_POOL_OWNER, "extensions bring-up: TDH.EXT.INIT failed");
        return rec.fail("TDH.EXT.INIT", r.status);
      }
    }
    return rec.ok();
  });
  freePointers();
  return result ?? rec.fail("extension lock", null);
}
