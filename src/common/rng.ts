/**
 * The model's one seeded generator: the same seed gives the same sequence on every platform, so every
 * interrupt plan, logical-CPU schedule, device byte stream and fault campaign replays. Not for
 * cryptography.
 *
 * One class, two algorithms, because outputs that are checked in depend on each exact sequence:
 * - xorshift32 (Marsaglia 2003, shifts 13, 17, 5) drives interrupt plans (`module/behaviours.ts`),
 *   logical-CPU schedules (`host/cpus.ts`) and device bytes (`hw/devices.ts`): the golden transcripts
 *   (test/scenario/golden) and docs/DESIGNS.md pin its sequence.
 * - mulberry32 drives the fault campaign's multi-fault schedules (`faults/campaign.ts`):
 *   docs/RELIABILITY.md pins "1000 schedules of 3 faults (seed 20260501): 2533 fired, 1634 points".
 * Moving either caller to the other algorithm would change those figures, so both stay here, each
 * behind a named constructor. (`vectors/generate.ts` keeps its own seeded stream mix for now.)
 */

import { TWO32 } from "./u64.js";

/** Replaces seed 0 for xorshift32, whose fixed point 0 would repeat forever (2^32 / golden ratio). */
export const XORSHIFT_ZERO_SEED = 0x9e37_79b9;
/** Replaces seed 0 for mulberry32 (its increment), as the fault campaign always has. */
export const MULBERRY_ZERO_SEED = 0x6d2b_79f5;

/** The two algorithms {@link Rng} runs. */
export type RngAlgorithm = "xorshift32" | "mulberry32";

/**
 * One xorshift32 step: the state after `x` (a non-zero u32; 0 stays 0).
 * @example xorshift32(1) // 270369
 */
export function xorshift32(x: number): number {
  let s = x;
  s ^= s << 13;
  s >>>= 0;
  s ^= s >>> 17;
  s ^= s << 5;
  return s >>> 0;
}

/**
 * Seeded 32-bit generator. Build it with {@link Rng.xorshift32} or {@link Rng.mulberry32}; the seed is
 * taken modulo 2^32 (`seed >>> 0`), and 0 is replaced by the algorithm's non-zero default.
 * @example Rng.xorshift32(7).below(6) // a die roll, the same on every run
 */
export class Rng {
  private state: number;

  private constructor(
    /** Which sequence this generator produces. */
    readonly algorithm: RngAlgorithm,
    seed: number,
  ) {
    this.state = seed >>> 0 || (algorithm === "xorshift32" ? XORSHIFT_ZERO_SEED : MULBERRY_ZERO_SEED);
  }

  /** The xorshift32 sequence: interrupt plans, CPU schedules, device bytes. */
  static xorshift32(seed: number): Rng {
    return new Rng("xorshift32", seed);
  }

  /** The mulberry32 sequence: fault-campaign schedules. */
  static mulberry32(seed: number): Rng {
    return new Rng("mulberry32", seed);
  }

  /** Next value in 0..2^32−1. */
  next(): number {
    if (this.algorithm === "xorshift32") {
      this.state = xorshift32(this.state);
      return this.state;
    }
    this.state = (this.state + MULBERRY_ZERO_SEED) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Next value in [0, 1): {@link next} / 2^32 (exact: a u32 over a power of two). */
  unit(): number {
    return this.next() / TWO32;
  }

  /** A value in 0..n−1 (n an integer in 1..2^32): floor({@link unit} × n). */
  below(n: number): number {
    return Math.floor(this.unit() * n);
  }
}
