/**
 * What a scenario may ask of the model, checked when it is validated, before any work: the pages it
 * will allocate, the units and devices the flows walk, the labels the ledgers intern and the entries a
 * root page holds (01-formats.md 1.2: 512 entries per root page). A scenario over a limit is refused
 * with one message naming the field, the value and the limit, instead of running for minutes and
 * exhausting the heap (docs/SCENARIOS.md "Limits").
 *
 * Each limit comes from one definition: the platform (its memory), the formats (`MAX_ENTRIES`), the
 * model's bookkeeping (`MAX_PFN_LABELS`), or {@link MODEL_LIMITS} with its measured reason.
 */
import { TdxpaError } from "../common/errors.js";
import { MAX_ENTRIES } from "../common/formats.js";
import { MAX_PFN_LABELS } from "../common/pfn-map.js";
import { hostReservedPfnRanges, type Platform, platformPages } from "../hw/platform.js";

/**
 * The model's own capacity. `pages`: measured on this project's 2-core machines, the 1,048,576-page
 * pool (scenarios/pool-1m.yaml) runs in 2.6 s with a peak RSS of 128 MB; 2^22 pages keeps a run under
 * about a minute and half a gigabyte. `iommus`, `devices`: each unit and device is walked by every flow
 * (a few SEAMCALLs and labels each); 256 of each is more than any platform the spec describes.
 */
export const MODEL_LIMITS = Object.freeze({
  /** Pages a scenario may have allocated by the host at once (alloc steps, pool, metadata pages). */
  pages: 2 ** 22,
  /** IOMMU units on a platform. */
  iommus: 256,
  /** PCIe devices on a platform. */
  devices: 256,
  /** Entries of one root page (01-formats.md 1.2). */
  rootEntries: MAX_ENTRIES,
  /**
   * Steps of a scenario. Each alloc or root name is one owner label in the host's ledger and one
   * allocator tag, each unit and device up to three: with these limits a scenario stays far below the
   * ledger's {@link MAX_PFN_LABELS} labels (test/scenario/limits.test.ts checks the sum).
   */
  steps: 4096,
});

/** `PATH: VALUE is over the limit LIMIT (WHY)`, as a typed error. */
function over(path: string, value: number | string, limit: number | string, why: string): never {
  throw new TdxpaError("out-of-range", `${path}: ${value} is over the limit ${limit} (${why})`);
}

/** Pages the host's allocator can hand out on `p`: its memory less reserved areas and the module range. */
export function hostUsablePages(p: Platform): number {
  let reserved = 0;
  for (const r of hostReservedPfnRanges(p)) reserved += r.pages;
  return platformPages(p) - reserved;
}

/** What {@link checkScenarioLimits} needs of a scenario (validated shapes only). */
export interface LimitInput {
  readonly platform: Platform;
  readonly iqOrder: number;
  /** Alloc steps: their path in the file, blocks and block order. */
  readonly allocs: readonly { readonly path: string; readonly pages: number; readonly order: number }[];
  readonly steps: number;
}

/**
 * Checks a validated scenario against the platform and {@link MODEL_LIMITS}; throws a typed error naming
 * the field, the value and the limit. The page estimate counts what the flows may allocate: the
 * extension pool, each TDX-capable IOMMU's metadata and queue blocks, each device's SPDM, device
 * information and IDE metadata (plus a root page each), and every alloc step.
 */
export function checkScenarioLimits(s: LimitInput): void {
  const p = s.platform;
  const md = p.metadata;
  if (s.steps > MODEL_LIMITS.steps) over("steps", s.steps, MODEL_LIMITS.steps, "the model's step limit");
  if (p.iommus.length > MODEL_LIMITS.iommus)
    over("platform.iommus", p.iommus.length, MODEL_LIMITS.iommus, "the model's IOMMU unit limit");
  const devices = p.devices?.length ?? 0;
  if (devices > MODEL_LIMITS.devices)
    over("platform.devices", devices, MODEL_LIMITS.devices, "the model's device limit");
  const usable = hostUsablePages(p);
  const budget = Math.min(MODEL_LIMITS.pages, usable);
  const why = (n: number) =>
    n === MODEL_LIMITS.pages && n < usable
      ? "pages the model runs at once"
      : `pages the platform ${p.name} leaves to the host`;
  if (md.MEMORY_POOL_REQUIRED_PAGES > budget)
    over("platform.metadata.MEMORY_POOL_REQUIRED_PAGES", md.MEMORY_POOL_REQUIRED_PAGES, budget, why(budget));
  let pages = md.MEMORY_POOL_REQUIRED_PAGES;
  const tdxUnits = p.iommus.filter((u) => u.tdxCapable).length;
  pages += tdxUnits * (md.IOMMU_MT_PAGE_COUNT + 2 * 2 ** s.iqOrder + 1);
  pages += devices * (md.SPDM_MT_PAGE_COUNT + md.SPDM_MAX_DEV_INFO_PAGES + md.IDE_MT_PAGE_COUNT + 3);
  if (pages > budget) over("platform", `${pages} pages for the flows`, budget, why(budget));
  for (const a of s.allocs) {
    const n = a.pages * 2 ** a.order;
    if (n > budget)
      over(`${a.path}.pages`, a.order > 0 ? `${a.pages} x 2^${a.order} pages` : a.pages, budget, why(budget));
    pages += n;
    if (pages > budget)
      over(a.path, `${pages} pages with the steps before it and the flows`, budget, why(budget));
  }
}
