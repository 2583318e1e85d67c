/**
 * `expect(…).toBe` and `expect(…).toEqual` for assertions made in loops or on large values: the same
 * assertion and the same failure report, but vitest's `expect` is called only when a cheap comparison
 * cannot show that the values are equal; then `expect` decides and reports as it always did.
 *
 * Why: each `expect` call rebuilds vitest's assertion state (`setState` copies its property descriptors)
 * and goes through chai's proxies, and `toEqual` walks values with custom testers at every level. In a
 * profile of 14 of the suite's slowest files (one worker, 2026-12-03) that machinery was 27% of the
 * worker's CPU time, almost all of it from per-step and per-page assertions that pass.
 */
import { expect } from "vitest";

/** `expect(actual, message).toBe(want)`; toBe is `Object.is`, so `expect` runs only when that is false. */
export function toBe(actual: unknown, want: unknown, message?: string | (() => string)): void {
  if (!Object.is(actual, want))
    expect(actual, typeof message === "function" ? message() : message).toBe(want);
}

/**
 * `expect(actual, message).toEqual(want)`, with `expect` called only when {@link provablyEqual} cannot
 * show equality: whenever it returns true, toEqual passes, so the assertion is unchanged.
 */
export function toEqual(actual: unknown, want: unknown, message?: string | (() => string)): void {
  if (!provablyEqual(actual, want))
    expect(actual, typeof message === "function" ? message() : message).toEqual(want);
}

/**
 * True only when `toEqual` would pass: `Object.is`-equal values (toEqual's own first test, and its
 * test for primitives), or plain objects (prototype Object.prototype or null, no symbol keys) with the
 * same own enumerable keys and provably equal values, or dense arrays (Array.prototype, no properties
 * besides their indices) of the same length with provably equal elements. Anything else (a Map, a typed
 * array, a class instance, an asymmetric matcher, a cycle deeper than `depth`) answers false, and the
 * caller leaves it to `expect`.
 */
export function provablyEqual(a: unknown, b: unknown, depth = 32): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null || depth === 0) return false;
  const pa = Object.getPrototypeOf(a);
  if (pa !== Object.getPrototypeOf(b)) return false;
  if (pa === Array.prototype) {
    const x = a as unknown[];
    const y = b as unknown[];
    const n = x.length;
    if (y.length !== n) return false;
    for (let i = 0; i < n; i++) if (!provablyEqual(x[i], y[i], depth - 1)) return false;
    // Holes or extra properties change toEqual's key comparison: leave those to expect.
    return Object.keys(x).length === n && Object.keys(y).length === n && noSymbols(x) && noSymbols(y);
  }
  if (pa !== Object.prototype && pa !== null) return false;
  if (!noSymbols(a) || !noSymbols(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k of ka) {
    if (!Object.hasOwn(y, k) || !Object.prototype.propertyIsEnumerable.call(y, k)) return false;
    if (!provablyEqual(x[k], y[k], depth - 1)) return false;
  }
  return true;
}

function noSymbols(o: object): boolean {
  return Object.getOwnPropertySymbols(o).length === 0;
}
