/**
 * The small per-page helpers of the module emulator (docs/spec/03-module.md 3.2) that run once per page
 * event or page check: ptName, keyIdOf / stripKeyId against a bigint oracle, and the alignment and lock
 * steps of privatePageStatus for every block size an IOMMU_MT entry can carry.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { statusText } from "../../src/common/status.js";
import { PT, ptName } from "../../src/module/pamt.js";
import { machine, STATUS } from "../support/machine.js";

describe("ptName", () => {
  it("names every page type and numbers the rest", () => {
    for (const [n, v] of Object.entries(PT)) expect(ptName(v)).toBe(`PT_${n}`);
    expect(ptName(200)).toBe("PT_200");
    expect(ptName(2)).toBe("PT_2");
  });
});

describe("KeyID bits (shift 46 on the default platform)", () => {
  it("keyIdOf and stripKeyId agree with the bigint oracle", () => {
    const m = machine();
    const shift = BigInt(m.platform.keyIds.shift);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 52n - 1n }), (b) => {
        const hpa = Number(b);
        expect(m.module.keyIdOf(hpa)).toBe(Number(b >> shift));
        expect(m.module.stripKeyId(hpa)).toBe(Number(b & ((1n << shift) - 1n)));
      }),
    );
  });
});

describe("privatePageStatus alignment", () => {
  it("a block must be aligned to its size, for every power of two up to 2048 pages", () => {
    const m = machine();
    const base = 0x4000_0000; // 1 GiB: inside the default TDMR, aligned to every block size here
    for (let k = 0; k <= 11; k++) {
      const pages = 2 ** k;
      expect(m.module.privatePageStatus(base, pages, 0)).toBeNull();
      // A passing check keeps its pages locked until they are claimed (released when a SEAMCALL returns).
      m.module.pamtLocks.releaseAll(m.module.cpu);
      if (pages > 1) {
        const r = m.module.privatePageStatus(base + 4096 * (pages / 2), pages, 0);
        expect(r === null ? null : statusText(r)).toMatch(/TDX_OPERAND_INVALID/);
      }
    }
    // A block size that is not a power of two still gets the exact test.
    const by3 = 3 * 4096 * Math.ceil(base / (3 * 4096));
    expect(m.module.privatePageStatus(by3, 3, 0)).toBeNull();
    expect(statusText(m.module.privatePageStatus(by3 + 4096, 3, 0)!)).toMatch(/TDX_OPERAND_INVALID/);
    expect(STATUS.TDX_OPERAND_INVALID).toBeDefined();
  });
});
