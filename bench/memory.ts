/**
 * Section 3, "memory of a 1 TiB host model": what the model costs in memory for a host of 1 TiB, at
 * start and after allocating 1 GiB (262,144 order-0 pages with allocPagesBulk), for a bare
 * `new PageAllocator(new PhysMem(1 TiB))` and for a whole `createMachine(uniformPlatform(2 ** 40))`.
 *
 * Figures are deltas against a baseline taken just before each scenario in the same process, after
 * forced GCs (node must run with --expose-gc; without it the figures include garbage and are flagged).
 * heapUsed is the V8 heap (objects, arrays, Page handles); arrayBuffers is the off-heap store of typed
 * arrays (the allocator's per-1024-frame sections, page contents); rss is the process's resident set,
 * which the OS does not shrink promptly, so its deltas are rough. The "handles dropped" step releases the
 * 262,144 Page handles while the pages stay allocated, separating the allocator's own bookkeeping from
 * the caller's array of handles.
 */
import type { Page } from "../src/host/page.js";
import { PageAllocator } from "../src/host/page-alloc.js";
import { PhysMem } from "../src/hw/physmem.js";
import { uniformPlatform } from "../src/hw/platform.js";
import { createMachine } from "../src/machine.js";
import { consume, hasGc, type MemSnap, memDelta, memSnap, mib, printTable } from "./harness.js";

/** One measured step: deltas against the scenario's baseline. */
export interface MemoryRow {
  readonly scenario: string;
  readonly step: string;
  readonly delta: MemSnap;
  /** Allocator bookkeeping sections at this step. */
  readonly sections: number;
}

const TIB = 2 ** 40;
const GIB = 2 ** 30;
/** 1 GiB of 4 KiB pages. */
export const GIB_PAGES = 262_144;

function scenario(
  name: string,
  make: () => { alloc: PageAllocator; keep: unknown },
  rows: MemoryRow[],
): void {
  const base = memSnap();
  const t = make();
  const a = t.alloc;
  rows.push({ scenario: name, step: "created", delta: memDelta(base, memSnap()), sections: a.sectionCount });
  let pages: Page[] | null = a.allocPagesBulk(GIB_PAGES, { tag: "bench:1g" });
  if (pages.length !== GIB_PAGES)
    throw new Error(`bench: allocPagesBulk(${GIB_PAGES}) returned ${pages.length}`);
  rows.push({
    scenario: name,
    step: "+ 1 GiB allocated (handles held)",
    delta: memDelta(base, memSnap()),
    sections: a.sectionCount,
  });
  consume(pages.length);
  pages = null;
  rows.push({
    scenario: name,
    step: "+ handles dropped (pages still allocated)",
    delta: memDelta(base, memSnap()),
    sections: a.sectionCount,
  });
  if (a.stats().allocatedPages < GIB_PAGES) throw new Error("bench: pages vanished");
  consume(t.keep === null ? 0 : 1);
}

/** Runs section 3 and prints its table. */
export function benchMemory(): { gc: boolean; baseline: MemSnap; rows: MemoryRow[] } {
  const rows: MemoryRow[] = [];
  const baseline = memSnap();
  scenario(
    "PageAllocator(PhysMem 1 TiB)",
    () => {
      const alloc = new PageAllocator(new PhysMem([{ base: 4 * GIB, size: TIB }]));
      return { alloc, keep: alloc };
    },
    rows,
  );
  scenario(
    "createMachine(uniformPlatform(2^40))",
    () => {
      const m = createMachine(uniformPlatform(TIB));
      return { alloc: m.alloc, keep: m };
    },
    rows,
  );
  const title =
    `3. memory of a 1 TiB host model (deltas vs a baseline taken just before each scenario` +
    `${hasGc ? ", after forced GC" : "; NO --expose-gc: figures include garbage"}; process baseline heapUsed ${mib(baseline.heapUsed)}, rss ${mib(baseline.rss)})`;
  printTable(
    title,
    ["scenario / step", "heapUsed", "arrayBuffers", "rss", "sections", "bytes/page over created (heap+ab)"],
    rows.map((r) => {
      const created = rows.find((x) => x.scenario === r.scenario && x.step === "created")!;
      const perPage =
        (r.delta.heapUsed + r.delta.arrayBuffers - created.delta.heapUsed - created.delta.arrayBuffers) /
        GIB_PAGES;
      return [
        `${r.scenario}: ${r.step}`,
        mib(r.delta.heapUsed),
        mib(r.delta.arrayBuffers),
        mib(r.delta.rss),
        String(r.sections),
        r === created ? "-" : perPage.toFixed(1),
      ];
    }),
  );
  return { gc: hasGc, baseline, rows };
}
