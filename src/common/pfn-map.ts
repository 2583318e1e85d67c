/**
 * A map from page frame numbers to short labels, stored in lazily created sections of 1024 frames
 * (typed arrays of label ids), with the Map methods the model uses. A 1,048,576-page pool costs 2 KiB
 * per 1024 pages instead of a hash-map entry per page, and the cost per page stays flat as it grows.
 */

const SECTION = 1024;

/** `offOf(pfn)` for a PFN ≥ 0 without the float `%` (fmod on a double PFN, about 10 ns, measured). */
function offOf(pfn: number): number {
  return pfn - Math.floor(pfn / 1024) * 1024;
}

/** Most distinct labels one map holds (label ids are 16-bit, 0 meaning none). */
export const MAX_PFN_LABELS = 0xffff;

/** PFN → label, Map-like. Labels are interned; at most 65,535 distinct labels. */
export class PfnLabelMap {
  private readonly sections = new Map<number, Uint16Array>();
  private readonly labels: string[] = [""];
  private readonly ids = new Map<string, number>();
  private count = 0;
  private lastKey = -1;
  private lastSec: Uint16Array | undefined;
  /** The label {@link idOf} answered last, and its id (labels are never forgotten, so it stays valid). */
  private lastLabel: string | null = null;
  private lastLabelId = 0;

  private sec(pfn: number, create: boolean): Uint16Array | undefined {
    const key = Math.floor(pfn / SECTION);
    // The last answer, a missing section included (a map with no page near `pfn`, such as an empty
    // `lent`, is asked once per page of a run); sections are never removed, so only a creation changes it.
    if (key === this.lastKey && (this.lastSec !== undefined || !create)) return this.lastSec;
    let s = this.sections.get(key);
    if (s === undefined) {
      if (!create) {
        this.lastKey = key;
        this.lastSec = undefined;
        return undefined;
      }
      s = new Uint16Array(SECTION);
      this.sections.set(key, s);
    }
    this.lastKey = key;
    this.lastSec = s;
    return s;
  }

  private idOf(label: string): number {
    // Runs of pages carry one label: the last one answers without a string-keyed Map lookup.
    if (label === this.lastLabel) return this.lastLabelId;
    let id = this.ids.get(label);
    if (id === undefined) {
      id = this.labels.length;
      if (id > MAX_PFN_LABELS)
        throw new RangeError(`PfnLabelMap: more than ${MAX_PFN_LABELS} distinct labels`);
      this.labels.push(label);
      this.ids.set(label, id);
    }
    this.lastLabel = label;
    this.lastLabelId = id;
    return id;
  }

  /** Number of PFNs with a label. */
  get size(): number {
    return this.count;
  }

  /** Labels `pfn`. */
  set(pfn: number, label: string): this {
    const s = this.sec(pfn, true)!;
    const i = offOf(pfn);
    if (s[i] === 0) this.count++;
    s[i] = this.idOf(label);
    return this;
  }

  /** Labels the `n` PFNs from `pfn` with one label: one label lookup, one section lookup per 1024 PFNs. */
  setRun(pfn: number, n: number, label: string): this {
    const id = this.idOf(label);
    for (let q = pfn, end = pfn + n; q < end; ) {
      const s = this.sec(q, true)!;
      const i0 = offOf(q);
      const lim = Math.min(SECTION, i0 + (end - q));
      for (let i = i0; i < lim; i++) {
        if (s[i] === 0) this.count++;
        s[i] = id;
      }
      q += lim - i0;
    }
    return this;
  }

  /** The label of `pfn`, or undefined. */
  get(pfn: number): string | undefined {
    const id = this.sec(pfn, false)?.[offOf(pfn)] ?? 0;
    return id === 0 ? undefined : this.labels[id];
  }

  /**
   * The label all `n` PFNs from `pfn` carry (n ≥ 1), or null when they do not all carry one and the same
   * label: one section lookup per 1024 PFNs and no string per PFN (the conservation check asks it once
   * per run of module-owned pages).
   */
  runLabel(pfn: number, n: number): string | null {
    let id = -1;
    for (let q = pfn, end = pfn + n; q < end; ) {
      const s = this.sec(q, false);
      if (s === undefined) return null;
      const i0 = offOf(q);
      const lim = Math.min(SECTION, i0 + (end - q));
      if (id < 0) id = s[i0]!;
      if (id === 0) return null;
      for (let i = i0; i < lim; i++) if (s[i] !== id) return null;
      q += lim - i0;
    }
    return id > 0 ? this.labels[id]! : null;
  }

  /** True when `pfn` has a label. */
  has(pfn: number): boolean {
    return (this.sec(pfn, false)?.[offOf(pfn)] ?? 0) !== 0;
  }

  /** Removes `pfn`'s label; true when it had one. */
  delete(pfn: number): boolean {
    const s = this.sec(pfn, false);
    const i = offOf(pfn);
    if (s === undefined || s[i] === 0) return false;
    s[i] = 0;
    this.count--;
    return true;
  }

  /** Removes the labels of the `n` PFNs from `pfn`: one section lookup per 1024 PFNs. Returns how many had one. */
  deleteRun(pfn: number, n: number): number {
    let removed = 0;
    for (let q = pfn, end = pfn + n; q < end; ) {
      const i0 = offOf(q);
      const lim = Math.min(SECTION, i0 + (end - q));
      const s = this.sec(q, false);
      if (s !== undefined)
        for (let i = i0; i < lim; i++) {
          if (s[i] === 0) continue;
          s[i] = 0;
          removed++;
        }
      q += lim - i0;
    }
    this.count -= removed;
    return removed;
  }

  /** Every labelled PFN, in section order. */
  *keys(): IterableIterator<number> {
    for (const [pfn] of this.entries()) yield pfn;
  }

  /** Every [PFN, label], in section order. */
  *entries(): IterableIterator<[number, string]> {
    for (const [key, s] of this.sections) {
      for (let i = 0; i < SECTION; i++) if (s[i] !== 0) yield [key * SECTION + i, this.labels[s[i]!]!];
    }
  }

  [Symbol.iterator](): IterableIterator<[number, string]> {
    return this.entries();
  }
}
