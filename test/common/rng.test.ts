/**
 * The one seeded generator (src/common/rng.ts): both algorithms keep the exact sequences that golden
 * transcripts, docs/DESIGNS.md and docs/RELIABILITY.md were made with.
 */
import { describe, expect, it } from "vitest";
import { MULBERRY_ZERO_SEED, Rng, XORSHIFT_ZERO_SEED, xorshift32 } from "../../src/common/rng.js";

/** xorshift32 written from Marsaglia's paper, on bigint, as an independent oracle. */
function xorshiftOracle(x: bigint): bigint {
  const m = 0xffff_ffffn;
  let s = x;
  s = (s ^ (s << 13n)) & m;
  s = s ^ (s >> 17n);
  s = (s ^ (s << 5n)) & m;
  return s;
}

describe("xorshift32", () => {
  it("matches the bigint oracle for 2,000 chained steps from several seeds", () => {
    for (const seed of [1, 7, 0x9e37_79b9, 0xffff_ffff, 0x8000_0000]) {
      let a = seed;
      let b = BigInt(seed);
      for (let i = 0; i < 400; i++) {
        a = xorshift32(a);
        b = xorshiftOracle(b);
        expect(a).toBe(Number(b));
      }
    }
  });

  it("pins the first step and keeps 0 as its fixed point", () => {
    expect(xorshift32(1)).toBe(270369);
    expect(xorshift32(0)).toBe(0);
  });
});

describe("Rng", () => {
  it("xorshift32: next() is the step function, seed 0 replaced, unit() = next / 2^32", () => {
    const r = Rng.xorshift32(0);
    expect(r.algorithm).toBe("xorshift32");
    let s = XORSHIFT_ZERO_SEED;
    for (let i = 0; i < 50; i++) {
      s = xorshift32(s);
      expect(r.next()).toBe(s);
    }
    const u = Rng.xorshift32(7);
    expect(u.unit()).toBe(xorshift32(7) / 2 ** 32);
    expect(Rng.xorshift32(2 ** 32 + 7).next()).toBe(xorshift32(7));
  });

  it("mulberry32: the sequence the fault campaign's pinned figures were drawn with", () => {
    const r = Rng.mulberry32(20260501);
    expect(r.algorithm).toBe("mulberry32");
    expect([r.next(), r.next(), r.next(), r.next(), r.next()]).toEqual([
      1250607663, 2677735882, 1498997267, 711309614, 1004148387,
    ]);
    expect(Rng.mulberry32(0).next()).toBe(1416247);
    expect(Rng.mulberry32(MULBERRY_ZERO_SEED).next()).toBe(1416247);
  });

  it("below(n) stays in 0..n-1 and reaches both ends", () => {
    for (const make of [Rng.xorshift32, Rng.mulberry32]) {
      const r = make(42);
      const seen = new Set<number>();
      for (let i = 0; i < 2000; i++) {
        const v = r.below(6);
        expect(Number.isInteger(v) && v >= 0 && v < 6).toBe(true);
        seen.add(v);
      }
      expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5]);
      expect(make(42).below(1)).toBe(0);
    }
  });
});
