/**
 * The lean fuzz driver (fuzz/lean.ts): seeded raw bytes straight into a target. It must find a planted
 * decoder bug quickly, shrink it to an input that still fails, replay deterministically for a seed, and
 * stay quiet on the real decoder targets.
 */
import { describe, expect, it } from "vitest";
import { toHex } from "../../fuzz/bytes.js";
import { LEAN_SHAPES, leanFuzz, shrink } from "../../fuzz/lean.js";
import { FuzzBug, type FuzzTarget, judge, targetByName } from "../../fuzz/targets.js";
import { HPA_LIST_INFO } from "../../src/common/fields.js";
import { encodeHpaListInfo, hpaListInfoFirstEntry, hpaListInfoLastEntry } from "../../src/common/formats.js";
import { pageAddress } from "../../src/common/u64.js";

/** HPA_LIST_INFO decode with a planted bug: reserved bits 2:0 are not checked (rule 1 half-applied). */
const planted: FuzzTarget = {
  name: "planted",
  typedErrorsAllowed: true,
  run(input) {
    const lo = (input[0]! | (input[1]! << 8) | (input[2]! << 16) | (input[3]! << 24)) >>> 0;
    const hi = (input[4]! | (input[5]! << 8) | (input[6]! << 16) | (input[7]! << 24)) >>> 0;
    if ((hi & HPA_LIST_INFO.reservedHi) !== 0) return; // the planted decoder only checks the high half
    const first = hpaListInfoFirstEntry(lo);
    const last = hpaListInfoLastEntry(hi);
    if (first > last) return;
    const e = encodeHpaListInfo({ rootHpa: pageAddress(lo, hi), count: last + 1, firstEntry: first });
    if (e.lo !== lo || e.hi !== hi) throw new FuzzBug(`accepted 0x${hi.toString(16)}_${lo.toString(16)}`);
  },
};

describe("lean fuzz driver", () => {
  it("finds a planted decoder bug and shrinks it to a failing input with only the guilty bits", () => {
    const r = leanFuzz(planted, { minLen: 8, maxLen: 8 }, 2000, 7);
    expect(r.findings.length).toBeGreaterThan(0);
    const f = r.findings[0]!;
    expect(judge(planted, f.input).ok).toBe(false);
    // Shrunk: the low byte keeps a reserved bit (2:0) and nothing else can be zeroed without passing.
    expect(f.input[0]! & 7).not.toBe(0);
    expect(shrink(planted, f.input).input).toEqual(f.input);
  });

  it("is deterministic for a seed", () => {
    const a = leanFuzz(planted, { minLen: 8, maxLen: 8 }, 2000, 3).findings.map((f) => toHex(f.input));
    const b = leanFuzz(planted, { minLen: 8, maxLen: 8 }, 2000, 3).findings.map((f) => toHex(f.input));
    expect(a.length).toBeGreaterThan(0);
    expect(a[0]).toBe(b[0]);
  });

  it("runs every decoder target it has a shape for without a finding", () => {
    for (const [name, shape] of Object.entries(LEAN_SHAPES)) {
      const t = targetByName(name);
      expect(t, name).toBeDefined();
      const r = leanFuzz(t!, shape, 150, 424242);
      expect(r.executions, name).toBeGreaterThan(0);
      expect(r.findings, name).toEqual([]);
    }
  });
});
