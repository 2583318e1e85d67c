/**
 * The cache model (src/hw/cache.ts, docs/spec/03-module.md 3.5) against a plain reference written the way
 * the spec reads: per (page, KeyID) a dirty flag and, once the lines go stale, a copy of the page's
 * bytes; hazards as objects built on the spot. The model keeps dirty and stale lines as bits in
 * sections, the non-zero stale lines per KeyID slot, and its hazards as records built into objects on
 * the first read (src/hw/cache-hazards.ts). Random sequences of host and module operations must give the
 * same hazards (kind, page, KeyIDs, cause, message, order), the same page bytes, poisoned pages and
 * counters; the hazard list is read at random points (a build in the middle of a run), and a second
 * model with an `onHazard` observer (each hazard built at once) must see the same list.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PAGE_SIZE, pfnToHpa } from "../../src/common/u64.js";
import { CacheModel, type Hazard, type HazardKind } from "../../src/hw/cache.js";
import { PhysMem } from "../../src/hw/physmem.js";

const BASE = 0x400;
const PAGES = 4;
const KEYIDS = [0, 5, 6, 9] as const;

/** The ciphertext byte i of a page written back under `keyId` (the spec's fixed per-KeyID pattern). */
function scramble(keyId: number, i: number): number {
  return (((i * 0x9e37 + keyId * 0x7f4a) >>> 3) | 0x01) & 0xff;
}

/** The reference: one flag per (page, KeyID), a byte copy per stale (page, KeyID). */
class Reference {
  readonly dirty = new Set<string>();
  readonly stale = new Map<string, Uint8Array>();
  readonly order: number[] = [0];
  readonly hazards: Hazard[] = [];
  readonly poisoned = new Set<number>();
  readonly leftBy = new Map<number, string>();
  damaged = 0;
  evictions = 0;
  cause = "host";

  constructor(
    readonly page: (pfn: number) => Uint8Array,
    readonly isPrivate: (pfn: number) => boolean,
    readonly flag: boolean,
  ) {}

  private use(k: number): void {
    if (!this.order.includes(k)) this.order.push(k);
  }
  keys(pfn: number): number[] {
    return this.order.filter((k) => this.dirty.has(`${pfn}:${k}`));
  }
  private hz(kind: HazardKind, pfn: number, keyIds: number[], message: string): void {
    this.hazards.push({ kind, pfn, keyIds, cause: this.cause, message });
  }
  private makeStale(pfn: number, k: number): void {
    const key = `${pfn}:${k}`;
    if (!this.dirty.has(key) || this.stale.has(key)) return;
    this.stale.set(key, this.page(pfn).slice());
  }
  private drop(pfn: number, k: number, how: "flush" | "evict"): void {
    const key = `${pfn}:${k}`;
    if (!this.dirty.delete(key)) return;
    const bytes = this.stale.get(key);
    if (bytes === undefined) return;
    this.stale.delete(key);
    const over = k === 0 && this.isPrivate(pfn);
    if (how === "evict" || over) this.damaged++;
    const p = this.page(pfn);
    for (let i = 0; i < PAGE_SIZE; i++) p[i] = k === 0 ? bytes[i]! : bytes[i]! ^ scramble(k, i);
    if (over) this.poisoned.add(pfn);
  }
  hostAccess(pfn: number, write: boolean): void {
    const w = write ? "wrote" : "read";
    const hex = pfn.toString(16);
    if (this.isPrivate(pfn))
      this.hz("host-access-to-private", pfn, [0], `host ${w} PFN 0x${hex} which the PAMT says is private`);
    else {
      const priv = this.keys(pfn).filter((k) => k !== 0);
      if (priv.length > 0)
        this.hz(
          "private-lines-on-host-page",
          pfn,
          priv,
          `host ${w} PFN 0x${hex} with dirty lines of KeyID ${priv.join(",")} still cached`,
        );
    }
    if (write) this.dirty.add(`${pfn}:0`);
  }
  hostFree(pfn: number): void {
    const priv = this.keys(pfn).filter((k) => k !== 0);
    if (priv.length > 0)
      this.hz(
        "private-lines-on-host-page",
        pfn,
        priv,
        `PFN 0x${pfn.toString(16)} went back to the allocator with dirty lines of KeyID ${priv.join(",")}`,
      );
  }
  moduleWrite(pfn: number, k: number): void {
    this.use(k);
    this.dirty.add(`${pfn}:${k}`);
  }
  becomePrivate(pfn: number): void {
    if (!this.dirty.has(`${pfn}:0`)) return;
    if (!this.flag) {
      this.drop(pfn, 0, "flush");
      return;
    }
    this.hz(
      "dirty-host-lines-on-private",
      pfn,
      [0],
      `PFN 0x${pfn.toString(16)} became private with dirty KeyID-0 lines while the module requires CLFLUSH_BEFORE_ALLOC`,
    );
    this.makeStale(pfn, 0);
  }
  leavePrivate(pfn: number): void {
    for (const k of this.keys(pfn)) {
      if (k === 0) continue;
      this.makeStale(pfn, k);
      this.leftBy.set(pfn, this.cause);
    }
  }
  wbinvd(pfn: number, k: number): void {
    this.drop(pfn, k, "flush");
  }
  evictNow(): void {
    for (let pfn = BASE; pfn < BASE + PAGES; pfn++) {
      const ks = this.keys(pfn);
      if (ks.length === 0) continue;
      for (const k of ks) this.drop(pfn, k, "evict");
      this.evictions++;
    }
  }
  sweep(): void {
    const saved = this.cause;
    for (let pfn = BASE; pfn < BASE + PAGES; pfn++) {
      const priv = this.keys(pfn).filter((k) => k !== 0);
      if (priv.length === 0 || this.isPrivate(pfn)) continue;
      this.cause = this.leftBy.get(pfn) ?? "unknown";
      this.hz(
        "private-lines-left-at-end",
        pfn,
        priv,
        `page 0x${pfn.toString(16)} left the module with dirty lines of KeyID ${priv.join(",")} never written back (left by ${this.cause})`,
      );
    }
    this.cause = saved;
  }
}

type Op =
  | { op: "write"; pfn: number; word: number; value: number }
  | { op: "zero"; pfn: number }
  | { op: "cause"; n: number }
  | { op: "host"; pfn: number; write: boolean }
  | { op: "free"; pfn: number }
  | { op: "module"; pfn: number; k: number }
  | { op: "claim"; pfn: number }
  | { op: "release"; pfn: number }
  | { op: "wbinvd"; pfn: number; k: number }
  | { op: "clflush"; pfn: number }
  | { op: "evict" }
  | { op: "sweep" }
  | { op: "read" };

const pfnArb = fc.integer({ min: BASE, max: BASE + PAGES - 1 });
const keyArb = fc.constantFrom(...KEYIDS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("write" as const),
    pfn: pfnArb,
    word: fc.integer({ min: 0, max: 1023 }),
    value: fc.integer({ min: 0, max: 0xffff_ffff }),
  }),
  fc.record({ op: fc.constant("zero" as const), pfn: pfnArb }),
  fc.record({ op: fc.constant("cause" as const), n: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ op: fc.constant("host" as const), pfn: pfnArb, write: fc.boolean() }),
  fc.record({ op: fc.constant("free" as const), pfn: pfnArb }),
  fc.record({ op: fc.constant("module" as const), pfn: pfnArb, k: keyArb.filter((k) => k !== 0) }),
  fc.record({ op: fc.constant("claim" as const), pfn: pfnArb }),
  fc.record({ op: fc.constant("release" as const), pfn: pfnArb }),
  fc.record({ op: fc.constant("wbinvd" as const), pfn: pfnArb, k: keyArb }),
  fc.record({ op: fc.constant("clflush" as const), pfn: pfnArb }),
  fc.constant({ op: "evict" as const }),
  fc.constant({ op: "sweep" as const }),
  fc.constant({ op: "read" as const }),
);

/** Runs `ops` on the model (with or without an observer) and on the reference; compares everything. */
function check(ops: readonly Op[], flag: boolean): void {
  const mem = new PhysMem([{ base: pfnToHpa(BASE), size: PAGES * PAGE_SIZE }]);
  const refMem = new PhysMem([{ base: pfnToHpa(BASE), size: PAGES * PAGE_SIZE }]);
  const watched = new PhysMem([{ base: pfnToHpa(BASE), size: PAGES * PAGE_SIZE }]);
  const priv = new Set<number>();
  const isPrivate = (pfn: number) => priv.has(pfn);
  const model = new CacheModel(mem, flag);
  const eager = new CacheModel(watched, flag);
  const seen: Hazard[] = [];
  eager.onHazard = (h) => seen.push(h);
  for (const c of [model, eager]) c.isPrivate = isPrivate;
  const ref = new Reference((pfn) => refMem.page(pfn), isPrivate, flag);
  for (const o of ops) {
    switch (o.op) {
      case "write":
        for (const m of [mem, refMem, watched]) m.words(o.pfn)[o.word] = o.value;
        break;
      case "zero":
        for (const m of [mem, refMem, watched]) m.zero(o.pfn);
        break;
      case "cause":
        for (const c of [model, eager, ref]) c.cause = `TDH.EXT.MEM.ADD #${o.n}`;
        break;
      case "host":
        for (const c of [model, eager, ref]) c.hostAccess(o.pfn, o.write);
        break;
      case "free":
        for (const c of [model, eager, ref]) c.hostFree(o.pfn);
        break;
      case "module":
        for (const c of [model, eager, ref]) c.moduleWrite(o.pfn, o.k);
        break;
      case "claim":
        priv.add(o.pfn);
        for (const c of [model, eager, ref]) c.becomePrivate(o.pfn);
        break;
      case "release":
        priv.delete(o.pfn);
        for (const c of [model, eager, ref]) c.leavePrivate(o.pfn);
        break;
      case "wbinvd":
        model.pageWbinvd(o.pfn, o.k);
        eager.pageWbinvd(o.pfn, o.k);
        ref.wbinvd(o.pfn, o.k);
        break;
      case "clflush":
        model.clflushPage(o.pfn);
        eager.clflushPage(o.pfn);
        ref.wbinvd(o.pfn, 0);
        break;
      case "evict":
        model.evictNow();
        eager.evictNow();
        ref.evictNow();
        break;
      case "sweep":
        model.sweep();
        eager.sweep();
        ref.sweep();
        break;
      case "read":
        expect(model.hazardCount).toBe(ref.hazards.length);
        expect(model.hazards).toEqual(ref.hazards);
        break;
    }
    expect(model.hazardCount).toBe(ref.hazards.length);
  }
  expect(model.hazards).toEqual(ref.hazards);
  expect(eager.hazards).toEqual(ref.hazards);
  expect(seen).toEqual(ref.hazards);
  expect(model.hazards).toBe(model.hazards); // built once: the same objects on every read
  for (let pfn = BASE; pfn < BASE + PAGES; pfn++) {
    expect(
      Buffer.from(mem.page(pfn)).equals(Buffer.from(refMem.page(pfn))),
      `page 0x${pfn.toString(16)}`,
    ).toBe(true);
    expect(model.dirtyKeyIds(pfn)).toEqual(ref.keys(pfn));
  }
  expect([...model.poisoned].sort()).toEqual([...ref.poisoned].sort());
  expect(model.stats.damagedPages).toBe(ref.damaged);
  expect(model.stats.evictions).toBe(ref.evictions);
}

describe("cache model against the plain reference", () => {
  it.each([true, false])("random host and module operations, CLFLUSH_BEFORE_ALLOC %s", (flag) => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => check(ops, flag)),
      { numRuns: 500, seed: flag ? 15 : 16 },
    );
  });

  // Sequences random runs rarely hit: lines that go stale, are written back, and go stale again on
  // new bytes (or on a page that now reads as zeros); stale lines of two KeyIDs on one page.
  const P = BASE + 1;
  const SEQUENCES: Record<string, Op[]> = {
    "stale again after a write-back, on new bytes": [
      { op: "host", pfn: P, write: true },
      { op: "claim", pfn: P },
      { op: "clflush", pfn: P },
      { op: "write", pfn: P, word: 3, value: 7 },
      { op: "host", pfn: P, write: true },
      { op: "claim", pfn: P },
      { op: "clflush", pfn: P },
      { op: "evict" },
    ],
    "stale again after a write-back, on a page that now reads as zeros": [
      { op: "write", pfn: P, word: 9, value: 0xdead_beef },
      { op: "host", pfn: P, write: true },
      { op: "claim", pfn: P },
      { op: "clflush", pfn: P },
      { op: "zero", pfn: P },
      { op: "host", pfn: P, write: true },
      { op: "claim", pfn: P },
      { op: "clflush", pfn: P },
    ],
    "stale lines of a private KeyID and of KeyID 0 on one page, on different bytes": [
      { op: "write", pfn: P, word: 0, value: 0x1111_1111 },
      { op: "claim", pfn: P },
      { op: "module", pfn: P, k: 5 },
      { op: "release", pfn: P },
      { op: "write", pfn: P, word: 0, value: 0x2222_2222 },
      { op: "host", pfn: P, write: true },
      { op: "claim", pfn: P },
      { op: "wbinvd", pfn: P, k: 5 },
      { op: "read" },
      { op: "evict" },
    ],
  };
  it.each(Object.keys(SEQUENCES))("%s", (name) => check(SEQUENCES[name]!, true));

  it("a hazard per page of a long run is counted without reading the list, then read in order", () => {
    const ops: Op[] = [];
    for (let r = 0; r < 100; r++)
      for (let pfn = BASE; pfn < BASE + PAGES; pfn++) {
        ops.push({ op: "cause", n: r % 4 }, { op: "host", pfn, write: true }, { op: "claim", pfn });
        ops.push({ op: "write", pfn, word: r, value: r + 1 }, { op: "release", pfn });
      }
    check(ops, true);
  });
});
