import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isTdxpaError, TdxpaError } from "../../src/common/errors.js";
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

  it("parseU64 agrees with the regular-expression and bigint oracle on any text", () => {
    // The oracle is the original definition: the regular expressions of the accepted forms and BigInt.
    const oracle = (text: string): { lo: number; hi: number } | { code: string; message: string } => {
      const t = text.trim();
      let v: bigint;
      if (/^0[xX][0-9a-fA-F_]{1,32}$/.test(t)) {
        const digits = t.slice(2).replace(/_/g, "");
        if (digits.length === 0)
          return {
            code: "bad-format",
            message: `operand: ${JSON.stringify(text)} is not a number; allowed 0x hex or decimal`,
          };
        v = BigInt(`0x${digits}`);
      } else if (/^[0-9]{1,20}$/.test(t)) v = BigInt(t);
      else
        return {
          code: "bad-format",
          message: `operand: ${JSON.stringify(text)} is not a number; allowed 0x hex or decimal, 0..2^64-1`,
        };
      if (v > 2n ** 64n - 1n)
        return {
          code: "out-of-range",
          message: `operand: ${JSON.stringify(text)} is out of range; allowed 0..2^64-1 (0xffffffffffffffff)`,
        };
      return { lo: Number(v & 0xffff_ffffn), hi: Number(v >> 32n) };
    };
    const parsed = (text: string) => {
      try {
        return parseU64(text, "operand");
      } catch (e) {
        if (!(e instanceof TdxpaError)) throw e;
        return { code: e.code, message: e.message };
      }
    };
    // Text near the accepted forms (digits, prefixes, separators, spaces, signs), and any text.
    const near = fc
      .array(fc.constantFrom(..."0123456789abcdefABCDEFxX_ -+.:/`@GgYy\t"), { maxLength: 40 })
      .map((a) => a.join(""));
    const hex = fc
      .tuple(
        fc.constantFrom("0x", "0X", " 0x"),
        fc
          .integer({ min: 0, max: 34 })
          .chain((n) => fc.array(fc.constantFrom(..."0000f9aF_"), { minLength: n, maxLength: n })),
      )
      .map(([p, d]) => p + d.join(""));
    const dec = fc.bigInt({ min: 0n, max: 2n ** 66n }).map((v) => v.toString());
    // Digits with one neighbour of the digit ranges in the ASCII table mixed in.
    const odd = fc
      .tuple(
        fc.constantFrom("0x", ""),
        fc.constantFrom(..."/:@G`g"),
        fc.integer({ min: 1, max: 20 }),
        fc.nat(20),
      )
      .map(([p, c, n, at]) => {
        const d = "1234567890abcdefABCDEF".slice(0, p === "" ? 10 : 22);
        let s = "";
        for (let i = 0; i < n; i++) s += i === at % n ? c : d[(i * 7 + at) % d.length];
        return p + s;
      });
    fc.assert(
      fc.property(fc.oneof(near, hex, dec, odd, fc.string({ unit: "binary", maxLength: 30 })), (text) => {
        expect(parsed(text)).toEqual(oracle(text));
      }),
      { numRuns: 400 },
    );
    const edges = ["18446744073709551615", "18446744073709551616", "99999999999999999999", "0x_", "0x"];
    for (const body of ["0".repeat(31), "0".repeat(32), "_".repeat(32), "f".repeat(16), "f".repeat(17)])
      edges.push(`0x${body}1`, `0x${body}`);
    for (const text of edges) expect(parsed(text)).toEqual(oracle(text));
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
