/**
 * The vectors' randomness: the project's xorshift32 step (`common/rng.ts`, Marsaglia 2003), seeded
 * through a bijective mix so nearby seeds differ, with one independent stream per part of the vectors.
 * The sequence for a seed is part of the vector file format: changing it changes every `random-*` vector.
 */
import { checkInt } from "../common/errors.js";
import { xorshift32 as step } from "../common/rng.js";

/** A deterministic source of u32 values. */
export interface VectorRng {
  /** The next value, 0..2^32−1. */
  u32(): number;
  /** An integer in 0..n−1 (n in 1..2^32; a slight modulo bias is fine for test vectors). */
  below(n: number): number;
}

/** murmur3's 32-bit finaliser: a bijection of u32, so distinct seeds give distinct states. */
function fmix32(h: number): number {
  let x = h >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85eb_ca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2_ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * xorshift32 seeded with `seed` (0..2^32−1). `stream` (0..2^32−1) picks an independent sequence for the
 * same seed, so each part of the vectors has its own and adding a vector to one does not shift another.
 * @example const r = xorshift32(1); r.u32(); r.below(512);
 */
export function xorshift32(seed: number, stream = 0): VectorRng {
  checkInt("vectors.seed", seed, 0, 0xffff_ffff);
  checkInt("vectors.stream", stream, 0, 0xffff_ffff);
  let x = fmix32((seed ^ fmix32(stream ^ 0x9e37_79b9)) >>> 0);
  if (x === 0) x = 0x6d2b_79f5; // 0 is xorshift's fixed point
  const u32 = (): number => {
    x = step(x);
    return x;
  };
  return { u32, below: (n) => u32() % n };
}
