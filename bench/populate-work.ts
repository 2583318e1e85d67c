/**
 * The JavaScript side of section 1 (bench/populate.ts): the inputs, the timed workloads and their
 * correctness checks, in a module of its own so that the section can load it in the two forms JavaScript
 * code runs in:
 * - bundled: esbuild puts this file and every src module it reaches into one CommonJS file
 *   (bench/out/populate-work.cjs), the form the CLI ships (dist/cli/tdxpa.bundle.cjs). Calls between
 *   modules are then calls between functions of one scope, as the C program's calls are within one
 *   translation unit (its codecs are `static inline`);
 * - ES modules: this file imported as it is, each src file a module of its own, the form a program that
 *   imports the package without a bundler runs. There every call of an imported function first reads
 *   the import's binding from the exporting module and checks it is initialised, which V8 keeps in the
 *   optimised loop (measured, 2026-12-03, 2 x AMD EPYC: the HPA_LIST_INFO decode loop 4.71 ns per operand
 *   through the imports, 3.53 with the same functions read once into local constants, 3.10 bundled).
 *
 * Nothing here measures: bench/populate.ts times the workloads, interleaved with the C program.
 */
import {
  encodeHpaArray,
  encodeHpaArrayInto,
  encodeHpaListInfo,
  encodeHpaListInfoInto,
  encodeIommuMtEntry,
  encodeIommuMtEntryInto,
  entryHpa,
  hpaArrayHpa,
  hpaArrayRule,
  hpaArraySize,
  hpaListInfoFirstEntry,
  hpaListInfoLastEntry,
  hpaListInfoRootHpa,
  hpaListInfoRule,
  iommuMtEntryNumPages,
  iommuMtEntryRule,
  iommuMtEntryValue,
} from "../src/common/formats.js";
import {
  populateRoot,
  type TdxPageArray,
  tdxPageArrayCreate,
  tdxPageArrayRepopulate,
} from "../src/host/page-array.js";
import { createMachine } from "../src/machine.js";
import type { Workload } from "./harness.js";

/** Entries per root page, operands per codec batch. */
export const N = 512;

/** A timed workload and the C row it is compared with. */
export type PopulateWorkload = Workload & { readonly cRow: string; readonly unit: string };

/** What {@link populateWork} returns. */
export interface PopulateWork {
  /** The rows, in the section's order. */
  readonly workloads: readonly PopulateWorkload[];
  /** Checks of the JavaScript side alone (name: passed). */
  readonly checks: Record<string, boolean>;
  /** Checksums (populate.c's hash) of what the JavaScript side computes, to compare with the C program's. */
  readonly checksums: {
    readonly root: string;
    readonly hpaListInfo: string;
    readonly hpaArray: string;
    readonly iommuMtEntry: string;
    readonly iommuMtEntryValue: string;
  };
  /** Reads the descriptor after the rounds (so that nothing it holds is dead before then). */
  readonly keepAlive: () => number;
}

// ---------------------------------------------------------------------------------------------------
// Inputs: the same formulas as make_inputs() in populate.c.

interface Rec {
  readonly pfn: number;
  readonly order: number;
}

function inputs() {
  const recs: Rec[] = [];
  const roots: number[] = [];
  const counts: number[] = [];
  const mtHpas: number[] = [];
  const mtPages: number[] = [];
  for (let i = 0; i < N; i++) {
    recs.push({ pfn: 0x100000 + 2 * i, order: 0 });
    roots.push((0x100000 + 37 * i) * 4096);
    counts.push(2 + (i % 511));
    mtHpas.push((0x100000 + 2048 * i) * 4096);
    mtPages.push(1 << (i % 12));
  }
  const encList = roots.map((r, i) => encodeHpaListInfo({ rootHpa: r, count: counts[i]! }));
  const encArr = roots.map((r, i) => encodeHpaArray({ count: counts[i]!, rootHpa: r }));
  const encMt = mtHpas.map((h, i) => encodeIommuMtEntry(h, mtPages[i]!));
  // The same operands as flat (lo, hi) words, what the decode rows read (C reads a uint64_t array).
  const flat = (xs: readonly { lo: number; hi: number }[]) =>
    Uint32Array.from(xs.flatMap((v) => [v.lo, v.hi]));
  return {
    recs,
    roots,
    counts,
    mtHpas,
    mtPages,
    encList,
    encArr,
    encMt,
    // The encode rows' arguments as a hot-path caller holds them (and as C holds them): typed arrays of
    // numbers, so every element read is a plain double or u32 without a JS array's element-kind checks.
    rootsF: Float64Array.from(roots),
    countsU: Uint32Array.from(counts),
    mtHpasF: Float64Array.from(mtHpas),
    mtPagesU: Uint32Array.from(mtPages),
    listW: flat(encList),
    arrW: flat(encArr),
    mtW: flat(encMt),
  };
}

/** The C row's entry formula, over records, into 1024 u32 words. */
function rawPopulate(w: Uint32Array, recs: readonly Rec[]): void {
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i]!;
    const pfn = r.pfn;
    const order = r.order;
    w[2 * i] = (((pfn % 0x10_0000) << 12) | (order === 0 ? 0 : 1 << order)) >>> 0;
    w[2 * i + 1] = Math.floor(pfn / 0x10_0000);
  }
}

const MASK64 = (1n << 64n) - 1n;

/** The checksum of populate.c: h = h * 31 + v over u64 values, mod 2^64, as 0x + 16 hex digits. */
function hash64(values: Iterable<{ lo: number; hi: number }>): string {
  let h = 0n;
  for (const v of values) h = (h * 31n + ((BigInt(v.hi >>> 0) << 32n) | BigInt(v.lo >>> 0))) & MASK64;
  return `0x${h.toString(16).padStart(16, "0")}`;
}

function wordsAsU64(w: Uint32Array, n: number): { lo: number; hi: number }[] {
  return Array.from({ length: n }, (_, i) => ({ lo: w[2 * i]!, hi: w[2 * i + 1]! }));
}

// ---------------------------------------------------------------------------------------------------

/** Builds the inputs, a descriptor over 512 pages of a fresh machine, the workloads and their checks. */
export function populateWork(): PopulateWork {
  const inp = inputs();

  // A descriptor over 512 order-0 pages of a default-platform machine (with its cache model wired in).
  const m = createMachine();
  const k = m.kernel;
  const pages = m.alloc.allocPagesBulk(N, { tag: "bench:populate" });
  if (pages.length !== N) throw new Error("bench: could not allocate 512 pages");
  const created = tdxPageArrayCreate(k, pages, N);
  if (created === null) throw new Error("bench: tdxPageArrayCreate returned null");
  const arr: TdxPageArray = created;
  const rootPfn = arr.rootPage.pfn;
  // The entries the check loop computes for these pages (order 0: entry = HPA), as populateRoot takes them.
  const entries = new Uint32Array(2 * N);
  for (let i = 0; i < N; i++) {
    const hpa = pages[i]!.hpa;
    if (m.alloc.liveOrder(pages[i]!.pfn) !== 0) throw new Error("bench: expected order-0 pages");
    entries[2 * i] = hpa >>> 0;
    entries[2 * i + 1] = Math.floor(hpa / 0x1_0000_0000);
  }
  const scratch = new Uint32Array(2 * N);
  /** Where the encode rows write each operand (a register pair), as the C rows return a u64. */
  const out = new Uint32Array(2);

  const workloads: PopulateWorkload[] = [
    {
      name: "populate: tdxPageArrayRepopulate",
      cRow: "populate",
      unit: "ns/entry",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          const a = tdxPageArrayRepopulate(k, arr, pages, N);
          s ^= a === null ? 1 : a.nrPages;
        }
        return s;
      },
    },
    {
      name: "populate: root write (populateRoot, copy of checked entries)",
      cRow: "populate",
      unit: "ns/entry",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          populateRoot(k, rootPfn, entries, N, N);
          s ^= k.mem.words(rootPfn)[(it * 7) & 1023]!;
        }
        return s;
      },
    },
    {
      name: "populate: raw loop (pfn, order) records",
      cRow: "populate",
      unit: "ns/entry",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          rawPopulate(scratch, inp.recs);
          s ^= scratch[(it * 7) & 1023]!;
        }
        return s;
      },
    },
    {
      name: "encode HPA_LIST_INFO",
      cRow: "encode-hpa-list-info",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        const roots = inp.rootsF;
        const counts = inp.countsU;
        for (let it = 0; it < iters; it++) {
          for (let i = 0; i < N; i++) {
            encodeHpaListInfoInto(out, 0, roots[i]!, counts[i]!, 0);
            s ^= out[1]!;
          }
        }
        return s;
      },
    },
    {
      name: "decode HPA_LIST_INFO",
      cRow: "decode-hpa-list-info",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          const w = inp.listW;
          for (let i = 0; i < N; i++) {
            const lo = w[2 * i]!;
            const hi = w[2 * i + 1]!;
            s +=
              hpaListInfoRootHpa(lo, hi) +
              hpaListInfoLastEntry(hi) +
              1 +
              hpaListInfoFirstEntry(lo) +
              hpaListInfoRule(lo, hi);
          }
        }
        return s;
      },
    },
    {
      name: "encode HPA_ARRAY_T",
      cRow: "encode-hpa-array",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        const roots = inp.rootsF;
        const counts = inp.countsU;
        for (let it = 0; it < iters; it++) {
          for (let i = 0; i < N; i++) {
            encodeHpaArrayInto(out, 0, counts[i]!, roots[i]!);
            s ^= out[1]!;
          }
        }
        return s;
      },
    },
    {
      name: "decode HPA_ARRAY_T",
      cRow: "decode-hpa-array",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          const w = inp.arrW;
          for (let i = 0; i < N; i++) {
            const lo = w[2 * i]!;
            const hi = w[2 * i + 1]!;
            const size = hpaArraySize(hi);
            s += hpaArrayHpa(lo, hi) + size + 1 + (size === 0 ? 1 : 0) + hpaArrayRule(lo, hi);
          }
        }
        return s;
      },
    },
    {
      // The one-number form: an IOMMU_MT entry is below 2^52, so it is returned as its value and summed,
      // as the C row returns a u64 and sums it.
      name: "encode IOMMU_MT entry",
      cRow: "encode-iommu-mt-entry",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        const hpas = inp.mtHpasF;
        const pages = inp.mtPagesU;
        for (let it = 0; it < iters; it++) {
          for (let i = 0; i < N; i++) s += iommuMtEntryValue(hpas[i]!, pages[i]!);
        }
        return s;
      },
    },
    {
      name: "encode IOMMU_MT entry (halves: encode…Into)",
      cRow: "encode-iommu-mt-entry",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        const hpas = inp.mtHpasF;
        const pages = inp.mtPagesU;
        for (let it = 0; it < iters; it++) {
          for (let i = 0; i < N; i++) {
            encodeIommuMtEntryInto(out, 0, hpas[i]!, pages[i]!);
            s ^= out[0]!;
          }
        }
        return s;
      },
    },
    {
      name: "decode IOMMU_MT entry",
      cRow: "decode-iommu-mt-entry",
      unit: "ns/operand",
      unitsPerIter: N,
      run: (iters) => {
        let s = 0;
        for (let it = 0; it < iters; it++) {
          const w = inp.mtW;
          for (let i = 0; i < N; i++) {
            const lo = w[2 * i]!;
            const hi = w[2 * i + 1]!;
            s += entryHpa(lo, hi) + iommuMtEntryNumPages(lo) + iommuMtEntryRule(lo, hi);
          }
        }
        return s;
      },
    },
  ];

  // Correctness first: a benchmark of code that computes something else is meaningless.
  const checks: Record<string, boolean> = {};
  tdxPageArrayRepopulate(k, arr, pages, N);
  const viaApi = wordsAsU64(m.mem.words(rootPfn), N);
  rawPopulate(
    scratch,
    pages.map((p) => ({ pfn: p.pfn, order: 0 })),
  );
  checks["repopulate root == raw loop over the same pages"] =
    hash64(viaApi) === hash64(wordsAsU64(scratch, N));

  rawPopulate(scratch, inp.recs);
  const mtValues = inp.mtHpas.map((h, i) => {
    const v = iommuMtEntryValue(h, inp.mtPages[i]!);
    const lo = v >>> 0;
    return { lo, hi: (v - lo) / 0x1_0000_0000 };
  });
  return {
    workloads,
    checks,
    checksums: {
      root: hash64(wordsAsU64(scratch, N)),
      hpaListInfo: hash64(inp.encList),
      hpaArray: hash64(inp.encArr),
      iommuMtEntry: hash64(inp.encMt),
      iommuMtEntryValue: hash64(mtValues),
    },
    keepAlive: () => arr.nrPages,
  };
}
