/**
 * xorshift32: the one small seeded generator the model's schedules use (interrupt plans, logical-CPU
 * schedules), so every run replays. Not cryptographic.
 */

/**
 * The state after `x` (a non-zero u32): shifts 13, 17, 5.
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
