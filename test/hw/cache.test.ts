/**
 * The cache model of src/hw/cache.ts (docs/spec/03-module.md 3.5) on its own: dirty lines per KeyID,
 * the flushes that drop them, the four hazard kinds, stale lines that an eviction really writes over a
 * page (plaintext over a private page poisons it; ciphertext over a host page scrambles it), the end-of-run
 * sweep and the KeyID limit. Each case sets the PAMT probe (`isPrivate`) itself, as the machine wiring does.
 */
import { describe, expect, it } from "vitest";
import { TdxpaError } from "../../src/common/errors.js";
import { PAGE_SIZE, pfnToHpa } from "../../src/common/u64.js";
import { CacheModel, type Hazard } from "../../src/hw/cache.js";
import { PhysMem } from "../../src/hw/physmem.js";
import { Pamt, PT } from "../../src/module/pamt.js";

const BASE_PFN = 0x100;
const PFN = BASE_PFN + 3;
const PRIVATE_KEYID = 5;

/** A 64-page memory, a cache model over it, and a settable set of private pages. */
function setup(clflushBeforeAlloc = true) {
  const mem = new PhysMem([{ base: pfnToHpa(BASE_PFN), size: 64 * PAGE_SIZE }]);
  const cache = new CacheModel(mem, clflushBeforeAlloc);
  const priv = new Set<number>();
  cache.isPrivate = (pfn) => priv.has(pfn);
  const seen: Hazard[] = [];
  cache.onHazard = (h) => seen.push(h);
  return { mem, cache, priv, seen };
}

describe("dirty lines per KeyID", () => {
  it("a host write dirties KeyID 0, a read does not, CLFLUSH drops the host's lines", () => {
    const { cache } = setup();
    cache.hostAccess(PFN, false);
    expect(cache.dirtyKeyIds(PFN)).toEqual([]);
    expect(cache.dirtyPages).toBe(0);
    cache.hostAccess(PFN, true);
    expect(cache.dirtyKeyIds(PFN)).toEqual([0]);
    expect(cache.dirtyPages).toBe(1);
    cache.moduleWrite(PFN, PRIVATE_KEYID);
    expect(cache.dirtyKeyIds(PFN)).toEqual([0, PRIVATE_KEYID]);
    expect(cache.dirtyPages).toBe(1);
    cache.clflushPage(PFN);
    expect(cache.dirtyKeyIds(PFN)).toEqual([PRIVATE_KEYID]);
    expect(cache.stats.clflushes).toBe(1);
    cache.pageWbinvd(PFN, PRIVATE_KEYID);
    expect(cache.dirtyKeyIds(PFN)).toEqual([]);
    expect(cache.dirtyPages).toBe(0);
    expect(cache.stats.pageWbinvds).toBe(1);
    expect(cache.hazards).toEqual([]);
  });

  it("PAGE.WBINVD of one KeyID leaves the other KeyIDs' lines", () => {
    const { cache } = setup();
    cache.moduleWrite(PFN, PRIVATE_KEYID);
    cache.moduleWrite(PFN, PRIVATE_KEYID + 1);
    cache.pageWbinvd(PFN, PRIVATE_KEYID + 1);
    expect(cache.dirtyKeyIds(PFN)).toEqual([PRIVATE_KEYID]);
    cache.pageWbinvd(PFN, 99); // a KeyID never used: nothing to drop
    expect(cache.dirtyKeyIds(PFN)).toEqual([PRIVATE_KEYID]);
  });

  it("tracks at most 8 KeyIDs and names the ninth in a typed error", () => {
    const { cache } = setup();
    for (let k = 1; k <= 7; k++) cache.moduleWrite(PFN, k);
    expect(cache.dirtyKeyIds(PFN)).toHaveLength(7);
    expect(() => cache.moduleWrite(PFN, 8)).toThrow(TdxpaError);
    expect(() => cache.moduleWrite(PFN, 8)).toThrow(/KeyID 8 .*at most 8/);
  });
});

describe("hazards", () => {
  it("1: a page becomes private with dirty host lines while CLFLUSH_BEFORE_ALLOC is set", () => {
    const { cache, seen } = setup(true);
    cache.cause = "TDH.EXT.MEM.ADD #1";
    cache.hostAccess(PFN, true);
    cache.becomePrivate(PFN);
    expect(cache.hazards).toHaveLength(1);
    expect(cache.hazards[0]).toMatchObject({
      kind: "dirty-host-lines-on-private",
      pfn: PFN,
      keyIds: [0],
      cause: "TDH.EXT.MEM.ADD #1",
    });
    expect(seen).toEqual(cache.hazards);
  });

  it("no hazard 1 after a CLFLUSH, nor when the module does not ask for one (it drops the lines itself)", () => {
    const flushed = setup(true);
    flushed.cache.hostAccess(PFN, true);
    flushed.cache.clflushPage(PFN);
    flushed.cache.becomePrivate(PFN);
    expect(flushed.cache.hazards).toEqual([]);

    const noFlag = setup(false);
    noFlag.cache.hostAccess(PFN, true);
    noFlag.cache.becomePrivate(PFN);
    expect(noFlag.cache.hazards).toEqual([]);
    expect(noFlag.cache.dirtyKeyIds(PFN)).toEqual([]);
  });

  it("2: the host touches or frees a page that still has private lines", () => {
    const { cache } = setup();
    cache.moduleWrite(PFN, PRIVATE_KEYID);
    cache.hostAccess(PFN, false);
    cache.hostFree(PFN);
    expect(cache.hazards.map((h) => h.kind)).toEqual([
      "private-lines-on-host-page",
      "private-lines-on-host-page",
    ]);
    expect(cache.hazards.every((h) => h.keyIds.length === 1 && h.keyIds[0] === PRIVATE_KEYID)).toBe(true);
    cache.pageWbinvd(PFN, PRIVATE_KEYID);
    cache.hostFree(PFN);
    cache.hostAccess(PFN, true);
    expect(cache.hazards).toHaveLength(2);
  });

  it("3: any host access to a page the PAMT says is private", () => {
    const { cache, priv } = setup();
    priv.add(PFN);
    cache.hostAccess(PFN, false);
    cache.hostAccess(PFN + 1, false);
    expect(cache.hazards).toHaveLength(1);
    expect(cache.hazards[0]).toMatchObject({ kind: "host-access-to-private", pfn: PFN, keyIds: [0] });
    expect(cache.hazards[0]!.message).toContain(`0x${PFN.toString(16)}`);
  });

  it("4: the sweep names pages that left the module with private lines, and the call that left them", () => {
    const { cache, priv } = setup();
    for (const p of [PFN, PFN + 1, PFN + 2]) {
      priv.add(p);
      cache.moduleWrite(p, PRIVATE_KEYID);
    }
    cache.cause = "TDH.IOMMU.CLEAR #7";
    for (const p of [PFN, PFN + 1]) {
      priv.delete(p);
      cache.leavePrivate(p);
    }
    cache.cause = "host";
    // PFN + 2 is still private: not a hazard; PFN + 1 is exempted (stranded by the host).
    const found = cache.sweep((p) => p === PFN + 1);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      kind: "private-lines-left-at-end",
      pfn: PFN,
      keyIds: [PRIVATE_KEYID],
      cause: "TDH.IOMMU.CLEAR #7",
    });
    expect(cache.cause).toBe("host");
    cache.pageWbinvd(PFN, PRIVATE_KEYID);
    expect(cache.sweep((p) => p === PFN + 1)).toEqual([]);
  });
});

describe("stale lines reach memory", () => {
  it("an eviction of stale private lines over a host page leaves ciphertext, never zeros", () => {
    const { mem, cache, priv } = setup();
    priv.add(PFN);
    cache.moduleWrite(PFN, PRIVATE_KEYID);
    priv.delete(PFN);
    cache.leavePrivate(PFN); // the page reads as zeros: the stale lines keep "all zero"
    expect(mem.page(PFN).every((b) => b === 0)).toBe(true);
    expect(cache.evictNow()).toBe(1);
    const bytes = mem.page(PFN);
    expect(bytes.some((b) => b === 0)).toBe(false);
    expect(cache.stats.damagedPages).toBe(1);
    expect(cache.stats.evictions).toBe(1);
    expect(cache.dirtyKeyIds(PFN)).toEqual([]);
    expect(cache.poisoned.size).toBe(0);
  });

  it("ciphertext is the kept bytes XOR a per-KeyID pattern, so two KeyIDs scramble differently", () => {
    const a = setup();
    const b = setup();
    for (const [{ mem, cache }, keyId] of [
      [a, PRIVATE_KEYID],
      [b, PRIVATE_KEYID + 1],
    ] as const) {
      mem.writeU64(pfnToHpa(PFN), 0x1234_5678, 0x9abc_def0);
      cache.moduleWrite(PFN, keyId);
      cache.leavePrivate(PFN);
      mem.zero(PFN); // the host's view changes; the stale lines still hold the old bytes
      cache.wbinvdAll();
      expect(cache.stats.wholeCacheWbinvds).toBe(1);
    }
    const pa = a.mem.page(PFN);
    const pb = b.mem.page(PFN);
    expect(Buffer.from(pa).equals(Buffer.from(pb))).toBe(false);
    // Bytes 8.. were zero when the lines went stale: they are the bare pattern, non-zero.
    expect(pa.subarray(8).some((x) => x === 0)).toBe(false);
  });

  it("stale plaintext evicted over a private page poisons it", () => {
    const { mem, cache, priv } = setup(true);
    mem.writeU64(pfnToHpa(PFN), 0xdead_beef, 0);
    cache.hostAccess(PFN, true);
    priv.add(PFN);
    cache.becomePrivate(PFN); // hazard 1; the host's lines go stale with the bytes above
    mem.zero(PFN); // the module's own view of the page
    expect(cache.evictNow()).toBe(1);
    expect(cache.poisoned.has(PFN)).toBe(true);
    const out = { lo: 0, hi: 0 };
    mem.readU64(pfnToHpa(PFN), out);
    expect(out.lo >>> 0).toBe(0xdead_beef);
  });

  it("a sanctioned flush between owners writes the bytes back but damages nothing", () => {
    const { mem, cache, priv } = setup(true);
    priv.add(PFN);
    cache.moduleWrite(PFN, PRIVATE_KEYID);
    priv.delete(PFN);
    cache.leavePrivate(PFN);
    cache.pageWbinvd(PFN, PRIVATE_KEYID);
    expect(cache.stats.damagedPages).toBe(0);
    expect(cache.evictNow()).toBe(0);
    expect(mem.page(PFN).some((b) => b !== 0)).toBe(true); // the written-back ciphertext
  });
});

describe("the sweep asks the PAMT once per run of pages with private lines (isPrivateRun)", () => {
  const BASE = 0x10000;
  const PAGES = 3072;
  /** A cache wired to a real PAMT, as the machine wires it; `runs` false leaves the run probe unset. */
  function wired(runs: boolean) {
    const mem = new PhysMem([{ base: pfnToHpa(BASE), size: PAGES * PAGE_SIZE }]);
    const pamt = new Pamt([{ base: pfnToHpa(BASE), size: PAGES * PAGE_SIZE, reserved: [] }]);
    const cache = new CacheModel(mem, true);
    cache.isPrivate = (pfn) => pamt.isPrivate(pfn);
    if (runs) cache.isPrivateRun = (pfn, n) => pamt.privateRun(pfn, n);
    return { pamt, cache };
  }
  /** Pages `from..to` made private and written by the module, then `released` given back. */
  function state(w: ReturnType<typeof wired>, from: number, to: number, released: readonly number[]) {
    for (let p = from; p < to; p++) {
      w.pamt.set(p, PT.EXT_POOL, 1);
      w.cache.moduleWrite(p, PRIVATE_KEYID);
    }
    w.cache.cause = "TDH.EXT.MEM.ADD #1";
    for (const p of released) {
      w.pamt.set(p, PT.NDA, 0);
      w.cache.leavePrivate(p);
    }
    w.cache.cause = "host";
  }

  it("finds the pages given back inside and at the end of a run that crosses a section", () => {
    const w = wired(true);
    const released = [BASE + 500, BASE + 1023, BASE + 1099];
    state(w, BASE, BASE + 1100, released);
    const exempt = (p: number) => p === BASE + 1023;
    expect(w.cache.sweep(exempt).map((h) => h.pfn)).toEqual([BASE + 500, BASE + 1099]);
  });

  it("finds what page-by-page probing finds, in the same order, on 200 random states", () => {
    let seed = 11;
    const rnd = (k: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 16) % k;
    };
    for (let round = 0; round < 200; round++) {
      const from = BASE + rnd(PAGES / 2);
      const to = from + 1 + rnd(PAGES / 2);
      const released = Array.from({ length: rnd(6) }, () => from + rnd(to - from));
      const exempted = released[0];
      const a = wired(true);
      const b = wired(false);
      state(a, from, to, released);
      state(b, from, to, released);
      const found = a.cache.sweep((p) => p === exempted);
      expect(found).toEqual(b.cache.sweep((p) => p === exempted));
      expect(new Set(found.map((h) => h.pfn))).toEqual(new Set(released.filter((p) => p !== exempted)));
    }
  });
});
