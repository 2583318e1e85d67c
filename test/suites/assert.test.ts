/**
 * test/support/assert.ts: `toBe` and `toEqual` call vitest's `expect` only when a cheap comparison
 * cannot show equality. They must fail exactly when `expect` fails: `provablyEqual` may answer true only
 * where `toEqual` passes, and a mismatch must still reach `expect`, with its message.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { provablyEqual, toBe, toEqual } from "../support/assert.js";

/** Whether vitest's own `toEqual` passes. */
function vitestEqual(a: unknown, b: unknown): boolean {
  try {
    expect(a).toEqual(b);
    return true;
  } catch {
    return false;
  }
}

describe("provablyEqual", () => {
  it("answers true only where toEqual passes, on any values and on structural copies of them", () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withSparseArray: true }), fc.anything(), (a, b) => {
        if (provablyEqual(a, b)) expect(vitestEqual(a, b)).toBe(true);
        const copy = structuredClone(a);
        if (provablyEqual(a, copy)) expect(vitestEqual(a, copy)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("proves plain data equal, and leaves what toEqual treats specially to expect", () => {
    expect(provablyEqual({ a: [1, { b: 2n }], c: "x" }, { c: "x", a: [1, { b: 2n }] })).toBe(true);
    expect(provablyEqual([[1, "a"]], [[1, "a"]])).toBe(true);
    expect(provablyEqual(Number.NaN, Number.NaN)).toBe(true);
    // Each of these is left to expect (false), whatever toEqual then says.
    expect(provablyEqual(0, -0)).toBe(false);
    expect(provablyEqual([1, 2], [1, 3])).toBe(false);
    expect(provablyEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(provablyEqual(Object.assign([1], { x: 1 }), [1])).toBe(false);
    const holey: unknown[] = [];
    holey[1] = 1;
    expect(provablyEqual(holey, [undefined, 1])).toBe(false);
    expect(provablyEqual(new Map([[1, 2]]), new Map([[1, 2]]))).toBe(false);
    expect(provablyEqual(Uint8Array.of(1), Uint8Array.of(1))).toBe(false);
    expect(provablyEqual({ a: expect.any(Number) }, { a: 1 })).toBe(false);
    class P {
      x = 1;
    }
    expect(provablyEqual(new P(), { x: 1 })).toBe(false);
    expect(provablyEqual({ [Symbol("s")]: 1 }, {})).toBe(false);
  });
});

describe("toBe and toEqual", () => {
  it("pass on equal values and fail with expect's report on different ones", () => {
    toBe(1, 1);
    toEqual({ a: [1] }, { a: [1] });
    toEqual(new Map([[1, 2]]), new Map([[1, 2]])); // left to expect, which passes
    expect(() => toBe(1, 2, "step 3")).toThrow(/step 3: expected 1 to be 2/);
    expect(() => toBe(0, -0)).toThrow();
    expect(() => toEqual([1, 2], [1, 3], () => "pfn 7")).toThrow(
      /pfn 7: expected \[ 1, 2 \] to deeply equal/,
    );
    expect(() => toEqual({ a: 1 }, { a: 1, b: 2 })).toThrow();
  });
});
