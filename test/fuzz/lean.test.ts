/**
 * The lean fuzz driver (fuzz/lean.ts): seeded raw bytes straight into a target. It must find a planted
 * decoder bug quickly, shrink it to an input that still fails, replay deterministically for a seed, and
 * stay quiet on the real decoder targets.
 */
import { describe, expect, it } from "vitest";
import { toHex } from "../../fuzz/bytes.js";
import { LEAN_SHAPES, leanFuzz, shrink } from "../../fuzz/lean.js";
import {
  FuzzBug,
  type FuzzTarget,
  judge,
  linkedListTargetFor,
  statusTargetFor,
  targetByName,
  u64TextTargetFor,
} from "../../fuzz/targets.js";
import { HPA_LIST_INFO } from "../../src/common/fields.js";
import {
  encodeHpaListInfo,
  hpaListInfoFirstEntry,
  hpaListInfoLastEntry,
  readLinkedList,
} from "../../src/common/formats.js";
import { decodeStatus } from "../../src/common/status.js";
import { pageAddress, parseU64 } from "../../src/common/u64.js";

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

  it.each([
    [
      "status: raw drops bits 35:32",
      statusTargetFor((lo, hi) => ({ ...decodeStatus(lo, hi), raw: decodeStatus(lo, hi & 0xffff_fff0).raw })),
      "does not round-trip",
    ],
    [
      "u64-text: decimal off by one from the 16th digit",
      u64TextTargetFor((text, name) => {
        const v = parseU64(text, name);
        return /^\s*\d{16,}\s*$/.test(text) ? { lo: (v.lo + 1) >>> 0, hi: v.hi } : v;
      }),
      "the oracle says",
    ],
    [
      "u64-text: an underscore refused",
      u64TextTargetFor((text, name) => parseU64(text.includes("_") ? `${text}!` : text, name)),
      "refused it",
    ],
    [
      "linked-list: bit 11 of an entry not checked",
      linkedListTargetFor((read, first, max) =>
        readLinkedList(
          (hpa, e) => {
            const x = read(hpa, e);
            return x.lo === 0xffff_ffff && x.hi === 0xffff_ffff ? x : { lo: (x.lo & ~0x800) >>> 0, hi: x.hi };
          },
          first,
          max,
        ),
      ),
      "the spec's walk",
    ],
  ] as const)("the oracle catches a planted wrong decoder: %s", (_what, t, problem) => {
    // A fixed count (the time bound only stops a hang): the same inputs at any load.
    const r = leanFuzz(t, LEAN_SHAPES[t.name]!, 60_000, 424242, 200_000);
    expect(r.findings.length).toBeGreaterThan(0);
    expect(r.findings[0]!.problem).toContain(problem);
    expect(judge(t, r.findings[0]!.input).ok).toBe(false);
  });
});
