import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isTdxpaError } from "../../src/common/errors.js";
import {
  bitRangeText,
  getBits,
  hpaHi,
  hpaLo,
  isPowerOfTwo,
  low52,
  parseU64,
  setBits,
  toU64,
  u64FromBigint,
  u64FromNumber,
  u64ToBigint,
  u64ToHex,
  u64ToNumber,
} from "../../src/common/u64.js";

const big = (lo: number, hi: number) => u64ToBigint(lo, hi);
const arbU64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const arbField = fc
  .integer({ min: 1, max: 53 })
  .chain((width) => fc.tuple(fc.integer({ min: 0, max: 64 - width }), fc.constant(width)));

describe("u64 halves", () => {
  it("bigint round trip", () => {
    fc.assert(
      fc.property(arbU64, (v) => {
        const h = u64FromBigint(v);
        expect(big(h.lo, h.hi)).toBe(v);
        expect(BigInt(u64ToHex(h.lo, h.hi))).toBe(v);
        expect(u64ToHex(h.lo, h.hi)).toMatch(/^0x[0-9a-f]{16}$/);
      }),
    );
  });

  it("getBits agrees with a bigint oracle for every field position", () => {
    fc.assert(
      fc.property(arbU64, arbField, (v, [lsb, width]) => {
        const h = u64FromBigint(v);
        const oracle = Number((v >> BigInt(lsb)) & ((1n << BigInt(width)) - 1n));
        expect(getBits(h.lo, h.hi, lsb, width)).toBe(oracle);
      }),
    );
  });

  it("setBits agrees with a bigint oracle and leaves other bits alone", () => {
    fc.assert(
      fc.property(arbU64, arbField, fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), (v, [lsb, width], raw) => {
        const value = raw & ((1n << BigInt(width)) - 1n);
        const h = u64FromBigint(v);
        const r = setBits(h.lo, h.hi, lsb, width, Number(value));
        const m = ((1n << BigInt(width)) - 1n) << BigInt(lsb);
        expect(big(r.lo, r.hi)).toBe((v & ~m & (2n ** 64n - 1n)) | (value << BigInt(lsb)));
      }),
    );
  });

  it("parses hex and decimal exactly, including 2^64-1", () => {
    expect(u64ToHex(...(Object.values(parseU64("18446744073709551615")) as [number, number]))).toBe(
      "0xffffffffffffffff",
    );
    const v = parseU64("0xFF80_0000_1234_5000");
    expect(u64ToHex(v.lo, v.hi)).toBe("0xff80000012345000");
    expect(parseU64(" 4096 ")).toEqual({ lo: 4096, hi: 0 });
  });

  it.each([
    ["18446744073709551616", "out-of-range"],
    ["0x1_0000_0000_0000_0000", "out-of-range"],
    ["-1", "bad-format"],
    ["0x", "bad-format"],
    ["1e3", "bad-format"],
    ["", "bad-format"],
    ["0xg", "bad-format"],
  ])("rejects %j with a typed error naming it", (text, code) => {
    try {
      parseU64(text, "operand");
      expect.unreachable();
    } catch (e) {
      expect(isTdxpaError(e)).toBe(true);
      expect((e as { code: string }).code).toBe(code);
      expect((e as Error).message).toContain("operand");
    }
  });

  it("numbers: exact to 2^53-1, null above", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), (v) => {
        const h = u64FromNumber(Number(v));
        expect(big(h.lo, h.hi)).toBe(v);
        expect(u64ToNumber(h.lo, h.hi)).toBe(Number(v));
      }),
    );
    expect(u64ToNumber(0, 0x20_0000)).toBeNull();
    expect(low52(0xffff_ffff, 0xffff_ffff)).toBe(2 ** 52 - 1);
    expect(hpaLo(0x1234_5678_9000)).toBe(0x5678_9000);
    expect(hpaHi(0x1234_5678_9000)).toBe(0x1234);
  });

  it("toU64 accepts bigint, safe numbers and strings, and refuses the rest", () => {
    expect(toU64(5n)).toEqual({ lo: 5, hi: 0 });
    expect(toU64(2 ** 40)).toEqual({ lo: 0, hi: 256 });
    expect(toU64("0x10")).toEqual({ lo: 16, hi: 0 });
    for (const bad of [-1, 2 ** 53, Number.NaN, 1.5, -1n, 2n ** 64n, null, undefined, {}, []]) {
      expect(() => toU64(bad, "x")).toThrow(/^x: /);
    }
  });

  it("bit range text and powers of two", () => {
    expect(bitRangeText(12, 40)).toBe("51:12");
    expect(bitRangeText(63, 1)).toBe("63");
    expect([1, 2, 4, 2048].every(isPowerOfTwo)).toBe(true);
    expect([0, 3, 6, 2047, -2, 0.5].some(isPowerOfTwo)).toBe(false);
  });
});
