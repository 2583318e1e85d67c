/**
 * The cache model's hazard log (docs/spec/03-module.md 3.5): every hazard {@link CacheModel} finds, in
 * the order found, kept as two numbers each (the page, and the wording with the KeyID slots involved)
 * until someone reads the list; the {@link Hazard} objects, KeyID arrays and messages are built then,
 * once, the same objects on every later read.
 *
 * Why: the CLFLUSH experiment of `tdxpa compare` on a 1,048,576-page pool finds a hazard per pool page
 * and reads only how many; one object, one KeyID array and one message per hazard were about a third of
 * that run's time and most of its garbage (docs/PERFORMANCE.md, "Million-page paths", 2026-12-03).
 */

/** The three hazard kinds of 03-module.md 3.5, and the end-of-run sweep's. */
export type HazardKind =
  | "dirty-host-lines-on-private"
  | "private-lines-on-host-page"
  | "host-access-to-private"
  | "private-lines-left-at-end";

/** One hazard event. */
export interface Hazard {
  readonly kind: HazardKind;
  /** The page (PFN) at risk. */
  readonly pfn: number;
  /** KeyIDs whose dirty lines are involved. */
  readonly keyIds: readonly number[];
  /** The operation that caused it: a SEAMCALL ("TDH.IOMMU.SETUP #12") or a host action ("host free"). */
  readonly cause: string;
  /** One-line explanation. */
  readonly message: string;
}

/** How a hazard was found: its kind and the wording of its message (an index of {@link WORDING}). */
export const HAZARD = Object.freeze({
  /** Hazard 3: the host read a page the PAMT says is private. */
  HOST_READ_PRIVATE: 0,
  /** Hazard 3: the host wrote one. */
  HOST_WROTE_PRIVATE: 1,
  /** Hazard 2: the host read a page with lines dirty under a private KeyID. */
  HOST_READ_PRIVATE_LINES: 2,
  /** Hazard 2: the host wrote one. */
  HOST_WROTE_PRIVATE_LINES: 3,
  /** Hazard 2: such a page went back to the host allocator. */
  FREED_WITH_PRIVATE_LINES: 4,
  /** Hazard 1: a page became private with dirty KeyID-0 lines under CLFLUSH_BEFORE_ALLOC. */
  PRIVATE_WITH_HOST_LINES: 5,
  /** The end-of-run sweep: private lines left on a page the module no longer owns. */
  LEFT_AT_END: 6,
});

/** Each wording: the kind, and the message from the PFN in hex, the KeyIDs joined with ",", the cause. */
const WORDING: readonly {
  readonly kind: HazardKind;
  readonly message: (pfn: string, keyIds: string, cause: string) => string;
}[] = [
  {
    kind: "host-access-to-private",
    message: (p) => `host read PFN 0x${p} which the PAMT says is private`,
  },
  {
    kind: "host-access-to-private",
    message: (p) => `host wrote PFN 0x${p} which the PAMT says is private`,
  },
  {
    kind: "private-lines-on-host-page",
    message: (p, k) => `host read PFN 0x${p} with dirty lines of KeyID ${k} still cached`,
  },
  {
    kind: "private-lines-on-host-page",
    message: (p, k) => `host wrote PFN 0x${p} with dirty lines of KeyID ${k} still cached`,
  },
  {
    kind: "private-lines-on-host-page",
    message: (p, k) => `PFN 0x${p} went back to the allocator with dirty lines of KeyID ${k}`,
  },
  {
    kind: "dirty-host-lines-on-private",
    message: (p) =>
      `PFN 0x${p} became private with dirty KeyID-0 lines while the module requires CLFLUSH_BEFORE_ALLOC`,
  },
  {
    kind: "private-lines-left-at-end",
    message: (p, k, c) =>
      `page 0x${p} left the module with dirty lines of KeyID ${k} never written back (left by ${c})`,
  },
];

/**
 * The hazards found so far: a built prefix ({@link Hazard} objects) and a pending suffix of records
 * (PFN; wording | KeyID slot bits << 8; the cause as runs, since a call's hazards share one cause).
 */
export class HazardLog {
  private readonly built: Hazard[] = [];
  private pfns = new Float64Array(64);
  private codes = new Uint16Array(64);
  private pending = 0;
  /** Pending index where each cause starts, and the cause. */
  private readonly causeFrom: number[] = [];
  private readonly causes: string[] = [];

  /**
   * @param slotKeyIds the cache's slot → KeyID table, read when a record is built (slots are only ever
   * appended, so a slot names the same KeyID for the whole life of the log).
   */
  constructor(private readonly slotKeyIds: readonly number[]) {}

  /** Number of hazards found (no object is built to answer). */
  get count(): number {
    return this.built.length + this.pending;
  }

  /**
   * Records a hazard: `wording` one of {@link HAZARD}, `slots` the KeyID slots involved (bit s: slot s,
   * 1..255), `cause` the operation that caused it.
   */
  add(wording: number, pfn: number, slots: number, cause: string): void {
    const n = this.pending;
    if (n === this.pfns.length) {
      const pfns = new Float64Array(n * 2);
      pfns.set(this.pfns);
      this.pfns = pfns;
      const codes = new Uint16Array(n * 2);
      codes.set(this.codes);
      this.codes = codes;
    }
    this.pfns[n] = pfn;
    this.codes[n] = wording | (slots << 8);
    const last = this.causes.length - 1;
    if (last < 0 || this.causes[last] !== cause) {
      this.causeFrom.push(n);
      this.causes.push(cause);
    }
    this.pending = n + 1;
  }

  /** Every hazard, in the order found, as objects (built on the first read after a record). */
  all(): Hazard[] {
    if (this.pending > 0) this.build();
    return this.built;
  }

  /** The hazard recorded last, as an object. Valid when {@link count} > 0. */
  last(): Hazard {
    const all = this.all();
    return all[all.length - 1]!;
  }

  private build(): void {
    let run = 0;
    for (let i = 0; i < this.pending; i++) {
      while (run + 1 < this.causeFrom.length && this.causeFrom[run + 1]! <= i) run++;
      const code = this.codes[i]!;
      const pfn = this.pfns[i]!;
      const keyIds: number[] = [];
      for (let s = 0, bits = code >>> 8; bits !== 0; s++, bits >>>= 1)
        if ((bits & 1) !== 0) keyIds.push(this.slotKeyIds[s]!);
      const cause = this.causes[run]!;
      const w = WORDING[code & 0xff]!;
      this.built.push({
        kind: w.kind,
        pfn,
        keyIds,
        cause,
        message: w.message(pfn.toString(16), keyIds.join(","), cause),
      });
    }
    this.pending = 0;
    this.causeFrom.length = 0;
    this.causes.length = 0;
  }
}
