/**
 * What the emulated module records and reports (docs/spec/03-module.md): the objects that own pages, the model
 * reports, the record of each call and the forced statuses of fault injection. Plain data, re-exported by
 * `emulator.ts`.
 */
import type { U64 } from "../common/u64.js";
import { smallInt } from "../hw/physmem.js";

/** Kinds of objects the module keeps pages for. */
export type ObjectKind = "ext-pool" | "iommu" | "spdm" | "ide" | "td";

/** A module object that owns pages (the PAMT owner field names it). */
export interface ModuleObject {
  readonly id: number;
  readonly kind: ObjectKind;
  readonly name: string;
  /** PFNs of every 4 KiB page it owns, in the order they were given. */
  readonly pages: number[];
  /** Object-specific state (IOMMU unit, session state, …). */
  state: string;
}

/** Something the emulator noticed that the real module would not report, or would not report this way. */
export interface ModelReport {
  readonly kind:
    | "module-owned-shared-page"
    | "poison-consumed"
    | "release-list-short"
    | "ext-lock-deadlock"
    | "call-once-interrupted"
    | "root-lists-itself";
  readonly pfn: number;
  readonly cause: string;
  readonly message: string;
}

/** The record of one SEAMCALL, for traces and transcripts. */
export interface CallRecord {
  readonly seq: number;
  readonly leaf: number;
  readonly leafName: string;
  /** Register file before the call (32 u32 words: register r is words 2r, 2r+1). */
  readonly regsIn: Uint32Array;
  /** Register file after the call. */
  readonly regsOut: Uint32Array;
  readonly status: U64;
  readonly statusText: string;
  /** Units of work done in this call (pages added, entries processed, …). */
  readonly units: number;
  /** Set when a forced status (fault injection) replaced the call. */
  readonly forced: boolean;
  /** Logical CPU the call was issued on (0 unless other CPUs run: see {@link TdxModule.onCpu}). */
  readonly cpu: number;
}

/** A status forced on the nth call of a leaf (fault injection for error-path tests). */
export interface ForcedStatus {
  readonly leaf: number;
  /** 1-based count of calls to that leaf, from when the module was created. */
  readonly nth: number;
  readonly status: U64;
  /**
   * Carry the side effects of the real failure instead of replacing the call (03-module.md 3.4–3.5,
   * ledger `forced-status-effects`): for TDX_SYS_SHUTDOWN the leaf runs and its first private write
   * consumes poison (or, with none, it completes), every page it claimed stays claimed and the module
   * shuts down; for TDX_INTERRUPTED_RESUMABLE the leaf runs and is interrupted at its first unit
   * boundary (with none it completes and returns its own status). Other statuses replace the call.
   */
  readonly effects?: boolean;
}

/**
 * A {@link ModuleObject} given long runs of consecutive pages (the extension memory pool: 512 per
 * TDH.EXT.MEM.ADD, 4,194,304 in the largest tested pool). Its page list is kept as runs of consecutive
 * PFNs while only the module appends to it and walks it; the first read of {@link pages} (the
 * conservation check, a report, a test) builds the plain array, which stays the list from then on.
 * A `number[]` grown one push per page made V8 copy it 1.5x at a time in large-object space (82 MiB
 * allocated for a 34 MiB list at 4,194,304 pages): GC work that grew with the pool (docs/PERFORMANCE.md).
 */
export class RunListObject implements ModuleObject {
  /** First PFN and length of each run, in the order the pages were given. */
  private readonly starts: number[] = [];
  private readonly lens: number[] = [];
  private count = 0;
  private list: number[] | null = null;
  /** Run holding the page {@link pfnAt} answered last, and that run's first index (walks go forward). */
  private curRun = 0;
  private curBase = 0;

  constructor(
    readonly id: number,
    readonly kind: ObjectKind,
    readonly name: string,
    public state: string,
  ) {}

  /** Number of pages in the list. */
  get pageCount(): number {
    return this.list === null ? this.count : this.list.length;
  }

  /** The page list as a plain array (built once, on the first read). */
  get pages(): number[] {
    if (this.list === null) {
      const out: number[] = [];
      for (let r = 0; r < this.starts.length; r++) {
        const s = this.starts[r]!;
        for (let i = 0, n = this.lens[r]!; i < n; i++) out.push(s + i);
      }
      this.list = out;
    }
    return this.list;
  }

  /**
   * Calls `fn` once per run of consecutive PFNs of the list, in list order (first PFN, page count),
   * without building the array: a reader that wants the pages as runs (the conservation check) asks
   * this instead of {@link pages}. The runs are the longest ones: a run never continues where the next
   * one starts.
   */
  forEachRun(fn: (first: number, n: number) => void): void {
    const list = this.list;
    if (list === null) {
      for (let r = 0; r < this.starts.length; r++) fn(this.starts[r]!, this.lens[r]!);
      return;
    }
    forEachPfnRun(list, fn);
  }

  /** Appends `page` (a PFN) to the list (extends the last run when it follows it). */
  append(page: number): void {
    // A small integer when it can be (same value): a PFN computed by the module's division is a heap
    // number, which turned `starts` (and the list) into an array of doubles (issue 15, see `smallInt`).
    const pfn = smallInt(page);
    if (this.list !== null) {
      this.list.push(pfn);
      return;
    }
    const last = this.starts.length - 1;
    if (last >= 0 && this.starts[last]! + this.lens[last]! === pfn) this.lens[last]!++;
    else {
      this.starts.push(pfn);
      this.lens.push(1);
    }
    this.count++;
  }

  /** The PFN at index `i` of the list (0 ≤ i < {@link pageCount}). */
  pfnAt(i: number): number {
    if (this.list !== null) return this.list[i]!;
    if (i < this.curBase) {
      this.curRun = 0;
      this.curBase = 0;
    }
    while (i >= this.curBase + this.lens[this.curRun]!) {
      this.curBase += this.lens[this.curRun]!;
      this.curRun++;
    }
    return this.starts[this.curRun]! + (i - this.curBase);
  }
}

/** Calls `fn(first, n)` for each maximal run of consecutive PFNs of `pfns`, in list order. */
export function forEachPfnRun(pfns: readonly number[], fn: (first: number, n: number) => void): void {
  for (let i = 0; i < pfns.length; ) {
    const first = pfns[i]!;
    let j = i + 1;
    while (j < pfns.length && pfns[j] === first + (j - i)) j++;
    fn(first, j - i);
    i = j;
  }
}
