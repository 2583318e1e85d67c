import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RunListObject } from "../../src/module/records.js";

// The extension pool's page list kept as runs (src/module/records.ts) against the plain array it stands
// for: the same PFNs in the same order, whatever the mix of appends, index walks and array reads.
type Op = { kind: "append"; pfn: number } | { kind: "at"; i: number } | { kind: "read" } | { kind: "runs" };

/** The longest runs of consecutive PFNs of a plain list, in order, as [first, count]. */
function runsOf(list: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const p of list) {
    const last = out[out.length - 1];
    if (last !== undefined && last[0] + last[1] === p) last[1]++;
    else out.push([p, 1]);
  }
  return out;
}

function runsFrom(o: RunListObject): [number, number][] {
  const out: [number, number][] = [];
  o.forEachRun((first, n) => out.push([first, n]));
  return out;
}

const op: fc.Arbitrary<Op> = fc.oneof(
  // Mostly the next PFN (runs), sometimes a jump or a repeat (a run boundary).
  fc
    .record({ kind: fc.constant("append" as const), pfn: fc.integer({ min: -2, max: 3 }) })
    .map((o) => o as Op),
  fc.record({ kind: fc.constant("at" as const), i: fc.nat(200) }),
  fc.constant({ kind: "read" as const }),
  fc.constant({ kind: "runs" as const }),
);

describe("RunListObject (the extension pool's page list as runs)", () => {
  it("answers as the plain array: pageCount, pfnAt in any order, runs, pages before and after appends", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.nat(1 << 20), (ops, start) => {
        const o = new RunListObject(7, "ext-pool", "pool", "creating");
        const oracle: number[] = [];
        let next = start;
        for (const x of ops) {
          if (x.kind === "append") {
            // delta 1 (the next PFN) is the common case; others start a new run (or repeat a PFN).
            next = x.pfn === 0 ? next : Math.max(0, next + x.pfn);
            o.append(next);
            oracle.push(next);
            next++;
          } else if (x.kind === "at") {
            if (oracle.length > 0) {
              const i = x.i % oracle.length;
              expect(o.pfnAt(i)).toBe(oracle[i]);
            }
          } else if (x.kind === "runs") {
            expect(runsFrom(o)).toEqual(runsOf(oracle));
          } else {
            expect(o.pages).toEqual(oracle);
          }
          expect(o.pageCount).toBe(oracle.length);
        }
        expect(runsFrom(o)).toEqual(runsOf(oracle));
        expect(o.pages).toEqual(oracle);
        expect(runsFrom(o)).toEqual(runsOf(oracle));
        for (let i = oracle.length - 1; i >= 0; i--) expect(o.pfnAt(i)).toBe(oracle[i]);
      }),
      { numRuns: 300 },
    );
  });

  it("answers an earlier index after a later one, across runs, before its page list is built", () => {
    // The property above draws its queries at random and may read `pages` first (which ends the run
    // form), so it does not always ask an index behind the walk's cursor: this case always does.
    const o = new RunListObject(3, "ext-pool", "pool", "creating");
    for (const p of [100, 101, 102, 103, 200, 201, 300]) o.append(p);
    expect([6, 5, 4, 0, 3, 1, 6, 2].map((i) => o.pfnAt(i))).toEqual([300, 201, 200, 100, 103, 101, 300, 102]);
    expect(o.pages).toEqual([100, 101, 102, 103, 200, 201, 300]);
  });

  it("keeps one array once read: later appends and test edits go to it", () => {
    const o = new RunListObject(1, "ext-pool", "pool", "creating");
    for (let p = 100; p < 104; p++) o.append(p);
    const list = o.pages;
    expect(list).toEqual([100, 101, 102, 103]);
    o.append(104);
    list.push(9);
    expect(o.pages).toBe(list);
    expect(o.pages).toEqual([100, 101, 102, 103, 104, 9]);
    expect(o.pageCount).toBe(6);
    expect(o.pfnAt(5)).toBe(9);
  });
});
