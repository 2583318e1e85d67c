/**
 * Section 2, "allocator": operations per second of the buddy allocator (src/host/page-alloc.ts):
 * order-0 alloc+free pairs, order-3 alloc+free pairs, bulk 512 (allocPagesBulk(512) then 512 frees) and
 * contiguous 12,800 (allocContigPages(12800) then freeContigRange).
 *
 * Each workload runs on a bare allocator over 1 TiB (no hooks) and on a default-platform machine's
 * allocator, whose cache-model hooks see every free. The baseline of the section is the bare order-0
 * pair: ns per page of every other row is reported as a ratio to it, and each machine row as a ratio to
 * the same bare row, all from the same run. Every workload frees what it allocated, so the allocator
 * returns to its initial shape after each iteration (LIFO: the same blocks are split and merged again).
 */
import { PageAllocator } from "../src/host/page-alloc.js";
import { PhysMem } from "../src/hw/physmem.js";
import { createMachine } from "../src/machine.js";
import { fmt, fmtSpread, measure, printTable, type Spread, type Workload } from "./harness.js";

/** Options of the section. */
export interface AllocOptions {
  readonly rounds: number;
  readonly targetMs: number;
}

/** One row: ns per operation (an alloc+free pair, a bulk call with its frees, a contig run with its free). */
export interface AllocRow {
  readonly name: string;
  readonly allocator: "bare" | "machine";
  readonly pagesPerOp: number;
  readonly nsPerOp: Spread;
  readonly opsPerSec: number;
  readonly pagesPerSec: number;
  readonly nsPerPage: number;
  /** ns/page over ns/page of the bare order-0 pair. */
  readonly perPageVsOrder0: number;
  /** For machine rows: ns/op over the same bare row. */
  readonly vsBare: number | null;
  readonly itersPerRound: number;
}

const TIB = 2 ** 40;
const GIB = 2 ** 30;

function must<T>(x: T | null, what: string): T {
  if (x === null) throw new Error(`bench: ${what} returned null`);
  return x;
}

function workloads(a: PageAllocator): (Workload & { pagesPerOp: number })[] {
  return [
    {
      name: "order-0 alloc+free",
      unitsPerIter: 1,
      pagesPerOp: 1,
      run: (iters) => {
        let s = 0;
        for (let i = 0; i < iters; i++) {
          const p = must(a.allocPage(), "allocPage");
          s ^= p.pfn;
          a.freePages(p, 0);
        }
        return s;
      },
    },
    {
      name: "order-3 alloc+free",
      unitsPerIter: 1,
      pagesPerOp: 8,
      run: (iters) => {
        let s = 0;
        for (let i = 0; i < iters; i++) {
          const p = must(a.allocPages(3), "allocPages(3)");
          s ^= p.pfn;
          a.freePages(p, 3);
        }
        return s;
      },
    },
    {
      name: "bulk 512 alloc + 512 frees",
      unitsPerIter: 1,
      pagesPerOp: 512,
      run: (iters) => {
        let s = 0;
        for (let i = 0; i < iters; i++) {
          const pages = a.allocPagesBulk(512);
          if (pages.length !== 512) throw new Error("bench: allocPagesBulk(512) came up short");
          for (const p of pages) a.freePages(p, 0);
          s ^= pages[0]!.pfn;
        }
        return s;
      },
    },
    {
      name: "contig 12,800 alloc + freeContigRange",
      unitsPerIter: 1,
      pagesPerOp: 12_800,
      run: (iters) => {
        let s = 0;
        for (let i = 0; i < iters; i++) {
          const first = must(a.allocContigPages(12_800), "allocContigPages(12800)");
          a.freeContigRange(first.pfn, 12_800);
          s ^= first.pfn;
        }
        return s;
      },
    },
  ];
}

/** Runs section 2 and prints its table. */
export function benchAlloc(o: AllocOptions): { rows: AllocRow[] } {
  const bare = new PageAllocator(new PhysMem([{ base: 4 * GIB, size: TIB }]));
  const machine = createMachine().alloc;
  const rows: AllocRow[] = [];
  const bareByName = new Map<string, number>();
  let order0PerPage = Number.NaN;
  for (const [label, a] of [
    ["bare", bare],
    ["machine", machine],
  ] as const) {
    for (const w of workloads(a)) {
      const m = measure(w, o.rounds, o.targetMs);
      const ns = m.nsPerUnit.median;
      const nsPerPage = ns / w.pagesPerOp;
      if (label === "bare") {
        bareByName.set(w.name, ns);
        if (w.pagesPerOp === 1) order0PerPage = nsPerPage;
      }
      rows.push({
        name: w.name,
        allocator: label,
        pagesPerOp: w.pagesPerOp,
        nsPerOp: m.nsPerUnit,
        opsPerSec: 1e9 / ns,
        pagesPerSec: (1e9 / ns) * w.pagesPerOp,
        nsPerPage,
        perPageVsOrder0: nsPerPage / order0PerPage,
        vsBare: label === "machine" ? ns / bareByName.get(w.name)! : null,
        itersPerRound: m.itersPerRound,
      });
    }
  }
  const st = bare.stats();
  if (st.allocatedPages !== 0) throw new Error(`bench: bare allocator leaked ${st.allocatedPages} pages`);

  printTable(
    `2. allocator (${o.rounds} rounds; op = one alloc and its free; bare = 1 TiB PageAllocator, machine = default platform with cache hooks)`,
    [
      "row",
      "alloc",
      "ns/op min / med / max",
      "ops/s (med)",
      "pages/s",
      "ns/page",
      "per page vs order-0",
      "vs bare",
    ],
    rows.map((r) => [
      r.name,
      r.allocator,
      fmtSpread(r.nsPerOp, 1),
      Math.round(r.opsPerSec).toLocaleString("en-US"),
      Math.round(r.pagesPerSec).toLocaleString("en-US"),
      fmt(r.nsPerPage, 2),
      `${fmt(r.perPageVsOrder0, 2)}x`,
      r.vsBare === null ? "-" : `${fmt(r.vsBare, 2)}x`,
    ]),
  );
  return { rows };
}
